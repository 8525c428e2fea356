//! The product end to end, driving the real binary: an alert email APPENDed to a real Dovecot
//! inbox is read by `sentri start`, verified on a real PostgreSQL, fixed, proven, audited — and
//! the database really changed. A second `sentri start` on the same home is refused, naming the
//! holder; SIGTERM stops the daemon cleanly.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{dovecot, postgres};

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let mail = dovecot::shared();
    let user = mail.add_user("e2e-alerts");

    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").status().expect("init").success());
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {user}\n  use_ssl: false\n  starttls: false\nmonitoring:\n  scout_poll_interval: 5\n  orchestrator_poll_interval: 1\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        mail.imap_port,
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");

    let daemon = Daemon(
        sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("sentri start"),
    );
    let second = sentri(home.path()).arg("start").output().expect("second start");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut refused = second;
    while refused.status.success() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        refused = sentri(home.path()).arg("start").output().expect("second start");
    }
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("another Sentri engine is running"), "{refused:?}");

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
