//! A check's history on one database, as people read it: every series it keeps, and for the
//! forecast metric the forecast made from the stored points. `sentri checks history` prints it
//! and the console's Databases view draws it.

use jiff::Timestamp;
use serde::Serialize;

use super::forecast::{Forecast, forecast};
use crate::policy::CheckPolicy;
use crate::policy::check::ForecastLimit;
use crate::store::{CheckRunRow, SeriesPoint, Store, StoreError};

/// One series and, for the forecast metric, where it is heading.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeriesHistory {
    pub object: String,
    pub metric: String,
    pub points: Vec<SeriesPoint>,
    /// Set for the check's forecast metric when its points grow towards a known limit.
    pub forecast: Option<Forecast>,
}

/// Everything kept about a check on a database.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub check: String,
    pub database: String,
    pub series: Vec<SeriesHistory>,
    /// The latest runs, newest first.
    pub runs: Vec<CheckRunRow>,
}

impl History {
    /// The series with the soonest forecast full, if any is forecast at all.
    pub fn most_urgent(&self) -> Option<&SeriesHistory> {
        self.series.iter().filter(|series| series.forecast.is_some()).min_by(|a, b| days(a).total_cmp(&days(b)))
    }
}

/// The last `width` values of a series drawn as block characters, lowest to highest: the trend
/// line of `sentri checks history` and the console's Databases view.
pub fn sparkline(values: &[f64], width: usize) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let tail = &values[values.len().saturating_sub(width)..];
    let (low, high) =
        tail.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), v| (low.min(*v), high.max(*v)));
    tail.iter()
        .map(|value| {
            let share = if high > low { (value - low) / (high - low) } else { 0.5 };
            BARS[((share * 7.0).round() as usize).min(7)]
        })
        .collect()
}

fn days(series: &SeriesHistory) -> f64 {
    series.forecast.as_ref().map_or(f64::INFINITY, |forecast| forecast.days_to_full)
}

/// The history of `check` on `database`, with its last `runs` runs.
pub fn history(store: &Store, check: &CheckPolicy, database: &str, runs: usize) -> Result<History, StoreError> {
    let keys = store.series_keys(database, &check.name)?;
    let mut series = Vec::with_capacity(keys.len());
    for (object, metric) in &keys {
        let points = store.series(database, &check.name, object, metric, Timestamp::MIN)?;
        series.push(SeriesHistory { object: object.clone(), metric: metric.clone(), points, forecast: None });
    }
    if let Some(spec) = &check.forecast {
        let limits: Vec<(String, Option<f64>)> = series
            .iter()
            .filter(|entry| entry.metric == spec.metric)
            .map(|entry| {
                let limit = match &spec.limit {
                    ForecastLimit::Fixed(limit) => Some(*limit),
                    ForecastLimit::Column(column) => series
                        .iter()
                        .find(|other| other.object == entry.object && other.metric == *column)
                        .and_then(|other| other.points.last())
                        .map(|point| point.value),
                };
                (entry.object.clone(), limit)
            })
            .collect();
        for entry in series.iter_mut().filter(|entry| entry.metric == spec.metric) {
            let limit = limits.iter().find(|(object, _)| *object == entry.object).and_then(|(_, limit)| *limit);
            entry.forecast = limit.and_then(|limit| forecast(spec, &entry.object, &entry.points, limit));
        }
    }
    Ok(History {
        check: check.name.clone(),
        database: database.to_owned(),
        series,
        runs: store.check_runs(database, &check.name, Some(runs))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sparkline_spans_its_lowest_to_highest_value_and_keeps_the_tail() {
        assert_eq!(sparkline(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], 8), "▁▂▃▄▅▆▇█");
        assert_eq!(sparkline(&[0.0, 1.0, 5.0, 5.0], 2), "▅▅", "flat: the middle bar");
        assert_eq!(sparkline(&[], 4), "");
    }
}
