//! A plan: the exact fix Sentri proposes for one workflow — ordered SQL steps with their
//! rollback steps, the values they will be filled with, the risk, and why it was chosen.
//!
//! A plan is data until the Safety Mesh clears it ([`crate::safety`]); only a cleared plan can
//! be executed. Its hash binds approvals: a human approves *this* plan, and any change to it —
//! a step, a value, the rollback — voids the approval.

use std::collections::BTreeMap;

use crate::policy::alert::Risk;
use crate::targets::DbKind;
use crate::targets::resolve::ResolvedIdentifier;
use crate::targets::sql::IdentifierKind;

/// Where a plan came from. The Safety Mesh runs on every plan whatever its source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanSource {
    /// The policy's own Forward/Rollback Action.
    Template,
    /// Proposed by a language model.
    Llm { provider: String },
    /// Written or edited by a person.
    Human { by: String },
}

/// One SQL statement of a plan, as the policy wrote it (placeholders unfilled). Filling happens
/// at execution time, on the target, from the plan's values and its resolved identifiers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlanStep {
    pub sql: String,
}

/// The fix for one workflow.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Plan {
    pub workflow_id: String,
    pub alert_type: String,
    pub database: String,
    /// DEV, UAT or PROD, as configured for the database.
    pub environment: String,
    pub engine: DbKind,
    /// The row of brain/rules.md "Action Rules" this fix falls under.
    pub action_type: String,
    pub risk: Risk,
    /// 0.0–1.0: how sure Sentri is this fix addresses the verified problem (templates: 1.0).
    pub confidence: f64,
    /// Forward steps, run in order.
    pub steps: Vec<PlanStep>,
    /// Rollback steps; step i undoes forward step i. Empty when `irreversible` is set.
    pub rollback: Vec<PlanStep>,
    /// Run after the forward steps; its first row's columns become rollback placeholders.
    pub capture: Option<PlanStep>,
    /// Run before and after the fix to measure it.
    pub validation: Option<PlanStep>,
    /// Why the fix cannot be undone (always needs approval).
    pub irreversible: Option<String>,
    /// Placeholders that DDL splices, with their kinds.
    pub identifiers: BTreeMap<String, IdentifierKind>,
    /// The values placeholders will be filled with: alert fields and verification columns.
    /// `None` is a value the alert did not carry (bound as NULL, never spliced).
    pub values: BTreeMap<String, Option<String>>,
    pub source: PlanSource,
    /// Why this plan was chosen, in words for the approver.
    pub rationale: String,
    /// What "the fix worked" means for this plan, fixed when the plan is made and covered by
    /// its hash: a policy edited after an approval cannot change whether a rollback happens.
    #[serde(default)]
    pub proof: ProofSpec,
    /// The object each spliced identifier names, resolved once in the dictionary when the plan
    /// was made (by placeholder, lower case). Every step, the capture, the validation and the
    /// rollback use this resolution and nothing looks a name up again, so the fix and its
    /// rollback act on the same object; being in the plan, it is covered by the hash. Empty in
    /// a plan stored before resolutions existed (and then left out of the JSON, so that plan
    /// still hashes as it was approved): such a plan is refused, never looked up again.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resolved: BTreeMap<String, ResolvedIdentifier>,
}

/// How the executor proves a fix: the success criteria over the validation query, or, without
/// criteria, the verification query run again with its own rules. Conditions are kept in their
/// written form (`used_pct < before.used_pct`) and parsed when judged.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ProofSpec {
    /// `## Success Criteria`, over the validation query's first row after the fix.
    pub success_criteria: Vec<String>,
    /// The verification query, run again when there are no success criteria.
    pub verification: Option<PlanStep>,
    /// `## Confirmed When`, for that re-verification.
    pub confirmed_when: Vec<String>,
    /// `## Tolerance`, for that re-verification.
    pub tolerance: Vec<(String, f64)>,
}

impl Plan {
    /// A stable hash of everything that decides what the plan does: the same hash the store
    /// records when the plan is saved (its JSON with keys sorted), so an approval bound to the
    /// stored plan is bound to this plan.
    pub fn hash(&self) -> String {
        let text = serde_json::to_value(self).map(|value| value.to_string()).unwrap_or_default();
        crate::store::workflows::plan_hash(&text)
    }

    /// Whether a real rollback exists for every forward step.
    pub fn has_rollback(&self) -> bool {
        !self.rollback.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let stored = store.set_plan(&workflow.id, &serde_json::to_value(&plan).expect("json"), "test").expect("plan");
        assert_eq!(stored.plan_hash.as_deref(), Some(plan.hash().as_str()));
        let read_back: Plan = serde_json::from_value(stored.plan.expect("stored plan")).expect("plan");
        assert_eq!(read_back.hash(), plan.hash(), "a plan read back from the store hashes the same");
    }
}
