//! Intake side by side with the reference product (issue 15 §6): one loopback Dovecot speaking
//! implicit TLS (the reference only speaks IMAP over SSL), one INBOX of N mixed emails (the
//! labelled corpus's reference-family alerts, the nine alert types in the reference's own
//! shapes, with every tenth email a newsletter that is no alert), read by each tool in turn,
//! three runs each, alternating, with every email made unread again before each run.
//!
//! - **Sentri**: the real daemon, `sentri start`, from a fresh `sentri init` home whose
//!   sentri.yaml points at the TLS port (trusted through `email.ca_file`), with checks disabled
//!   and no databases. Timed from launch until its store holds every email with its outcome
//!   (what `sentri alerts` lists: stored and matched); the time until every email is merely
//!   stored is printed beside it. Peak RSS is the daemon's `VmHWM`, read before it is stopped.
//! - **The reference**: `sentri-dba==5.2.0` from PyPI in a venv (`target/refvenv`, created and
//!   installed on first use), driven by `benches/reference_scout.py`: its own Scout `run_loop`
//!   for one pass, unpatched, trusting the server through `SSL_CERT_FILE`. Timed over the pass
//!   (the interpreter's start and imports are not counted, which favours the reference). Peak
//!   RSS is that process's `VmHWM`.
//!
//! Run with `cargo bench --bench intake_side_by_side` (needs Dovecot, like the tests, and PyPI or
//! an existing venv for the reference's side; without them it says so and prints Sentri's).
//! `SENTRI_BENCH_INTAKE_EMAILS` sets N (default 2,000), `SENTRI_BENCH_RUNS` the runs (default 3),
//! `SENTRI_BENCH_REFVENV` the venv.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/mailbox.rs"]
mod mailbox;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::dovecot::{self, Dovecot};

/// The reference release this bench compares against.
const REFERENCE: &str = "sentri-dba==5.2.0";
/// How long one run may take before it is given up.
const RUN_DEADLINE: Duration = Duration::from_secs(180);
/// The intake goals of issue 15: at least this many times the reference's emails/s…
const RATE_GOAL: f64 = 20.0;
/// …and at most this share of its peak RSS.
const MEMORY_GOAL: f64 = 0.5;

/// One run of one tool.
struct Run {
    /// Emails per second over the timed span.
    rate: f64,
    peak_mib: f64,
    /// A note printed beside the run.
    note: String,
}

fn main() {
    let count: usize = std::env::var("SENTRI_BENCH_INTAKE_EMAILS").ok().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let runs: usize = std::env::var("SENTRI_BENCH_RUNS").ok().and_then(|n| n.parse().ok()).unwrap_or(3).max(1);
    let samples = mailbox::corpus_alerts("reference");
    let alerts = mailbox::alert_count(count, &samples);

    let dir = tempfile::tempdir().expect("tempdir");
    let (ca_pem, server_pem, key_pem) = dovecot::private_ca();
    let ca_file = dir.path().join("bench-ca.pem");
    std::fs::write(&ca_file, &ca_pem).expect("write the CA");
    let server = Dovecot::start_tls(&server_pem, &key_pem);
    let imaps_port = server.imaps_port.expect("an implicit-TLS port");
    let user = server.add_user("side-by-side");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let started = Instant::now();
    runtime.block_on(mailbox::append_all(server.imap_port, &user, dovecot::PASSWORD, &samples, count));
    println!(
        "intake_side_by_side: {count} emails ({alerts} alerts of {} reference-family texts, {} newsletters) \
         APPENDed in {:.2?}; both tools read them over implicit TLS (port {imaps_port}) on one loopback Dovecot",
        samples.len(),
        count - alerts,
        started.elapsed()
    );

    let reference = reference_python(dir.path());
    if let Err(why) = &reference {
        println!("intake_side_by_side: THE REFERENCE IS UNAVAILABLE ({why}); only Sentri's side is measured");
    }
    let mut sentri_runs = Vec::new();
    let mut reference_runs = Vec::new();
    for run in 1..=runs {
        runtime.block_on(mailbox::mark_all_unread(server.imap_port, &user, dovecot::PASSWORD));
        let result = sentri_run(dir.path(), run, imaps_port, &user, &ca_file, count);
        println!(
            "  sentri    run {run}: {:.0} emails/s, peak RSS {:.1} MiB ({})",
            result.rate, result.peak_mib, result.note
        );
        sentri_runs.push(result);
        if let Ok(python) = &reference {
            runtime.block_on(mailbox::mark_all_unread(server.imap_port, &user, dovecot::PASSWORD));
            match reference_run(python, imaps_port, &user, &ca_file, count) {
                Ok(result) => {
                    println!(
                        "  reference run {run}: {:.0} emails/s, peak RSS {:.1} MiB ({})",
                        result.rate, result.peak_mib, result.note
                    );
                    reference_runs.push(result);
                }
                Err(why) => println!("  reference run {run}: FAILED: {why}"),
            }
        }
    }

    let (sentri_rate, sentri_peak) = medians(&sentri_runs);
    println!("\nintake_side_by_side: {count} emails, {runs} runs each, medians");
    println!("  {:<34} {:>12} {:>14}", "", "emails/s", "peak RSS");
    println!("  {:<34} {sentri_rate:>12.0} {:>10.1} MiB", "Sentri (`sentri start`, stored+matched)", sentri_peak);
    if reference_runs.is_empty() {
        println!("  reference: not measured; no ratios");
        return;
    }
    let (reference_rate, reference_peak) = medians(&reference_runs);
    println!("  {:<34} {reference_rate:>12.0} {:>10.1} MiB", "reference 5.2.0 (Scout, one pass)", reference_peak);
    let speed = sentri_rate / reference_rate;
    let memory = sentri_peak / reference_peak;
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    println!("  emails/s, Sentri ÷ reference: {speed:.1}× (goal ≥ {RATE_GOAL}×: {})", verdict(speed >= RATE_GOAL));
    println!("  peak RSS, Sentri ÷ reference: {memory:.2} (goal ≤ {MEMORY_GOAL}: {})", verdict(memory <= MEMORY_GOAL));
}

/// Median emails/s and median peak RSS, each on its own.
fn medians(runs: &[Run]) -> (f64, f64) {
    let median = |mut values: Vec<f64>| {
        values.sort_by(f64::total_cmp);
        let middle = values.len() / 2;
        if values.len() % 2 == 1 { values[middle] } else { (values[middle - 1] + values[middle]) / 2.0 }
    };
    (median(runs.iter().map(|run| run.rate).collect()), median(runs.iter().map(|run| run.peak_mib).collect()))
}

/// One run of the real daemon from a fresh home: launch, wait until every email is stored with
/// its outcome, read its peak RSS, stop it.
fn sentri_run(dir: &Path, run: usize, port: u16, user: &str, ca_file: &Path, count: usize) -> Run {
    let home = dir.join(format!("sentri-home-{run}"));
    let sentri = |home: &Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sentri"));
        command.env("SENTRI_HOME", home).env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD);
        command
    };
    let init = sentri(&home).arg("init").stdout(Stdio::null()).status().expect("sentri init");
    assert!(init.success(), "sentri init failed");
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {port}\n  username: {user}\n  use_ssl: true\n  ca_file: {}\n\
         monitoring:\n  scout_poll_interval: 60\nchecks:\n  enabled: false\n",
        ca_file.display()
    );
    std::fs::write(home.join("config/sentri.yaml"), config).expect("write sentri.yaml");
    let log = std::fs::File::create(dir.join(format!("sentri-{run}.log"))).expect("daemon log");
    let started = Instant::now();
    let mut daemon = common::daemon::Daemon(
        sentri(&home).arg("start").stdout(Stdio::null()).stderr(log).spawn().expect("sentri start"),
    );
    let pid = daemon.0.id().to_string();
    let store = home.join("data/sentri.db");
    let mut stored_at = None;
    let (mut stored, mut handled) = (0, 0);
    while started.elapsed() < RUN_DEADLINE {
        if let Ok(Some(status)) = daemon.0.try_wait() {
            panic!("sentri start exited ({status}); see {}", dir.join(format!("sentri-{run}.log")).display());
        }
        (stored, handled) = counts(&store);
        if stored >= count && stored_at.is_none() {
            stored_at = Some(started.elapsed());
        }
        if handled >= count {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let elapsed = started.elapsed();
    let peak_mib = mailbox::peak_rss_mib(&pid).unwrap_or(f64::NAN);
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !matches!(daemon.0.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(daemon);
    assert!(handled >= count, "Sentri stored {stored} and handled {handled} of {count} emails in {RUN_DEADLINE:?}");
    let stored_at = stored_at.unwrap_or(elapsed);
    Run {
        rate: count as f64 / elapsed.as_secs_f64(),
        peak_mib,
        note: format!(
            "launch → all {count} stored {stored_at:.2?} ({:.0}/s), → all matched {elapsed:.2?}",
            count as f64 / stored_at.as_secs_f64()
        ),
    }
}

/// `(stored, with an outcome)` in a daemon's store, read-only; zeros until the store exists.
fn counts(store: &Path) -> (usize, usize) {
    let Ok(connection) = rusqlite::Connection::open_with_flags(store, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return (0, 0);
    };
    connection
        .query_row("SELECT count(*), count(outcome) FROM raw_alerts", [], |row| {
            Ok((row.get::<_, i64>(0)? as usize, row.get::<_, i64>(1)? as usize))
        })
        .unwrap_or((0, 0))
}

/// The venv's python with the reference installed: `SENTRI_BENCH_REFVENV` or
/// `<target>/refvenv`, created and installed from PyPI when it is not there yet.
fn reference_python(scratch: &Path) -> Result<PathBuf, String> {
    let venv = std::env::var_os("SENTRI_BENCH_REFVENV").map(PathBuf::from).unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from)
            .join("refvenv")
    });
    let python = venv.join("bin/python");
    let installed = |python: &Path| {
        Command::new(python)
            .args(["-c", "import importlib.metadata as m, sentri.agents.scout; print(m.version('sentri-dba'))"])
            .output()
            .is_ok_and(|out| out.status.success() && out.stdout.starts_with(b"5.2.0"))
    };
    if installed(&python) {
        return Ok(python);
    }
    println!("intake_side_by_side: installing {REFERENCE} into {} …", venv.display());
    let log = scratch.join("pip.log");
    let quiet = |path: &Path| std::fs::File::create(path).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
    if !python.exists() {
        let made = Command::new("python3").arg("-m").arg("venv").arg(&venv).stdout(quiet(&log)).status();
        if !made.is_ok_and(|status| status.success()) {
            return Err(format!("`python3 -m venv {}` failed (is python3-venv installed?)", venv.display()));
        }
    }
    let pip = Command::new(venv.join("bin/pip")).args(["install", "--quiet", REFERENCE]).stderr(quiet(&log)).status();
    if !pip.is_ok_and(|status| status.success()) || !installed(&python) {
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("`pip install {REFERENCE}` failed (PyPI unreachable?): {}", tail.trim()));
    }
    Ok(python)
}

/// One pass of the reference's Scout through `benches/reference_scout.py`.
fn reference_run(python: &Path, port: u16, user: &str, ca_file: &Path, count: usize) -> Result<Run, String> {
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/reference_scout.py");
    let output = Command::new(python)
        .arg(driver)
        .args(["127.0.0.1", &port.to_string(), user, &count.to_string()])
        .env("SSL_CERT_FILE", ca_file)
        .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD)
        .env_remove("SENTRI_HOME")
        .output()
        .map_err(|e| format!("cannot run the driver: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().unwrap_or_default();
    let result: serde_json::Value = serde_json::from_str(line).map_err(|_| {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
        format!("the driver printed no result ({}): {}", output.status, tail.join(" / "))
    })?;
    let seconds = result["seconds"].as_f64().unwrap_or(f64::NAN);
    let emails = result["emails"].as_u64().unwrap_or(0);
    let errors = result["errors"].as_u64().unwrap_or(0);
    if emails < count as u64 || errors > 0 {
        return Err(format!(
            "the Scout read {emails} of {count} emails with {errors} errors: {}",
            result["error_messages"]
        ));
    }
    Ok(Run {
        rate: count as f64 / seconds,
        peak_mib: result["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
        note: format!("one pass {seconds:.2} s, {} workflows created", result["workflows"]),
    })
}
