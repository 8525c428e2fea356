//! `sentri checks`: the proactive checks of the pack with their schedule and last results;
//! `checks run NAME` runs one now (its findings open or fold into workflows, as a scheduled
//! run's do); `checks history NAME --db DB` shows its series and the forecast.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use jiff::Timestamp;
use sentri::checks::history::{self, History};
use sentri::checks::{Finding, RecordedRun, Scheduler, SchedulerSettings, TargetSource};
use sentri::config::Config;
use sentri::pipeline::findings::take_findings;
use sentri::pipeline::matcher::KnownDatabase;
use sentri::pipeline::triage::{Triage, TriageRules};
use sentri::policy::{CheckPolicy, PolicySet};
use sentri::store::{CheckRunRow, CheckScheduleRow, LeaseWhen, Store};
use sentri::targets::{ConnectOptions, DbKind, Target, TargetError};
use serde::Serialize;

use super::{Context, print_json, printable, table};

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:\n  sentri checks\n  sentri checks run pg_sequence_headroom --db PG-DEV\n  \
                  sentri checks history tablespace_trend --db PROD-DB-07 --json\n\n\
                  Checks are the files under checks/ in SENTRI_HOME. The daemon (`sentri start`) runs \
                  them on their schedules; a finding opens a `check:NAME` workflow."
)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Run one check now on every database of its engine (or one), print its findings, and
    /// open or fold their workflows. Read-only on the database.
    Run {
        /// The check's name (its file name without .md).
        name: String,
        /// Only this database (a name or alias in sentri.yaml).
        #[arg(long)]
        db: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The series a check keeps on a database, and when the growing ones reach their limit.
    History {
        name: String,
        #[arg(long)]
        db: String,
        /// How many of the latest runs to list.
        #[arg(long, default_value_t = 10)]
        runs: usize,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        None => list(context, args.json),
        Some(Action::Run { name, db, json }) => run_now(context, &name, db.as_deref(), json),
        Some(Action::History { name, db, runs, json }) => show_history(context, &name, &db, runs, json),
    }
}

/// One check in `sentri checks`, over the databases of its engine.
#[derive(Debug, Serialize)]
struct CheckSummary {
    name: String,
    engine: DbKind,
    schedule: String,
    severity: String,
    /// The latest run on any database.
    #[serde(serialize_with = "sentri::store::timestamp_serde::option::serialize")]
    last_run: Option<Timestamp>,
    /// The soonest next run on any database.
    #[serde(serialize_with = "sentri::store::timestamp_serde::option::serialize")]
    next_run: Option<Timestamp>,
    /// Findings of the last run on each database, added up.
    findings: u64,
    databases: Vec<DatabaseSummary>,
}

#[derive(Debug, Serialize)]
struct DatabaseSummary {
    database: String,
    #[serde(serialize_with = "sentri::store::timestamp_serde::option::serialize")]
    last_run: Option<Timestamp>,
    #[serde(serialize_with = "sentri::store::timestamp_serde::option::serialize")]
    next_run: Option<Timestamp>,
    /// `ok`, `N findings`, the run's error, or `never run`.
    last_result: String,
    findings: u64,
}

fn list(context: &Context, json: bool) -> anyhow::Result<ExitCode> {
    let home = context.existing_home()?;
    let config = context.config()?;
    let policies = PolicySet::load(&home.root);
    let store = context.store()?;
    let schedules = store.check_schedules()?;
    let mut summaries = Vec::new();
    for check in &policies.checks {
        summaries.push(summary(&store, check, &config, &schedules)?);
    }
    if json {
        print_json(&summaries)?;
        return Ok(ExitCode::SUCCESS);
    }
    if summaries.is_empty() {
        println!("No checks in {} (run `sentri init` for the default pack).", home.root.join("checks").display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut rows = Vec::new();
    for summary in &summaries {
        if summary.databases.is_empty() {
            rows.push(vec![
                summary.name.clone(),
                summary.engine.to_string(),
                summary.schedule.clone(),
                "-".into(),
                "-".into(),
                "-".into(),
                format!("no {} database configured", summary.engine),
            ]);
        }
        for database in &summary.databases {
            rows.push(vec![
                summary.name.clone(),
                summary.engine.to_string(),
                summary.schedule.clone(),
                database.database.clone(),
                time_text(database.last_run),
                time_text(database.next_run),
                printable(&database.last_result),
            ]);
        }
    }
    table::print(&["CHECK", "ENGINE", "SCHEDULE", "DATABASE", "LAST RUN", "NEXT RUN", "LAST RESULT"], &rows);
    Ok(ExitCode::SUCCESS)
}

fn summary(
    store: &Store,
    check: &CheckPolicy,
    config: &Config,
    schedules: &[CheckScheduleRow],
) -> anyhow::Result<CheckSummary> {
    let mut databases = Vec::new();
    for database in config.databases.iter().filter(|database| database.engine.policy_engine() == check.engine) {
        let schedule = schedules.iter().find(|row| row.database == database.name && row.check == check.name);
        let last = store.check_runs(&database.name, &check.name, Some(1))?.into_iter().next();
        let findings = last.as_ref().map_or(0, |run| run.findings);
        databases.push(DatabaseSummary {
            database: database.name.clone(),
            last_run: schedule.and_then(|row| row.last_run),
            next_run: schedule.map(|row| row.next_run),
            last_result: last.as_ref().map_or_else(|| "never run".to_owned(), CheckRunRow::result_text),
            findings,
        });
    }
    Ok(CheckSummary {
        name: check.name.clone(),
        engine: check.engine,
        schedule: check.schedule.to_string(),
        severity: check.severity.as_str().to_owned(),
        last_run: databases.iter().filter_map(|database| database.last_run).max(),
        next_run: databases.iter().filter_map(|database| database.next_run).min(),
        findings: databases.iter().map(|database| database.findings).sum(),
        databases,
    })
}

fn time_text(at: Option<Timestamp>) -> String {
    at.map_or_else(|| "-".to_owned(), |at| at.strftime("%Y-%m-%d %H:%M").to_string())
}

fn find_check<'a>(policies: &'a PolicySet, name: &str, home: &std::path::Path) -> anyhow::Result<&'a Arc<CheckPolicy>> {
    policies.checks.iter().find(|check| check.name == name).with_context(|| {
        let known: Vec<&str> = policies.checks.iter().map(|check| check.name.as_str()).collect();
        format!(
            "no check named `{name}` in {} (checks: {})",
            home.join("checks").display(),
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )
    })
}

/// Where `sentri checks run` gets its databases (a fresh connection each) and what it does with
/// findings: takes them in as the engine would, into the store; the daemon drives the workflows.
struct CommandLine {
    config: Arc<Config>,
    store: Arc<Store>,
    window: std::time::Duration,
    taken: std::sync::Mutex<Vec<Triage>>,
}

impl TargetSource for CommandLine {
    async fn target(&self, database: &str) -> Result<Arc<Target>, TargetError> {
        let Some(config) = self.config.database(database) else {
            return Err(TargetError::new(database, sentri::targets::ErrorKind::Refused, "not in sentri.yaml"));
        };
        Target::connect(config, &ConnectOptions::default()).await.map(Arc::new)
    }

    async fn found(&self, check: &CheckPolicy, findings: &[Finding]) {
        let databases = KnownDatabase::from_config(&self.config);
        let taken = take_findings(&self.store, check, findings, &databases, self.window);
        self.taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(taken);
    }
}

#[derive(Debug, Serialize)]
struct RunReport {
    database: String,
    #[serde(flatten)]
    run: CheckRunRow,
    error: Option<String>,
    findings: Vec<Finding>,
}

fn run_now(context: &Context, name: &str, db: Option<&str>, json: bool) -> anyhow::Result<ExitCode> {
    let home = context.existing_home()?;
    let config = Arc::new(context.config()?);
    let policies = sentri::policy::watch::LivePolicies::load(&home.root);
    let pack = policies.snapshot();
    let check = Arc::clone(find_check(&pack, name, &home.root)?);
    let databases: Vec<(String, DbKind)> = match db {
        Some(db) => {
            let Some(database) = config.database(db) else {
                bail!("no database named or aliased `{db}` in sentri.yaml (see `sentri db list`)");
            };
            if database.engine.policy_engine() != check.engine {
                bail!("`{name}` is a {} check and {} is a {} database", check.engine, database.name, database.engine);
            }
            vec![(database.name.clone(), database.engine)]
        }
        None => config
            .databases
            .iter()
            .filter(|database| database.engine.policy_engine() == check.engine)
            .map(|database| (database.name.clone(), database.engine))
            .collect(),
    };
    if databases.is_empty() {
        bail!("no {} database in sentri.yaml to run `{name}` on", check.engine);
    }
    let store = Arc::new(context.store()?);
    let source = Arc::new(CommandLine {
        config: Arc::clone(&config),
        store: Arc::clone(&store),
        window: TriageRules::from_brain(&pack.brain).correlation_window,
        taken: std::sync::Mutex::new(Vec::new()),
    });
    let settings = SchedulerSettings { owner: format!("cli:{}", std::process::id()), ..SchedulerSettings::default() };
    let scheduler =
        Scheduler::new(Arc::clone(&store), policies.clone(), databases.clone(), Arc::clone(&source), settings);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut reports = Vec::new();
    let mut busy = Vec::new();
    runtime.block_on(async {
        for (database, _) in &databases {
            match scheduler.run_one(database, &check, LeaseWhen::Now).await? {
                Some(recorded) => reports.push(report(database, recorded)),
                None => busy.push(database.clone()),
            }
        }
        anyhow::Ok(())
    })?;
    let taken = std::mem::take(&mut *source.taken.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    if json {
        print_json(&serde_json::json!({ "check": name, "runs": reports, "busy": busy, "workflows": taken }))?;
    } else {
        print_runs(&reports, &busy, &taken);
    }
    let failed = !busy.is_empty() || reports.iter().any(|report| report.error.is_some());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn report(database: &str, recorded: RecordedRun) -> RunReport {
    let (error, findings) = match recorded.outcome {
        Ok(outcome) => (None, outcome.findings),
        Err(error) => (Some(error.to_string()), Vec::new()),
    };
    RunReport { database: database.to_owned(), run: recorded.run, error, findings }
}

fn print_runs(reports: &[RunReport], busy: &[String], taken: &[Triage]) {
    for report in reports {
        match &report.error {
            Some(error) => println!("{}: error: {}", report.database, printable(error)),
            None if report.findings.is_empty() => {
                println!("{}: ok ({} rows, nothing over threshold)", report.database, report.run.rows)
            }
            None => {
                println!("{}: {} finding(s)", report.database, report.findings.len());
                for finding in &report.findings {
                    println!("  {}", printable(&finding_line(finding)));
                }
            }
        }
    }
    for database in busy {
        println!("{database}: already running elsewhere (the daemon or another command); not run");
    }
    for triage in taken {
        match triage {
            Triage::Created { workflow_id, alert_type, database } => println!(
                "workflow {} opened ({alert_type} on {database}); the daemon drives it (`sentri show {}`)",
                workflow_id.short(),
                workflow_id.short()
            ),
            Triage::Folded { workflow_id, .. } => {
                println!("folded into open workflow {}", workflow_id.short())
            }
            _ => {}
        }
    }
}

fn finding_line(finding: &Finding) -> String {
    let object = if finding.object.is_empty() { "(database)".to_owned() } else { finding.object.clone() };
    let mut parts: Vec<String> = finding
        .over
        .iter()
        .map(|over| {
            format!(
                "{} = {} > {}{}",
                over.column,
                over.value,
                over.threshold,
                if over.critical { " (critical)" } else { "" }
            )
        })
        .collect();
    if let Some(forecast) = &finding.forecast {
        parts.push(format!("{} full in {}", forecast.metric, forecast.days_text()));
    }
    format!("{} {object}: {}", finding.severity.as_str(), parts.join("; "))
}

fn show_history(context: &Context, name: &str, db: &str, runs: usize, json: bool) -> anyhow::Result<ExitCode> {
    let home = context.existing_home()?;
    let config = context.config()?;
    let policies = PolicySet::load(&home.root);
    let check = find_check(&policies, name, &home.root)?;
    let database = match config.database(db) {
        Some(database) => database.name.clone(),
        None => {
            // The store may still hold its history from when it was configured.
            eprintln!("warning: no database named or aliased `{db}` in sentri.yaml; showing what the store kept");
            db.to_owned()
        }
    };
    let store = context.store()?;
    let history = history::history(&store, check, &database, runs)?;
    if json {
        print_json(&history)?;
    } else {
        print_history(&history);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_history(history: &History) {
    if history.series.is_empty() && history.runs.is_empty() {
        println!("`{}` has not run on {} yet.", history.check, history.database);
        return;
    }
    let rows: Vec<Vec<String>> = history
        .series
        .iter()
        .map(|series| {
            let first = series.points.first();
            let last = series.points.last();
            vec![
                if series.object.is_empty() { "(database)".to_owned() } else { printable(&series.object) },
                series.metric.clone(),
                series.points.len().to_string(),
                first.map_or_else(String::new, |point| {
                    format!("{} at {}", number(point.value), time_text(Some(point.at)))
                }),
                last.map_or_else(String::new, |point| {
                    format!("{} at {}", number(point.value), time_text(Some(point.at)))
                }),
                history::sparkline(&series.points.iter().map(|point| point.value).collect::<Vec<_>>(), 24),
                series.forecast.as_ref().map_or_else(
                    || "-".to_owned(),
                    |forecast| format!("{} ({:+.2}/day)", forecast.days_text(), forecast.per_day),
                ),
            ]
        })
        .collect();
    println!("{} on {}", history.check, history.database);
    table::print(&["OBJECT", "METRIC", "POINTS", "FIRST", "LAST", "TREND", "FULL IN"], &rows);
    if !history.runs.is_empty() {
        println!();
        let runs: Vec<Vec<String>> = history
            .runs
            .iter()
            .map(|run| vec![time_text(Some(run.started_at)), run.rows.to_string(), printable(&run.result_text())])
            .collect();
        table::print(&["RUN", "ROWS", "RESULT"], &runs);
    }
}

fn number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 { format!("{value:.0}") } else { format!("{value:.2}") }
}
