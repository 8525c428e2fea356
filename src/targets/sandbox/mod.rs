//! The sandbox: an in-process SIMULATED Oracle database for `sentri demo`, reached through the
//! same [`Target`](super::Target) as a real one (`connection_string: sandbox:NAME`), so the demo
//! runs the real engine, the real Safety Mesh and the real executor on it.
//!
//! It is small and stateful ([`world`]): tablespaces fill, datafiles are added and dropped,
//! sessions block and are killed. It answers the statements the default pack's
//! `tablespace_full`, `temp_full` and `session_blocker` policies run — verification, pre-flight,
//! validation, capture, forward and rollback — plus the Oracle profile probes and the dictionary
//! lookups identifiers go through ([`queries`], [`writes`]). Statements are recognised by their
//! normalised text; anything else is an error that names the statement, never an empty answer.
//!
//! It keeps the rules a real target keeps: the read-only path refuses anything but a query
//! before looking at it, declared objects are resolved in its dictionary when the plan is made, and
//! values are bound, never spliced. It is deterministic: seeded from a named scenario, no
//! clock and no randomness in its state. The state lives in the process: each connection (each
//! engine start) begins from the seed again. Every profile it gives says SIMULATED, and
//! [`super::DbKind::Sandbox`] prints as such wherever a target is shown.
//!
//! Never used to prove that a real target works: that is what the PostgreSQL tests are for.

pub mod queries;
pub mod world;
pub mod writes;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use self::queries::Refusal;
use self::world::World;
use super::fill::{self, Dialect, FillError};
use super::resolve;
use super::sql::{self, IdentifierKind, StatementKind};
use super::{DbKind, ErrorKind, ExecOutcome, Profile, Resolved, Rows, TargetError, Values};
use crate::config::DatabaseConfig;

pub use crate::domain::{SANDBOX_SCHEME as SCHEME, sandbox_world_name as world_name};

/// One SIMULATED database: its name in the configuration and its world.
#[derive(Debug)]
pub struct SandboxTarget {
    name: String,
    world: Mutex<World>,
}

impl SandboxTarget {
    /// "Connects": seeds the world the connection string names. An unknown scenario is a bad
    /// connection string, with the known ones in the hint.
    pub fn connect(db: &DatabaseConfig) -> Result<SandboxTarget, TargetError> {
        let known = || {
            world::SCENARIOS
                .iter()
                .map(|(name, what)| format!("{SCHEME}{name} ({what})"))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let Some(scenario) = world_name(&db.connection_string) else {
            return Err(TargetError::new(&db.name, ErrorKind::BadConnectString, "not a sandbox connection string")
                .with_hint(format!("write one of: {}", known())));
        };
        let Some(world) = World::seed(scenario) else {
            return Err(TargetError::new(
                &db.name,
                ErrorKind::BadConnectString,
                format!("there is no sandbox scenario `{scenario}`"),
            )
            .with_hint(format!("write one of: {}", known())));
        };
        Ok(SandboxTarget::new(&db.name, world))
    }

    /// A sandbox over a given world (tests, and the demo's own scenarios).
    pub fn new(name: &str, world: World) -> SandboxTarget {
        SandboxTarget { name: name.to_owned(), world: Mutex::new(world) }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A copy of the world as it is now, for tests and for showing what changed.
    pub fn snapshot(&self) -> Result<World, TargetError> {
        Ok(self.lock()?.clone())
    }

    /// A query on the read-only path: anything but a query is refused before it is read.
    pub async fn query(&self, sql_text: &str, values: &Values) -> Result<Rows, TargetError> {
        let text = super::read_only_text(&self.name, super::DbKind::Sandbox, sql_text)?;
        let filled = fill::fill(&text, Dialect::Oracle, values, &BTreeMap::new(), &Resolved::new())
            .map_err(|e| self.fill_error(&e))?;
        let world = self.lock()?;
        queries::answer(&world, &filled.sql, &filled.binds).map_err(|refusal| self.refused(&refusal))
    }

    /// One write step: declared objects written from what the plan resolved in the sandbox's
    /// dictionary (through the same lookups a real target answers), then the statement carried
    /// out on the world.
    pub async fn execute(
        &self,
        sql_text: &str,
        values: &Values,
        identifiers: &BTreeMap<String, IdentifierKind>,
        resolved: &Resolved,
    ) -> Result<ExecOutcome, TargetError> {
        let started = Instant::now();
        let text = sql::strip_terminator(sql_text);
        let filled =
            fill::fill(&text, Dialect::Oracle, values, identifiers, resolved).map_err(|e| self.fill_error(&e))?;
        for check in resolve::file_checks(Dialect::Oracle, &text, values, identifiers) {
            let rows = self.query(check.query, &check.values()).await?;
            check.confirm(&rows).map_err(|message| {
                TargetError::new(&self.name, ErrorKind::Fill, format!("{message} (SIMULATED database)"))
            })?;
        }
        let mut world = self.lock()?;
        if filled.kind != StatementKind::Ddl {
            return Err(self.refused(&Refusal::Unknown(format!(
                "{} (the sandbox carries out only the DDL of its policies)",
                queries::normalise(&filled.sql)
            ))));
        }
        let write = writes::read(&filled.sql).map_err(|refusal| self.refused(&refusal))?;
        writes::apply(&mut world, &write).map_err(|refusal| self.refused(&refusal))?;
        Ok(ExecOutcome {
            sql: filled.sql,
            rows_affected: 0,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Several DML steps in one transaction: the sandbox models no DML, so this is refused.
    pub async fn execute_in_transaction(&self, steps: &[(&str, &Values)]) -> Result<Vec<ExecOutcome>, TargetError> {
        let first = steps.first().map(|(sql_text, _)| queries::normalise(sql_text)).unwrap_or_default();
        Err(self.refused(&Refusal::Unknown(format!("{first} (the sandbox models no DML transactions)"))))
    }

    /// The profile, read through the very probes the Oracle target sends; marked as the sandbox.
    pub async fn profile(&self) -> Result<Profile, TargetError> {
        let world = self.lock()?;
        let mut run = |probe: &str| queries::answer(&world, probe, &[]).map_err(|refusal| self.refused(&refusal));
        let mut profile = super::oracle::profile::read_profile(&mut run, jiff::Timestamp::now().to_string())?;
        profile.engine = DbKind::Sandbox;
        Ok(profile)
    }

    /// No network: the round trip is the lock.
    pub async fn ping(&self) -> Result<Duration, TargetError> {
        let started = Instant::now();
        drop(self.lock()?);
        Ok(started.elapsed())
    }

    /// Nothing to close.
    pub async fn close(self) {}

    fn lock(&self) -> Result<MutexGuard<'_, World>, TargetError> {
        self.world.lock().map_err(|_| {
            TargetError::new(&self.name, ErrorKind::ConnectionLost, "the sandbox's state was poisoned by a panic")
        })
    }

    fn fill_error(&self, error: &FillError) -> TargetError {
        TargetError::new(&self.name, ErrorKind::Fill, error.to_string())
    }

    fn refused(&self, refusal: &Refusal) -> TargetError {
        match refusal {
            Refusal::Unknown(statement) => TargetError::new(
                &self.name,
                ErrorKind::Refused,
                format!("the SIMULATED database does not know this statement: {statement}"),
            )
            .with_hint("the sandbox answers only the statements of the policies `sentri demo` uses"),
            Refusal::Oracle { code, message } => {
                TargetError::new(&self.name, ErrorKind::Statement, format!("{code}: {message} (SIMULATED database)"))
                    .with_code(*code)
            }
        }
    }
}
