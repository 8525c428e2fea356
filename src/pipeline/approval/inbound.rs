//! Replies to approval requests, arriving in the alert inbox: recognised before alert triage,
//! judged rule by rule, and never allowed to open an alert workflow.
//!
//! A stored message is a reply when its subject carries a `[WF:xxxxxxxx]` tag or its body a
//! `Token:` line. It approves or denies only if every rule holds, checked in this order, the
//! first failure audited (APPROVAL_REPLY_REJECTED) with its rule: not Sentri's own mail, not an
//! auto-reply, names an existing workflow, email approvals are on, the sender is exactly one
//! address on the approvers list, the receiving server did not say that address failed DMARC or
//! DKIM ([`authentication`]), it carries a token, the author's first line is APPROVED or
//! DENIED ([`reply::decision_line`]) — then [`super::decide`]: the token is that workflow's,
//! unused and unexpired, mailed to this very sender, the plan hash unchanged, the workflow still
//! AWAITING_APPROVAL and not timed out, four-eyes and self-approval. The stored message is then
//! marked an approval reply.
//!
//! Four-eyes by email needs two approver addresses, each answering the request mailed to it: an
//! approval spends that address's token and no fresh one is sent to it, so one mailbox cannot
//! answer a second round under another name.

use super::authentication;
use super::reply::{self, DecisionLine};
use super::token;
use super::{ApprovalError, DecisionOutcome, DecisionRequest, EMAIL_CHANNEL, Rule, decide, rejection_audit};
use crate::config::ApprovalsConfig;
use crate::domain::{PlanHash, WorkflowId};
use crate::pipeline::shapes::MAX_MATCH_TEXT;
use crate::store::alerts::RawAlertOutcome;
use crate::store::approval_requests::ApprovalRequestRow;
use crate::store::approvals::Decision;
use crate::store::workflows::WorkflowRow;
use crate::store::{RawAlertRow, Store, StoreError};

/// What became of one reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplyHandled {
    /// The workflow the reply answered, when it named one that exists.
    pub workflow_id: Option<WorkflowId>,
    /// Decided, recorded (four-eyes), or refused with the rule that failed.
    pub outcome: DecisionOutcome,
}

/// Whether a stored message answers an approval request (and so must not be triaged as an alert).
pub fn looks_like_reply(raw: &RawAlertRow) -> bool {
    // Sentri's own mail (a notification naming `[WF:…]`, a request that bounced back) is no reply:
    // triage keeps it and marks it ignored.
    !reply::own_mail(&raw.headers)
        && (reply::subject_workflow(&raw.subject).is_some() || !token::find_tokens(reply_text(raw)).is_empty())
}

/// The part of a reply's body that is read: the author's line is at its top and the quoted
/// request (with its token) right below, and a body of megabytes — or of thousands of token
/// lines, each one a store lookup — must not hold up the intake.
fn reply_text(raw: &RawAlertRow) -> &str {
    &raw.body[..raw.body.floor_char_boundary(MAX_MATCH_TEXT)]
}

/// Handles the stored message `raw_alert_id` if it is a reply to an approval request and has
/// not been handled yet; `Ok(None)` when it is not a reply (triage it as an alert).
pub fn handle_reply(
    store: &Store,
    config: &ApprovalsConfig,
    raw_alert_id: i64,
) -> Result<Option<ReplyHandled>, ApprovalError> {
    let raw = store.get_raw_alert(raw_alert_id)?;
    if raw.outcome.is_some() || !looks_like_reply(&raw) {
        return Ok(None);
    }
    let handled = evaluate(store, config, &raw)?;
    let outcome = RawAlertOutcome::ApprovalReply { workflow_id: handled.workflow_id.as_ref().map(|id| id.to_string()) };
    match store.set_raw_alert_outcome(raw_alert_id, &outcome) {
        // Handled meanwhile by another caller (intake and sweep); the token rules kept it once.
        Ok(()) | Err(StoreError::AlreadyTriaged { .. }) => Ok(Some(handled)),
        Err(error) => Err(error.into()),
    }
}

fn evaluate(store: &Store, config: &ApprovalsConfig, raw: &RawAlertRow) -> Result<ReplyHandled, ApprovalError> {
    let sender = reply::single_sender(&raw.headers);
    let who = sender.clone().unwrap_or_else(|| raw.sender.chars().filter(|c| !c.is_control()).take(200).collect());
    let reject = |workflow: Option<&WorkflowRow>, rule: Rule| -> Result<ReplyHandled, ApprovalError> {
        let audit = rejection_audit(
            workflow.map(|w| (w.id.as_str(), w.database.as_str(), w.environment.as_str())),
            EMAIL_CHANNEL,
            &who,
            &rule,
            serde_json::json!({
                "raw_alert_id": raw.id,
                "message_id": raw.message_id,
                "from": raw.sender,
                "subject": raw.subject,
            }),
        );
        store.audit(audit)?;
        tracing::warn!(raw_alert_id = raw.id, rule = rule.code(), "approval reply rejected: {rule}");
        Ok(ReplyHandled { workflow_id: workflow.map(|w| w.id.clone()), outcome: DecisionOutcome::Refused { rule } })
    };

    if reply::own_mail(&raw.headers) {
        return reject(None, Rule::OwnMail);
    }
    if let Some(header) = reply::auto_reply(&raw.headers) {
        return reject(None, Rule::AutoReply { header });
    }
    let tokens = token::find_tokens(reply_text(raw));
    // Each token the reply carries that was issued, with its request.
    let mut requests: Vec<(&String, ApprovalRequestRow)> = Vec::new();
    for found in &tokens {
        if let Some(request) = store.approval_request_by_token(&token::hash(found))? {
            requests.push((found, request));
        }
    }
    let workflow = match reply::subject_workflow(&raw.subject) {
        Some(prefix) => store.find_workflows(&prefix).ok(),
        None => match requests.first() {
            Some((_, request)) => Some(store.get_workflow(&request.workflow_id)?),
            None => None,
        },
    };
    let Some(workflow) = workflow else { return reject(None, Rule::NoWorkflow) };
    if !config.email_enabled {
        return reject(Some(&workflow), Rule::EmailApprovalsOff);
    }
    let Some(sender) = sender.filter(|address| reply::is_approver(address, &config.approvers)) else {
        return reject(Some(&workflow), Rule::SenderNotApprover { sender: who.clone() });
    };
    if config.require_authenticated_reply
        && let Some(failed) = authentication::failed(&raw.headers)
    {
        let rule = Rule::ReplyNotAuthenticated { results: failed.results, server: failed.server };
        return reject(Some(&workflow), rule);
    }
    let Some(first_token) = tokens.first() else { return reject(Some(&workflow), Rule::TokenMissing) };
    // The token of this workflow mailed to this sender if the reply carries one; else one of this
    // workflow (decide refuses it as another address's); else the first, which decide refuses.
    let request = requests
        .iter()
        .find(|(_, request)| request.workflow_id == workflow.id && request.recipient == sender)
        .or_else(|| requests.iter().find(|(_, request)| request.workflow_id == workflow.id));
    let token_hash = token::hash(request.map_or(first_token, |(found, _)| found));
    let request_text = match request {
        Some((found, request)) => store.approval_request_text(request, found)?,
        None => None,
    };
    let request = request.map(|(_, request)| request);
    let (decision, reason) = match reply::decision_line(reply_text(raw), request_text.as_deref()) {
        DecisionLine::Found { decision, reason } => (decision, reason),
        DecisionLine::NotADecision { line } => {
            let first_line = Some(line.chars().take(200).collect());
            return reject(Some(&workflow), Rule::NoDecisionLine { first_line });
        }
        DecisionLine::Nothing => return reject(Some(&workflow), Rule::NoDecisionLine { first_line: None }),
    };
    let reason = match (decision, reason.is_empty()) {
        (Decision::Denied, true) => "denied by email reply (no reason given)".to_owned(),
        _ => reason,
    };
    let plan_hash = request
        .map(|request| PlanHash::from(request.plan_hash.as_str()))
        .or_else(|| workflow.plan_hash.clone())
        .unwrap_or_else(|| PlanHash::from(""));
    let outcome = decide(
        store,
        config,
        &DecisionRequest {
            workflow_id: workflow.id.clone(),
            plan_hash: plan_hash.clone(),
            approver: sender,
            decision,
            channel: EMAIL_CHANNEL.to_owned(),
            reason,
            token_hash: Some(token_hash),
            raw_alert_id: Some(raw.id),
        },
    )?;
    Ok(ReplyHandled { workflow_id: Some(workflow.id), outcome })
}

#[cfg(test)]
mod tests;
