//! What can go wrong sending a message, saying which setting or which message and channel.
//!
//! Setup errors ([`NotifyError::Address`], [`NotifyError::PlaintextNotLoopback`], …) name the
//! sentri.yaml key to fix; delivery errors name the outbox message and end up in its
//! `last_error` and in the audit trail, so they never carry a secret (webhook URLs are stripped
//! from HTTP errors).

/// Errors at the notification boundary.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// `email.smtp_server` is empty, yet an email is due.
    #[error("email.smtp_server is not set in sentri.yaml: queued email cannot be sent")]
    NoSmtpServer,
    /// An address in the configuration or in a queued message is not an email address.
    #[error("{field}: {value:?} is not a valid email address ({source})")]
    Address {
        /// The setting or message field it came from, e.g. `email.from_address`.
        field: String,
        value: String,
        #[source]
        source: lettre::address::AddressError,
    },
    /// SMTP without TLS to a host that is not this machine.
    #[error(
        "email.smtp_server {host}: with email.use_tls and email.smtp_ssl both false mail would \
         cross the network in clear; plain SMTP is allowed only to a loopback host (localhost, \
         127.0.0.1, ::1) unless email.allow_plaintext is true"
    )]
    PlaintextNotLoopback { host: String },
    /// `email.ca_file` cannot be read as PEM certificates.
    #[error("email.ca_file {}: {detail}", path.display())]
    CaFile { path: std::path::PathBuf, detail: String },
    /// The SMTP transport could not be set up (TLS parameters for the host name).
    #[error("email.smtp_server {host}: cannot set up the SMTP connection: {source}")]
    SmtpSetup {
        host: String,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// A queued message's body cannot be read for its channel (stored by a buggy build or
    /// edited by hand).
    #[error("outbox message {id} ({kind}): the stored body is not valid: {source}")]
    Body {
        id: i64,
        kind: String,
        #[source]
        source: serde_json::Error,
    },
    /// lettre refused to build the message (e.g. a header it cannot encode).
    #[error("outbox message {id}: cannot build the email: {source}")]
    Build {
        id: i64,
        #[source]
        source: lettre::error::Error,
    },
    /// The SMTP server refused the message or could not be reached.
    #[error("outbox message {id}: SMTP delivery through {host}:{port} failed: {source}")]
    Smtp {
        id: i64,
        host: String,
        port: u16,
        #[source]
        source: lettre::transport::smtp::Error,
    },
    /// An HTTP channel could not be reached (its URL is not repeated here: it is a secret).
    #[error("outbox message {id} ({kind}): the request failed: {source}")]
    Http {
        id: i64,
        kind: String,
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP channel answered with an error status.
    #[error("outbox message {id} ({kind}): the endpoint answered HTTP {status}: {body}")]
    HttpStatus { id: i64, kind: String, status: u16, body: String },
    /// The message names a channel that sentri.yaml (or the environment) no longer configures.
    #[error("outbox message {id}: {what}")]
    NotConfigured { id: i64, what: String },
    /// An outbox kind this build does not deliver.
    #[error("outbox message {id}: unknown channel {kind:?} (known: email, slack, webhook, pagerduty)")]
    UnknownKind { id: i64, kind: String },
    /// An approval request's token could not be minted and bound: nothing is sent.
    #[error(transparent)]
    ApprovalToken(#[from] super::approval_token::TokenError),
    /// The HTTP client could not be built (TLS roots or provider).
    #[error("cannot build the HTTP client for Slack, webhook and PagerDuty: {0}")]
    HttpClient(#[source] reqwest::Error),
}
