//! The Databases view's data: one overview per configured database — whether it answers, what
//! it runs, its open workflows, its worst finding, its most urgent space series — and, for the
//! selected one, its checks and their series. Read from the store by the refresher, at most
//! every few seconds (a history reads every series of a check).

use jiff::Timestamp;
use sentri::checks::history;
use sentri::config::Config;
use sentri::domain::Severity;
use sentri::policy::PolicySet;
use sentri::policy::check_alert;
use sentri::store::{CheckRunRow, Store, StoreError, WorkflowRow};

/// A database as sentri.yaml names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredDatabase {
    pub name: String,
    /// `oracle`, `postgres`, `SIMULATED`; `-` when not known.
    pub engine: String,
    pub environment: String,
}

impl ConfiguredDatabase {
    pub fn from_config(config: &Config) -> Vec<ConfiguredDatabase> {
        config
            .databases
            .iter()
            .map(|database| ConfiguredDatabase {
                name: database.name.clone(),
                engine: database.engine.to_string(),
                environment: database.environment.to_string(),
            })
            .collect()
    }
}

/// A name alone (tests, and consoles with nothing configured beyond the name).
impl From<&str> for ConfiguredDatabase {
    fn from(name: &str) -> ConfiguredDatabase {
        ConfiguredDatabase { name: name.to_owned(), engine: "-".to_owned(), environment: "-".to_owned() }
    }
}

/// The worst open finding on a database: the most severe open `check:` workflow.
#[derive(Debug, Clone, PartialEq)]
pub struct WorstFinding {
    pub severity: Severity,
    pub text: String,
}

/// One series of a check on a database, as a line of the view.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesLine {
    pub check: String,
    pub object: String,
    pub metric: String,
    pub values: Vec<f64>,
    /// `3.2 ± 0.4 days` when it is forecast to reach its limit.
    pub full_in: Option<String>,
    pub days_to_full: Option<f64>,
}

/// One check on a database: when it ran, what it found.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckLine {
    pub name: String,
    pub schedule: String,
    pub last_run: Option<Timestamp>,
    pub next_run: Option<Timestamp>,
    pub result: String,
}

/// Everything the Databases view shows about one database.
#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseOverview {
    pub database: ConfiguredDatabase,
    pub version: Option<String>,
    /// Answered (a profile was read or a check ran), did not (its last check could not
    /// connect), or never tried.
    pub reachable: Option<bool>,
    pub open_workflows: usize,
    pub worst: Option<WorstFinding>,
    /// The space series soonest full.
    pub urgent: Option<SeriesLine>,
    pub checks: Vec<CheckLine>,
    pub series: Vec<SeriesLine>,
}

/// The overview of every database in `databases`, over the store and `pack`'s checks, with
/// `workflows` (the console's, already loaded) for the open ones.
pub fn load(
    store: &Store,
    pack: &PolicySet,
    databases: &[ConfiguredDatabase],
    workflows: &[WorkflowRow],
) -> Result<Vec<DatabaseOverview>, StoreError> {
    let schedules = store.check_schedules()?;
    let mut overviews = Vec::with_capacity(databases.len());
    for database in databases {
        let profile = store.profile(&database.name).ok().flatten();
        let mut checks = Vec::new();
        let mut series = Vec::new();
        let mut latest: Option<CheckRunRow> = None;
        for check in &pack.checks {
            let schedule = schedules.iter().find(|row| row.database == database.name && row.check == check.name);
            let Some(schedule) = schedule else { continue };
            let history = history::history(store, check, &database.name, 1)?;
            let last = history.runs.first().cloned();
            checks.push(CheckLine {
                name: check.name.clone(),
                schedule: check.schedule.to_string(),
                last_run: schedule.last_run,
                next_run: Some(schedule.next_run),
                result: last.as_ref().map_or_else(|| "never run".to_owned(), CheckRunRow::result_text),
            });
            if let Some(run) = last
                && latest.as_ref().is_none_or(|newest| run.started_at > newest.started_at)
            {
                latest = Some(run);
            }
            series.extend(history.series.into_iter().map(|entry| SeriesLine {
                check: check.name.clone(),
                object: entry.object,
                metric: entry.metric,
                values: entry.points.iter().map(|point| point.value).collect(),
                full_in: entry.forecast.as_ref().map(|forecast| forecast.days_text()),
                days_to_full: entry.forecast.as_ref().map(|forecast| forecast.days_to_full),
            }));
        }
        let reachable = match &latest {
            Some(run) if run.error.as_deref().is_some_and(|error| error.starts_with("cannot connect")) => Some(false),
            Some(_) => Some(true),
            None => profile.as_ref().map(|_| true),
        };
        let open: Vec<&WorkflowRow> = workflows
            .iter()
            .filter(|workflow| workflow.state.is_open() && workflow.database.eq_ignore_ascii_case(&database.name))
            .collect();
        let worst = open
            .iter()
            .filter_map(|workflow| {
                let name = check_alert::check_name(&workflow.alert_type)?;
                let severity = Severity::parse(&workflow.severity)?;
                // The object as the check names it: its `object:` columns of the finding's row.
                let object = pack
                    .checks
                    .iter()
                    .find(|check| check.name == name)
                    .map(|check| sentri::checks::findings::object_of(check, &workflow.fields))
                    .unwrap_or_default();
                Some(WorstFinding { severity, text: format!("{} {object}", workflow.alert_type).trim_end().to_owned() })
            })
            .max_by_key(|worst| worst.severity);
        let urgent = series
            .iter()
            .filter(|line| line.days_to_full.is_some())
            .min_by(|a, b| a.days_to_full.unwrap_or(f64::INFINITY).total_cmp(&b.days_to_full.unwrap_or(f64::INFINITY)))
            .cloned();
        overviews.push(DatabaseOverview {
            database: database.clone(),
            version: profile.map(|profile| profile.version),
            reachable,
            open_workflows: open.len(),
            worst,
            urgent,
            checks,
            series,
        });
    }
    Ok(overviews)
}
