//! What the running engine knows about its own health and has measured, for the service
//! manager (systemd's watchdog and `STATUS=`), `/healthz`, `/readyz` and the Prometheus metrics
//! (`crate::monitor`).
//!
//! The heartbeat is the engine loop's own: on every heartbeat tick the loop itself takes the
//! store's write lock and lets it go (`Store::probe_write`), awaited inline, and only then counts
//! a beat. So beats stop when the loop stops turning *or* when the store cannot be written —
//! both mean the engine cannot make progress (every step commits before it acts) — and
//! `sentri start` pings the watchdog on beats, never on a timer of its own.
//!
//! Everything else counted here is what only the running process sees (Safety Mesh verdicts,
//! execution outcomes, step durations); what the store already records (alerts, workflows, the
//! outbox, model calls, check runs) is read from it at scrape time instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use tokio::sync::watch;

use crate::domain::{ExecutionOutcome, MeshVerdict};
use crate::intake::imap::ImapStatus;

/// One observation of the engine loop's heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Beat {
    /// Beats so far: it grows only when the loop turned and the store took a write.
    pub count: u64,
    /// When the last beat was counted.
    pub at: Option<Instant>,
    /// When the loop last ran a heartbeat tick, beat or not.
    pub ticked_at: Option<Instant>,
    /// Why the last heartbeat tick counted no beat (the store's error), if it did not.
    pub store_error: Option<String>,
}

/// Labels of one Safety Mesh verdict: which check, and what it decided.
pub type VerdictLabels = Vec<(&'static str, &'static str)>;

/// The engine's health and in-process instruments. Shared behind an `Arc` with the engine, its
/// handle and the monitor.
pub struct Vitals {
    beats: watch::Sender<Beat>,
    /// `None` when no mailbox is configured (intake is then not something to wait for).
    imap: Option<Arc<ImapStatus>>,
    started: Instant,
    /// `sentri_mesh_verdicts_total{check, decision}`.
    pub mesh_verdicts: Family<VerdictLabels, Counter>,
    /// `sentri_executions_total{outcome}`.
    pub executions: Family<Vec<(&'static str, &'static str)>, Counter>,
    /// `sentri_diagnosis_duration_seconds`.
    pub diagnosis_seconds: Histogram,
    /// `sentri_verification_duration_seconds`.
    pub verification_seconds: Histogram,
}

/// Buckets for step durations: 50 ms to about 7 minutes.
fn duration_buckets() -> impl Iterator<Item = f64> {
    prometheus_client::metrics::histogram::exponential_buckets(0.05, 2.0, 14)
}

impl Vitals {
    pub(crate) fn new(imap: Option<Arc<ImapStatus>>) -> Vitals {
        let (beats, _) = watch::channel(Beat::default());
        Vitals {
            beats,
            imap,
            started: Instant::now(),
            mesh_verdicts: Family::default(),
            executions: Family::default(),
            diagnosis_seconds: Histogram::new(duration_buckets()),
            verification_seconds: Histogram::new(duration_buckets()),
        }
    }

    /// The heartbeat, as it changes.
    pub fn heartbeats(&self) -> watch::Receiver<Beat> {
        self.beats.subscribe()
    }

    /// The last heartbeat.
    pub fn beat(&self) -> Beat {
        self.beats.borrow().clone()
    }

    /// The mailbox intake's status, when one is configured.
    pub fn imap(&self) -> Option<&ImapStatus> {
        self.imap.as_deref()
    }

    /// How long the engine has been running.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Records one heartbeat tick of the engine loop: a beat when the store took a write.
    pub(crate) fn record_tick(&self, store: Result<(), String>) {
        let now = Instant::now();
        self.beats.send_modify(|beat| {
            beat.ticked_at = Some(now);
            match store {
                Ok(()) => {
                    beat.count += 1;
                    beat.at = Some(now);
                    beat.store_error = None;
                }
                Err(error) => beat.store_error = Some(error),
            }
        });
    }

    pub(crate) fn record_verdict(&self, check: &'static str, verdict: MeshVerdict) {
        self.mesh_verdicts.get_or_create(&vec![("check", check), ("decision", verdict.as_str())]).inc();
    }

    pub(crate) fn record_execution(&self, outcome: &ExecutionOutcome) {
        self.executions.get_or_create(&vec![("outcome", outcome_label(outcome))]).inc();
    }
}

/// The label an execution outcome is counted under.
pub fn outcome_label(outcome: &ExecutionOutcome) -> &'static str {
    match outcome {
        ExecutionOutcome::Completed => "completed",
        ExecutionOutcome::RolledBack => "rolled_back",
        ExecutionOutcome::FailedBeforeChange => "failed_before_change",
        ExecutionOutcome::FailedNeedsDba => "failed_needs_dba",
        ExecutionOutcome::HashMismatch => "hash_mismatch",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_counts_a_beat_only_when_the_store_took_the_write() {
        let vitals = Vitals::new(None);
        let beats = vitals.heartbeats();
        vitals.record_tick(Ok(()));
        assert!(beats.has_changed().unwrap_or(false));
        assert_eq!(vitals.beat().count, 1);
        vitals.record_tick(Err("database is locked".into()));
        let beat = vitals.beat();
        assert_eq!(beat.count, 1, "a failed probe is not a beat");
        assert_eq!(beat.store_error.as_deref(), Some("database is locked"));
        vitals.record_tick(Ok(()));
        assert_eq!((vitals.beat().count, vitals.beat().store_error), (2, None));
    }
}
