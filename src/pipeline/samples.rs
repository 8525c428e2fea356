//! Runs every policy's `## Sample Alerts` through the real matcher against the whole pack, so
//! `sentri policy check` proves that each sample is recognised by its own policy — not by a
//! neighbour that happens to sort first — with exactly the fields the DBA expects.
//!
//! A pattern that cannot finish (fancy-regex's backtracking limit) is that policy's fault only:
//! it fails that policy's samples, naming the pattern's file and line, and is reported as a
//! problem of that file. The other policies' samples are judged on their own patterns alone, so
//! one bad regex never fails the whole pack. Samples run without the matcher's prefilter (every
//! pattern on every sample), so a pattern that cannot finish is found even on text the
//! prefilter would keep it from; the matcher's tests show the prefilter changes no outcome.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::matcher::{self, KnownDatabase, MatchOutcome, PatternError};
use crate::intake::RawAlert;
use crate::policy::{PolicySet, Problem};

/// The result of one sample.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SampleResult {
    pub policy: String,
    /// The policy's file: the sample's `line` is in it.
    pub path: PathBuf,
    pub line: usize,
    pub subject: String,
    pub passed: bool,
    /// What went wrong, one line each; empty when it passed.
    pub failures: Vec<String>,
}

/// Every sample's result, and the problems the samples revealed in patterns.
#[derive(Debug, Clone, Default)]
pub struct SampleReport {
    pub results: Vec<SampleResult>,
    /// One error per policy whose pattern could not finish on some sample's text (its own or
    /// another policy's), at the pattern's file and line.
    pub problems: Vec<Problem>,
}

/// Where a pattern failed: on which sample (policy and line) and why.
struct Failure {
    sample_policy: String,
    sample_line: usize,
    error: String,
}

/// Runs every sample of every loaded alert policy.
///
/// Every database a sample names is treated as configured, as it would be in production, so a
/// sample also proves that the matcher finds its database in the text.
pub fn run_all(policies: &PolicySet) -> SampleReport {
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
    // Pattern failures by the policy whose pattern failed.
    let mut failed_patterns: BTreeMap<String, Vec<Failure>> = BTreeMap::new();
    for policy in &policies.alerts {
        let pattern_at = format!("line {}", policy.pattern.line);
        for sample in &policy.samples {
            let raw = RawAlert::from_parts(&sample.subject, &sample.body, String::new());
            let mut failures = Vec::new();
            // Without the prefilter: a sample must prove every pattern finishes on it, even one
            // the prefilter would spare in production.
            let outcome = matcher::match_alert_unfiltered(&raw, policies, &databases);
            let pattern_errors: &[PatternError] = match &outcome {
                MatchOutcome::Unmatched { pattern_errors, .. } => pattern_errors,
                MatchOutcome::Matched(alert) => &alert.pattern_errors,
            };
            for error in pattern_errors {
                if error.alert_type == policy.name {
                    failures
                        .push(format!("the pattern ({pattern_at}) could not finish on this sample: {}", error.error));
                }
                failed_patterns.entry(error.alert_type.clone()).or_default().push(Failure {
                    sample_policy: policy.name.clone(),
                    sample_line: sample.line,
                    error: error.error.clone(),
                });
            }
            let own_pattern_failed = !failures.is_empty();
            match outcome {
                MatchOutcome::Unmatched { .. } if own_pattern_failed => {}
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
                    for (name, actual) in got {
                        failures.push(format!("{name}: extracted `{actual}` but the sample does not expect it"));
                    }
                }
            }
            results.push(SampleResult {
                policy: policy.name.clone(),
                path: policy.path.clone(),
                line: sample.line,
                subject: sample.subject.clone(),
                passed: failures.is_empty(),
                failures,
            });
        }
    }
    let problems = pattern_problems(policies, &failed_patterns, &mut results);
    SampleReport { results, problems }
}

/// A pattern that failed on another policy's sample fails its own policy's samples too (it
/// would fail on such mail in production), and each failed pattern is one problem of its file.
fn pattern_problems(
    policies: &PolicySet,
    failed_patterns: &BTreeMap<String, Vec<Failure>>,
    results: &mut [SampleResult],
) -> Vec<Problem> {
    const SHOWN: usize = 3;
    let mut problems = Vec::new();
    for policy in &policies.alerts {
        let Some(failed) = failed_patterns.get(&policy.name) else { continue };
        let foreign: Vec<&Failure> = failed.iter().filter(|failure| failure.sample_policy != policy.name).collect();
        if let Some(first) = foreign.first() {
            let pattern_at = format!("line {}", policy.pattern.line);
            for result in results.iter_mut().filter(|result| result.policy == policy.name) {
                result.failures.push(format!(
                    "the pattern ({pattern_at}) could not finish on the sample of `{}` at line {}: {}",
                    first.sample_policy, first.sample_line, first.error
                ));
                result.passed = false;
            }
        }
        let mut on: Vec<String> = failed
            .iter()
            .take(SHOWN)
            .map(|failure| format!("`{}` line {}", failure.sample_policy, failure.sample_line))
            .collect();
        if failed.len() > SHOWN {
            on.push(format!("{} more", failed.len() - SHOWN));
        }
        problems.push(Problem::error(
            &policy.path,
            policy.pattern.line,
            format!("the pattern could not finish on the sample(s) of {}: {}", on.join(", "), failed[0].error),
        ));
    }
    problems
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
        let results = run_all(&set).results;
        assert_eq!(results.len(), 2);
        assert!(results[0].passed, "{:?}", results[0].failures);
        assert!(!results[1].passed);
        assert_eq!(results[1].failures, ["pct: expected `90`, got `92`"]);
    }

    #[test]
    fn a_sample_won_by_another_policy_fails() {
        let greedy = policy("anything", "---\npriority: 5\n---\n## Email Pattern\n```regex\nfull\n```\n");
        let set = PolicySet { alerts: vec![policy("disk_full", DISK), greedy], ..PolicySet::default() };
        let results = run_all(&set).results;
        assert!(results.iter().all(|result| result.failures.iter().any(|f| f.contains("matched `anything` instead"))));
    }
    /// The attack: a pattern that cannot finish on any text. Before, its error was added to
    /// every other policy's samples; now only its own fail, and its file gets one problem.
    #[test]
    fn a_runaway_pattern_fails_only_its_own_policy() {
        let runaway = policy(
            "runaway",
            "## Email Pattern\n```regex\n(?:.|..)*(?=N)NEVER_THERE\n```\n## Sample Alerts\n```email\nSubject: a sample long enough for the backtracking to run away\n\nbody\n```\n",
        );
        let set = PolicySet { alerts: vec![policy("disk_full", DISK), runaway], ..PolicySet::default() };
        let report = run_all(&set);
        let disk: Vec<_> = report.results.iter().filter(|result| result.policy == "disk_full").collect();
        assert!(disk[0].passed, "{:?}", disk[0].failures);
        assert_eq!(disk[1].failures, ["pct: expected `90`, got `92`"], "judged on its own pattern alone");
        let own: Vec<_> = report.results.iter().filter(|result| result.policy == "runaway").collect();
        assert_eq!(own.len(), 1);
        assert!(!own[0].passed);
        assert!(
            own[0].failures[0].starts_with("the pattern (line 3) could not finish on this sample"),
            "{:?}",
            own[0].failures
        );
        assert_eq!(own[0].path, Path::new("alerts/runaway.md"));
        assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
        let problem = &report.problems[0];
        assert_eq!((problem.path.as_path(), problem.line), (Path::new("alerts/runaway.md"), 3));
        assert!(problem.message.contains("`disk_full` line"), "{}", problem.message);
    }
}
