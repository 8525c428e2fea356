//! From tool rows to root causes: a specialist's `## Cause:` rule holds on every row of its
//! tool's result where all its `when:` conditions hold, and each such row is evidence.

use std::collections::BTreeMap;

use super::tools::ToolResult;
use crate::domain::{DbKind, Evidence, Finding, RootCause};
use crate::policy::condition::{Scope, all_hold};
use crate::policy::specialist::{CauseRule, Specialist};

/// Evidence rows kept per finding: enough to see the pattern, few enough to read at 3 a.m.
pub const MAX_EVIDENCE: usize = 5;

/// A cause that held, with the rule that named it (its fixes become candidates).
#[derive(Debug, Clone)]
pub struct Held<'a> {
    pub finding: Finding,
    pub rule: &'a CauseRule,
    pub specialist: &'a Specialist,
}

/// Every cause rule of `specialists` for `engine` that holds on `results`, best first:
/// confidence, then how much evidence. A cause named by two rules keeps its best.
pub fn findings<'a>(
    specialists: &[&'a Specialist],
    engine: DbKind,
    results: &BTreeMap<String, ToolResult>,
    alert: &BTreeMap<String, String>,
) -> Vec<Held<'a>> {
    let mut held: Vec<Held<'a>> = Vec::new();
    for specialist in specialists {
        for rule in specialist.causes.iter().filter(|rule| rule.engine == engine.policy_engine()) {
            let Some(finding) = evaluate(specialist, rule, results, alert) else { continue };
            match held.iter_mut().find(|known| known.finding.cause == finding.cause) {
                Some(known) if known.finding.confidence >= finding.confidence => {}
                Some(known) => *known = Held { finding, rule, specialist },
                None => held.push(Held { finding, rule, specialist }),
            }
        }
    }
    held.sort_by(|a, b| {
        b.finding
            .confidence
            .total_cmp(&a.finding.confidence)
            .then(b.finding.evidence.len().cmp(&a.finding.evidence.len()))
            .then(a.finding.cause.cmp(&b.finding.cause))
    });
    held
}

/// One rule over its tool's rows.
fn evaluate(
    specialist: &Specialist,
    rule: &CauseRule,
    results: &BTreeMap<String, ToolResult>,
    alert: &BTreeMap<String, String>,
) -> Option<Finding> {
    let result = results.get(&rule.tool)?;
    let query = result.query(rule.query.as_deref())?;
    let mut evidence = Vec::new();
    let mut first_row = None;
    for index in 0..query.rows.len() {
        let Some(row) = query.row_as_text(index) else { continue };
        if !concerns_alert(&row, alert) {
            continue;
        }
        let scope = Scope { row: Some(&row), alert: Some(alert), before: None };
        let (holds, outcomes) = all_hold(&rule.when, &scope);
        if !holds {
            continue;
        }
        if first_row.is_none() {
            first_row = Some(row.clone());
        }
        if evidence.len() < MAX_EVIDENCE {
            let why = outcomes.iter().map(|outcome| outcome.explanation.as_str()).collect::<Vec<_>>().join("; ");
            evidence.push(Evidence { tool: rule.tool.clone(), row, why });
        }
    }
    let row = first_row?;
    Some(Finding {
        cause: rule.cause,
        confidence: rule.confidence,
        summary: fill_summary(&rule.summary, &row),
        specialist: specialist.name.clone(),
        evidence,
    })
}

/// Whether `row` is about the object the alert names: every alert field that is also a column
/// of the row (`table_name`, `schema_name`, `sequence_name`…) has the alert's value there. An
/// alert about one sequence is not diagnosed, nor fixed, by the evidence of another.
fn concerns_alert(row: &BTreeMap<String, String>, alert: &BTreeMap<String, String>) -> bool {
    alert.iter().filter(|(_, value)| !value.trim().is_empty()).all(|(field, value)| {
        row.get(field).is_none_or(|column| column.eq_ignore_ascii_case(value.trim().trim_matches('"')))
    })
}

/// `{column}` in a summary becomes the row's value (`?` when the row has no such column).
pub fn fill_summary(template: &str, row: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && close > 0 => {
                let key = after[..close].to_lowercase();
                let value = row.get(&key).map_or("?", String::as_str);
                out.push_str(&value.chars().take(200).collect::<String>());
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The finding said when no rule held: UNKNOWN, with what was looked at. Never a guess.
pub fn unknown(tools_run: usize, specialists: &[&Specialist]) -> Finding {
    let names: Vec<_> = specialists.iter().map(|specialist| specialist.name.as_str()).collect();
    Finding {
        cause: RootCause::Unknown,
        confidence: 0.0,
        summary: format!(
            "no rule of {} held on the evidence of {tools_run} tools: the cause is not one Sentri can name",
            if names.is_empty() { "any specialist".to_owned() } else { names.join(", ") }
        ),
        specialist: String::new(),
        evidence: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::tools::QueryResult;
    use crate::policy::markdown;
    use crate::targets::Value;
    use std::path::Path;

    const SPECIALIST: &str = "---\nagent_name: sessions\n---\n## Tools\n- postgres: holders\n\
        ## Cause: LOCK_CONTENTION\n- engine: postgres\n- tool: holders\n- when: holder_state == 'active'\n- when: waiters >= 1\n- confidence: 0.8\n- summary: pid {holder_pid} blocks {waiters}\n\
        ## Cause: IDLE_IN_TRANSACTION\n- engine: postgres\n- tool: holders\n- when: holder_state == 'idle in transaction'\n- when: waiters >= 1\n- confidence: 0.9\n- summary: pid {holder_pid} idles\n";

    fn holders(rows: &[(&str, &str, i64)]) -> BTreeMap<String, ToolResult> {
        let query = QueryResult {
            name: "main".into(),
            columns: vec!["holder_pid".into(), "holder_state".into(), "waiters".into()],
            rows: rows
                .iter()
                .map(|(pid, state, waiters)| {
                    vec![Value::Text((*pid).into()), Value::Text((*state).into()), Value::Int(*waiters)]
                })
                .collect(),
            truncated: false,
            ms: 1,
            error: None,
        };
        let result = ToolResult {
            tool: "holders".into(),
            database: "D".into(),
            arguments: BTreeMap::new(),
            queries: vec![query],
            elapsed_ms: 1,
            skipped: None,
        };
        [("holders".to_owned(), result)].into()
    }

    #[test]
    fn rules_rank_causes_and_keep_the_rows_that_held() {
        let specialist =
            Specialist::from_document(Path::new("agents/s.md"), &markdown::parse(SPECIALIST), &mut Vec::new())
                .expect("loads");
        let results = holders(&[("11", "active", 2), ("12", "idle in transaction", 1), ("13", "idle", 0)]);
        let held = findings(&[&specialist], DbKind::Postgres, &results, &BTreeMap::new());
        let causes: Vec<_> = held.iter().map(|held| held.finding.cause).collect();
        assert_eq!(causes, vec![RootCause::IdleInTransaction, RootCause::LockContention]);
        assert_eq!(held[0].finding.summary, "pid 12 idles");
        assert_eq!(held[0].finding.evidence.len(), 1);
        assert_eq!(held[0].finding.evidence[0].row.get("holder_pid").map(String::as_str), Some("12"));
        let none = findings(&[&specialist], DbKind::Postgres, &holders(&[("13", "idle", 0)]), &BTreeMap::new());
        assert!(none.is_empty(), "no rule holds on a session that blocks nobody");
        let oracle = findings(&[&specialist], DbKind::Oracle, &results, &BTreeMap::new());
        assert!(oracle.is_empty(), "PostgreSQL rules do not read an Oracle database");
    }

    #[test]
    fn an_alert_naming_an_object_is_diagnosed_by_that_objects_rows_only() {
        let specialist =
            Specialist::from_document(Path::new("agents/s.md"), &markdown::parse(SPECIALIST), &mut Vec::new())
                .expect("loads");
        let results = holders(&[("11", "active", 2), ("12", "active", 1)]);
        let about = |pid: &str| BTreeMap::from([("holder_pid".to_owned(), pid.to_owned())]);
        let held = findings(&[&specialist], DbKind::Postgres, &results, &about("12"));
        assert_eq!(held.len(), 1);
        assert_eq!(held[0].finding.evidence.len(), 1, "only the named holder's row");
        assert_eq!(held[0].finding.evidence[0].row["holder_pid"], "12");
        assert!(findings(&[&specialist], DbKind::Postgres, &results, &about("99")).is_empty());
        let unrelated = BTreeMap::from([("used_percent".to_owned(), "93".to_owned())]);
        assert_eq!(findings(&[&specialist], DbKind::Postgres, &results, &unrelated)[0].finding.evidence.len(), 2);
    }

    #[test]
    fn summaries_fill_columns_and_leave_other_braces() {
        let row: BTreeMap<String, String> = [("pid".to_owned(), "42".to_owned())].into();
        assert_eq!(fill_summary("pid {pid} blocks {waiters} {x y}", &row), "pid 42 blocks ? {x y}");
        assert_eq!(fill_summary("{", &row), "{");
    }
}
