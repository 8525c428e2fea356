//! Logging for the long-running commands: human-readable lines to stderr (what systemd's
//! journal keeps) and the same lines to SENTRI_HOME/logs/sentri.log, appended to (rotate it with logrotate, `copytruncate`).

use std::path::Path;

use anyhow::Context as _;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// Starts logging at `level` (overridden by RUST_LOG). Keep the guard alive: dropping it
/// flushes the file.
pub fn init(log_dir: &Path, level: &str) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let file = tracing_appender::rolling::never(log_dir, "sentri.log");
    let (file, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("sentri={level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(std::io::stderr.and(file))
        .try_init()
        .map_err(|error| anyhow::anyhow!("starting the logger: {error}"))?;
    Ok(guard)
}

/// Logging for the console, which owns the terminal: the same lines, to logs/sentri.log only.
pub fn init_file_only(log_dir: &Path, level: &str) -> anyhow::Result<WorkerGuard> {
    std::fs::create_dir_all(log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let file = tracing_appender::rolling::never(log_dir, "sentri.log");
    let (file, guard) = tracing_appender::non_blocking(file);
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("sentri={level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_writer(file)
        .try_init()
        .map_err(|error| anyhow::anyhow!("starting the logger: {error}"))?;
    Ok(guard)
}
