//! `sentri policy check`: every alert and check policy, whether it loads, whether its fix may
//! run, and whether its sample alerts are recognised as the DBA says they should be.

use std::path::PathBuf;
use std::process::ExitCode;

use sentri::pipeline::samples::{self, SampleResult};
use sentri::policy::{Level, PolicySet, Problem};

use super::{Context, print_json, table};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Load every policy, report problems with file:line, and run every `## Sample Alerts`
    /// sample against the whole pack. Exit 1 if any policy has an error or a sample fails.
    Check(CheckArgs),
}

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
    let Command::Check(args) = command;
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
            schedule_seconds: check.schedule.as_secs(),
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
                vec![
                    check.name.to_owned(),
                    check.engine.to_owned(),
                    format!("every {}h", check.schedule_seconds / 3600),
                    check.path.clone(),
                ]
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
