//! History queries: what happened recently on a database, read from the transitions table.
//! The Safety Mesh's circuit breaker needs "how many fixes failed here lately"; counting state
//! changes (not audit text) means a workflow that failed is counted once, at the time it failed.

use jiff::Timestamp;

use super::{SqlContext, Store, StoreError, timestamp_text};
use crate::domain::WorkflowState;

impl Store {
    /// How many workflows on `database` (case-insensitive) moved into FAILED or ROLLED_BACK at
    /// or after `since`.
    pub fn recent_failures(&self, database: &str, since: Timestamp) -> Result<u32, StoreError> {
        self.read(|conn| {
            let count: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM transitions t JOIN workflows w ON w.id = t.workflow_id
                     WHERE w.database = ?1 COLLATE NOCASE
                       AND t.to_state IN (?2, ?3)
                       AND t.at >= ?4",
                    (
                        database,
                        WorkflowState::Failed.as_str(),
                        WorkflowState::RolledBack.as_str(),
                        timestamp_text(since),
                    ),
                    |row| row.get(0),
                )
                .ctx("counting recent failures")?;
            Ok(u32::try_from(count).unwrap_or(u32::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::WorkflowState::*;
    use crate::store::testing;
    use crate::store::workflows::tests::new_workflow;

    fn run_to(store: &crate::store::Store, database: &str, last: crate::domain::WorkflowState) {
        let row = store.create_workflow(new_workflow(database), "engine").unwrap();
        let path = [Detected, Verifying, Verified, PreFlight, Executing, last];
        for pair in path.windows(2) {
            store.transition(&row.id, pair[0], pair[1], "engine", "test").unwrap();
        }
    }

    #[test]
    fn counts_failed_and_rolled_back_on_this_database_since_a_time() {
        let (store, clock) = testing::store();
        run_to(&store, "PRODDB", Failed);
        let since = clock.now();
        clock.advance_ms(1000);
        run_to(&store, "proddb", RolledBack);
        run_to(&store, "PRODDB", Completed);
        run_to(&store, "OTHERDB", Failed);
        run_to(&store, "PRODDB-2", Failed);
        assert_eq!(store.recent_failures("PRODDB", since).unwrap(), 2);
        assert_eq!(store.recent_failures("ProdDB", clock.now()).unwrap(), 1);
        clock.advance_ms(1);
        assert_eq!(store.recent_failures("PRODDB", clock.now()).unwrap(), 0);
        assert_eq!(store.recent_failures("NOPE", since).unwrap(), 0);
    }
}
