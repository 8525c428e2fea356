//! The approval request: one email per recipient, showing everything needed to decide — the
//! alert, the live evidence, the exact SQL with its rollback, the risk, every Safety Mesh
//! verdict, the plan hash — with a one-time token and how to answer.
//!
//! Requests are issued by [`ensure_requested`], which the engine calls when a workflow enters
//! AWAITING_APPROVAL and again on each sweep: it issues requests only when none is open for the
//! workflow's current plan, so a crash between the transition and the queueing is healed, and a
//! changed plan gets a fresh request. Each email is queued through the outbox
//! (`notify::enqueue_email`) before its token's hash is recorded; a crash between the two leaves
//! a mailed token that matches nothing (harmless) and a new request on the next sweep.
//!
//! What the email says is [`super::message`].

use jiff::Timestamp;

use super::message::{MeshLine, RequestView, render, subject};
use super::{ApprovalError, token};
use crate::config::ApprovalsConfig;
use crate::domain::WorkflowState;
use crate::notify;
use crate::pipeline::plan::Plan;
use crate::store::Store;
use crate::store::approval_requests::NewApprovalRequest;
use crate::store::audit::AuditFilter;
use crate::store::workflows::WorkflowRow;

/// The Safety Mesh verdicts audited for this plan hash: the latest verdict of each check.
pub fn mesh_lines(store: &Store, workflow_id: &str, plan_hash: &str) -> Result<Vec<MeshLine>, ApprovalError> {
    let rows = store.list_audit(&AuditFilter { workflow_id: Some(workflow_id.to_owned()), ..Default::default() })?;
    let mut latest: Vec<MeshLine> = Vec::new();
    for row in &rows {
        let Some(verdict) = row.safety_verdict() else { continue };
        if verdict.plan_hash != plan_hash || verdict.is_summary() {
            continue;
        }
        let check = verdict.check;
        let line =
            MeshLine { check: check.clone(), verdict: row.result.clone(), reason: verdict.reason.unwrap_or_default() };
        match latest.iter_mut().find(|known| known.check == check) {
            Some(known) => *known = line,
            None => latest.push(line),
        }
    }
    Ok(latest)
}

/// Issues approval requests for the workflow's current plan when email approvals are on, it is
/// AWAITING_APPROVAL and no request for that plan is still open (unused and unexpired) — the
/// first time, after a plan change, and when the wait was extended past the requests' expiry
/// (a repeat alert folded into the workflow). Returns how many were queued.
pub fn ensure_requested(store: &Store, config: &ApprovalsConfig, workflow_id: &str) -> Result<usize, ApprovalError> {
    if !config.email_enabled {
        return Ok(0);
    }
    let workflow = store.get_workflow(workflow_id)?;
    let Some(plan_hash) = workflow.plan_hash.clone() else { return Ok(0) };
    if workflow.state != WorkflowState::AwaitingApproval {
        return Ok(0);
    }
    let now = store.now();
    let open = |request: &crate::store::approval_requests::ApprovalRequestRow| {
        request.plan_hash == plan_hash && request.used_at.is_none() && request.expires_at > now
    };
    if store.approval_requests(workflow_id)?.iter().any(open) {
        return Ok(0);
    }
    // The workflow times out `approval_timeout` after it began to wait; so does its request. A
    // request past that moment would only announce the timeout.
    let timeout = jiff::SignedDuration::try_from(config.approval_timeout).unwrap_or(jiff::SignedDuration::MAX);
    let expires_at = store.awaiting_approval_since(&workflow)?.saturating_add(timeout).unwrap_or(Timestamp::MAX);
    if expires_at <= now {
        return Ok(0);
    }
    let mut issued = 0;
    for recipient in &config.approval_recipients {
        issue(store, config, &workflow, &plan_hash, recipient, expires_at)?;
        issued += 1;
    }
    if issued == 0 {
        tracing::warn!(%workflow_id, "email approvals are on but there is no approval recipient");
    }
    Ok(issued)
}

/// Queues one request to `recipient` with a fresh token and records its hash.
pub(crate) fn issue(
    store: &Store,
    config: &ApprovalsConfig,
    workflow: &WorkflowRow,
    plan_hash: &str,
    recipient: &str,
    expires_at: Timestamp,
) -> Result<(), ApprovalError> {
    let plan: Option<&Plan> = workflow.plan.as_ref();
    let alert = workflow.raw_alert_id.map(|id| store.get_raw_alert(id.0)).transpose()?;
    let mesh = mesh_lines(store, &workflow.id, plan_hash)?;
    let approved_by: Vec<String> = store
        .approvals(&workflow.id)?
        .into_iter()
        .filter(|a| a.plan_hash == plan_hash && a.decision == crate::store::Decision::Approved)
        .map(|a| a.approver)
        .collect();
    let token = token::generate()?;
    let view = RequestView {
        workflow,
        plan_hash,
        plan,
        alert: alert.as_ref(),
        mesh: &mesh,
        token: &token,
        expires_at,
        approved_by: &approved_by,
        required_approvals: config.required_approvals,
    };
    let message = notify::enqueue_email(store, Some(&workflow.id), recipient, &subject(workflow), &render(&view))?;
    store.issue_approval_request(&NewApprovalRequest {
        workflow_id: workflow.id.to_string(),
        plan_hash: plan_hash.to_owned(),
        recipient: recipient.to_owned(),
        token_hash: token::hash(&token),
        outbox_id: Some(message.id),
        expires_at,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests;
