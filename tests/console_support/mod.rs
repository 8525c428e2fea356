//! A store filled the way the engine fills it — raw alerts from the sample emails, workflows
//! walked through the real transition table, plans, Safety Mesh verdicts from the real mesh,
//! an approval, an execution report — on a clock that steps by a fixed amount on every write,
//! so screens drawn from it are the same on every run.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use jiff::Timestamp;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use sentri::domain::WorkflowState::{self, *};
use sentri::domain::{Candidate, Diagnosis, Evidence, Finding, RootCause, ToolTiming};
use sentri::execute::{ExecutionOutcome, ExecutionReport, StepRecord};
use sentri::intake::RawAlert;
use sentri::pipeline::plan::{Plan, PlanSource, PlanStep};
use sentri::policy::Brain;
use sentri::policy::alert::Risk;
use sentri::safety::{self, FailureCount, LockAttempt, MeshContext};
use sentri::store::{Decision, LockOutcome, NewWorkflow, RawAlertOutcome, Store, WorkflowRow};
use sentri::targets::sql::IdentifierKind;
use sentri::targets::{DbKind, Profile};

use crate::console::app::App;
use crate::console::model::EngineState;
use crate::console::refresh::Refresher;
use crate::console::theme::Theme;
use crate::console::{ConsoleSource, initial_app, view};

/// The fixed "now" of every screen: half an hour after the first write.
pub const NOW: &str = "2026-11-25T09:30:00Z";

/// The filled store and the workflows in it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Arc<Store>,
    /// PROD tablespace_full, diagnosed (TABLESPACE_FULL, two candidates, the template chosen),
    /// with its plan waiting for approval.
    pub awaiting: WorkflowRow,
    /// DEV tablespace_full approved by alice, executed and completed.
    pub completed: WorkflowRow,
    /// PROD idle_in_transaction escalated: the database did not answer.
    pub escalated: WorkflowRow,
}

fn sample(name: &str, received_at: &str) -> RawAlert {
    let path = format!("{}/assets/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&path).unwrap_or_else(|error| panic!("{path}: {error}"));
    RawAlert::from_rfc822(&bytes, received_at.to_owned())
}

fn walk(store: &Store, workflow: &WorkflowRow, path: &[WorkflowState], reason: &str) -> WorkflowRow {
    let mut current = store.get_workflow(&workflow.id).expect("workflow");
    for &to in path {
        current = store.transition(&current.id, current.state, to, "engine", reason).expect("transition");
    }
    current
}

fn plan(workflow: &WorkflowRow, tablespace: &str) -> Plan {
    Plan {
        workflow_id: workflow.id.to_string(),
        alert_type: workflow.alert_type.clone(),
        database: workflow.database.clone(),
        environment: workflow.environment.clone(),
        engine: DbKind::Oracle,
        action_type: "ADD_DATAFILE".into(),
        risk: Risk::Low,
        confidence: 1.0,
        steps: vec![PlanStep {
            sql: "ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32G".into(),
        }],
        rollback: vec![PlanStep { sql: "ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name".into() }],
        capture: Some(PlanStep {
            sql: "SELECT file_name FROM dba_data_files WHERE tablespace_name = :tablespace_name ORDER BY file_id DESC FETCH FIRST 1 ROWS ONLY".into(),
        }),
        validation: Some(PlanStep {
            sql: "SELECT used_pct FROM dba_tablespace_usage_metrics WHERE tablespace_name = :tablespace_name".into(),
        }),
        irreversible: None,
        identifiers: BTreeMap::from([
            ("tablespace_name".into(), IdentifierKind::Tablespace),
            ("file_name".into(), IdentifierKind::Datafile),
        ]),
        values: BTreeMap::from([("tablespace_name".into(), Some(tablespace.into()))]),
        source: PlanSource::Template,
        rationale: "the policy's template fix: add a datafile".into(),
        proof: sentri::pipeline::plan::ProofSpec::default(),
        resolved: BTreeMap::from([(
            "tablespace_name".into(),
            sentri::targets::ResolvedIdentifier {
                kind: IdentifierKind::Tablespace,
                schema: None,
                name: tablespace.into(),
            },
        )]),
    }
}

/// The diagnosis of the PROD tablespace alert as the engine stores one: the cause from the
/// tablespace tool's row, the policy's fix (`template`, which became the plan) scored best,
/// and a resize as the runner-up.
fn diagnosis(template: &Plan) -> Diagnosis {
    let mut resize = template.clone();
    resize.action_type = "RESIZE_DATAFILE".into();
    resize.steps = vec![PlanStep { sql: "ALTER DATABASE DATAFILE :file_name RESIZE 40G".into() }];
    resize.rollback = vec![PlanStep { sql: "ALTER DATABASE DATAFILE :file_name RESIZE 32G".into() }];
    resize.values.insert("file_name".into(), Some("/u01/oradata/PRODDB/users01.dbf".into()));
    Diagnosis {
        database: "PRODDB".into(),
        specialists: vec!["storage_agent".into()],
        root_causes: vec![Finding {
            cause: RootCause::TablespaceFull,
            confidence: 0.95,
            summary: "USERS is 97.1% used (312 MB free of 10240 MB) and cannot extend".into(),
            specialist: "storage_agent".into(),
            evidence: vec![Evidence {
                tool: "ora_tablespace".into(),
                row: BTreeMap::from([
                    ("autoextensible".into(), "NO".into()),
                    ("free_mb".into(), "312".into()),
                    ("tablespace_name".into(), "USERS".into()),
                    ("used_pct".into(), "97.1".into()),
                ]),
                why: "used_pct >= 90: 97.1 >= 90 is true; autoextensible == 'NO': NO is true".into(),
            }],
        }],
        candidates: vec![
            Candidate {
                title: "Add a datafile to USERS".into(),
                root_cause: RootCause::TablespaceFull,
                forward: vec![
                    "ALTER TABLESPACE \"USERS\" ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32G".into(),
                ],
                rollback: vec!["ALTER TABLESPACE \"USERS\" DROP DATAFILE :file_name".into()],
                irreversible: None,
                risk: Risk::Low,
                score: 0.86,
                scores: BTreeMap::from([
                    ("execution_time".into(), 0.9),
                    ("fixes_root_cause".into(), 0.7),
                    ("historical_success".into(), 0.5),
                    ("reversibility".into(), 1.0),
                    ("side_effect_risk".into(), 0.9),
                ]),
                why: "the policy's fix: room at once, undone by dropping the new file".into(),
                plan: template.clone(),
            },
            Candidate {
                title: "Resize users01.dbf to 40G".into(),
                root_cause: RootCause::TablespaceFull,
                forward: vec!["ALTER DATABASE DATAFILE '/u01/oradata/PRODDB/users01.dbf' RESIZE 40G".into()],
                rollback: vec!["ALTER DATABASE DATAFILE '/u01/oradata/PRODDB/users01.dbf' RESIZE 32G".into()],
                irreversible: None,
                risk: Risk::Medium,
                score: 0.71,
                scores: BTreeMap::from([
                    ("execution_time".into(), 0.8),
                    ("fixes_root_cause".into(), 0.7),
                    ("historical_success".into(), 0.5),
                    ("reversibility".into(), 0.6),
                    ("side_effect_risk".into(), 0.7),
                ]),
                why: "one file grows; shrinking it back fails once rows land past 32G".into(),
                plan: resize,
            },
        ],
        tools: vec![
            ToolTiming { name: "ora_tablespace".into(), ms: 38, rows: 4, error: None },
            ToolTiming { name: "ora_storage".into(), ms: 51, rows: 2, error: None },
        ],
        elapsed_ms: 64,
        level: sentri::domain::Level::Deterministic,
        model: None,
    }
}

/// Runs the real Safety Mesh on `plan` and audits its verdicts, as the engine does.
fn mesh(store: &Store, plan: &Plan, approved: Option<String>) {
    let brain = Brain::default();
    let now = store.now();
    let context = MeshContext {
        database_environment: None,
        brain: &brain,
        now,
        environment_policy: None,
        database_autonomy: None,
        database_aliases: &[],
        critical_schemas: &[],
        lock: Some(LockAttempt {
            key: safety::conflict_lock::lock_key(plan),
            outcome: LockOutcome::Acquired { expires_at: now },
        }),
        failures: Some(FailureCount { since: safety::failure_window_start(&brain, now), count: 0 }),
        approved_plan_hash: approved.map(Into::into),
        provisional: false,
    };
    let (decision, _) = safety::evaluate(plan.clone(), &context);
    safety::audit(store, plan, &decision).expect("audit verdicts");
}

fn new_workflow(raw_alert_id: Option<i64>, alert_type: &str, database: &str, environment: &str) -> NewWorkflow {
    NewWorkflow {
        raw_alert_id,
        alert_type: alert_type.into(),
        database: database.into(),
        environment: environment.into(),
        severity: "CRITICAL".into(),
        fields: BTreeMap::from([("tablespace_name".into(), "USERS".into()), ("used_pct".into(), "97".into())]),
    }
}

/// Fills a new store in a temp dir.
pub fn filled() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let start: Timestamp = "2026-11-25T09:00:00Z".parse().expect("time");
    let ticks = Arc::new(AtomicI64::new(start.as_millisecond()));
    let clock = Arc::clone(&ticks);
    let store = Arc::new(
        Store::open_with_clock(
            dir.path().join("sentri.db"),
            Arc::new(move || Timestamp::from_millisecond(clock.fetch_add(7_000, Ordering::SeqCst)).expect("time")),
        )
        .expect("store"),
    );
    // Migrations read the clock too; starting it after them keeps every screen's times
    // independent of how many migrations the store has.
    ticks.store(start.as_millisecond(), Ordering::SeqCst);

    let (tablespace_alert, _) =
        store.insert_raw_alert(&sample("oem_tablespace_full.eml", "2026-11-25T09:00:01.000Z")).expect("alert");
    let awaiting = store
        .create_workflow(new_workflow(Some(tablespace_alert), "tablespace_full", "PRODDB", "PROD"), "engine")
        .expect("workflow");
    let awaiting = walk(&store, &awaiting, &[Verifying], "");
    store
        .set_verification(
            &awaiting.id,
            &sentri::domain::Verification {
                verdict: sentri::domain::VerificationVerdict::Confirmed,
                evidence: BTreeMap::from([("used_pct".into(), "97.1".into())]),
                rows: 1,
                explanations: vec!["used_pct >= 90 held (97.1)".into()],
            },
        )
        .expect("verification");
    let awaiting = walk(&store, &awaiting, &[Verified], "");
    let awaiting_plan = plan(&awaiting, "USERS");
    store.set_diagnosis(&awaiting.id, &diagnosis(&awaiting_plan), "engine").expect("diagnosis");
    let awaiting = walk(&store, &awaiting, &[PreFlight], "");
    store.set_plan(&awaiting.id, &awaiting_plan, "engine").expect("plan");
    mesh(&store, &awaiting_plan, None);
    let awaiting = walk(&store, &awaiting, &[AwaitingApproval], "the Safety Mesh asks for approval");

    let completed =
        store.create_workflow(new_workflow(None, "tablespace_full", "DEVDB", "DEV"), "engine").expect("workflow");
    let completed = walk(&store, &completed, &[Verifying, Verified, PreFlight], "");
    let completed_plan = plan(&completed, "APP_DATA");
    let with_plan = store.set_plan(&completed.id, &completed_plan, "engine").expect("plan");
    let hash = with_plan.plan_hash.clone().expect("hash");
    mesh(&store, &completed_plan, None);
    walk(&store, &completed, &[AwaitingApproval], "the Safety Mesh asks for approval");
    let request = sentri::pipeline::approval::DecisionRequest {
        workflow_id: completed.id.clone(),
        plan_hash: hash.clone(),
        approver: "alice".into(),
        decision: Decision::Approved,
        channel: "cli".into(),
        reason: String::new(),
        token_hash: None,
        raw_alert_id: None,
    };
    sentri::pipeline::approval::decide(&store, &Default::default(), &request).expect("approval");
    walk(&store, &completed, &[PreFlight], "re-checked after approval");
    mesh(&store, &completed_plan, Some(hash.clone().into()));
    walk(&store, &completed, &[Executing], "");
    let report = ExecutionReport {
        outcome: ExecutionOutcome::Completed,
        plan_hash: hash.to_string(),
        metrics_before: BTreeMap::from([("used_pct".into(), "96.4".into())]),
        metrics_after: BTreeMap::from([("used_pct".into(), "61.8".into())]),
        forward: vec![StepRecord {
            sql: "ALTER TABLESPACE \"APP_DATA\" ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32G".into(),
            rows_affected: Some(0),
            elapsed_ms: 840,
            error: None,
        }],
        captured: BTreeMap::from([("file_name".into(), "/u02/oradata/DEVDB/app_data02.dbf".into())]),
        rollback: Vec::new(),
        proof: vec!["used_pct < 90: 61.8 holds".into()],
        error: None,
        duration_ms: 1310,
    };
    store.set_execution(&completed.id, &report).expect("execution");
    let completed = walk(&store, &completed, &[Completed], "success criteria hold");

    let (idle_alert, _) =
        store.insert_raw_alert(&sample("postgres_idle_in_transaction.eml", "2026-11-25T09:10:00.000Z")).expect("alert");
    let escalated = store
        .create_workflow(new_workflow(Some(idle_alert), "idle_in_transaction", "PGPROD", "PROD"), "engine")
        .expect("workflow");
    let escalated =
        walk(&store, &escalated, &[Verifying, Escalated], "database unreachable: connection refused (PGPROD)");

    let (cleared, _) =
        store.insert_raw_alert(&sample("oem_cleared_tablespace.eml", "2026-11-25T09:12:00.000Z")).expect("alert");
    store
        .set_raw_alert_outcome(
            cleared,
            &RawAlertOutcome::Folded {
                workflow_id: awaiting.id.to_string(),
                alert_type: "tablespace_full".into(),
                database: "PRODDB".into(),
            },
        )
        .expect("fold");
    let (newsletter, _) =
        store.insert_raw_alert(&sample("newsletter_unmatched.eml", "2026-11-25T09:14:00.000Z")).expect("alert");
    store.set_raw_alert_outcome(newsletter, &RawAlertOutcome::Unmatched).expect("unmatched");
    store.insert_raw_alert(&sample("nagios_temp_full.eml", "2026-11-25T09:20:00.000Z")).expect("pending alert");

    store
        .save_profile(
            "DEVDB",
            &Profile {
                engine: DbKind::Oracle,
                profiled_at: "2026-11-25T08:00:00Z".into(),
                version: "19.21.0.0.0".into(),
                version_major: 19,
                connected_as: "SENTRI".into(),
                database_name: "DEVDB".into(),
                oracle: None,
                postgres: None,
            },
        )
        .expect("profile");
    let awaiting = store.get_workflow(&awaiting.id).expect("workflow");
    Fixture { dir, store, awaiting, completed, escalated }
}

/// The console state over `fixture`, as `sentri console` attached to daemon pid 4242 builds it,
/// with "now" fixed.
pub fn app(fixture: &Fixture) -> (App, Refresher) {
    let source = ConsoleSource {
        store: Arc::clone(&fixture.store),
        engine: None,
        engine_state: EngineState::Attached { pid: Some(4242) },
        label: None,
        databases: vec!["PRODDB".into(), "DEVDB".into(), "PGPROD".into()],
        approver: "dba".into(),
        approvals: Default::default(),
        home: None,
    };
    let mut refresher = Refresher::new(Arc::clone(&fixture.store));
    let mut app = initial_app(&source, &mut refresher).expect("initial state");
    app.set_now(NOW.parse().expect("time"));
    (app, refresher)
}

/// Draws `app` at `width` × `height` and returns the screen as text, random ids and plan hashes
/// replaced by fixed ones of the same width so that snapshots are stable.
pub fn screen(fixture: &Fixture, app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    let theme = Theme::for_terminal(false, "");
    terminal.draw(|frame| view::draw(app, &theme, frame)).expect("draw");
    stabilise(fixture, &terminal.backend().to_string())
}

/// Replaces each workflow's random id (full and short) and plan hash by a fixed stand-in.
pub fn stabilise(fixture: &Fixture, text: &str) -> String {
    let mut text = text.to_owned();
    for (n, workflow) in [&fixture.awaiting, &fixture.completed, &fixture.escalated].into_iter().enumerate() {
        let current = fixture.store.get_workflow(&workflow.id).expect("workflow");
        if let Some(hash) = &current.plan_hash {
            text = text.replace(hash.as_str(), &format!("{n}").repeat(64));
            text = text.replace(&hash[..16], &format!("{n}").repeat(16));
        }
        text = text.replace(workflow.id.as_str(), &format!("{n}{n}{n}{n}{n}{n}{n}{n}-0000-4000-8000-00000000000{n}"));
        text = text.replace(workflow.short_id(), &format!("wf{n}{n}{n}{n}{n}{n}"));
    }
    text
}
