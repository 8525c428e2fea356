//! Outgoing messages: approval requests, end-of-workflow notifications, escalations.
//!
//! Nothing is sent from the step that decides to send it: the step queues the message in the
//! store's outbox (in the same step as the change it reports), and a notifier delivers it with
//! retry and backoff. A mail server that is down for an hour loses nothing and sends nothing
//! twice.

use serde::{Deserialize, Serialize};

use crate::store::outbox::{NewOutboxMessage, OutboxMessage};
use crate::store::{Store, StoreError};

/// The outbox channel for email.
pub const EMAIL: &str = "email";

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
