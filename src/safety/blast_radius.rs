//! Blast radius: what the plan's statements can destroy, read by [`crate::sql::classify`] — every
//! forward step, every rollback step, and the capture and validation queries (which must only
//! read). Critical anywhere blocks; High needs approval in UAT and PROD and runs in DEV.
//!
//! A rollback step that is the exact inverse of its forward step on the same object (ADD
//! DATAFILE undone by DROP DATAFILE on the same tablespace) carries the forward step's
//! severity: it removes only what the forward step added. Any other rollback is judged on its
//! own, so a plan cannot hide a dangerous statement in its rollback.

use crate::config::Environment;
use crate::pipeline::plan::Plan;

use super::{CheckVerdict, Findings, MeshContext, MeshVerdict, environment_of};
use crate::sql::classify::{Severity, StatementClass, classify};

/// `(object, forward operation, rollback operation)` pairs where the rollback only undoes the
/// forward step.
const INVERSES: &[(&str, &str, &str)] =
    &[("TABLESPACE", "ADD DATAFILE", "DROP DATAFILE"), ("TABLESPACE", "ADD TEMPFILE", "DROP TEMPFILE")];

/// The blast radius verdict on `plan`.
pub fn check(plan: &Plan, context: &MeshContext<'_>) -> CheckVerdict {
    let environment = environment_of(plan, context).unwrap_or(Environment::Prod);
    let mut findings = Findings::default();
    let mut worst = Severity::Low;
    let mut judge = |label: String, class: &StatementClass, severity: Severity, findings: &mut Findings| {
        worst = worst.max(severity);
        match severity {
            Severity::Critical => findings.add(MeshVerdict::Block, format!("{label} is CRITICAL: {}", class.why)),
            Severity::High if environment != Environment::Dev => {
                findings.add(MeshVerdict::NeedsApproval, format!("{label} is HIGH in {environment}: {}", class.why))
            }
            _ => {}
        }
    };
    let forward: Vec<StatementClass> = plan.steps.iter().map(|s| classify(&s.sql)).collect();
    for (index, class) in forward.iter().enumerate() {
        judge(format!("step {}", index + 1), class, class.severity, &mut findings);
    }
    for (index, step) in plan.rollback.iter().enumerate() {
        let class = classify(&step.sql);
        let severity = match forward.get(index) {
            Some(undone) if class.severity < Severity::Critical && inverse(undone, &class) => undone.severity,
            _ => class.severity,
        };
        judge(format!("rollback step {}", index + 1), &class, severity, &mut findings);
    }
    for (label, step) in [("capture query", &plan.capture), ("validation query", &plan.validation)] {
        let Some(step) = step else { continue };
        let class = classify(&step.sql);
        if class.severity > Severity::Low {
            findings.add(
                MeshVerdict::Block,
                format!("the {label} must only read, but it is {}: {}", class.severity, class.why),
            );
        }
    }
    findings.add(MeshVerdict::Allow, format!("worst statement is {worst} in {environment}"));
    findings.verdict()
}

fn inverse(forward: &StatementClass, rollback: &StatementClass) -> bool {
    let same_object =
        forward.object.is_some() && forward.object == rollback.object && forward.target == rollback.target;
    same_object
        && INVERSES.iter().any(|(object, add, drop)| {
            forward.object.as_deref() == Some(*object)
                && forward.operation.as_deref() == Some(*add)
                && rollback.operation.as_deref() == Some(*drop)
        })
}
