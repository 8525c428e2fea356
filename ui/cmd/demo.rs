//! `sentri demo`: Sentri end to end with nothing to set up — no config, no database, no mail
//! server, no LLM. The real engine, Safety Mesh and executor run in process over SIMULATED
//! Oracle databases (the sandbox), fed with alert emails in real monitor shapes, in a throwaway
//! home removed at exit. With `--db NAME` the demo alert goes to a real configured database
//! instead, and the outcome is whatever that database says.
//!
//! On a terminal the demo opens the console (`demo::live`) with a SIMULATED (or `LIVE <name>`)
//! banner, feeds the alerts while it is up, and the PROD fix waits for the person at the
//! keyboard to approve it there. Headless (or when stdin or stdout is not a terminal) the story
//! is printed as plain lines and the PROD approval is given by the demo as the operating-system
//! user, through the approval path `sentri approve` uses. A dry run is always told as lines.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use sentri::config::Config;
use sentri::domain::WorkflowState;
use sentri::policy::PolicySet;
use sentri::store::approvals::Decision;
use sentri::store::audit::AuditFilter;
use sentri::store::workflows::WorkflowRow;

use super::Context;
use crate::demo::dry_run;
use crate::demo::live::{self, LiveDemo};
use crate::demo::narrate::{self, Voice};
use crate::demo::scenarios::{self, DemoAlert};
use crate::demo::session::{DemoSession, Fed, SessionOptions};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Without --db every database is SIMULATED (an in-process Oracle sandbox) and every line says so.\nThe demo's home is a temporary folder, removed at exit; your SENTRI_HOME is only read, for --db."
)]
pub struct Args {
    /// Only the demo alert(s) of this type (e.g. tablespace_full, temp_full, session_blocker).
    #[arg(long, value_name = "TYPE")]
    alert_type: Option<String>,
    /// Classify, verify, plan and show the Safety Mesh verdicts; execute nothing.
    #[arg(long)]
    dry_run: bool,
    /// Plain text lines, no pauses, the PROD approval given by the demo (automatic when stdout
    /// or stdin is not a terminal). Without it, on a terminal, the demo opens the console and
    /// the PROD approval is yours to give there.
    #[arg(long)]
    headless: bool,
    /// Send the demo alert to this REAL database from SENTRI_HOME/config/sentri.yaml instead of
    /// the sandbox (its engine's alerts only; nothing is SIMULATED then, unless that database is
    /// itself a `sandbox:NAME` one).
    #[arg(long, value_name = "NAME")]
    db: Option<String>,
}

/// The demo's clock starts on a Tuesday at 10:00 UTC: inside every change window of the default
/// brain and outside its freeze windows, so the story is the same whatever day it is run.
const DEMO_START: &str = "2026-11-24T10:00:00Z";

/// How a run tells its story.
struct Teller {
    voice: Voice,
    headless: bool,
}

impl Teller {
    /// One line of the story. A closed stdout (`| head`) is not an error: the demo still runs
    /// to its end and removes its home.
    fn say(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", self.voice.line(text));
        if !self.headless {
            let _ = stdout.flush();
            drop(stdout);
            std::thread::sleep(Duration::from_millis(120));
        }
    }
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let headless = args.headless || !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal();
    let (config, voice, alerts, clock, real) = match &args.db {
        Some(name) => {
            let config = context.config()?;
            let Some(database) = config.database(name) else {
                bail!("`{name}` is not a database in {}", context.existing_home()?.config_file().display());
            };
            let alerts = scenarios::select(args.alert_type.as_deref(), Some(database.engine))?;
            let name = database.name.clone();
            // A sandbox database named in sentri.yaml is still SIMULATED, and says so.
            let voice = if database.engine.is_simulated() { Voice::simulated() } else { Voice::live(&name) };
            (config, voice, alerts, None, Some(name))
        }
        None => {
            let loaded = Config::from_yaml(scenarios::SANDBOX_CONFIG, Path::new("sentri demo (in memory)"), &|_| None)
                .context("the demo's own configuration")?;
            let alerts = scenarios::select(args.alert_type.as_deref(), None)?;
            (loaded.config, Voice::simulated(), alerts, Some(demo_clock()?), None)
        }
    };
    if !headless && !args.dry_run {
        let label = voice.label().to_owned();
        let options = SessionOptions { config, clock, sweep_interval: Duration::from_secs(1) };
        live::run(LiveDemo { options, alerts, real, label })?;
        return Ok(ExitCode::SUCCESS);
    }
    let teller = Teller { voice, headless };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let session =
            DemoSession::start(SessionOptions { config, clock, sweep_interval: Duration::from_secs(1) }).await?;
        let outcome = tokio::select! {
            outcome = tell(&session, &teller, &alerts, real.as_deref(), args.dry_run) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        session.stop().await;
        outcome?;
        teller.say("The demo's home was removed.");
        Ok(ExitCode::SUCCESS)
    })
}

/// A clock that starts at [`DEMO_START`] and runs at the real pace.
fn demo_clock() -> anyhow::Result<sentri::store::Clock> {
    let start: jiff::Timestamp = DEMO_START.parse().context("the demo's start time")?;
    let began = Instant::now();
    Ok(Arc::new(move || {
        let elapsed = jiff::SignedDuration::try_from(began.elapsed()).unwrap_or(jiff::SignedDuration::ZERO);
        start.checked_add(elapsed).unwrap_or(start)
    }))
}

async fn tell(
    session: &DemoSession,
    teller: &Teller,
    alerts: &[DemoAlert],
    real: Option<&str>,
    dry_run: bool,
) -> anyhow::Result<()> {
    match real {
        None => {
            teller.say("Sentri demo: the real engine, Safety Mesh and executor on SIMULATED Oracle databases.");
            teller.say("No database server, mail server or LLM is used; nothing outside this process is touched.");
            for database in &session.config.databases {
                teller.say(&format!(
                    "database {} ({}, {}) — {}",
                    database.name, database.environment, database.engine, database.connection_string
                ));
            }
            teller.say(&format!("SIMULATED clock: starts {DEMO_START} (a Tuesday, inside every change window)."));
        }
        Some(name) => match session.config.database(name) {
            Some(database) if database.engine.is_simulated() => teller.say(&format!(
                "Sentri demo against {name}, a SIMULATED database ({}) from sentri.yaml.",
                database.connection_string
            )),
            _ => teller.say(&format!("Sentri demo against the REAL database {name}: what happens is what it says.")),
        },
    }
    if dry_run {
        teller.say("DRY RUN: alerts are classified, verified, planned and judged; nothing is executed.");
        let policies = PolicySet::load(&session.home.root);
        let mut targets = HashMap::new();
        for (index, alert) in alerts.iter().enumerate() {
            let email = alert.email_for(real);
            announce(teller, index, alerts.len(), alert, &email);
            for line in dry_run::judge(&email, &session.config, &policies, session.store.now(), &mut targets).await {
                teller.say(&line);
            }
        }
        for (_, target) in targets {
            target.close().await;
        }
        return Ok(());
    }

    let mut finals: Vec<(String, String)> = Vec::new();
    for (index, alert) in alerts.iter().enumerate() {
        let email = alert.email_for(real);
        announce(teller, index, alerts.len(), alert, &email);
        let raw_id = session.feed(&email).await?;
        teller.say(&format!("  stored as raw alert #{raw_id} and handed to the engine"));
        let workflow = match session.settle(raw_id).await? {
            Fed::Workflow(workflow) => *workflow,
            Fed::Unmatched => {
                teller.say("  no policy recognised it: kept as an unmatched alert");
                finals.push((alert.alert_type.to_owned(), "UNMATCHED".to_owned()));
                continue;
            }
            Fed::Ignored => {
                teller.say("  recognised as not an alert");
                continue;
            }
        };
        let mut told = tell_story(session, teller, &workflow, 0).await?;
        let mut workflow = workflow;
        if workflow.state == WorkflowState::AwaitingApproval {
            workflow = approval(session, teller, &workflow).await?;
            told = tell_story(session, teller, &workflow, told).await?;
        }
        let _ = told;
        teller.say(&format!(
            "  ⇒ {} {} on {}: {}",
            workflow.alert_type,
            workflow.short_id(),
            workflow.database,
            workflow.state
        ));
        finals.push((format!("{} on {}", workflow.alert_type, workflow.database), workflow.state.to_string()));
    }

    teller.say("Summary:");
    for (what, state) in &finals {
        teller.say(&format!("  {state:<20} {what}"));
    }
    let chain = session.blocking(|store| Ok(store.verify_audit()?)).await?;
    teller.say(&format!(
        "Audit trail: {} rows, hash chain {}",
        chain.rows_checked,
        if chain.is_intact() { "intact" } else { "BROKEN" }
    ));
    Ok(())
}

fn announce(teller: &Teller, index: usize, total: usize, alert: &DemoAlert, email: &str) {
    let subject = email.lines().find_map(|line| line.strip_prefix("Subject: ")).unwrap_or("(no subject)");
    teller.say(&format!("━━ Alert {} of {total}: {subject}", index + 1));
    teller.say(&format!("  from {} — {}", alert.file, alert.story.split_whitespace().collect::<Vec<_>>().join(" ")));
}

/// Prints the workflow's story past the `already` lines told; returns how many lines are told.
async fn tell_story(
    session: &DemoSession,
    teller: &Teller,
    workflow: &WorkflowRow,
    already: usize,
) -> anyhow::Result<usize> {
    let id = workflow.id.to_string();
    let audit = session
        .blocking(move |store| Ok(store.list_audit(&AuditFilter { workflow_id: Some(id), ..AuditFilter::default() })?))
        .await?;
    let workflow = session.workflow(&workflow.id).await?;
    let lines = narrate::workflow_story(&workflow, &audit);
    for line in lines.iter().skip(already) {
        teller.say(line);
    }
    Ok(lines.len().max(already))
}

/// The PROD approval, given by the demo as the OS user (the narration is only told headless or
/// as a dry run; on a terminal the console asks the person at the keyboard).
async fn approval(session: &DemoSession, teller: &Teller, workflow: &WorkflowRow) -> anyhow::Result<WorkflowRow> {
    let user = super::approve::os_user()?;
    teller.say(&format!(
        "  headless: the demo gives this approval as the OS user `{user}`, through the same approval path as `sentri approve {}`",
        workflow.short_id()
    ));
    let reason = "approved by `sentri demo --headless` on behalf of the operator";
    session.decide(workflow, &user, Decision::Approved, reason).await
}
