//! The console: a keyboard-first live view of alerts, workflows, Safety Mesh verdicts, SQL and
//! the audit trail, where a DBA approves, denies or resolves.
//!
//! [`app`] is the state and what keys do to it (no terminal); [`view`] and [`panes`] draw it;
//! [`refresh`] keeps it in step with the store; [`decide`] records decisions; [`terminal`] owns
//! the terminal, [`input`] reads it and [`signals`] hears SIGHUP/SIGTERM, all waking [`run`]'s
//! loop through one channel of [`wake::Wake`]s. The console never outlives its terminal, and
//! redraws only when what it shows changed. The console talks to the store, and to an in-process engine ([`EngineHandle`]) when there is one
//! (`sentri console` without a daemon, or the demo) — never to a database under care.

pub mod app;
pub mod decide;
pub mod fleet;
pub mod input;
pub mod model;
pub mod panes;
pub mod plan_text;
pub mod refresh;
pub mod signals;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod wake;

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use sentri::config::ApprovalsConfig;
use sentri::engine::EngineHandle;
use sentri::store::Store;
use tokio::sync::broadcast::error::TryRecvError;

use app::{App, Command};
pub use fleet::ConfiguredDatabase;
use input::Input;
use model::{DatabaseStatus, EngineState, Model, Status};
use refresh::Refresher;
use signals::SignalWatch;
use terminal::Screen;
use theme::Theme;
use wake::Wake;

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
    /// The configured databases, for the reachability count and the Databases view (`D`).
    pub databases: Vec<ConfiguredDatabase>,
    /// Who decides: the operating-system user.
    pub approver: String,
    /// The approval rules in force (four-eyes, self-approval), as `sentri approve` applies them.
    pub approvals: ApprovalsConfig,
    /// The home whose `alerts/learned/` the review (`L`) reads; `None`: there is none to read.
    pub home: Option<std::path::PathBuf>,
}

/// How often the store is asked whether anything changed (a daemon in another process, or
/// `sentri approve` in another shell, writes it without telling this one).
const REFRESH_EVERY: Duration = Duration::from_millis(250);
/// How often ages and the daemon's liveness are looked at again.
const CLOCK_EVERY: Duration = Duration::from_secs(1);
/// How long an engine in this process is given to stop when the console was stopped (signal,
/// terminal gone) rather than quit: the whole way out must take under 2 s. What is still
/// running then is recovered at the next start, as after a crash.
pub const STOPPED_ENGINE_LIMIT: Duration = Duration::from_millis(1500);

/// How the console ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The DBA quit: the terminal is there, and an engine may finish its current step.
    Quit,
    /// SIGTERM or SIGINT: the terminal was restored; stop quickly.
    Stopped(&'static str),
    /// The terminal went away: nobody is watching; stop quickly and print nothing.
    TerminalGone(String),
}

impl Ending {
    /// Whether the process should be gone within moments (not wait for a step to finish).
    pub fn in_a_hurry(&self) -> bool {
        !matches!(self, Ending::Quit)
    }
}

/// Builds the initial state from `source`: everything loaded once.
pub fn initial_app(source: &ConsoleSource, refresher: &mut Refresher) -> anyhow::Result<App> {
    let status = Status {
        engine: source.engine_state.clone(),
        label: source.label.clone(),
        databases: source
            .databases
            .iter()
            .map(|database| DatabaseStatus { name: database.name.clone(), reachable: None })
            .collect(),
    };
    let mut app = App::new(Model::new(status, source.store.now()));
    refresher.refresh(&mut app).context("reading the store")?;
    Ok(app)
}

/// Runs the console until the DBA quits, SIGTERM/SIGINT arrives, or the terminal goes away
/// (SIGHUP, end of input, a read error). Call it from a plain thread (e.g. `main`), not from
/// inside the engine's runtime: it blocks on its wake-up channel. The terminal is restored on
/// every way out but the last, where there is none to restore.
pub fn run(source: ConsoleSource) -> anyhow::Result<Ending> {
    run_with_message(source, None)
}

/// [`run`], with a first message on the bottom line (e.g. the demo's "what to do now") that
/// stays until a decision or Esc replaces it.
pub fn run_with_message(source: ConsoleSource, message: Option<String>) -> anyhow::Result<Ending> {
    ensure_terminal()?;
    let theme = Theme::from_env();
    let mut refresher = Refresher::new(Arc::clone(&source.store)).with_fleet(
        source.databases.clone(),
        source.home.as_deref().map(sentri::policy::PolicySet::load).unwrap_or_default(),
    );
    let mut app = initial_app(&source, &mut refresher)?;
    if let Some(message) = message {
        app.flash(message, false);
    }
    let (wakes, woken) = mpsc::channel();
    let _signals = SignalWatch::start(wakes.clone()).context("listening for SIGTERM and SIGHUP")?;
    let forwarder = source
        .engine
        .as_ref()
        .map(|link| link.runtime.spawn(wake::forward_engine_events(link.engine.subscribe(), wakes.clone())));
    let mut screen = Screen::open()?;
    let input = Input::start(wakes).context("reading the terminal")?;
    let ending = event_loop(&mut screen, &source, &theme, &mut refresher, &mut app, &woken);
    // The reader first, so nothing reads the terminal once it is handed back.
    drop(input);
    drop(screen);
    if let Some(forwarder) = forwarder {
        forwarder.abort();
    }
    ending
}

/// Stops an engine running in this process after its console ended: all the time it needs
/// after a quit, [`STOPPED_ENGINE_LIMIT`] when the console was stopped or lost its terminal.
pub async fn stop_engine(engine: &EngineHandle, ending: &Ending) {
    if !ending.in_a_hurry() {
        engine.shutdown().await;
    } else if tokio::time::timeout(STOPPED_ENGINE_LIMIT, engine.shutdown()).await.is_err() {
        tracing::warn!(?ending, "the engine did not stop in time; what was running is recovered at the next start");
    }
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

/// Sleeps until something wakes it — a key, a resize, the engine, a signal, the terminal's end
/// — or until the store or the clock is due; redraws only when what it shows changed.
fn event_loop(
    screen: &mut Screen,
    source: &ConsoleSource,
    theme: &Theme,
    refresher: &mut Refresher,
    app: &mut App,
    woken: &Receiver<Wake>,
) -> anyhow::Result<Ending> {
    let mut dirty = true;
    let mut next_refresh = Instant::now() + REFRESH_EVERY;
    let mut next_clock = Instant::now() + CLOCK_EVERY;
    loop {
        if dirty {
            if let Err(error) = screen.draw(app, theme) {
                screen.lost();
                return Ok(Ending::TerminalGone(format!("drawing failed: {error}")));
            }
            dirty = false;
        }
        if app.should_quit {
            return Ok(Ending::Quit);
        }
        let first = match woken.recv_timeout(next_refresh.min(next_clock).saturating_duration_since(Instant::now())) {
            Ok(wake) => Some(wake),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => {
                screen.lost();
                return Ok(Ending::TerminalGone("the console's inputs closed".into()));
            }
        };
        let mut look_now = false;
        for wake in first.into_iter().chain(woken.try_iter()) {
            match wake {
                Wake::Key(key) => {
                    let was_open = app.databases_open();
                    if let Some(command) = app.handle_key(key) {
                        carry_out(source, app, &command);
                        look_now = true;
                    }
                    if std::mem::take(&mut app.learned_wanted) {
                        app.learned = Some(read_learned(source));
                    }
                    let opened = app.databases_open() && !was_open;
                    if let Err(error) = refresher.refresh_fleet(app, opened) {
                        app.flash(format!("Reading the store failed: {error}"), true);
                    }
                    if let Err(error) = refresher.refresh_detail(app) {
                        app.flash(format!("Reading the store failed: {error}"), true);
                    }
                    dirty = true;
                    if app.should_quit {
                        break;
                    }
                }
                Wake::Resize => dirty = true,
                Wake::EngineSpoke => look_now = true,
                Wake::TerminalGone(why) => {
                    screen.lost();
                    return Ok(Ending::TerminalGone(why));
                }
                Wake::Stop(signal) => return Ok(Ending::Stopped(signal)),
            }
        }
        let now = Instant::now();
        if look_now || now >= next_refresh {
            next_refresh = now + REFRESH_EVERY;
            match refresher.refresh(app) {
                Ok(changed) => dirty |= changed,
                Err(error) => {
                    app.flash(format!("Reading the store failed: {error}"), true);
                    dirty = true;
                }
            }
        }
        if now >= next_clock {
            next_clock = now + CLOCK_EVERY;
            // The store's clock: the demo's starts on a fixed day, and ages follow it.
            let was = (app.model.now.as_second(), app.model.status.engine.clone());
            app.set_now(source.store.now());
            check_daemon(app);
            dirty |= was != (app.model.now.as_second(), app.model.status.engine.clone());
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

/// The learned policies of the source's home, reviewed as `sentri policy learned` does.
fn read_learned(source: &ConsoleSource) -> Result<Vec<sentri::pipeline::learned_review::LearnedReview>, String> {
    let Some(home) = &source.home else { return Ok(Vec::new()) };
    sentri::pipeline::learned_review::review(home).map_err(|error| format!("reading {}: {error}", home.display()))
}

/// An attached console notices when the daemon goes away.
fn check_daemon(app: &mut App) {
    if let EngineState::Attached { pid: Some(pid) } = app.model.status.engine
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
    {
        app.model.status.engine = EngineState::Stopped { why: format!("daemon pid {pid} exited") };
    }
}
