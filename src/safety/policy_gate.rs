//! Policy gate: may this plan run here, now, without a human? Environment autonomy, the brain's
//! action rules keyed by the plan's action type, confidence, change and freeze windows,
//! and the protected names of [`super::protected`].
//!
//! Overrides (environments/*.md, sentri.yaml `autonomy_level`) can only make a database
//! stricter; one that would relax the environment's default is ignored and says so. An
//! environment other than DEV, UAT or PROD is treated as PROD.

use crate::config::{AutonomyLevel, Environment};
use crate::pipeline::plan::Plan;
use crate::policy::alert::Risk;
use crate::policy::brain::ActionMode;
use crate::policy::environment::Autonomy;

use super::{CheckVerdict, Findings, MeshContext, MeshVerdict, environment_of};

/// The policy gate's verdict on `plan`.
pub fn check(plan: &Plan, context: &MeshContext<'_>) -> CheckVerdict {
    let mut findings = Findings::default();
    let brain = context.brain;
    let utc = jiff::tz::Offset::UTC.to_datetime(context.now);

    let environment = judged_environment(plan, context, &mut findings);
    let env_name = environment.to_string();

    // Autonomy: the environment's default, made stricter (never looser) by overrides.
    let mut autonomy = match environment {
        Environment::Dev => Autonomy::Autonomous,
        Environment::Uat => Autonomy::Supervised,
        Environment::Prod => Autonomy::Advisory,
    };
    let mut notes = Vec::new();
    if let Some(policy) = context.environment_policy {
        if !policy.database_id.eq_ignore_ascii_case(&plan.database) {
            findings.add(
                MeshVerdict::Block,
                format!(
                    "the environment file {} is for {}, not {}; refusing to guess which rules apply",
                    policy.path.display(),
                    policy.database_id,
                    plan.database
                ),
            );
        }
        let today = utc.date();
        match (policy.autonomy_override, policy.active_override(today)) {
            (Some(_), None) => notes.push(format!(
                "the override in {} expired on {}",
                policy.path.display(),
                policy.override_expires.map(|d| d.to_string()).unwrap_or_default()
            )),
            (_, Some(over)) => stricter(&mut autonomy, over, &policy.path.display().to_string(), &mut notes),
            (None, None) => {}
        }
    }
    if let Some(level) = context.database_autonomy {
        let over = match level {
            AutonomyLevel::Autonomous => Autonomy::Autonomous,
            AutonomyLevel::Supervised => Autonomy::Supervised,
            AutonomyLevel::Advisory => Autonomy::Advisory,
        };
        stricter(&mut autonomy, over, "sentri.yaml autonomy_level", &mut notes);
    }
    let suffix = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
    match autonomy {
        Autonomy::Advisory => findings.add(
            MeshVerdict::NeedsApproval,
            format!("{} runs ADVISORY: every fix waits for approval{suffix}", plan.database),
        ),
        Autonomy::Supervised if plan.risk != Risk::Low => findings.add(
            MeshVerdict::NeedsApproval,
            format!("{} runs SUPERVISED and the risk is {:?}: approval needed{suffix}", plan.database, plan.risk),
        ),
        Autonomy::Supervised | Autonomy::Autonomous => {
            findings.add(MeshVerdict::Allow, format!("{} runs {autonomy:?}{suffix}", plan.database))
        }
    }

    if context.provisional {
        findings.add(
            MeshVerdict::NeedsApproval,
            "no policy file knows this alert: a model classified it, so every fix waits for a human",
        );
    }

    // Action rules, keyed by the plan's action type (never the alert type).
    let action = plan.action_type.trim().to_uppercase();
    let column = match environment {
        Environment::Dev => 0,
        Environment::Uat => 1,
        Environment::Prod => 2,
    };
    match brain.action_rules.get(&action) {
        _ if action.is_empty() => {
            findings.add(MeshVerdict::NeedsApproval, "the plan names no action type, so no action rule covers it")
        }
        Some(modes) => match modes.get(column) {
            Some(ActionMode::Auto) => findings.add(MeshVerdict::Allow, format!("{action} is auto in {env_name}")),
            _ => findings
                .add(MeshVerdict::NeedsApproval, format!("brain/rules.md: {action} needs approval in {env_name}")),
        },
        None if environment == Environment::Dev => {
            findings.add(MeshVerdict::Allow, format!("{action} is not in the action rules; DEV runs it"))
        }
        None => findings.add(
            MeshVerdict::NeedsApproval,
            format!("{action} is not in brain/rules.md Action Rules; outside DEV it needs approval"),
        ),
    }

    // Confidence from verification.
    let confidence = plan.confidence;
    if !confidence.is_finite() || !(0.0..=1.0).contains(&confidence) {
        findings.add(MeshVerdict::Block, format!("confidence {confidence} is not between 0 and 1"));
    } else if confidence < brain.block_below {
        findings.add(
            MeshVerdict::Block,
            format!("confidence {confidence:.2} is below {:.2}: escalate, do not execute", brain.block_below),
        );
    } else if confidence < brain.approval_below {
        findings.add(
            MeshVerdict::NeedsApproval,
            format!("confidence {confidence:.2} is below {:.2}: approval needed", brain.approval_below),
        );
    }

    // Change and freeze windows (UTC).
    if let Some((false, rows)) = brain.change_window_open(&env_name, utc) {
        let windows: Vec<&str> = rows.iter().map(|w| w.text.as_str()).collect();
        findings.add(
            MeshVerdict::NeedsApproval,
            format!("{utc} UTC is outside {env_name}'s change window ({})", windows.join(", ")),
        );
    }
    if let Some(freeze) = brain.freeze_at(&env_name, utc) {
        findings.add(
            MeshVerdict::Block,
            format!(
                "{env_name} is frozen: {} ({}, brain/rules.md line {})",
                freeze.reason.as_deref().unwrap_or("freeze window"),
                freeze.text,
                freeze.line
            ),
        );
    }

    // Protected databases, users, programs and schemas.
    super::protected::check(plan, context, &mut findings);
    findings.verdict()
}

/// Applies an override if it is stricter; otherwise records that it was ignored.
fn stricter(autonomy: &mut Autonomy, over: Autonomy, source: &str, notes: &mut Vec<String>) {
    if over > *autonomy {
        notes.push(format!("{source} raises it from {:?} to {over:?}", *autonomy));
        *autonomy = over;
    } else if over < *autonomy {
        notes.push(format!("{source} asks for {over:?}, ignored: an override can only make it stricter"));
    }
}

/// The environment the gate judges by (the configured one; an unknown one is PROD), with a
/// BLOCK when the plan claims another than its database is configured with.
fn judged_environment(plan: &Plan, context: &MeshContext<'_>, findings: &mut Findings) -> Environment {
    if let Some(configured) = context.database_environment
        && !plan.environment.trim().eq_ignore_ascii_case(&configured.to_string())
    {
        findings.add(
            MeshVerdict::Block,
            format!(
                "the plan says environment `{}` but {} is configured {configured}: it was not made for this database",
                plan.environment, plan.database
            ),
        );
    }
    environment_of(plan, context).unwrap_or_else(|| {
        findings.add(
            MeshVerdict::NeedsApproval,
            format!("environment `{}` is not DEV, UAT or PROD; treated as PROD", plan.environment),
        );
        Environment::Prod
    })
}
