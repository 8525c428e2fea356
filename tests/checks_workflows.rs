//! Findings become workflows, and space-like series are forecast, against the harness's real
//! PostgreSQL (tests/common/postgres.rs):
//! - a check naming a `fix_policy` is verified and fixed by that alert policy, in DEV at once,
//!   and the database really changes;
//! - a check without one is verified by its own query narrowed to the object and escalated with
//!   the evidence; its next finding on the same object folds into that workflow;
//! - a table filled at a steady rate while its check runs is forecast to reach its limit, and
//!   then, filled on at the same rate, it really does reach it inside the forecast's interval.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sentri::checks::{Scheduler, SchedulerSettings, Urgency};
use sentri::config::Config;
use sentri::domain::WorkflowState;
use sentri::engine::{Engine, EngineSettings};
use sentri::home::Home;
use sentri::policy::watch::LivePolicies;
use sentri::store::workflows::WorkflowFilter;
use sentri::store::{AuditFilter, Clock, LeaseWhen, Store};
use sentri::targets::{ConnectOptions, DbKind};

use common::postgres;

/// A home with the default pack plus `checks` (name, text) under checks/postgres/, an engine
/// over it for the one database `app` in `environment`, and a scheduler that reaches the
/// database through that engine (so its findings go to the engine, as in the daemon).
struct Setup {
    _dir: tempfile::TempDir,
    store: Arc<Store>,
    policies: LivePolicies,
    scheduler: Arc<Scheduler<Engine>>,
    dbname: String,
}

async fn setup(environment: &str, checks: &[(&str, &str)], clock: Option<Clock>) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path().join("home"));
    home.init(false).expect("init");
    for (name, text) in checks {
        std::fs::write(home.root.join(format!("checks/postgres/{name}.md")), text).expect("check file");
    }
    let dbname = postgres::fresh_database().await;
    let yaml = format!(
        "databases:\n  - name: app\n    engine: postgres\n    environment: {environment}\n    connection_string: \"{}\"\n    username: postgres\n",
        postgres::connection_string(&dbname)
    );
    let env = |var: &str| (var == "SENTRI_DB_APP_PASSWORD").then(|| postgres::SUPERUSER_PASSWORD.to_owned());
    let config = Config::from_yaml(&yaml, Path::new("sentri.yaml"), &env).expect("config").config;
    let policies = LivePolicies::load(&home.root);
    let problems: Vec<_> = policies.snapshot().errors().map(ToString::to_string).collect();
    assert!(problems.is_empty(), "{problems:?}");
    let store = match clock {
        Some(clock) => Store::open_with_clock(home.database_file(), clock),
        None => Store::open(home.database_file()),
    };
    let store = Arc::new(store.expect("store"));
    let engine = Engine::new(&EngineSettings {
        store: Arc::clone(&store),
        policies: policies.clone(),
        config: Arc::new(config),
        connect: ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(20),
            pool_size: 2,
        },
        sweep_interval: Duration::from_secs(3600),
        shutdown_deadline: Duration::from_secs(10),
        mailbox: false,
        notifier: false,
        watch_policies: false,
        checks: false,
    });
    let settings = SchedulerSettings { owner: "test".into(), ..SchedulerSettings::default() };
    let scheduler = Scheduler::new(
        Arc::clone(&store),
        policies.clone(),
        vec![("app".to_owned(), DbKind::Postgres)],
        engine,
        settings,
    );
    Setup { _dir: dir, store, policies, scheduler, dbname }
}

impl Setup {
    async fn run(&self, check: &str) -> sentri::checks::RecordedRun {
        let pack = self.policies.snapshot();
        let check = pack.checks.iter().find(|c| c.name == check).expect("the check is loaded");
        self.scheduler.run_one("app", check, LeaseWhen::Now).await.expect("recorded").expect("ran")
    }

    fn workflows(&self, alert_type: &str) -> Vec<sentri::store::workflows::WorkflowRow> {
        let all = self.store.list_workflows(&WorkflowFilter::default()).expect("workflows");
        all.into_iter().filter(|workflow| workflow.alert_type == alert_type).collect()
    }
}

/// Sequence headroom, fixed by the default pack's `pg_sequence_exhaustion` policy: the query's
/// columns are that policy's fields.
const SEQUENCE_CHECK: &str = "---\nengine: postgres\nseverity: HIGH\nschedule: hourly\nobject: [schema_name, sequence_name]\nfix_policy: pg_sequence_exhaustion\n---\n## Health Query\n```sql\nSELECT schemaname AS schema_name, sequencename AS sequence_name,\n       round(100.0 * (coalesce(last_value, min_value) - min_value) / nullif(max_value - min_value, 0), 2) AS used_percent\nFROM pg_sequences WHERE increment_by > 0 ORDER BY 3 DESC NULLS LAST\n```\n## Threshold\n- used_percent: 85, critical 95\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_with_a_fix_policy_is_fixed_like_the_alert_it_names() {
    let setup = setup("DEV", &[("seq_headroom", SEQUENCE_CHECK)], None).await;
    let admin = postgres::admin(&setup.dbname).await;
    admin
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);
             CREATE SEQUENCE public.calm_seq AS integer;",
        )
        .await
        .expect("sequences");

    let run = setup.run("seq_headroom").await;
    let findings = &run.outcome.as_ref().expect("ran").findings;
    assert_eq!(findings.len(), 1, "only the sequence at 93 %: {findings:?}");
    assert_eq!(findings[0].object, "public.orders_id_seq");

    let workflows = setup.workflows("check:seq_headroom");
    assert_eq!(workflows.len(), 1);
    let workflow = &workflows[0];
    let history: Vec<String> = setup
        .store
        .workflow_transitions(&workflow.id)
        .expect("history")
        .iter()
        .map(|t| format!("{}→{}: {}", t.from, t.to, t.reason))
        .collect();
    assert_eq!(workflow.state, WorkflowState::Completed, "{history:#?}");
    assert_eq!(workflow.fields["sequence_name"], "orders_id_seq");
    let data_type: String = admin
        .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
        .await
        .expect("sequence")
        .get(0);
    assert_eq!(data_type, "bigint", "the database really changed");

    let again = setup.run("seq_headroom").await;
    assert_eq!(again.run.findings, 0, "the fix took the sequence out of danger");
}

/// Rows in a table, over 100: no fix, so an escalation with the evidence.
const ROWS_CHECK: &str = "---\nengine: postgres\nseverity: MEDIUM\nschedule: daily\nobject: table_name\nroutes_to: storage_agent\n---\n## Health Query\n```sql\nSELECT 'ledger' AS table_name, count(*) AS row_count FROM ledger\n```\n## Threshold\n- row_count: 100\n## Recommended Action\nArchive the oldest rows of the ledger.\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_without_a_fix_is_escalated_with_its_evidence_and_repeats_fold() {
    let setup = setup("DEV", &[("ledger_rows", ROWS_CHECK)], None).await;
    let admin = postgres::admin(&setup.dbname).await;
    admin
        .batch_execute("CREATE TABLE ledger (n int); INSERT INTO ledger SELECT generate_series(1, 150);")
        .await
        .expect("ledger");

    setup.run("ledger_rows").await;
    let workflows = setup.workflows("check:ledger_rows");
    assert_eq!(workflows.len(), 1);
    let workflow = &workflows[0];
    let transitions = setup.store.workflow_transitions(&workflow.id).expect("history");
    let history: Vec<String> = transitions.iter().map(|t| format!("{}→{}: {}", t.from, t.to, t.reason)).collect();
    assert_eq!(workflow.state, WorkflowState::Escalated, "{history:#?} {:?}", workflow.plan);
    let verification = workflow.verification.as_ref().expect("verified on the live database");
    assert_eq!(verification.evidence.get("row_count").map(String::as_str), Some("150"));
    let last = transitions.last().expect("a transition");
    assert!(last.reason.contains("Archive the oldest rows"), "escalated with the recommended action: {}", last.reason);

    admin.batch_execute("INSERT INTO ledger SELECT generate_series(1, 50);").await.expect("more rows");
    setup.run("ledger_rows").await;
    assert_eq!(setup.workflows("check:ledger_rows").len(), 1, "the repeat folds into the open escalation");
    let filter = AuditFilter { workflow_id: Some(workflow.id.to_string()), ..AuditFilter::default() };
    let audit = setup.store.list_audit(&filter).expect("audit");
    let folded: Vec<_> = audit.iter().filter(|row| row.action == "FINDING_FOLDED").collect();
    assert_eq!(folded.len(), 1);
    assert!(folded[0].detail.to_string().contains("200"), "{}", folded[0].detail);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finding_that_no_longer_holds_on_the_live_database_is_not_confirmed() {
    let setup = setup("DEV", &[("ledger_rows", ROWS_CHECK)], None).await;
    let admin = postgres::admin(&setup.dbname).await;
    admin
        .batch_execute("CREATE TABLE ledger (n int); INSERT INTO ledger SELECT generate_series(1, 10);")
        .await
        .unwrap();
    let run = setup.run("ledger_rows").await;
    assert_eq!(run.run.findings, 0, "10 rows is under 100");
    assert!(setup.workflows("check:ledger_rows").is_empty(), "no finding, no workflow");
}

/// The size of one table, forecast against a fixed limit.
const GROWTH_CHECK: &str = "---\nengine: postgres\nseverity: MEDIUM\nschedule: hourly\nobject: table_name\n---\n## Health Query\n```sql\nSELECT 'filling' AS table_name, round(pg_total_relation_size('filling') / 1048576.0, 3) AS size_mb\n```\n## Threshold\n- size_mb: 1000\n## Forecast\n- metric: size_mb\n- limit: 40\n- window: 7d\n";

/// Adds about one megabyte to `filling`: 120 rows of 8 kB of incompressible text.
async fn fill_one_step(client: &tokio_postgres::Client) {
    client
        .batch_execute(
            "INSERT INTO filling SELECT string_agg(md5(random()::text || i::text || j::text), '')
             FROM generate_series(1, 120) i, generate_series(1, 240) j GROUP BY i",
        )
        .await
        .expect("filling");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filling_table_is_forecast_full_and_then_fills_inside_the_interval() {
    // The store's clock moves an hour between runs: the table grows about 1 MB an hour.
    let start = jiff::Timestamp::from_second(1_800_000_000).expect("a time");
    let now = Arc::new(AtomicI64::new(start.as_second()));
    let reading = Arc::clone(&now);
    let clock: Clock = Arc::new(move || {
        jiff::Timestamp::from_second(reading.load(Ordering::SeqCst)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    });
    let setup = setup("DEV", &[("growth", GROWTH_CHECK)], Some(clock)).await;
    let admin = postgres::admin(&setup.dbname).await;
    // Out of line storage off, so the heap grows by whole rows, steadily.
    admin
        .batch_execute("CREATE TABLE filling (payload text); ALTER TABLE filling ALTER payload SET STORAGE PLAIN;")
        .await
        .expect("table");
    admin.batch_execute("ALTER TABLE filling SET (autovacuum_enabled = off)").await.expect("autovacuum off");

    let hour = 3_600;
    let mut forecast = None;
    for _ in 0..10 {
        fill_one_step(&admin).await;
        let run = setup.run("growth").await;
        let findings = &run.outcome.as_ref().expect("ran").findings;
        forecast = findings.iter().find_map(|finding| finding.forecast.clone()).or(forecast);
        now.fetch_add(hour, Ordering::SeqCst);
    }
    let forecast = forecast.expect("a table growing a megabyte an hour towards 40 MB is forecast full within 7 days");
    assert_eq!(forecast.points, 10);
    assert!((forecast.per_day - 24.0).abs() < 6.0, "about 1 MB an hour: {forecast:?}");
    assert_eq!(forecast.urgency, Some(Urgency::Warning), "{forecast:?}");
    let high = forecast.days_high.expect("a bounded interval");

    // Filled on at the same rate, it really reaches 40 MB: count the hours.
    let mut hours = 0;
    loop {
        let size: f64 = admin
            .query_one("SELECT (pg_total_relation_size('filling') / 1048576.0)::float8 AS mb", &[])
            .await
            .expect("size")
            .get::<_, f64>(0);
        if size >= 40.0 {
            break;
        }
        fill_one_step(&admin).await;
        hours += 1;
        assert!(hours < 200, "it never filled");
    }
    // The forecast was made at the last run, before that hour's filling step; a step is an
    // hour, so the count is exact to within one step.
    let actual_days = f64::from(hours) / 24.0;
    let step = 1.0 / 24.0;
    eprintln!(
        "forecast: full in {} ({} points); it filled in {actual_days:.3} days",
        forecast.days_text(),
        forecast.points
    );
    assert!(
        forecast.days_low - step <= actual_days && actual_days <= high + step,
        "forecast {} ({:.3}..{:.3} days), it filled in {actual_days:.3} days",
        forecast.days_text(),
        forecast.days_low,
        high
    );
    // The series was kept: ten points, and the console's history reads them back.
    let points = setup.store.series("app", "growth", "filling", "size_mb", jiff::Timestamp::MIN).expect("series");
    assert_eq!(points.len(), 10);
}
