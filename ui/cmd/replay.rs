//! `sentri replay PATH`: push an mbox, a maildir or a folder of .eml files through the same
//! path as the mailbox — stored, recognised, folded or opened as workflows — or, with
//! `--dry-run`, only show how each message would be read and what fix its policy proposes;
//! `--dry-run --report` prints the pack's coverage of the export instead (see
//! `sentri::pipeline::coverage`).

use std::path::PathBuf;
use std::process::ExitCode;

use sentri::config::Config;
use sentri::intake::replay;
use sentri::pipeline::approval::DecisionOutcome;
use sentri::pipeline::coverage::{self, CoverageReport};
use sentri::pipeline::matcher::{self, KnownDatabase, MatchOutcome};
use sentri::pipeline::steps::{self, Taken};
use sentri::pipeline::triage::Triage;
use sentri::policy::PolicySet;
use sentri::policy::alert::AlertPolicy;
use sentri::store::{Store, timestamp_text};

use super::{Context, print_json, printable, table};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "--report prints a coverage report instead of one line per message: recognised messages per alert type and database, unmatched subjects grouped by shape (numbers become N, quoted values <value>, hex ids <id>, names with digits <name>) with the nearest policy and the words it lacked. A report stores nothing, so --report requires --dry-run and is refused without it.\nWithout --dry-run every message is stored and triaged exactly as mail from the inbox is: a running `sentri start` then verifies and handles the new workflows. Messages already stored (same Message-ID) are skipped."
)]
pub struct Args {
    /// An mbox file, a maildir (with cur/ and new/), a folder of .eml files, or one .eml.
    path: PathBuf,
    /// Classify and show the planned fix only; store nothing, execute nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON: one object per message (with --report: one report object with recognised,
    /// by_type, by_database, unmatched_groups and total).
    #[arg(long)]
    json: bool,
    /// Print a coverage report of the export (requires --dry-run).
    #[arg(long)]
    report: bool,
}

#[derive(serde::Serialize)]
struct Replayed {
    origin: String,
    subject: String,
    alert_type: Option<String>,
    database: Option<String>,
    environment: Option<String>,
    fields: std::collections::BTreeMap<String, String>,
    /// dry run: the policy's fix; otherwise what triage did.
    outcome: String,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    if args.report && !args.dry_run {
        anyhow::bail!("--report stores nothing: run it with --dry-run (`sentri replay PATH --dry-run --report`)");
    }
    let home = context.existing_home()?;
    let config = context.config()?;
    let databases = KnownDatabase::from_config(&config);
    let policies = PolicySet::load(&home.root);
    let received_at = timestamp_text(jiff::Timestamp::now());
    let messages = replay::read(&args.path, &received_at)?;
    if args.report {
        let outcomes: Vec<_> = messages
            .iter()
            .map(|message| (message.raw.subject.as_str(), matcher::match_alert(&message.raw, &policies, &databases)))
            .collect();
        let report = coverage::report(outcomes.iter().map(|(subject, outcome)| (*subject, outcome)));
        if args.json {
            print_json(&report)?;
        } else {
            print_report(&report);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let store = if args.dry_run { None } else { Some(context.store()?) };
    let mut replayed = Vec::new();
    for message in messages {
        let outcome = matcher::match_alert(&message.raw, &policies, &databases);
        let (alert_type, database, environment, fields, fix) = match &outcome {
            MatchOutcome::Matched(alert) => (
                Some(alert.alert_type.clone()),
                alert.database.clone(),
                alert.environment.clone(),
                alert.fields.clone(),
                proposed_fix(&alert.policy),
            ),
            MatchOutcome::Unmatched { .. } => (None, None, None, Default::default(), "unmatched".to_owned()),
        };
        let outcome = match &store {
            None => fix,
            Some(store) => match store.insert_raw_alert(&message.raw)? {
                (_, false) => "already stored: skipped".to_owned(),
                (id, true) => take_in(store, id, &policies, &config)?,
            },
        };
        replayed.push(Replayed {
            origin: message.origin,
            subject: message.raw.subject.clone(),
            alert_type,
            database,
            environment,
            fields,
            outcome,
        });
    }
    if args.json {
        print_json(&replayed)?;
    } else {
        print_table(&replayed, args.dry_run);
    }
    Ok(ExitCode::SUCCESS)
}

/// What the policy would do, for `--dry-run`.
fn proposed_fix(policy: &AlertPolicy) -> String {
    match (&policy.fix_disabled, policy.forward.is_empty(), &policy.irreversible) {
        (Some(reason), _, _) => format!("fix disabled: {reason}"),
        (None, true, _) => "no automatic fix: verify, then escalate".to_owned(),
        (None, false, Some(_)) => format!("{} (irreversible: approval always)", policy.action_type),
        (None, false, None) => format!("{} (with rollback)", policy.action_type),
    }
}

/// The engine's own intake step on a newly stored message — a reply is judged as one, anything
/// else is triaged with the brain's duplicate and correlation windows — and what it did, in words.
fn take_in(store: &Store, id: i64, policies: &PolicySet, config: &Config) -> anyhow::Result<String> {
    match steps::take_in(store, id, policies, config, &config.approvals)? {
        Taken::Reply(handled) => Ok(match handled.outcome {
            DecisionOutcome::Refused { rule } => format!("approval reply rejected: {rule}"),
            DecisionOutcome::Recorded { approvals, required } => {
                format!("approval reply: {approvals} of {required} approvals")
            }
            DecisionOutcome::Decided { state } => format!("approval reply: {state}"),
        }),
        Taken::Triaged(triage) => triaged(store, triage),
    }
}

/// What triage did with one alert, in words.
fn triaged(store: &Store, triage: Triage) -> anyhow::Result<String> {
    Ok(match triage {
        Triage::Created { workflow_id, .. } => {
            // Whoever replays an alert asked for its change (four-eyes).
            store.record_requester(&workflow_id, &super::approve::os_user()?, "replay")?;
            format!("workflow {}", workflow_id.short())
        }
        Triage::Folded { workflow_id, .. } => format!("folded into {}", workflow_id.short()),
        Triage::Cleared { workflow_id, resolved } => {
            format!("clear event for {}{}", workflow_id.short(), if resolved { " (resolved)" } else { "" })
        }
        Triage::ClearWithoutWorkflow { .. } => "clear event, no open workflow".to_owned(),
        Triage::Unmatched => "unmatched (kept)".to_owned(),
        Triage::AlreadyTriaged => "already triaged".to_owned(),
        Triage::OwnMail => "Sentri's own mail (ignored, kept)".to_owned(),
        Triage::SenderNotAllowed { sender } => format!("{sender} is not on email.alert_senders (ignored, kept)"),
        Triage::Split { parts } => {
            let each = parts.into_iter().map(|(_, part)| triaged(store, part)).collect::<anyhow::Result<Vec<_>>>()?;
            format!("{} objects: {}", each.len(), each.join("; "))
        }
    })
}

fn print_table(replayed: &[Replayed], dry_run: bool) {
    let rows: Vec<Vec<String>> = replayed
        .iter()
        .map(|r| {
            vec![
                r.alert_type.clone().unwrap_or_else(|| "-".into()),
                r.database.clone().unwrap_or_else(|| "-".into()),
                r.environment.clone().unwrap_or_else(|| "-".into()),
                r.outcome.clone(),
                printable(&r.subject.chars().take(60).collect::<String>()),
            ]
        })
        .collect();
    table::print(&["ALERT TYPE", "DATABASE", "ENV", if dry_run { "FIX" } else { "OUTCOME" }, "SUBJECT"], &rows);
    let matched = replayed.iter().filter(|r| r.alert_type.is_some()).count();
    println!();
    println!(
        "{} message(s): {matched} recognised, {} unmatched{}",
        replayed.len(),
        replayed.len() - matched,
        if dry_run { " (dry run: nothing stored)" } else { "" }
    );
}

fn print_report(report: &CoverageReport) {
    println!("Coverage: {} of {} message(s) recognised (dry run: nothing stored)", report.recognised, report.total);
    println!();
    println!("Recognised by alert type:");
    let rows: Vec<Vec<String>> = report.by_type.iter().map(|(t, n)| vec![n.to_string(), t.clone()]).collect();
    table::print(&["COUNT", "ALERT TYPE"], &rows);
    println!();
    println!("Recognised by database:");
    let rows: Vec<Vec<String>> = report.by_database.iter().map(|(d, n)| vec![n.to_string(), d.clone()]).collect();
    table::print(&["COUNT", "DATABASE"], &rows);
    println!();
    println!("Unmatched, grouped by subject shape:");
    if report.unmatched_groups.is_empty() {
        println!("  (none)");
    }
    for group in &report.unmatched_groups {
        println!("  {:>4}  {}", group.count, printable(&group.shape));
        println!("        e.g. {}", printable(&group.example_subject));
        match &group.nearest {
            None => println!("        nearest policy: none looks for any word of it"),
            Some(nearest) => println!(
                "        nearest policy: {} ({:.0}% of its words present); lacks: {}",
                nearest.alert_type,
                nearest.score * 100.0,
                if nearest.missing.is_empty() {
                    "- (order or numbers differ)".to_owned()
                } else {
                    nearest.missing.join(", ")
                }
            ),
        }
    }
}
