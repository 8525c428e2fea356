//! What the executor did and measured, as stored with the workflow: the outcome, each statement
//! run, the metrics before and after, and the proof.

use std::collections::BTreeMap;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionOutcome {
    /// The fix ran and the success criteria hold.
    Completed,
    /// The fix ran, did not work, and was undone.
    RolledBack,
    /// Nothing was changed: the first step (or the metrics before it) failed.
    FailedBeforeChange,
    /// The fix changed something and could not be undone (the rollback failed, or the fix is
    /// irreversible and did not work): a DBA must look now.
    FailedNeedsDba,
    /// Nothing ran: the plan about to run is not the plan that was stored and approved.
    HashMismatch,
}

/// One statement run, for the audit trail and `sentri show`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepRecord {
    pub sql: String,
    pub rows_affected: Option<u64>,
    pub elapsed_ms: u64,
    pub error: Option<String>,
}

/// Everything the executor did and measured.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExecutionReport {
    pub outcome: ExecutionOutcome,
    pub plan_hash: String,
    pub metrics_before: BTreeMap<String, String>,
    pub metrics_after: BTreeMap<String, String>,
    pub forward: Vec<StepRecord>,
    pub captured: BTreeMap<String, String>,
    pub rollback: Vec<StepRecord>,
    /// Each success criterion (or the re-verification) and whether it held.
    pub proof: Vec<String>,
    pub error: Option<String>,
    pub duration_ms: u64,
}
