//! What a run measured, as points of time series: for each row (its object), the numbers the
//! check judges or forecasts — its numeric thresholds' columns, the forecast's metric and
//! limit column.
//!
//! Only those columns are kept, not every number a row has: a fleet of 500 databases with ten
//! checks each would otherwise store hundreds of series nobody reads (sizes printed twice,
//! counters kept for context), and the store's growth per day is a figure the scale bench
//! reports.

use std::collections::BTreeMap;

use super::findings::{object_of, row_text};
use crate::policy::CheckPolicy;
use crate::policy::check::{ForecastLimit, ThresholdValue};
use crate::policy::condition::parse_number;
use crate::store::Sample;
use crate::targets::Rows;

/// At most this many objects of one run are kept as series (the query's first ones: checks
/// order their rows worst first).
pub const MAX_OBJECTS: usize = 200;

/// A row of a run, as text, with the object it is about.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredRow {
    pub object: String,
    pub row: BTreeMap<String, String>,
}

/// The columns of `check` whose values become series.
pub fn series_columns(check: &CheckPolicy) -> Vec<&str> {
    let mut columns: Vec<&str> = check
        .thresholds
        .iter()
        .filter(|threshold| matches!(threshold.value, ThresholdValue::Number(_)))
        .map(|threshold| threshold.column.as_str())
        .collect();
    if let Some(spec) = &check.forecast {
        columns.push(&spec.metric);
        if let ForecastLimit::Column(limit) = &spec.limit {
            columns.push(limit);
        }
    }
    columns.sort_unstable();
    columns.dedup();
    columns
}

/// The rows of a run as text with their objects, the first [`MAX_OBJECTS`] distinct objects.
pub fn measured_rows(check: &CheckPolicy, rows: &Rows) -> Vec<MeasuredRow> {
    let mut seen = std::collections::HashSet::new();
    rows.rows
        .iter()
        .map(|values| {
            let row = row_text(&rows.columns, values);
            MeasuredRow { object: object_of(check, &row), row }
        })
        .filter(|measured| seen.insert(measured.object.clone()))
        .take(MAX_OBJECTS)
        .collect()
}

/// The samples of `measured`: one per (object, series column) with a numeric value.
pub fn samples(check: &CheckPolicy, measured: &[MeasuredRow]) -> Vec<Sample> {
    let columns = series_columns(check);
    measured
        .iter()
        .flat_map(|measured| {
            columns.iter().filter_map(|column| {
                let value = parse_number(measured.row.get(*column)?)?;
                Some(Sample { object: measured.object.clone(), metric: (*column).to_owned(), value })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;
    use crate::targets::Value;
    use std::path::Path;

    #[test]
    fn thresholds_and_the_forecast_become_series_per_object() {
        let text = "---\nengine: postgres\nobject: name\n---\n## Health Query\n```sql\nSELECT 1 AS x\n```\n## Threshold\n- used_pct: 85\n- exclude: \"SYS\"\n## Forecast\n- metric: used_mb\n- limit_column: max_mb\n";
        let check = CheckPolicy::from_document(Path::new("c.md"), &markdown::parse(text), None, &mut Vec::new())
            .expect("loads");
        assert_eq!(series_columns(&check), ["max_mb", "used_mb", "used_pct"]);
        let rows = Rows {
            columns: vec!["NAME".into(), "used_pct".into(), "used_mb".into(), "max_mb".into(), "files".into()],
            rows: vec![
                vec![
                    Value::Text("USERS".into()),
                    Value::Decimal("91.5".into()),
                    Value::Int(915),
                    Value::Int(1000),
                    Value::Int(3),
                ],
                vec![Value::Text("USERS".into()), Value::Int(1), Value::Int(1), Value::Int(1), Value::Int(1)],
                vec![Value::Text("DATA".into()), Value::Null, Value::Int(10), Value::Int(1000), Value::Int(1)],
            ],
        };
        let measured = measured_rows(&check, &rows);
        assert_eq!(measured.len(), 2, "an object counts once, its first row");
        let samples = samples(&check, &measured);
        let got: Vec<(&str, &str, f64)> =
            samples.iter().map(|s| (s.object.as_str(), s.metric.as_str(), s.value)).collect();
        assert_eq!(
            got,
            [
                ("USERS", "max_mb", 1000.0),
                ("USERS", "used_mb", 915.0),
                ("USERS", "used_pct", 91.5),
                ("DATA", "max_mb", 1000.0),
                ("DATA", "used_mb", 10.0),
            ],
            "no series for `files`, nothing for a NULL"
        );
    }
}
