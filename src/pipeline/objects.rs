//! One email, several alerts: the emails that report several objects at once, read as one
//! single-object alert per object over its threshold.
//!
//! Two shapes do this:
//! - a Nagios plugin output that lists objects of one template, `CRITICAL - tbs HR_DATA usage is
//!   98.20%, tbs SYSAUX usage is 91.02%, tbs USERS usage is 44.50% | 'tbs_hr_data_usage_pct'=
//!   98.20%;90;98 …` (check_oracle_health lists every tablespace, worst first). An object whose
//!   own perfdata value is inside its warning range is not an alert; an object without
//!   perfdata is kept, and the live database decides. A recovery (`OK`) keeps every object, so
//!   each one's open workflow is cleared;
//! - an OEM rule-set notification carrying several events, each its own `Key=Value` block
//!   (separated by a rule of dashes, or starting again at `Host=`).
//!
//! Each object becomes its own text, written the way the monitor writes a single-object alert
//! (the plugin line with only that object and its perfdata; `EM Event: <Severity>:<Target> -
//! <Message>` over one event block), so the policies that read single alerts read it unchanged.
//! The caller stores those texts as child raw alerts of the email ([`crate::store`]), which keeps
//! the email whole and triages each child once.
//!
//! Only the first [`MAX_MATCH_TEXT`] bytes are read, as for matching, and at most
//! [`MAX_OBJECTS`] objects are taken from one email.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::shapes::MAX_MATCH_TEXT;
use crate::intake::RawAlert;

/// The most single-object alerts one email becomes; the rest are named in the email's outcome.
pub const MAX_OBJECTS: usize = 50;

/// One email read as several single-object alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The single-object alerts, in the email's order (subject and body set; the rest of the
    /// email's identity is the caller's to give).
    pub parts: Vec<Part>,
    /// How many objects the email listed, over threshold or not.
    pub listed: usize,
    /// What was left out and why, for the email's outcome.
    pub left_out: Vec<String>,
}

/// One object's alert text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub subject: String,
    pub body: String,
}

/// The single-object alerts `raw` stands for, or `None` when it is one alert as it is (one
/// object, or a list whose first object is the only one over threshold).
pub fn split(raw: &RawAlert) -> Option<Split> {
    let subject = prefix(&raw.subject, MAX_MATCH_TEXT);
    let body = prefix(&raw.body, MAX_MATCH_TEXT.saturating_sub(subject.len() + 1));
    split_oem_events(subject, body).or_else(|| split_plugin_list(subject, body))
}

// ---------------------------------------------------------------------------------------------
// OEM: several event blocks.

static OEM_KEY_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\s*(Host|Target type|Target name|Message|Severity)\s*=\s*(.*?)\s*$").ok());
static RULE_LINE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\s*(?:-{4,}|={4,}|\*{4,}|_{4,})\s*$").ok());

/// One OEM event block: its lines and the keys that make it an event.
#[derive(Default)]
struct EventBlock<'a> {
    lines: Vec<&'a str>,
    target: Option<&'a str>,
    message: Option<&'a str>,
    severity: Option<&'a str>,
}

fn split_oem_events(subject: &str, body: &str) -> Option<Split> {
    let (key_line, rule_line) = (OEM_KEY_LINE.as_ref()?, RULE_LINE.as_ref()?);
    let mut blocks: Vec<EventBlock<'_>> = vec![EventBlock::default()];
    for line in body.lines() {
        if rule_line.is_match(line) {
            blocks.push(EventBlock::default());
            continue;
        }
        let key = key_line.captures(line);
        let starts_again = key.as_ref().is_some_and(|captures| {
            let name = captures.get(1).map_or("", |m| m.as_str());
            name.eq_ignore_ascii_case("host") || name.eq_ignore_ascii_case("target type")
        });
        if starts_again && blocks.last().is_some_and(|block| block.message.is_some()) {
            blocks.push(EventBlock::default());
        }
        let Some(block) = blocks.last_mut() else { continue };
        block.lines.push(line);
        if let Some(captures) = key {
            let value = captures.get(2).map(|m| m.as_str()).filter(|value| !value.is_empty());
            match captures.get(1).map_or("", |m| m.as_str()).to_ascii_lowercase().as_str() {
                "target name" => block.target = block.target.or(value),
                "message" => block.message = block.message.or(value),
                "severity" => block.severity = block.severity.or(value),
                _ => {}
            }
        }
    }
    let events: Vec<EventBlock<'_>> = blocks.into_iter().filter(|block| block.message.is_some()).collect();
    if events.len() < 2 {
        return None;
    }
    let listed = events.len();
    let parts = events
        .iter()
        .take(MAX_OBJECTS)
        .map(|event| Part {
            subject: match (event.severity, event.target, event.message) {
                // OEM's own single-event subject.
                (Some(severity), Some(target), Some(message)) => format!("EM Event: {severity}:{target} - {message}"),
                _ => subject.to_owned(),
            },
            body: event.lines.join("\n").trim_matches('\n').to_owned(),
        })
        .collect();
    Some(Split { parts, listed, left_out: capped(listed) })
}

// ---------------------------------------------------------------------------------------------
// Nagios: one plugin output listing several objects.

static PLUGIN_LINE: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"^(\s*(?:[A-Z][A-Z0-9_]+\s+)?(OK|WARNING|CRITICAL|UNKNOWN)\s*(?:-|:)\s*)(.*?)(?:\s*\|\s*(.*?))?\s*$")
        .ok()
});
static PERFDATA: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?:'([^']+)'|([^\s'=]+))=(-?\d+(?:\.\d+)?)[A-Za-z%]*(?:;([^;\s]*))?(?:;([^;\s]*))?(?:;[^;\s]*)*").ok()
});
static NUMBER: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"-?\d+(?:\.\d+)?").ok());

/// One perfdata entry: `'label'=value[unit];warn;crit;min;max`.
struct Perfdata<'a> {
    text: &'a str,
    label: String,
    value: f64,
    warning: Option<&'a str>,
    critical: Option<&'a str>,
}

fn split_plugin_list(subject: &str, body: &str) -> Option<Split> {
    let regex = PLUGIN_LINE.as_ref()?;
    // The body's plugin line when there is one, else the subject's (a plugin output mailed as
    // the subject).
    let in_body = body_lines(body).find(|(_, line)| regex.is_match(line));
    let line = in_body.map_or(subject.trim(), |(_, line)| line);
    if in_body.is_none() && !regex.is_match(line) {
        return None;
    }
    let captures = regex.captures(line)?;
    let (lead, state) = (captures.get(1)?.as_str(), captures.get(2)?.as_str());
    let output = captures.get(3)?.as_str();
    let perfdata: Vec<Perfdata<'_>> = captures.get(4).map(|m| perfdata_entries(m.as_str())).unwrap_or_default();
    let items = listed_objects(output)?;
    let recovery = state.eq_ignore_ascii_case("OK");
    let frequency = word_frequency(&items);
    let mut kept = Vec::new();
    let mut left_out = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if kept.len() == MAX_OBJECTS {
            left_out.push(format!(
                "only the first {MAX_OBJECTS} objects over threshold were taken ({} listed)",
                items.len()
            ));
            break;
        }
        let entry = perfdata_of(item, &frequency, &perfdata);
        let under = entry.and_then(|entry| entry.warning.or(entry.critical).map(|range| (entry, range)));
        match under {
            Some((entry, range)) if !recovery && !outside_range(entry.value, range) => {
                left_out.push(format!(
                    "{item:?} is under its threshold ({} = {}, alert range {range})",
                    entry.label, entry.value
                ));
            }
            _ => kept.push((index, item, entry)),
        }
    }
    // One alert as it is: only the first object over threshold, or none (then the email is read
    // whole, and the live database decides).
    if kept.len() < 2 && kept.first().is_none_or(|(index, _, _)| *index == 0) {
        return None;
    }
    let parts = kept
        .iter()
        .map(|(_, item, entry)| {
            let one = match entry {
                Some(entry) => format!("{lead}{item} | {}", entry.text),
                None => format!("{lead}{item}"),
            };
            match in_body {
                Some((at, line)) => Part {
                    subject: subject.to_owned(),
                    body: format!("{}{one}{}", &body[..at], &body[at + line.len()..]),
                },
                None => Part { subject: one, body: body.to_owned() },
            }
        })
        .collect();
    Some(Split { parts, listed: items.len(), left_out })
}

/// The body's lines without their line ends, each with its byte offset.
fn body_lines(body: &str) -> impl Iterator<Item = (usize, &str)> {
    body.split_inclusive('\n').scan(0, |at, line| {
        let start = *at;
        *at += line.len();
        Some((start, line.trim_end_matches(['\n', '\r'])))
    })
}

/// The objects a plugin output lists, when it lists several of one template: `, `-separated
/// items with the same number of words, most of them the same at the same place (`tbs X usage
/// is N%`), each with a number. `None` for prose that merely has commas.
fn listed_objects(output: &str) -> Option<Vec<&str>> {
    let items: Vec<&str> = output.split(", ").map(str::trim).filter(|item| !item.is_empty()).collect();
    if items.len() < 2 || !items.iter().all(|item| item.bytes().any(|b| b.is_ascii_digit())) {
        return None;
    }
    let words: Vec<Vec<&str>> = items.iter().map(|item| item.split_whitespace().collect()).collect();
    let width = words[0].len();
    if width < 3 || words.iter().any(|each| each.len() != width) {
        return None;
    }
    let same = (0..width).filter(|&at| words.iter().all(|each| each[at] == words[0][at])).count();
    (same * 2 >= width).then_some(items)
}

fn perfdata_entries(text: &str) -> Vec<Perfdata<'_>> {
    let Some(regex) = PERFDATA.as_ref() else { return Vec::new() };
    regex
        .captures_iter(text)
        .filter_map(|captures| {
            let label = captures.get(1).or_else(|| captures.get(2))?.as_str().to_lowercase();
            let value = captures.get(3)?.as_str().parse().ok()?;
            let range = |group| captures.get(group).map(|m| m.as_str()).filter(|range: &&str| !range.is_empty());
            Some(Perfdata { text: captures.get(0)?.as_str(), label, value, warning: range(4), critical: range(5) })
        })
        .collect()
}

/// How many of the listed items each word stands in: a word in one item only tells that item
/// from the others (the object's name).
fn word_frequency<'a>(items: &[&'a str]) -> HashMap<&'a str, usize> {
    let mut frequency = HashMap::new();
    for item in items {
        let mut words: Vec<&str> = item.split_whitespace().collect();
        words.sort_unstable();
        words.dedup();
        for word in words {
            *frequency.entry(word).or_insert(0) += 1;
        }
    }
    frequency
}

/// The perfdata entry of one listed object: its value is a number the item says, and its label
/// holds a word found in this item alone (the object's name).
fn perfdata_of<'p, 'a>(
    item: &str,
    frequency: &HashMap<&str, usize>,
    perfdata: &'p [Perfdata<'a>],
) -> Option<&'p Perfdata<'a>> {
    let numbers: Vec<f64> = NUMBER
        .as_ref()
        .map(|regex| regex.find_iter(item).filter_map(|m| m.as_str().parse().ok()).collect())
        .unwrap_or_default();
    let names: Vec<String> = item
        .split_whitespace()
        .filter(|word| word.bytes().any(|b| b.is_ascii_alphabetic()))
        .filter(|word| frequency.get(word).copied() == Some(1))
        .map(|word| word.trim_matches(|c: char| !c.is_alphanumeric() && c != '_').to_lowercase())
        .filter(|word| word.len() >= 2)
        .collect();
    perfdata.iter().find(|entry| {
        numbers.iter().any(|number| (number - entry.value).abs() < 1e-9)
            && names.iter().any(|name| entry.label.contains(name.as_str()))
    })
}

/// Whether `value` is outside a Nagios threshold range (the plugin guidelines: `10` is 0..10,
/// `10:` is 10..∞, `~:10` is −∞..10, `10:20` is 10..20, and a leading `@` alerts inside the
/// range instead). An unreadable range is not a verdict: the object is kept.
fn outside_range(value: f64, range: &str) -> bool {
    let (inside_alerts, range) = match range.strip_prefix('@') {
        Some(rest) => (true, rest),
        None => (false, range),
    };
    let bound = |text: &str, open: f64| -> Option<f64> {
        match text {
            "" | "~" => Some(open),
            number => number.parse().ok(),
        }
    };
    let bounds = match range.split_once(':') {
        Some((low, high)) => bound(low, f64::NEG_INFINITY).zip(bound(high, f64::INFINITY)),
        None => bound(range, f64::INFINITY).map(|high| (0.0, high)),
    };
    let Some((low, high)) = bounds else { return true };
    let inside = low <= value && value <= high;
    inside == inside_alerts
}

fn capped(kept: usize) -> Vec<String> {
    if kept > MAX_OBJECTS {
        vec![format!("only the first {MAX_OBJECTS} of {kept} events were taken")]
    } else {
        Vec::new()
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(subject: &str, body: &str) -> RawAlert {
        RawAlert::from_parts(subject, body, "2026-11-25T00:00:00.000Z".into())
    }

    const NAGIOS_SUBJECT: &str = "** PROBLEM Service Alert: dbhost02/ORA HRPROD tablespaces is CRITICAL **";

    fn nagios(output: &str) -> RawAlert {
        raw(
            NAGIOS_SUBJECT,
            &format!(
                "***** Nagios *****\n\nService: ORA HRPROD tablespaces\nHost: dbhost02\n\nAdditional Info:\n\n{output}\n"
            ),
        )
    }

    #[test]
    fn a_tablespace_list_becomes_one_alert_per_tablespace_over_its_warning() {
        let split = super::split(&nagios(
            "CRITICAL - tbs HR_DATA usage is 98.20%, tbs SYSAUX usage is 91.02%, tbs USERS usage is 44.50%, \
             tbs SYSTEM usage is 61.77% | 'tbs_hr_data_usage_pct'=98.20%;90;98 'tbs_sysaux_usage_pct'=91.02%;90;98 \
             'tbs_users_usage_pct'=44.50%;90;98 'tbs_system_usage_pct'=61.77%;90;98",
        ))
        .expect("a list of four");
        assert_eq!(split.listed, 4);
        assert_eq!(split.parts.len(), 2, "{split:#?}");
        assert!(
            split.parts[0]
                .body
                .contains("\nCRITICAL - tbs HR_DATA usage is 98.20% | 'tbs_hr_data_usage_pct'=98.20%;90;98\n")
        );
        assert!(
            split.parts[1]
                .body
                .contains("\nCRITICAL - tbs SYSAUX usage is 91.02% | 'tbs_sysaux_usage_pct'=91.02%;90;98\n")
        );
        for part in &split.parts {
            assert_eq!(part.subject, NAGIOS_SUBJECT);
            assert!(part.body.contains("Service: ORA HRPROD tablespaces"), "the rest of the email stays");
            assert!(!part.body.contains("USERS") && !part.body.contains("SYSTEM"));
        }
        assert_eq!(split.left_out.len(), 2);
        assert!(split.left_out[0].contains("tbs USERS usage is 44.50%"), "{:?}", split.left_out);
    }

    #[test]
    fn free_space_ranges_alert_below_their_start() {
        let split = super::split(&nagios(
            "CRITICAL - tbs USERS has 4.00% free space left, tbs SOE has 8.00% free space left, tbs TOOLS has 40.00% free space left \
             | 'tbs_users_free_pct'=4.00%;10:;5: 'tbs_soe_free_pct'=8.00%;10:;5: 'tbs_tools_free_pct'=40.00%;10:;5:",
        ))
        .expect("a list");
        assert_eq!(split.parts.len(), 2, "{split:#?}");
        assert!(split.parts[1].body.contains("tbs SOE has 8.00% free space left"));
    }

    #[test]
    fn a_recovery_keeps_every_object_so_each_workflow_clears() {
        let split = super::split(&nagios(
            "OK - tbs HR_DATA usage is 60.00%, tbs SYSAUX usage is 70.00% | 'tbs_hr_data_usage_pct'=60.00%;90;98 'tbs_sysaux_usage_pct'=70.00%;90;98",
        ))
        .expect("a list");
        assert_eq!(split.parts.len(), 2);
    }

    #[test]
    fn a_list_whose_first_object_is_the_only_one_over_is_one_alert_as_it_is() {
        assert_eq!(
            super::split(&nagios(
                "CRITICAL - tbs HR_DATA usage is 98.20%, tbs USERS usage is 44.50% | 'tbs_hr_data_usage_pct'=98.20%;90;98 'tbs_users_usage_pct'=44.50%;90;98"
            )),
            None
        );
        let later = super::split(&nagios(
            "WARNING - tbs USERS usage is 44.50%, tbs HR_DATA usage is 93.20% | 'tbs_users_usage_pct'=44.50%;90;98 'tbs_hr_data_usage_pct'=93.20%;90;98",
        ))
        .expect("the one over threshold is not the first: its own alert");
        assert_eq!(later.parts.len(), 1);
        assert!(later.parts[0].body.contains("WARNING - tbs HR_DATA usage is 93.20% |"));
    }

    #[test]
    fn objects_without_perfdata_are_kept_for_the_database_to_judge() {
        let split = super::split(&nagios("CRITICAL - tbs A usage is 98%, tbs B usage is 20%")).expect("a list");
        assert_eq!(split.parts.len(), 2);
        assert!(split.parts[1].body.contains("\nCRITICAL - tbs B usage is 20%\n"));
    }

    #[test]
    fn prose_with_commas_and_single_objects_are_not_lists() {
        assert_eq!(
            super::split(&nagios("CRITICAL - tbs USERS usage is 97.10% | 'tbs_users_usage_pct'=97.10%;90;98")),
            None
        );
        assert_eq!(super::split(&nagios("CRITICAL - connection refused, retried 3 times, giving up after 30s")), None);
        assert_eq!(super::split(&raw("Backup finished", "Files: 12, errors: 0, size 3 GB")), None);
    }

    #[test]
    fn an_oem_rule_set_email_becomes_one_alert_per_event() {
        let body = "Host=dbhost01.example.com\nTarget type=Database Instance\nTarget name=PRODDB\n\
                    Message=Tablespace [USERS] is [97 percent] full\nSeverity=Critical\nKey Value=USERS\n\n----\n\
                    Host=dbhost01.example.com\nTarget type=Database Instance\nTarget name=PRODDB\n\
                    Message=Tablespace [SOE] is [86 percent] full\nSeverity=Warning\nKey Value=SOE\n\
                    Host=dbhost09\nTarget name=HRDB\nMessage=Tablespace [HR] is [91 percent] full\nSeverity=Clear\n";
        let split = super::split(&raw("EM Event: Critical:PRODDB - Tablespace [USERS] is [97 percent] full", body))
            .expect("three events");
        assert_eq!(split.parts.len(), 3);
        assert_eq!(split.parts[0].subject, "EM Event: Critical:PRODDB - Tablespace [USERS] is [97 percent] full");
        assert_eq!(split.parts[1].subject, "EM Event: Warning:PRODDB - Tablespace [SOE] is [86 percent] full");
        assert_eq!(split.parts[2].subject, "EM Event: Clear:HRDB - Tablespace [HR] is [91 percent] full");
        assert!(split.parts[1].body.starts_with("Host=dbhost01.example.com") && !split.parts[1].body.contains("USERS"));
        assert_eq!(
            super::split(&raw("EM Event: Critical:PRODDB - x", "Target name=PRODDB\nMessage=x\nSeverity=Critical")),
            None
        );
    }

    #[test]
    fn nagios_ranges_follow_the_plugin_guidelines() {
        for (value, range, outside) in [
            (95.0, "90", true),
            (50.0, "90", false),
            (-1.0, "90", true),
            (5.0, "10:", true),
            (15.0, "10:", false),
            (11.0, "~:10", true),
            (15.0, "10:20", false),
            (25.0, "10:20", true),
            (15.0, "@10:20", true),
            (25.0, "@10:20", false),
            (1.0, "junk", true),
        ] {
            assert_eq!(outside_range(value, range), outside, "{value} against {range}");
        }
    }

    #[test]
    fn an_email_of_a_thousand_objects_yields_at_most_the_cap() {
        let items: Vec<String> = (0..1000).map(|n| format!("tbs T{n} usage is 99.00%")).collect();
        let split = super::split(&nagios(&format!("CRITICAL - {}", items.join(", ")))).expect("a list");
        assert_eq!(split.parts.len(), MAX_OBJECTS);
        assert_eq!(split.listed, 1000);
        assert!(split.left_out.iter().any(|reason| reason.contains("first 50 objects over threshold")));
    }
}
