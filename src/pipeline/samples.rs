//! Runs every policy's `## Sample Alerts` through the real matcher against the whole pack, so
//! `sentri policy check` proves that each sample is recognised by its own policy — not by a
//! neighbour that happens to sort first — with exactly the fields the DBA expects.

use std::collections::BTreeMap;

use super::matcher::{self, MatchOutcome};
use crate::intake::RawAlert;
use crate::policy::PolicySet;

/// The result of one sample.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SampleResult {
    pub policy: String,
    pub line: usize,
    pub subject: String,
    pub passed: bool,
    /// What went wrong, one line each; empty when it passed.
    pub failures: Vec<String>,
}

/// Runs every sample of every loaded alert policy.
pub fn run_all(policies: &PolicySet) -> Vec<SampleResult> {
    let mut results = Vec::new();
    for policy in &policies.alerts {
        for sample in &policy.samples {
            let raw = RawAlert::from_parts(&sample.subject, &sample.body, String::new());
            let mut failures = Vec::new();
            match matcher::match_alert(&raw, policies, &[]) {
                MatchOutcome::Unmatched { .. } => failures.push("no policy matched it".to_owned()),
                MatchOutcome::Matched(alert) if alert.alert_type != policy.name => {
                    failures.push(format!("matched `{}` instead (give this policy a higher `priority:` or tighten the other pattern)", alert.alert_type));
                }
                MatchOutcome::Matched(alert) => {
                    let mut got: BTreeMap<String, String> = alert.fields.clone();
                    for key in ["database", "database_id"] {
                        got.remove(key);
                    }
                    for (name, expected) in &sample.expected {
                        match name.as_str() {
                            "database" | "database_id" => {
                                let actual = alert.database_as_written.as_deref().unwrap_or("(none)");
                                if !actual.eq_ignore_ascii_case(expected) {
                                    failures.push(format!("database: expected `{expected}`, got `{actual}`"));
                                }
                            }
                            "cleared" => {
                                let expected_flag = expected.eq_ignore_ascii_case("true") || expected.eq_ignore_ascii_case("yes");
                                if alert.cleared != expected_flag {
                                    failures.push(format!("cleared: expected {expected_flag}, got {}", alert.cleared));
                                }
                            }
                            _ => match got.remove(name) {
                                Some(actual) if actual == *expected => {}
                                Some(actual) => failures.push(format!("{name}: expected `{expected}`, got `{actual}`")),
                                None => failures.push(format!("{name}: expected `{expected}`, got nothing")),
                            },
                        }
                    }
                    for (name, actual) in got {
                        failures.push(format!("{name}: extracted `{actual}` but the sample does not expect it"));
                    }
                }
            }
            results.push(SampleResult {
                policy: policy.name.clone(),
                line: sample.line,
                subject: sample.subject.clone(),
                passed: failures.is_empty(),
                failures,
            });
        }
    }
    results
}
