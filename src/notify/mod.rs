//! Outgoing messages: approval requests, end-of-workflow notifications, escalations.
//!
//! Nothing is sent from the step that decides to send it: the step queues the message in the
//! store's outbox (in the same step as the change it reports), and a notifier delivers it with
//! retry and backoff. A mail server that is down for an hour loses nothing and sends nothing
//! twice.
//!
//! Layout: [`approval_token`] (an approval request's token, minted as it is sent), [`channels`] (which channels sentri.yaml and the environment turn on), [`report`]
//! (what a state change says, per channel, as outbox rows), [`smtp`] (mail through lettre),
//! [`http`] (Slack, webhook, PagerDuty), [`notifier`] (the task that claims due messages and
//! delivers them), [`error`].

pub mod approval_token;
pub mod channels;
pub mod error;
pub mod http;
pub mod notifier;
pub mod report;
pub mod smtp;

pub use channels::Channels;
pub use error::NotifyError;
pub use notifier::{Notifier, NotifierSettings};

use serde::{Deserialize, Serialize};

use crate::store::outbox::{NewOutboxMessage, OutboxMessage};
use crate::store::{Store, StoreError};

/// The outbox channel for email.
pub const EMAIL: &str = "email";
/// The outbox channel for a Slack incoming webhook (`{"text": …}`).
pub const SLACK: &str = "slack";
/// The outbox channel for a generic JSON webhook (the event as JSON).
pub const WEBHOOK: &str = "webhook";
/// The outbox channel for PagerDuty Events API v2 (escalations only).
pub const PAGERDUTY: &str = "pagerduty";

/// A header set on every message Sentri sends, so that Sentri never reads its own mail as an
/// alert or as an approval reply (a bounce or an auto-forward can bring it back to the inbox).
pub const SENTRI_HEADER: &str = "X-Sentri-Message";

/// What an email says, stored as the outbox body (JSON) and rendered by the SMTP sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailContent {
    /// The plain-text part; every email has one.
    pub text: String,
    /// An HTML alternative, when the message has tables worth showing as tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// Queues one email to one recipient (one outbox row each, so each is retried on its own).
pub fn enqueue_email(
    store: &Store,
    workflow_id: Option<&str>,
    recipient: &str,
    subject: &str,
    content: &EmailContent,
) -> Result<OutboxMessage, StoreError> {
    // Built as a JSON value, which cannot fail, rather than through the fallible serializer.
    let body = serde_json::json!({ "text": content.text, "html": content.html }).to_string();
    store.enqueue_outbox(&NewOutboxMessage {
        kind: EMAIL.to_owned(),
        recipient: recipient.to_owned(),
        subject: subject.to_owned(),
        body,
        workflow_id: workflow_id.map(str::to_owned),
    })
}
