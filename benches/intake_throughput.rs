//! Intake throughput and memory: a real Dovecot inbox of N alert emails (the default pack's
//! sample alerts, each with its own Message-ID, plus 10 % mail that is no alert), then a fresh
//! process runs the IMAP intake over it from an empty store until every email is stored, and
//! prints emails per second and its peak RSS (`VmHWM`). Run with
//! `cargo bench --bench intake_throughput` (needs Dovecot, like the tests);
//! `SENTRI_BENCH_INTAKE_EMAILS` sets N (default 2,000; the burst is 10,000).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mailbox.rs"]
mod mailbox;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dovecot;
use sentri::config::{EmailConfig, Secret};
use sentri::intake::imap::{self, ImapSettings, Security};
use sentri::policy::PolicySet;
use sentri::store::Store;
use tokio_util::sync::CancellationToken;

/// Set in the child: `port user count`.
const CHILD_VAR: &str = "SENTRI_BENCH_INTAKE_CHILD";

fn main() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        child(&spec);
        return;
    }
    let count: usize = std::env::var("SENTRI_BENCH_INTAKE_EMAILS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let server = dovecot::shared();
    let user = server.add_user(&format!("bench-intake-{count}-{}", std::process::id()));
    let dir = tempfile::tempdir().expect("tempdir");
    let home = sentri::home::Home::at(dir.path());
    home.init(false).expect("init");
    let policies = PolicySet::load(&home.root);
    let samples: Vec<(String, String)> = policies
        .alerts
        .iter()
        .flat_map(|policy| &policy.samples)
        .map(|sample| (sample.subject.clone(), sample.body.clone()))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    runtime.block_on(mailbox::append_all(server.imap_port, &user, dovecot::PASSWORD, &samples, count));
    println!("intake_throughput: {count} emails APPENDed in {:.2?}", started.elapsed());
    let output = Command::new(std::env::current_exe().expect("this binary"))
        .env(CHILD_VAR, format!("{} {user} {count}", server.imap_port))
        .output()
        .expect("run the intake in a child process");
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        eprintln!("intake_throughput: the child failed:\n{text}{}", String::from_utf8_lossy(&output.stderr));
        std::process::exit(1);
    }
    println!("intake_throughput: {}", text.trim());
}

/// The child: read the folder from an empty store until every email is stored.
fn child(spec: &str) {
    let mut parts = spec.split_whitespace();
    let (Some(port), Some(user), Some(count)) = (parts.next(), parts.next(), parts.next()) else {
        eprintln!("bad {CHILD_VAR}: {spec:?}");
        std::process::exit(2);
    };
    let (Ok(port), Ok(count)) = (port.parse::<u16>(), count.parse::<usize>()) else {
        eprintln!("bad {CHILD_VAR}: {spec:?}");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(Store::open(dir.path().join("sentri.db")).expect("store"));
    let settings = ImapSettings {
        host: "127.0.0.1".into(),
        port,
        username: user.to_owned(),
        password: Secret::new(dovecot::PASSWORD),
        security: Security::Plain,
        allow_plaintext: false,
        folder: "INBOX".into(),
        poll_interval: Duration::from_secs(5),
        idle_renewal: Duration::from_secs(25 * 60),
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(2),
        io_timeout: Duration::from_secs(60),
        ca_file: None,
        max_message_bytes: EmailConfig::default().max_message_bytes,
    };
    let started = Instant::now();
    let stored = runtime.block_on(async {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(256);
        let shutdown = CancellationToken::new();
        let intake = tokio::spawn(imap::run(settings, Arc::clone(&store), sender, shutdown.clone()));
        let mut stored = 0usize;
        while stored < count {
            match tokio::time::timeout(Duration::from_secs(60), receiver.recv()).await {
                Ok(Some(_)) => stored += 1,
                _ => break,
            }
        }
        shutdown.cancel();
        let _ = intake.await;
        stored
    });
    let elapsed = started.elapsed();
    let peak = mailbox::peak_rss_mib("self").unwrap_or(f64::NAN);
    println!(
        "{stored} of {count} emails stored in {elapsed:.2?}: {:.0} emails/s, peak RSS {peak:.1} MiB (VmHWM)",
        stored as f64 / elapsed.as_secs_f64()
    );
    if stored < count {
        std::process::exit(1);
    }
}
