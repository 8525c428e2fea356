//! The databases under care. This is the only module that speaks to them: Oracle through
//! Oracle's pure-Rust thin driver, PostgreSQL through tokio-postgres, the SIMULATED Oracle of
//! `sentri demo` in process ([`sandbox`]), each behind the one [`Target`] enum, and the SQL
//! reading ([`sql`]) and filling ([`fill`]) every step relies on.

pub mod error;
pub mod fill;
pub mod oracle;
pub mod postgres;
pub mod postgres_tls;
pub mod profile;
pub mod sandbox;
pub mod sql;
pub mod value;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use crate::config::DatabaseConfig;

pub use error::{ErrorKind, TargetError};
pub use fill::Values;
pub use profile::Profile;
pub use value::{Rows, Value};

/// Which kind of database: decides the driver, the SQL dialect and which policy pack applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    /// Oracle Database (thin driver, no Instant Client).
    Oracle,
    /// PostgreSQL.
    Postgres,
    /// The in-process SIMULATED Oracle of `sentri demo` (`sandbox:NAME`): Oracle's dialect and
    /// policy pack, no server. Never a real database.
    Sandbox,
}

impl Engine {
    /// Reads `oracle`, `postgres` or `postgresql`, any case: the engines a policy may be
    /// written for (the sandbox runs Oracle's policies, so it is not one of them).
    pub fn parse(text: &str) -> Option<Engine> {
        match text.trim().to_lowercase().as_str() {
            "oracle" => Some(Engine::Oracle),
            "postgres" | "postgresql" => Some(Engine::Postgres),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Oracle => "oracle",
            Engine::Postgres => "postgres",
            Engine::Sandbox => "sandbox",
        }
    }

    /// Whether this is the SIMULATED sandbox rather than a real database: every view that shows
    /// a target says so.
    pub fn is_simulated(self) -> bool {
        self == Engine::Sandbox
    }

    /// The engine whose policy pack applies: the sandbox simulates Oracle, so Oracle's.
    pub fn policy_engine(self) -> Engine {
        match self {
            Engine::Sandbox => Engine::Oracle,
            other => other,
        }
    }

    /// The SQL grammar and bind syntax of this engine.
    pub fn dialect(self) -> fill::Dialect {
        match self {
            Engine::Oracle => fill::Dialect::Oracle,
            Engine::Postgres => fill::Dialect::Postgres,
            Engine::Sandbox => fill::Dialect::Oracle,
        }
    }
}

impl fmt::Display for Engine {
    /// The name, with the sandbox labelled SIMULATED wherever an engine is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Engine::Sandbox => f.write_str("sandbox: SIMULATED Oracle"),
            other => f.write_str(other.as_str()),
        }
    }
}

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

/// What one write step did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ExecOutcome {
    /// The statement as sent: bind markers in place of values, identifiers rendered.
    pub sql: String,
    pub rows_affected: u64,
    pub elapsed_ms: u64,
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
            Engine::Oracle => oracle::OracleTarget::connect(db, options).await.map(Target::Oracle),
            Engine::Postgres => postgres::PostgresTarget::connect(db, options).await.map(Target::Postgres),
            Engine::Sandbox => sandbox::SandboxTarget::connect(db).map(Target::Sandbox),
        }
    }

    /// Which engine this target runs, for choosing the SQL dialect and policy pack.
    pub fn engine(&self) -> Engine {
        match self {
            Target::Oracle(_) => Engine::Oracle,
            Target::Postgres(_) => Engine::Postgres,
            Target::Sandbox(_) => Engine::Sandbox,
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

    /// One write step of a fix: declared identifiers confirmed in the dictionary first, then
    /// the statement run (DML committed on success, DDL on its own).
    pub async fn execute(
        &self,
        sql: &str,
        values: &Values,
        identifiers: &BTreeMap<String, sql::IdentifierKind>,
    ) -> Result<ExecOutcome, TargetError> {
        match self {
            Target::Oracle(target) => target.execute(sql, values, identifiers).await,
            Target::Postgres(target) => target.execute(sql, values, identifiers).await,
            Target::Sandbox(target) => target.execute(sql, values, identifiers).await,
        }
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

/// The text of a statement for the read-only path, its terminator stripped. Anything but a plain
/// query is refused before it is sent, on every engine alike ([`ErrorKind::Refused`]); the
/// database's own read-only transaction then refuses a write hidden in a query.
pub(crate) fn read_only_text(target: &str, sql_text: &str) -> Result<String, TargetError> {
    let text = sql::strip_terminator(sql_text);
    let kind = sql::statement_kind(&text);
    if kind != sql::StatementKind::Query {
        return Err(TargetError::new(
            target,
            ErrorKind::Refused,
            format!("only a plain query may run on the read-only path; this is {}", kind.describe()),
        )
        .with_hint("writes go through an approved fix, not a verification or investigation query"));
    }
    Ok(text)
}
