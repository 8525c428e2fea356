//! `sentri.yaml` plus the environment's secrets, turned into one validated [`Config`].
//!
//! The file format is the reference product's (existing users' files load unchanged, with its
//! defaults); Sentri adds a few keys of its own. Three things differ on purpose:
//!
//! - **Secrets come only from the environment** (`SENTRI_EMAIL_PASSWORD`,
//!   `SENTRI_DB_<NAME>_PASSWORD`, LLM keys, …). A secret written in the file, including a
//!   `user:password@` inside a connection string, is not used, and a warning says which
//!   variable to set. Secrets are held in [`Secret`], which prints as `***`.
//! - **Nothing is silently ignored.** An unknown key is a warning naming its path and line,
//!   with the closest known key suggested; keys the reference shipped but never read are
//!   accepted with a warning saying so.
//! - **Every problem is reported at once**, each with file, line, column and key path, in
//!   [`ConfigError::Invalid`].
//!
//! Layout: `yaml` parses into a positioned tree and reads it key by key; `database`,
//! `sections` and `llm` read their sections; `diagnostics` holds warnings and problems.

mod checks;
mod database;
mod diagnostics;
mod llm;
mod secret;
mod sections;
mod yaml;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use checks::ChecksConfig;
pub use database::{
    AutonomyLevel, DEFAULT_ORACLE_USER, DatabaseConfig, DbKind, Environment, password_env_var, username_env_var,
};
pub use diagnostics::{ConfigProblem, ConfigWarning, Position, WarningKind};
pub use llm::{
    ApiKeys, JudgeProvider, LLM_API_KEY_VAR, LearningConfig, LlmConfig, LlmProvider, PriceOverride, RagConfig,
};
pub use secret::Secret;
pub use sections::{
    AdapterKind, ApprovalsConfig, DEFAULT_LOG_KEEP_DAYS, EMAIL_PASSWORD_VAR, EmailConfig, LOG_LEVEL_VAR, LogFormat,
    LogLevel, MonitoringConfig, NotificationAdapter, NotificationsConfig, PAGERDUTY_ROUTING_KEY_VAR, SLACK_WEBHOOK_VAR,
    SMTP_PASSWORD_VAR, WEBHOOK_URL_VAR, is_loopback, parse_listen,
};

use diagnostics::Diagnostics;
use yaml::Fields;

/// The commented `sentri.yaml` that `sentri init` writes: every key documented, three example
/// Oracle databases and a commented-out PostgreSQL one. It loads with no warning.
pub const TEMPLATE: &str = include_str!("../../assets/sentri.yaml");

/// Everything Sentri is configured with: the file's settings and the environment's secrets.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The alert mailbox and the outgoing mail server.
    pub email: EmailConfig,
    /// The databases under care, in file order.
    pub databases: Vec<DatabaseConfig>,
    /// Approval requests and who may approve.
    pub approvals: ApprovalsConfig,
    /// Daemon intervals and log level.
    pub monitoring: MonitoringConfig,
    /// Webhook, PagerDuty, Slack and email notification adapters.
    pub notifications: NotificationsConfig,
    /// The language model, its keys and budget.
    pub llm: LlmConfig,
    /// The reference product's learning-loop settings.
    pub learning: LearningConfig,
    /// Documentation retrieval for prompts.
    pub rag: RagConfig,
    /// Whether the daemon runs the health checks, and how many at once.
    pub checks: ChecksConfig,
}

/// A configuration that loaded, with what was ignored or questionable in it. The caller shows
/// the warnings; the configuration is usable either way.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The validated configuration.
    pub config: Config,
    /// Unknown keys, secrets found in the file, keys accepted but unused, risky settings.
    pub warnings: Vec<ConfigWarning>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML.
    #[error("{}: {message}", located(file, *position))]
    Syntax {
        /// The file.
        file: PathBuf,
        /// Where the parser stopped.
        position: Option<Position>,
        /// The parser's explanation.
        message: String,
    },
    /// The file is valid YAML but its settings cannot be used. Carries every problem, and the
    /// warnings too, since an unknown (misspelt) key often explains a missing one.
    #[error("{}", invalid_message(file, problems, warnings))]
    Invalid {
        /// The file.
        file: PathBuf,
        /// Every problem found.
        problems: Vec<ConfigProblem>,
        /// The warnings found on the way.
        warnings: Vec<ConfigWarning>,
    },
}

fn located(file: &Path, position: Option<Position>) -> String {
    match position {
        Some(p) => format!("{}:{}:{}", file.display(), p.line, p.column),
        None => file.display().to_string(),
    }
}

fn invalid_message(file: &Path, problems: &[ConfigProblem], warnings: &[ConfigWarning]) -> String {
    let mut out =
        format!("{} has {} problem{}:", file.display(), problems.len(), if problems.len() == 1 { "" } else { "s" });
    for p in problems {
        let _ = write!(out, "\n  {p}");
    }
    if !warnings.is_empty() {
        out.push_str("\nwarnings:");
        for w in warnings {
            let _ = write!(out, "\n  {w}");
        }
    }
    out
}

impl Config {
    /// Reads and validates `path`, taking secrets from the process environment.
    pub fn load(path: &Path) -> Result<LoadedConfig, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::from_yaml(&text, path, &|var| std::env::var(var).ok())
    }

    /// Parses and validates `text`, naming `source` in messages and reading environment
    /// variables through `env` (injected so tests never touch the process environment).
    /// An empty document, or a missing section, means the defaults.
    pub fn from_yaml(
        text: &str,
        source: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LoadedConfig, ConfigError> {
        let root = yaml::parse(text).map_err(|e| ConfigError::Syntax {
            file: source.to_path_buf(),
            position: e.position,
            message: e.message,
        })?;
        let mut d = Diagnostics::new(source);
        let mut top = Fields::new(root.as_ref(), "", &mut d);

        let mut email = sections::read_email(top.child(&mut d, "email"), &mut d, env);
        if let Some(ca_file) = email.ca_file.take() {
            let ca_file = source.parent().map_or_else(|| ca_file.clone(), |dir| dir.join(&ca_file));
            if let Err(problem) = crate::tls::read_ca_file(&ca_file) {
                d.problem(None, "email.ca_file".to_owned(), problem.to_string());
            }
            email.ca_file = Some(ca_file);
        }

        let mut databases = Vec::new();
        let mut identities = Vec::new();
        for (path, node) in top.items(&mut d, "databases") {
            let (identity, db) = database::read_database(node, &path, &mut d, env);
            identities.extend(identity);
            databases.extend(db);
        }
        database::check_unique(&identities, &mut d);

        let approvals = sections::read_approvals(top.child(&mut d, "approvals"), &mut d, env, &email);
        let monitoring = sections::read_monitoring(top.child(&mut d, "monitoring"), &mut d, env);
        let notifications = sections::read_notifications(top.child(&mut d, "notifications"), &mut d, env, &email);
        let (llm, learning, rag) = llm::read_llm_learning_rag(&mut top, &mut d, env);
        let checks = checks::read_checks(top.child(&mut d, "checks"), &mut d);
        top.finish(&mut d);

        d.sort();
        if !d.problems.is_empty() {
            return Err(ConfigError::Invalid {
                file: source.to_path_buf(),
                problems: d.problems,
                warnings: d.warnings,
            });
        }
        Ok(LoadedConfig {
            config: Config { email, databases, approvals, monitoring, notifications, llm, learning, rag, checks },
            warnings: d.warnings,
        })
    }

    /// Every secret this configuration holds, by value: database, mailbox and SMTP passwords,
    /// API keys, webhook URLs and routing keys. For redaction only (what is sent to a model
    /// and what is kept of it, [`crate::llm::redact`]); named so each use is easy to find.
    pub fn secret_values(&self) -> Vec<String> {
        let keys = &self.llm.api_keys;
        let mut secrets: Vec<&Secret> =
            self.databases.iter().filter_map(|database| database.password.as_ref()).collect();
        secrets.extend(self.email.password.as_ref());
        secrets.extend(self.email.smtp_password.as_ref());
        secrets.extend(self.approvals.slack_webhook_url.as_ref());
        secrets.extend([&keys.claude, &keys.openai, &keys.gemini, &keys.local].into_iter().flatten());
        for adapter in &self.notifications.adapters {
            secrets.extend(adapter.url.as_ref());
            secrets.extend(adapter.routing_key.as_ref());
        }
        secrets.into_iter().map(|secret| secret.expose().to_owned()).collect()
    }

    /// Every environment variable this configuration reads a secret (or a credential-bearing
    /// URL) from, with what it is for: what a service's `EnvironmentFile=` may need to set
    /// (`sentri install-service` writes them, commented, into its example). One password per
    /// configured database; every provider's key, since `llm.provider` may be changed later.
    pub fn secret_variables(&self) -> Vec<(String, String)> {
        let mut variables: Vec<(String, String)> = vec![
            (EMAIL_PASSWORD_VAR.to_owned(), "the IMAP mailbox's password (email.username)".to_owned()),
            (SMTP_PASSWORD_VAR.to_owned(), "the SMTP server's password (email.smtp_username)".to_owned()),
            (SLACK_WEBHOOK_VAR.to_owned(), "the Slack incoming webhook URL".to_owned()),
            (PAGERDUTY_ROUTING_KEY_VAR.to_owned(), "the PagerDuty Events v2 routing key".to_owned()),
            (WEBHOOK_URL_VAR.to_owned(), "a webhook adapter's URL, when it has no url:".to_owned()),
        ];
        for database in &self.databases {
            variables.push((
                database::password_env_var(&database.name),
                format!("the password of database {}", database.name),
            ));
        }
        for provider in
            [llm::LlmProvider::Claude, llm::LlmProvider::OpenAi, llm::LlmProvider::Gemini, llm::LlmProvider::Local]
        {
            for variable in provider.api_key_vars() {
                if !variables.iter().any(|(name, _)| name == variable) {
                    let purpose = if *variable == llm::LLM_API_KEY_VAR {
                        "a language model's API key, for any provider".to_owned()
                    } else {
                        format!("the {provider} API key")
                    };
                    variables.push(((*variable).to_owned(), purpose));
                }
            }
        }
        variables
    }

    /// The database an alert names, by name or alias (case-insensitive, whole name only:
    /// `HR-DB` never matches `CHR-DB-2`).
    pub fn database(&self, name_or_alias: &str) -> Option<&DatabaseConfig> {
        self.databases.iter().find(|db| db.answers_to(name_or_alias))
    }
}

#[cfg(test)]
mod tests;
