//! When a growing series reaches its limit: a least-squares line over the check's window, the
//! way node-mixin uses Prometheus' `predict_linear`, with a 95 % interval from the slope's
//! standard error, so a DBA reads "full in 3.2 ± 0.4 days" and knows how sure it is.
//!
//! Pure arithmetic over points, tested without a store or a clock.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::findings::Finding;
use super::samples::MeasuredRow;
use crate::policy::check::{ForecastLimit, ForecastSpec};
use crate::policy::condition::parse_number;
use crate::policy::{CheckPolicy, Severity};
use crate::store::SeriesPoint;

const SECONDS_PER_DAY: f64 = 86_400.0;

/// A straight line through the points: `value = intercept + slope × seconds`, seconds counted
/// from the first point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// Units per second.
    pub slope: f64,
    pub intercept: f64,
    /// The slope's standard error (0 for points exactly on a line).
    pub slope_error: f64,
    pub points: usize,
}

/// Least squares over `(seconds, value)`. None below three points (no error can be estimated
/// from two) or when they are all at one time.
pub fn fit(points: &[(f64, f64)]) -> Option<Fit> {
    let n = points.len();
    if n < 3 {
        return None;
    }
    let count = n as f64;
    let mean_x = points.iter().map(|(x, _)| x).sum::<f64>() / count;
    let mean_y = points.iter().map(|(_, y)| y).sum::<f64>() / count;
    let sxx: f64 = points.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    if sxx <= 0.0 || !sxx.is_finite() {
        return None;
    }
    let sxy: f64 = points.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let residuals: f64 = points.iter().map(|(x, y)| (y - intercept - slope * x).powi(2)).sum();
    let slope_error = (residuals / (count - 2.0) / sxx).sqrt();
    Some(Fit { slope, intercept, slope_error, points: n })
}

/// Student's t for a two-sided 95 % interval with `freedom` degrees of freedom.
fn t_95(freedom: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match freedom {
        0 => f64::INFINITY,
        1..=30 => TABLE[freedom - 1],
        31..=60 => 2.00,
        61..=120 => 1.98,
        _ => 1.96,
    }
}

/// How urgent a forecast is, by the check's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    /// Full within `critical_within` with less than `critical_free_pct` free now.
    Critical,
    /// Full within `warning_within`.
    Warning,
}

/// One series' forecast.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Forecast {
    pub object: String,
    pub metric: String,
    /// The latest value measured.
    pub current: f64,
    pub limit: f64,
    /// Growth, in the metric's units per day.
    pub per_day: f64,
    /// When the line reaches the limit, from the latest point (0 when already there).
    pub days_to_full: f64,
    /// The 95 % interval of `days_to_full`; `days_high` is None when the slower end of the
    /// slope's interval does not grow at all.
    pub days_low: f64,
    pub days_high: Option<f64>,
    /// Share of the limit still free now, in percent.
    pub free_pct: f64,
    pub points: usize,
    pub urgency: Option<Urgency>,
}

impl Forecast {
    /// "3.2 ± 0.4 days": the interval's half-width, or "3.2 days (at the slowest rate, never)"
    /// when its slow end is unbounded.
    pub fn days_text(&self) -> String {
        // Two decimals under ten days: "0.21 days" is five hours, "0.2" could be seven.
        let places = if self.days_to_full < 10.0 { 2 } else { 1 };
        match self.days_high {
            Some(high) => {
                format!("{:.places$} ± {:.places$} days", self.days_to_full, (high - self.days_low) / 2.0)
            }
            None => format!("{:.places$} days (at the slowest rate, never)", self.days_to_full),
        }
    }
}

/// The forecast of one series towards `limit` by `spec`, from the points inside its window
/// ending at the latest point. None when there are too few points or the series is not
/// growing.
pub fn forecast(spec: &ForecastSpec, object: &str, points: &[SeriesPoint], limit: f64) -> Option<Forecast> {
    let last = points.last()?;
    let since = last.at.checked_sub(spec.window).unwrap_or(Timestamp::MIN);
    let window: Vec<&SeriesPoint> = points.iter().filter(|point| point.at >= since).collect();
    let origin = window.first()?.at;
    let xy: Vec<(f64, f64)> =
        window.iter().map(|point| (point.at.duration_since(origin).as_secs_f64(), point.value)).collect();
    let line = fit(&xy)?;
    if line.slope <= 0.0 || !limit.is_finite() || limit <= 0.0 {
        return None;
    }
    let current = last.value;
    let headroom = (limit - current).max(0.0);
    let days = |slope: f64| headroom / slope / SECONDS_PER_DAY;
    let margin = t_95(line.points - 2) * line.slope_error;
    let days_to_full = days(line.slope);
    let days_low = days(line.slope + margin);
    let days_high = (line.slope - margin > 0.0).then(|| days(line.slope - margin));
    let free_pct = headroom / limit * 100.0;
    let within = |span: SignedDuration| days_to_full <= span.as_secs_f64() / SECONDS_PER_DAY;
    let urgency = if within(spec.critical_within) && free_pct < spec.critical_free_pct {
        Some(Urgency::Critical)
    } else if within(spec.warning_within) {
        Some(Urgency::Warning)
    } else {
        None
    };
    Some(Forecast {
        object: object.to_owned(),
        metric: spec.metric.clone(),
        current,
        limit,
        per_day: line.slope * SECONDS_PER_DAY,
        days_to_full,
        days_low,
        days_high,
        free_pct,
        points: line.points,
        urgency,
    })
}

/// `findings` with the forecasts of `measured` rows added: for each object whose series (read
/// by `series_of`) is urgent, its threshold finding gets the forecast (and CRITICAL when the
/// forecast is), or a finding of its own is added. A check without `## Forecast` is left as is.
pub fn with_forecasts(
    check: &CheckPolicy,
    database: &str,
    mut findings: Vec<Finding>,
    measured: &[MeasuredRow],
    mut series_of: impl FnMut(&str) -> Vec<SeriesPoint>,
) -> Vec<Finding> {
    let Some(spec) = &check.forecast else { return findings };
    for measured in measured {
        let limit = match &spec.limit {
            ForecastLimit::Fixed(limit) => Some(*limit),
            ForecastLimit::Column(column) => measured.row.get(column).and_then(|value| parse_number(value)),
        };
        let Some(limit) = limit else { continue };
        let Some(forecast) = forecast(spec, &measured.object, &series_of(&measured.object), limit) else { continue };
        let Some(urgency) = forecast.urgency else { continue };
        let severity = if urgency == Urgency::Critical { Severity::Critical } else { check.severity };
        match findings.iter_mut().find(|finding| finding.object == measured.object) {
            Some(finding) => {
                finding.severity = finding.severity.max(severity);
                finding.forecast = Some(forecast);
            }
            None => findings.push(Finding {
                database: database.to_owned(),
                check: check.name.clone(),
                object: measured.object.clone(),
                severity,
                row: measured.row.clone(),
                over: Vec::new(),
                forecast: Some(forecast),
            }),
        }
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ForecastSpec {
        ForecastSpec {
            metric: "used_mb".into(),
            limit: ForecastLimit::Fixed(1000.0),
            window: SignedDuration::from_hours(7 * 24),
            critical_within: SignedDuration::from_hours(24),
            critical_free_pct: 20.0,
            warning_within: SignedDuration::from_hours(7 * 24),
            line: 1,
        }
    }

    fn series(values: &[(i64, f64)]) -> Vec<SeriesPoint> {
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        values
            .iter()
            .map(|(hours, value)| SeriesPoint {
                at: start.checked_add(SignedDuration::from_hours(*hours)).unwrap(),
                value: *value,
                resolution: 0,
            })
            .collect()
    }

    #[test]
    fn a_line_is_fitted_exactly_and_its_error_is_zero() {
        let line = fit(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]).unwrap();
        assert_eq!((line.slope, line.intercept, line.slope_error), (2.0, 1.0, 0.0));
        assert!(fit(&[(0.0, 1.0), (1.0, 3.0)]).is_none(), "two points estimate no error");
        assert!(fit(&[(5.0, 1.0), (5.0, 3.0), (5.0, 4.0)]).is_none(), "all at one time");
    }

    #[test]
    fn steady_growth_reaches_the_limit_on_time() {
        // 10 MB an hour from 500: 1000 is 50 hours after the start, 26 after the last point.
        let points = series(&(0..=24).map(|h| (h, 500.0 + 10.0 * h as f64)).collect::<Vec<_>>());
        let forecast = forecast(&spec(), "USERS", &points, 1000.0).unwrap();
        assert!((forecast.days_to_full - 26.0 / 24.0).abs() < 1e-9, "{forecast:?}");
        assert!((forecast.per_day - 240.0).abs() < 1e-9);
        assert_eq!(forecast.days_high, Some(forecast.days_to_full), "no noise, no width");
        assert_eq!(forecast.urgency, Some(Urgency::Warning), "26 h away is a warning, not critical");
        assert!((forecast.free_pct - 26.0).abs() < 1e-9);
    }

    #[test]
    fn full_within_a_day_with_little_free_is_critical() {
        let points = series(&(0..=10).map(|h| (h, 850.0 + 10.0 * h as f64)).collect::<Vec<_>>());
        let forecast = forecast(&spec(), "USERS", &points, 1000.0).unwrap();
        assert_eq!(forecast.urgency, Some(Urgency::Critical), "{forecast:?}");
        assert_eq!(forecast.days_text(), "0.21 ± 0.00 days");
    }

    #[test]
    fn noise_widens_the_interval_around_the_estimate() {
        let noisy: Vec<(i64, f64)> =
            (0..=48).map(|h| (h, 100.0 + 5.0 * h as f64 + if h % 2 == 0 { 20.0 } else { -20.0 })).collect();
        let forecast = forecast(&spec(), "USERS", &series(&noisy), 1000.0).unwrap();
        let high = forecast.days_high.expect("the slope is surely positive");
        assert!(forecast.days_low < forecast.days_to_full && forecast.days_to_full < high, "{forecast:?}");
        assert!(forecast.days_text().contains('±'));
    }

    #[test]
    fn a_flat_or_shrinking_series_has_no_forecast_and_old_points_are_outside_the_window() {
        let flat = series(&[(0, 5.0), (1, 5.0), (2, 5.0)]);
        assert!(forecast(&spec(), "X", &flat, 100.0).is_none());
        // Fast growth two weeks ago, flat since: the window sees only the flat week.
        let mut points: Vec<(i64, f64)> = (0..24).map(|h| (h, h as f64 * 30.0)).collect();
        points.extend((14 * 24..21 * 24).map(|h| (h, 700.0)));
        assert!(forecast(&spec(), "X", &series(&points), 1000.0).is_none());
    }
}
