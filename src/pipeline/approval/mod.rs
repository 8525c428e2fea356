//! Human approval of a plan: the request Sentri mails to approvers, the replies it accepts, and
//! the one decision function every channel uses ([`decide`]: `sentri approve`, the console, and
//! email replies).
//!
//! A decision counts only for the exact plan hash the human saw, only while the workflow is
//! AWAITING_APPROVAL and not timed out, and — by email — only from an address on the approvers
//! list that also returns the one-time token of that workflow's request ([`inbound`]). With
//! `approvals.required_approvals: N` a plan needs N *distinct* approvers; with
//! `approvals.forbid_self_approval` the requester of a change may not approve it.
//!
//! **Who is the requester.** The human who asked for this change: whoever ran `sentri replay`
//! on the alert that opened the workflow (recorded with the store's `record_requester`, OS
//! user), and whoever wrote or edited the plan (a plan whose source is `human`, `by` that
//! person). An alert-driven workflow has no human requester, so self-approval cannot apply to
//! it. Identities are compared as written, case-insensitively: an OS user `alice` and an email
//! approver `alice@example.com` are different identities (Sentri has no directory mapping one
//! to the other).
//!
//! **What a rejected reply gets back: nothing.** Every rejection is audited with the precise
//! rule that failed (APPROVAL_REPLY_REJECTED), but the sender is not told: an answer would
//! confirm to someone forging a From address that the mailbox is read and which check stopped
//! them, and a reply to an auto-responder can start a mail loop. The approver sees the workflow
//! still waiting (and `sentri show`/the console show the rejection).

pub mod authentication;
pub mod identity;
pub mod inbound;
pub mod message;
pub mod reply;
pub mod request;
pub mod token;

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use serde::Serialize;

pub use identity::{approver_identity, requester_identity};

use crate::config::ApprovalsConfig;
use crate::domain::{PlanHash, WorkflowId, WorkflowState};
use crate::pipeline::plan::PlanSource;
use crate::store::approval_requests::{Applied, ApprovalAction, ApprovalFacts};
use crate::store::approvals::{Decision, NewApproval};
use crate::store::audit::NewAudit;
use crate::store::{Store, StoreError};

/// Audit action of an email reply that was not accepted.
pub const APPROVAL_REPLY_REJECTED: &str = "APPROVAL_REPLY_REJECTED";
/// Audit action of a CLI or console decision that was refused.
pub const APPROVAL_REFUSED: &str = "APPROVAL_REFUSED";
/// The channel name of email decisions.
pub const EMAIL_CHANNEL: &str = "email";

/// Errors at the approval boundary.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Random(#[from] token::RandomUnavailable),
}

/// The rule a decision or a reply failed. Its code is the audit row's `result`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Rule {
    /// The message carries Sentri's own header.
    OwnMail,
    /// An auto-responder or list sent it (the header that says so).
    AutoReply { header: String },
    /// Email approvals are off (`approvals.email_enabled: false`).
    EmailApprovalsOff,
    /// Neither the subject tag nor a token names an existing workflow.
    NoWorkflow,
    /// The From address is not exactly one address on the approvers list.
    SenderNotApprover { sender: String },
    /// The receiving server's `Authentication-Results` say the From failed DMARC (or DKIM).
    ReplyNotAuthenticated { results: String, server: String },
    /// No token line in the reply.
    TokenMissing,
    /// A token no request was issued with.
    TokenUnknown,
    /// A token issued for another workflow than the one the reply names.
    TokenOtherWorkflow { token_workflow: String },
    /// The token was mailed to another address than the one the reply comes from.
    TokenNotForSender { bound_to: String },
    /// The token was already used by an accepted decision.
    TokenUsed,
    /// The request's expiry has passed.
    TokenExpired,
    /// The author's first line is not APPROVED or DENIED (what it was, if anything).
    NoDecisionLine { first_line: Option<String> },
    /// The workflow's plan is no longer the one the decision was about.
    PlanChanged { current: Option<PlanHash> },
    /// The workflow is not awaiting approval.
    NotAwaiting { state: WorkflowState },
    /// The approval timeout has passed.
    TimedOut,
    /// The approver asked for this change and `forbid_self_approval` is on.
    SelfApproval,
    /// This approver already approved this plan; a second approval by them does not count.
    AlreadyApproved,
    /// A denial must say why.
    ReasonRequired,
}

impl Rule {
    /// The code written as the audit row's result.
    pub fn code(&self) -> &'static str {
        match self {
            Rule::OwnMail => "OWN_MAIL",
            Rule::AutoReply { .. } => "AUTO_REPLY",
            Rule::EmailApprovalsOff => "EMAIL_APPROVALS_OFF",
            Rule::NoWorkflow => "NO_WORKFLOW",
            Rule::SenderNotApprover { .. } => "SENDER_NOT_APPROVER",
            Rule::ReplyNotAuthenticated { .. } => "REPLY_NOT_AUTHENTICATED",
            Rule::TokenMissing => "TOKEN_MISSING",
            Rule::TokenUnknown => "TOKEN_UNKNOWN",
            Rule::TokenOtherWorkflow { .. } => "TOKEN_OTHER_WORKFLOW",
            Rule::TokenNotForSender { .. } => "TOKEN_NOT_FOR_SENDER",
            Rule::TokenUsed => "TOKEN_USED",
            Rule::TokenExpired => "TOKEN_EXPIRED",
            Rule::NoDecisionLine { .. } => "NO_DECISION_LINE",
            Rule::PlanChanged { .. } => "PLAN_CHANGED",
            Rule::NotAwaiting { .. } => "NOT_AWAITING_APPROVAL",
            Rule::TimedOut => "TIMED_OUT",
            Rule::SelfApproval => "SELF_APPROVAL",
            Rule::AlreadyApproved => "ALREADY_APPROVED",
            Rule::ReasonRequired => "REASON_REQUIRED",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::OwnMail => write!(f, "the message is Sentri's own mail"),
            Rule::AutoReply { header } => write!(f, "the message is an automatic reply ({header})"),
            Rule::EmailApprovalsOff => write!(f, "email approvals are off (approvals.email_enabled)"),
            Rule::NoWorkflow => write!(f, "the reply names no existing workflow"),
            Rule::SenderNotApprover { sender } => write!(f, "the sender {sender:?} is not on the approvers list"),
            Rule::ReplyNotAuthenticated { results, server } => write!(
                f,
                "the receiving server {server:?} says the sender's address failed authentication ({results}; \
                 approvals.require_authenticated_reply)"
            ),
            Rule::TokenMissing => write!(f, "the reply carries no approval token"),
            Rule::TokenUnknown => write!(f, "the token was never issued"),
            Rule::TokenOtherWorkflow { token_workflow } => {
                write!(f, "the token belongs to workflow {}", token_workflow.get(..8).unwrap_or(token_workflow))
            }
            Rule::TokenNotForSender { bound_to } => {
                write!(f, "the token was issued to {bound_to:?}, not to the sender of the reply")
            }
            Rule::TokenUsed => write!(f, "the token was already used"),
            Rule::TokenExpired => write!(f, "the approval request has expired"),
            Rule::NoDecisionLine { first_line: Some(line) } => {
                write!(f, "the first line of the reply is not APPROVED or DENIED: {line:?}")
            }
            Rule::NoDecisionLine { first_line: None } => {
                write!(f, "the reply has no line of its own before the quoted text")
            }
            Rule::PlanChanged { current } => {
                write!(f, "the plan changed since the request (now {})", current.as_deref().unwrap_or("none"))
            }
            Rule::NotAwaiting { state } => write!(f, "the workflow is {state}, not AWAITING_APPROVAL"),
            Rule::TimedOut => write!(f, "the approval timeout has passed"),
            Rule::SelfApproval => write!(f, "the approver requested this change (forbid_self_approval)"),
            Rule::AlreadyApproved => write!(f, "this approver already approved this plan"),
            Rule::ReasonRequired => write!(f, "a denial must give a reason"),
        }
    }
}

/// A human's decision on one workflow's plan, from any channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRequest {
    /// The full workflow id.
    pub workflow_id: WorkflowId,
    /// The plan hash the human saw.
    pub plan_hash: PlanHash,
    /// An authenticated identity: the OS user (CLI, console) or the sender address (email).
    pub approver: String,
    pub decision: Decision,
    /// `cli`, `console`, `email`.
    pub channel: String,
    pub reason: String,
    /// For email: the hash of the token the reply carried (required on that channel).
    pub token_hash: Option<String>,
    /// For email: the stored reply, named in the audit trail.
    pub raw_alert_id: Option<i64>,
}

/// What became of a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionOutcome {
    /// The workflow moved to APPROVED or DENIED.
    Decided { state: WorkflowState },
    /// Recorded; more distinct approvers are needed (`approvals` of `required` so far).
    Recorded { approvals: usize, required: u32 },
    /// Refused by `rule`; an audit row says so.
    Refused { rule: Rule },
}

/// The settings the rules need, taken from `approvals:` in sentri.yaml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub required_approvals: u32,
    pub forbid_self_approval: bool,
    pub approval_timeout: Duration,
}

impl From<&ApprovalsConfig> for Rules {
    fn from(config: &ApprovalsConfig) -> Self {
        Rules {
            required_approvals: config.required_approvals.max(1),
            forbid_self_approval: config.forbid_self_approval,
            approval_timeout: config.approval_timeout,
        }
    }
}

/// Decides on a workflow's plan for any channel: judges the request against the facts read in
/// the same store transaction ([`judge`]) and applies the outcome — the decision recorded (and
/// the workflow moved when enough distinct approvers agree, or on a denial), or the refusal
/// audited with the rule that failed.
pub fn decide(
    store: &Store,
    config: &ApprovalsConfig,
    request: &DecisionRequest,
) -> Result<DecisionOutcome, ApprovalError> {
    let rules = Rules::from(config);
    let (applied, judged) = store.apply_approval(&request.workflow_id, request.token_hash.as_deref(), |facts| {
        let judged = judge(facts, &rules, request);
        (action_for(facts, request, &judged), judged)
    })?;
    Ok(match (applied, judged) {
        (Applied::Decided(_, workflow), _) => DecisionOutcome::Decided { state: workflow.state },
        (_, Judged::Record { approvals }) => {
            DecisionOutcome::Recorded { approvals, required: rules.required_approvals }
        }
        (_, Judged::Refuse(rule)) => DecisionOutcome::Refused { rule },
        // A Decide judgement is always applied as Decided (or fails as an error).
        (_, Judged::Decide) => DecisionOutcome::Decided { state: request.decision.next_state() },
    })
}

/// What [`judge`] concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judged {
    Refuse(Rule),
    /// Record; `approvals` distinct approvers (this one included) have approved this plan.
    Record {
        approvals: usize,
    },
    Decide,
}

/// The decision rules, as a pure function of the facts read in the deciding transaction.
pub fn judge(facts: &ApprovalFacts, rules: &Rules, request: &DecisionRequest) -> Judged {
    let workflow = &facts.workflow;
    if workflow.state != WorkflowState::AwaitingApproval {
        return Judged::Refuse(Rule::NotAwaiting { state: workflow.state });
    }
    let waited = facts.now.as_millisecond().saturating_sub(facts.awaiting_since.as_millisecond());
    if u128::try_from(waited).unwrap_or(0) > rules.approval_timeout.as_millis() {
        return Judged::Refuse(Rule::TimedOut);
    }
    if workflow.plan_hash.as_deref() != Some(request.plan_hash.as_str()) {
        return Judged::Refuse(Rule::PlanChanged { current: workflow.plan_hash.clone() });
    }
    if request.channel == EMAIL_CHANNEL && request.token_hash.is_none() {
        return Judged::Refuse(Rule::TokenMissing);
    }
    if request.token_hash.is_some() {
        let Some(issued) = &facts.request else { return Judged::Refuse(Rule::TokenUnknown) };
        if issued.workflow_id != workflow.id {
            return Judged::Refuse(Rule::TokenOtherWorkflow { token_workflow: issued.workflow_id.clone() });
        }
        if issued.used_at.is_some() {
            return Judged::Refuse(Rule::TokenUsed);
        }
        if facts.now >= issued.expires_at {
            return Judged::Refuse(Rule::TokenExpired);
        }
        // A token answers for the one address it was mailed to: a mailbox that also received
        // another approver's request cannot answer it under that approver's name.
        if approver_identity(EMAIL_CHANNEL, &issued.recipient) != approver_identity(&request.channel, &request.approver)
        {
            return Judged::Refuse(Rule::TokenNotForSender { bound_to: issued.recipient.clone() });
        }
        if issued.plan_hash != request.plan_hash {
            return Judged::Refuse(Rule::PlanChanged { current: workflow.plan_hash.clone() });
        }
    }
    if request.decision == Decision::Denied {
        if request.reason.trim().is_empty() {
            return Judged::Refuse(Rule::ReasonRequired);
        }
        return Judged::Decide;
    }
    let approver = approver_identity(&request.channel, &request.approver);
    if rules.forbid_self_approval && requesters(facts).contains(&approver) {
        return Judged::Refuse(Rule::SelfApproval);
    }
    let earlier: HashSet<String> = facts
        .prior
        .iter()
        .filter(|prior| prior.decision == Decision::Approved && prior.plan_hash == request.plan_hash)
        .map(|prior| approver_identity(&prior.channel, &prior.approver))
        .collect();
    if earlier.contains(&approver) {
        return Judged::Refuse(Rule::AlreadyApproved);
    }
    let approvals = earlier.len() + 1;
    if approvals >= usize::try_from(rules.required_approvals.max(1)).unwrap_or(usize::MAX) {
        Judged::Decide
    } else {
        Judged::Record { approvals }
    }
}

/// The identities of a workflow's requesters ([`identity::requester_identity`]): those
/// recorded in the store and the author of a human-written plan.
fn requesters(facts: &ApprovalFacts) -> Vec<String> {
    let mut all: Vec<String> = facts.requesters.iter().map(|r| requester_identity(r)).collect();
    if let Some(PlanSource::Human { by }) = facts.workflow.plan.as_ref().map(|plan| &plan.source) {
        all.push(requester_identity(by));
    }
    all
}

fn action_for(facts: &ApprovalFacts, request: &DecisionRequest, judged: &Judged) -> ApprovalAction {
    let approval = || NewApproval {
        workflow_id: request.workflow_id.to_string(),
        plan_hash: request.plan_hash.to_string(),
        approver: request.approver.clone(),
        decision: request.decision,
        channel: request.channel.clone(),
        reason: request.reason.clone(),
        token_hash: request.token_hash.clone(),
        expires_at: facts.request.as_ref().map(|issued| issued.expires_at),
    };
    match judged {
        Judged::Decide => ApprovalAction::Decide(approval()),
        Judged::Record { .. } => ApprovalAction::Record(approval()),
        Judged::Refuse(rule) => ApprovalAction::Refuse(rejection_audit(
            Some((&facts.workflow.id, &facts.workflow.database, &facts.workflow.environment)),
            &request.channel,
            &request.approver,
            rule,
            serde_json::json!({
                "decision": request.decision.as_str(),
                "plan_hash": request.plan_hash,
                "raw_alert_id": request.raw_alert_id,
            }),
        )),
    }
}

/// The audit row of a refused decision or rejected reply: the rule's code as the result, the
/// rule in words and in data in the detail.
pub(crate) fn rejection_audit(
    workflow: Option<(&str, &str, &str)>,
    channel: &str,
    who: &str,
    rule: &Rule,
    mut detail: serde_json::Value,
) -> NewAudit {
    if let Some(object) = detail.as_object_mut() {
        object.insert("why".to_owned(), serde_json::Value::String(rule.to_string()));
        object.insert("rule".to_owned(), serde_json::to_value(rule).unwrap_or_default());
    }
    NewAudit {
        workflow_id: workflow.map(|(id, _, _)| id.to_owned()),
        database: workflow.map(|(_, database, _)| database.to_owned()),
        environment: workflow.map(|(_, _, environment)| environment.to_owned()),
        actor: format!("{channel}:{who}"),
        action: if channel == EMAIL_CHANNEL { APPROVAL_REPLY_REJECTED } else { APPROVAL_REFUSED }.to_owned(),
        result: rule.code().to_owned(),
        detail,
    }
}

#[cfg(test)]
mod tests;

/// The plan hash enough distinct people approved, if any: approvals bound to the workflow's
/// current plan, decision APPROVED, counted once per identity ([`approver_identity`]), the
/// same count [`decide`] applies. What the engine hands the Safety Mesh as approved.
pub fn approved_plan_hash(
    workflow: &crate::store::workflows::WorkflowRow,
    approvals: &[crate::store::approvals::ApprovalRow],
    required: u32,
) -> Option<PlanHash> {
    let hash = workflow.plan_hash.clone()?;
    let approvers: HashSet<String> = approvals
        .iter()
        .filter(|approval| approval.plan_hash == hash && approval.decision == Decision::Approved)
        .map(|approval| approver_identity(&approval.channel, &approval.approver))
        .collect();
    (approvers.len() >= usize::try_from(required.max(1)).unwrap_or(usize::MAX)).then_some(hash)
}
