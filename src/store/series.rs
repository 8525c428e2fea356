//! The numbers of check runs kept as time series: one series per (database, check, object,
//! metric), recorded with the run that measured them.
//!
//! Retention is by downsampling, not by a hard cut: a run's own points are kept for a week,
//! then rolled into hourly averages, kept for ninety days, then into daily averages, kept for
//! two years. A series is named once (`check_series`) and its points are three numbers keyed by
//! it, so a fleet's millions of points stay small. Rolling happens for one (database, check) in the transaction that records its
//! run, so the work is small and bounded, and no separate job has to be scheduled. The cut-offs
//! are aligned on hour and day boundaries, so a bucket is rolled only once it is complete.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use super::{SqlContext, Store, StoreError, later};

/// One number a run measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// What the row was about (empty: the database as a whole).
    pub object: String,
    /// The column it came from.
    pub metric: String,
    pub value: f64,
}

/// One point of a series, raw or an average of `resolution` seconds of them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SeriesPoint {
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub at: Timestamp,
    pub value: f64,
    pub resolution: u32,
}

/// How long each resolution is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesRetention {
    /// A run's own points; older ones become hourly averages.
    pub raw: SignedDuration,
    /// Hourly averages; older ones become daily averages.
    pub hourly: SignedDuration,
    /// Daily averages; older ones are dropped.
    pub daily: SignedDuration,
    /// The runs themselves (`check_runs`: when, rows, findings, error); older ones are dropped.
    pub runs: SignedDuration,
}

impl Default for SeriesRetention {
    fn default() -> SeriesRetention {
        SeriesRetention {
            raw: SignedDuration::from_hours(7 * 24),
            hourly: SignedDuration::from_hours(90 * 24),
            daily: SignedDuration::from_hours(730 * 24),
            runs: SignedDuration::from_hours(90 * 24),
        }
    }
}

const HOUR: u32 = 3_600;
const DAY: u32 = 86_400;

/// `at` floored to a multiple of `seconds` since the epoch (hours and days are whole in UTC).
fn floor_to(at: Timestamp, seconds: u32) -> Timestamp {
    let seconds = i64::from(seconds);
    Timestamp::from_second(at.as_second().div_euclid(seconds) * seconds).unwrap_or(at)
}

/// The series of (database, check): the subquery every statement over one pair's points uses.
const PAIR_SERIES: &str = "SELECT id FROM check_series WHERE database = ?1 AND check_name = ?2";

/// Adds a run's `samples` of (database, check) at `at`, then rolls up and drops what
/// `retention` says is old, for that pair only. Called inside the run's own transaction.
pub(super) fn record(
    tx: &Transaction<'_>,
    database: &str,
    check: &str,
    at: Timestamp,
    samples: &[Sample],
    retention: &SeriesRetention,
) -> Result<(), StoreError> {
    let mut find = tx
        .prepare_cached(
            "SELECT id FROM check_series WHERE database = ?1 AND check_name = ?2 AND object = ?3 AND metric = ?4",
        )
        .ctx("preparing to find a check series")?;
    let mut create = tx
        .prepare_cached("INSERT INTO check_series (database, check_name, object, metric) VALUES (?1, ?2, ?3, ?4)")
        .ctx("preparing to name a check series")?;
    let mut insert = tx
        .prepare_cached("INSERT OR REPLACE INTO check_samples (series, resolution, at, value) VALUES (?1, 0, ?2, ?3)")
        .ctx("preparing to record check samples")?;
    for sample in samples.iter().filter(|sample| sample.value.is_finite()) {
        let key = params![database, check, sample.object, sample.metric];
        let id: i64 = match find.query_row(key, |row| row.get(0)).optional().ctx("finding a check series")? {
            Some(id) => id,
            None => {
                create.execute(key).ctx("naming a check series")?;
                tx.last_insert_rowid()
            }
        };
        insert.execute(params![id, at.as_millisecond(), sample.value]).ctx("recording a check sample")?;
    }
    roll_up(tx, database, check, 0, HOUR, floor_to(later(at, -retention.raw), HOUR))?;
    roll_up(tx, database, check, HOUR, DAY, floor_to(later(at, -retention.hourly), DAY))?;
    tx.execute(
        &format!("DELETE FROM check_samples WHERE series IN ({PAIR_SERIES}) AND resolution = ?3 AND at < ?4"),
        params![database, check, DAY, later(at, -retention.daily).as_millisecond()],
    )
    .ctx("dropping expired check samples")?;
    Ok(())
}

/// Replaces the points of resolution `from` older than `before` by their averages per bucket
/// of `to` seconds.
fn roll_up(
    tx: &Transaction<'_>,
    database: &str,
    check: &str,
    from: u32,
    to: u32,
    before: Timestamp,
) -> Result<(), StoreError> {
    let bucket = i64::from(to) * 1000;
    let before = before.as_millisecond();
    tx.execute(
        &format!(
            "INSERT OR REPLACE INTO check_samples (series, resolution, at, value)
             SELECT series, ?3, (at / ?6) * ?6, avg(value) FROM check_samples
             WHERE series IN ({PAIR_SERIES}) AND resolution = ?4 AND at < ?5
             GROUP BY series, at / ?6"
        ),
        params![database, check, to, from, before, bucket],
    )
    .ctx("rolling up check samples")?;
    tx.execute(
        &format!("DELETE FROM check_samples WHERE series IN ({PAIR_SERIES}) AND resolution = ?3 AND at < ?4"),
        params![database, check, from, before],
    )
    .ctx("dropping rolled-up check samples")?;
    Ok(())
}

impl Store {
    /// The points of one series at or after `since`, oldest first.
    pub fn series(
        &self,
        database: &str,
        check: &str,
        object: &str,
        metric: &str,
        since: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT s.at, s.value, s.resolution FROM check_samples s
                     JOIN check_series c ON c.id = s.series
                     WHERE c.database = ?1 AND c.check_name = ?2 AND c.object = ?3 AND c.metric = ?4 AND s.at >= ?5
                     ORDER BY s.at",
                )
                .ctx("reading a check series")?;
            let rows = statement
                .query_map(params![database, check, object, metric, since.as_millisecond()], |row| {
                    Ok((row.get::<_, i64>(0)?, row.get::<_, f64>(1)?, row.get::<_, u32>(2)?))
                })
                .ctx("reading a check series")?;
            rows.map(|row| {
                let (at, value, resolution) = row.ctx("reading a check sample")?;
                let at = Timestamp::from_millisecond(at).map_err(|source| StoreError::InvalidTimestamp {
                    value: format!("{at} ms in check_samples ({database}/{check}/{object}/{metric})"),
                    source,
                })?;
                Ok(SeriesPoint { at, value, resolution })
            })
            .collect()
        })
    }

    /// Every (object, metric) with points for (database, check), in name order.
    pub fn series_keys(&self, database: &str, check: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare_cached(
                    "SELECT object, metric FROM check_series c
                     WHERE database = ?1 AND check_name = ?2
                       AND EXISTS (SELECT 1 FROM check_samples s WHERE s.series = c.id)
                     ORDER BY object, metric",
                )
                .ctx("listing check series")?;
            let rows = statement
                .query_map(params![database, check], |row| Ok((row.get(0)?, row.get(1)?)))
                .ctx("listing check series")?;
            rows.map(|row| row.ctx("reading a check series key")).collect()
        })
    }

    /// How many points the store holds, all series together (for the scale bench and `stats`).
    pub fn sample_count(&self) -> Result<u64, StoreError> {
        self.read(|conn| {
            let count: i64 =
                conn.query_row("SELECT count(*) FROM check_samples", [], |row| row.get(0)).ctx("counting samples")?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewCheckRun;
    use crate::store::testing;

    fn sample(object: &str, value: f64) -> Sample {
        Sample { object: object.into(), metric: "used_mb".into(), value }
    }

    fn run_at(store: &Store, at: Timestamp, samples: Vec<Sample>) {
        let run = NewCheckRun {
            database: "db1".into(),
            check: "ts".into(),
            started_at: at,
            finished_at: at,
            error: None,
            rows: samples.len() as u64,
            findings: 0,
            samples,
        };
        store.finish_check_run("nobody", &run, at, &SeriesRetention::default()).unwrap();
    }

    #[test]
    fn points_are_kept_raw_for_a_week_then_hourly_then_daily_then_dropped() {
        let (store, _clock) = testing::store();
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        // Every 15 minutes for 100 days: 9,600 runs of two objects, the value the hour count.
        for quarter in 0..(100 * 24 * 4) {
            let at = start.checked_add(SignedDuration::from_mins(15 * quarter)).unwrap();
            let hour = (quarter / 4) as f64;
            run_at(&store, at, vec![sample("USERS", hour), sample("DATA", 1.0)]);
        }
        let end = start.checked_add(SignedDuration::from_mins(15 * (100 * 24 * 4 - 1))).unwrap();
        let points = store.series("db1", "ts", "USERS", "used_mb", Timestamp::MIN).unwrap();
        let by = |resolution| points.iter().filter(|p| p.resolution == resolution).count();
        // The last run is at 23:45 on day 99. Cut-offs are aligned: raw points from 23:00 a week
        // before, hourly ones from midnight ninety days before (day 9), daily before that.
        assert_eq!(by(0), 7 * 24 * 4 + 4, "a week of raw points, and the hour it began in");
        assert_eq!(by(HOUR), (92 - 9) * 24 + 23, "hourly for the rest of ninety days");
        assert_eq!(by(DAY), 9, "daily for days 0 to 8");
        assert!(points.windows(2).all(|w| w[0].at < w[1].at), "oldest first, no bucket twice");
        let hourly = points.iter().find(|p| p.resolution == HOUR).unwrap();
        let hour_index = hourly.at.duration_since(start).as_hours() as f64;
        assert_eq!(hourly.value, hour_index, "an hour's average of its own four points");
        assert!(points.last().unwrap().at == end);
        assert_eq!(store.series_keys("db1", "ts").unwrap().len(), 2);

        // Two years on, only the daily points of the last two years remain.
        let later_run = start.checked_add(SignedDuration::from_hours(24 * 740)).unwrap();
        run_at(&store, later_run, vec![sample("USERS", 1.0)]);
        let points = store.series("db1", "ts", "USERS", "used_mb", Timestamp::MIN).unwrap();
        assert!(points.iter().all(|p| p.at >= later(later_run, -SignedDuration::from_hours(730 * 24))));
        assert!(points.iter().filter(|p| p.resolution == DAY).count() > 80);
        let runs = store.check_runs("db1", "ts", None).unwrap();
        assert_eq!(runs.len(), 1, "the runs themselves are kept 90 days");
    }

    #[test]
    fn a_series_is_read_from_a_time_on() {
        let (store, _clock) = testing::store();
        let start: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
        for minute in 0..10 {
            run_at(
                &store,
                start.checked_add(SignedDuration::from_mins(minute)).unwrap(),
                vec![sample("A", minute as f64)],
            );
        }
        let since = start.checked_add(SignedDuration::from_mins(7)).unwrap();
        let values: Vec<f64> =
            store.series("db1", "ts", "A", "used_mb", since).unwrap().iter().map(|p| p.value).collect();
        assert_eq!(values, [7.0, 8.0, 9.0]);
        assert_eq!(store.sample_count().unwrap(), 10);
    }
}
