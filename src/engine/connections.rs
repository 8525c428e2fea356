//! The engine's connections to the databases under care: one slot per database, so a database
//! that does not answer holds up only its own workflows.
//!
//! A connect can take the whole connect timeout (a silent listener), so no lock that spans every
//! database is ever held across it: the map of slots is locked only to find a slot, and each
//! slot has its own async lock. A failed connect is remembered, and the next attempt waits out
//! a backoff that doubles per failure (capped), so a dead database is not dialled on every
//! sweep while its workflows wait; they are escalated with the remembered error instead.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use crate::config::Config;
use crate::store::Store;
use crate::targets::{ConnectOptions, ErrorKind, Target, TargetError};

/// The first wait after a failed connect; it doubles per failure up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest wait between two connect attempts to one database.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// Every database's slot, created on first use.
pub(crate) struct Connections {
    config: Arc<Config>,
    options: ConnectOptions,
    store: Arc<Store>,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// One database: its connected target, or the last failure and when to try again.
#[derive(Default)]
struct Slot {
    state: tokio::sync::Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    target: Option<Arc<Target>>,
    failures: u32,
    last_error: Option<TargetError>,
    retry_at: Option<Instant>,
}

impl Connections {
    pub(crate) fn new(config: Arc<Config>, options: ConnectOptions, store: Arc<Store>) -> Connections {
        Connections { config, options, store, slots: Mutex::new(HashMap::new()) }
    }

    /// The connected target for a configured database, connecting on first use. While a
    /// database is in backoff the last error comes back at once, saying when it is retried.
    pub(crate) async fn target(&self, database: &str) -> Result<Arc<Target>, TargetError> {
        let Some(config) = self.config.database(database) else {
            return Err(TargetError::new(database, ErrorKind::BadConnectString, "not a configured database"));
        };
        let slot = self.slot(&config.name);
        let mut state = slot.state.lock().await;
        if let Some(target) = &state.target {
            return Ok(Arc::clone(target));
        }
        if let (Some(retry_at), Some(error)) = (state.retry_at, &state.last_error)
            && Instant::now() < retry_at
        {
            let wait = retry_at.saturating_duration_since(Instant::now()).as_secs().max(1);
            return Err(error.clone().with_hint(format!("the connection is retried in {wait} s")));
        }
        match Target::connect(config, &self.options).await {
            Ok(target) => {
                let target = Arc::new(target);
                if state.failures > 0 {
                    info!(database = %config.name, failures = state.failures, "database reachable again");
                }
                *state = SlotState { target: Some(Arc::clone(&target)), ..SlotState::default() };
                drop(state);
                self.save_profile(&config.name, &target).await;
                Ok(target)
            }
            Err(error) => {
                state.failures = state.failures.saturating_add(1);
                let backoff = backoff_after(state.failures);
                state.retry_at = Some(Instant::now() + backoff);
                state.last_error = Some(error.clone());
                warn!(database = %config.name, failures = state.failures, retry_in_s = backoff.as_secs(), %error, "cannot connect");
                Err(error)
            }
        }
    }

    /// Whether `database`'s last connect succeeded; `None` before the first attempt, or while
    /// an attempt is in progress.
    pub(crate) fn reachable(&self, database: &str) -> Option<bool> {
        let slot = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get(database).cloned()?;
        let state = slot.state.try_lock().ok()?;
        if state.target.is_some() { Some(true) } else { state.last_error.as_ref().map(|_| false) }
    }

    /// Closes every connection (at shutdown). Targets still in use by a step are left to drop.
    pub(crate) async fn close_all(&self) {
        let slots: Vec<Arc<Slot>> = match self.slots.lock() {
            Ok(mut slots) => slots.drain().map(|(_, slot)| slot).collect(),
            Err(_) => return,
        };
        for slot in slots {
            let target = slot.state.lock().await.target.take();
            if let Some(target) = target
                && let Ok(target) = Arc::try_unwrap(target)
            {
                target.close().await;
            }
        }
    }

    fn slot(&self, name: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(slots.entry(name.to_owned()).or_default())
    }

    /// Records what the database is, for policies and `sentri db list`; a failure only warns.
    async fn save_profile(&self, name: &str, target: &Target) {
        let Ok(profile) = target.profile().await else { return };
        let (name, store) = (name.to_owned(), Arc::clone(&self.store));
        match tokio::task::spawn_blocking(move || store.save_profile(&name, &profile)).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => warn!(%error, "could not save a database profile"),
            Err(error) => warn!(%error, "could not save a database profile"),
        }
    }
}

/// The wait before the next connect after `failures` failures in a row.
pub fn backoff_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    FIRST_BACKOFF.saturating_mul(1 << doublings).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_per_failure_and_is_capped() {
        assert_eq!(backoff_after(1), Duration::from_secs(5));
        assert_eq!(backoff_after(2), Duration::from_secs(10));
        assert_eq!(backoff_after(3), Duration::from_secs(20));
        assert_eq!(backoff_after(7), Duration::from_secs(300));
        assert_eq!(backoff_after(u32::MAX), MAX_BACKOFF);
    }
}
