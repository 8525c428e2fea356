//! `sentri start` (also `sentri --daemon`): the engine, headless, in the foreground — systemd
//! friendly: no fork, logs to stderr and logs/sentri.log, SIGTERM lets the current step finish.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use sentri::config::Config;
use sentri::engine::{Engine, EngineSettings};
use sentri::home::Home;
use sentri::intake::imap::{self, ImapSettings};
use sentri::notify::notifier;
use sentri::notify::{Notifier, NotifierSettings};
use sentri::policy::watch::{LivePolicies, WatchGuard};
use sentri::store::Store;
use sentri::targets::ConnectOptions;
use tokio_util::sync::CancellationToken;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(context: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    let home = context.existing_home()?;
    let config = Arc::new(context.config()?);
    let _lock = home.lock_engine()?;
    let _log_guard = super::logging::init(&home.log_dir(), config.monitoring.log_level.as_filter())?;
    let store = Arc::new(
        Store::open(home.database_file()).with_context(|| format!("opening {}", home.database_file().display()))?,
    );
    let prepared = Prepared::new(&home, config, store)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        let signals = tokio::spawn(wait_for_signal(shutdown.clone()));
        prepared.run(shutdown).await;
        signals.abort();
    });
    Ok(ExitCode::SUCCESS)
}

/// The engine as `sentri start` runs it — policies loaded and watched, the engine built — shared
/// with the console, which runs the same engine in-process when no daemon holds the lock.
/// The caller holds the engine lock and has started logging.
pub struct Prepared {
    engine: Arc<Engine>,
    config: Arc<Config>,
    store: Arc<Store>,
    _watch: WatchGuard,
}

impl Prepared {
    /// Loads and watches the policy pack and builds the engine (nothing runs yet).
    pub fn new(home: &Home, config: Arc<Config>, store: Arc<Store>) -> anyhow::Result<Prepared> {
        let policies = LivePolicies::load(&home.root);
        let loaded = policies.snapshot();
        for problem in &loaded.problems {
            tracing::warn!("{problem}");
        }
        tracing::info!(alerts = loaded.alerts.len(), checks = loaded.checks.len(), "policies loaded");
        let watch = policies.watch(|set| {
            tracing::info!(alerts = set.alerts.len(), problems = set.problems.len(), "policies reloaded")
        })?;
        let engine = Engine::new(EngineSettings {
            store: Arc::clone(&store),
            policies,
            config: Arc::clone(&config),
            connect: ConnectOptions::default(),
            triage: None,
            sweep_interval: config.monitoring.orchestrator_poll_interval,
        });
        Ok(Prepared { engine, config, store, _watch: watch })
    }

    /// The engine, e.g. to subscribe to its events before it runs.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Runs the mailbox intake (when configured), the notifier and the engine until
    /// `shutdown`, then lets the current steps finish.
    pub async fn run(self, shutdown: CancellationToken) {
        let (intake_sender, intake) = tokio::sync::mpsc::channel(256);
        let mailbox = spawn_mailbox(&self.config, Arc::clone(&self.store), intake_sender, shutdown.clone());
        let notifier = spawn_notifier(&self.config, &self.engine, Arc::clone(&self.store), shutdown.clone());
        tracing::info!(databases = self.config.databases.len(), "Sentri engine started");
        Arc::clone(&self.engine).run(intake, shutdown).await;
        if let Some(mailbox) = mailbox {
            let _ = tokio::time::timeout(Duration::from_secs(10), mailbox).await;
        }
        // A send in progress finishes (SMTP and HTTP have their own timeouts); what is left
        // waits in the outbox for the next start.
        let _ = tokio::time::timeout(Duration::from_secs(45), notifier).await;
        tracing::info!("Sentri engine stopped");
    }
}

async fn wait_for_signal(shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut interrupt)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing the current step"),
        _ = interrupt.recv() => tracing::info!("SIGINT: finishing the current step"),
    }
    shutdown.cancel();
}

/// Starts the notifier, woken by every engine event (a state change may have queued mail).
fn spawn_notifier(
    config: &Config,
    engine: &Arc<Engine>,
    store: Arc<Store>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let notifier = Notifier::new(store, config, NotifierSettings::default());
    for problem in notifier.setup_problems() {
        tracing::warn!("notifications: {problem}");
    }
    let channels = notifier.channels();
    tracing::info!(
        email_recipients = channels.email.len(),
        slack = channels.slack.is_some(),
        webhooks = channels.webhooks.len(),
        pagerduty = channels.pagerduty.len(),
        "notifier started"
    );
    tokio::spawn(notifier::wake_on_events(engine.subscribe(), notifier.waker(), shutdown.clone()));
    tokio::spawn(notifier.run(shutdown))
}

/// Starts the mailbox intake when sentri.yaml names an IMAP server; `None` otherwise.
fn spawn_mailbox(
    config: &Config,
    store: Arc<Store>,
    notify: tokio::sync::mpsc::Sender<i64>,
    shutdown: CancellationToken,
) -> Option<tokio::task::JoinHandle<()>> {
    if config.email.imap_server.trim().is_empty() {
        tracing::info!(
            "no email.imap_server in sentri.yaml: mailbox intake is off (use `sentri replay` to feed alerts)"
        );
        return None;
    }
    let settings = match ImapSettings::from_config(&config.email, &config.monitoring) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "mailbox intake cannot start");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        if let Err(error) = imap::run(settings, store, notify, shutdown).await {
            tracing::error!(%error, "mailbox intake stopped");
        }
    }))
}
