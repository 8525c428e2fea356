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
//! before looking at it, declared identifiers are confirmed in its dictionary before DDL, and
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

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use self::queries::Refusal;
use self::world::World;
use super::fill::{self, Dialect, FillError};
use super::sql::{self, IdentifierKind, StatementKind};
use super::{DbKind, ErrorKind, ExecOutcome, Profile, Rows, TargetError, Value, Values};
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
        let filled = fill::fill(&text, Dialect::Oracle, values, &BTreeMap::new()).map_err(|e| self.fill_error(&e))?;
        let world = self.lock()?;
        queries::answer(&world, &filled.sql, &filled.binds).map_err(|refusal| self.refused(&refusal))
    }

    /// One write step: declared identifiers confirmed in the sandbox's dictionary (and written
    /// as it spells them), then the statement carried out on the world.
    pub async fn execute(
        &self,
        sql_text: &str,
        values: &Values,
        identifiers: &BTreeMap<String, IdentifierKind>,
    ) -> Result<ExecOutcome, TargetError> {
        let started = Instant::now();
        let text = sql::strip_terminator(sql_text);
        fill::fill(&text, Dialect::Oracle, values, identifiers).map_err(|e| self.fill_error(&e))?;
        let mut world = self.lock()?;
        let confirmed = self.confirm_identifiers(&world, &text, values, identifiers)?;
        let filled = fill::fill(&text, Dialect::Oracle, &confirmed, identifiers).map_err(|e| self.fill_error(&e))?;
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

    /// Looks each declared identifier the DDL splices up in the dictionary, through the same
    /// lookups ([`fill::dictionary_query`]) a real target runs; the value becomes the
    /// dictionary's spelling. A name that is not there stops the step.
    fn confirm_identifiers(
        &self,
        world: &World,
        text: &str,
        values: &Values,
        identifiers: &BTreeMap<String, IdentifierKind>,
    ) -> Result<Values, TargetError> {
        let mut confirmed = values.clone();
        if sql::statement_kind(text).takes_binds() {
            return Ok(confirmed);
        }
        let used: BTreeSet<String> = sql::placeholders(text).into_iter().map(|p| p.name.to_lowercase()).collect();
        for (name, kind) in identifiers {
            let Some(query) = fill::dictionary_query(Dialect::Oracle, *kind) else { continue };
            if !used.contains(&name.to_lowercase()) {
                continue;
            }
            let Some(key) = values.keys().find(|key| key.eq_ignore_ascii_case(name)).cloned() else { continue };
            let Some(value) = values.get(&key).cloned().flatten() else { continue };
            let bare = value.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).unwrap_or(&value).to_owned();
            let rows = queries::answer(world, query, &[("name".to_owned(), Some(bare.clone()))])
                .map_err(|refusal| self.refused(&refusal))?;
            let spellings: Vec<String> =
                rows.rows.iter().filter_map(|row| row.first().and_then(Value::as_text)).collect();
            let Some(spelling) = spellings.iter().find(|s| **s == bare).or_else(|| spellings.first()).cloned() else {
                return Err(TargetError::new(
                    &self.name,
                    ErrorKind::Fill,
                    format!(
                        "`:{key}` = {:?} is not a {} in the dictionary; nothing was run (SIMULATED database)",
                        bare.chars().take(80).collect::<String>(),
                        kind.name()
                    ),
                ));
            };
            confirmed.insert(key, Some(spelling));
        }
        Ok(confirmed)
    }

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
