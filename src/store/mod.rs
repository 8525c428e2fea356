//! The store: Sentri's memory, in one SQLite file (WAL), and the only code that speaks SQL to it.
//!
//! Everything a workflow does is written here *before* its side effect runs, so that a crash
//! leaves a state the engine can resume from. A state change, its transition row and its audit
//! row commit in one transaction ([`Store::transition`]); the audit trail is append-only and
//! hash-chained ([`audit`]).
//!
//! One file per table family: [`migrations`] (schema), [`alerts`] (raw alerts),
//! [`workflows`] (workflows and their transitions), [`approvals`], [`approval_requests`] (email
//! approval requests and who asked for a change), [`audit`], [`outbox`],
//! [`locks`], [`checks`] (scheduled checks: runs, schedule, lease), [`mailbox`] (how far each IMAP folder has been read), `history` (what
//! happened recently, for the circuit breaker) and [`reporting`] (state changes that queue
//! their notifications in the same transaction).
//!
//! Time is injected ([`Store::with_clock`]) and written in one text format everywhere
//! ([`timestamp_text`]: RFC 3339 UTC, milliseconds, `Z`), so that comparing two stored times as
//! strings orders them correctly — the reference product mixed two formats and got it wrong.
//!
//! Calls are blocking; async callers run them on a blocking pool. A `Store` is `Send + Sync`:
//! share it behind an `Arc`. Every write takes SQLite's write lock up front (`BEGIN IMMEDIATE`),
//! so a read-then-write inside one transaction cannot race another process.

pub mod alerts;
pub mod approval_requests;
pub mod approvals;
pub mod audit;
pub mod audit_detail;
pub mod changes;
pub mod checks;
mod history;
pub mod locks;
pub mod mailbox;
pub mod metrics;
pub mod migrations;
pub mod model_calls;
pub mod outbox;
pub mod profiles;
pub mod reporting;
pub mod series;
pub mod workflows;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

use crate::domain::WorkflowState;

pub use alerts::{RawAlertOutcome, RawAlertRow};
pub use approvals::{ApprovalRow, Decision, NewApproval};
pub use audit::{AnchorOutcome, AuditFilter, AuditRow, BreakReason, BrokenLink, ChainReport, Expected, NewAudit};
pub use changes::ChangeMarker;
pub use checks::{CheckRunRow, CheckScheduleRow, LeaseWhen, NewCheckRun};
pub use history::{FinishedOutcomes, OutcomePattern, RecentWorkflow};
pub use locks::LockOutcome;
pub use mailbox::{MailboxKey, MailboxMessage, MailboxPosition};
pub use metrics::{CheckRunCount, MetricsSnapshot, ModelCallCount};
pub use outbox::{NewOutboxMessage, OutboxMessage};
pub use profiles::StoredProfile;
pub use series::{Sample, SeriesPoint, SeriesRetention};
pub use workflows::{ExecutionCounts, NewWorkflow, Payload, Stats, TransitionRow, WorkflowFilter, WorkflowRow};

/// Where the store gets "now" from. Tests pass a fixed or stepping clock.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// How long a connection waits for another writer (another `sentri` process) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// Everything that can go wrong in the store, saying what was being done.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or created.
    #[error("cannot open the store at {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    /// A connection setting (WAL, foreign keys, busy timeout) could not be applied.
    #[error("cannot configure the store connection: {setting}")]
    Configure {
        setting: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite kept another journal mode (e.g. the file is on a filesystem without shared memory);
    /// concurrent readers and writers need WAL, so the store refuses to run without it.
    #[error("the store could not switch to WAL journaling (journal mode is {mode})")]
    WalUnavailable { mode: String },
    /// The store's file (or its WAL or shared-memory file) could not be made private (0600).
    #[error("cannot make {} private to this account (mode 0600)", path.display())]
    Permissions {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A schema migration failed; it was rolled back as a whole.
    #[error("schema migration {version} ({name}) failed")]
    Migration {
        version: i64,
        name: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The file was written by a newer Sentri; refusing rather than guessing at its schema.
    #[error("the store's schema version is {found}, newer than this build understands ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    /// A statement failed; `context` says which operation it belonged to.
    #[error("store operation failed while {context}")]
    Sql {
        context: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// A value could not be turned into JSON, or stored JSON could not be read back.
    #[error("JSON encoding failed while {context}")]
    Json {
        context: &'static str,
        #[source]
        source: serde_json::Error,
    },
    /// No row with that key.
    #[error("{what} {key} not found")]
    NotFound { what: &'static str, key: String },
    /// The raw alert already has an outcome: another triage got there first. Nothing was written.
    #[error("raw alert {raw_alert_id} was already triaged")]
    AlreadyTriaged { raw_alert_id: i64 },
    /// A workflow id prefix that matches more than one workflow.
    #[error("workflow id prefix {prefix:?} is ambiguous; it matches {}", candidates.join(", "))]
    AmbiguousPrefix { prefix: String, candidates: Vec<String> },
    /// Something that cannot be a workflow id or prefix (ids are hex digits and hyphens).
    #[error("{prefix:?} is not a workflow id or id prefix (hex digits, hyphens optional)")]
    InvalidIdPrefix { prefix: String },
    /// The transition is not in the state machine's table; nothing was written.
    #[error("illegal workflow transition {from} → {to}")]
    IllegalTransition { from: WorkflowState, to: WorkflowState },
    /// Someone else moved the workflow first (compare-and-set miss); nothing was written.
    #[error("workflow {id} is {actual}, not {expected} as expected; it was changed meanwhile")]
    StaleState { id: String, expected: WorkflowState, actual: WorkflowState },
    /// An approval names a plan that is not (or no longer) the workflow's plan.
    #[error(
        "approval for workflow {workflow_id} names plan {approved}, but its plan is {}",
        current.as_deref().unwrap_or("not set")
    )]
    PlanHashMismatch { workflow_id: String, approved: String, current: Option<String> },
    /// A time given to the store is not RFC 3339.
    #[error("{value:?} is not an RFC 3339 timestamp")]
    InvalidTimestamp {
        value: String,
        #[source]
        source: jiff::Error,
    },
    /// The audit key file could not be read or written.
    #[error("audit key {}", path.display())]
    AuditKeyIo {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The audit key file holds neither 64 hex digits nor 32 bytes.
    #[error("audit key {} is not 64 hex digits (or 32 raw bytes)", path.display())]
    AuditKeyInvalid { path: PathBuf },
    /// No randomness for a new audit key; no key is made without it.
    #[error("the operating system's random source failed while making an audit key: {0}")]
    RandomUnavailable(String),
    /// A stored value cannot be read back (edited by hand, or written by a buggy build).
    #[error("{table}.{column} of row {row} holds an unreadable value {value:?}")]
    Corrupt { table: &'static str, column: &'static str, row: String, value: String },
}

/// Adds the "while doing what" to a rusqlite error.
pub(crate) trait SqlContext<T> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn ctx(self, context: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql { context, source })
    }
}

/// The one text format for times in the store: RFC 3339 UTC with exactly three fractional
/// digits and `Z` (`2026-11-25T01:02:03.456Z`). Fixed width, so string order is time order.
/// Sub-millisecond precision is truncated. The one exception is `check_samples.at`, integer
/// milliseconds, because a fleet keeps millions of points ([`series`]).
pub fn timestamp_text(at: Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// `at` without its sub-millisecond part: the precision of [`timestamp_text`].
pub fn truncate_to_millis(at: Timestamp) -> Timestamp {
    Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at)
}

/// `at + span`, clamped to the representable range instead of failing.
pub(crate) fn later(at: Timestamp, span: jiff::SignedDuration) -> Timestamp {
    at.saturating_add(span).unwrap_or(if span.is_negative() { Timestamp::MIN } else { Timestamp::MAX })
}

/// Reads a time given in any RFC 3339 form (any offset, any precision).
pub fn parse_timestamp(value: &str) -> Result<Timestamp, StoreError> {
    value.parse::<Timestamp>().map_err(|source| StoreError::InvalidTimestamp { value: value.to_owned(), source })
}

/// Reads a time the store wrote, reporting where it came from if it is unreadable.
pub(crate) fn stored_timestamp(
    table: &'static str,
    column: &'static str,
    row: &dyn std::fmt::Display,
    value: &str,
) -> Result<Timestamp, StoreError> {
    value.parse::<Timestamp>().map_err(|_| StoreError::Corrupt {
        table,
        column,
        row: row.to_string(),
        value: value.to_owned(),
    })
}

/// Serializes a [`Timestamp`] in the store's one format, so rows printed as JSON (`--json`)
/// show the same text as the database.
pub mod timestamp_serde {
    use jiff::Timestamp;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(at: &Timestamp, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::timestamp_text(*at))
    }

    pub mod option {
        use jiff::Timestamp;
        use serde::Serializer;

        pub fn serialize<S: Serializer>(at: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => serializer.serialize_str(&crate::store::timestamp_text(*at)),
                None => serializer.serialize_none(),
            }
        }
    }
}

/// A handle on the SQLite store. Cheap to share behind an `Arc`; calls are serialized on one
/// connection, and other processes are kept out by SQLite's own locking.
pub struct Store {
    conn: Mutex<Connection>,
    clock: Clock,
    /// What the audit chain is keyed with ([`audit::key`]); never stored in the database.
    audit_key: audit::AuditKey,
    /// Who turns committed state changes into outbox messages ([`reporting`]); none by default.
    reporter: RwLock<Option<Arc<dyn reporting::TransitionReporter>>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating the file, not its directory, if needed) and migrates the store at `path`,
    /// using the system clock. The audit key is `audit.key` beside the file ([`audit::key`]),
    /// made (with a warning) if missing.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with_clock(path, Arc::new(Timestamp::now))
    }

    /// [`Store::open`] with an injected clock.
    ///
    /// The file holds approvals, the audit trail and raw alert mail, so it is private to the
    /// account: created 0600 before SQLite opens it (SQLite gives its `-wal` and `-shm` files
    /// the database file's mode), and an existing file or sidecar with wider bits is tightened.
    pub fn open_with_clock(path: impl AsRef<Path>, clock: Clock) -> Result<Store, StoreError> {
        let path = path.as_ref();
        private_file(path)?;
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|source| StoreError::Open { path: path.to_owned(), source })?;
        let key_path = audit::key::key_file_for(path);
        let (audit_key, created) = audit::AuditKey::load_or_create(&key_path)?;
        if created {
            tracing::warn!(
                key = %key_path.display(),
                "the audit key was missing and a new one was made: back it up apart from the database; \
                 if this store's chain was keyed before, restore the old key, or rows keyed with it will not verify"
            );
        }
        let store = Store::from_connection(conn, clock, true, audit_key)?;
        for suffix in ["-wal", "-shm"] {
            let mut sidecar = path.as_os_str().to_owned();
            sidecar.push(suffix);
            tighten_file(Path::new(&sidecar))?;
        }
        Ok(store)
    }

    /// A private, empty, migrated store in memory, with the system clock. For tests and
    /// `sentri match`-style dry runs.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::with_clock(Arc::new(Timestamp::now))
    }

    /// An in-memory store whose "now" comes from `clock`, so tests control time.
    pub fn with_clock(clock: Clock) -> Result<Store, StoreError> {
        let conn = Connection::open_in_memory()
            .map_err(|source| StoreError::Open { path: PathBuf::from(":memory:"), source })?;
        Store::from_connection(conn, clock, false, audit::AuditKey::random()?)
    }

    fn from_connection(
        mut conn: Connection,
        clock: Clock,
        wal: bool,
        audit_key: audit::AuditKey,
    ) -> Result<Store, StoreError> {
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|source| StoreError::Configure { setting: "busy_timeout", source })?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|source| StoreError::Configure { setting: "foreign_keys=ON", source })?;
        if wal {
            let mode: String = conn
                .query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))
                .map_err(|source| StoreError::Configure { setting: "journal_mode=WAL", source })?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::WalUnavailable { mode });
            }
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(|source| StoreError::Configure { setting: "synchronous", source })?;
        }
        migrations::migrate(&mut conn, &*clock)?;
        Ok(Store { conn: Mutex::new(conn), clock, audit_key, reporter: RwLock::new(None) })
    }

    /// "Now", from the injected clock, truncated to the millisecond the store keeps, so a row
    /// returned by a write equals the same row read back later.
    pub fn now(&self) -> Timestamp {
        truncate_to_millis((self.clock)())
    }

    /// The schema version this store is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.read(migrations::current_version)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no open transaction behind (rusqlite rolls back
        // on drop), so the connection is still usable.
        self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` on the connection, for reads.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.lock();
        f(&conn)
    }

    /// A new workflow id: a random UUID (v4). People read, type and say the first 8 hex digits
    /// (`sentri show 3f9c2a1b`, `[WF:3f9c2a1b]` in approval mail), so those must differ from one
    /// workflow to the next; a time-ordered UUID v7 would share them for about a minute.
    /// Creation order comes from `created_at`.
    pub(crate) fn new_id(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    /// Takes the write lock (`BEGIN IMMEDIATE`) and lets it go without writing: whether the
    /// store can be written now (the engine's heartbeat, `/readyz`). Another process holding
    /// the lock makes this wait the busy timeout and fail.
    pub fn probe_write(&self) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx("taking the write lock")?;
        tx.rollback().ctx("letting the write lock go")
    }

    /// Runs `f` in one write transaction (`BEGIN IMMEDIATE`) with the time of the write, and
    /// commits only if it succeeds: either all of its rows are written, or none.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>, Timestamp) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_at(self.now(), f)
    }

    /// [`Store::write`] at a time the caller already took (e.g. the one embedded in a new id).
    /// With a reporter set, the state changes the write made are reported before it commits.
    pub(crate) fn write_at<T>(
        &self,
        now: Timestamp,
        f: impl FnOnce(&Transaction<'_>, Timestamp) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let reporter = self.reporter();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx("beginning a write transaction")?;
        let before = match &reporter {
            Some(_) => Some(reporting::last_transition_id(&tx)?),
            None => None,
        };
        let value = f(&tx, now)?;
        if let (Some(reporter), Some(before)) = (reporter, before) {
            reporting::report_transitions(&tx, &self.audit_key, now, before, reporter.as_ref())?;
        }
        tx.commit().ctx("committing a write transaction")?;
        Ok(value)
    }
}

/// Reads an optional JSON column.
pub(crate) fn json_column<T: serde::de::DeserializeOwned>(
    table: &'static str,
    column: &'static str,
    row: &dyn std::fmt::Display,
    text: Option<String>,
) -> Result<Option<T>, StoreError> {
    text.map(|text| {
        serde_json::from_str(&text).map_err(|_| StoreError::Corrupt {
            table,
            column,
            row: row.to_string(),
            value: text,
        })
    })
    .transpose()
}

/// Writes a value as JSON text.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(context: &'static str, value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|source| StoreError::Json { context, source })
}

/// Converts a row count limit for SQL (`-1` means no limit in SQLite).
pub(crate) fn sql_limit(last: Option<usize>) -> i64 {
    last.map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX))
}

#[cfg(test)]
pub(crate) mod testing {
    //! Store fixtures: a clock tests can move, and a store built on it.

    use std::sync::Arc;
    use std::sync::atomic::{AtomicI64, Ordering};

    use jiff::Timestamp;

    use super::Store;

    /// A clock that starts at 2026-11-25T01:02:03.456Z and moves only when told to.
    #[derive(Clone)]
    pub struct TestClock(Arc<AtomicI64>);

    impl TestClock {
        pub fn new() -> Self {
            let start: Timestamp = "2026-11-25T01:02:03.456Z".parse().unwrap();
            TestClock(Arc::new(AtomicI64::new(start.as_millisecond())))
        }

        pub fn advance_ms(&self, ms: i64) {
            self.0.fetch_add(ms, Ordering::SeqCst);
        }

        pub fn now(&self) -> Timestamp {
            Timestamp::from_millisecond(self.0.load(Ordering::SeqCst)).unwrap()
        }

        pub fn store(&self) -> Store {
            let clock = self.clone();
            Store::with_clock(Arc::new(move || clock.now())).unwrap()
        }
    }

    pub fn store() -> (Store, TestClock) {
        let clock = TestClock::new();
        (clock.store(), clock)
    }
}

/// The mode of the store's files.
const PRIVATE_FILE: u32 = 0o600;

/// Creates the store's file 0600 if it does not exist, and tightens it if it does. A missing
/// folder is left for SQLite to report ([`StoreError::Open`]).
fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(PRIVATE_FILE).open(path);
    match created {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => tighten_file(path),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StoreError::Permissions { path: path.to_owned(), source }),
    }
}

/// Takes every group and other bit off `path`, if it exists.
fn tighten_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = |source| StoreError::Permissions { path: path.to_owned(), source };
    let mode = match std::fs::metadata(path) {
        Ok(metadata) => metadata.permissions().mode() & 0o7777,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(permissions(source)),
    };
    if mode & !PRIVATE_FILE != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & PRIVATE_FILE)).map_err(permissions)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_one_fixed_width_format() {
        let at: Timestamp = "2026-11-25T01:02:03.456789Z".parse().unwrap();
        assert_eq!(timestamp_text(at), "2026-11-25T01:02:03.456Z");
        let whole: Timestamp = "2026-11-25T03:02:03+02:00".parse().unwrap();
        assert_eq!(timestamp_text(whole), "2026-11-25T01:02:03.000Z");
        assert!(timestamp_text(whole) < timestamp_text(at));
        let (_, clock) = testing::store();
        assert_eq!(timestamp_text(clock.now()), "2026-11-25T01:02:03.456Z");
        assert_eq!(truncate_to_millis(at), "2026-11-25T01:02:03.456Z".parse().unwrap());
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
    }

    #[test]
    fn opens_a_file_with_wal_and_foreign_keys() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("sentri.db")).unwrap();
        let (mode, fk): (String, i64) = store
            .read(|conn| {
                let mode = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).ctx("t")?;
                let fk = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).ctx("t")?;
                Ok((mode, fk))
            })
            .unwrap();
        assert_eq!(mode, "wal");
        assert_eq!(fk, 1);
    }

    #[test]
    fn the_store_and_its_wal_and_shm_files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentri.db");
        let (wal, shm) = (dir.path().join("sentri.db-wal"), dir.path().join("sentri.db-shm"));
        {
            let store = Store::open(&path).unwrap();
            store
                .audit(audit::NewAudit {
                    workflow_id: None,
                    database: None,
                    environment: None,
                    actor: "t".into(),
                    action: "T".into(),
                    result: "T".into(),
                    detail: serde_json::json!({}),
                })
                .unwrap();
            for file in [&path, &wal, &shm] {
                assert!(file.exists(), "{} exists while the store is open", file.display());
                assert_eq!(mode(file), 0o600, "{}", file.display());
            }
        }
        // A store file someone opened up is tightened on the next open.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let _store = Store::open(&path).unwrap();
        assert_eq!(mode(&path), 0o600);
    }

    #[test]
    fn missing_directory_is_an_open_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open(dir.path().join("nope/sentri.db")).unwrap_err();
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    }
}
