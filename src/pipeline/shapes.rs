//! The structured shapes monitors give their alerts, read before any policy pattern runs.
//!
//! Oracle Enterprise Manager writes `EM Event: <Severity>:<Target> - <Message>` subjects and
//! `Key=Value` bodies, marks clear events with `CLEARED - `, and HTML mail carries entities such
//! as `&nbsp;` inside keys; Nagios plugins write `STATE - text | perfdata`. Reading these first
//! gives the matcher the target database and the clear flag even when a policy's pattern
//! captures neither, and lets patterns see clean text.
//!
//! An alert is outside input of any size: it is cut to [`MAX_MATCH_TEXT`] first, and every pass
//! after the cut is one scan of at most that much text (the `regex` crate's engines and
//! `html-escape`'s decoder are linear), so no body can make shaping slow. In tests each pass
//! reports the bytes it scans ([`scanned`]), and a property test holds the sum to a constant
//! times the input's size.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::intake::RawAlert;

/// Patterns see at most this much of an alert: the part of an alert that says what is wrong
/// is at its top, and a megabyte of quoted history must not make a pattern give up or shaping
/// crawl. The cut comes before any decoding; the stored raw alert keeps everything.
pub const MAX_MATCH_TEXT: usize = 64 * 1024;

/// Which monitor format an alert was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    OemEvent,
    Nagios,
    Plain,
}

/// An alert's text, cleaned, with what its structure told us.
#[derive(Debug, Clone)]
pub struct ShapedAlert {
    /// Subject + "\n" + body, entities decoded and `CLEARED - ` removed: what patterns run on.
    pub text: String,
    pub shape: Shape,
    /// A clear (recovery) event: the condition is over.
    pub cleared: bool,
    /// OEM `Severity` or the Nagios state, as written.
    pub monitor_severity: Option<String>,
    /// The monitored target's name as the monitor wrote it (OEM target).
    pub target: Option<String>,
    /// OEM `Key=Value` pairs (keys lower-cased, spaces kept), or Nagios parts.
    pub attributes: BTreeMap<String, String>,
}

/// OEM body keys, so a multi-line `Message=` is read up to the next known key.
const OEM_KEYS: &[&str] = &[
    "host",
    "target type",
    "target name",
    "message",
    "severity",
    "event reported time",
    "operating system",
    "platform",
    "event type",
    "event name",
    "metric group",
    "metric",
    "metric value",
    "key value",
    "key column 1",
    "rule name",
    "rule owner",
    "update details",
    "job name",
    "job owner",
    "job type",
    "job status",
    "execution log",
    "categories",
    "action message",
    "target lifecycle status",
    "comment",
    "incident creation time",
    "last updated time",
    "event id",
    "incident id",
    "problem id",
    "incident status",
    "incident acknowledged by owner",
    "incident owner",
    "priority",
    "escalated",
    "escalation level",
];

static OEM_SUBJECT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:re:\s*|fw:\s*)*EM\s+(?:Event|Incident)\s*:\s*(Fatal|Critical|Warning|Advisory|Clear|Informational)\s*:\s*(.+?)\s+-\s+(.*)$").ok()
});
static OEM_LINE: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"^\s*([A-Za-z][A-Za-z0-9 ]*?)\s*=\s*(.*)$").ok());
static NAGIOS_OUTPUT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?m)^\s*(?:([A-Z][A-Z0-9_]+)\s+)?(OK|WARNING|CRITICAL|UNKNOWN)\s*(?:-|:)\s*(.*?)(?:\s*\|\s*(.*))?\s*$")
        .ok()
});
static NAGIOS_NOTIFICATION: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*\*\s*(PROBLEM|RECOVERY|ACKNOWLEDGEMENT|FLAPPINGSTART|FLAPPINGSTOP)\s+(?:Service|Host)\s+Alert:\s*([^/\s]+)(?:/(.+?))?\s+is\s+(\w+)\s*\*\*")
        .ok()
});
static CLEARED: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"(?i)\bCLEARED\s+-\s+").ok());
/// The all-clear subjects of the other monitors: Alertmanager's and Grafana's `[RESOLVED]`,
/// Zabbix's `Resolved in 12m 3s:` (or `Resolved:`), Datadog's `[Recovered]` /
/// `[Recovered on {host:x}]`, Icinga 2's `[RECOVERY]`.
static RESOLVED_SUBJECT: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(?:(?:re|fwd?):\s*)*(?:\[RESOLVED(?::\d+)?\]|\[RECOVERY\]|\[Recovered(?:\s+on\s+\{[^}\n]{0,200}\})?\]|Resolved(?:\s+in\s+[^:\n]{1,40})?:)")
        .ok()
});

/// Reads the structure of an alert. Never fails; an alert in no known format is `Plain`.
/// Only the first [`MAX_MATCH_TEXT`] bytes of subject, line break and body are read.
pub fn read(raw: &RawAlert) -> ShapedAlert {
    let subject = prefix(&raw.subject, MAX_MATCH_TEXT);
    let body = prefix(&raw.body, MAX_MATCH_TEXT.saturating_sub(subject.len() + 1));
    let subject = decode_entities(subject);
    let body = decode_entities(body);
    let mut shaped = ShapedAlert {
        text: String::new(),
        shape: Shape::Plain,
        cleared: false,
        monitor_severity: None,
        target: None,
        attributes: BTreeMap::new(),
    };

    let oem_subject = OEM_SUBJECT.as_ref().and_then(|regex| regex.captures(scanned(subject.trim())));
    if let Some(captures) = &oem_subject {
        shaped.shape = Shape::OemEvent;
        shaped.monitor_severity = captures.get(1).map(|m| m.as_str().to_owned());
        shaped.target = captures.get(2).map(|m| m.as_str().trim().to_owned());
        if let Some(message) = captures.get(3) {
            shaped.attributes.insert("message".to_owned(), message.as_str().trim().to_owned());
        }
    }
    let body_attributes = oem_attributes(&body);
    if body_attributes.len() >= 2
        && (body_attributes.contains_key("target name") || body_attributes.contains_key("message"))
    {
        shaped.shape = Shape::OemEvent;
        if let Some(target) = body_attributes.get("target name") {
            shaped.target = Some(target.clone());
        }
        if let Some(severity) = body_attributes.get("severity") {
            shaped.monitor_severity = Some(severity.clone());
        }
        shaped.attributes.extend(body_attributes);
    }
    // A few entities (`&nGt;`) decode longer than they are written: cut once more.
    let mut text = format!("{subject}\n{body}");
    truncate_at_char(&mut text, MAX_MATCH_TEXT);
    if shaped.shape == Shape::Plain
        && let Some(captures) = NAGIOS_NOTIFICATION.as_ref().and_then(|regex| regex.captures(scanned(subject.trim())))
    {
        // A Nagios notification mail: `** PROBLEM Service Alert: host/service is CRITICAL **`.
        shaped.shape = Shape::Nagios;
        shaped.monitor_severity = captures.get(4).map(|m| m.as_str().to_uppercase());
        for (index, key) in [(1, "notification_type"), (2, "host"), (3, "service")] {
            if let Some(value) = captures.get(index) {
                shaped.attributes.insert(key.to_owned(), value.as_str().trim().to_owned());
            }
        }
    }
    if shaped.shape != Shape::OemEvent
        && let Some(captures) = NAGIOS_OUTPUT.as_ref().and_then(|regex| regex.captures(scanned(&text)))
    {
        // Plugin output, `STATE - text | perfdata`, alone or inside a notification mail.
        if shaped.shape == Shape::Plain {
            shaped.monitor_severity = captures.get(2).map(|m| m.as_str().to_owned());
        }
        shaped.shape = Shape::Nagios;
        for (index, key) in [(1, "service"), (3, "output"), (4, "perfdata")] {
            if let Some(value) = captures.get(index) {
                shaped.attributes.entry(key.to_owned()).or_insert_with(|| value.as_str().trim().to_owned());
            }
        }
    }

    let severity_clear = shaped.monitor_severity.as_deref().is_some_and(|severity| {
        severity.eq_ignore_ascii_case("clear") || (shaped.shape == Shape::Nagios && severity.eq_ignore_ascii_case("ok"))
    });
    let has_cleared_prefix = CLEARED.as_ref().is_some_and(|regex| regex.is_match(scanned(&text)));
    let nagios_recovery =
        shaped.attributes.get("notification_type").is_some_and(|kind| kind.eq_ignore_ascii_case("RECOVERY"));
    let resolved_subject = shaped.shape != Shape::OemEvent
        && RESOLVED_SUBJECT.as_ref().is_some_and(|regex| regex.is_match(scanned(subject.trim())));
    shaped.cleared = severity_clear || has_cleared_prefix || nagios_recovery || resolved_subject;
    shaped.text = match CLEARED.as_ref() {
        Some(regex) => regex.replace_all(scanned(&text), "").into_owned(),
        None => text,
    };
    if let Some(message) = shaped.attributes.get_mut("message")
        && let Some(regex) = CLEARED.as_ref()
    {
        *message = regex.replace_all(scanned(message), "").into_owned();
    }
    shaped
}

/// `Key=Value` lines with known OEM keys; a value continues on following lines until the next
/// known key.
fn oem_attributes(body: &str) -> BTreeMap<String, String> {
    let mut attributes = BTreeMap::new();
    let Some(line_regex) = OEM_LINE.as_ref() else { return attributes };
    let mut current: Option<String> = None;
    for line in body.lines() {
        if let Some(captures) = line_regex.captures(scanned(line)) {
            let key = captures.get(1).map_or("", |m| m.as_str()).to_lowercase();
            let key = key.split_whitespace().collect::<Vec<_>>().join(" ");
            if OEM_KEYS.contains(&key.as_str()) {
                let value = captures.get(2).map_or("", |m| m.as_str()).trim().to_owned();
                attributes.insert(key.clone(), value);
                current = Some(key);
                continue;
            }
        }
        match &current {
            Some(key) if key == "message" && !line.trim().is_empty() => {
                if let Some(value) = attributes.get_mut(key) {
                    value.push(' ');
                    value.push_str(line.trim());
                }
            }
            _ => current = None,
        }
    }
    attributes
}

/// Decodes the HTML entities monitors leave in mail (`&nbsp;` inside OEM keys, `&amp;`…):
/// named and numeric references ending in `;`; a no-break space becomes a plain one, so
/// patterns' `\s` and the OEM keys see a space. Anything else after a `&` is kept as written.
pub fn decode_entities(text: &str) -> Cow<'_, str> {
    let decoded = html_escape::decode_html_entities(scanned(text));
    if scanned(&decoded).contains('\u{a0}') { Cow::Owned(decoded.replace('\u{a0}', " ")) } else { decoded }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn prefix(text: &str, max: usize) -> &str {
    &text[..text.floor_char_boundary(max)]
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn truncate_at_char(text: &mut String, max: usize) {
    let end = text.floor_char_boundary(max);
    text.truncate(end);
}

/// Marks `text` as scanned by one pass and hands it back. In tests it adds the bytes to this
/// thread's count ([`work::take`]); in a build it does nothing.
pub(super) fn scanned(text: &str) -> &str {
    #[cfg(test)]
    work::add(text.len());
    text
}

/// The bytes scanned by shaping and matching on this thread, counted only in tests: what the
/// property test holds linear.
#[cfg(test)]
pub(super) mod work {
    use std::cell::Cell;

    thread_local! {
        static SCANNED: Cell<usize> = const { Cell::new(0) };
    }

    pub fn add(bytes: usize) {
        SCANNED.with(|count| count.set(count.get() + bytes));
    }

    /// The bytes counted since the last call, and a fresh start.
    pub fn take() -> usize {
        SCANNED.with(|count| count.replace(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(subject: &str, body: &str) -> RawAlert {
        RawAlert::from_parts(subject, body, "2026-11-25T00:00:00.000Z".into())
    }

    #[test]
    fn oem_subject_splits_on_the_first_dash_after_severity() {
        let shaped = read(&raw(
            "EM Event: Critical:LISTENER_SCAN3_rac-scan - Listener response to a TNS ping is 5,010 msecs",
            "",
        ));
        assert_eq!(shaped.shape, Shape::OemEvent);
        assert_eq!(shaped.monitor_severity.as_deref(), Some("Critical"));
        assert_eq!(shaped.target.as_deref(), Some("LISTENER_SCAN3_rac-scan"));
        assert_eq!(shaped.attributes["message"], "Listener response to a TNS ping is 5,010 msecs");
    }

    #[test]
    fn oem_body_with_entities_and_multiline_message() {
        let body = "Host=db01.example.com\nTarget&nbsp;type=Database Instance\nTarget name=PRODDB\nMessage=Tablespace [USERS@PDB1] is [97 percent] full\n  and still growing\nSeverity=Critical\nEvent reported time=Feb 23, 2021 12:04:53 PM GMT\n";
        let shaped = read(&raw("EM Event: Critical:PRODDB - Tablespace [USERS@PDB1] is [97 percent] full", body));
        assert_eq!(shaped.target.as_deref(), Some("PRODDB"));
        assert_eq!(shaped.attributes["target type"], "Database Instance");
        assert_eq!(shaped.attributes["message"], "Tablespace [USERS@PDB1] is [97 percent] full and still growing");
        assert!(!shaped.cleared);
    }

    #[test]
    fn cleared_events_are_flagged_and_the_prefix_removed() {
        let shaped = read(&raw(
            "EM Event: Clear:PRODDB - CLEARED - Tablespace [USERS] is [70 percent] full",
            "Message=CLEARED - Tablespace [USERS] is [70 percent] full\nTarget name=PRODDB",
        ));
        assert!(shaped.cleared);
        assert!(!shaped.text.contains("CLEARED"));
        assert_eq!(shaped.attributes["message"], "Tablespace [USERS] is [70 percent] full");
    }

    #[test]
    fn nagios_output_is_read() {
        let shaped = read(&raw(
            "** PROBLEM Service Alert: db1/ORA_TBS is CRITICAL **",
            "CRITICAL - tbs USERS usage is 97.10% | 'tbs_users_usage_pct'=97.10%;90;98",
        ));
        assert_eq!(shaped.shape, Shape::Nagios);
        assert_eq!(shaped.monitor_severity.as_deref(), Some("CRITICAL"));
        assert_eq!(shaped.attributes["perfdata"], "'tbs_users_usage_pct'=97.10%;90;98");
        let check_postgres =
            read(&raw("alert", "POSTGRES_TXN_IDLE CRITICAL: DB \"app\" (host:db1) longest idle in txn: 4521s"));
        assert_eq!(check_postgres.attributes["service"], "POSTGRES_TXN_IDLE");
    }

    #[test]
    fn nagios_notification_mail_is_read() {
        let shaped =
            read(&raw("** RECOVERY Service Alert: dev-db-01/ORACLE_TEMP is OK **", "Temp tablespace TEMP is 40% full"));
        assert_eq!(shaped.shape, Shape::Nagios);
        assert_eq!(shaped.attributes["host"], "dev-db-01");
        assert_eq!(shaped.attributes["service"], "ORACLE_TEMP");
        assert!(shaped.cleared, "a RECOVERY is a clear event");
    }

    #[test]
    fn recovery_in_an_alert_message_is_not_a_clear() {
        let shaped = read(&raw("EM Event: Critical:PRODDB - Recovery Area Free Space (%) is 5", "Target name=PRODDB"));
        assert!(!shaped.cleared);
    }

    #[test]
    fn other_monitors_all_clear_subjects_are_clear_events() {
        for subject in [
            "[RESOLVED] PostgresTableDeadTuples (app critical)",
            "[RESOLVED:1] Oracle tablespace usage (PRODDB USERS)",
            "Resolved in 12m 3s: Oracle TBS 'USERS': Tablespace usage is too high (over 95% for 5m).",
            "Resolved: Oracle: Too many locked sessions (over 20% for 5 min)",
            "[Recovered] Oracle tablespace USERS on PRODDB",
            "[Recovered on {host:dbhost03}] High CPU on ERPPRD",
            "[RECOVERY] pg_backends on pg-prod-01 is OK!",
        ] {
            assert!(read(&raw(subject, "body")).cleared, "{subject}");
        }
        for subject in [
            "[FIRING:1] PostgresTableDeadTuples (app critical)",
            "Problem: Oracle TBS 'USERS': Tablespace usage is too high (over 95% for 5m).",
            "[Triggered] Oracle tablespace USERS on PRODDB",
            "Tablespace USERS resolved to 97% full",
        ] {
            assert!(!read(&raw(subject, "Problem has been resolved? no")).cleared, "{subject}");
        }
    }

    #[test]
    fn plain_text_stays_plain() {
        let shaped = read(&raw("Tablespace USERS is 92% full on database DEV-DB-01", "from a cron script"));
        assert_eq!(shaped.shape, Shape::Plain);
        assert_eq!(shaped.text, "Tablespace USERS is 92% full on database DEV-DB-01\nfrom a cron script");
    }

    #[test]
    fn entities() {
        assert_eq!(decode_entities("a&nbsp;b &amp; &#65;&#x42; &bogus"), "a b & AB &bogus");
        assert_eq!(decode_entities("& a &#; &#x; &amp &lt;&gt;&quot;&apos;"), "& a &#; &#x; &amp <>\"'");
    }

    #[test]
    fn the_text_is_cut_before_it_is_read() {
        let body = format!("Target name=PRODDB\nMessage=Tablespace USERS is 97% full\n\n{}", "é& a\n".repeat(40_000));
        let shaped = read(&raw("EM Event: Critical:PRODDB - full", &body));
        assert!(shaped.text.len() <= MAX_MATCH_TEXT && shaped.text.len() > MAX_MATCH_TEXT - 8);
        assert_eq!(shaped.attributes["message"], "Tablespace USERS is 97% full");
        let long_subject = read(&raw(&"é".repeat(MAX_MATCH_TEXT), "body"));
        assert!(long_subject.text.len() <= MAX_MATCH_TEXT && !long_subject.text.contains("body"));
        // An entity that decodes longer than it is written cannot push the text past the cap.
        let longer = read(&raw("x", &"&nGt;".repeat(MAX_MATCH_TEXT / 5)));
        assert!(longer.text.len() <= MAX_MATCH_TEXT);
    }

    /// Passes over the shaped text in [`read`]: decoding and its no-break-space check (subject
    /// and body), the OEM lines, the Nagios output, the clear prefix found and removed, the
    /// message's clear prefix, and the subject's patterns (OEM, Nagios, the other monitors'
    /// all-clear), each over the subject only.
    const SHAPING_PASSES: usize = 10;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

        /// Every pass reports the bytes it scans, call by call, so a pass run once per `&` or
        /// per line over the rest of the text (the old decoder) counts its rescans. The work
        /// stays within a fixed number of passes over the capped text, whatever the size.
        #[test]
        fn shaping_work_is_linear_and_capped((pieces, long_line, size) in crate::intake::html_text::tests::pieces()) {
            let body = crate::intake::html_text::tests::hostile_body(&pieces, long_line, size);
            let subject = "EM Event: Critical:PRODDB - CLEARED - & a &#";
            work::take();
            let shaped = read(&raw(subject, &body));
            let work = work::take();
            let read_bytes = (subject.len() + 1 + body.len()).min(MAX_MATCH_TEXT);
            proptest::prop_assert!(shaped.text.len() <= MAX_MATCH_TEXT);
            proptest::prop_assert!(
                work <= SHAPING_PASSES * read_bytes,
                "{work} bytes scanned for {read_bytes} bytes read ({} in the body)", body.len()
            );
        }
    }
}
