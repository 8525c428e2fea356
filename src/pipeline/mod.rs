//! From a stored alert to a workflow: recognise it, then move it through the state machine.

pub mod approval;
pub mod coverage;
pub mod findings;
pub mod learned_review;
pub mod matcher;
pub mod objects;
pub mod plan;
pub mod samples;
pub mod shapes;
pub mod steps;
pub mod triage;
pub mod verify;
