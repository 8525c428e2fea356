//! A check's rows turned into findings: a row whose column is strictly above its threshold.
//!
//! A plain function over the rows, so what counts as a finding is tested without a database.
//! Only numeric thresholds judge rows; a text one (`exclude: "SYS"`) is a setting the health
//! query reads, not a comparison.

use std::collections::BTreeMap;

use serde::Serialize;

use super::forecast::Forecast;
use crate::policy::CheckPolicy;
use crate::policy::Severity;
use crate::policy::check::ThresholdValue;
use crate::policy::condition::parse_number;
use crate::targets::{Rows, Value};

/// One row over threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub database: String,
    pub check: String,
    /// What the row is about: its `object:` columns joined with `.`, or empty for the
    /// database as a whole.
    pub object: String,
    /// The check's severity, or CRITICAL when a value is over its `critical` level.
    pub severity: Severity,
    /// The row as text (NULLs left out): the evidence, and the object it is about.
    pub row: BTreeMap<String, String>,
    /// Every threshold the row is over (none for a finding that is only a forecast).
    pub over: Vec<Exceeded>,
    /// When the object's series reaches its limit, if the check forecasts and it is urgent.
    pub forecast: Option<Forecast>,
}

/// One column strictly above its threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Exceeded {
    pub column: String,
    pub value: f64,
    pub threshold: f64,
    /// Over the threshold's `critical` level too.
    pub critical: bool,
}

/// The findings in `rows` for `check` on `database`: each row over at least one numeric
/// threshold, in the query's order. A column the query did not return, a NULL, or a value that
/// is not a number judges nothing.
pub fn findings(database: &str, check: &CheckPolicy, rows: &Rows) -> Vec<Finding> {
    let numeric: Vec<(&str, f64, Option<f64>)> = check
        .thresholds
        .iter()
        .filter_map(|threshold| match threshold.value {
            ThresholdValue::Number(limit) => Some((threshold.column.as_str(), limit, threshold.critical)),
            ThresholdValue::Text(_) => None,
        })
        .collect();
    (0..rows.rows.len())
        .filter_map(|index| {
            let over: Vec<Exceeded> = numeric
                .iter()
                .filter_map(|(column, threshold, critical)| {
                    let value = parse_number(&rows.get(index, column)?.as_text()?)?;
                    (value > *threshold).then(|| Exceeded {
                        column: (*column).to_owned(),
                        value,
                        threshold: *threshold,
                        critical: critical.is_some_and(|critical| value > critical),
                    })
                })
                .collect();
            if over.is_empty() {
                return None;
            }
            let row = row_text(&rows.columns, &rows.rows[index]);
            let severity =
                if over.iter().any(|exceeded| exceeded.critical) { Severity::Critical } else { check.severity };
            Some(Finding {
                database: database.to_owned(),
                check: check.name.clone(),
                object: object_of(check, &row),
                severity,
                row,
                over,
                forecast: None,
            })
        })
        .collect()
}

/// One row as text, by lower-case column name (NULLs left out): Oracle names columns in upper
/// case, the policies in lower.
pub fn row_text(columns: &[String], values: &[Value]) -> BTreeMap<String, String> {
    columns.iter().zip(values).filter_map(|(column, value)| Some((column.to_lowercase(), value.as_text()?))).collect()
}

/// The object a row is about: its `object:` columns' values joined with `.` (a NULL one left
/// out), so one table's series and findings keep one key from run to run.
pub fn object_of(check: &CheckPolicy, row: &BTreeMap<String, String>) -> String {
    check.object.iter().filter_map(|column| row.get(column).map(String::as_str)).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;
    use crate::targets::Value;
    use std::path::Path;

    fn check() -> CheckPolicy {
        let text = "---\nengine: postgres\nseverity: LOW\nobject: t\n---\n## Health Query\n```sql\nSELECT t, pct, age FROM x\n```\n## Threshold\n- pct: 50, critical 90\n- age: 100\n- exclude: \"SYS\"\n";
        CheckPolicy::from_document(Path::new("checks/postgres/c.md"), &markdown::parse(text), None, &mut Vec::new())
            .expect("loads")
    }

    #[test]
    fn a_row_strictly_above_any_threshold_is_a_finding() {
        let rows = Rows {
            columns: vec!["t".into(), "pct".into(), "age".into()],
            rows: vec![
                vec![Value::Text("a".into()), Value::Decimal("50.0".into()), Value::Int(100)],
                vec![Value::Text("b".into()), Value::Decimal("50.1".into()), Value::Int(7)],
                vec![Value::Text("c".into()), Value::Null, Value::Int(101)],
                vec![Value::Text("d".into()), Value::Text("n/a".into()), Value::Float(3.0)],
            ],
        };
        let found = findings("db1", &check(), &rows);
        let tables: Vec<_> = found.iter().map(|f| f.row["t"].as_str()).collect();
        assert_eq!(tables, ["b", "c"], "equal is not over; NULL and text judge nothing");
        assert_eq!(
            found[0].over,
            vec![Exceeded { column: "pct".into(), value: 50.1, threshold: 50.0, critical: false }]
        );
        assert!(!found[1].row.contains_key("pct"));
        assert_eq!((found[1].database.as_str(), found[1].check.as_str()), ("db1", "c"));
        assert_eq!((found[0].object.as_str(), found[0].severity), ("b", Severity::Low));
    }

    #[test]
    fn a_value_over_its_critical_level_makes_the_finding_critical() {
        let rows = Rows {
            columns: vec!["t".into(), "pct".into()],
            rows: vec![vec![Value::Text("a".into()), Value::Int(90)], vec![Value::Text("b".into()), Value::Int(91)]],
        };
        let found = findings("db1", &check(), &rows);
        let severities: Vec<_> = found.iter().map(|f| (f.object.as_str(), f.severity)).collect();
        assert_eq!(severities, [("a", Severity::Low), ("b", Severity::Critical)], "critical is strictly over too");
    }
}
