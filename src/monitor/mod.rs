//! How a running engine looks from outside: the one-line status the service manager shows
//! (`STATUS=`), `/healthz` and `/readyz` with the reason in their JSON body, and the Prometheus
//! metrics (`metrics.rs`) served over HTTP (`http.rs`) when `monitoring.metrics_listen` is set.
//!
//! Everything here reads — the engine's [`Vitals`](crate::engine::Vitals) and the store — and
//! nothing changes the engine. It sits above `engine` because it reads through its handle.

pub mod http;
pub mod metrics;

use std::time::Duration;

use serde_json::json;

use crate::engine::EngineHandle;
use crate::store::StoreError;

/// A heartbeat tick older than this means the engine loop has stopped turning.
pub const STALE_TICK: Duration = Duration::from_secs(15);

/// Errors at the monitor's boundary.
#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("reading the store for the metrics: {0}")]
    Store(#[from] StoreError),
    #[error("a blocking store read did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("encoding the metrics: {0}")]
    Encode(#[from] std::fmt::Error),
    #[error("listening on {address} for the metrics: {source}")]
    Listen { address: String, source: std::io::Error },
}

/// A health answer: whether it is good, and the JSON body saying why.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    pub ok: bool,
    pub body: serde_json::Value,
}

/// `/healthz`: the process is alive and its engine loop is turning (a heartbeat tick within
/// [`STALE_TICK`]), whether or not the store or the mailbox work.
pub fn liveness(engine: &EngineHandle) -> Health {
    let vitals = engine.vitals();
    let beat = vitals.beat();
    let tick_age = beat.ticked_at.map(|at| at.elapsed());
    // Before the first tick the loop is starting: alive.
    let ok = !engine.is_stopping() && tick_age.is_none_or(|age| age <= STALE_TICK);
    let reason = if engine.is_stopping() {
        "the engine is stopping".to_owned()
    } else if ok {
        "the engine loop is turning".to_owned()
    } else {
        format!("the engine loop has not ticked for {} s", tick_age.map_or(0, |age| age.as_secs()))
    };
    Health {
        ok,
        body: json!({
            "status": if ok { "alive" } else { "stalled" },
            "reason": reason,
            "uptime_seconds": vitals.uptime().as_secs(),
            "heartbeats": beat.count,
            "last_tick_seconds_ago": tick_age.map(|age| age.as_secs_f64()),
        }),
    }
}

/// `/readyz`: the store takes writes (the last heartbeat's probe) and the mailbox intake is
/// connected, or none is configured.
pub fn readiness(engine: &EngineHandle) -> Health {
    let vitals = engine.vitals();
    let beat = vitals.beat();
    let mut reasons = Vec::new();
    let store_ok = beat.count > 0 && beat.store_error.is_none();
    let store = match (&beat.store_error, beat.count) {
        (Some(error), _) => {
            reasons.push(format!("the store cannot be written: {error}"));
            json!({"writable": false, "error": error})
        }
        (None, 0) => {
            reasons.push("the store has not been probed yet".to_owned());
            json!({"writable": false, "error": "not probed yet"})
        }
        (None, _) => json!({"writable": true}),
    };
    let (intake_ok, intake) = match vitals.imap() {
        None => (true, json!({"configured": false})),
        Some(status) if status.connected() => (true, json!({"configured": true, "connected": true})),
        Some(status) => {
            let error = status.last_error().unwrap_or_else(|| "connecting".to_owned());
            reasons.push(format!("the mailbox is not connected: {error}"));
            (false, json!({"configured": true, "connected": false, "error": error}))
        }
    };
    let ok = store_ok && intake_ok && !engine.is_stopping();
    if engine.is_stopping() {
        reasons.push("the engine is stopping".to_owned());
    }
    Health {
        ok,
        body: json!({
            "status": if ok { "ready" } else { "not ready" },
            "reasons": reasons,
            "store": store,
            "intake": intake,
        }),
    }
}

/// The service manager's status line: databases reachable, workflows open, the mailbox.
pub async fn status_line(engine: &EngineHandle) -> String {
    let reachability = engine.reachability();
    let reachable = reachability.iter().filter(|(_, reachable)| *reachable == Some(true)).count();
    let store = std::sync::Arc::clone(engine.store());
    let open = tokio::task::spawn_blocking(move || store.stats())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|stats| stats.by_state.iter().filter(|(state, _)| state.is_open()).map(|(_, n)| n).sum::<u64>());
    let open = open.map_or_else(|| "unknown".to_owned(), |n| n.to_string());
    let mailbox = match engine.vitals().imap() {
        None => "mailbox off".to_owned(),
        Some(status) if status.connected() => "mailbox connected".to_owned(),
        Some(_) => "mailbox not connected".to_owned(),
    };
    format!("databases reachable {reachable}/{}; workflows open {open}; {mailbox}", reachability.len())
}
