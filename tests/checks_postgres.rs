//! Check runs against the harness's real PostgreSQL (tests/common/postgres.rs), each test on its
//! own database: rows over a threshold are findings and rows at or under it are not; a health
//! query with a side effect is refused by the read-only path and recorded as the run's error;
//! a query past its time limit is stopped and recorded; a run is recorded with its lease freed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::postgres::{admin, database_config, fresh_database};
use sentri::checks::{CheckError, Scheduler, SchedulerSettings, TargetSource, run_check};
use sentri::policy::watch::LivePolicies;
use sentri::store::{LeaseWhen, Store};
use sentri::targets::{ConnectOptions, DbKind, ReadLimits, Target, TargetError};

/// Connects for real, on every run, to the test's database.
struct Connect {
    database: String,
}

impl TargetSource for Connect {
    async fn target(&self, _database: &str) -> Result<Arc<Target>, TargetError> {
        let options = ConnectOptions {
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(10),
            pool_size: 1,
        };
        Target::connect(&database_config(&self.database), &options).await.map(Arc::new)
    }
}

fn check_file(query: &str, thresholds: &str) -> String {
    format!(
        "---\nengine: postgres\nschedule: hourly\n---\n## Health Query\n```sql\n{query}\n```\n## Threshold\n{thresholds}\n"
    )
}

/// A pack of the given checks (`name`, file text) and the store and scheduler over it.
fn pack(checks: &[(&str, String)]) -> (tempfile::TempDir, LivePolicies) {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("checks/postgres")).unwrap();
    for (name, text) in checks {
        std::fs::write(home.path().join(format!("checks/postgres/{name}.md")), text).unwrap();
    }
    let policies = LivePolicies::load(home.path());
    assert_eq!(policies.snapshot().checks.len(), checks.len(), "{:?}", policies.snapshot().problems);
    (home, policies)
}

async fn fixture_database() -> String {
    let db = fresh_database().await;
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE usage (name text, used_pct numeric, files int4);
             INSERT INTO usage VALUES ('USERS', 97.5, 3), ('TEMP', 85, 1), ('DATA', 85.01, 2), ('IDLE', NULL, 9);
             CREATE SEQUENCE s;",
        )
        .await
        .expect("fixture");
    db
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_strictly_over_a_threshold_are_findings() {
    let db = fixture_database().await;
    let (_home, policies) = pack(&[
        ("space", check_file("SELECT name, used_pct, files FROM usage ORDER BY name", "- used_pct: 85\n- files: 8")),
        ("calm", check_file("SELECT name, used_pct FROM usage WHERE used_pct < 90", "- used_pct: 99")),
    ]);
    let source = Connect { database: db.clone() };
    let target = source.target(&db).await.expect("connects");
    let limits = ReadLimits { time_limit: Duration::from_secs(10), max_rows: 100 };
    let pack = policies.snapshot();
    let space = pack.checks.iter().find(|c| c.name == "space").unwrap();
    let outcome = run_check(&target, &db, space, &limits).await.expect("runs");
    assert_eq!(outcome.rows, 4);
    let names: Vec<_> = outcome.findings.iter().map(|f| f.row["name"].as_str()).collect();
    assert_eq!(names, ["DATA", "IDLE", "USERS"], "85 is not over 85; IDLE is over on files");
    let calm = pack.checks.iter().find(|c| c.name == "calm").unwrap();
    let outcome = run_check(&target, &db, calm, &limits).await.expect("runs");
    assert_eq!((outcome.rows, outcome.findings.len()), (2, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn side_effects_and_slow_queries_are_recorded_as_the_runs_errors() {
    let db = fixture_database().await;
    let (_home, policies) = pack(&[
        ("sneaky", check_file("SELECT nextval('s') AS n", "- n: 0")),
        ("slow", check_file("SELECT pg_sleep(5) IS NULL AS slept, 1 AS x", "- x: 0")),
        ("space", check_file("SELECT name, used_pct FROM usage", "- used_pct: 90")),
    ]);
    let store = Arc::new(Store::open_in_memory().unwrap());
    let settings = SchedulerSettings {
        limits: ReadLimits { time_limit: Duration::from_secs(1), max_rows: 100 },
        owner: "test".into(),
        ..SchedulerSettings::default()
    };
    let scheduler = Scheduler::new(
        Arc::clone(&store),
        policies.clone(),
        vec![(db.clone(), DbKind::Postgres)],
        Arc::new(Connect { database: db.clone() }),
        settings,
    );
    let pack = policies.snapshot();
    let by_name = |name: &str| Arc::clone(pack.checks.iter().find(|c| c.name == name).unwrap());

    let sneaky = scheduler.run_one(&db, &by_name("sneaky"), LeaseWhen::Now).await.unwrap().expect("ran");
    assert!(matches!(sneaky.outcome, Err(CheckError::Query { .. })), "{:?}", sneaky.outcome);
    assert!(sneaky.run.error.as_deref().is_some_and(|e| e.contains("health query failed")), "{:?}", sneaky.run);
    let value: i64 = admin(&db).await.query_one("SELECT last_value FROM s", &[]).await.unwrap().get(0);
    assert_eq!(value, 1, "nextval never ran (the sequence was not advanced)");

    let started = std::time::Instant::now();
    let slow = scheduler.run_one(&db, &by_name("slow"), LeaseWhen::Now).await.unwrap().expect("ran");
    assert!(slow.outcome.is_err(), "{:?}", slow.outcome);
    assert!(started.elapsed() < Duration::from_secs(4), "stopped at its limit, not after 5 s");

    let space = scheduler.run_one(&db, &by_name("space"), LeaseWhen::Now).await.unwrap().expect("ran");
    assert_eq!((space.run.rows, space.run.findings, space.run.error.clone()), (4, 1, None));
    let schedule = store.check_schedule(&db, "space").unwrap().expect("scheduled");
    assert_eq!(schedule.lease_owner, None, "the lease is freed");
    assert!(schedule.next_run > space.run.finished_at, "next hour, from when it finished");
    assert_eq!(store.check_runs(&db, "sneaky", None).unwrap().len(), 1);
}
