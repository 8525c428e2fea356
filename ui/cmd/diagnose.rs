//! `sentri diagnose DB [--subject TEXT | --alert FILE.eml | --workflow ID] [--json] [--llm]`:
//! why the database is in trouble, with the evidence, and the fixes that would treat it,
//! scored. It never writes: the tools are read-only queries, and the candidates are only shown.
//! `--llm` adds the configured model on top of the specialists.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use sentri::config::{Config, DatabaseConfig};
use sentri::diagnose::model::{self, Depth};
use sentri::diagnose::{self, AlertContext, PlanFacts, Request, text};
use sentri::domain::{Diagnosis, RawAlert, VerificationVerdict};
use sentri::llm::{Ledger, NoLedger};
use sentri::pipeline::matcher::{self, KnownDatabase, MatchOutcome};
use sentri::pipeline::{steps, verify};
use sentri::policy::PolicySet;
use sentri::store::model_calls::{CallSite, StoreLedger};
use sentri::targets::{ConnectOptions, Target};

use super::{Context, print_json, printable};

#[derive(Debug, clap::Args)]
#[command(
    group = clap::ArgGroup::new("about").args(["subject", "alert", "workflow"]),
    after_help = "Examples:\n  sentri diagnose PG-DEV\n  sentri diagnose PG-DEV --subject 'sessions blocked on app'\n  \
                  sentri diagnose PG-PROD --alert alert.eml --json\n  sentri diagnose PG-PROD --workflow 3f2a9c1e"
)]
pub struct Args {
    /// The database's name or one of its aliases (`sentri db list`).
    database: String,
    /// Diagnose what an alert with this subject says (routes to the specialists it concerns).
    #[arg(long)]
    subject: Option<String>,
    /// Diagnose the alert in this email file (.eml, or text whose first line is the subject).
    #[arg(long, value_name = "FILE")]
    alert: Option<PathBuf>,
    /// Diagnose the alert of a stored workflow (its id or a unique prefix).
    #[arg(long, value_name = "ID")]
    workflow: Option<String>,
    /// Print one JSON object instead of the report.
    #[arg(long)]
    json: bool,
    /// Also ask the language model of sentri.yaml's `llm:` section: it investigates with the
    /// same read-only tools, and its candidates are checked like any fix (costs money; every
    /// call is recorded and counts against `llm.daily_cost_limit`).
    #[arg(long, conflicts_with = "no_llm")]
    llm: bool,
    /// Use the specialists' rules only, whatever sentri.yaml says (the default).
    #[arg(long)]
    no_llm: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let Some(database) = config.database(&args.database).cloned() else {
        bail!("no database named or aliased `{}` in sentri.yaml (see `sentri db list`)", args.database);
    };
    let home = context.existing_home()?;
    let policies = PolicySet::load(&home.root);
    if policies.specialists.iter().all(|specialist| specialist.causes.is_empty()) {
        eprintln!("warning: no specialist in SENTRI_HOME/agents/ has `## Cause:` rules; every diagnosis is UNKNOWN");
    }
    let configured = if args.llm {
        match model::Configured::from_config(&config).context("the language model of sentri.yaml's `llm:`")? {
            Some(configured) => Some(configured),
            None => bail!(
                "--llm: no language model is configured; set `llm.provider` (claude, openai, gemini or local) in \
                 sentri.yaml and its API key in the environment"
            ),
        }
    } else {
        None
    };
    let store = context.store().ok();
    let alert = alert_context(context, &args, &config, &policies)?;
    let history = match &store {
        Some(store) => store.fix_history(&database.name).unwrap_or_default(),
        None => BTreeMap::new(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let diagnosis = runtime.block_on(async {
        let options = ConnectOptions { pool_size: 4, ..ConnectOptions::default() };
        let target = Target::connect(&database, &options).await?;
        let template = template_plan(&target, &policies, &database, alert.as_ref()).await;
        let alert_type = alert.as_ref().and_then(|alert| alert.alert_type.clone()).unwrap_or_default();
        let environment = database.environment.to_string();
        let request = Request {
            alert: alert.as_ref(),
            facts: PlanFacts {
                workflow_id: "",
                alert_type: &alert_type,
                database: &database.name,
                environment: &environment,
            },
            environment: Some(database.environment),
            template,
            history,
            profile: None,
        };
        let deterministic = diagnose::diagnose(&target, &policies, request.clone()).await;
        let diagnosis = match &configured {
            Some(configured) => {
                let site = CallSite {
                    database: Some(database.name.clone()),
                    environment: Some(environment.clone()),
                    actor: format!("cli:{}", sentri::pipeline::approval::identity::os_account().unwrap_or_default()),
                    ..CallSite::default()
                };
                let ledger: Box<dyn Ledger> = match &store {
                    Some(store) => Box::new(StoreLedger { store, site }),
                    None => Box::new(NoLedger),
                };
                let advisor = configured.advisor(ledger.as_ref(), Depth::Agentic);
                let memory = store.as_ref().and_then(|store| {
                    model::memory::recall(store, &database.name, &alert_type, store.now())
                        .map_err(|error| tracing::warn!(%error, "no memory for the model"))
                        .ok()
                        .flatten()
                });
                let briefing = model::Briefing { verification: None, memory: memory.as_deref() };
                model::deepen(&target, &policies, &request, deterministic, &advisor, &briefing).await
            }
            None => deterministic,
        };
        target.close().await;
        anyhow::Ok(diagnosis)
    })?;
    if args.json {
        print_json(&as_json(&diagnosis, &database, alert.as_ref()))?;
    } else {
        print_report(&diagnosis, &database, alert.as_ref());
    }
    Ok(ExitCode::SUCCESS)
}

/// What the alert says, from whichever of --subject, --alert or --workflow was given.
fn alert_context(
    context: &Context,
    args: &Args,
    config: &Config,
    policies: &PolicySet,
) -> anyhow::Result<Option<AlertContext>> {
    let now = jiff::Timestamp::now().to_string();
    let raw = if let Some(subject) = &args.subject {
        RawAlert::from_parts(subject, "", now)
    } else if let Some(path) = &args.alert {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if super::matching::looks_like_rfc822(&bytes) {
            RawAlert::from_rfc822(&bytes, now)
        } else {
            let text = String::from_utf8_lossy(&bytes);
            let (subject, body) = text.split_once('\n').unwrap_or((&text, ""));
            RawAlert::from_parts(subject.trim(), body.trim_start_matches('\n'), now)
        }
    } else if let Some(id) = &args.workflow {
        let store = context.store()?;
        let workflow = store.find_workflows(id.trim())?;
        let (subject, body) = match workflow.raw_alert_id {
            Some(raw) => store.get_raw_alert(raw.0).map(|row| (row.subject, row.body)).unwrap_or_default(),
            None => (String::new(), String::new()),
        };
        return Ok(Some(AlertContext::of_workflow(policies, &workflow.alert_type, workflow.fields, subject, body)));
    } else {
        return Ok(None);
    };
    let databases = KnownDatabase::from_config(config);
    Ok(Some(match matcher::match_alert(&raw, policies, &databases) {
        MatchOutcome::Matched(alert) => AlertContext {
            subject: raw.subject.clone(),
            alert_type: Some(alert.alert_type),
            fields: alert.fields,
            body: raw.body.clone(),
            specialist: None,
        },
        MatchOutcome::Unmatched { .. } => {
            AlertContext { subject: raw.subject.clone(), body: raw.body.clone(), ..AlertContext::default() }
        }
    }))
}

/// The matched policy's own fix, when the live database confirms the alert: one candidate
/// among the specialists'.
async fn template_plan(
    target: &Target,
    policies: &PolicySet,
    database: &DatabaseConfig,
    alert: Option<&AlertContext>,
) -> Option<sentri::domain::Plan> {
    let alert = alert?;
    let policy = policies.alert(alert.alert_type.as_deref()?)?;
    let verification = steps::verify_live(target, policy, &alert.fields).await.ok()?;
    if verification.verdict != VerificationVerdict::Confirmed {
        return None;
    }
    let environment = database.environment.to_string();
    let inputs = verify::PlanInputs {
        workflow_id: "",
        database: &database.name,
        environment: &environment,
        alert_fields: &alert.fields,
        verification: &verification,
    };
    let mut plan = verify::template_plan(policy, &inputs)?;
    steps::resolve_plan(target, &mut plan, &verification).await.ok()?;
    Some(plan)
}

fn as_json(diagnosis: &Diagnosis, database: &DatabaseConfig, alert: Option<&AlertContext>) -> serde_json::Value {
    let candidates: Vec<_> = diagnosis
        .candidates
        .iter()
        .map(|candidate| {
            serde_json::json!({
                "title": candidate.title,
                "root_cause": candidate.root_cause,
                "forward": candidate.forward,
                "rollback": candidate.rollback,
                "irreversible": candidate.irreversible,
                "risk": candidate.risk,
                "score": candidate.score,
                "scores": candidate.scores,
                "why": candidate.why,
                "action_type": candidate.plan.action_type,
            })
        })
        .collect();
    serde_json::json!({
        "database": diagnosis.database,
        "engine": database.engine.as_str(),
        "alert": alert.map(|alert| serde_json::json!({"subject": alert.subject, "alert_type": alert.alert_type})),
        "specialists": diagnosis.specialists,
        "root_causes": diagnosis.root_causes,
        "candidates": candidates,
        "tools": diagnosis.tools,
        "elapsed_ms": diagnosis.elapsed_ms,
        "level": diagnosis.level,
        "model": diagnosis.model.as_ref().map(|record| serde_json::json!({
            "calls": record.calls,
            "dropped": record.dropped,
            "fallbacks": record.fallbacks,
        })),
    })
}

/// The report a DBA reads at 3 a.m.: the cause in one line, the evidence, then the fixes with
/// their SQL.
fn print_report(diagnosis: &Diagnosis, database: &DatabaseConfig, alert: Option<&AlertContext>) {
    let about = match alert {
        Some(alert) => match &alert.alert_type {
            Some(alert_type) => format!(" for `{alert_type}` ({})", printable(&alert.subject)),
            None => format!(" for \"{}\" (no policy matched)", printable(&alert.subject)),
        },
        None => String::new(),
    };
    let by =
        if diagnosis.specialists.is_empty() { "no specialist".to_owned() } else { diagnosis.specialists.join(", ") };
    println!("{} ({}){about}: diagnosed in {} ms by {by}\n", diagnosis.database, database.engine, diagnosis.elapsed_ms);
    print!("{}", text::report(diagnosis, None, text::Statements::Every));
    if let Some(record) = &diagnosis.model {
        print!("{}", text::model_report(diagnosis.level, record));
    }
}
