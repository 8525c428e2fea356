//! The scheduler: every check of the pack on every configured database of its engine, each
//! when its `next_run` comes, under bounded concurrency, with its runs recorded in the store.
//!
//! The store is the truth about time: a pair's `next_run` is stored, and computed from the
//! moment a run finishes ([`Schedule::next_run`], with the pair's jitter), so a scheduler that
//! was stopped for a week runs each overdue check once. A run holds the pair's lease
//! ([`Store::take_check_lease`]) from start to record, so another process (a console's engine
//! beside the daemon) never runs the same check on the same database at the same time.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::findings::Finding;
use super::forecast::with_forecasts;
use super::run::{CheckError, CheckOutcome, DEFAULT_LIMITS, run_check};
use crate::policy::CheckPolicy;
use crate::policy::watch::LivePolicies;
use crate::store::{
    CheckRunRow, CheckScheduleRow, LeaseWhen, NewCheckRun, SeriesPoint, SeriesRetention, Store, StoreError,
};
use crate::targets::{DbKind, ReadLimits, Target, TargetError};

/// Where the scheduler gets a connected database from (the engine's connection slots in the
/// daemon, a fresh connect in `sentri checks run`), and where a run's findings go once the run
/// is recorded (the engine opens or folds workflows; a test may keep them).
pub trait TargetSource: Send + Sync + 'static {
    fn target(&self, database: &str) -> impl Future<Output = Result<Arc<Target>, TargetError>> + Send;

    /// Called after a run with findings is recorded. Nothing by default.
    fn found(&self, check: &CheckPolicy, findings: &[Finding]) -> impl Future<Output = ()> + Send {
        let _ = (check, findings);
        async {}
    }
}

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// Runs at once across every database.
    pub max_concurrent: usize,
    /// Runs at once on one database: checks read catalog views, and a busy server should not
    /// get all ten at the same moment.
    pub per_database: usize,
    pub limits: ReadLimits,
    /// Who this scheduler is in the lease (unique per process).
    pub owner: String,
    /// The longest it sleeps between two looks at the schedule (a reloaded pack's new checks).
    pub max_sleep: Duration,
    /// How long the series of check numbers are kept, and at what resolution.
    pub retention: SeriesRetention,
}

impl Default for SchedulerSettings {
    fn default() -> SchedulerSettings {
        SchedulerSettings {
            max_concurrent: 8,
            per_database: 2,
            limits: DEFAULT_LIMITS,
            owner: format!("sentri:{}:{}", std::process::id(), uuid::Uuid::new_v4()),
            max_sleep: Duration::from_secs(60),
            retention: SeriesRetention::default(),
        }
    }
}

/// One (database, check) the scheduler owes runs to.
type Pair = (String, String);

/// The scheduler's state: shared behind an `Arc` by its loop and the runs it spawns.
pub struct Scheduler<S> {
    store: Arc<Store>,
    policies: LivePolicies,
    /// Configured databases and their engines.
    databases: Vec<(String, DbKind)>,
    source: Arc<S>,
    settings: SchedulerSettings,
    overall: Arc<Semaphore>,
    per_database: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Pairs this process is running now, so a tick does not spawn a run the lease would refuse.
    running: Mutex<HashSet<Pair>>,
}

/// What keeps the scheduler from reading or recording its schedule (a run's own failure is
/// recorded with the run instead).
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking store call did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// The result of one run as it was recorded.
#[derive(Debug, Clone)]
pub struct RecordedRun {
    pub run: CheckRunRow,
    pub outcome: Result<CheckOutcome, CheckError>,
}

impl<S: TargetSource> Scheduler<S> {
    pub fn new(
        store: Arc<Store>,
        policies: LivePolicies,
        databases: Vec<(String, DbKind)>,
        source: Arc<S>,
        settings: SchedulerSettings,
    ) -> Arc<Scheduler<S>> {
        Arc::new(Scheduler {
            overall: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            store,
            policies,
            databases,
            source,
            settings,
            per_database: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
        })
    }

    /// Every (database, check) of the pack, each check on the databases of its engine.
    fn pairs(&self) -> Vec<(String, Arc<CheckPolicy>)> {
        let pack = self.policies.snapshot();
        let mut pairs = Vec::new();
        for check in &pack.checks {
            for (database, engine) in &self.databases {
                if *engine == check.engine {
                    pairs.push((database.clone(), Arc::clone(check)));
                }
            }
        }
        pairs
    }

    /// The loop: a tick, then a sleep until the earliest `next_run` (at most `max_sleep`),
    /// until `shutdown`. Runs are spawned on `tracker`, so shutdown waits for them.
    pub async fn run(self: Arc<Self>, tracker: TaskTracker, shutdown: CancellationToken) {
        loop {
            let wait = match self.tick(&tracker).await {
                Ok(Some(next)) => until(self.store.now(), next).min(self.settings.max_sleep),
                Ok(None) => self.settings.max_sleep,
                Err(error) => {
                    warn!(%error, "the check scheduler could not read its schedule; it tries again");
                    self.settings.max_sleep
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Schedules new pairs (first run at now plus the pair's jitter, so a fleet's first round
    /// is spread too), spawns a run for every pair that is due and not running here, and
    /// returns the earliest `next_run` among the rest.
    pub async fn tick(self: &Arc<Self>, tracker: &TaskTracker) -> Result<Option<Timestamp>, SchedulerError> {
        let pairs = self.pairs();
        let store = Arc::clone(&self.store);
        let firsts: Vec<(String, String, Timestamp)> = {
            let now = store.now();
            pairs
                .iter()
                .map(|(database, check)| {
                    let offset = crate::policy::schedule::jitter(database, &check.name, check.schedule.period_at(now));
                    (database.clone(), check.name.clone(), now.saturating_add(offset).unwrap_or(now))
                })
                .collect()
        };
        let rows: Vec<CheckScheduleRow> = blocking(&store, move |store| {
            firsts.iter().map(|(database, check, first)| store.schedule_check(database, check, *first)).collect()
        })
        .await?;
        let now = self.store.now();
        let mut earliest: Option<Timestamp> = None;
        for ((database, check), row) in pairs.into_iter().zip(rows) {
            let pair = (database.clone(), check.name.clone());
            if self.is_running(&pair) {
                continue;
            }
            if row.next_run > now {
                earliest = Some(earliest.map_or(row.next_run, |at| at.min(row.next_run)));
                continue;
            }
            self.running.lock().unwrap_or_else(PoisonError::into_inner).insert(pair.clone());
            let scheduler = Arc::clone(self);
            tracker.spawn(async move {
                let _done = Done { scheduler: &scheduler, pair };
                if let Err(error) = scheduler.run_one(&database, &check, LeaseWhen::Due).await {
                    warn!(%error, database, check = check.name, "a scheduled check could not be recorded");
                }
            });
        }
        Ok(earliest)
    }

    fn is_running(&self, pair: &Pair) -> bool {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).contains(pair)
    }

    fn database_slots(&self, database: &str) -> Arc<Semaphore> {
        let mut slots = self.per_database.lock().unwrap_or_else(PoisonError::into_inner);
        let per = self.settings.per_database.max(1);
        Arc::clone(slots.entry(database.to_owned()).or_insert_with(|| Arc::new(Semaphore::new(per))))
    }

    /// One run of `check` on `database`, if its lease can be taken (`when`): waits for a slot
    /// overall and on the database, runs, records the run and its next time. `Ok(None)` when
    /// another run holds the lease (or, with [`LeaseWhen::Due`], it is no longer due).
    pub async fn run_one(
        &self,
        database: &str,
        check: &CheckPolicy,
        when: LeaseWhen,
    ) -> Result<Option<RecordedRun>, SchedulerError> {
        let overall = self.overall.acquire().await;
        let database_slots = self.database_slots(database);
        let database_slot = database_slots.acquire().await;
        let ttl = SignedDuration::try_from(self.settings.limits.time_limit * 2 + Duration::from_secs(60))
            .unwrap_or(SignedDuration::from_mins(5));
        let owner = self.settings.owner.clone();
        let (db, name) = (database.to_owned(), check.name.clone());
        let taken = blocking(&self.store, move |store| store.take_check_lease(&db, &name, &owner, ttl, when)).await?;
        if !taken {
            debug!(database, check = check.name, "the check is running elsewhere or not due");
            return Ok(None);
        }
        let started_at = self.store.now();
        let outcome = match self.source.target(database).await {
            Ok(target) => run_check(&target, database, check, &self.settings.limits).await,
            Err(source) => Err(CheckError::Connect { source }),
        };
        let finished_at = self.store.now();
        let outcome = match outcome {
            Ok(outcome) => Ok(self.add_forecasts(database, check, started_at, outcome).await?),
            Err(error) => Err(error),
        };
        let (rows, findings) = match &outcome {
            Ok(outcome) => (outcome.rows as u64, outcome.findings.len() as u64),
            Err(_) => (0, 0),
        };
        let record = NewCheckRun {
            database: database.to_owned(),
            check: check.name.clone(),
            started_at,
            finished_at,
            error: outcome.as_ref().err().map(ToString::to_string),
            rows,
            findings,
            samples: outcome.as_ref().map(|outcome| outcome.samples.clone()).unwrap_or_default(),
        };
        let next_run = check.schedule.next_run(finished_at, database, &check.name);
        let owner = self.settings.owner.clone();
        let retention = self.settings.retention;
        let run =
            blocking(&self.store, move |store| store.finish_check_run(&owner, &record, next_run, &retention)).await?;
        // The slots are for reading the database; what the findings lead to (a workflow driven
        // as far as it goes) does not hold up other checks.
        drop((overall, database_slot));
        if let Ok(outcome) = &outcome
            && !outcome.findings.is_empty()
        {
            self.source.found(check, &outcome.findings).await;
        }
        Ok(Some(RecordedRun { run, outcome }))
    }

    /// `outcome`'s findings with its urgent forecasts: each object's stored series over the
    /// check's window, with this run's value (measured at `at`) as its newest point.
    async fn add_forecasts(
        &self,
        database: &str,
        check: &CheckPolicy,
        at: Timestamp,
        mut outcome: CheckOutcome,
    ) -> Result<CheckOutcome, SchedulerError> {
        let Some(spec) = check.forecast.clone() else { return Ok(outcome) };
        let since = at.checked_sub(spec.window).unwrap_or(Timestamp::MIN);
        let (db, name) = (database.to_owned(), check.name.clone());
        let objects: Vec<String> = outcome.measured.iter().map(|measured| measured.object.clone()).collect();
        let metric = spec.metric.clone();
        let mut stored: HashMap<String, Vec<SeriesPoint>> = blocking(&self.store, move |store| {
            objects
                .into_iter()
                .map(|object| Ok((object.clone(), store.series(&db, &name, &object, &metric, since)?)))
                .collect()
        })
        .await?;
        for sample in outcome.samples.iter().filter(|sample| sample.metric == spec.metric) {
            stored.entry(sample.object.clone()).or_default().push(SeriesPoint {
                at,
                value: sample.value,
                resolution: 0,
            });
        }
        let findings = std::mem::take(&mut outcome.findings);
        outcome.findings = with_forecasts(check, database, findings, &outcome.measured, |object| {
            stored.remove(object).unwrap_or_default()
        });
        Ok(outcome)
    }
}

/// Takes a pair off the running set when its run ends, however it ends.
struct Done<'a, S> {
    scheduler: &'a Scheduler<S>,
    pair: Pair,
}

impl<S> Drop for Done<'_, S> {
    fn drop(&mut self) {
        self.scheduler.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.pair);
    }
}

/// How long from `now` until `at` (zero if it has passed).
fn until(now: Timestamp, at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
}

/// Runs a store call on the blocking pool.
async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, SchedulerError> {
    let store = Arc::clone(store);
    Ok(tokio::task::spawn_blocking(move || f(&store)).await??)
}

#[cfg(test)]
mod tests {
    //! On tokio's paused clock, with the store's clock following it, so hours pass at once.
    //! The databases are unreachable (no server is needed to test *when* checks run): each run
    //! is recorded with its connect error, as a real outage would be.

    use super::*;
    use crate::targets::ErrorKind;

    const HOURLY: &str = "---\nengine: postgres\nschedule: hourly\n---\n## Health Query\n```sql\nSELECT 1 AS x\n```\n## Threshold\n- x: 0\n";

    /// Every database refuses, after `delay` (a slow connect holds the lease that long).
    struct Unreachable {
        delay: Duration,
    }

    impl TargetSource for Unreachable {
        async fn target(&self, database: &str) -> Result<Arc<Target>, TargetError> {
            tokio::time::sleep(self.delay).await;
            Err(TargetError::new(database, ErrorKind::Unreachable, "connection refused"))
        }
    }

    struct Fixture {
        store: Arc<Store>,
        policies: LivePolicies,
        _home: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(home.path().join("checks/postgres")).unwrap();
        std::fs::write(home.path().join("checks/postgres/hourly_probe.md"), HOURLY).unwrap();
        let policies = LivePolicies::load(home.path());
        assert_eq!(policies.snapshot().checks.len(), 1, "{:?}", policies.snapshot().problems);
        let base: Timestamp = "2026-11-25T01:00:00Z".parse().unwrap();
        let start = tokio::time::Instant::now();
        let clock = move || {
            let elapsed = SignedDuration::try_from(start.elapsed()).unwrap_or(SignedDuration::ZERO);
            base.saturating_add(elapsed).unwrap_or(base)
        };
        Fixture { store: Arc::new(Store::with_clock(Arc::new(clock)).unwrap()), policies, _home: home }
    }

    fn scheduler(fixture: &Fixture, databases: &[&str], delay: Duration, owner: &str) -> Arc<Scheduler<Unreachable>> {
        let databases = databases.iter().map(|name| ((*name).to_owned(), DbKind::Postgres)).collect();
        let settings = SchedulerSettings { owner: owner.to_owned(), ..SchedulerSettings::default() };
        Scheduler::new(
            Arc::clone(&fixture.store),
            fixture.policies.clone(),
            databases,
            Arc::new(Unreachable { delay }),
            settings,
        )
    }

    fn runs(fixture: &Fixture, database: &str) -> Vec<CheckRunRow> {
        fixture.store.check_runs(database, "hourly_probe", None).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn first_runs_are_spread_by_jitter_and_then_follow_the_period() {
        let fixture = fixture();
        let names: Vec<String> = (0..50).map(|n| format!("db{n:02}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let scheduler = scheduler(&fixture, &names, Duration::ZERO, "daemon");
        let tracker = TaskTracker::new();
        let start = fixture.store.now();
        let earliest = scheduler.tick(&tracker).await.unwrap().expect("all scheduled ahead");
        let firsts: HashSet<Timestamp> =
            fixture.store.check_schedules().unwrap().iter().map(|row| row.next_run).collect();
        assert!(firsts.len() > 45, "50 databases, {} distinct first runs", firsts.len());
        assert!(firsts.iter().all(|at| *at >= start && at.duration_since(start) < SignedDuration::from_mins(6)));
        assert_eq!(Some(&earliest), firsts.iter().min());

        let shutdown = CancellationToken::new();
        tracker.spawn(Arc::clone(&scheduler).run(tracker.clone(), shutdown.clone()));
        tokio::time::sleep(Duration::from_secs(2 * 3600 + 20 * 60)).await;
        shutdown.cancel();
        tracker.close();
        tracker.wait().await;
        for name in &names {
            let runs = runs(&fixture, name);
            assert_eq!(runs.len(), 3, "{name}: the first run and one per hour after it");
            assert!(runs[0].error.as_deref().is_some_and(|e| e.contains("connection refused")), "{:?}", runs[0]);
            let gap = runs[0].started_at.duration_since(runs[1].started_at);
            let jitter = crate::policy::schedule::jitter(name, "hourly_probe", SignedDuration::from_hours(1));
            assert!(
                (gap - SignedDuration::from_hours(1) - jitter).abs() < SignedDuration::from_secs(2),
                "{name}: {gap:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn after_downtime_a_missed_check_runs_once() {
        let fixture = fixture();
        let scheduler = scheduler(&fixture, &["db1"], Duration::ZERO, "daemon");
        let tracker = TaskTracker::new();
        scheduler.tick(&tracker).await.unwrap();
        tokio::time::advance(Duration::from_secs(600)).await;
        scheduler.tick(&tracker).await.unwrap();
        tracker.close();
        tracker.wait().await;
        assert_eq!(runs(&fixture, "db1").len(), 1);

        // A week down: 168 hourly slots missed.
        tokio::time::advance(Duration::from_secs(7 * 86_400)).await;
        let tracker = TaskTracker::new();
        scheduler.tick(&tracker).await.unwrap();
        tracker.close();
        tracker.wait().await;
        let tracker = TaskTracker::new();
        let next = scheduler.tick(&tracker).await.unwrap().expect("scheduled ahead");
        assert_eq!(runs(&fixture, "db1").len(), 2, "one catch-up run, not 168");
        let ahead = next.duration_since(fixture.store.now());
        assert!(ahead > SignedDuration::from_mins(59) && ahead < SignedDuration::from_mins(67), "{ahead:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn two_processes_never_run_one_check_on_one_database_at_once() {
        let fixture = fixture();
        let daemon = scheduler(&fixture, &["db1"], Duration::from_secs(30), "daemon");
        let console = scheduler(&fixture, &["db1"], Duration::from_secs(30), "console");
        let tracker = TaskTracker::new();
        daemon.tick(&tracker).await.unwrap();
        tokio::time::advance(Duration::from_secs(600)).await;
        daemon.tick(&tracker).await.unwrap();
        console.tick(&tracker).await.unwrap();
        // The daemon's run is in its slow connect; a person's run now is refused too.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let check = Arc::clone(&fixture.policies.snapshot().checks[0]);
        assert!(console.run_one("db1", &check, LeaseWhen::Now).await.unwrap().is_none());
        tracker.close();
        tracker.wait().await;
        let runs = runs(&fixture, "db1");
        assert_eq!(runs.len(), 1, "{runs:?}");
        // Once it has finished, a person may run it at once; the schedule is not due.
        let recorded = console.run_one("db1", &check, LeaseWhen::Now).await.unwrap().expect("ran");
        assert!(matches!(recorded.outcome, Err(CheckError::Connect { .. })));
        assert!(console.run_one("db1", &check, LeaseWhen::Due).await.unwrap().is_none());
    }
}
