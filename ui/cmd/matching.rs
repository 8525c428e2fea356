//! `sentri match FILE|-`: how Sentri reads one alert email — the alert type, the database and
//! its environment, every extracted field — and, for a miss, the nearest policies and why.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use sentri::intake::RawAlert;
use sentri::pipeline::matcher::{self, KnownDatabase, MatchOutcome};
use sentri::pipeline::objects;
use sentri::policy::PolicySet;

use super::{Context, print_json, printable};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "The file is an email as saved by a mail client (.eml, RFC 822), or plain text whose first line is the subject.\nExit status: 0 when a policy matched, 1 when none did (or on error)."
)]
pub struct Args {
    /// The email file, or `-` for standard input.
    file: PathBuf,
    /// Print the result as JSON: {"alert_type","database","environment","fields"}; a miss has
    /// alert_type null and adds "nearest": the closest policies and the words they lack.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct MatchJson {
    alert_type: Option<String>,
    database: Option<String>,
    environment: Option<String>,
    fields: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nearest: Option<Vec<matcher::NearMiss>>,
    /// An email of several objects: the alert each one becomes (the fields above are the first's).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    objects: Vec<ObjectJson>,
}

/// One object's alert, of an email that reports several.
#[derive(serde::Serialize)]
struct ObjectJson {
    alert_type: Option<String>,
    fields: std::collections::BTreeMap<String, String>,
}

/// The alert each object becomes, when the email reports several (`pipeline::objects`): what
/// triage will store, one raw alert and workflow per object.
fn objects_of(raw: &RawAlert, policies: &PolicySet, databases: &[KnownDatabase]) -> (Vec<ObjectJson>, Vec<String>) {
    let Some(split) = objects::split(raw) else { return (Vec::new(), Vec::new()) };
    let each = split
        .parts
        .iter()
        .map(|part| {
            let raw = RawAlert::from_parts(&part.subject, &part.body, raw.received_at.clone());
            match matcher::match_alert(&raw, policies, databases) {
                MatchOutcome::Matched(alert) => ObjectJson { alert_type: Some(alert.alert_type), fields: alert.fields },
                MatchOutcome::Unmatched { .. } => ObjectJson { alert_type: None, fields: Default::default() },
            }
        })
        .collect();
    (each, split.left_out)
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let bytes = if args.file.as_os_str() == "-" {
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).context("reading standard input")?;
        bytes
    } else {
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?
    };
    let received_at = jiff::Timestamp::now().to_string();
    let raw = if looks_like_rfc822(&bytes) {
        RawAlert::from_rfc822(&bytes, received_at)
    } else {
        let text = String::from_utf8_lossy(&bytes);
        let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
        RawAlert::from_parts(subject.trim(), body.trim_start_matches('\n'), received_at)
    };
    let home = context.existing_home()?;
    let config = context.config()?;
    let databases = KnownDatabase::from_config(&config);
    let policies = PolicySet::load(&home.root);
    let broken: Vec<_> = policies.errors().collect();
    if !broken.is_empty() {
        eprintln!(
            "warning: {} policy file(s) have errors and were not used (see `sentri policy check`):",
            broken.len()
        );
        for problem in broken {
            eprintln!("  {problem}");
        }
    }
    let outcome = matcher::match_alert(&raw, &policies, &databases);
    let (objects, left_out) = objects_of(&raw, &policies, &databases);

    let pattern_errors = match &outcome {
        MatchOutcome::Matched(alert) => &alert.pattern_errors,
        MatchOutcome::Unmatched { pattern_errors, .. } => pattern_errors,
    };
    for error in pattern_errors {
        eprintln!("warning: the pattern of {} could not finish on this email: {}", error.alert_type, error.error);
    }
    match outcome {
        MatchOutcome::Matched(alert) => {
            if args.json {
                print_json(&MatchJson {
                    alert_type: Some(alert.alert_type.clone()),
                    database: alert.database.clone(),
                    environment: alert.environment.clone(),
                    fields: alert.fields.clone(),
                    nearest: None,
                    objects,
                })?;
            } else {
                println!("alert_type:  {}", alert.alert_type);
                println!("policy:      {}", alert.policy.path.display());
                let database = match (&alert.database, alert.database_resolved) {
                    (Some(name), true) => name.clone(),
                    (Some(name), false) => format!("{name} (not a configured database or alias)"),
                    (None, _) => "(none found: the alert names no configured database)".to_owned(),
                };
                println!("database:    {database}");
                println!("environment: {}", alert.environment.as_deref().unwrap_or("(unknown)"));
                println!("severity:    {}", alert.severity.as_str());
                println!(
                    "shape:       {}",
                    serde_json::to_value(alert.shape)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                );
                if alert.cleared {
                    println!("cleared:     yes (a clear event: the condition is over)");
                }
                println!("fields:");
                for (name, value) in &alert.fields {
                    println!("  {name} = {}", printable(value));
                }
                if !alert.also_matched.is_empty() {
                    println!("also matched (lower priority): {}", alert.also_matched.join(", "));
                }
                if !objects.is_empty() {
                    println!("objects:     {} — each becomes its own alert and workflow:", objects.len());
                    for object in &objects {
                        let fields: Vec<String> =
                            object.fields.iter().map(|(name, value)| format!("{name}={}", printable(value))).collect();
                        println!("  {}  {}", object.alert_type.as_deref().unwrap_or("(unmatched)"), fields.join(" "));
                    }
                    for reason in &left_out {
                        println!("  not an alert: {}", printable(reason));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        MatchOutcome::Unmatched { nearest, .. } => {
            if args.json {
                print_json(&MatchJson {
                    alert_type: None,
                    database: None,
                    environment: None,
                    fields: Default::default(),
                    nearest: Some(nearest),
                    objects,
                })?;
            } else {
                println!("no policy matched");
                println!("  subject: {}", printable(&raw.subject));
                if let Some(error) = &raw.parse_error {
                    println!("  (the message could not be parsed cleanly: {error})");
                }
                if nearest.is_empty() {
                    println!("  no policy looks for any word of this email");
                } else {
                    println!("nearest policies:");
                    for miss in nearest {
                        println!(
                            "  {} ({:.0}% of its words present) — has: {}; lacks: {}",
                            miss.alert_type,
                            miss.score * 100.0,
                            if miss.found.is_empty() { "-".to_owned() } else { miss.found.join(", ") },
                            if miss.missing.is_empty() {
                                "- (the words are there; the pattern's order or numbers differ)".to_owned()
                            } else {
                                miss.missing.join(", ")
                            }
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// An email file starts with header lines (`Name: value`); anything else is pasted text.
pub(super) fn looks_like_rfc822(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let first = text.lines().next().unwrap_or_default();
    let Some((name, _)) = first.split_once(':') else { return false };
    let header_name = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    header_name && (name.eq_ignore_ascii_case("subject") || text.contains("\n\n") || text.contains("\r\n\r\n"))
}
