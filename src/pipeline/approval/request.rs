//! The approval request: one email per approver address, showing everything needed to decide —
//! the alert, the live evidence, the exact SQL with its rollback, the risk, every Safety Mesh
//! verdict, the plan hash — with a one-time token bound to that address and how to answer.
//!
//! Requests are issued by [`ensure_requested`], which the engine calls when a workflow enters
//! AWAITING_APPROVAL and again on each sweep: it issues requests only when none is open for the
//! workflow's current plan, so a crash between the transition and the queueing is healed, and a
//! changed plan gets a fresh request. Each email is queued with its request in one transaction
//! and carries no token: the notifier mints it as it sends the email
//! (`notify::approval_token`), so the outbox never holds a live token.
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

/// Issues approval requests for the workflow's current plan when email approvals are on and it
/// is AWAITING_APPROVAL: one to each address on the approvers list that has neither an open
/// request (unused, unexpired) for that plan nor a used one — the first time, after a plan
/// change, and when the wait was extended past the requests' expiry (a repeat alert folded into
/// the workflow). Each token is bound to the address it is mailed to, so one mailbox can only
/// ever answer for itself. Returns how many were queued.
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
    // The workflow times out `approval_timeout` after it began to wait; so does its request. A
    // request past that moment would only announce the timeout.
    let timeout = jiff::SignedDuration::try_from(config.approval_timeout).unwrap_or(jiff::SignedDuration::MAX);
    let expires_at = store.awaiting_approval_since(&workflow)?.saturating_add(timeout).unwrap_or(Timestamp::MAX);
    if expires_at <= now {
        return Ok(0);
    }
    let requests = store.approval_requests(workflow_id)?;
    let answered_or_open = |address: &str| {
        requests.iter().any(|request| {
            request.plan_hash == plan_hash
                && request.recipient == address
                && (request.used_at.is_some() || request.expires_at > now)
        })
    };
    let mut issued = 0;
    for address in approver_addresses(config) {
        if answered_or_open(&address) {
            continue;
        }
        issue(store, config, &workflow, &plan_hash, &address, expires_at)?;
        issued += 1;
    }
    if issued == 0 && config.approvers.is_empty() {
        tracing::warn!(%workflow_id, "email approvals are on but there is no approver to ask");
    }
    Ok(issued)
}

/// The approvers list as addresses (lower case, display names dropped), each once; entries
/// that are not one plausible address are left out (config validation reports them).
pub fn approver_addresses(config: &ApprovalsConfig) -> Vec<String> {
    let mut addresses: Vec<String> = Vec::new();
    for address in config.approvers.iter().filter_map(|entry| super::reply::sender_address(entry)) {
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    addresses
}

/// Queues one request to the approver address `recipient` with a fresh token and records its
/// hash, bound to that address.
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
    let slot = token::slot()?;
    let view = RequestView {
        workflow,
        plan_hash,
        plan,
        alert: alert.as_ref(),
        mesh: &mesh,
        token: &slot,
        expires_at,
        approved_by: &approved_by,
        required_approvals: config.required_approvals,
    };
    notify::approval_token::enqueue(
        store,
        &subject(workflow),
        &render(&view),
        &slot,
        &NewApprovalRequest {
            workflow_id: workflow.id.to_string(),
            plan_hash: plan_hash.to_owned(),
            recipient: recipient.to_owned(),
            token_hash: None,
            outbox_id: None,
            expires_at,
        },
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
