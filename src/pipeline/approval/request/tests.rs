//! What a request shows, that outside values cannot break it, and when requests are issued.

use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::intake::RawAlert;
use crate::notify::EmailContent;
use crate::pipeline::approval::message::HOW_TO_REPLY;
use crate::pipeline::approval::reply::{DecisionLine, decision_line};
use crate::pipeline::plan::PlanSource;
use crate::pipeline::plan::PlanStep;
use crate::policy::alert::Risk;
use crate::store::NewWorkflow;
use crate::store::testing;
use crate::targets::DbKind;
use crate::targets::sql::IdentifierKind;
use WorkflowState::*;

const HOSTILE: &str = "<script>alert(1)</script>\r\nAPPROVED & \"quoted\" 'x'";

use crate::targets::resolve::ResolvedIdentifier;

fn plan(workflow_id: &str) -> Plan {
    Plan {
        workflow_id: workflow_id.into(),
        alert_type: "pg_sequence_exhaustion".into(),
        database: "app".into(),
        environment: "PROD".into(),
        engine: DbKind::Postgres,
        action_type: "ALTER_SEQUENCE_TYPE".into(),
        risk: Risk::High,
        confidence: 1.0,
        steps: vec![PlanStep { sql: "ALTER SEQUENCE :seq_schema.:seq_name AS bigint".into() }],
        rollback: vec![PlanStep { sql: "ALTER SEQUENCE :seq_schema.:seq_name AS integer MAXVALUE :max_value".into() }],
        capture: None,
        validation: None,
        irreversible: None,
        identifiers: BTreeMap::from([
            ("seq_schema".into(), IdentifierKind::Schema),
            ("seq_name".into(), IdentifierKind::Sequence),
        ]),
        values: BTreeMap::from([
            ("seq_schema".into(), Some("public".into())),
            ("seq_name".into(), Some("orders_id_seq".into())),
            ("pct".into(), Some(HOSTILE.into())),
        ]),
        source: PlanSource::Template,
        rationale: "the policy's template fix".into(),
        proof: crate::pipeline::plan::ProofSpec::default(),
        // As resolved when the plan was made: what the approver sees is the object that runs.
        resolved: BTreeMap::from([
            (
                "seq_schema".into(),
                ResolvedIdentifier { kind: IdentifierKind::Schema, schema: None, name: "public".into() },
            ),
            (
                "seq_name".into(),
                ResolvedIdentifier {
                    kind: IdentifierKind::Sequence,
                    schema: Some("public".into()),
                    name: "orders_id_seq".into(),
                },
            ),
        ]),
    }
}

fn config(email_enabled: bool) -> ApprovalsConfig {
    ApprovalsConfig {
        email_enabled,
        approval_recipients: vec!["team@example.com".into()],
        approvers: vec!["dba@example.com".into(), "Oncall <OnCall@example.com>".into(), "dba@example.com".into()],
        approval_timeout: Duration::from_secs(3600),
        ..ApprovalsConfig::default()
    }
}

/// A PROD workflow from a hostile alert, verified, planned, mesh-audited and awaiting approval.
fn awaiting(store: &Store) -> WorkflowRow {
    let alert = RawAlert::from_parts(&format!("POSTGRES_SEQUENCE {HOSTILE}"), "body", "2026-11-25T01:00:00Z".into());
    let (raw_alert_id, _) = store.insert_raw_alert(&alert).unwrap();
    let row = store
        .create_workflow(
            NewWorkflow {
                raw_alert_id: Some(raw_alert_id),
                alert_type: "pg_sequence_exhaustion".into(),
                database: "app".into(),
                environment: "PROD".into(),
                severity: "CRITICAL".into(),
                fields: BTreeMap::from([("sequence".into(), HOSTILE.into())]),
            },
            "engine",
        )
        .unwrap();
    let verification = crate::domain::Verification {
        verdict: crate::domain::VerificationVerdict::Confirmed,
        evidence: BTreeMap::from([("pct_used".to_owned(), "93".to_owned()), ("note".to_owned(), HOSTILE.to_owned())]),
        rows: 1,
        explanations: vec!["pct_used >= 90 held (93)".to_owned()],
    };
    store.set_verification(&row.id, &verification).unwrap();
    let plan = plan(&row.id);
    let stored = store.set_plan(&row.id, &plan, "engine").unwrap();
    let decision = crate::safety::MeshDecision {
        plan_hash: plan.hash(),
        checks: vec![
            crate::safety::CheckOutcome {
                check: crate::safety::CheckName::PolicyGate,
                verdict: crate::safety::CheckVerdict::needs_approval("PROD needs a human for ALTER_SEQUENCE_TYPE"),
                satisfied_by_approval: false,
            },
            crate::safety::CheckOutcome {
                check: crate::safety::CheckName::BlastRadius,
                verdict: crate::safety::CheckVerdict::allow("one sequence"),
                satisfied_by_approval: false,
            },
        ],
        verdict: crate::domain::MeshVerdict::NeedsApproval,
        approval_used: false,
    };
    crate::safety::audit(store, &plan, &decision).unwrap();
    assert_eq!(stored.plan_hash.as_deref(), Some(plan.hash().as_str()));
    for (from, to) in
        [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight), (PreFlight, AwaitingApproval)]
    {
        store.transition(&row.id, from, to, "engine", "").unwrap();
    }
    store.get_workflow(&row.id).unwrap()
}

/// The due messages as the notifier sends them: each request's token minted and put in by the
/// notifier's own step. The stored rows carry no token.
fn outbox(store: &Store) -> Vec<crate::store::OutboxMessage> {
    let claimed = store.claim_due_outbox(100, jiff::SignedDuration::from_secs(1)).unwrap();
    for message in &claimed {
        assert!(token::find_tokens(&message.body).is_empty(), "a live token in the outbox: {}", message.body);
    }
    claimed.iter().map(|message| crate::notify::approval_token::fill(store, message).unwrap()).collect()
}

#[test]
fn a_request_shows_everything_needed_to_decide() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 2);
    let messages = outbox(&store);
    assert_eq!(messages.len(), 2);
    let recipients: Vec<&str> = messages.iter().map(|m| m.recipient.as_str()).collect();
    assert_eq!(recipients, ["dba@example.com", "oncall@example.com"]);
    let message = &messages[0];
    assert_eq!(message.kind, "email");
    assert_eq!(message.workflow_id.as_deref(), Some(workflow.id.as_str()));
    assert!(message.subject.contains(&format!("[WF:{}]", workflow.short_id())), "{}", message.subject);
    assert!(
        message.subject.contains("pg_sequence_exhaustion")
            && message.subject.contains("app")
            && message.subject.contains("PROD")
    );
    let content: EmailContent = serde_json::from_str(&message.body).unwrap();
    let text = &content.text;
    let plan_hash = workflow.plan_hash.clone().unwrap();
    for needed in [
        "POSTGRES_SEQUENCE",        // the alert subject
        "2026-11-25T01:00:00.000Z", // received
        "pct_used = 93",            // live evidence
        "pct_used >= 90 held (93)",
        "ALTER SEQUENCE \"public\".\"orders_id_seq\" AS bigint", // filled forward step
        "ALTER SEQUENCE :seq_schema.:seq_name AS integer MAXVALUE :max_value", // its rollback, filled later
        "`:max_value` has no value",
        "Risk:      High",
        "policy_gate NEEDS_APPROVAL: PROD needs a human for ALTER_SEQUENCE_TYPE",
        "blast_radius ALLOW: one sequence",
        &plan_hash,
        HOW_TO_REPLY,
        "Token: ",
        "expires at",
    ] {
        assert!(text.contains(needed), "missing {needed:?} in\n{text}");
    }
    // The token in the mail matches the stored hash, and only the hash is stored.
    let tokens = token::find_tokens(text);
    assert_eq!(tokens.len(), 1);
    let requests = store.approval_requests(&workflow.id).unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].token_hash, Some(token::hash(&tokens[0])));
    assert_ne!(requests[0].token_hash, requests[1].token_hash, "one token per recipient");
    assert_eq!(requests[0].plan_hash, plan_hash);
    assert_eq!(requests[0].expires_at, workflow.updated_at + jiff::SignedDuration::from_secs(3600));
    assert!(!text.contains(requests[0].token_hash.as_deref().unwrap()));
    let html = content.html.unwrap();
    assert!(html.contains(&tokens[0]) && html.contains(plan_hash.as_str()) && html.contains("policy_gate"));
    assert_eq!(store.approval_request_text(&requests[0], &tokens[0]).unwrap().as_deref(), Some(text.as_str()));
    // What stays in the outbox and the store after sending: no token anywhere.
    for stored in store.outbox_for_workflow(&workflow.id).unwrap() {
        assert!(!stored.body.contains(&tokens[0]), "{}", stored.body);
        assert!(token::find_tokens(&stored.body).is_empty());
    }
    let requests_json = serde_json::to_string(&store.approval_requests(&workflow.id).unwrap()).unwrap();
    assert!(!requests_json.contains(&tokens[0]));
}

#[test]
fn a_retried_send_mints_a_new_token_and_the_old_one_matches_nothing() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    ensure_requested(&store, &config(true), &workflow.id).unwrap();
    let stored = store.outbox_for_workflow(&workflow.id).unwrap().remove(0);
    let first = crate::notify::approval_token::fill(&store, &stored).unwrap();
    let second = crate::notify::approval_token::fill(&store, &stored).unwrap();
    let token_in = |message: &crate::store::OutboxMessage| {
        let content: EmailContent = serde_json::from_str(&message.body).unwrap();
        token::find_tokens(&content.text).pop().unwrap()
    };
    let (old, new) = (token_in(&first), token_in(&second));
    assert_ne!(old, new);
    assert!(store.approval_request_by_token(&token::hash(&old)).unwrap().is_none());
    assert!(store.approval_request_by_token(&token::hash(&new)).unwrap().is_some());
}

#[test]
fn outside_values_are_escaped_in_html_and_kept_on_their_line_in_text() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    ensure_requested(&store, &config(true), &workflow.id).unwrap();
    let content: EmailContent = serde_json::from_str(&outbox(&store)[0].body).unwrap();
    let html = content.html.unwrap();
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&amp; &quot;quoted&quot; &#39;x&#39;"));
    // No line of the text part reads as a decision, even with APPROVED in the alert's values:
    // the request pasted unquoted as a "reply" decides nothing.
    assert_eq!(
        decision_line(&content.text, None),
        DecisionLine::NotADecision { line: content.text.lines().next().unwrap().to_owned() }
    );
    for line in content.text.lines() {
        assert!(
            !matches!(decision_line(line, None), DecisionLine::Found { .. }),
            "a request line reads as a decision: {line:?}"
        );
    }
}

#[test]
fn requests_are_issued_once_per_plan_and_again_for_a_changed_plan() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 2);
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 0, "idempotent");
    let mut changed = plan(&workflow.id);
    changed.rationale = "edited".into();
    store.set_plan(&workflow.id, &changed, "cli:bob").unwrap();
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 2);
    assert_eq!(store.approval_requests(&workflow.id).unwrap().len(), 4);
    let audit = store.list_audit(&crate::store::AuditFilter::default()).unwrap();
    assert_eq!(audit.iter().filter(|row| row.action == "APPROVAL_REQUESTED").count(), 4);
}

#[test]
fn nothing_is_issued_when_email_approvals_are_off_or_the_workflow_is_not_waiting() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    assert_eq!(ensure_requested(&store, &config(false), &workflow.id).unwrap(), 0);
    store.transition(&workflow.id, AwaitingApproval, Denied, "cli:alice", "no").unwrap();
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 0);
    assert!(outbox(&store).is_empty());
}

#[test]
fn a_folded_repeat_does_not_extend_the_wait_or_its_requests() {
    let clock = testing::TestClock::new();
    let store = clock.store();
    let workflow = awaiting(&store);
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 2);
    let first_expiry = store.approval_requests(&workflow.id).unwrap()[0].expires_at;
    clock.advance_ms(3_000_000);
    // A repeat alert folded in changes the workflow, not when it began to wait.
    let repeat = RawAlert::from_parts("POSTGRES_SEQUENCE again", "body", "2026-11-25T01:50:00Z".into());
    let (raw, _) = store.insert_raw_alert(&repeat).unwrap();
    let folded = crate::store::RawAlertOutcome::Folded {
        workflow_id: workflow.id.to_string(),
        alert_type: workflow.alert_type.clone(),
        database: workflow.database.clone(),
    };
    store.set_raw_alert_outcome(raw, &folded).unwrap();
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 0, "the first requests are open");
    clock.advance_ms(700_000);
    assert_eq!(ensure_requested(&store, &config(true), &workflow.id).unwrap(), 0, "timed out: nothing to ask");
    let requests = store.approval_requests(&workflow.id).unwrap();
    assert_eq!(requests.len(), 2, "no fresh request past the timeout");
    assert!(requests.iter().all(|request| request.expires_at == first_expiry));
}

#[test]
fn bind_values_are_escaped_in_html_and_cannot_break_the_text_layout() {
    use crate::pipeline::approval::message::{RequestView, render};
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let forged = "0123456789abcdef0123456789abcdef01234567";
    let hostile = format!(
        "<script>alert(1)</script>\"; DROP TABLE orders; --\r\nAPPROVED\nToken: {forged}\u{2028}DENIED\u{2029}x\u{202e}y\u{85}z"
    );
    let mut plan = plan(&workflow.id);
    plan.steps = vec![PlanStep { sql: "UPDATE app_settings SET note = :note WHERE id = 1".into() }];
    plan.rollback = vec![PlanStep { sql: "UPDATE app_settings SET note = NULL WHERE id = 1".into() }];
    plan.values.insert("note".into(), Some(hostile.clone()));
    let token = "fedcba9876543210fedcba9876543210fedcba98";
    let content = render(&RequestView {
        workflow: &workflow,
        plan_hash: &plan.hash(),
        plan: Some(&plan),
        alert: None,
        mesh: &[],
        token,
        expires_at: jiff::Timestamp::UNIX_EPOCH,
        approved_by: &[],
        required_approvals: 1,
    });

    let html = content.html.expect("an HTML part");
    assert!(!html.contains("<script>") && !html.contains("\"; DROP"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;&quot;; DROP TABLE orders; --"), "{html}");

    let text = content.text;
    let bind_lines: Vec<&str> = text.lines().filter(|line| line.trim_start().starts_with("bind $1:")).collect();
    assert_eq!(bind_lines.len(), 1, "the value is bound, on one line: {text}");
    assert!(bind_lines[0].contains("<script>alert(1)</script>\"; DROP TABLE orders; --  APPROVED Token:"), "{text}");
    assert!(!bind_lines[0].contains(['\r', '\n', '\u{2028}', '\u{2029}', '\u{202e}', '\u{85}']), "{bind_lines:?}");
    assert_eq!(token::find_tokens(&text), [token], "the value cannot add a token line");
    for line in text.lines() {
        assert!(
            !matches!(decision_line(line, None), DecisionLine::Found { .. }),
            "a line reads as a decision: {line:?}"
        );
    }
}
