//! `sentri policy check`: every alert and check policy, whether it loads, whether its fix may
//! run, and whether its sample alerts are recognised as the DBA says they should be.
//! `sentri policy learned`: the policies Sentri wrote itself (`alerts/learned/`), each with where
//! it came from, whether it passes, and its text as a diff to review.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use sentri::pipeline::learned_review::{self, LearnedReview};
use sentri::pipeline::samples::{self, SampleResult};
use sentri::policy::{Level, PolicySet, Problem, learned};

use super::{Context, print_json, printable, table};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load every policy, report problems with file:line, and run every `## Sample Alerts`
    /// sample against the whole pack. Exit 1 if any policy has an error or a sample fails.
    Check(CheckArgs),
    /// Review the policies Sentri learned (alerts/learned/*.md): where each came from, whether
    /// it passes the policy check, and its text as a diff. Exit 1 if any fails the check.
    Learned(LearnedArgs),
}

#[derive(Debug, clap::Args)]
#[command(after_help = LEARNED_HELP)]
pub struct LearnedArgs {
    /// Review the learned policies under DIR (laid out like SENTRI_HOME) instead of SENTRI_HOME.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Print the result as JSON (one object per file, the diff as text).
    #[arg(long)]
    json: bool,
}

const LEARNED_HELP: &str = "\
When a fix for an alert no policy knew was approved, ran and was validated, Sentri writes a
policy for that alert under alerts/learned/, so the next such email is recognised without a
model. It is an ordinary policy file: this command is how you review it before trusting it.

For each file it shows:
  - the alert type (the file name) and the workflow it was learned from (`sentri show ID`);
  - who approved that fix;
  - whether it passes: it loads with no warning, its pattern matches its own sample email and
    extracts `database`, no statement is CRITICAL, and the pack's matcher gives its sample to it;
  - a unified diff: against nothing for a new file, or against alerts/.backup/learned/NAME.md
    (or alerts/.backup/NAME.md) when you kept an earlier version there.

To accept a learned policy, keep it (or move it into alerts/postgres/ or alerts/oracle/ and
edit it like your own). To reject it, delete the file. A learned policy never replaces one
you wrote: a name the pack already has is refused, and on a duplicate the learned file is skipped.

Examples:
  sentri policy learned
  sentri policy learned --json | jq '.[] | select(.passes | not)'";

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Check the policy folders under DIR (which holds alerts/, checks/, brain/) instead of
    /// SENTRI_HOME — e.g. a git checkout of your team's policies.
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct AlertSummary<'a> {
    name: &'a str,
    engine: &'a str,
    path: String,
    severity: &'a str,
    action_type: &'a str,
    fix: String,
    samples_passed: usize,
    samples_total: usize,
}

#[derive(serde::Serialize)]
struct CheckSummary<'a> {
    name: &'a str,
    engine: &'a str,
    path: String,
    /// As the file says it: `daily`, or a cron expression.
    schedule: String,
    /// The period (for a cron expression, the gap between its next two runs).
    schedule_seconds: u64,
}

#[derive(serde::Serialize)]
struct Report<'a> {
    ok: bool,
    alerts: Vec<AlertSummary<'a>>,
    checks: Vec<CheckSummary<'a>>,
    problems: &'a [Problem],
    skipped: Vec<String>,
    samples: &'a [SampleResult],
}

pub fn run(context: &Context, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Check(args) => check(context, args),
        Command::Learned(args) => learned(context, args),
    }
}

fn check(context: &Context, args: CheckArgs) -> anyhow::Result<ExitCode> {
    let root = match args.path {
        Some(path) => {
            if !path.is_dir() {
                anyhow::bail!("{} is not a folder", path.display());
            }
            if !path.join("alerts").is_dir() && !path.join("checks").is_dir() {
                anyhow::bail!(
                    "{} has no alerts/ or checks/ folder; --path takes a folder laid out like SENTRI_HOME",
                    path.display()
                );
            }
            path
        }
        None => context.existing_home()?.root,
    };
    let set = PolicySet::load(&root);
    let samples::SampleReport { results, problems: pattern_problems } = samples::run_all(&set);
    // A pattern that cannot finish on a sample is a problem of its file, beside the load problems.
    let problems: Vec<Problem> = set.problems.iter().cloned().chain(pattern_problems).collect();
    let relative = |path: &std::path::Path| path.strip_prefix(&root).unwrap_or(path).display().to_string();
    let alerts: Vec<AlertSummary> = set
        .alerts
        .iter()
        .map(|policy| {
            let own: Vec<_> = results.iter().filter(|result| result.policy == policy.name).collect();
            let fix = match (&policy.fix_disabled, policy.forward.is_empty(), &policy.irreversible) {
                (Some(reason), _, _) => format!("disabled: {reason}"),
                (None, true, _) => "none (verify, then escalate)".to_owned(),
                (None, false, Some(_)) => "irreversible (approval always)".to_owned(),
                (None, false, None) => "with rollback".to_owned(),
            };
            AlertSummary {
                name: &policy.name,
                engine: policy.engine.as_str(),
                path: relative(&policy.path),
                severity: policy.severity.as_str(),
                action_type: &policy.action_type,
                fix,
                samples_passed: own.iter().filter(|result| result.passed).count(),
                samples_total: own.len(),
            }
        })
        .collect();
    let checks = set
        .checks
        .iter()
        .map(|check| CheckSummary {
            name: &check.name,
            engine: check.engine.as_str(),
            path: relative(&check.path),
            schedule: check.schedule.to_string(),
            schedule_seconds: u64::try_from(check.schedule.period_at(jiff::Timestamp::now()).as_secs()).unwrap_or(0),
        })
        .collect();
    let errors = problems.iter().filter(|problem| problem.level == Level::Error).count();
    let failed_samples = results.iter().filter(|result| !result.passed).count();
    let ok = errors == 0 && failed_samples == 0;
    let report = Report {
        ok,
        alerts,
        checks,
        problems: &problems,
        skipped: set.skipped.iter().map(|path| relative(path)).collect(),
        samples: &results,
    };

    if args.json {
        print_json(&report)?;
    } else {
        print_human(&report, &root);
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_human(report: &Report<'_>, root: &std::path::Path) {
    println!("Policies in {}", root.display());
    println!();
    let rows: Vec<Vec<String>> = report
        .alerts
        .iter()
        .map(|alert| {
            let samples = if alert.samples_total == 0 {
                "no samples".to_owned()
            } else {
                format!("{}/{} passed", alert.samples_passed, alert.samples_total)
            };
            vec![
                alert.name.to_owned(),
                alert.engine.to_owned(),
                alert.action_type.to_owned(),
                samples,
                alert.fix.clone(),
            ]
        })
        .collect();
    table::print(&["ALERT TYPE", "ENGINE", "ACTION", "SAMPLES", "FIX"], &rows);
    if !report.checks.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = report
            .checks
            .iter()
            .map(|check| {
                vec![check.name.to_owned(), check.engine.to_owned(), check.schedule.clone(), check.path.clone()]
            })
            .collect();
        table::print(&["CHECK", "ENGINE", "SCHEDULE", "FILE"], &rows);
    }
    if !report.problems.is_empty() {
        println!();
        println!("Problems:");
        for problem in report.problems {
            let path = problem.path.strip_prefix(root).unwrap_or(&problem.path);
            let level = match problem.level {
                Level::Error => "error",
                Level::Warning => "warning",
            };
            println!("  {}:{}: {level}: {}", path.display(), problem.line, problem.message);
        }
    }
    let failed: Vec<_> = report.samples.iter().filter(|result| !result.passed).collect();
    if !failed.is_empty() {
        println!();
        println!("Samples that failed:");
        for result in failed {
            let path = result.path.strip_prefix(root).unwrap_or(&result.path);
            println!("  {} (sample at {}:{}): {}", result.policy, path.display(), result.line, result.subject);
            for failure in &result.failures {
                println!("      {failure}");
            }
        }
    }
    println!();
    let passed = report.samples.iter().filter(|result| result.passed).count();
    println!(
        "{} alert policies, {} checks loaded; {} file(s) skipped; {passed}/{} samples passed.",
        report.alerts.len(),
        report.checks.len(),
        report.skipped.len(),
        report.samples.len()
    );
    println!("{}", if report.ok { "OK" } else { "FAILED" });
}

fn learned(context: &Context, args: LearnedArgs) -> anyhow::Result<ExitCode> {
    let root = match args.path {
        Some(path) if path.is_dir() => path,
        Some(path) => anyhow::bail!("{} is not a folder", path.display()),
        None => context.existing_home()?.root,
    };
    let folder = root.join("alerts").join(learned::FOLDER);
    let reviews = learned_review::review(&root).with_context(|| format!("listing {}", folder.display()))?;
    let ok = reviews.iter().all(|review| review.passes);
    if args.json {
        print_json(&reviews)?;
    } else if reviews.is_empty() {
        let shown = folder.strip_prefix(&root).unwrap_or(&folder).display().to_string();
        println!("No learned policies in {shown}.");
        println!("Sentri writes one there when a fix for an alert no policy knew is approved, runs and is validated.");
    } else {
        print_learned(&reviews);
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn print_learned(reviews: &[LearnedReview]) {
    let rows: Vec<Vec<String>> = reviews
        .iter()
        .map(|review| {
            vec![
                printable(&review.alert_type),
                review.learned_from.as_deref().map_or_else(|| "?".to_owned(), printable),
                if review.approved_by.is_empty() {
                    "nobody".to_owned()
                } else {
                    printable(&review.approved_by.join(", "))
                },
                if review.passes { "passes".to_owned() } else { format!("FAILS ({})", review.problems.len()) },
            ]
        })
        .collect();
    table::print(&["ALERT TYPE", "LEARNED FROM", "APPROVED BY", "CHECK"], &rows);
    for review in reviews {
        println!();
        let against =
            review.backup.as_deref().map_or_else(|| "new file".to_owned(), |backup| format!("against {backup}"));
        println!("== {} ({against})", printable(&review.file));
        for problem in &review.problems {
            println!("  problem: {}", printable(problem));
        }
        // The file holds an email: every line is shown with its control characters escaped.
        for line in review.diff.lines() {
            println!("{}", printable(line));
        }
    }
    println!();
    let failing = reviews.iter().filter(|review| !review.passes).count();
    println!(
        "{} learned polic{}, {failing} failing the check. Keep a file to accept it, delete it to reject it.",
        reviews.len(),
        if reviews.len() == 1 { "y" } else { "ies" }
    );
}
