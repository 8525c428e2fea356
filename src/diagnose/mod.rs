//! Diagnosis without a model, as a senior DBA works: route the alert to the specialists it
//! concerns ([`route`]), run their investigation tools on the read-only path, independent
//! ones in parallel ([`tools`]), read the rows with each specialist's rules to name root causes
//! with the evidence that supports them ([`rules`]), turn each cause's fixes into concrete plans
//! ([`candidates`]) and score them ([`score`]).
//!
//! It never writes: every tool is a read-only query, candidates are plans, and a chosen plan
//! goes through the Safety Mesh like any other.

pub mod candidates;
#[cfg(test)]
mod oracle_rules_tests;
pub mod route;
pub mod rules;
pub mod score;
pub mod text;
pub mod tools;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::domain::{Diagnosis, Environment, Plan, RootCause, ToolTiming};
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
    let mut drafted = Vec::new();
    for cause in &held {
        for fix in &cause.rule.fixes {
            match candidates::draft(target, &request.facts, cause, fix, &alert_fields).await {
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
    let first_cause =
        held.first().map_or((RootCause::Unknown, 0.0), |held| (held.finding.cause, held.finding.confidence));
    if let Some(template) = request.template {
        match candidates::from_template(template, first_cause.0, first_cause.1) {
            Ok(mut one) => {
                let specialist = held.first().map(|held| held.specialist);
                score::score(&mut one, specialist, &request.history);
                drafted.push(one);
            }
            Err(reason) => tracing::info!(%reason, "the template fix could not be shown"),
        }
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
    }
}
