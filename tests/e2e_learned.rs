//! An alert no policy knows, end to end, driving the real binary against a real Dovecot, a real
//! PostgreSQL with a real lock, and a local server speaking Anthropic's wire format in place of
//! the paid API:
//! - an email in a shape the pack does not know is APPENDed to the inbox; `sentri start` finds
//!   no policy, asks the model, which reads it as a lock alert on `app` and drafts a policy;
//! - the workflow is verified with the draft's query, diagnosed by the specialists, and waits
//!   for approval although the database is DEV;
//! - `sentri approve` lets the fix run: the idle holder is terminated and the waiter goes on;
//! - `alerts/learned/<name>.md` appears, passes `sentri policy check`, and `sentri policy learned`
//!   lists it;
//! - a second such email is matched by that policy: no model is asked to classify it.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use common::daemon::Daemon;
use common::model_server::{ModelServer, Scripted, anthropic};
use common::{dovecot, postgres};
use sentri::domain::WorkflowState;
use sentri::store::Store;
use sentri::store::audit::AuditFilter;
use sentri::store::workflows::WorkflowRow;

/// The alert type the model names, and so the learned file's name.
const LEARNED: &str = "dbwatch_lock_queue";

fn sentri(home: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
    command
        .env("SENTRI_HOME", home)
        .env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD)
        .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD)
        .env("SENTRI_CLAUDE_API_KEY", "sk-ant-e2e-learned-test")
        .env_remove("SUDO_USER");
    command
}

/// A monitor's email in a shape the default pack does not know.
fn email(pid: i32) -> String {
    format!(
        "From: dbwatch@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: [dbwatch] PG lock queue on app: writers stuck behind pid {pid}\r\nMessage-ID: <{}@monitor.example.com>\r\n\r\ndbwatch 2.3 on monitor-01\r\nWaiting sessions: 1\r\nHolder pid: {pid} (idle in transaction)\r\n",
        uuid::Uuid::new_v4()
    )
}

/// What the model answers when shown the email: a lock alert on `app`, and how to know the next.
fn classification() -> String {
    json!({
        "database_alert": true,
        "name": LEARNED,
        "database": "app",
        "severity": "HIGH",
        "description": "dbwatch reports writers queued behind a session holding a row lock",
        "email_pattern": r"\[dbwatch\] PG lock queue on (\S+): writers stuck behind pid (\d+)",
        "fields": {"database": 1, "pid": 2},
        "verification": "SELECT count(*) AS holding FROM pg_stat_activity WHERE pid = :pid AND state = 'idle in transaction'",
        "confirmed_when": ["holding >= 1"]
    })
    .to_string()
}

/// An application's session idle in a transaction that holds a row of `accounts`, and a second
/// session waiting on that row: what dbwatch reports. The holder is an ordinary login role (the
/// Safety Mesh never ends a superuser's session). Returns the holder's pid, its client, and the
/// waiter's task.
async fn app_holder(
    db: &str,
    role: &str,
) -> (i32, tokio_postgres::Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>) {
    let admin = postgres::admin(db).await;
    let url = postgres::connection_string(db).replacen("postgres://", &format!("postgres://{role}:app-pw@"), 1);
    let (holder, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("the app connects");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let holder_pid = postgres::backend_pid(&holder).await;
    holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.expect("holder");
    let waiter = postgres::admin(db).await;
    let waiter_pid = postgres::backend_pid(&waiter).await;
    let waiting = tokio::spawn(async move {
        waiter.batch_execute("SET statement_timeout = '120s'; UPDATE accounts SET balance = 0 WHERE id = 1").await
    });
    postgres::wait_until_waiting(db, waiter_pid).await;
    drop(admin);
    (holder_pid, holder, waiting)
}

/// The `accounts` table and a login role `role` allowed to change it.
async fn accounts_for(db: &str, role: &str) {
    postgres::create_role(role, "app-pw").await;
    postgres::admin(db)
        .await
        .batch_execute(&format!("{} GRANT SELECT, UPDATE ON accounts TO {role};", postgres::ACCOUNTS))
        .await
        .expect("accounts");
}

fn store(home: &Path) -> Store {
    Store::open(home.join("data/sentri.db")).expect("open the daemon's store")
}

/// Waits (yielding to the model server on this runtime) until `found` gives a workflow.
async fn wait_for(home: &Path, what: &str, found: impl Fn(&[WorkflowRow]) -> Option<WorkflowRow>) -> WorkflowRow {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let workflows = store(home).list_workflows(&Default::default()).expect("list");
        if let Some(workflow) = found(&workflows) {
            return workflow;
        }
        let store = store(home);
        let states: Vec<String> = workflows
            .iter()
            .map(|w| {
                let last = store.workflow_transitions(&w.id).ok().and_then(|t| t.last().map(|t| t.reason.clone()));
                let error = w.execution.as_ref().and_then(|execution| execution.error.clone());
                format!("{} {} ({}; {error:?})", w.alert_type, w.state, last.unwrap_or_default())
            })
            .collect();
        let stuck = workflows.iter().any(|w| w.state == WorkflowState::Escalated);
        assert!(Instant::now() < deadline && !stuck, "{what} within 90 s; workflows: {states:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_alert_is_classified_approved_fixed_and_learned_and_the_next_one_needs_no_model() {
    let dbname = postgres::fresh_database().await;
    let role = format!("app_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    accounts_for(&dbname, &role).await;
    let (holder_pid, _holder, waiting) = app_holder(&dbname, &role).await;
    let server = ModelServer::start().await;
    server.push(Scripted::ok(anthropic::usage(anthropic::text(&classification()), 900, 200)));
    // The diagnoses' deepening gets nothing usable: the specialists' diagnosis stands.
    server.push_all((0..12).map(|_| Scripted::ok(anthropic::text("I cannot tell from here."))));
    let mail = dovecot::shared();
    let inbox = mail.add_user(&format!("learned-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {inbox}\n  use_ssl: false\n  starttls: false\nmonitoring:\n  scout_poll_interval: 5\n  orchestrator_poll_interval: 1\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\nllm:\n  provider: claude\n  model: {}\n  base_url: \"{}\"\n  timeout_seconds: 10\n",
        mail.imap_port,
        postgres::connection_string(&dbname),
        anthropic::MODEL,
        server.base
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    let unknown = email(holder_pid);
    let matched = sentri(home.path()).args(["match", "-"]).write_stdin_text(&unknown);
    assert!(matched.contains("no policy matched"), "the pack does not know it:\n{matched}");
    let _daemon =
        Daemon(sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start"));

    mail.append(&inbox, unknown.as_bytes()).await;

    let workflow = wait_for(home.path(), "the classified alert waits for approval", |workflows| {
        workflows.iter().find(|w| w.alert_type == LEARNED && w.state == WorkflowState::AwaitingApproval).cloned()
    })
    .await;
    assert!(workflow.provisional_policy.is_some(), "its policy is the model's draft");
    assert_eq!(workflow.fields.get("pid").map(String::as_str), Some(holder_pid.to_string().as_str()));
    let verification = workflow.verification.as_ref().expect("verified with the draft's query");
    assert_eq!(
        verification.evidence.get("holding").map(String::as_str),
        Some("1"),
        "the email's pid bound: {verification:?}"
    );
    let plan = workflow.plan.as_ref().expect("a plan from the diagnosis");
    assert!(plan.steps.iter().any(|step| step.sql.contains("pg_terminate_backend")), "{plan:?}");
    assert!(
        !home.path().join(format!("alerts/learned/{LEARNED}.md")).exists(),
        "nothing is learned before a human says yes"
    );
    let audit = String::from_utf8_lossy(
        &sentri(home.path()).args(["show", workflow.id.as_ref()]).output().expect("show").stdout,
    )
    .into_owned();
    assert!(audit.contains("a model classified it, so every fix waits for a human"), "even on DEV:\n{audit}");

    let approve = sentri(home.path()).args(["approve", workflow.id.as_ref()]).output().expect("approve");
    assert!(approve.status.success(), "{}", String::from_utf8_lossy(&approve.stderr));
    let id = workflow.id.clone();
    let done = wait_for(home.path(), "the approved fix completes", |workflows| {
        workflows.iter().find(|w| w.id == id && w.state.is_final()).cloned()
    })
    .await;
    assert_eq!(done.state, WorkflowState::Completed, "{:?}", done.execution);
    tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .expect("the waiter goes on once the holder is gone")
        .expect("task")
        .expect("its update ran");

    // The ending commits first; the file is written after it, and audited as POLICY_LEARNED.
    let learned_row = {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let filter = AuditFilter { workflow_id: Some(id.to_string()), ..AuditFilter::default() };
            let rows = store(home.path()).list_audit(&filter).expect("audit");
            if let Some(row) = rows.into_iter().find(|row| row.action == "POLICY_LEARNED") {
                break row;
            }
            assert!(Instant::now() < deadline, "no POLICY_LEARNED audit row within 30 s of COMPLETED");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(learned_row.result, "WRITTEN", "{}", learned_row.detail);
    let learned = home.path().join(format!("alerts/learned/{LEARNED}.md"));
    let text = std::fs::read_to_string(&learned).unwrap_or_else(|error| panic!("{}: {error}", learned.display()));
    assert!(text.contains("learned: true") && text.contains(workflow.id.as_str()), "{text}");
    assert!(
        text.contains("pg_terminate_backend(:pid)"),
        "the fix that ran is the policy's fix, its value read from the email's field next time:\n{text}"
    );
    let check = sentri(home.path()).args(["policy", "check"]).output().expect("policy check");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));
    let listed = sentri(home.path()).args(["policy", "learned"]).output().expect("policy learned");
    let listed_text = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.status.success() && listed_text.contains(LEARNED), "{listed_text}");

    // The next such email: matched by the learned policy, no classification asked.
    let (second_pid, _second_holder, _second_waiting) = app_holder(&dbname, &role).await;
    mail.append(&inbox, email(second_pid).as_bytes()).await;
    let second = wait_for(home.path(), "the second email opens a workflow", |workflows| {
        workflows.iter().find(|w| w.alert_type == LEARNED && w.id != id).cloned()
    })
    .await;
    assert!(second.provisional_policy.is_none(), "it came from the learned file");
    let second_id = second.id.clone();
    let rested = wait_for(home.path(), "the second workflow follows the normal path", |workflows| {
        workflows
            .iter()
            .find(|w| {
                w.id == second_id && matches!(w.state, WorkflowState::Completed | WorkflowState::AwaitingApproval)
            })
            .cloned()
    })
    .await;
    assert!(rested.plan.is_some(), "{:?}", rested.state);
    assert_eq!(second.fields.get("pid").map(String::as_str), Some(second_pid.to_string().as_str()));
    let classified = server
        .requests()
        .iter()
        .filter(|request| {
            request.json()["system"].as_str().is_some_and(|system| system.contains("none of Sentri's alert policies"))
        })
        .count();
    assert_eq!(classified, 1, "only the first email was shown to the model to classify");
}

/// `write_stdin` for a text, returning standard output and error together.
trait StdinText {
    fn write_stdin_text(&mut self, text: &str) -> String;
}

impl StdinText for Command {
    fn write_stdin_text(&mut self, text: &str) -> String {
        use std::io::Write as _;
        let mut child =
            self.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn");
        child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
        let output = child.wait_with_output().expect("wait");
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
    }
}
