//! `sentri approve` and `sentri resolve`: a DBA's decisions from the command line, bound to the
//! exact plan they saw and recorded with the operating-system account that made them (the
//! process's uid, not the environment). Decisions go
//! through `pipeline::approval::decide`, the same rules as email and the console: four-eyes
//! (`approvals.required_approvals`) and `forbid_self_approval` apply here too.

use std::process::ExitCode;

use anyhow::{Context as _, bail};
use sentri::domain::WorkflowState;
use sentri::pipeline::approval::{self, DecisionOutcome, DecisionRequest};
use sentri::store::approvals::Decision;

use super::Context;

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The approval is bound to the plan's hash: if the plan changes, the approval is void.\nThe approver is the operating-system user running the command."
)]
pub struct ApproveArgs {
    /// The workflow id, or any unique prefix of it.
    id: String,
    /// Deny instead of approve.
    #[arg(long)]
    deny: bool,
    /// Why (recorded in the audit trail; required with --deny).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The workflow id, or any unique prefix of it.
    id: String,
    /// What was done by hand (recorded in the audit trail).
    #[arg(long, value_name = "TEXT")]
    reason: String,
}

/// Who is deciding: the operating-system account this process runs as (its uid's name, never
/// `$USER` or `$SUDO_USER`, which the caller can set to anything).
pub fn os_user() -> anyhow::Result<String> {
    approval::identity::os_account().context("naming the operating-system account that decides")
}

pub fn approve(context: &Context, args: ApproveArgs) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let workflow = store.find_workflows(args.id.trim())?;
    if workflow.state != WorkflowState::AwaitingApproval {
        bail!("workflow {} is {}, not AWAITING_APPROVAL; nothing to approve", workflow.short_id(), workflow.state);
    }
    let Some(plan_hash) = workflow.plan_hash.clone() else {
        bail!("workflow {} has no plan to approve", workflow.short_id());
    };
    let decision = if args.deny { Decision::Denied } else { Decision::Approved };
    let reason = args.reason.unwrap_or_default();
    if args.deny && reason.trim().is_empty() {
        bail!("--deny needs --reason: say why, for the audit trail");
    }
    let config = context.config()?;
    let approver = os_user()?;
    let outcome = approval::decide(
        &store,
        &config.approvals,
        &DecisionRequest {
            workflow_id: workflow.id.clone(),
            plan_hash: plan_hash.clone(),
            approver: approver.clone(),
            decision,
            channel: "cli".to_owned(),
            reason: reason.clone(),
            token_hash: None,
            raw_alert_id: None,
        },
    )
    .with_context(|| format!("recording the decision on {}", workflow.short_id()))?;
    match outcome {
        DecisionOutcome::Decided { state } => {
            println!("Workflow {} {state} by {approver}", workflow.short_id());
        }
        DecisionOutcome::Recorded { approvals, required } => {
            println!(
                "Workflow {}: approval by {approver} recorded ({approvals} of {required} distinct approvers); still AWAITING_APPROVAL",
                workflow.short_id()
            );
        }
        DecisionOutcome::Refused { rule } => {
            bail!("workflow {}: the decision by {approver} was refused: {rule}", workflow.short_id());
        }
    }
    println!("  {} on {} ({})", workflow.alert_type, workflow.database, workflow.environment);
    println!("  plan hash: {plan_hash}");
    if !reason.is_empty() {
        println!("  reason: {reason}");
    }
    if decision == Decision::Approved {
        println!("The engine re-checks the plan through the Safety Mesh, then runs it.");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn resolve(context: &Context, args: ResolveArgs) -> anyhow::Result<ExitCode> {
    if args.reason.trim().is_empty() {
        bail!("--reason must say what was done");
    }
    let store = context.store()?;
    let workflow = store.find_workflows(args.id.trim())?;
    if !workflow.state.can_transition(WorkflowState::Resolved) {
        bail!(
            "workflow {} is {} and cannot be resolved by hand{}",
            workflow.short_id(),
            workflow.state,
            if workflow.state == WorkflowState::Executing { " while a fix is running" } else { "" }
        );
    }
    let user = os_user()?;
    let actor = format!("cli:{user}");
    let updated = store.transition(&workflow.id, workflow.state, WorkflowState::Resolved, &actor, &args.reason)?;
    println!("Workflow {} RESOLVED by {user} (was {})", updated.short_id(), workflow.state);
    println!("  reason: {}", args.reason);
    Ok(ExitCode::SUCCESS)
}
