//! The check scheduler at fleet scale: 500 databases in the harness's PostgreSQL cluster, ten of
//! the default pack's PostgreSQL checks on each, one scheduler (the daemon's, with its default
//! concurrency: 8 runs at once, 2 per database) recording into one store. A round is every
//! (database, check) run once. Prints how long a round takes, Sentri's CPU per round, its peak
//! RSS against a bound, and the store's growth per day at the default retention.
//!
//! Connections: the daemon keeps one per database, but 500 databases on one test server would
//! exceed its `max_connections`, so here each run opens its own and closes it (at most 8 at a
//! time). That makes a round slower than the daemon's, not faster.
//!
//! Run with `cargo bench --bench checks_scale` (needs PostgreSQL, like the tests; creating the
//! databases takes a minute). `SENTRI_BENCH_DATABASES` changes the fleet size.

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::postgres::{admin, database_config};
use sentri::checks::{Scheduler, SchedulerSettings, TargetSource};
use sentri::policy::watch::LivePolicies;
use sentri::store::{LeaseWhen, Store};
use sentri::targets::{ConnectOptions, DbKind, Target, TargetError};

const CHECKS: [&str; 10] = [
    "pg_dead_tuples_bloat",
    "pg_xid_wraparound_risk",
    "pg_unused_indexes",
    "pg_sequence_headroom",
    "pg_stale_stats",
    "pg_connections_headroom",
    "pg_idle_transactions",
    "pg_replication_slots",
    "pg_cache_hit_ratio",
    "pg_database_size",
];
const ROUNDS: usize = 3;
/// The peak RSS Sentri's side must stay under at this scale.
const RSS_BOUND_MIB: f64 = 256.0;

/// A fresh connection per run (see the module's note on connections).
struct Connect;

impl TargetSource for Connect {
    async fn target(&self, database: &str) -> Result<Arc<Target>, TargetError> {
        let options = ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(60),
            pool_size: 1,
        };
        Target::connect(&database_config(database), &options).await.map(Arc::new)
    }
}

/// User plus system CPU of this process so far, and its peak RSS in MiB.
fn usage() -> (Duration, f64) {
    // SAFETY: getrusage writes into the struct it is given and nothing else.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; RUSAGE_SELF is always valid.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let time = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, (tv.tv_usec as u32) * 1000);
    (time(usage.ru_utime) + time(usage.ru_stime), usage.ru_maxrss as f64 / 1024.0)
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("SENTRI_BENCH_DATABASES").ok().and_then(|n| n.parse().ok()).unwrap_or(500);
    let started = Instant::now();
    let names = create_fleet(count).await;
    println!("{count} databases created in {:.1} s", started.elapsed().as_secs_f64());

    let home = tempfile::tempdir().expect("home");
    sentri::home::Home::at(home.path()).init(false).expect("init");
    for entry in std::fs::read_dir(home.path().join("checks/postgres")).expect("checks") {
        let path = entry.expect("entry").path();
        let name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        if !CHECKS.contains(&name.as_str()) {
            std::fs::remove_file(&path).expect("remove");
        }
    }
    std::fs::remove_dir_all(home.path().join("checks/oracle")).expect("no oracle checks");
    let policies = LivePolicies::load(home.path());
    let pack = policies.snapshot();
    assert_eq!(pack.checks.len(), CHECKS.len(), "{:?}", pack.problems);
    let store_path = home.path().join("sentri.db");
    let store = Arc::new(Store::open(&store_path).expect("store"));
    let databases: Vec<(String, DbKind)> = names.iter().map(|name| (name.clone(), DbKind::Postgres)).collect();
    let settings = SchedulerSettings { owner: "bench".into(), ..SchedulerSettings::default() };
    let scheduler = Scheduler::new(Arc::clone(&store), policies.clone(), databases, Arc::new(Connect), settings);

    let mut round_times = Vec::new();
    let mut cpu_per_round = Vec::new();
    let mut errors = 0usize;
    let mut findings = 0u64;
    let mut size_before = 0;
    let mut samples_before = 0;
    for round in 0..ROUNDS {
        if round == 1 {
            // Growth is measured from the second round on: the first also names every series.
            size_before = used_bytes(&store_path);
            samples_before = store.sample_count().expect("samples");
        }
        let (cpu_start, _) = usage();
        let start = Instant::now();
        let mut runs = tokio::task::JoinSet::new();
        for name in &names {
            for check in &pack.checks {
                let (scheduler, name, check) = (Arc::clone(&scheduler), name.clone(), Arc::clone(check));
                runs.spawn(async move { scheduler.run_one(&name, &check, LeaseWhen::Now).await });
            }
        }
        while let Some(result) = runs.join_next().await {
            match result.expect("joined").expect("recorded") {
                Some(recorded) if recorded.run.error.is_none() => findings += recorded.run.findings,
                Some(recorded) => {
                    if errors == 0 {
                        eprintln!(
                            "first error: {} {}: {:?}",
                            recorded.run.database, recorded.run.check, recorded.run.error
                        );
                    }
                    errors += 1;
                }
                None => errors += 1,
            }
        }
        round_times.push(start.elapsed());
        cpu_per_round.push(usage().0 - cpu_start);
    }
    let (_, peak_rss) = usage();
    let measured = (ROUNDS - 1) as f64;
    let samples_per_round = (store.sample_count().expect("samples") - samples_before) as f64 / measured;
    let bytes_per_round = used_bytes(&store_path).saturating_sub(size_before) as f64 / measured;

    // A day at the checks' own schedules: each pair runs 24, 4, 1 or 1/7 times.
    let per_day: Vec<f64> =
        pack.checks.iter().map(|check| 86_400.0 / check.schedule.period_at(store.now()).as_secs_f64()).collect();
    let databases = names.len() as f64;
    let runs_per_day = per_day.iter().sum::<f64>() * databases;
    let pairs = (names.len() * pack.checks.len()) as f64;
    let per_run_bytes = bytes_per_round / pairs;
    let per_run_samples = samples_per_round / pairs;
    let day_bytes = per_run_bytes * runs_per_day;
    // Once retention is in force: a week of raw points, an hourly point (at most) per series
    // for the rest of 90 days, a daily one for two years, and 90 days of run rows. A row of
    // either kind is counted at the measured bytes per run divided among its rows: an estimate.
    let raw: f64 = per_day.iter().map(|runs| databases * runs * per_run_samples * 7.0).sum();
    let hourly: f64 = per_day.iter().map(|runs| databases * per_run_samples * runs.min(24.0) * 83.0).sum();
    let daily: f64 = per_day.iter().map(|runs| databases * per_run_samples * runs.min(1.0) * 640.0).sum();
    let run_rows = runs_per_day * 90.0;
    let bytes_per_row = per_run_bytes / (per_run_samples + 1.0);
    let steady_mib = (raw + hourly + daily + run_rows) * bytes_per_row / 1_048_576.0;

    let seconds: Vec<f64> = round_times.iter().map(Duration::as_secs_f64).collect();
    println!(
        "checks_scale: {} databases × {} checks = {} runs a round, {} rounds",
        names.len(),
        pack.checks.len(),
        pairs,
        ROUNDS
    );
    println!("  round time          {}", seconds.iter().map(|s| format!("{s:.1} s")).collect::<Vec<_>>().join(", "));
    println!(
        "  Sentri CPU / round  {}",
        cpu_per_round.iter().map(|cpu| format!("{:.1} s", cpu.as_secs_f64())).collect::<Vec<_>>().join(", ")
    );
    println!(
        "  peak RSS            {peak_rss:.1} MiB (bound {RSS_BOUND_MIB} MiB: {})",
        if peak_rss <= RSS_BOUND_MIB { "within" } else { "OVER" }
    );
    println!("  runs with an error  {errors}; findings {findings}");
    println!("  samples per run     {per_run_samples:.2}; store bytes per run {per_run_bytes:.0}");
    println!(
        "  store growth / day  {:.1} MiB at the checks' schedules ({runs_per_day:.0} runs a day)",
        day_bytes / 1_048_576.0
    );
    println!(
        "  store at retention  about {steady_mib:.0} MiB ({:.1} M points: {:.1} M raw, {:.1} M hourly, {:.1} M daily; {:.1} M run rows)",
        (raw + hourly + daily) / 1e6,
        raw / 1e6,
        hourly / 1e6,
        daily / 1e6,
        run_rows / 1e6
    );
}

/// The bytes the store's pages hold, the write-ahead log checkpointed into them first (the
/// WAL file's size says how much was written lately, not how much is kept).
fn used_bytes(path: &std::path::Path) -> u64 {
    let connection = rusqlite::Connection::open(path).expect("a second connection");
    let pragma = |name: &str| -> u64 {
        connection.query_row(&format!("PRAGMA {name}"), [], |row| row.get::<_, i64>(0)).map_or(0, |n| n.max(0) as u64)
    };
    let _ = connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    (pragma("page_count") - pragma("freelist_count")) * pragma("page_size")
}

/// `count` databases cloned from one template with a few tables, sequences and indexes each,
/// so every check has rows to read.
async fn create_fleet(count: usize) -> Vec<String> {
    let template = common::postgres::fresh_database().await;
    admin(&template)
        .await
        .batch_execute(
            "CREATE TABLE orders (id serial PRIMARY KEY, customer int, note text);
             CREATE INDEX orders_customer ON orders (customer);
             CREATE INDEX orders_customer_again ON orders (customer);
             INSERT INTO orders (customer, note) SELECT g % 100, md5(g::text) FROM generate_series(1, 2000) g;
             DELETE FROM orders WHERE id % 3 = 0;
             CREATE TABLE events (id bigserial PRIMARY KEY, at timestamptz DEFAULT now());
             CREATE SEQUENCE tickets AS integer;",
        )
        .await
        .expect("template");
    let postgres = admin("postgres").await;
    let mut names = Vec::with_capacity(count);
    for n in 0..count {
        let name = format!("{template}_f{n:03}");
        // The template's last session may still be closing: CREATE DATABASE refuses a template
        // in use, so try again for a few seconds.
        let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        let mut tries = 0;
        while let Err(error) = postgres.batch_execute(&create).await {
            tries += 1;
            assert!(tries < 50, "{error}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        names.push(name);
    }
    names
}
