//! The console's data: plain vectors the refresher fills from the store, and the filters that
//! pick what a list shows. No terminal and no store here, so every rule is tested as data.
//!
//! Workflows are kept in creation order and merged by id when the store says some changed, so
//! a refresh of a 10,000-workflow store costs the rows that moved, not all of them.

use std::collections::HashMap;

use jiff::Timestamp;
use sentri::domain::{WorkflowId, WorkflowState};

use super::fleet::DatabaseOverview;
use sentri::store::audit::actions;
use sentri::store::{AuditRow, ChainReport, RawAlertOutcome, RawAlertRow, TransitionRow, WorkflowRow};

/// How the console reaches the engine, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineState {
    /// The engine runs inside this process.
    InProcess,
    /// A daemon holds the engine lock; the console reads its store.
    Attached { pid: Option<u32> },
    /// No engine runs: the views show the store as it is, and decisions wait for the next start.
    Stopped { why: String },
}

/// One configured database and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseStatus {
    pub name: String,
    /// `Some(true)` when a profile was read from it (it answered), `None` when never reached.
    pub reachable: Option<bool>,
}

/// What the status bar shows besides counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub engine: EngineState,
    /// A banner every view carries, e.g. `SIMULATED` in the demo.
    pub label: Option<String>,
    pub databases: Vec<DatabaseStatus>,
}

/// What is loaded about the selected workflow beyond its row.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkflowDetail {
    pub workflow_id: WorkflowId,
    pub transitions: Vec<TransitionRow>,
    /// Its audit rows, oldest first (Safety Mesh verdicts among them).
    pub audit: Vec<AuditRow>,
}

/// All the data the console shows.
#[derive(Debug, Clone)]
pub struct Model {
    /// Every workflow, oldest first.
    pub workflows: Vec<WorkflowRow>,
    index: HashMap<WorkflowId, usize>,
    /// The newest raw alerts, oldest first.
    pub alerts: Vec<RawAlertRow>,
    /// The newest audit rows, oldest first.
    pub audit: Vec<AuditRow>,
    /// The last chain verification.
    pub chain: Option<ChainReport>,
    pub detail: Option<WorkflowDetail>,
    pub status: Status,
    /// The Databases view (`D`): one overview per configured database.
    pub fleet: Vec<DatabaseOverview>,
    /// "Now" for ages; set by the loop on every tick, fixed in tests.
    pub now: Timestamp,
}

impl Model {
    /// An empty model; the refresher fills it.
    pub fn new(status: Status, now: Timestamp) -> Model {
        Model {
            workflows: Vec::new(),
            index: HashMap::new(),
            alerts: Vec::new(),
            audit: Vec::new(),
            chain: None,
            detail: None,
            status,
            fleet: Vec::new(),
            now,
        }
    }

    /// Merges changed workflows by id: replaced in place, new ones added in creation order.
    pub fn upsert_workflows(&mut self, rows: Vec<WorkflowRow>) {
        let mut reorder = false;
        for row in rows {
            if let Some(&at) = self.index.get(&row.id) {
                self.workflows[at] = row;
            } else {
                if self.workflows.last().is_some_and(|last| last.created_at > row.created_at) {
                    reorder = true;
                }
                self.index.insert(row.id.clone(), self.workflows.len());
                self.workflows.push(row);
            }
        }
        if reorder {
            self.workflows.sort_by_key(|w| w.created_at);
            self.index = self.workflows.iter().enumerate().map(|(i, w)| (w.id.clone(), i)).collect();
        }
    }

    /// The newest `updated_at` of any workflow: where the next incremental refresh starts.
    pub fn last_workflow_change(&self) -> Option<Timestamp> {
        self.workflows.iter().map(|w| w.updated_at).max()
    }

    /// Workflows waiting for a human.
    pub fn pending_approvals(&self) -> usize {
        self.workflows.iter().filter(|w| w.state == WorkflowState::AwaitingApproval).count()
    }
}

/// A workflow list filter typed after `/`: `status:awaiting db:PRODDB env:prod` and free words,
/// all of which must match (case-insensitive; `status:` matches any part of the state name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkflowQuery {
    pub status: Option<String>,
    pub database: Option<String>,
    pub environment: Option<String>,
    pub words: Vec<String>,
}

impl WorkflowQuery {
    /// Reads the filter text; unknown `key:value` tokens are plain words.
    pub fn parse(text: &str) -> WorkflowQuery {
        let mut query = WorkflowQuery::default();
        for token in text.split_whitespace() {
            let lower = token.to_lowercase();
            match lower.split_once(':') {
                Some(("status" | "state" | "s", value)) if !value.is_empty() => query.status = Some(value.to_owned()),
                Some(("db" | "database", value)) if !value.is_empty() => query.database = Some(value.to_owned()),
                Some(("env" | "environment", value)) if !value.is_empty() => query.environment = Some(value.to_owned()),
                _ => query.words.push(lower),
            }
        }
        query
    }

    /// Whether `workflow` passes every part of the query.
    pub fn matches(&self, workflow: &WorkflowRow) -> bool {
        let state = workflow.state.as_str().to_lowercase();
        if self.status.as_ref().is_some_and(|wanted| !state.contains(wanted.as_str())) {
            return false;
        }
        if self.database.as_ref().is_some_and(|wanted| !workflow.database.to_lowercase().contains(wanted.as_str())) {
            return false;
        }
        if self.environment.as_ref().is_some_and(|wanted| !workflow.environment.eq_ignore_ascii_case(wanted)) {
            return false;
        }
        self.words.iter().all(|word| {
            workflow.id.contains(word.as_str())
                || state.contains(word.as_str())
                || workflow.database.to_lowercase().contains(word.as_str())
                || workflow.alert_type.to_lowercase().contains(word.as_str())
                || workflow.environment.to_lowercase().contains(word.as_str())
        })
    }
}

/// What became of a raw alert, in a word, with the workflow it belongs to.
pub fn alert_outcome(row: &RawAlertRow) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
    match &row.outcome {
        None => ("pending", None, None, None),
        Some(RawAlertOutcome::Workflow { workflow_id, alert_type, database }) => {
            ("workflow", Some(alert_type), Some(database), Some(workflow_id))
        }
        Some(RawAlertOutcome::Folded { workflow_id, alert_type, database }) => {
            ("folded", Some(alert_type), Some(database), Some(workflow_id))
        }
        Some(RawAlertOutcome::Unmatched) => ("unmatched", None, None, None),
        Some(RawAlertOutcome::Ignored) => ("ignored", None, None, None),
        Some(RawAlertOutcome::Split) => ("split into one alert per object", None, None, None),
        Some(RawAlertOutcome::ApprovalReply { workflow_id }) => ("approval reply", None, None, workflow_id.as_deref()),
    }
}

/// Free-text match on an alert's subject, sender, outcome, type and database.
pub fn alert_matches(row: &RawAlertRow, text: &str) -> bool {
    let (outcome, alert_type, database, _) = alert_outcome(row);
    let haystack = format!(
        "{} {} {outcome} {} {}",
        row.subject,
        row.sender,
        alert_type.unwrap_or_default(),
        database.unwrap_or_default()
    )
    .to_lowercase();
    text.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
}

/// Free-text match on an audit row's action, result, actor, database and workflow id.
pub fn audit_matches(row: &AuditRow, text: &str) -> bool {
    let haystack = format!(
        "{} {} {} {} {}",
        row.action,
        row.result,
        row.actor,
        row.database.as_deref().unwrap_or_default(),
        row.workflow_id.as_deref().unwrap_or_default()
    )
    .to_lowercase();
    text.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
}

/// A short human age: `42s`, `7m`, `3h`, `2d`.
pub fn age(now: Timestamp, then: Timestamp) -> String {
    let seconds = now.as_second().saturating_sub(then.as_second()).max(0);
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// The verdict rows of the newest mesh run (checks, then the summary row `check = "mesh"`),
/// and how many runs there were.
pub fn latest_run(audit: &[AuditRow]) -> (Vec<&AuditRow>, usize) {
    let verdicts: Vec<&AuditRow> = audit.iter().filter(|row| row.action == actions::SAFETY_VERDICT).collect();
    let is_summary = |row: &AuditRow| row.safety_verdict().is_some_and(|verdict| verdict.is_summary());
    let runs = verdicts.iter().filter(|row| is_summary(row)).count();
    let last_end = verdicts.iter().rposition(|row| is_summary(row));
    let Some(end) = last_end else { return (verdicts, runs) };
    let start = verdicts[..end].iter().rposition(|row| is_summary(row)).map_or(0, |at| at + 1);
    (verdicts[start..=end].to_vec(), runs)
}
