//! The labelled alert corpus (issue 14 §5): real shapes of the monitors DBAs receive mail from
//! (the reference product's examples and tests, OEM 12c/13c/24ai, alert-log lines,
//! check_oracle_health, check_postgres, Zabbix, Alertmanager, Grafana, Datadog, cron scripts)
//! and the close texts that are not alerts (job success, backups, OEM informational and
//! availability-ok events, reports, newsletters, an ORA-01555, a slow TNS ping).
//!
//! The real matcher runs over the default pack as `sentri init` installs it, with the corpus'
//! databases configured. The test prints per family what was right (type and values), wrong,
//! missed and falsely raised, and the matching cost per email and per policy; it fails below
//! 95 % right, on any false alarm, or when one policy costs more than all the others together.
//!
//! The reference's own policy files (`tests/data/reference_pack/`, unchanged) must recognise
//! the reference family too, with its values under its field names.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sentri::domain::DbKind;
use sentri::intake::RawAlert;
use sentri::pipeline::matcher::{Alert, KnownDatabase, MatchOutcome, match_alert};
use sentri::pipeline::objects;
use sentri::policy::{Level, PolicySet};
use serde::Deserialize;

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/alert_corpus");
const REFERENCE_PACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference_pack/alerts");

/// The share of labelled texts that must come out right.
const BAR: f64 = 0.95;

#[derive(Debug, Deserialize)]
struct Labels {
    cases: Vec<Label>,
}

#[derive(Debug, Clone, Deserialize)]
struct Label {
    file: String,
    #[serde(rename = "type")]
    alert_type: String,
    database: Option<String>,
    #[serde(default)]
    cleared: bool,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    reference_fields: Option<BTreeMap<String, String>>,
    /// An email reporting several objects: the fields of each single-object alert it must
    /// become, in order (`pipeline::objects`). Without it, an email must stay one alert.
    objects: Option<Vec<BTreeMap<String, String>>>,
}

impl Label {
    fn family(&self) -> &str {
        self.file.split('/').next().unwrap_or("?")
    }

    fn is_alert(&self) -> bool {
        self.alert_type != "NONE"
    }
}

fn labels() -> Vec<Label> {
    let text = std::fs::read_to_string(Path::new(CORPUS).join("labels.json")).expect("labels.json");
    let labels: Labels = serde_json::from_str(&text).expect("labels.json parses");
    labels.cases
}

/// A corpus file: `Subject: …`, a blank line, the body.
fn raw(label: &Label) -> RawAlert {
    let text = std::fs::read_to_string(Path::new(CORPUS).join(&label.file)).expect("corpus file");
    let (subject, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
    let subject = subject.strip_prefix("Subject:").unwrap_or(subject).trim();
    RawAlert::from_parts(subject, body.trim_end_matches('\n'), String::new())
}

/// The databases the corpus names, as a `sentri.yaml` would configure them.
fn databases() -> Vec<KnownDatabase> {
    let oracle: &[(&str, &[&str])] = &[
        ("PROD-DB-07", &["PRODDB", "prod-db-07", "PROD07"]),
        ("DEV-DB-01", &["DEVDB"]),
        ("UAT-DB-03", &["UATDB"]),
        ("sentri-dev", &[]),
        ("HRPROD", &[]),
        ("ERPPRD", &[]),
        ("FINPRD", &[]),
        ("SALESDB", &[]),
        ("CDBPROD", &[]),
        ("PRODDB_STBY", &[]),
    ];
    let postgres = ["app", "orders", "billing", "shop", "warehouse", "reporting"];
    let known = |name: &str, aliases: &[&str], engine| KnownDatabase {
        name: name.to_owned(),
        environment: "PROD".to_owned(),
        aliases: aliases.iter().map(|alias| (*alias).to_owned()).collect(),
        engine: Some(engine),
    };
    oracle
        .iter()
        .map(|(name, aliases)| known(name, aliases, DbKind::Oracle))
        .chain(postgres.iter().map(|name| known(name, &[], DbKind::Postgres)))
        .collect()
}

/// A SENTRI_HOME with `alerts/` filled from `sources` (folder → destination under alerts/).
fn home_with(sources: &[(&Path, &str)]) -> (tempfile::TempDir, PolicySet) {
    let home = tempfile::tempdir().expect("temp home");
    for (source, destination) in sources {
        let target = home.path().join("alerts").join(destination);
        std::fs::create_dir_all(&target).expect("alerts folder");
        for entry in std::fs::read_dir(source).expect("policy folder") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|ext| ext == "md") {
                std::fs::copy(&path, target.join(path.file_name().expect("file name"))).expect("copy");
            }
        }
    }
    let set = PolicySet::load(home.path());
    (home, set)
}

fn default_pack() -> (tempfile::TempDir, PolicySet) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let (home, set) = home_with(&[(&root.join("oracle"), "oracle"), (&root.join("postgres"), "postgres")]);
    let errors: Vec<String> = set.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "the default pack has errors:\n{}", errors.join("\n"));
    (home, set)
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Right,
    Wrong(String),
    Missed,
    FalseAlarm(String),
    /// A non-alert no policy matched.
    Quiet,
}

/// Judges one outcome against its label; `fields` are the values that must be extracted.
fn judge(label: &Label, outcome: &MatchOutcome, fields: &BTreeMap<String, String>) -> Verdict {
    let alert: &Alert = match (outcome, label.is_alert()) {
        (MatchOutcome::Unmatched { .. }, true) => return Verdict::Missed,
        (MatchOutcome::Unmatched { .. }, false) => return Verdict::Quiet,
        (MatchOutcome::Matched(alert), false) => return Verdict::FalseAlarm(alert.alert_type.clone()),
        (MatchOutcome::Matched(alert), true) => alert,
    };
    let mut wrong = Vec::new();
    if alert.alert_type != label.alert_type {
        wrong.push(format!("type `{}`", alert.alert_type));
    }
    if let Some(expected) = &label.database {
        let names = [alert.database.as_deref(), alert.database_as_written.as_deref()];
        if !names.iter().flatten().any(|name| name.eq_ignore_ascii_case(expected)) {
            wrong.push(format!("database {:?} (written {:?})", alert.database, alert.database_as_written));
        }
    }
    if alert.cleared != label.cleared {
        wrong.push(format!("cleared {}", alert.cleared));
    }
    for (name, expected) in fields {
        match alert.fields.get(name) {
            Some(actual) if actual == expected => {}
            actual => wrong.push(format!("{name} = {actual:?}, expected `{expected}`")),
        }
    }
    if wrong.is_empty() { Verdict::Right } else { Verdict::Wrong(wrong.join("; ")) }
}

/// An email of several objects must become one alert per object over threshold, each of the
/// label's type with its own fields; any other email must stay one alert.
fn judge_objects(label: &Label, raw: &RawAlert, set: &PolicySet, databases: &[KnownDatabase]) -> Verdict {
    let split = objects::split(raw);
    let Some(expected) = &label.objects else {
        return match split {
            None => Verdict::Right,
            Some(split) => Verdict::Wrong(format!("split into {} objects, one alert expected", split.parts.len())),
        };
    };
    let Some(split) = split else { return Verdict::Wrong(format!("one alert, {} objects expected", expected.len())) };
    if split.parts.len() != expected.len() {
        return Verdict::Wrong(format!(
            "{} objects, {} expected: {:?}",
            split.parts.len(),
            expected.len(),
            split.left_out
        ));
    }
    for (part, fields) in split.parts.iter().zip(expected) {
        let raw = RawAlert::from_parts(&part.subject, &part.body, String::new());
        let object = Label { fields: fields.clone(), objects: None, ..label.clone() };
        if let verdict @ (Verdict::Wrong(_) | Verdict::Missed | Verdict::FalseAlarm(_)) =
            judge(&object, &match_alert(&raw, set, databases), fields)
        {
            return verdict;
        }
    }
    Verdict::Right
}

#[derive(Debug, Default)]
struct Tally {
    alerts: usize,
    non_alerts: usize,
    right: usize,
    wrong: usize,
    missed: usize,
    false_alarms: usize,
}

fn tally(verdicts: &[(&Label, Verdict)]) -> BTreeMap<String, Tally> {
    let mut families: BTreeMap<String, Tally> = BTreeMap::new();
    for (label, verdict) in verdicts {
        let family = families.entry(label.family().to_owned()).or_default();
        if label.is_alert() {
            family.alerts += 1;
        } else {
            family.non_alerts += 1;
        }
        match verdict {
            Verdict::Right => family.right += 1,
            Verdict::Wrong(_) => family.wrong += 1,
            Verdict::Missed => family.missed += 1,
            Verdict::FalseAlarm(_) => family.false_alarms += 1,
            Verdict::Quiet => {}
        }
    }
    families
}

fn print_table(title: &str, families: &BTreeMap<String, Tally>) -> (usize, usize, usize) {
    println!("\n{title}");
    println!(
        "{:<16} {:>6} {:>6} {:>7} {:>6} {:>7} {:>12} {:>8}",
        "family", "alerts", "right", "right%", "wrong", "missed", "non-alerts", "false"
    );
    let (mut alerts, mut right, mut false_alarms) = (0, 0, 0);
    for (name, family) in families {
        let percent = if family.alerts == 0 { 100.0 } else { 100.0 * family.right as f64 / family.alerts as f64 };
        println!(
            "{name:<16} {:>6} {:>6} {percent:>6.1}% {:>6} {:>7} {:>12} {:>8}",
            family.alerts, family.right, family.wrong, family.missed, family.non_alerts, family.false_alarms
        );
        alerts += family.alerts;
        right += family.right;
        false_alarms += family.false_alarms;
    }
    (alerts, right, false_alarms)
}

#[test]
fn the_default_pack_recognises_the_corpus() {
    let (_home, set) = default_pack();
    let databases = databases();
    let labels = labels();
    let alerts = labels.iter().filter(|label| label.is_alert()).count();
    assert!(alerts >= 150, "the corpus holds {alerts} alert texts; issue 14 asks for at least 150");
    assert!(labels.len() - alerts >= 60, "the corpus holds {} non-alerts; at least 60", labels.len() - alerts);

    let mut verdicts = Vec::new();
    let mut per_email = Vec::new();
    for label in &labels {
        let raw = raw(label);
        let started = Instant::now();
        let outcome = match_alert(&raw, &set, &databases);
        per_email.push(started.elapsed());
        let verdict = match judge(label, &outcome, &label.fields) {
            Verdict::Right => judge_objects(label, &raw, &set, &databases),
            other => other,
        };
        verdicts.push((label, verdict));
    }
    let families = tally(&verdicts);
    let (alerts, right, false_alarms) = print_table("default pack on the corpus", &families);
    for (label, verdict) in &verdicts {
        if !matches!(verdict, Verdict::Right | Verdict::Quiet) {
            println!("  {:<48} {:<24} {verdict:?}", label.file, label.alert_type);
        }
    }
    let share = right as f64 / alerts as f64;
    println!("\nright: {right}/{alerts} ({:.1} %), false alarms: {false_alarms}", share * 100.0);

    // Matching cost: per email (the whole matcher), and per policy (its pattern alone, over the
    // corpus, best of three runs, so that a busy machine does not decide).
    per_email.sort();
    let total: Duration = per_email.iter().sum();
    let median = per_email[per_email.len() / 2];
    let slowest = per_email.last().copied().unwrap_or_default();
    println!(
        "cost per email: mean {:?}, median {median:?}, slowest {slowest:?} ({} emails)",
        total / per_email.len() as u32,
        per_email.len()
    );
    let texts: Vec<String> = labels
        .iter()
        .map(|label| {
            let raw = raw(label);
            format!("{}\n{}", raw.subject, raw.body)
        })
        .collect();
    let mut per_policy: Vec<(String, Duration)> = set
        .alerts
        .iter()
        .map(|policy| {
            let best = (0..3)
                .map(|_| {
                    let started = Instant::now();
                    for text in &texts {
                        let _ = std::hint::black_box(policy.pattern.regex.captures(text));
                    }
                    started.elapsed()
                })
                .min()
                .unwrap_or_default();
            (policy.name.clone(), best)
        })
        .collect();
    per_policy.sort_by_key(|(_, cost)| std::cmp::Reverse(*cost));
    let all: Duration = per_policy.iter().map(|(_, cost)| *cost).sum();
    println!("cost per policy over the corpus (all {all:?}):");
    for (name, cost) in &per_policy {
        println!("  {name:<28} {cost:>12?}  {:>5.1} %", 100.0 * cost.as_secs_f64() / all.as_secs_f64());
    }

    assert_eq!(false_alarms, 0, "a non-alert was raised as an alert (see the lines above)");
    assert!(share >= BAR, "{:.1} % right, below the bar of {:.0} %", share * 100.0, BAR * 100.0);
    let (slowest_policy, slowest_cost) = &per_policy[0];
    assert!(
        *slowest_cost < all - *slowest_cost,
        "`{slowest_policy}` costs {slowest_cost:?}, more than all the other policies together ({:?})",
        all - *slowest_cost
    );
}

/// The reference's own files, loaded unchanged, recognise the reference's emails with the same
/// type and values (its field names), and its OS-command `listener_down.md` loads.
#[test]
fn the_reference_pack_loads_unchanged_and_recognises_its_own_emails() {
    let (_home, set) = home_with(&[(Path::new(REFERENCE_PACK), "")]);
    let errors: Vec<String> = set.errors().map(ToString::to_string).collect();
    assert!(errors.is_empty(), "the reference pack must load:\n{}", errors.join("\n"));
    assert_eq!(set.alerts.len(), 9, "every reference policy loads: {:?}", set.skipped);

    let listener = set.alert("listener_down").expect("listener_down loads");
    assert!(listener.verification.is_some(), "it still verifies");
    assert!(!listener.has_fix(), "its fix is disabled");
    assert!(listener.fix_disabled.as_deref().unwrap_or_default().contains("lsnrctl start"));
    let commands: Vec<&str> = listener.os_steps.iter().map(|step| step.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            "lsnrctl start :listener_name",
            "lsnrctl status :listener_name",
            "lsnrctl stop :listener_name",
            "tnsping :listener_name",
            "lsnrctl services :listener_name"
        ]
    );
    for step in &listener.os_steps {
        assert!(
            set.problems.iter().any(|problem| problem.level == Level::Warning
                && problem.path.ends_with("listener_down.md")
                && problem.line == step.line
                && problem.message.contains("not run")),
            "no warning at line {} for `{}`: {:?}",
            step.line,
            step.command,
            set.problems
        );
    }

    let databases = databases();
    let cases: Vec<Label> = labels().into_iter().filter(|label| label.family() == "reference").collect();
    assert!(cases.iter().filter(|label| label.is_alert()).count() >= 40, "the reference family is complete");
    let mut verdicts = Vec::new();
    for label in &cases {
        let outcome = match_alert(&raw(label), &set, &databases);
        let fields = label.reference_fields.clone().unwrap_or_default();
        let verdict = match judge(label, &outcome, &fields) {
            // The reference's patterns are loose: a non-alert it matches is its own defect, not
            // a compatibility requirement. Only the alerts are judged here.
            Verdict::FalseAlarm(_) => Verdict::Quiet,
            verdict => verdict,
        };
        verdicts.push((label, verdict));
    }
    let families = tally(&verdicts);
    let (alerts, right, _) = print_table("reference pack on the reference family", &families);
    let wrong: Vec<String> = verdicts
        .iter()
        .filter(|(_, verdict)| !matches!(verdict, Verdict::Right | Verdict::Quiet))
        .map(|(label, verdict)| format!("{} ({}): {verdict:?}", label.file, label.alert_type))
        .collect();
    assert_eq!(right, alerts, "the reference pack must recognise every reference email:\n{}", wrong.join("\n"));
}
