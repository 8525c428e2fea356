//! A plan: the exact fix Sentri proposes for one workflow — ordered SQL steps with their
//! rollback steps, the values they will be filled with, the risk, and why it was chosen.
//!
//! A plan is data until the Safety Mesh clears it ([`crate::safety`]); only a cleared plan can
//! be executed. Its hash binds approvals: a human approves *this* plan, and any change to it —
//! a step, a value, the rollback — voids the approval.

pub use crate::domain::{Plan, PlanSource, PlanStep, ProofSpec};

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::{DbKind, IdentifierKind, ResolvedIdentifier, Risk};

    pub(crate) fn sample() -> Plan {
        Plan {
            workflow_id: "3f9c2a1b-0000-4000-8000-000000000000".into(),
            alert_type: "tablespace_full".into(),
            database: "DEV-DB-01".into(),
            environment: "DEV".into(),
            engine: DbKind::Oracle,
            action_type: "ADD_DATAFILE".into(),
            risk: Risk::Low,
            confidence: 1.0,
            steps: vec![PlanStep { sql: "ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G".into() }],
            rollback: vec![PlanStep { sql: "ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name".into() }],
            capture: None,
            validation: None,
            irreversible: None,
            identifiers: BTreeMap::from([("tablespace_name".into(), IdentifierKind::Tablespace)]),
            values: BTreeMap::from([("tablespace_name".into(), Some("USERS".into()))]),
            source: PlanSource::Template,
            rationale: "the policy's template fix".into(),
            proof: ProofSpec::default(),
            resolved: BTreeMap::new(),
        }
    }

    #[test]
    fn the_hash_changes_with_anything_that_changes_the_fix() {
        let plan = sample();
        assert_eq!(plan.hash(), sample().hash());
        let mut other_value = sample();
        other_value.values.insert("tablespace_name".into(), Some("SYSTEM".into()));
        assert_ne!(plan.hash(), other_value.hash());
        let mut other_rollback = sample();
        other_rollback.rollback.clear();
        assert_ne!(plan.hash(), other_rollback.hash());
        let mut other_proof = sample();
        other_proof.proof.success_criteria.push("used_pct < 90".into());
        assert_ne!(plan.hash(), other_proof.hash(), "what proves the fix is part of what is approved");
    }

    #[test]
    fn the_hash_covers_the_resolution_and_an_older_plan_without_one_still_loads() {
        let users =
            |name: &str| ResolvedIdentifier { kind: IdentifierKind::Tablespace, schema: None, name: name.into() };
        let mut resolved = sample();
        resolved.resolved.insert("tablespace_name".into(), users("USERS"));
        assert_ne!(resolved.hash(), sample().hash(), "resolving is a change to the plan");
        let mut other = sample();
        other.resolved.insert("tablespace_name".into(), users("users"));
        assert_ne!(resolved.hash(), other.hash(), "another object is another plan");
        let mut moved = sample();
        moved.resolved.insert(
            "tablespace_name".into(),
            ResolvedIdentifier { kind: IdentifierKind::Tablespace, schema: Some("x".into()), name: "USERS".into() },
        );
        assert_ne!(resolved.hash(), moved.hash(), "the schema is part of the identity");

        let mut older = serde_json::to_value(sample()).expect("json");
        assert!(older.get("resolved").is_none(), "an empty resolution is left out, as in older plans");
        older.as_object_mut().map(|fields| fields.remove("resolved"));
        let loaded: Plan = serde_json::from_value(older).expect("an older stored plan loads");
        assert!(loaded.resolved.is_empty());
        assert_eq!(loaded.hash(), sample().hash(), "and hashes as it was stored");
        let read_back: Plan = serde_json::from_value(serde_json::to_value(&resolved).expect("json")).expect("plan");
        assert_eq!(read_back.hash(), resolved.hash());
    }

    #[test]
    fn the_hash_is_the_one_the_store_binds_approvals_to() {
        let store = crate::store::Store::open_in_memory().expect("store");
        let new = crate::store::workflows::NewWorkflow {
            raw_alert_id: None,
            alert_type: "tablespace_full".into(),
            database: "DEV-DB-01".into(),
            environment: "DEV".into(),
            severity: "HIGH".into(),
            fields: BTreeMap::new(),
        };
        let workflow = store.create_workflow(new, "test").expect("workflow");
        let plan = sample();
        let stored = store.set_plan(&workflow.id, &plan, "test").expect("plan");
        assert_eq!(stored.plan_hash.as_deref(), Some(plan.hash().as_str()));
        let read_back: Plan = stored.plan.expect("stored plan");
        assert_eq!(read_back.hash(), plan.hash(), "a plan read back from the store hashes the same");
    }
}
