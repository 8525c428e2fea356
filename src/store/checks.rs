//! Scheduled checks: when each (database, check) runs next, the lease that keeps it from running
//! twice at once, and the history of its runs.
//!
//! The lease is a compare-and-set on `check_schedule.running_until`, so it holds across
//! processes (the daemon and a console's engine, or `sentri checks run`): whoever sets it first
//! runs the check; an expired lease (a process that died mid-run) is taken over. Finishing a run
//! records it, moves `next_run` and frees the lease in one transaction.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, Row};
use serde::Serialize;

use super::series::{self, Sample, SeriesRetention};
use super::{SqlContext, Store, StoreError, later, sql_limit, stored_timestamp, timestamp_text};

/// One (database, check)'s place in the schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckScheduleRow {
    pub database: String,
    pub check: String,
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub last_run: Option<Timestamp>,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub next_run: Timestamp,
    /// Who is running it now, if anyone (see `running_until` for whether the lease is live).
    pub lease_owner: Option<String>,
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub running_until: Option<Timestamp>,
}

/// What one run of a check came to, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheckRun {
    pub database: String,
    pub check: String,
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Why the run failed (connect, query, time limit); `None` when it ran.
    pub error: Option<String>,
    pub rows: u64,
    pub findings: u64,
    /// The numbers it measured, kept as time series ([`super::series`]).
    pub samples: Vec<Sample>,
}

/// A recorded run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckRunRow {
    pub id: i64,
    pub database: String,
    pub check: String,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub started_at: Timestamp,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub finished_at: Timestamp,
    pub error: Option<String>,
    pub rows: u64,
    pub findings: u64,
}

impl CheckRunRow {
    /// What the run came to in a few words: `ok`, `3 findings`, or `error: …`.
    pub fn result_text(&self) -> String {
        match (&self.error, self.findings) {
            (Some(error), _) => format!("error: {error}"),
            (None, 0) => "ok".to_owned(),
            (None, 1) => "1 finding".to_owned(),
            (None, n) => format!("{n} findings"),
        }
    }
}

/// Which lease [`Store::take_check_lease`] may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseWhen {
    /// Only when the check is due (`next_run` has come): the scheduler's way, so two processes
    /// that both saw it due do not run it one after the other.
    Due,
    /// Whenever no one is running it: a run asked for by a person.
    Now,
}

const SCHEDULE_COLUMNS: &str = "database, check_name, last_run, next_run, lease_owner, running_until";

fn schedule_row(row: &Row<'_>) -> rusqlite::Result<[Option<String>; 6]> {
    Ok([row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?])
}

fn read_schedule(values: [Option<String>; 6]) -> Result<CheckScheduleRow, StoreError> {
    let [database, check, last_run, next_run, lease_owner, running_until] = values;
    let database = database.unwrap_or_default();
    let check = check.unwrap_or_default();
    let key = format!("{database}/{check}");
    let time = |column, value: Option<String>| {
        value.map(|value| stored_timestamp("check_schedule", column, &key, &value)).transpose()
    };
    Ok(CheckScheduleRow {
        last_run: time("last_run", last_run)?,
        next_run: time("next_run", next_run)?.unwrap_or(Timestamp::MAX),
        running_until: time("running_until", running_until)?,
        lease_owner,
        database,
        check,
    })
}

type RunColumns = (i64, String, String, String, String, Option<String>, i64, i64);

fn run_row(row: &Row<'_>) -> rusqlite::Result<RunColumns> {
    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?, row.get(7)?))
}

fn read_run(values: RunColumns) -> Result<CheckRunRow, StoreError> {
    let (id, database, check, started_at, finished_at, error, rows, findings) = values;
    Ok(CheckRunRow {
        started_at: stored_timestamp("check_runs", "started_at", &id, &started_at)?,
        finished_at: stored_timestamp("check_runs", "finished_at", &id, &finished_at)?,
        rows: u64::try_from(rows).unwrap_or(0),
        findings: u64::try_from(findings).unwrap_or(0),
        id,
        database,
        check,
        error,
    })
}

fn count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Store {
    /// Puts (database, check) in the schedule at `first_run` if it is not there yet, and returns
    /// its row either way: a known pair keeps its stored times across restarts.
    pub fn schedule_check(
        &self,
        database: &str,
        check: &str,
        first_run: Timestamp,
    ) -> Result<CheckScheduleRow, StoreError> {
        self.write(|tx, _| {
            tx.execute(
                "INSERT INTO check_schedule (database, check_name, next_run) VALUES (?1, ?2, ?3)
                 ON CONFLICT (database, check_name) DO NOTHING",
                (database, check, timestamp_text(first_run)),
            )
            .ctx("scheduling a check")?;
            let values = tx
                .query_row(
                    &format!("SELECT {SCHEDULE_COLUMNS} FROM check_schedule WHERE database = ?1 AND check_name = ?2"),
                    (database, check),
                    schedule_row,
                )
                .ctx("reading a check's schedule")?;
            read_schedule(values)
        })
    }

    /// Every scheduled (database, check), soonest first.
    pub fn check_schedules(&self) -> Result<Vec<CheckScheduleRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {SCHEDULE_COLUMNS} FROM check_schedule ORDER BY next_run, database, check_name"
                ))
                .ctx("listing check schedules")?;
            let rows = statement.query_map([], schedule_row).ctx("listing check schedules")?;
            rows.map(|row| read_schedule(row.ctx("reading a check schedule")?)).collect()
        })
    }

    /// One (database, check)'s schedule, if it has one.
    pub fn check_schedule(&self, database: &str, check: &str) -> Result<Option<CheckScheduleRow>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                &format!("SELECT {SCHEDULE_COLUMNS} FROM check_schedule WHERE database = ?1 AND check_name = ?2"),
                (database, check),
                schedule_row,
            )
            .optional()
            .ctx("reading a check's schedule")?
            .map(read_schedule)
            .transpose()
        })
    }

    /// Takes the lease on (database, check) for `owner` for `ttl`, if no live lease is held (an
    /// expired one is taken over) and, with [`LeaseWhen::Due`], the check is due. A pair not
    /// yet scheduled is scheduled now. Returns whether `owner` holds it; never waits.
    pub fn take_check_lease(
        &self,
        database: &str,
        check: &str,
        owner: &str,
        ttl: SignedDuration,
        when: LeaseWhen,
    ) -> Result<bool, StoreError> {
        self.write(|tx, now| {
            let now_text = timestamp_text(now);
            tx.execute(
                "INSERT INTO check_schedule (database, check_name, next_run) VALUES (?1, ?2, ?3)
                 ON CONFLICT (database, check_name) DO NOTHING",
                (database, check, &now_text),
            )
            .ctx("scheduling a check")?;
            let due = match when {
                LeaseWhen::Due => "AND next_run <= ?4",
                LeaseWhen::Now => "AND ?4 IS NOT NULL",
            };
            let changed = tx
                .execute(
                    &format!(
                        "UPDATE check_schedule SET lease_owner = ?3, running_until = ?5
                         WHERE database = ?1 AND check_name = ?2
                           AND (running_until IS NULL OR running_until <= ?4) {due}"
                    ),
                    (database, check, owner, &now_text, timestamp_text(later(now, ttl))),
                )
                .ctx("taking a check's lease")?;
            Ok(changed == 1)
        })
    }

    /// Records `run` and its samples (rolling up the pair's old points as `retention` says),
    /// and, if `owner` still holds the lease, frees it and sets `last_run` to the run's start
    /// and `next_run` to `next_run`, in one transaction. The run is recorded even
    /// when the lease was lost (it expired and another process took it): what happened is
    /// history, but that process now owns the schedule.
    pub fn finish_check_run(
        &self,
        owner: &str,
        run: &NewCheckRun,
        next_run: Timestamp,
        retention: &SeriesRetention,
    ) -> Result<CheckRunRow, StoreError> {
        self.write(|tx, _| {
            series::record(tx, &run.database, &run.check, run.started_at, &run.samples, retention)?;
            tx.execute(
                "DELETE FROM check_runs WHERE database = ?1 AND check_name = ?2 AND started_at < ?3",
                (&run.database, &run.check, timestamp_text(later(run.started_at, -retention.runs))),
            )
            .ctx("dropping old check runs")?;
            tx.execute(
                "INSERT INTO check_runs (database, check_name, started_at, finished_at, error, rows, findings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                (
                    &run.database,
                    &run.check,
                    timestamp_text(run.started_at),
                    timestamp_text(run.finished_at),
                    &run.error,
                    count(run.rows),
                    count(run.findings),
                ),
            )
            .ctx("recording a check run")?;
            let id = tx.last_insert_rowid();
            tx.execute(
                "UPDATE check_schedule SET last_run = ?4, next_run = ?5, lease_owner = NULL, running_until = NULL
                 WHERE database = ?1 AND check_name = ?2 AND lease_owner = ?3",
                (&run.database, &run.check, owner, timestamp_text(run.started_at), timestamp_text(next_run)),
            )
            .ctx("moving a check's schedule")?;
            let values = tx
                .query_row(
                    "SELECT id, database, check_name, started_at, finished_at, error, rows, findings
                     FROM check_runs WHERE id = ?1",
                    [id],
                    run_row,
                )
                .ctx("reading a check run back")?;
            read_run(values)
        })
    }

    /// The runs of (database, check), newest first, at most `last` of them.
    pub fn check_runs(&self, database: &str, check: &str, last: Option<usize>) -> Result<Vec<CheckRunRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id, database, check_name, started_at, finished_at, error, rows, findings
                     FROM check_runs WHERE database = ?1 AND check_name = ?2
                     ORDER BY started_at DESC, id DESC LIMIT ?3",
                )
                .ctx("listing check runs")?;
            let rows = statement.query_map((database, check, sql_limit(last)), run_row).ctx("listing check runs")?;
            rows.map(|row| read_run(row.ctx("reading a check run")?)).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    const TTL: SignedDuration = SignedDuration::from_secs(300);

    fn run(store: &Store, error: Option<&str>) -> NewCheckRun {
        NewCheckRun {
            database: "db1".into(),
            check: "pg_xid".into(),
            started_at: store.now(),
            finished_at: store.now(),
            error: error.map(str::to_owned),
            rows: 3,
            findings: 1,
            samples: Vec::new(),
        }
    }

    #[test]
    fn a_check_is_scheduled_once_and_keeps_its_times() {
        let (store, clock) = testing::store();
        let first = clock.now().checked_add(SignedDuration::from_mins(5)).unwrap();
        let row = store.schedule_check("db1", "pg_xid", first).unwrap();
        assert_eq!((row.next_run, row.last_run), (first, None));
        let again = store.schedule_check("db1", "pg_xid", clock.now()).unwrap();
        assert_eq!(again.next_run, first, "an existing schedule is kept");
        assert_eq!(store.check_schedules().unwrap(), vec![row.clone()]);
        assert_eq!(store.check_schedule("db1", "pg_xid").unwrap(), Some(row));
        assert_eq!(store.check_schedule("db2", "pg_xid").unwrap(), None);
    }

    #[test]
    fn the_lease_is_a_compare_and_set_and_an_expired_one_is_taken_over() {
        let (store, clock) = testing::store();
        store.schedule_check("db1", "pg_xid", clock.now()).unwrap();
        assert!(store.take_check_lease("db1", "pg_xid", "daemon", TTL, LeaseWhen::Due).unwrap());
        assert!(!store.take_check_lease("db1", "pg_xid", "console", TTL, LeaseWhen::Due).unwrap());
        assert!(!store.take_check_lease("db1", "pg_xid", "console", TTL, LeaseWhen::Now).unwrap());
        // Another database's check is free.
        assert!(store.take_check_lease("db2", "pg_xid", "console", TTL, LeaseWhen::Now).unwrap());
        clock.advance_ms(300_000);
        assert!(store.take_check_lease("db1", "pg_xid", "console", TTL, LeaseWhen::Due).unwrap(), "expired");
        // The first owner's late finish is recorded but does not move the new owner's schedule.
        let late =
            store.finish_check_run("daemon", &run(&store, None), clock.now(), &SeriesRetention::default()).unwrap();
        assert_eq!(late.findings, 1);
        let row = store.check_schedule("db1", "pg_xid").unwrap().unwrap();
        assert_eq!(row.lease_owner.as_deref(), Some("console"));
        assert_eq!(row.last_run, None);
    }

    #[test]
    fn a_finished_run_frees_the_lease_and_moves_the_schedule() {
        let (store, clock) = testing::store();
        store.schedule_check("db1", "pg_xid", clock.now()).unwrap();
        assert!(store.take_check_lease("db1", "pg_xid", "daemon", TTL, LeaseWhen::Due).unwrap());
        let started = store.now();
        clock.advance_ms(1_500);
        let mut failed = run(&store, Some("connection refused"));
        failed.started_at = started;
        let next = clock.now().checked_add(SignedDuration::from_hours(1)).unwrap();
        let row = store.finish_check_run("daemon", &failed, next, &SeriesRetention::default()).unwrap();
        assert_eq!(row.error.as_deref(), Some("connection refused"));
        let schedule = store.check_schedule("db1", "pg_xid").unwrap().unwrap();
        assert_eq!((schedule.last_run, schedule.next_run, schedule.lease_owner), (Some(started), next, None));
        // Not due again until `next`, though nobody holds the lease; a person may still run it.
        assert!(!store.take_check_lease("db1", "pg_xid", "console", TTL, LeaseWhen::Due).unwrap());
        assert!(store.take_check_lease("db1", "pg_xid", "cli", TTL, LeaseWhen::Now).unwrap());
        store.finish_check_run("cli", &run(&store, None), next, &SeriesRetention::default()).unwrap();
        let runs = store.check_runs("db1", "pg_xid", None).unwrap();
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].error, None, "newest first");
        assert_eq!(store.check_runs("db1", "pg_xid", Some(1)).unwrap().len(), 1);
    }
}
