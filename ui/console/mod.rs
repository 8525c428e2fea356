//! The console: a keyboard-first live view of alerts, workflows, Safety Mesh verdicts, SQL and
//! the audit trail, where a DBA approves, denies or resolves.
//!
//! [`app`] is the state and what keys do to it (no terminal); [`view`] and [`panes`] draw it;
//! [`refresh`] keeps it in step with the store; [`decide`] records decisions; [`run`] owns the
//! terminal. The console talks to the store, and to an in-process engine ([`EngineHandle`]) when there is one
//! (`sentri console` without a daemon, or the demo) — never to a database under care.

pub mod app;
pub mod decide;
pub mod model;
pub mod panes;
pub mod plan_text;
pub mod refresh;
pub mod theme;
pub mod view;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ratatui::crossterm::event::{self, Event};
use sentri::config::ApprovalsConfig;
use sentri::engine::EngineHandle;
use sentri::store::Store;
use tokio::sync::broadcast::error::TryRecvError;

use app::{App, Command};
use model::{DatabaseStatus, EngineState, Model, Status};
use refresh::Refresher;
use theme::Theme;

/// An engine running in this process, and the runtime it runs on.
pub struct EngineLink {
    pub engine: EngineHandle,
    pub runtime: tokio::runtime::Handle,
}

/// What the console shows and where decisions go. The daemon-attached console, the in-process
/// one and the demo differ only in what they put here.
pub struct ConsoleSource {
    pub store: Arc<Store>,
    /// The engine, when it runs in this process: its events make the views refresh at once,
    /// and a decision nudges it instead of waiting for its next sweep.
    pub engine: Option<EngineLink>,
    /// How the engine is reached, for the status bar.
    pub engine_state: EngineState,
    /// A banner on every view, e.g. `SIMULATED` for the demo.
    pub label: Option<String>,
    /// The configured databases (names), for the reachability count.
    pub databases: Vec<String>,
    /// Who decides: the operating-system user.
    pub approver: String,
    /// The approval rules in force (four-eyes, self-approval), as `sentri approve` applies them.
    pub approvals: ApprovalsConfig,
}

/// How often the store is asked whether anything changed.
const REFRESH_EVERY: Duration = Duration::from_millis(250);
/// How often ages and the daemon's liveness are looked at again.
const CLOCK_EVERY: Duration = Duration::from_secs(1);

/// Builds the initial state from `source`: everything loaded once.
pub fn initial_app(source: &ConsoleSource, refresher: &mut Refresher) -> anyhow::Result<App> {
    let status = Status {
        engine: source.engine_state.clone(),
        label: source.label.clone(),
        databases: source.databases.iter().map(|name| DatabaseStatus { name: name.clone(), reachable: None }).collect(),
    };
    let mut app = App::new(Model::new(status, source.store.now()));
    refresher.refresh(&mut app).context("reading the store")?;
    Ok(app)
}

/// Runs the console until the DBA quits or SIGTERM/SIGHUP arrives. Call it from a plain thread
/// (e.g. `main`), not from inside the engine's runtime: it blocks on the keyboard. The terminal is restored on
/// every way out: a normal return, an error, a signal, and a panic (ratatui's panic hook).
pub fn run(source: ConsoleSource) -> anyhow::Result<()> {
    run_with_message(source, None)
}

/// [`run`], with a first message on the bottom line (e.g. the demo's "what to do now") that
/// stays until a decision or Esc replaces it.
pub fn run_with_message(source: ConsoleSource, message: Option<String>) -> anyhow::Result<()> {
    ensure_terminal()?;
    let theme = Theme::from_env();
    let mut refresher = Refresher::new(Arc::clone(&source.store));
    let mut app = initial_app(&source, &mut refresher)?;
    if let Some(message) = message {
        app.flash(message, false);
    }
    let stop = watch_signals();
    let mut terminal = match ratatui::try_init() {
        Ok(terminal) => terminal,
        Err(error) => {
            ratatui::restore();
            return Err(error).context("setting up the terminal");
        }
    };
    let result = event_loop(&mut terminal, &source, &theme, &mut refresher, &mut app, &stop);
    ratatui::restore();
    result
}

/// The console needs a terminal on both ends; piped or under a service manager it refuses with
/// what to run instead, rather than drawing escape codes into a file.
pub fn ensure_terminal() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the console needs a terminal; use `sentri start` for the engine without one, or `sentri list`, `sentri show` and `sentri alerts` to read the store"
        );
    }
    Ok(())
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    source: &ConsoleSource,
    theme: &Theme,
    refresher: &mut Refresher,
    app: &mut App,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let mut events = source.engine.as_ref().map(|link| link.engine.subscribe());
    let mut dirty = true;
    let mut last_refresh = Instant::now();
    let mut last_clock = Instant::now();
    loop {
        if dirty {
            terminal.draw(|frame| view::draw(app, theme, frame)).context("drawing")?;
            dirty = false;
        }
        if app.should_quit || stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if event::poll(REFRESH_EVERY).context("reading the keyboard")? {
            match event::read().context("reading the keyboard")? {
                Event::Key(key) => {
                    if let Some(command) = app.handle_key(key) {
                        carry_out(source, app, &command);
                        last_refresh -= REFRESH_EVERY;
                    }
                    if let Err(error) = refresher.refresh_detail(app) {
                        app.flash(format!("Reading the store failed: {error}"), true);
                    }
                    dirty = true;
                }
                Event::Resize(..) => dirty = true,
                _ => {}
            }
        }
        let engine_spoke = events.as_mut().is_some_and(engine_spoke);
        if engine_spoke || last_refresh.elapsed() >= REFRESH_EVERY {
            last_refresh = Instant::now();
            match refresher.refresh(app) {
                Ok(changed) => dirty |= changed,
                Err(error) => {
                    app.flash(format!("Reading the store failed: {error}"), true);
                    dirty = true;
                }
            }
        }
        if last_clock.elapsed() >= CLOCK_EVERY {
            last_clock = Instant::now();
            // The store's clock: the demo's starts on a fixed day, and ages follow it.
            app.set_now(source.store.now());
            check_daemon(app);
            dirty = true;
        }
    }
}

/// Drains the engine's events without waiting; true if there was any (or some were lost to
/// lag), which means "look at the store now". The events themselves carry only ids.
pub fn engine_spoke(receiver: &mut tokio::sync::broadcast::Receiver<sentri::engine::EngineEvent>) -> bool {
    let mut spoke = false;
    loop {
        match receiver.try_recv() {
            Ok(_) | Err(TryRecvError::Lagged(_)) => spoke = true,
            Err(TryRecvError::Empty | TryRecvError::Closed) => return spoke,
        }
    }
}

/// Records a confirmed decision and shows what happened; an in-process engine takes the
/// workflow up at once.
fn carry_out(source: &ConsoleSource, app: &mut App, command: &Command) {
    match decide::carry_out(&source.store, &source.approvals, command, &source.approver) {
        Ok(message) => {
            app.flash(message, false);
            if let Some(link) = &source.engine {
                let workflow_id = match command {
                    Command::Approve { workflow_id, .. }
                    | Command::Deny { workflow_id, .. }
                    | Command::Resolve { workflow_id, .. } => workflow_id.clone(),
                };
                let engine = link.engine.clone();
                link.runtime.spawn(async move { engine.drive(&workflow_id).await });
            }
        }
        Err(message) => app.flash(message, true),
    }
}

/// An attached console notices when the daemon goes away.
fn check_daemon(app: &mut App) {
    if let EngineState::Attached { pid: Some(pid) } = app.model.status.engine
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        app.model.status.engine = EngineState::Stopped { why: format!("daemon pid {pid} exited") };
    }
}

/// Sets the returned flag on SIGTERM or SIGHUP (an SSH session that drops), so the loop ends
/// and restores the terminal instead of the process dying in raw mode.
fn watch_signals() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let spawned = std::thread::Builder::new().name("console-signals".into()).spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
        runtime.block_on(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup())) else {
                return;
            };
            tokio::select! {
                _ = term.recv() => {}
                _ = hangup.recv() => {}
            }
            flag.store(true, Ordering::SeqCst);
        });
    });
    if let Err(error) = spawned {
        tracing::warn!(%error, "cannot watch for SIGTERM/SIGHUP");
    }
    stop
}
