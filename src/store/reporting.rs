//! Reporting state changes: every transition into a reported state queues its messages in the
//! outbox in the same SQLite transaction that commits the transition — whoever wrote it (the
//! engine, triage folding a clear event, an approval decision, `sentri resolve`).
//!
//! The store knows nothing of channels or wording: a [`TransitionReporter`] (the notify module's)
//! says which states are reported and what the messages are. The store finds the transitions a
//! write added (ids above the highest one before it), counts the alert's recent occurrences for
//! the repeat-alert recommendation, and inserts the messages before the commit. A crash can
//! therefore never keep a state change and lose its notification, or the other way round.

use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use rusqlite::Transaction;

use super::outbox::insert_in;
use super::workflows::{WorkflowRow, get_in};
use super::{NewOutboxMessage, SqlContext, Store, StoreError, later, timestamp_text};
use crate::domain::WorkflowState;

/// Decides what a state change says, and to whom (implemented by `notify`).
pub trait TransitionReporter: Send + Sync {
    /// Whether entering `state` is reported at all; the store looks no further otherwise.
    fn reports(&self, state: WorkflowState) -> bool;
    /// How far back occurrences of the same alert on the same database are counted.
    fn repeat_window(&self) -> SignedDuration;
    /// The messages for `workflow`, which just entered its current state for `reason`;
    /// `occurrences` is how often its alert fired on its database within the repeat window;
    /// `anchor` is the audit chain's head with this transition's audit row, to send along.
    fn messages(
        &self,
        workflow: &WorkflowRow,
        reason: &str,
        occurrences: u32,
        anchor: &super::audit::Anchor,
    ) -> Vec<NewOutboxMessage>;
    /// The messages carrying an audit anchor off the store's host
    /// ([`Store::publish_audit_anchor`]).
    fn anchor_messages(&self, anchor: &super::audit::Anchor) -> Vec<NewOutboxMessage>;
}

/// The highest transition id so far (0 when none): transitions a write adds are above it.
pub(crate) fn last_transition_id(tx: &Transaction<'_>) -> Result<i64, StoreError> {
    tx.query_row("SELECT COALESCE(MAX(id), 0) FROM transitions", [], |row| row.get(0))
        .ctx("reading the last transition")
}

/// Queues the messages for every transition above `since_id`, inside the write's transaction.
pub(crate) fn report_transitions(
    tx: &Transaction<'_>,
    key: &super::audit::AuditKey,
    now: Timestamp,
    since_id: i64,
    reporter: &dyn TransitionReporter,
) -> Result<(), StoreError> {
    let added: Vec<(String, String, String)> = {
        let mut statement = tx
            .prepare("SELECT workflow_id, to_state, reason FROM transitions WHERE id > ?1 ORDER BY id")
            .ctx("reading the transitions a write added")?;
        statement
            .query_map([since_id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .ctx("reading the transitions a write added")?
            .collect::<Result<_, _>>()
            .ctx("reading the transitions a write added")?
    };
    for (workflow_id, to_state, reason) in added {
        let Ok(state) = to_state.parse::<WorkflowState>() else { continue };
        if !reporter.reports(state) {
            continue;
        }
        let mut workflow = get_in(tx, &workflow_id)?;
        // The row as it was right after this transition (a later one in the same write may
        // have moved it on; each is reported as it happened).
        workflow.state = state;
        let since = later(now, -reporter.repeat_window());
        let occurrences: i64 = tx
            .query_row(
                "SELECT COALESCE(SUM(occurrences), 0) FROM workflows
                 WHERE alert_type = ?1 COLLATE NOCASE AND database = ?2 COLLATE NOCASE AND created_at >= ?3",
                (&workflow.alert_type, &workflow.database, timestamp_text(since)),
                |row| row.get(0),
            )
            .ctx("counting repeats of an alert")?;
        let occurrences = u32::try_from(occurrences).unwrap_or(u32::MAX);
        let anchor = super::audit::anchor_in(tx, key, now)?;
        for message in reporter.messages(&workflow, &reason, occurrences, &anchor) {
            insert_in(tx, now, &message)?;
        }
    }
    Ok(())
}

impl Store {
    /// The store, with every transition it commits reported through `reporter` (see the module
    /// docs): how a store is opened for anything that moves workflows, so that no command can
    /// end a workflow without its notifications.
    pub fn with_reporter(self, reporter: Arc<dyn TransitionReporter>) -> Store {
        self.set_reporter(reporter);
        self
    }

    /// Replaces the reporter. Only for tests; everything else opens the store with one.
    pub(crate) fn set_reporter(&self, reporter: Arc<dyn TransitionReporter>) {
        let mut slot = self.reporter.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(reporter);
    }

    /// Whether no reporter is set: transitions this store commits queue no notifications.
    pub fn reporter_missing(&self) -> bool {
        self.reporter().is_none()
    }

    /// The reporter in force, if any.
    pub(crate) fn reporter(&self) -> Option<Arc<dyn TransitionReporter>> {
        self.reporter.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing;
    use crate::store::workflows::tests::new_workflow;

    /// Reports endings with one message naming the state, reason and count.
    struct Endings;

    impl TransitionReporter for Endings {
        fn reports(&self, state: WorkflowState) -> bool {
            matches!(state, WorkflowState::Escalated | WorkflowState::Resolved)
        }

        fn repeat_window(&self) -> SignedDuration {
            SignedDuration::from_hours(24)
        }

        fn messages(
            &self,
            workflow: &WorkflowRow,
            reason: &str,
            occurrences: u32,
            _anchor: &crate::store::audit::Anchor,
        ) -> Vec<NewOutboxMessage> {
            vec![NewOutboxMessage {
                kind: "email".into(),
                recipient: "dba@example.org".into(),
                subject: format!("{} {reason} x{occurrences}", workflow.state),
                body: "{}".into(),
                workflow_id: Some(workflow.id.to_string()),
            }]
        }

        fn anchor_messages(&self, anchor: &crate::store::audit::Anchor) -> Vec<NewOutboxMessage> {
            vec![NewOutboxMessage {
                kind: "email".into(),
                recipient: "dba@example.org".into(),
                subject: "anchor".into(),
                body: anchor.to_string(),
                workflow_id: None,
            }]
        }
    }

    #[test]
    fn every_reported_transition_queues_its_messages_in_the_same_write() {
        let (store, _) = testing::store();
        let first = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        store.transition(&first.id, WorkflowState::Detected, WorkflowState::Escalated, "engine", "before").unwrap();
        assert!(store.outbox_for_workflow(&first.id).unwrap().is_empty(), "no reporter, no messages");

        store.set_reporter(Arc::new(Endings));
        let second = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        store.transition(&second.id, WorkflowState::Detected, WorkflowState::Verifying, "engine", "look").unwrap();
        assert!(store.outbox_for_workflow(&second.id).unwrap().is_empty(), "VERIFYING is not reported");
        store.transition(&second.id, WorkflowState::Verifying, WorkflowState::Escalated, "engine", "stuck").unwrap();
        store.transition(&first.id, WorkflowState::Escalated, WorkflowState::Resolved, "cli:ann", "fixed").unwrap();
        let subjects = |id: &str| -> Vec<String> {
            store.outbox_for_workflow(id).unwrap().into_iter().map(|m| m.subject).collect()
        };
        assert_eq!(subjects(&second.id), ["ESCALATED stuck x2"]);
        assert_eq!(subjects(&first.id), ["RESOLVED fixed x2"]);
        // A refused transition writes nothing, messages included.
        let refused =
            store.transition(&second.id, WorkflowState::Verifying, WorkflowState::Escalated, "engine", "again");
        assert!(refused.is_err());
        assert_eq!(subjects(&second.id).len(), 1);
    }

    #[test]
    fn a_published_anchor_is_queued_with_the_signed_line_in_the_same_write() {
        let (store, _) = testing::store();
        store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let unqueued = store.publish_audit_anchor().unwrap();
        assert_eq!(unqueued.row_id, 1);
        store.set_reporter(Arc::new(Endings));
        let anchor = store.publish_audit_anchor().unwrap();
        let queued: Vec<String> = store
            .read(|conn| {
                let mut statement = conn.prepare("SELECT body FROM outbox WHERE subject = 'anchor'").ctx("t")?;
                statement.query_map([], |row| row.get(0)).ctx("t")?.collect::<Result<_, _>>().ctx("t")
            })
            .unwrap();
        assert_eq!(queued, [anchor.to_string()]);
        let report = store.verify_audit_against(&[crate::store::Expected::Anchor(anchor)]).unwrap();
        assert!(report.is_intact(), "{report:?}");
    }
}
