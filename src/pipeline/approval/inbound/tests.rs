//! Replies as they arrive (whole RFC 5322 messages), through the store: the accepted reply and
//! every attack, each rejected, audited and kept marked as an approval reply.

use std::time::Duration;

use super::*;
use crate::domain::WorkflowState::{self, *};
use crate::intake::RawAlert;
use crate::notify::EmailContent;
use crate::store::AuditFilter;
use crate::store::testing::{self, TestClock};
use crate::store::workflows::tests::new_workflow;

fn config(required: u32) -> ApprovalsConfig {
    ApprovalsConfig {
        email_enabled: true,
        approval_recipients: vec!["dba@example.com".into()],
        approvers: vec!["alice@example.com".into(), "Bob <bob@example.com>".into()],
        required_approvals: required,
        approval_timeout: Duration::from_secs(3600),
        ..ApprovalsConfig::default()
    }
}

/// A workflow awaiting approval with its request queued; returns it and the mailed token.
fn requested(store: &Store, config: &ApprovalsConfig) -> (WorkflowRow, String) {
    let (workflow, request) = requested_mail(store, config);
    (workflow, token::find_tokens(&request.text).pop().unwrap())
}

/// A workflow awaiting approval with its request queued; returns it and the mailed request.
fn requested_mail(store: &Store, config: &ApprovalsConfig) -> (WorkflowRow, EmailContent) {
    let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
    store.set_plan(&row.id, &crate::domain::testing::plan_with_steps(&["a"]), "engine").unwrap();
    for (from, to) in
        [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight), (PreFlight, AwaitingApproval)]
    {
        store.transition(&row.id, from, to, "engine", "").unwrap();
    }
    // One request per approver address.
    assert_eq!(super::super::request::ensure_requested(store, config, &row.id).unwrap(), 2);
    (store.get_workflow(&row.id).unwrap(), mail_for(store, &row.id, "alice@example.com"))
}

/// The token in the newest request to `recipient`, as the notifier sends it.
fn token_for(store: &Store, workflow_id: &str, recipient: &str) -> String {
    token::find_tokens(&mail_for(store, workflow_id, recipient).text).pop().unwrap()
}

/// The newest request to `recipient` as the notifier sends it (its token minted and bound now,
/// by the same function the notifier calls): the outbox itself holds none.
fn mail_for(store: &Store, workflow_id: &str, recipient: &str) -> EmailContent {
    let messages = store.outbox_for_workflow(workflow_id).unwrap();
    let message = messages.iter().rev().find(|m| m.recipient == recipient).unwrap();
    assert!(token::find_tokens(&message.body).is_empty(), "no live token in the outbox: {}", message.body);
    let sent = crate::notify::approval_token::fill(store, message).unwrap();
    serde_json::from_str(&sent.body).unwrap()
}

/// A Gmail-shaped reply: `first` above the attribution, the request quoted below with its token.
fn reply(from: &str, workflow: &WorkflowRow, first: &str, token: Option<&str>, extra_headers: &str) -> String {
    let token_line = token.map(|t| format!("> Token: {t}\r\n")).unwrap_or_default();
    format!(
        "From: {from}\r\nTo: sentri@example.com\r\nSubject: Re: [Sentri] Approval needed [WF:{}] tablespace_full on PRODDB (PROD)\r\nMessage-ID: <{}@mail.example.com>\r\n{extra_headers}\r\n{first}\r\n\r\nOn Wed, Nov 25, 2026 at 1:02 AM Sentri <sentri@example.com> wrote:\r\n> Sentri needs an approval for workflow {}.\r\n> {}\r\n{token_line}",
        workflow.short_id(),
        uuid::Uuid::new_v4(),
        workflow.short_id(),
        super::super::message::HOW_TO_REPLY,
    )
}

fn handle(store: &Store, config: &ApprovalsConfig, message: &str) -> Option<ReplyHandled> {
    let raw = RawAlert::from_rfc822(message.as_bytes(), "2026-11-25T01:10:00Z".into());
    let (id, _) = store.insert_raw_alert(&raw).unwrap();
    let handled = handle_reply(store, config, id).unwrap();
    if handled.is_some() {
        let stored = store.get_raw_alert(id).unwrap();
        assert!(
            matches!(stored.outcome, Some(RawAlertOutcome::ApprovalReply { .. })),
            "a reply is marked as one: {:?}",
            stored.outcome
        );
    }
    handled
}

/// Asserts the reply was rejected by `code`, audited, and the workflow still waits.
fn assert_rejected(store: &Store, workflow: &WorkflowRow, handled: Option<ReplyHandled>, code: &str) {
    let handled = handled.expect("recognised as a reply");
    match &handled.outcome {
        DecisionOutcome::Refused { rule } => assert_eq!(rule.code(), code, "{rule}"),
        other => panic!("expected {code}, got {other:?}"),
    }
    let last = store.list_audit(&AuditFilter::default()).unwrap().pop().unwrap();
    assert_eq!(last.action, super::super::APPROVAL_REPLY_REJECTED);
    assert_eq!(last.result, code);
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, WorkflowState::AwaitingApproval);
    assert!(store.approvals(&workflow.id).unwrap().is_empty(), "nothing recorded");
}

#[test]
fn an_approvers_reply_with_the_token_approves() {
    let (store, _) = testing::store();
    let config = config(1);
    let (workflow, token) = requested(&store, &config);
    let handled =
        handle(&store, &config, &reply("Alice <ALICE@example.com>", &workflow, "Approved - go", Some(&token), ""));
    let handled = handled.unwrap();
    assert_eq!(handled.outcome, DecisionOutcome::Decided { state: Approved });
    assert_eq!(handled.workflow_id.as_deref(), Some(workflow.id.as_str()));
    let approval = &store.approvals(&workflow.id).unwrap()[0];
    assert_eq!(
        (approval.approver.as_str(), approval.channel.as_str(), approval.reason.as_str()),
        ("alice@example.com", "email", "go")
    );
    assert!(store.approval_requests(&workflow.id).unwrap()[0].used_at.is_some());
}

#[test]
fn a_denial_by_reply_denies_with_its_reason() {
    let (store, _) = testing::store();
    let config = config(1);
    let (workflow, _) = requested(&store, &config);
    let token = token_for(&store, &workflow.id, "bob@example.com");
    let handled = handle(&store, &config, &reply("bob@example.com", &workflow, "DENIED month-end", Some(&token), ""));
    assert_eq!(handled.unwrap().outcome, DecisionOutcome::Decided { state: Denied });
    assert_eq!(store.approvals(&workflow.id).unwrap()[0].reason, "month-end");
}

#[test]
fn a_message_that_is_not_a_reply_is_left_to_triage() {
    let (store, _) = testing::store();
    let message =
        "From: oem@example.com\r\nSubject: EM Event: Critical:PRODDB - Tablespace USERS is 97% full\r\n\r\nbody\r\n";
    assert_eq!(handle(&store, &config(1), message), None);
}

#[test]
fn attacks_are_rejected_audited_and_leave_the_workflow_waiting() {
    let (store, _) = testing::store();
    let config = config(1);
    let (workflow, token) = requested(&store, &config);
    let (other, other_token) = requested(&store, &config);
    let alice = "Alice <alice@example.com>";
    let cases: Vec<(&str, String)> = vec![
        ("SENDER_NOT_APPROVER", reply("Mallory <mallory@evil.test>", &workflow, "APPROVED", Some(&token), "")),
        (
            "SENDER_NOT_APPROVER",
            reply("\"alice@example.com\" <mallory@evil.test>", &workflow, "APPROVED", Some(&token), ""),
        ),
        ("SENDER_NOT_APPROVER", reply("alice@example.com.evil.test", &workflow, "APPROVED", Some(&token), "")),
        ("SENDER_NOT_APPROVER", reply("alice@example.com, mallory@evil.test", &workflow, "APPROVED", Some(&token), "")),
        (
            "SENDER_NOT_APPROVER",
            reply("mallory@evil.test", &workflow, "APPROVED", Some(&token), "From: alice@example.com\r\n"),
        ),
        ("TOKEN_MISSING", reply(alice, &workflow, "APPROVED", None, "")),
        ("TOKEN_UNKNOWN", reply(alice, &workflow, "APPROVED", Some(&"0".repeat(40)), "")),
        ("TOKEN_OTHER_WORKFLOW", reply(alice, &workflow, "APPROVED", Some(&other_token), "")),
        ("NO_DECISION_LINE", reply(alice, &workflow, "NOT APPROVED", Some(&token), "")),
        ("NO_DECISION_LINE", reply(alice, &workflow, "approved?", Some(&token), "")),
        ("NO_DECISION_LINE", reply(alice, &workflow, "> APPROVED", Some(&token), "")),
        ("NO_DECISION_LINE", reply(alice, &workflow, "", Some(&token), "")),
        ("AUTO_REPLY", reply(alice, &workflow, "APPROVED", Some(&token), "Auto-Submitted: auto-replied\r\n")),
        ("AUTO_REPLY", reply(alice, &workflow, "APPROVED", Some(&token), "X-Autoreply: yes\r\n")),
        ("AUTO_REPLY", reply(alice, &workflow, "APPROVED", Some(&token), "Precedence: bulk\r\n")),
        // Alice's token, answered by the other approver's mailbox.
        ("TOKEN_NOT_FOR_SENDER", reply("bob@example.com", &workflow, "APPROVED", Some(&token), "")),
        (
            "REPLY_NOT_AUTHENTICATED",
            reply(
                alice,
                &workflow,
                "APPROVED",
                Some(&token),
                "Authentication-Results: mx.example.com;\r\n dkim=none;\r\n spf=softfail smtp.mailfrom=evil.test;\r\n dmarc=fail (p=none) header.from=example.com\r\n",
            ),
        ),
        (
            "REPLY_NOT_AUTHENTICATED",
            reply(
                alice,
                &workflow,
                "APPROVED",
                Some(&token),
                "Authentication-Results: mx.example.com; dkim=fail header.d=example.com\r\n",
            ),
        ),
    ];
    for (code, message) in cases {
        assert_rejected(&store, &workflow, handle(&store, &config, &message), code);
    }
    // Sentri's own mail (a request or notification that came back) is no reply at all: triage
    // keeps it and marks it ignored, so a notification loop writes no rejection rows.
    let own = reply(alice, &workflow, "APPROVED", Some(&token), "X-Sentri-Message: approval-request\r\n");
    assert!(handle(&store, &config, &own).is_none(), "own mail is not judged as a reply");
    assert_eq!(store.get_workflow(&other.id).unwrap().state, AwaitingApproval);
    // After all that, the genuine reply still works: no attack spent the token.
    let handled = handle(&store, &config, &reply(alice, &workflow, "APPROVED", Some(&token), "")).unwrap();
    assert_eq!(handled.outcome, DecisionOutcome::Decided { state: Approved });
    assert!(store.verify_audit().unwrap().is_intact());
}

#[test]
fn a_reply_naming_no_workflow_is_rejected_and_never_triaged() {
    let (store, _) = testing::store();
    let message = "From: alice@example.com\r\nSubject: Re: [WF:00000000] something\r\n\r\nAPPROVED\r\n";
    let handled = handle(&store, &config(1), message).unwrap();
    assert_eq!(handled.outcome, DecisionOutcome::Refused { rule: Rule::NoWorkflow });
    assert_eq!(handled.workflow_id, None);
}

#[test]
fn a_reply_after_the_plan_changed_is_rejected() {
    let (store, _) = testing::store();
    let config = config(1);
    let (workflow, token) = requested(&store, &config);
    store.set_plan(&workflow.id, &crate::domain::testing::plan_with_steps(&["b"]), "cli:bob").unwrap();
    let handled = handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&token), ""));
    assert_rejected(&store, &workflow, handled, "PLAN_CHANGED");
}

#[test]
fn a_reply_after_the_timeout_is_rejected() {
    let clock = TestClock::new();
    let store = clock.store();
    let config = config(1);
    let (workflow, token) = requested(&store, &config);
    clock.advance_ms(3_600_001);
    let handled = handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&token), ""));
    assert_rejected(&store, &workflow, handled, "TIMED_OUT");
    store.transition(&workflow.id, AwaitingApproval, Timeout, "engine", "").unwrap();
    let handled = handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&token), ""));
    let rule = match handled.unwrap().outcome {
        DecisionOutcome::Refused { rule } => rule,
        other => panic!("{other:?}"),
    };
    assert_eq!(rule, Rule::NotAwaiting { state: Timeout });
}

#[test]
fn email_approvals_off_rejects_every_reply() {
    let (store, _) = testing::store();
    let on = config(1);
    let (workflow, token) = requested(&store, &on);
    let off = ApprovalsConfig { email_enabled: false, ..on };
    let handled = handle(&store, &off, &reply("alice@example.com", &workflow, "APPROVED", Some(&token), ""));
    assert_rejected(&store, &workflow, handled, "EMAIL_APPROVALS_OFF");
}

#[test]
fn four_eyes_by_email_needs_two_approver_addresses_each_with_its_own_token() {
    let (store, _) = testing::store();
    let config = config(2);
    let (workflow, alice_token) = requested(&store, &config);
    let first =
        handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&alice_token), "")).unwrap();
    assert_eq!(first.outcome, DecisionOutcome::Recorded { approvals: 1, required: 2 });
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    // The attack: alice's mailbox gets nothing more to answer with — no fresh request comes
    // back to her address, and the sweep does not send one either.
    let to_alice = |store: &Store| {
        store.outbox_for_workflow(&workflow.id).unwrap().iter().filter(|m| m.recipient == "alice@example.com").count()
    };
    assert_eq!(to_alice(&store), 1);
    assert_eq!(super::super::request::ensure_requested(&store, &config, &workflow.id).unwrap(), 0);
    assert_eq!(to_alice(&store), 1);
    // Alice again with her spent token, under bob's name or her own: refused.
    let as_bob =
        handle(&store, &config, &reply("Bob <bob@example.com>", &workflow, "APPROVED", Some(&alice_token), ""))
            .unwrap();
    assert_eq!(as_bob.outcome, DecisionOutcome::Refused { rule: Rule::TokenUsed });
    let again =
        handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&alice_token), "")).unwrap();
    assert_eq!(again.outcome, DecisionOutcome::Refused { rule: Rule::TokenUsed });
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    // Bob's own token works only from bob's address.
    let bob_token = token_for(&store, &workflow.id, "bob@example.com");
    let stolen =
        handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&bob_token), "")).unwrap();
    assert_eq!(
        stolen.outcome,
        DecisionOutcome::Refused { rule: Rule::TokenNotForSender { bound_to: "bob@example.com".into() } }
    );
    let second =
        handle(&store, &config, &reply("bob@example.com", &workflow, "APPROVED", Some(&bob_token), "")).unwrap();
    assert_eq!(second.outcome, DecisionOutcome::Decided { state: Approved });
    let approvers: Vec<String> = store.approvals(&workflow.id).unwrap().into_iter().map(|a| a.approver).collect();
    assert_eq!(approvers, ["alice@example.com", "bob@example.com"]);
}

/// An HTML-only reply (one text/html part) as a mail client writes it: a sample from
/// tests/data/replies/ with the request's HTML body quoted where `{{request}}` stands.
fn html_reply(sample: &str, from: &str, subject: &str, request: &EmailContent, token: &str) -> String {
    let html = request.html.as_deref().expect("the request has an HTML part");
    let body_start = html.find("<body").and_then(|at| html[at..].find('>').map(|end| at + end + 1)).unwrap();
    let quoted = &html[body_start..html.rfind("</body>").unwrap()];
    let html = sample
        .replace("{{request}}", quoted)
        .replace("{{token}}", token)
        .replace("{{subject}}", &super::super::message::escape_html(subject));
    format!(
        "From: {from}\r\nTo: sentri@example.com\r\nSubject: Re: {subject}\r\nMessage-ID: <{}@mail.example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{html}",
        uuid::Uuid::new_v4()
    )
}

/// The sample replies, each with its author's decision line and the reason it gives.
const HTML_REPLIES: [(&str, &str, &str, &str); 3] = [
    (
        "outlook",
        include_str!("../../../../tests/data/replies/outlook.html"),
        "APPROVED &#8211;",
        "extend it in tonight\u{2019}s change window",
    ),
    ("gmail", include_str!("../../../../tests/data/replies/gmail.html"), "<div>APPROVED</div>", ""),
    ("apple_mail", include_str!("../../../../tests/data/replies/apple_mail.html"), "Approved, go ahead", "go ahead"),
];

#[test]
fn html_only_replies_from_outlook_gmail_and_apple_mail_approve() {
    for (client, sample, _, reason) in HTML_REPLIES {
        let (store, _) = testing::store();
        let config = config(1);
        let (workflow, request) = requested_mail(&store, &config);
        let token = token::find_tokens(&request.text).pop().unwrap();
        let subject = super::super::message::subject(&workflow);
        let message = html_reply(sample, "Alice <alice@example.com>", &subject, &request, &token);
        let handled = handle(&store, &config, &message).expect("recognised as a reply");
        assert_eq!(handled.outcome, DecisionOutcome::Decided { state: Approved }, "{client}");
        let approval = &store.approvals(&workflow.id).unwrap()[0];
        assert_eq!((approval.approver.as_str(), approval.reason.as_str()), ("alice@example.com", reason), "{client}");
    }
}

#[test]
fn an_html_reply_without_the_authors_decision_decides_nothing() {
    // The quoted request says APPROVED too ("Reply … with APPROVED or DENIED"): only the
    // author's own first line counts, in HTML as in text.
    for (client, sample, decision, _) in HTML_REPLIES {
        let (store, _) = testing::store();
        let config = config(1);
        let (workflow, request) = requested_mail(&store, &config);
        let token = token::find_tokens(&request.text).pop().unwrap();
        let undecided = sample.replacen(decision, "<div>Looks fine to me</div>", 1);
        assert_ne!(undecided, sample, "{client}: the sample has its decision");
        let subject = super::super::message::subject(&workflow);
        let handled = handle(&store, &config, &html_reply(&undecided, "alice@example.com", &subject, &request, &token));
        assert_rejected(&store, &workflow, handled, "NO_DECISION_LINE");
    }
}

#[test]
fn a_reply_flooded_with_token_lines_is_read_in_its_first_part_only() {
    // 60,000 distinct token lines (2.8 MB): each one read would be a store lookup, and the old
    // list of seen tokens compared every new one with all before it.
    let (store, _) = testing::store();
    let config = config(1);
    let (workflow, token) = requested(&store, &config);
    let flood: String = (0..60_000_u64).map(|n| format!("> Token: {n:040x}\r\n")).collect();
    let message = reply("alice@example.com", &workflow, "APPROVED", Some(&token), "") + &flood;
    let started = std::time::Instant::now();
    let handled = handle(&store, &config, &message).expect("recognised as a reply");
    assert_eq!(handled.outcome, DecisionOutcome::Decided { state: Approved });
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
}

#[test]
fn authentication_results_are_ignored_when_the_setting_is_off() {
    let (store, _) = testing::store();
    let config = ApprovalsConfig { require_authenticated_reply: false, ..config(1) };
    let (workflow, token) = requested(&store, &config);
    let failing = "Authentication-Results: mx.example.com; dmarc=fail header.from=example.com\r\n";
    let handled = handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&token), failing));
    assert_eq!(handled.unwrap().outcome, DecisionOutcome::Decided { state: Approved });
}

#[test]
fn a_reply_that_passed_authentication_is_accepted() {
    let (store, _) = testing::store();
    let config = config(1);
    let (workflow, token) = requested(&store, &config);
    let passing = "Authentication-Results: mx.example.com; dkim=pass header.d=example.com; dmarc=pass header.from=example.com\r\n";
    let handled = handle(&store, &config, &reply("alice@example.com", &workflow, "APPROVED", Some(&token), passing));
    assert_eq!(handled.unwrap().outcome, DecisionOutcome::Decided { state: Approved });
}
