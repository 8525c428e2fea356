//! A plan as a record: the exact fix proposed for one workflow, stored with the workflow and
//! bound to its approvals by its hash. The pipeline builds plans (`pipeline::plan`), the Safety
//! Mesh clears them, the executor runs them; this is only what one *is*.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{DbKind, IdentifierKind, PlanHash, ResolvedIdentifier, Risk};

/// Where a plan came from. The Safety Mesh runs on every plan whatever its source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PlanSource {
    /// The policy's own Forward/Rollback Action.
    Template,
    /// A specialist's fix for a root cause it named (`diagnose`).
    Diagnosis { specialist: String, cause: String },
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
        plan_hash(&text)
    }

    /// Whether a real rollback exists for every forward step.
    pub fn has_rollback(&self) -> bool {
        !self.rollback.is_empty()
    }
}

/// Hex sha256 of a plan's stored JSON text (keys sorted): what an approval is bound to.
pub fn plan_hash(plan_text: &str) -> String {
    hex::encode(Sha256::digest(plan_text.as_bytes()))
}

impl Plan {
    /// [`Plan::hash`] as its type.
    pub fn plan_hash(&self) -> PlanHash {
        PlanHash::from(self.hash())
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Plans for tests that need *a* plan, not a particular one.

    use super::*;

    /// A template plan for workflow `W` on a DEV Sandbox whose forward steps are `steps`.
    pub(crate) fn plan_with_steps(steps: &[&str]) -> Plan {
        Plan {
            workflow_id: "W".into(),
            alert_type: "tablespace_full".into(),
            database: "DEV-DB-01".into(),
            environment: "DEV".into(),
            engine: DbKind::Sandbox,
            action_type: "ADD_DATAFILE".into(),
            risk: Risk::Low,
            confidence: 1.0,
            steps: steps.iter().map(|sql| PlanStep { sql: (*sql).to_owned() }).collect(),
            rollback: Vec::new(),
            capture: None,
            validation: None,
            irreversible: None,
            identifiers: BTreeMap::new(),
            values: BTreeMap::new(),
            source: PlanSource::Template,
            rationale: "a test plan".into(),
            proof: ProofSpec::default(),
            resolved: BTreeMap::new(),
        }
    }
}
