//! Protected names from brain/rules.md, as the policy gate applies them: databases whose fixes
//! always need approval, and users, client programs and schemas no fix may touch.
//!
//! A plan says what it touches through its values (alert fields and verification columns) and
//! the statements it runs. A value is recognised by its name, alone or as a suffix after `_` —
//! `username` and `blk_username`, `owner` and `table_owner` — so a policy that prefixes its
//! columns (`blk_`, `tbl_`) is still judged on them. Names are compared whole and
//! case-insensitively, never as substrings, except programs: the reference's rule is "program
//! contains", because a client program's name carries a host and a process tag
//! (`oracle@db01 (PMON)`).

use crate::pipeline::plan::Plan;

use super::{Findings, MeshContext, MeshVerdict};
use crate::sql::classify::{Verb, classify};

/// Action types that end sessions, whether or not the classifier sees the kill in the SQL.
const SESSION_ACTIONS: &[&str] = &["KILL_SESSION", "TERMINATE_SESSION", "CANCEL_SQL", "CANCEL_QUERY"];

/// Value names that carry the user of a session (`usename` is PostgreSQL's).
const USER_VALUES: &[&str] = &["username", "user", "usename"];

/// Value names that carry the client program of a session.
const PROGRAM_VALUES: &[&str] = &["program", "application_name"];

/// Value names that carry the schema (owner) of an object a plan changes.
const SCHEMA_VALUES: &[&str] = &["owner", "schema", "schema_name", "schemaname", "nspname"];

/// Adds the protected-names findings for `plan` to `findings`.
pub(super) fn check(plan: &Plan, context: &MeshContext<'_>, findings: &mut Findings) {
    databases(plan, context, findings);
    sessions(plan, context, findings);
    schemas(plan, context, findings);
}

/// Protected databases: exact names or aliases, never substrings.
fn databases(plan: &Plan, context: &MeshContext<'_>, findings: &mut Findings) {
    let protected = std::iter::once(&plan.database)
        .chain(context.database_aliases)
        .find(|name| context.brain.protected_databases.iter().any(|p| p.trim().eq_ignore_ascii_case(name.trim())));
    if let Some(name) = protected {
        findings.add(MeshVerdict::NeedsApproval, format!("{name} is a protected database: every fix needs approval"));
    }
}

/// Protected sessions and programs: whose session, run by what, would this plan end?
fn sessions(plan: &Plan, context: &MeshContext<'_>, findings: &mut Findings) {
    let brain = context.brain;
    let kills = SESSION_ACTIONS.contains(&plan.action_type.trim().to_uppercase().as_str())
        || plan.steps.iter().any(|step| classify(&step.sql).kills_session);
    if !kills {
        return;
    }
    let users = values_named(plan, USER_VALUES);
    if users.is_empty() {
        findings.add(
            MeshVerdict::NeedsApproval,
            "the plan ends a session but does not say whose (no username value): approval needed",
        );
    }
    for user in users {
        if brain.protected_sessions.iter().any(|p| p.eq_ignore_ascii_case(user.trim())) {
            findings.add(
                MeshVerdict::Block,
                format!("the session belongs to {user}, a protected user whose sessions are never ended"),
            );
        }
    }
    if brain.protected_programs.is_empty() {
        return;
    }
    let programs = values_named(plan, PROGRAM_VALUES);
    if programs.is_empty() {
        findings.add(
            MeshVerdict::NeedsApproval,
            "the plan ends a session but does not say which program runs it, so the Session Kill Rules \
             cannot be checked: approval needed",
        );
    }
    for program in programs {
        let upper = program.to_uppercase();
        if let Some(rule) = brain.protected_programs.iter().find(|p| upper.contains(&p.to_uppercase())) {
            findings.add(
                MeshVerdict::Block,
                format!("the session runs {program}, which contains `{rule}`: the Session Kill Rules protect it"),
            );
        }
    }
}

/// Protected schemas (brain/rules.md) block a plan that changes anything and names one, in a
/// value it fills a statement with or as the qualifier of an object a statement names; critical
/// schemas (the database's `critical_schemas` in sentri.yaml, or its environments/*.md) make
/// such a plan wait for a human.
fn schemas(plan: &Plan, context: &MeshContext<'_>, findings: &mut Findings) {
    let critical = context
        .critical_schemas
        .iter()
        .chain(context.environment_policy.into_iter().flat_map(|policy| policy.critical_schemas.iter()));
    let rules: Vec<(&String, MeshVerdict, &str)> =
        context
            .brain
            .protected_schemas
            .iter()
            .map(|schema| (schema, MeshVerdict::Block, "a protected schema that no fix may modify"))
            .chain(critical.map(|schema| {
                (schema, MeshVerdict::NeedsApproval, "a critical schema: a human approves changes to it")
            }))
            .collect();
    if rules.is_empty() {
        return;
    }
    let changing: Vec<_> = plan
        .steps
        .iter()
        .map(|step| classify(&step.sql))
        .filter(|class| !matches!(class.verb, Verb::Select | Verb::Empty) && !class.kills_session)
        .collect();
    if changing.is_empty() {
        return;
    }
    let rule_for = |schema: &str| {
        let schema = schema.trim().trim_matches('"');
        rules.iter().find(|(name, _, _)| name.trim().eq_ignore_ascii_case(schema))
    };
    for schema in values_named(plan, SCHEMA_VALUES) {
        if let Some((_, verdict, what)) = rule_for(schema) {
            findings.add(*verdict, format!("the plan changes an object of {schema}, {what}"));
        }
    }
    for class in &changing {
        for qualifier in &class.qualifiers {
            if let Some((_, verdict, what)) = rule_for(qualifier) {
                findings.add(*verdict, format!("the {} statement names an object in {qualifier}, {what}", class.verb));
            }
        }
    }
}

/// The plan's non-empty values whose name is one of `names`, or ends in `_` + one of them.
fn values_named<'p>(plan: &'p Plan, names: &[&str]) -> Vec<&'p str> {
    plan.values
        .iter()
        .filter(|(key, _)| {
            let key = key.to_lowercase();
            names.iter().any(|name| key == *name || key.ends_with(&format!("_{name}")))
        })
        .filter_map(|(_, value)| value.as_deref())
        .filter(|value| !value.trim().is_empty())
        .collect()
}
