//! Approval decisions, each bound to the exact plan it approves.
//!
//! An approval names the workflow *and the plan hash*; the store refuses one whose hash is not
//! the workflow's current plan, so approving a plan and then having it changed underneath cannot
//! run the changed plan. Every decision is audited in the same transaction. Who may approve, and
//! checking an email's one-time token, belong to `pipeline::approval`; the store keeps the
//! token's hash, never the token.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::audit::{AuditKey, Subject, SubjectTable, actions, append_audit_covering};
use super::workflows::WorkflowRow;
#[cfg(test)]
use super::workflows::transition_in;
use super::{SqlContext, Store, StoreError, stored_timestamp, timestamp_text};
use crate::domain::WorkflowState;

/// What a human decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    Approved,
    Denied,
}

impl Decision {
    /// The stored name, `APPROVED` or `DENIED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approved => "APPROVED",
            Decision::Denied => "DENIED",
        }
    }

    /// The state a workflow awaiting approval moves to on this decision.
    pub fn next_state(self) -> WorkflowState {
        match self {
            Decision::Approved => WorkflowState::Approved,
            Decision::Denied => WorkflowState::Denied,
        }
    }
}

/// A decision to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApproval {
    pub workflow_id: String,
    /// The plan hash the approver saw; must be the workflow's current one.
    pub plan_hash: String,
    /// Who decided: an authenticated identity (approvers list entry, OS user), not free text.
    pub approver: String,
    pub decision: Decision,
    /// How it arrived: `cli`, `console`, `email`, `slack`.
    pub channel: String,
    pub reason: String,
    /// Hash of the one-time token an email approval carried.
    pub token_hash: Option<String>,
    /// When the request this answers expires.
    pub expires_at: Option<Timestamp>,
}

/// One stored decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApprovalRow {
    pub id: i64,
    pub workflow_id: String,
    pub plan_hash: String,
    pub approver: String,
    pub decision: Decision,
    pub channel: String,
    pub reason: String,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub at: Timestamp,
    pub token_hash: Option<String>,
    #[serde(serialize_with = "super::timestamp_serde::option::serialize")]
    pub expires_at: Option<Timestamp>,
}

/// Inserts one decision and its audit row inside the caller's transaction, refusing one whose
/// plan hash is not the workflow's current plan. Returns the row and the workflow as read.
/// A decision as stored (`APPROVED`, `DENIED`); anything else is a corrupt row.
pub(crate) fn stored_decision(id: i64, text: String) -> Result<Decision, StoreError> {
    match text.as_str() {
        "APPROVED" => Ok(Decision::Approved),
        "DENIED" => Ok(Decision::Denied),
        _ => Err(StoreError::Corrupt { table: "approvals", column: "decision", row: id.to_string(), value: text }),
    }
}

pub(crate) fn insert_in(
    tx: &rusqlite::Transaction<'_>,
    key: &AuditKey,
    now: Timestamp,
    new: &NewApproval,
) -> Result<(ApprovalRow, WorkflowRow), StoreError> {
    let workflow = super::workflows::get_in(tx, &new.workflow_id)?;
    if workflow.plan_hash.as_deref() != Some(new.plan_hash.as_str()) {
        return Err(StoreError::PlanHashMismatch {
            workflow_id: new.workflow_id.clone(),
            approved: new.plan_hash.clone(),
            current: workflow.plan_hash.map(String::from),
        });
    }
    tx.execute(
        "INSERT INTO approvals (workflow_id, plan_hash, approver, decision, channel, reason, at,
                                token_hash, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![
            new.workflow_id,
            new.plan_hash,
            new.approver,
            new.decision.as_str(),
            new.channel,
            new.reason,
            timestamp_text(now),
            new.token_hash,
            new.expires_at.map(timestamp_text)
        ],
    )
    .ctx("recording an approval")?;
    let row = ApprovalRow {
        id: tx.last_insert_rowid(),
        workflow_id: new.workflow_id.clone(),
        plan_hash: new.plan_hash.clone(),
        approver: new.approver.clone(),
        decision: new.decision,
        channel: new.channel.clone(),
        reason: new.reason.clone(),
        at: now,
        token_hash: new.token_hash.clone(),
        expires_at: new.expires_at.map(super::truncate_to_millis),
    };
    append_audit_covering(
        tx,
        key,
        now,
        super::workflows::audit_for(
            &workflow,
            &format!("{}:{}", new.channel, new.approver),
            actions::APPROVAL_DECISION,
            new.decision.as_str(),
            serde_json::json!({
                "approval_id": row.id,
                "plan_hash": new.plan_hash,
                "reason": new.reason,
            }),
        ),
        Some(Subject { table: SubjectTable::Approvals, id: row.id }),
    )?;
    Ok((row, workflow))
}

impl Store {
    /// Records one decision on the workflow's current plan, audited as APPROVAL_DECISION, without
    /// changing the workflow's state — for policies that need more than one approver, where the
    /// caller decides when enough have been given.
    pub fn record_approval(&self, new: &NewApproval) -> Result<ApprovalRow, StoreError> {
        self.write(|tx, now| insert_in(tx, &self.audit_key, now, new).map(|(row, _)| row))
    }

    /// Records a decision and moves the workflow AWAITING_APPROVAL → APPROVED or DENIED, all in
    /// one transaction. [`StoreError::StaleState`] if it is no longer awaiting approval (timed
    /// out, or someone else decided first); then nothing is written.
    ///
    /// None of the approval rules apply here (approvers list, four-eyes, tokens): only
    /// `pipeline::approval::decide` may move a workflow out of AWAITING_APPROVAL, so this exists
    /// for the store's own tests alone.
    #[cfg(test)]
    pub(crate) fn decide_approval(&self, new: &NewApproval) -> Result<(ApprovalRow, WorkflowRow), StoreError> {
        self.write(|tx, now| {
            let (row, workflow) = insert_in(tx, &self.audit_key, now, new)?;
            let actor = format!("{}:{}", new.channel, new.approver);
            let detail = serde_json::json!({ "approval_id": row.id, "plan_hash": new.plan_hash });
            let workflow = transition_in(
                tx,
                &self.audit_key,
                now,
                &workflow,
                WorkflowState::AwaitingApproval,
                new.decision.next_state(),
                &actor,
                &new.reason,
                detail,
            )?;
            Ok((row, workflow))
        })
    }

    /// Every decision recorded for a workflow, oldest first (void ones included: compare their
    /// `plan_hash` with the workflow's).
    pub fn approvals(&self, workflow_id: &str) -> Result<Vec<ApprovalRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id, workflow_id, plan_hash, approver, decision, channel, reason, at,
                            token_hash, expires_at
                     FROM approvals WHERE workflow_id = ?1 ORDER BY id",
                )
                .ctx("listing approvals")?;
            type Raw = (i64, String, String, String, String, String, String, String);
            let raw = statement
                .query_map([workflow_id], |row| {
                    let columns: Raw = (
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                    );
                    Ok((columns, row.get::<_, Option<String>>(8)?, row.get::<_, Option<String>>(9)?))
                })
                .ctx("listing approvals")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing approvals")?;
            raw.into_iter()
                .map(
                    |(
                        (id, workflow_id, plan_hash, approver, decision, channel, reason, at),
                        token_hash,
                        expires_at,
                    )| {
                        let decision = stored_decision(id, decision)?;
                        Ok(ApprovalRow {
                            at: stored_timestamp("approvals", "at", &id, &at)?,
                            expires_at: expires_at
                                .map(|text| stored_timestamp("approvals", "expires_at", &id, &text))
                                .transpose()?,
                            id,
                            workflow_id,
                            plan_hash,
                            approver,
                            decision,
                            channel,
                            reason,
                            token_hash,
                        })
                    },
                )
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::audit::AuditFilter;
    use crate::store::testing;
    use crate::store::workflows::tests::new_workflow;
    use WorkflowState::*;

    fn awaiting(store: &Store) -> WorkflowRow {
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let row = store.set_plan(&row.id, &crate::domain::testing::plan_with_steps(&["a"]), "engine").unwrap();
        for (from, to) in
            [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight), (PreFlight, AwaitingApproval)]
        {
            store.transition(&row.id, from, to, "engine", "").unwrap();
        }
        store.get_workflow(&row.id).unwrap()
    }

    fn approval(workflow: &WorkflowRow, decision: Decision) -> NewApproval {
        NewApproval {
            workflow_id: workflow.id.to_string(),
            plan_hash: workflow.plan_hash.clone().map(String::from).unwrap_or_default(),
            approver: "alice@example.com".into(),
            decision,
            channel: "email".into(),
            reason: "looks right".into(),
            token_hash: Some("ab".repeat(32)),
            expires_at: Some("2026-11-25T02:00:00Z".parse().unwrap()),
        }
    }

    #[test]
    fn a_decision_is_recorded_audited_and_listed() {
        let (store, clock) = testing::store();
        let workflow = awaiting(&store);
        let recorded = store.record_approval(&approval(&workflow, Decision::Approved)).unwrap();
        assert_eq!(recorded.at, clock.now());
        assert_eq!(store.approvals(&workflow.id).unwrap(), [recorded]);
        assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
        let audit = store.list_audit(&AuditFilter::default()).unwrap();
        let last = audit.last().unwrap();
        assert_eq!(last.action, actions::APPROVAL_DECISION);
        assert_eq!(last.actor, "email:alice@example.com");
        assert_eq!(last.result, "APPROVED");
    }

    #[test]
    fn decide_moves_the_workflow_in_the_same_transaction() {
        let (store, _) = testing::store();
        let workflow = awaiting(&store);
        let (_, moved) = store.decide_approval(&approval(&workflow, Decision::Denied)).unwrap();
        assert_eq!(moved.state, Denied);
        // A second, late decision finds the workflow no longer awaiting approval.
        let before = store.verify_audit().unwrap().rows_checked;
        let err = store.decide_approval(&approval(&workflow, Decision::Approved)).unwrap_err();
        assert!(matches!(err, StoreError::StaleState { actual: Denied, .. }), "{err:?}");
        assert_eq!(store.approvals(&workflow.id).unwrap().len(), 1);
        assert_eq!(store.verify_audit().unwrap().rows_checked, before);
    }

    #[test]
    fn an_approval_for_another_plan_is_refused() {
        let (store, _) = testing::store();
        let workflow = awaiting(&store);
        let old = approval(&workflow, Decision::Approved);
        store.set_plan(&workflow.id, &crate::domain::testing::plan_with_steps(&["b"]), "llm").unwrap();
        let err = store.decide_approval(&old).unwrap_err();
        assert!(matches!(err, StoreError::PlanHashMismatch { .. }), "{err:?}");
        assert!(store.approvals(&workflow.id).unwrap().is_empty());
        assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    }

    #[test]
    fn an_approval_rewritten_to_another_plan_or_approver_breaks_the_chain_at_its_audit_row() {
        let (store, _) = testing::store();
        let workflow = awaiting(&store);
        let (row, _) = store.decide_approval(&approval(&workflow, Decision::Denied)).unwrap();
        let audited = store
            .list_audit(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .find(|audit| audit.action == actions::APPROVAL_DECISION)
            .unwrap();
        let covered = audited.covers.clone().unwrap();
        assert_eq!((covered.table, covered.id), (SubjectTable::Approvals, row.id));
        assert!(store.verify_audit().unwrap().is_intact());
        store
            .write(|tx, _| {
                tx.execute("UPDATE approvals SET decision = 'APPROVED', approver = 'mallory' WHERE id = ?1", [row.id])
                    .ctx("t")
            })
            .unwrap();
        let broken = store.verify_audit().unwrap().first_broken.unwrap();
        assert_eq!(broken.id, audited.id);
        assert!(matches!(broken.reason, crate::store::BreakReason::CoveredRowChanged { .. }), "{broken:?}");
    }
}
