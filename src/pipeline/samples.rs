//! Runs every policy's `## Sample Alerts` through the real matcher against the whole pack, so
//! `sentri policy check` proves that each sample is recognised by its own policy — not by a
//! neighbour that happens to sort first — with exactly the fields the DBA expects.

use std::collections::BTreeMap;

use super::matcher::{self, KnownDatabase, MatchOutcome};
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
///
/// Every database a sample names is treated as configured, as it would be in production, so a
/// sample also proves that the matcher finds its database in the text.
pub fn run_all(policies: &PolicySet) -> Vec<SampleResult> {
    let databases: Vec<KnownDatabase> = policies
        .alerts
        .iter()
        .flat_map(|policy| &policy.samples)
        .filter_map(|sample| sample.expected.get("database").or_else(|| sample.expected.get("database_id")))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .map(|name| KnownDatabase {
            name: name.clone(),
            environment: "DEV".to_owned(),
            aliases: Vec::new(),
            engine: None,
        })
        .collect();
    let mut results = Vec::new();
    for policy in &policies.alerts {
        for sample in &policy.samples {
            let raw = RawAlert::from_parts(&sample.subject, &sample.body, String::new());
            let mut failures = Vec::new();
            match matcher::match_alert(&raw, policies, &databases) {
                MatchOutcome::Unmatched { .. } => failures.push("no policy matched it".to_owned()),
                MatchOutcome::Matched(alert) if alert.alert_type != policy.name => {
                    failures.push(format!(
                        "matched `{}` instead (give this policy a higher `priority:` or tighten the other pattern)",
                        alert.alert_type
                    ));
                }
                MatchOutcome::Matched(alert) => {
                    let mut got: BTreeMap<String, String> = alert.fields.clone();
                    for key in ["database", "database_id"] {
                        got.remove(key);
                    }
                    for (name, expected) in &sample.expected {
                        match name.as_str() {
                            "database" | "database_id" => {
                                let actual = alert.database.as_deref().unwrap_or("(none)");
                                if !actual.eq_ignore_ascii_case(expected) {
                                    failures.push(format!("database: expected `{expected}`, got `{actual}`"));
                                }
                            }
                            "cleared" => {
                                let expected_flag =
                                    expected.eq_ignore_ascii_case("true") || expected.eq_ignore_ascii_case("yes");
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
                    if alert.cleared && !sample.expected.contains_key("cleared") {
                        failures.push("read as a clear event, but the sample does not say `cleared = true`".to_owned());
                    }
                    for error in &alert.pattern_errors {
                        failures.push(format!("pattern of `{}` could not finish: {}", error.alert_type, error.error));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;
    use std::path::Path;
    use std::sync::Arc;

    fn policy(name: &str, text: &str) -> Arc<crate::policy::AlertPolicy> {
        let mut problems = Vec::new();
        let path = format!("alerts/{name}.md");
        Arc::new(
            crate::policy::AlertPolicy::from_document(Path::new(&path), &markdown::parse(text), None, &mut problems)
                .expect("loads"),
        )
    }

    const DISK: &str = "## Email Pattern\n```regex\ndisk (\\w+) is (\\d+)% full\n```\n## Extracted Fields\n- `disk` = group(1)\n- `pct` = group(2)\n## Sample Alerts\n```email\nSubject: disk sda is 91% full on PRODDB\n\nbody\n```\n- disk = sda\n- pct = 91\n- database = PRODDB\n```email\nSubject: disk sdb is 92% full\n\nbody\n```\n- disk = sdb\n- pct = 90\n";

    #[test]
    fn samples_pass_and_fail_with_reasons() {
        let set = PolicySet { alerts: vec![policy("disk_full", DISK)], ..PolicySet::default() };
        let results = run_all(&set);
        assert_eq!(results.len(), 2);
        assert!(results[0].passed, "{:?}", results[0].failures);
        assert!(!results[1].passed);
        assert_eq!(results[1].failures, ["pct: expected `90`, got `92`"]);
    }

    #[test]
    fn a_sample_won_by_another_policy_fails() {
        let greedy = policy("anything", "---\npriority: 5\n---\n## Email Pattern\n```regex\nfull\n```\n");
        let set = PolicySet { alerts: vec![policy("disk_full", DISK), greedy], ..PolicySet::default() };
        let results = run_all(&set);
        assert!(results.iter().all(|result| result.failures.iter().any(|f| f.contains("matched `anything` instead"))));
    }
}
