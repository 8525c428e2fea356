//! Email approval requests, who asked for a change, and the one transaction in which a human
//! decision is judged and applied.
//!
//! A request is one email to one approver address carrying a one-time token bound to that
//! address; the store keeps the token's sha256, the plan hash the request asks about and when it
//! expires — never the token. The request and its email are queued in one transaction
//! ([`Store::queue_approval_request`]) without a token; the notifier mints the token as it sends
//! the email and records its hash ([`Store::arm_approval_request`]). A token counts once: the
//! decision that uses it marks it used in the same transaction.
//!
//! [`Store::apply_approval`] reads every fact a decision depends on (the workflow, earlier
//! decisions, the request a token belongs to, the requesters) and applies what the caller's
//! rule function says, all inside one write transaction: two approvers answering at the same
//! moment cannot both be counted as "the first of two", and a token cannot be used twice. The
//! rules themselves live in `pipeline::approval`; this file only reads and writes.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::approvals::{ApprovalRow, Decision, NewApproval};
use super::audit::{AuditRow, NewAudit, append_audit};
use super::outbox::{NewOutboxMessage, OutboxMessage};
use super::workflows::{WorkflowRow, transition_in};
use super::{SqlContext, Store, StoreError, stored_timestamp, timestamp_text};
use crate::domain::WorkflowState;

/// The audit action of an issued approval request.
pub const APPROVAL_REQUESTED: &str = "APPROVAL_REQUESTED";
/// The audit action recording who asked for a workflow's change.
pub const REQUESTER_RECORDED: &str = "REQUESTER_RECORDED";

/// A request to record, once its email is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApprovalRequest {
    pub workflow_id: String,
    /// The plan the request shows; a decision on another plan is refused.
    pub plan_hash: String,
    /// The one approver address the token answers for.
    pub recipient: String,
    /// Hex sha256 of the token (see `domain::token`); `None` until the email is sent.
    pub token_hash: Option<String>,
    /// The outbox message that carries the request, so its text can be told apart from a reply.
    pub outbox_id: Option<i64>,
    pub expires_at: Timestamp,
}

/// One issued request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRequestRow {
    pub id: i64,
    pub workflow_id: String,
    pub plan_hash: String,
    pub recipient: String,
    /// `None` until its email was sent (the token is minted then).
    pub token_hash: Option<String>,
    pub outbox_id: Option<i64>,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub issued_at: Timestamp,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub expires_at: Timestamp,
    /// When a decision used its token; a used token never counts again.
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub used_at: Option<Timestamp>,
}

/// A decision already recorded on the workflow, as the rules need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriorDecision {
    pub approver: String,
    /// How it arrived (`cli`, `console`, `email`): part of the approver's identity.
    pub channel: String,
    pub decision: Decision,
    pub plan_hash: String,
}

/// Everything a decision is judged on, read inside the deciding transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalFacts {
    pub workflow: WorkflowRow,
    /// Earlier decisions on this workflow (any plan hash), oldest first.
    pub prior: Vec<PriorDecision>,
    /// The request whose token the decision carries, if it carries one that was issued.
    pub request: Option<ApprovalRequestRow>,
    /// Who asked for this workflow's change (see `pipeline::approval` for the definition).
    pub requesters: Vec<String>,
    /// Since when the workflow has waited for approval (its newest transition into
    /// AWAITING_APPROVAL): the approval timeout counts from here.
    pub awaiting_since: Timestamp,
    /// The time of the deciding transaction.
    pub now: Timestamp,
}

/// What the rules decided to do with a decision.
#[derive(Debug, Clone, PartialEq)]
pub enum ApprovalAction {
    /// Refuse it and append this audit row (nothing else is written).
    Refuse(NewAudit),
    /// Record it without changing the workflow's state (not enough approvers yet).
    Record(NewApproval),
    /// Record it and move the workflow AWAITING_APPROVAL → APPROVED or DENIED.
    Decide(NewApproval),
}

/// What [`Store::apply_approval`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Refused(AuditRow),
    Recorded(ApprovalRow),
    Decided(ApprovalRow, Box<WorkflowRow>),
}

const COLUMNS: &str = "id, workflow_id, plan_hash, recipient, token_hash, outbox_id, issued_at, expires_at, used_at";

type RawRow = (i64, String, String, String, Option<String>, Option<i64>, String, String, Option<String>);

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    ))
}

fn parse(
    (id, workflow_id, plan_hash, recipient, token_hash, outbox_id, issued, expires, used): RawRow,
) -> Result<ApprovalRequestRow, StoreError> {
    Ok(ApprovalRequestRow {
        issued_at: stored_timestamp("approval_requests", "issued_at", &id, &issued)?,
        expires_at: stored_timestamp("approval_requests", "expires_at", &id, &expires)?,
        used_at: used.map(|text| stored_timestamp("approval_requests", "used_at", &id, &text)).transpose()?,
        id,
        workflow_id,
        plan_hash,
        recipient,
        token_hash,
        outbox_id,
    })
}

fn by_token_in(conn: &Connection, token_hash: &str) -> Result<Option<ApprovalRequestRow>, StoreError> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM approval_requests WHERE token_hash = ?1"), [token_hash], raw_row)
        .optional()
        .ctx("looking up an approval token")?
        .map(parse)
        .transpose()
}

fn requesters_in(conn: &Connection, workflow_id: &str) -> Result<Vec<String>, StoreError> {
    let mut statement = conn
        .prepare("SELECT requester FROM workflow_requesters WHERE workflow_id = ?1 ORDER BY id")
        .ctx("listing a workflow's requesters")?;
    statement
        .query_map([workflow_id], |row| row.get(0))
        .ctx("listing a workflow's requesters")?
        .collect::<Result<Vec<String>, _>>()
        .ctx("listing a workflow's requesters")
}

fn prior_in(conn: &Connection, workflow_id: &str) -> Result<Vec<PriorDecision>, StoreError> {
    let mut statement = conn
        .prepare("SELECT id, approver, decision, plan_hash, channel FROM approvals WHERE workflow_id = ?1 ORDER BY id")
        .ctx("listing earlier decisions")?;
    let raw = statement
        .query_map([workflow_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, String>(3)?,
                row.get::<_, String>(4)?,
            ))
        })
        .ctx("listing earlier decisions")?
        .collect::<Result<Vec<_>, _>>()
        .ctx("listing earlier decisions")?;
    raw.into_iter()
        .map(|(id, approver, decision, plan_hash, channel)| {
            let decision = super::approvals::stored_decision(id, decision)?;
            Ok(PriorDecision { approver, channel, decision, plan_hash })
        })
        .collect()
}

fn insert_request_in(
    tx: &rusqlite::Transaction<'_>,
    key: &super::audit::AuditKey,
    now: Timestamp,
    new: &NewApprovalRequest,
) -> Result<ApprovalRequestRow, StoreError> {
    let workflow = super::workflows::get_in(tx, &new.workflow_id)?;
    tx.execute(
        "INSERT INTO approval_requests (workflow_id, plan_hash, recipient, token_hash, outbox_id,
                                        issued_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        rusqlite::params![
            new.workflow_id,
            new.plan_hash,
            new.recipient,
            new.token_hash,
            new.outbox_id,
            timestamp_text(now),
            timestamp_text(new.expires_at)
        ],
    )
    .ctx("recording an approval request")?;
    let id = tx.last_insert_rowid();
    append_audit(
        tx,
        key,
        now,
        super::workflows::audit_for(
            &workflow,
            "engine",
            APPROVAL_REQUESTED,
            "SENT_TO_OUTBOX",
            serde_json::json!({
                "request_id": id,
                "recipient": new.recipient,
                "plan_hash": new.plan_hash,
                "outbox_id": new.outbox_id,
                "expires_at": timestamp_text(new.expires_at),
            }),
        ),
    )?;
    tx.query_row(&format!("SELECT {COLUMNS} FROM approval_requests WHERE id = ?1"), [id], raw_row)
        .ctx("reading an approval request")
        .and_then(parse)
}

impl Store {
    /// Records an issued request (its email already queued), audited as APPROVAL_REQUESTED
    /// with the recipient and plan hash — never the token.
    pub fn issue_approval_request(&self, new: &NewApprovalRequest) -> Result<ApprovalRequestRow, StoreError> {
        self.write(|tx, now| insert_request_in(tx, &self.audit_key, now, new))
    }

    /// Queues an approval request's email and records the request, in one transaction: there is
    /// never a queued request email without its request (the notifier refuses to send one).
    pub fn queue_approval_request(
        &self,
        message: &NewOutboxMessage,
        new: &NewApprovalRequest,
    ) -> Result<(OutboxMessage, ApprovalRequestRow), StoreError> {
        self.write(|tx, now| {
            let queued = super::outbox::insert_in(tx, now, message)?;
            let request = insert_request_in(
                tx,
                &self.audit_key,
                now,
                &NewApprovalRequest { outbox_id: Some(queued.id), ..new.clone() },
            )?;
            Ok((queued, request))
        })
    }

    /// Binds a freshly minted token (its hash) to the unanswered request outbox message
    /// `outbox_id` carries, just before that message is sent; a token minted for an earlier
    /// attempt at sending it is replaced (it never arrived, or it arrived and now matches
    /// nothing). [`StoreError::NotFound`] when the message carries no request or it was already
    /// answered: then nothing may be sent.
    pub fn arm_approval_request(&self, outbox_id: i64, token_hash: &str) -> Result<ApprovalRequestRow, StoreError> {
        self.write(|tx, _| {
            tx.query_row(
                &format!(
                    "UPDATE approval_requests SET token_hash = ?2 WHERE outbox_id = ?1 AND used_at IS NULL
                     RETURNING {COLUMNS}"
                ),
                (outbox_id, token_hash),
                raw_row,
            )
            .optional()
            .ctx("binding a token to an approval request")?
            .map(parse)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: "unanswered approval request for outbox message",
                key: outbox_id.to_string(),
            })
        })
    }

    /// Every request issued for a workflow, oldest first.
    pub fn approval_requests(&self, workflow_id: &str) -> Result<Vec<ApprovalRequestRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!("SELECT {COLUMNS} FROM approval_requests WHERE workflow_id = ?1 ORDER BY id"))
                .ctx("listing approval requests")?;
            let raw = statement
                .query_map([workflow_id], raw_row)
                .ctx("listing approval requests")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing approval requests")?;
            raw.into_iter().map(parse).collect()
        })
    }

    /// The request a token hash belongs to, whichever workflow that is.
    pub fn approval_request_by_token(&self, token_hash: &str) -> Result<Option<ApprovalRequestRow>, StoreError> {
        self.read(|conn| by_token_in(conn, token_hash))
    }

    /// The text part of the email that carried `request` (from the outbox) as its recipient
    /// read it, with `token` where the notifier put the token, so a reply's copy of the request
    /// can be told apart from the replier's own words.
    pub fn approval_request_text(
        &self,
        request: &ApprovalRequestRow,
        token: &str,
    ) -> Result<Option<String>, StoreError> {
        let Some(outbox_id) = request.outbox_id else { return Ok(None) };
        let body: Option<String> = self.read(|conn| {
            conn.query_row("SELECT body FROM outbox WHERE id = ?1", [outbox_id], |row| row.get(0))
                .optional()
                .ctx("reading an approval request's text")
        })?;
        let Some(body) = body.and_then(|body| serde_json::from_str::<serde_json::Value>(&body).ok()) else {
            return Ok(None);
        };
        let text = body.get("text").and_then(|text| text.as_str()).map(str::to_owned);
        Ok(match body.get("token_slot").and_then(|slot| slot.as_str()) {
            Some(slot) => text.map(|text| text.replace(slot, token)),
            None => text,
        })
    }

    /// Records that `requester` asked for this workflow's change (`how`: `replay`, `plan_edit`…),
    /// audited as REQUESTER_RECORDED.
    pub fn record_requester(&self, workflow_id: &str, requester: &str, how: &str) -> Result<(), StoreError> {
        self.write(|tx, now| {
            let workflow = super::workflows::get_in(tx, workflow_id)?;
            tx.execute(
                "INSERT INTO workflow_requesters (workflow_id, requester, how, at) VALUES (?1, ?2, ?3, ?4)",
                (workflow_id, requester, how, timestamp_text(now)),
            )
            .ctx("recording a requester")?;
            append_audit(
                tx,
                &self.audit_key,
                now,
                super::workflows::audit_for(
                    &workflow,
                    requester,
                    REQUESTER_RECORDED,
                    how,
                    serde_json::json!({ "requester": requester, "how": how }),
                ),
            )?;
            Ok(())
        })
    }

    /// Who asked for this workflow's change, oldest first.
    pub fn requesters(&self, workflow_id: &str) -> Result<Vec<String>, StoreError> {
        self.read(|conn| requesters_in(conn, workflow_id))
    }

    /// Judges and applies one human decision in a single write transaction: reads the facts
    /// (the workflow, earlier decisions, the request `token_hash` belongs to, the requesters),
    /// asks `judge`, and writes what it says — a refusal's audit row, or the decision (and,
    /// for [`ApprovalAction::Decide`], the state change) with the token marked used.
    /// `judge` returns the action and anything else the caller wants back from its judgement
    /// (e.g. the rule that refused), handed back beside what was written.
    pub fn apply_approval<J>(
        &self,
        workflow_id: &str,
        token_hash: Option<&str>,
        judge: impl FnOnce(&ApprovalFacts) -> (ApprovalAction, J),
    ) -> Result<(Applied, J), StoreError> {
        self.write(|tx, now| {
            let workflow = super::workflows::get_in(tx, workflow_id)?;
            let awaiting_since = super::workflows::entered_at_in(tx, workflow_id, WorkflowState::AwaitingApproval)?
                .unwrap_or(workflow.updated_at);
            let facts = ApprovalFacts {
                workflow,
                awaiting_since,
                prior: prior_in(tx, workflow_id)?,
                request: token_hash.map(|hash| by_token_in(tx, hash)).transpose()?.flatten(),
                requesters: requesters_in(tx, workflow_id)?,
                now,
            };
            let (action, judged) = judge(&facts);
            let (approval, decides) = match action {
                ApprovalAction::Refuse(audit) => {
                    return Ok((Applied::Refused(append_audit(tx, &self.audit_key, now, audit)?), judged));
                }
                ApprovalAction::Record(approval) => (approval, false),
                ApprovalAction::Decide(approval) => (approval, true),
            };
            if let Some(request) = &facts.request {
                // The judge saw it unused in this very transaction; the guard is belt and braces.
                let used = tx
                    .execute(
                        "UPDATE approval_requests SET used_at = ?2 WHERE id = ?1 AND used_at IS NULL",
                        (request.id, timestamp_text(now)),
                    )
                    .ctx("marking an approval token used")?;
                if used != 1 {
                    return Err(StoreError::Corrupt {
                        table: "approval_requests",
                        column: "used_at",
                        row: request.id.to_string(),
                        value: "used while being judged".to_owned(),
                    });
                }
            }
            let (row, workflow) = super::approvals::insert_in(tx, &self.audit_key, now, &approval)?;
            if !decides {
                return Ok((Applied::Recorded(row), judged));
            }
            let actor = format!("{}:{}", approval.channel, approval.approver);
            let detail = serde_json::json!({ "approval_id": row.id, "plan_hash": approval.plan_hash });
            let workflow = transition_in(
                tx,
                &self.audit_key,
                now,
                &workflow,
                WorkflowState::AwaitingApproval,
                approval.decision.next_state(),
                &actor,
                &approval.reason,
                detail,
            )?;
            Ok((Applied::Decided(row, Box::new(workflow)), judged))
        })
    }
}
