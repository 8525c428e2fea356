//! Notifications through the real binary: `sentri start` reads an alert from a real Dovecot
//! inbox, fixes it on a real PostgreSQL, and its notifier mails the outcome through a real
//! OpenSMTPD — with the default recipients, i.e. back to the alert mailbox itself. The daemon
//! then reads its own notification there and keeps it as ignored mail: no second workflow, no
//! loop.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::smtp::{self, Smtpd};
use common::{dovecot, postgres};

fn sentri(home: &std::path::Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
    command
        .env("SENTRI_HOME", home)
        .env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD)
        .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD)
        .env_remove("SENTRI_SMTP_PASSWORD")
        .env_remove("SENTRI_SLACK_WEBHOOK_URL");
    command
}

fn json(home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let output = sentri(home).args(args).output().expect("sentri");
    serde_json::from_slice(&output.stdout).unwrap_or(serde_json::Value::Null)
}

/// Polls `check` every 250 ms until it gives a value, or fails after `within` with `what`.
fn wait<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "{what} within {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_mails_the_outcome_and_ignores_its_own_mail_when_it_comes_back() {
    let dbname = postgres::fresh_database().await;
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let mail = dovecot::shared();
    let user = mail.add_user("daemon-alerts@localhost");
    let smtpd = Smtpd::start(mail);

    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
    // No recipients anywhere: notifications go to approval_recipients, which default to the
    // alert mailbox (email.username).
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {imap}\n  username: {user}\n  use_ssl: false\n  starttls: \
         false\n  smtp_server: 127.0.0.1\n  smtp_port: {smtp}\n  use_tls: false\nmonitoring:\n  scout_poll_interval: \
         5\n  orchestrator_poll_interval: 1\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{conn}\"\n    \
         environment: DEV\n    username: postgres\nnotifications:\n  adapters:\n    - type: email\n      enabled: true\n",
        imap = mail.imap_port,
        smtp = smtpd.port,
        conn = postgres::connection_string(&dbname),
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    let _daemon = Daemon(
        sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("sentri start"),
    );

    let alert = "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <notify-daemon-1@monitor.example.com>\r\n\r\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)\r\n";
    mail.append(&user, alert.as_bytes()).await;

    let workflow = wait(Duration::from_secs(60), "a COMPLETED workflow", || {
        let listed = json(home.path(), &["list", "--json"]);
        listed.get(0).filter(|w| w["status"] == "COMPLETED").cloned()
    });
    let id = workflow["id"].as_str().expect("id").to_owned();
    let short = &id[..8];

    // The notification arrives in the alert mailbox, sent through OpenSMTPD.
    let inbox = smtp::wait_for_mail(mail, &user, 2, Duration::from_secs(30)).await;
    let notification = inbox
        .iter()
        .find(|m| m.header("Subject").is_some_and(|s| s.starts_with("[SENTRI] COMPLETED")))
        .unwrap_or_else(|| panic!("no notification among {inbox:?}\n{}", smtpd.logs()));
    assert_eq!(
        notification.header("Subject").as_deref(),
        Some(format!("[SENTRI] COMPLETED: pg_sequence_exhaustion on app [WF:{short}]").as_str())
    );
    assert!(notification.header("X-Sentri-Message").is_some_and(|v| v.contains(&id)));
    let text = notification.parsed().body_text(0).expect("text").to_string();
    assert!(text.contains(&format!("To see more: sentri show {short}")), "{text}");

    // The daemon reads its own notification back: kept, ignored, no second workflow.
    let alerts = wait(Duration::from_secs(30), "the notification read back and marked ignored", || {
        let alerts = json(home.path(), &["alerts", "--json"]);
        let ignored = alerts.as_array()?.iter().any(|a| {
            a["outcome"] == "ignored" && a["subject"].as_str().is_some_and(|s| s.starts_with("[SENTRI] COMPLETED"))
        });
        ignored.then_some(alerts)
    });
    assert_eq!(alerts.as_array().map(Vec::len), Some(2), "{alerts}");
    std::thread::sleep(Duration::from_secs(2));
    let listed = json(home.path(), &["list", "--json"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "own mail opened no workflow: {listed}");
    assert_eq!(smtp::inbox(mail, &user).await.len(), 2, "one notification, no loop");

    let shown = json(home.path(), &["show", "--json", short]);
    let outbox = shown["outbox"].as_array().expect("outbox");
    assert_eq!(outbox.len(), 1, "{shown}");
    assert_eq!(outbox[0]["recipient"], user.as_str());
    assert!(outbox[0]["sent_at"].is_string(), "{shown}");
    let verify = sentri(home.path()).args(["audit", "--verify"]).output().expect("verify");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}
