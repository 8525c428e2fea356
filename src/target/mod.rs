//! The databases under care. This is the only module that speaks to them: Oracle through
//! Oracle's pure-Rust thin driver, PostgreSQL through tokio-postgres, each behind the one
//! [`Target`] enum, and the SQL reading ([`sql`]) and filling ([`fill`]) every step relies on.

pub mod fill;
pub mod sql;

use std::fmt;

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
