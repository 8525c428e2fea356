//! PLACEHOLDER — the real Oracle target (thin driver `oracledb`) is being written on another
//! branch and replaces this file at merge. It exists only so [`super::Target`] compiles here:
//! same method signatures as [`super::postgres::PostgresTarget`], every one refusing.

use std::collections::BTreeMap;
use std::time::Duration;

use super::sql::IdentifierKind;
use super::{ConnectOptions, ErrorKind, ExecOutcome, Profile, Rows, TargetError, Values};
use crate::config::DatabaseConfig;

/// An Oracle database under care (being written in another branch).
#[derive(Debug)]
pub struct OracleTarget {
    name: String,
}

impl OracleTarget {
    fn refused(&self) -> TargetError {
        not_built(&self.name)
    }

    /// Not built yet: always refuses.
    pub async fn connect(db: &DatabaseConfig, _options: &ConnectOptions) -> Result<OracleTarget, TargetError> {
        Err(not_built(&db.name))
    }

    /// The configured database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Not built yet: always refuses.
    pub async fn query(&self, _sql: &str, _values: &Values) -> Result<Rows, TargetError> {
        Err(self.refused())
    }

    /// Not built yet: always refuses.
    pub async fn execute(
        &self,
        _sql: &str,
        _values: &Values,
        _identifiers: &BTreeMap<String, IdentifierKind>,
    ) -> Result<ExecOutcome, TargetError> {
        Err(self.refused())
    }

    /// Not built yet: always refuses.
    pub async fn execute_in_transaction(&self, _steps: &[(&str, &Values)]) -> Result<Vec<ExecOutcome>, TargetError> {
        Err(self.refused())
    }

    /// Not built yet: always refuses.
    pub async fn profile(&self) -> Result<Profile, TargetError> {
        Err(self.refused())
    }

    /// Not built yet: always refuses.
    pub async fn ping(&self) -> Result<Duration, TargetError> {
        Err(self.refused())
    }

    /// Nothing to close.
    pub async fn close(self) {}
}

fn not_built(name: &str) -> TargetError {
    TargetError::new(name, ErrorKind::Refused, "Oracle target not built yet")
}
