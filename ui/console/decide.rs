//! Carries out a confirmed decision. The one place the console records approvals, denials and
//! manual resolutions: through `pipeline::approval::decide` (four-eyes, self-approval, the plan
//! hash) as `sentri approve` does, and the store transition `sentri resolve` makes, with the
//! operating-system user as approver and `console` as the channel, so the daemon's sweep picks
//! them up and the audit trail says who decided, and where.

use sentri::config::ApprovalsConfig;
use sentri::domain::WorkflowState;
use sentri::pipeline::approval::{self, DecisionOutcome, DecisionRequest};
use sentri::store::{Decision, Store};

use super::app::Command;

/// Records `command`; returns the line to show, or why it was refused.
pub fn carry_out(
    store: &Store,
    approvals: &ApprovalsConfig,
    command: &Command,
    approver: &str,
) -> Result<String, String> {
    match command {
        Command::Approve { workflow_id, plan_hash } => {
            decide(store, approvals, workflow_id, plan_hash, Decision::Approved, "", approver)
        }
        Command::Deny { workflow_id, plan_hash, reason } => {
            decide(store, approvals, workflow_id, plan_hash, Decision::Denied, reason, approver)
        }
        Command::Resolve { workflow_id, from, reason } => {
            let actor = format!("console:{approver}");
            let updated = store
                .transition(workflow_id, *from, WorkflowState::Resolved, &actor, reason)
                .map_err(|error| format!("Not resolved: {error}"))?;
            Ok(format!("Workflow {} RESOLVED by {approver} (was {from}).", updated.short_id()))
        }
    }
}

fn decide(
    store: &Store,
    approvals: &ApprovalsConfig,
    workflow_id: &str,
    plan_hash: &str,
    decision: Decision,
    reason: &str,
    approver: &str,
) -> Result<String, String> {
    let request = DecisionRequest {
        workflow_id: workflow_id.into(),
        plan_hash: plan_hash.into(),
        approver: approver.to_owned(),
        decision,
        channel: "console".to_owned(),
        reason: reason.to_owned(),
        token_hash: None,
        raw_alert_id: None,
    };
    let outcome = approval::decide(store, approvals, &request).map_err(|error| format!("Not recorded: {error}"))?;
    let short = workflow_id.get(..8).unwrap_or(workflow_id);
    match outcome {
        DecisionOutcome::Decided { state } => {
            let next = if decision == Decision::Approved {
                " The engine re-checks it through the Safety Mesh, then runs it."
            } else {
                ""
            };
            Ok(format!("Workflow {short} {state} by {approver}.{next}"))
        }
        DecisionOutcome::Recorded { approvals, required } => Ok(format!(
            "Approval by {approver} recorded for {short}: {approvals} of {required} distinct approvers so far."
        )),
        DecisionOutcome::Refused { rule } => Err(format!("Not recorded: {rule}")),
    }
}
