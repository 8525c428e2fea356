//! `sentri console` (and `sentri` alone): the live console. When a daemon holds the engine lock
//! for this home, the console attaches to it through the store; otherwise it takes the lock and
//! runs the engine in-process, exactly as `sentri start` would, until the DBA quits.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use sentri::home::LockError;
use sentri::notify::report::Reporter;
use sentri::policy::watch::LivePolicies;
use sentri::store::Store;

use super::Context;
use crate::console::model::EngineState;
use crate::console::{self, ConsoleSource, EngineLink};

/// `sentri console` takes no options: where it attaches is decided by the engine lock.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Attaches to a running daemon (`sentri start`) for this SENTRI_HOME, or runs the engine in-process until you quit.\nRespects NO_COLOR; colours beyond 16 only with COLORTERM=truecolor. Press ? inside for every key."
)]
pub struct Args {}

/// Opens the console, attached to the daemon or with the engine in-process.
pub fn run(context: &Context, _args: Args) -> anyhow::Result<ExitCode> {
    console::ensure_terminal()?;
    let home = context.existing_home()?;
    let config = Arc::new(context.config()?);
    // Decisions taken in an attached console end workflows too: the store reports them.
    let reporter = Reporter::for_config(&config, LivePolicies::load(&home.root));
    let store = Arc::new(
        Store::open(home.database_file())
            .with_context(|| format!("opening {}", home.database_file().display()))?
            .with_reporter(reporter),
    );
    let databases = console::ConfiguredDatabase::from_config(&config);
    let approver = super::approve::os_user()?;
    let approvals = config.approvals.clone();
    let lock = match home.lock_engine() {
        Ok(lock) => lock,
        Err(LockError::Held { holder, .. }) => {
            // Attached: nothing of the engine's runs here, so every ending is simply the end.
            console::run(ConsoleSource {
                store,
                engine: None,
                engine_state: EngineState::Attached { pid: holder_pid(&holder) },
                label: None,
                databases,
                approver,
                approvals: approvals.clone(),
                home: Some(home.root.clone()),
            })?;
            return Ok(ExitCode::SUCCESS);
        }
        Err(error) => return Err(error.into()),
    };
    let _log_guard = super::logging::init_file_only(&home.log_dir(), context.log_settings(&config))?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let engine = {
        let _entered = runtime.enter();
        super::start::start_daemon_engine(&home, config)?
    };
    let store = Arc::clone(engine.store());
    let result = console::run(ConsoleSource {
        store,
        engine: Some(EngineLink { engine: engine.clone(), runtime: runtime.handle().clone() }),
        engine_state: EngineState::InProcess,
        label: None,
        databases,
        approver,
        approvals,
        home: Some(home.root.clone()),
    });
    // An error leaves the terminal there (restored): the engine may finish its step.
    let ending = result.as_ref().map_or(console::Ending::Quit, Clone::clone);
    if !ending.in_a_hurry() {
        eprintln!("Stopping the engine: the current step finishes first…");
    }
    runtime.block_on(console::stop_engine(&engine, &ending));
    if ending.in_a_hurry() {
        // A step still on the blocking pool is not waited for: recovery takes it up next time.
        runtime.shutdown_timeout(console::STOPPED_ENGINE_LIMIT / 4);
    }
    drop(lock);
    result?;
    Ok(ExitCode::SUCCESS)
}

/// The pid in the lock file's `pid N (user … on …) since …`.
fn holder_pid(holder: &str) -> Option<u32> {
    holder.strip_prefix("pid ")?.split_whitespace().next()?.parse().ok()
}
