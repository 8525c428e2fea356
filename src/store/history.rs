//! History queries: what happened recently on a database, read from the transitions table.
//! The Safety Mesh's circuit breaker needs "how many fixes failed here lately"; counting state
//! changes (not audit text) means a workflow that failed is counted once, at the time it failed.
//!
//! The model's cost gate and memory read here too: how often this alert's fixes worked on this
//! database ([`Store::finished_outcomes`], finished workflows only — an in-flight or escalated
//! one says nothing about whether the fix works), the database's last day
//! ([`Store::recent_workflows`]) and the alert type's outcomes by cause and fix
//! ([`Store::outcome_patterns`]). Each is bounded by its caller's limit.

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

/// The states in which a workflow's fix has finished: it worked, or it did not.
const FINISHED: [WorkflowState; 3] = [WorkflowState::Completed, WorkflowState::RolledBack, WorkflowState::Failed];

/// How the finished workflows of one alert type on one database ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FinishedOutcomes {
    pub completed: u32,
    /// Completed, rolled back or failed.
    pub finished: u32,
}

impl FinishedOutcomes {
    /// Completed over finished; `None` with no history.
    pub fn success_rate(&self) -> Option<f64> {
        (self.finished > 0).then(|| f64::from(self.completed) / f64::from(self.finished))
    }
}

/// One workflow of a database's recent past, as the model's short-term memory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentWorkflow {
    pub created_at: String,
    pub alert_type: String,
    pub state: String,
    /// The diagnosis' leading cause, when it was diagnosed.
    pub cause: Option<String>,
    /// The plan's action type, when it had one.
    pub action_type: Option<String>,
}

/// How one (cause, fix) pair of an alert type ended over a period: the long-term memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomePattern {
    pub cause: Option<String>,
    pub action_type: Option<String>,
    pub completed: u32,
    /// Rolled back or failed.
    pub failed: u32,
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

impl Store {
    /// How the finished workflows of `alert_type` on `database` (case-insensitive) created at
    /// or after `since` ended.
    pub fn finished_outcomes(
        &self,
        alert_type: &str,
        database: &str,
        since: Timestamp,
    ) -> Result<FinishedOutcomes, StoreError> {
        self.read(|conn| {
            let (completed, finished): (i64, i64) = conn
                .query_row(
                    "SELECT COALESCE(SUM(state = ?3), 0), COUNT(*) FROM workflows
                     WHERE alert_type = ?1 AND database = ?2 COLLATE NOCASE
                       AND state IN (?3, ?4, ?5) AND created_at >= ?6",
                    (
                        alert_type,
                        database,
                        FINISHED[0].as_str(),
                        FINISHED[1].as_str(),
                        FINISHED[2].as_str(),
                        timestamp_text(since),
                    ),
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .ctx("counting finished outcomes")?;
            Ok(FinishedOutcomes { completed: count(completed), finished: count(finished) })
        })
    }

    /// The workflows of `database` created at or after `since`, newest first, at most `limit`.
    pub fn recent_workflows(
        &self,
        database: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<RecentWorkflow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT created_at, alert_type, state,
                            CASE WHEN json_valid(diagnosis) THEN json_extract(diagnosis, '$.root_causes[0].cause') END,
                            CASE WHEN json_valid(plan) THEN json_extract(plan, '$.action_type') END
                     FROM workflows
                     WHERE database = ?1 COLLATE NOCASE AND created_at >= ?2
                     ORDER BY created_at DESC LIMIT ?3",
                )
                .ctx("reading recent workflows")?;
            let rows = statement
                .query_map((database, timestamp_text(since), limit), |row| {
                    Ok(RecentWorkflow {
                        created_at: row.get(0)?,
                        alert_type: row.get(1)?,
                        state: row.get(2)?,
                        cause: row.get(3)?,
                        action_type: row.get(4)?,
                    })
                })
                .ctx("reading recent workflows")?;
            rows.collect::<Result<Vec<_>, _>>().ctx("reading recent workflows")
        })
    }

    /// How the finished workflows of `alert_type` (on every database) created at or after
    /// `since` ended, per leading cause and action type, the most frequent first, at most `limit`.
    pub fn outcome_patterns(
        &self,
        alert_type: &str,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<OutcomePattern>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT CASE WHEN json_valid(diagnosis) THEN json_extract(diagnosis, '$.root_causes[0].cause') END AS cause,
                            CASE WHEN json_valid(plan) THEN json_extract(plan, '$.action_type') END AS action_type,
                            COALESCE(SUM(state = ?2), 0), COALESCE(SUM(state <> ?2), 0)
                     FROM workflows
                     WHERE alert_type = ?1 AND state IN (?2, ?3, ?4) AND created_at >= ?5
                     GROUP BY cause, action_type
                     ORDER BY COUNT(*) DESC, cause, action_type LIMIT ?6",
                )
                .ctx("reading outcome patterns")?;
            let rows = statement
                .query_map(
                    (
                        alert_type,
                        FINISHED[0].as_str(),
                        FINISHED[1].as_str(),
                        FINISHED[2].as_str(),
                        timestamp_text(since),
                        limit,
                    ),
                    |row| {
                        Ok(OutcomePattern {
                            cause: row.get(0)?,
                            action_type: row.get(1)?,
                            completed: count(row.get(2)?),
                            failed: count(row.get(3)?),
                        })
                    },
                )
                .ctx("reading outcome patterns")?;
            rows.collect::<Result<Vec<_>, _>>().ctx("reading outcome patterns")
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

    #[test]
    fn finished_outcomes_count_only_finished_workflows_of_the_alert_type_and_database() {
        let (store, clock) = testing::store();
        run_to(&store, "OLD", Completed);
        let since = clock.now();
        clock.advance_ms(1000);
        for last in [Completed, Completed, RolledBack, Failed] {
            run_to(&store, "PRODDB", last);
        }
        // In flight, on another database, and before `since`: none of them counts.
        store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        run_to(&store, "OTHERDB", Completed);
        let outcomes = store.finished_outcomes("tablespace_full", "proddb", since).unwrap();
        assert_eq!(outcomes, super::FinishedOutcomes { completed: 2, finished: 4 });
        assert_eq!(outcomes.success_rate(), Some(0.5));
        assert_eq!(store.finished_outcomes("other_alert", "PRODDB", since).unwrap().success_rate(), None);
    }

    #[test]
    fn recent_workflows_are_newest_first_and_bounded() {
        let (store, clock) = testing::store();
        run_to(&store, "PRODDB", Completed);
        clock.advance_ms(1000);
        let since = clock.now();
        run_to(&store, "PRODDB", RolledBack);
        clock.advance_ms(1000);
        run_to(&store, "PRODDB", Failed);
        run_to(&store, "OTHERDB", Failed);
        let recent = store.recent_workflows("PRODDB", since, 10).unwrap();
        let states: Vec<_> = recent.iter().map(|row| row.state.as_str()).collect();
        assert_eq!(states, ["FAILED", "ROLLED_BACK"]);
        assert_eq!(store.recent_workflows("PRODDB", since, 1).unwrap().len(), 1);
    }

    #[test]
    fn outcome_patterns_group_by_cause_and_fix_over_every_database() {
        let (store, clock) = testing::store();
        let since = clock.now();
        for (database, last) in [("A", Completed), ("B", Completed), ("A", Failed), ("C", RolledBack)] {
            run_to(&store, database, last);
        }
        let patterns = store.outcome_patterns("tablespace_full", since, 5).unwrap();
        assert_eq!(patterns.len(), 1, "undiagnosed and without a plan: one group");
        assert_eq!((patterns[0].completed, patterns[0].failed), (2, 2));
        assert!(store.outcome_patterns("tablespace_full", since, 0).unwrap().is_empty());
    }
}
