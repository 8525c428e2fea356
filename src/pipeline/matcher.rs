//! Recognising an alert: which policy it belongs to, what it says, and which database it is
//! about.
//!
//! Every policy is tried, not just the first in file order: when several match, the highest
//! `priority` wins, then the one that extracted the most fields, then the name; the others are
//! reported so a DBA can see the overlap. The database is resolved against the configured
//! names and aliases as a whole, case-insensitive word — never "the word after `on`".
//! An email no policy matches is explained: the nearest policies and what they looked for.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::shapes::{self, Shape, ShapedAlert, scanned};
use crate::intake::RawAlert;
use crate::policy::{AlertPolicy, PolicySet, Severity};
use crate::targets::DbKind;

/// A configured database as the matcher needs to know it.
#[derive(Debug, Clone)]
pub struct KnownDatabase {
    pub name: String,
    pub environment: String,
    pub aliases: Vec<String>,
    /// When known, a policy for another engine cannot claim this database.
    pub engine: Option<DbKind>,
}

impl KnownDatabase {
    /// Every database of the configuration, as the matcher resolves names against them.
    pub fn from_config(config: &crate::config::Config) -> Vec<KnownDatabase> {
        config
            .databases
            .iter()
            .map(|database| KnownDatabase {
                name: database.name.clone(),
                environment: database.environment.to_string(),
                aliases: database.aliases.clone(),
                // The sandbox simulates Oracle: Oracle's policies claim it.
                engine: Some(database.engine.policy_engine()),
            })
            .collect()
    }
}

pub use super::shapes::MAX_MATCH_TEXT;

/// An alert a policy recognised.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Alert {
    /// The policy's name: the alert type.
    pub alert_type: String,
    #[serde(skip)]
    pub policy: Arc<AlertPolicy>,
    pub severity: Severity,
    /// The configured database's name when it resolved, else the name as the alert wrote it.
    pub database: Option<String>,
    /// The database as the alert wrote it (a captured field, or the OEM target).
    pub database_as_written: Option<String>,
    /// True when `database` is a configured database.
    pub database_resolved: bool,
    pub environment: Option<String>,
    /// Extracted fields (the database field included, as written).
    pub fields: BTreeMap<String, String>,
    pub cleared: bool,
    pub shape: Shape,
    /// Other policies whose patterns matched too but lost.
    pub also_matched: Vec<String>,
    /// Patterns that could not finish on this text (reported, never silently a miss).
    pub pattern_errors: Vec<PatternError>,
}

/// A policy that came close, for explaining a miss.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NearMiss {
    pub alert_type: String,
    /// 0.0–1.0: share of the pattern's words found in the alert.
    pub score: f64,
    pub found: Vec<String>,
    pub missing: Vec<String>,
}

/// A pattern that failed at run time (e.g. its backtracking limit) on one alert.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PatternError {
    pub alert_type: String,
    pub error: String,
}

/// What matching an alert gave.
#[derive(Debug, Clone)]
pub enum MatchOutcome {
    Matched(Alert),
    Unmatched { nearest: Vec<NearMiss>, pattern_errors: Vec<PatternError> },
}

/// Matches one alert against the whole policy set. Every pass runs on the shaped text, which
/// is at most [`MAX_MATCH_TEXT`] long, and scans it a fixed number of times per policy.
///
/// The policy set's prefilter ([`crate::policy::prefilter`]) first rules out, in one pass, the
/// policies whose patterns cannot match; only the rest run their pattern.
pub fn match_alert(raw: &RawAlert, policies: &PolicySet, databases: &[KnownDatabase]) -> MatchOutcome {
    match_with(raw, policies, databases, true)
}

/// [`match_alert`] without the prefilter: every policy's pattern runs. What the prefilter is
/// checked against (tests, the throughput bench); the engine never needs it.
pub fn match_alert_unfiltered(raw: &RawAlert, policies: &PolicySet, databases: &[KnownDatabase]) -> MatchOutcome {
    match_with(raw, policies, databases, false)
}

fn match_with(raw: &RawAlert, policies: &PolicySet, databases: &[KnownDatabase], prefilter: bool) -> MatchOutcome {
    let shaped = shapes::read(raw);
    debug_assert!(shaped.text.len() <= MAX_MATCH_TEXT);
    let mut candidates: Vec<(Arc<AlertPolicy>, BTreeMap<String, String>)> = Vec::new();
    let mut pattern_errors = Vec::new();
    let starts =
        if prefilter { policies.alert_candidates(scanned(&shaped.text)) } else { vec![Some(0); policies.alerts.len()] };
    for (policy, start) in policies.alerts.iter().zip(starts) {
        let Some(start) = start else { continue };
        match extract(policy, &shaped.text, start) {
            Ok(Some(fields)) => candidates.push((Arc::clone(policy), fields)),
            Ok(None) => {}
            Err(error) => pattern_errors.push(PatternError { alert_type: policy.name.clone(), error }),
        }
    }
    candidates.sort_by(|(a, a_fields), (b, b_fields)| {
        b.priority.cmp(&a.priority).then(b_fields.len().cmp(&a_fields.len())).then(a.name.cmp(&b.name))
    });
    let mut winner = None;
    let mut also_matched = Vec::new();
    for (policy, fields) in candidates {
        if winner.is_some() {
            also_matched.push(policy.name.clone());
            continue;
        }
        let resolved = resolve_database(&fields, &shaped, databases);
        // An Oracle policy cannot claim a PostgreSQL database, nor the other way round.
        if resolved.engine.is_some_and(|engine| engine != policy.engine) {
            continue;
        }
        winner = Some((policy, fields, resolved));
    }
    let Some((policy, fields, resolved)) = winner else {
        return MatchOutcome::Unmatched { nearest: nearest(&shaped, policies), pattern_errors };
    };
    MatchOutcome::Matched(Alert {
        alert_type: policy.name.clone(),
        severity: policy.severity,
        policy,
        database: resolved.database,
        database_as_written: resolved.as_written,
        database_resolved: resolved.resolved,
        environment: resolved.environment,
        fields,
        cleared: shaped.cleared,
        shape: shaped.shape,
        also_matched,
        pattern_errors,
    })
}

/// Runs a policy's pattern and reads its fields; `Ok(None)` when it does not match, `Err` when
/// the pattern could not finish (its backtracking limit). The search starts at byte `start`
/// (no match can start before it; look-behind still sees the text before it).
fn extract(policy: &AlertPolicy, text: &str, start: usize) -> Result<Option<BTreeMap<String, String>>, String> {
    let found = policy.pattern.regex.captures_from_pos(scanned(text), start).map_err(|error| error.to_string())?;
    let Some(captures) = found else {
        return Ok(None);
    };
    let mut fields = BTreeMap::new();
    for rule in &policy.fields {
        let value = rule.groups.iter().find_map(|group| captures.get(*group)).map(|m| m.as_str().trim().to_owned());
        if let Some(value) = value.filter(|value| !value.is_empty()) {
            fields.insert(rule.name.clone(), value);
        }
    }
    if policy.fields.is_empty() {
        // The reference's rule: with no field lines, groups become group_1 … group_n.
        for index in 1..captures.len() {
            if let Some(value) = captures.get(index) {
                fields.insert(format!("group_{index}"), value.as_str().to_owned());
            }
        }
    }
    Ok(Some(fields))
}

/// Where the alert's database resolved to.
struct Resolved {
    database: Option<String>,
    as_written: Option<String>,
    environment: Option<String>,
    resolved: bool,
    engine: Option<DbKind>,
}

/// Resolves the database: a captured field, then the OEM target, then any configured name or
/// alias standing as a whole word in the text.
fn resolve_database(fields: &BTreeMap<String, String>, shaped: &ShapedAlert, databases: &[KnownDatabase]) -> Resolved {
    let written: Vec<String> = ["database", "database_id", "database_name", "db_name"]
        .iter()
        .filter_map(|key| fields.get(*key).cloned())
        .chain(shaped.target.clone())
        .collect();
    let found = |known: &KnownDatabase, as_written: &str| Resolved {
        database: Some(known.name.clone()),
        as_written: Some(as_written.to_owned()),
        environment: Some(known.environment.clone()),
        resolved: true,
        engine: known.engine,
    };
    for candidate in &written {
        if let Some(known) = databases.iter().find(|known| answers_to(known, candidate)) {
            return found(known, candidate);
        }
    }
    let text = scanned(&shaped.text).to_lowercase();
    for known in databases {
        for name in std::iter::once(&known.name).chain(&known.aliases) {
            if contains_word(&text, &name.to_lowercase()) {
                return found(known, name);
            }
        }
    }
    let first = written.into_iter().next();
    Resolved { database: first.clone(), as_written: first, environment: None, resolved: false, engine: None }
}

/// Whether `written` is the database's name or one of its aliases (case-insensitive, whole).
fn answers_to(known: &KnownDatabase, written: &str) -> bool {
    let written = written.trim();
    known.name.eq_ignore_ascii_case(written) || known.aliases.iter().any(|alias| alias.eq_ignore_ascii_case(written))
}

/// Whether `word` stands in `text` with no name character on either side (names may hold
/// `-` `_` `.` `$` `#`, so `DB-01` does not match inside `DB-012`).
fn contains_word(text: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let is_name_char = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '$' | '#');
    scanned(text).match_indices(word).any(|(start, _)| {
        let before = text[..start].chars().next_back();
        let after = text[start + word.len()..].chars().next();
        !before.is_some_and(is_name_char)
            && !after.is_some_and(|c| {
                is_name_char(c) || (c == '.' && text[start + word.len() + 1..].starts_with(char::is_alphanumeric))
            })
    })
}

/// Ranks policies by how many of their pattern's words appear in the alert.
fn nearest(shaped: &ShapedAlert, policies: &PolicySet) -> Vec<NearMiss> {
    let text = scanned(&shaped.text).to_lowercase();
    let mut misses: Vec<NearMiss> = policies
        .alerts
        .iter()
        .filter_map(|policy| {
            let words = pattern_words(&policy.pattern.source);
            if words.is_empty() {
                return None;
            }
            let (found, missing): (Vec<String>, Vec<String>) = words
                .into_iter()
                .partition(|word| contains_word(&text, word) || scanned(&text).contains(word.as_str()));
            let score = found.len() as f64 / (found.len() + missing.len()) as f64;
            (score > 0.0).then(|| NearMiss { alert_type: policy.name.clone(), score, found, missing })
        })
        .collect();
    misses.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.alert_type.cmp(&b.alert_type)));
    misses.truncate(3);
    misses
}

/// The literal words of a regex (runs of 4+ letters not part of an escape or a group name).
fn pattern_words(source: &str) -> Vec<String> {
    let mut words = BTreeSet::new();
    let chars: Vec<char> = source.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let c = chars[index];
        if c == '\\' {
            index += 2;
            continue;
        }
        if c == '(' && chars.get(index + 1) == Some(&'?') {
            // A negative look-around names words the alert must NOT have: skip all of it.
            let rest: String = chars[index..chars.len().min(index + 4)].iter().collect();
            if rest.starts_with("(?!") || rest.starts_with("(?<!") {
                let mut depth = 0usize;
                while index < chars.len() {
                    match chars[index] {
                        '\\' => index += 1,
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    index += 1;
                }
                index += 1;
                continue;
            }
            // Skip group syntax such as (?i) (?P<name> up to its first non-flag char.
            index += 2;
            while index < chars.len() && !matches!(chars[index], ')' | ':' | '>' | '=' | '!') {
                index += 1;
            }
            index += 1;
            continue;
        }
        if c.is_ascii_alphabetic() {
            let start = index;
            while index < chars.len() && chars[index].is_ascii_alphabetic() {
                index += 1;
            }
            // A word made optional (`colou?r`, `temp(?:orary)?`) is not a word the alert must have.
            let followed_by_quantifier = matches!(chars.get(index), Some('?' | '*' | '{'))
                || (chars.get(index) == Some(&')') && matches!(chars.get(index + 1), Some('?' | '*')));
            let word: String = chars[start..index].iter().collect::<String>().to_lowercase();
            if word.len() >= 4 && !followed_by_quantifier {
                words.insert(word);
            }
            continue;
        }
        index += 1;
    }
    words.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;
    use std::path::Path;

    fn policy(name: &str, regex: &str, fields: &str, extra_front: &str) -> Arc<AlertPolicy> {
        let text = format!(
            "---\n{extra_front}\n---\n## Email Pattern\n```regex\n{regex}\n```\n## Extracted Fields\n{fields}\n"
        );
        let mut problems = Vec::new();
        let path = format!("alerts/{name}.md");
        Arc::new(
            AlertPolicy::from_document(Path::new(&path), &markdown::parse(&text), None, &mut problems)
                .expect("policy loads"),
        )
    }

    fn set() -> PolicySet {
        PolicySet {
            alerts: vec![
                policy(
                    "tablespace_full",
                    r"(?<!temp\s)(?<!temporary\s)tablespace\s+\[?([A-Z0-9_$#]+)(?:@([A-Z0-9_$#]+))?\]?\s+is\s+\[?(\d+(?:\.\d+)?)\s*(?:%|percent)",
                    "- `tablespace_name` = group(1)\n- `pdb_name` = group(2)\n- `used_percent` = group(3)",
                    "",
                ),
                policy(
                    "temp_full",
                    r"temp(?:orary)?\s+tablespace\s+\[?(\w+)\]?\s+is\s+\[?(\d+)",
                    "- `temp_tablespace` = group(1)\n- `used_percent` = group(2)",
                    "",
                ),
                policy("anything_full", r"full", "", "priority: -1"),
            ],
            ..PolicySet::default()
        }
    }

    fn databases() -> Vec<KnownDatabase> {
        vec![
            KnownDatabase {
                name: "PROD-DB-07".into(),
                environment: "PROD".into(),
                aliases: vec!["PRODDB".into(), "prod07".into()],
                engine: Some(DbKind::Oracle),
            },
            KnownDatabase { name: "DEV-DB-01".into(), environment: "DEV".into(), aliases: vec![], engine: None },
        ]
    }

    fn matched(subject: &str, body: &str) -> Alert {
        match match_alert(&RawAlert::from_parts(subject, body, String::new()), &set(), &databases()) {
            MatchOutcome::Matched(alert) => alert,
            MatchOutcome::Unmatched { nearest, .. } => panic!("no match; nearest {nearest:?}"),
        }
    }

    #[test]
    fn oem_alert_resolves_database_through_the_target_alias() {
        let alert = matched(
            "EM Event: Critical:PRODDB - Tablespace [USERS@PDB1] is [97 percent] full",
            "Target name=PRODDB\nMessage=Tablespace [USERS@PDB1] is [97 percent] full",
        );
        assert_eq!(alert.alert_type, "tablespace_full");
        assert_eq!(alert.fields["tablespace_name"], "USERS");
        assert_eq!(alert.fields["pdb_name"], "PDB1");
        assert_eq!(alert.fields["used_percent"], "97");
        assert_eq!(alert.database.as_deref(), Some("PROD-DB-07"));
        assert_eq!(alert.database_as_written.as_deref(), Some("PRODDB"));
        assert_eq!(alert.environment.as_deref(), Some("PROD"));
        assert_eq!(alert.also_matched, ["anything_full"]);
    }

    #[test]
    fn look_behind_sends_temp_alerts_to_temp_full() {
        let alert = matched("Temp tablespace TEMP is 95% full on database DEV-DB-01", "");
        assert_eq!(alert.alert_type, "temp_full");
        assert_eq!(alert.database.as_deref(), Some("DEV-DB-01"));
    }

    #[test]
    fn database_names_match_as_whole_words_only() {
        let alert = matched("Tablespace USERS is 92% full on database DEV-DB-012", "");
        assert_eq!(alert.database, None, "DEV-DB-01 must not match inside DEV-DB-012");
        assert!(!alert.database_resolved);
        assert!(contains_word("on prod07.", "prod07"));
        assert!(!contains_word("on prod07x", "prod07"));
    }

    #[test]
    fn cleared_events_still_match_and_are_flagged() {
        let alert = matched("EM Event: Clear:PRODDB - CLEARED - Tablespace [USERS] is [70 percent] full", "");
        assert!(alert.cleared);
        assert_eq!(alert.alert_type, "tablespace_full");
    }

    #[test]
    fn a_miss_lists_the_nearest_policies() {
        let outcome = match_alert(
            &RawAlert::from_parts("Your tablespace report", "nothing to see", String::new()),
            &set(),
            &databases(),
        );
        let MatchOutcome::Unmatched { nearest, .. } = outcome else { panic!("should not match") };
        assert_eq!(nearest[0].alert_type, "tablespace_full");
        assert!(nearest[0].found.contains(&"tablespace".to_owned()));
        assert!(nearest[0].missing.contains(&"percent".to_owned()));
    }

    /// The default policy pack, loaded once.
    fn default_pack() -> &'static PolicySet {
        static PACK: std::sync::LazyLock<PolicySet> = std::sync::LazyLock::new(|| {
            let dir = tempfile::tempdir().expect("tempdir");
            let home = crate::home::Home::at(dir.path().join("home"));
            home.init(false).expect("init");
            PolicySet::load(&home.root)
        });
        &PACK
    }

    /// Scans `match_alert` may make of the shaped text per byte: shaping's, then per policy its
    /// pattern and, for a miss, two per pattern word, plus the database names' whole-word
    /// searches and the two lower-casings.
    fn matching_passes(policies: &PolicySet, databases: &[KnownDatabase]) -> usize {
        let words: usize = policies.alerts.iter().map(|p| 1 + 2 * pattern_words(&p.pattern.source).len()).sum();
        let names: usize = databases.iter().map(|known| 1 + known.aliases.len()).sum();
        10 + words + names + 2
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 12, ..Default::default() })]

        /// Matching a hostile alert against the whole default pack scans the capped text a
        /// fixed number of times: linear in its size, and flat past the cap.
        #[test]
        fn matching_work_is_linear_and_capped((pieces, long_line, size) in crate::intake::html_text::tests::pieces()) {
            let policies = default_pack();
            proptest::prop_assert!(policies.alerts.len() > 10, "the default pack loaded");
            let body = crate::intake::html_text::tests::hostile_body(&pieces, long_line, size);
            let raw = RawAlert::from_parts("Tablespace & a &# alert", &body, String::new());
            shapes::work::take();
            let _ = match_alert(&raw, policies, &databases());
            let work = shapes::work::take();
            let read_bytes = (raw.subject.len() + 1 + body.len()).min(MAX_MATCH_TEXT);
            let bound = matching_passes(policies, &databases()) * read_bytes;
            proptest::prop_assert!(work <= bound, "{work} bytes scanned, bound {bound}, {} in the body", body.len());
        }
    }

    /// What a match gave, in comparable form (pattern errors apart: see the test).
    fn summary(outcome: &MatchOutcome) -> String {
        match outcome {
            MatchOutcome::Matched(alert) => format!(
                "{} {:?} {:?} {:?} {} {:?}",
                alert.alert_type, alert.fields, alert.database, alert.environment, alert.cleared, alert.also_matched
            ),
            MatchOutcome::Unmatched { nearest, .. } => {
                let names: Vec<(&str, String)> =
                    nearest.iter().map(|miss| (miss.alert_type.as_str(), format!("{:.4}", miss.score))).collect();
                format!("unmatched {names:?}")
            }
        }
    }

    fn errors(outcome: &MatchOutcome) -> BTreeSet<String> {
        let errors = match outcome {
            MatchOutcome::Matched(alert) => &alert.pattern_errors,
            MatchOutcome::Unmatched { pattern_errors, .. } => pattern_errors,
        };
        errors.iter().map(|error| error.alert_type.clone()).collect()
    }

    /// Every sample of the default pack and texts made from them: cut, case changed, words
    /// shuffled and spliced between samples, look-behind bait (`temp `) put in front of words.
    fn corpus(policies: &PolicySet) -> Vec<RawAlert> {
        let samples: Vec<(String, String)> = policies
            .alerts
            .iter()
            .flat_map(|policy| &policy.samples)
            .map(|sample| (sample.subject.clone(), sample.body.clone()))
            .collect();
        let words: Vec<String> = samples
            .iter()
            .flat_map(|(subject, body)| subject.split_whitespace().chain(body.split_whitespace()))
            .map(str::to_owned)
            .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |bound: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            usize::try_from(state % bound.max(1) as u64).unwrap_or(0)
        };
        let mut texts: Vec<(String, String)> = Vec::new();
        for (index, (subject, body)) in samples.iter().enumerate() {
            let (other_subject, other_body) = &samples[(index * 7 + 3) % samples.len()];
            texts.push((subject.clone(), body.clone()));
            texts.push((subject.clone(), String::new()));
            texts.push((String::new(), body.clone()));
            texts.push((subject.to_uppercase(), body.to_lowercase()));
            texts.push((other_subject.clone(), body.clone()));
            texts.push((subject.clone(), other_body.clone()));
            texts.push((subject.replace("ablespace", "emp tablespace"), body.replace(' ', "  ")));
            texts.push((format!("temp {subject}"), body.replace("full", "ful")));
            let cut = |text: &str, share: usize| {
                let mut end = text.len() * share / 4;
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text[..end].to_owned()
            };
            for share in 1..4 {
                texts.push((cut(subject, share), cut(body, share)));
            }
            let mut digits = body.clone();
            for (from, to) in [("9", "1"), ("0", "7"), ("%", " percent")] {
                digits = digits.replace(from, to);
            }
            texts.push((subject.replace('9', "4"), digits));
        }
        for _ in 0..600 {
            let length = 3 + next(40);
            let mut text: Vec<&str> = (0..length).map(|_| words[next(words.len())].as_str()).collect();
            if next(3) == 0 {
                text.insert(next(text.len()), "temp");
            }
            let split = next(text.len());
            texts.push((text[..split].join(" "), text[split..].join(if next(2) == 0 { " " } else { "\n" })));
        }
        texts.into_iter().map(|(subject, body)| RawAlert::from_parts(&subject, &body, String::new())).collect()
    }

    /// The prefilter only skips work: over every sample of the default pack and the texts made
    /// from them, prefiltered and unfiltered matching give the same outcome.
    #[test]
    fn the_prefilter_never_changes_an_outcome() {
        let policies = default_pack();
        let filtered = policies
            .alert_prefilter
            .get_or_init(|| crate::policy::prefilter::AlertPrefilter::build(&policies.alerts))
            .filtered();
        assert!(
            filtered * 10 >= policies.alerts.len() * 9,
            "only {filtered} of {} patterns relaxed",
            policies.alerts.len()
        );
        let mut databases = databases();
        databases.extend(["ERPPRD", "HRPROD", "app", "shop", "PRODDB"].iter().map(|name| KnownDatabase {
            name: (*name).to_owned(),
            environment: "DEV".into(),
            aliases: Vec::new(),
            engine: None,
        }));
        let corpus = corpus(policies);
        assert!(corpus.len() > 1000, "{} texts", corpus.len());
        let (mut matched, mut skipped) = (0, 0);
        for raw in &corpus {
            let with = match_alert(raw, policies, &databases);
            let without = match_alert_unfiltered(raw, policies, &databases);
            assert_eq!(summary(&with), summary(&without), "on {:?} / {:?}", raw.subject, raw.body);
            assert!(errors(&with).is_subset(&errors(&without)), "on {:?}", raw.subject);
            matched += usize::from(matches!(with, MatchOutcome::Matched(_)));
            let text = shapes::read(raw).text;
            skipped += policies.alert_candidates(&text).iter().filter(|start| start.is_none()).count();
        }
        // The comparison is worth something only if both outcomes occur and policies are skipped.
        assert!(matched > 100 && matched < corpus.len(), "{matched} of {} matched", corpus.len());
        assert!(skipped > corpus.len() * policies.alerts.len() / 2, "only {skipped} policies skipped");
    }

    #[test]
    fn pattern_words_skip_syntax() {
        assert_eq!(pattern_words(r"(?i)(?<!temp\s)tablespace\s+(\w+)\s+is\s+(?P<pct>\d+)%"), ["tablespace"]);
    }
}
