//! What the detail of an audit row says, as types: the Safety Mesh's verdict rows are written
//! and read through [`SafetyVerdictDetail`], so the mesh, the approval email, the console and
//! the demo narration cannot disagree about a key's name or spelling.

use serde::{Deserialize, Serialize};

use super::audit::{AuditRow, actions};

/// The `check` of the summary row a Safety Mesh run ends with.
pub const MESH_SUMMARY: &str = "mesh";

/// The detail of a SAFETY_VERDICT row: one check's verdict, or (`check = "mesh"`) the summary
/// of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyVerdictDetail {
    /// The check's name (`policy_gate`, `conflict_lock`, …), or [`MESH_SUMMARY`].
    pub check: String,
    /// The check's reason (check rows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// `check: reason` of each check that gave the overall verdict (the summary row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasons: Option<Vec<String>>,
    /// Whether an approval of this plan hash turned this check's NEEDS_APPROVAL into a pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub satisfied_by_approval: Option<bool>,
    /// Whether the run used an approval of this plan hash (the summary row).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_used: Option<bool>,
    /// The hash of the plan judged.
    pub plan_hash: String,
}

impl SafetyVerdictDetail {
    pub fn is_summary(&self) -> bool {
        self.check == MESH_SUMMARY
    }

    /// Whether an approval was used, by this check or by the run.
    pub fn approved(&self) -> bool {
        self.satisfied_by_approval.unwrap_or(false) || self.approval_used.unwrap_or(false)
    }

    pub fn to_value(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

impl AuditRow {
    /// The Safety Mesh verdict this row records, when it is a SAFETY_VERDICT row whose detail
    /// reads as one.
    pub fn safety_verdict(&self) -> Option<SafetyVerdictDetail> {
        if self.action != actions::SAFETY_VERDICT {
            return None;
        }
        serde_json::from_value(self.detail.clone()).ok()
    }

    /// A text field of the detail (`from`, `to`, `reason`, `plan_hash`…), or "" when absent.
    pub fn detail_text(&self, key: &str) -> &str {
        self.detail.get(key).and_then(serde_json::Value::as_str).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rows_the_mesh_wrote_before_read_back() {
        let check = serde_json::json!({"check": "conflict_lock", "reason": "holds X", "satisfied_by_approval": false, "plan_hash": "ab"});
        let summary = serde_json::json!({"check": "mesh", "reasons": ["policy_gate: PROD"], "approval_used": true, "plan_hash": "ab"});
        let check: SafetyVerdictDetail = serde_json::from_value(check.clone()).unwrap();
        assert_eq!((check.reason.as_deref(), check.approved(), check.is_summary()), (Some("holds X"), false, false));
        let read: SafetyVerdictDetail = serde_json::from_value(summary.clone()).unwrap();
        assert!(read.is_summary() && read.approved());
        assert_eq!(read.to_value(), summary, "written back, the shape is unchanged");
    }
}
