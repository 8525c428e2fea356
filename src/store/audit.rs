//! The audit trail: append-only and hash-chained, so that tampering shows.
//!
//! SQLite triggers refuse UPDATE and DELETE on `audit`. That stops honest mistakes and code
//! paths like the reference product's `cleanup --all`, but not someone with `sqlite3` and write
//! access to the file, who can drop the triggers. The hash chain is what catches them: each row
//! stores the hash of the previous row and a hash over all of its own columns, so
//! [`Store::verify_audit`] finds an edited row (its hash no longer matches), a deleted row (a gap
//! in the ids, and a broken link) and rows moved around (the id is hashed too).
//!
//! Limits, stated so nobody over-trusts it: someone who rewrites the chain from the edit onward
//! (recomputing every later hash) is caught only by comparing [`ChainReport::head_hash`] with a
//! copy kept elsewhere; deleting the newest rows is caught through SQLite's AUTOINCREMENT counter,
//! which a careful attacker can also reset.

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use jiff::Timestamp;

use super::{SqlContext, Store, StoreError, json_column, sql_limit, timestamp_text, to_json};

/// The `prev_hash` of the first row.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action names Sentri writes. Free text in the table, so later actions need no migration;
/// these constants keep the spelling in one place.
pub mod actions {
    /// A workflow was created from an alert.
    pub const WORKFLOW_CREATED: &str = "WORKFLOW_CREATED";
    /// A workflow changed state.
    pub const TRANSITION: &str = "TRANSITION";
    /// A repeated alert was folded into an open workflow.
    pub const ALERT_FOLDED: &str = "ALERT_FOLDED";
    /// A workflow's plan was set or replaced (any earlier approval is void).
    pub const PLAN_SET: &str = "PLAN_SET";
    /// A human approved or denied a plan.
    pub const APPROVAL_DECISION: &str = "APPROVAL_DECISION";
    /// A Safety Mesh check gave its verdict (allow or block, both audited).
    pub const SAFETY_VERDICT: &str = "SAFETY_VERDICT";
    /// An outgoing message (email, Slack, webhook, PagerDuty) was delivered.
    pub const NOTIFICATION_SENT: &str = "NOTIFICATION_SENT";
    /// A delivery failed; the message waits in the outbox for its next attempt.
    pub const NOTIFICATION_FAILED: &str = "NOTIFICATION_FAILED";
    /// A message failed too often and is no longer retried (kept, with its last error).
    pub const NOTIFICATION_GAVE_UP: &str = "NOTIFICATION_GAVE_UP";
}

/// A row to append; `at`, `id` and the hashes are filled in by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    pub workflow_id: Option<String>,
    pub database: Option<String>,
    pub environment: Option<String>,
    /// Who did it: `engine`, `safety`, `cli:<user>`, `email:<address>`…
    pub actor: String,
    /// What was done; see [`actions`].
    pub action: String,
    /// How it ended, e.g. the new state, `ALLOW`, `BLOCK`, `APPROVED`.
    pub result: String,
    /// Anything else worth keeping, as JSON.
    pub detail: serde_json::Value,
}

/// One stored audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditRow {
    pub id: i64,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub at: Timestamp,
    pub workflow_id: Option<String>,
    pub database: Option<String>,
    pub environment: Option<String>,
    pub actor: String,
    pub action: String,
    pub result: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// Which rows [`Store::list_audit`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only rows about this database (case-insensitive).
    pub database: Option<String>,
    /// Only rows about this workflow (full id).
    pub workflow_id: Option<String>,
    /// Only the newest N rows (still returned oldest-first).
    pub last: Option<usize>,
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Rows examined, the broken one included.
    pub rows_checked: u64,
    /// The hash of the last row that verified; keep a copy elsewhere to detect a chain rewritten
    /// from the start.
    pub head_hash: Option<String>,
    /// The first place the chain is broken, if any.
    pub first_broken: Option<BrokenLink>,
}

impl ChainReport {
    /// The whole chain verified.
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// Where the chain breaks and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    /// The row at which the break shows (for a missing row: the row after the gap).
    pub id: i64,
    pub reason: BreakReason,
}

/// Why a link is broken.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BreakReason {
    /// The row's columns do not hash to its stored hash: it was edited.
    #[error("row content does not match its hash (edited): stored {stored}, computed {computed}")]
    HashMismatch { stored: String, computed: String },
    /// The row does not point at the row before it: rows were deleted, inserted or moved.
    #[error("row does not link to the previous row: expected prev_hash {expected}, found {found}")]
    PrevHashMismatch { expected: String, found: String },
    /// Ids are not consecutive: rows before this one were deleted.
    #[error("row(s) missing before this one: expected id {expected_id}")]
    Gap { expected_id: i64 },
    /// The newest rows were deleted: the id counter is past the last row.
    #[error("newest row(s) missing: last row is {last_id} but ids were issued up to {issued}")]
    TailMissing { last_id: i64, issued: i64 },
}

/// Appends one row inside the caller's transaction, so that a state change and its audit row
/// commit together or not at all. `at` is the time of that write.
pub fn append_audit(tx: &Transaction<'_>, at: Timestamp, new: NewAudit) -> Result<AuditRow, StoreError> {
    let tail: Option<(i64, String)> = tx
        .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .ctx("reading the audit chain's last row")?;
    let issued = issued_up_to(tx)?;
    let (last_id, prev_hash) = tail.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
    // Never reuse an id, even if the newest rows were deleted: the gap then shows.
    let id = last_id.max(issued) + 1;
    let mut stored = RawAuditRow {
        id,
        at: timestamp_text(at),
        workflow_id: new.workflow_id.clone(),
        database: new.database.clone(),
        environment: new.environment.clone(),
        actor: new.actor.clone(),
        action: new.action.clone(),
        result: new.result.clone(),
        detail: to_json("encoding an audit detail", &new.detail)?,
        prev_hash: prev_hash.clone(),
        hash: String::new(),
    };
    stored.hash = stored.computed_hash();
    let hash = stored.hash.clone();
    tx.execute(
        "INSERT INTO audit (id, at, workflow_id, database, environment, actor, action, result,
                            detail, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        rusqlite::params![
            stored.id,
            stored.at,
            stored.workflow_id,
            stored.database,
            stored.environment,
            stored.actor,
            stored.action,
            stored.result,
            stored.detail,
            stored.prev_hash,
            stored.hash
        ],
    )
    .ctx("appending an audit row")?;
    Ok(AuditRow {
        id,
        at,
        workflow_id: new.workflow_id,
        database: new.database,
        environment: new.environment,
        actor: new.actor,
        action: new.action,
        result: new.result,
        detail: new.detail,
        prev_hash,
        hash,
    })
}

/// The highest id SQLite's AUTOINCREMENT counter has issued for `audit` (0 if none).
fn issued_up_to(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'audit'", [], |row| row.get(0))
        .optional()
        .ctx("reading the audit id counter")
        .map(Option::unwrap_or_default)
}

/// The stored text of one row, exactly as hashed.
struct RawAuditRow {
    id: i64,
    at: String,
    workflow_id: Option<String>,
    database: Option<String>,
    environment: Option<String>,
    actor: String,
    action: String,
    result: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

const RAW_COLUMNS: &str = "id, at, workflow_id, database, environment, actor, action, result, detail, prev_hash, hash";

impl RawAuditRow {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawAuditRow {
            id: row.get(0)?,
            at: row.get(1)?,
            workflow_id: row.get(2)?,
            database: row.get(3)?,
            environment: row.get(4)?,
            actor: row.get(5)?,
            action: row.get(6)?,
            result: row.get(7)?,
            detail: row.get(8)?,
            prev_hash: row.get(9)?,
            hash: row.get(10)?,
        })
    }

    /// Hex sha256 of a JSON array of every other column, in table order, `detail` as its stored
    /// text. JSON strings are escaped and delimited, so no two different rows encode the same
    /// way; the id is included, so a row cannot be moved to another place in the chain.
    fn computed_hash(&self) -> String {
        let canonical = serde_json::json!([
            self.id,
            self.at,
            self.workflow_id,
            self.database,
            self.environment,
            self.actor,
            self.action,
            self.result,
            self.detail,
            self.prev_hash
        ]);
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    fn into_row(self) -> Result<AuditRow, StoreError> {
        let at = super::stored_timestamp("audit", "at", &self.id, &self.at)?;
        let detail = json_column("audit", "detail", &self.id, Some(self.detail))?.unwrap_or_default();
        Ok(AuditRow {
            id: self.id,
            at,
            workflow_id: self.workflow_id,
            database: self.database,
            environment: self.environment,
            actor: self.actor,
            action: self.action,
            result: self.result,
            detail,
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

/// Walks the chain in id order and reports the first break.
fn verify(conn: &Connection) -> Result<ChainReport, StoreError> {
    let mut statement =
        conn.prepare(&format!("SELECT {RAW_COLUMNS} FROM audit ORDER BY id")).ctx("reading the audit chain")?;
    let rows = statement.query_map([], RawAuditRow::from_row).ctx("reading the audit chain")?;
    let mut report = ChainReport { rows_checked: 0, head_hash: None, first_broken: None };
    let mut expected_id = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    for row in rows {
        let row = row.ctx("reading the audit chain")?;
        report.rows_checked += 1;
        let reason = if row.id != expected_id {
            Some(BreakReason::Gap { expected_id })
        } else if row.prev_hash != prev_hash {
            Some(BreakReason::PrevHashMismatch { expected: prev_hash, found: row.prev_hash })
        } else {
            let computed = row.computed_hash();
            (computed != row.hash).then(|| BreakReason::HashMismatch { stored: row.hash.clone(), computed })
        };
        if let Some(reason) = reason {
            report.first_broken = Some(BrokenLink { id: row.id, reason });
            return Ok(report);
        }
        expected_id = row.id + 1;
        prev_hash = row.hash;
        report.head_hash = Some(prev_hash.clone());
    }
    let last_id = expected_id - 1;
    let issued = issued_up_to(conn)?;
    if issued > last_id {
        report.first_broken =
            Some(BrokenLink { id: last_id + 1, reason: BreakReason::TailMissing { last_id, issued } });
    }
    Ok(report)
}

impl Store {
    /// Appends one audit row in its own transaction, for events that change nothing else
    /// (a Safety Mesh verdict, a notification sent).
    pub fn audit(&self, new: NewAudit) -> Result<AuditRow, StoreError> {
        self.write(|tx, now| append_audit(tx, now, new))
    }

    /// Appends several audit rows in one transaction, in order: all of them or none (the
    /// Safety Mesh's verdicts on one plan).
    pub fn audit_all(&self, rows: Vec<NewAudit>) -> Result<(), StoreError> {
        self.write(|tx, now| {
            for new in rows {
                append_audit(tx, now, new)?;
            }
            Ok(())
        })
    }

    /// Proves the chain, or says where it breaks. Reads the whole table in one pass.
    pub fn verify_audit(&self) -> Result<ChainReport, StoreError> {
        self.read(|conn| {
            // One read transaction, so appends by another process cannot tear the walk.
            let tx = conn.unchecked_transaction().ctx("beginning an audit read")?;
            verify(&tx)
        })
    }

    /// Audit rows matching `filter`: the newest `last` of them (all if `None`), oldest first.
    pub fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {RAW_COLUMNS} FROM audit
                     WHERE (?1 IS NULL OR database = ?1 COLLATE NOCASE)
                       AND (?2 IS NULL OR workflow_id = ?2)
                     ORDER BY id DESC LIMIT ?3"
                ))
                .ctx("listing audit rows")?;
            let raw = statement
                .query_map((&filter.database, &filter.workflow_id, sql_limit(filter.last)), RawAuditRow::from_row)
                .ctx("listing audit rows")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing audit rows")?;
            raw.into_iter().rev().map(RawAuditRow::into_row).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;
    use serde_json::json;

    fn entry(n: usize) -> NewAudit {
        NewAudit {
            workflow_id: Some(format!("wf-{}", n % 3)),
            database: Some(if n.is_multiple_of(2) { "PRODDB" } else { "devdb" }.to_owned()),
            environment: Some("PROD".to_owned()),
            actor: "engine".to_owned(),
            action: actions::SAFETY_VERDICT.to_owned(),
            result: "ALLOW".to_owned(),
            detail: json!({ "n": n, "note": "quote \" and, comma" }),
        }
    }

    fn filled(rows: usize) -> (Store, testing::TestClock) {
        let (store, clock) = testing::store();
        for n in 0..rows {
            store.audit(entry(n)).unwrap();
            clock.advance_ms(7);
        }
        (store, clock)
    }

    fn sql(store: &Store, statement: &str) -> rusqlite::Result<usize> {
        let conn = store.lock();
        conn.execute(statement, [])
    }

    #[test]
    fn first_row_starts_from_genesis_and_rows_link() {
        let (store, _) = filled(2);
        let rows = store.list_audit(&AuditFilter::default()).unwrap();
        assert_eq!(rows[0].id, 1);
        assert_eq!(rows[0].prev_hash, GENESIS_HASH);
        assert_eq!(rows[1].prev_hash, rows[0].hash);
        assert_eq!(rows[0].hash.len(), 64);
    }

    #[test]
    fn chain_verifies_after_many_appends() {
        let (store, _) = filled(500);
        let report = store.verify_audit().unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.rows_checked, 500);
        let last = store.list_audit(&AuditFilter { last: Some(1), ..Default::default() }).unwrap();
        assert_eq!(report.head_hash.as_deref(), Some(last[0].hash.as_str()));
    }

    #[test]
    fn empty_chain_verifies() {
        let (store, _) = testing::store();
        let report = store.verify_audit().unwrap();
        assert_eq!(report, ChainReport { rows_checked: 0, head_hash: None, first_broken: None });
    }

    #[test]
    fn triggers_refuse_update_and_delete() {
        let (store, _) = filled(3);
        let update = sql(&store, "UPDATE audit SET result = 'BLOCK' WHERE id = 2").unwrap_err();
        assert!(update.to_string().contains("audit is append-only"), "{update}");
        let delete = sql(&store, "DELETE FROM audit WHERE id = 2").unwrap_err();
        assert!(delete.to_string().contains("audit is append-only"), "{delete}");
        assert!(store.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn an_edited_row_is_reported_at_its_id() {
        let (store, _) = filled(10);
        sql(&store, "DROP TRIGGER audit_no_update").unwrap();
        sql(&store, r#"UPDATE audit SET detail = '{"n":6,"note":"nothing happened"}' WHERE id = 7"#).unwrap();
        let report = store.verify_audit().unwrap();
        let broken = report.first_broken.unwrap();
        assert_eq!(broken.id, 7);
        assert!(matches!(broken.reason, BreakReason::HashMismatch { .. }), "{broken:?}");
        assert_eq!(report.rows_checked, 7);
    }

    #[test]
    fn an_edited_row_with_a_recomputed_hash_breaks_the_next_link() {
        let (store, _) = filled(5);
        sql(&store, "DROP TRIGGER audit_no_update").unwrap();
        let row = store.read(|c| {
            c.query_row(&format!("SELECT {RAW_COLUMNS} FROM audit WHERE id = 3"), [], RawAuditRow::from_row).ctx("t")
        });
        let mut row = row.unwrap();
        row.result = "BLOCK".to_owned();
        let hash = row.computed_hash();
        sql(&store, &format!("UPDATE audit SET result = 'BLOCK', hash = '{hash}' WHERE id = 3")).unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken.id, 4);
        assert!(matches!(broken.reason, BreakReason::PrevHashMismatch { .. }), "{broken:?}");
    }

    #[test]
    fn a_deleted_row_is_detected() {
        let (store, _) = filled(6);
        sql(&store, "DROP TRIGGER audit_no_delete").unwrap();
        sql(&store, "DELETE FROM audit WHERE id = 4").unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken, BrokenLink { id: 5, reason: BreakReason::Gap { expected_id: 4 } });
    }

    #[test]
    fn deleting_the_first_row_is_detected() {
        let (store, _) = filled(3);
        sql(&store, "DROP TRIGGER audit_no_delete").unwrap();
        sql(&store, "DELETE FROM audit WHERE id = 1").unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken.id, 2);
    }

    #[test]
    fn deleting_the_newest_rows_is_detected_and_ids_are_not_reused() {
        let (store, _) = filled(5);
        sql(&store, "DROP TRIGGER audit_no_delete").unwrap();
        sql(&store, "DELETE FROM audit WHERE id >= 4").unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken, BrokenLink { id: 4, reason: BreakReason::TailMissing { last_id: 3, issued: 5 } });
        let next = store.audit(entry(9)).unwrap();
        assert_eq!(next.id, 6);
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken, BrokenLink { id: 6, reason: BreakReason::Gap { expected_id: 4 } });
    }

    #[test]
    fn reordered_rows_are_detected() {
        let (store, _) = filled(4);
        sql(&store, "DROP TRIGGER audit_no_update").unwrap();
        // Swap rows 2 and 3 wholesale (their stored hashes move with them).
        sql(&store, "UPDATE audit SET id = -2 WHERE id = 2").unwrap();
        sql(&store, "UPDATE audit SET id = 2 WHERE id = 3").unwrap();
        sql(&store, "UPDATE audit SET id = 3 WHERE id = -2").unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken.id, 2);
    }

    #[test]
    fn list_filters_and_returns_the_newest_oldest_first() {
        let (store, _) = filled(10);
        let prod = store.list_audit(&AuditFilter { database: Some("proddb".into()), ..Default::default() }).unwrap();
        assert_eq!(prod.iter().map(|r| r.id).collect::<Vec<_>>(), [1, 3, 5, 7, 9]);
        let last = store
            .list_audit(&AuditFilter { database: Some("PRODDB".into()), last: Some(2), ..Default::default() })
            .unwrap();
        assert_eq!(last.iter().map(|r| r.id).collect::<Vec<_>>(), [7, 9]);
        let wf = store.list_audit(&AuditFilter { workflow_id: Some("wf-1".into()), ..Default::default() }).unwrap();
        assert_eq!(wf.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 5, 8]);
        assert_eq!(wf[0].detail["note"], "quote \" and, comma");
        assert!(wf[0].at < wf[1].at);
    }

    #[test]
    fn returned_rows_equal_rows_read_back_with_a_nanosecond_clock() {
        let clock: crate::store::Clock = std::sync::Arc::new(|| "2026-11-25T01:02:03.456789123Z".parse().unwrap());
        let store = Store::with_clock(clock).unwrap();
        let row = store.audit(entry(1)).unwrap();
        assert_eq!(store.list_audit(&AuditFilter::default()).unwrap(), [row]);
        assert!(store.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn append_joins_the_callers_transaction() {
        let (store, _) = testing::store();
        let result: Result<(), StoreError> = store.write(|tx, now| {
            append_audit(tx, now, entry(1))?;
            Err(StoreError::NotFound { what: "workflow", key: "x".into() })
        });
        assert!(result.is_err());
        assert!(store.list_audit(&AuditFilter::default()).unwrap().is_empty());
    }
}
