//! The Oracle check policies (`policies/checks/oracle/*.md`), checked without a server.
//!
//! A check's health query runs unattended every few hours; a misspelt column there is an
//! ORA-00904 recorded as the run's error, every run, until someone reads the history. So every
//! query is held against the documented catalog of `oracle_tool_tests.rs` (the views, their
//! columns and the Database Reference page of each), with the same checker, and against the
//! Oracle read-only gate the scheduler's `Target::query_limited` applies. Every column a file
//! names (its thresholds, `object:`, `## Forecast`, and the fields of its `fix_policy:` alert)
//! must be a column the query returns, written `AS name`.
//!
//! Live runs need a server: `SENTRI_TEST_ORACLE_DSN` (tests/diagnose_oracle.rs).

use std::collections::BTreeSet;
use std::path::PathBuf;

use super::alert::AlertPolicy;
use super::check::{CheckPolicy, ForecastLimit};
use super::oracle_tool_tests::undocumented;
use super::{DbKind, Problem, markdown};
use crate::sql::{Dialect, Token, lex, read_only};

/// The reference's seven checks, done properly, plus FRA usage and Data Guard lag (issue 13 §2).
const EXPECTED: &[&str] = &[
    "backup_freshness",
    "dataguard_lag",
    "fra_usage",
    "index_usage",
    "password_expiry",
    "redo_log_switches",
    "stale_stats",
    "tablespace_trend",
    "temp_trend",
];

fn pack() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// Every file of `policies/checks/oracle/`, read as the loader reads it. Any error or warning
/// fails: a shipped check must load cleanly.
fn load_checks() -> Vec<CheckPolicy> {
    let folder = pack().join("checks/oracle");
    let mut problems: Vec<Problem> = Vec::new();
    let files = super::markdown_files(&folder, &mut problems);
    assert!(!files.is_empty(), "no check files under {}", folder.display());
    let mut checks = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("a check file is readable UTF-8");
        match CheckPolicy::from_document(&path, &markdown::parse(&text), Some(DbKind::Oracle), &mut problems) {
            Ok(check) => checks.push(check),
            Err(errors) => problems.extend(errors),
        }
    }
    assert!(problems.is_empty(), "{}", problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    checks
}

/// The health query of every Oracle check (for the catalog's "every view is read" test).
pub(super) fn health_queries() -> Vec<String> {
    load_checks().into_iter().map(|check| check.health_query.sql).collect()
}

/// The shipped Oracle alert policy `name` (`policies/oracle/NAME.md`).
fn alert(name: &str) -> AlertPolicy {
    let path = pack().join(format!("oracle/{name}.md"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no alert policy {}", path.display()));
    let mut problems = Vec::new();
    AlertPolicy::from_document(&path, &markdown::parse(&text), Some(DbKind::Oracle), &mut problems)
        .unwrap_or_else(|errors| panic!("{name}: {errors:?}"))
}

/// The names a query gives its columns: every `AS name` not followed by `(`.
fn aliases(sql: &str) -> BTreeSet<String> {
    lex(sql, Dialect::Oracle)
        .tokens
        .windows(3)
        .filter(|w| w[0].is_word("AS") && w[2] != Token::Open)
        .filter_map(|w| w[1].word().map(|word| word.to_lowercase()))
        .collect()
}

/// `sql` with the column of its first `alias.column` misspelt (an `x` appended), or None when
/// it has none.
fn misspelt(sql: &str) -> Option<(String, String)> {
    let lexed = lex(sql, Dialect::Oracle);
    let index = (0..lexed.tokens.len().saturating_sub(2)).find(|&i| {
        lexed.tokens[i].word().is_some()
            && lexed.tokens[i + 1] == Token::Punct('.')
            && lexed.tokens[i + 2].word().is_some()
            && lexed.tokens.get(i + 3) != Some(&Token::Open)
    })?;
    let span = lexed.spans[index + 2].clone();
    let wrong = format!("{}x", &sql[span.clone()]);
    Some((format!("{}{wrong}{}", &sql[..span.start], &sql[span.end..]), wrong.to_lowercase()))
}

#[test]
fn every_oracle_check_loads_cleanly_under_its_own_name() {
    let checks = load_checks();
    let names: BTreeSet<&str> = checks.iter().map(|check| check.name.as_str()).collect();
    assert_eq!(names, EXPECTED.iter().copied().collect(), "the Oracle checks of issue 13 §2");
    for check in &checks {
        assert_eq!(check.engine, DbKind::Oracle, "{}", check.name);
        assert!(!check.thresholds.is_empty(), "{}: no threshold", check.name);
        assert!(check.description.len() > 200, "{}: say where the defaults come from", check.name);
    }
}

#[test]
fn every_check_query_passes_the_oracle_read_only_gate() {
    let refused: Vec<String> = load_checks()
        .iter()
        .filter_map(|check| {
            read_only::check(&check.health_query.sql, Dialect::Oracle)
                .err()
                .map(|refusal| format!("{}: {}", check.name, refusal.reason))
        })
        .collect();
    assert!(refused.is_empty(), "{}", refused.join("\n"));
}

#[test]
fn every_view_and_column_of_every_check_is_in_the_documented_catalog() {
    let mut problems = Vec::new();
    for check in load_checks() {
        problems.extend(
            undocumented(&check.health_query.sql)
                .into_iter()
                .map(|problem| format!("{} (line {}): {problem}", check.name, check.health_query.line)),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_misspelt_column_in_any_check_query_is_refused() {
    for check in load_checks() {
        let (wrong, column) =
            misspelt(&check.health_query.sql).unwrap_or_else(|| panic!("{}: no alias.column to misspell", check.name));
        let problems = undocumented(&wrong);
        assert!(
            problems.iter().any(|problem| problem.contains(&format!("`{column}`"))),
            "{}: `{column}` was not refused: {problems:?}",
            check.name
        );
    }
}

#[test]
fn every_column_a_check_names_is_a_column_of_its_query() {
    let mut missing = Vec::new();
    for check in load_checks() {
        let returned = aliases(&check.health_query.sql);
        let mut named: Vec<String> = check.thresholds.iter().map(|t| t.column.clone()).collect();
        named.extend(check.object.iter().cloned());
        if let Some(forecast) = &check.forecast {
            named.push(forecast.metric.clone());
            if let ForecastLimit::Column(column) = &forecast.limit {
                named.push(column.clone());
            }
        }
        if let Some(fix) = &check.fix_policy {
            let alert = alert(fix);
            assert_eq!(alert.engine, DbKind::Oracle, "{}: fix_policy `{fix}` is not an Oracle policy", check.name);
            named.extend(alert.fields.iter().map(|field| field.name.clone()));
        }
        for column in named {
            if !returned.contains(&column) {
                missing.push(format!("{}: `{column}` is not a column of its query ({returned:?})", check.name));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn space_checks_forecast_towards_a_limit_and_escalations_name_no_fix() {
    let checks = load_checks();
    let by_name = |name: &str| checks.iter().find(|check| check.name == name).expect("shipped");
    for name in ["tablespace_trend", "temp_trend", "fra_usage"] {
        let forecast = by_name(name).forecast.as_ref().unwrap_or_else(|| panic!("{name}: no forecast"));
        assert!(matches!(forecast.limit, ForecastLimit::Column(_)), "{name}: the limit is the row's capacity");
    }
    for name in ["password_expiry", "backup_freshness"] {
        assert_eq!(by_name(name).fix_policy, None, "{name}: escalated with its evidence, no fix");
    }
    let dataguard = by_name("dataguard_lag");
    assert!(dataguard.description.contains("only returns rows on a standby"), "{}", dataguard.description);
}

#[test]
fn check_column_aliases_are_lower_snake_case() {
    let snake = |text: &str| {
        text.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && text.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let mut wrong = Vec::new();
    for check in load_checks() {
        let sql = &check.health_query.sql;
        let lexed = lex(sql, Dialect::Oracle);
        for index in 1..lexed.tokens.len() {
            let is_alias = lexed.tokens[index - 1].is_word("AS")
                && matches!(lexed.tokens[index], Token::Word(_))
                && lexed.tokens.get(index + 1) != Some(&Token::Open);
            let written = &sql[lexed.spans[index].clone()];
            if is_alias && !snake(written) {
                wrong.push(format!("{}: alias `{written}`", check.name));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn the_misspelling_helper_changes_one_column() {
    let (wrong, column) = misspelt("SELECT s.sid AS sid FROM v$session s").expect("one");
    assert_eq!((wrong.as_str(), column.as_str()), ("SELECT s.sidx AS sid FROM v$session s", "sidx"));
    assert_eq!(misspelt("SELECT 1 AS one FROM v$database"), None);
}
