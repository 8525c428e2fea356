//! From a root cause to concrete fixes: each `## Fix:` of the rule that held becomes a plan —
//! values from the evidence row that made the cause hold, identifiers resolved once in the
//! dictionary — and is shown as it would run, with every value written in. The policy's own
//! template fix, when there is one, is a candidate beside them.

use std::collections::{BTreeMap, BTreeSet};

use super::rules::Held;
use crate::domain::{Candidate, DbKind, Plan, PlanSource, PlanStep, ProofSpec, RootCause};
use crate::policy::specialist::FixRule;
use crate::targets::fill::{self, Values};
use crate::targets::{Target, TargetError};

/// Where the plan will live: the same facts the template plan is made from.
#[derive(Debug, Clone)]
pub struct PlanFacts<'a> {
    pub workflow_id: &'a str,
    pub alert_type: &'a str,
    pub database: &'a str,
    pub environment: &'a str,
}

/// A fix turned into a plan, before it is scored.
#[derive(Debug, Clone)]
pub struct Drafted {
    pub candidate: Candidate,
    pub impact: crate::policy::specialist::Impact,
    /// How fully the fix treats its cause (the fix's `benefit:`), times the cause's confidence.
    pub benefit: f64,
}

/// What a fix is proposed on: the cause it treats, how sure its proposer is, and the row its
/// values come from. A specialist's rule and a model's answer both give one.
#[derive(Debug, Clone)]
pub struct Basis {
    pub cause: RootCause,
    pub confidence: f64,
    pub summary: String,
    pub source: PlanSource,
    /// Values for the fix's placeholders: the evidence row's columns, or the model's values.
    pub row: BTreeMap<String, String>,
    /// The row came from the dictionary (a tool's result), so object names in it are spelled
    /// as the catalog stores them; a model's values are read as a person writes names.
    pub from_catalog: bool,
}

impl Basis {
    /// The basis of a specialist's rule that held: its finding and first evidence row.
    pub fn of(held: &Held<'_>) -> Basis {
        Basis {
            cause: held.finding.cause,
            confidence: held.finding.confidence,
            summary: held.finding.summary.clone(),
            source: PlanSource::Diagnosis {
                specialist: held.specialist.name.clone(),
                cause: held.finding.cause.to_string(),
            },
            row: held.finding.evidence.first().map(|evidence| evidence.row.clone()).unwrap_or_default(),
            from_catalog: true,
        }
    }
}

/// The plan of `fix` for the cause `basis` names, resolved on `target`; `None` with the reason
/// when it cannot be made concrete (an object that is not there, a value that is missing).
pub async fn draft(
    target: &Target,
    facts: &PlanFacts<'_>,
    basis: &Basis,
    fix: &FixRule,
    alert: &BTreeMap<String, String>,
) -> Result<Drafted, String> {
    let mut plan = plan(target.engine(), facts, basis, fix, alert);
    let catalog_spelled: BTreeSet<String> =
        if basis.from_catalog { basis.row.keys().cloned().collect() } else { BTreeSet::new() };
    let statements: Vec<&str> = plan.steps.iter().chain(&plan.rollback).map(|step| step.sql.as_str()).collect();
    plan.resolved = target
        .resolve_identifiers(&statements, &plan.identifiers, &plan.values, &catalog_spelled)
        .await
        .map_err(|error: TargetError| error.to_string())?;
    drafted(plan, basis, fix)
}

/// The plan of `fix` before its identifiers are resolved: the alert's fields, then the
/// basis' row over them, as its values. Pure, so a fix can be shown without a server once its
/// resolutions are known.
pub fn plan(
    engine: DbKind,
    facts: &PlanFacts<'_>,
    basis: &Basis,
    fix: &FixRule,
    alert: &BTreeMap<String, String>,
) -> Plan {
    let mut values: Values = alert.iter().map(|(name, value)| (name.clone(), Some(value.clone()))).collect();
    for (name, value) in &basis.row {
        values.insert(name.clone(), Some(value.clone()));
    }
    let step = |block: &crate::policy::alert::SqlBlock| PlanStep { sql: block.sql.clone() };
    Plan {
        workflow_id: facts.workflow_id.to_owned(),
        alert_type: facts.alert_type.to_owned(),
        database: facts.database.to_owned(),
        environment: facts.environment.to_owned(),
        engine,
        action_type: fix.action_type.clone(),
        risk: fix.risk,
        confidence: basis.confidence,
        steps: fix.forward.iter().map(step).collect(),
        rollback: fix.rollback.iter().map(step).collect(),
        capture: None,
        validation: None,
        irreversible: fix.irreversible.clone(),
        identifiers: fix.identifiers.clone(),
        values,
        source: basis.source.clone(),
        rationale: format!("{}: {}", basis.cause, basis.summary),
        proof: ProofSpec::default(),
        resolved: BTreeMap::new(),
    }
}

/// A resolved plan as the candidate a DBA reads: its steps shown as they would run.
pub fn drafted(plan: Plan, basis: &Basis, fix: &FixRule) -> Result<Drafted, String> {
    let forward = shown(&plan, &plan.steps)?;
    let rollback = shown(&plan, &plan.rollback)?;
    let why = if fix.why.is_empty() { basis.summary.clone() } else { fix.why.clone() };
    Ok(Drafted {
        candidate: Candidate {
            title: fix.title.clone(),
            root_cause: basis.cause,
            forward,
            rollback,
            irreversible: fix.irreversible.clone(),
            risk: fix.risk,
            score: 0.0,
            scores: BTreeMap::new(),
            why,
            plan,
        },
        impact: fix.impact,
        benefit: fix.benefit * basis.confidence,
    })
}

/// The policy's template plan as a candidate for `cause` (the diagnosis' first cause, or
/// UNKNOWN): the fix the DBA wrote for this alert, always in the list.
pub fn from_template(plan: Plan, cause: RootCause, cause_confidence: f64) -> Result<Drafted, String> {
    let forward = shown(&plan, &plan.steps)?;
    let rollback = shown(&plan, &plan.rollback)?;
    Ok(Drafted {
        candidate: Candidate {
            title: format!("The `{}` policy's own fix", plan.alert_type),
            root_cause: cause,
            forward,
            rollback,
            irreversible: plan.irreversible.clone(),
            risk: plan.risk,
            score: 0.0,
            scores: BTreeMap::new(),
            why: plan.rationale.clone(),
            plan,
        },
        impact: crate::policy::specialist::Impact::Medium,
        // The template treats the alert it was written for: as sure as the verified cause, and
        // no more than a fix written for that cause.
        benefit: 0.6 * cause_confidence.max(0.5),
    })
}

/// Each step as it would run: identifiers from the plan's resolution, values as literals.
pub fn shown(plan: &Plan, steps: &[PlanStep]) -> Result<Vec<String>, String> {
    let dialect = plan.engine.dialect();
    steps
        .iter()
        .map(|step| {
            let text = crate::targets::sql::strip_terminator(&step.sql);
            fill::fill(&text, dialect, &plan.values, &plan.identifiers, &plan.resolved)
                .map(|filled| filled.inline(dialect))
                .map_err(|error| error.to_string())
        })
        .collect()
}
