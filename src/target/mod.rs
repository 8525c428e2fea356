//! The databases under care. This is the only module that speaks to them: Oracle through
//! Oracle's pure-Rust thin driver, PostgreSQL through tokio-postgres, each behind the one
//! [`Target`] enum, and the SQL reading ([`sql`]) and filling ([`fill`]) every step relies on.

pub mod error;
pub mod fill;
pub mod oracle;
pub mod profile;
pub mod sql;
pub mod value;

use std::fmt;
use std::time::Duration;

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
}

impl Engine {
    /// Reads `oracle`, `postgres` or `postgresql`, any case.
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
        }
    }

    /// The SQL grammar and bind syntax of this engine.
    pub fn dialect(self) -> fill::Dialect {
        match self {
            Engine::Oracle => fill::Dialect::Oracle,
            Engine::Postgres => fill::Dialect::Postgres,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
