//! The demo on a terminal: the console over a [`DemoSession`], while the demo alerts arrive in
//! the background one at a time. The DEV fixes run (one of them is rolled back) and the PROD
//! fix waits in AWAITING_APPROVAL until the person at the keyboard approves it in the console,
//! through the same `pipeline::approval::decide` path as every console decision.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::scenarios::DemoAlert;
use super::session::{DemoSession, SessionOptions};
use crate::console::model::EngineState;
use crate::console::{self, ConsoleSource, EngineLink};

/// The pause before the first alert, so the empty console is seen first, and between alerts,
/// so each one is seen arriving.
const FIRST_PAUSE: Duration = Duration::from_millis(1500);
const BETWEEN_ALERTS: Duration = Duration::from_millis(1200);

/// What the interactive demo runs.
pub struct LiveDemo {
    pub options: SessionOptions,
    pub alerts: Vec<DemoAlert>,
    /// The real database the alerts are aimed at (`--db`), or `None` for the sandbox.
    pub real: Option<String>,
    /// The banner on every view: `SIMULATED`, or `LIVE <name>`.
    pub label: String,
}

/// Runs the demo under the console until the user quits; then stops the engine and removes the
/// demo's home. Call it from a plain thread: the console blocks on the keyboard while the
/// engine and the alert feed run on a runtime of their own.
pub fn run(demo: LiveDemo) -> anyhow::Result<()> {
    console::ensure_terminal()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let session = Arc::new(runtime.block_on(DemoSession::start(demo.options))?);
    let message = hint(&demo.label, demo.real.as_deref());
    let feeder = runtime.spawn(feed(Arc::clone(&session), demo.alerts, demo.real));
    let source = ConsoleSource {
        store: Arc::clone(&session.store),
        engine: Some(EngineLink { engine: session.engine.clone(), runtime: runtime.handle().clone() }),
        engine_state: EngineState::InProcess,
        label: Some(demo.label),
        databases: crate::console::ConfiguredDatabase::from_config(&session.config),
        approver: crate::cmd::approve::os_user()?,
        approvals: session.config.approvals.clone(),
        home: Some(session.home.root.clone()),
    };
    let shown = console::run_with_message(source, Some(message));
    feeder.abort();
    let fed = runtime.block_on(feeder);
    // An error leaves the terminal there (restored): the engine may finish its step.
    let ending = shown.as_ref().map_or(console::Ending::Quit, Clone::clone);
    if !ending.in_a_hurry() {
        eprintln!("Stopping the demo's engine: the current step finishes first…");
    }
    runtime.block_on(console::stop_engine(&session.engine, &ending));
    // Dropping the last holder of the session removes the demo's home.
    if Arc::try_unwrap(session).is_err() {
        tracing::warn!("the demo session was still shared at exit: its home goes with the last holder");
    }
    if ending.in_a_hurry() {
        // A step still on the blocking pool is not waited for; the home is gone already.
        runtime.shutdown_timeout(console::STOPPED_ENGINE_LIMIT / 4);
    }
    shown?;
    match fed {
        Ok(Err(error)) => return Err(error).context("feeding the demo alerts"),
        Err(error) if !error.is_cancelled() => return Err(error).context("the demo's alert feed"),
        _ => {}
    }
    // The terminal may be gone (a hangup): saying so is not worth a panic on a closed stdout.
    let _ = writeln!(std::io::stdout(), "The demo's home was removed.");
    Ok(())
}

/// The first line at the bottom of the console: what the user is there to do.
fn hint(label: &str, real: Option<&str>) -> String {
    match real {
        None => format!(
            "{label} demo: alerts arrive one by one. A PROD fix waits for you: select it (j/k) and press a, then Enter. q quits."
        ),
        Some(name) => format!(
            "Demo alerts for {name} arrive in a moment. A fix that needs approval waits for you: select it and press a. q quits."
        ),
    }
}

/// Hands the demo alerts to the engine one at a time, waiting for each to settle (the PROD one
/// settles in AWAITING_APPROVAL) so they are seen arriving in order.
async fn feed(session: Arc<DemoSession>, alerts: Vec<DemoAlert>, real: Option<String>) -> anyhow::Result<()> {
    tokio::time::sleep(FIRST_PAUSE).await;
    for alert in alerts {
        let email = alert.email_for(real.as_deref());
        let raw_id = session.feed(&email).await.with_context(|| format!("feeding {}", alert.file))?;
        session.settle(raw_id).await.with_context(|| format!("waiting for {} to settle", alert.file))?;
        tokio::time::sleep(BETWEEN_ALERTS).await;
    }
    Ok(())
}
