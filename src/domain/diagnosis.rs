//! A diagnosis as a record: why the database is in trouble, the evidence for it, and the fixes
//! that would treat it, scored. `diagnose` makes one; the workflow stores it beside its
//! verification; `sentri diagnose`, `sentri show`, the console and the emails read it.

use std::collections::BTreeMap;
use std::fmt;

use super::{Plan, Risk};

/// The root-cause vocabulary (D-Bot / DBMind style codes). The code is what every output
/// leads with; [`RootCause::UNKNOWN`] is said when the evidence supports none of the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RootCause {
    LockContention,
    IdleInTransaction,
    LongRunningQuery,
    MissingIndexes,
    RedundantIndex,
    LackStatisticInfo,
    Vacuum,
    SmallMemoryAlloc,
    InsertLargeData,
    FetchLargeData,
    PoorJoinPerformance,
    CorrelatedSubquery,
    CommitContention,
    CpuContention,
    IoContention,
    ConnectionExhaustion,
    SequenceExhaustion,
    XidWraparound,
    ReplicationLag,
    TablespaceFull,
    TempSpaceFull,
    ArchiveDestFull,
    UndoSpacePressure,
    RedoLogUndersized,
    HardParseContention,
    ListenerDown,
    ConfigurationError,
    Unknown,
}

impl RootCause {
    pub const UNKNOWN: RootCause = RootCause::Unknown;

    /// Every code with its spelling, the one table both directions come from.
    pub const ALL: [(&'static str, RootCause); 28] = [
        ("LOCK_CONTENTION", RootCause::LockContention),
        ("IDLE_IN_TRANSACTION", RootCause::IdleInTransaction),
        ("LONG_RUNNING_QUERY", RootCause::LongRunningQuery),
        ("MISSING_INDEXES", RootCause::MissingIndexes),
        ("REDUNDANT_INDEX", RootCause::RedundantIndex),
        ("LACK_STATISTIC_INFO", RootCause::LackStatisticInfo),
        ("VACUUM", RootCause::Vacuum),
        ("SMALL_MEMORY_ALLOC", RootCause::SmallMemoryAlloc),
        ("INSERT_LARGE_DATA", RootCause::InsertLargeData),
        ("FETCH_LARGE_DATA", RootCause::FetchLargeData),
        ("POOR_JOIN_PERFORMANCE", RootCause::PoorJoinPerformance),
        ("CORRELATED_SUBQUERY", RootCause::CorrelatedSubquery),
        ("COMMIT_CONTENTION", RootCause::CommitContention),
        ("CPU_CONTENTION", RootCause::CpuContention),
        ("IO_CONTENTION", RootCause::IoContention),
        ("CONNECTION_EXHAUSTION", RootCause::ConnectionExhaustion),
        ("SEQUENCE_EXHAUSTION", RootCause::SequenceExhaustion),
        ("XID_WRAPAROUND", RootCause::XidWraparound),
        ("REPLICATION_LAG", RootCause::ReplicationLag),
        ("TABLESPACE_FULL", RootCause::TablespaceFull),
        ("TEMP_SPACE_FULL", RootCause::TempSpaceFull),
        ("ARCHIVE_DEST_FULL", RootCause::ArchiveDestFull),
        ("UNDO_SPACE_PRESSURE", RootCause::UndoSpacePressure),
        ("REDO_LOG_UNDERSIZED", RootCause::RedoLogUndersized),
        ("HARD_PARSE_CONTENTION", RootCause::HardParseContention),
        ("LISTENER_DOWN", RootCause::ListenerDown),
        ("CONFIGURATION_ERROR", RootCause::ConfigurationError),
        ("UNKNOWN", RootCause::Unknown),
    ];

    /// Reads a code as a specialist file writes it (exact spelling, any case).
    pub fn parse(text: &str) -> Option<RootCause> {
        let wanted = text.trim().to_ascii_uppercase();
        Self::ALL.iter().find(|(name, _)| *name == wanted).map(|(_, cause)| *cause)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(_, cause)| *cause == self).map_or("UNKNOWN", |(name, _)| name)
    }
}

impl fmt::Display for RootCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of a tool's result that made a cause hold, and why it mattered.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Evidence {
    pub tool: String,
    /// The row as `column → text` (NULL columns left out).
    pub row: BTreeMap<String, String>,
    /// The conditions that held, in words: `waiters >= 1: 3 >= 1 is true`.
    pub why: String,
}

/// One named root cause with how sure the specialist is and what supports it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Finding {
    pub cause: RootCause,
    /// 0.0–1.0, as the specialist's rule states it.
    pub confidence: f64,
    /// The cause in one line, with the values that matter.
    pub summary: String,
    pub specialist: String,
    pub evidence: Vec<Evidence>,
}

/// One concrete fix: a plan as the Safety Mesh will see it, with its score.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Candidate {
    pub title: String,
    pub root_cause: RootCause,
    /// The forward steps as they run: identifiers quoted, values written as literals.
    pub forward: Vec<String>,
    /// The rollback steps, the same way; empty when `irreversible` says why.
    pub rollback: Vec<String>,
    pub irreversible: Option<String>,
    pub risk: Risk,
    /// Σ weight × criterion score, 0.0–1.0.
    pub score: f64,
    /// Each criterion's score, 0.0–1.0, under the specialist's names for them.
    pub scores: BTreeMap<String, f64>,
    pub why: String,
    /// The plan this candidate becomes when chosen (values bound, identifiers resolved).
    pub plan: Plan,
}

/// One tool run of a diagnosis, for the record and the audit.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ToolTiming {
    pub name: String,
    pub ms: u64,
    pub rows: usize,
    pub error: Option<String>,
}

/// How deep a diagnosis went: a model investigating with the tools, a model asked once, the
/// specialists' rules alone, or the policy's template alone. Each level falls to the next when
/// it gives nothing usable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Agentic,
    OneShot,
    #[default]
    Deterministic,
    Template,
    /// A judge scoring candidates (argue and select). A call's level, never a diagnosis'.
    Judge,
    /// Reading an email no policy matched. A call's level, never a diagnosis'.
    Classify,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Agentic => "agentic",
            Level::OneShot => "one_shot",
            Level::Deterministic => "deterministic",
            Level::Template => "template",
            Level::Judge => "judge",
            Level::Classify => "classify",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One call to a language model, as the audit and `sentri stats` count it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ModelCall {
    pub provider: String,
    pub model: String,
    pub level: Level,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub ms: u64,
    /// The tools the model called in its reply.
    pub tools: Vec<String>,
    /// SHA-256 of the request body: the prompt without the prompt.
    pub prompt_sha256: String,
    /// Why the call gave nothing usable, when it did not.
    pub error: Option<String>,
}

/// A model's candidate that did not become one, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dropped {
    pub title: String,
    pub statements: Vec<String>,
    pub reason: String,
}

/// What the model part of a diagnosis did: its calls, what it proposed that was refused, why
/// a level was left, and the conversation (prompts and answers, secrets removed) for
/// `sentri show`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ModelRecord {
    /// Why the model was asked at this depth, or not at all (the cost gate's words).
    pub gate: Option<String>,
    pub calls: Vec<ModelCall>,
    pub dropped: Vec<Dropped>,
    /// One line per level left: `agentic: HTTP 503 …`.
    pub fallbacks: Vec<String>,
    pub transcript: Vec<TranscriptEntry>,
    /// What the judges said, when candidates were argued and selected.
    pub judgement: Option<Judgement>,
}

/// Argue and select: what each judge scored and what came of it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Judgement {
    pub judges: Vec<JudgeVote>,
    /// `the panel (2 of 2) chose "…" (0.82)`, or why the deterministic scores stand.
    pub outcome: String,
    /// Each candidate's title and deterministic score, before the panel's replaced it.
    pub deterministic: Vec<(String, f64)>,
}

/// One judge's verdict: its total per option (in the order the options were put to it) and
/// its reasoning, or why it was not counted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct JudgeVote {
    /// `provider:model`.
    pub judge: String,
    pub totals: Vec<f64>,
    pub reasoning: Vec<String>,
    pub error: Option<String>,
}

/// One message of a model conversation, as kept for review.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranscriptEntry {
    /// `system`, `user`, `assistant`, `tool_call`, `tool_result`.
    pub role: String,
    pub text: String,
}

/// What a diagnosis found: causes and candidates, best first.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Diagnosis {
    pub database: String,
    pub specialists: Vec<String>,
    pub root_causes: Vec<Finding>,
    pub candidates: Vec<Candidate>,
    pub tools: Vec<ToolTiming>,
    pub elapsed_ms: u64,
    /// The level whose causes and candidates lead (stored diagnoses from before models:
    /// deterministic).
    #[serde(default)]
    pub level: Level,
    /// The model's part, when a model was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRecord>,
}

impl Diagnosis {
    /// The cause a DBA reads first: the best-ranked finding, or UNKNOWN.
    pub fn first_cause(&self) -> RootCause {
        self.root_causes.first().map_or(RootCause::Unknown, |finding| finding.cause)
    }

    /// The first finding when it names a cause; `None` when the diagnosis could only say UNKNOWN
    /// (a summary then says nothing was found rather than naming a cause).
    pub fn named_cause(&self) -> Option<&Finding> {
        self.root_causes.first().filter(|finding| finding.cause != RootCause::Unknown)
    }

    /// Which candidate became `plan`, the workflow's plan, so every screen can mark it. Not by
    /// hash: the engine adds the alert's values and re-verification rules to the candidate it
    /// chooses (`pipeline::steps::chosen_plan`), so the plan's hash is never the candidate's. The
    /// chosen one runs the same statements with every value the candidate carried; the first
    /// such candidate is the one the engine took (it takes the best). `None` when the plan is
    /// none of them (no candidate, or a plan made another way).
    pub fn chosen(&self, plan: &Plan) -> Option<usize> {
        self.candidates.iter().position(|candidate| {
            candidate.plan.steps == plan.steps
                && candidate.plan.rollback == plan.rollback
                && candidate.plan.values.iter().all(|(name, value)| plan.values.get(name) == Some(value))
        })
    }
}

/// A diagnosis as the engine stores one, for the tests of every screen that shows it.
#[cfg(test)]
pub(crate) mod example {
    use super::*;
    use crate::domain::{DbKind, PlanSource, PlanStep};

    /// What the engine stores for a PostgreSQL session idle in its transaction and blocking
    /// three others: the cause, its pg_blocking row, and two scored candidates (the specialist's
    /// fix first, the policy's template second). `hostile` goes into the evidence row's
    /// application name, as a client can set it.
    pub(crate) fn idle_in_transaction(hostile: &str) -> Diagnosis {
        let plan = |action: &str, sql: &str, source: PlanSource| Plan {
            workflow_id: String::new(),
            alert_type: "pg_idle_in_transaction".into(),
            database: "app".into(),
            environment: "PROD".into(),
            engine: DbKind::Postgres,
            action_type: action.into(),
            risk: Risk::High,
            confidence: 0.9,
            steps: vec![PlanStep { sql: sql.into() }],
            rollback: Vec::new(),
            capture: None,
            validation: None,
            irreversible: Some("its open transaction is rolled back".into()),
            identifiers: BTreeMap::new(),
            values: BTreeMap::from([("holder_pid".to_owned(), Some("4242".to_owned()))]),
            source,
            rationale: String::new(),
            proof: Default::default(),
            resolved: BTreeMap::new(),
        };
        let candidate = |title: &str, score: f64, root: f64, sql: &str, source: PlanSource| Candidate {
            title: title.into(),
            root_cause: RootCause::IdleInTransaction,
            forward: vec![sql.replace(":holder_pid", "4242")],
            rollback: Vec::new(),
            irreversible: Some("its open transaction is rolled back".into()),
            risk: Risk::High,
            score,
            scores: BTreeMap::from([("reversibility".to_owned(), 0.1), ("targets_root_cause".to_owned(), root)]),
            why: "only ending it releases the locks its waiters need".into(),
            plan: plan("TERMINATE_SESSION", sql, source),
        };
        Diagnosis {
            database: "app".into(),
            specialists: vec!["rca_agent".into()],
            root_causes: vec![Finding {
                cause: RootCause::IdleInTransaction,
                confidence: 0.9,
                summary: "pid 4242 (app, billing) is idle in a transaction open 754 s and blocks 3 sessions".into(),
                specialist: "rca_agent".into(),
                evidence: vec![Evidence {
                    tool: "pg_blocking".into(),
                    row: BTreeMap::from([
                        ("holder_application".to_owned(), hostile.to_owned()),
                        ("holder_pid".to_owned(), "4242".to_owned()),
                        ("holder_state".to_owned(), "idle in transaction".to_owned()),
                        ("waiters".to_owned(), "3".to_owned()),
                    ]),
                    why: "holder_state == 'idle in transaction': idle in transaction is true; waiters >= 1: 3 >= 1 is true"
                        .into(),
                }],
            }],
            candidates: vec![
                candidate(
                    "Terminate the idle transaction's session",
                    0.82,
                    0.9,
                    "SELECT pg_terminate_backend(:holder_pid)",
                    PlanSource::Diagnosis { specialist: "rca_agent".into(), cause: "IDLE_IN_TRANSACTION".into() },
                ),
                candidate(
                    "The policy's fix: cancel the session's statement",
                    0.41,
                    0.3,
                    "SELECT pg_cancel_backend(:holder_pid)",
                    PlanSource::Template,
                ),
            ],
            tools: vec![ToolTiming { name: "pg_blocking".into(), ms: 12, rows: 1, error: None }],
            elapsed_ms: 40,
            level: Level::Deterministic,
            model: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_as_itself() {
        for (name, cause) in RootCause::ALL {
            assert_eq!(RootCause::parse(name), Some(cause));
            assert_eq!(cause.as_str(), name);
            assert_eq!(serde_json::to_string(&cause).ok(), Some(format!("\"{name}\"")));
        }
        assert_eq!(RootCause::parse("lock_contention"), Some(RootCause::LockContention));
        assert_eq!(RootCause::parse("LOCKS"), None);
    }

    #[test]
    fn the_chosen_candidate_is_found_in_the_plan_the_engine_made_of_it() {
        let diagnosis = example::idle_in_transaction("billing");
        // As `chosen_plan` makes it: the alert's values added, the workflow's id set.
        let mut plan = diagnosis.candidates[1].plan.clone();
        plan.workflow_id = "wf".into();
        plan.values.insert("datname".into(), Some("app".into()));
        assert_eq!(diagnosis.chosen(&plan), Some(1));
        plan.values.insert("holder_pid".into(), Some("999".into()));
        assert_eq!(diagnosis.chosen(&plan), None, "another session is another fix");
        let mut other = diagnosis.candidates[0].plan.clone();
        other.steps[0].sql = "SELECT 1".into();
        assert_eq!(diagnosis.chosen(&other), None);
    }
}
