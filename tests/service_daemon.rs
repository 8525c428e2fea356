//! `sentri start` as a service, end to end on the real binary (issue 16): under a real unix
//! datagram socket as `NOTIFY_SOCKET` it says READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 in
//! that order; a store another process holds the write lock of wedges the engine loop's
//! heartbeat and the watchdog pings stop (and resume when it is let go); `/metrics`, `/healthz`
//! and `/readyz` answer over real HTTP with what happened (a real alert from a real Dovecot
//! fixed on a real PostgreSQL); the logs are one JSON object per line, in the day's file, and no
//! line of them carries a test secret.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::{dovecot, postgres};

/// Secrets the daemon is given that no log line may contain.
/// A Slack webhook nobody answers (port 1 on loopback): the ending's notification stays in the
/// outbox, retried, and its failures are logged — without the URL, which is a credential.
const SLACK_SECRET: &str = "http://127.0.0.1:1/services/T0000/B0000/svc-slack-secret-4d2a";
const CLAUDE_SECRET: &str = "sk-ant-svc-test-secret-91f3";

/// Every datagram received on the notify socket, with when it came.
#[derive(Clone, Default)]
struct Notifications(Arc<Mutex<Vec<(Instant, String)>>>);

impl Notifications {
    fn listen(socket: UnixDatagram) -> Notifications {
        let received = Notifications::default();
        let sink = received.clone();
        socket.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            loop {
                match socket.recv(&mut buffer) {
                    Ok(n) => {
                        let text = String::from_utf8_lossy(&buffer[..n]).into_owned();
                        sink.0.lock().unwrap_or_else(|p| p.into_inner()).push((Instant::now(), text));
                    }
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(error) if error.kind() == std::io::ErrorKind::TimedOut => {}
                    Err(_) => return,
                }
            }
        });
        received
    }

    fn all(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn pings_between(&self, from: Instant, to: Instant) -> usize {
        self.all().iter().filter(|(at, text)| *at >= from && *at <= to && text.contains("WATCHDOG=1")).count()
    }

    fn wait_for(&self, what: &str, within: Duration, found: impl Fn(&[(Instant, String)]) -> bool) {
        let deadline = Instant::now() + within;
        while !found(&self.all()) {
            assert!(Instant::now() < deadline, "no {what} within {within:?}: {:?}", self.texts());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn texts(&self) -> Vec<String> {
        self.all().into_iter().map(|(_, text)| text).collect()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// One HTTP/1.1 GET over a real TCP connection: the status and the body.
async fn get(url: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream =
        tokio::net::TcpStream::connect(authority).await.unwrap_or_else(|error| panic!("GET {url}: {error}"));
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8(response).expect("utf-8");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no header end: {response}"));
    let status = head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{head}"));
    (status, body.to_owned())
}

/// The value of one sample line (`name{labels} value`) of the exposition.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_speaks_systemd_serves_metrics_and_logs_json_without_secrets() {
    let dbname = postgres::fresh_database().await;
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let mail = dovecot::shared();
    let user = mail.add_user("svc-alerts");
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = || {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
        command
            .env("SENTRI_HOME", home.path())
            .env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD)
            .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD)
            .env("SENTRI_SLACK_WEBHOOK_URL", SLACK_SECRET)
            .env("SENTRI_CLAUDE_API_KEY", CLAUDE_SECRET)
            .env_remove("RUST_LOG");
        command
    };
    assert!(sentri().arg("init").stdout(Stdio::null()).status().expect("init").success());
    let port = free_port();
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {user}\n  use_ssl: false\n  starttls: false\nmonitoring:\n  scout_poll_interval: 5\n  orchestrator_poll_interval: 1\n  metrics_listen: 127.0.0.1:{port}\n  log_level: DEBUG\n  log_keep_days: 3\nchecks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        mail.imap_port,
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    // Five older daily files: with log_keep_days 3, the two newest stay beside today's.
    for day in 1..=5 {
        std::fs::write(home.path().join(format!("logs/sentri.2026-01-0{day}.log")), "").expect("old log");
        std::thread::sleep(Duration::from_millis(20));
    }

    let socket_dir = tempfile::tempdir().expect("socket dir");
    let socket_path = socket_dir.path().join("notify.sock");
    let notes = Notifications::listen(UnixDatagram::bind(&socket_path).expect("bind the notify socket"));
    let started = Instant::now();
    let mut daemon = Daemon(
        sentri()
            .args(["--log-format", "json", "start"])
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "2000000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sentri start"),
    );
    let pid = daemon.0.id().to_string();

    // READY=1 first, with a status line; then pings.
    notes.wait_for("READY=1", Duration::from_secs(30), |all| all.iter().any(|(_, t)| t.contains("READY=1")));
    let first = notes.texts().into_iter().next().unwrap_or_default();
    assert!(first.contains("READY=1") && first.contains("STATUS=databases reachable"), "first: {first:?}");
    assert!(first.contains("mailbox connected"), "the intake is up before READY: {first:?}");
    notes.wait_for("three WATCHDOG=1", Duration::from_secs(10), |all| {
        all.iter().filter(|(_, t)| t.contains("WATCHDOG=1")).count() >= 3
    });

    // Health over real HTTP.
    let base = format!("http://127.0.0.1:{port}");
    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<serde_json::Value>(&body).expect("json")["status"], "alive");
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (ready["store"]["writable"].as_bool(), ready["intake"]["connected"].as_bool()),
        (Some(true), Some(true))
    );

    // A real alert, fixed; then the metrics say so.
    let email = "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <svc-seq-1@monitor.example.com>\r\nDate: Wed, 25 Nov 2026 03:00:00 +0000\r\n\r\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)\r\n";
    mail.append(&user, email.as_bytes()).await;
    let deadline = Instant::now() + Duration::from_secs(90);
    let metrics = loop {
        let (status, metrics) = get(&format!("{base}/metrics")).await;
        assert_eq!(status, 200, "{metrics}");
        if sample(&metrics, "sentri_workflows{state=\"COMPLETED\"}") == Some(1.0) {
            break metrics;
        }
        assert!(Instant::now() < deadline, "no COMPLETED workflow in the metrics within 90 s:\n{metrics}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for (series, expected) in [
        ("sentri_alerts_received_total", 1.0),
        ("sentri_alerts_matched_total{alert_type=\"pg_sequence_exhaustion\"}", 1.0),
        ("sentri_alerts_unmatched_total", 0.0),
        ("sentri_alerts_folded_total", 0.0),
        ("sentri_workflows{state=\"AWAITING_APPROVAL\"}", 0.0),
        ("sentri_executions_total{outcome=\"completed\"}", 1.0),
        ("sentri_mesh_verdicts_total{check=\"blast_radius\",decision=\"ALLOW\"}", 1.0),
        ("sentri_verification_duration_seconds_count", 1.0),
        ("sentri_diagnosis_duration_seconds_count", 1.0),
        ("sentri_database_reachable{database=\"app\"}", 1.0),
        ("sentri_imap_connected", 1.0),
        ("sentri_imap_uid_lag", 0.0),
    ] {
        assert_eq!(sample(&metrics, series), Some(expected), "{series} in:\n{metrics}");
    }
    assert!(metrics.contains("# TYPE sentri_diagnosis_duration_seconds histogram"), "{metrics}");
    // The ending's Slack message cannot be delivered: it waits in the outbox.
    assert!(sample(&metrics, "sentri_outbox_depth").is_some_and(|depth| depth >= 1.0), "{metrics}");
    assert!(sample(&metrics, "sentri_outbox_oldest_age_seconds").is_some_and(|age| age > 0.0), "{metrics}");
    assert!(sample(&metrics, "sentri_last_alert_age_seconds").is_some_and(|age| age >= 0.0), "{metrics}");
    assert!(sample(&metrics, "sentri_database_profile_age_seconds{database=\"app\"}").is_some(), "{metrics}");
    assert!(metrics.trim_end().ends_with("# EOF"), "OpenMetrics text ends with # EOF");
    notes.wait_for("STATUS with the database reachable", Duration::from_secs(20), |all| {
        all.iter().any(|(_, t)| t.contains("STATUS=databases reachable 1/1"))
    });

    // Wedge the engine: another process takes the store's write lock and holds it.
    let wedge = rusqlite::Connection::open(home.path().join("data/sentri.db")).expect("open the store");
    wedge.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
    wedge.execute_batch("BEGIN IMMEDIATE").expect("take the write lock");
    let wedged_at = Instant::now();
    // A probe that took the lock just before us may still beat once; after that, none.
    std::thread::sleep(Duration::from_secs(8));
    let quiet_from = wedged_at + Duration::from_millis(1500);
    assert_eq!(notes.pings_between(quiet_from, Instant::now()), 0, "a wedged loop must not ping: {:?}", notes.texts());
    let (status, body) = get(&format!("{base}/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("the store cannot be written"), "{body}");
    let (status, _) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "the process is alive; only readiness fails");
    wedge.execute_batch("ROLLBACK").expect("let the lock go");
    drop(wedge);
    let released = Instant::now();
    notes.wait_for("pings after the store is let go", Duration::from_secs(15), |all| {
        all.iter().any(|(at, t)| *at > released && t.contains("WATCHDOG=1"))
    });

    // SIGTERM: STOPPING=1, and nothing after it.
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(status) = daemon.0.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}");
    std::thread::sleep(Duration::from_millis(300));
    let texts = notes.texts();
    let stopping = texts.iter().position(|t| t.contains("STOPPING=1")).expect("STOPPING=1 sent");
    assert_eq!(stopping, texts.len() - 1, "STOPPING=1 is the last message: {texts:?}");
    let ready = texts.iter().position(|t| t.contains("READY=1")).expect("READY=1");
    assert_eq!(ready, 0, "READY=1 comes before any other message");
    assert_eq!(texts.iter().filter(|t| t.contains("READY=1")).count(), 1, "READY=1 once");
    assert!(started.elapsed() < Duration::from_secs(300));

    // The logs: today's file, one JSON object per line, no secret anywhere.
    let logs: Vec<std::path::PathBuf> = std::fs::read_dir(home.path().join("logs"))
        .expect("logs")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    let today = jiff::Timestamp::now().strftime("%Y-%m-%d").to_string();
    let mut names: Vec<String> = logs.iter().filter_map(|path| path.file_name()?.to_str().map(str::to_owned)).collect();
    names.sort();
    let mut expected =
        vec!["sentri.2026-01-04.log".to_owned(), "sentri.2026-01-05.log".to_owned(), format!("sentri.{today}.log")];
    expected.sort();
    assert_eq!(names, expected, "today's file and the newest of the old ones: log_keep_days 3");
    let mut lines = 0;
    for path in &logs {
        let text = std::fs::read_to_string(path).expect("log");
        for line in text.lines() {
            lines += 1;
            let object: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|error| panic!("not one JSON object ({error}): {line}"));
            assert!(object["timestamp"].is_string() && object["level"].is_string(), "{line}");
            for secret in [postgres::SUPERUSER_PASSWORD, dovecot::PASSWORD, SLACK_SECRET, CLAUDE_SECRET] {
                assert!(!line.contains(secret), "a secret in the log: {line}");
            }
        }
    }
    assert!(lines > 20, "the run logged ({lines} lines)");
    let text: String = logs.iter().map(|path| std::fs::read_to_string(path).unwrap_or_default()).collect();
    assert!(text.contains("IMAP intake connected") && text.contains("workflow moved"), "the log is the run's");
    // The Slack delivery failed and was logged: the error path of a credential-bearing URL.
    assert!(text.contains("delivery failed"), "the failed Slack delivery is in the log");
}
