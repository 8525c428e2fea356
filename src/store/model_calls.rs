//! The ledger of language-model calls: one row per call, whoever made it (the engine's
//! diagnosis, `sentri diagnose --llm`, a judge), and one audit row beside it, in the same
//! transaction. The daily cost limit reads today's sum; `sentri stats` reads spend per day.

use super::audit::{NewAudit, append_audit};
use super::{SqlContext, Store, StoreError, timestamp_text};
use crate::domain::ModelCall;

/// The audit action of one model call.
pub const MODEL_CALL: &str = "MODEL_CALL";

/// Spend of one UTC day.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DaySpend {
    /// `YYYY-MM-DD`.
    pub day: String,
    pub calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
}

/// Where a call was made, for its rows.
#[derive(Debug, Clone, Default)]
pub struct CallSite {
    pub workflow_id: Option<String>,
    pub database: Option<String>,
    pub environment: Option<String>,
    /// `engine`, `cli:<user>`.
    pub actor: String,
}

/// The store as the model's ledger, for calls made at `site`. A write that fails is logged,
/// never the diagnosis' failure; a sum that cannot be read counts as the limit reached, so
/// spending fails closed.
pub struct StoreLedger<'a> {
    pub store: &'a Store,
    pub site: CallSite,
}

impl crate::llm::Ledger for StoreLedger<'_> {
    fn spent_today(&self) -> f64 {
        self.store.model_spend_today().unwrap_or_else(|error| {
            tracing::warn!(%error, "cannot read today's model spend; no model call is made");
            f64::INFINITY
        })
    }

    fn record(&self, call: &ModelCall) {
        if let Err(error) = self.store.record_model_call(&self.site, call) {
            tracing::warn!(%error, provider = %call.provider, "a model call could not be recorded");
        }
    }
}

impl Store {
    /// Records `call` made at `site`, with its audit row.
    pub fn record_model_call(&self, site: &CallSite, call: &ModelCall) -> Result<(), StoreError> {
        let tools = serde_json::to_string(&call.tools).unwrap_or_else(|_| "[]".into());
        self.write(|tx, now| {
            let at = timestamp_text(now);
            let day = at.get(..10).unwrap_or_default().to_owned();
            tx.execute(
                "INSERT INTO model_calls (at, day, workflow_id, database, provider, model, level, input_tokens,
                                          output_tokens, cost_usd, ms, tools, prompt_sha256, error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                rusqlite::params![
                    at,
                    day,
                    site.workflow_id,
                    site.database,
                    call.provider,
                    call.model,
                    call.level.as_str(),
                    i64::try_from(call.input_tokens).unwrap_or(i64::MAX),
                    i64::try_from(call.output_tokens).unwrap_or(i64::MAX),
                    call.cost_usd,
                    i64::try_from(call.ms).unwrap_or(i64::MAX),
                    tools,
                    call.prompt_sha256,
                    call.error,
                ],
            )
            .ctx("recording a model call")?;
            let result = if call.error.is_some() { "FAILED" } else { "ANSWERED" };
            let detail = serde_json::to_value(call).unwrap_or_default();
            append_audit(
                tx,
                &self.audit_key,
                now,
                NewAudit {
                    workflow_id: site.workflow_id.clone(),
                    database: site.database.clone(),
                    environment: site.environment.clone(),
                    actor: site.actor.clone(),
                    action: MODEL_CALL.to_owned(),
                    result: result.to_owned(),
                    detail,
                },
            )?;
            Ok(())
        })
    }

    /// US dollars spent on model calls today (UTC).
    pub fn model_spend_today(&self) -> Result<f64, StoreError> {
        let today = timestamp_text(self.now());
        let day = today.get(..10).unwrap_or_default().to_owned();
        self.read(|conn| {
            conn.query_row("SELECT COALESCE(SUM(cost_usd), 0.0) FROM model_calls WHERE day = ?1", [day], |row| {
                row.get(0)
            })
            .ctx("adding up today's model spend")
        })
    }

    /// Spend per day, newest first, for the last `days` days that had calls.
    pub fn model_spend_by_day(&self, days: usize) -> Result<Vec<DaySpend>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT day, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_usd)
                     FROM model_calls GROUP BY day ORDER BY day DESC LIMIT ?1",
                )
                .ctx("reading model spend")?;
            let rows = statement
                .query_map([i64::try_from(days).unwrap_or(i64::MAX)], |row| {
                    Ok(DaySpend {
                        day: row.get(0)?,
                        calls: row.get::<_, i64>(1)?.max(0).unsigned_abs(),
                        input_tokens: row.get::<_, i64>(2)?.max(0).unsigned_abs(),
                        output_tokens: row.get::<_, i64>(3)?.max(0).unsigned_abs(),
                        cost_usd: row.get(4)?,
                    })
                })
                .ctx("reading model spend")?;
            rows.collect::<Result<Vec<_>, _>>().ctx("reading model spend")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Level;

    fn call(cost: f64, error: Option<&str>) -> ModelCall {
        ModelCall {
            provider: "claude".into(),
            model: "claude-sonnet-4-5".into(),
            level: Level::Agentic,
            input_tokens: 1200,
            output_tokens: 300,
            cost_usd: cost,
            ms: 900,
            tools: vec!["pg_blocking".into()],
            prompt_sha256: "ab".repeat(32),
            error: error.map(str::to_owned),
        }
    }

    #[test]
    fn every_call_is_counted_in_the_days_spend_and_audited() {
        let store = Store::open_in_memory().expect("store");
        let site = CallSite { actor: "engine".into(), database: Some("app".into()), ..Default::default() };
        store.record_model_call(&site, &call(0.25, None)).expect("recorded");
        store.record_model_call(&site, &call(0.0, Some("HTTP 503"))).expect("a failed call is recorded too");
        assert!((store.model_spend_today().expect("today") - 0.25).abs() < 1e-9);
        let days = store.model_spend_by_day(7).expect("by day");
        assert_eq!(days.len(), 1);
        assert_eq!((days[0].calls, days[0].input_tokens, days[0].output_tokens), (2, 2400, 600));
        let audit: Vec<_> = store
            .list_audit(&crate::store::audit::AuditFilter::default())
            .expect("audit")
            .into_iter()
            .filter(|row| row.action == MODEL_CALL)
            .collect();
        assert_eq!(audit.len(), 2);
        assert!(store.verify_audit().expect("chain").first_broken.is_none(), "the chain holds");
        assert_eq!(audit[1].result, "FAILED");
    }
}
