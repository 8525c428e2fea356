//! What Sentri says when a workflow ends or is escalated, per channel, as outbox rows.
//!
//! The text is short, link-free and copy-pastable: a DBA reads it on a phone, pastes the id into
//! a terminal, and runs `sentri show <id>` for the rest. A diagnosed workflow says its root cause
//! and the one or two evidence lines that made it hold (the webhook and PagerDuty get them as a
//! `root_cause` object), in the words of `diagnose::text`. A repeat alert (the same alert type on
//! the same database reaching the brain's root-cause threshold) adds a recommendation, naming the
//! diagnosed cause when there is one, because a fix that keeps being needed treats a symptom.
//!
//! Pure functions of the workflow and the channels. [`Reporter`] hands them to the store, which
//! queues the messages inside the transaction that commits the state change.

use std::sync::Arc;

use serde_json::json;

use super::channels::{Channels, SLACK_LABEL};
use super::{EMAIL, EmailContent, PAGERDUTY, SLACK, WEBHOOK};
use crate::diagnose::text;
use crate::domain::WorkflowState;
use crate::policy::brain::Brain;
use crate::store::NewOutboxMessage;
use crate::store::audit::Anchor;
use crate::store::reporting::TransitionReporter;
use crate::store::workflows::WorkflowRow;

/// The longest "why" line kept in a summary; longer reasons are cut with an ellipsis (the full
/// text is in `sentri show`).
const WHY_MAX_CHARS: usize = 300;
/// PagerDuty's limit on `payload.summary`.
const PAGERDUTY_SUMMARY_MAX_CHARS: usize = 1024;
/// The evidence rows a message names: the one or two that made the cause hold (the rest are
/// in `sentri show`).
const EVIDENCE_SHOWN: usize = 2;
/// The longest evidence line kept in a message.
const EVIDENCE_MAX_CHARS: usize = 200;

/// Whether entering `state` is reported: every terminal outcome, and escalation.
pub fn is_reported(state: WorkflowState) -> bool {
    use WorkflowState::*;
    matches!(state, Completed | RolledBack | Failed | Escalated | Denied | Timeout | VerificationFailed | Resolved)
}

/// An alert that keeps coming back: `count` times within `hours` on the same database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeat {
    pub count: u32,
    pub hours: u32,
}

impl Repeat {
    /// `Some` when `count` reached the brain's `threshold` (the RCA Recommendation Thresholds).
    pub fn at_threshold(count: u32, threshold: u32, hours: u32) -> Option<Repeat> {
        (threshold > 0 && count >= threshold).then_some(Repeat { count, hours })
    }
}

/// The brain's repeat-alert rule (`## RCA Recommendation Thresholds` in brain/rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatRule {
    /// Recommend a root-cause investigation once the alert fired this often…
    pub threshold: u32,
    /// …within this many hours.
    pub hours: u32,
}

impl RepeatRule {
    pub fn from_brain(brain: &Brain) -> RepeatRule {
        RepeatRule { threshold: brain.rca_alert_count, hours: brain.rca_window_hours }
    }
}

/// The notify module's [`TransitionReporter`]: installed on the store (by the engine, and by
/// commands that change a workflow), it makes every reported transition queue its messages in
/// the transaction that commits it, whoever writes it.
pub struct Reporter {
    channels: Channels,
    rule: Box<dyn Fn() -> RepeatRule + Send + Sync>,
}

impl Reporter {
    /// Reports to `channels`, reading the repeat rule from `rule` at each report (so a brain
    /// reloaded while running is followed).
    pub fn new(channels: Channels, rule: impl Fn() -> RepeatRule + Send + Sync + 'static) -> Reporter {
        Reporter { channels, rule: Box::new(rule) }
    }

    /// The reporter a store is opened with: the channels `sentri.yaml` configures, the repeat
    /// rule of the brain in force (hot-reloaded).
    pub fn for_config(config: &crate::config::Config, policies: crate::policy::watch::LivePolicies) -> Arc<Reporter> {
        Arc::new(Reporter::new(Channels::from_config(config), move || {
            RepeatRule::from_brain(&policies.snapshot().brain)
        }))
    }
}

impl TransitionReporter for Reporter {
    fn reports(&self, state: WorkflowState) -> bool {
        is_reported(state)
    }

    fn repeat_window(&self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_hours(i64::from((self.rule)().hours))
    }

    fn messages(
        &self,
        workflow: &WorkflowRow,
        reason: &str,
        occurrences: u32,
        anchor: &Anchor,
    ) -> Vec<NewOutboxMessage> {
        let rule = (self.rule)();
        let repeat = Repeat::at_threshold(occurrences, rule.threshold, rule.hours);
        messages_with_anchor(&self.channels, workflow, reason, repeat, Some(anchor))
    }

    fn anchor_messages(&self, anchor: &Anchor) -> Vec<NewOutboxMessage> {
        anchor_messages(&self.channels, anchor)
    }
}

/// The subject of the email: `[SENTRI] ESCALATED: tablespace_full on PROD-DB-07 [WF:3f9c2a1b]`.
pub fn subject(workflow: &WorkflowRow) -> String {
    format!(
        "[SENTRI] {}: {} on {} [WF:{}]",
        workflow.state,
        workflow.alert_type,
        workflow.database,
        workflow.short_id()
    )
}

/// `why` on one line, cut to [`WHY_MAX_CHARS`].
fn one_line(why: &str, max: usize) -> String {
    let flat = why.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", cut.trim_end())
}

/// The root-cause paragraph of a repeat alert. When this workflow's diagnosis named a cause,
/// the paragraph names it: the DBA is pointed at what keeps happening, not only told that
/// something does. (It is this occurrence's diagnosis; earlier ones may have found another.)
pub fn recommendation(workflow: &WorkflowRow, repeat: Repeat) -> String {
    let opening = format!(
        "Repeat alert: {alert} fired {count} times in {hours} h on {db}.",
        alert = workflow.alert_type,
        count = repeat.count,
        hours = repeat.hours,
        db = workflow.database,
    );
    match workflow.diagnosis.as_ref().and_then(|diagnosis| diagnosis.named_cause()) {
        Some(finding) => format!(
            "{opening} This time the diagnosis named {cause}: {summary}. A fix that keeps being needed treats \
             a symptom; find what keeps causing {cause} (the jobs, sessions, queries or growth behind it) before \
             it fires again.",
            cause = finding.cause,
            summary = one_line(&text::printable(&finding.summary), WHY_MAX_CHARS),
        ),
        None => format!(
            "{opening} The template fix treats the symptom; consider a root-cause investigation (what drives \
             the growth or the load, capacity, the jobs or sessions behind it) before it fires again."
        ),
    }
}

/// The diagnosis in a message: the root cause line and the evidence that made it hold, short.
/// Empty when the workflow was not diagnosed.
fn diagnosis_lines(workflow: &WorkflowRow) -> Vec<(&'static str, String)> {
    let Some(diagnosis) = &workflow.diagnosis else { return Vec::new() };
    let mut lines = vec![("root cause", one_line(&text::headline(diagnosis), WHY_MAX_CHARS))];
    let evidence = diagnosis.root_causes.first().map(|finding| finding.evidence.as_slice()).unwrap_or_default();
    for row in evidence.iter().take(EVIDENCE_SHOWN) {
        lines.push(("evidence", one_line(&text::evidence_brief(row), EVIDENCE_MAX_CHARS)));
    }
    lines
}

/// The webhook's and PagerDuty's `root_cause`: the first cause, its confidence and summary,
/// and the evidence that mattered; `null` when the workflow was not diagnosed.
fn root_cause_json(workflow: &WorkflowRow) -> serde_json::Value {
    let Some(finding) = workflow.diagnosis.as_ref().and_then(|diagnosis| diagnosis.root_causes.first()) else {
        return serde_json::Value::Null;
    };
    let evidence: Vec<_> = finding
        .evidence
        .iter()
        .take(EVIDENCE_SHOWN)
        .map(|row| json!({ "tool": row.tool, "why": one_line(&row.why, EVIDENCE_MAX_CHARS) }))
        .collect();
    json!({
        "cause": finding.cause,
        "confidence": finding.confidence,
        "summary": one_line(&finding.summary, WHY_MAX_CHARS),
        "evidence": evidence,
    })
}

/// The plain-text summary every channel carries.
pub fn summary(workflow: &WorkflowRow, why: &str, repeat: Option<Repeat>) -> String {
    let mut text = format!(
        "Sentri workflow {short}: {state}\n\n  workflow:    {short}\n  database:    {db}\n  environment: \
         {env}\n  alert:       {alert}\n  state:       {state}\n  why:         {why}\n",
        short = workflow.short_id(),
        state = workflow.state,
        db = workflow.database,
        env = workflow.environment,
        alert = workflow.alert_type,
        why = one_line(why, WHY_MAX_CHARS),
    );
    for (label, line) in diagnosis_lines(workflow) {
        text.push_str(&format!("  {:<13}{line}\n", format!("{label}:")));
    }
    if let Some(repeat) = repeat {
        text.push('\n');
        text.push_str(&recommendation(workflow, repeat));
        text.push('\n');
    }
    text.push_str(&format!("\nTo see more: sentri show {}\n", workflow.short_id()));
    text
}

/// The webhook event name: the reference's names where it had one.
fn event_name(state: WorkflowState) -> String {
    match state {
        WorkflowState::Denied => "approval_denied".to_owned(),
        WorkflowState::Timeout => "approval_timeout".to_owned(),
        other => format!("workflow_{}", other.as_str().to_lowercase()),
    }
}

/// The JSON a generic webhook receives.
pub fn webhook_event(workflow: &WorkflowRow, why: &str, repeat: Option<Repeat>) -> serde_json::Value {
    json!({
        "event": event_name(workflow.state),
        "workflow_id": workflow.id,
        "short_id": workflow.short_id(),
        "state": workflow.state,
        "database": workflow.database,
        "environment": workflow.environment,
        "alert_type": workflow.alert_type,
        "severity": workflow.severity,
        "summary": one_line(why, WHY_MAX_CHARS),
        "repeat_count": repeat.map(|r| r.count),
        "root_cause": root_cause_json(workflow),
        "recommendation": repeat.map(|r| recommendation(workflow, r)),
        "at": crate::store::timestamp_text(workflow.updated_at),
    })
}

/// PagerDuty's severity for a workflow severity (critical, error, warning, info).
fn pagerduty_severity(severity: &str) -> &'static str {
    match severity.trim().to_ascii_uppercase().as_str() {
        "CRITICAL" | "FATAL" => "critical",
        "WARNING" | "MEDIUM" | "MINOR" => "warning",
        "LOW" | "INFO" | "INFORMATIONAL" | "CLEAR" => "info",
        _ => "error",
    }
}

/// The PagerDuty Events v2 trigger for an escalation, without its routing key (added at
/// delivery, so the key is never stored). De-duplicated on the workflow id.
pub fn pagerduty_event(workflow: &WorkflowRow, why: &str) -> serde_json::Value {
    let cause = match workflow.diagnosis.as_ref() {
        Some(diagnosis) => format!("; root cause {}", text::headline(diagnosis)),
        None => String::new(),
    };
    let summary = one_line(
        &format!(
            "Sentri {}: {} on {} ({}) escalated: {why}{cause}",
            workflow.short_id(),
            workflow.alert_type,
            workflow.database,
            workflow.environment
        ),
        PAGERDUTY_SUMMARY_MAX_CHARS,
    );
    json!({
        "event_action": "trigger",
        "dedup_key": workflow.id,
        "payload": {
            "summary": summary,
            "source": workflow.database,
            "severity": pagerduty_severity(&workflow.severity),
            "component": workflow.alert_type,
            "group": workflow.environment,
            "custom_details": {
                "workflow_id": workflow.id,
                "state": workflow.state,
                "root_cause": root_cause_json(workflow),
                "see_more": format!("sentri show {}", workflow.short_id()),
            },
        },
    })
}

/// The subject of an audit anchor message.
pub const ANCHOR_SUBJECT: &str = "[Sentri] audit anchor";

/// The outbox rows carrying an audit anchor off the host: to email and Slack (a person's
/// mailbox or channel is a copy the store's host cannot rewrite) and webhooks; not PagerDuty,
/// which pages people. The line is the whole point: keep it; `sentri audit --verify --anchors
/// FILE` reads it back from saved mail.
pub fn anchor_messages(channels: &Channels, anchor: &Anchor) -> Vec<NewOutboxMessage> {
    let line = anchor.to_string();
    let text = format!(
        "The audit chain's head, signed. Keep this line: `sentri audit --verify --anchors FILE` \
         checks that the chain still holds it.\n\n{line}\n"
    );
    let event = json!({ "event": "audit_anchor", "anchor": line }).to_string();
    fan_out(channels, ANCHOR_SUBJECT, None, &text, &event)
}

/// Text as Slack shows it literally: `&`, `<` and `>` are its markup (`<!channel>` pings a
/// whole channel, `<url|text>` disguises a link), and values from the database reach the text.
fn slack_escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// One outbox row per email recipient, Slack and webhook: `text` to people, `event` to
/// webhooks. PagerDuty is the caller's to add (only escalations page).
fn fan_out(
    channels: &Channels,
    subject: &str,
    workflow_id: Option<&str>,
    text: &str,
    event: &str,
) -> Vec<NewOutboxMessage> {
    let row = |kind: &str, recipient: &str, body: String| NewOutboxMessage {
        kind: kind.to_owned(),
        recipient: recipient.to_owned(),
        subject: subject.to_owned(),
        body,
        workflow_id: workflow_id.map(str::to_owned),
    };
    let mut out = Vec::new();
    let email_body = json!(EmailContent { text: text.to_owned(), html: None }).to_string();
    for recipient in &channels.email {
        out.push(row(EMAIL, recipient, email_body.clone()));
    }
    if channels.slack.is_some() {
        out.push(row(SLACK, SLACK_LABEL, json!({ "text": slack_escaped(text) }).to_string()));
    }
    for webhook in &channels.webhooks {
        out.push(row(WEBHOOK, &webhook.label, event.to_owned()));
    }
    out
}

/// The outbox rows reporting that `workflow` (already moved) entered its current state, one
/// per channel and recipient; none when the state is not reported.
pub fn messages(
    channels: &Channels,
    workflow: &WorkflowRow,
    why: &str,
    repeat: Option<Repeat>,
) -> Vec<NewOutboxMessage> {
    messages_with_anchor(channels, workflow, why, repeat, None)
}

/// [`messages`], the email and Slack text ending with the audit anchor of the write that moved
/// the workflow, and the webhook event carrying it as `audit_anchor`: every ending (every
/// execution's included) takes a copy of the chain's head off the host.
pub fn messages_with_anchor(
    channels: &Channels,
    workflow: &WorkflowRow,
    why: &str,
    repeat: Option<Repeat>,
    anchor: Option<&Anchor>,
) -> Vec<NewOutboxMessage> {
    if !is_reported(workflow.state) {
        return Vec::new();
    }
    let subject = subject(workflow);
    let mut text = summary(workflow, why, repeat);
    if let Some(anchor) = anchor {
        text.push_str(&format!(
            "\n\nAudit anchor (keep it; `sentri audit --verify --anchors FILE` reads it back):\n{anchor}\n"
        ));
    }
    let mut event = webhook_event(workflow, why, repeat);
    if let (Some(anchor), Some(fields)) = (anchor, event.as_object_mut()) {
        fields.insert("audit_anchor".to_owned(), json!(anchor.to_string()));
    }
    let mut out = fan_out(channels, &subject, Some(workflow.id.as_str()), &text, &event.to_string());
    if workflow.state == WorkflowState::Escalated {
        let trigger = pagerduty_event(workflow, why).to_string();
        for service in &channels.pagerduty {
            out.push(NewOutboxMessage {
                kind: PAGERDUTY.to_owned(),
                recipient: service.label.clone(),
                subject: subject.clone(),
                body: trigger.clone(),
                workflow_id: Some(workflow.id.to_string()),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::Secret;
    use crate::notify::channels::{PagerDuty, Webhook};

    fn workflow(state: WorkflowState) -> WorkflowRow {
        let at: jiff::Timestamp = "2026-11-25T01:02:03.456Z".parse().unwrap();
        WorkflowRow {
            id: "3f9c2a1b-0000-4000-8000-000000000001".into(),
            raw_alert_id: None,
            alert_type: "tablespace_full".to_owned(),
            database: "PROD-DB-07".to_owned(),
            environment: "PROD".to_owned(),
            severity: "CRITICAL".to_owned(),
            state,
            fields: BTreeMap::new(),
            plan: None,
            plan_hash: None,
            verification: None,
            execution: None,
            diagnosis: None,
            provisional_policy: None,
            unreadable: Vec::new(),
            occurrences: 1,
            incident_id: "3f9c2a1b-0000-4000-8000-000000000001".to_owned(),
            version: 3,
            created_at: at,
            updated_at: at,
        }
    }

    fn all_channels() -> Channels {
        Channels {
            email: vec!["dba@x.org".into(), "oncall@x.org".into()],
            slack: Some(Secret::new("http://slack/s3cret")),
            webhooks: vec![Webhook {
                label: "webhook #1".into(),
                url: Secret::new("http://hook/s3cret"),
                headers: BTreeMap::new(),
            }],
            pagerduty: vec![PagerDuty {
                label: "pagerduty #2".into(),
                endpoint: "http://pd".into(),
                routing_key: Secret::new("rk-s3cret"),
            }],
        }
    }

    #[test]
    fn a_reported_transition_queues_its_messages_with_the_repeat_count() {
        use std::sync::Arc;

        use crate::store::{NewWorkflow, Store};
        let store = Store::open_in_memory().unwrap();
        let channels = Channels { email: vec!["dba@x.org".into()], ..Channels::default() };
        let threshold = Arc::new(std::sync::atomic::AtomicU32::new(3));
        let live = Arc::clone(&threshold);
        store.set_reporter(Arc::new(Reporter::new(channels, move || RepeatRule {
            threshold: live.load(std::sync::atomic::Ordering::SeqCst),
            hours: 24,
        })));
        let new = || NewWorkflow {
            raw_alert_id: None,
            alert_type: "tablespace_full".into(),
            database: "PROD-DB-07".into(),
            environment: "PROD".into(),
            severity: "CRITICAL".into(),
            fields: BTreeMap::new(),
        };
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(store.create_workflow(new(), "engine").unwrap().id);
        }
        use WorkflowState::*;
        let moved = store.transition(&ids[0], Detected, Verifying, "engine", "checking").unwrap();
        assert_eq!(moved.state, Verifying);
        assert!(store.outbox_for_workflow(&ids[0]).unwrap().is_empty(), "VERIFYING is not reported");
        store.transition(&ids[0], Verifying, VerificationFailed, "engine", "not confirmed").unwrap();
        let queued = store.outbox_for_workflow(&ids[0]).unwrap();
        assert_eq!(queued.len(), 1);
        assert_eq!(queued[0].recipient, "dba@x.org");
        assert_eq!(
            queued[0].subject,
            format!("[SENTRI] VERIFICATION_FAILED: tablespace_full on PROD-DB-07 [WF:{}]", &ids[0][..8])
        );
        let content: EmailContent = serde_json::from_str(&queued[0].body).unwrap();
        assert!(content.text.contains("why:         not confirmed"), "{}", content.text);
        assert!(content.text.contains("fired 3 times in 24 h"), "{}", content.text);
        // The brain changed while running: the new threshold is followed.
        threshold.store(4, std::sync::atomic::Ordering::SeqCst);
        store.transition(&ids[1], Detected, Escalated, "engine", "why").unwrap();
        let content: EmailContent = serde_json::from_str(&store.outbox_for_workflow(&ids[1]).unwrap()[0].body).unwrap();
        assert!(!content.text.contains("Repeat alert"), "{}", content.text);
    }

    #[test]
    fn terminal_states_and_escalation_are_reported_and_nothing_else() {
        use WorkflowState::*;
        let reported: Vec<_> = WorkflowState::ALL.into_iter().filter(|s| is_reported(*s)).collect();
        assert_eq!(reported, [VerificationFailed, Denied, Timeout, Completed, RolledBack, Failed, Escalated, Resolved]);
        assert!(messages(&all_channels(), &workflow(AwaitingApproval), "why", None).is_empty());
    }

    #[test]
    fn summary_is_short_link_free_and_says_how_to_see_more() {
        let text = summary(&workflow(WorkflowState::Completed), "the fix worked:\n  USERS at 61 %", None);
        assert!(text.starts_with("Sentri workflow 3f9c2a1b: COMPLETED\n"), "{text}");
        for part in ["database:    PROD-DB-07", "environment: PROD", "alert:       tablespace_full"] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        assert!(text.contains("why:         the fix worked: USERS at 61 %\n"), "{text}");
        assert!(text.ends_with("To see more: sentri show 3f9c2a1b\n"), "{text}");
        assert!(!text.contains("http"), "{text}");
        assert!(!text.contains("Repeat alert"), "{text}");
        let long = summary(&workflow(WorkflowState::Failed), &"x".repeat(1000), None);
        assert!(long.lines().all(|line| line.chars().count() < 330), "{long}");
        assert!(long.contains('…'));
    }

    #[test]
    fn repeat_alerts_carry_a_root_cause_recommendation_at_the_threshold() {
        assert_eq!(Repeat::at_threshold(2, 3, 24), None);
        assert_eq!(Repeat::at_threshold(3, 3, 24), Some(Repeat { count: 3, hours: 24 }));
        assert_eq!(Repeat::at_threshold(9, 0, 24), None, "a zero threshold turns it off");
        let repeat = Repeat::at_threshold(4, 3, 24);
        let text = summary(&workflow(WorkflowState::Completed), "ok", repeat);
        assert!(
            text.contains(
                "Repeat alert: tablespace_full fired 4 times in 24 h on PROD-DB-07. The template fix treats the symptom"
            ),
            "{text}"
        );
        let event = webhook_event(&workflow(WorkflowState::Completed), "ok", repeat);
        assert_eq!(event["repeat_count"], 4);
    }

    #[test]
    fn one_row_per_channel_and_recipient_and_pagerduty_only_on_escalation() {
        let channels = all_channels();
        let completed = messages(&channels, &workflow(WorkflowState::Completed), "ok", None);
        let kinds: Vec<(&str, &str)> = completed.iter().map(|m| (m.kind.as_str(), m.recipient.as_str())).collect();
        assert_eq!(
            kinds,
            [("email", "dba@x.org"), ("email", "oncall@x.org"), ("slack", "slack"), ("webhook", "webhook #1")]
        );
        let escalated = messages(&channels, &workflow(WorkflowState::Escalated), "blocked", None);
        let pd = escalated.iter().find(|m| m.kind == PAGERDUTY).expect("a PagerDuty trigger");
        assert_eq!(pd.recipient, "pagerduty #2");
        let body: serde_json::Value = serde_json::from_str(&pd.body).unwrap();
        assert_eq!(body["event_action"], "trigger");
        assert_eq!(body["dedup_key"], "3f9c2a1b-0000-4000-8000-000000000001");
        assert_eq!(body["payload"]["severity"], "critical");
        assert_eq!(body["payload"]["source"], "PROD-DB-07");
        for message in &escalated {
            assert!(!message.body.contains("s3cret"), "a secret reached the outbox: {}", message.body);
            assert_eq!(message.subject, "[SENTRI] ESCALATED: tablespace_full on PROD-DB-07 [WF:3f9c2a1b]");
            assert_eq!(message.workflow_id.as_deref(), Some("3f9c2a1b-0000-4000-8000-000000000001"));
        }
        let email: EmailContent = serde_json::from_str(&escalated[0].body).unwrap();
        assert!(email.text.contains("why:         blocked"));
        let hook: serde_json::Value = serde_json::from_str(&escalated[3].body).unwrap();
        assert_eq!(hook["event"], "workflow_escalated");
        assert_eq!(event_name(WorkflowState::Denied), "approval_denied");
    }

    #[test]
    fn an_ending_carries_the_audit_anchor_to_email_slack_and_webhooks() {
        let store = crate::store::Store::open_in_memory().unwrap();
        let anchor = store.audit_anchor().unwrap();
        let line = anchor.to_string();
        let out = messages_with_anchor(&all_channels(), &workflow(WorkflowState::Completed), "ok", None, Some(&anchor));
        let email: EmailContent = serde_json::from_str(&out[0].body).unwrap();
        assert!(email.text.contains(&line), "{}", email.text);
        assert!(out.iter().any(|m| m.kind == SLACK && m.body.contains(&line)));
        let hook = out.iter().find(|m| m.kind == WEBHOOK).unwrap();
        let event: serde_json::Value = serde_json::from_str(&hook.body).unwrap();
        assert_eq!(event["audit_anchor"], line.as_str());
        assert_eq!(crate::store::audit::Anchor::find_all(&email.text), [Ok(anchor)]);
    }

    fn diagnosed(state: WorkflowState) -> WorkflowRow {
        let mut workflow = workflow(state);
        workflow.alert_type = "pg_idle_in_transaction".into();
        workflow.diagnosis = Some(crate::domain::diagnosis_example::idle_in_transaction("billing"));
        workflow
    }

    #[test]
    fn a_diagnosed_workflow_says_its_root_cause_and_the_evidence_that_mattered() {
        let mut three_rows = diagnosed(WorkflowState::Completed);
        let text = summary(&three_rows, "the fix worked", None);
        assert!(
            text.contains(
                "  why:         the fix worked\n  root cause:  IDLE_IN_TRANSACTION (0.90): pid 4242 (app, billing) is idle in a transaction open 754 s and blocks 3 sessions\n  evidence:    pg_blocking: holder_state == 'idle in transaction'"
            ),
            "{text}"
        );
        // One or two evidence lines, never the whole row set.
        let finding = &mut three_rows.diagnosis.as_mut().expect("a diagnosis").root_causes[0];
        let row = finding.evidence[0].clone();
        finding.evidence.extend([row.clone(), row]);
        let text = summary(&three_rows, "ok", None);
        assert_eq!(text.matches("\n  evidence:    ").count(), 2, "{text}");
        assert!(!summary(&workflow(WorkflowState::Completed), "ok", None).contains("root cause"));
    }

    #[test]
    fn the_webhook_event_and_the_pagerduty_trigger_carry_the_root_cause() {
        let event = webhook_event(&diagnosed(WorkflowState::Completed), "ok", None);
        let cause = &event["root_cause"];
        assert_eq!(cause["cause"], "IDLE_IN_TRANSACTION");
        assert_eq!(cause["confidence"], 0.9);
        assert_eq!(
            cause["summary"],
            "pid 4242 (app, billing) is idle in a transaction open 754 s and blocks 3 sessions"
        );
        assert_eq!(cause["evidence"][0]["tool"], "pg_blocking");
        assert!(webhook_event(&workflow(WorkflowState::Completed), "ok", None)["root_cause"].is_null());
        let trigger = pagerduty_event(&diagnosed(WorkflowState::Escalated), "blocked");
        assert_eq!(trigger["payload"]["custom_details"]["root_cause"]["cause"], "IDLE_IN_TRANSACTION");
        let summary = trigger["payload"]["summary"].as_str().expect("a summary");
        assert!(summary.contains("escalated: blocked; root cause IDLE_IN_TRANSACTION (0.90): pid 4242"), "{summary}");
    }

    #[test]
    fn a_repeat_alerts_recommendation_names_the_diagnosed_cause() {
        let repeat = Repeat { count: 4, hours: 24 };
        let named = recommendation(&diagnosed(WorkflowState::Completed), repeat);
        assert!(
            named.starts_with(
                "Repeat alert: pg_idle_in_transaction fired 4 times in 24 h on PROD-DB-07. This time the diagnosis named IDLE_IN_TRANSACTION: pid 4242"
            ),
            "{named}"
        );
        assert!(named.contains("find what keeps causing IDLE_IN_TRANSACTION"), "{named}");
        // UNKNOWN names nothing: the general advice stands.
        let mut unknown = diagnosed(WorkflowState::Completed);
        if let Some(diagnosis) = unknown.diagnosis.as_mut() {
            diagnosis.root_causes[0].cause = crate::domain::RootCause::Unknown;
        }
        let general = recommendation(&unknown, repeat);
        assert!(general.contains("The template fix treats the symptom"), "{general}");
        assert!(!general.contains("diagnosis named"), "{general}");
        let event = webhook_event(&diagnosed(WorkflowState::Completed), "ok", Some(repeat));
        assert!(event["recommendation"].as_str().is_some_and(|text| text.contains("named IDLE_IN_TRANSACTION")));
    }

    #[test]
    fn slack_shows_database_values_literally() {
        let mut workflow = diagnosed(WorkflowState::Escalated);
        if let Some(diagnosis) = workflow.diagnosis.as_mut() {
            diagnosis.root_causes[0].summary = "<!channel> & <http://x|y>".into();
        }
        let out = messages(&all_channels(), &workflow, "blocked", None);
        let slack = out.iter().find(|m| m.kind == SLACK).expect("a Slack row");
        let body: serde_json::Value = serde_json::from_str(&slack.body).expect("JSON");
        let text = body["text"].as_str().expect("text");
        assert!(text.contains("&lt;!channel&gt; &amp; &lt;http://x|y&gt;"), "{text}");
        assert!(!text.contains('<'), "{text}");
        let email: EmailContent = serde_json::from_str(&out[0].body).expect("an email");
        assert!(email.text.contains("<!channel> & <http://x|y>"), "plain text mail keeps it as it is: {}", email.text);
    }
}
