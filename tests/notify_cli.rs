//! Workflows ended from the command line are reported like the ones the daemon ends, and
//! `sentri show` lists every message about a workflow with its delivery state.

#[path = "common/plans.rs"]
mod plans;

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use sentri::domain::WorkflowState;
use sentri::store::Store;
use sentri::store::workflows::NewWorkflow;

fn sentri(home: &Path) -> Command {
    let mut command = Command::cargo_bin("sentri").expect("binary built");
    command.env("SENTRI_HOME", home).env_remove("SENTRI_WEBHOOK_URL").env_remove("SENTRI_SLACK_WEBHOOK_URL");
    command
}

/// A home whose config sends notifications to one webhook (nothing listens: the messages wait).
fn home_with_a_webhook() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path()).arg("init").assert().success();
    std::fs::write(
        home.path().join("config/sentri.yaml"),
        "notifications:\n  adapters:\n    - {type: webhook, enabled: true, url: \"http://127.0.0.1:9/hook\"}\n",
    )
    .expect("write config");
    home
}

fn awaiting_approval(store: &Store) -> String {
    let id = store
        .create_workflow(
            NewWorkflow {
                raw_alert_id: None,
                alert_type: "tablespace_full".into(),
                database: "PROD-DB-07".into(),
                environment: "PROD".into(),
                severity: "CRITICAL".into(),
                fields: BTreeMap::new(),
            },
            "engine",
        )
        .expect("workflow")
        .id;
    use WorkflowState::*;
    for (from, to) in [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight)] {
        store.transition(&id, from, to, "engine", "").expect("transition");
    }
    store.set_plan(&id, &plans::plan_adding_a_datafile(&id), "engine").expect("plan");
    store.transition(&id, PreFlight, AwaitingApproval, "engine", "PROD needs approval").expect("await");
    id.into()
}

#[test]
fn a_denial_and_a_resolution_from_the_cli_are_reported_and_shown() {
    let home = home_with_a_webhook();
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let id = awaiting_approval(&store);
    assert!(store.outbox_for_workflow(&id).expect("outbox").is_empty());

    sentri(home.path()).args(["approve", &id[..8], "--deny", "--reason", "change freeze"]).assert().success();
    let queued = store.outbox_for_workflow(&id).expect("outbox");
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!((queued[0].kind.as_str(), queued[0].recipient.as_str()), ("webhook", "webhook #1"));
    let event: serde_json::Value = serde_json::from_str(&queued[0].body).expect("JSON");
    assert_eq!(event["event"], "approval_denied");
    assert_eq!(event["state"], "DENIED");

    sentri(home.path()).args(["resolve", &id[..8], "--reason", "extended by hand"]).assert().success();
    let queued = store.outbox_for_workflow(&id).expect("outbox");
    assert_eq!(queued.len(), 2);
    let event: serde_json::Value = serde_json::from_str(&queued[1].body).expect("JSON");
    assert_eq!(event["event"], "workflow_resolved");
    assert_eq!(event["summary"], "extended by hand");

    store.mark_outbox_failed(queued[0].id, "connection refused").expect("fail");
    store.mark_outbox_sent(queued[1].id).expect("sent");
    sentri(home.path())
        .args(["show", &id[..8]])
        .assert()
        .success()
        .stdout(predicate::str::contains("Messages:"))
        .stdout(predicate::str::contains(format!(
            "#{} webhook to webhook #1: retrying, 1 failed attempt(s)",
            queued[0].id
        )))
        .stdout(predicate::str::contains("last error: connection refused"))
        .stdout(predicate::str::contains(format!("#{} webhook to webhook #1: sent", queued[1].id)))
        .stdout(predicate::str::contains("NOTIFICATION_FAILED"))
        .stdout(predicate::str::contains("NOTIFICATION_SENT"));
    let output = sentri(home.path()).args(["show", &id[..8], "--json"]).assert().success().get_output().stdout.clone();
    let shown: serde_json::Value = serde_json::from_slice(&output).expect("JSON");
    let outbox = shown["outbox"].as_array().expect("an outbox array");
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0]["attempts"], 1);
    assert!(outbox[1]["sent_at"].is_string());
}
