//! Rollback guarantee: a fix either has a real way back, or says plainly that it has none and
//! waits for a human. A comment, a blank step or prose such as `N/A` is not a rollback (the
//! reference product counted them); a rollback step per forward step is required.

use crate::pipeline::plan::Plan;

use super::{CheckVerdict, MeshContext};
use crate::sql::classify::classify;

/// The rollback guarantee's verdict on `plan`.
pub fn check(plan: &Plan, _context: &MeshContext<'_>) -> CheckVerdict {
    if let Some(why) = &plan.irreversible {
        if why.trim().is_empty() {
            return CheckVerdict::block("declared irreversible without saying why");
        }
        return CheckVerdict::needs_approval(format!("irreversible ({}): always needs approval", why.trim()));
    }
    if !plan.has_rollback() {
        return CheckVerdict::block("no rollback, and the fix is not declared irreversible");
    }
    if plan.rollback.len() != plan.steps.len() {
        return CheckVerdict::block(format!(
            "{} forward steps but {} rollback steps; each forward step needs the step that undoes it",
            plan.steps.len(),
            plan.rollback.len()
        ));
    }
    for (index, step) in plan.rollback.iter().enumerate() {
        if !classify(&step.sql).is_statement() {
            return CheckVerdict::block(format!(
                "rollback step {} is not a statement (`{}`); a comment or `N/A` undoes nothing",
                index + 1,
                step.sql.trim().chars().take(60).collect::<String>()
            ));
        }
    }
    CheckVerdict::allow(format!("{} rollback step(s), one per forward step", plan.rollback.len()))
}
