//! Diagnosis without a model, as a senior DBA works: route the alert to the specialists it
//! concerns ([`route`]), run their investigation tools on the read-only path, independent
//! ones in parallel ([`tools`]), read the rows with each specialist's rules to name root causes
//! with the evidence that supports them ([`rules`]), turn each cause's fixes into concrete plans
//! ([`candidates`]) and score them ([`score`]).
//!
//! It never writes: every tool is a read-only query, candidates are plans, and a chosen plan
//! goes through the Safety Mesh like any other.

pub mod candidates;
pub mod model;
#[cfg(test)]
mod oracle_rules_tests;
pub mod route;
pub mod rules;
pub mod score;
pub mod text;
pub mod tools;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::domain::{Diagnosis, Environment, Level, Plan, RootCause, ToolTiming};
use crate::policy::PolicySet;
use crate::targets::{Profile, Target};

pub use candidates::PlanFacts;
pub use route::AlertContext;
pub use score::History;

/// Candidates kept per diagnosis, best first.
pub const MAX_CANDIDATES: usize = 5;

/// Everything a diagnosis needs besides the database and the pack.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The alert being diagnosed; `None` diagnoses the database as a whole.
    pub alert: Option<&'a AlertContext>,
    pub facts: PlanFacts<'a>,
    pub environment: Option<Environment>,
    /// The policy's template plan, resolved: one candidate among the others.
    pub template: Option<Plan>,
    /// Past outcomes of fixes on this database, by action type.
    pub history: History,
    pub profile: Option<Profile>,
}

/// Diagnoses the database behind `target`. Never fails as a whole: a tool that errs is noted
/// in `tools`, and no cause that held is said as UNKNOWN.
pub async fn diagnose(target: &Target, policies: &PolicySet, request: Request<'_>) -> Diagnosis {
    let started = Instant::now();
    let engine = target.engine();
    let specialists = route::specialists(policies, engine, request.alert);
    let alert_fields = request.alert.map(|alert| alert.fields.clone()).unwrap_or_default();
    let mut tool_context = tools::ToolContext { environment: request.environment, profile: request.profile.clone() };
    // The SIMULATED database of `sentri demo` models the alerts' own queries, not the
    // dictionary views the tools read: its diagnosis is the template alone, said as such.
    let wanted = if engine.is_simulated() { Vec::new() } else { route::tools(policies, engine, &specialists) };
    if tool_context.profile.is_none() && wanted.iter().any(|tool| !tool.requires.is_empty()) {
        tool_context.profile = target.profile().await.ok();
    }
    let no_arguments = BTreeMap::new();
    let runs = wanted.iter().map(|tool| {
        let tool_context = &tool_context;
        let no_arguments = &no_arguments;
        async move { (tool.name.clone(), tools::run(target, tool, no_arguments, tool_context).await) }
    });
    let mut results = BTreeMap::new();
    let mut timings = Vec::new();
    for (name, outcome) in futures::future::join_all(runs).await {
        match outcome {
            Ok(result) => {
                timings.push(ToolTiming {
                    name: name.clone(),
                    ms: result.elapsed_ms,
                    rows: result.row_count(),
                    error: result.error(),
                });
                results.insert(name, result);
            }
            Err(error) => timings.push(ToolTiming { name, ms: 0, rows: 0, error: Some(error.to_string()) }),
        }
    }
    let held = rules::findings(&specialists, engine, &results, &alert_fields);
    let first_cause =
        held.first().map_or((RootCause::Unknown, 0.0), |held| (held.finding.cause, held.finding.confidence));
    let mut template = request.template.and_then(|plan| {
        candidates::from_template(plan, first_cause.0, first_cause.1)
            .map_err(|reason| tracing::info!(%reason, "the template fix could not be shown"))
            .ok()
    });
    let mut drafted = Vec::new();
    for cause in &held {
        for fix in &cause.rule.fixes {
            match candidates::draft(target, &request.facts, &candidates::Basis::of(cause), fix, &alert_fields).await {
                // The policy's own fix, found again by a rule: one candidate, the template's,
                // which carries the policy's validation and proof; it takes the rule's cause
                // and benefit.
                Ok(one) if template.as_ref().is_some_and(|template| same_fix(template, &one)) => {
                    if let Some(template) = template.as_mut() {
                        template.candidate.root_cause = one.candidate.root_cause;
                        template.benefit = template.benefit.max(one.benefit);
                    }
                }
                Ok(mut one) => {
                    score::score(&mut one, Some(cause.specialist), &request.history);
                    drafted.push(one);
                }
                Err(reason) => {
                    tracing::info!(fix = %fix.title, cause = %cause.finding.cause, %reason, "a fix could not be made concrete")
                }
            }
        }
    }
    if let Some(mut one) = template {
        let specialist = held
            .iter()
            .find(|held| held.finding.cause == one.candidate.root_cause)
            .or(held.first())
            .map(|held| held.specialist);
        score::score(&mut one, specialist, &request.history);
        drafted.push(one);
    }
    // Fixes follow their causes' ranking, best score first within a cause: a safe fix for a
    // less likely cause must not come before the fixes of the cause the evidence names first.
    let rank = |cause: RootCause| held.iter().position(|held| held.finding.cause == cause).unwrap_or(held.len());
    drafted.sort_by(|a, b| {
        rank(a.candidate.root_cause)
            .cmp(&rank(b.candidate.root_cause))
            .then(b.candidate.score.total_cmp(&a.candidate.score))
    });
    drafted.truncate(MAX_CANDIDATES);
    let mut root_causes: Vec<_> = held.iter().map(|held| held.finding.clone()).collect();
    if root_causes.is_empty() {
        let mut unknown = rules::unknown(results.len(), &specialists);
        if engine.is_simulated() {
            unknown.summary =
                "a SIMULATED database has no dictionary views to investigate; the policy's fix stands alone".into();
        }
        root_causes.push(unknown);
    }
    Diagnosis {
        database: target.name().to_owned(),
        specialists: specialists.iter().map(|specialist| specialist.name.clone()).collect(),
        root_causes,
        candidates: drafted.into_iter().map(|drafted| drafted.candidate).collect(),
        tools: timings,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        // No rule held: what leads is the policy's fix, when there is one.
        level: if held.is_empty() { Level::Template } else { Level::Deterministic },
        model: None,
    }
}

/// Whether a rule's fix is the policy's own fix for this alert: the same statements, or the
/// same action type. The DBA's version of an action (with its pre-flight checks, validation
/// and proof) stands for the pack's rule of that action.
fn same_fix(template: &candidates::Drafted, rule_fix: &candidates::Drafted) -> bool {
    let words = |statements: &[String]| -> Vec<String> {
        statements.iter().map(|statement| statement.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
    };
    template.candidate.plan.action_type == rule_fix.candidate.plan.action_type
        || words(&template.candidate.forward) == words(&rule_fix.candidate.forward)
}
