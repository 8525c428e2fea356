//! Fixtures for the mesh's tests: a plan and a context that pass every check, to be bent one
//! fact at a time.

use std::collections::BTreeMap;

use jiff::Timestamp;

use crate::pipeline::plan::{Plan, PlanSource, PlanStep};
use crate::policy::Brain;
use crate::policy::alert::Risk;
use crate::policy::brain::ActionMode::{Approval, Auto};
use crate::store::LockOutcome;
use crate::targets::DbKind;
use crate::targets::sql::IdentifierKind;

use super::{FailureCount, LockAttempt, MeshContext, conflict_lock};

/// Wednesday 2026-11-25 10:00 UTC: inside every default change window, outside every freeze.
pub fn wednesday() -> Timestamp {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

pub fn plan(environment: &str) -> Plan {
    Plan {
        workflow_id: "3f9c2a1b-0000-4000-8000-000000000000".into(),
        alert_type: "tablespace_full".into(),
        database: "DEV-DB-01".into(),
        environment: environment.into(),
        engine: DbKind::Oracle,
        action_type: "ADD_DATAFILE".into(),
        risk: Risk::Low,
        confidence: 1.0,
        steps: vec![PlanStep { sql: "ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G".into() }],
        rollback: vec![PlanStep { sql: "ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name".into() }],
        capture: Some(PlanStep { sql: "SELECT file_name FROM dba_data_files WHERE tablespace_name = :t".into() }),
        validation: None,
        irreversible: None,
        identifiers: BTreeMap::from([("tablespace_name".into(), IdentifierKind::Tablespace)]),
        values: BTreeMap::from([("tablespace_name".into(), Some("users".into()))]),
        source: PlanSource::Template,
        rationale: "the policy's template fix".into(),
        proof: crate::pipeline::plan::ProofSpec::default(),
        resolved: BTreeMap::new(),
    }
}

/// The default pack's brain (rules.md as shipped).
pub fn brain() -> Brain {
    let mut brain = Brain::default();
    brain.action_rules.insert("ADD_DATAFILE".into(), [Auto, Auto, Approval]);
    brain.action_rules.insert("KILL_SESSION".into(), [Approval, Approval, Approval]);
    brain.action_rules.insert("START_LISTENER".into(), [Approval, Approval, Approval]);
    brain.protected_sessions = vec!["SYS".into(), "SYSTEM".into(), "POSTGRES".into()];
    brain.protected_databases = vec!["PROD-DB-07".into()];
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/brain/rules.md")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.md"), text).unwrap();
    let loaded = Brain::load(dir.path(), &mut Vec::new());
    brain.change_windows = loaded.change_windows;
    brain.freeze_windows = loaded.freeze_windows;
    brain
}

/// A context in which `plan` passes: lock acquired, no failures, Wednesday morning.
pub fn context<'a>(brain: &'a Brain, plan: &Plan) -> MeshContext<'a> {
    let now = wednesday();
    MeshContext {
        database_environment: None,
        brain,
        now,
        environment_policy: None,
        database_autonomy: None,
        database_aliases: &[],
        critical_schemas: &[],
        lock: Some(LockAttempt {
            key: conflict_lock::lock_key(plan),
            outcome: LockOutcome::Acquired { expires_at: now },
        }),
        failures: Some(FailureCount { since: super::failure_window_start(brain, now), count: 0 }),
        approved_plan_hash: None,
        provisional: false,
    }
}
