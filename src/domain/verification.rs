//! What the live database said about an alert when Sentri re-checked it: the verdict and the
//! evidence kept with the workflow (and shown to the approver).

use std::collections::BTreeMap;

use super::VerificationVerdict;

/// The evidence kept with the workflow.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    pub verdict: VerificationVerdict,
    /// The verification query's first row, as text.
    pub evidence: BTreeMap<String, String>,
    pub rows: usize,
    /// Each condition or rule, and whether it held, in words.
    pub explanations: Vec<String>,
}
