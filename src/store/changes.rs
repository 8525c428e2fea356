//! "Has anything changed?" — one cheap read a live view can ask several times a second, instead
//! of reloading every table to find out.
//!
//! SQLite's `PRAGMA data_version` moves when *another* connection (another process: the daemon,
//! `sentri approve`) commits; writes made through this same [`Store`] do not move it, so the
//! marker also carries the newest audit id, the newest workflow change and the alert counts,
//! which move on every write the engine makes.

use super::{SqlContext, Store, StoreError};

/// A fingerprint of the store's contents: equal markers mean nothing a view shows has changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeMarker {
    /// `PRAGMA data_version` of this connection.
    pub data_version: i64,
    /// The newest audit row id (0 when the trail is empty).
    pub last_audit_id: i64,
    /// The newest `workflows.updated_at` (store text format), if any workflow exists.
    pub last_workflow_change: Option<String>,
    /// How many workflows exist.
    pub workflows: i64,
    /// The newest raw alert id (0 when none).
    pub last_raw_alert_id: i64,
    /// How many raw alerts have an outcome (moves when one is triaged).
    pub handled_raw_alerts: i64,
}

impl Store {
    /// The current [`ChangeMarker`]: a handful of aggregate reads, one round trip.
    pub fn change_marker(&self) -> Result<ChangeMarker, StoreError> {
        self.read(|conn| {
            let data_version: i64 =
                conn.query_row("PRAGMA data_version", [], |row| row.get(0)).ctx("reading the data version")?;
            conn.query_row(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM audit),
                        (SELECT MAX(updated_at) FROM workflows),
                        (SELECT COUNT(*) FROM workflows),
                        (SELECT COALESCE(MAX(id), 0) FROM raw_alerts),
                        (SELECT COUNT(*) FROM raw_alerts WHERE outcome IS NOT NULL)",
                [],
                |row| {
                    Ok(ChangeMarker {
                        data_version,
                        last_audit_id: row.get(0)?,
                        last_workflow_change: row.get(1)?,
                        workflows: row.get(2)?,
                        last_raw_alert_id: row.get(3)?,
                        handled_raw_alerts: row.get(4)?,
                    })
                },
            )
            .ctx("reading the change marker")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::WorkflowState;
    use crate::store::testing;
    use crate::store::workflows::tests::new_workflow;

    #[test]
    fn the_marker_moves_on_every_kind_of_write() {
        let (store, clock) = testing::store();
        let empty = store.change_marker().unwrap();
        assert_eq!(empty.workflows, 0);
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let created = store.change_marker().unwrap();
        assert_ne!(created, empty);
        assert_eq!(store.change_marker().unwrap(), created, "no write, no change");
        clock.advance_ms(5);
        store.set_verification(&row.id, &crate::store::workflows::tests::verification(&[("pct", "1")])).unwrap();
        let payload = store.change_marker().unwrap();
        assert_ne!(payload, created, "a payload without an audit row still shows");
        store.transition(&row.id, WorkflowState::Detected, WorkflowState::Verifying, "engine", "").unwrap();
        assert_ne!(store.change_marker().unwrap(), payload);
    }

    #[test]
    fn another_connection_moves_the_data_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentri.db");
        let viewer = Store::open(&path).unwrap();
        let writer = Store::open(&path).unwrap();
        let before = viewer.change_marker().unwrap();
        writer.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let after = viewer.change_marker().unwrap();
        assert_ne!(after.data_version, before.data_version);
        assert_eq!(after.workflows, 1);
    }
}
