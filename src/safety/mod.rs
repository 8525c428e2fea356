//! The Safety Mesh: the only way a [`Plan`] becomes a [`Cleared`] plan the executor will run.
//!
//! Five checks, one file each, run on every plan whatever produced it (template, LLM, human
//! edit): [`policy_gate`] (autonomy, action rules, confidence, change and freeze windows,
//! protected databases, users, programs and schemas), [`conflict_lock`] (one writer per database resource),
//! [`blast_radius`] (what each statement can destroy, from [`crate::sql::classify`]), [`circuit_breaker`]
//! (recent failures on the database) and [`rollback_guarantee`] (a real rollback, or a declared
//! irreversible fix that always needs approval).
//!
//! Each check is a pure function of the plan and a [`MeshContext`] the caller fills with facts
//! (the lock it tried to take, the failures it counted, the time): no clock, store or database is
//! touched here, so every rule is tested without a runtime. [`evaluate`] runs *every* check — no
//! early exit, so every verdict is known and audited ([`audit`]) — and the most restrictive wins
//! (Block > NeedsApproval > Allow). An approval of this exact plan hash satisfies NeedsApproval
//! verdicts; nothing lifts a Block.
//!
//! Unlike the reference product, unknown things fail closed: an unknown environment is PROD, an
//! action missing from the rules needs approval outside DEV, text the classifier cannot read is
//! critical, and a fact the caller did not gather (no lock attempt, no failure count) blocks.

pub mod blast_radius;
pub mod circuit_breaker;
pub mod conflict_lock;
pub mod policy_gate;
mod protected;
pub mod rollback_guarantee;

use jiff::Timestamp;

use crate::config::{AutonomyLevel, DatabaseConfig, Environment};
pub use crate::domain::MeshVerdict;
use crate::domain::PlanHash;
use crate::pipeline::plan::Plan;
use crate::policy::environment::EnvironmentPolicy;
use crate::policy::{Brain, PolicySet};
use crate::store::audit::actions;
use crate::store::audit_detail::{MESH_SUMMARY, SafetyVerdictDetail};
use crate::store::{LockOutcome, NewAudit, Store, StoreError};

/// A check's verdict with the reason a DBA reads in the console, the approval request and the
/// audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckVerdict {
    pub verdict: MeshVerdict,
    pub reason: String,
}

impl CheckVerdict {
    /// The plan may run, and why.
    pub fn allow(reason: impl Into<String>) -> CheckVerdict {
        CheckVerdict { verdict: MeshVerdict::Allow, reason: reason.into() }
    }

    /// The plan waits for a human, and why.
    pub fn needs_approval(reason: impl Into<String>) -> CheckVerdict {
        CheckVerdict { verdict: MeshVerdict::NeedsApproval, reason: reason.into() }
    }

    /// The plan must not run, and why.
    pub fn block(reason: impl Into<String>) -> CheckVerdict {
        CheckVerdict { verdict: MeshVerdict::Block, reason: reason.into() }
    }
}

/// The five checks, in the order they run and are audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    PolicyGate,
    ConflictLock,
    BlastRadius,
    CircuitBreaker,
    RollbackGuarantee,
}

impl CheckName {
    /// Every check, in order.
    pub const ALL: [CheckName; 5] = [
        CheckName::PolicyGate,
        CheckName::ConflictLock,
        CheckName::BlastRadius,
        CheckName::CircuitBreaker,
        CheckName::RollbackGuarantee,
    ];

    /// The name in audit rows.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::PolicyGate => "policy_gate",
            CheckName::ConflictLock => "conflict_lock",
            CheckName::BlastRadius => "blast_radius",
            CheckName::CircuitBreaker => "circuit_breaker",
            CheckName::RollbackGuarantee => "rollback_guarantee",
        }
    }

    fn run(self, plan: &Plan, context: &MeshContext<'_>) -> CheckVerdict {
        match self {
            CheckName::PolicyGate => policy_gate::check(plan, context),
            CheckName::ConflictLock => conflict_lock::check(plan, context),
            CheckName::BlastRadius => blast_radius::check(plan, context),
            CheckName::CircuitBreaker => circuit_breaker::check(plan, context),
            CheckName::RollbackGuarantee => rollback_guarantee::check(plan, context),
        }
    }
}

/// The lock the caller tried to take before running the mesh: the key
/// ([`conflict_lock::lock_key`]) and what the store said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockAttempt {
    pub key: String,
    pub outcome: LockOutcome,
}

/// Failures the caller counted on the plan's database (`Store::recent_failures`) since `since`,
/// which must reach back at least the brain's circuit-breaker window
/// ([`failure_window_start`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub since: Timestamp,
    pub count: u32,
}

/// The facts the checks judge a plan against, gathered by the caller. Nothing in the mesh reads
/// a clock, the store or a database.
#[derive(Debug, Clone)]
pub struct MeshContext<'a> {
    /// The brain in force (action rules, thresholds, windows, protected names).
    pub brain: &'a Brain,
    /// "Now", injected.
    pub now: Timestamp,
    /// The plan's database's `environments/*.md`, if it has one.
    pub environment_policy: Option<&'a EnvironmentPolicy>,
    /// `autonomy_level` from the database's entry in sentri.yaml, if set.
    pub database_autonomy: Option<AutonomyLevel>,
    /// The database's environment as sentri.yaml configures it: what the checks judge by. A
    /// plan that says otherwise (a stored plan rewritten to claim DEV) is blocked.
    pub database_environment: Option<Environment>,
    /// The database's aliases from sentri.yaml (protected databases match names and aliases).
    pub database_aliases: &'a [String],
    /// The database's `critical_schemas` from sentri.yaml: changing their objects needs a human.
    pub critical_schemas: &'a [String],
    /// The lock the caller tried to take; `None` if it did not (which blocks).
    pub lock: Option<LockAttempt>,
    /// Recent failures on the database; `None` if not counted (which blocks).
    pub failures: Option<FailureCount>,
    /// The plan hash that humans approved (enough distinct approvers already checked by the
    /// caller), if any.
    pub approved_plan_hash: Option<PlanHash>,
    /// Set when the workflow's alert type was drafted by a model and has no policy file yet:
    /// every fix then waits for a human, in every environment.
    pub provisional: bool,
}

/// What one check said, and whether an approval satisfied it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    pub check: CheckName,
    pub verdict: CheckVerdict,
    /// A NeedsApproval verdict that the approval of this plan hash satisfies.
    pub satisfied_by_approval: bool,
}

impl CheckOutcome {
    /// The verdict after the approval is taken into account.
    pub fn effective(&self) -> MeshVerdict {
        if self.satisfied_by_approval { MeshVerdict::Allow } else { self.verdict.verdict }
    }
}

/// The mesh's answer for one plan: every check's verdict and the overall one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MeshDecision {
    /// The hash of the plan that was judged; approvals must name it.
    pub plan_hash: String,
    /// Every check, in [`CheckName::ALL`] order.
    pub checks: Vec<CheckOutcome>,
    /// The most restrictive effective verdict.
    pub verdict: MeshVerdict,
    /// Whether an approval of this plan hash was present and satisfied at least one check.
    pub approval_used: bool,
}

impl MeshDecision {
    /// The reasons behind the overall verdict, one per check that gave it.
    pub fn reasons(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| {
                c.effective() == self.verdict || (self.verdict == MeshVerdict::Allow && c.satisfied_by_approval)
            })
            .map(|c| format!("{}: {}", c.check.as_str(), c.verdict.reason))
            .collect()
    }
}

/// A plan the Safety Mesh passed, or that a human approved for its exact hash with nothing
/// blocking it. The executor accepts nothing else. Only this module can build one:
///
/// ```compile_fail
/// fn forge(plan: sentri::pipeline::plan::Plan) -> sentri::safety::Cleared {
///     sentri::safety::Cleared(plan)
/// }
/// ```
#[derive(Debug)]
pub struct Cleared(Plan);

impl Cleared {
    /// The plan to execute.
    pub fn plan(&self) -> &Plan {
        &self.0
    }

    /// Gives the plan back (e.g. to store it); it cannot be made `Cleared` again without the mesh.
    pub fn into_plan(self) -> Plan {
        self.0
    }
}

/// Runs every check on `plan` and decides. The plan comes back `Cleared` only when the overall
/// verdict is Allow (possibly thanks to an approval of this exact hash); otherwise it comes back
/// as it was, with the decision saying why.
pub fn evaluate(plan: Plan, context: &MeshContext<'_>) -> (MeshDecision, Result<Cleared, Plan>) {
    let plan_hash = plan.hash();
    let approved = context.approved_plan_hash.as_deref() == Some(plan_hash.as_str());
    let checks: Vec<CheckOutcome> = CheckName::ALL
        .into_iter()
        .map(|check| {
            let verdict = check.run(&plan, context);
            let satisfied_by_approval = approved && verdict.verdict == MeshVerdict::NeedsApproval;
            CheckOutcome { check, verdict, satisfied_by_approval }
        })
        .collect();
    let verdict = checks.iter().map(CheckOutcome::effective).max().unwrap_or(MeshVerdict::Block);
    let approval_used = checks.iter().any(|c| c.satisfied_by_approval);
    let decision = MeshDecision { plan_hash, checks, verdict, approval_used };
    let result = if decision.verdict == MeshVerdict::Allow { Ok(Cleared(plan)) } else { Err(plan) };
    (decision, result)
}

/// Writes one SAFETY_VERDICT audit row per check and a summary row, in one transaction: every
/// verdict is audited, allow or block, or none is.
pub fn audit(store: &Store, plan: &Plan, decision: &MeshDecision) -> Result<(), StoreError> {
    let row = |result: &str, detail: serde_json::Value| NewAudit {
        workflow_id: Some(plan.workflow_id.clone()),
        database: Some(plan.database.clone()),
        environment: Some(plan.environment.clone()),
        actor: "safety".to_owned(),
        action: actions::SAFETY_VERDICT.to_owned(),
        result: result.to_owned(),
        detail,
    };
    let mut rows: Vec<NewAudit> = decision
        .checks
        .iter()
        .map(|c| {
            row(
                c.verdict.verdict.as_str(),
                SafetyVerdictDetail {
                    check: c.check.as_str().to_owned(),
                    reason: Some(c.verdict.reason.clone()),
                    satisfied_by_approval: Some(c.satisfied_by_approval),
                    plan_hash: decision.plan_hash.clone(),
                    ..SafetyVerdictDetail::default()
                }
                .to_value(),
            )
        })
        .collect();
    rows.push(row(
        decision.verdict.as_str(),
        SafetyVerdictDetail {
            check: MESH_SUMMARY.to_owned(),
            reasons: Some(decision.reasons()),
            approval_used: Some(decision.approval_used),
            plan_hash: decision.plan_hash.clone(),
            ..SafetyVerdictDetail::default()
        }
        .to_value(),
    ));
    store.audit_all(rows)
}

/// The environment policy (`environments/*.md`) that governs a database: matched through the
/// database's configured names and aliases when it is configured, by name otherwise. The one
/// lookup the engine and the dry run share.
pub fn environment_policy<'a>(
    policies: &'a PolicySet,
    database: Option<&DatabaseConfig>,
    name: &str,
) -> Option<&'a EnvironmentPolicy> {
    policies.environments.iter().find(|environment| match database {
        Some(database) => database.answers_to(&environment.database_id),
        None => environment.database_id.eq_ignore_ascii_case(name),
    })
}

/// What the Safety Mesh judges a plan with, besides the plan: the brain, the database's
/// settings, the lock taken (or not), the recent failures and the approved hash, if any.
pub fn mesh_context<'a>(
    policies: &'a PolicySet,
    database: Option<&'a DatabaseConfig>,
    plan: &Plan,
    now: Timestamp,
    lock: Option<LockAttempt>,
    failures: Option<FailureCount>,
    approved_plan_hash: Option<PlanHash>,
) -> MeshContext<'a> {
    MeshContext {
        brain: &policies.brain,
        now,
        environment_policy: environment_policy(policies, database, &plan.database),
        database_autonomy: database.and_then(|database| database.autonomy_level),
        database_environment: database.map(|database| database.environment),
        database_aliases: database.map(|database| database.aliases.as_slice()).unwrap_or(&[]),
        critical_schemas: database.map(|database| database.critical_schemas.as_slice()).unwrap_or(&[]),
        lock,
        failures,
        approved_plan_hash,
        provisional: false,
    }
}

/// Where the caller's failure count must start for the circuit breaker to accept it.
pub fn failure_window_start(brain: &Brain, now: Timestamp) -> Timestamp {
    let window = jiff::SignedDuration::from_hours(i64::from(brain.circuit_breaker_hours));
    now.saturating_sub(window).unwrap_or(Timestamp::MIN)
}

/// The environment the checks judge by: the database's configured one when the caller knows it,
/// else the plan's; `None` when that is not DEV, UAT or PROD (the checks treat it as PROD).
pub(crate) fn environment_of(plan: &Plan, context: &MeshContext<'_>) -> Option<Environment> {
    if let Some(configured) = context.database_environment {
        return Some(configured);
    }
    match plan.environment.trim().to_ascii_uppercase().as_str() {
        "DEV" => Some(Environment::Dev),
        "UAT" => Some(Environment::Uat),
        "PROD" => Some(Environment::Prod),
        _ => None,
    }
}

/// Collects a check's findings; the most restrictive level wins and its reasons are joined.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    found: Vec<(MeshVerdict, String)>,
}

impl Findings {
    pub(crate) fn add(&mut self, verdict: MeshVerdict, reason: impl Into<String>) {
        self.found.push((verdict, reason.into()));
    }

    pub(crate) fn verdict(self) -> CheckVerdict {
        let worst = self.found.iter().map(|(v, _)| *v).max().unwrap_or(MeshVerdict::Allow);
        let reasons: Vec<String> = self.found.into_iter().filter(|(v, _)| *v == worst).map(|(_, r)| r).collect();
        CheckVerdict { verdict: worst, reason: reasons.join("; ") }
    }
}

#[cfg(test)]
pub(crate) mod testing;

#[cfg(test)]
mod tests;
