//! Language models, optional and never trusted to act. Providers sit behind one interface
//! ([`client::Model`] over a vendor-neutral [`conversation`]), each module translating to its
//! vendor's wire format: Anthropic Messages, OpenAI Chat Completions (and compatible local
//! servers), Gemini `generateContent`. What a model says is parsed and checked like any other
//! plan source; nothing here writes to a database.

pub mod anthropic;
pub mod client;
pub mod conversation;
pub mod gemini;
pub mod openai;
pub mod price;
pub mod redact;

use crate::config::LlmProvider;
use crate::domain::ModelCall;

/// Why a model gave no usable answer. Every one of them moves the diagnosis to its next level.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("no language model is configured")]
    NotConfigured,
    #[error("{provider}: no API key (set one of {variables})")]
    NoKey { provider: LlmProvider, variables: String },
    #[error("{provider}: the daily cost limit of ${limit:.2} is reached (${spent:.4} spent today)")]
    CostLimit { provider: LlmProvider, limit: f64, spent: f64 },
    #[error("{provider}: the request failed: {source}")]
    Transport {
        provider: LlmProvider,
        #[source]
        source: reqwest::Error,
    },
    #[error("{provider}: HTTP {status}: {message}")]
    Status { provider: LlmProvider, status: u16, message: String },
    #[error("{provider}: no answer within the deadline after {attempts} attempts")]
    Deadline { provider: LlmProvider, attempts: u32 },
    #[error("{provider}: the response is not what its API documents: {reason}")]
    Malformed { provider: LlmProvider, reason: String },
}

/// Where model spending is counted. The engine and the CLI count in the store (every call, of
/// every caller, whatever it gave), so the daily cost limit sees all of it.
pub trait Ledger: Send + Sync {
    /// US dollars spent today (UTC).
    fn spent_today(&self) -> f64;
    fn record(&self, call: &ModelCall);
}

/// A ledger that keeps nothing, for callers without a store (tests of the wire formats).
pub struct NoLedger;

impl Ledger for NoLedger {
    fn spent_today(&self) -> f64 {
        0.0
    }
    fn record(&self, _call: &ModelCall) {}
}
