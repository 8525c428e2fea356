//! The HTTP channels: a Slack incoming webhook, a generic JSON webhook, PagerDuty Events API v2.
//!
//! Each is one POST of the JSON the outbox row holds; a 2xx answer is success, anything else
//! (an error status, a timeout, a refused connection) is a failure the outbox retries. URLs and
//! keys come from [`Channels`](super::Channels) at delivery time — they are secrets, so they
//! are never stored, and errors are reported without the URL.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use super::NotifyError;
use super::channels::{PagerDuty, Webhook};
use crate::config::Secret;
use crate::store::OutboxMessage;

/// How long one request may take (the reference used 10 s).
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of an error response body is kept in the message's last error.
const ERROR_BODY_CHARS: usize = 200;

/// One HTTP client for every HTTP channel (connection reuse, one TLS setup).
#[derive(Debug, Clone)]
pub struct HttpSender {
    client: reqwest::Client,
}

impl HttpSender {
    /// A client with rustls on aws-lc-rs (installed as the process default if none is yet) and
    /// the request timeout.
    pub fn new() -> Result<HttpSender, NotifyError> {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .user_agent(concat!("sentri/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(NotifyError::HttpClient)?;
        Ok(HttpSender { client })
    }

    /// Posts a Slack message (`{"text": …}`, as queued) to the incoming webhook `url`.
    pub async fn slack(&self, url: &Secret, message: &OutboxMessage) -> Result<(), NotifyError> {
        let request =
            self.client.post(url.expose()).header(CONTENT_TYPE, "application/json").body(message.body.clone());
        self.post(message, request).await
    }

    /// Posts the queued event to a generic webhook, with its configured headers (a header named
    /// like a default one replaces it).
    pub async fn webhook(&self, hook: &Webhook, message: &OutboxMessage) -> Result<(), NotifyError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &hook.headers {
            let invalid = || NotifyError::NotConfigured {
                id: message.id,
                what: format!("{}: header {name:?} is not a valid HTTP header name and value", hook.label),
            };
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| invalid())?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let request = self.client.post(hook.url.expose()).headers(headers).body(message.body.clone());
        self.post(message, request).await
    }

    /// Sends the queued PagerDuty event with the service's routing key added.
    pub async fn pagerduty(&self, service: &PagerDuty, message: &OutboxMessage) -> Result<(), NotifyError> {
        let mut event: serde_json::Value = serde_json::from_str(&message.body).map_err(|source| NotifyError::Body {
            id: message.id,
            kind: message.kind.clone(),
            source,
        })?;
        if let Some(object) = event.as_object_mut() {
            object.insert("routing_key".to_owned(), serde_json::Value::String(service.routing_key.expose().to_owned()));
        }
        let request = self.client.post(&service.endpoint).json(&event);
        self.post(message, request).await
    }

    async fn post(&self, message: &OutboxMessage, request: reqwest::RequestBuilder) -> Result<(), NotifyError> {
        let http = |source: reqwest::Error| NotifyError::Http {
            id: message.id,
            kind: message.kind.clone(),
            source: source.without_url(),
        };
        let response = request.send().await.map_err(http)?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let body = response.text().await.unwrap_or_default();
        let body: String =
            body.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(ERROR_BODY_CHARS).collect();
        Err(NotifyError::HttpStatus { id: message.id, kind: message.kind.clone(), status: status.as_u16(), body })
    }
}
