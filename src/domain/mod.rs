//! The words of the domain as types, shared by every other module and depending on none of them:
//! the leaf of the crate's module graph. Intake, pipeline, store, Safety Mesh, notifications and
//! screens all speak in these, so none of them has to import another just to name a state.

mod db_kind;
mod diagnosis;
mod environment;
mod execution;
mod ids;
mod kinds;
mod plan;
mod raw_alert;
mod resolved;
mod severity;
pub mod token;
mod verdict;
mod verification;
mod workflow_state;

pub use db_kind::{DbKind, Dialect, SANDBOX_SCHEME, sandbox_world_name};
#[cfg(test)]
pub(crate) use diagnosis::example as diagnosis_example;
pub use diagnosis::{
    Candidate, Diagnosis, Dropped, Evidence, Finding, JudgeVote, Judgement, Level, ModelCall, ModelRecord, RootCause,
    ToolTiming, TranscriptEntry,
};
pub use environment::Environment;
pub use execution::{ExecutionOutcome, ExecutionReport, StepRecord};
pub use ids::{PlanHash, RawAlertId, WorkflowId};
pub use kinds::{IdentifierKind, Risk};
pub use plan::{Plan, PlanSource, PlanStep, ProofSpec, plan_hash};
pub use raw_alert::RawAlert;
pub use resolved::{ResolvedIdentifier, quoted_identifier};
pub use severity::Severity;
pub use verdict::{MeshVerdict, VerificationVerdict};
pub use verification::Verification;
pub use workflow_state::{TRANSITIONS, UnknownState, WorkflowState};

#[cfg(test)]
pub(crate) use plan::testing;
