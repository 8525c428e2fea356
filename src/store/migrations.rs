//! The schema, as an ordered list of versioned migrations.
//!
//! Each migration is one SQL script applied in its own transaction together with its row in
//! `schema_version`, so a store is always at exactly one version: a failed migration leaves the
//! previous one intact. Opening a store applies what is missing and nothing else, so re-opening is
//! harmless. Unlike the reference product, errors are never tolerated ("duplicate column",
//! "already exists"): a migration either applies cleanly or the store refuses to open.
//!
//! Add a migration by appending to [`MIGRATIONS`]; never edit one that has shipped.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::{SqlContext, StoreError, timestamp_text};

/// One schema step: its version (1, 2, … without gaps), a short name, and its SQL.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in the order they apply.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial schema", sql: MIGRATION_1 },
    Migration { version: 2, name: "mailbox positions", sql: MIGRATION_2 },
    Migration { version: 3, name: "incidents", sql: MIGRATION_3 },
    Migration { version: 4, name: "approval requests and requesters", sql: MIGRATION_4 },
    // Version 5 belongs to another change; this placeholder keeps the versions consecutive on
    // this branch and is replaced by it when the branches are merged.
    Migration { version: 5, name: "reserved", sql: "" },
    Migration { version: 6, name: "raw mail size, retention and ignore reasons", sql: MIGRATION_6 },
    Migration { version: 7, name: "approval tokens minted at send time", sql: MIGRATION_7 },
    Migration { version: 8, name: "keyed audit chain covering transitions and approvals", sql: MIGRATION_8 },
    Migration { version: 9, name: "the diagnosis of a workflow", sql: MIGRATION_9 },
    Migration { version: 10, name: "language-model calls and their cost", sql: MIGRATION_10 },
    Migration { version: 11, name: "the policy a model drafted for an unmatched alert", sql: MIGRATION_11 },
    Migration { version: 12, name: "scheduled checks: their runs, schedule and lease", sql: MIGRATION_12 },
    Migration { version: 13, name: "check time series", sql: MIGRATION_13 },
];

/// Times are TEXT in one format (`YYYY-MM-DDTHH:MM:SS.mmmZ`, see `store::timestamp_text`);
/// JSON columns are TEXT. States and outcomes are validated by the Rust types that read them,
/// not by CHECK constraints, so adding a state does not need a table rebuild.
const MIGRATION_1: &str = r#"
CREATE TABLE raw_alerts (
    id           INTEGER PRIMARY KEY,
    message_id   TEXT NOT NULL UNIQUE,
    received_at  TEXT NOT NULL,
    stored_at    TEXT NOT NULL,
    sender       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    body         TEXT NOT NULL,
    headers      TEXT NOT NULL,          -- JSON array of [name, value]
    parse_error  TEXT,
    outcome      TEXT,                   -- NULL until handled: workflow | folded | unmatched | ignored
    alert_type   TEXT,
    database     TEXT,
    workflow_id  TEXT REFERENCES workflows(id)
);
CREATE INDEX raw_alerts_received_at ON raw_alerts(received_at);
CREATE INDEX raw_alerts_outcome ON raw_alerts(outcome);

CREATE TABLE workflows (
    id            TEXT PRIMARY KEY,      -- random UUID; the first 8 hex digits are the short id
    raw_alert_id  INTEGER REFERENCES raw_alerts(id),
    alert_type    TEXT NOT NULL,
    database      TEXT NOT NULL,
    environment   TEXT NOT NULL,
    severity      TEXT NOT NULL,
    state         TEXT NOT NULL,
    fields        TEXT NOT NULL,         -- JSON object of extracted fields
    plan          TEXT,                  -- JSON
    plan_hash     TEXT,                  -- hex sha256 of the stored plan text
    verification  TEXT,                  -- JSON
    execution     TEXT,                  -- JSON
    occurrences   INTEGER NOT NULL DEFAULT 1,
    version       INTEGER NOT NULL DEFAULT 1,   -- bumped on every change; compare-and-set key
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE INDEX workflows_state ON workflows(state);
CREATE INDEX workflows_database ON workflows(database COLLATE NOCASE);
CREATE INDEX workflows_created_at ON workflows(created_at);

CREATE TABLE transitions (
    id           INTEGER PRIMARY KEY,
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    from_state   TEXT NOT NULL,
    to_state     TEXT NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT NOT NULL,
    at           TEXT NOT NULL
);
CREATE INDEX transitions_workflow ON transitions(workflow_id, id);

CREATE TABLE approvals (
    id           INTEGER PRIMARY KEY,
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    plan_hash    TEXT NOT NULL,
    approver     TEXT NOT NULL,
    decision     TEXT NOT NULL,          -- APPROVED | DENIED
    channel      TEXT NOT NULL,          -- cli | console | email | slack ...
    reason       TEXT NOT NULL,
    at           TEXT NOT NULL,
    token_hash   TEXT,
    expires_at   TEXT
);
CREATE INDEX approvals_workflow ON approvals(workflow_id, id);

-- Append-only and hash-chained; no foreign keys, so it stands on its own.
CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           TEXT NOT NULL,
    workflow_id  TEXT,
    database     TEXT,
    environment  TEXT,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    result       TEXT NOT NULL,
    detail       TEXT NOT NULL,          -- JSON
    prev_hash    TEXT NOT NULL,
    hash         TEXT NOT NULL
);
CREATE INDEX audit_workflow ON audit(workflow_id);
CREATE INDEX audit_database ON audit(database COLLATE NOCASE);
CREATE INDEX audit_at ON audit(at);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    kind             TEXT NOT NULL,      -- email | slack | webhook
    recipient        TEXT NOT NULL,
    subject          TEXT NOT NULL,
    body             TEXT NOT NULL,
    workflow_id      TEXT REFERENCES workflows(id),
    created_at       TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  TEXT,               -- NULL once sent or given up
    sent_at          TEXT,
    gave_up_at       TEXT,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE next_attempt_at IS NOT NULL;

CREATE TABLE locks (
    resource_key  TEXT PRIMARY KEY,
    workflow_id   TEXT NOT NULL,
    acquired_at   TEXT NOT NULL,
    expires_at    TEXT NOT NULL
);

CREATE TABLE db_profiles (
    database     TEXT PRIMARY KEY COLLATE NOCASE,
    engine       TEXT NOT NULL,
    profile      TEXT NOT NULL,          -- JSON
    profiled_at  TEXT NOT NULL
);
"#;

/// Where the IMAP source has read up to in each mailbox folder, so that a restart neither reads
/// a message twice nor misses one. A UID means something only together with its folder's
/// UIDVALIDITY; when the server changes that value, the position starts over.
const MIGRATION_2: &str = r#"
CREATE TABLE mailbox_state (
    server       TEXT NOT NULL,
    username     TEXT NOT NULL,
    folder       TEXT NOT NULL,
    uidvalidity  INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (server, username, folder)
);
"#;

/// Alerts on one database close in time are one incident, named by its first workflow's id.
/// Existing workflows become incidents of their own.
const MIGRATION_3: &str = r#"
ALTER TABLE workflows ADD COLUMN incident_id TEXT;
UPDATE workflows SET incident_id = id;
CREATE INDEX workflows_incident ON workflows(incident_id);
"#;

/// Approval requests Sentri issued by email, each with the hash of its one-time token (never the
/// token), the plan hash it asks about and when it expires; and the humans who asked for a
/// workflow's change (who then may not approve it themselves when four-eyes is on).
const MIGRATION_4: &str = r#"
CREATE TABLE approval_requests (
    id           INTEGER PRIMARY KEY,
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    plan_hash    TEXT NOT NULL,
    recipient    TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,   -- hex sha256 of the token
    outbox_id    INTEGER REFERENCES outbox(id),
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT                    -- set once a reply carrying the token was accepted
);
CREATE INDEX approval_requests_workflow ON approval_requests(workflow_id, plan_hash);

CREATE TABLE workflow_requesters (
    id           INTEGER PRIMARY KEY,
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    requester    TEXT NOT NULL,          -- an identity approvers are compared with (OS user, address)
    how          TEXT NOT NULL,          -- replay | plan_edit | ...
    at           TEXT NOT NULL
);
CREATE INDEX workflow_requesters_workflow ON workflow_requesters(workflow_id);
"#;

/// What the intake keeps of each message and why: `original_size` is the message's size on the
/// server (RFC822.SIZE) when the stored text is a prefix cut at `email.max_message_bytes`, NULL
/// when it is whole; `outcome_reason` says why a message was ignored (a sender not on
/// `email.alert_senders`, Sentri's own mail); `body_pruned_at` and `body_sha256` record that
/// retention dropped the body and what it was, so the row and its identity outlive the text.
/// The partial index finds prune candidates without reading every body.
const MIGRATION_6: &str = r#"
ALTER TABLE raw_alerts ADD COLUMN original_size INTEGER;
ALTER TABLE raw_alerts ADD COLUMN outcome_reason TEXT;
ALTER TABLE raw_alerts ADD COLUMN body_pruned_at TEXT;
ALTER TABLE raw_alerts ADD COLUMN body_sha256 TEXT;
CREATE INDEX raw_alerts_unpruned ON raw_alerts(received_at) WHERE body_pruned_at IS NULL;
"#;

/// Approval tokens are minted when their email is sent, never stored: a request's `token_hash`
/// is NULL until then (and replaced if a send is retried); the queued body's `token_slot` is the
/// mark where the notifier puts the token. Requests queued before this version carried
/// their live token in the outbox body; they are withdrawn — unused ones expire at once, their
/// bodies are replaced by a notice — and the sweep mails fresh ones.
const MIGRATION_7: &str = r#"
CREATE TABLE approval_requests_v7 (
    id           INTEGER PRIMARY KEY,
    workflow_id  TEXT NOT NULL REFERENCES workflows(id),
    plan_hash    TEXT NOT NULL,
    recipient    TEXT NOT NULL,          -- the one approver address the token answers for
    token_hash   TEXT UNIQUE,            -- hex sha256 of the token; NULL until the email is sent
    outbox_id    INTEGER REFERENCES outbox(id),
    issued_at    TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    used_at      TEXT
);
INSERT INTO approval_requests_v7 (id, workflow_id, plan_hash, recipient, token_hash, outbox_id,
                                  issued_at, expires_at, used_at)
    SELECT id, workflow_id, plan_hash, recipient, token_hash, outbox_id, issued_at,
           CASE WHEN used_at IS NULL THEN issued_at ELSE expires_at END, used_at
    FROM approval_requests;
UPDATE outbox SET body = json_object('text',
        'This approval request was withdrawn: it was stored with its token. A new request was sent.')
    WHERE id IN (SELECT outbox_id FROM approval_requests WHERE outbox_id IS NOT NULL);
DROP TABLE approval_requests;
ALTER TABLE approval_requests_v7 RENAME TO approval_requests;
CREATE INDEX approval_requests_workflow ON approval_requests(workflow_id, plan_hash);
CREATE INDEX approval_requests_outbox ON approval_requests(outbox_id);
"#;

/// The audit chain becomes keyed (`store::audit`): `scheme` says how each row's hash was made
/// (rows already written stay plain `sha256`; new ones are `hmac-sha256`), and a transition's or
/// an approval's audit row names that row and carries the sha256 of its content.
/// The diagnosis run after VERIFIED (root causes, evidence, scored candidates), as JSON.
const MIGRATION_9: &str = r#"
ALTER TABLE workflows ADD COLUMN diagnosis TEXT;
"#;

/// Every language-model call, whoever made it: what the daily cost limit and `sentri stats`
/// add up. `day` is the UTC date of the call.
/// The alert policy (Markdown, as `policy::learned` renders it) a model drafted for an email no
/// policy matched; NULL for the workflows of a policy file. It is written to `alerts/learned/`
/// only after a human approved the workflow's fix and the fix was validated.
/// `check_series` names each series of check numbers once (database, check, object, metric);
/// `check_samples` holds their points, keyed by series, resolution and time: seconds since the
/// epoch, not the store's timestamp text, and no rowid, because a fleet keeps millions of points
/// and each costs some 20 bytes this way instead of 400. `resolution` is how many seconds a
/// point stands for: 0 for a run's own value, 3600 or 86400 for the averages older points are
/// rolled into.
const MIGRATION_13: &str = r#"
CREATE TABLE check_series (
    id          INTEGER PRIMARY KEY,
    database    TEXT NOT NULL,
    check_name  TEXT NOT NULL,
    object      TEXT NOT NULL,
    metric      TEXT NOT NULL,
    UNIQUE (database, check_name, object, metric)
);
CREATE TABLE check_samples (
    series      INTEGER NOT NULL REFERENCES check_series(id),
    resolution  INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    value       REAL NOT NULL,
    PRIMARY KEY (series, resolution, at)
) WITHOUT ROWID;
"#;

/// `check_schedule` is one row per (database, check): when it last ran, when it runs next, and
/// the lease (`lease_owner` until `running_until`) that keeps two processes from running it at
/// once. `check_runs` is the history, one row per run, its error text when it failed.
const MIGRATION_12: &str = r#"
CREATE TABLE check_schedule (
    database       TEXT NOT NULL,
    check_name     TEXT NOT NULL,
    last_run       TEXT,
    next_run       TEXT NOT NULL,
    lease_owner    TEXT,
    running_until  TEXT,
    PRIMARY KEY (database, check_name)
);
CREATE INDEX check_schedule_next_run ON check_schedule(next_run);
CREATE TABLE check_runs (
    id           INTEGER PRIMARY KEY,
    database     TEXT NOT NULL,
    check_name   TEXT NOT NULL,
    started_at   TEXT NOT NULL,
    finished_at  TEXT NOT NULL,
    error        TEXT,
    rows         INTEGER NOT NULL,
    findings     INTEGER NOT NULL
);
CREATE INDEX check_runs_by_check ON check_runs(database, check_name, started_at);
"#;

const MIGRATION_11: &str = r#"
ALTER TABLE workflows ADD COLUMN provisional_policy TEXT;
"#;

const MIGRATION_10: &str = r#"
CREATE TABLE model_calls (
    id            INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    day           TEXT NOT NULL,
    workflow_id   TEXT,
    database      TEXT,
    provider      TEXT NOT NULL,
    model         TEXT NOT NULL,
    level         TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cost_usd      REAL NOT NULL,
    ms            INTEGER NOT NULL,
    tools         TEXT NOT NULL,
    prompt_sha256 TEXT NOT NULL,
    error         TEXT
);
CREATE INDEX model_calls_day ON model_calls(day);
"#;

const MIGRATION_8: &str = r#"
ALTER TABLE audit ADD COLUMN scheme TEXT NOT NULL DEFAULT 'sha256';
ALTER TABLE audit ADD COLUMN subject_table TEXT;
ALTER TABLE audit ADD COLUMN subject_id INTEGER;
ALTER TABLE audit ADD COLUMN subject_hash TEXT;
"#;

/// The version the newest migration brings a store to.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The highest applied version (0 for a new file).
pub(crate) fn current_version(conn: &Connection) -> Result<i64, StoreError> {
    let exists: Option<i64> = conn
        .query_row("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'", [], |row| row.get(0))
        .optional()
        .ctx("reading the schema version")?;
    if exists.is_none() {
        return Ok(0);
    }
    conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0))
        .ctx("reading the schema version")
}

/// Brings the schema up to [`latest_version`]. Each step re-reads the version inside its own
/// write transaction, so two processes opening the same new file cannot both apply it.
pub(crate) fn migrate(conn: &mut Connection, clock: &dyn Fn() -> Timestamp) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version     INTEGER PRIMARY KEY,
             name        TEXT NOT NULL,
             applied_at  TEXT NOT NULL
         )",
    )
    .ctx("creating the schema_version table")?;
    let found = current_version(conn)?;
    if found > latest_version() {
        return Err(StoreError::SchemaTooNew { found, supported: latest_version() });
    }
    for migration in MIGRATIONS {
        let failed = |source| StoreError::Migration { version: migration.version, name: migration.name, source };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(failed)?;
        if current_version(&tx)? >= migration.version {
            continue;
        }
        tx.execute_batch(migration.sql).map_err(failed)?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (migration.version, migration.name, timestamp_text(clock())),
        )
        .map_err(failed)?;
        tx.commit().map_err(failed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn versions_are_consecutive_from_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "{}", migration.name);
        }
    }

    #[test]
    fn reopening_is_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentri.db");
        let first = Store::open(&path).unwrap();
        assert_eq!(first.schema_version().unwrap(), latest_version());
        drop(first);
        let again = Store::open(&path).unwrap();
        assert_eq!(again.schema_version().unwrap(), latest_version());
        let rows: i64 =
            again.read(|c| c.query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0)).ctx("t")).unwrap();
        assert_eq!(rows, MIGRATIONS.len() as i64);
    }

    #[test]
    fn migration_7_withdraws_requests_stored_with_their_live_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentri.db");
        let token = "0123456789abcdef0123456789abcdef01234567";
        {
            // A store as version 6 left it: a request whose outbox body holds the token.
            let conn = Connection::open(&path).unwrap();
            for migration in MIGRATIONS.iter().filter(|m| m.version <= 6) {
                conn.execute_batch(migration.sql).unwrap();
            }
            conn.execute_batch(&format!(
                "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL);
                 INSERT INTO schema_version VALUES (1, 'v', 'x'), (2, 'v', 'x'), (3, 'v', 'x'), (4, 'v', 'x'), (5, 'v', 'x'), (6, 'v', 'x');
                 INSERT INTO workflows (id, alert_type, database, environment, severity, state, fields, created_at, updated_at)
                     VALUES ('w1', 't', 'd', 'PROD', 'CRITICAL', 'AWAITING_APPROVAL', '{{}}', '2026-11-25T00:00:00.000Z', '2026-11-25T00:00:00.000Z');
                 INSERT INTO outbox (id, kind, recipient, subject, body, workflow_id, created_at, sent_at)
                     VALUES (1, 'email', 'dba@example.com', 's', '{{\"text\":\"Token: {token}\"}}', 'w1', '2026-11-25T00:00:00.000Z', '2026-11-25T00:00:01.000Z');
                 INSERT INTO approval_requests (workflow_id, plan_hash, recipient, token_hash, outbox_id, issued_at, expires_at)
                     VALUES ('w1', 'p', 'dba@example.com', 'h', 1, '2026-11-25T00:00:00.000Z', '2026-11-25T01:00:00.000Z');"
            ))
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let body = store.get_outbox(1).unwrap().body;
        assert!(!body.contains(token), "{body}");
        assert!(body.contains("withdrawn"), "{body}");
        let request = &store.approval_requests("w1").unwrap()[0];
        assert_eq!(request.expires_at, request.issued_at, "the withdrawn request is no longer open");
        assert!(request.used_at.is_none());
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentri.db");
        drop(Store::open(&path).unwrap());
        let conn = Connection::open(&path).unwrap();
        conn.execute("INSERT INTO schema_version (version, name, applied_at) VALUES (99, 'future', 'x')", []).unwrap();
        drop(conn);
        let err = Store::open(&path).unwrap_err();
        assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }), "{err:?}");
    }
}
