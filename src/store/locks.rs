//! Resource locks: one writer per database resource, across processes.
//!
//! The Safety Mesh's conflict check takes a lock on what a plan touches (e.g.
//! `PRODDB:tablespace:USERS`) before it runs. A lock belongs to a workflow and expires, so a
//! crashed executor does not block a resource forever; only its owner can release it, which is
//! the reference product's bug (its executor deleted another workflow's lock) made impossible.

use jiff::{SignedDuration, Timestamp};
use rusqlite::OptionalExtension;
use serde::Serialize;

use super::{SqlContext, Store, StoreError, later, stored_timestamp, timestamp_text};

/// What [`Store::try_acquire`] got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum LockOutcome {
    /// The lock is this workflow's until `expires_at` (new, renewed, or taken over after expiry).
    Acquired {
        #[serde(serialize_with = "super::timestamp_serde::serialize")]
        expires_at: Timestamp,
    },
    /// Another workflow holds it.
    Held {
        workflow_id: String,
        #[serde(serialize_with = "super::timestamp_serde::serialize")]
        expires_at: Timestamp,
    },
}

impl LockOutcome {
    /// Whether the caller now holds the lock.
    pub fn is_acquired(&self) -> bool {
        matches!(self, LockOutcome::Acquired { .. })
    }
}

impl Store {
    /// Takes `resource_key` for `workflow_id` for `ttl`. Succeeds if the lock is free, already
    /// this workflow's (the expiry is renewed), or expired (taken over). Never waits.
    pub fn try_acquire(
        &self,
        resource_key: &str,
        workflow_id: &str,
        ttl: SignedDuration,
    ) -> Result<LockOutcome, StoreError> {
        self.write(|tx, now| {
            let expires_at = later(now, ttl);
            let changed = tx
                .execute(
                    "INSERT INTO locks (resource_key, workflow_id, acquired_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (resource_key) DO UPDATE
                        SET workflow_id = excluded.workflow_id,
                            acquired_at = excluded.acquired_at,
                            expires_at = excluded.expires_at
                        WHERE locks.workflow_id = excluded.workflow_id
                           OR locks.expires_at <= excluded.acquired_at",
                    (resource_key, workflow_id, timestamp_text(now), timestamp_text(expires_at)),
                )
                .ctx("taking a lock")?;
            if changed == 1 {
                return Ok(LockOutcome::Acquired { expires_at });
            }
            let (holder, expires): (String, String) = tx
                .query_row("SELECT workflow_id, expires_at FROM locks WHERE resource_key = ?1", [resource_key], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .ctx("reading a lock's holder")?;
            Ok(LockOutcome::Held {
                expires_at: stored_timestamp("locks", "expires_at", &resource_key, &expires)?,
                workflow_id: holder,
            })
        })
    }

    /// Releases `resource_key` if `workflow_id` holds it. Returns `false`, changing nothing, if
    /// the lock is not this workflow's (never taken, released, or taken over after expiring).
    pub fn release(&self, resource_key: &str, workflow_id: &str) -> Result<bool, StoreError> {
        self.write(|tx, _| {
            let deleted = tx
                .execute("DELETE FROM locks WHERE resource_key = ?1 AND workflow_id = ?2", (resource_key, workflow_id))
                .ctx("releasing a lock")?;
            Ok(deleted == 1)
        })
    }

    /// Releases every lock `workflow_id` holds, whatever its key: crash recovery's way to free
    /// the resources of a fix it will never finish. Returns how many were held.
    pub fn release_all_locks_of(&self, workflow_id: &str) -> Result<usize, StoreError> {
        self.write(|tx, _| {
            tx.execute("DELETE FROM locks WHERE workflow_id = ?1", [workflow_id]).ctx("releasing a workflow's locks")
        })
    }

    /// Who holds `resource_key` and until when, if anyone (expired locks included: check
    /// `expires_at`).
    pub fn lock_holder(&self, resource_key: &str) -> Result<Option<(String, Timestamp)>, StoreError> {
        self.read(|conn| {
            let found: Option<(String, String)> = conn
                .query_row("SELECT workflow_id, expires_at FROM locks WHERE resource_key = ?1", [resource_key], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()
                .ctx("reading a lock's holder")?;
            found
                .map(|(holder, expires)| {
                    Ok((holder, stored_timestamp("locks", "expires_at", &resource_key, &expires)?))
                })
                .transpose()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;

    const TTL: SignedDuration = SignedDuration::from_secs(600);
    const KEY: &str = "PRODDB:tablespace:USERS";

    #[test]
    fn one_holder_at_a_time_and_renewal_by_the_owner() {
        let (store, clock) = testing::store();
        let first = store.try_acquire(KEY, "wf-a", TTL).unwrap();
        assert_eq!(first, LockOutcome::Acquired { expires_at: later(clock.now(), TTL) });
        let other = store.try_acquire(KEY, "wf-b", TTL).unwrap();
        assert_eq!(other, LockOutcome::Held { workflow_id: "wf-a".into(), expires_at: later(clock.now(), TTL) });
        clock.advance_ms(1000);
        let renewed = store.try_acquire(KEY, "wf-a", TTL).unwrap();
        assert_eq!(renewed, LockOutcome::Acquired { expires_at: later(clock.now(), TTL) });
        assert!(store.try_acquire("PRODDB:tablespace:TEMP", "wf-b", TTL).unwrap().is_acquired());
    }

    #[test]
    fn only_the_owner_releases() {
        let (store, _) = testing::store();
        store.try_acquire(KEY, "wf-a", TTL).unwrap();
        assert!(!store.release(KEY, "wf-b").unwrap());
        assert_eq!(store.lock_holder(KEY).unwrap().map(|(h, _)| h).as_deref(), Some("wf-a"));
        assert!(store.release(KEY, "wf-a").unwrap());
        assert!(!store.release(KEY, "wf-a").unwrap());
        assert_eq!(store.lock_holder(KEY).unwrap(), None);
        assert!(store.try_acquire(KEY, "wf-b", TTL).unwrap().is_acquired());
    }

    #[test]
    fn an_expired_lock_is_taken_over_and_the_old_owner_cannot_release_it() {
        let (store, clock) = testing::store();
        store.try_acquire(KEY, "wf-a", TTL).unwrap();
        clock.advance_ms(599_999);
        assert!(!store.try_acquire(KEY, "wf-b", TTL).unwrap().is_acquired());
        clock.advance_ms(1);
        assert!(store.try_acquire(KEY, "wf-b", TTL).unwrap().is_acquired());
        assert!(!store.release(KEY, "wf-a").unwrap());
        assert_eq!(store.lock_holder(KEY).unwrap().map(|(h, _)| h).as_deref(), Some("wf-b"));
    }
}
