//! `sentri start` (also `sentri --daemon`): the engine, headless, in the foreground — systemd
//! friendly: no fork, logs to stderr and logs/, SIGTERM lets the current step finish, and under
//! `Type=notify` it tells systemd when it is ready, how it is and that it is alive (`systemd.rs`).
//! With `monitoring.metrics_listen` it serves `/metrics`, `/healthz` and `/readyz`
//! (`sentri::monitor`). Everything it runs is the library's [`Engine::start`]; this file only
//! opens, waits and stops.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use sentri::config::Config;
use sentri::engine::{Engine, EngineHandle, EngineSettings};
use sentri::home::Home;
use sentri::notify::report::Reporter;
use sentri::policy::watch::LivePolicies;
use sentri::store::Store;
use tokio_util::sync::CancellationToken;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(context: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    let home = context.existing_home()?;
    let config = Arc::new(context.config()?);
    let _lock = home.lock_engine()?;
    let _log_guard = super::logging::init(&home.log_dir(), context.log_settings(&config))?;
    let metrics_listen = config.monitoring.metrics_listen;
    let settings = daemon_settings(&home, config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        // Bound before the engine starts: a port in use stops the start with its reason.
        let listener = match metrics_listen {
            Some(address) => Some(sentri::monitor::http::bind(address).await?),
            None => None,
        };
        let engine = Engine::start(settings);
        if let Some(listener) = listener {
            tokio::spawn(sentri::monitor::http::serve(listener, engine.clone(), engine.stopping()));
        }
        let service_manager = super::systemd::Notifier::from_env();
        let notifying = service_manager.clone().map(|notifier| tokio::spawn(notifier.run(engine.clone())));
        wait_for_signal(engine.stopping()).await;
        // No ping after STOPPING=1: the pinger is stopped first.
        if let Some(task) = notifying {
            task.abort();
            let _ = task.await;
        }
        if let Some(notifier) = &service_manager {
            notifier.stopping();
        }
        engine.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What `sentri start` runs the engine with — the store opened with its reporter, the policy
/// pack loaded — shared with the console, which runs the same engine in-process when no daemon
/// holds the lock. The caller holds the engine lock and has started logging.
pub fn daemon_settings(home: &Home, config: Arc<Config>) -> anyhow::Result<EngineSettings> {
    let policies = LivePolicies::load(&home.root);
    let store = Store::open(home.database_file())
        .with_context(|| format!("opening {}", home.database_file().display()))?
        .with_reporter(Reporter::for_config(&config, policies.clone()));
    Ok(EngineSettings::daemon(Arc::new(store), policies, config))
}

/// Starts the engine as `sentri start` does, on the current runtime.
pub fn start_daemon_engine(home: &Home, config: Arc<Config>) -> anyhow::Result<EngineHandle> {
    Ok(Engine::start(daemon_settings(home, config)?))
}

/// Returns on SIGTERM or SIGINT, or when the engine stops by itself.
async fn wait_for_signal(stopping: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut interrupt)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: finishing the current step"),
        _ = interrupt.recv() => tracing::info!("SIGINT: finishing the current step"),
        () = stopping.cancelled() => {}
    }
}
