//! One file per subcommand, plus what they share: finding SENTRI_HOME, loading the config and
//! opening the store with errors that tell the DBA what to do next.

pub mod alerts;
pub mod approve;
pub mod audit;
pub mod completions;
pub mod console;
pub mod db;
pub mod init;
pub mod list;
pub mod logging;
pub mod matching;
pub mod policy;
pub mod profile;
pub mod replay;
pub mod show;
pub mod start;
pub mod stats;
pub mod table;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use sentri::config::{Config, LoadedConfig};
use sentri::home::Home;
use sentri::store::Store;

/// What every command needs to find its files.
pub struct Context {
    home_override: Option<PathBuf>,
}

impl Context {
    pub fn new(home_override: Option<PathBuf>) -> Context {
        Context { home_override }
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

    /// The store, which must already exist (read commands never create one).
    pub fn store(&self) -> anyhow::Result<Store> {
        let home = self.existing_home()?;
        let path = home.database_file();
        if !path.exists() {
            bail!("no store at {}; run `sentri init` first", path.display());
        }
        Store::open(&path).with_context(|| format!("opening {}", path.display()))
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
