//! The engine's drivers: for each state the engine owes a step, the step. [`Engine::step`]
//! matches every state, so a new state cannot be added without saying who moves it on.
//!
//! The work inside each step (verify, plan, pre-flight, judge, execute) is the plain functions
//! of [`crate::pipeline::steps`], [`crate::safety`] and [`crate::execute`]; what is here is the
//! order, the transitions, and what each outcome means for the workflow.

use std::sync::Arc;

use tracing::{info, warn};

use super::{Engine, EngineError};
use crate::domain::{MeshVerdict, PlanHash, VerificationVerdict, WorkflowState};
use crate::execute::{self, ExecutionOutcome};
use crate::pipeline::approval;
use crate::pipeline::plan::Plan;
use crate::pipeline::steps;
use crate::pipeline::verify::{self, PlanInputs};
use crate::policy::AlertPolicy;
use crate::safety::{self, FailureCount, LockAttempt};
use crate::store::LockOutcome;
use crate::store::approvals::{ApprovalRow, Decision};
use crate::store::workflows::WorkflowRow;
use crate::targets::Target;

/// The states in which the engine owes a workflow a step; the sweep reads exactly these,
/// through the state index. The others are final, or a person's to move.
pub(crate) const ENGINE_DRIVEN: [WorkflowState; 9] = [
    WorkflowState::Detected,
    WorkflowState::Verifying,
    WorkflowState::Verified,
    WorkflowState::PreFlight,
    WorkflowState::AwaitingApproval,
    WorkflowState::Approved,
    WorkflowState::Executing,
    WorkflowState::Timeout,
    WorkflowState::Failed,
];

/// How long a fix holds its conflict lock at most (a crash leaves it to expire).
const LOCK_TTL: jiff::SignedDuration = jiff::SignedDuration::from_mins(30);

impl Engine {
    /// One step. `Ok(true)` when the workflow moved and may move again.
    pub(super) async fn step(&self, workflow_id: &str) -> Result<bool, EngineError> {
        let id = workflow_id.to_owned();
        let workflow = self.blocking(move |store| store.get_workflow(&id)).await?;
        match workflow.state {
            WorkflowState::Detected => {
                let Some(policy) = self.policy_or_escalate(&workflow).await? else { return Ok(false) };
                if self.config.database(&workflow.database).is_none() {
                    let reason =
                        format!("`{}` is not a configured database: the alert cannot be verified", workflow.database);
                    self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
                    return Ok(false);
                }
                let workflow =
                    self.move_to(&workflow, WorkflowState::Verifying, "engine", "checking the live database").await?;
                self.verify(workflow, &policy).await
            }
            // Interrupted while verifying (a crash, a store error): the query is read-only, so
            // it simply runs again.
            WorkflowState::Verifying => {
                let Some(policy) = self.policy_or_escalate(&workflow).await? else { return Ok(false) };
                self.verify(workflow, &policy).await
            }
            WorkflowState::Verified | WorkflowState::Approved | WorkflowState::PreFlight => {
                self.pre_flight(workflow).await
            }
            WorkflowState::Executing => self.recover_executing(workflow).await,
            WorkflowState::AwaitingApproval => {
                self.request_approval(&workflow.id).await;
                self.check_timeout(workflow).await
            }
            WorkflowState::Timeout | WorkflowState::Failed => {
                self.move_to(&workflow, WorkflowState::Escalated, "engine", "a DBA must take over").await?;
                Ok(false)
            }
            // Final, or a person's to move on.
            WorkflowState::VerificationFailed
            | WorkflowState::Denied
            | WorkflowState::Completed
            | WorkflowState::RolledBack
            | WorkflowState::Escalated
            | WorkflowState::Resolved => Ok(false),
        }
    }

    /// VERIFYING: runs the verification query and moves on by its verdict.
    async fn verify(&self, workflow: WorkflowRow, policy: &AlertPolicy) -> Result<bool, EngineError> {
        let Some(target) = self.target_or_escalate(&workflow).await? else { return Ok(false) };
        let started = std::time::Instant::now();
        let verified = steps::verify_live(&target, policy, &workflow.fields).await;
        self.vitals.verification_seconds.observe(started.elapsed().as_secs_f64());
        let verification = match verified {
            Ok(verification) => verification,
            Err(error) => {
                let reason = format!("the verification query failed: {error}");
                self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
                return Ok(false);
            }
        };
        let (id, stored) = (workflow.id.clone(), verification.clone());
        self.blocking(move |store| store.set_verification(&id, &stored)).await?;
        let summary = verification.explanations.join("; ");
        let next = match verification.verdict {
            VerificationVerdict::Confirmed => WorkflowState::Verified,
            VerificationVerdict::NotConfirmed => WorkflowState::VerificationFailed,
            VerificationVerdict::Unverifiable => WorkflowState::Escalated,
        };
        self.move_to(&workflow, next, "engine", &summary).await?;
        Ok(next == WorkflowState::Verified)
    }

    /// VERIFIED or APPROVED (or PRE_FLIGHT, interrupted): the plan, its conflict lock, the
    /// pre-flight checks, the Safety Mesh, and — when it allows — the fix.
    ///
    /// The lock is taken before the workflow enters PRE_FLIGHT: a plan whose resource another
    /// fix holds stays where it is and is retried on the next sweep, as the conflict lock's
    /// message says, instead of being escalated.
    async fn pre_flight(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let Some(policy) = self.policy_or_escalate(&workflow).await? else { return Ok(false) };
        let approvals = {
            let id = workflow.id.clone();
            self.blocking(move |store| store.approvals(&id)).await?
        };
        let approved_hash =
            approval::approved_plan_hash(&workflow, &approvals, self.config.approvals.required_approvals);
        let plan = match self.plan_for(&workflow, &policy, approved_hash.as_deref(), &approvals).await? {
            Some(plan) => plan,
            None => return Ok(false),
        };
        let lock_key = safety::conflict_lock::lock_key(&plan);
        let lock_outcome = {
            let (key, id) = (lock_key.clone(), workflow.id.clone());
            self.blocking(move |store| store.try_acquire(&key, &id, LOCK_TTL)).await?
        };
        if let LockOutcome::Held { workflow_id: holder, .. } = &lock_outcome
            && *holder != workflow.id
        {
            info!(workflow_id = %workflow.id, %lock_key, holder = %holder, "waiting for the conflict lock; retried on the next sweep");
            return Ok(false);
        }
        let workflow = if workflow.state == WorkflowState::PreFlight {
            workflow
        } else {
            self.move_to(&workflow, WorkflowState::PreFlight, "engine", "pre-flight checks and Safety Mesh").await?
        };
        let workflow = self.store_plan(workflow, &plan).await?;
        let outcome = self.judge_and_run(&workflow, &policy, &plan, approved_hash, &lock_key, lock_outcome).await;
        self.release(&lock_key, &workflow.id).await;
        outcome
    }

    /// The plan to judge: for an approved workflow, exactly the stored plan the approvers saw
    /// (with the resolution it was approved with); otherwise the policy's template plan from
    /// the verification evidence, its identifiers resolved on the live database. `None` when
    /// there is none (the workflow is escalated with the reason).
    ///
    /// `approved_hash` is the stored plan's hash when enough approvals name it. An APPROVED
    /// workflow without one never runs its stored plan: the plan (and its hash column) was
    /// rewritten after the approval, and the rewritten plan would otherwise be judged on what
    /// it says about itself (its environment, its action) with no approval bound to it.
    async fn plan_for(
        &self,
        workflow: &WorkflowRow,
        policy: &AlertPolicy,
        approved_hash: Option<&str>,
        approvals: &[ApprovalRow],
    ) -> Result<Option<Plan>, EngineError> {
        if approved_hash.is_some() || workflow.state == WorkflowState::Approved {
            let Some(plan) = workflow.plan.clone() else {
                let reason = match workflow.unreadable.iter().find(|note| note.starts_with("plan")) {
                    Some(why) => format!("the approved plan cannot be read ({why})"),
                    None => "the approved plan is missing".to_owned(),
                };
                self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
                return Ok(None);
            };
            // An approval binds the plan the approvers saw. A stored plan that no longer hashes
            // to the approved hash was rewritten after the approval: it never runs.
            let stored_hash = workflow.plan_hash.as_deref().unwrap_or_default().to_owned();
            let running_hash = plan.hash();
            let named = approvals.iter().rev().find(|a| a.decision == Decision::Approved).map(|a| a.plan_hash.as_str());
            let reason = if running_hash != stored_hash {
                Some(format!(
                    "refused: the stored plan hashes to {running_hash}, not the approved {stored_hash}; it was changed after the approval and will not run"
                ))
            } else if approved_hash != Some(running_hash.as_str()) {
                Some(format!(
                    "refused: APPROVED, but no approval names the stored plan ({running_hash}; the approval names {}); it was changed after the approval and will not run",
                    named.unwrap_or("no plan")
                ))
            } else {
                None
            };
            if let Some(reason) = reason {
                warn!(workflow_id = %workflow.id, "{reason}");
                let detail = hash_mismatch(named.unwrap_or(&stored_hash), &running_hash);
                self.move_with_detail(workflow, WorkflowState::Escalated, "engine", &reason, detail).await?;
                return Ok(None);
            }
            // A plan stored before identifiers were resolved into it: looking them up now could
            // find another object than the one approved, so it does not run.
            let missing = execute::unresolved(&plan);
            if !missing.is_empty() {
                let names = missing.iter().map(|name| format!("`:{name}`")).collect::<Vec<_>>().join(", ");
                let reason = format!(
                    "refused: the approved plan carries no resolution for {names} (it was stored before identifiers \
                     were resolved into plans); they are not looked up again, so it will not run: a DBA must re-raise it"
                );
                warn!(workflow_id = %workflow.id, "{reason}");
                self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
                return Ok(None);
            }
            return Ok(Some(plan));
        }
        let Some(verification) = workflow.verification.clone() else {
            self.move_to(workflow, WorkflowState::Escalated, "engine", "no verification evidence").await?;
            return Ok(None);
        };
        let inputs = PlanInputs {
            workflow_id: &workflow.id,
            database: &workflow.database,
            environment: &workflow.environment,
            alert_fields: &workflow.fields,
            verification: &verification,
        };
        let Some(target) = self.target_or_escalate(workflow).await? else { return Ok(None) };
        // Resolved once, here, before the lock key and the hash are taken from the plan.
        let template = match verify::template_plan(policy, &inputs) {
            None => None,
            Some(mut plan) => match steps::resolve_plan(&target, &mut plan, &verification).await {
                Ok(()) => Some(plan),
                Err(error) => {
                    let reason = format!("the plan's identifiers cannot be resolved: {error}");
                    self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
                    return Ok(None);
                }
            },
        };
        let plan = self.diagnosed_plan(workflow, policy, &target, template, &verification).await?;
        if plan.is_none() {
            self.move_to(workflow, WorkflowState::Escalated, "engine", &no_fix_reason(policy)).await?;
        }
        Ok(plan)
    }

    /// Records the plan (a new plan voids approvals of an older one; the same plan keeps them).
    async fn store_plan(&self, workflow: WorkflowRow, plan: &Plan) -> Result<WorkflowRow, EngineError> {
        if workflow.plan_hash.as_deref() == Some(plan.hash().as_str()) {
            return Ok(workflow);
        }
        let (id, plan) = (workflow.id.clone(), plan.clone());
        self.blocking(move |store| store.set_plan(&id, &plan, "engine")).await
    }

    /// PRE_FLIGHT with the lock held: the policy's checks, the Safety Mesh, then the fix.
    async fn judge_and_run(
        &self,
        workflow: &WorkflowRow,
        policy: &AlertPolicy,
        plan: &Plan,
        approved_hash: Option<PlanHash>,
        lock_key: &str,
        lock_outcome: LockOutcome,
    ) -> Result<bool, EngineError> {
        let Some(target) = self.target_or_escalate(workflow).await? else { return Ok(false) };
        let checks = steps::pre_flight(&target, policy, plan).await;
        if let Some(reason) = steps::preflight_failures(&checks) {
            self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
            return Ok(false);
        }
        let policies = self.policies.snapshot();
        let now = self.store.now();
        let since = safety::failure_window_start(&policies.brain, now);
        let failures = {
            let database = workflow.database.clone();
            self.blocking(move |store| store.recent_failures(&database, since)).await?
        };
        let database = self.config.database(&workflow.database);
        let mut context = safety::mesh_context(
            &policies,
            database,
            plan,
            now,
            Some(LockAttempt { key: lock_key.to_owned(), outcome: lock_outcome }),
            Some(FailureCount { since, count: failures }),
            approved_hash,
        );
        context.provisional = workflow.provisional_policy.is_some();
        let (decision, cleared) = safety::evaluate(plan.clone(), &context);
        for check in &decision.checks {
            self.vitals.record_verdict(check.check.as_str(), check.effective());
        }
        let (audited_plan, audited) = (plan.clone(), decision.clone());
        self.blocking(move |store| safety::audit(store, &audited_plan, &audited)).await?;
        match (decision.verdict, cleared) {
            (MeshVerdict::Allow, Ok(cleared)) => {
                let workflow =
                    self.move_to(workflow, WorkflowState::Executing, "engine", "Safety Mesh: allowed").await?;
                self.execute(workflow, &target, &cleared).await?;
                Ok(false)
            }
            (MeshVerdict::NeedsApproval, _) => {
                let reason = format!("Safety Mesh: approval needed ({})", decision.reasons().join("; "));
                let workflow = self.move_to(workflow, WorkflowState::AwaitingApproval, "engine", &reason).await?;
                self.request_approval(&workflow.id).await;
                Ok(false)
            }
            _ => {
                let reason = format!("Safety Mesh: blocked ({})", decision.reasons().join("; "));
                self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
                Ok(false)
            }
        }
    }

    /// EXECUTING: runs the cleared plan, records what it did, and ends the workflow by it.
    async fn execute(
        &self,
        workflow: WorkflowRow,
        target: &Target,
        cleared: &safety::Cleared,
    ) -> Result<(), EngineError> {
        let expected_hash = workflow.plan_hash.as_deref().unwrap_or_default().to_owned();
        let report = execute::execute(target, cleared, &expected_hash).await;
        self.vitals.record_execution(&report.outcome);
        let (id, stored) = (workflow.id.clone(), report.clone());
        self.blocking(move |store| store.set_execution(&id, &stored)).await?;
        let proof = report.proof.join("; ");
        let (next, reason) = match report.outcome {
            ExecutionOutcome::Completed => (WorkflowState::Completed, format!("the fix worked: {proof}")),
            ExecutionOutcome::RolledBack => {
                (WorkflowState::RolledBack, format!("the fix did not work and was undone: {proof}"))
            }
            ExecutionOutcome::FailedBeforeChange
            | ExecutionOutcome::FailedNeedsDba
            | ExecutionOutcome::HashMismatch => {
                (WorkflowState::Failed, report.error.clone().unwrap_or_else(|| "the fix failed".to_owned()))
            }
        };
        let workflow = self.move_to(&workflow, next, "executor", &reason).await?;
        if workflow.state == WorkflowState::Completed {
            self.write_learned(&workflow).await;
        }
        let urgent = match report.outcome {
            ExecutionOutcome::FailedNeedsDba => Some("the database may be half-changed: a DBA must look now"),
            ExecutionOutcome::HashMismatch => {
                Some("the stored plan was changed after it was approved: nothing ran; a DBA must look now")
            }
            _ => None,
        };
        if let Some(reason) = urgent {
            warn!(workflow_id = %workflow.id, reason, "escalating");
            let detail = match report.outcome {
                ExecutionOutcome::HashMismatch => hash_mismatch(&expected_hash, &report.plan_hash),
                _ => serde_json::json!({}),
            };
            self.move_with_detail(&workflow, WorkflowState::Escalated, "executor", reason, detail).await?;
        }
        self.log_anchor("after execution").await;
        Ok(())
    }

    /// A workflow found EXECUTING was interrupted mid-fix: it is never run again. It is
    /// re-verified, the evidence kept, its conflict lock released, and it is handed to a DBA:
    /// what ran cannot be proven.
    async fn recover_executing(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let mut finding = "re-verification not possible".to_owned();
        let mut reverified = serde_json::Value::Null;
        if let Some(policy) = self.policy_of(&workflow)
            && let Ok(target) = self.connections.target(&workflow.database).await
        {
            finding = match steps::verify_live(&target, &policy, &workflow.fields).await {
                Ok(judged) => {
                    reverified = serde_json::to_value(&judged).unwrap_or_default();
                    match judged.verdict {
                        VerificationVerdict::NotConfirmed => "the problem is no longer present".to_owned(),
                        _ => "the problem is still present".to_owned(),
                    }
                }
                Err(error) => format!("re-verification failed: {error}"),
            };
        }
        let id = workflow.id.clone();
        let released = self.blocking(move |store| store.release_all_locks_of(&id)).await?;
        let reason = format!(
            "found mid-execution after a restart; not run again ({finding}); what ran cannot be proven: a DBA must check{}",
            if released > 0 { "; its conflict lock was released" } else { "" }
        );
        // The original verification stays as it was; what the database shows now goes into the
        // escalation's own audit row.
        let detail = serde_json::json!({ "reverified_after_restart": reverified, "locks_released": released });
        let (id, from) = (workflow.id.clone(), workflow.state);
        let moved = self
            .blocking(move |store| {
                store.transition_with_detail(&id, from, WorkflowState::Escalated, "engine", &reason, detail)
            })
            .await?;
        self.announce(&moved.id, WorkflowState::Escalated);
        Ok(false)
    }

    /// Queues the email approval requests for a workflow awaiting approval, unless already
    /// queued for its current plan (see `pipeline::approval::request`). A failure is retried on
    /// the next sweep.
    async fn request_approval(&self, workflow_id: &str) {
        let (config, id) = (Arc::clone(&self.config), workflow_id.to_owned());
        let issued =
            self.blocking(move |store| Ok(approval::request::ensure_requested(store, &config.approvals, &id))).await;
        match issued {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => info!(%workflow_id, count, "approval requests queued"),
            Ok(Err(error)) => warn!(%workflow_id, %error, "approval requests not queued; retrying on the next sweep"),
            Err(error) => warn!(%workflow_id, %error, "approval requests not queued; retrying on the next sweep"),
        }
    }

    async fn check_timeout(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let timeout = self.config.approvals.approval_timeout;
        let since = {
            let row = workflow.clone();
            self.blocking(move |store| store.awaiting_approval_since(&row)).await?
        };
        let waited = self.store.now().as_millisecond() - since.as_millisecond();
        if u128::try_from(waited).unwrap_or(0) <= timeout.as_millis() {
            return Ok(false);
        }
        let reason = format!("no decision within {} s", timeout.as_secs());
        let workflow = self.move_to(&workflow, WorkflowState::Timeout, "engine", &reason).await?;
        self.move_to(&workflow, WorkflowState::Escalated, "engine", "approval timed out").await?;
        Ok(false)
    }

    /// The workflow's policy as loaded now, or — when it is gone — the workflow escalated.
    async fn policy_or_escalate(&self, workflow: &WorkflowRow) -> Result<Option<Arc<AlertPolicy>>, EngineError> {
        let policy = self.policy_of(workflow);
        if policy.is_none() {
            let reason = format!("the policy `{}` is no longer loaded", workflow.alert_type);
            self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
        }
        Ok(policy)
    }

    /// The workflow's database, or — when it cannot be reached — the workflow escalated with the
    /// reason and `None`.
    async fn target_or_escalate(&self, workflow: &WorkflowRow) -> Result<Option<Arc<Target>>, EngineError> {
        match self.connections.target(&workflow.database).await {
            Ok(target) => Ok(Some(target)),
            Err(error) => {
                let reason = format!("cannot reach the database: {error}");
                self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
                Ok(None)
            }
        }
    }

    async fn release(&self, key: &str, workflow_id: &str) {
        let (key, id) = (key.to_owned(), workflow_id.to_owned());
        if let Err(error) = self.blocking(move |store| store.release(&key, &id)).await {
            warn!(%error, "could not release a lock; it expires on its own");
        }
    }
}

/// The audit detail of a refusal to run a plan that is not the one approved: both hashes, under
/// the executor's name for the outcome, so the chain shows what was refused and why.
fn hash_mismatch(approved_hash: &str, running_hash: &str) -> serde_json::Value {
    serde_json::json!({ "refused": "HASH_MISMATCH", "approved_hash": approved_hash, "running_hash": running_hash })
}

/// Why a policy gives no plan, for the escalation.
fn no_fix_reason(policy: &AlertPolicy) -> String {
    match &policy.fix_disabled {
        Some(reason) => format!("the policy's fix is disabled ({reason})"),
        None if policy.recommended_action.is_empty() => "the policy has no automatic fix".to_owned(),
        None => format!(
            "no automatic fix; recommended action: {}",
            policy.recommended_action.lines().next().unwrap_or_default()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_drives_every_state_it_owes_a_step_and_no_other() {
        use WorkflowState::*;
        for state in WorkflowState::ALL {
            let owed = !matches!(state, VerificationFailed | Denied | Completed | RolledBack | Escalated | Resolved);
            assert_eq!(ENGINE_DRIVEN.contains(&state), owed, "{state}");
        }
    }
}
