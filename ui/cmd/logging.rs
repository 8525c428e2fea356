//! Logging for the long-running commands: lines to stderr (what systemd's journal keeps) and the
//! same lines to SENTRI_HOME/logs/sentri.YYYY-MM-DD.log, a new file each day (UTC) and the last
//! `monitoring.log_keep_days` kept (tracing-appender's rolling writer). Human-readable text, or
//! with `--log-format json` / `monitoring.log_format: json` one JSON object per line, for
//! journald and log shippers.
//!
//! Secrets do not reach the log because nothing logs one: `Secret` prints as `***`, connection
//! errors carry no password, and `tests/service_logs.rs` greps every line of a daemon's run for
//! the test secrets.

use std::path::Path;

use anyhow::Context as _;
use sentri::config::LogFormat;
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;

/// How and where to log.
#[derive(Debug, Clone, Copy)]
pub struct LogSettings<'a> {
    pub level: &'a str,
    pub format: LogFormat,
    /// Daily files kept.
    pub keep: usize,
}

/// The daily-rotated file under `log_dir`.
fn daily_file(log_dir: &Path, keep: usize) -> anyhow::Result<RollingFileAppender> {
    std::fs::create_dir_all(log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("sentri")
        .filename_suffix("log")
        .max_log_files(keep.max(1))
        .build(log_dir)
        .with_context(|| format!("opening the log file in {}", log_dir.display()))
}

fn filter(level: &str) -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(format!("sentri={level},warn")))
}

/// Starts logging to stderr and the daily file (RUST_LOG overrides the level). Keep the guard
/// alive: dropping it flushes the file.
pub fn init(log_dir: &Path, settings: LogSettings<'_>) -> anyhow::Result<WorkerGuard> {
    let (file, guard) = tracing_appender::non_blocking(daily_file(log_dir, settings.keep)?);
    let builder = tracing_subscriber::fmt().with_env_filter(filter(settings.level)).with_ansi(false);
    let writer = std::io::stderr.and(file);
    let started = match settings.format {
        LogFormat::Text => builder.with_writer(writer).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_writer(writer).try_init(),
    };
    started.map_err(|error| anyhow::anyhow!("starting the logger: {error}"))?;
    Ok(guard)
}

/// Logging for the console, which owns the terminal: the same lines, to the daily file only.
pub fn init_file_only(log_dir: &Path, settings: LogSettings<'_>) -> anyhow::Result<WorkerGuard> {
    let (file, guard) = tracing_appender::non_blocking(daily_file(log_dir, settings.keep)?);
    let builder = tracing_subscriber::fmt().with_env_filter(filter(settings.level)).with_ansi(false);
    let started = match settings.format {
        LogFormat::Text => builder.with_writer(file).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_writer(file).try_init(),
    };
    started.map_err(|error| anyhow::anyhow!("starting the logger: {error}"))?;
    Ok(guard)
}
