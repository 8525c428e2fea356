//! The product end to end, driving the real binary: an alert email APPENDed to a real Dovecot
//! inbox is read by `sentri start`, verified on a real PostgreSQL, fixed, proven, audited — and
//! the database really changed. A second `sentri start` on the same home is refused, naming the
//! holder; SIGTERM stops the daemon cleanly.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::{dovecot, postgres};

/// An integer sequence at 93% of its range: what the alert emails below report.
async fn nearly_exhausted_sequence(dbname: &str) {
    postgres::admin(dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
}

fn sentri(home: &std::path::Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
    command
        .env("SENTRI_HOME", home)
        .env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD)
        .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD);
    command
}

fn workflows(home: &std::path::Path) -> serde_json::Value {
    let output = sentri(home).args(["list", "--json"]).output().expect("sentri list");
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alert_email_becomes_a_verified_proven_fix() {
    let dbname = postgres::fresh_database().await;
    nearly_exhausted_sequence(&dbname).await;
    let mail = dovecot::shared();
    let user = mail.add_user("e2e-alerts");

    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {user}\n  use_ssl: false\n  starttls: false\nmonitoring:\n  scout_poll_interval: 5\n  orchestrator_poll_interval: 1\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        mail.imap_port,
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");

    let daemon = Daemon(
        sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("sentri start"),
    );
    // Wait until the daemon holds the engine lock, then a second start must be refused.
    let lock = home.path().join("data/engine.lock");
    let holder = format!("pid {}", daemon.0.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&lock).unwrap_or_default().contains(&holder) {
        assert!(Instant::now() < deadline, "the daemon never took the engine lock");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut second =
        sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("second start");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = second.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = second.kill();
            panic!("a second `sentri start` on the same home kept running");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut second.stderr.take().expect("stderr"), &mut stderr).expect("read stderr");
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("another Sentri engine is running") && stderr.contains(&holder), "{stderr}");

    let email = "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <e2e-seq-1@monitor.example.com>\r\nDate: Wed, 25 Nov 2026 03:00:00 +0000\r\n\r\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)\r\n";
    mail.append(&user, email.as_bytes()).await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let state = loop {
        let listed = workflows(home.path());
        let state = listed.get(0).and_then(|w| w["status"].as_str()).map(str::to_owned);
        if let Some(state) = &state
            && ["COMPLETED", "ROLLED_BACK", "FAILED", "ESCALATED", "VERIFICATION_FAILED", "AWAITING_APPROVAL"]
                .contains(&state.as_str())
        {
            break state.clone();
        }
        assert!(Instant::now() < deadline, "no finished workflow within 60 s: {listed}");
        std::thread::sleep(Duration::from_millis(250));
    };
    let show = sentri(home.path())
        .args(["show", "--json", &workflows(home.path())[0]["id"].as_str().unwrap_or_default()[..8]])
        .output()
        .expect("show");
    assert_eq!(state, "COMPLETED", "{}", String::from_utf8_lossy(&show.stdout));

    let row = postgres::admin(&dbname)
        .await
        .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
        .await
        .expect("sequence");
    assert_eq!(row.get::<_, String>(0), "bigint", "the database really changed");

    let alerts = sentri(home.path()).args(["alerts", "--json"]).output().expect("alerts");
    let alerts: serde_json::Value = serde_json::from_slice(&alerts.stdout).expect("json");
    assert_eq!(alerts[0]["outcome"], "workflow");
    let verify = sentri(home.path()).args(["audit", "--verify"]).output().expect("verify");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));

    let flags = mail.flags(&user, "<e2e-seq-1@monitor.example.com>").await.unwrap_or_default();
    assert!(flags.iter().any(|flag| flag == "\\Seen"), "the message is flagged handled once stored: {flags:?}");

    let mut daemon = daemon;
    let pid = daemon.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = daemon.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "SIGTERM is a clean stop: {status:?}");
}

/// A home configured for one PostgreSQL database `app` in `environment` and one Dovecot user,
/// with its daemon running.
struct Running {
    home: tempfile::TempDir,
    dbname: String,
    user: String,
    daemon: Option<Daemon>,
}

impl Running {
    async fn start(environment: &str, sequence_at: i64) -> Running {
        let dbname = postgres::fresh_database().await;
        postgres::admin(&dbname)
            .await
            .batch_execute(&format!(
                "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', {sequence_at}); \
                 CREATE TABLE canary (id int); INSERT INTO canary VALUES (1);"
            ))
            .await
            .expect("fixtures");
        let mail = dovecot::shared();
        let user = mail.add_user(&format!("u{}", &uuid::Uuid::new_v4().simple().to_string()[..10]));
        let home = tempfile::tempdir().expect("tempdir");
        assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
        let config = format!(
            "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {user}\n  use_ssl: false\n  starttls: false\nmonitoring:\n  scout_poll_interval: 5\n  orchestrator_poll_interval: 1\napprovals:\n  approval_timeout: 3600\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: {environment}\n    username: postgres\n",
            mail.imap_port,
            postgres::connection_string(&dbname)
        );
        std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
        let mut running = Running { home, dbname, user, daemon: None };
        running.spawn();
        running
    }

    fn spawn(&mut self) {
        let child =
            sentri(self.home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start");
        self.daemon = Some(Daemon(child));
    }

    fn kill_9(&mut self) {
        if let Some(mut daemon) = self.daemon.take() {
            let _ = daemon.0.kill();
            let _ = daemon.0.wait();
        }
    }

    async fn mail(&self, message_id: &str, line: &str) {
        let email = format!(
            "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <{message_id}@monitor.example.com>\r\n\r\n{line}\r\n"
        );
        dovecot::shared().append(&self.user, email.as_bytes()).await;
    }

    /// Waits until the newest workflow reaches one of `states`; its JSON.
    fn wait_for(&self, states: &[&str]) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let listed = workflows(self.home.path());
            if let Some(newest) = listed.as_array().and_then(|all| all.last())
                && newest["status"].as_str().is_some_and(|state| states.contains(&state))
            {
                return newest.clone();
            }
            assert!(Instant::now() < deadline, "no workflow reached {states:?} within 60 s: {listed}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    async fn sequence_type(&self) -> String {
        postgres::admin(&self.dbname)
            .await
            .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
            .await
            .expect("sequence")
            .get(0)
    }
}

const ALERT_LINE: &str = "POSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)";

#[tokio::test(flavor = "multi_thread")]
async fn prod_waits_for_sentri_approve_then_runs() {
    let running = Running::start("PROD", 2_000_000_000).await;
    running.mail("prod-1", ALERT_LINE).await;
    let waiting = running.wait_for(&["AWAITING_APPROVAL", "ESCALATED", "COMPLETED"]);
    assert_eq!(waiting["status"], "AWAITING_APPROVAL", "{waiting}");
    assert_eq!(running.sequence_type().await, "integer", "nothing ran before the approval");
    let id = waiting["short_id"].as_str().unwrap_or_default().to_owned();
    let approve =
        sentri(running.home.path()).args(["approve", &id]).env("USER", "dba-alice").output().expect("approve");
    assert!(approve.status.success(), "{}", String::from_utf8_lossy(&approve.stderr));
    let done = running.wait_for(&["COMPLETED", "ESCALATED", "FAILED", "ROLLED_BACK"]);
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(running.sequence_type().await, "bigint");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_problem_that_is_not_there_is_not_fixed() {
    // 1% used: the alert is stale or wrong.
    let running = Running::start("DEV", 20_000_000).await;
    running.mail("stale-1", ALERT_LINE).await;
    let done = running.wait_for(&["VERIFICATION_FAILED", "COMPLETED", "ESCALATED"]);
    assert_eq!(done["status"], "VERIFICATION_FAILED", "{done}");
    assert_eq!(running.sequence_type().await, "integer", "nothing executed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_validation_that_fails_rolls_back_and_the_database_is_as_before() {
    let running = Running::start("DEV", 2_000_000_000).await;
    let policy_path = running.home.path().join("alerts/postgres/pg_sequence_exhaustion.md");
    let policy = std::fs::read_to_string(&policy_path).expect("policy");
    std::fs::write(&policy_path, policy.replace("- max_value > 2147483647", "- max_value < 0")).expect("edit policy");
    std::thread::sleep(Duration::from_millis(800)); // hot reload settles
    running.mail("rollback-1", ALERT_LINE).await;
    let done = running.wait_for(&["ROLLED_BACK", "COMPLETED", "ESCALATED", "FAILED"]);
    assert_eq!(done["status"], "ROLLED_BACK", "{done}");
    assert_eq!(running.sequence_type().await, "integer", "the rollback restored the sequence");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_alerts_at_once_are_all_stored_and_folded() {
    let running = Running::start("PROD", 2_000_000_000).await;
    for index in 0..1000 {
        running.mail(&format!("flood-{index}"), ALERT_LINE).await;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let output = sentri(running.home.path()).args(["alerts", "--json", "--last", "2000"]).output().expect("alerts");
        let alerts: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap_or_default();
        let stored = alerts.as_array().map_or(0, Vec::len);
        let triaged = alerts.as_array().into_iter().flatten().filter(|alert| alert["outcome"] != "pending").count();
        if stored == 1000 && triaged == 1000 {
            let folded = alerts.as_array().into_iter().flatten().filter(|alert| alert["outcome"] == "folded").count();
            assert_eq!(folded, 999, "one workflow, 999 repeats folded into it");
            break;
        }
        assert!(Instant::now() < deadline, "only {stored} stored / {triaged} triaged after 120 s");
        std::thread::sleep(Duration::from_millis(500));
    }
    let listed = workflows(running.home.path());
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    let show = sentri(running.home.path())
        .args(["show", "--json", listed[0]["short_id"].as_str().unwrap_or_default()])
        .output()
        .expect("show");
    let shown: serde_json::Value = serde_json::from_slice(&show.stdout).expect("json");
    assert_eq!(shown["workflow"]["occurrences"], 1000);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_and_restart_loses_nothing_and_runs_nothing_twice() {
    let mut running = Running::start("DEV", 2_000_000_000).await;
    running.mail("crash-1", ALERT_LINE).await;
    // Kill at once, while the alert is being read, verified or fixed; then again later.
    std::thread::sleep(Duration::from_millis(300));
    running.kill_9();
    running.spawn();
    std::thread::sleep(Duration::from_millis(500));
    running.kill_9();
    running.spawn();
    let done = running.wait_for(&["COMPLETED", "ESCALATED", "ROLLED_BACK", "FAILED", "VERIFICATION_FAILED"]);
    let listed = workflows(running.home.path());
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "exactly one workflow for one email: {listed}");
    let output = sentri(running.home.path()).args(["alerts", "--json"]).output().expect("alerts");
    let alerts: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(alerts.as_array().map(Vec::len), Some(1), "the email was stored exactly once: {alerts}");
    let history = sentri(running.home.path())
        .args(["show", "--json", done["short_id"].as_str().unwrap_or_default()])
        .output()
        .expect("show");
    let shown: serde_json::Value = serde_json::from_slice(&history.stdout).expect("json");
    let executions = shown["transitions"].as_array().into_iter().flatten().filter(|t| t["to"] == "EXECUTING").count();
    assert!(executions <= 1, "a fix never runs twice: {shown}");
    let verify = sentri(running.home.path()).args(["audit", "--verify"]).output().expect("verify");
    assert!(verify.status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_in_an_email_field_is_never_injected_and_the_attempt_is_audited() {
    let running = Running::start("DEV", 2_000_000_000).await;
    // A permissive, reference-style policy: it captures anything after `seq=`, and its fix
    // splices that value into DDL as a declared sequence identifier.
    let policy = "---\nseverity: HIGH\naction_type: EXTEND_SEQUENCE\nidentifiers:\n  seq: sequence\n---\n## Email Pattern\n```regex\nHOSTILE_TEST seq=(\\S+)\n```\n## Extracted Fields\n- `seq` = group(1)\n## Verification Query\n```sql\nSELECT 1 AS present\n```\n## Forward Action\n```sql\nALTER SEQUENCE :seq AS bigint\n```\n## Rollback Action\n```sql\nALTER SEQUENCE :seq AS integer\n```\n## Risk Level\nLOW\n";
    std::fs::write(running.home.path().join("alerts/postgres/hostile_test.md"), policy).expect("policy");
    std::thread::sleep(Duration::from_millis(800));
    running.mail("hostile-1", "HOSTILE_TEST seq=orders_id_seq;DROP/**/TABLE/**/canary;-- on app").await;
    let done = running.wait_for(&["ESCALATED", "FAILED", "COMPLETED", "ROLLED_BACK", "VERIFICATION_FAILED"]);
    assert_ne!(done["status"], "COMPLETED", "{done}");
    let count: i64 = postgres::admin(&running.dbname)
        .await
        .query_one("SELECT count(*) FROM canary", &[])
        .await
        .expect("the canary table still exists")
        .get(0);
    assert_eq!(count, 1);
    assert_eq!(running.sequence_type().await, "integer");
    let audit = sentri(running.home.path())
        .args(["show", "--json", done["short_id"].as_str().unwrap_or_default()])
        .output()
        .expect("show");
    let text = String::from_utf8_lossy(&audit.stdout);
    assert!(
        text.contains("DROP/**/TABLE/**/canary"),
        "the attempt is visible in the workflow's record and audit: {text}"
    );
    assert!(text.contains("not a valid sequence"), "refused as an invalid identifier: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_mail_server_restarting_mid_run_loses_nothing() {
    let mail = dovecot::Dovecot::start();
    let user = mail.add_user("restart-alerts");
    let dbname = postgres::fresh_database().await;
    nearly_exhausted_sequence(&dbname).await;
    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {user}\n  use_ssl: false\n  starttls: false\nmonitoring:\n  scout_poll_interval: 2\n  orchestrator_poll_interval: 1\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: PROD\n    username: postgres\n",
        mail.imap_port,
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    let _daemon =
        Daemon(sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start"));
    let message = |id: &str, sequence: &str| {
        format!(
            "From: n@x\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <{id}@x>\r\n\r\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.{sequence}=93% (calls left=1)\r\n"
        )
    };
    let count = |home: &std::path::Path| -> usize {
        let output = sentri(home).args(["alerts", "--json"]).output().expect("alerts");
        serde_json::from_slice::<serde_json::Value>(&output.stdout)
            .ok()
            .and_then(|v| v.as_array().map(Vec::len))
            .unwrap_or(0)
    };
    let wait_for = |wanted: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(home.path()) < wanted {
            assert!(Instant::now() < deadline, "only {} of {wanted} alerts stored", count(home.path()));
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    mail.append(&user, message("before-restart", "orders_id_seq").as_bytes()).await;
    wait_for(1);
    mail.stop();
    std::thread::sleep(Duration::from_secs(2));
    mail.restart();
    // Delivered while Sentri was reconnecting: must still be read, exactly once.
    mail.append(&user, message("after-restart", "invoices_id_seq").as_bytes()).await;
    wait_for(2);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(count(home.path()), 2, "nothing read twice");
}
