//! The whole approval round trip over real mail servers, driving the real binary: a PROD alert
//! reaches Sentri's Dovecot inbox; the approval request travels through OpenSMTPD into the
//! approver's Dovecot mailbox; the approver answers through OpenSMTPD from an allowed address,
//! the token kept in the quoted request; the reply reaches Sentri's inbox and the fix runs on a
//! real PostgreSQL. (tests/approval_email.rs drives every attack; this proves the transport.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::smtp::{self, Smtpd};
use common::{dovecot, postgres};
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

fn sentri(home: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
    command
        .env("SENTRI_HOME", home)
        .env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD)
        .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD)
        .env_remove("SENTRI_SMTP_PASSWORD")
        .env_remove("SENTRI_SLACK_WEBHOOK_URL")
        .env_remove("SENTRI_WEBHOOK_URL")
        .env_remove("SENTRI_PAGERDUTY_ROUTING_KEY");
    command
}

fn workflow_state(home: &Path) -> Option<(String, String)> {
    let output = sentri(home).args(["list", "--json"]).output().ok()?;
    let listed: serde_json::Value = serde_json::from_slice(&output.stdout).ok()?;
    let first = listed.get(0)?;
    Some((first["id"].as_str()?.to_owned(), first["status"].as_str()?.to_owned()))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_arrives_by_smtp_and_an_approvers_smtp_reply_runs_the_fix() {
    let dbname = postgres::fresh_database().await;
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let mail = dovecot::shared();
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let inbox = mail.add_user(&format!("sentri-{tag}@localhost"));
    let approver = mail.add_user(&format!("alice-{tag}@localhost"));
    let smtpd = Smtpd::start(mail);

    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
    let config = format!(
        "email:\n  imap_server: 127.0.0.1\n  imap_port: {imap}\n  username: {inbox}\n  use_ssl: false\n  starttls: \
         false\n  smtp_server: 127.0.0.1\n  smtp_port: {smtp}\n  use_tls: false\nmonitoring:\n  scout_poll_interval: \
         5\n  orchestrator_poll_interval: 1\napprovals:\n  email_enabled: true\n  approval_recipients: [{approver}]\n\
         checks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{conn}\"\n    environment: PROD\n    username: postgres\n",
        imap = mail.imap_port,
        smtp = smtpd.port,
        conn = postgres::connection_string(&dbname),
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    let _daemon = Daemon(
        sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("sentri start"),
    );

    let alert = "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: \
                 db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <approval-smtp-1@monitor.example.com>\r\n\r\n\
                 POSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)\r\n";
    mail.append(&inbox, alert.as_bytes()).await;

    // The request arrives in the approver's own mailbox, through OpenSMTPD.
    let deadline = Instant::now() + Duration::from_secs(90);
    let request = loop {
        let received = smtp::inbox(mail, &approver).await;
        if let Some(request) = received
            .into_iter()
            .find(|m| m.header("Subject").is_some_and(|s| s.contains("Approval needed") && s.contains("[WF:")))
        {
            break request;
        }
        assert!(Instant::now() < deadline, "no approval request reached {approver}:\n{}", smtpd.logs());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (workflow_id, state) = workflow_state(home.path()).expect("a workflow");
    assert_eq!(state, "AWAITING_APPROVAL");
    let subject = request.header("Subject").expect("subject");
    assert!(subject.contains(&format!("[WF:{}]", &workflow_id[..8])), "{subject}");
    assert!(request.header("X-Sentri-Message").is_some(), "Sentri marks its own mail");
    let parsed = request.parsed();
    assert!(parsed.body_html(0).is_some(), "an HTML part");
    let text = parsed.body_text(0).expect("a text part").to_string();
    assert!(text.contains("Token: "), "{text}");
    // The live token exists only in the approver's mailbox: neither the outbox (the message
    // was sent from it) nor `sentri show --json` carries it.
    let token = text.lines().find_map(|line| line.strip_prefix("Token: ")).expect("a token line").trim().to_owned();
    assert_eq!(token.len(), 40);
    let output = sentri(home.path()).args(["show", &workflow_id, "--json"]).output().expect("show");
    let shown = String::from_utf8_lossy(&output.stdout);
    assert!(shown.contains("Approval needed"), "show lists the request: {shown}");
    assert!(!shown.contains(&token), "a live token in show --json:\n{shown}");
    let store = sentri::store::Store::open(home.path().join("data/sentri.db")).expect("store");
    for message in store.outbox_for_workflow(&workflow_id).expect("outbox") {
        assert!(!message.body.contains(&token), "a live token in the outbox: {}", message.body);
    }

    // The approver answers from their mail client: APPROVED on top, the request quoted below.
    let quoted: String = text.lines().map(|line| format!("> {line}\n")).collect();
    let reply = Message::builder()
        .from(approver.parse().expect("approver address"))
        .to(inbox.parse().expect("inbox address"))
        .subject(format!("Re: {subject}"))
        .header(ContentType::TEXT_PLAIN)
        .body(format!("APPROVED - extend it now\n\nOn Wed, 25 Nov 2026, Sentri wrote:\n{quoted}"))
        .expect("reply");
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(smtpd.port).build();
    transport.send(reply).await.expect("the reply is accepted by OpenSMTPD");

    // The reply comes back to Sentri's inbox and the fix runs.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let (_, state) = workflow_state(home.path()).expect("a workflow");
        if state == "COMPLETED" {
            break;
        }
        assert!(
            !["DENIED", "FAILED", "ROLLED_BACK", "ESCALATED"].contains(&state.as_str()),
            "the workflow ended {state}"
        );
        assert!(Instant::now() < deadline, "still {state}:\n{}", smtpd.logs());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let data_type: String = postgres::admin(&dbname)
        .await
        .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
        .await
        .expect("sequence")
        .get(0);
    assert_eq!(data_type, "bigint", "the approved fix really ran");
    let output = sentri(home.path()).args(["show", &workflow_id, "--json"]).output().expect("show");
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let decision = shown["audit"]
        .as_array()
        .expect("audit")
        .iter()
        .find(|row| row["action"] == "APPROVAL_DECISION")
        .cloned()
        .expect("the decision is audited");
    assert_eq!(decision["actor"], format!("email:{approver}"));
    assert!(sentri(home.path()).args(["audit", "--verify"]).status().expect("verify").success());
}
