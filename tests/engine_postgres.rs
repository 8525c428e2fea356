//! The engine end to end against a real PostgreSQL: an alert is stored, triaged, verified on
//! the live database, cleared by the Safety Mesh, executed, proven — and the database really
//! changed. PROD waits for an approval bound to the plan; a fix that cannot be proven is rolled
//! back. The default policy pack is used as `sentri init` installs it.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use sentri::config::ApprovalsConfig;
use sentri::config::Config;
use sentri::domain::WorkflowState;
use sentri::engine::{Engine, EngineSettings};
use sentri::home::Home;
use sentri::intake::RawAlert;
use sentri::notify::report::Reporter;
use sentri::pipeline::approval::{self, DecisionOutcome, DecisionRequest};
use sentri::policy::watch::LivePolicies;
use sentri::store::Store;
use sentri::store::approvals::Decision;
use sentri::store::workflows::{WorkflowFilter, WorkflowRow};
use sentri::targets::ConnectOptions;

use common::postgres;

/// A home with the default pack and a store, and a config naming one PostgreSQL database `app`.
struct Setup {
    _dir: tempfile::TempDir,
    home: Home,
    engine: Arc<Engine>,
    dbname: String,
}

async fn setup(environment: &str) -> Setup {
    setup_with_clock(environment, None).await
}

/// A clock the test moves by hand (milliseconds since the epoch).
fn manual_clock(start: jiff::Timestamp) -> (Arc<std::sync::atomic::AtomicI64>, sentri::store::Clock) {
    let now = Arc::new(std::sync::atomic::AtomicI64::new(start.as_millisecond()));
    let reading = Arc::clone(&now);
    let clock: sentri::store::Clock = Arc::new(move || {
        jiff::Timestamp::from_millisecond(reading.load(std::sync::atomic::Ordering::SeqCst))
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    });
    (now, clock)
}

async fn setup_with_clock(environment: &str, clock: Option<sentri::store::Clock>) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path().join("home"));
    home.init(false).expect("init");
    let dbname = postgres::fresh_database().await;
    let store = match clock {
        Some(clock) => Store::open_with_clock(home.database_file(), clock),
        None => Store::open(home.database_file()),
    };
    let engine = engine_for(&home, &dbname, environment, store.expect("store"));
    Setup { _dir: dir, home, engine, dbname }
}

/// An engine over `home`'s policies and `store`, configured for the one database `app`.
fn engine_for(home: &Home, dbname: &str, environment: &str, store: Store) -> Arc<Engine> {
    let yaml = format!(
        "databases:\n  - name: app\n    engine: postgres\n    environment: {environment}\n    connection_string: \"{}\"\n    username: postgres\napprovals:\n  approval_timeout: 3600\n",
        postgres::connection_string(dbname)
    );
    let env = |var: &str| (var == "SENTRI_DB_APP_PASSWORD").then(|| postgres::SUPERUSER_PASSWORD.to_owned());
    let config = Config::from_yaml(&yaml, Path::new("sentri.yaml"), &env).expect("config").config;
    let policies = LivePolicies::load(&home.root);
    let store = Arc::new(store.with_reporter(Reporter::for_config(&config, policies.clone())));
    Engine::new(&EngineSettings {
        store,
        policies,
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
    })
}

/// A workflow's state changes, for assertion messages.
/// Alice approves `workflow`'s current plan from the CLI, through the approval rules.
fn approve_as_alice(store: &Store, workflow: &WorkflowRow) -> DecisionOutcome {
    let request = DecisionRequest {
        workflow_id: workflow.id.clone(),
        plan_hash: workflow.plan_hash.clone().expect("plan hash"),
        approver: "alice".into(),
        decision: Decision::Approved,
        channel: "cli".into(),
        reason: String::new(),
        token_hash: None,
        raw_alert_id: None,
    };
    approval::decide(store, &ApprovalsConfig::default(), &request).expect("approve")
}

fn history(store: &Store, id: &str) -> Vec<String> {
    store
        .workflow_transitions(id)
        .expect("history")
        .iter()
        .map(|t| format!("{}→{}: {}", t.from, t.to, t.reason))
        .collect()
}

/// An integer sequence at 93% of its range that nothing else depends on.
async fn nearly_exhausted_sequence(dbname: &str) {
    postgres::admin(dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
}

async fn sequence_type(dbname: &str) -> (String, i64) {
    let row = postgres::admin(dbname)
        .await
        .query_one("SELECT data_type::text, max_value FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
        .await
        .expect("sequence row");
    (row.get(0), row.get(1))
}

fn alert(subject_body: &str) -> RawAlert {
    let (subject, body) = subject_body.split_once('\n').unwrap_or((subject_body, ""));
    RawAlert::from_parts(subject, body, "2026-11-25T00:00:00.000Z".into())
}

const SEQUENCE_ALERT: &str = "** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)";

async fn ingest(setup: &Setup, raw: RawAlert) -> String {
    let store = setup.engine.store();
    let (id, _) = store.insert_raw_alert(&raw).expect("stored");
    setup.engine.ingest(id).await;
    store
        .list_workflows(&WorkflowFilter::default())
        .expect("list")
        .last()
        .map(|w| w.id.to_string())
        .expect("a workflow")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dev_alert_is_verified_fixed_proven_and_audited() {
    let setup = setup("DEV").await;
    nearly_exhausted_sequence(&setup.dbname).await;
    let id = ingest(&setup, alert(SEQUENCE_ALERT)).await;
    let store = setup.engine.store();
    let workflow = store.get_workflow(&id).expect("workflow");
    let history = history(store, &id);
    assert_eq!(workflow.state, WorkflowState::Completed, "{history:#?}");
    assert_eq!(sequence_type(&setup.dbname).await, ("bigint".to_owned(), i64::MAX), "the database really changed");
    let execution = workflow.execution.expect("execution report");
    assert_eq!(execution.outcome, sentri::domain::ExecutionOutcome::Completed);
    assert_eq!(execution.metrics_before["data_type"], "integer");
    assert_eq!(execution.metrics_after["data_type"], "bigint");
    let verdicts = store
        .list_audit(&sentri::store::audit::AuditFilter { workflow_id: Some(id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .filter(|row| row.action == "SAFETY_VERDICT")
        .count();
    assert!(verdicts >= 5, "every Safety Mesh check is audited, got {verdicts}");
    assert!(store.verify_audit().expect("verify").is_intact());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_prod_fix_waits_for_an_approval_bound_to_its_plan() {
    let setup = setup("PROD").await;
    nearly_exhausted_sequence(&setup.dbname).await;
    let id = ingest(&setup, alert(SEQUENCE_ALERT)).await;
    let store = setup.engine.store();
    let waiting = store.get_workflow(&id).expect("workflow");
    assert_eq!(waiting.state, WorkflowState::AwaitingApproval);
    assert_eq!(sequence_type(&setup.dbname).await.0, "integer", "nothing ran before the approval");

    setup.engine.sweep().await;
    assert_eq!(
        store.get_workflow(&id).expect("workflow").state,
        WorkflowState::AwaitingApproval,
        "a sweep does not run it either"
    );

    let decided = approve_as_alice(store, &waiting);
    assert!(matches!(decided, DecisionOutcome::Decided { .. }), "{decided:?}");
    setup.engine.sweep().await;
    let done = store.get_workflow(&id).expect("workflow");
    let history = history(store, &id);
    assert_eq!(done.state, WorkflowState::Completed, "{history:#?}");
    assert_eq!(sequence_type(&setup.dbname).await.0, "bigint");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fix_that_cannot_be_proven_is_rolled_back() {
    let setup = setup("DEV").await;
    // The same fix, with a success criterion no database can meet.
    let policy =
        std::fs::read_to_string(setup.home.root.join("alerts/postgres/pg_sequence_exhaustion.md")).expect("policy");
    let unprovable = policy
        .replace("- max_value > 2147483647", "- max_value < 0")
        .replace("POSTGRES_SEQUENCE", "TEST_SEQUENCE")
        .replace("name: pg_sequence_exhaustion", "name: test_unprovable_sequence");
    let unprovable = unprovable.split("## Sample Alerts").next().unwrap_or_default().to_owned();
    std::fs::write(setup.home.root.join("alerts/postgres/test_unprovable_sequence.md"), unprovable)
        .expect("write policy");
    // A new engine over the same home and store, now that the policy files changed.
    let store = Store::open(setup.home.database_file()).expect("a second store on the same file");
    let engine = engine_for(&setup.home, &setup.dbname, "DEV", store);
    let setup = Setup { engine, ..setup };
    nearly_exhausted_sequence(&setup.dbname).await;
    let id = ingest(&setup, alert(&SEQUENCE_ALERT.replace("POSTGRES_SEQUENCE", "TEST_SEQUENCE"))).await;
    let store = setup.engine.store();
    let workflow = store.get_workflow(&id).expect("workflow");
    let history = history(store, &id);
    assert_eq!(workflow.alert_type, "test_unprovable_sequence");
    assert_eq!(workflow.state, WorkflowState::RolledBack, "{history:#?}");
    assert_eq!(
        sequence_type(&setup.dbname).await,
        ("integer".to_owned(), 2147483647),
        "the rollback restored the sequence"
    );
    assert_eq!(workflow.execution.expect("report").outcome, sentri::domain::ExecutionOutcome::RolledBack);
}

/// The default pack's sequence policy with a success criterion no database can meet, under
/// another name and alert word, in a new engine over the same home and store.
fn with_unprovable_sequence_policy(setup: Setup) -> Setup {
    let policy =
        std::fs::read_to_string(setup.home.root.join("alerts/postgres/pg_sequence_exhaustion.md")).expect("policy");
    let unprovable = policy
        .replace("- max_value > 2147483647", "- max_value < 0")
        .replace("POSTGRES_SEQUENCE", "TEST_SEQUENCE")
        .replace("name: pg_sequence_exhaustion", "name: test_unprovable_sequence");
    let unprovable = unprovable.split("## Sample Alerts").next().unwrap_or_default().to_owned();
    std::fs::write(setup.home.root.join("alerts/postgres/test_unprovable_sequence.md"), unprovable)
        .expect("write policy");
    let store = Store::open(setup.home.database_file()).expect("a second store on the same file");
    let engine = engine_for(&setup.home, &setup.dbname, "DEV", store);
    Setup { engine, ..setup }
}

async fn sequence_state(dbname: &str, name: &str) -> (String, i64, Option<i64>) {
    let row = postgres::admin(dbname)
        .await
        .query_one(
            "SELECT data_type::text, max_value, last_value FROM pg_sequences \
             WHERE schemaname = 'public' AND sequencename = $1",
            &[&name],
        )
        .await
        .expect("sequence row");
    (row.get(0), row.get(1), row.get(2))
}

/// The attack of the issue: sequences `dup` and `"DUP"` both exist, the alert names `DUP`, and
/// the fix cannot be proven, so it is rolled back. Before, the forward step and the rollback
/// each looked the name up again (`relname = lower($1) OR relname = $1 LIMIT 1`, no order):
/// the forward step could widen `dup`, the rollback narrow `"DUP"`, and the workflow still said
/// ROLLED_BACK. Now the name is resolved once, into the plan: both steps act on `"DUP"`.
#[tokio::test(flavor = "multi_thread")]
async fn a_fix_and_its_rollback_act_on_the_one_object_the_alert_names() {
    let setup = with_unprovable_sequence_policy(setup("DEV").await);
    postgres::admin(&setup.dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.dup AS integer; SELECT setval('public.dup', 1000);
             CREATE SEQUENCE public.\"DUP\" AS integer; SELECT setval('public.\"DUP\"', 2000000000);",
        )
        .await
        .expect("two sequences whose names differ only in case");
    let dup_before = sequence_state(&setup.dbname, "dup").await;
    let id = ingest(
        &setup,
        alert(
            "** PROBLEM Service Alert: db1/TEST_SEQUENCE is CRITICAL **\nTEST_SEQUENCE CRITICAL: DB \"app\" public.DUP=93% (calls left=147483647)",
        ),
    )
    .await;
    let store = setup.engine.store();
    let workflow = store.get_workflow(&id).expect("workflow");
    let history = history(store, &id);
    assert_eq!(workflow.alert_type, "test_unprovable_sequence");
    assert_eq!(workflow.state, WorkflowState::RolledBack, "{history:#?}");

    let plan = workflow.plan.expect("stored plan");
    let resolved = &plan.resolved["seq_name"];
    assert_eq!(resolved.name, "DUP", "the plan carries its resolution");
    assert_eq!(resolved.schema.as_deref(), Some("public"));
    let execution = workflow.execution.expect("report");
    assert_eq!(execution.outcome, sentri::domain::ExecutionOutcome::RolledBack);
    let forward = execution.forward.first().map(|step| step.sql.clone()).unwrap_or_default();
    let rollback = execution.rollback.first().map(|step| step.sql.clone()).unwrap_or_default();
    assert!(forward.starts_with("ALTER SEQUENCE \"public\".\"DUP\" AS bigint"), "{forward}");
    assert!(rollback.starts_with("ALTER SEQUENCE \"public\".\"DUP\" AS integer"), "{rollback}");

    assert_eq!(sequence_state(&setup.dbname, "dup").await, dup_before, "`dup` was never touched");
    assert_eq!(
        sequence_state(&setup.dbname, "DUP").await,
        ("integer".to_owned(), 2147483647, Some(2000000000)),
        "`\"DUP\"` was changed and restored"
    );
}

/// A plan stored before identifiers were resolved into plans has no `resolved`: it still
/// loads, and an approval of it is honoured as far as it goes — it is refused with a clear
/// reason, never looked up again and run.
#[tokio::test(flavor = "multi_thread")]
async fn an_approved_plan_without_a_resolution_is_refused_not_looked_up_again() {
    let setup = setup("PROD").await;
    nearly_exhausted_sequence(&setup.dbname).await;
    let id = ingest(&setup, alert(SEQUENCE_ALERT)).await;
    let store = setup.engine.store();
    let waiting = store.get_workflow(&id).expect("workflow");
    assert_eq!(waiting.state, WorkflowState::AwaitingApproval);
    let mut older = waiting.plan.clone().expect("plan");
    assert!(!older.resolved.is_empty(), "a new plan carries its resolution");
    older.resolved.clear();
    let stored = store.set_plan(&id, &older, "an older sentri").expect("older plan stored");
    let decided = approve_as_alice(store, &stored);
    assert!(matches!(decided, DecisionOutcome::Decided { .. }), "{decided:?}");
    setup.engine.sweep().await;
    let done = store.get_workflow(&id).expect("workflow");
    let history = history(store, &id);
    assert_eq!(done.state, WorkflowState::Escalated, "{history:#?}");
    assert!(history.last().is_some_and(|last| last.contains("carries no resolution for `:seq_name`")), "{history:#?}");
    assert_eq!(sequence_type(&setup.dbname).await.0, "integer", "nothing ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_that_never_comes_times_out_and_escalates() {
    let (now, clock) = manual_clock(jiff::Timestamp::now());
    let setup = setup_with_clock("PROD", Some(clock)).await;
    nearly_exhausted_sequence(&setup.dbname).await;
    let id = ingest(&setup, alert(SEQUENCE_ALERT)).await;
    let store = setup.engine.store();
    assert_eq!(store.get_workflow(&id).expect("workflow").state, WorkflowState::AwaitingApproval);
    now.fetch_add(3_599_000, std::sync::atomic::Ordering::SeqCst);
    setup.engine.sweep().await;
    assert_eq!(store.get_workflow(&id).expect("workflow").state, WorkflowState::AwaitingApproval, "not yet");
    now.fetch_add(2_000, std::sync::atomic::Ordering::SeqCst);
    setup.engine.sweep().await;
    let states: Vec<WorkflowState> = store.workflow_transitions(&id).expect("history").iter().map(|t| t.to).collect();
    assert_eq!(&states[states.len() - 2..], [WorkflowState::Timeout, WorkflowState::Escalated]);
    assert_eq!(sequence_type(&setup.dbname).await.0, "integer", "nothing ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_waiting_for_a_conflict_lock_is_diagnosed_once_not_on_every_sweep() {
    let setup = setup("DEV").await;
    nearly_exhausted_sequence(&setup.dbname).await;
    let store = setup.engine.store();
    // Another fix holds the sequence: the workflow waits, and every sweep plans it again.
    let held = store
        .try_acquire("APP:sequence:public.orders_id_seq", "another-workflow", jiff::SignedDuration::from_mins(30))
        .expect("lock");
    assert!(matches!(held, sentri::store::locks::LockOutcome::Acquired { .. }), "{held:?}");
    let id = ingest(&setup, alert(SEQUENCE_ALERT)).await;
    for _ in 0..3 {
        setup.engine.sweep().await;
    }
    let workflow = store.get_workflow(&id).expect("workflow");
    assert_eq!(workflow.state, WorkflowState::Verified, "still waiting: {:#?}", history(store, &id));
    let diagnosed = store
        .list_audit(&sentri::store::audit::AuditFilter { workflow_id: Some(id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .filter(|row| row.action == "DIAGNOSED")
        .count();
    assert_eq!(diagnosed, 1, "one diagnosis for one verification");

    store.release("APP:sequence:public.orders_id_seq", "another-workflow").expect("release");
    setup.engine.sweep().await;
    let workflow = store.get_workflow(&id).expect("workflow");
    assert_eq!(workflow.state, WorkflowState::Completed, "{:#?}", history(store, &id));
    assert_eq!(sequence_type(&setup.dbname).await.0, "bigint");
}
