//! Which kind of database a target is, and the SQL dialect it speaks.

use std::fmt;

/// Which database's grammar and bind syntax to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Oracle,
    Postgres,
}

/// Which kind of database: decides the driver, the SQL dialect and which policy pack applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DbKind {
    /// Oracle Database (thin driver, no Instant Client).
    Oracle,
    /// PostgreSQL.
    Postgres,
    /// The in-process SIMULATED Oracle of `sentri demo` (`sandbox:NAME`): Oracle's dialect and
    /// policy pack, no server. Never a real database.
    Sandbox,
}

impl DbKind {
    /// Reads `oracle`, `postgres` or `postgresql`, any case: the engines a policy may be
    /// written for (the sandbox runs Oracle's policies, so it is not one of them).
    pub fn parse(text: &str) -> Option<DbKind> {
        match text.trim().to_lowercase().as_str() {
            "oracle" => Some(DbKind::Oracle),
            "postgres" | "postgresql" => Some(DbKind::Postgres),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DbKind::Oracle => "oracle",
            DbKind::Postgres => "postgres",
            DbKind::Sandbox => "sandbox",
        }
    }

    /// Whether this is the SIMULATED sandbox rather than a real database: every view that shows
    /// a target says so.
    pub fn is_simulated(self) -> bool {
        self == DbKind::Sandbox
    }

    /// The engine whose policy pack applies: the sandbox simulates Oracle, so Oracle's.
    pub fn policy_engine(self) -> DbKind {
        match self {
            DbKind::Sandbox => DbKind::Oracle,
            other => other,
        }
    }

    /// The SQL grammar and bind syntax of this engine.
    pub fn dialect(self) -> Dialect {
        match self {
            DbKind::Oracle => Dialect::Oracle,
            DbKind::Postgres => Dialect::Postgres,
            DbKind::Sandbox => Dialect::Oracle,
        }
    }
}

impl fmt::Display for DbKind {
    /// The name, with the sandbox labelled SIMULATED wherever an engine is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbKind::Sandbox => f.write_str("sandbox: SIMULATED Oracle"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// The scheme of a sandbox connection string: `sandbox:NAME`.
pub const SANDBOX_SCHEME: &str = "sandbox:";

/// The scenario a connection string names, if it is a sandbox one (`sandbox:dev` → `dev`).
pub fn sandbox_world_name(connection_string: &str) -> Option<&str> {
    let trimmed = connection_string.trim();
    let head = trimmed.get(..SANDBOX_SCHEME.len())?;
    head.eq_ignore_ascii_case(SANDBOX_SCHEME).then(|| trimmed[SANDBOX_SCHEME.len()..].trim())
}
