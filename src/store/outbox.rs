//! The outbox: outgoing notifications written next to the change they report, then delivered
//! and retried until they go out.
//!
//! A notifier claims due messages ([`Store::claim_due_outbox`]); a claim is a lease, so a
//! notifier that dies mid-send does not lose the message — it becomes due again when the lease
//! runs out. Failures back off exponentially; after [`MAX_ATTEMPTS`] the message is given up
//! (kept, with its last error, for `sentri` to show). Every delivery, failure and give-up writes
//! an audit row in the same transaction as the outbox change, so the trail shows what went out.

use jiff::{SignedDuration, Timestamp};
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::audit::{AuditKey, NewAudit, actions, append_audit};
use super::{SqlContext, Store, StoreError, later, sql_limit, stored_timestamp, timestamp_text};

/// Deliveries tried before a message is given up.
pub const MAX_ATTEMPTS: i64 = 8;
/// Wait after the first failure; doubled after each further one.
pub const FIRST_BACKOFF: SignedDuration = SignedDuration::from_secs(30);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: SignedDuration = SignedDuration::from_secs(3600);

/// How long to wait after the `attempts`-th failure: 30 s, 1 min, 2 min, … capped at 1 h.
pub fn backoff(attempts: i64) -> SignedDuration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let secs = FIRST_BACKOFF.as_secs().saturating_mul(1_i64 << doublings);
    SignedDuration::from_secs(secs).min(MAX_BACKOFF)
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOutboxMessage {
    /// The channel: `email`, `slack`, `webhook`, `pagerduty`.
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    /// Text or JSON, as the channel needs.
    pub body: String,
    /// The workflow it reports on, if any.
    pub workflow_id: Option<String>,
}

/// One stored message and its delivery state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OutboxMessage {
    pub id: i64,
    pub kind: String,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub workflow_id: Option<String>,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub created_at: Timestamp,
    /// Failed deliveries so far.
    pub attempts: i64,
    /// When it is next due; `None` once sent or given up.
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub next_attempt_at: Option<Timestamp>,
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub sent_at: Option<Timestamp>,
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub gave_up_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

const COLUMNS: &str = "id, kind, recipient, subject, body, workflow_id, created_at, attempts, \
                       next_attempt_at, sent_at, gave_up_at, last_error";

type RawRow = (
    (i64, String, String, String, String, Option<String>, String, i64),
    (Option<String>, Option<String>, Option<String>, Option<String>),
);

fn raw_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<RawRow> {
    Ok((
        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?),
        (row.get(8)?, row.get(9)?, row.get(10)?, row.get(11)?),
    ))
}

fn parse(raw: RawRow) -> Result<OutboxMessage, StoreError> {
    let ((id, kind, recipient, subject, body, workflow_id, created_at, attempts), rest) = raw;
    let (next_attempt_at, sent_at, gave_up_at, last_error) = rest;
    let time =
        |column, text: Option<String>| text.map(|text| stored_timestamp("outbox", column, &id, &text)).transpose();
    Ok(OutboxMessage {
        created_at: stored_timestamp("outbox", "created_at", &id, &created_at)?,
        next_attempt_at: time("next_attempt_at", next_attempt_at)?,
        sent_at: time("sent_at", sent_at)?,
        gave_up_at: time("gave_up_at", gave_up_at)?,
        id,
        kind,
        recipient,
        subject,
        body,
        workflow_id,
        attempts,
        last_error,
    })
}

impl OutboxMessage {
    /// Where the message stands: `sent`, `gave up`, `retrying` (failed at least once, due again)
    /// or `queued`.
    pub fn state(&self) -> &'static str {
        if self.sent_at.is_some() {
            "sent"
        } else if self.gave_up_at.is_some() {
            "gave up"
        } else if self.attempts > 0 {
            "retrying"
        } else {
            "queued"
        }
    }
}

/// The audit row for a delivery outcome, with the workflow's database and environment when the
/// message reports on a workflow.
fn delivery_audit(
    tx: &rusqlite::Transaction<'_>,
    key: &AuditKey,
    now: Timestamp,
    message: &OutboxMessage,
    action: &str,
) -> Result<(), StoreError> {
    let place: Option<(String, String)> = match &message.workflow_id {
        Some(workflow_id) => tx
            .query_row("SELECT database, environment FROM workflows WHERE id = ?1", [workflow_id], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
            .ctx("reading the workflow an outbox message reports on")?,
        None => None,
    };
    let (database, environment) = place.unzip();
    let detail = serde_json::json!({
        "outbox_id": message.id,
        "kind": message.kind,
        "recipient": message.recipient,
        "subject": message.subject,
        "attempts": message.attempts,
        "error": message.last_error,
    });
    append_audit(
        tx,
        key,
        now,
        NewAudit {
            workflow_id: message.workflow_id.clone(),
            database,
            environment,
            actor: "notifier".to_owned(),
            action: action.to_owned(),
            result: message.kind.to_uppercase(),
            detail,
        },
    )?;
    Ok(())
}

pub(crate) fn insert_in(
    tx: &rusqlite::Transaction<'_>,
    now: Timestamp,
    new: &NewOutboxMessage,
) -> Result<OutboxMessage, StoreError> {
    let at = timestamp_text(now);
    tx.execute(
        "INSERT INTO outbox (kind, recipient, subject, body, workflow_id, created_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        (&new.kind, &new.recipient, &new.subject, &new.body, &new.workflow_id, &at),
    )
    .ctx("queueing an outbox message")?;
    get_in(tx, tx.last_insert_rowid())
}

fn get_in(conn: &rusqlite::Connection, id: i64) -> Result<OutboxMessage, StoreError> {
    let raw = conn
        .query_row(&format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"), [id], raw_row)
        .optional()
        .ctx("reading an outbox message")?
        .ok_or_else(|| StoreError::NotFound { what: "outbox message", key: id.to_string() })?;
    parse(raw)
}

impl Store {
    /// Queues a message, due now. Call it in the same step as the change it reports.
    pub fn enqueue_outbox(&self, new: &NewOutboxMessage) -> Result<OutboxMessage, StoreError> {
        self.write(|tx, now| insert_in(tx, now, new))
    }

    /// Every message about one workflow, oldest first, whatever its state: what `sentri show`
    /// lists.
    pub fn outbox_for_workflow(&self, workflow_id: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!("SELECT {COLUMNS} FROM outbox WHERE workflow_id = ?1 ORDER BY id"))
                .ctx("listing a workflow's outbox messages")?;
            let raw = statement
                .query_map([workflow_id], raw_row)
                .ctx("listing a workflow's outbox messages")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing a workflow's outbox messages")?;
            raw.into_iter().map(parse).collect()
        })
    }

    /// One message by id.
    pub fn get_outbox(&self, id: i64) -> Result<OutboxMessage, StoreError> {
        self.read(|conn| get_in(conn, id))
    }

    /// Takes up to `limit` due messages, oldest due first, and leases them for `lease`: nobody
    /// else claims them until then. Report each with [`Store::mark_outbox_sent`] or
    /// [`Store::mark_outbox_failed`]; one not reported becomes due again when the lease ends.
    pub fn claim_due_outbox(&self, limit: usize, lease: SignedDuration) -> Result<Vec<OutboxMessage>, StoreError> {
        self.write(|tx, now| {
            let mut statement = tx
                .prepare(&format!(
                    "UPDATE outbox SET next_attempt_at = ?2
                     WHERE id IN (SELECT id FROM outbox
                                  WHERE next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
                                  ORDER BY next_attempt_at, id LIMIT ?3)
                     RETURNING {COLUMNS}"
                ))
                .ctx("claiming outbox messages")?;
            let raw = statement
                .query_map((timestamp_text(now), timestamp_text(later(now, lease)), sql_limit(Some(limit))), raw_row)
                .ctx("claiming outbox messages")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("claiming outbox messages")?;
            let mut claimed = raw.into_iter().map(parse).collect::<Result<Vec<_>, _>>()?;
            claimed.sort_by_key(|message| message.id);
            Ok(claimed)
        })
    }

    /// The message went out: it is never due again.
    pub fn mark_outbox_sent(&self, id: i64) -> Result<OutboxMessage, StoreError> {
        self.write(|tx, now| {
            let changed = tx
                .execute(
                    "UPDATE outbox SET sent_at = ?2, next_attempt_at = NULL, last_error = NULL
                     WHERE id = ?1",
                    (id, timestamp_text(now)),
                )
                .ctx("marking an outbox message sent")?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "outbox message", key: id.to_string() });
            }
            let sent = get_in(tx, id)?;
            delivery_audit(tx, &self.audit_key, now, &sent, actions::NOTIFICATION_SENT)?;
            Ok(sent)
        })
    }

    /// Delivery failed with `error`: counts the attempt and schedules the next one after
    /// [`backoff`], or gives the message up after [`MAX_ATTEMPTS`].
    pub fn mark_outbox_failed(&self, id: i64, error: &str) -> Result<OutboxMessage, StoreError> {
        self.write(|tx, now| {
            let current = get_in(tx, id)?;
            let attempts = current.attempts + 1;
            let (next, gave_up) = if attempts >= MAX_ATTEMPTS {
                (None, Some(timestamp_text(now)))
            } else {
                (Some(timestamp_text(later(now, backoff(attempts)))), None)
            };
            tx.execute(
                "UPDATE outbox SET attempts = ?2, next_attempt_at = ?3, gave_up_at = ?4,
                                   last_error = ?5
                 WHERE id = ?1",
                (id, attempts, next, gave_up, error),
            )
            .ctx("marking an outbox message failed")?;
            let failed = get_in(tx, id)?;
            let action =
                if failed.gave_up_at.is_some() { actions::NOTIFICATION_GAVE_UP } else { actions::NOTIFICATION_FAILED };
            delivery_audit(tx, &self.audit_key, now, &failed, action)?;
            Ok(failed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    fn message(n: u32) -> NewOutboxMessage {
        NewOutboxMessage {
            kind: "email".into(),
            recipient: "dba@example.com".into(),
            subject: format!("Approval needed {n}"),
            body: "…".into(),
            workflow_id: None,
        }
    }

    const LEASE: SignedDuration = SignedDuration::from_secs(300);

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), SignedDuration::from_secs(30));
        assert_eq!(backoff(2), SignedDuration::from_secs(60));
        assert_eq!(backoff(4), SignedDuration::from_secs(240));
        assert_eq!(backoff(20), MAX_BACKOFF);
        assert_eq!(backoff(i64::MAX), MAX_BACKOFF);
    }

    #[test]
    fn claim_leases_and_sent_messages_are_done() {
        let (store, clock) = testing::store();
        let a = store.enqueue_outbox(&message(1)).unwrap();
        let b = store.enqueue_outbox(&message(2)).unwrap();
        let claimed = store.claim_due_outbox(10, LEASE).unwrap();
        assert_eq!(claimed.iter().map(|m| m.id).collect::<Vec<_>>(), [a.id, b.id]);
        assert!(store.claim_due_outbox(10, LEASE).unwrap().is_empty(), "leased");
        store.mark_outbox_sent(a.id).unwrap();
        // b's notifier died: b is due again once the lease is over, a never again.
        clock.advance_ms(300_000);
        let again = store.claim_due_outbox(10, LEASE).unwrap();
        assert_eq!(again.iter().map(|m| m.id).collect::<Vec<_>>(), [b.id]);
    }

    #[test]
    fn claim_respects_the_limit() {
        let (store, _) = testing::store();
        for n in 0..5 {
            store.enqueue_outbox(&message(n)).unwrap();
        }
        assert_eq!(store.claim_due_outbox(2, LEASE).unwrap().len(), 2);
        assert_eq!(store.claim_due_outbox(10, LEASE).unwrap().len(), 3);
    }

    #[test]
    fn failures_back_off_then_give_up() {
        let (store, clock) = testing::store();
        let m = store.enqueue_outbox(&message(1)).unwrap();
        store.claim_due_outbox(1, LEASE).unwrap();
        let failed = store.mark_outbox_failed(m.id, "connection refused").unwrap();
        assert_eq!(failed.attempts, 1);
        assert_eq!(failed.next_attempt_at, Some(later(clock.now(), backoff(1))));
        assert_eq!(failed.last_error.as_deref(), Some("connection refused"));
        clock.advance_ms(29_000);
        assert!(store.claim_due_outbox(1, LEASE).unwrap().is_empty());
        clock.advance_ms(1_000);
        assert_eq!(store.claim_due_outbox(1, LEASE).unwrap().len(), 1);
        let mut last = failed;
        for _ in 1..MAX_ATTEMPTS {
            last = store.mark_outbox_failed(m.id, "still refused").unwrap();
        }
        assert_eq!(last.attempts, MAX_ATTEMPTS);
        assert_eq!(last.next_attempt_at, None);
        assert_eq!(last.gave_up_at, Some(clock.now()));
        clock.advance_ms(10_000_000);
        assert!(store.claim_due_outbox(1, LEASE).unwrap().is_empty());
        assert!(matches!(store.mark_outbox_sent(999), Err(StoreError::NotFound { .. })));
        let audited: Vec<String> = store
            .list_audit(&crate::store::AuditFilter::default())
            .unwrap()
            .into_iter()
            .map(|row| row.action)
            .collect();
        assert_eq!(audited.iter().filter(|a| *a == actions::NOTIFICATION_FAILED).count(), 7);
        assert_eq!(audited.iter().filter(|a| *a == actions::NOTIFICATION_GAVE_UP).count(), 1);
        assert_eq!(last.state(), "gave up");
    }

    #[test]
    fn delivery_outcomes_are_audited_with_the_workflow_they_report_on() {
        use crate::store::workflows::tests::new_workflow;
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let queued =
            store.enqueue_outbox(&NewOutboxMessage { workflow_id: Some(row.id.to_string()), ..message(1) }).unwrap();
        assert_eq!(queued.state(), "queued");
        assert_eq!(store.outbox_for_workflow(&row.id).unwrap(), std::slice::from_ref(&queued));
        let sent = store.mark_outbox_sent(queued.id).unwrap();
        assert_eq!(sent.state(), "sent");
        assert_eq!(store.get_outbox(queued.id).unwrap(), sent);
        let audit = store
            .list_audit(&crate::store::AuditFilter { workflow_id: Some(row.id.to_string()), ..Default::default() })
            .unwrap();
        let last = audit.last().unwrap();
        assert_eq!(last.action, actions::NOTIFICATION_SENT);
        assert_eq!(last.database.as_deref(), Some("PRODDB"));
        assert_eq!(last.detail["outbox_id"], sent.id);
        assert!(store.verify_audit().unwrap().is_intact());
    }
}
