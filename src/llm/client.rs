//! One provider's endpoint, spoken over its wire format: the request is encoded, sent with
//! its key and a timeout, retried a few times on 429 and 5xx with backoff while the caller's
//! deadline allows, and the response decoded into a [`Reply`].

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::conversation::{Exchange, Reply};
use super::{LlmError, anthropic, gemini, openai};
use crate::config::Secret;
use crate::config::{LlmConfig, LlmProvider};

/// The first wait after a refused attempt; it doubles each time, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// Attempts at one request before its error stands: a provider that refused four times in a
/// row is down for now, and the caller falls back rather than hold a workflow up until its
/// deadline.
pub const MAX_ATTEMPTS: u32 = 4;
/// A `Retry-After` longer than this is not waited for (the deadline decides anyway).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// How much of an error body is kept in the error.
const ERROR_BODY_CAP: usize = 500;

/// One answered request.
#[derive(Debug, Clone)]
pub struct Answered {
    pub reply: Reply,
    /// Attempts made (1 when the first succeeded).
    pub attempts: u32,
    pub elapsed: Duration,
    /// SHA-256 of the request body: what the audit records instead of the prompt.
    pub prompt_sha256: String,
}

/// A model Sentri can ask: provider, model name, endpoint and key.
#[derive(Debug, Clone)]
pub struct Model {
    pub provider: LlmProvider,
    pub name: String,
    base: String,
    key: Option<Secret>,
    timeout: Duration,
    http: reqwest::Client,
}

impl Model {
    /// The model `config` names for `provider`; `llm.base_url` replaces the vendor's URL for
    /// every provider (a gateway, a proxy, a test server).
    pub fn new(config: &LlmConfig, provider: LlmProvider) -> Result<Model, LlmError> {
        let name = config.model_for(provider).ok_or(LlmError::NotConfigured)?.to_owned();
        let default_base = match provider {
            LlmProvider::Claude => anthropic::DEFAULT_BASE,
            LlmProvider::OpenAi => openai::DEFAULT_BASE,
            LlmProvider::Gemini => gemini::DEFAULT_BASE,
            LlmProvider::Local => "",
            LlmProvider::None => return Err(LlmError::NotConfigured),
        };
        let base = config.base_url.clone().unwrap_or_else(|| default_base.to_owned());
        if base.is_empty() {
            return Err(LlmError::NotConfigured);
        }
        let key = config.api_key(provider).cloned();
        if key.is_none() && provider != LlmProvider::Local {
            return Err(LlmError::NoKey { provider, variables: provider.api_key_vars().join(", ") });
        }
        // reqwest is built without a rustls provider of its own: without the process default
        // it panics ("No provider set") on the first client.
        crate::tls::install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("sentri/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| LlmError::Transport { provider, source })?;
        Ok(Model { provider, name, base, key, timeout: config.timeout, http })
    }

    /// Sends `exchange`, retrying 429, 5xx and lost connections with backoff, at most
    /// [`MAX_ATTEMPTS`] times and never past `deadline`.
    pub async fn send(&self, exchange: &Exchange, deadline: Instant) -> Result<Answered, LlmError> {
        let body = self.body(exchange);
        let bytes = serde_json::to_vec(&body).map_err(|error| self.malformed(error.to_string()))?;
        let prompt_sha256 = hex::encode(Sha256::digest(&bytes));
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            attempts += 1;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(LlmError::Deadline { provider: self.provider, attempts: attempts - 1 });
            }
            let outcome = self.attempt(&bytes, self.timeout.min(left)).await;
            let (error, wait) = match outcome {
                Ok(reply) => return Ok(Answered { reply, attempts, elapsed: started.elapsed(), prompt_sha256 }),
                Err(Attempt::Final(error)) => return Err(error),
                Err(Attempt::Retry { error, retry_after }) => (error, retry_after.unwrap_or(backoff)),
            };
            if attempts >= MAX_ATTEMPTS || Instant::now() + wait >= deadline {
                return Err(error);
            }
            tracing::info!(provider = %self.provider, attempt = attempts, wait_ms = wait.as_millis() as u64, %error, "retrying the model");
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn body(&self, exchange: &Exchange) -> Value {
        match self.provider {
            LlmProvider::Claude => anthropic::body(exchange, &self.name),
            LlmProvider::OpenAi => openai::body(exchange, &self.name, openai::Flavour::OpenAi),
            LlmProvider::Local => openai::body(exchange, &self.name, openai::Flavour::Compatible),
            LlmProvider::Gemini | LlmProvider::None => gemini::body(exchange, &self.name),
        }
    }

    fn endpoint(&self) -> String {
        match self.provider {
            LlmProvider::Claude => anthropic::endpoint(&self.base),
            LlmProvider::OpenAi | LlmProvider::Local => openai::endpoint(&self.base),
            LlmProvider::Gemini | LlmProvider::None => gemini::endpoint(&self.base, &self.name),
        }
    }

    fn headers(&self) -> Result<HeaderMap, LlmError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let Some(key) = &self.key else { return Ok(headers) };
        let secret = |value: String| {
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| self.malformed("the API key is not a valid header value".into()))?;
            value.set_sensitive(true);
            Ok::<_, LlmError>(value)
        };
        match self.provider {
            LlmProvider::Claude => {
                headers.insert(HeaderName::from_static("x-api-key"), secret(key.expose().to_owned())?);
                headers.insert(
                    HeaderName::from_static("anthropic-version"),
                    HeaderValue::from_static(anthropic::API_VERSION),
                );
            }
            LlmProvider::Gemini => {
                headers.insert(HeaderName::from_static("x-goog-api-key"), secret(key.expose().to_owned())?);
            }
            LlmProvider::OpenAi | LlmProvider::Local | LlmProvider::None => {
                headers.insert(reqwest::header::AUTHORIZATION, secret(format!("Bearer {}", key.expose()))?);
            }
        }
        Ok(headers)
    }

    async fn attempt(&self, body: &[u8], timeout: Duration) -> Result<Reply, Attempt> {
        let headers = self.headers().map_err(Attempt::Final)?;
        let sent = self.http.post(self.endpoint()).headers(headers).timeout(timeout).body(body.to_vec()).send().await;
        let response = match sent {
            Ok(response) => response,
            // Timeouts and refused or broken connections: the server may be back in a moment.
            Err(source) => {
                return Err(Attempt::Retry {
                    error: LlmError::Transport { provider: self.provider, source },
                    retry_after: None,
                });
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.trim().parse::<u64>().ok())
            .map(|seconds| Duration::from_secs(seconds).min(MAX_RETRY_AFTER));
        let text = match response.text().await {
            Ok(text) => text,
            Err(source) => {
                return Err(Attempt::Retry {
                    error: LlmError::Transport { provider: self.provider, source },
                    retry_after: None,
                });
            }
        };
        let parsed: Option<Value> = serde_json::from_str(&text).ok();
        if !status.is_success() {
            let message = parsed.as_ref().and_then(|body| self.error_message(body)).unwrap_or_else(|| cap(&text));
            let error = LlmError::Status { provider: self.provider, status: status.as_u16(), message };
            return Err(if retryable(status) { Attempt::Retry { error, retry_after } } else { Attempt::Final(error) });
        }
        let body =
            parsed.ok_or_else(|| Attempt::Final(self.malformed(format!("the body is not JSON: {}", cap(&text)))))?;
        let decoded = match self.provider {
            LlmProvider::Claude => anthropic::reply(&body),
            LlmProvider::OpenAi | LlmProvider::Local => openai::reply(&body),
            LlmProvider::Gemini | LlmProvider::None => gemini::reply(&body),
        };
        decoded.map_err(|reason| Attempt::Final(self.malformed(reason)))
    }

    fn error_message(&self, body: &Value) -> Option<String> {
        match self.provider {
            LlmProvider::Claude => anthropic::error_message(body),
            LlmProvider::OpenAi | LlmProvider::Local => openai::error_message(body),
            LlmProvider::Gemini | LlmProvider::None => gemini::error_message(body),
        }
    }

    fn malformed(&self, reason: String) -> LlmError {
        LlmError::Malformed { provider: self.provider, reason }
    }
}

/// How one attempt failed.
enum Attempt {
    /// Worth another attempt after a wait (the server's `Retry-After` when it gave one).
    Retry { error: LlmError, retry_after: Option<Duration> },
    /// Another attempt would fail the same way.
    Final(LlmError),
}

/// 429 (rate limit), 5xx, and Anthropic's 529 (overloaded).
fn retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() || status.as_u16() == 529
}

fn cap(text: &str) -> String {
    let mut end = text.len().min(ERROR_BODY_CAP);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}
