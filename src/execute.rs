//! The executor: runs a cleared plan and proves it worked — metrics before, forward steps,
//! capture of what the rollback needs, metrics after, the policy's success criteria — and
//! rolls back automatically when the proof fails.
//!
//! It accepts only a [`Cleared`] plan: the Safety Mesh's verdict is a property of the type.
//! Every statement names the objects the plan resolved when it was made ([`Plan::resolved`]);
//! a plan without a resolution for an object it writes is refused before anything runs.
//! Every outcome says plainly what changed: a forward step that failed before anything changed
//! is FAILED with no rollback run; a rollback that failed is FAILED and must be escalated.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::domain::VerificationVerdict;
use crate::pipeline::plan::Plan;
use crate::pipeline::verify;
use crate::policy::condition::{self, Scope};
use crate::safety::Cleared;
use crate::targets::{Target, Values, resolve};

pub use crate::domain::{ExecutionOutcome, ExecutionReport, StepRecord};

/// Runs a cleared plan on its target, judged only by what the plan itself carries.
///
/// `expected_hash` is the hash the workflow's plan was stored (and approved) under. The hash of
/// the plan about to run is computed again here, at the last moment: if the two differ (the
/// stored plan was rewritten after it was approved) nothing runs, and the report says
/// [`ExecutionOutcome::HashMismatch`].
pub async fn execute(target: &Target, cleared: &Cleared, expected_hash: &str) -> ExecutionReport {
    let started = Instant::now();
    let plan = cleared.plan();
    // Queries bind the very objects the steps write: the plan's resolutions.
    let mut values = resolve::bound_values(&plan.values, &plan.resolved);
    let running_hash = plan.hash();
    let mut report = ExecutionReport {
        outcome: ExecutionOutcome::FailedBeforeChange,
        plan_hash: running_hash.clone(),
        metrics_before: BTreeMap::new(),
        metrics_after: BTreeMap::new(),
        forward: Vec::new(),
        captured: BTreeMap::new(),
        rollback: Vec::new(),
        proof: Vec::new(),
        error: None,
        duration_ms: 0,
    };
    if running_hash != expected_hash {
        report.outcome = ExecutionOutcome::HashMismatch;
        report.error = Some(format!(
            "refused: the plan about to run hashes to {running_hash}, not the approved {expected_hash}; nothing was run"
        ));
        return finish(report, started);
    }
    let missing = unresolved(plan);
    if !missing.is_empty() {
        report.error = Some(format!(
            "refused: the plan carries no resolution for {}; identifiers are resolved once, when the plan is made, and \
             never looked up again: nothing was run",
            missing.iter().map(|name| format!("`:{name}`")).collect::<Vec<_>>().join(", ")
        ));
        return finish(report, started);
    }

    if let Some(validation) = &plan.validation {
        match target.query(&validation.sql, &values).await {
            Ok(rows) => report.metrics_before = rows.first_as_text().unwrap_or_default(),
            Err(error) => {
                report.error = Some(format!("measuring before the fix: {error}"));
                return finish(report, started);
            }
        }
    }

    for (index, step) in plan.steps.iter().enumerate() {
        let step_started = Instant::now();
        match target.execute(&step.sql, &values, &plan.identifiers, &plan.resolved).await {
            Ok(outcome) => report.forward.push(StepRecord {
                sql: outcome.sql,
                rows_affected: Some(outcome.rows_affected),
                elapsed_ms: outcome.elapsed_ms,
                error: None,
            }),
            Err(error) => {
                report.forward.push(StepRecord {
                    sql: step.sql.clone(),
                    rows_affected: None,
                    elapsed_ms: elapsed_ms(step_started),
                    error: Some(error.to_string()),
                });
                report.error = Some(format!("forward step {} failed: {error}", index + 1));
                if index == 0 {
                    // Each step is atomic: a first step that failed changed nothing.
                    return finish(report, started);
                }
                return roll_back(target, plan, &values, index, report, started).await;
            }
        }
    }

    if let Some(capture) = &plan.capture {
        match target.query(&capture.sql, &values).await {
            Ok(rows) => {
                report.captured = rows.first_as_text().unwrap_or_default();
                for (name, value) in &report.captured {
                    values.insert(name.clone(), Some(value.clone()));
                }
            }
            Err(error) => report.proof.push(format!("capture query failed: {error}")),
        }
    }

    let worked = prove(target, plan, &values, &mut report).await;
    if worked {
        report.outcome = ExecutionOutcome::Completed;
        return finish(report, started);
    }
    roll_back(target, plan, &values, plan.steps.len(), report, started).await
}

/// Whether the fix worked: the plan's success criteria over the validation query before and
/// after, or — without criteria — the plan's verification query no longer confirming the alert.
async fn prove(target: &Target, plan: &Plan, values: &Values, report: &mut ExecutionReport) -> bool {
    let proof = &plan.proof;
    let success_criteria = match parse_conditions(&proof.success_criteria) {
        Ok(conditions) => conditions,
        Err(problem) => {
            report.proof.push(format!("the plan's success criteria cannot be read: {problem}"));
            return false;
        }
    };
    if let Some(validation) = &plan.validation {
        match target.query(&validation.sql, values).await {
            Ok(rows) => report.metrics_after = rows.first_as_text().unwrap_or_default(),
            Err(error) => {
                report.proof.push(format!("measuring after the fix failed: {error}"));
                return false;
            }
        }
    }
    if !success_criteria.is_empty() {
        let alert: BTreeMap<String, String> =
            values.iter().filter_map(|(name, value)| value.clone().map(|value| (name.clone(), value))).collect();
        let scope =
            Scope { row: Some(&report.metrics_after), alert: Some(&alert), before: Some(&report.metrics_before) };
        let (held, outcomes) = condition::all_hold(&success_criteria, &scope);
        report.proof.extend(outcomes.into_iter().map(|outcome| outcome.explanation));
        return held;
    }
    let Some(verification) = &proof.verification else {
        report.proof.push("no success criteria and no verification query: the fix cannot be proven".to_owned());
        return false;
    };
    let alert: BTreeMap<String, String> =
        values.iter().filter_map(|(name, value)| value.clone().map(|value| (name.clone(), value))).collect();
    match target.query(&verification.sql, values).await {
        Ok(rows) => {
            let confirmed_when = match parse_conditions(&proof.confirmed_when) {
                Ok(conditions) => conditions,
                Err(problem) => {
                    report.proof.push(format!("the plan's Confirmed When cannot be read: {problem}"));
                    return false;
                }
            };
            let judged = verify::judge_with(&confirmed_when, &proof.tolerance, &alert, Some(&rows));
            report.proof.push(format!("re-verified: {:?} ({})", judged.verdict, judged.explanations.join("; ")));
            judged.verdict == VerificationVerdict::NotConfirmed
        }
        Err(error) => {
            report.proof.push(format!("re-verification failed: {error}"));
            false
        }
    }
}

/// Undoes forward steps `0..done` in reverse order.
async fn roll_back(
    target: &Target,
    plan: &Plan,
    values: &Values,
    done: usize,
    mut report: ExecutionReport,
    started: Instant,
) -> ExecutionReport {
    if plan.rollback.is_empty() {
        report.outcome = ExecutionOutcome::FailedNeedsDba;
        report.error.get_or_insert_with(|| "the fix did not work and cannot be undone (irreversible)".to_owned());
        return finish(report, started);
    }
    for step in plan.rollback.iter().take(done).rev() {
        let step_started = Instant::now();
        match target.execute(&step.sql, values, &plan.identifiers, &plan.resolved).await {
            Ok(outcome) => report.rollback.push(StepRecord {
                sql: outcome.sql,
                rows_affected: Some(outcome.rows_affected),
                elapsed_ms: outcome.elapsed_ms,
                error: None,
            }),
            Err(error) => {
                report.rollback.push(StepRecord {
                    sql: step.sql.clone(),
                    rows_affected: None,
                    elapsed_ms: elapsed_ms(step_started),
                    error: Some(error.to_string()),
                });
                report.outcome = ExecutionOutcome::FailedNeedsDba;
                report.error = Some(format!("ROLLBACK FAILED: {error}; the database may be half-changed"));
                return finish(report, started);
            }
        }
    }
    report.outcome = ExecutionOutcome::RolledBack;
    finish(report, started)
}

/// The spliced identifiers of the plan's forward and rollback steps that it carries no
/// resolution for (a plan stored before resolutions existed): such a plan does not run.
pub fn unresolved(plan: &Plan) -> std::collections::BTreeSet<String> {
    let statements: Vec<&str> = plan.steps.iter().chain(&plan.rollback).map(|step| step.sql.as_str()).collect();
    resolve::unresolved(&statements, &plan.identifiers, &plan.resolved)
}

/// The plan's conditions, parsed from their written form.
fn parse_conditions(written: &[String]) -> Result<Vec<condition::Condition>, String> {
    written.iter().enumerate().map(|(index, text)| condition::Condition::parse(text, index + 1)).collect()
}

fn finish(mut report: ExecutionReport, started: Instant) -> ExecutionReport {
    report.duration_ms = elapsed_ms(started);
    report
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}
