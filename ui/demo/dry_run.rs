//! `sentri demo --dry-run`: each alert classified, verified on the (SIMULATED or real) database
//! through the read-only path, planned, pre-flight checked and judged by the Safety Mesh —
//! and nothing executed. The engine is not involved, because the engine executes what the mesh
//! allows; these are the same library steps it runs, stopped before the executor. The conflict
//! lock is judged as if it were free, since nothing is taken.

use std::collections::HashMap;

use sentri::config::{Config, DatabaseConfig};
use sentri::domain::{Plan, VerificationVerdict};
use sentri::intake::RawAlert;
use sentri::pipeline::matcher::{self, KnownDatabase, MatchOutcome};
use sentri::pipeline::steps;
use sentri::pipeline::verify::{self, PlanInputs};
use sentri::policy::PolicySet;
use sentri::safety::{self, FailureCount, LockAttempt};
use sentri::store::LockOutcome;
use sentri::targets::{ConnectOptions, Target};

/// Classifies, verifies, plans and judges one alert email; returns the story lines.
pub async fn judge(
    email: &str,
    config: &Config,
    policies: &PolicySet,
    now: jiff::Timestamp,
    targets: &mut HashMap<String, Target>,
) -> Vec<String> {
    let raw = RawAlert::from_rfc822(email.as_bytes(), sentri::store::timestamp_text(now));
    let alert = match matcher::match_alert(&raw, policies, &KnownDatabase::from_config(config)) {
        MatchOutcome::Matched(alert) => alert,
        MatchOutcome::Unmatched { .. } => {
            return vec!["  no policy recognises this email (it would be kept as unmatched)".into()];
        }
    };
    let mut lines = vec![format!(
        "  classified: {} on {} ({}); fields: {}",
        alert.alert_type,
        alert.database.as_deref().unwrap_or("an unknown database"),
        alert.environment.as_deref().unwrap_or("?"),
        alert.fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
    )];
    let Some(database) = alert.database.as_deref().and_then(|name| config.database(name)) else {
        lines.push("  the database is not configured: the alert would be escalated".into());
        return lines;
    };
    if !targets.contains_key(&database.name) {
        match Target::connect(database, &ConnectOptions::default()).await {
            Ok(target) => {
                targets.insert(database.name.clone(), target);
            }
            Err(error) => {
                lines.push(format!("  cannot reach the database: {error}"));
                return lines;
            }
        }
    }
    let Some(target) = targets.get(&database.name) else { return lines };
    let policy = &alert.policy;
    let verification = match steps::verify_live(target, policy, &alert.fields).await {
        Ok(verification) => verification,
        Err(error) => {
            lines.push(format!("  the verification query failed: {error} (would be ESCALATED)"));
            return lines;
        }
    };
    lines.push(format!("  verification: {:?} — {}", verification.verdict, verification.explanations.join("; ")));
    if verification.verdict != VerificationVerdict::Confirmed {
        lines.push("  nothing to fix here".into());
        return lines;
    }
    let environment = database.environment.to_string();
    let inputs = PlanInputs {
        workflow_id: "dry-run",
        database: &database.name,
        environment: &environment,
        alert_fields: &alert.fields,
        verification: &verification,
    };
    let Some(mut plan) = verify::template_plan(policy, &inputs) else {
        lines.push("  the policy has no automatic fix: it would be ESCALATED with the evidence".into());
        return lines;
    };
    if let Err(error) = steps::resolve_plan(target, &mut plan, &verification).await {
        lines.push(format!("  the plan's identifiers cannot be resolved: {error} (would be ESCALATED)"));
        return lines;
    }
    for found in plan.resolved.values() {
        lines.push(format!("  resolved: {found}"));
    }
    for step in &plan.steps {
        lines.push(format!("  plan: {}", step.sql.split_whitespace().collect::<Vec<_>>().join(" ")));
    }
    for check in steps::pre_flight(target, policy, &plan).await {
        let verdict = if check.passed { "pass" } else { "FAIL" };
        lines.push(format!("  pre-flight {}: {verdict} ({})", check.name, check.explanation));
    }
    lines.extend(mesh_lines(plan, policies, database, now));
    lines.push("  DRY RUN: nothing was executed".into());
    lines
}

/// The Safety Mesh's verdicts on `plan`, with the conflict lock judged as if taken.
fn mesh_lines(plan: Plan, policies: &PolicySet, database: &DatabaseConfig, now: jiff::Timestamp) -> Vec<String> {
    let mut lines = Vec::new();
    let lock_key = safety::conflict_lock::lock_key(&plan);
    let lock = LockAttempt {
        key: lock_key,
        outcome: LockOutcome::Acquired { expires_at: now + jiff::SignedDuration::from_mins(30) },
    };
    let failures = FailureCount { since: safety::failure_window_start(&policies.brain, now), count: 0 };
    let context = safety::mesh_context(policies, Some(database), &plan, now, Some(lock), Some(failures), None);
    lines.push("  Safety Mesh (dry run: the conflict lock is judged as if taken; nothing is locked)".into());
    let (decision, _) = safety::evaluate(plan, &context);
    for check in &decision.checks {
        lines.push(format!(
            "    Safety Mesh ▸ {}: {} — {}",
            check.check.as_str(),
            check.verdict.verdict,
            check.verdict.reason
        ));
    }
    lines.push(format!("    Safety Mesh verdict: {}", decision.verdict));
    lines
}
