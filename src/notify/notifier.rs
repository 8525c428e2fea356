//! The notifier: the one task that sends what the outbox holds.
//!
//! It claims due messages with a lease ([`Store::claim_due_outbox`]), delivers each by its kind
//! (email, Slack, webhook, PagerDuty) and reports the outcome to the store, which audits it and
//! schedules a retry with backoff after a failure. A notifier that dies mid-send loses nothing:
//! the lease runs out and the message is due again.
//!
//! It wakes when told ([`Notifier::waker`]: the daemon pokes it on every engine event, so a
//! message queued with a state change leaves at once) and otherwise every `poll_interval`, which
//! also picks up retries whose backoff has passed and messages queued by another process.

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::channels::Channels;
use super::http::HttpSender;
use super::smtp::SmtpSender;
use super::{EMAIL, NotifyError, PAGERDUTY, SLACK, WEBHOOK};
use crate::config::Config;
use crate::store::{OutboxMessage, Store, StoreError};

/// How the notifier paces itself.
#[derive(Debug, Clone)]
pub struct NotifierSettings {
    /// Look at the outbox at least this often, woken or not (2 s).
    pub poll_interval: Duration,
    /// How long a claimed message is reserved for this notifier (5 min: longer than any send).
    pub lease: SignedDuration,
    /// Messages claimed at once (16).
    pub batch: usize,
}

impl Default for NotifierSettings {
    fn default() -> Self {
        NotifierSettings { poll_interval: Duration::from_secs(2), lease: SignedDuration::from_mins(5), batch: 16 }
    }
}

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub failed: usize,
}

/// The delivery task. Build it with [`Notifier::new`], keep a [`Notifier::waker`], then
/// [`Notifier::run`] it until shutdown.
pub struct Notifier {
    store: Arc<Store>,
    channels: Channels,
    /// The SMTP sender, or why there is none (said on each email that cannot go out).
    smtp: Result<SmtpSender, String>,
    /// Whether sentri.yaml names an SMTP server at all (no server is not a problem to warn of
    /// until an email is queued).
    smtp_wanted: bool,
    http: Result<HttpSender, String>,
    settings: NotifierSettings,
    wake: Arc<Notify>,
}

impl Notifier {
    /// A notifier for `config`'s channels. Configuration problems do not stop it: they are
    /// returned by [`Notifier::setup_problems`] and reported on every message they affect.
    pub fn new(store: Arc<Store>, config: &Config, settings: NotifierSettings) -> Notifier {
        Notifier {
            store,
            channels: Channels::from_config(config),
            smtp: SmtpSender::from_config(&config.email).map_err(|e| e.to_string()),
            smtp_wanted: !config.email.smtp_server.trim().is_empty(),
            http: HttpSender::new().map_err(|e| e.to_string()),
            settings,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Wakes the notifier for messages just queued (`notify_one`; a wake while it is busy is
    /// kept, not lost).
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// The channels it delivers to.
    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Configuration problems worth a warning at start: SMTP set up wrongly (when it is set up
    /// at all), no HTTP client.
    pub fn setup_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if let Err(problem) = &self.smtp
            && self.smtp_wanted
        {
            problems.push(problem.clone());
        }
        if let Err(problem) = &self.http {
            problems.push(problem.clone());
        }
        problems
    }

    /// Delivers until `shutdown`; a delivery in progress is finished first.
    pub async fn run(self, shutdown: CancellationToken) {
        loop {
            self.deliver_due().await;
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// One pass: claims due messages batch after batch and delivers them, until none is due.
    pub async fn deliver_due(&self) -> Pass {
        let mut pass = Pass::default();
        loop {
            let (batch, lease) = (self.settings.batch.max(1), self.settings.lease);
            let claimed = match self.blocking(move |store| store.claim_due_outbox(batch, lease)).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    warn!(%error, "cannot read the outbox; trying again on the next pass");
                    return pass;
                }
            };
            let full = claimed.len() >= batch;
            for message in claimed {
                match self.deliver(&message).await {
                    Ok(()) => {
                        pass.sent += 1;
                        let id = message.id;
                        match self.blocking(move |store| store.mark_outbox_sent(id)).await {
                            Ok(_) => {
                                info!(outbox_id = id, kind = %message.kind, recipient = %message.recipient, "sent")
                            }
                            Err(error) => warn!(outbox_id = id, %error, "sent, but could not record it"),
                        }
                    }
                    Err(error) => {
                        pass.failed += 1;
                        let (id, text) = (message.id, error.to_string());
                        match self.blocking(move |store| store.mark_outbox_failed(id, &text)).await {
                            Ok(failed) if failed.gave_up_at.is_some() => {
                                warn!(outbox_id = id, %error, attempts = failed.attempts, "delivery failed; given up")
                            }
                            Ok(failed) => warn!(
                                outbox_id = id, %error, attempts = failed.attempts,
                                next = ?failed.next_attempt_at.map(crate::store::timestamp_text),
                                "delivery failed; will retry"
                            ),
                            Err(store_error) => {
                                warn!(outbox_id = id, %error, %store_error, "delivery failed and could not be recorded")
                            }
                        }
                    }
                }
            }
            if !full {
                return pass;
            }
        }
    }

    /// Sends one message through its channel.
    pub async fn deliver(&self, message: &OutboxMessage) -> Result<(), NotifyError> {
        let not_configured = |what: String| NotifyError::NotConfigured { id: message.id, what };
        let http = || self.http.as_ref().map_err(|problem| not_configured(problem.clone()));
        match message.kind.as_str() {
            EMAIL => {
                let smtp = self.smtp.as_ref().map_err(|problem| not_configured(problem.clone()))?;
                let outgoing = self.with_token(message).await?;
                smtp.send(&outgoing).await
            }
            SLACK => {
                let url = self.channels.slack.as_ref().ok_or_else(|| {
                    not_configured(format!("Slack is not configured ({} is not set)", crate::config::SLACK_WEBHOOK_VAR))
                })?;
                http()?.slack(url, message).await
            }
            WEBHOOK => {
                let hook = self.channels.webhook(&message.recipient).ok_or_else(|| {
                    not_configured(format!("{} is no longer an enabled webhook adapter with a url", message.recipient))
                })?;
                http()?.webhook(hook, message).await
            }
            PAGERDUTY => {
                let service = self.channels.pagerduty(&message.recipient).ok_or_else(|| {
                    not_configured(format!(
                        "{} is no longer an enabled pagerduty adapter with a routing key ({})",
                        message.recipient,
                        crate::config::PAGERDUTY_ROUTING_KEY_VAR
                    ))
                })?;
                http()?.pagerduty(service, message).await
            }
            other => Err(NotifyError::UnknownKind { id: message.id, kind: other.to_owned() }),
        }
    }

    /// The email as it goes out: an approval request's token minted and put in (see
    /// [`super::approval_token`]), on the blocking pool (it writes the token's hash).
    async fn with_token(&self, message: &OutboxMessage) -> Result<OutboxMessage, NotifyError> {
        let (store, message) = (Arc::clone(&self.store), message.clone());
        let id = message.id;
        tokio::task::spawn_blocking(move || super::approval_token::fill(&store, &message))
            .await
            .map_err(|error| NotifyError::NotConfigured {
                id,
                what: format!("minting the token did not complete: {error}"),
            })?
            .map_err(NotifyError::from)
    }

    /// Runs a store call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreCallError> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || call(&store)).await??)
    }
}

/// Wakes the notifier on every event received on `events` (the engine's: a state change may
/// have queued messages), until `shutdown` or until the sender is gone. A lagging receiver
/// wakes it too: something happened.
pub async fn wake_on_events<T: Clone>(
    mut events: tokio::sync::broadcast::Receiver<T>,
    waker: Arc<Notify>,
    shutdown: CancellationToken,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            event = events.recv() => match event {
                Ok(_) | Err(RecvError::Lagged(_)) => waker.notify_one(),
                Err(RecvError::Closed) => break,
            },
        }
    }
}

/// A store call from the notifier that failed, or never finished.
#[derive(Debug, thiserror::Error)]
enum StoreCallError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking store call did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewOutboxMessage;

    fn queue(store: &Store, kind: &str) -> i64 {
        let new = NewOutboxMessage {
            kind: kind.to_owned(),
            recipient: "dba@example.org".to_owned(),
            subject: "s".to_owned(),
            body: r#"{"text":"t"}"#.to_owned(),
            workflow_id: None,
        };
        store.enqueue_outbox(&new).unwrap().id
    }

    #[tokio::test]
    async fn what_cannot_be_delivered_fails_with_a_reason_and_waits() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let fax = queue(&store, "fax");
        let email = queue(&store, EMAIL);
        let slack = queue(&store, SLACK);
        let notifier = Notifier::new(Arc::clone(&store), &Config::default(), NotifierSettings::default());
        assert!(notifier.setup_problems().is_empty(), "no SMTP server configured is not a startup problem");
        let pass = notifier.deliver_due().await;
        assert_eq!(pass, Pass { sent: 0, failed: 3 });
        let error = |id| store.get_outbox(id).unwrap().last_error.unwrap_or_default();
        assert!(error(fax).contains("unknown channel \"fax\""), "{}", error(fax));
        assert!(error(email).contains("email.smtp_server is not set"), "{}", error(email));
        assert!(error(slack).contains("SENTRI_SLACK_WEBHOOK_URL is not set"), "{}", error(slack));
        assert_eq!(store.get_outbox(fax).unwrap().state(), "retrying");
    }

    #[tokio::test]
    async fn a_misconfigured_smtp_server_is_a_startup_problem() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let mut config = Config::default();
        config.email.smtp_server = "smtp.example.org".to_owned();
        config.email.use_tls = false;
        config.email.from_address = "sentri@example.org".to_owned();
        let notifier = Notifier::new(store, &config, NotifierSettings::default());
        let problems = notifier.setup_problems();
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("plain SMTP is allowed only to a loopback host"), "{problems:?}");
    }

    #[tokio::test]
    async fn run_stops_on_shutdown_and_a_wake_is_not_lost() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let settings = NotifierSettings { poll_interval: Duration::from_secs(3600), ..NotifierSettings::default() };
        let notifier = Notifier::new(Arc::clone(&store), &Config::default(), settings);
        let waker = notifier.waker();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(notifier.run(shutdown.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        let id = queue(&store, "fax");
        waker.notify_one();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.get_outbox(id).unwrap().attempts == 0 {
            assert!(tokio::time::Instant::now() < deadline, "the wake did not reach the notifier");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), running).await.unwrap().unwrap();
    }
}
