//! Email through a real SMTP server into a real mailbox: the notifier sends what the outbox holds
//! through OpenSMTPD, which delivers over LMTP into Dovecot, and the test reads it back over
//! IMAP. A server that is down keeps the message waiting in the outbox (attempts counted) until
//! it is back, then it is delivered exactly once. And end to end: a workflow the engine drives
//! to its end on a real PostgreSQL is reported by email, the notifier woken by the engine.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use mail_parser::MimeHeaders;
use sentri::config::Config;
use sentri::domain::WorkflowState;
use sentri::engine::{Engine, EngineSettings};
use sentri::home::Home;
use sentri::intake::RawAlert;
use sentri::notify::report::Reporter;
use sentri::notify::{EmailContent, Notifier, NotifierSettings, SENTRI_HEADER, enqueue_email, notifier};
use sentri::policy::watch::LivePolicies;
use sentri::store::Store;
use sentri::store::audit::AuditFilter;
use sentri::store::workflows::WorkflowFilter;
use sentri::targets::ConnectOptions;
use tokio_util::sync::CancellationToken;

use common::smtp::{self, Smtpd};
use common::{dovecot, postgres};

const MAIL_WAIT: Duration = Duration::from_secs(30);

/// The `email` section for sending through `smtpd` (plain SMTP to loopback; no IMAP here).
fn email_yaml(smtpd: &Smtpd) -> String {
    format!(
        "email:\n  smtp_server: 127.0.0.1\n  smtp_port: {}\n  use_tls: false\n  from_address: sentri@localhost\n",
        smtpd.port
    )
}

fn config(yaml: &str) -> Config {
    Config::from_yaml(yaml, Path::new("sentri.yaml"), &|_| None).expect("config").config
}

fn store_with_clock() -> (Arc<Store>, Arc<AtomicI64>) {
    let now = Arc::new(AtomicI64::new(jiff::Timestamp::now().as_millisecond()));
    let reading = Arc::clone(&now);
    let store = Store::with_clock(Arc::new(move || {
        jiff::Timestamp::from_millisecond(reading.load(Ordering::SeqCst)).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }))
    .expect("store");
    (Arc::new(store), now)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_email_arrives_with_its_text_and_html_parts_and_sentri_headers() {
    let dovecot = dovecot::shared();
    let user = dovecot.add_user("ann-basic@localhost");
    let smtpd = Smtpd::start(dovecot);
    let config = config(&email_yaml(&smtpd));
    let (store, _) = store_with_clock();
    let content = EmailContent {
        text: "Plain words for a terminal.\nsentri show 3f9c2a1b\n".to_owned(),
        html: Some("<p>Rich <b>words</b> for a mail client.</p>".to_owned()),
    };
    let queued = enqueue_email(&store, None, &user, "[SENTRI] test: one message", &content).expect("enqueue");
    let notifier = Notifier::new(Arc::clone(&store), &config, NotifierSettings::default());
    assert!(notifier.setup_problems().is_empty(), "{:?}", notifier.setup_problems());
    let pass = notifier.deliver_due().await;
    assert_eq!((pass.sent, pass.failed), (1, 0), "{:?}\n{}", store.get_outbox(queued.id), smtpd.logs());

    let inbox = smtp::wait_for_mail(dovecot, &user, 1, MAIL_WAIT).await;
    assert_eq!(inbox.len(), 1);
    let mail = &inbox[0];
    assert_eq!(mail.header(SENTRI_HEADER).as_deref(), Some(format!("outbox-{}", queued.id).as_str()));
    assert_eq!(mail.header("Auto-Submitted").as_deref(), Some("auto-generated"));
    assert_eq!(mail.header("Subject").as_deref(), Some("[SENTRI] test: one message"));
    assert_eq!(mail.header("From").as_deref(), Some("sentri@localhost"));
    assert_eq!(mail.header("To").as_deref(), Some(user.as_str()));
    assert!(mail.header("Date").is_some());
    let message_id = mail.header("Message-ID").expect("a Message-ID");
    assert!(message_id.starts_with(&format!("<sentri.outbox-{}.", queued.id)), "{message_id}");
    let parsed = mail.parsed();
    assert!(parsed.content_type().is_some_and(|ct| ct.subtype() == Some("alternative")), "multipart/alternative");
    let text = parsed.body_text(0).expect("a text part");
    assert!(text.contains("Plain words for a terminal.") && text.contains("sentri show 3f9c2a1b"), "{text}");
    let html = parsed.body_html(0).expect("an HTML part");
    assert!(html.contains("<b>words</b>"), "{html}");

    let sent = store.get_outbox(queued.id).expect("outbox row");
    assert_eq!((sent.state(), sent.attempts), ("sent", 0));
    let audit = store.list_audit(&AuditFilter::default()).expect("audit");
    assert!(audit.iter().any(|r| r.action == "NOTIFICATION_SENT" && r.detail["outbox_id"] == queued.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn mail_waits_in_the_outbox_while_the_smtp_server_is_down_and_goes_out_once_when_it_is_back() {
    let dovecot = dovecot::shared();
    let user = dovecot.add_user("bob-outage@localhost");
    let smtpd = Smtpd::start(dovecot);
    let config = config(&email_yaml(&smtpd));
    let (store, now) = store_with_clock();
    smtpd.stop();

    let content = EmailContent { text: "Sent after an outage.".to_owned(), html: None };
    let queued = enqueue_email(&store, None, &user, "[SENTRI] outage", &content).expect("enqueue");
    let notifier = Notifier::new(Arc::clone(&store), &config, NotifierSettings::default());
    assert_eq!(notifier.deliver_due().await.failed, 1);
    let waiting = store.get_outbox(queued.id).expect("row");
    assert_eq!((waiting.attempts, waiting.state()), (1, "retrying"));
    assert!(waiting.last_error.as_deref().unwrap_or_default().contains("SMTP delivery through 127.0.0.1"));
    // Not retried before its backoff (30 s) ends…
    assert_eq!(notifier.deliver_due().await, Default::default());
    // …then retried, and still failing while the server is down.
    now.fetch_add(30_000, Ordering::SeqCst);
    assert_eq!(notifier.deliver_due().await.failed, 1);
    assert_eq!(store.get_outbox(queued.id).expect("row").attempts, 2);
    assert_eq!(dovecot.count(&user).await, 0);

    smtpd.restart();
    now.fetch_add(60_000, Ordering::SeqCst);
    let pass = notifier.deliver_due().await;
    assert_eq!((pass.sent, pass.failed), (1, 0), "{}", smtpd.logs());
    let inbox = smtp::wait_for_mail(dovecot, &user, 1, MAIL_WAIT).await;
    assert_eq!(inbox[0].header("Subject").as_deref(), Some("[SENTRI] outage"));
    let sent = store.get_outbox(queued.id).expect("row");
    assert_eq!((sent.state(), sent.attempts), ("sent", 2));

    // Later passes send nothing more; the mailbox keeps exactly one copy.
    now.fetch_add(7_200_000, Ordering::SeqCst);
    assert_eq!(notifier.deliver_due().await, Default::default());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(smtp::inbox(dovecot, &user).await.len(), 1, "delivered exactly once");
    let actions: Vec<String> = store
        .list_audit(&AuditFilter::default())
        .expect("audit")
        .into_iter()
        .filter(|r| r.detail["outbox_id"] == queued.id)
        .map(|r| r.action)
        .collect();
    assert_eq!(actions, ["NOTIFICATION_FAILED", "NOTIFICATION_FAILED", "NOTIFICATION_SENT"]);
}

const SEQUENCE_ALERT_SUBJECT: &str = "** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **";
const SEQUENCE_ALERT_BODY: &str =
    "POSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)";

#[tokio::test(flavor = "multi_thread")]
async fn a_workflow_the_engine_completes_is_reported_by_email_at_once() {
    let dovecot = dovecot::shared();
    let user = dovecot.add_user("dba-engine@localhost");
    let smtpd = Smtpd::start(dovecot);
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path().join("home"));
    home.init(false).expect("init");
    let dbname = postgres::fresh_database().await;
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let yaml = format!(
        "{email}databases:\n  - name: app\n    engine: postgres\n    environment: DEV\n    connection_string: \"{conn}\"\n    \
         username: postgres\nnotifications:\n  adapters:\n    - type: email\n      enabled: true\n      recipients: \
         [{user}]\n",
        email = email_yaml(&smtpd),
        conn = postgres::connection_string(&dbname),
    );
    let env = |var: &str| (var == "SENTRI_DB_APP_PASSWORD").then(|| postgres::SUPERUSER_PASSWORD.to_owned());
    let config = Arc::new(Config::from_yaml(&yaml, Path::new("sentri.yaml"), &env).expect("config").config);
    let policies = LivePolicies::load(&home.root);
    let store = Store::open(home.database_file())
        .expect("store")
        .with_reporter(Reporter::for_config(&config, policies.clone()));
    let store = Arc::new(store);
    let engine = Engine::new(&EngineSettings {
        store: Arc::clone(&store),
        policies,
        config: Arc::clone(&config),
        connect: ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(20),
            pool_size: 2,
        },
        sweep_interval: Duration::from_secs(3600),
        shutdown_deadline: Duration::from_secs(10),
        mailbox: false,
        notifier: false,
        watch_policies: false,
        checks: false,
    });
    // The notifier as `sentri start` runs it, but polling only once a minute: the mail can
    // arrive promptly only if the engine's events wake it.
    let settings = NotifierSettings { poll_interval: Duration::from_secs(60), ..NotifierSettings::default() };
    let notifier = Notifier::new(Arc::clone(&store), &config, settings);
    let shutdown = CancellationToken::new();
    let wakes = tokio::spawn(notifier::wake_on_events(engine.subscribe(), notifier.waker(), shutdown.clone()));
    // Let the first (empty) pass finish so the notifier is asleep when the workflow ends.
    let running = tokio::spawn(notifier.run(shutdown.clone()));
    tokio::time::sleep(Duration::from_millis(300)).await;

    let raw = RawAlert::from_parts(SEQUENCE_ALERT_SUBJECT, SEQUENCE_ALERT_BODY, "2026-11-25T00:00:00.000Z".into());
    let (raw_id, _) = store.insert_raw_alert(&raw).expect("stored");
    engine.ingest(raw_id).await;
    let workflow = store.list_workflows(&WorkflowFilter::default()).expect("list").pop().expect("a workflow");
    assert_eq!(workflow.state, WorkflowState::Completed, "{:?}", store.workflow_transitions(&workflow.id));
    let queued = store.outbox_for_workflow(&workflow.id).expect("outbox");
    assert_eq!(queued.len(), 1, "one notification, at the end: {queued:?}");
    assert_eq!(queued[0].recipient, user);

    let inbox = smtp::wait_for_mail(dovecot, &user, 1, Duration::from_secs(20)).await;
    let mail = &inbox[0];
    let short = &workflow.id[..8];
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some(format!("[SENTRI] COMPLETED: pg_sequence_exhaustion on app [WF:{short}]").as_str())
    );
    assert!(mail.header(SENTRI_HEADER).is_some_and(|v| v.contains(workflow.id.as_str())));
    let text = mail.parsed().body_text(0).expect("text").to_string();
    for part in [
        format!("Sentri workflow {short}: COMPLETED"),
        "database:    app".to_owned(),
        "environment: DEV".to_owned(),
        "alert:       pg_sequence_exhaustion".to_owned(),
        "why:         the fix worked".to_owned(),
        format!("To see more: sentri show {short}"),
    ] {
        assert!(text.contains(&part), "{part:?} missing from:\n{text}");
    }
    assert!(!text.contains("http"), "link-free: {text}");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("the notifier stops").expect("join");
    wakes.await.expect("join");
    let sent = store.outbox_for_workflow(&workflow.id).expect("outbox");
    assert_eq!(sent[0].state(), "sent");
    assert!(store.verify_audit().expect("verify").is_intact());
}
