//! Plans for tests that store a workflow awaiting approval without running the engine.

/// A PROD plan whose one step adds a datafile to USERS.
pub fn plan_adding_a_datafile(workflow_id: &str) -> sentri::domain::Plan {
    use sentri::domain::{DbKind, Plan, PlanSource, PlanStep, ProofSpec, Risk};
    Plan {
        workflow_id: workflow_id.to_owned(),
        alert_type: "tablespace_full".into(),
        database: "PROD-DB-07".into(),
        environment: "PROD".into(),
        engine: DbKind::Oracle,
        action_type: "ADD_DATAFILE".into(),
        risk: Risk::Low,
        confidence: 1.0,
        steps: vec![PlanStep { sql: "ALTER TABLESPACE \"USERS\" ADD DATAFILE SIZE 1G".into() }],
        rollback: Vec::new(),
        capture: None,
        validation: None,
        irreversible: None,
        identifiers: Default::default(),
        values: Default::default(),
        source: PlanSource::Template,
        rationale: "the policy's template fix".into(),
        proof: ProofSpec::default(),
        resolved: Default::default(),
    }
}
