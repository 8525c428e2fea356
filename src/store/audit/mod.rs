//! The audit trail: append-only and hash-chained under a key, so that tampering shows.
//!
//! SQLite triggers refuse UPDATE and DELETE on `audit`. That stops honest mistakes and code
//! paths like the reference product's `cleanup --all`, but not someone with `sqlite3` and write
//! access to the file, who can drop the triggers. The chain is what catches them: each row
//! stores the hash of the previous row and an HMAC-SHA256, under the key in `audit.key`
//! ([`key`], outside the database), over all of its own columns. [`Store::verify_audit`] finds
//! an edited row (its hash no longer matches), a deleted row (a gap in the ids, and a broken
//! link), rows moved around (the id is hashed too) and a chain recomputed from some row on
//! without the key (the hashes do not match; recomputed as plain sha256, the scheme goes down).
//!
//! A transition's audit row and an approval's also carry the sha256 of the `transitions` or
//! `approvals` row they record ([`subject`]), so those tables are covered too.
//!
//! Rows written before the key existed are plain sha256 (scheme `sha256`); they still verify,
//! are counted in [`ChainReport::legacy_rows`], and may not follow a keyed row.
//!
//! What the chain alone cannot show: the newest rows cut off (with SQLite's AUTOINCREMENT
//! counter reset), or a rewrite by someone holding the key. [`anchor`]s, the head written down
//! outside the store, show both: `sentri audit --verify --anchors FILE`.

pub mod anchor;
pub mod key;
pub mod subject;

use rusqlite::{Connection, OptionalExtension, Transaction};
use serde::Serialize;
use sha2::{Digest, Sha256};

use jiff::Timestamp;

pub use anchor::{Anchor, UnreadableAnchor};
pub use key::AuditKey;
pub use subject::{Subject, SubjectTable};

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
    /// The diagnosis ran: its first cause, time, and each tool's time.
    pub const DIAGNOSED: &str = "DIAGNOSED";
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
    /// An anchor of the chain's head was queued to the notification channels.
    pub const ANCHOR_PUBLISHED: &str = "ANCHOR_PUBLISHED";
}

/// How a row's hash was made (the `scheme` column).
pub mod schemes {
    /// Plain sha256: rows written before the chain was keyed. Anyone can recompute these.
    pub const SHA256: &str = "sha256";
    /// HMAC-SHA256 under the audit key: every row written now.
    pub const HMAC_SHA256: &str = "hmac-sha256";
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
    /// See [`schemes`].
    pub scheme: String,
    /// The transition or approval row this row vouches for, with its content hash.
    pub covers: Option<Covered>,
}

/// A row of another table an audit row vouches for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Covered {
    pub table: SubjectTable,
    pub id: i64,
    /// Hex sha256 of the row's content when it was audited.
    pub content_hash: String,
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

/// A head recorded elsewhere that the chain must still contain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expected {
    /// A signed anchor line.
    Anchor(Anchor),
    /// A bare head hash (`--expect-head`), found wherever it is in the chain.
    Head { hash: String },
    /// A line that names itself an anchor but cannot be read.
    Unreadable(UnreadableAnchor),
}

/// What one [`Expected`] head found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnchorCheck {
    pub expected: Expected,
    pub outcome: AnchorOutcome,
}

/// Whether the chain still holds an anchored head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AnchorOutcome {
    /// The anchored row is there with the anchored hash.
    #[error("held at row #{row_id}")]
    Held { row_id: i64 },
    /// The anchored row is gone: the chain was cut below it.
    #[error("row #{row_id} is missing (the chain ends at #{last_id}): the newest rows were deleted")]
    Truncated { row_id: i64, last_id: i64 },
    /// The anchored row is there with another hash: the chain was rewritten.
    #[error("row #{row_id} now has hash {stored}: the chain was rewritten")]
    Rewritten { row_id: i64, stored: String },
    /// No row has the expected head hash: truncated or rewritten.
    #[error("no row has this hash: the chain was cut or rewritten")]
    NotInChain,
    /// The anchor's signature is not this store's key's: not evidence, and someone made it.
    #[error("the anchor's signature does not verify with this store's audit key")]
    BadSignature,
    /// The line could not be read.
    #[error("unreadable anchor line")]
    Unreadable,
}

/// What [`Store::verify_audit`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Rows examined, the broken one included.
    pub rows_checked: u64,
    /// The hash of the last row that verified; an anchor (`sentri audit --anchor`) keeps it
    /// elsewhere, signed.
    pub head_hash: Option<String>,
    /// The first place the chain is broken, if any.
    pub first_broken: Option<BrokenLink>,
    /// Rows hashed with plain sha256, written before the chain was keyed.
    pub legacy_rows: u64,
    /// Each expected head, and whether the chain still holds it.
    pub anchors: Vec<AnchorCheck>,
}

impl ChainReport {
    /// The whole chain verified, and holds every expected head.
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
            && self.anchors.iter().all(|check| matches!(check.outcome, AnchorOutcome::Held { .. }))
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
    /// A plain-sha256 row after keyed ones: rewritten by someone without the key.
    #[error("unkeyed (sha256) row after keyed rows: rewritten without the audit key")]
    Downgraded,
    /// A scheme this build does not know.
    #[error("unknown hash scheme {scheme:?}")]
    UnknownScheme { scheme: String },
    /// The transition or approval row this row vouches for is gone.
    #[error("the {table} row #{covered_id} it records is missing (deleted)")]
    CoveredRowMissing { table: String, covered_id: i64 },
    /// The transition or approval row this row vouches for was changed.
    #[error("the {table} row #{covered_id} it records was changed: stored {stored}, computed {computed}")]
    CoveredRowChanged { table: String, covered_id: i64, stored: String, computed: String },
}

/// Appends one row inside the caller's transaction, so that a state change and its audit row
/// commit together or not at all. `at` is the time of that write.
pub fn append_audit(
    tx: &Transaction<'_>,
    key: &AuditKey,
    at: Timestamp,
    new: NewAudit,
) -> Result<AuditRow, StoreError> {
    append_audit_covering(tx, key, at, new, None)
}

/// [`append_audit`] for a row that records a transition or an approval: the row carries the
/// sha256 of that row's content, which must already be written in this transaction.
pub fn append_audit_covering(
    tx: &Transaction<'_>,
    key: &AuditKey,
    at: Timestamp,
    new: NewAudit,
    covers: Option<Subject>,
) -> Result<AuditRow, StoreError> {
    let tail: Option<(i64, String)> = tx
        .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .ctx("reading the audit chain's last row")?;
    let issued = issued_up_to(tx)?;
    let (last_id, prev_hash) = tail.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
    // Never reuse an id, even if the newest rows were deleted: the gap then shows.
    let id = last_id.max(issued) + 1;
    let covers = match covers {
        None => None,
        Some(subject) => {
            let content_hash = subject::content_hash(tx, subject)?.ok_or_else(|| StoreError::NotFound {
                what: "row to audit",
                key: format!("{} #{}", subject.table.as_str(), subject.id),
            })?;
            Some(Covered { table: subject.table, id: subject.id, content_hash })
        }
    };
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
        scheme: schemes::HMAC_SHA256.to_owned(),
        subject_table: covers.as_ref().map(|c| c.table.as_str().to_owned()),
        subject_id: covers.as_ref().map(|c| c.id),
        subject_hash: covers.as_ref().map(|c| c.content_hash.clone()),
    };
    stored.hash = stored.computed_hash(key).unwrap_or_default();
    let hash = stored.hash.clone();
    tx.execute(
        &format!("INSERT INTO audit ({RAW_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"),
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
            stored.hash,
            stored.scheme,
            stored.subject_table,
            stored.subject_id,
            stored.subject_hash
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
        scheme: stored.scheme,
        covers,
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
    scheme: String,
    subject_table: Option<String>,
    subject_id: Option<i64>,
    subject_hash: Option<String>,
}

const RAW_COLUMNS: &str = "id, at, workflow_id, database, environment, actor, action, result, detail, prev_hash, hash, \
                           scheme, subject_table, subject_id, subject_hash";

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
            scheme: row.get(11)?,
            subject_table: row.get(12)?,
            subject_id: row.get(13)?,
            subject_hash: row.get(14)?,
        })
    }

    /// The row's hash under its scheme (`None` for a scheme this build does not know).
    ///
    /// Both hash a JSON array of every other column in table order, `detail` as its stored
    /// text: JSON strings are escaped and delimited, so no two different rows encode the same
    /// way; the id is included, so a row cannot be moved to another place in the chain. The
    /// legacy scheme is hex sha256 over the columns of the first schema; the keyed one is hex
    /// HMAC-SHA256 over those plus the scheme and the covered row.
    fn computed_hash(&self, key: &AuditKey) -> Option<String> {
        let mut canonical = vec![
            serde_json::json!(self.id),
            serde_json::json!(self.at),
            serde_json::json!(self.workflow_id),
            serde_json::json!(self.database),
            serde_json::json!(self.environment),
            serde_json::json!(self.actor),
            serde_json::json!(self.action),
            serde_json::json!(self.result),
            serde_json::json!(self.detail),
            serde_json::json!(self.prev_hash),
        ];
        match self.scheme.as_str() {
            schemes::SHA256 => {
                Some(hex::encode(Sha256::digest(serde_json::Value::Array(canonical).to_string().as_bytes())))
            }
            schemes::HMAC_SHA256 => {
                canonical.extend([
                    serde_json::json!(self.scheme),
                    serde_json::json!(self.subject_table),
                    serde_json::json!(self.subject_id),
                    serde_json::json!(self.subject_hash),
                ]);
                Some(key.sign(serde_json::Value::Array(canonical).to_string().as_bytes()))
            }
            _ => None,
        }
    }

    /// The covered row, when all three columns are set and name a known table.
    fn covered(&self) -> Option<Covered> {
        let table = SubjectTable::parse(self.subject_table.as_deref()?)?;
        Some(Covered { table, id: self.subject_id?, content_hash: self.subject_hash.clone()? })
    }

    fn into_row(self) -> Result<AuditRow, StoreError> {
        let at = super::stored_timestamp("audit", "at", &self.id, &self.at)?;
        let covers = self.covered();
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
            scheme: self.scheme,
            covers,
        })
    }

    /// Why this row does not verify after `prev_hash`, if it does not. `keyed_before`: a keyed
    /// row came earlier in the chain.
    fn break_reason(
        &self,
        conn: &Connection,
        key: &AuditKey,
        prev_hash: &str,
        keyed_before: bool,
    ) -> Result<Option<BreakReason>, StoreError> {
        if self.prev_hash != prev_hash {
            return Ok(Some(BreakReason::PrevHashMismatch {
                expected: prev_hash.to_owned(),
                found: self.prev_hash.clone(),
            }));
        }
        if keyed_before && self.scheme == schemes::SHA256 {
            return Ok(Some(BreakReason::Downgraded));
        }
        let Some(computed) = self.computed_hash(key) else {
            return Ok(Some(BreakReason::UnknownScheme { scheme: self.scheme.clone() }));
        };
        if computed != self.hash {
            return Ok(Some(BreakReason::HashMismatch { stored: self.hash.clone(), computed }));
        }
        if self.scheme == schemes::SHA256 || self.subject_table.is_none() {
            return Ok(None);
        }
        let table = self.subject_table.clone().unwrap_or_default();
        let covered_id = self.subject_id.unwrap_or_default();
        let Some(covered) = self.covered() else {
            return Ok(Some(BreakReason::CoveredRowMissing { table, covered_id }));
        };
        Ok(match subject::content_hash(conn, Subject { table: covered.table, id: covered.id })? {
            None => Some(BreakReason::CoveredRowMissing { table, covered_id }),
            Some(computed) if computed != covered.content_hash => {
                Some(BreakReason::CoveredRowChanged { table, covered_id, stored: covered.content_hash, computed })
            }
            Some(_) => None,
        })
    }
}

/// Walks the chain in id order and reports the first break.
fn verify(conn: &Connection, key: &AuditKey) -> Result<ChainReport, StoreError> {
    let mut statement =
        conn.prepare(&format!("SELECT {RAW_COLUMNS} FROM audit ORDER BY id")).ctx("reading the audit chain")?;
    let rows = statement.query_map([], RawAuditRow::from_row).ctx("reading the audit chain")?;
    let mut report =
        ChainReport { rows_checked: 0, head_hash: None, first_broken: None, legacy_rows: 0, anchors: Vec::new() };
    let mut expected_id = 1;
    let mut prev_hash = GENESIS_HASH.to_owned();
    let mut keyed_before = false;
    for row in rows {
        let row = row.ctx("reading the audit chain")?;
        report.rows_checked += 1;
        let reason = if row.id != expected_id {
            Some(BreakReason::Gap { expected_id })
        } else {
            row.break_reason(conn, key, &prev_hash, keyed_before)?
        };
        if let Some(reason) = reason {
            report.first_broken = Some(BrokenLink { id: row.id, reason });
            return Ok(report);
        }
        if row.scheme == schemes::SHA256 {
            report.legacy_rows += 1;
        } else {
            keyed_before = true;
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

/// Whether the chain still holds `expected`.
fn check_expected(conn: &Connection, key: &AuditKey, expected: &Expected) -> Result<AnchorOutcome, StoreError> {
    match expected {
        Expected::Unreadable(_) => Ok(AnchorOutcome::Unreadable),
        Expected::Anchor(anchor) if !anchor.is_signed_by(key) => Ok(AnchorOutcome::BadSignature),
        Expected::Anchor(anchor) if anchor.row_id == 0 => Ok(if anchor.head_hash == GENESIS_HASH {
            AnchorOutcome::Held { row_id: 0 }
        } else {
            AnchorOutcome::Rewritten { row_id: 0, stored: GENESIS_HASH.to_owned() }
        }),
        Expected::Anchor(anchor) => {
            let stored: Option<String> = conn
                .query_row("SELECT hash FROM audit WHERE id = ?1", [anchor.row_id], |row| row.get(0))
                .optional()
                .ctx("reading an anchored audit row")?;
            Ok(match stored {
                Some(stored) if stored == anchor.head_hash => AnchorOutcome::Held { row_id: anchor.row_id },
                Some(stored) => AnchorOutcome::Rewritten { row_id: anchor.row_id, stored },
                None => {
                    let last_id: i64 = conn
                        .query_row("SELECT COALESCE(MAX(id), 0) FROM audit", [], |row| row.get(0))
                        .ctx("reading the audit chain's last row")?;
                    AnchorOutcome::Truncated { row_id: anchor.row_id, last_id }
                }
            })
        }
        Expected::Head { hash } if hash == GENESIS_HASH => Ok(AnchorOutcome::Held { row_id: 0 }),
        Expected::Head { hash } => {
            let found: Option<i64> = conn
                .query_row("SELECT id FROM audit WHERE hash = ?1 ORDER BY id LIMIT 1", [hash], |row| row.get(0))
                .optional()
                .ctx("finding an expected audit head")?;
            Ok(found.map_or(AnchorOutcome::NotInChain, |row_id| AnchorOutcome::Held { row_id }))
        }
    }
}

impl Store {
    /// Appends one audit row in its own transaction, for events that change nothing else
    /// (a Safety Mesh verdict, a notification sent).
    pub fn audit(&self, new: NewAudit) -> Result<AuditRow, StoreError> {
        self.write(|tx, now| append_audit(tx, &self.audit_key, now, new))
    }

    /// Appends several audit rows in one transaction, in order: all of them or none (the
    /// Safety Mesh's verdicts on one plan).
    pub fn audit_all(&self, rows: Vec<NewAudit>) -> Result<(), StoreError> {
        self.write(|tx, now| {
            for new in rows {
                append_audit(tx, &self.audit_key, now, new)?;
            }
            Ok(())
        })
    }

    /// Proves the chain, or says where it breaks. Reads the whole table in one pass.
    pub fn verify_audit(&self) -> Result<ChainReport, StoreError> {
        self.verify_audit_against(&[])
    }

    /// [`Store::verify_audit`], and checks that the chain still holds every `expected` head
    /// (anchors from logs and mail, `--expect-head`): what shows the newest rows cut off or the
    /// chain rewritten.
    pub fn verify_audit_against(&self, expected: &[Expected]) -> Result<ChainReport, StoreError> {
        self.read(|conn| {
            // One read transaction, so appends by another process cannot tear the walk.
            let tx = conn.unchecked_transaction().ctx("beginning an audit read")?;
            let mut report = verify(&tx, &self.audit_key)?;
            for expected in expected {
                let outcome = check_expected(&tx, &self.audit_key, expected)?;
                report.anchors.push(AnchorCheck { expected: expected.clone(), outcome });
            }
            Ok(report)
        })
    }

    /// The chain's head now, signed: keep the line somewhere the store's host cannot rewrite.
    pub fn audit_anchor(&self) -> Result<Anchor, StoreError> {
        let now = self.now();
        self.read(|conn| anchor_in(conn, &self.audit_key, now))
    }

    /// [`Store::audit_anchor`], queued to the notification channels (when the store has a
    /// reporter) in the same transaction that reads the head, and recorded in the chain as
    /// ANCHOR_PUBLISHED: what the engine does daily ([`Store::anchor_due`]).
    pub fn publish_audit_anchor(&self) -> Result<Anchor, StoreError> {
        let reporter = self.reporter();
        self.write(|tx, now| {
            let anchor = anchor_in(tx, &self.audit_key, now)?;
            if let Some(reporter) = reporter {
                for message in reporter.anchor_messages(&anchor) {
                    super::outbox::insert_in(tx, now, &message)?;
                }
            }
            let published = NewAudit {
                workflow_id: None,
                database: None,
                environment: None,
                actor: "engine".to_owned(),
                action: actions::ANCHOR_PUBLISHED.to_owned(),
                result: "QUEUED".to_owned(),
                detail: serde_json::json!({ "row_id": anchor.row_id, "head_hash": anchor.head_hash, "at": anchor.at }),
            };
            append_audit(tx, &self.audit_key, now, published)?;
            Ok(anchor)
        })
    }

    /// Whether `every` has passed since the last published anchor (or, before the first, since
    /// the chain's first row): read from the chain, so restarts do not reset the clock. An empty
    /// chain has nothing to anchor.
    pub fn anchor_due(&self, every: jiff::SignedDuration) -> Result<bool, StoreError> {
        let now = self.now();
        self.read(|conn| {
            let last: Option<String> = conn
                .query_row(
                    "SELECT at FROM audit WHERE action = ?1 ORDER BY id DESC LIMIT 1",
                    [actions::ANCHOR_PUBLISHED],
                    |row| row.get(0),
                )
                .optional()
                .ctx("reading the last published anchor")?;
            let since = match last {
                Some(at) => Some(at),
                None => conn
                    .query_row("SELECT at FROM audit ORDER BY id LIMIT 1", [], |row| row.get(0))
                    .optional()
                    .ctx("reading the audit chain's first row")?,
            };
            let Some(since) = since else { return Ok(false) };
            let since = super::stored_timestamp("audit", "at", &"last anchor", &since)?;
            Ok(now.duration_since(since) >= every)
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

/// The signed anchor of the chain's last row (id 0 and the genesis hash when empty).
pub(crate) fn anchor_in(conn: &Connection, key: &AuditKey, now: Timestamp) -> Result<Anchor, StoreError> {
    let tail: Option<(i64, String)> = conn
        .query_row("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", [], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()
        .ctx("reading the audit chain's last row")?;
    let (row_id, hash) = tail.unwrap_or_else(|| (0, GENESIS_HASH.to_owned()));
    Ok(Anchor::signed(key, row_id, hash, now))
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
        assert_eq!(
            report,
            ChainReport { rows_checked: 0, head_hash: None, first_broken: None, legacy_rows: 0, anchors: Vec::new() }
        );
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
        let hash = row.computed_hash(&store.audit_key).unwrap();
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
            append_audit(tx, &store.audit_key, now, entry(1))?;
            Err(StoreError::NotFound { what: "workflow", key: "x".into() })
        });
        assert!(result.is_err());
        assert!(store.list_audit(&AuditFilter::default()).unwrap().is_empty());
    }

    /// Rows as a build before the key wrote them: plain sha256 over the first schema's columns.
    fn legacy_rows(store: &Store, count: i64) {
        let key = AuditKey::random().unwrap();
        let mut prev_hash = GENESIS_HASH.to_owned();
        for id in 1..=count {
            let mut row = RawAuditRow {
                id,
                at: "2026-11-25T01:02:03.456Z".to_owned(),
                workflow_id: None,
                database: Some("PRODDB".to_owned()),
                environment: None,
                actor: "engine".to_owned(),
                action: actions::SAFETY_VERDICT.to_owned(),
                result: "ALLOW".to_owned(),
                detail: "{}".to_owned(),
                prev_hash: prev_hash.clone(),
                hash: String::new(),
                scheme: schemes::SHA256.to_owned(),
                subject_table: None,
                subject_id: None,
                subject_hash: None,
            };
            row.hash = row.computed_hash(&key).unwrap();
            sql(
                store,
                &format!(
                    "INSERT INTO audit (id, at, database, actor, action, result, detail, prev_hash, hash)
                     VALUES ({id}, '{}', 'PRODDB', 'engine', '{}', 'ALLOW', '{{}}', '{prev_hash}', '{}')",
                    row.at, row.action, row.hash
                ),
            )
            .unwrap();
            prev_hash = row.hash;
        }
    }

    #[test]
    fn new_rows_are_keyed_and_do_not_verify_under_another_key() {
        let (store, _) = filled(3);
        let rows = store.list_audit(&AuditFilter::default()).unwrap();
        assert!(rows.iter().all(|row| row.scheme == schemes::HMAC_SHA256));
        let raw = store
            .read(|c| {
                c.query_row(&format!("SELECT {RAW_COLUMNS} FROM audit WHERE id = 2"), [], RawAuditRow::from_row)
                    .ctx("t")
            })
            .unwrap();
        assert_eq!(raw.computed_hash(&store.audit_key).as_deref(), Some(raw.hash.as_str()));
        assert_ne!(raw.computed_hash(&AuditKey::random().unwrap()).as_deref(), Some(raw.hash.as_str()));
    }

    #[test]
    fn legacy_rows_still_verify_and_keyed_rows_follow_them() {
        let (store, _) = testing::store();
        legacy_rows(&store, 3);
        store.audit(entry(1)).unwrap();
        let report = store.verify_audit().unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!((report.rows_checked, report.legacy_rows), (4, 3));
    }

    #[test]
    fn a_chain_recomputed_with_plain_sha256_from_a_row_on_is_detected() {
        let (store, _) = filled(6);
        sql(&store, "DROP TRIGGER audit_no_update").unwrap();
        let rows: Vec<RawAuditRow> = store
            .read(|c| {
                let mut statement =
                    c.prepare(&format!("SELECT {RAW_COLUMNS} FROM audit WHERE id >= 3 ORDER BY id")).ctx("t")?;
                statement.query_map([], RawAuditRow::from_row).ctx("t")?.collect::<Result<_, _>>().ctx("t")
            })
            .unwrap();
        let mut prev_hash = store
            .read(|c| c.query_row("SELECT hash FROM audit WHERE id = 2", [], |r| r.get::<_, String>(0)).ctx("t"))
            .unwrap();
        for mut row in rows {
            row.result = "BLOCK".to_owned();
            row.scheme = schemes::SHA256.to_owned();
            row.prev_hash = prev_hash.clone();
            let hash = row.computed_hash(&AuditKey::random().unwrap()).unwrap();
            sql(
                &store,
                &format!("UPDATE audit SET result = 'BLOCK', scheme = 'sha256', prev_hash = '{prev_hash}', hash = '{hash}' WHERE id = {}", row.id),
            )
            .unwrap();
            prev_hash = hash;
        }
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken, BrokenLink { id: 3, reason: BreakReason::Downgraded });
    }

    #[test]
    fn anchors_catch_a_cut_chain_and_a_rewrite_and_refuse_forgeries() {
        let (store, _) = filled(5);
        let anchor = store.audit_anchor().unwrap();
        assert_eq!(anchor.row_id, 5);
        let held = store.verify_audit_against(&[Expected::Anchor(anchor.clone())]).unwrap();
        assert!(held.is_intact(), "{held:?}");
        store.audit(entry(6)).unwrap();
        let later = store
            .verify_audit_against(&[
                Expected::Anchor(anchor.clone()),
                Expected::Head { hash: anchor.head_hash.clone() },
            ])
            .unwrap();
        assert!(later.is_intact(), "an older anchor still holds after appends: {later:?}");

        sql(&store, "DROP TRIGGER audit_no_delete").unwrap();
        sql(&store, "DELETE FROM audit WHERE id >= 4").unwrap();
        sql(&store, "UPDATE sqlite_sequence SET seq = 3 WHERE name = 'audit'").unwrap();
        assert!(store.verify_audit().unwrap().is_intact(), "the cut is invisible to the chain alone");
        let cut = store
            .verify_audit_against(&[
                Expected::Anchor(anchor.clone()),
                Expected::Head { hash: anchor.head_hash.clone() },
            ])
            .unwrap();
        assert!(!cut.is_intact());
        assert_eq!(cut.anchors[0].outcome, AnchorOutcome::Truncated { row_id: 5, last_id: 3 });
        assert_eq!(cut.anchors[1].outcome, AnchorOutcome::NotInChain);

        // Rows 4 and 5 written again, differently: the anchor of row 5 shows the rewrite.
        store.audit(entry(7)).unwrap();
        store.audit(entry(8)).unwrap();
        assert!(store.verify_audit().unwrap().is_intact());
        let rewritten = store.verify_audit_against(&[Expected::Anchor(anchor.clone())]).unwrap();
        assert!(matches!(rewritten.anchors[0].outcome, AnchorOutcome::Rewritten { row_id: 5, .. }), "{rewritten:?}");

        let forged = Anchor { row_id: 4, ..anchor };
        let report = store.verify_audit_against(&[Expected::Anchor(forged)]).unwrap();
        assert_eq!(report.anchors[0].outcome, AnchorOutcome::BadSignature);
    }

    #[test]
    fn a_rewritten_or_deleted_transition_is_reported_at_its_audit_row() {
        use crate::domain::WorkflowState::{Detected, Verifying};
        let (store, _) = testing::store();
        let workflow = store.create_workflow(crate::store::workflows::tests::new_workflow("PRODDB"), "engine").unwrap();
        store.transition(&workflow.id, Detected, Verifying, "engine", "checking").unwrap();
        let rows = store.list_audit(&AuditFilter::default()).unwrap();
        let covered = rows[1].covers.clone().unwrap();
        assert_eq!((covered.table, rows[1].id), (SubjectTable::Transitions, 2));
        assert!(store.verify_audit().unwrap().is_intact());

        sql(&store, &format!("UPDATE transitions SET actor = 'cli:nobody' WHERE id = {}", covered.id)).unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken.id, 2);
        assert!(
            matches!(broken.reason, BreakReason::CoveredRowChanged { covered_id, .. } if covered_id == covered.id),
            "{broken:?}"
        );

        sql(&store, &format!("DELETE FROM transitions WHERE id = {}", covered.id)).unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(
            broken,
            BrokenLink {
                id: 2,
                reason: BreakReason::CoveredRowMissing { table: "transitions".into(), covered_id: covered.id }
            }
        );
    }

    #[test]
    fn an_anchor_is_due_a_day_after_the_first_row_and_then_after_the_last_published() {
        let (store, clock) = testing::store();
        let day = jiff::SignedDuration::from_hours(24);
        assert!(!store.anchor_due(day).unwrap(), "an empty chain has nothing to anchor");
        store.audit(entry(1)).unwrap();
        clock.advance_ms(23 * 3_600_000);
        assert!(!store.anchor_due(day).unwrap());
        clock.advance_ms(3_600_000);
        assert!(store.anchor_due(day).unwrap());
        let anchor = store.publish_audit_anchor().unwrap();
        assert_eq!(anchor.row_id, 1);
        assert!(!store.anchor_due(day).unwrap(), "published just now");
        let last = store.list_audit(&AuditFilter { last: Some(1), ..Default::default() }).unwrap();
        assert_eq!(last[0].action, actions::ANCHOR_PUBLISHED);
        clock.advance_ms(24 * 3_600_000);
        assert!(store.anchor_due(day).unwrap());
        assert!(store.verify_audit_against(&[Expected::Anchor(anchor)]).unwrap().is_intact());
    }
}
