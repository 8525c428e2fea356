//! Slack, the generic webhook and PagerDuty, through the outbox and the notifier, against a local
//! HTTP server that records what it receives (the paid APIs are only ever faked by their wire
//! format): method, path, headers and JSON body; a failing endpoint is retried with backoff;
//! secrets never reach the store.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sentri::config::Config;
use sentri::domain::WorkflowState;
use sentri::notify::report::{RepeatRule, Reporter};
use sentri::notify::{Channels, Notifier, NotifierSettings};
use sentri::store::audit::AuditFilter;
use sentri::store::{NewWorkflow, Store};

use common::http::Recorder;

const SLACK_PATH: &str = "/services/T000/B000/s3cretslack";
const HOOK_PATH: &str = "/hooks/sentri";
const PD_PATH: &str = "/v2/enqueue";

/// A store whose clock the test moves, and the clock's handle, opened with a reporter for
/// `config`'s channels, as the engine's store is.
fn store(config: &Config) -> (Arc<Store>, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(jiff::Timestamp::now().as_millisecond()));
    let reading = Arc::clone(&now);
    let store = Store::with_clock(Arc::new(move || {
        jiff::Timestamp::from_millisecond(reading.load(Ordering::SeqCst)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }))
    .expect("store");
    let rule = RepeatRule { threshold: 3, hours: 24 };
    let store = store.with_reporter(Arc::new(Reporter::new(Channels::from_config(config), move || rule)));
    (Arc::new(store), now)
}

fn config(recorder: &Recorder) -> Config {
    let yaml = format!(
        "notifications:
  adapters:
    - type: slack
      enabled: true
    - type: webhook
      enabled: true
      url: {base}{HOOK_PATH}
      headers:
        Authorization: Bearer hook-t0ken
        X-Source: sentri
    - type: pagerduty
      enabled: true
      url: {base}{PD_PATH}
",
        base = recorder.base
    );
    let slack = format!("{}{SLACK_PATH}", recorder.base);
    let env = move |var: &str| match var {
        "SENTRI_SLACK_WEBHOOK_URL" => Some(slack.clone()),
        "SENTRI_PAGERDUTY_ROUTING_KEY" => Some("pd-routing-k3y".to_owned()),
        _ => None,
    };
    Config::from_yaml(&yaml, Path::new("sentri.yaml"), &env).expect("config").config
}

fn workflow(store: &Store) -> String {
    store
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
        .id
        .into()
}

fn escalate(store: &Store, _config: &Config, id: &str, why: &str) {
    store.transition(id, WorkflowState::Detected, WorkflowState::Escalated, "engine", why).expect("escalate");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_escalation_reaches_slack_the_webhook_and_pagerduty_in_their_wire_formats() {
    let recorder = Recorder::start().await;
    let config = config(&recorder);
    let (store, _) = store(&config);
    let id = workflow(&store);
    escalate(&store, &config, &id, "Safety Mesh: blocked (freeze window)");
    let queued = store.outbox_for_workflow(&id).expect("outbox");
    let kinds: Vec<&str> = queued.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(kinds, ["slack", "webhook", "pagerduty"]);
    for message in &queued {
        for secret in ["s3cretslack", "hook-t0ken", "pd-routing-k3y", &recorder.base] {
            assert!(
                !message.body.contains(secret) && !message.recipient.contains(secret),
                "a secret ({secret}) reached the outbox: {message:?}"
            );
        }
    }

    let notifier = Notifier::new(Arc::clone(&store), &config, NotifierSettings::default());
    let pass = notifier.deliver_due().await;
    assert_eq!((pass.sent, pass.failed), (3, 0), "{:?}", store.outbox_for_workflow(&id));
    let short = &id[..8];

    let slack = recorder.requests_to(SLACK_PATH);
    assert_eq!(slack.len(), 1);
    assert_eq!(slack[0].method, "POST");
    assert!(slack[0].header("content-type").unwrap_or_default().starts_with("application/json"));
    let text = slack[0].json()["text"].as_str().expect("a text field").to_owned();
    assert!(text.starts_with(&format!("Sentri workflow {short}: ESCALATED")), "{text}");
    assert!(text.contains("why:         Safety Mesh: blocked (freeze window)"), "{text}");
    assert!(text.contains(&format!("sentri show {short}")), "{text}");

    let hook = recorder.requests_to(HOOK_PATH);
    assert_eq!(hook.len(), 1);
    assert_eq!(hook[0].method, "POST");
    assert_eq!(hook[0].header("authorization"), Some("Bearer hook-t0ken"));
    assert_eq!(hook[0].header("x-source"), Some("sentri"));
    assert_eq!(hook[0].header("content-type"), Some("application/json"));
    let event = hook[0].json();
    assert_eq!(event["event"], "workflow_escalated");
    assert_eq!(event["workflow_id"], id.as_str());
    assert_eq!(event["state"], "ESCALATED");
    assert_eq!(event["database"], "PROD-DB-07");
    assert_eq!(event["environment"], "PROD");
    assert_eq!(event["alert_type"], "tablespace_full");
    assert_eq!(event["summary"], "Safety Mesh: blocked (freeze window)");

    let pd = recorder.requests_to(PD_PATH);
    assert_eq!(pd.len(), 1);
    assert_eq!(pd[0].method, "POST");
    assert!(pd[0].header("content-type").unwrap_or_default().starts_with("application/json"));
    let trigger = pd[0].json();
    assert_eq!(trigger["routing_key"], "pd-routing-k3y");
    assert_eq!(trigger["event_action"], "trigger");
    assert_eq!(trigger["dedup_key"], id.as_str());
    assert_eq!(trigger["payload"]["source"], "PROD-DB-07");
    assert_eq!(trigger["payload"]["severity"], "critical");
    let summary = trigger["payload"]["summary"].as_str().expect("summary");
    assert!(summary.contains("tablespace_full on PROD-DB-07") && summary.contains("freeze window"), "{summary}");

    let outbox = store.outbox_for_workflow(&id).expect("outbox");
    assert!(outbox.iter().all(|m| m.state() == "sent"), "{outbox:?}");
    let audit = store.list_audit(&AuditFilter { workflow_id: Some(id.clone()), ..Default::default() }).expect("audit");
    let sent: Vec<&str> = audit.iter().filter(|r| r.action == "NOTIFICATION_SENT").map(|r| r.result.as_str()).collect();
    assert_eq!(sent, ["SLACK", "WEBHOOK", "PAGERDUTY"]);
    assert_eq!(notifier.deliver_due().await.sent, 0, "nothing is sent twice");
    assert_eq!(recorder.requests().len(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn pagerduty_hears_of_escalations_only() {
    let recorder = Recorder::start().await;
    let config = config(&recorder);
    let (store, _) = store(&config);
    let id = workflow(&store);
    use WorkflowState::*;
    for (from, to) in [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight), (PreFlight, Executing)] {
        store.transition(&id, from, to, "engine", "step").expect("move");
    }
    store.transition(&id, Executing, Completed, "executor", "the fix worked").expect("complete");
    let notifier = Notifier::new(Arc::clone(&store), &config, NotifierSettings::default());
    assert_eq!(notifier.deliver_due().await.sent, 2);
    assert!(recorder.requests_to(PD_PATH).is_empty(), "a completion is not paged");
    assert_eq!(recorder.requests_to(HOOK_PATH)[0].json()["event"], "workflow_completed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_webhook_is_retried_after_its_backoff_and_sent_once() {
    let recorder = Recorder::start().await;
    let config = config(&recorder);
    let (store, now) = store(&config);
    let id = workflow(&store);
    escalate(&store, &config, &id, "a DBA must take over");
    let notifier = Notifier::new(Arc::clone(&store), &config, NotifierSettings::default());
    // Slack is asked first, then the webhook: the webhook's first answer is a 500.
    recorder.answer_next(1, 200);
    recorder.answer_next(1, 500);
    let first = notifier.deliver_due().await;
    assert_eq!((first.sent, first.failed), (2, 1));
    let hook = store.outbox_for_workflow(&id).expect("outbox").into_iter().find(|m| m.kind == "webhook").expect("hook");
    assert_eq!(hook.attempts, 1);
    assert_eq!(hook.state(), "retrying");
    let error = hook.last_error.clone().unwrap_or_default();
    assert!(error.contains("HTTP 500"), "{error}");
    assert!(!error.contains("hook-t0ken") && !error.contains(HOOK_PATH), "no URL or token in errors: {error}");
    let failed = store
        .list_audit(&AuditFilter { workflow_id: Some(id.clone()), ..Default::default() })
        .expect("audit")
        .into_iter()
        .filter(|r| r.action == "NOTIFICATION_FAILED")
        .count();
    assert_eq!(failed, 1);

    // Not due before its backoff ends.
    assert_eq!(notifier.deliver_due().await, Default::default());
    now.fetch_add(31_000, Ordering::SeqCst);
    let second = notifier.deliver_due().await;
    assert_eq!((second.sent, second.failed), (1, 0));
    let hook = store.get_outbox(hook.id).expect("hook");
    assert_eq!(hook.state(), "sent");
    assert_eq!(hook.attempts, 1);
    assert_eq!(recorder.requests_to(HOOK_PATH).len(), 2, "one failure, one success");
    now.fetch_add(3_600_000, Ordering::SeqCst);
    assert_eq!(notifier.deliver_due().await.sent, 0);
    assert_eq!(recorder.requests_to(HOOK_PATH).len(), 2, "delivered exactly once");
    assert!(store.verify_audit().expect("verify").is_intact());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_endpoint_is_a_failure_that_waits_in_the_outbox() {
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let yaml = format!(
        "notifications:\n  adapters:\n    - {{type: webhook, enabled: true, url: \"http://127.0.0.1:{closed}/x\"}}\n"
    );
    let config = Config::from_yaml(&yaml, Path::new("sentri.yaml"), &|_| None).expect("config").config;
    let (store, _) = store(&config);
    let id = workflow(&store);
    escalate(&store, &config, &id, "why");
    let notifier = Notifier::new(Arc::clone(&store), &config, NotifierSettings::default());
    assert_eq!(notifier.deliver_due().await.failed, 1);
    let message = &store.outbox_for_workflow(&id).expect("outbox")[0];
    assert_eq!((message.attempts, message.state()), (1, "retrying"));
    assert!(message.next_attempt_at.is_some());
}
