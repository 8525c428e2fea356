//! Peak memory of the IMAP intake with a 50 MB email in the inbox: the email is APPENDed to a
//! real Dovecot, then a fresh process runs the intake over the folder (IDLE session, fetch,
//! parse, store) and triage with the default policy pack, and prints its peak RSS (`VmHWM` from
//! /proc/self/status). Run with `cargo bench --bench mail_memory` (needs Dovecot, like the
//! tests).
//!
//! The intake runs in a child process (this binary again, told so by an environment variable)
//! so that the figure holds only what reading the mail cost, not the 50 MB the APPEND itself
//! built. It runs twice: with the default `email.max_message_bytes` (the figure that must stay
//! under 100 MB), and with a cap above the message's size, for comparison with the old
//! behaviour of fetching the whole message.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dovecot;
use sentri::config::{EmailConfig, Secret};
use sentri::intake::imap::{self, ImapSettings, Security};
use sentri::pipeline::matcher::KnownDatabase;
use sentri::pipeline::triage::{self, TriageRules};
use sentri::policy::PolicySet;
use sentri::store::Store;
use tokio_util::sync::CancellationToken;

/// Set in the child: `port user cap`.
const CHILD_VAR: &str = "SENTRI_BENCH_MAIL_MEMORY_CHILD";
const MESSAGE_BYTES: usize = 50 * 1024 * 1024;
const LIMIT_MIB: f64 = 100.0;

fn main() {
    if let Ok(spec) = std::env::var(CHILD_VAR) {
        child(&spec);
        return;
    }
    let server = dovecot::shared();
    let default_cap = EmailConfig::default().max_message_bytes;
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut capped = None;
    for (label, cap) in [("default cap", default_cap), ("no cap (old behaviour)", 64 * 1024 * 1024)] {
        let user = server.add_user(&format!("bench-memory-{cap}"));
        runtime.block_on(server.append(&user, &fifty_megabytes()));
        let output = Command::new(std::env::current_exe().expect("this binary"))
            .env(CHILD_VAR, format!("{} {user} {cap}", server.imap_port))
            .output()
            .expect("run the intake in a child process");
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            eprintln!("mail_memory: the child failed:\n{text}{}", String::from_utf8_lossy(&output.stderr));
            std::process::exit(1);
        }
        println!("mail_memory: {label} ({cap} bytes): {}", text.trim());
        if cap == default_cap {
            capped = text.split_whitespace().find_map(|word| word.strip_prefix("peak_mib=")?.parse::<f64>().ok());
        }
    }
    match capped {
        Some(peak) if peak < LIMIT_MIB => println!("mail_memory: OK, {peak:.1} MiB < {LIMIT_MIB} MiB"),
        Some(peak) => {
            println!("mail_memory: OVER, {peak:.1} MiB >= {LIMIT_MIB} MiB");
            std::process::exit(1);
        }
        None => {
            println!("mail_memory: no figure");
            std::process::exit(1);
        }
    }
}

/// An OEM-style alert whose body is 50 MB of log lines: the attack the size cap is for.
fn fifty_megabytes() -> Vec<u8> {
    let mut mail = b"From: OEM <oem@example.org>\r\nTo: alerts@example.org\r\n\
        Subject: EM Event: Critical:PRODDB - Tablespace [USERS] is [97 percent] full\r\n\
        Message-ID: <fifty-mb@example.org>\r\nDate: Wed, 25 Nov 2026 01:02:03 +0000\r\n\r\n\
        Target name=PRODDB\r\nMessage=Tablespace [USERS] is [97 percent] full\r\n"
        .to_vec();
    let line = b"ORA-01653: unable to extend table APP.EVENTS by 128 in tablespace USERS\r\n";
    while mail.len() + line.len() <= MESSAGE_BYTES {
        mail.extend_from_slice(line);
    }
    mail
}

/// The child: read the folder until the message is stored, triage it, print the peak RSS.
fn child(spec: &str) {
    let mut parts = spec.split_whitespace();
    let (Some(port), Some(user), Some(cap)) = (parts.next(), parts.next(), parts.next()) else {
        eprintln!("bad {CHILD_VAR}: {spec:?}");
        std::process::exit(2);
    };
    let (Ok(port), Ok(cap)) = (port.parse::<u16>(), cap.parse::<u32>()) else {
        eprintln!("bad {CHILD_VAR}: {spec:?}");
        std::process::exit(2);
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    let (stored_bytes, original) = runtime.block_on(read_and_triage(port, user, cap));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kib| kib.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    println!(
        "peak_mib={:.1} (VmHWM; VmRSS now {:.1} MiB), stored body {stored_bytes} bytes, marked original size {original:?}, \
         in {:.2?}",
        field("VmHWM:"),
        field("VmRSS:"),
        started.elapsed()
    );
}

async fn read_and_triage(port: u16, user: &str, cap: u32) -> (usize, Option<u64>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = sentri::home::Home::at(dir.path());
    home.init(false).expect("init");
    let policies = Arc::new(PolicySet::load(&home.root));
    let store = Arc::new(Store::open(home.database_file()).expect("store"));
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
        io_timeout: Duration::from_secs(120),
        ca_file: None,
        max_message_bytes: cap,
    };
    let (sender, mut receiver) = tokio::sync::mpsc::channel(4);
    let shutdown = CancellationToken::new();
    let intake = tokio::spawn(imap::run(settings, Arc::clone(&store), sender, shutdown.clone()));
    let Some(id) = tokio::time::timeout(Duration::from_secs(300), receiver.recv()).await.ok().flatten() else {
        eprintln!("mail_memory: the message was not stored within 300 s");
        std::process::exit(1);
    };
    let databases =
        vec![KnownDatabase { name: "PRODDB".into(), environment: "DEV".into(), aliases: Vec::new(), engine: None }];
    let triaged = {
        let store = Arc::clone(&store);
        tokio::task::spawn_blocking(move || {
            triage::triage(&store, id, &policies, &databases, &TriageRules::default()).map(|outcome| {
                let row = store.get_raw_alert(id);
                (outcome, row)
            })
        })
        .await
        .expect("join")
    };
    shutdown.cancel();
    let _ = intake.await;
    match triaged {
        Ok((_, Ok(row))) => (row.body.len(), row.original_size),
        Ok((_, Err(error))) | Err(error) => {
            eprintln!("mail_memory: {error}");
            std::process::exit(1);
        }
    }
}
