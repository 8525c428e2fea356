//! The Prometheus exposition (OpenMetrics text, through `prometheus-client`): one registry
//! built per scrape from the store's counts ([`crate::store::MetricsSnapshot`]) and the
//! engine's in-process instruments ([`crate::engine::Vitals`]), so a counter the store keeps
//! survives a restart and nothing is counted twice.
//!
//! Names follow Prometheus' conventions: `sentri_` prefix, `_total` on counters, `_seconds`
//! on durations and ages, labels for the dimension (`state`, `outcome`, `check`, `decision`).

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use jiff::Timestamp;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::{Registry, Unit};

use super::MonitorError;
use crate::domain::WorkflowState;
use crate::engine::EngineHandle;
use crate::store::MetricsSnapshot;

/// The content type of [`render`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

type Labels = Vec<(&'static str, String)>;

/// Seconds from `at` to `now`, never negative.
fn age(now: Timestamp, at: Timestamp) -> f64 {
    (now.as_millisecond() - at.as_millisecond()).max(0) as f64 / 1000.0
}

fn counter(value: u64) -> Counter {
    let counter = Counter::default();
    counter.inc_by(value);
    counter
}

fn gauge(value: f64) -> Gauge<f64, AtomicU64> {
    let gauge = Gauge::<f64, AtomicU64>::default();
    gauge.set(value);
    gauge
}

fn counter_family(rows: impl IntoIterator<Item = (Labels, u64)>) -> Family<Labels, Counter> {
    let family = Family::<Labels, Counter>::default();
    for (labels, value) in rows {
        family.get_or_create(&labels).inc_by(value);
    }
    family
}

fn gauge_family(rows: impl IntoIterator<Item = (Labels, f64)>) -> Family<Labels, Gauge<f64, AtomicU64>> {
    let family = Family::<Labels, Gauge<f64, AtomicU64>>::default();
    for (labels, value) in rows {
        family.get_or_create(&labels).set(value);
    }
    family
}

/// The metrics text for one scrape.
pub async fn render(engine: &EngineHandle) -> Result<String, MonitorError> {
    let store = Arc::clone(engine.store());
    let snapshot = tokio::task::spawn_blocking(move || store.metrics_snapshot()).await??;
    let now = engine.store().now();
    encode_all(engine, &snapshot, now)
}

fn encode_all(engine: &EngineHandle, snapshot: &MetricsSnapshot, now: Timestamp) -> Result<String, MonitorError> {
    let mut registry = Registry::with_prefix("sentri");
    register_store(&mut registry, snapshot, now);
    register_engine(&mut registry, engine);
    let mut text = String::new();
    encode(&mut text, &registry)?;
    Ok(text)
}

/// What the store counts.
fn register_store(registry: &mut Registry, snapshot: &MetricsSnapshot, now: Timestamp) {
    register_alerts(registry, snapshot, now);
    register_workflows(registry, snapshot, now);
    register_checks_and_models(registry, snapshot);
}

/// Alert emails: received, matched per type, unmatched, folded, pending, the newest's age.
fn register_alerts(registry: &mut Registry, snapshot: &MetricsSnapshot, now: Timestamp) {
    let outcome_count = |wanted: &str| {
        snapshot
            .alerts_by_outcome
            .iter()
            .filter(|(outcome, _)| outcome.as_deref() == Some(wanted))
            .map(|(_, n)| n)
            .sum()
    };
    let received: u64 = snapshot.alerts_by_outcome.iter().map(|(_, n)| n).sum();
    registry.register("alerts_received", "Alert emails stored", counter(received));
    registry.register(
        "alerts_matched",
        "Alert emails a policy recognised (opened or folded into a workflow), per alert type",
        counter_family(snapshot.matched_by_type.iter().map(|(kind, n)| (vec![("alert_type", kind.clone())], *n))),
    );
    registry.register("alerts_unmatched", "Alert emails no policy recognised", counter(outcome_count("unmatched")));
    registry.register(
        "alerts_folded",
        "Alert emails folded into an open workflow (repeats)",
        counter(outcome_count("folded")),
    );
    registry.register(
        "alerts_pending",
        "Alert emails stored and not yet triaged",
        gauge(snapshot.alerts_by_outcome.iter().filter(|(o, _)| o.is_none()).map(|(_, n)| *n).sum::<u64>() as f64),
    );
    if let Some(at) = snapshot.last_alert_stored_at {
        registry.register_with_unit(
            "last_alert_age",
            "Time since the newest alert email was stored",
            Unit::Seconds,
            gauge(age(now, at)),
        );
    }
}

/// Workflows per state, the outbox, database profiles.
fn register_workflows(registry: &mut Registry, snapshot: &MetricsSnapshot, now: Timestamp) {
    // Every state, zero included, so a rate or an alert rule never sees a series vanish.
    let workflows = WorkflowState::ALL.into_iter().map(|state| {
        let n = snapshot
            .workflows_by_state
            .iter()
            .filter(|(stored, _)| stored == state.as_str())
            .map(|(_, n)| *n)
            .sum::<u64>();
        (vec![("state", state.as_str().to_owned())], n as f64)
    });
    registry.register("workflows", "Workflows per state, read from the store", gauge_family(workflows));
    registry.register("outbox_depth", "Outgoing messages still to send", gauge(snapshot.outbox_pending as f64));
    registry.register_with_unit(
        "outbox_oldest_age",
        "Age of the oldest outgoing message still to send (0 when none)",
        Unit::Seconds,
        gauge(snapshot.outbox_oldest_at.map_or(0.0, |at| age(now, at))),
    );
    registry.register("outbox_gave_up", "Outgoing messages given up on", counter(snapshot.outbox_gave_up));
    registry.register_with_unit(
        "database_profile_age",
        "Time since each database was profiled",
        Unit::Seconds,
        gauge_family(
            snapshot
                .profiles
                .iter()
                .filter_map(|(database, at)| at.map(|at| (vec![("database", database.clone())], age(now, at)))),
        ),
    );
}

/// Check runs and findings; model calls, tokens and cost.
fn register_checks_and_models(registry: &mut Registry, snapshot: &MetricsSnapshot) {
    let check_labels = |run: &crate::store::CheckRunCount| {
        vec![
            ("database", run.database.clone()),
            ("check", run.check.clone()),
            ("result", if run.failed { "error" } else { "ok" }.to_owned()),
        ]
    };
    registry.register(
        "check_runs",
        "Check runs, per database, check and result",
        counter_family(snapshot.check_runs.iter().map(|run| (check_labels(run), run.runs))),
    );
    registry.register(
        "check_findings",
        "Findings of check runs, per database and check",
        counter_family(
            snapshot
                .check_runs
                .iter()
                .map(|run| (vec![("database", run.database.clone()), ("check", run.check.clone())], run.findings)),
        ),
    );
    let model_labels = |call: &crate::store::ModelCallCount| {
        vec![
            ("provider", call.provider.clone()),
            ("model", call.model.clone()),
            ("result", if call.failed { "error" } else { "ok" }.to_owned()),
        ]
    };
    registry.register(
        "model_calls",
        "Language-model calls, per provider, model and result",
        counter_family(snapshot.model_calls.iter().map(|call| (model_labels(call), call.calls))),
    );
    let tokens = counter_family(snapshot.model_calls.iter().flat_map(|call| {
        let labels = |direction: &str| {
            vec![
                ("provider", call.provider.clone()),
                ("model", call.model.clone()),
                ("direction", direction.to_owned()),
            ]
        };
        [(labels("input"), call.input_tokens), (labels("output"), call.output_tokens)]
    }));
    registry.register("model_tokens", "Language-model tokens, per provider, model and direction", tokens);
    let cost = Family::<Labels, Counter<f64, AtomicU64>>::default();
    for call in &snapshot.model_calls {
        cost.get_or_create(&vec![("provider", call.provider.clone()), ("model", call.model.clone())])
            .inc_by(call.cost_usd);
    }
    registry.register("model_cost_usd", "Language-model spending in US dollars, per provider and model", cost);
}

/// What only the running engine knows.
fn register_engine(registry: &mut Registry, engine: &EngineHandle) {
    let vitals = engine.vitals();
    registry.register("heartbeats", "Engine loop heartbeats (the loop turned and the store took a write)", {
        counter(vitals.beat().count)
    });
    registry.register_with_unit(
        "uptime",
        "Time since the engine started",
        Unit::Seconds,
        gauge(vitals.uptime().as_secs_f64()),
    );
    registry.register(
        "mesh_verdicts",
        "Safety Mesh verdicts, per check and decision (after approvals), since the engine started",
        vitals.mesh_verdicts.clone(),
    );
    registry.register("executions", "Fixes executed, per outcome, since the engine started", vitals.executions.clone());
    registry.register_with_unit(
        "diagnosis_duration",
        "Time to diagnose a verified workflow (tools, model, judges)",
        Unit::Seconds,
        vitals.diagnosis_seconds.clone(),
    );
    registry.register_with_unit(
        "verification_duration",
        "Time to run an alert's verification query on its database",
        Unit::Seconds,
        vitals.verification_seconds.clone(),
    );
    registry.register(
        "database_reachable",
        "1 when the database's last connect succeeded, 0 when it failed (absent: not tried yet)",
        gauge_family(engine.reachability().into_iter().filter_map(|(database, reachable)| {
            reachable.map(|reachable| (vec![("database", database)], if reachable { 1.0 } else { 0.0 }))
        })),
    );
    if let Some(imap) = vitals.imap() {
        registry.register(
            "imap_connected",
            "1 when the mailbox intake is logged in and reading",
            gauge(if imap.connected() { 1.0 } else { 0.0 }),
        );
        registry.register(
            "imap_uid_lag",
            "Messages the server listed in the folder that are not stored yet (by UID, at the last listing)",
            gauge(f64::from(imap.uid_lag())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{CheckRunCount, ModelCallCount};

    fn rendered(snapshot: &MetricsSnapshot, now: Timestamp) -> String {
        let mut registry = Registry::with_prefix("sentri");
        register_store(&mut registry, snapshot, now);
        let mut text = String::new();
        encode(&mut text, &registry).expect("encode");
        text
    }

    #[test]
    fn store_counts_are_exposed_with_prometheus_names_and_labels() {
        let now: Timestamp = "2026-12-04T12:00:00Z".parse().expect("time");
        let snapshot = MetricsSnapshot {
            alerts_by_outcome: vec![
                (None, 1),
                (Some("folded".into()), 2),
                (Some("unmatched".into()), 3),
                (Some("workflow".into()), 4),
            ],
            matched_by_type: vec![("tablespace_full".into(), 6)],
            last_alert_stored_at: Some("2026-12-04T11:59:30Z".parse().expect("time")),
            workflows_by_state: vec![("COMPLETED".into(), 4), ("ESCALATED".into(), 1)],
            outbox_pending: 2,
            outbox_oldest_at: Some("2026-12-04T11:58:00Z".parse().expect("time")),
            outbox_gave_up: 1,
            profiles: vec![("app".into(), Some("2026-12-04T11:00:00Z".parse().expect("time")))],
            check_runs: vec![
                CheckRunCount { database: "app".into(), check: "bloat".into(), failed: false, runs: 3, findings: 5 },
                CheckRunCount { database: "app".into(), check: "bloat".into(), failed: true, runs: 1, findings: 0 },
            ],
            model_calls: vec![ModelCallCount {
                provider: "claude".into(),
                model: "m".into(),
                failed: false,
                calls: 2,
                input_tokens: 100,
                output_tokens: 40,
                cost_usd: 0.25,
            }],
        };
        let text = rendered(&snapshot, now);
        for line in [
            "sentri_alerts_received_total 10",
            "sentri_alerts_matched_total{alert_type=\"tablespace_full\"} 6",
            "sentri_alerts_unmatched_total 3",
            "sentri_alerts_folded_total 2",
            "sentri_alerts_pending 1.0",
            "sentri_last_alert_age_seconds 30.0",
            "sentri_workflows{state=\"COMPLETED\"} 4.0",
            "sentri_workflows{state=\"DETECTED\"} 0.0",
            "sentri_outbox_depth 2.0",
            "sentri_outbox_oldest_age_seconds 120.0",
            "sentri_outbox_gave_up_total 1",
            "sentri_database_profile_age_seconds{database=\"app\"} 3600.0",
            "sentri_check_runs_total{database=\"app\",check=\"bloat\",result=\"ok\"} 3",
            "sentri_check_runs_total{database=\"app\",check=\"bloat\",result=\"error\"} 1",
            "sentri_check_findings_total{database=\"app\",check=\"bloat\"} 5",
            "sentri_model_calls_total{provider=\"claude\",model=\"m\",result=\"ok\"} 2",
            "sentri_model_tokens_total{provider=\"claude\",model=\"m\",direction=\"input\"} 100",
            "sentri_model_tokens_total{provider=\"claude\",model=\"m\",direction=\"output\"} 40",
            "sentri_model_cost_usd_total{provider=\"claude\",model=\"m\"} 0.25",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        assert_eq!(text.lines().filter(|l| l.starts_with("sentri_workflows{")).count(), WorkflowState::ALL.len());
    }
}
