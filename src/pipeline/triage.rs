//! Triage: what a stored raw alert becomes — a new workflow, an occurrence of one already open,
//! a clear event for one, or an unmatched alert kept for a DBA to see. Never dropped.
//!
//! Every source (IMAP, replay) stores the raw alert first, then calls [`triage`]; the outcome
//! is written to the store in the same transaction as the workflow it creates or grows.
//!
//! With `email.alert_senders` set, only mail from those addresses or domains is read as an alert;
//! anything else is kept, marked ignored with the reason, and never matched. Approval replies
//! never get here (the engine hands them to `pipeline::approval`, judged by its approvers list).

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;

use super::matcher::{self, KnownDatabase, MatchOutcome};
use crate::domain::{WorkflowId, WorkflowState};
use crate::policy::PolicySet;
use crate::policy::condition::parse_number;
use crate::store::alerts::RawAlertOutcome;
use crate::store::workflows::NewWorkflow;
use crate::store::{Store, StoreError};

/// The environment recorded for an alert whose database is not configured. The Safety Mesh
/// treats anything but DEV/UAT/PROD as PROD, and the engine escalates such workflows.
pub const UNKNOWN_ENVIRONMENT: &str = "UNKNOWN";

/// What triage did with one raw alert.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Triage {
    /// A new workflow, DETECTED.
    Created { workflow_id: WorkflowId, alert_type: String, database: String },
    /// The same alert again on the same object while its workflow is open: counted there.
    Folded { workflow_id: WorkflowId, alert_type: String, database: String },
    /// A clear event for an open workflow: annotated, and resolved if nothing was done yet.
    Cleared { workflow_id: WorkflowId, resolved: bool },
    /// A clear event with no open workflow to close.
    ClearWithoutWorkflow { alert_type: String },
    /// No policy recognised it; it stays visible as unmatched.
    Unmatched,
    /// It had already been triaged (by the intake and a sweep at the same moment): nothing done.
    AlreadyTriaged,
    /// Sentri's own mail came back (it carries `X-Sentri-Message`: a notification sent to the
    /// alert mailbox, a bounce, an auto-forward). Kept, marked ignored, never an alert — a
    /// notification that matched a policy would otherwise open a workflow that notifies again.
    OwnMail,
    /// `email.alert_senders` is set and the sender is not on it: kept, marked ignored with the
    /// reason, never matched against a policy. `sender` is the From address (or what the From
    /// header said, when it is not exactly one address).
    SenderNotAllowed { sender: String },
}

/// Who may send alerts (`email.alert_senders`): exact addresses and `@domain` entries, compared
/// case-insensitively with the one address of the message's one From header. Empty admits all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertSenders {
    entries: Vec<String>,
}

impl AlertSenders {
    /// The list as configured (entries are `addr@domain` or `@domain`).
    pub fn new(entries: &[String]) -> AlertSenders {
        AlertSenders { entries: entries.iter().map(|entry| entry.trim().to_ascii_lowercase()).collect() }
    }

    /// `Ok` when the message may be read as an alert; else why not, naming the sender.
    fn admit(&self, headers: &[(String, String)], from: &str) -> Result<(), (String, String)> {
        if self.entries.is_empty() {
            return Ok(());
        }
        // The same reading of From as approval replies get: one From header, one address, so a
        // display name or a second From cannot pose as an allowed sender.
        let Some(address) = super::approval::reply::single_sender(headers) else {
            let shown: String = from.chars().filter(|c| !c.is_control()).take(200).collect();
            let reason = format!(
                "not read as an alert: the From header ({shown:?}) is not exactly one address, \
                 and email.alert_senders is set"
            );
            return Err((shown, reason));
        };
        let domain = address.rsplit_once('@').map_or("", |(_, domain)| domain);
        let allowed = self.entries.iter().any(|entry| match entry.strip_prefix('@') {
            Some(allowed_domain) => allowed_domain == domain,
            None => *entry == address,
        });
        if allowed {
            Ok(())
        } else {
            let reason = format!("not read as an alert: the sender {address} is not on email.alert_senders");
            Err((address, reason))
        }
    }
}

/// Settings that shape triage, from the brain.
#[derive(Debug, Clone)]
pub struct TriageRules {
    /// A repeat inside this window folds into the open workflow.
    pub duplicate_window: Duration,
    /// Alerts on one database inside this window are one incident.
    pub correlation_window: Duration,
    /// Who may send alerts (`email.alert_senders`); empty: anyone.
    pub alert_senders: AlertSenders,
}

impl TriageRules {
    /// The rules the brain sets (`## Duplicate Window` in brain/rules.md).
    pub fn from_brain(brain: &crate::policy::Brain) -> TriageRules {
        TriageRules {
            duplicate_window: Duration::from_secs(u64::from(brain.duplicate_window_minutes) * 60),
            correlation_window: Duration::from_secs(u64::from(brain.correlation_window_minutes) * 60),
            alert_senders: AlertSenders::default(),
        }
    }

    /// These rules, admitting alerts only from `senders` (`email.alert_senders`; empty: anyone).
    pub fn with_alert_senders(self, senders: &[String]) -> TriageRules {
        TriageRules { alert_senders: AlertSenders::new(senders), ..self }
    }
}

impl Default for TriageRules {
    fn default() -> Self {
        TriageRules {
            duplicate_window: Duration::from_secs(30 * 60),
            correlation_window: Duration::from_secs(5 * 60),
            alert_senders: AlertSenders::default(),
        }
    }
}

/// Triage the stored raw alert `raw_alert_id`.
pub fn triage(
    store: &Store,
    raw_alert_id: i64,
    policies: &PolicySet,
    databases: &[KnownDatabase],
    rules: &TriageRules,
) -> Result<Triage, StoreError> {
    match triage_once(store, raw_alert_id, policies, databases, rules) {
        Err(StoreError::AlreadyTriaged { .. }) => Ok(Triage::AlreadyTriaged),
        other => other,
    }
}

fn triage_once(
    store: &Store,
    raw_alert_id: i64,
    policies: &PolicySet,
    databases: &[KnownDatabase],
    rules: &TriageRules,
) -> Result<Triage, StoreError> {
    let row = store.get_raw_alert(raw_alert_id)?;
    if row.outcome.is_some() {
        return Ok(Triage::AlreadyTriaged);
    }
    let raw = row.to_raw_alert();
    if raw.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case(crate::notify::SENTRI_HEADER)) {
        let reason = format!("Sentri's own mail ({} header)", crate::notify::SENTRI_HEADER);
        store.set_raw_alert_outcome_because(raw_alert_id, &RawAlertOutcome::Ignored, Some(&reason))?;
        return Ok(Triage::OwnMail);
    }
    if let Err((sender, reason)) = rules.alert_senders.admit(&raw.headers, &raw.from) {
        store.set_raw_alert_outcome_because(raw_alert_id, &RawAlertOutcome::Ignored, Some(&reason))?;
        return Ok(Triage::SenderNotAllowed { sender });
    }
    let cut = raw.subject.len() + 1 + raw.body.len() > matcher::MAX_MATCH_TEXT;
    if cut {
        tracing::warn!(
            raw_alert_id,
            limit = matcher::MAX_MATCH_TEXT,
            "alert text over the matching limit: only its start was matched"
        );
    }
    let alert = match matcher::match_alert(&raw, policies, databases) {
        MatchOutcome::Unmatched { pattern_errors, .. } => {
            // A pattern that could not finish, or a text matched only in part, is said on the
            // alert, so a miss it may have caused is not taken for a plain miss.
            let mut reasons: Vec<String> = pattern_errors
                .iter()
                .map(|error| format!("the pattern of {} could not finish: {}", error.alert_type, error.error))
                .collect();
            if cut {
                reasons.push(format!("only the first {} bytes were matched", matcher::MAX_MATCH_TEXT));
            }
            let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
            store.set_raw_alert_outcome_because(raw_alert_id, &RawAlertOutcome::Unmatched, reason.as_deref())?;
            return Ok(Triage::Unmatched);
        }
        MatchOutcome::Matched(alert) => alert,
    };
    for error in &alert.pattern_errors {
        tracing::warn!(raw_alert_id, alert_type = %error.alert_type, error = %error.error, "a policy pattern could not finish on this alert");
    }
    let database = alert.database.clone().unwrap_or_else(|| "UNKNOWN".to_owned());
    let open = store
        .open_workflows_for(&alert.alert_type, &database)?
        .into_iter()
        .find(|open| same_object(&open.fields, &alert.fields));

    if alert.cleared {
        let Some(open) = open else {
            store.set_raw_alert_outcome(raw_alert_id, &RawAlertOutcome::Ignored)?;
            return Ok(Triage::ClearWithoutWorkflow { alert_type: alert.alert_type });
        };
        fold_into(store, raw_alert_id, &open.id, &alert.alert_type, &database)?;
        let resolved = open.state == WorkflowState::Detected;
        if resolved {
            store.transition(
                &open.id,
                WorkflowState::Detected,
                WorkflowState::Resolved,
                "monitor",
                "the monitor sent a clear event before anything was done",
            )?;
        }
        return Ok(Triage::Cleared { workflow_id: open.id, resolved });
    }

    if let Some(open) = open
        && within(open.created_at, store.now(), rules.duplicate_window)
    {
        fold_into(store, raw_alert_id, &open.id, &alert.alert_type, &database)?;
        return Ok(Triage::Folded { workflow_id: open.id, alert_type: alert.alert_type, database });
    }

    let correlation_window = jiff::SignedDuration::try_from(rules.correlation_window).ok();
    let workflow = store.create_workflow_in_incident(
        NewWorkflow {
            raw_alert_id: Some(raw_alert_id),
            alert_type: alert.alert_type.clone(),
            database: database.clone(),
            environment: alert.environment.clone().unwrap_or_else(|| UNKNOWN_ENVIRONMENT.to_owned()),
            severity: alert.severity.as_str().to_owned(),
            fields: alert.fields.clone(),
        },
        "triage",
        correlation_window,
    )?;
    route_and_correlate(store, &workflow, policies.brain.route(&alert.alert_type))?;
    Ok(Triage::Created { workflow_id: workflow.id, alert_type: alert.alert_type, database })
}

/// Counts the raw alert as another occurrence of the open workflow.
fn fold_into(
    store: &Store,
    raw_alert_id: i64,
    workflow_id: &str,
    alert_type: &str,
    database: &str,
) -> Result<(), StoreError> {
    let outcome = RawAlertOutcome::Folded {
        workflow_id: workflow_id.to_owned(),
        alert_type: alert_type.to_owned(),
        database: database.to_owned(),
    };
    store.set_raw_alert_outcome(raw_alert_id, &outcome)
}

/// Records which specialist the brain routes the workflow to (`brain/routing_rules.md`) and the
/// incident it joined (chosen when it was created: the open workflows on the same database
/// within the correlation window). One ROUTING_DECISION audit row.
pub(super) fn route_and_correlate(
    store: &Store,
    workflow: &crate::store::workflows::WorkflowRow,
    agent: &str,
) -> Result<(), StoreError> {
    let members: Vec<String> =
        store.incident_workflows(&workflow.incident_id)?.into_iter().map(|member| member.id.into()).collect();
    store.audit(crate::store::audit::NewAudit {
        workflow_id: Some(workflow.id.to_string()),
        database: Some(workflow.database.clone()),
        environment: Some(workflow.environment.clone()),
        actor: "triage".to_owned(),
        action: "ROUTING_DECISION".to_owned(),
        result: "ROUTED".to_owned(),
        detail: serde_json::json!({
            "agent": agent,
            "incident": workflow.incident_id,
            "incident_members": members,
        }),
    })?;
    Ok(())
}

/// Two alerts are about the same object when their non-numeric fields agree: the tablespace,
/// the session, the sequence — not the percentage, which moves between repeats.
fn same_object(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> bool {
    let object = |fields: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        fields
            .iter()
            .filter(|(_, value)| parse_number(value).is_none())
            .map(|(name, value)| (name.clone(), value.to_lowercase()))
            .collect()
    };
    let (a, b) = (object(a), object(b));
    a.iter().all(|(name, value)| b.get(name).is_none_or(|other| other == value))
}

fn within(earlier: Timestamp, now: Timestamp, window: Duration) -> bool {
    let elapsed = now.as_millisecond().saturating_sub(earlier.as_millisecond());
    u128::try_from(elapsed).is_ok_and(|elapsed| elapsed <= window.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::RawAlert;
    use crate::policy::AlertPolicy;
    use crate::policy::markdown;
    use crate::store::testing;
    use std::path::Path;
    use std::sync::Arc;

    fn policies() -> PolicySet {
        let text = "## Email Pattern\n```regex\ntablespace (\\w+) is (\\d+)% full\n```\n## Extracted Fields\n- `tablespace_name` = group(1)\n- `used_percent` = group(2)\n";
        let policy = AlertPolicy::from_document(
            Path::new("alerts/oracle/tablespace_full.md"),
            &markdown::parse(text),
            None,
            &mut Vec::new(),
        )
        .expect("policy");
        PolicySet { alerts: vec![Arc::new(policy)], ..PolicySet::default() }
    }

    fn databases() -> Vec<KnownDatabase> {
        vec![
            KnownDatabase { name: "DEV-DB-01".into(), environment: "DEV".into(), aliases: vec![], engine: None },
            KnownDatabase { name: "PROD-DB-07".into(), environment: "PROD".into(), aliases: vec![], engine: None },
        ]
    }

    fn stored(store: &Store, subject: &str) -> i64 {
        let raw = RawAlert::from_parts(subject, "", "2026-11-25T00:00:00.000Z".into());
        store.insert_raw_alert(&raw).expect("stored").0
    }

    /// Issue 6: 2.5 MB of `& a` lines once kept the intake busy for minutes (an entity decoder
    /// rescanning the rest of the body at every `&`, before the cut). Now the message is stored,
    /// judged as no reply, matched and its workflow opened within seconds, even in a debug build.
    #[test]
    fn a_body_of_megabytes_of_ampersands_is_taken_in_within_seconds() {
        let (store, _) = testing::store();
        let body = format!("Tablespace USERS is 97% full\n{}", "& a\n".repeat(640_000));
        let raw = RawAlert::from_parts("ORA alert", &body, "2026-11-25T00:00:00.000Z".into());
        let started = std::time::Instant::now();
        let (id, _) = store.insert_raw_alert(&raw).expect("stored");
        let taken = crate::pipeline::steps::take_in(
            &store,
            id,
            &policies(),
            &crate::config::Config::default(),
            &crate::config::ApprovalsConfig::default(),
        )
        .expect("taken in");
        let elapsed = started.elapsed();
        let crate::pipeline::steps::Taken::Triaged(Triage::Created { alert_type, .. }) = &taken else {
            panic!("expected a workflow, got {taken:?}")
        };
        assert_eq!(alert_type, "tablespace_full");
        assert!(store.get_raw_alert(id).expect("stored").outcome.is_some(), "its outcome is stored");
        assert!(elapsed < std::time::Duration::from_secs(5), "took {elapsed:?}");
    }

    #[test]
    fn new_repeat_other_object_clear_and_unmatched() {
        let (store, clock) = testing::store();
        let (set, known, rules) = (policies(), databases(), TriageRules::default());
        let first = triage(&store, stored(&store, "Tablespace USERS is 97% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        let Triage::Created { workflow_id, .. } = &first else { panic!("expected a workflow, got {first:?}") };
        let created = store.get_workflow(workflow_id).expect("workflow");
        assert_eq!((created.database.as_str(), created.environment.as_str()), ("DEV-DB-01", "DEV"));

        clock.advance_ms(60_000);
        let repeat = triage(&store, stored(&store, "Tablespace USERS is 98% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        assert!(matches!(&repeat, Triage::Folded { workflow_id: folded, .. } if folded == workflow_id), "{repeat:?}");
        assert_eq!(store.get_workflow(workflow_id).expect("workflow").occurrences, 2);

        let other = triage(&store, stored(&store, "Tablespace SALES is 97% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        assert!(matches!(other, Triage::Created { .. }), "another tablespace is another workflow: {other:?}");

        let clear =
            triage(&store, stored(&store, "CLEARED - Tablespace USERS is 70% full on DEV-DB-01"), &set, &known, &rules)
                .expect("triage");
        assert_eq!(clear, Triage::Cleared { workflow_id: workflow_id.clone(), resolved: true });
        assert_eq!(store.get_workflow(workflow_id).expect("workflow").state, WorkflowState::Resolved);

        let unmatched = triage(&store, stored(&store, "lunch menu"), &set, &known, &rules).expect("triage");
        assert_eq!(unmatched, Triage::Unmatched);
        assert_eq!(store.list_raw_alerts(true, None).expect("list").len(), 1, "the unmatched alert stays visible");
    }

    #[test]
    fn sentri_own_mail_is_kept_and_ignored_even_when_it_reads_like_an_alert() {
        let (store, _) = testing::store();
        let (set, known, rules) = (policies(), databases(), TriageRules::default());
        let mail = b"From: sentri@example.org\r\nTo: dba-alerts@example.org\r\nSubject: Tablespace USERS is 97% full on DEV-DB-01\r\nMessage-ID: <sentri.outbox-7.1@example.org>\r\nX-Sentri-Message: outbox-7\r\n\r\nTablespace USERS is 97% full on DEV-DB-01\r\n";
        let raw = RawAlert::from_rfc822(mail, "2026-11-25T00:00:00.000Z".into());
        let id = store.insert_raw_alert(&raw).expect("stored").0;
        assert_eq!(triage(&store, id, &set, &known, &rules).expect("triage"), Triage::OwnMail);
        assert!(store.list_workflows(&Default::default()).expect("list").is_empty(), "no workflow from own mail");
        assert_eq!(store.get_raw_alert(id).expect("kept").outcome, Some(RawAlertOutcome::Ignored));
    }

    #[test]
    fn alerts_on_one_database_close_in_time_are_one_incident() {
        let (store, clock) = testing::store();
        let (set, known, rules) = (policies(), databases(), TriageRules::default());
        let first = triage(&store, stored(&store, "Tablespace USERS is 97% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        clock.advance_ms(60_000);
        let second = triage(&store, stored(&store, "Tablespace SALES is 97% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        let (Triage::Created { workflow_id: first, .. }, Triage::Created { workflow_id: second, .. }) = (first, second)
        else {
            panic!("two workflows expected");
        };
        let routing = store
            .list_audit(&crate::store::audit::AuditFilter {
                workflow_id: Some(second.to_string()),
                ..Default::default()
            })
            .expect("audit")
            .into_iter()
            .find(|row| row.action == "ROUTING_DECISION")
            .expect("a routing decision is audited");
        assert_eq!(routing.detail["incident"], first.as_str(), "the older workflow names the incident");
        assert_eq!(routing.detail["agent"], "storage_agent");
        let members = store.incident_workflows(&first).expect("incident");
        assert_eq!(members.iter().map(|w| w.id.as_str()).collect::<Vec<_>>(), [first.as_str(), second.as_str()]);

        // Another database is another incident; so is an alert after the window.
        let other = triage(&store, stored(&store, "Tablespace USERS is 97% full on PROD-DB-07"), &set, &known, &rules)
            .expect("triage");
        let Triage::Created { workflow_id: other, .. } = other else { panic!("a workflow expected") };
        assert_eq!(store.get_workflow(&other).expect("get").incident_id, other);
        clock.advance_ms(10 * 60_000);
        let late = triage(&store, stored(&store, "Tablespace TEMP2 is 97% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        let Triage::Created { workflow_id: late, .. } = late else { panic!("a workflow expected") };
        assert_eq!(store.get_workflow(&late).expect("get").incident_id, late, "outside the 5-minute window");
    }

    #[test]
    fn an_alert_is_triaged_once_whoever_asks() {
        let (store, _) = testing::store();
        let (set, known, rules) = (policies(), databases(), TriageRules::default());
        let id = stored(&store, "Tablespace USERS is 97% full on DEV-DB-01");
        assert!(matches!(triage(&store, id, &set, &known, &rules).expect("first"), Triage::Created { .. }));
        assert_eq!(triage(&store, id, &set, &known, &rules).expect("second"), Triage::AlreadyTriaged);
        assert_eq!(store.list_workflows(&Default::default()).expect("list").len(), 1);
        let new = NewWorkflow {
            raw_alert_id: Some(id),
            alert_type: "tablespace_full".into(),
            database: "DEV-DB-01".into(),
            environment: "DEV".into(),
            severity: "HIGH".into(),
            fields: BTreeMap::new(),
        };
        assert!(matches!(store.create_workflow(new, "racer"), Err(StoreError::AlreadyTriaged { .. })));
        assert_eq!(store.list_workflows(&Default::default()).expect("list").len(), 1, "the loser wrote nothing");
    }

    #[test]
    fn a_repeat_after_the_window_opens_a_new_workflow() {
        let (store, clock) = testing::store();
        let (set, known) = (policies(), databases());
        let rules = TriageRules { duplicate_window: Duration::from_secs(600), ..TriageRules::default() };
        let first = triage(&store, stored(&store, "Tablespace USERS is 97% full on DEV-DB-01"), &set, &known, &rules)
            .expect("triage");
        clock.advance_ms(601_000);
        let later =
            triage(&store, stored(&store, "Tablespace USERS is 97% full"), &set, &known, &rules).expect("triage");
        assert!(matches!(first, Triage::Created { .. }));
        assert!(matches!(later, Triage::Created { .. }), "{later:?}");
    }
    #[test]
    fn only_listed_senders_are_read_as_alerts_and_the_rest_is_kept_with_the_reason() {
        let (store, clock) = testing::store();
        let (set, known) = (policies(), databases());
        let rules = TriageRules::default()
            .with_alert_senders(&["OEM@company.com".to_owned(), "@monitoring.company.com".to_owned()]);
        let subject = "Tablespace USERS is 97% full on DEV-DB-01";
        let mut n = 0;
        let mut mail = |from_lines: &str| {
            n += 1;
            let text = format!("{from_lines}Subject: {subject}\r\nMessage-ID: <m{n}@x>\r\n\r\n{subject}\r\n");
            let raw = RawAlert::from_rfc822(text.as_bytes(), "2026-11-25T00:00:00.000Z".into());
            store.insert_raw_alert(&raw).expect("stored").0
        };
        // The attacks: a stranger, a display name posing as an allowed address, a second From,
        // a subdomain of an allowed domain, a look-alike domain.
        for from in [
            "From: Mallory <mallory@evil.example>\r\n",
            "From: \"oem@company.com\" <mallory@evil.example>\r\n",
            "From: oem@company.com\r\nFrom: mallory@evil.example\r\n",
            "From: nagios@eu.monitoring.company.com\r\n",
            "From: nagios@monitoring.company.com.evil.example\r\n",
            "From: oem@company.com, mallory@evil.example\r\n",
        ] {
            let id = mail(from);
            let outcome = triage(&store, id, &set, &known, &rules).expect("triage");
            assert!(matches!(outcome, Triage::SenderNotAllowed { .. }), "{from:?}: {outcome:?}");
            let row = store.get_raw_alert(id).expect("kept");
            assert_eq!(row.outcome, Some(RawAlertOutcome::Ignored), "{from:?}");
            let reason = row.outcome_reason.expect("a reason is recorded");
            assert!(reason.contains("email.alert_senders"), "{reason}");
        }
        let Triage::SenderNotAllowed { sender } =
            triage(&store, mail("From: Mallory <Mallory@Evil.example>\r\n"), &set, &known, &rules).expect("triage")
        else {
            panic!("refused")
        };
        assert_eq!(sender, "mallory@evil.example");
        assert!(store.list_workflows(&Default::default()).expect("list").is_empty(), "no workflow from strangers");

        // Listed senders are read as alerts: an address (any case, with a display name) and a domain.
        let first = triage(&store, mail("From: OEM <oem@COMPANY.com>\r\n"), &set, &known, &rules).expect("triage");
        assert!(matches!(first, Triage::Created { .. }), "{first:?}");
        clock.advance_ms(1000);
        let second =
            triage(&store, mail("From: nagios@monitoring.company.com\r\n"), &set, &known, &rules).expect("triage");
        assert!(matches!(second, Triage::Folded { .. }), "{second:?}");
    }

    #[test]
    fn without_an_allowlist_anyone_may_send_alerts() {
        let (store, _) = testing::store();
        let raw = RawAlert::from_rfc822(
            b"From: someone@anywhere.example\r\nSubject: Tablespace USERS is 97% full on DEV-DB-01\r\n\r\nx\r\n",
            "2026-11-25T00:00:00.000Z".into(),
        );
        let id = store.insert_raw_alert(&raw).expect("stored").0;
        let outcome = triage(&store, id, &policies(), &databases(), &TriageRules::default()).expect("triage");
        assert!(matches!(outcome, Triage::Created { .. }), "{outcome:?}");
    }
}
