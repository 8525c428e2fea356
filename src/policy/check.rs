//! Proactive checks (`checks/**/*.md`): a health query run on a schedule, and the thresholds
//! that turn its rows into a finding before any alert fires.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde::Deserialize;

use super::alert::SqlBlock;
use super::condition::parse_number;
use super::markdown::{Document, Item, Section};
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
    /// The columns that name the object a row is about (`object: [schema_name, table_name]`),
    /// joined with `.` into the finding's object and the key of its time series. None: the
    /// row is about the database as a whole.
    pub object: Vec<String>,
    /// When the series of one metric reaches its limit (`## Forecast`), for space-like checks.
    pub forecast: Option<ForecastSpec>,
    /// The alert policy whose verification and fix a finding goes through (`fix_policy:`),
    /// with the finding's row as the alert's fields. None: a finding is escalated with its
    /// evidence.
    pub fix_policy: Option<String>,
    pub recommended_action: String,
}

/// `## Forecast`: which metric of each object grows towards which limit, and how close is
/// urgent. Every value is a setting of the check's file, with node-mixin's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastSpec {
    /// The numeric column that grows (`used_mb`).
    pub metric: String,
    pub limit: ForecastLimit,
    /// How far back the least-squares fit looks.
    pub window: SignedDuration,
    /// Full within this long, with less than `critical_free_pct` free now: critical.
    pub critical_within: SignedDuration,
    pub critical_free_pct: f64,
    /// Full within this long: a warning.
    pub warning_within: SignedDuration,
    pub line: usize,
}

/// What "full" is for a forecast: one number, or a column of the same row (a tablespace's
/// `max_mb`, a sequence's `max_value`).
#[derive(Debug, Clone, PartialEq)]
pub enum ForecastLimit {
    Fixed(f64),
    Column(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub column: String,
    pub value: ThresholdValue,
    /// `- xid_age: 1300000000, critical 1400000000`: a row over this is a CRITICAL finding,
    /// whatever the check's own severity.
    pub critical: Option<f64>,
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
    object: Option<ObjectColumns>,
    fix_policy: Option<String>,
}

/// `object: table_name` or `object: [schema_name, table_name]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum ObjectColumns {
    One(String),
    Many(Vec<String>),
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
        const KEYS: &[&str] = &[
            "type",
            "check_type",
            "name",
            "engine",
            "severity",
            "schedule",
            "routes_to",
            "version",
            "object",
            "fix_policy",
        ];
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
            .map(|section| section.items().filter_map(threshold).collect())
            .unwrap_or_default();
        let forecast = document.section("forecast").and_then(|section| match forecast(section) {
            Ok(spec) => Some(spec),
            Err((line, message)) => {
                errors.push(Problem::error(path, line, message));
                None
            }
        });
        let object = match front.object {
            None => Vec::new(),
            Some(ObjectColumns::One(column)) => vec![column.to_lowercase()],
            Some(ObjectColumns::Many(columns)) => columns.iter().map(|column| column.to_lowercase()).collect(),
        };
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
            object,
            forecast,
            fix_policy: front.fix_policy,
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

/// One `- column: value` bullet of `## Threshold`: a number (with an optional `critical N`
/// after it), or text the health query reads.
fn threshold(item: &Item) -> Option<Threshold> {
    let (key, value) = item.text.split_once(':')?;
    let column: String = key.chars().filter(|c| !c.is_whitespace() && *c != '`' && *c != '-').collect();
    let value = value.trim().trim_matches('"');
    let (value, critical) = match split_levels(value) {
        Some((warning, critical)) => (ThresholdValue::Number(warning), Some(critical)),
        None => match parse_number(value) {
            Some(number) => (ThresholdValue::Number(number), None),
            None => (ThresholdValue::Text(value.to_owned()), None),
        },
    };
    Some(Threshold { column: column.to_lowercase(), value, critical, line: item.line })
}

/// `85, critical 97`, `warning 85, critical 97` or `85 (critical 97)` → (85, 97).
fn split_levels(value: &str) -> Option<(f64, f64)> {
    let lower = value.to_ascii_lowercase();
    let (first, rest) = lower.split_once("critical")?;
    let first = first.trim().trim_end_matches(['(', ',', ';']).trim();
    let first = first.strip_prefix("warning").unwrap_or(first).trim();
    let critical = rest.trim().trim_end_matches(')').trim();
    Some((parse_number(first)?, parse_number(critical)?))
}

/// `## Forecast` bullets: `metric`, `limit` (a number) or `limit_column`, and optionally
/// `window`, `critical_within`, `critical_free_pct`, `warning_within`.
fn forecast(section: &Section) -> Result<ForecastSpec, (usize, String)> {
    let mut spec = ForecastSpec {
        metric: String::new(),
        limit: ForecastLimit::Fixed(f64::NAN),
        window: SignedDuration::from_hours(7 * 24),
        critical_within: SignedDuration::from_hours(24),
        critical_free_pct: 20.0,
        warning_within: SignedDuration::from_hours(7 * 24),
        line: section.line,
    };
    for item in section.items() {
        let Some((key, value)) = item.text.split_once(':') else { continue };
        let key = key.trim().trim_matches('`').to_lowercase();
        let value = value.trim().trim_matches(['"', '`']);
        let number = || {
            parse_number(value).ok_or_else(|| (item.line, format!("forecast `{key}` must be a number, not `{value}`")))
        };
        let duration = || {
            period(value).ok_or_else(|| {
                (item.line, format!("forecast `{key}` must be a duration like 36h or 7d, not `{value}`"))
            })
        };
        match key.as_str() {
            "metric" => spec.metric = value.to_lowercase(),
            "limit" => spec.limit = ForecastLimit::Fixed(number()?),
            "limit_column" => spec.limit = ForecastLimit::Column(value.to_lowercase()),
            "window" => spec.window = duration()?,
            "critical_within" => spec.critical_within = duration()?,
            "critical_free_pct" => spec.critical_free_pct = number()?,
            "warning_within" => spec.warning_within = duration()?,
            other => {
                return Err((
                    item.line,
                    format!(
                        "forecast: unknown setting `{other}` (known: metric, limit, limit_column, window, critical_within, critical_free_pct, warning_within)"
                    ),
                ));
            }
        }
    }
    if spec.metric.is_empty() {
        return Err((section.line, "`## Forecast` needs `- metric: COLUMN`".to_owned()));
    }
    if matches!(spec.limit, ForecastLimit::Fixed(limit) if !limit.is_finite()) {
        return Err((section.line, "`## Forecast` needs `- limit: N` or `- limit_column: COLUMN`".to_owned()));
    }
    Ok(spec)
}

/// `90m`, `36h`, `7d`, `2w`.
fn period(text: &str) -> Option<SignedDuration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let number: i64 = number.parse().ok()?;
    let minutes = match unit.trim() {
        "m" | "min" | "minutes" => number,
        "h" | "hours" => number.checked_mul(60)?,
        "d" | "days" => number.checked_mul(24 * 60)?,
        "w" | "weeks" => number.checked_mul(7 * 24 * 60)?,
        _ => return None,
    };
    (minutes > 0).then(|| SignedDuration::from_mins(minutes))
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
            Threshold { column: "days_stale".into(), value: ThresholdValue::Number(30.0), critical: None, line: 10 }
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

    #[test]
    fn levels_object_and_forecast_load() {
        let text = "---\nengine: postgres\nobject: [schema_name, table_name]\nfix_policy: pg_dead_tuples\n---\n## Health Query\n```sql\nSELECT 1 AS x\n```\n## Threshold\n- xid_age: 1300000000, critical 1400000000\n- used_pct: warning 85 (critical 95)\n## Forecast\n- metric: used_mb\n- limit_column: max_mb\n- window: 3d\n";
        let check = CheckPolicy::from_document(Path::new("c.md"), &markdown::parse(text), None, &mut Vec::new())
            .expect("loads");
        assert_eq!(check.object, ["schema_name", "table_name"]);
        assert_eq!(check.fix_policy.as_deref(), Some("pg_dead_tuples"));
        assert_eq!(
            (check.thresholds[0].value.clone(), check.thresholds[0].critical),
            (ThresholdValue::Number(1.3e9), Some(1.4e9))
        );
        assert_eq!(
            (check.thresholds[1].value.clone(), check.thresholds[1].critical),
            (ThresholdValue::Number(85.0), Some(95.0))
        );
        let forecast = check.forecast.expect("a forecast");
        assert_eq!(forecast.metric, "used_mb");
        assert_eq!(forecast.limit, ForecastLimit::Column("max_mb".into()));
        assert_eq!(forecast.window, SignedDuration::from_hours(72));
        assert_eq!(forecast.critical_within, SignedDuration::from_hours(24), "node-mixin's default");
    }

    #[test]
    fn a_bad_forecast_setting_names_its_line() {
        let text = "## Health Query\n```sql\nSELECT 1 AS x\n```\n## Forecast\n- metric: used_mb\n- limit: 100\n- window: soon\n";
        let errors = CheckPolicy::from_document(Path::new("c.md"), &markdown::parse(text), None, &mut Vec::new())
            .expect_err("fails");
        assert_eq!(errors[0].line, 8, "{:?}", errors[0]);
        assert!(errors[0].message.contains("window"), "{:?}", errors[0]);
    }
}
