//! The two kinds of verdict, named apart: what the live database said about an alert
//! ([`VerificationVerdict`]), and what a Safety Mesh check said about a plan ([`MeshVerdict`]).

use std::fmt;

/// What the verification query said about the alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationVerdict {
    /// The problem is there now.
    Confirmed,
    /// The database does not show the problem (any more).
    NotConfirmed,
    /// The policy has no verification query: the alert cannot be checked, so no fix may run
    /// on its word alone.
    Unverifiable,
}

/// What one check says about a plan, in increasing order of restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MeshVerdict {
    /// The plan may run.
    Allow,
    /// The plan may run once a human approves this exact plan hash.
    NeedsApproval,
    /// The plan must not run, approved or not.
    Block,
}

impl MeshVerdict {
    /// The spelling in audit rows and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            MeshVerdict::Allow => "ALLOW",
            MeshVerdict::NeedsApproval => "NEEDS_APPROVAL",
            MeshVerdict::Block => "BLOCK",
        }
    }
}

impl fmt::Display for MeshVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
