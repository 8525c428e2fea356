//! The coverage report of a mailbox export (`sentri replay --dry-run --report`): which
//! messages the pack recognises, per alert type and database, and the ones it misses grouped by
//! subject *shape*, each group with the nearest policy and the words it lacked — so a DBA sees
//! which policy to write or widen first. Pure: it folds match outcomes, it reads nothing.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use super::matcher::MatchOutcome;

/// The key under which recognised alerts that name no database are counted.
pub const NO_DATABASE: &str = "(none)";

/// The whole report: `total` messages, `recognised` of them matched.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CoverageReport {
    pub total: usize,
    pub recognised: usize,
    pub by_type: BTreeMap<String, usize>,
    pub by_database: BTreeMap<String, usize>,
    /// Largest group first.
    pub unmatched_groups: Vec<UnmatchedGroup>,
}

/// Unmatched messages whose subjects normalise to the same [`subject_shape`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct UnmatchedGroup {
    pub shape: String,
    pub count: usize,
    /// The first message of the group: the representative the nearest policy comes from.
    pub example_subject: String,
    pub nearest: Option<Nearest>,
}

/// The closest policy for a group's representative, and the pattern words it did not find.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Nearest {
    pub alert_type: String,
    pub score: f64,
    pub missing: Vec<String>,
}

/// Folds `(subject, outcome)` pairs, in mailbox order, into the report.
pub fn report<'a>(outcomes: impl IntoIterator<Item = (&'a str, &'a MatchOutcome)>) -> CoverageReport {
    let mut report = CoverageReport {
        total: 0,
        recognised: 0,
        by_type: BTreeMap::new(),
        by_database: BTreeMap::new(),
        unmatched_groups: Vec::new(),
    };
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for (subject, outcome) in outcomes {
        report.total += 1;
        match outcome {
            MatchOutcome::Matched(alert) => {
                report.recognised += 1;
                *report.by_type.entry(alert.alert_type.clone()).or_default() += 1;
                let database = alert.database.clone().unwrap_or_else(|| NO_DATABASE.to_owned());
                *report.by_database.entry(database).or_default() += 1;
            }
            MatchOutcome::Unmatched { nearest, .. } => {
                let shape = subject_shape(subject);
                match index.get(&shape) {
                    Some(&at) => report.unmatched_groups[at].count += 1,
                    None => {
                        index.insert(shape.clone(), report.unmatched_groups.len());
                        report.unmatched_groups.push(UnmatchedGroup {
                            shape,
                            count: 1,
                            example_subject: subject.to_owned(),
                            nearest: nearest.first().map(|miss| Nearest {
                                alert_type: miss.alert_type.clone(),
                                score: miss.score,
                                missing: miss.missing.clone(),
                            }),
                        });
                    }
                }
            }
        }
    }
    // Stable: equal counts keep mailbox order.
    report.unmatched_groups.sort_by_key(|group| std::cmp::Reverse(group.count));
    report
}

static QUOTED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""[^"]*"|'[^']*'|“[^”]*”|‘[^’]*’"#).unwrap_or_else(|_| unreachable!("a fixed pattern"))
});
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
        .unwrap_or_else(|_| unreachable!("a fixed pattern"))
});
static ERROR_CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Z]{2,5}-[0-9]+$").unwrap_or_else(|_| unreachable!("a fixed pattern")));

/// The shape of a subject: what stays when the values that differ between two emails of one
/// kind are replaced. Word by word (after whitespace is collapsed), punctuation around a word
/// kept:
/// - a quoted value (`"…"`, `'…'`) → `<value>`;
/// - a UUID, or a hex run of 8+ characters with a digit → `<id>`;
/// - a number (`97`, `97.5`, `12:30:01`, `2024-06-12`) → `N` (so `97%` → `N%`);
/// - an error code (`ORA-01652`, `TNS-12541`) keeps its prefix: `ORA-N` — the code family is
///   what tells two misses apart;
/// - any other word mixing letters and digits (`PROD-DB-07`, `db01.example.com`) → `<name>`.
///
/// Everything else (words, `[PRODDB]`-style tags without digits) is kept as written.
pub fn subject_shape(subject: &str) -> String {
    let unquoted = QUOTED.replace_all(subject, " <value> ");
    unquoted.split_whitespace().map(word_shape).collect::<Vec<_>>().join(" ")
}

fn word_shape(word: &str) -> String {
    let start = word.find(|c: char| c.is_alphanumeric() || c == '<').unwrap_or(word.len());
    let end = word.rfind(|c: char| c.is_alphanumeric() || c == '>').map_or(start, |i| i + 1).max(start);
    let (lead, core, trail) = (&word[..start], &word[start..end], &word[end..]);
    let has_digit = core.chars().any(|c| c.is_ascii_digit());
    let shaped = if core.is_empty() || core == "<value>" || !has_digit {
        core.to_owned()
    } else if UUID.is_match(core) || (core.len() >= 8 && core.chars().all(|c| c.is_ascii_hexdigit())) {
        "<id>".to_owned()
    } else if core.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | ',' | ':' | '-' | '/')) {
        "N".to_owned()
    } else if ERROR_CODE.is_match(core) {
        let prefix = core.split('-').next().unwrap_or_default();
        format!("{prefix}-N")
    } else {
        "<name>".to_owned()
    };
    format!("{lead}{shaped}{trail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_of_one_kind_share_a_shape() {
        assert_eq!(subject_shape("CPU usage alert 97% on PROD-DB-07"), "CPU usage alert N% on <name>");
        assert_eq!(subject_shape("CPU usage alert 91%   on DEV-DB-01"), "CPU usage alert N% on <name>");
        assert_eq!(subject_shape("Job 'nightly load' failed (run 4f3a9c2e77)"), "Job <value> failed (run <id>)");
        assert_eq!(
            subject_shape("[PRODDB] ORA-01652 at 2024-06-12 22:41:03, id 123e4567-e89b-12d3-a456-426614174000"),
            "[PRODDB] ORA-N at N N, id <id>"
        );
        assert_ne!(subject_shape("ORA-01652 on X"), subject_shape("TNS-12541 on X"));
        assert_eq!(subject_shape("  Backup   complete  "), "Backup complete");
    }

    #[test]
    fn report_counts_and_groups() {
        let unmatched = |t: &str| MatchOutcome::Unmatched {
            nearest: vec![super::super::matcher::NearMiss {
                alert_type: t.to_owned(),
                score: 0.5,
                found: vec![],
                missing: vec!["cpu".to_owned()],
            }],
            pattern_errors: vec![],
        };
        let a = unmatched("host_cpu");
        let b = unmatched("other");
        let outcomes = [("CPU 97% on PROD-DB-07", &b), ("Disk 3 full", &a), ("CPU 91% on DEV-DB-01", &a)];
        let report = report(outcomes.iter().map(|(s, o)| (*s, *o)));
        assert_eq!((report.total, report.recognised), (3, 0));
        assert_eq!(report.unmatched_groups.len(), 2);
        let first = &report.unmatched_groups[0];
        assert_eq!((first.shape.as_str(), first.count), ("CPU N% on <name>", 2));
        assert_eq!(first.example_subject, "CPU 97% on PROD-DB-07");
        assert_eq!(first.nearest.as_ref().map(|n| n.alert_type.as_str()), Some("other"));
    }
}
