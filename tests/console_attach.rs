//! A console attached to a store that another process writes: `sentri replay` (the real
//! binary) stores an alert and opens a workflow, and the console's refresher — the same code the
//! live loop runs every 250 ms — sees it without being told.

#[allow(dead_code)]
#[path = "../ui/console/mod.rs"]
mod console;

use std::sync::Arc;
use std::time::{Duration, Instant};

use assert_cmd::Command;
use console::model::EngineState;
use console::refresh::Refresher;
use console::{ConsoleSource, initial_app};
use sentri::store::Store;

#[test]
fn a_workflow_written_by_another_process_appears() {
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = |args: &[&str]| {
        let mut command = Command::cargo_bin("sentri").expect("binary built");
        command.env("SENTRI_HOME", home.path()).args(args);
        command
    };
    sentri(&["init"]).assert().success();
    let store = Arc::new(Store::open(home.path().join("data/sentri.db")).expect("store"));
    let source = ConsoleSource {
        store: Arc::clone(&store),
        engine: None,
        engine_state: EngineState::Attached { pid: None },
        label: None,
        databases: Vec::new(),
        approver: "dba".into(),
        approvals: Default::default(),
        home: None,
    };
    let mut refresher = Refresher::new(Arc::clone(&store));
    let mut app = initial_app(&source, &mut refresher).expect("initial state");
    assert!(app.model.workflows.is_empty());
    assert!(!refresher.refresh(&mut app).expect("refresh"), "nothing changed, nothing reloaded");

    let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/samples/oem_tablespace_full.eml");
    sentri(&["replay", sample]).assert().success();

    // The loop polls every 250 ms; here we poll until a generous deadline, asserting only
    // that the change arrives, never how fast.
    let deadline = Instant::now() + Duration::from_secs(30);
    let settled = |app: &console::app::App| {
        !app.model.workflows.is_empty() && app.model.chain.as_ref().is_some_and(|chain| chain.rows_checked > 0)
    };
    while !settled(&app) && Instant::now() < deadline {
        refresher.refresh(&mut app).expect("refresh");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(app.model.workflows.len(), 1, "the new workflow reached the console");
    let workflow = app.selected_workflow().expect("selected");
    assert_eq!((workflow.alert_type.as_str(), workflow.database.as_str()), ("tablespace_full", "PROD-DB-07"));
    assert_eq!(app.model.alerts.len(), 1);
    assert!(app.model.audit.iter().any(|row| row.action == "WORKFLOW_CREATED"));
    assert!(app.model.chain.as_ref().is_some_and(|chain| chain.is_intact() && chain.rows_checked > 0));
    assert_eq!(app.model.detail.as_ref().map(|d| d.workflow_id.as_str()), Some(workflow.id.as_str()));
}

/// Without a terminal (piped, under a service manager, in CI) the console refuses and says what
/// to run instead; it neither hangs nor takes the engine lock.
#[test]
fn without_a_terminal_the_console_refuses_and_takes_no_lock() {
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = |args: &[&str]| {
        let mut command = Command::cargo_bin("sentri").expect("binary built");
        command.env("SENTRI_HOME", home.path()).args(args).timeout(Duration::from_secs(60));
        command
    };
    sentri(&["init"]).assert().success();
    for args in [&[][..], &["console"][..]] {
        sentri(args).assert().code(1).stderr(predicates::str::contains("the console needs a terminal"));
    }
    let lock = sentri::home::Home::at(home.path()).lock_engine();
    assert!(lock.is_ok(), "the engine lock is free: {lock:?}");
}
