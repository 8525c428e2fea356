//! One run of one check on one database: its health query on the read-only path, under a time
//! limit and a row cap, and its rows judged into findings.

use std::time::Duration;

use serde::Serialize;

use super::findings::{Finding, findings};
use super::samples::{MeasuredRow, measured_rows, samples};
use crate::policy::CheckPolicy;
use crate::store::Sample;
use crate::targets::{DbKind, ReadLimits, Target, TargetError, Values};

/// The limits every check runs under unless the engine is told otherwise: checks read catalog
/// views, so a minute is generous, and a thousand rows is more evidence than anyone reads.
pub const DEFAULT_LIMITS: ReadLimits = ReadLimits { time_limit: Duration::from_secs(60), max_rows: 1_000 };

/// What a run that reached the database came to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckOutcome {
    pub rows: usize,
    /// The row cap cut the result: the findings are those of the first rows only.
    pub truncated: bool,
    /// The rows over threshold; after the run is recorded, also the urgent forecasts
    /// ([`super::forecast::with_forecasts`]).
    pub findings: Vec<Finding>,
    /// The rows by object, for the forecasts (the first [`super::samples::MAX_OBJECTS`]).
    #[serde(skip)]
    pub measured: Vec<MeasuredRow>,
    /// The numbers kept as time series.
    #[serde(skip)]
    pub samples: Vec<Sample>,
}

/// Why a run did not come to an outcome. Recorded with the run, never fatal to the scheduler.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CheckError {
    #[error("cannot connect to {}: {source}", source.database)]
    Connect { source: TargetError },
    #[error("the health query failed: {source}")]
    Query { source: TargetError },
    #[error("the health query did not finish within {0:?}")]
    TimedOut(Duration),
    #[error("the check is for {check}, the database is {database}")]
    WrongEngine { check: DbKind, database: DbKind },
    #[error("the store could not record the run: {0}")]
    Store(String),
}

/// Runs `check`'s health query on `target` (`Target::query_limited`: one plain read-only
/// query, in a read-only transaction) and judges its rows. The driver's own time limit is
/// backed by a timer of the same length plus a second, so a driver that ignores its limit
/// cannot hold a scheduler slot for ever.
pub async fn run_check(
    target: &Target,
    database: &str,
    check: &CheckPolicy,
    limits: &ReadLimits,
) -> Result<CheckOutcome, CheckError> {
    if target.engine() != check.engine {
        return Err(CheckError::WrongEngine { check: check.engine, database: target.engine() });
    }
    let hard_limit = limits.time_limit + Duration::from_secs(1);
    let no_binds = Values::new();
    let read = target.query_limited(&check.health_query.sql, &no_binds, limits);
    let limited = tokio::time::timeout(hard_limit, read)
        .await
        .map_err(|_| CheckError::TimedOut(limits.time_limit))?
        .map_err(|source| CheckError::Query { source })?;
    let measured = measured_rows(check, &limited.rows);
    Ok(CheckOutcome {
        rows: limited.rows.rows.len(),
        truncated: limited.truncated,
        findings: findings(database, check, &limited.rows),
        samples: samples(check, &measured),
        measured,
    })
}
