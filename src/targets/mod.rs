//! The databases under care. This is the only module that speaks to them: Oracle through
//! Oracle's pure-Rust thin driver, PostgreSQL through tokio-postgres, the SIMULATED Oracle of
//! `sentri demo` in process ([`sandbox`]), each behind the one [`Target`] enum, and the SQL
//! reading ([`sql`]), identifier resolution ([`resolve`]) and filling ([`fill`]) every step
//! relies on.

pub mod error;
pub mod fill;
pub mod oracle;
pub mod postgres;
pub mod profile;
pub mod resolve;
pub mod sandbox;
pub mod sql;
pub mod value;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::config::DatabaseConfig;
pub use crate::domain::DbKind;

pub use error::{ErrorKind, TargetError};
pub use fill::Values;
pub use profile::Profile;
pub use resolve::{Resolved, ResolvedIdentifier};
pub use value::{Rows, Value};

/// Limits every connection to a target obeys.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Hard limit on establishing a connection (TCP, TLS, authentication): a listener that
    /// accepts and then says nothing must not hang Sentri.
    pub connect_timeout: Duration,
    /// Limit on every call (query, statement, commit); past it the call is cancelled.
    pub call_timeout: Duration,
    /// Connections kept per database.
    pub pool_size: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions { connect_timeout: Duration::from_secs(10), call_timeout: Duration::from_secs(30), pool_size: 2 }
    }
}

/// How far one read may go: investigation tools set both; verification uses the call timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Never above the connection's call timeout.
    pub time_limit: Duration,
    /// Rows past this are not fetched into memory.
    pub max_rows: usize,
}

/// The rows of a limited read, and whether the cap cut them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LimitedRows {
    pub rows: Rows,
    pub truncated: bool,
}

impl LimitedRows {
    /// Keeps the first `max_rows` rows of a full result.
    pub fn cut(mut rows: Rows, max_rows: usize) -> LimitedRows {
        let truncated = rows.rows.len() > max_rows;
        rows.rows.truncate(max_rows);
        LimitedRows { rows, truncated }
    }
}

/// What one write step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExecOutcome {
    /// The statement as sent: bind markers in place of values, identifiers rendered.
    pub sql: String,
    pub rows_affected: u64,
    pub elapsed_ms: u64,
}

/// Whether the configured account could write, and every way it could: what `sentri db test`
/// reports, because the read path is only as read-only as the account allows (see the README's
/// read-only role).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WriteAccess {
    pub can_write: bool,
    /// Each privilege or setting that lets the account write (empty when it cannot).
    pub reasons: Vec<String>,
    /// Facts worth knowing that do not by themselves let it write (e.g. PostgreSQL's
    /// `default_transaction_read_only`, which a session can turn off).
    pub notes: Vec<String>,
}

impl WriteAccess {
    pub(crate) fn from_reasons(reasons: Vec<String>, notes: Vec<String>) -> WriteAccess {
        WriteAccess { can_write: !reasons.is_empty(), reasons, notes }
    }
}

/// A connected database under care. One enum rather than a trait object: every caller (the
/// pipeline, `sentri db test`, the tests' scenario suite) gets the same operations whatever the
/// engine, and a match shows every engine each operation must handle.
#[derive(Debug)]
// One value per configured database, built once and kept: its size does not matter, and
// boxing would only add an indirection to every call.
#[allow(clippy::large_enum_variant)]
pub enum Target {
    /// Oracle through the thin driver.
    Oracle(oracle::OracleTarget),
    /// PostgreSQL through tokio-postgres.
    Postgres(postgres::PostgresTarget),
    /// The SIMULATED Oracle of `sentri demo`, in process.
    Sandbox(sandbox::SandboxTarget),
}

impl Target {
    /// Connects to `db` with the driver its engine needs.
    pub async fn connect(db: &DatabaseConfig, options: &ConnectOptions) -> Result<Target, TargetError> {
        match db.engine {
            DbKind::Oracle => oracle::OracleTarget::connect(db, options).await.map(Target::Oracle),
            DbKind::Postgres => postgres::PostgresTarget::connect(db, options).await.map(Target::Postgres),
            DbKind::Sandbox => sandbox::SandboxTarget::connect(db).map(Target::Sandbox),
        }
    }

    /// Which engine this target runs, for choosing the SQL dialect and policy pack.
    pub fn engine(&self) -> DbKind {
        match self {
            Target::Oracle(_) => DbKind::Oracle,
            Target::Postgres(_) => DbKind::Postgres,
            Target::Sandbox(_) => DbKind::Sandbox,
        }
    }

    /// The configured database name.
    pub fn name(&self) -> &str {
        match self {
            Target::Oracle(target) => target.name(),
            Target::Postgres(target) => target.name(),
            Target::Sandbox(target) => target.name(),
        }
    }

    /// A query on the read-only path (enforced by the database): verification, investigation,
    /// LLM tools. Anything but a query is refused before it is sent.
    pub async fn query(&self, sql: &str, values: &Values) -> Result<Rows, TargetError> {
        match self {
            Target::Oracle(target) => target.query(sql, values).await,
            Target::Postgres(target) => target.query(sql, values).await,
            Target::Sandbox(target) => target.query(sql, values).await,
        }
    }

    /// [`Target::query`] within `limits`: an investigation tool's time limit and row cap.
    pub async fn query_limited(
        &self,
        sql: &str,
        values: &Values,
        limits: &ReadLimits,
    ) -> Result<LimitedRows, TargetError> {
        match self {
            Target::Oracle(target) => target.query_limited(sql, values, limits).await,
            Target::Postgres(target) => target.query_limited(sql, values, limits).await,
            Target::Sandbox(target) => {
                target.query(sql, values).await.map(|rows| LimitedRows::cut(rows, limits.max_rows))
            }
        }
    }

    /// The plan of `statement` (PostgreSQL's `EXPLAIN (options)`), on the read path: the
    /// statement must itself be a plain query. Oracle's plans are read from `v$sql_plan` by
    /// `sql_id` instead (its `EXPLAIN PLAN` writes into PLAN_TABLE), so it refuses.
    pub async fn explain(
        &self,
        options: &str,
        statement: &str,
        values: &Values,
        limits: &ReadLimits,
    ) -> Result<LimitedRows, TargetError> {
        match self {
            Target::Postgres(target) => target.explain(options, statement, values, limits).await,
            Target::Oracle(_) | Target::Sandbox(_) => Err(TargetError::new(
                self.name(),
                ErrorKind::Refused,
                "EXPLAIN of a statement's text is PostgreSQL's; on Oracle read the plan from v$sql_plan by sql_id",
            )),
        }
    }

    /// One write step of a fix. Declared identifiers are written from `resolved`, what the
    /// plan resolved once ([`Target::resolve_identifiers`]); nothing is looked up here, and an
    /// object without a resolution stops the step before anything is sent. DML is committed on
    /// success, DDL runs on its own.
    pub async fn execute(
        &self,
        sql: &str,
        values: &Values,
        identifiers: &BTreeMap<String, sql::IdentifierKind>,
        resolved: &Resolved,
    ) -> Result<ExecOutcome, TargetError> {
        match self {
            Target::Oracle(target) => target.execute(sql, values, identifiers, resolved).await,
            Target::Postgres(target) => target.execute(sql, values, identifiers, resolved).await,
            Target::Sandbox(target) => target.execute(sql, values, identifiers, resolved).await,
        }
    }

    /// Resolves, once, every object `statements` splice: each value read as the engine reads
    /// an identifier (exactly, for the names in `catalog_spelled`), looked up in the dictionary
    /// on the read-only path with its schema, and exactly one object found. A name that
    /// matches none or several stops here, naming them; so does a value that is not an
    /// identifier, before anything is sent.
    pub async fn resolve_identifiers(
        &self,
        statements: &[&str],
        identifiers: &BTreeMap<String, sql::IdentifierKind>,
        values: &Values,
        catalog_spelled: &BTreeSet<String>,
    ) -> Result<Resolved, TargetError> {
        let query = |text: &'static str, values: Values| async move { self.query(text, &values).await };
        resolve::resolve_all(
            self.name(),
            self.engine().dialect(),
            query,
            statements,
            identifiers,
            values,
            catalog_spelled,
        )
        .await
    }

    /// Several DML steps, all or nothing. DDL is refused.
    pub async fn execute_in_transaction(&self, steps: &[(&str, &Values)]) -> Result<Vec<ExecOutcome>, TargetError> {
        match self {
            Target::Oracle(target) => target.execute_in_transaction(steps).await,
            Target::Postgres(target) => target.execute_in_transaction(steps).await,
            Target::Sandbox(target) => target.execute_in_transaction(steps).await,
        }
    }

    /// What the database is (version, role, limits, options), for policies and `db test`.
    pub async fn profile(&self) -> Result<Profile, TargetError> {
        match self {
            Target::Oracle(target) => target.profile().await,
            Target::Postgres(target) => target.profile().await,
            Target::Sandbox(target) => target.profile().await,
        }
    }

    /// Whether the configured account could write (engine-specific catalog queries, on the
    /// read path).
    pub async fn write_access(&self) -> Result<WriteAccess, TargetError> {
        match self {
            Target::Oracle(target) => target.write_access().await,
            Target::Postgres(target) => target.write_access().await,
            Target::Sandbox(_) => Ok(WriteAccess::from_reasons(
                vec!["the SIMULATED Oracle of `sentri demo` accepts every fix".to_owned()],
                Vec::new(),
            )),
        }
    }

    /// The round trip of a trivial query.
    pub async fn ping(&self) -> Result<Duration, TargetError> {
        match self {
            Target::Oracle(target) => target.ping().await,
            Target::Postgres(target) => target.ping().await,
            Target::Sandbox(target) => target.ping().await,
        }
    }

    /// Closes every connection.
    pub async fn close(self) {
        match self {
            Target::Oracle(target) => target.close().await,
            Target::Postgres(target) => target.close().await,
            Target::Sandbox(target) => target.close().await,
        }
    }
}

/// How `engine`'s server reads SQL text, for the lexer (the Sandbox speaks Oracle's).
pub(crate) fn sql_dialect(engine: DbKind) -> crate::sql::Dialect {
    match engine {
        DbKind::Postgres => crate::sql::Dialect::Postgres,
        DbKind::Oracle | DbKind::Sandbox => crate::sql::Dialect::Oracle,
    }
}

/// The text of a statement for the read-only path, its terminator stripped, or a refusal
/// ([`ErrorKind::Refused`]) before anything is sent. The gate is [`crate::sql::read_only::check`],
/// read the way `engine`'s server reads it: exactly one plain query, no locking clause, no
/// `SELECT … INTO`, and no call with side effects (on Oracle, no call but built-ins and
/// read-only supplied packages). The database's own read-only transaction then refuses a
/// table write hidden in a query.
pub(crate) fn read_only_text(target: &str, engine: DbKind, sql_text: &str) -> Result<String, TargetError> {
    let text = sql::strip_terminator(sql_text);
    crate::sql::read_only::check(&text, sql_dialect(engine)).map_err(|refusal| {
        let hint = match &refusal.function {
            Some(function) => format!(
                "`{function}` is refused on the read path; a change goes through an approved fix, not a \
                 verification or investigation query"
            ),
            None => "writes go through an approved fix, not a verification or investigation query".to_owned(),
        };
        TargetError::new(target, ErrorKind::Refused, refusal.reason).with_hint(hint)
    })?;
    Ok(text)
}
