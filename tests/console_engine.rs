//! The console over an engine running in the same process (what `sentri console` does without
//! a daemon, and what the demo does): the engine's events say "look now", and the refresh that
//! follows shows what the engine stored.

#[allow(dead_code)]
#[path = "../ui/console/mod.rs"]
mod console;

use std::sync::Arc;
use std::time::Duration;

use console::model::EngineState;
use console::refresh::Refresher;
use console::{ConsoleSource, EngineLink, engine_spoke, initial_app};
use sentri::config::Config;
use sentri::engine::{Engine, EngineSettings};
use sentri::home::Home;
use sentri::intake::RawAlert;
use sentri::policy::watch::LivePolicies;
use sentri::store::Store;
use sentri::targets::ConnectOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_events_make_the_console_look_and_it_sees_the_new_workflow() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path());
    home.init(false).expect("init");
    let config = Config::load(&home.config_file()).expect("config").config;
    let store = Arc::new(Store::open(home.database_file()).expect("store"));
    let engine = Engine::start(EngineSettings {
        store: Arc::clone(&store),
        policies: LivePolicies::load(&home.root),
        config: Arc::new(config),
        connect: ConnectOptions {
            connect_timeout: Duration::from_secs(2),
            call_timeout: Duration::from_secs(2),
            pool_size: 1,
        },
        sweep_interval: Duration::from_secs(3600),
        shutdown_deadline: Duration::from_secs(10),
        mailbox: false,
        notifier: false,
        watch_policies: false,
        checks: false,
    });
    let source = ConsoleSource {
        store: Arc::clone(&store),
        engine: Some(EngineLink { engine: engine.clone(), runtime: tokio::runtime::Handle::current() }),
        engine_state: EngineState::InProcess,
        label: Some("SIMULATED".into()),
        databases: Vec::new(),
        approver: "dba".into(),
        approvals: Default::default(),
        home: None,
    };
    let mut events = engine.subscribe();
    let mut refresher = Refresher::new(Arc::clone(&store));
    let mut app = initial_app(&source, &mut refresher).expect("initial state");
    assert!(!engine_spoke(&mut events), "quiet before any alert");

    let sample =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/samples/oem_tablespace_full.eml")).expect("sample");
    let raw = RawAlert::from_rfc822(&sample, "2026-11-25T09:00:00.000Z".into());
    let writer = Arc::clone(&store);
    let (raw_id, _) =
        tokio::task::spawn_blocking(move || writer.insert_raw_alert(&raw)).await.expect("join").expect("stored");
    engine.ingest(sentri::domain::RawAlertId(raw_id)).await.expect("the engine takes the alert in");

    assert!(engine_spoke(&mut events), "the engine announced what it did");
    assert!(!engine_spoke(&mut events), "drained");
    assert!(refresher.refresh(&mut app).expect("refresh"));
    assert_eq!(app.model.workflows.len(), 1);
    assert_eq!(app.model.alerts.len(), 1);
    let workflow = app.selected_workflow().expect("selected");
    assert_eq!(workflow.alert_type, "tablespace_full");
    let stored = store.get_workflow(&workflow.id).expect("stored");
    assert_eq!(workflow.state, stored.state, "the console shows the state the engine stored");
    engine.shutdown().await;
}
