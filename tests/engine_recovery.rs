//! The engine's recovery and independence claims (ARCHITECTURE.md, `src/engine/`), each shown
//! against a real PostgreSQL: a `sentri start` killed with SIGKILL while VERIFYING, PRE_FLIGHT
//! or EXECUTING resumes (or, mid-fix, escalates and frees its lock) without running a fix
//! twice; a database that accepts connections and never answers does not hold up another one;
//! a plan rewritten in the store after its approval never runs (nor one rewritten together
//! with its hash column and relabelled DEV); a policy edited after an approval does not change
//! the approved plan, only the next one.
//!
//! The slow steps are real `pg_sleep`s inside the policy's own SQL, so the daemon is caught in
//! the state under test by polling the store, never by guessing with a sleep.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sentri::config::Config;
use sentri::domain::{RawAlert, WorkflowState};
use sentri::engine::{Engine, EngineHandle, EngineSettings};
use sentri::home::Home;
use sentri::notify::report::Reporter;
use sentri::pipeline::approval::{self, DecisionOutcome, DecisionRequest};
use sentri::policy::watch::LivePolicies;
use sentri::store::Store;
use sentri::store::approvals::Decision;
use sentri::store::audit::{AuditFilter, AuditRow};
use sentri::store::workflows::{WorkflowFilter, WorkflowRow};
use sentri::targets::ConnectOptions;

use common::daemon::Daemon;
use common::postgres;

// ---------------------------------------------------------------------------------------------
// Workflow ids and what the store says about them. Ids go through these helpers only, so a
// switch to `domain::ids::WorkflowId` touches this block and nothing else.

/// A workflow's id as the tests hold it.
type Id = String;

fn id_of(workflow: &WorkflowRow) -> Id {
    workflow.id.to_string()
}

fn workflow(store: &Store, id: &Id) -> WorkflowRow {
    store.get_workflow(id).expect("the workflow is stored")
}

fn state_of(store: &Store, id: &Id) -> WorkflowState {
    workflow(store, id).state
}

/// How many times the workflow entered `state`.
fn entries_into(store: &Store, id: &Id, state: WorkflowState) -> usize {
    store.workflow_transitions(id).expect("transitions").iter().filter(|t| t.to == state).count()
}

/// The workflow's moves, for assertion messages.
fn history(store: &Store, id: &Id) -> Vec<String> {
    store
        .workflow_transitions(id)
        .expect("transitions")
        .iter()
        .map(|t| format!("{}→{} ({}): {}", t.from, t.to, t.actor, t.reason))
        .collect()
}

fn audit_of(store: &Store, id: &Id) -> Vec<AuditRow> {
    store.list_audit(&AuditFilter { workflow_id: Some(id.clone()), ..AuditFilter::default() }).expect("audit")
}

/// The newest workflow opened by policy `alert_type`, once there is one.
fn wait_for_workflow(store: &Store, alert_type: &str) -> Id {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let listed = store.list_workflows(&WorkflowFilter::default()).expect("list");
        if let Some(found) = listed.iter().rev().find(|w| w.alert_type == alert_type) {
            return id_of(found);
        }
        assert!(Instant::now() < deadline, "no `{alert_type}` workflow within 15 s: {listed:#?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls until the workflow is in one of `states`; the state it reached.
fn wait_for_state(store: &Store, id: &Id, states: &[WorkflowState], within: Duration) -> WorkflowState {
    let deadline = Instant::now() + within;
    loop {
        let state = state_of(store, id);
        if states.contains(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "not {states:?} within {within:?} but {state}: {:#?}", history(store, id));
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`wait_for_state`] without blocking the runtime an in-process engine runs on.
async fn wait_for_state_async(store: &Store, id: &Id, states: &[WorkflowState], within: Duration) -> WorkflowState {
    let deadline = Instant::now() + within;
    loop {
        let state = state_of(store, id);
        if states.contains(&state) {
            return state;
        }
        assert!(Instant::now() < deadline, "not {states:?} within {within:?} but {state}: {:#?}", history(store, id));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL fixtures and what the database shows.

/// A sequence name no other test of this binary uses, so the server log can be searched for
/// the statements that touched it.
fn unique_sequence() -> String {
    format!("seq_{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

/// An integer sequence at 93% of its range.
async fn nearly_exhausted(dbname: &str, sequence: &str) {
    postgres::admin(dbname)
        .await
        .batch_execute(&format!(
            "CREATE SEQUENCE public.{sequence} AS integer; SELECT setval('public.{sequence}', 2000000000);"
        ))
        .await
        .expect("sequence");
}

async fn sequence_type(dbname: &str, sequence: &str) -> String {
    postgres::admin(dbname)
        .await
        .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = $1", &[&sequence])
        .await
        .expect("the sequence exists")
        .get(0)
}

/// How many statements the server received that contain every one of `needles`.
fn statements_seen(needles: &[&str]) -> usize {
    postgres::server_log()
        .lines()
        .filter(|line| line.contains("statement:") || line.contains("execute"))
        .filter(|line| needles.iter().all(|needle| line.contains(needle)))
        .count()
}

// ---------------------------------------------------------------------------------------------
// Policies: the default sequence policy, renamed so it answers only its own alert text, with
// one part slowed down or changed.

const DEFAULT_POLICY: &str = "alerts/postgres/pg_sequence_exhaustion.md";

/// The default policy as `sentri init` installed it in `home`.
fn default_policy(home: &Path) -> String {
    std::fs::read_to_string(home.join(DEFAULT_POLICY)).expect("the default policy is installed")
}

/// The default policy under the name `name`, matching alerts that say `KEYWORD` where the
/// default says `POSTGRES_SEQUENCE`, with each `(from, to)` edit applied (each must apply).
fn variant(home: &Path, name: &str, keyword: &str, edits: &[(&str, &str)]) -> String {
    let mut text = default_policy(home)
        .split("## Sample Alerts")
        .next()
        .unwrap_or_default()
        .replace("POSTGRES_SEQUENCE", keyword)
        .replace("name: pg_sequence_exhaustion", &format!("name: {name}"));
    for (from, to) in edits {
        assert!(text.contains(from), "the edit `{from}` does not apply to the default policy");
        text = text.replacen(from, to, 1);
    }
    text
}

/// The verification query sleeps `seconds` before answering.
fn slow_verification(seconds: u32) -> (&'static str, String) {
    ("  AND s.increment_by > 0\n", format!("  AND s.increment_by > 0\n  AND (SELECT true FROM pg_sleep({seconds}))\n"))
}

/// The pre-flight check `sequence_is_integer` sleeps `seconds` before answering.
fn slow_preflight(seconds: u32) -> (&'static str, String) {
    (
        "SELECT s.data_type::text\nFROM pg_sequences s\n",
        format!("SELECT s.data_type::text\nFROM pg_sequences s, pg_sleep({seconds})\n"),
    )
}

fn alert_text(keyword: &str, database: &str, sequence: &str) -> String {
    format!("{keyword} CRITICAL: DB \"{database}\" public.{sequence}=93% (calls left=147483647)")
}

fn email(keyword: &str, database: &str, sequence: &str) -> String {
    format!(
        "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: db1/{keyword} is CRITICAL **\r\nMessage-ID: <{}@monitor.example.com>\r\nDate: Wed, 25 Nov 2026 03:00:00 +0000\r\n\r\n{}\r\n",
        uuid::Uuid::new_v4().simple(),
        alert_text(keyword, database, sequence)
    )
}

fn raw_alert(keyword: &str, database: &str, sequence: &str) -> RawAlert {
    RawAlert::from_parts(
        &format!("** PROBLEM Service Alert: db1/{keyword} is CRITICAL **"),
        &alert_text(keyword, database, sequence),
        "2026-11-25T00:00:00.000Z".into(),
    )
}

// ---------------------------------------------------------------------------------------------
// `sentri start` as a child process.

fn sentri(home: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
    command.env("SENTRI_HOME", home).env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD);
    command
}

/// A home with one PostgreSQL database `app` (DEV), no mailbox (alerts come in through
/// `sentri replay`), the daemon sweeping every second.
struct DaemonHome {
    dir: tempfile::TempDir,
    dbname: String,
    sequence: String,
    daemon: Option<Daemon>,
}

impl DaemonHome {
    async fn new() -> DaemonHome {
        let dbname = postgres::fresh_database().await;
        let sequence = unique_sequence();
        nearly_exhausted(&dbname, &sequence).await;
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(sentri(dir.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
        let config = format!(
            "monitoring:\n  orchestrator_poll_interval: 1\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
            postgres::connection_string(&dbname)
        );
        std::fs::write(dir.path().join("config/sentri.yaml"), config).expect("config");
        DaemonHome { dir, dbname, sequence, daemon: None }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn add_policy(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(format!("alerts/postgres/{name}.md")), text).expect("write policy");
    }

    fn start(&mut self) {
        let child =
            sentri(self.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start");
        self.daemon = Some(Daemon(child));
    }

    /// SIGKILL: no shutdown, no cleanup, exactly a crash.
    fn kill_9(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            daemon.0.kill().expect("SIGKILL");
            daemon.0.wait().expect("reaped");
        }
    }

    /// Feeds one alert email through `sentri replay`, as a monitor's mail would arrive.
    fn replay(&self, keyword: &str, sequence: &str) {
        let file = self.path().join(format!("{}.eml", uuid::Uuid::new_v4().simple()));
        std::fs::write(&file, email(keyword, "app", sequence)).expect("eml");
        let output = sentri(self.path()).arg("replay").arg(&file).output().expect("replay");
        assert!(output.status.success(), "replay: {}", String::from_utf8_lossy(&output.stderr));
    }

    fn store_file(&self) -> PathBuf {
        Home::at(self.path()).database_file()
    }

    fn store(&self) -> Store {
        Store::open(self.store_file()).expect("the daemon's store")
    }

    /// The conflict locks a workflow holds, read from the store file itself.
    fn locks_held_by(&self, id: &Id) -> Vec<String> {
        let conn = rusqlite::Connection::open(self.store_file()).expect("sqlite");
        let mut statement = conn.prepare("SELECT resource_key FROM locks WHERE workflow_id = ?1").expect("locks");
        statement
            .query_map([id], |row| row.get(0))
            .expect("locks")
            .collect::<Result<Vec<String>, _>>()
            .expect("lock rows")
    }
}

/// Kills the daemon in `caught_in`, restarts it, and checks the workflow then ran exactly once
/// to COMPLETED: entered each state once, one ALTER reached the server, the sequence widened.
async fn killed_in_a_read_only_step_resumes(policy: &str, edit: (&'static str, String), caught_in: WorkflowState) {
    let mut home = DaemonHome::new().await;
    let keyword = policy.to_uppercase();
    let edit = (edit.0, edit.1.as_str());
    home.add_policy(policy, &variant(home.path(), policy, &keyword, &[edit]));
    home.start();
    home.replay(&keyword, &home.sequence);
    let store = home.store();
    let id = wait_for_workflow(&store, policy);
    wait_for_state(&store, &id, &[caught_in], Duration::from_secs(10));
    home.kill_9();
    assert_eq!(state_of(&store, &id), caught_in, "the crash left the workflow where it was");
    assert_eq!(sequence_type(&home.dbname, &home.sequence).await, "integer", "nothing ran before the crash");

    home.start();
    let reached = wait_for_state(
        &store,
        &id,
        &[WorkflowState::Completed, WorkflowState::Escalated, WorkflowState::RolledBack],
        Duration::from_secs(20),
    );
    let moves = history(&store, &id);
    assert_eq!(reached, WorkflowState::Completed, "resumed after the restart: {moves:#?}");
    for state in [caught_in, WorkflowState::Executing, WorkflowState::Completed] {
        assert_eq!(entries_into(&store, &id, state), 1, "{state} entered once: {moves:#?}");
    }
    assert_eq!(sequence_type(&home.dbname, &home.sequence).await, "bigint", "the fix really ran");
    assert_eq!(statements_seen(&[&home.sequence, "AS bigint"]), 1, "the fix reached the server exactly once");
    assert!(store.verify_audit().expect("verify").is_intact());
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_while_verifying_resumes_and_completes_once() {
    killed_in_a_read_only_step_resumes("slow_verify_sequence", slow_verification(4), WorkflowState::Verifying).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_in_pre_flight_resumes_and_completes_once() {
    killed_in_a_read_only_step_resumes("slow_preflight_sequence", slow_preflight(4), WorkflowState::PreFlight).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_execution_escalates_never_reruns_and_frees_the_lock() {
    let mut home = DaemonHome::new().await;
    // A fix whose first step takes 5 s (its rollback is a no-op), then the real widening.
    let marker = format!("{}_slow_step", home.sequence);
    let slow_step = format!(
        "## Forward Action\n\n```sql\nSELECT pg_sleep(5) AS {marker}\n```\n\n```sql\nALTER SEQUENCE :seq_schema.:seq_name AS bigint MAXVALUE 9223372036854775807;\n```\n"
    );
    let rollback = "## Rollback Action\n\n```sql\nSELECT 1\n```\n\n```sql\nALTER SEQUENCE";
    let policy = variant(
        home.path(),
        "slow_fix_sequence",
        "SLOW_FIX_SEQUENCE",
        &[
            (
                "## Forward Action\n\n```sql\nALTER SEQUENCE :seq_schema.:seq_name AS bigint MAXVALUE 9223372036854775807;\n```\n",
                &slow_step,
            ),
            ("## Rollback Action\n\n```sql\nALTER SEQUENCE", rollback),
        ],
    );
    home.add_policy("slow_fix_sequence", &policy);
    home.start();
    home.replay("SLOW_FIX_SEQUENCE", &home.sequence);
    let store = home.store();
    let first = wait_for_workflow(&store, "slow_fix_sequence");
    wait_for_state(&store, &first, &[WorkflowState::Executing], Duration::from_secs(10));
    let lock = format!("APP:sequence:public.{}", home.sequence);
    assert_eq!(home.locks_held_by(&first), [lock], "the fix holds its conflict lock while it runs");
    // Killed while the server runs the slow step, not before it was sent.
    let deadline = Instant::now() + Duration::from_secs(10);
    while statements_seen(&[&marker]) == 0 {
        assert!(Instant::now() < deadline, "the slow step never reached the server");
        std::thread::sleep(Duration::from_millis(20));
    }
    home.kill_9();

    home.start();
    wait_for_state(&store, &first, &[WorkflowState::Escalated], Duration::from_secs(10));
    let moves = history(&store, &first);
    assert_eq!(entries_into(&store, &first, WorkflowState::Executing), 1, "never run again: {moves:#?}");
    assert!(moves.last().is_some_and(|m| m.contains("not run again")), "{moves:#?}");
    assert!(home.locks_held_by(&first).is_empty(), "the recovered workflow's lock is released: {moves:#?}");
    assert_eq!(statements_seen(&[&marker]), 1, "the interrupted step was sent once, never again");
    assert_eq!(sequence_type(&home.dbname, &home.sequence).await, "integer", "the second step never ran");

    // The next fix of the same sequence (the default policy's alert) is not held up by a stale
    // lock: it runs now, not 30 minutes from now.
    home.replay("POSTGRES_SEQUENCE", &home.sequence);
    let next = wait_for_workflow(&store, "pg_sequence_exhaustion");
    let reached = wait_for_state(
        &store,
        &next,
        &[WorkflowState::Completed, WorkflowState::Escalated, WorkflowState::RolledBack],
        Duration::from_secs(15),
    );
    assert_eq!(reached, WorkflowState::Completed, "{:#?}", history(&store, &next));
    assert_eq!(sequence_type(&home.dbname, &home.sequence).await, "bigint");
    assert!(home.locks_held_by(&next).is_empty(), "the lock is released after the fix");
    assert_eq!(state_of(&store, &first), WorkflowState::Escalated, "the interrupted one stays with the DBA");
}

// ---------------------------------------------------------------------------------------------
// The engine in-process, on temp paths.

/// A home with the default pack and `sentri.yaml` text `yaml`, and the engine settings over it.
struct InProcess {
    _dir: tempfile::TempDir,
    home: Home,
    yaml: String,
}

impl InProcess {
    fn new(yaml: String) -> InProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().join("home"));
        home.init(false).expect("init");
        InProcess { _dir: dir, home, yaml }
    }

    /// `sentri.yaml` loaded, every database's password from the environment it would be in.
    fn config(&self) -> Config {
        let env = |var: &str| var.ends_with("_PASSWORD").then(|| postgres::SUPERUSER_PASSWORD.to_owned());
        Config::from_yaml(&self.yaml, Path::new("sentri.yaml"), &env).expect("config").config
    }

    fn policy_file(&self, relative: &str) -> PathBuf {
        self.home.root.join(relative)
    }

    /// Starts the engine as `sentri start` would, but without mailbox, notifier or watcher, and
    /// with the policies as they are on disk now.
    fn start(&self, connect_timeout: Duration) -> EngineHandle {
        let config = self.config();
        let policies = LivePolicies::load(&self.home.root);
        let store = Store::open(self.home.database_file()).expect("store");
        let store = Arc::new(store.with_reporter(Reporter::for_config(&config, policies.clone())));
        Engine::start(EngineSettings {
            store,
            policies,
            config: Arc::new(config),
            connect: ConnectOptions { connect_timeout, call_timeout: Duration::from_secs(20), pool_size: 2 },
            sweep_interval: Duration::from_secs(3600),
            shutdown_deadline: Duration::from_secs(5),
            mailbox: false,
            notifier: false,
            watch_policies: false,
            checks: false,
        })
    }
}

fn database_yaml(name: &str, environment: &str, connection: &str) -> String {
    format!(
        "  - name: {name}\n    engine: postgres\n    environment: {environment}\n    connection_string: \"{connection}\"\n    username: postgres\n"
    )
}

fn yaml_for(databases: &[String]) -> String {
    format!("approvals:\n  approval_timeout: 3600\nchecks:\n  enabled: false\ndatabases:\n{}", databases.concat())
}

/// A loopback listener that accepts every connection and never says a word: a database host
/// whose listener is up and whose server is hung. The sockets stay open while the test runs.
fn silent_listener() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

fn approval_by(who: &str, workflow: &WorkflowRow) -> DecisionRequest {
    DecisionRequest {
        workflow_id: workflow.id.clone(),
        plan_hash: workflow.plan_hash.clone().expect("a plan to approve"),
        approver: who.to_owned(),
        decision: Decision::Approved,
        channel: "cli".to_owned(),
        reason: String::new(),
        token_hash: None,
        raw_alert_id: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_database_does_not_delay_a_live_one() {
    let dbname = postgres::fresh_database().await;
    let sequence = unique_sequence();
    nearly_exhausted(&dbname, &sequence).await;
    let silent = format!("postgres://127.0.0.1:{}/nothing?sslmode=disable", silent_listener());
    let setup = InProcess::new(yaml_for(&[
        database_yaml("silent", "DEV", &silent),
        database_yaml("app", "DEV", &postgres::connection_string(&dbname)),
    ]));
    let connect_timeout = Duration::from_secs(10);
    let engine = setup.start(connect_timeout);
    let store = Arc::clone(engine.store());

    let started = Instant::now();
    let feeding_silent = tokio::spawn({
        let engine = engine.clone();
        async move { engine.feed(raw_alert("POSTGRES_SEQUENCE", "silent", "orders_id_seq")).await }
    });
    // The silent database is being dialled (its connect hangs) before the live alert arrives.
    let hung = wait_for_workflow(&store, "pg_sequence_exhaustion");
    wait_for_state_async(&store, &hung, &[WorkflowState::Verifying], Duration::from_secs(5)).await;
    let feeding_live = tokio::spawn({
        let engine = engine.clone();
        let sequence = sequence.clone();
        async move { engine.feed(raw_alert("POSTGRES_SEQUENCE", "app", &sequence)).await }
    });
    let live = loop {
        let listed = store.list_workflows(&WorkflowFilter::default()).expect("list");
        if let Some(found) = listed.iter().find(|w| w.database == "app") {
            break id_of(found);
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the live alert was not taken in: {listed:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reached = wait_for_state_async(
        &store,
        &live,
        &[WorkflowState::Completed, WorkflowState::Escalated, WorkflowState::RolledBack],
        Duration::from_secs(5),
    )
    .await;
    let live_took = started.elapsed();
    assert_eq!(reached, WorkflowState::Completed, "{:#?}", history(&store, &live));
    assert!(live_took < Duration::from_secs(5), "the live database waited on the silent one: {live_took:?}");
    assert_eq!(state_of(&store, &hung), WorkflowState::Verifying, "the silent one is still being dialled");
    assert_eq!(sequence_type(&dbname, &sequence).await, "bigint");
    feeding_live.await.expect("joined").expect("fed");

    // The silent database's workflow is not lost: at the connect timeout it is escalated with
    // the reason.
    let reached = wait_for_state_async(&store, &hung, &[WorkflowState::Escalated], connect_timeout * 2).await;
    assert_eq!(reached, WorkflowState::Escalated);
    let moves = history(&store, &hung);
    assert!(started.elapsed() >= connect_timeout, "escalated only after the connect timeout: {moves:#?}");
    assert!(moves.last().is_some_and(|m| m.contains("cannot reach the database")), "{moves:#?}");
    feeding_silent.await.expect("joined").expect("fed");

    // Backoff per database: another alert for the silent database is escalated at once with the
    // remembered error, instead of dialling it again for 10 s.
    let again = Instant::now();
    engine.feed(raw_alert("POSTGRES_SEQUENCE", "silent", "invoices_id_seq")).await.expect("fed");
    let listed = store.list_workflows(&WorkflowFilter::default()).expect("list");
    let second =
        listed.iter().rev().find(|w| w.database == "silent" && w.fields.values().any(|v| v == "invoices_id_seq"));
    let second = id_of(second.expect("a second silent workflow"));
    assert_eq!(state_of(&store, &second), WorkflowState::Escalated, "{:#?}", history(&store, &second));
    assert!(again.elapsed() < Duration::from_secs(3), "the backoff answered without dialling: {:?}", again.elapsed());
    let moves = history(&store, &second);
    assert!(moves.last().is_some_and(|m| m.contains("retried in")), "{moves:#?}");
    engine.shutdown().await;
}

/// A PROD workflow on a 93% sequence, fed to an engine that is then stopped: AWAITING_APPROVAL.
async fn awaiting_approval(setup: &InProcess, sequence: &str) -> (Arc<Store>, Id) {
    let engine = setup.start(Duration::from_secs(10));
    let store = Arc::clone(engine.store());
    engine.feed(raw_alert("POSTGRES_SEQUENCE", "app", sequence)).await.expect("fed");
    let id = wait_for_workflow(&store, "pg_sequence_exhaustion");
    // `feed` returns when its own drive stops; the sweeper may hold the workflow then (one
    // driver at a time), so wait for the state rather than read it at once.
    let reached = wait_for_state_async(
        &store,
        &id,
        &[WorkflowState::AwaitingApproval, WorkflowState::Escalated],
        Duration::from_secs(20),
    )
    .await;
    assert_eq!(reached, WorkflowState::AwaitingApproval, "{:#?}", history(&store, &id));
    engine.shutdown().await;
    (store, id)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_rewritten_in_the_store_after_its_approval_never_runs() {
    let dbname = postgres::fresh_database().await;
    let sequence = unique_sequence();
    nearly_exhausted(&dbname, &sequence).await;
    let setup = InProcess::new(yaml_for(&[database_yaml("app", "PROD", &postgres::connection_string(&dbname))]));
    let (store, id) = awaiting_approval(&setup, &sequence).await;

    // Approved properly, through the approval rules, while no engine runs.
    let approved = workflow(&store, &id);
    let approved_hash = approved.plan_hash.clone().expect("plan hash");
    let config = setup.config();
    let decided = approval::decide(&store, &config.approvals, &approval_by("alice", &approved)).expect("approve");
    assert!(matches!(decided, DecisionOutcome::Decided { state: WorkflowState::Approved }), "{decided:?}");
    let approval_row = audit_of(&store, &id)
        .into_iter()
        .find(|row| row.action == "APPROVAL_DECISION")
        .expect("the approval is audited");
    assert_eq!(
        approval_row.detail["plan_hash"],
        approved_hash.as_str(),
        "the approval's audit row names the plan it approved"
    );

    // The attack: someone with write access to sentri.db swaps the forward step, keeping the hash.
    let pwned = format!("pwned_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut plan = approved.plan.clone().expect("stored plan");
    plan.steps[0].sql = format!("CREATE TABLE public.{pwned} (id int)");
    let plan = serde_json::to_value(&plan).expect("plan as JSON");
    let conn = rusqlite::Connection::open(setup.home.database_file()).expect("sqlite");
    let changed = conn
        .execute("UPDATE workflows SET plan = ?1 WHERE id = ?2", (plan.to_string(), &id))
        .expect("rewrite the plan");
    assert_eq!(changed, 1);
    drop(conn);
    assert_eq!(
        workflow(&store, &id).plan_hash.as_deref(),
        Some(approved_hash.as_str()),
        "the hash column is untouched"
    );

    let engine = setup.start(Duration::from_secs(10));
    engine.sweep().await.expect("sweep");
    let reached = wait_for_state_async(
        &store,
        &id,
        &[WorkflowState::Escalated, WorkflowState::Completed, WorkflowState::Failed, WorkflowState::RolledBack],
        Duration::from_secs(10),
    )
    .await;
    engine.shutdown().await;
    let moves = history(&store, &id);
    assert_eq!(reached, WorkflowState::Escalated, "{moves:#?}");
    let absent: i64 = postgres::admin(&dbname)
        .await
        .query_one("SELECT count(*) FROM pg_class WHERE relname = $1", &[&pwned])
        .await
        .expect("catalog")
        .get(0);
    assert_eq!(absent, 0, "the rewritten step never ran");
    assert_eq!(statements_seen(&[&pwned]), 0, "the rewritten SQL never reached the server");
    assert_eq!(sequence_type(&dbname, &sequence).await, "integer", "nor did the approved one");
    let escalation = audit_of(&store, &id)
        .into_iter()
        .rfind(|row| row.action == "TRANSITION" && row.result == "ESCALATED")
        .expect("the escalation is audited");
    assert_eq!(escalation.detail["refused"], "HASH_MISMATCH", "{}", escalation.detail);
    assert_eq!(escalation.detail["approved_hash"], approved_hash.as_str(), "{}", escalation.detail);
    assert!(store.verify_audit().expect("verify").is_intact());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_policy_edited_after_approval_changes_the_next_plan_not_the_approved_one() {
    let dbname = postgres::fresh_database().await;
    let (sequence, next_sequence) = (unique_sequence(), unique_sequence());
    nearly_exhausted(&dbname, &sequence).await;
    nearly_exhausted(&dbname, &next_sequence).await;
    let setup = InProcess::new(yaml_for(&[database_yaml("app", "PROD", &postgres::connection_string(&dbname))]));
    let (store, id) = awaiting_approval(&setup, &sequence).await;
    let config = setup.config();
    let decided =
        approval::decide(&store, &config.approvals, &approval_by("alice", &workflow(&store, &id))).expect("approve");
    assert!(matches!(decided, DecisionOutcome::Decided { .. }), "{decided:?}");

    // After the approval the policy changes so that this very fix would be judged failed.
    let path = setup.policy_file(DEFAULT_POLICY);
    let policy = std::fs::read_to_string(&path).expect("policy");
    assert!(policy.contains("- max_value > 2147483647"));
    std::fs::write(&path, policy.replace("- max_value > 2147483647", "- max_value < 0")).expect("edit policy");

    let engine = setup.start(Duration::from_secs(10));
    engine.sweep().await.expect("sweep");
    let reached = wait_for_state_async(
        &store,
        &id,
        &[WorkflowState::Completed, WorkflowState::RolledBack, WorkflowState::Escalated],
        Duration::from_secs(10),
    )
    .await;
    assert_eq!(reached, WorkflowState::Completed, "judged by the approved plan's rules: {:#?}", history(&store, &id));
    assert_eq!(sequence_type(&dbname, &sequence).await, "bigint");

    // A fresh alert is planned with the edited policy, and judged by it.
    engine.feed(raw_alert("POSTGRES_SEQUENCE", "app", &next_sequence)).await.expect("fed");
    let listed = store.list_workflows(&WorkflowFilter::default()).expect("list");
    let next = listed.iter().rev().find(|w| w.id != id).map(id_of).expect("a second workflow");
    let waiting = workflow(&store, &next);
    assert_eq!(waiting.state, WorkflowState::AwaitingApproval, "{:#?}", history(&store, &next));
    let criteria = &waiting.plan.as_ref().expect("plan").proof.success_criteria;
    assert!(criteria.join(" ").contains("max_value < 0"), "the new plan carries the edited rules: {criteria:?}");
    let decided = engine.decide(approval_by("alice", &waiting)).await.expect("approve");
    assert!(matches!(decided, DecisionOutcome::Decided { .. }), "{decided:?}");
    let reached = wait_for_state_async(
        &store,
        &next,
        &[WorkflowState::Completed, WorkflowState::RolledBack, WorkflowState::Escalated],
        Duration::from_secs(10),
    )
    .await;
    engine.shutdown().await;
    assert_eq!(reached, WorkflowState::RolledBack, "the edited rules judge it failed: {:#?}", history(&store, &next));
    assert_eq!(sequence_type(&dbname, &next_sequence).await, "integer", "and it was undone");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_rewritten_with_its_hash_after_approval_never_runs_unapproved() {
    let dbname = postgres::fresh_database().await;
    let sequence = unique_sequence();
    nearly_exhausted(&dbname, &sequence).await;
    let setup = InProcess::new(yaml_for(&[database_yaml("app", "PROD", &postgres::connection_string(&dbname))]));
    let (store, id) = awaiting_approval(&setup, &sequence).await;
    let approved = workflow(&store, &id);
    let decided =
        approval::decide(&store, &setup.config().approvals, &approval_by("alice", &approved)).expect("approve");
    assert!(matches!(decided, DecisionOutcome::Decided { state: WorkflowState::Approved }), "{decided:?}");

    // The attack, done thoroughly: the forward step swapped, the plan relabelled DEV (where this
    // action runs without a human), and the hash column recomputed to match the new plan.
    let pwned = format!("pwned_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let mut plan = approved.plan.clone().expect("stored plan");
    plan.steps[0].sql = format!("CREATE TABLE public.{pwned} (id int)");
    plan.environment = "DEV".to_owned();
    let text = serde_json::to_value(&plan).expect("plan as JSON").to_string();
    let rehashed = sentri::domain::plan_hash(&text);
    let conn = rusqlite::Connection::open(setup.home.database_file()).expect("sqlite");
    let changed = conn
        .execute("UPDATE workflows SET plan = ?1, plan_hash = ?2 WHERE id = ?3", (&text, &rehashed, &id))
        .expect("rewrite the plan");
    assert_eq!(changed, 1);
    drop(conn);

    let engine = setup.start(Duration::from_secs(10));
    engine.sweep().await.expect("sweep");
    let state = state_of(&store, &id);
    engine.shutdown().await;
    let moves = history(&store, &id);
    assert_eq!(state, WorkflowState::Escalated, "a plan no approval names never runs: {moves:#?}");
    assert_eq!(entries_into(&store, &id, WorkflowState::Executing), 0, "{moves:#?}");
    let absent: i64 = postgres::admin(&dbname)
        .await
        .query_one("SELECT count(*) FROM pg_class WHERE relname = $1", &[&pwned])
        .await
        .expect("catalog")
        .get(0);
    assert_eq!(absent, 0, "the rewritten step never ran");
    assert_eq!(statements_seen(&[&pwned]), 0, "the rewritten SQL never reached the server");
    let escalation = audit_of(&store, &id)
        .into_iter()
        .rfind(|row| row.action == "TRANSITION" && row.result == "ESCALATED")
        .expect("the escalation is audited");
    assert_eq!(escalation.detail["refused"], "HASH_MISMATCH", "{}", escalation.detail);
    assert_eq!(escalation.detail["approved_hash"], approved.plan_hash.as_deref().unwrap_or_default());
    assert_eq!(escalation.detail["running_hash"], rehashed);
}
