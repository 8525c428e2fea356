//! Workflows and their transitions: the life of each alert, and the only way its state changes.
//!
//! [`Store::transition`] checks the state machine's table, then applies the change as a
//! compare-and-set on `(state, version)` together with a `transitions` row and an audit row, in
//! one SQLite transaction. Two writers (the daemon and a `sentri approve` in another process)
//! cannot both win: the loser gets [`StoreError::StaleState`] and nothing of its change is
//! written. The reference product re-read the row and hoped.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::audit::{AuditKey, NewAudit, Subject, SubjectTable, actions, append_audit, append_audit_covering};
use super::{SqlContext, Store, StoreError, json_column, later, sql_limit, stored_timestamp, timestamp_text, to_json};
use crate::domain::{
    Diagnosis, ExecutionReport, Plan, PlanHash, RawAlertId, Verification, WorkflowId, WorkflowState, plan_hash,
};

/// What a new workflow starts from: a matched alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorkflow {
    /// The stored raw alert it came from; `None` for proactive checks and manual workflows.
    pub raw_alert_id: Option<i64>,
    /// The policy name that recognised it.
    pub alert_type: String,
    /// The database, as resolved by the matcher.
    pub database: String,
    pub environment: String,
    pub severity: String,
    /// Fields extracted from the alert.
    pub fields: BTreeMap<String, String>,
}

/// One stored workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkflowRow {
    /// A random UUID (hyphenated, lower case); its first 8 hex digits are the short id.
    pub id: WorkflowId,
    pub raw_alert_id: Option<RawAlertId>,
    pub alert_type: String,
    pub database: String,
    pub environment: String,
    pub severity: String,
    pub state: WorkflowState,
    pub fields: BTreeMap<String, String>,
    pub plan: Option<Plan>,
    /// Hex sha256 of the stored plan text; approvals name it.
    pub plan_hash: Option<PlanHash>,
    /// What the live database said when the alert was re-checked.
    pub verification: Option<Verification>,
    /// What the executor did and measured.
    pub execution: Option<ExecutionReport>,
    /// What the diagnosis found: root causes with their evidence, scored candidates.
    pub diagnosis: Option<Diagnosis>,
    /// The alert policy a model drafted for this workflow's email, which no policy matched
    /// (Markdown, as `policy::learned` renders it). Such a workflow always waits for a human;
    /// the draft becomes `alerts/learned/<name>.md` only after its fix was approved and validated.
    pub provisional_policy: Option<String>,
    /// Stored payloads this version cannot read (written by another version, or edited by
    /// hand), each as "column: why". Such a payload reads as `None`; the engine escalates a
    /// workflow whose plan is unreadable rather than guess at it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<String>,
    /// How many alerts this workflow stands for (1 + folded repeats).
    pub occurrences: i64,
    /// The incident it belongs to: the id of the first workflow of the alerts that hit its
    /// database together (its own id when it came alone).
    pub incident_id: String,
    /// Bumped on every change; the compare-and-set key.
    pub version: i64,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub created_at: Timestamp,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub updated_at: Timestamp,
}

impl WorkflowRow {
    /// The first 8 hex digits of the id: what people read, type and say.
    pub fn short_id(&self) -> &str {
        self.id.get(..8).unwrap_or(&self.id)
    }
}

/// One recorded change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TransitionRow {
    pub id: i64,
    pub workflow_id: String,
    pub from: WorkflowState,
    pub to: WorkflowState,
    pub actor: String,
    pub reason: String,
    #[serde(serialize_with = "super::timestamp_serde::serialize")]
    pub at: Timestamp,
}

/// Which workflows [`Store::list_workflows`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowFilter {
    pub state: Option<WorkflowState>,
    /// Case-insensitive, whole name.
    pub database: Option<String>,
    /// Only the newest N (still returned oldest-first).
    pub last: Option<usize>,
}

/// Counts for `sentri stats` and the console's header.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub total: u64,
    /// Only states that occur, in pipeline order.
    pub by_state: Vec<(WorkflowState, u64)>,
    /// Most frequent first, then by name.
    pub by_database: Vec<(String, u64)>,
    /// Most frequent first, then by name.
    pub by_alert_type: Vec<(String, u64)>,
    pub executions: ExecutionCounts,
}

/// How fixes that ran ended (workflows currently in each end state).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ExecutionCounts {
    pub completed: u64,
    pub rolled_back: u64,
    pub failed: u64,
}

const COLUMNS: &str = "id, raw_alert_id, alert_type, database, environment, severity, state, \
                       fields, plan, plan_hash, verification, execution, occurrences, version, \
                       created_at, updated_at, incident_id, diagnosis, provisional_policy";

/// Column texts of one row, before they are checked and parsed.
struct RawColumns {
    id: String,
    raw_alert_id: Option<i64>,
    alert_type: String,
    database: String,
    environment: String,
    severity: String,
    state: String,
    fields: String,
    plan: Option<String>,
    plan_hash: Option<String>,
    verification: Option<String>,
    execution: Option<String>,
    occurrences: i64,
    version: i64,
    created_at: String,
    updated_at: String,
    incident_id: Option<String>,
    diagnosis: Option<String>,
    provisional_policy: Option<String>,
}

impl RawColumns {
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(RawColumns {
            id: row.get(0)?,
            raw_alert_id: row.get(1)?,
            alert_type: row.get(2)?,
            database: row.get(3)?,
            environment: row.get(4)?,
            severity: row.get(5)?,
            state: row.get(6)?,
            fields: row.get(7)?,
            plan: row.get(8)?,
            plan_hash: row.get(9)?,
            verification: row.get(10)?,
            execution: row.get(11)?,
            occurrences: row.get(12)?,
            version: row.get(13)?,
            created_at: row.get(14)?,
            updated_at: row.get(15)?,
            incident_id: row.get(16)?,
            diagnosis: row.get(17)?,
            provisional_policy: row.get(18)?,
        })
    }

    fn parse(self) -> Result<WorkflowRow, StoreError> {
        let id = self.id;
        let mut unreadable = Vec::new();
        Ok(WorkflowRow {
            state: stored_state("workflows", "state", &id, self.state)?,
            fields: json_column("workflows", "fields", &id, Some(self.fields))?.unwrap_or_default(),
            plan: record_column("plan", self.plan, &mut unreadable),
            verification: record_column("verification", self.verification, &mut unreadable),
            execution: record_column("execution", self.execution, &mut unreadable),
            diagnosis: record_column("diagnosis", self.diagnosis, &mut unreadable),
            unreadable,
            created_at: stored_timestamp("workflows", "created_at", &id, &self.created_at)?,
            updated_at: stored_timestamp("workflows", "updated_at", &id, &self.updated_at)?,
            raw_alert_id: self.raw_alert_id.map(RawAlertId),
            alert_type: self.alert_type,
            database: self.database,
            environment: self.environment,
            severity: self.severity,
            plan_hash: self.plan_hash.map(PlanHash::from),
            occurrences: self.occurrences,
            version: self.version,
            incident_id: self.incident_id.unwrap_or_else(|| id.clone()),
            provisional_policy: self.provisional_policy,
            id: WorkflowId::from(id),
        })
    }
}

/// Reads a typed record column; what does not parse is noted in `unreadable`, not fatal, so one
/// workflow written by another version cannot stop `sentri list` or the sweep.
fn record_column<T: serde::de::DeserializeOwned>(
    column: &'static str,
    text: Option<String>,
    unreadable: &mut Vec<String>,
) -> Option<T> {
    let text = text?;
    match serde_json::from_str(&text) {
        Ok(value) => Some(value),
        Err(error) => {
            unreadable.push(format!("{column}: {error}"));
            None
        }
    }
}

fn stored_state(
    table: &'static str,
    column: &'static str,
    row: &dyn std::fmt::Display,
    value: String,
) -> Result<WorkflowState, StoreError> {
    value.parse().map_err(|_| StoreError::Corrupt { table, column, row: row.to_string(), value })
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// Reads one workflow on any connection or transaction.
pub(crate) fn get_in(conn: &Connection, id: &str) -> Result<WorkflowRow, StoreError> {
    conn.query_row(&format!("SELECT {COLUMNS} FROM workflows WHERE id = ?1"), [id], RawColumns::from_row)
        .optional()
        .ctx("reading a workflow")?
        .ok_or_else(|| StoreError::NotFound { what: "workflow", key: id.to_owned() })?
        .parse()
}

/// The states of [`WorkflowState::is_open`], as a JSON array for `json_each`.
fn open_states_json() -> Result<String, StoreError> {
    let open: Vec<&str> =
        WorkflowState::ALL.into_iter().filter(|state| state.is_open()).map(WorkflowState::as_str).collect();
    to_json("encoding the open states", &open)
}

/// The incident of the oldest open workflow on `database` created at or after `since`.
fn incident_to_join(conn: &Connection, database: &str, since: Timestamp) -> Result<Option<String>, StoreError> {
    conn.query_row(
        "SELECT coalesce(incident_id, id) FROM workflows
         WHERE database = ?1 COLLATE NOCASE AND created_at >= ?2
           AND state IN (SELECT value FROM json_each(?3))
         ORDER BY created_at, rowid LIMIT 1",
        (database, timestamp_text(since), open_states_json()?),
        |row| row.get(0),
    )
    .optional()
    .ctx("looking for an incident to join")
}

/// When the workflow last entered `state` (its newest transition into it), if it ever did.
pub(crate) fn entered_at_in(
    conn: &Connection,
    id: &str,
    state: WorkflowState,
) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<String> = conn
        .query_row(
            "SELECT at FROM transitions WHERE workflow_id = ?1 AND to_state = ?2 ORDER BY id DESC LIMIT 1",
            (id, state.as_str()),
            |row| row.get(0),
        )
        .optional()
        .ctx("reading when a workflow entered a state")?;
    at.map(|text| stored_timestamp("transitions", "at", &id, &text)).transpose()
}

/// The audit row's common columns for an event about `workflow`.
pub(super) fn audit_for(
    workflow: &WorkflowRow,
    actor: &str,
    action: &str,
    result: &str,
    detail: serde_json::Value,
) -> NewAudit {
    NewAudit {
        workflow_id: Some(workflow.id.to_string()),
        database: Some(workflow.database.clone()),
        environment: Some(workflow.environment.clone()),
        actor: actor.to_owned(),
        action: action.to_owned(),
        result: result.to_owned(),
        detail,
    }
}

/// Which JSON payload column [`Store::set_workflow_payload`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// What the verification query found.
    Verification,
    /// What the executor did and measured.
    Execution,
}

impl Store {
    /// Creates a workflow in DETECTED with a new random id, audited as WORKFLOW_CREATED. When it
    /// comes from a raw alert, that alert is marked as having started it in the same
    /// transaction: an alert is marked handled only once its workflow is stored. It is an
    /// incident of its own; see [`Store::create_workflow_in_incident`].
    pub fn create_workflow(&self, new: NewWorkflow, actor: &str) -> Result<WorkflowRow, StoreError> {
        self.create_workflow_in_incident(new, actor, None)
    }

    /// [`Store::create_workflow`], joining the incident of the oldest open workflow on the same
    /// database created within `correlation_window` before it, if there is one. Chosen in the
    /// same transaction as the insert, so two alerts arriving together cannot both start one.
    pub fn create_workflow_in_incident(
        &self,
        new: NewWorkflow,
        actor: &str,
        correlation_window: Option<SignedDuration>,
    ) -> Result<WorkflowRow, StoreError> {
        self.insert_workflow(new, actor, correlation_window, None)
    }

    /// A workflow for an email no policy matched, which a model classified as a database alert:
    /// `provisional_policy` is the policy it drafted. The raw alert, pending or already marked
    /// unmatched, is marked as having started it in the same transaction.
    pub fn create_provisional_workflow(
        &self,
        new: NewWorkflow,
        provisional_policy: &str,
        actor: &str,
    ) -> Result<WorkflowRow, StoreError> {
        self.insert_workflow(new, actor, None, Some(provisional_policy))
    }

    fn insert_workflow(
        &self,
        new: NewWorkflow,
        actor: &str,
        correlation_window: Option<SignedDuration>,
        provisional_policy: Option<&str>,
    ) -> Result<WorkflowRow, StoreError> {
        let now = self.now();
        let id = self.new_id();
        let fields = to_json("encoding workflow fields", &new.fields)?;
        self.write_at(now, |tx, now| {
            let at = timestamp_text(now);
            let incident = match correlation_window {
                Some(window) => incident_to_join(tx, &new.database, later(now, -window))?,
                None => None,
            }
            .unwrap_or_else(|| id.clone());
            tx.execute(
                &format!(
                    "INSERT INTO workflows ({COLUMNS})
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, NULL, NULL, 1, 1, ?9, ?9, ?10, NULL, ?11)"
                ),
                rusqlite::params![
                    id,
                    new.raw_alert_id,
                    new.alert_type,
                    new.database,
                    new.environment,
                    new.severity,
                    WorkflowState::Detected.as_str(),
                    fields,
                    at,
                    incident,
                    provisional_policy
                ],
            )
            .map_err(|source| match new.raw_alert_id {
                Some(raw) if is_foreign_key_error(&source) => {
                    StoreError::NotFound { what: "raw alert", key: raw.to_string() }
                }
                _ => StoreError::Sql { context: "creating a workflow", source },
            })?;
            if let Some(raw_alert_id) = new.raw_alert_id {
                let changed = tx
                    .execute(
                        "UPDATE raw_alerts SET outcome = 'workflow', workflow_id = ?2,
                                               alert_type = ?3, database = ?4, outcome_reason = ?6
                         WHERE id = ?1 AND (outcome IS NULL OR (?5 AND outcome = 'unmatched'))",
                        rusqlite::params![
                            raw_alert_id,
                            &id,
                            &new.alert_type,
                            &new.database,
                            provisional_policy.is_some(),
                            provisional_policy.map(|_| "no policy matched; a model classified it"),
                        ],
                    )
                    .ctx("marking the raw alert handled")?;
                if changed == 0 {
                    // Another triage of the same alert won: this workflow is not written.
                    return Err(super::alerts::not_pending(tx, raw_alert_id)?);
                }
            }
            let row = get_in(tx, &id)?;
            let detail = serde_json::json!({
                "alert_type": row.alert_type,
                "severity": row.severity,
                "raw_alert_id": row.raw_alert_id,
                "fields": row.fields,
                "incident_id": row.incident_id,
            });
            append_audit(
                tx,
                &self.audit_key,
                now,
                audit_for(&row, actor, actions::WORKFLOW_CREATED, row.state.as_str(), detail),
            )?;
            Ok(row)
        })
    }

    /// Moves a workflow from `from` to `to`. Refused without writing anything if the table does
    /// not allow it ([`StoreError::IllegalTransition`]) or if the workflow is no longer in `from`
    /// ([`StoreError::StaleState`]). Otherwise the new state, a transition row and a TRANSITION
    /// audit row commit together. Returns the updated row.
    pub fn transition(
        &self,
        id: &str,
        from: WorkflowState,
        to: WorkflowState,
        actor: &str,
        reason: &str,
    ) -> Result<WorkflowRow, StoreError> {
        self.transition_with_detail(id, from, to, actor, reason, serde_json::json!({}))
    }

    /// [`Store::transition`] with more evidence in its audit row's detail (e.g. what a
    /// re-verification after a restart found), so it is kept in the chain with the move itself.
    pub fn transition_with_detail(
        &self,
        id: &str,
        from: WorkflowState,
        to: WorkflowState,
        actor: &str,
        reason: &str,
        detail: serde_json::Value,
    ) -> Result<WorkflowRow, StoreError> {
        if !from.can_transition(to) {
            return Err(StoreError::IllegalTransition { from, to });
        }
        self.write(|tx, now| {
            let current = get_in(tx, id)?;
            transition_in(tx, &self.audit_key, now, &current, from, to, actor, reason, detail)
        })
    }

    /// The ids of the workflows in any of `states`, oldest first, read through the state index:
    /// what the engine's sweep drives, without loading every workflow ever recorded.
    pub fn workflow_ids_in(&self, states: &[WorkflowState]) -> Result<Vec<String>, StoreError> {
        let names: Vec<&str> = states.iter().map(|state| state.as_str()).collect();
        let json = to_json("encoding states", &names)?;
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id FROM workflows WHERE state IN (SELECT value FROM json_each(?1))
                     ORDER BY created_at, rowid",
                )
                .ctx("listing workflows to drive")?;
            let ids = statement
                .query_map([&json], |row| row.get(0))
                .ctx("listing workflows to drive")?
                .collect::<Result<Vec<String>, _>>()
                .ctx("listing workflows to drive")?;
            Ok(ids)
        })
    }

    /// Stores what the verification query found, and clears the diagnosis made from any
    /// earlier verification.
    pub fn set_verification(&self, id: &str, verification: &Verification) -> Result<WorkflowRow, StoreError> {
        let text = to_json("encoding a verification", verification)?;
        self.set_workflow_payload(id, Payload::Verification, &text)
    }

    /// Stores what the executor did and measured (replacing an earlier report).
    pub fn set_execution(&self, id: &str, report: &ExecutionReport) -> Result<WorkflowRow, StoreError> {
        let text = to_json("encoding an execution report", report)?;
        self.set_workflow_payload(id, Payload::Execution, &text)
    }

    /// Stores the diagnosis of a workflow (replacing an earlier one), audited as DIAGNOSED
    /// with its first cause, its time and each tool's time, in the same transaction.
    pub fn set_diagnosis(&self, id: &str, diagnosis: &Diagnosis, actor: &str) -> Result<WorkflowRow, StoreError> {
        let text = to_json("encoding a diagnosis", diagnosis)?;
        self.write(|tx, now| {
            let current = get_in(tx, id)?;
            tx.execute(
                "UPDATE workflows SET diagnosis = ?2, version = version + 1, updated_at = ?3 WHERE id = ?1",
                (id, &text, timestamp_text(now)),
            )
            .ctx("storing a diagnosis")?;
            let detail = serde_json::json!({
                "root_causes": diagnosis.root_causes.iter().map(|finding| serde_json::json!({
                    "cause": finding.cause, "confidence": finding.confidence, "specialist": finding.specialist,
                })).collect::<Vec<_>>(),
                "candidates": diagnosis.candidates.iter().map(|candidate| serde_json::json!({
                    "title": candidate.title, "score": candidate.score, "action_type": candidate.plan.action_type,
                })).collect::<Vec<_>>(),
                "elapsed_ms": diagnosis.elapsed_ms,
                "tools": diagnosis.tools,
                "level": diagnosis.level,
                // What the model did, when one was consulted: every refused candidate with its
                // reason is in the audit, not only in the stored diagnosis a later edit could
                // replace. Each call has its own MODEL_CALL row.
                "model": diagnosis.model.as_ref().map(|record| serde_json::json!({
                    "gate": record.gate,
                    "calls": record.calls.len(),
                    "cost_usd": record.calls.iter().map(|call| call.cost_usd).sum::<f64>(),
                    "dropped": record.dropped.iter().map(|dropped| serde_json::json!({
                        "title": dropped.title, "statements": dropped.statements, "reason": dropped.reason,
                    })).collect::<Vec<_>>(),
                    "fallbacks": record.fallbacks,
                    "judgement": record.judgement.as_ref().map(|judgement| serde_json::json!({
                        "outcome": judgement.outcome,
                        "judges": judgement.judges.iter().map(|vote| serde_json::json!({
                            "judge": vote.judge, "totals": vote.totals, "error": vote.error,
                        })).collect::<Vec<_>>(),
                    })),
                })),
            });
            let result = diagnosis.first_cause().to_string();
            append_audit(tx, &self.audit_key, now, audit_for(&current, actor, actions::DIAGNOSED, &result, detail))?;
            get_in(tx, id)
        })
    }

    /// One workflow by its full id.
    pub fn get_workflow(&self, id: &str) -> Result<WorkflowRow, StoreError> {
        self.read(|conn| get_in(conn, id))
    }

    /// The workflow a person means by `prefix`: its full id, or a unique prefix of it. Hyphens
    /// are ignored and case does not matter, so `0193a1b2`, `0193A1B2-C3` and the full id all
    /// work. [`StoreError::AmbiguousPrefix`] lists the candidates (up to 20),
    /// [`StoreError::NotFound`] if none matches, [`StoreError::InvalidIdPrefix`] for anything
    /// that is not hex.
    pub fn find_workflows(&self, prefix: &str) -> Result<WorkflowRow, StoreError> {
        let wanted: String = prefix.trim().chars().filter(|c| *c != '-').collect();
        let wanted = wanted.to_ascii_lowercase();
        if wanted.is_empty() || wanted.len() > 32 || !wanted.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(StoreError::InvalidIdPrefix { prefix: prefix.to_owned() });
        }
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id FROM workflows
                     WHERE substr(replace(id, '-', ''), 1, ?1) = ?2
                     ORDER BY id LIMIT 21",
                )
                .ctx("looking up a workflow id prefix")?;
            let mut ids = statement
                .query_map((i64::try_from(wanted.len()).unwrap_or(32), &wanted), |row| row.get::<_, String>(0))
                .ctx("looking up a workflow id prefix")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("looking up a workflow id prefix")?;
            match ids.len() {
                0 => Err(StoreError::NotFound { what: "workflow", key: prefix.to_owned() }),
                1 => get_in(conn, &ids[0]),
                _ => {
                    ids.truncate(20);
                    Err(StoreError::AmbiguousPrefix { prefix: prefix.to_owned(), candidates: ids })
                }
            }
        })
    }

    /// Workflows matching `filter`: the newest `last` (all if `None`), oldest first.
    pub fn list_workflows(&self, filter: &WorkflowFilter) -> Result<Vec<WorkflowRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM workflows
                     WHERE (?1 IS NULL OR state = ?1)
                       AND (?2 IS NULL OR database = ?2 COLLATE NOCASE)
                     ORDER BY created_at DESC, rowid DESC LIMIT ?3"
                ))
                .ctx("listing workflows")?;
            let raw = statement
                .query_map(
                    (filter.state.map(WorkflowState::as_str), &filter.database, sql_limit(filter.last)),
                    RawColumns::from_row,
                )
                .ctx("listing workflows")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing workflows")?;
            raw.into_iter().rev().map(RawColumns::parse).collect()
        })
    }

    /// Workflows changed at or after `since` (every workflow when `None`), oldest first by
    /// creation: how a live view refreshes its list without reading every row again. `>=`
    /// because several writes share a millisecond; the caller merges by id.
    pub fn workflows_changed_since(&self, since: Option<Timestamp>) -> Result<Vec<WorkflowRow>, StoreError> {
        let since = since.map(timestamp_text);
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM workflows WHERE (?1 IS NULL OR updated_at >= ?1)
                     ORDER BY created_at, rowid"
                ))
                .ctx("listing changed workflows")?;
            let raw = statement
                .query_map([since], RawColumns::from_row)
                .ctx("listing changed workflows")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing changed workflows")?;
            raw.into_iter().map(RawColumns::parse).collect()
        })
    }

    /// The newest open workflow (see [`WorkflowState::is_open`]) for this alert type on this
    /// database (case-insensitive): where a repeated alert is folded instead of starting another.
    pub fn open_workflow_for(&self, alert_type: &str, database: &str) -> Result<Option<WorkflowRow>, StoreError> {
        let open: Vec<&str> =
            WorkflowState::ALL.into_iter().filter(|state| state.is_open()).map(WorkflowState::as_str).collect();
        let open = to_json("encoding the open states", &open)?;
        self.read(|conn| {
            conn.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM workflows
                     WHERE alert_type = ?1 AND database = ?2 COLLATE NOCASE
                       AND state IN (SELECT value FROM json_each(?3))
                     ORDER BY created_at DESC, rowid DESC LIMIT 1"
                ),
                (alert_type, database, open),
                RawColumns::from_row,
            )
            .optional()
            .ctx("looking for an open workflow")?
            .map(RawColumns::parse)
            .transpose()
        })
    }

    /// Every open workflow for this alert type on this database (case-insensitive), newest
    /// first: a repeat or a clear event belongs to the one about the same object.
    pub fn open_workflows_for(&self, alert_type: &str, database: &str) -> Result<Vec<WorkflowRow>, StoreError> {
        let open: Vec<&str> =
            WorkflowState::ALL.into_iter().filter(|state| state.is_open()).map(WorkflowState::as_str).collect();
        let open = to_json("encoding the open states", &open)?;
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM workflows
                     WHERE alert_type = ?1 AND database = ?2 COLLATE NOCASE
                       AND state IN (SELECT value FROM json_each(?3))
                     ORDER BY created_at DESC, rowid DESC"
                ))
                .ctx("listing open workflows")?;
            let raw = statement
                .query_map((alert_type, database, open), RawColumns::from_row)
                .ctx("listing open workflows")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading open workflows")?;
            raw.into_iter().map(RawColumns::parse).collect()
        })
    }

    /// Since when the workflow has waited for approval: its newest transition into
    /// AWAITING_APPROVAL (a folded repeat alert or a partial approval does not move it), or its
    /// last change if no such transition is recorded.
    pub fn awaiting_approval_since(&self, workflow: &WorkflowRow) -> Result<Timestamp, StoreError> {
        let entered = self.read(|conn| entered_at_in(conn, &workflow.id, WorkflowState::AwaitingApproval))?;
        Ok(entered.unwrap_or(workflow.updated_at))
    }

    /// The workflows of one incident, oldest first.
    pub fn incident_workflows(&self, incident_id: &str) -> Result<Vec<WorkflowRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(&format!("SELECT {COLUMNS} FROM workflows WHERE incident_id = ?1 ORDER BY created_at, rowid"))
                .ctx("listing an incident's workflows")?;
            let raw = statement
                .query_map([incident_id], RawColumns::from_row)
                .ctx("listing an incident's workflows")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading an incident's workflows")?;
            raw.into_iter().map(RawColumns::parse).collect()
        })
    }

    /// Every state change of one workflow, oldest first.
    pub fn workflow_transitions(&self, id: &str) -> Result<Vec<TransitionRow>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT id, workflow_id, from_state, to_state, actor, reason, at
                     FROM transitions WHERE workflow_id = ?1 ORDER BY id",
                )
                .ctx("listing transitions")?;
            let raw = statement
                .query_map([id], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, String>(5)?,
                        row.get::<_, String>(6)?,
                    ))
                })
                .ctx("listing transitions")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("listing transitions")?;
            raw.into_iter()
                .map(|(id, workflow_id, from, to, actor, reason, at)| {
                    Ok(TransitionRow {
                        from: stored_state("transitions", "from_state", &id, from)?,
                        to: stored_state("transitions", "to_state", &id, to)?,
                        at: stored_timestamp("transitions", "at", &id, &at)?,
                        id,
                        workflow_id,
                        actor,
                        reason,
                    })
                })
                .collect()
        })
    }

    /// Counts by state, database and alert type, and how executed fixes ended.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        self.read(|conn| {
            let grouped = |column: &str| -> Result<Vec<(String, u64)>, StoreError> {
                let mut statement = conn
                    .prepare(&format!(
                        "SELECT {column}, COUNT(*) AS n FROM workflows
                         GROUP BY {column} ORDER BY n DESC, {column}"
                    ))
                    .ctx("counting workflows")?;
                statement
                    .query_map([], |row| Ok((row.get::<_, String>(0)?, count(row.get(1)?))))
                    .ctx("counting workflows")?
                    .collect::<Result<Vec<_>, _>>()
                    .ctx("counting workflows")
            };
            let mut by_state = Vec::new();
            for (name, n) in grouped("state")? {
                by_state.push((stored_state("workflows", "state", &"(grouped)", name)?, n));
            }
            by_state.sort();
            let in_state =
                |wanted: WorkflowState| by_state.iter().find(|(state, _)| *state == wanted).map_or(0, |(_, n)| *n);
            let executions = ExecutionCounts {
                completed: in_state(WorkflowState::Completed),
                rolled_back: in_state(WorkflowState::RolledBack),
                failed: in_state(WorkflowState::Failed),
            };
            Ok(Stats {
                total: by_state.iter().map(|(_, n)| n).sum(),
                by_database: grouped("database")?,
                by_alert_type: grouped("alert_type")?,
                executions,
                by_state,
            })
        })
    }

    /// How fixes of each action type ended on `database`: `(completed, executed)`, where
    /// executed counts those that ran to COMPLETED, ROLLED_BACK or FAILED. What the diagnosis'
    /// historical-success criterion reads; a workflow still in flight counts for nothing (the
    /// reference product counted it as a failure).
    pub fn fix_history(&self, database: &str) -> Result<BTreeMap<String, (u32, u32)>, StoreError> {
        self.read(|conn| {
            let mut statement = conn
                .prepare(
                    "SELECT json_extract(plan, '$.action_type') AS action_type,
                            SUM(state = 'COMPLETED'), COUNT(*)
                     FROM workflows
                     WHERE database = ?1 AND plan IS NOT NULL AND json_valid(plan)
                       AND state IN ('COMPLETED', 'ROLLED_BACK', 'FAILED')
                     GROUP BY action_type",
                )
                .ctx("reading fix history")?;
            let rows = statement
                .query_map([database], |row| {
                    Ok((row.get::<_, Option<String>>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
                })
                .ctx("reading fix history")?;
            let mut history = BTreeMap::new();
            for row in rows {
                let (action_type, completed, executed) = row.ctx("reading fix history")?;
                if let Some(action_type) = action_type {
                    let clamp = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                    history.insert(action_type, (clamp(completed), clamp(executed)));
                }
            }
            Ok(history)
        })
    }

    /// Sets (or replaces) a workflow's plan and its hash, audited as PLAN_SET. Replacing a plan
    /// voids earlier approvals, because they name the old hash.
    pub fn set_plan(&self, id: &str, plan: &Plan, actor: &str) -> Result<WorkflowRow, StoreError> {
        // Through `Value`, whose maps are sorted: the canonical text `Plan::hash` hashes too.
        let value =
            serde_json::to_value(plan).map_err(|source| StoreError::Json { context: "encoding a plan", source })?;
        let text = value.to_string();
        let hash = plan_hash(&text);
        self.write(|tx, now| {
            let current = get_in(tx, id)?;
            tx.execute(
                "UPDATE workflows SET plan = ?2, plan_hash = ?3, version = version + 1,
                                      updated_at = ?4
                 WHERE id = ?1",
                (id, &text, &hash, timestamp_text(now)),
            )
            .ctx("setting a plan")?;
            let detail = serde_json::json!({
                "plan_hash": hash,
                "replaced": current.plan_hash,
            });
            append_audit(tx, &self.audit_key, now, audit_for(&current, actor, actions::PLAN_SET, &hash, detail))?;
            get_in(tx, id)
        })
    }

    /// Stores the verification or execution result of a workflow (replacing an earlier one).
    fn set_workflow_payload(&self, id: &str, payload: Payload, text: &str) -> Result<WorkflowRow, StoreError> {
        // A new verification voids the diagnosis made from the old evidence: the next plan is
        // diagnosed again.
        let (column, also) = match payload {
            Payload::Verification => ("verification", ", diagnosis = NULL"),
            Payload::Execution => ("execution", ""),
        };
        self.write(|tx, now| {
            let changed = tx
                .execute(
                    &format!(
                        "UPDATE workflows SET {column} = ?2{also}, version = version + 1, updated_at = ?3
                         WHERE id = ?1"
                    ),
                    (id, text, timestamp_text(now)),
                )
                .ctx("storing a workflow payload")?;
            if changed == 0 {
                return Err(StoreError::NotFound { what: "workflow", key: id.to_owned() });
            }
            get_in(tx, id)
        })
    }
}

fn is_foreign_key_error(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(code, _)
            if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}

/// The compare-and-set itself, inside the caller's transaction (also used when an approval
/// decision moves the workflow). `current` is the row as read in this transaction.
#[allow(clippy::too_many_arguments)]
pub(crate) fn transition_in(
    tx: &rusqlite::Transaction<'_>,
    key: &AuditKey,
    now: Timestamp,
    current: &WorkflowRow,
    from: WorkflowState,
    to: WorkflowState,
    actor: &str,
    reason: &str,
    extra_detail: serde_json::Value,
) -> Result<WorkflowRow, StoreError> {
    if !from.can_transition(to) {
        return Err(StoreError::IllegalTransition { from, to });
    }
    let stale = |actual| StoreError::StaleState { id: current.id.to_string(), expected: from, actual };
    if current.state != from {
        return Err(stale(current.state));
    }
    let at = timestamp_text(now);
    let changed = tx
        .execute(
            "UPDATE workflows SET state = ?2, version = version + 1, updated_at = ?3
             WHERE id = ?1 AND state = ?4 AND version = ?5",
            (&current.id, to.as_str(), &at, from.as_str(), current.version),
        )
        .ctx("changing a workflow's state")?;
    if changed != 1 {
        let actual = get_in(tx, &current.id)?.state;
        return Err(stale(actual));
    }
    tx.execute(
        "INSERT INTO transitions (workflow_id, from_state, to_state, actor, reason, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        (&current.id, from.as_str(), to.as_str(), actor, reason, &at),
    )
    .ctx("recording a transition")?;
    let recorded = Subject { table: SubjectTable::Transitions, id: tx.last_insert_rowid() };
    let updated = get_in(tx, &current.id)?;
    let mut detail = serde_json::json!({
        "from": from,
        "to": to,
        "reason": reason,
        "version": updated.version,
    });
    if let (Some(detail), serde_json::Value::Object(extra)) = (detail.as_object_mut(), extra_detail) {
        detail.extend(extra);
    }
    let audit = audit_for(&updated, actor, actions::TRANSITION, to.as_str(), detail);
    append_audit_covering(tx, key, now, audit, Some(recorded))?;
    Ok(updated)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::store::audit::AuditFilter;
    use crate::store::testing;
    use WorkflowState::*;

    #[test]
    fn the_approval_wait_counts_from_entering_it_not_from_the_last_change() {
        let (store, clock) = testing::store();
        let workflow = store.create_workflow(new_workflow("PROD-DB-07"), "test").unwrap();
        for (from, to) in [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight)] {
            store.transition(&workflow.id, from, to, "engine", "").unwrap();
        }
        clock.advance_ms(1_000);
        let waiting = store.transition(&workflow.id, PreFlight, AwaitingApproval, "engine", "").unwrap();
        let entered = waiting.updated_at;
        clock.advance_ms(600_000);
        // A repeat alert folded into it changes the workflow, not when it began to wait.
        let raw = crate::domain::RawAlert::from_parts("repeat", "", "2026-11-25T00:00:00.000Z".into());
        let (raw_id, _) = store.insert_raw_alert(&raw).unwrap();
        let folded = crate::store::alerts::RawAlertOutcome::Folded {
            workflow_id: workflow.id.to_string(),
            alert_type: "tablespace_full".into(),
            database: "PROD-DB-07".into(),
        };
        store.set_raw_alert_outcome(raw_id, &folded).unwrap();
        let now = store.get_workflow(&workflow.id).unwrap();
        assert!(now.updated_at > entered, "the fold changed the workflow");
        assert_eq!(store.awaiting_approval_since(&now).unwrap(), entered);
    }

    pub(crate) fn new_workflow(database: &str) -> NewWorkflow {
        NewWorkflow {
            raw_alert_id: None,
            alert_type: "tablespace_full".to_owned(),
            database: database.to_owned(),
            environment: "PROD".to_owned(),
            severity: "CRITICAL".to_owned(),
            fields: BTreeMap::from([("tablespace_name".to_owned(), "USERS".to_owned())]),
        }
    }

    fn counts(store: &Store) -> (i64, i64, u64) {
        let transitions =
            store.read(|c| c.query_row("SELECT COUNT(*) FROM transitions", [], |r| r.get(0)).ctx("t")).unwrap();
        let version =
            store.read(|c| c.query_row("SELECT SUM(version) FROM workflows", [], |r| r.get(0)).ctx("t")).unwrap();
        let audit = store.verify_audit().unwrap().rows_checked;
        (transitions, version, audit)
    }

    #[test]
    fn create_starts_detected_with_a_random_id_and_an_audit_row() {
        let (store, clock) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        assert_eq!(row.state, Detected);
        assert_eq!(row.version, 1);
        assert_eq!(row.occurrences, 1);
        assert_eq!(row.created_at, clock.now());
        let uuid = uuid::Uuid::parse_str(&row.id).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(row.short_id(), &row.id[..8]);
        let audit = store.list_audit(&AuditFilter::default()).unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!(audit[0].action, actions::WORKFLOW_CREATED);
        assert_eq!(audit[0].workflow_id.as_deref(), Some(row.id.as_str()));
        assert_eq!(audit[0].detail["fields"]["tablespace_name"], "USERS");
    }

    #[test]
    fn create_from_a_raw_alert_marks_it_handled() {
        let (store, _) = testing::store();
        let raw = crate::store::alerts::tests::alert(1);
        let (raw_id, _) = store.insert_raw_alert(&raw).unwrap();
        let mut new = new_workflow("PRODDB");
        new.raw_alert_id = Some(raw_id);
        let row = store.create_workflow(new, "engine").unwrap();
        assert_eq!(
            store.get_raw_alert(raw_id).unwrap().outcome,
            Some(crate::store::RawAlertOutcome::Workflow {
                workflow_id: row.id.to_string(),
                alert_type: "tablespace_full".into(),
                database: "PRODDB".into(),
            })
        );
        assert!(store.pending_raw_alerts().unwrap().is_empty());

        let mut missing = new_workflow("PRODDB");
        missing.raw_alert_id = Some(999);
        let err = store.create_workflow(missing, "engine").unwrap_err();
        assert!(matches!(err, StoreError::NotFound { what: "raw alert", .. }), "{err:?}");
    }

    #[test]
    fn transition_writes_state_transition_and_audit_together() {
        let (store, clock) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        clock.advance_ms(1500);
        let moved = store.transition(&row.id, Detected, Verifying, "engine", "verify").unwrap();
        assert_eq!(moved.state, Verifying);
        assert_eq!(moved.version, 2);
        assert_eq!(moved.updated_at, clock.now());
        assert_eq!(moved.created_at, row.created_at);
        let transitions = store.workflow_transitions(&row.id).unwrap();
        assert_eq!(transitions.len(), 1);
        assert_eq!((transitions[0].from, transitions[0].to), (Detected, Verifying));
        assert_eq!(transitions[0].reason, "verify");
        let audit = store.list_audit(&AuditFilter::default()).unwrap();
        assert_eq!(audit.len(), 2);
        assert_eq!(audit[1].action, actions::TRANSITION);
        assert_eq!(audit[1].result, "VERIFYING");
        assert_eq!(audit[1].detail["from"], "DETECTED");
        assert!(store.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn a_stale_from_state_is_refused_and_writes_nothing() {
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        store.transition(&row.id, Detected, Verifying, "engine", "").unwrap();
        let before = counts(&store);
        // A second writer that still believes the workflow is DETECTED.
        let err = store.transition(&row.id, Detected, Escalated, "cli", "late").unwrap_err();
        match err {
            StoreError::StaleState { id, expected, actual } => {
                assert_eq!((id, expected, actual), (row.id.to_string(), Detected, Verifying));
            }
            other => panic!("expected StaleState, got {other:?}"),
        }
        assert_eq!(counts(&store), before);
        assert_eq!(store.get_workflow(&row.id).unwrap().state, Verifying);
    }

    #[test]
    fn an_illegal_transition_is_refused_and_writes_nothing() {
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let before = counts(&store);
        let err = store.transition(&row.id, Detected, Executing, "engine", "").unwrap_err();
        assert!(matches!(err, StoreError::IllegalTransition { from: Detected, to: Executing }), "{err:?}");
        assert_eq!(counts(&store), before);
        assert_eq!(store.get_workflow(&row.id).unwrap().state, Detected);
    }

    #[test]
    fn two_handles_on_one_file_cannot_both_win() {
        // As the daemon and a `sentri approve` in another process would.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sentri.db");
        let daemon = Store::open(&path).unwrap();
        let cli = Store::open(&path).unwrap();
        let row = daemon.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let seen_by_cli = cli.find_workflows(row.short_id()).unwrap();
        daemon.transition(&row.id, Detected, Verifying, "engine", "").unwrap();
        let err = cli.transition(&seen_by_cli.id, seen_by_cli.state, Resolved, "cli:dba", "done").unwrap_err();
        assert!(matches!(err, StoreError::StaleState { actual: Verifying, .. }), "{err:?}");
        cli.transition(&row.id, Verifying, Resolved, "cli:dba", "done").unwrap();
        let report = daemon.verify_audit().unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.rows_checked, 3);
    }

    #[test]
    fn transition_of_a_missing_workflow_is_not_found() {
        let (store, _) = testing::store();
        let err = store.transition("nope", Detected, Verifying, "engine", "").unwrap_err();
        assert!(matches!(err, StoreError::NotFound { what: "workflow", .. }), "{err:?}");
    }

    #[test]
    fn a_whole_happy_path_is_recorded_in_order() {
        let (store, clock) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let path = [Verifying, Verified, PreFlight, AwaitingApproval, Approved, PreFlight];
        let mut from = Detected;
        for to in path.into_iter().chain([Executing, Completed]) {
            clock.advance_ms(10);
            store.transition(&row.id, from, to, "engine", "").unwrap();
            from = to;
        }
        let transitions = store.workflow_transitions(&row.id).unwrap();
        assert_eq!(transitions.len(), 8);
        assert_eq!(transitions.last().map(|t| t.to), Some(Completed));
        assert!(transitions.windows(2).all(|w| w[0].to == w[1].from && w[0].at < w[1].at));
        assert_eq!(store.get_workflow(&row.id).unwrap().version, 9);
        assert!(store.verify_audit().unwrap().is_intact());
    }

    #[test]
    fn prefix_lookup_unique_ambiguous_and_missing() {
        let (store, _) = testing::store();
        // Random ids: among seventeen, two share a first hex digit (pigeonhole).
        let rows: Vec<WorkflowRow> =
            (0..17).map(|_| store.create_workflow(new_workflow("PRODDB"), "engine").unwrap()).collect();
        let (a, b) = rows
            .iter()
            .enumerate()
            .find_map(|(i, a)| rows[i + 1..].iter().find(|b| b.id[..1] == a.id[..1]).map(|b| (a, b)))
            .expect("two ids share a first digit");
        assert_ne!(a.id, b.id);
        assert_ne!(a.short_id(), b.short_id(), "short ids of random ids differ");

        assert_eq!(store.find_workflows(&a.id).unwrap().id, a.id);
        assert_eq!(store.find_workflows(&a.id.to_uppercase()).unwrap().id, a.id);
        assert_eq!(store.find_workflows(a.short_id()).unwrap().id, a.id);
        let hyphenless: String = b.id.chars().filter(|c| *c != '-').collect();
        assert_eq!(store.find_workflows(&hyphenless).unwrap().id, b.id);
        assert_eq!(store.find_workflows(&hyphenless[..28]).unwrap().id, b.id);

        match store.find_workflows(&a.id[..1]).unwrap_err() {
            StoreError::AmbiguousPrefix { prefix, candidates } => {
                assert_eq!(prefix, &a.id[..1]);
                assert!(
                    candidates.iter().any(|c| *c == a.id) && candidates.iter().any(|c| *c == b.id),
                    "{candidates:?}"
                );
            }
            other => panic!("expected AmbiguousPrefix, got {other:?}"),
        }
        let unused = "0123456789abcdef".chars().find(|c| !rows.iter().any(|row| row.id.starts_with(*c)));
        if let Some(unused) = unused {
            assert!(matches!(
                store.find_workflows(&unused.to_string()).unwrap_err(),
                StoreError::NotFound { what: "workflow", .. }
            ));
        }
        for bad in ["", "xyz", "12%", "0'--"] {
            assert!(matches!(store.find_workflows(bad), Err(StoreError::InvalidIdPrefix { .. })), "{bad:?}");
        }
    }

    #[test]
    fn list_filters_by_state_and_database_newest_n_oldest_first() {
        let (store, clock) = testing::store();
        let mut ids = Vec::new();
        for database in ["PRODDB", "devdb", "ProdDB", "PRODDB"] {
            clock.advance_ms(1000);
            ids.push(store.create_workflow(new_workflow(database), "engine").unwrap().id);
        }
        store.transition(&ids[3], Detected, Escalated, "engine", "").unwrap();
        let all = store.list_workflows(&WorkflowFilter::default()).unwrap();
        assert_eq!(all.iter().map(|w| w.id.clone()).collect::<Vec<_>>(), ids);
        let prod =
            store.list_workflows(&WorkflowFilter { database: Some("proddb".into()), ..Default::default() }).unwrap();
        assert_eq!(prod.len(), 3);
        let last_two = store
            .list_workflows(&WorkflowFilter { database: Some("PRODDB".into()), last: Some(2), ..Default::default() })
            .unwrap();
        assert_eq!(last_two.iter().map(|w| w.id.clone()).collect::<Vec<_>>(), ids[2..]);
        let escalated = store.list_workflows(&WorkflowFilter { state: Some(Escalated), ..Default::default() }).unwrap();
        assert_eq!(escalated.iter().map(|w| w.id.clone()).collect::<Vec<_>>(), [ids[3].clone()]);
    }

    #[test]
    fn changed_since_returns_only_what_moved() {
        let (store, clock) = testing::store();
        let a = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        clock.advance_ms(1000);
        let b = store.create_workflow(new_workflow("DEVDB"), "engine").unwrap();
        assert_eq!(store.workflows_changed_since(None).unwrap().len(), 2);
        clock.advance_ms(1000);
        let mark = clock.now();
        store.transition(&a.id, Detected, Verifying, "engine", "").unwrap();
        let changed = store.workflows_changed_since(Some(mark)).unwrap();
        assert_eq!(changed.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), [a.id.as_str()]);
        assert_eq!(changed[0].state, Verifying);
        assert!(store.workflows_changed_since(Some(b.updated_at)).unwrap().iter().any(|w| w.id == b.id));
    }

    #[test]
    fn stats_count_states_databases_types_and_executions() {
        let (store, _) = testing::store();
        let a = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let mut other = new_workflow("DEVDB");
        other.alert_type = "archive_full".into();
        let c = store.create_workflow(other, "engine").unwrap();
        store.transition(&a.id, Detected, Resolved, "cli:dba", "fixed by hand").unwrap();
        store.transition(&c.id, Detected, Escalated, "engine", "").unwrap();
        let stats = store.stats().unwrap();
        assert_eq!(stats.total, 3);
        assert_eq!(stats.by_state, [(Detected, 1), (Escalated, 1), (Resolved, 1)]);
        assert_eq!(stats.by_database, [("PRODDB".to_owned(), 2), ("DEVDB".to_owned(), 1)]);
        assert_eq!(stats.by_alert_type, [("tablespace_full".to_owned(), 2), ("archive_full".to_owned(), 1)]);
        assert_eq!(stats.executions, ExecutionCounts::default());
    }

    #[test]
    fn folding_counts_occurrences_on_the_open_workflow() {
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let open = store.open_workflow_for("tablespace_full", "proddb").unwrap();
        assert_eq!(open.map(|w| w.id), Some(row.id.clone()));
        let (raw_id, _) = store.insert_raw_alert(&crate::store::alerts::tests::alert(7)).unwrap();
        store
            .set_raw_alert_outcome(
                raw_id,
                &crate::store::RawAlertOutcome::Folded {
                    workflow_id: row.id.to_string(),
                    alert_type: row.alert_type.clone(),
                    database: row.database.clone(),
                },
            )
            .unwrap();
        let folded = store.get_workflow(&row.id).unwrap();
        assert_eq!(folded.occurrences, 2);
        assert_eq!(folded.version, 2);
        store.transition(&row.id, Detected, Resolved, "cli:dba", "").unwrap();
        assert_eq!(store.open_workflow_for("tablespace_full", "PRODDB").unwrap(), None);
        assert!(store.verify_audit().unwrap().is_intact());
    }

    /// A confirmed verification whose evidence is `evidence`.
    pub(crate) fn verification(evidence: &[(&str, &str)]) -> Verification {
        Verification {
            verdict: crate::domain::VerificationVerdict::Confirmed,
            evidence: evidence.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            rows: 1,
            explanations: Vec::new(),
        }
    }

    #[test]
    fn a_payload_another_version_wrote_is_noted_not_fatal() {
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        store
            .write(|tx, _| {
                tx.execute(
                    "UPDATE workflows SET verification = '{\"after_restart\": true}', plan = '{\"steps\": 3}' WHERE id = ?1",
                    [&row.id],
                )
                .ctx("test")?;
                Ok(())
            })
            .unwrap();
        let read = store.get_workflow(&row.id).unwrap();
        assert_eq!((read.plan.as_ref(), read.verification.as_ref()), (None, None));
        assert_eq!(read.unreadable.len(), 2, "{:?}", read.unreadable);
        assert!(read.unreadable[0].starts_with("plan: "), "{:?}", read.unreadable);
        assert_eq!(store.list_workflows(&WorkflowFilter::default()).unwrap().len(), 1, "the list still reads");
    }

    #[test]
    fn plans_and_payloads_are_stored_and_hashed() {
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        let plan = crate::domain::testing::plan_with_steps(&["ALTER TABLESPACE \"USERS\" ADD DATAFILE"]);
        let with_plan = store.set_plan(&row.id, &plan, "engine").unwrap();
        assert_eq!(with_plan.plan.as_ref(), Some(&plan));
        let hash = with_plan.plan_hash.clone().unwrap();
        assert_eq!(hash, plan_hash(&serde_json::to_value(&plan).unwrap().to_string()));
        assert_eq!(hash, plan.hash(), "the store and the plan agree on its hash");
        let verified = store.set_verification(&row.id, &verification(&[("pct", "97")])).unwrap();
        assert_eq!(verified.verification, Some(verification(&[("pct", "97")])));
        assert_eq!(verified.plan_hash.as_deref(), Some(hash.as_str()));
        let json = serde_json::to_value(&verified).unwrap();
        assert_eq!(json["state"], "DETECTED");
        assert_eq!(json["created_at"], "2026-11-25T01:02:03.456Z");
    }

    #[test]
    fn a_new_verification_clears_the_diagnosis_made_from_the_old_one() {
        let (store, _) = testing::store();
        let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
        store.set_verification(&row.id, &verification(&[("pct", "97")])).unwrap();
        let diagnosis = crate::domain::Diagnosis {
            database: "PRODDB".into(),
            specialists: vec!["storage_agent".into()],
            root_causes: Vec::new(),
            candidates: Vec::new(),
            tools: Vec::new(),
            elapsed_ms: 12,
            level: crate::domain::Level::Deterministic,
            model: None,
        };
        let diagnosed = store.set_diagnosis(&row.id, &diagnosis, "engine").unwrap();
        assert_eq!(diagnosed.diagnosis.as_ref(), Some(&diagnosis));
        let verified_again = store.set_verification(&row.id, &verification(&[("pct", "98")])).unwrap();
        assert_eq!(verified_again.diagnosis, None, "the next plan is diagnosed from the new evidence");
    }
}
