//! The workflow state machine: the one place that says which state may follow which.
//!
//! Every change of state anywhere in Sentri — engine, approval handler, CLI — is checked against
//! [`TRANSITIONS`] by the store, which applies it as a compare-and-set plus a transition row and
//! an audit row in one SQLite transaction. The reference product had a table too, but most of its
//! writers bypassed it; here there is no other way to change a workflow's state.
//!
//! The state names are the reference product's (SCREAMING_SNAKE in storage, in JSON and on the
//! command line), so its users' habits and scripts keep working. `PRE_FLIGHT_FAILED` is gone (a
//! failed pre-flight escalates) and `RESOLVED` is new: a DBA fixed the problem by hand.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Where one workflow stands. See [`TRANSITIONS`] for what may follow each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowState {
    /// A policy recognised the alert; nothing has been checked yet.
    Detected,
    /// The verification query is running against the database.
    Verifying,
    /// The database confirmed the alert.
    Verified,
    /// The database did not confirm the alert: there is nothing to fix.
    VerificationFailed,
    /// The Safety Mesh is checking the plan (again, after an approval).
    PreFlight,
    /// The Safety Mesh wants a human to approve this exact plan.
    AwaitingApproval,
    /// A human approved the plan; it goes back through pre-flight before it runs.
    Approved,
    /// A human refused the plan.
    Denied,
    /// Nobody answered the approval request in time.
    Timeout,
    /// The plan's forward steps are running.
    Executing,
    /// The fix ran and its success criteria held.
    Completed,
    /// The fix ran, did not hold, and was rolled back.
    RolledBack,
    /// The fix failed and could not be rolled back cleanly.
    Failed,
    /// Handed to a human, who now owns it.
    Escalated,
    /// A human closed it (fixed by hand, or nothing to do).
    Resolved,
}

use WorkflowState::*;

/// The one transition table: each state with the states that may follow it. A state with an
/// empty list is final. Tests check every one of the 15 × 15 pairs against this table.
pub const TRANSITIONS: &[(WorkflowState, &[WorkflowState])] = &[
    (Detected, &[Verifying, Escalated, Resolved]),
    (Verifying, &[Verified, VerificationFailed, Escalated, Resolved]),
    (Verified, &[PreFlight, Escalated, Resolved]),
    (PreFlight, &[Executing, AwaitingApproval, Escalated, Resolved]),
    (AwaitingApproval, &[Approved, Denied, Timeout, Escalated, Resolved]),
    (Approved, &[PreFlight, Escalated, Resolved]),
    (Executing, &[Completed, RolledBack, Failed, Escalated]),
    (Timeout, &[Escalated, Resolved]),
    (Failed, &[Escalated, Resolved]),
    (RolledBack, &[Escalated, Resolved]),
    (VerificationFailed, &[Escalated, Resolved]),
    (Denied, &[Escalated, Resolved]),
    (Escalated, &[Resolved]),
    (Completed, &[]),
    (Resolved, &[]),
];

impl WorkflowState {
    /// Every state, in pipeline order; for iteration in tests, filters and help texts.
    pub const ALL: [WorkflowState; 15] = [
        Detected,
        Verifying,
        Verified,
        VerificationFailed,
        PreFlight,
        AwaitingApproval,
        Approved,
        Denied,
        Timeout,
        Executing,
        Completed,
        RolledBack,
        Failed,
        Escalated,
        Resolved,
    ];

    /// The stored and displayed name, e.g. `AWAITING_APPROVAL`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Detected => "DETECTED",
            Verifying => "VERIFYING",
            Verified => "VERIFIED",
            VerificationFailed => "VERIFICATION_FAILED",
            PreFlight => "PRE_FLIGHT",
            AwaitingApproval => "AWAITING_APPROVAL",
            Approved => "APPROVED",
            Denied => "DENIED",
            Timeout => "TIMEOUT",
            Executing => "EXECUTING",
            Completed => "COMPLETED",
            RolledBack => "ROLLED_BACK",
            Failed => "FAILED",
            Escalated => "ESCALATED",
            Resolved => "RESOLVED",
        }
    }

    /// The states that may follow this one, from [`TRANSITIONS`].
    pub fn next_states(self) -> &'static [WorkflowState] {
        TRANSITIONS.iter().find(|(from, _)| *from == self).map_or(&[], |(_, to)| *to)
    }

    /// Whether `self → to` is in the table. The store refuses anything else.
    pub fn can_transition(self, to: WorkflowState) -> bool {
        self.next_states().contains(&to)
    }

    /// No state may follow this one (COMPLETED, RESOLVED).
    pub fn is_final(self) -> bool {
        self.next_states().is_empty()
    }

    /// Someone — the engine or a human — still owes this workflow an action before the alert
    /// can be forgotten. Used for "open workflows" views, for folding a repeated alert into the
    /// workflow already handling it, and for resuming after a restart.
    ///
    /// Closed: COMPLETED and RESOLVED (final), VERIFICATION_FAILED (the database did not confirm
    /// the alert, nothing to fix) and DENIED (a human refused the fix and so owns the problem).
    ///
    /// Open, on purpose, although nothing runs in them: TIMEOUT, FAILED and ROLLED_BACK leave the
    /// problem in place with nobody having decided anything, so the engine owes an escalation
    /// (the reference product let them be dead ends); ESCALATED is a human's until RESOLVED.
    pub fn is_open(self) -> bool {
        !matches!(self, Completed | Resolved | VerificationFailed | Denied)
    }
}

impl fmt::Display for WorkflowState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A name that is not a workflow state; its message lists the names that are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown workflow state {given:?}; expected one of: {}", allowed_names())]
pub struct UnknownState {
    /// What was given, as given.
    pub given: String,
}

fn allowed_names() -> String {
    WorkflowState::ALL.map(WorkflowState::as_str).join(", ")
}

impl FromStr for WorkflowState {
    type Err = UnknownState;

    /// Case-insensitive, so `sentri list --state awaiting_approval` works; surrounding blanks
    /// are ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        WorkflowState::ALL
            .into_iter()
            .find(|state| state.as_str().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownState { given: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks one row of the table against an independently written expectation, over every
    /// possible target state.
    fn check_row(from: WorkflowState, allowed: &[WorkflowState]) {
        for to in WorkflowState::ALL {
            assert_eq!(
                from.can_transition(to),
                allowed.contains(&to),
                "{from} → {to} should be {}",
                if allowed.contains(&to) { "allowed" } else { "refused" }
            );
        }
        assert_eq!(from.is_final(), allowed.is_empty(), "{from} finality");
    }

    macro_rules! row {
        ($name:ident, $from:ident => [$($to:ident),*]) => {
            #[test]
            fn $name() {
                check_row($from, &[$($to),*]);
            }
        };
    }

    row!(row_detected, Detected => [Verifying, Escalated, Resolved]);
    row!(row_verifying, Verifying => [Verified, VerificationFailed, Escalated, Resolved]);
    row!(row_verified, Verified => [PreFlight, Escalated, Resolved]);
    row!(row_pre_flight, PreFlight => [Executing, AwaitingApproval, Escalated, Resolved]);
    row!(row_awaiting_approval, AwaitingApproval => [Approved, Denied, Timeout, Escalated, Resolved]);
    row!(row_approved, Approved => [PreFlight, Escalated, Resolved]);
    row!(row_executing, Executing => [Completed, RolledBack, Failed, Escalated]);
    row!(row_timeout, Timeout => [Escalated, Resolved]);
    row!(row_failed, Failed => [Escalated, Resolved]);
    row!(row_rolled_back, RolledBack => [Escalated, Resolved]);
    row!(row_verification_failed, VerificationFailed => [Escalated, Resolved]);
    row!(row_denied, Denied => [Escalated, Resolved]);
    row!(row_escalated, Escalated => [Resolved]);
    row!(row_completed, Completed => []);
    row!(row_resolved, Resolved => []);

    #[test]
    fn table_has_every_state_exactly_once() {
        for state in WorkflowState::ALL {
            let rows = TRANSITIONS.iter().filter(|(from, _)| *from == state).count();
            assert_eq!(rows, 1, "{state} must have exactly one row");
        }
        assert_eq!(TRANSITIONS.len(), WorkflowState::ALL.len());
    }

    #[test]
    fn names_round_trip_through_display_fromstr_and_serde() {
        for state in WorkflowState::ALL {
            let name = state.to_string();
            assert_eq!(name.parse::<WorkflowState>(), Ok(state));
            assert_eq!(name.to_lowercase().parse::<WorkflowState>(), Ok(state));
            let json = serde_json::to_string(&state).unwrap_or_default();
            assert_eq!(json, format!("\"{name}\""));
            let back: WorkflowState = serde_json::from_str(&json).unwrap();
            assert_eq!(back, state);
        }
        assert_eq!(" awaiting_approval ".parse(), Ok(AwaitingApproval));
    }

    #[test]
    fn unknown_name_lists_the_allowed_ones() {
        let err = "PRE_FLIGHT_FAILED".parse::<WorkflowState>().unwrap_err();
        let message = err.to_string();
        assert!(message.contains("PRE_FLIGHT_FAILED"));
        for state in WorkflowState::ALL {
            assert!(message.contains(state.as_str()), "{message}");
        }
    }

    #[test]
    fn open_and_final_are_consistent() {
        for state in WorkflowState::ALL {
            if state.is_final() {
                assert!(!state.is_open(), "{state} is final, so cannot be open");
            }
        }
        let closed: Vec<_> = WorkflowState::ALL.into_iter().filter(|s| !s.is_open()).collect();
        assert_eq!(closed, [VerificationFailed, Denied, Completed, Resolved]);
    }
}
