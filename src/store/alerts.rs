//! Raw alerts: every message a source saw, stored before anything else happens to it.
//!
//! A message is stored once (deduplicated by [`RawAlert::id`]), then marked with what became of
//! it — a new workflow, folded into an existing one, unmatched, or ignored. Messages with no
//! outcome yet are the ones a crash interrupted; [`Store::pending_raw_alerts`] finds them on
//! restart, so nothing a monitor sent is lost.
//!
//! What is kept is bounded: a message larger than `email.max_message_bytes` is stored as its
//! first bytes and marked with its original size (`original_size`), and the body of a handled
//! alert older than `monitoring.raw_mail_retention_days` is dropped by [`Store::prune_raw_mail`]
//! (the row, its headers and the body's SHA-256 stay, so what arrived remains on record).

use jiff::Timestamp;
use rusqlite::OptionalExtension;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::audit::{NewAudit, append_audit};
use super::{
    SqlContext, Store, StoreError, json_column, parse_timestamp, sql_limit, stored_timestamp, timestamp_text, to_json,
};
use crate::domain::RawAlert;

/// What became of a raw alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum RawAlertOutcome {
    /// It started this workflow (written by [`Store::create_workflow`]).
    Workflow { workflow_id: String, alert_type: String, database: String },
    /// It repeated an alert an open workflow already handles; that workflow's occurrences grew.
    Folded { workflow_id: String, alert_type: String, database: String },
    /// No policy recognised it.
    Unmatched,
    /// Recognised as not an alert (e.g. an approval reply, handled elsewhere).
    Ignored,
    /// A reply to an approval request, handled by `pipeline::approval` (accepted or rejected:
    /// the audit trail says which and why). `workflow_id` is the workflow it answered, when
    /// the reply named one that exists.
    ApprovalReply { workflow_id: Option<String> },
    /// It reported several objects: each became its own raw alert, triaged on its own
    /// ([`Store::split_raw_alert`]); the reason names them.
    Split,
}

impl RawAlertOutcome {
    fn kind(&self) -> &'static str {
        match self {
            RawAlertOutcome::Workflow { .. } => "workflow",
            RawAlertOutcome::Folded { .. } => "folded",
            RawAlertOutcome::Unmatched => "unmatched",
            RawAlertOutcome::Ignored => "ignored",
            RawAlertOutcome::ApprovalReply { .. } => "approval_reply",
            RawAlertOutcome::Split => "split",
        }
    }

    fn match_columns(&self) -> (Option<&str>, Option<&str>, Option<&str>) {
        match self {
            RawAlertOutcome::Workflow { workflow_id, alert_type, database }
            | RawAlertOutcome::Folded { workflow_id, alert_type, database } => {
                (Some(workflow_id), Some(alert_type), Some(database))
            }
            RawAlertOutcome::ApprovalReply { workflow_id } => (workflow_id.as_deref(), None, None),
            RawAlertOutcome::Unmatched | RawAlertOutcome::Ignored | RawAlertOutcome::Split => (None, None, None),
        }
    }
}

/// One stored raw alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RawAlertRow {
    /// The store's own id (what workflows point at).
    pub id: i64,
    /// [`RawAlert::id`]: Message-ID or content hash.
    pub message_id: String,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub received_at: Timestamp,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub stored_at: Timestamp,
    pub sender: String,
    pub subject: String,
    pub body: String,
    pub headers: Vec<(String, String)>,
    pub parse_error: Option<String>,
    /// `None` until the alert has been handled.
    pub outcome: Option<RawAlertOutcome>,
    /// Why it was ignored, when it was (e.g. a sender not on `email.alert_senders`).
    pub outcome_reason: Option<String>,
    /// The message's size in bytes on the server when what is stored is only its first
    /// `email.max_message_bytes` bytes; `None` when the whole message is stored.
    pub original_size: Option<u64>,
    /// When retention dropped the body (`body` is then empty).
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub body_pruned_at: Option<Timestamp>,
    /// Hex SHA-256 of the body retention dropped, so the text can still be matched to a copy.
    pub body_sha256: Option<String>,
}

impl RawAlertRow {
    /// The alert as its source produced it, e.g. to run the matcher on it again.
    pub fn to_raw_alert(&self) -> RawAlert {
        RawAlert {
            id: self.message_id.clone(),
            received_at: timestamp_text(self.received_at),
            from: self.sender.clone(),
            subject: self.subject.clone(),
            body: self.body.clone(),
            headers: self.headers.clone(),
            parse_error: self.parse_error.clone(),
        }
    }
}

const COLUMNS: &str = "id, message_id, received_at, stored_at, sender, subject, body, headers, \
                       parse_error, outcome, workflow_id, alert_type, database, outcome_reason, \
                       original_size, body_pruned_at, body_sha256";

/// Column texts of one row, before they are checked and parsed.
struct RawColumns {
    id: i64,
    message_id: String,
    received_at: String,
    stored_at: String,
    sender: String,
    subject: String,
    body: String,
    headers: String,
    parse_error: Option<String>,
    outcome: Option<String>,
    workflow_id: Option<String>,
    alert_type: Option<String>,
    database: Option<String>,
    outcome_reason: Option<String>,
    original_size: Option<i64>,
    body_pruned_at: Option<String>,
    body_sha256: Option<String>,
}

impl RawColumns {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawColumns {
            id: row.get(0)?,
            message_id: row.get(1)?,
            received_at: row.get(2)?,
            stored_at: row.get(3)?,
            sender: row.get(4)?,
            subject: row.get(5)?,
            body: row.get(6)?,
            headers: row.get(7)?,
            parse_error: row.get(8)?,
            outcome: row.get(9)?,
            workflow_id: row.get(10)?,
            alert_type: row.get(11)?,
            database: row.get(12)?,
            outcome_reason: row.get(13)?,
            original_size: row.get(14)?,
            body_pruned_at: row.get(15)?,
            body_sha256: row.get(16)?,
        })
    }

    fn parse(self) -> Result<RawAlertRow, StoreError> {
        let id = self.id;
        let corrupt =
            |column, value: String| StoreError::Corrupt { table: "raw_alerts", column, row: id.to_string(), value };
        let replied_to = self.workflow_id.clone();
        let matched = match (self.workflow_id, self.alert_type, self.database) {
            (Some(w), Some(a), Some(d)) => Some((w, a, d)),
            _ => None,
        };
        let outcome = match (self.outcome.as_deref(), matched) {
            (None, _) => None,
            (Some("workflow"), Some((workflow_id, alert_type, database))) => {
                Some(RawAlertOutcome::Workflow { workflow_id, alert_type, database })
            }
            (Some("folded"), Some((workflow_id, alert_type, database))) => {
                Some(RawAlertOutcome::Folded { workflow_id, alert_type, database })
            }
            (Some("unmatched"), _) => Some(RawAlertOutcome::Unmatched),
            (Some("ignored"), _) => Some(RawAlertOutcome::Ignored),
            (Some("approval_reply"), _) => Some(RawAlertOutcome::ApprovalReply { workflow_id: replied_to }),
            (Some("split"), _) => Some(RawAlertOutcome::Split),
            (Some(other), _) => return Err(corrupt("outcome", other.to_owned())),
        };
        let original_size = match self.original_size {
            None => None,
            Some(size) => Some(u64::try_from(size).map_err(|_| corrupt("original_size", size.to_string()))?),
        };
        let body_pruned_at = match &self.body_pruned_at {
            None => None,
            Some(at) => Some(stored_timestamp("raw_alerts", "body_pruned_at", &id, at)?),
        };
        Ok(RawAlertRow {
            id,
            received_at: stored_timestamp("raw_alerts", "received_at", &id, &self.received_at)?,
            stored_at: stored_timestamp("raw_alerts", "stored_at", &id, &self.stored_at)?,
            headers: json_column("raw_alerts", "headers", &id, Some(self.headers))?.unwrap_or_default(),
            message_id: self.message_id,
            sender: self.sender,
            subject: self.subject,
            body: self.body,
            parse_error: self.parse_error,
            outcome,
            outcome_reason: self.outcome_reason,
            original_size,
            body_pruned_at,
            body_sha256: self.body_sha256,
        })
    }
}

/// A raw alert with its columns encoded, ready to be inserted inside a caller's transaction
/// (e.g. together with the mailbox position it was read at, see [`Store::store_mailbox_alert`]).
pub(crate) struct PreparedRawAlert<'a> {
    alert: &'a RawAlert,
    received_at: String,
    headers: String,
    original_size: Option<i64>,
}

impl<'a> PreparedRawAlert<'a> {
    pub(crate) fn new(alert: &'a RawAlert) -> Result<Self, StoreError> {
        let received_at = timestamp_text(parse_timestamp(&alert.received_at)?);
        let headers = to_json("encoding alert headers", &alert.headers)?;
        Ok(PreparedRawAlert { alert, received_at, headers, original_size: None })
    }

    /// Marks the alert as read from the first bytes of a message of `original_size` bytes.
    pub(crate) fn truncated_from(mut self, original_size: Option<u64>) -> Self {
        self.original_size = original_size.map(|size| i64::try_from(size).unwrap_or(i64::MAX));
        self
    }

    /// Inserts unless the same [`RawAlert::id`] is stored; returns the row id and whether it is
    /// new.
    pub(crate) fn insert(&self, tx: &rusqlite::Transaction<'_>, now: Timestamp) -> Result<(i64, bool), StoreError> {
        let alert = self.alert;
        let inserted = tx
            .execute(
                "INSERT INTO raw_alerts (message_id, received_at, stored_at, sender, subject,
                                         body, headers, parse_error, original_size)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (message_id) DO NOTHING",
                rusqlite::params![
                    alert.id,
                    self.received_at,
                    timestamp_text(now),
                    alert.from,
                    alert.subject,
                    alert.body,
                    self.headers,
                    alert.parse_error,
                    self.original_size
                ],
            )
            .ctx("storing a raw alert")?;
        let id = tx
            .query_row("SELECT id FROM raw_alerts WHERE message_id = ?1", [&alert.id], |row| row.get(0))
            .ctx("storing a raw alert")?;
        Ok((id, inserted == 1))
    }
}

impl Store {
    /// Stores a raw alert unless one with the same [`RawAlert::id`] is already stored. Returns
    /// its row id and whether it is new (`false`: a duplicate delivery, already handled or
    /// pending). `received_at` is normalised to the store's time format.
    pub fn insert_raw_alert(&self, alert: &RawAlert) -> Result<(i64, bool), StoreError> {
        let prepared = PreparedRawAlert::new(alert)?;
        self.write(|tx, now| prepared.insert(tx, now))
    }

    /// Records what became of a raw alert (replacing an earlier outcome, e.g. after a policy
    /// fix made an unmatched alert match). `Folded` also counts one more occurrence on that
    /// workflow and audits it, in the same transaction.
    pub fn set_raw_alert_outcome(&self, raw_alert_id: i64, outcome: &RawAlertOutcome) -> Result<(), StoreError> {
        self.set_raw_alert_outcome_because(raw_alert_id, outcome, None)
    }

    /// [`Store::set_raw_alert_outcome`] with the reason for it, shown beside the outcome (why a
    /// message was ignored: `sentri alerts` says it, so nothing is dropped without a word).
    pub fn set_raw_alert_outcome_because(
        &self,
        raw_alert_id: i64,
        outcome: &RawAlertOutcome,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        self.write(|tx, now| {
            let (workflow_id, alert_type, database) = outcome.match_columns();
            let changed = tx
                .execute(
                    "UPDATE raw_alerts SET outcome = ?2, workflow_id = ?3, alert_type = ?4,
                                           database = ?5, outcome_reason = ?6
                     WHERE id = ?1 AND outcome IS NULL",
                    rusqlite::params![raw_alert_id, outcome.kind(), workflow_id, alert_type, database, reason],
                )
                .ctx("recording a raw alert's outcome")?;
            if changed == 0 {
                return Err(not_pending(tx, raw_alert_id)?);
            }
            if let RawAlertOutcome::Folded { workflow_id, .. } = outcome {
                let folded: Option<(String, String, i64)> = tx
                    .query_row(
                        "UPDATE workflows SET occurrences = occurrences + 1, version = version + 1,
                                              updated_at = ?2
                         WHERE id = ?1
                         RETURNING database, environment, occurrences",
                        (workflow_id, timestamp_text(now)),
                        |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                    )
                    .optional()
                    .ctx("counting a folded alert")?;
                let Some((database, environment, occurrences)) = folded else {
                    return Err(StoreError::NotFound { what: "workflow", key: workflow_id.clone() });
                };
                append_audit(
                    tx,
                    &self.audit_key,
                    now,
                    NewAudit {
                        workflow_id: Some(workflow_id.clone()),
                        database: Some(database),
                        environment: Some(environment),
                        actor: "engine".to_owned(),
                        action: super::audit::actions::ALERT_FOLDED.to_owned(),
                        result: "FOLDED".to_owned(),
                        detail: serde_json::json!({
                            "raw_alert_id": raw_alert_id,
                            "occurrences": occurrences,
                        }),
                    },
                )?;
            }
            Ok(())
        })
    }

    /// Splits a pending raw alert that reported several objects into one raw alert per object
    /// (`parts`: each one's subject and body), in one transaction: the children are stored,
    /// pending, with the email's sender, headers and time, and ids `<message-id>#object-N`;
    /// the email is marked [`RawAlertOutcome::Split`] with `reason`. Returns the children's
    /// ids in order. A crash leaves either the email pending or every child stored; splitting
    /// again finds the same children (their ids are the email's), so none is stored twice.
    pub fn split_raw_alert(
        &self,
        raw_alert_id: i64,
        parts: &[(String, String)],
        reason: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let email = self.get_raw_alert(raw_alert_id)?.to_raw_alert();
        let children: Vec<RawAlert> = parts
            .iter()
            .enumerate()
            .map(|(index, (subject, body))| RawAlert {
                id: format!("{}#object-{}", email.id, index + 1),
                received_at: email.received_at.clone(),
                from: email.from.clone(),
                subject: subject.clone(),
                body: body.clone(),
                headers: email.headers.clone(),
                parse_error: email.parse_error.clone(),
            })
            .collect();
        let prepared = children.iter().map(PreparedRawAlert::new).collect::<Result<Vec<_>, _>>()?;
        self.write(|tx, now| {
            let changed = tx
                .execute(
                    "UPDATE raw_alerts SET outcome = 'split', outcome_reason = ?2 WHERE id = ?1 AND outcome IS NULL",
                    rusqlite::params![raw_alert_id, reason],
                )
                .ctx("splitting a raw alert")?;
            if changed == 0 {
                return Err(not_pending(tx, raw_alert_id)?);
            }
            prepared.iter().map(|child| child.insert(tx, now).map(|(id, _)| id)).collect()
        })
    }

    /// One raw alert by its store id.
    pub fn get_raw_alert(&self, id: i64) -> Result<RawAlertRow, StoreError> {
        self.read(|conn| {
            conn.query_row(&format!("SELECT {COLUMNS} FROM raw_alerts WHERE id = ?1"), [id], RawColumns::from_row)
                .optional()
                .ctx("reading a raw alert")?
                .ok_or_else(|| StoreError::NotFound { what: "raw alert", key: id.to_string() })?
                .parse()
        })
    }

    /// The newest `last` raw alerts (all if `None`), oldest first; with `unmatched_only`, only
    /// those no policy recognised — what `sentri alerts --unmatched` shows a policy author.
    pub fn list_raw_alerts(&self, unmatched_only: bool, last: Option<usize>) -> Result<Vec<RawAlertRow>, StoreError> {
        self.query_raw_alerts(
            "WHERE (?1 = 0 OR outcome = 'unmatched') ORDER BY id DESC LIMIT ?2",
            (unmatched_only, sql_limit(last)),
            true,
        )
    }

    /// Raw alerts stored but not yet handled (no outcome), oldest first: after a crash, the
    /// engine runs these through the pipeline again.
    pub fn pending_raw_alerts(&self) -> Result<Vec<RawAlertRow>, StoreError> {
        self.query_raw_alerts("WHERE outcome IS NULL ORDER BY id", (), false)
    }

    /// Drops the body of every handled raw alert received more than `older_than` ago
    /// (`monitoring.raw_mail_retention_days`), keeping the row, its headers, its outcome and the
    /// body's SHA-256. Pending alerts and alerts of workflows still open are kept whole: they may
    /// yet be read again. Returns how many bodies were dropped. Meant for the engine's sweep;
    /// each batch is its own short transaction, so intake is not held up by a large prune.
    pub fn prune_raw_mail(&self, older_than: std::time::Duration) -> Result<usize, StoreError> {
        const BATCH: i64 = 100;
        let age = jiff::SignedDuration::try_from(older_than).unwrap_or(jiff::SignedDuration::MAX);
        let cutoff = timestamp_text(self.now().checked_sub(age).unwrap_or(Timestamp::MIN));
        let open: Vec<&str> = crate::domain::WorkflowState::ALL
            .into_iter()
            .filter(|state| state.is_open())
            .map(crate::domain::WorkflowState::as_str)
            .collect();
        let open = to_json("encoding open workflow states", &open)?;
        let mut pruned = 0;
        loop {
            let batch = self.write(|tx, now| {
                let ids: Vec<i64> = {
                    let mut select = tx
                        .prepare(
                            "SELECT r.id FROM raw_alerts r
                             WHERE r.body_pruned_at IS NULL AND r.received_at < ?1 AND r.outcome IS NOT NULL
                               AND NOT EXISTS (
                                   SELECT 1 FROM workflows w
                                   WHERE (w.id = r.workflow_id OR w.raw_alert_id = r.id)
                                     AND w.state IN (SELECT value FROM json_each(?2)))
                             ORDER BY r.id LIMIT ?3",
                        )
                        .ctx("finding raw mail past its retention")?;
                    select
                        .query_map(rusqlite::params![cutoff, open, BATCH], |row| row.get(0))
                        .ctx("finding raw mail past its retention")?
                        .collect::<Result<_, _>>()
                        .ctx("finding raw mail past its retention")?
                };
                for id in &ids {
                    // One body in memory at a time: bodies can be megabytes each.
                    let body: String = tx
                        .query_row("SELECT body FROM raw_alerts WHERE id = ?1", [id], |row| row.get(0))
                        .ctx("reading raw mail to prune")?;
                    let digest = hex::encode(Sha256::digest(body.as_bytes()));
                    drop(body);
                    tx.execute(
                        "UPDATE raw_alerts SET body = '', body_sha256 = ?2, body_pruned_at = ?3 WHERE id = ?1",
                        rusqlite::params![id, digest, timestamp_text(now)],
                    )
                    .ctx("pruning raw mail")?;
                }
                Ok(ids.len())
            })?;
            pruned += batch;
            if i64::try_from(batch).unwrap_or(i64::MAX) < BATCH {
                return Ok(pruned);
            }
        }
    }

    fn query_raw_alerts(
        &self,
        tail: &str,
        params: impl rusqlite::Params,
        reverse: bool,
    ) -> Result<Vec<RawAlertRow>, StoreError> {
        self.read(|conn| {
            let mut statement =
                conn.prepare(&format!("SELECT {COLUMNS} FROM raw_alerts {tail}")).ctx("listing raw alerts")?;
            let mut rows = statement
                .query_map(params, RawColumns::from_row)
                .ctx("listing raw alerts")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing raw alerts")?;
            if reverse {
                rows.reverse();
            }
            rows.into_iter().map(RawColumns::parse).collect()
        })
    }
}

/// Why a raw alert could not take an outcome: it does not exist, or it already has one (an
/// alert is triaged once, whoever gets there first).
pub(crate) fn not_pending(tx: &rusqlite::Transaction<'_>, raw_alert_id: i64) -> Result<StoreError, StoreError> {
    let exists: bool = tx
        .query_row("SELECT EXISTS (SELECT 1 FROM raw_alerts WHERE id = ?1)", [raw_alert_id], |row| row.get(0))
        .ctx("looking up a raw alert")?;
    Ok(if exists {
        StoreError::AlreadyTriaged { raw_alert_id }
    } else {
        StoreError::NotFound { what: "raw alert", key: raw_alert_id.to_string() }
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::testing;

    pub(crate) fn alert(n: u32) -> RawAlert {
        RawAlert {
            id: format!("<msg-{n}@oem.example>"),
            received_at: "2026-11-25T03:02:03.5+02:00".to_owned(),
            from: "oem@example.com".to_owned(),
            subject: format!("Tablespace USERS {n}% full"),
            body: "Target=PRODDB".to_owned(),
            headers: vec![("X-Mailer".to_owned(), "OEM".to_owned())],
            parse_error: None,
        }
    }

    #[test]
    fn insert_is_deduplicated_by_message_id() {
        let (store, _) = testing::store();
        let (first, new) = store.insert_raw_alert(&alert(1)).unwrap();
        assert!(new);
        let (again, new) = store.insert_raw_alert(&alert(1)).unwrap();
        assert_eq!((again, new), (first, false));
        let (other, new) = store.insert_raw_alert(&alert(2)).unwrap();
        assert!(new);
        assert_ne!(other, first);
    }

    #[test]
    fn stored_alert_reads_back_with_normalised_time() {
        let (store, _) = testing::store();
        let (id, _) = store.insert_raw_alert(&alert(1)).unwrap();
        let row = store.get_raw_alert(id).unwrap();
        assert_eq!(timestamp_text(row.received_at), "2026-11-25T01:02:03.500Z");
        assert_eq!(row.headers, alert(1).headers);
        assert_eq!(row.outcome, None);
        let back = row.to_raw_alert();
        assert_eq!(back.received_at, "2026-11-25T01:02:03.500Z");
        assert_eq!(back.subject, alert(1).subject);
    }

    #[test]
    fn a_bad_received_time_is_refused() {
        let (store, _) = testing::store();
        let mut bad = alert(1);
        bad.received_at = "yesterday".to_owned();
        let err = store.insert_raw_alert(&bad).unwrap_err();
        assert!(matches!(err, StoreError::InvalidTimestamp { .. }), "{err:?}");
    }

    #[test]
    fn outcomes_filter_lists_and_pending() {
        let (store, _) = testing::store();
        let ids: Vec<i64> = (1..=4).map(|n| store.insert_raw_alert(&alert(n)).unwrap().0).collect();
        store.set_raw_alert_outcome(ids[0], &RawAlertOutcome::Unmatched).unwrap();
        store.set_raw_alert_outcome(ids[2], &RawAlertOutcome::Unmatched).unwrap();
        store.set_raw_alert_outcome(ids[3], &RawAlertOutcome::Ignored).unwrap();
        let unmatched = store.list_raw_alerts(true, None).unwrap();
        assert_eq!(unmatched.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0], ids[2]]);
        let last_two = store.list_raw_alerts(false, Some(2)).unwrap();
        assert_eq!(last_two.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[2], ids[3]]);
        let pending = store.pending_raw_alerts().unwrap();
        assert_eq!(pending.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[1]]);
        let err = store.set_raw_alert_outcome(999, &RawAlertOutcome::Unmatched).unwrap_err();
        assert!(matches!(err, StoreError::NotFound { .. }));
    }
    const DAY_MS: i64 = 86_400_000;

    #[test]
    fn pruning_drops_old_handled_bodies_and_keeps_rows_hashes_and_open_work() {
        let (store, clock) = testing::store();
        let ids: Vec<i64> = (1..=5).map(|n| store.insert_raw_alert(&alert(n)).unwrap().0).collect();
        // 1: unmatched; 2: ignored with a reason; 3: pending (no outcome); 4: an open workflow;
        // 5: a workflow that ended.
        store.set_raw_alert_outcome(ids[0], &RawAlertOutcome::Unmatched).unwrap();
        store.set_raw_alert_outcome_because(ids[1], &RawAlertOutcome::Ignored, Some("not an alert sender")).unwrap();
        let workflow = |raw: i64| crate::store::workflows::NewWorkflow {
            raw_alert_id: Some(raw),
            alert_type: "tablespace_full".into(),
            database: "PRODDB".into(),
            environment: "DEV".into(),
            severity: "HIGH".into(),
            fields: Default::default(),
        };
        store.create_workflow(workflow(ids[3]), "test").unwrap();
        let ended = store.create_workflow(workflow(ids[4]), "test").unwrap();
        store
            .transition(
                &ended.id,
                crate::domain::WorkflowState::Detected,
                crate::domain::WorkflowState::Resolved,
                "t",
                "t",
            )
            .unwrap();
        let retention = std::time::Duration::from_secs(90 * 86_400);

        clock.advance_ms(89 * DAY_MS);
        assert_eq!(store.prune_raw_mail(retention).unwrap(), 0, "nothing is older than 90 days yet");

        clock.advance_ms(2 * DAY_MS);
        assert_eq!(store.prune_raw_mail(retention).unwrap(), 3, "unmatched, ignored and the ended workflow's");
        for id in [ids[0], ids[1], ids[4]] {
            let row = store.get_raw_alert(id).unwrap();
            assert_eq!(row.body, "", "body of {id} dropped");
            assert_eq!(row.body_pruned_at, Some(clock.now()));
            assert_eq!(row.body_sha256.as_deref(), Some(hex::encode(Sha256::digest(b"Target=PRODDB")).as_str()));
            assert!(row.subject.starts_with("Tablespace USERS"), "the row and its metadata stay");
            assert_eq!(row.headers, alert(1).headers);
            assert!(row.outcome.is_some());
        }
        assert_eq!(store.get_raw_alert(ids[1]).unwrap().outcome_reason.as_deref(), Some("not an alert sender"));
        for id in [ids[2], ids[3]] {
            let row = store.get_raw_alert(id).unwrap();
            assert_eq!((row.body.as_str(), row.body_pruned_at), ("Target=PRODDB", None), "{id} is still needed");
        }
        assert_eq!(store.prune_raw_mail(retention).unwrap(), 0, "pruning twice prunes nothing more");
    }

    #[test]
    fn pruning_works_through_many_batches() {
        let (store, clock) = testing::store();
        for n in 1..=250 {
            let (id, _) = store.insert_raw_alert(&alert(n)).unwrap();
            store.set_raw_alert_outcome(id, &RawAlertOutcome::Unmatched).unwrap();
        }
        clock.advance_ms(2 * DAY_MS);
        assert_eq!(store.prune_raw_mail(std::time::Duration::from_secs(86_400)).unwrap(), 250);
        assert!(store.list_raw_alerts(false, None).unwrap().iter().all(|row| row.body.is_empty()));
    }
}
