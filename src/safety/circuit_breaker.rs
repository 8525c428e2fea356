//! Circuit breaker: when fixes keep failing on one database, stop trying there and hand it to
//! a human. The caller counts FAILED and ROLLED_BACK transitions on the database
//! (`Store::recent_failures`) over at least the brain's window; this check compares the count
//! with the brain's threshold.

use crate::pipeline::plan::Plan;

use super::{CheckVerdict, MeshContext, failure_window_start};

/// The circuit breaker's verdict on `plan`.
pub fn check(plan: &Plan, context: &MeshContext<'_>) -> CheckVerdict {
    let brain = context.brain;
    let hours = brain.circuit_breaker_hours;
    let Some(failures) = context.failures else {
        return CheckVerdict::block(format!("recent failures on {} were not counted", plan.database));
    };
    if failures.since > failure_window_start(brain, context.now) {
        return CheckVerdict::block(format!(
            "failures on {} were counted over less than the breaker's {hours} h window",
            plan.database
        ));
    }
    // A threshold of 0 would open the breaker forever; one failure is the least that trips it.
    let threshold = brain.circuit_breaker_failures.max(1);
    if failures.count >= threshold {
        CheckVerdict::block(format!(
            "circuit breaker open: {} failed or rolled-back fixes on {} in the last {hours} h (threshold \
             {threshold}); resolve the open workflows to close it",
            failures.count, plan.database
        ))
    } else {
        CheckVerdict::allow(format!(
            "{} failures on {} in the last {hours} h (threshold {threshold})",
            failures.count, plan.database
        ))
    }
}
