//! The steps of a workflow as plain functions: verify on the live database, resolve a plan's
//! identifiers once, run the pre-flight checks, and take in a stored message (what the Safety
//! Mesh judges with is `safety::mesh_context`). The engine calls them to drive workflows;
//! `sentri demo --dry-run` and `sentri replay` call the same ones, so the three cannot drift
//! apart.
//!
//! Nothing here changes a workflow's state: each function says what it found, and its caller
//! (the engine, a dry run) decides what that means.

use std::collections::{BTreeMap, BTreeSet};

use super::approval::inbound::ReplyHandled;
use super::approval::{self, ApprovalError};
use super::matcher::KnownDatabase;
use super::plan::{Plan, PlanSource, PlanStep, ProofSpec};
use super::triage::{self, Triage, TriageRules};
use super::verify::{self, Verification};
use crate::config::{ApprovalsConfig, Config};
use crate::domain::Diagnosis;
use crate::policy::{AlertPolicy, PolicySet};
use crate::store::{Store, StoreError};
use crate::targets::{Target, TargetError, resolve};

/// Runs the policy's verification query (on the read-only path) and judges its rows. A policy
/// with no query gives an Unverifiable verdict without touching the database.
pub async fn verify_live(
    target: &Target,
    policy: &AlertPolicy,
    alert_fields: &BTreeMap<String, String>,
) -> Result<Verification, TargetError> {
    let values = verify::plan_values(policy, alert_fields, &BTreeMap::new());
    let rows = match &policy.verification {
        None => None,
        Some(query) => Some(target.query(&query.sql, &values).await?),
    };
    Ok(verify::judge(policy, alert_fields, rows.as_ref()))
}

/// Resolves, once, every object the plan's steps and rollback splice, and stores the
/// resolution in the plan, so it is covered by the hash that is judged and approved. The
/// verification's columns are the catalog's own spelling and are taken exactly; the alert's
/// fields are read as SQL identifiers. A name that matches no object, or several, is an error
/// naming them: the plan cannot be made.
pub async fn resolve_plan(target: &Target, plan: &mut Plan, verification: &Verification) -> Result<(), TargetError> {
    let statements: Vec<&str> = plan.steps.iter().chain(&plan.rollback).map(|step| step.sql.as_str()).collect();
    let catalog_spelled: BTreeSet<String> = verification.evidence.keys().cloned().collect();
    let resolved = target.resolve_identifiers(&statements, &plan.identifiers, &plan.values, &catalog_spelled).await?;
    plan.resolved = resolved;
    Ok(())
}

/// The plan a diagnosis chooses for a workflow: its best-scored candidate. A specialist's fix
/// is proven the way the alert's own fix is — the alert's verification, run again, no longer
/// confirms it — so it carries the alert's values (every declared field, NULL when absent, and
/// the verification's columns) beside the evidence's, and the policy's re-verification rules.
/// `None` when the diagnosis has no candidate.
pub fn chosen_plan(
    diagnosis: &Diagnosis,
    policy: &AlertPolicy,
    alert_fields: &BTreeMap<String, String>,
    verification: &Verification,
    workflow_id: &str,
) -> Option<Plan> {
    let best = diagnosis.candidates.first()?;
    let mut plan = best.plan.clone();
    plan.workflow_id = workflow_id.to_owned();
    if plan.source == PlanSource::Template {
        return Some(plan);
    }
    let mut values = verify::plan_values(policy, alert_fields, &verification.evidence);
    values.extend(plan.values);
    plan.values = values;
    plan.alert_type = policy.name.clone();
    let step = |block: &crate::policy::alert::SqlBlock| PlanStep { sql: block.sql.clone() };
    plan.proof = ProofSpec {
        success_criteria: Vec::new(),
        verification: policy.verification.as_ref().map(step),
        confirmed_when: policy.confirmed_when.iter().map(ToString::to_string).collect(),
        tolerance: policy.tolerance.clone(),
    };
    plan.rationale = format!("{} (score {:.2}); {}", best.title, best.score, best.why);
    Some(plan)
}

/// One pre-flight check and what it found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightResult {
    pub name: String,
    pub passed: bool,
    /// Why it passed or failed, in words (the query's error when it could not run).
    pub explanation: String,
}

/// Runs every pre-flight check of the policy with the plan's values, in order.
///
/// The checks are written for the policy's own fix and its values; a specialist's fix carries
/// other values, so only a template plan runs them (every plan still meets the Safety Mesh).
pub async fn pre_flight(target: &Target, policy: &AlertPolicy, plan: &Plan) -> Vec<PreflightResult> {
    if plan.source != PlanSource::Template {
        return Vec::new();
    }
    let mut results = Vec::with_capacity(policy.preflight.len());
    let values = resolve::bound_values(&plan.values, &plan.resolved);
    for check in &policy.preflight {
        let (passed, explanation) = match target.query(&check.sql.sql, &values).await {
            Ok(rows) => verify::preflight_passes(&check.expectation, &rows),
            Err(error) => (false, error.to_string()),
        };
        results.push(PreflightResult { name: check.name.clone(), passed, explanation });
    }
    results
}

/// The failed checks as one sentence, or `None` when all passed.
pub fn preflight_failures(results: &[PreflightResult]) -> Option<String> {
    let failed: Vec<String> = results
        .iter()
        .filter(|result| !result.passed)
        .map(|result| format!("{}: {}", result.name, result.explanation))
        .collect();
    (!failed.is_empty()).then(|| format!("pre-flight checks failed: {}", failed.join("; ")))
}

/// What became of one stored message.
#[derive(Debug)]
pub enum Taken {
    /// It answered an approval request and was judged as such (never triaged as an alert).
    Reply(ReplyHandled),
    /// It was triaged as an alert.
    Triaged(Triage),
}

/// Why a stored message could not be taken in; it stays stored and pending.
#[derive(Debug, thiserror::Error)]
pub enum TakeError {
    #[error("judging an approval reply: {0}")]
    Reply(#[from] ApprovalError),
    #[error("triage: {0}")]
    Triage(#[from] StoreError),
}

/// Takes in one stored message: an approval reply is judged as one, anything else is triaged
/// with the brain's duplicate and correlation windows. The engine's intake and `sentri replay`
/// both come through here.
pub fn take_in(
    store: &Store,
    raw_alert_id: i64,
    policies: &PolicySet,
    config: &Config,
    approvals: &ApprovalsConfig,
) -> Result<Taken, TakeError> {
    if let Some(handled) = approval::inbound::handle_reply(store, approvals, raw_alert_id)? {
        return Ok(Taken::Reply(handled));
    }
    let databases = KnownDatabase::from_config(config);
    let rules = TriageRules::from_brain(&policies.brain).with_alert_senders(&config.email.alert_senders);
    Ok(Taken::Triaged(triage::triage(store, raw_alert_id, policies, &databases, &rules)?))
}
