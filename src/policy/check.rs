//! Proactive checks (`checks/**/*.md`): a health query run on a schedule, and the thresholds
//! that turn its rows into a finding before any alert fires.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::alert::SqlBlock;
use super::markdown::Document;
use super::schedule::Schedule;
use super::{DbKind, Problem, Severity};
use crate::targets::sql::{self, StatementKind};

/// One scheduled check.
#[derive(Debug, Clone)]
pub struct CheckPolicy {
    pub name: String,
    pub path: PathBuf,
    pub engine: DbKind,
    pub severity: Severity,
    /// When it runs ([`Schedule`]); `daily` when the file names none.
    pub schedule: Schedule,
    pub routes_to: String,
    pub description: String,
    pub health_query: SqlBlock,
    /// `column: value` — a row whose column is strictly above the value is a finding.
    pub thresholds: Vec<Threshold>,
    pub recommended_action: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub column: String,
    pub value: ThresholdValue,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ThresholdValue {
    Number(f64),
    Text(String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FrontMatter {
    check_type: Option<String>,
    engine: Option<String>,
    severity: Option<String>,
    schedule: Option<String>,
    routes_to: Option<String>,
}

impl CheckPolicy {
    pub fn from_document(
        path: &Path,
        document: &Document,
        folder_engine: Option<DbKind>,
        problems: &mut Vec<Problem>,
    ) -> Result<CheckPolicy, Vec<Problem>> {
        let mut errors = Vec::new();
        let name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        const KEYS: &[&str] = &["type", "check_type", "name", "engine", "severity", "schedule", "routes_to", "version"];
        let front: FrontMatter = super::front_matter(path, document, KEYS, &mut errors, problems).unwrap_or_default();
        let _ = front.check_type;
        let engine = front.engine.as_deref().and_then(DbKind::parse).or(folder_engine).unwrap_or(DbKind::Oracle);
        let severity = front.severity.as_deref().map_or(Some(Severity::Medium), Severity::parse).unwrap_or_else(|| {
            errors.push(Problem::error(path, 1, "severity must be one of LOW, MEDIUM, HIGH, CRITICAL"));
            Severity::Medium
        });
        let schedule = match front.schedule.as_deref() {
            None => Schedule::daily(),
            Some(text) => Schedule::parse(text).unwrap_or_else(|message| {
                errors.push(Problem::error(path, front_matter_line(document, "schedule"), message));
                Schedule::daily()
            }),
        };
        let health_query =
            document.section("health_query").and_then(|section| section.blocks("sql").next()).map(|block| {
                let sql = sql::strip_terminator(&block.code);
                SqlBlock { kind: sql::statement_kind(&sql), sql, line: block.line + 1 }
            });
        let Some(health_query) = health_query else {
            errors.push(Problem::error(path, 1, "missing `## Health Query` with a ```sql block"));
            return Err(errors);
        };
        if health_query.kind != StatementKind::Query {
            errors.push(Problem::error(
                path,
                health_query.line,
                "the health query must be a read-only SELECT/WITH statement",
            ));
        }
        let thresholds = document
            .section("threshold")
            .or_else(|| document.section("thresholds"))
            .map(|section| {
                section
                    .items()
                    .filter_map(|item| {
                        let (key, value) = item.text.split_once(':')?;
                        let column: String =
                            key.chars().filter(|c| !c.is_whitespace() && *c != '`' && *c != '-').collect();
                        let value = value.trim().trim_matches('"');
                        let value = match super::condition::parse_number(value) {
                            Some(number) => ThresholdValue::Number(number),
                            None => ThresholdValue::Text(value.to_owned()),
                        };
                        Some(Threshold { column: column.to_lowercase(), value, line: item.line })
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CheckPolicy {
            name,
            path: path.to_path_buf(),
            engine,
            severity,
            schedule,
            routes_to: front.routes_to.unwrap_or_else(|| "storage_agent".to_owned()),
            description: document.section("description").map(|s| s.text()).unwrap_or_default(),
            health_query,
            thresholds,
            recommended_action: document
                .section("recommended_action")
                .map(|s| {
                    s.code_blocks()
                        .map(|b| b.code.clone())
                        .chain(std::iter::once(s.text()))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
                .unwrap_or_default(),
        })
    }
}

/// The file line of `key:` in the front matter, for a problem about its value (line 1 when it
/// cannot be found).
fn front_matter_line(document: &Document, key: &str) -> usize {
    let Some(front) = &document.front_matter else { return 1 };
    front
        .yaml
        .lines()
        .position(|line| line.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')))
        .map_or(1, |index| front.first_line + index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;

    #[test]
    fn a_check_loads_with_thresholds_and_schedule() {
        let text = "---\ncheck_type: stale_stats\nschedule: every_6_hours\n---\n## Health Query\n```sql\nSELECT owner, days_stale FROM x;\n```\n## Threshold\n- days_stale: 30\n- exclude: \"SYS\"\n";
        let check = CheckPolicy::from_document(
            Path::new("checks/oracle/stale_stats.md"),
            &markdown::parse(text),
            Some(DbKind::Oracle),
            &mut Vec::new(),
        )
        .expect("loads");
        assert_eq!(check.schedule.to_string(), "every_6_hours");
        assert_eq!(check.health_query.sql, "SELECT owner, days_stale FROM x");
        assert_eq!(
            check.thresholds[0],
            Threshold { column: "days_stale".into(), value: ThresholdValue::Number(30.0), line: 10 }
        );
        assert_eq!(check.thresholds[1].value, ThresholdValue::Text("SYS".into()));
    }

    #[test]
    fn a_check_without_a_query_is_an_error() {
        let errors = CheckPolicy::from_document(
            Path::new("c.md"),
            &markdown::parse("## Threshold\n- a: 1\n"),
            None,
            &mut Vec::new(),
        )
        .expect_err("fails");
        assert!(errors[0].message.contains("Health Query"));
    }

    #[test]
    fn a_cron_schedule_loads_and_a_bad_one_names_its_line() {
        let query = "## Health Query\n```sql\nSELECT 1 AS x\n```\n";
        let path = Path::new("checks/postgres/c.md");
        let cron = format!("---\nengine: postgres\nschedule: \"15 */2 * * *\"\n---\n{query}");
        let check = CheckPolicy::from_document(path, &markdown::parse(&cron), None, &mut Vec::new()).expect("loads");
        assert_eq!(check.schedule.to_string(), "15 */2 * * *");
        let bad = format!("---\nengine: postgres\nseverity: LOW\nschedule: fortnightly\n---\n{query}");
        let errors =
            CheckPolicy::from_document(path, &markdown::parse(&bad), None, &mut Vec::new()).expect_err("fails");
        assert_eq!(errors[0].line, 4, "{:?}", errors[0]);
        assert!(errors[0].message.contains("fortnightly"), "{:?}", errors[0]);
    }
}
