//! Mailbox-to-workflow latency: from an alert email APPENDed to a real Dovecot inbox to its
//! workflow in the store, through the IMAP intake (IDLE) and triage. Prints figures; run with
//! `cargo bench --bench mailbox_latency` (needs Dovecot, like the tests).

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dovecot;
use sentri::config::Secret;
use sentri::intake::imap::{self, ImapSettings, Security};
use sentri::pipeline::matcher::KnownDatabase;
use sentri::pipeline::triage::{self, Triage, TriageRules};
use sentri::policy::PolicySet;
use sentri::store::Store;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let server = dovecot::shared();
    let user = server.add_user("bench-latency");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = sentri::home::Home::at(dir.path());
    home.init(false).expect("init");
    let policies = Arc::new(PolicySet::load(&home.root));
    let store = Arc::new(Store::open(home.database_file()).expect("store"));
    let settings = ImapSettings {
        host: "127.0.0.1".into(),
        port: server.imap_port,
        username: user.clone(),
        password: Secret::new(dovecot::PASSWORD),
        security: Security::Plain,
        allow_plaintext: false,
        folder: "INBOX".into(),
        poll_interval: Duration::from_secs(5),
        idle_renewal: Duration::from_secs(25 * 60),
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        io_timeout: Duration::from_secs(30),
        ca_file: None,
        max_message_bytes: sentri::config::EmailConfig::default().max_message_bytes,
    };
    let floor = floor(server, &user).await;
    let (sender, mut receiver) = tokio::sync::mpsc::channel(64);
    let shutdown = CancellationToken::new();
    let intake = tokio::spawn(imap::run(settings, Arc::clone(&store), sender, shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;

    let databases =
        vec![KnownDatabase { name: "app".into(), environment: "DEV".into(), aliases: Vec::new(), engine: None }];
    let mut samples = Vec::new();
    for index in 0..20 {
        let email = format!(
            "From: nagios@x\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_TXN_IDLE is CRITICAL **\r\nMessage-ID: <lat-{index}@x>\r\n\r\nPOSTGRES_TXN_IDLE CRITICAL: DB \"app\" (host:db1) longest idle in txn: {}s\r\n",
            4000 + index
        );
        let started = Instant::now();
        server.append(&user, email.as_bytes()).await;
        let Some(id) = tokio::time::timeout(Duration::from_secs(30), receiver.recv()).await.ok().flatten() else {
            eprintln!("mailbox_latency: no alert within 30 s");
            break;
        };
        let (store, policies, databases) = (Arc::clone(&store), Arc::clone(&policies), databases.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            triage::triage(
                &store,
                id,
                &policies,
                &databases,
                &TriageRules { duplicate_window: Duration::ZERO, ..TriageRules::default() },
            )
        })
        .await
        .expect("join")
        .expect("triage");
        if matches!(outcome, Triage::Created { .. }) {
            samples.push(started.elapsed());
        }
    }
    shutdown.cancel();
    let _ = intake.await;
    samples.sort();
    if samples.is_empty() {
        println!("mailbox_latency: no samples");
        return;
    }
    let median = samples[samples.len() / 2];
    let worst = samples[samples.len() - 1];
    println!(
        "mailbox_latency: {} emails, APPEND → workflow stored: median {median:.2?}, max {worst:.2?}",
        samples.len()
    );
    if let Some(floor) = floor {
        println!(
            "mailbox_latency: floor APPEND → IDLE EXISTS on this Dovecot: median {floor:.2?}; workflow p50 is {:.1}× the floor",
            median.as_secs_f64() / floor.as_secs_f64().max(1e-9)
        );
    }
}

/// The floor no client can beat: from the start of an APPEND (the same call the samples time)
/// to the `EXISTS` a bare IDLE session gets for it, median of 20. The mail is APPENDed read, so
/// the intake started afterwards leaves it alone (it starts at the first unread message).
async fn floor(server: &dovecot::Dovecot, user: &str) -> Option<Duration> {
    use async_imap::extensions::idle::IdleResponse;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", server.imap_port)).await.ok()?;
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.ok()??;
    let mut session = client.login(user, dovecot::PASSWORD).await.ok()?;
    session.select("INBOX").await.ok()?;
    let mut times = Vec::new();
    for index in 0..20 {
        let mut idle = session.idle();
        idle.init().await.ok()?;
        let (wait, _stop) = idle.wait_with_timeout(Duration::from_secs(30));
        let email = format!("From: a@x\r\nSubject: floor {index}\r\nMessage-ID: <floor-{index}@x>\r\n\r\nfloor\r\n");
        let started = Instant::now();
        let seen = async {
            let response = wait.await;
            (response, started.elapsed())
        };
        let ((response, elapsed), ()) = tokio::join!(seen, server.append_read(user, email.as_bytes()));
        if matches!(response, Ok(IdleResponse::NewData(_))) {
            times.push(elapsed);
        }
        session = idle.done().await.ok()?;
    }
    times.sort();
    times.get(times.len() / 2).copied()
}
