//! The service manager's notify protocol for `sentri start` under `Type=notify` (through the
//! `sd-notify` crate; nothing is sent unless systemd set `NOTIFY_SOCKET`):
//!
//! - `READY=1` once the engine loop has beaten once (the store took a write) and the mailbox
//!   intake has connected or made its first attempt (or none is configured);
//! - `STATUS=` the databases reachable, the workflows open and the mailbox, when it changes;
//! - `WATCHDOG=1` at half `WATCHDOG_USEC`, and only after a heartbeat that came since the last
//!   ping: the heartbeat is the engine loop's own (`sentri::engine::vitals`), so a loop that
//!   stops turning, or a store that cannot be written, stops the pings and systemd restarts us;
//! - `STOPPING=1` when a signal starts the shutdown.

use std::time::{Duration, Instant};

use sd_notify::NotifyState;
use sentri::engine::EngineHandle;

/// Talks to the service manager.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// `WATCHDOG_USEC`, when the unit has `WatchdogSec=`.
    watchdog: Option<Duration>,
}

/// Heartbeats between two looks at the status line.
const STATUS_EVERY_BEATS: u64 = 5;

impl Notifier {
    /// A notifier when systemd is listening (`NOTIFY_SOCKET` set), else `None`.
    pub fn from_env() -> Option<Notifier> {
        std::env::var_os("NOTIFY_SOCKET")?;
        let watchdog = sd_notify::watchdog_enabled();
        tracing::info!(watchdog_ms = watchdog.map(|w| w.as_millis()), "systemd notify socket found");
        Some(Notifier { watchdog })
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        if let Err(error) = sd_notify::notify(states) {
            tracing::warn!(%error, "could not notify systemd");
        }
    }

    /// Reports readiness, then status and watchdog pings, until the engine stops.
    pub async fn run(self, engine: EngineHandle) {
        let mut beats = engine.vitals().heartbeats();
        let mut count = loop {
            let beat = beats.borrow_and_update().clone();
            let intake_up = engine.vitals().imap().is_none_or(|status| status.tried());
            if beat.count > 0 && intake_up {
                break beat.count;
            }
            if beats.changed().await.is_err() {
                return;
            }
        };
        let mut status = sentri::monitor::status_line(&engine).await;
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        tracing::info!(%status, "told systemd: ready");
        // Pings ride on beats (one a second), so one is sent at the first beat from half the
        // interval on, less half a beat: never later than half the interval plus half a beat.
        let half = self.watchdog.map(|watchdog| (watchdog / 2).saturating_sub(sentri::engine::HEARTBEAT_EVERY / 2));
        let mut pinged: Option<(Instant, u64)> = None;
        let mut status_at = count;
        loop {
            if let Some(half) = half {
                let due = pinged.is_none_or(|(at, pinged_count)| count > pinged_count && at.elapsed() >= half);
                if due {
                    self.send(&[NotifyState::Watchdog]);
                    pinged = Some((Instant::now(), count));
                }
            }
            if count >= status_at + STATUS_EVERY_BEATS {
                status_at = count;
                let now = sentri::monitor::status_line(&engine).await;
                if now != status {
                    self.send(&[NotifyState::Status(&now)]);
                    status = now;
                }
            }
            if beats.changed().await.is_err() {
                return;
            }
            count = beats.borrow_and_update().count;
        }
    }

    /// Tells systemd the service is stopping.
    pub fn stopping(&self) {
        self.send(&[NotifyState::Stopping, NotifyState::Status("stopping: finishing the current step")]);
    }
}
