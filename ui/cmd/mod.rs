//! One file per subcommand, plus what they share: finding SENTRI_HOME, loading the config and
//! opening the store with errors that tell the DBA what to do next.

pub mod alerts;
pub mod approve;
pub mod audit;
pub mod checks;
pub mod completions;
pub mod console;
pub mod db;
pub mod demo;
pub mod diagnose;
pub mod init;
pub mod install_service;
pub mod investigate;
pub mod list;
pub mod logging;
pub mod man;
pub mod matching;
pub mod policy;
pub mod profile;
pub mod profiles;
pub mod replay;
pub mod show;
pub mod start;
pub mod stats;
pub mod systemd;
pub mod table;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use sentri::config::{Config, LoadedConfig, LogFormat};
use sentri::home::Home;
use sentri::store::Store;

/// What every command needs to find its files.
pub struct Context {
    home_override: Option<PathBuf>,
    /// `--log-format`, over `monitoring.log_format`.
    log_format: Option<LogFormat>,
}

impl Context {
    pub fn new(home_override: Option<PathBuf>, log_format: Option<LogFormat>) -> Context {
        Context { home_override, log_format }
    }

    /// The home given with --home or SENTRI_HOME, if one was.
    pub fn home_override(&self) -> Option<&std::path::Path> {
        self.home_override.as_deref()
    }

    /// How the long-running commands log: `--log-format` over `monitoring.log_format`.
    pub fn log_settings<'a>(&self, config: &'a Config) -> logging::LogSettings<'a> {
        logging::LogSettings {
            level: config.monitoring.log_level.as_filter(),
            format: self.log_format.unwrap_or(config.monitoring.log_format),
            keep: config.monitoring.log_keep_days,
        }
    }

    pub fn home(&self) -> anyhow::Result<Home> {
        match &self.home_override {
            Some(path) => Ok(Home::at(path)),
            None => Home::from_env().context("locating SENTRI_HOME"),
        }
    }

    /// The home, which must already exist.
    pub fn existing_home(&self) -> anyhow::Result<Home> {
        let home = self.home()?;
        if !home.exists() {
            bail!("{} does not exist; run `sentri init` first (or set SENTRI_HOME)", home.root.display());
        }
        Ok(home)
    }

    /// The configuration, with its warnings printed to stderr. A home without a config file
    /// gives the defaults (no databases).
    pub fn config(&self) -> anyhow::Result<Config> {
        let home = self.existing_home()?;
        let path = home.config_file();
        if !path.exists() {
            eprintln!("warning: {} not found; no databases are configured", path.display());
            return Ok(Config::default());
        }
        let LoadedConfig { config, warnings } = Config::load(&path)?;
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
        Ok(config)
    }

    /// The configured databases that are the SIMULATED sandbox, so workflow views can say so.
    /// Quiet: a missing or unreadable config gives none (those views read the store, not it).
    pub fn simulated_databases(&self) -> Vec<String> {
        let Ok(home) = self.home() else { return Vec::new() };
        let Ok(loaded) = Config::load(&home.config_file()) else { return Vec::new() };
        loaded.config.databases.iter().filter(|d| d.engine.is_simulated()).map(|d| d.name.clone()).collect()
    }

    /// The store, which must already exist (commands never create one), opened with its
    /// reporter: a workflow a command ends (deny, resolve, a clear event replayed) queues its
    /// messages exactly as one the daemon ends, in the same transaction; the daemon's notifier
    /// sends them. A configuration that does not load leaves notifications off, with a warning,
    /// rather than blocking a DBA's decision.
    pub fn store(&self) -> anyhow::Result<Store> {
        let home = self.existing_home()?;
        let path = home.database_file();
        if !path.exists() {
            bail!("no store at {}; run `sentri init` first", path.display());
        }
        let store = Store::open(&path).with_context(|| format!("opening {}", path.display()))?;
        match self.config() {
            Ok(config) => {
                let policies = sentri::policy::watch::LivePolicies::load(&home.root);
                Ok(store.with_reporter(sentri::notify::report::Reporter::for_config(&config, policies)))
            }
            Err(error) => {
                eprintln!("warning: notifications are off for this command: {error:#}");
                Ok(store)
            }
        }
    }
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Text from an email or a database made safe for a terminal: control characters (escape
/// sequences included) are shown as `\u{..}` instead of being interpreted.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() })
        .collect()
}
