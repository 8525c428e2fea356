//! The counts the Prometheus metrics read from the store at scrape time: what the store already
//! records (every alert and its outcome, every workflow's state, the outbox, check runs, model
//! calls, profiles) is counted where it is kept, so a restart loses none of it and the
//! engine keeps no second copy.

use jiff::Timestamp;

use super::{SqlContext, Store, StoreError, parse_timestamp};

/// One scrape's worth of counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    /// Alert emails stored, by outcome (`None`: not handled yet).
    pub alerts_by_outcome: Vec<(Option<String>, u64)>,
    /// Alert emails a policy matched (opened or folded into a workflow), by alert type.
    pub matched_by_type: Vec<(String, u64)>,
    /// When the newest alert email was stored.
    pub last_alert_stored_at: Option<Timestamp>,
    /// Workflows by state (the stored spelling).
    pub workflows_by_state: Vec<(String, u64)>,
    /// Outbox messages still to send (queued or retrying).
    pub outbox_pending: u64,
    /// When the oldest of those was queued.
    pub outbox_oldest_at: Option<Timestamp>,
    /// Outbox messages given up on.
    pub outbox_gave_up: u64,
    /// Each profiled database and when it was profiled.
    pub profiles: Vec<(String, Option<Timestamp>)>,
    /// Check runs by database, check and whether they failed: runs and findings.
    pub check_runs: Vec<CheckRunCount>,
    /// Model calls by provider, model and whether they failed: calls, tokens and dollars.
    pub model_calls: Vec<ModelCallCount>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckRunCount {
    pub database: String,
    pub check: String,
    pub failed: bool,
    pub runs: u64,
    pub findings: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelCallCount {
    pub provider: String,
    pub model: String,
    pub failed: bool,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// A time the store wrote; an unreadable one counts as absent rather than failing a scrape.
fn time(text: Option<String>) -> Option<Timestamp> {
    text.and_then(|text| parse_timestamp(&text).ok())
}

/// Rows of a grouping query, each mapped by `map`.
fn rows<T>(
    conn: &rusqlite::Connection,
    sql: &str,
    map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let context = "counting for the metrics";
    let mut statement = conn.prepare(sql).ctx(context)?;
    let rows = statement.query_map([], map).ctx(context)?.collect::<Result<_, _>>().ctx(context)?;
    Ok(rows)
}

impl Store {
    /// The counts the metrics expose, read in one go.
    pub fn metrics_snapshot(&self) -> Result<MetricsSnapshot, StoreError> {
        self.read(|conn| {
            let context = "counting for the metrics";
            let pair = |row: &rusqlite::Row<'_>| Ok((row.get::<_, String>(0)?, count(row.get(1)?)));
            let (outbox_pending, oldest): (i64, Option<String>) = conn
                .query_row(
                    "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE next_attempt_at IS NOT NULL",
                    [],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .ctx(context)?;
            Ok(MetricsSnapshot {
                alerts_by_outcome: rows(
                    conn,
                    "SELECT outcome, COUNT(*) FROM raw_alerts GROUP BY outcome ORDER BY outcome",
                    |row| Ok((row.get::<_, Option<String>>(0)?, count(row.get(1)?))),
                )?,
                matched_by_type: rows(
                    conn,
                    "SELECT alert_type, COUNT(*) FROM raw_alerts
                     WHERE outcome IN ('workflow', 'folded') AND alert_type IS NOT NULL
                     GROUP BY alert_type ORDER BY alert_type",
                    pair,
                )?,
                last_alert_stored_at: time(
                    conn.query_row("SELECT MAX(stored_at) FROM raw_alerts", [], |row| row.get(0)).ctx(context)?,
                ),
                workflows_by_state: rows(
                    conn,
                    "SELECT state, COUNT(*) FROM workflows GROUP BY state ORDER BY state",
                    pair,
                )?,
                outbox_pending: count(outbox_pending),
                outbox_oldest_at: time(oldest),
                outbox_gave_up: count(
                    conn.query_row("SELECT COUNT(*) FROM outbox WHERE gave_up_at IS NOT NULL", [], |row| row.get(0))
                        .ctx(context)?,
                ),
                profiles: rows(conn, "SELECT database, profiled_at FROM db_profiles ORDER BY database", |row| {
                    Ok((row.get::<_, String>(0)?, time(row.get(1)?)))
                })?,
                check_runs: rows(
                    conn,
                    "SELECT database, check_name, error IS NOT NULL, COUNT(*), COALESCE(SUM(findings), 0)
                     FROM check_runs GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                    |row| {
                        Ok(CheckRunCount {
                            database: row.get(0)?,
                            check: row.get(1)?,
                            failed: row.get(2)?,
                            runs: count(row.get(3)?),
                            findings: count(row.get(4)?),
                        })
                    },
                )?,
                model_calls: rows(
                    conn,
                    "SELECT provider, model, error IS NOT NULL, COUNT(*), COALESCE(SUM(input_tokens), 0),
                            COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_usd), 0.0)
                     FROM model_calls GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                    |row| {
                        Ok(ModelCallCount {
                            provider: row.get(0)?,
                            model: row.get(1)?,
                            failed: row.get(2)?,
                            calls: count(row.get(3)?),
                            input_tokens: count(row.get(4)?),
                            output_tokens: count(row.get(5)?),
                            cost_usd: row.get(6)?,
                        })
                    },
                )?,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[test]
    fn an_empty_store_counts_nothing_and_a_stored_alert_counts_once() {
        let store = Store::open_in_memory().expect("store");
        let empty = store.metrics_snapshot().expect("snapshot");
        assert!(empty.alerts_by_outcome.is_empty() && empty.workflows_by_state.is_empty());
        assert_eq!((empty.outbox_pending, empty.outbox_oldest_at), (0, None));
        let raw = crate::domain::RawAlert::from_rfc822(
            b"Message-ID: <m1@x>\r\nFrom: a@b\r\nSubject: s\r\n\r\nbody",
            "2026-12-01T00:00:00Z".into(),
        );
        store.insert_raw_alert(&raw).expect("insert");
        let snapshot = store.metrics_snapshot().expect("snapshot");
        assert_eq!(snapshot.alerts_by_outcome, vec![(None, 1)]);
        assert!(snapshot.last_alert_stored_at.is_some());
    }

    #[test]
    fn check_runs_are_counted_per_database_check_and_result_with_their_findings() {
        let store = Store::open_in_memory().expect("store");
        let at = store.now();
        let run = |error: Option<&str>, findings| crate::store::NewCheckRun {
            database: "app".into(),
            check: "bloat".into(),
            started_at: at,
            finished_at: at,
            error: error.map(str::to_owned),
            rows: findings,
            findings,
            samples: Vec::new(),
        };
        for new in [run(None, 2), run(None, 3), run(Some("timed out"), 0)] {
            store.finish_check_run("nobody", &new, at, &crate::store::SeriesRetention::default()).expect("record");
        }
        let runs = store.metrics_snapshot().expect("snapshot").check_runs;
        let summary: Vec<(bool, u64, u64)> = runs.iter().map(|r| (r.failed, r.runs, r.findings)).collect();
        assert_eq!(summary, [(false, 2, 5), (true, 1, 0)]);
    }
}
