//! The smaller sections of `sentri.yaml`: email (where alerts arrive and mail leaves),
//! approvals (who may say yes, and for how long a request waits), monitoring (intervals and
//! log level) and notifications (webhook, PagerDuty, Slack, email adapters).
//!
//! Each `read_*` function takes the section's keys, applies the reference product's defaults,
//! resolves secrets from the environment and records every problem it finds.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use super::Secret;
use super::diagnostics::{Diagnostics, WarningKind};
use super::yaml::Fields;

/// The environment variable holding the IMAP (and, by default, SMTP) password.
pub const EMAIL_PASSWORD_VAR: &str = "SENTRI_EMAIL_PASSWORD";
/// The environment variable holding the SMTP password when it differs from the IMAP one.
pub const SMTP_PASSWORD_VAR: &str = "SENTRI_SMTP_PASSWORD";
/// The environment variable holding the Slack webhook URL (the URL is the credential).
pub const SLACK_WEBHOOK_VAR: &str = "SENTRI_SLACK_WEBHOOK_URL";
/// The environment variable holding the PagerDuty Events API routing key.
pub const PAGERDUTY_ROUTING_KEY_VAR: &str = "SENTRI_PAGERDUTY_ROUTING_KEY";
/// The environment variable holding a webhook adapter's URL when its `url:` is not written
/// (webhook URLs often embed their token).
pub const WEBHOOK_URL_VAR: &str = "SENTRI_WEBHOOK_URL";
/// The environment variable that overrides `monitoring.log_level`.
pub const LOG_LEVEL_VAR: &str = "SENTRI_LOG_LEVEL";

/// The mailbox alerts arrive in and the server mail is sent through.
#[derive(Debug, Clone)]
pub struct EmailConfig {
    /// IMAP host; empty when Sentri reads no mailbox (replay or demo only).
    pub imap_server: String,
    /// IMAP port (993).
    pub imap_port: u16,
    /// The mailbox account; also the default sender and approval recipient.
    pub username: String,
    /// From `SENTRI_EMAIL_PASSWORD`.
    pub password: Option<Secret>,
    /// IMAP over implicit TLS (true). When false, `starttls` decides.
    pub use_ssl: bool,
    /// Upgrade a plain IMAP connection with STARTTLS when `use_ssl` is false (true).
    pub starttls: bool,
    /// Allow IMAP and SMTP with no TLS at all (false); for a server on loopback only.
    pub allow_plaintext: bool,
    /// The folder alerts are read from ("INBOX"; the reference hard-coded it).
    pub folder: String,
    /// SMTP host; empty when Sentri sends no mail.
    pub smtp_server: String,
    /// SMTP port (587).
    pub smtp_port: u16,
    /// SMTP with STARTTLS (true).
    pub use_tls: bool,
    /// SMTP over implicit TLS, usually port 465 (false); takes precedence over `use_tls`.
    pub smtp_ssl: bool,
    /// The SMTP account (default: `username`).
    pub smtp_username: String,
    /// From `SENTRI_SMTP_PASSWORD`, else `SENTRI_EMAIL_PASSWORD`.
    pub smtp_password: Option<Secret>,
    /// The From: address of mail Sentri sends (default: `username`).
    pub from_address: String,
    /// A PEM file of extra CA certificates trusted for the IMAP and SMTP servers, beside the
    /// public roots: for mail servers whose certificate an in-house CA signed. A relative path
    /// is read from the directory of sentri.yaml.
    pub ca_file: Option<std::path::PathBuf>,
    /// The most of one message the IMAP intake fetches (4 MiB). A larger message is fetched up
    /// to this many bytes (`BODY.PEEK[]<0.N>`), stored truncated and marked with its original
    /// size: one huge email must not take the daemon's memory or the store with it.
    pub max_message_bytes: u32,
    /// Who may send alerts (`alert_senders`): addresses and `@domain` entries. Empty (the
    /// default) means anyone. Mail from anyone else is kept, marked ignored with the reason,
    /// and never triaged as an alert. Approval replies are judged by `approvals.approvers`.
    pub alert_senders: Vec<String>,
}

/// The default of `email.max_message_bytes`: alert emails are kilobytes; 4 MiB leaves room for
/// a pasted log while keeping one message's cost in memory small.
pub const DEFAULT_MAX_MESSAGE_BYTES: u32 = 4 * 1024 * 1024;
/// The smallest `email.max_message_bytes` accepted: below this, the header block of an
/// ordinary message could be cut.
pub const MIN_MAX_MESSAGE_BYTES: u32 = 16 * 1024;

impl Default for EmailConfig {
    fn default() -> Self {
        Self {
            imap_server: String::new(),
            imap_port: 993,
            username: String::new(),
            password: None,
            use_ssl: true,
            starttls: true,
            allow_plaintext: false,
            folder: "INBOX".to_owned(),
            smtp_server: String::new(),
            smtp_port: 587,
            use_tls: true,
            smtp_ssl: false,
            smtp_username: String::new(),
            smtp_password: None,
            from_address: String::new(),
            ca_file: None,
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            alert_senders: Vec::new(),
        }
    }
}

fn non_empty_env(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<String> {
    env(var).filter(|v| !v.trim().is_empty())
}

pub(crate) fn read_email(mut f: Fields<'_>, d: &mut Diagnostics, env: &dyn Fn(&str) -> Option<String>) -> EmailConfig {
    let def = EmailConfig::default();
    let trimmed = |s: String| s.trim().to_owned();
    let imap_server = f.string(d, "imap_server").map(trimmed).unwrap_or_default();
    let imap_port = f.port(d, "imap_port").unwrap_or(def.imap_port);
    let username = f.string(d, "username").map(trimmed).unwrap_or_default();
    f.secret_in_file(d, "password", EMAIL_PASSWORD_VAR);
    let use_ssl = f.bool(d, "use_ssl").unwrap_or(def.use_ssl);
    let starttls = f.bool(d, "starttls").unwrap_or(def.starttls);
    let allow_plaintext = f.bool(d, "allow_plaintext").unwrap_or(def.allow_plaintext);
    let folder = f.string(d, "folder").map(trimmed).filter(|s| !s.is_empty()).unwrap_or(def.folder);
    let smtp_server = f.string(d, "smtp_server").map(trimmed).unwrap_or_default();
    let smtp_port = f.port(d, "smtp_port").unwrap_or(def.smtp_port);
    let use_tls = f.bool(d, "use_tls").unwrap_or(def.use_tls);
    let smtp_ssl = f.bool(d, "smtp_ssl").unwrap_or(def.smtp_ssl);
    let smtp_username =
        f.string(d, "smtp_username").map(trimmed).filter(|s| !s.is_empty()).unwrap_or_else(|| username.clone());
    f.secret_in_file(d, "smtp_password", SMTP_PASSWORD_VAR);
    let from_address =
        f.string(d, "from_address").map(trimmed).filter(|s| !s.is_empty()).unwrap_or_else(|| username.clone());
    let ca_file = f.string(d, "ca_file").map(trimmed).filter(|s| !s.is_empty()).map(std::path::PathBuf::from);
    let (max_message_bytes, alert_senders) = read_intake_limits(&mut f, d);
    f.not_used(
        d,
        "poll_interval",
        "the mailbox is watched continuously; the poll interval is monitoring.scout_poll_interval",
    );
    f.not_used(d, "mark_as_read", "a message is marked handled only after its workflow is stored");

    if !imap_server.is_empty() && username.is_empty() {
        d.problem(f.position(), f.key_path("username"), "required when email.imap_server is set");
    }
    if !use_ssl && !starttls && !allow_plaintext && !imap_server.is_empty() && !is_loopback(&imap_server) {
        d.problem(
            f.position(),
            f.key_path("starttls"),
            "with use_ssl and starttls both false the IMAP password would cross the network \
             in clear to a host that is not loopback; set one of them, or allow_plaintext: true",
        );
    }
    if !smtp_ssl && !use_tls && !allow_plaintext && !smtp_server.is_empty() && !is_loopback(&smtp_server) {
        d.problem(
            f.position(),
            f.key_path("use_tls"),
            "with use_tls and smtp_ssl both false the SMTP password would cross the network \
             in clear to a host that is not loopback; set one of them, or allow_plaintext: true",
        );
    }
    f.finish(d);

    let password = non_empty_env(env, EMAIL_PASSWORD_VAR).map(Secret::new);
    let smtp_password = non_empty_env(env, SMTP_PASSWORD_VAR).map(Secret::new).or_else(|| password.clone());
    EmailConfig {
        imap_server,
        imap_port,
        username,
        password,
        use_ssl,
        starttls,
        allow_plaintext,
        folder,
        smtp_server,
        smtp_port,
        use_tls,
        smtp_ssl,
        smtp_username,
        smtp_password,
        from_address,
        ca_file,
        max_message_bytes,
        alert_senders,
    }
}

/// `email.max_message_bytes` and `email.alert_senders`: what the intake accepts.
fn read_intake_limits(f: &mut Fields<'_>, d: &mut Diagnostics) -> (u32, Vec<String>) {
    let max_message_bytes = match f.uint(d, "max_message_bytes") {
        None => DEFAULT_MAX_MESSAGE_BYTES,
        Some(n) => match u32::try_from(n) {
            Ok(n) if n >= MIN_MAX_MESSAGE_BYTES => n,
            _ => {
                d.problem(
                    f.get("max_message_bytes").map(|node| node.position),
                    f.key_path("max_message_bytes"),
                    format!("must be between {MIN_MAX_MESSAGE_BYTES} and {} bytes", u32::MAX),
                );
                DEFAULT_MAX_MESSAGE_BYTES
            }
        },
    };
    let mut alert_senders = Vec::new();
    for entry in f.list(d, "alert_senders") {
        let entry = entry.trim().to_ascii_lowercase();
        if is_sender_entry(&entry) {
            alert_senders.push(entry);
        } else {
            d.problem(
                f.get("alert_senders").map(|node| node.position),
                f.key_path("alert_senders"),
                format!("`{entry}` is neither an address (dba@example.org) nor a domain (@example.org)"),
            );
        }
    }
    (max_message_bytes, alert_senders)
}

/// An `alert_senders` entry: `local@domain` or `@domain`, with no spaces or angle brackets.
fn is_sender_entry(entry: &str) -> bool {
    let Some((local, domain)) = entry.split_once('@') else { return false };
    let clean = |part: &str| !part.chars().any(|c| c.is_whitespace() || c.is_control() || "<>@,;\"".contains(c));
    clean(local) && clean(domain) && !domain.is_empty() && !domain.starts_with('.') && !domain.ends_with('.')
}

/// Who is asked to approve a change, who may approve it, and how long a request waits.
#[derive(Debug, Clone)]
pub struct ApprovalsConfig {
    /// From `SENTRI_SLACK_WEBHOOK_URL`: approval requests are also posted there.
    pub slack_webhook_url: Option<Secret>,
    /// How long a request waits before the workflow times out (3600 s).
    pub approval_timeout: Duration,
    /// Jira base URL, for linking requests to tickets.
    pub jira_url: Option<String>,
    /// Jira project key.
    pub jira_project: Option<String>,
    /// Send approval requests by email and accept replies (false).
    pub email_enabled: bool,
    /// Where notifications about approvals go; empty in the file means `email.username`. Also
    /// the approvers when `approvers` is not written.
    pub approval_recipients: Vec<String>,
    /// The addresses asked to approve and whose replies count: each gets its own request, with
    /// a token only a reply from that address can use. Default: `approval_recipients`.
    pub approvers: Vec<String>,
    /// How many distinct approvers a change needs (1).
    pub required_approvals: u32,
    /// Refuse an approval from the person who requested or edited the plan (false).
    pub forbid_self_approval: bool,
    /// Refuse a reply whose receiving server's `Authentication-Results` say its From failed
    /// DMARC (or, without a DMARC result, DKIM) (true). A reply without the header is judged
    /// on its token and address alone.
    pub require_authenticated_reply: bool,
}

impl Default for ApprovalsConfig {
    fn default() -> Self {
        Self {
            slack_webhook_url: None,
            approval_timeout: Duration::from_secs(3600),
            jira_url: None,
            jira_project: None,
            email_enabled: false,
            approval_recipients: Vec::new(),
            approvers: Vec::new(),
            required_approvals: 1,
            forbid_self_approval: false,
            require_authenticated_reply: true,
        }
    }
}

pub(crate) fn read_approvals(
    mut f: Fields<'_>,
    d: &mut Diagnostics,
    env: &dyn Fn(&str) -> Option<String>,
    email: &EmailConfig,
) -> ApprovalsConfig {
    let def = ApprovalsConfig::default();
    f.secret_in_file(d, "slack_webhook_url", SLACK_WEBHOOK_VAR);
    let approval_timeout = match f.uint(d, "approval_timeout") {
        Some(0) => {
            d.problem(
                f.get("approval_timeout").map(|n| n.position),
                f.key_path("approval_timeout"),
                "must be at least 1 second",
            );
            def.approval_timeout
        }
        Some(secs) => Duration::from_secs(secs),
        None => def.approval_timeout,
    };
    let text = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
    let jira_url = f.string(d, "jira_url").and_then(text);
    let jira_project = f.string(d, "jira_project").and_then(text);
    let email_enabled = f.bool(d, "email_enabled").unwrap_or(def.email_enabled);
    let mut approval_recipients = f.list(d, "approval_recipients");
    if approval_recipients.is_empty() && !email.username.is_empty() {
        approval_recipients.push(email.username.clone());
    }
    let approvers_written = f.list(d, "approvers");
    let approvers = if approvers_written.is_empty() { approval_recipients.clone() } else { approvers_written };
    let required_approvals = match f.uint(d, "required_approvals") {
        Some(0) => {
            d.problem(
                f.get("required_approvals").map(|n| n.position),
                f.key_path("required_approvals"),
                "must be at least 1",
            );
            def.required_approvals
        }
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
        None => def.required_approvals,
    };
    let forbid_self_approval = f.bool(d, "forbid_self_approval").unwrap_or(def.forbid_self_approval);
    let require_authenticated_reply =
        f.bool(d, "require_authenticated_reply").unwrap_or(def.require_authenticated_reply);

    if email_enabled {
        if approvers.is_empty() {
            d.problem(
                f.position(),
                f.key_path("approvers"),
                "email approvals are enabled but nobody may approve: set approvers (or \
                 approval_recipients, or email.username)",
            );
        } else if u32::try_from(approvers.len()).unwrap_or(u32::MAX) < required_approvals {
            d.problem(
                f.get("required_approvals").map(|n| n.position),
                f.key_path("required_approvals"),
                format!(
                    "{required_approvals} approvals are required but only {} approver(s) are \
                     listed",
                    approvers.len()
                ),
            );
        }
        if !email.username.is_empty() && approvers.iter().any(|a| a.eq_ignore_ascii_case(&email.username)) {
            d.warn(
                f.position(),
                f.key_path("approvers"),
                WarningKind::Questionable,
                format!(
                    "the mailbox Sentri reads ({}) is an approver, so approval replies are \
                     trusted from the address alerts arrive at; list the DBAs' own addresses",
                    email.username
                ),
            );
        }
    }
    f.finish(d);

    ApprovalsConfig {
        slack_webhook_url: non_empty_env(env, SLACK_WEBHOOK_VAR).map(Secret::new),
        approval_timeout,
        jira_url,
        jira_project,
        email_enabled,
        approval_recipients,
        approvers,
        required_approvals,
        forbid_self_approval,
        require_authenticated_reply,
    }
}

/// How much Sentri logs. The reference's Python level names are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Everything, including each poll.
    Trace,
    /// Diagnostic detail.
    Debug,
    /// Normal operation (the default).
    Info,
    /// Only what needs attention (`WARNING` or `WARN`).
    Warn,
    /// Only failures (`ERROR` or `CRITICAL`).
    Error,
}

impl LogLevel {
    /// The spellings accepted (case-insensitive).
    pub const ALLOWED: &'static str = "TRACE, DEBUG, INFO, WARNING, ERROR, CRITICAL";

    /// Parses a level name, accepting the reference's Python names.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "TRACE" => Some(Self::Trace),
            "DEBUG" => Some(Self::Debug),
            "INFO" => Some(Self::Info),
            "WARNING" | "WARN" => Some(Self::Warn),
            "ERROR" | "CRITICAL" => Some(Self::Error),
            _ => None,
        }
    }

    /// The directive `tracing_subscriber::EnvFilter` understands.
    pub fn as_filter(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARNING",
            Self::Error => "ERROR",
        })
    }
}

/// Intervals and logging of the daemon.
#[derive(Debug, Clone)]
pub struct MonitoringConfig {
    /// `SENTRI_LOG_LEVEL`, else `log_level` (INFO).
    pub log_level: LogLevel,
    /// How often the mailbox is polled when IMAP IDLE is unavailable (60 s).
    pub scout_poll_interval: Duration,
    /// How often approval timeouts and queued work are checked (10 s).
    pub orchestrator_poll_interval: Duration,
    /// How often each database is profiled again; `None` = only at startup (24 h; `0` in the
    /// file means startup only).
    pub profile_refresh: Option<Duration>,
    /// How long the body of a handled raw alert is kept (`raw_mail_retention_days`, 90); after
    /// that the engine's sweep drops the body and keeps the row, its headers and the body's
    /// hash ([`crate::store::Store::prune_raw_mail`]). `None` (`0` in the file): kept forever.
    pub raw_mail_retention: Option<Duration>,
    /// `metrics_listen`: where `/metrics`, `/healthz` and `/readyz` are served (off when
    /// absent; opt-in). A bare port means loopback (`9187` → `127.0.0.1:9187`).
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `log_format`: `text` (default) or `json`, one object per line.
    pub log_format: LogFormat,
    /// `log_keep_days`: how many daily log files are kept (14).
    pub log_keep_days: usize,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for journald and log shippers.
    Json,
}

impl LogFormat {
    /// The spellings accepted.
    pub const ALLOWED: &'static str = "text, json";

    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// The default of `monitoring.log_keep_days`.
pub const DEFAULT_LOG_KEEP_DAYS: usize = 14;

/// `metrics_listen` as written: `HOST:PORT`, or a bare port on loopback.
pub fn parse_listen(s: &str) -> Option<std::net::SocketAddr> {
    let s = s.trim();
    if let Ok(port) = s.parse::<u16>() {
        return Some(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse().ok()
}

/// The default of `monitoring.raw_mail_retention_days`.
pub const DEFAULT_RAW_MAIL_RETENTION_DAYS: u64 = 90;

impl Default for MonitoringConfig {
    fn default() -> Self {
        Self {
            log_level: LogLevel::Info,
            scout_poll_interval: Duration::from_secs(60),
            orchestrator_poll_interval: Duration::from_secs(10),
            profile_refresh: Some(Duration::from_secs(24 * 3600)),
            raw_mail_retention: Some(Duration::from_secs(DEFAULT_RAW_MAIL_RETENTION_DAYS * 24 * 3600)),
            metrics_listen: None,
            log_format: LogFormat::Text,
            log_keep_days: DEFAULT_LOG_KEEP_DAYS,
        }
    }
}

pub(crate) fn read_monitoring(
    mut f: Fields<'_>,
    d: &mut Diagnostics,
    env: &dyn Fn(&str) -> Option<String>,
) -> MonitoringConfig {
    let def = MonitoringConfig::default();
    let mut log_level = match f.string(d, "log_level") {
        None => def.log_level,
        Some(s) => LogLevel::parse(&s).unwrap_or_else(|| {
            d.problem(
                f.get("log_level").map(|n| n.position),
                f.key_path("log_level"),
                format!("unknown log level `{s}` (allowed: {})", LogLevel::ALLOWED),
            );
            def.log_level
        }),
    };
    if let Some(s) = non_empty_env(env, LOG_LEVEL_VAR) {
        match LogLevel::parse(&s) {
            Some(level) => log_level = level,
            None => d.problem(
                None,
                LOG_LEVEL_VAR,
                format!("environment variable has unknown log level `{s}` (allowed: {})", LogLevel::ALLOWED),
            ),
        }
    }
    let mut interval = |f: &mut Fields<'_>, key: &'static str, default: Duration| match f.uint(d, key) {
        Some(0) => {
            d.problem(f.get(key).map(|n| n.position), f.key_path(key), "must be at least 1 second");
            default
        }
        Some(secs) => Duration::from_secs(secs),
        None => default,
    };
    let scout_poll_interval = interval(&mut f, "scout_poll_interval", def.scout_poll_interval);
    let orchestrator_poll_interval = interval(&mut f, "orchestrator_poll_interval", def.orchestrator_poll_interval);
    let profile_refresh = match f.uint(d, "profile_refresh_hours") {
        Some(0) => None,
        Some(h) => Some(Duration::from_secs(h.saturating_mul(3600))),
        None => def.profile_refresh,
    };
    let raw_mail_retention = match f.uint(d, "raw_mail_retention_days") {
        Some(0) => None,
        Some(days) => Some(Duration::from_secs(days.saturating_mul(24 * 3600))),
        None => def.raw_mail_retention,
    };
    let (metrics_listen, log_format, log_keep_days) = read_service_keys(&mut f, d, &def);
    f.finish(d);
    MonitoringConfig {
        log_level,
        scout_poll_interval,
        orchestrator_poll_interval,
        profile_refresh,
        raw_mail_retention,
        metrics_listen,
        log_format,
        log_keep_days,
    }
}

/// `metrics_listen`, `log_format` and `log_keep_days`: how the daemon runs as a service.
fn read_service_keys(
    f: &mut Fields<'_>,
    d: &mut Diagnostics,
    def: &MonitoringConfig,
) -> (Option<std::net::SocketAddr>, LogFormat, usize) {
    let metrics_listen = match f.string(d, "metrics_listen") {
        None => None,
        Some(s) if s.trim().is_empty() => None,
        Some(s) => parse_listen(&s).or_else(|| {
            d.problem(
                f.get("metrics_listen").map(|n| n.position),
                f.key_path("metrics_listen"),
                format!("`{s}` is not an address: write HOST:PORT, e.g. 127.0.0.1:9187"),
            );
            None
        }),
    };
    let log_format = match f.string(d, "log_format") {
        None => def.log_format,
        Some(s) => LogFormat::parse(&s).unwrap_or_else(|| {
            d.problem(
                f.get("log_format").map(|n| n.position),
                f.key_path("log_format"),
                format!("unknown log format `{s}` (allowed: {})", LogFormat::ALLOWED),
            );
            def.log_format
        }),
    };
    let log_keep_days = match f.uint(d, "log_keep_days") {
        Some(0) => {
            d.problem(f.get("log_keep_days").map(|n| n.position), f.key_path("log_keep_days"), "must be at least 1");
            def.log_keep_days
        }
        Some(days) => usize::try_from(days).unwrap_or(usize::MAX),
        None => def.log_keep_days,
    };
    (metrics_listen, log_format, log_keep_days)
}

/// Where a notification adapter delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterKind {
    /// An HTTP POST of JSON to `url`.
    Webhook,
    /// PagerDuty Events API v2 (routing key from `SENTRI_PAGERDUTY_ROUTING_KEY`).
    PagerDuty,
    /// A Slack incoming webhook (URL from `SENTRI_SLACK_WEBHOOK_URL`).
    Slack,
    /// Mail through the `email` section's SMTP server.
    Email,
}

impl AdapterKind {
    /// The spellings accepted for `type`.
    pub const ALLOWED: &'static str = "webhook, pagerduty, slack, email";

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "webhook" => Some(Self::Webhook),
            "pagerduty" => Some(Self::PagerDuty),
            "slack" => Some(Self::Slack),
            "email" => Some(Self::Email),
            _ => None,
        }
    }
}

/// One notification adapter.
#[derive(Debug, Clone)]
pub struct NotificationAdapter {
    /// What it delivers to.
    pub kind: AdapterKind,
    /// Whether it is used (false).
    pub enabled: bool,
    /// The endpoint: `url:` (else `SENTRI_WEBHOOK_URL`) for a webhook, `SENTRI_SLACK_WEBHOOK_URL`
    /// for Slack, and for PagerDuty an Events API v2 endpoint other than PagerDuty's own (a
    /// proxy, or a local server in tests). Held as a secret because webhook URLs usually embed
    /// their token.
    pub url: Option<Secret>,
    /// PagerDuty routing key, from `SENTRI_PAGERDUTY_ROUTING_KEY`.
    pub routing_key: Option<Secret>,
    /// Extra HTTP headers for a webhook. Values are held as secrets: they usually carry a token.
    pub headers: BTreeMap<String, Secret>,
    /// Who an `email` adapter notifies; empty means `approvals.approval_recipients`.
    pub recipients: Vec<String>,
}

/// The notification adapters.
#[derive(Debug, Clone, Default)]
pub struct NotificationsConfig {
    /// In file order.
    pub adapters: Vec<NotificationAdapter>,
}

pub(crate) fn read_notifications(
    mut f: Fields<'_>,
    d: &mut Diagnostics,
    env: &dyn Fn(&str) -> Option<String>,
    email: &EmailConfig,
) -> NotificationsConfig {
    let mut adapters = Vec::new();
    for (path, node) in f.items(d, "adapters") {
        let mut a = Fields::new(Some(node), &path, d);
        let kind = match a.string(d, "type") {
            None => {
                d.problem(
                    a.position(),
                    a.key_path("type"),
                    format!("required key is missing (allowed: {})", AdapterKind::ALLOWED),
                );
                None
            }
            Some(t) => AdapterKind::parse(&t).or_else(|| {
                d.problem(
                    a.get("type").map(|n| n.position),
                    a.key_path("type"),
                    format!("unknown adapter type `{t}` (allowed: {})", AdapterKind::ALLOWED),
                );
                None
            }),
        };
        let enabled = a.bool(d, "enabled").unwrap_or(false);
        let url = match kind {
            Some(AdapterKind::Slack) => {
                a.secret_in_file(d, "url", SLACK_WEBHOOK_VAR);
                non_empty_env(env, SLACK_WEBHOOK_VAR).map(Secret::new)
            }
            Some(AdapterKind::Webhook) => a
                .string(d, "url")
                .map(|u| u.trim().to_owned())
                .filter(|u| !u.is_empty())
                .or_else(|| non_empty_env(env, WEBHOOK_URL_VAR))
                .map(Secret::new),
            _ => a.string(d, "url").map(|u| u.trim().to_owned()).filter(|u| !u.is_empty()).map(Secret::new),
        };
        a.secret_in_file(d, "routing_key", PAGERDUTY_ROUTING_KEY_VAR);
        let routing_key = match kind {
            Some(AdapterKind::PagerDuty) => non_empty_env(env, PAGERDUTY_ROUTING_KEY_VAR).map(Secret::new),
            _ => None,
        };
        let headers = a.string_map(d, "headers").into_iter().map(|(k, v)| (k, Secret::new(v))).collect();
        let recipients = a.list(d, "recipients");
        if enabled {
            match kind {
                Some(AdapterKind::Webhook) if url.is_none() => d.problem(
                    a.position(),
                    a.key_path("url"),
                    "an enabled webhook adapter needs a url (or SENTRI_WEBHOOK_URL)",
                ),
                Some(AdapterKind::Slack) if url.is_none() => d.warn(
                    a.position(),
                    a.path(),
                    WarningKind::Questionable,
                    format!("the Slack adapter is enabled but {SLACK_WEBHOOK_VAR} is not set"),
                ),
                Some(AdapterKind::PagerDuty) if routing_key.is_none() => d.warn(
                    a.position(),
                    a.path(),
                    WarningKind::Questionable,
                    format!(
                        "the PagerDuty adapter is enabled but {PAGERDUTY_ROUTING_KEY_VAR} is \
                         not set"
                    ),
                ),
                Some(AdapterKind::Email) if email.smtp_server.is_empty() => {
                    d.problem(a.position(), a.path(), "the email adapter is enabled but email.smtp_server is not set")
                }
                _ => {}
            }
        }
        a.finish(d);
        if let Some(kind) = kind {
            adapters.push(NotificationAdapter { kind, enabled, url, routing_key, headers, recipients });
        }
    }
    f.finish(d);
    NotificationsConfig { adapters }
}

/// Whether `host` is this machine (`localhost`, 127.0.0.0/8, `::1`): the only place plain-text
/// mail credentials may go without `allow_plaintext: true`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}
