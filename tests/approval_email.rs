//! Email approvals end to end, driving the real binary against a real PostgreSQL, a real
//! Dovecot and a real OpenSMTPD: a PROD alert APPENDed to Sentri's inbox waits for approval; one
//! approval request per approver (subject `[WF:…]`, plan hash, token, text and HTML) travels
//! through OpenSMTPD into that approver's own Dovecot mailbox; replies APPENDed to Sentri's
//! inbox approve it — or, for every attack, leave it waiting with an audit row saying why.
//!
//! The request is read from the approver's mailbox ([`Approver::request`]): the outbox holds no
//! live token, so that is the only place one exists. Replies are APPENDed, so each attack costs
//! no SMTP round trip; tests/approval_smtp.rs proves a reply travelling through OpenSMTPD too.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::Daemon;
use common::smtp::{self, Smtpd};
use common::{dovecot, postgres};
use sentri::pipeline::plan::Plan;
use sentri::store::audit::AuditFilter;
use sentri::store::{AuditRow, RawAlertOutcome, Store};

fn sentri(home: &Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("sentri"));
    command
        .env("SENTRI_HOME", home)
        .env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD)
        .env("SENTRI_EMAIL_PASSWORD", dovecot::PASSWORD)
        .env_remove("SUDO_USER")
        .env_remove("SENTRI_SMTP_PASSWORD");
    command
}

/// One email Sentri queued: what the approver receives.
#[derive(Debug, Clone)]
struct Mailed {
    subject: String,
    text: String,
    html: String,
}

/// A home watching one Dovecot inbox, for one PROD PostgreSQL database `app` with two nearly
/// exhausted sequences, email approvals on, mailing through OpenSMTPD to two approvers with
/// mailboxes of their own (`alice`, `bob`); its daemon running.
struct Running {
    home: tempfile::TempDir,
    dbname: String,
    inbox: String,
    /// The approvers' addresses (each a Dovecot user).
    alice: String,
    bob: String,
    _daemon: Daemon,
    smtpd: Smtpd,
    replies: std::cell::Cell<u32>,
}

impl Running {
    async fn start(approvals: &str) -> Running {
        let dbname = postgres::fresh_database().await;
        postgres::admin(&dbname)
            .await
            .batch_execute(
                "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);
                 CREATE SEQUENCE public.invoices_id_seq AS integer; SELECT setval('public.invoices_id_seq', 2000000000);",
            )
            .await
            .expect("fixtures");
        let mail = dovecot::shared();
        let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
        // An address: it is also the From of what Sentri mails.
        let inbox = mail.add_user(&format!("sentri-{tag}@localhost"));
        let alice = mail.add_user(&format!("alice-{tag}@localhost"));
        let bob = mail.add_user(&format!("bob-{tag}@localhost"));
        let smtpd = Smtpd::start(mail);
        let home = tempfile::tempdir().expect("tempdir");
        assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
        let config = format!(
            "email:\n  imap_server: 127.0.0.1\n  imap_port: {}\n  username: {inbox}\n  use_ssl: false\n  starttls: false\n  smtp_server: 127.0.0.1\n  smtp_port: {}\n  use_tls: false\nmonitoring:\n  scout_poll_interval: 5\n  orchestrator_poll_interval: 1\napprovals:\n  email_enabled: true\n  approval_recipients: [{alice}]\n  approvers: [{alice}, Bob <{bob}>]\n{approvals}checks:\n  enabled: false\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: PROD\n    username: postgres\n",
            mail.imap_port,
            smtpd.port,
            postgres::connection_string(&dbname)
        );
        std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
        let daemon = Daemon(
            sentri(home.path()).arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start"),
        );
        Running { home, dbname, inbox, alice, bob, _daemon: daemon, smtpd, replies: std::cell::Cell::new(0) }
    }

    fn store(&self) -> Store {
        Store::open(self.home.path().join("data/sentri.db")).expect("open the daemon's store")
    }

    /// APPENDs the alert for `sequence` and waits for its workflow to await approval; its id.
    async fn alert(&self, sequence: &str) -> String {
        let email = format!(
            "From: nagios@monitor.example.com\r\nTo: alerts@example.com\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <{}@monitor.example.com>\r\n\r\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.{sequence}=93% (calls left=147483647)\r\n",
            uuid::Uuid::new_v4()
        );
        dovecot::shared().append(&self.inbox, email.as_bytes()).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let store = self.store();
            let found = store
                .list_workflows(&Default::default())
                .expect("list")
                .into_iter()
                .find(|workflow| workflow.fields.values().any(|value| value.contains(sequence)));
            if let Some(workflow) = found {
                let state = workflow.state.as_str();
                assert!(
                    ["DETECTED", "VERIFYING", "VERIFIED", "PRE_FLIGHT", "AWAITING_APPROVAL"].contains(&state),
                    "{sequence}: {state}"
                );
                if state == "AWAITING_APPROVAL" && !store.approval_requests(&workflow.id).expect("requests").is_empty()
                {
                    return workflow.id.into();
                }
            }
            assert!(Instant::now() < deadline, "no approval request for {sequence} within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn state(&self, workflow_id: &str) -> String {
        self.store().get_workflow(workflow_id).expect("workflow").state.as_str().to_owned()
    }

    fn wait_for_state(&self, workflow_id: &str, states: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let state = self.state(workflow_id);
            if states.contains(&state.as_str()) {
                return state;
            }
            assert!(Instant::now() < deadline, "{workflow_id} is {state}, never reached {states:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    async fn sequence_type(&self, sequence: &str) -> String {
        postgres::admin(&self.dbname)
            .await
            .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = $1", &[&sequence])
            .await
            .expect("sequence")
            .get(0)
    }

    /// APPENDs a reply to Sentri's inbox and waits until Sentri has handled it; the audit rows
    /// written about it (a rejection names the stored reply).
    async fn reply(&self, from: &str, subject: &str, body: &str, extra_headers: &str) -> Vec<AuditRow> {
        self.reply_as(from, subject, body, &format!("Content-Type: text/plain; charset=utf-8\r\n{extra_headers}")).await
    }

    /// Like [`Running::reply`], with the body's own content headers.
    async fn reply_as(&self, from: &str, subject: &str, body: &str, content_headers: &str) -> Vec<AuditRow> {
        self.replies.set(self.replies.get() + 1);
        let message_id = format!("<reply-{}-{}@mail.example.com>", self.replies.get(), uuid::Uuid::new_v4().simple());
        let email = format!(
            "From: {from}\r\nTo: {}\r\nSubject: Re: {subject}\r\nMessage-ID: {message_id}\r\nDate: Wed, 25 Nov 2026 03:05:00 +0000\r\n{content_headers}\r\n{body}",
            self.inbox
        );
        dovecot::shared().append(&self.inbox, email.as_bytes()).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        let stored = loop {
            let store = self.store();
            let found = store
                .list_raw_alerts(false, None)
                .expect("alerts")
                .into_iter()
                .find(|raw| raw.message_id == message_id && raw.outcome.is_some());
            if let Some(raw) = found {
                assert!(
                    matches!(raw.outcome, Some(RawAlertOutcome::ApprovalReply { .. })),
                    "a reply is kept as an approval reply, never triaged: {:?}",
                    raw.outcome
                );
                break raw;
            }
            assert!(Instant::now() < deadline, "reply {message_id} not handled within 60 s");
            std::thread::sleep(Duration::from_millis(200));
        };
        self.store()
            .list_audit(&AuditFilter::default())
            .expect("audit")
            .into_iter()
            .filter(|row| row.detail["raw_alert_id"] == stored.id)
            .collect()
    }

    /// Replies and asserts it was rejected by `rule`, audited, and the workflow still waits.
    async fn attack(&self, workflow_id: &str, rule: &str, from: &str, subject: &str, body: &str, headers: &str) {
        let rows = self.reply(from, subject, body, headers).await;
        let rejected: Vec<&AuditRow> = rows.iter().filter(|row| row.action == "APPROVAL_REPLY_REJECTED").collect();
        assert_eq!(rejected.len(), 1, "{rule}: one rejection audited: {rows:#?}");
        assert_eq!(rejected[0].result, rule, "{rejected:#?}");
        assert_eq!(self.state(workflow_id), "AWAITING_APPROVAL", "{rule}: the workflow still waits");
        assert!(self.store().approvals(workflow_id).expect("approvals").is_empty(), "{rule}: nothing recorded");
    }

    /// Alice's side: her mailbox.
    fn approver(&self) -> Approver<'_> {
        Approver { running: self, address: self.alice.clone() }
    }

    /// Bob's side: his mailbox.
    fn other_approver(&self) -> Approver<'_> {
        Approver { running: self, address: self.bob.clone() }
    }

    /// A workflow's outbox rows and `sentri show --json`: what a reader of the store or of the
    /// CLI sees.
    fn stored_and_shown(&self, workflow_id: &str) -> String {
        let outbox: Vec<String> =
            self.store().outbox_for_workflow(workflow_id).expect("outbox").into_iter().map(|m| m.body).collect();
        let shown = sentri(self.home.path()).args(["show", workflow_id, "--json"]).output().expect("show");
        assert!(shown.status.success(), "{}", String::from_utf8_lossy(&shown.stderr));
        format!("{}\n{}", outbox.join("\n"), String::from_utf8_lossy(&shown.stdout))
    }
}

/// One approver's side: reads the approval requests that reached their own mailbox.
struct Approver<'a> {
    running: &'a Running,
    address: String,
}

impl Approver<'_> {
    /// Every approval request for `workflow_id` in this approver's mailbox, oldest first.
    async fn requests(&self, workflow_id: &str) -> Vec<Mailed> {
        let tag = format!("[WF:{}]", &workflow_id[..8]);
        smtp::inbox(dovecot::shared(), &self.address)
            .await
            .into_iter()
            .filter(|m| m.header("Subject").is_some_and(|s| s.contains("Approval needed") && s.contains(&tag)))
            .map(|m| {
                let parsed = m.parsed();
                Mailed {
                    subject: m.header("Subject").expect("subject"),
                    text: parsed.body_text(0).expect("a text part").to_string(),
                    html: parsed.body_html(0).expect("an HTML part").to_string(),
                }
            })
            .collect()
    }

    /// The newest approval request for `workflow_id`, as the approver receives it (waiting for
    /// the first to arrive through OpenSMTPD).
    async fn request(&self, workflow_id: &str) -> Mailed {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(newest) = self.requests(workflow_id).await.pop() {
                return newest;
            }
            assert!(
                Instant::now() < deadline,
                "no approval request reached {}:\n{}",
                self.address,
                self.running.smtpd.logs()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// A Gmail-shaped reply: `first` on top, then the attribution and the whole request quoted.
fn gmail_reply(first: &str, request: &Mailed) -> String {
    let quoted: String = request.text.lines().map(|line| format!("> {line}\r\n")).collect();
    format!("{first}\r\n\r\nOn Wed, 25 Nov 2026 at 03:01, Sentri <sentri@example.com> wrote:\r\n{quoted}")
}

/// An HTML-only reply body in the shape `client` writes (tests/data/replies/), the request's
/// HTML quoted in it, encoded quoted-printable as the clients send it.
fn html_reply(client: &str, request: &Mailed) -> String {
    let sample = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/replies/{client}.html")),
    )
    .expect("a sample reply");
    let body_start = request.html.find("<body").and_then(|at| request.html[at..].find('>').map(|end| at + end + 1));
    let body_end = request.html.rfind("</body>");
    let quoted = &request.html[body_start.expect("<body>")..body_end.expect("</body>")];
    let subject = request.subject.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let html =
        sample.replace("{{request}}", quoted).replace("{{token}}", &token_of(request)).replace("{{subject}}", &subject);
    quoted_printable(&html)
}

/// Quoted-printable (RFC 2045): `=` and bytes outside printable ASCII as `=XX`, lines kept
/// under 76 characters with soft breaks, so a word may be split across lines as clients do.
fn quoted_printable(text: &str) -> String {
    let mut out = String::new();
    for line in text.split('\n') {
        let mut width = 0;
        for byte in line.trim_end_matches('\r').bytes() {
            let piece = match byte {
                b'=' => "=3D".to_owned(),
                b' ' | b'\t' | 33..=126 => (byte as char).to_string(),
                _ => format!("={byte:02X}"),
            };
            if width + piece.len() > 75 {
                out.push_str("=\r\n");
                width = 0;
            }
            width += piece.len();
            out.push_str(&piece);
        }
        out.push_str("\r\n");
    }
    out
}

fn token_of(request: &Mailed) -> String {
    request.text.lines().find_map(|line| line.strip_prefix("Token: ")).expect("a token line").trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approvers_reply_runs_the_fix_and_every_attack_is_refused() {
    let running = Running::start("").await;
    let orders = running.alert("orders_id_seq").await;
    let invoices = running.alert("invoices_id_seq").await;
    let store = running.store();
    let workflow = store.get_workflow(&orders).expect("workflow");
    let plan_hash = workflow.plan_hash.clone().expect("plan hash");

    let request = running.approver().request(&orders).await;
    assert!(request.subject.contains(&format!("[WF:{}]", &orders[..8])), "{}", request.subject);
    assert!(request.subject.contains("pg_sequence_exhaustion") && request.subject.contains("PROD"));
    for needed in [
        plan_hash.as_str(),
        "Reply to this email with APPROVED or DENIED on the first line",
        "ALTER SEQUENCE",
        "SAFETY MESH",
        "NEEDS_APPROVAL",
        "LIVE EVIDENCE",
        "POSTGRES_SEQUENCE",
    ] {
        assert!(request.text.contains(needed), "the request shows {needed:?}:\n{}", request.text);
    }
    let token = token_of(&request);
    assert_eq!(token.len(), 40);
    assert!(request.html.contains(&token) && request.html.contains(plan_hash.as_str()));
    // One request per approver, each token bound to its address; only hashes are stored, and
    // neither the outbox nor `sentri show --json` carries the live token.
    let requests = store.approval_requests(&orders).expect("requests");
    let recipients: Vec<&str> = requests.iter().map(|r| r.recipient.as_str()).collect();
    assert_eq!(recipients, [running.alice.as_str(), running.bob.as_str()]);
    assert_eq!(requests[0].token_hash.as_deref(), Some(sentri::domain::token::hash(&token).as_str()));
    let bobs_request = running.other_approver().request(&orders).await;
    let bobs_token = token_of(&bobs_request);
    assert_ne!(bobs_token, token);
    let local_view = running.stored_and_shown(&orders);
    for live in [&token, &bobs_token] {
        assert!(!local_view.contains(live.as_str()), "a live token in the outbox or show --json:\n{local_view}");
    }
    let other_request = running.approver().request(&invoices).await;

    let alice = &format!("Alice Example <{}>", running.alice);
    let subject = request.subject.as_str();
    let approved = gmail_reply("APPROVED", &request);
    let without_token: String =
        approved.lines().filter(|line| !line.contains("Token:")).map(|line| format!("{line}\r\n")).collect();
    let with_other_token = gmail_reply("APPROVED", &other_request);
    running.attack(&orders, "SENDER_NOT_APPROVER", "Mallory <mallory@evil.test>", subject, &approved, "").await;
    running.attack(&orders, "TOKEN_MISSING", alice, subject, &without_token, "").await;
    running.attack(&orders, "TOKEN_OTHER_WORKFLOW", alice, subject, &with_other_token, "").await;
    running.attack(&orders, "NO_DECISION_LINE", alice, subject, &gmail_reply("NOT APPROVED", &request), "").await;
    let quoted_only = format!("Looks odd to me.\r\n\r\n> APPROVED\r\n{}", gmail_reply("", &request));
    running.attack(&orders, "NO_DECISION_LINE", alice, subject, &quoted_only, "").await;
    running.attack(&orders, "NO_DECISION_LINE", alice, subject, &gmail_reply("", &request), "").await;
    let out_of_office = "Auto-Submitted: auto-replied\r\nX-Autoreply: yes\r\n";
    running.attack(&orders, "AUTO_REPLY", alice, subject, &approved, out_of_office).await;
    // Bob's mailbox answering with alice's token, and alice's with bob's.
    let bob = &format!("Bob <{}>", running.bob);
    running.attack(&orders, "TOKEN_NOT_FOR_SENDER", bob, subject, &approved, "").await;
    running.attack(&orders, "TOKEN_NOT_FOR_SENDER", alice, subject, &gmail_reply("APPROVED", &bobs_request), "").await;
    // The receiving server says alice's address did not send it.
    let failed_dmarc = "Authentication-Results: mx.localhost;\r\n dkim=none;\r\n spf=fail smtp.mailfrom=evil.test;\r\n dmarc=fail (p=reject) header.from=localhost\r\n";
    running.attack(&orders, "REPLY_NOT_AUTHENTICATED", alice, subject, &approved, failed_dmarc).await;
    let reason = running.store().list_audit(&AuditFilter::default()).expect("audit").pop().expect("a row");
    assert!(reason.detail["why"].as_str().unwrap_or_default().contains("dmarc=fail"), "{reason:#?}");
    assert_eq!(running.sequence_type("orders_id_seq").await, "integer", "nothing ran");

    // The genuine reply: an approver, the token, APPROVED on the first line of their own.
    let passed =
        "Authentication-Results: mx.localhost; dkim=pass header.d=localhost; dmarc=pass header.from=localhost\r\n";
    let rows = running.reply(alice, subject, &gmail_reply("Approved, go ahead", &request), passed).await;
    assert!(rows.iter().all(|row| row.action != "APPROVAL_REPLY_REJECTED"), "{rows:#?}");
    let done = running.wait_for_state(&orders, &["COMPLETED", "ESCALATED", "FAILED", "ROLLED_BACK"]);
    assert_eq!(done, "COMPLETED");
    assert_eq!(running.sequence_type("orders_id_seq").await, "bigint", "the database really changed");
    let approvals = store.approvals(&orders).expect("approvals");
    assert_eq!(approvals.len(), 1);
    assert_eq!(
        (approvals[0].approver.as_str(), approvals[0].channel.as_str(), approvals[0].reason.as_str()),
        (running.alice.as_str(), "email", "go ahead")
    );
    assert!(store.approval_requests(&orders).expect("requests")[0].used_at.is_some());
    // Bob's request was never answered: his token is unused, and it was never needed.
    assert!(store.approval_requests(&orders).expect("requests")[1].used_at.is_none());

    // The same token again, on a workflow that is no longer waiting, counts for nothing.
    let rows = running.reply(alice, subject, &approved, "").await;
    assert!(rows.iter().any(|row| row.result == "NOT_AWAITING_APPROVAL"), "{rows:#?}");

    // The plan of the other workflow changes after its request went out: the old token is void.
    let current = store.get_workflow(&invoices).expect("workflow");
    let mut plan: Plan = current.plan.clone().expect("a plan");
    plan.rationale.push_str(" (edited)");
    store.set_plan(&invoices, &plan, "cli:test").expect("set plan");
    running
        .attack(&invoices, "PLAN_CHANGED", alice, &other_request.subject, &gmail_reply("APPROVED", &other_request), "")
        .await;
    // …and the engine mails a request for the new plan.
    let deadline = Instant::now() + Duration::from_secs(30);
    while running.approver().request(&invoices).await.text == other_request.text {
        assert!(Instant::now() < deadline, "no request for the changed plan");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(running.approver().request(&invoices).await.text.contains(&plan.hash()));
    assert_eq!(running.sequence_type("invoices_id_seq").await, "integer");

    let alerts = sentri(running.home.path()).args(["alerts", "--json"]).output().expect("alerts");
    let alerts: serde_json::Value = serde_json::from_slice(&alerts.stdout).expect("json");
    let replies = alerts.as_array().into_iter().flatten().filter(|a| a["outcome"] == "approval_reply").count();
    assert_eq!(replies, 13, "every reply is listed as an approval reply: {alerts}");
    assert_eq!(store.list_workflows(&Default::default()).expect("list").len(), 2, "no reply opened a workflow");
    let verify = sentri(running.home.path()).args(["audit", "--verify"]).output().expect("verify");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reply_after_the_timeout_is_refused_and_the_workflow_escalates() {
    let running = Running::start("  approval_timeout: 5\n").await;
    let orders = running.alert("orders_id_seq").await;
    let request = running.approver().request(&orders).await;
    assert_eq!(running.wait_for_state(&orders, &["ESCALATED"]), "ESCALATED");
    let history: Vec<String> = running
        .store()
        .workflow_transitions(&orders)
        .expect("history")
        .iter()
        .map(|t| t.to.as_str().to_owned())
        .collect();
    assert!(history.ends_with(&["TIMEOUT".to_owned(), "ESCALATED".to_owned()]), "{history:?}");
    let rows = running.reply(&running.alice, &request.subject, &gmail_reply("APPROVED", &request), "").await;
    let rejected: Vec<&AuditRow> = rows.iter().filter(|row| row.action == "APPROVAL_REPLY_REJECTED").collect();
    assert_eq!(rejected.len(), 1, "{rows:#?}");
    assert_eq!(rejected[0].result, "NOT_AWAITING_APPROVAL");
    assert_eq!(running.state(&orders), "ESCALATED");
    assert_eq!(running.sequence_type("orders_id_seq").await, "integer", "nothing ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn four_eyes_needs_two_distinct_approvers_and_refuses_the_requester() {
    let running = Running::start("  required_approvals: 2\n  forbid_self_approval: true\n").await;
    // "carol" replays the alert: whoever runs it asked for this change.
    let folder = running.home.path().join("replay");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::write(
        folder.join("alert.eml"),
        "From: nagios@monitor.example.com\r\nSubject: ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\nMessage-ID: <replayed-1@monitor.example.com>\r\n\r\nPOSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)\r\n",
    )
    .expect("eml");
    let replay = sentri(running.home.path()).arg("replay").arg(&folder).env("USER", "carol").output().expect("replay");
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    let orders = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let store = running.store();
            let waiting = store.list_workflows(&Default::default()).expect("list").into_iter().find(|w| {
                w.state.as_str() == "AWAITING_APPROVAL" && !store.approval_requests(&w.id).expect("r").is_empty()
            });
            if let Some(workflow) = waiting {
                break workflow.id;
            }
            assert!(Instant::now() < deadline, "the replayed alert never awaited approval");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    // The requester is the OS account that ran the replay, whatever `$USER` said.
    let account = String::from_utf8(Command::new("id").arg("-un").output().expect("id").stdout).expect("utf-8");
    assert_eq!(running.store().requesters(&orders).expect("requesters"), [account.trim()]);

    let self_approval =
        sentri(running.home.path()).args(["approve", &orders[..8]]).env("USER", "dave").output().expect("approve");
    assert!(!self_approval.status.success());
    let stderr = String::from_utf8_lossy(&self_approval.stderr);
    assert!(stderr.contains("requested this change"), "{stderr}");
    let refused = running.store().list_audit(&AuditFilter::default()).expect("audit").pop().expect("a row");
    assert_eq!((refused.action.as_str(), refused.result.as_str()), ("APPROVAL_REFUSED", "SELF_APPROVAL"));
    assert_eq!(running.state(&orders), "AWAITING_APPROVAL");

    let request = running.approver().request(&orders).await;
    assert!(request.text.contains("needs 2 distinct approvers"), "{}", request.text);
    let alice = running.alice.as_str();
    let rows = running.reply(alice, &request.subject, &gmail_reply("APPROVED", &request), "").await;
    assert!(rows.iter().all(|row| row.action != "APPROVAL_REPLY_REJECTED"), "{rows:#?}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(running.state(&orders), "AWAITING_APPROVAL", "one approval of two leaves it waiting");
    assert_eq!(running.sequence_type("orders_id_seq").await, "integer");

    // The attack: alice's mailbox answers a second round under bob's name. There is no second
    // round for her mailbox — no fresh request reached it — and her spent token does not count
    // again, whatever name it is sent under.
    assert_eq!(running.approver().requests(&orders).await.len(), 1, "no fresh token was mailed to alice");
    let as_bob = format!("Bob <{}>", running.bob);
    let rows = running.reply(&as_bob, &request.subject, &gmail_reply("APPROVED", &request), "").await;
    assert!(rows.iter().any(|row| row.result == "TOKEN_USED"), "{rows:#?}");
    let rows = running.reply(alice, &request.subject, &gmail_reply("APPROVED again", &request), "").await;
    assert!(rows.iter().any(|row| row.result == "TOKEN_USED"), "the same approver twice: {rows:#?}");
    assert_eq!(running.state(&orders), "AWAITING_APPROVAL");

    // Bob answers the request that reached his own mailbox.
    let bobs = running.other_approver().request(&orders).await;
    assert_ne!(token_of(&bobs), token_of(&request));
    let rows = running.reply(&as_bob, &bobs.subject, &gmail_reply("APPROVED", &bobs), "").await;
    assert!(rows.iter().all(|row| row.action != "APPROVAL_REPLY_REJECTED"), "{rows:#?}");
    assert_eq!(running.wait_for_state(&orders, &["COMPLETED", "ESCALATED", "FAILED", "ROLLED_BACK"]), "COMPLETED");
    assert_eq!(running.sequence_type("orders_id_seq").await, "bigint");
    let approvers: Vec<String> =
        running.store().approvals(&orders).expect("approvals").into_iter().map(|a| a.approver).collect();
    assert_eq!(approvers, [running.alice.clone(), running.bob.clone()]);
}

#[test]
fn a_replayed_approval_reply_is_judged_as_one_and_never_opens_a_workflow() {
    let home = tempfile::tempdir().expect("tempdir");
    assert!(sentri(home.path()).arg("init").stdout(Stdio::null()).status().expect("init").success());
    let config = "approvals:\n  email_enabled: true\n  approval_recipients: [dba-team@example.com]\n  approvers: [alice@example.com]\n";
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    let folder = home.path().join("replay");
    std::fs::create_dir_all(&folder).expect("folder");
    // The reply quotes the alert it is about: triaged as an alert, it would match a policy.
    std::fs::write(
        folder.join("reply.eml"),
        "From: alice@example.com\r\nSubject: Re: [Sentri] Approval needed [WF:0123abcd] pg_sequence_exhaustion on app (PROD)\r\nMessage-ID: <replayed-reply@example.com>\r\n\r\nAPPROVED\r\n\r\nOn Wed, 25 Nov 2026 at 03:01, Sentri <sentri@example.com> wrote:\r\n> ** PROBLEM Service Alert: db1/POSTGRES_SEQUENCE is CRITICAL **\r\n> POSTGRES_SEQUENCE CRITICAL: DB \"app\" public.orders_id_seq=93% (calls left=147483647)\r\n",
    )
    .expect("eml");
    let replay = sentri(home.path()).arg("replay").arg(&folder).output().expect("replay");
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{}", String::from_utf8_lossy(&replay.stderr));
    assert!(stdout.contains("approval reply rejected: the reply names no existing workflow"), "{stdout}");
    let store = Store::open(home.path().join("data/sentri.db")).expect("store");
    assert!(store.list_workflows(&Default::default()).expect("list").is_empty(), "no workflow opened");
    let alerts = store.list_raw_alerts(false, None).expect("alerts");
    assert!(matches!(alerts[0].outcome, Some(RawAlertOutcome::ApprovalReply { workflow_id: None })));
    let rejected = store.list_audit(&AuditFilter::default()).expect("audit").pop().expect("row");
    assert_eq!((rejected.action.as_str(), rejected.result.as_str()), ("APPROVAL_REPLY_REJECTED", "NO_WORKFLOW"));
}

#[tokio::test(flavor = "multi_thread")]
async fn html_only_replies_from_outlook_gmail_and_apple_mail_run_the_fix() {
    let running = Running::start("").await;
    postgres::admin(&running.dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.payments_id_seq AS integer; SELECT setval('public.payments_id_seq', 2000000000);",
        )
        .await
        .expect("a third sequence");
    let html_part = "MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
    for (client, sequence) in
        [("outlook", "orders_id_seq"), ("gmail", "invoices_id_seq"), ("apple_mail", "payments_id_seq")]
    {
        let workflow = running.alert(sequence).await;
        let request = running.approver().request(&workflow).await;
        let rows = running
            .reply_as(&format!("Alice <{}>", running.alice), &request.subject, &html_reply(client, &request), html_part)
            .await;
        assert!(rows.iter().all(|row| row.action != "APPROVAL_REPLY_REJECTED"), "{client}: {rows:#?}");
        let done = running.wait_for_state(&workflow, &["COMPLETED", "ESCALATED", "FAILED", "ROLLED_BACK"]);
        assert_eq!(done, "COMPLETED", "{client}");
        assert_eq!(running.sequence_type(sequence).await, "bigint", "{client}: the database really changed");
        let approvals = running.store().approvals(&workflow).expect("approvals");
        assert_eq!(approvals[0].approver, running.alice, "{client}");
    }
}
