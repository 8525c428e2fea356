//! The approval token, minted at the moment its email is sent.
//!
//! An approval request is queued with a random mark (`token_slot` in the outbox body) where its
//! token goes, and no token. Just before the notifier hands the email to the SMTP server,
//! [`fill`] mints a token, binds its hash to the request for that one recipient
//! (`Store::arm_approval_request`) and writes the token in place of the mark in the message it
//! sends — a copy held only in memory. So the outbox, `sentri show --json` and a copy of
//! `sentri.db` never carry a live token; only the recipient's mailbox does. A retried send
//! mints a new token (the one minted for a failed attempt is replaced, and matches nothing).

use crate::domain::token;
use crate::store::approval_requests::{ApprovalRequestRow, NewApprovalRequest};
use crate::store::outbox::{NewOutboxMessage, OutboxMessage};
use crate::store::{Store, StoreError};

use super::{EMAIL, EmailContent};

/// Why an approval request could not be made ready to send.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error(transparent)]
    Random(#[from] token::RandomUnavailable),
    #[error("outbox message {id}: cannot bind a token to its approval request: {source}")]
    Bind {
        id: i64,
        #[source]
        source: StoreError,
    },
    #[error("outbox message {id}: the stored body is not valid: {source}")]
    Body {
        id: i64,
        #[source]
        source: serde_json::Error,
    },
}

/// Queues an approval request's email to `new.recipient` with a token slot in place of the
/// token, and records the request (token not yet minted), in one transaction. `content` must
/// show `slot` wherever the token belongs.
pub fn enqueue(
    store: &Store,
    subject: &str,
    content: &EmailContent,
    slot: &str,
    new: &NewApprovalRequest,
) -> Result<(OutboxMessage, ApprovalRequestRow), StoreError> {
    let body = serde_json::json!({ "text": content.text, "html": content.html, "token_slot": slot }).to_string();
    let message = NewOutboxMessage {
        kind: EMAIL.to_owned(),
        recipient: new.recipient.clone(),
        subject: subject.to_owned(),
        body,
        workflow_id: Some(new.workflow_id.clone()),
    };
    store.queue_approval_request(&message, new)
}

/// The message as it goes out: an email with a token slot gets a freshly minted token (its hash
/// bound to its request) in place of the slot; any other message is returned as it is. Blocking
/// (a store write): call it off the runtime's workers.
pub fn fill(store: &Store, message: &OutboxMessage) -> Result<OutboxMessage, TokenError> {
    if message.kind != EMAIL {
        return Ok(message.clone());
    }
    let body: serde_json::Value =
        serde_json::from_str(&message.body).map_err(|source| TokenError::Body { id: message.id, source })?;
    let Some(slot) = body.get("token_slot").and_then(|slot| slot.as_str()).filter(|slot| !slot.is_empty()) else {
        return Ok(message.clone());
    };
    let mut content: EmailContent =
        serde_json::from_value(body.clone()).map_err(|source| TokenError::Body { id: message.id, source })?;
    let minted = token::generate()?;
    store
        .arm_approval_request(message.id, &token::hash(&minted))
        .map_err(|source| TokenError::Bind { id: message.id, source })?;
    content.text = content.text.replace(slot, &minted);
    content.html = content.html.map(|html| html.replace(slot, &minted));
    let body = serde_json::json!({ "text": content.text, "html": content.html }).to_string();
    Ok(OutboxMessage { body, ..message.clone() })
}
