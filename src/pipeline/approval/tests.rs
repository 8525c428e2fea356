//! The decision rules on a real (in-memory) store: every rule of [`judge`], four-eyes,
//! self-approval, and one-time tokens.

use std::time::Duration;

use super::*;
use crate::store::approval_requests::NewApprovalRequest;
use crate::store::audit::AuditFilter;
use crate::store::testing::{self, TestClock};
use crate::store::workflows::{WorkflowRow, tests::new_workflow};
use WorkflowState::*;

fn config(required: u32, forbid_self: bool) -> ApprovalsConfig {
    ApprovalsConfig {
        email_enabled: true,
        approval_recipients: vec!["dba@example.com".into()],
        approvers: vec!["alice@example.com".into(), "bob@example.com".into()],
        required_approvals: required,
        forbid_self_approval: forbid_self,
        approval_timeout: Duration::from_secs(3600),
        ..ApprovalsConfig::default()
    }
}

fn awaiting(store: &Store) -> WorkflowRow {
    let row = store.create_workflow(new_workflow("PRODDB"), "engine").unwrap();
    store.set_plan(&row.id, &crate::domain::testing::plan_with_steps(&["a"]), "engine").unwrap();
    for (from, to) in
        [(Detected, Verifying), (Verifying, Verified), (Verified, PreFlight), (PreFlight, AwaitingApproval)]
    {
        store.transition(&row.id, from, to, "engine", "").unwrap();
    }
    store.get_workflow(&row.id).unwrap()
}

fn cli(workflow: &WorkflowRow, who: &str, decision: Decision) -> DecisionRequest {
    DecisionRequest {
        workflow_id: workflow.id.clone(),
        plan_hash: workflow.plan_hash.clone().unwrap(),
        approver: who.into(),
        decision,
        channel: "cli".into(),
        reason: if decision == Decision::Denied { "not now".into() } else { String::new() },
        token_hash: None,
        raw_alert_id: None,
    }
}

fn issue(store: &Store, clock: &TestClock, workflow: &WorkflowRow, token: &str) {
    store
        .issue_approval_request(&NewApprovalRequest {
            workflow_id: workflow.id.to_string(),
            plan_hash: workflow.plan_hash.clone().unwrap().into(),
            recipient: "alice@example.com".into(),
            token_hash: Some(token::hash(token)),
            outbox_id: None,
            expires_at: clock.now() + jiff::SignedDuration::from_secs(3600),
        })
        .unwrap();
}

fn email(workflow: &WorkflowRow, who: &str, token: &str) -> DecisionRequest {
    DecisionRequest {
        channel: EMAIL_CHANNEL.into(),
        token_hash: Some(token::hash(token)),
        ..cli(workflow, who, Decision::Approved)
    }
}

fn refused(outcome: DecisionOutcome) -> Rule {
    match outcome {
        DecisionOutcome::Refused { rule } => rule,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn last_audit(store: &Store) -> crate::store::AuditRow {
    store.list_audit(&AuditFilter::default()).unwrap().pop().unwrap()
}

const T1: &str = "1111111111111111111111111111111111111111";
const T2: &str = "2222222222222222222222222222222222222222";

#[test]
fn one_approval_decides_by_default() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let outcome = decide(&store, &config(1, false), &cli(&workflow, "alice", Decision::Approved)).unwrap();
    assert_eq!(outcome, DecisionOutcome::Decided { state: Approved });
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, Approved);
}

#[test]
fn four_eyes_needs_two_distinct_approvers() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let config = config(2, false);
    let first = decide(&store, &config, &cli(&workflow, "alice", Decision::Approved)).unwrap();
    assert_eq!(first, DecisionOutcome::Recorded { approvals: 1, required: 2 });
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    // The same approver again, in another spelling, does not count twice.
    let again = decide(&store, &config, &cli(&workflow, "ALICE ", Decision::Approved)).unwrap();
    assert_eq!(refused(again), Rule::AlreadyApproved);
    assert_eq!(last_audit(&store).action, APPROVAL_REFUSED);
    assert_eq!(last_audit(&store).result, "ALREADY_APPROVED");
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    let second = decide(&store, &config, &cli(&workflow, "bob", Decision::Approved)).unwrap();
    assert_eq!(second, DecisionOutcome::Decided { state: Approved });
    assert_eq!(store.approvals(&workflow.id).unwrap().len(), 2);
}

#[test]
fn one_os_account_counts_once_across_the_cli_and_the_console() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let config = config(2, false);
    decide(&store, &config, &cli(&workflow, "alice", Decision::Approved)).unwrap();
    let console = DecisionRequest { channel: "console".into(), ..cli(&workflow, "Alice", Decision::Approved) };
    assert_eq!(refused(decide(&store, &config, &console).unwrap()), Rule::AlreadyApproved);
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
}

#[test]
fn a_token_counts_only_for_the_address_it_was_mailed_to() {
    let (store, clock) = testing::store();
    let workflow = awaiting(&store);
    issue(&store, &clock, &workflow, T1);
    let stolen = decide(&store, &config(1, false), &email(&workflow, "bob@example.com", T1)).unwrap();
    assert_eq!(refused(stolen), Rule::TokenNotForSender { bound_to: "alice@example.com".into() });
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    assert!(store.approvals(&workflow.id).unwrap().is_empty());
    assert!(store.approval_requests(&workflow.id).unwrap()[0].used_at.is_none(), "alice's token is not spent");
}

#[test]
fn an_approval_of_an_older_plan_does_not_count_towards_four_eyes() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let config = config(2, false);
    decide(&store, &config, &cli(&workflow, "alice", Decision::Approved)).unwrap();
    let changed = store.set_plan(&workflow.id, &crate::domain::testing::plan_with_steps(&["b"]), "llm").unwrap();
    let outcome = decide(&store, &config, &cli(&changed, "bob", Decision::Approved)).unwrap();
    assert_eq!(outcome, DecisionOutcome::Recorded { approvals: 1, required: 2 });
    // And a decision naming the old plan is refused outright.
    assert!(matches!(
        refused(decide(&store, &config, &cli(&workflow, "carol", Decision::Approved)).unwrap()),
        Rule::PlanChanged { .. }
    ));
}

#[test]
fn a_denial_needs_a_reason_and_decides_at_once() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let mut request = cli(&workflow, "alice", Decision::Denied);
    request.reason = "  ".into();
    assert_eq!(refused(decide(&store, &config(2, false), &request).unwrap()), Rule::ReasonRequired);
    request.reason = "month-end close".into();
    assert_eq!(decide(&store, &config(2, false), &request).unwrap(), DecisionOutcome::Decided { state: Denied });
    let audit = store.list_audit(&AuditFilter::default()).unwrap();
    let decision = audit.iter().rev().find(|row| row.action == "APPROVAL_DECISION").unwrap();
    assert_eq!(decision.actor, "cli:alice");
    assert_eq!(decision.detail["reason"], "month-end close");
}

#[test]
fn the_requester_may_not_approve_when_self_approval_is_forbidden() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    store.record_requester(&workflow.id, "alice", "replay").unwrap();
    let outcome = decide(&store, &config(1, true), &cli(&workflow, "Alice", Decision::Approved)).unwrap();
    assert_eq!(refused(outcome), Rule::SelfApproval);
    assert_eq!(last_audit(&store).result, "SELF_APPROVAL");
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    // The requester may still deny their own change; someone else may approve it.
    assert_eq!(
        decide(&store, &config(1, false), &cli(&workflow, "alice", Decision::Approved)).unwrap(),
        DecisionOutcome::Decided { state: Approved },
        "without forbid_self_approval the requester may approve"
    );
}

#[test]
fn the_author_of_a_human_plan_is_a_requester() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let mut plan = crate::domain::testing::plan_with_steps(&["c"]);
    plan.source = crate::domain::PlanSource::Human { by: "bob".into() };
    let edited = store.set_plan(&workflow.id, &plan, "cli:bob").unwrap();
    let outcome = decide(&store, &config(1, true), &cli(&edited, "bob", Decision::Approved)).unwrap();
    assert_eq!(refused(outcome), Rule::SelfApproval);
    let outcome = decide(&store, &config(1, true), &cli(&edited, "alice", Decision::Approved)).unwrap();
    assert_eq!(outcome, DecisionOutcome::Decided { state: Approved });
}

#[test]
fn a_workflow_not_awaiting_or_timed_out_refuses() {
    let (store, clock) = testing::store();
    let workflow = awaiting(&store);
    clock.advance_ms(3_600_001);
    assert_eq!(
        refused(decide(&store, &config(1, false), &cli(&workflow, "alice", Decision::Approved)).unwrap()),
        Rule::TimedOut
    );
    store.transition(&workflow.id, AwaitingApproval, Timeout, "engine", "").unwrap();
    let rule = refused(decide(&store, &config(1, false), &cli(&workflow, "alice", Decision::Approved)).unwrap());
    assert_eq!(rule, Rule::NotAwaiting { state: Timeout });
}

#[test]
fn email_decisions_need_an_issued_unused_unexpired_token_of_that_workflow() {
    let (store, clock) = testing::store();
    let config = config(1, false);
    let workflow = awaiting(&store);
    let other = awaiting(&store);
    issue(&store, &clock, &workflow, T1);
    issue(&store, &clock, &other, T2);
    let mut missing = email(&workflow, "alice@example.com", T1);
    missing.token_hash = None;
    assert_eq!(refused(decide(&store, &config, &missing).unwrap()), Rule::TokenMissing);
    let unknown = email(&workflow, "alice@example.com", &"3".repeat(40));
    assert_eq!(refused(decide(&store, &config, &unknown).unwrap()), Rule::TokenUnknown);
    let foreign = email(&workflow, "alice@example.com", T2);
    assert_eq!(
        refused(decide(&store, &config, &foreign).unwrap()),
        Rule::TokenOtherWorkflow { token_workflow: other.id.to_string() }
    );
    assert_eq!(last_audit(&store).action, APPROVAL_REPLY_REJECTED);
    assert_eq!(last_audit(&store).actor, "email:alice@example.com");

    let good = email(&workflow, "alice@example.com", T1);
    assert_eq!(decide(&store, &config, &good).unwrap(), DecisionOutcome::Decided { state: Approved });
    let request = &store.approval_requests(&workflow.id).unwrap()[0];
    assert!(request.used_at.is_some());
    let approval = &store.approvals(&workflow.id).unwrap()[0];
    assert_eq!(approval.channel, "email");
    assert_eq!(approval.token_hash.as_deref(), Some(token::hash(T1).as_str()));
    assert_eq!(approval.expires_at, Some(request.expires_at));

    // Expired: the other workflow's token, an hour and a bit later (its workflow also timed out).
    clock.advance_ms(3_600_001);
    let late = email(&other, "alice@example.com", T2);
    let rule = refused(decide(&store, &config, &late).unwrap());
    assert!(matches!(rule, Rule::TimedOut | Rule::TokenExpired), "{rule:?}");
}

#[test]
fn a_used_token_never_counts_again() {
    let (store, clock) = testing::store();
    let config = config(2, false);
    let workflow = awaiting(&store);
    issue(&store, &clock, &workflow, T1);
    let first = decide(&store, &config, &email(&workflow, "alice@example.com", T1)).unwrap();
    assert_eq!(first, DecisionOutcome::Recorded { approvals: 1, required: 2 });
    // Bob got hold of the same (spent) token: it does not make him the second approver.
    let replayed = decide(&store, &config, &email(&workflow, "bob@example.com", T1)).unwrap();
    assert_eq!(refused(replayed), Rule::TokenUsed);
    assert_eq!(store.get_workflow(&workflow.id).unwrap().state, AwaitingApproval);
    assert_eq!(store.approvals(&workflow.id).unwrap().len(), 1);
}

#[test]
fn a_token_for_an_earlier_plan_is_refused() {
    let (store, clock) = testing::store();
    let workflow = awaiting(&store);
    issue(&store, &clock, &workflow, T1);
    let changed = store.set_plan(&workflow.id, &crate::domain::testing::plan_with_steps(&["b"]), "llm").unwrap();
    // The reply names the new plan hash (as if it read the workflow) but carries the old token.
    let mut request = email(&changed, "alice@example.com", T1);
    request.plan_hash = changed.plan_hash.clone().unwrap();
    assert!(matches!(refused(decide(&store, &config(1, false), &request).unwrap()), Rule::PlanChanged { .. }));
}

#[test]
fn every_refusal_is_audited_with_its_rule_and_the_chain_holds() {
    let (store, _) = testing::store();
    let workflow = awaiting(&store);
    let before = store.list_audit(&AuditFilter::default()).unwrap().len();
    let mut request = cli(&workflow, "alice", Decision::Approved);
    request.plan_hash = "f".repeat(64).into();
    let rule = refused(decide(&store, &config(1, false), &request).unwrap());
    let rows = store.list_audit(&AuditFilter::default()).unwrap();
    assert_eq!(rows.len(), before + 1);
    let row = rows.last().unwrap();
    assert_eq!(row.result, rule.code());
    assert_eq!(row.workflow_id.as_deref(), Some(workflow.id.as_str()));
    assert_eq!(row.detail["why"], rule.to_string());
    assert!(store.verify_audit().unwrap().is_intact());
}
