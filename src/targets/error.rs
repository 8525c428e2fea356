//! Errors a DBA can act on: each says which database, what went wrong in words, and what to do
//! about it. A password never appears in one.

use std::time::Duration;

/// What kind of failure, so callers (and the circuit breaker) can tell a bad password from a
/// slow query without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No password in the environment for this database.
    NoPassword,
    /// The connection string cannot be understood.
    BadConnectString,
    /// ORA-01017 / SQLSTATE 28P01 / 28000.
    AuthenticationFailed,
    /// ORA-12514 / ORA-12505: the listener does not know the service or SID.
    UnknownService,
    /// SQLSTATE 3D000: no such database.
    UnknownDatabase,
    /// Connection refused, host unreachable, name not resolved.
    Unreachable,
    /// The connection was not established within the connect timeout.
    ConnectTimeout,
    /// A call ran past its timeout and was cancelled.
    CallTimeout,
    /// The TLS handshake failed (certificate, wallet, protocol).
    Tls,
    /// ORA-01031 / ORA-00942 on a dictionary view / SQLSTATE 42501.
    InsufficientPrivilege,
    /// A write was attempted on the read-only path and the database refused it.
    ReadOnlyViolation,
    /// A statement was refused before it was sent (e.g. not a query on the read-only path).
    Refused,
    /// A value could not be placed into the statement (see [`super::fill::FillError`]).
    Fill,
    /// The database reported an error running the statement.
    Statement,
    /// The connection broke while in use.
    ConnectionLost,
}

/// A failure talking to one database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{database}: {message}{}", hint.as_ref().map(|hint| format!(" (hint: {hint})")).unwrap_or_default())]
pub struct TargetError {
    /// The configured database name.
    pub database: String,
    pub kind: ErrorKind,
    /// The database's own code when it gave one: `ORA-01017`, `28P01`.
    pub code: Option<String>,
    /// What happened, in words; never contains a password.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl TargetError {
    pub fn new(database: &str, kind: ErrorKind, message: impl Into<String>) -> TargetError {
        TargetError { database: database.to_owned(), kind, code: None, message: message.into(), hint: None }
    }

    pub fn with_code(mut self, code: impl Into<String>) -> TargetError {
        self.code = Some(code.into());
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> TargetError {
        self.hint = Some(hint.into());
        self
    }

    pub fn timeout(database: &str, kind: ErrorKind, operation: &str, after: Duration) -> TargetError {
        TargetError::new(database, kind, format!("{operation} did not finish within {:.1}s", after.as_secs_f64()))
    }
}
