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
use super::objects;
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
    /// The email reported several objects ([`super::objects`]): each became its own raw alert
    /// (`raw_alert_id`), triaged as any alert; `parts` says what each became, in order.
    Split { parts: Vec<(i64, Triage)> },
}

impl Triage {
    /// What triage did, object by object: a split's parts, or this outcome alone.
    pub fn into_parts(self) -> Vec<Triage> {
        match self {
            Triage::Split { parts } => parts.into_iter().flat_map(|(_, part)| part.into_parts()).collect(),
            one => vec![one],
        }
    }
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
    match triage_once(store, raw_alert_id, policies, databases, rules, true) {
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
    may_split: bool,
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
    if may_split && let Some(split) = objects::split(&raw) {
        return split_and_triage(store, raw_alert_id, &split, policies, databases, rules);
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

/// Stores one raw alert per object of `split` and triages each (a child is never split again).
/// A child already triaged, by a sweep that got there first, says so and is not triaged twice.
fn split_and_triage(
    store: &Store,
    raw_alert_id: i64,
    split: &objects::Split,
    policies: &PolicySet,
    databases: &[KnownDatabase],
    rules: &TriageRules,
) -> Result<Triage, StoreError> {
    let mut reason = format!("{} objects listed, one alert for each of {}", split.listed, split.parts.len());
    for left_out in &split.left_out {
        reason.push_str("; ");
        reason.push_str(left_out);
    }
    let parts: Vec<(String, String)> =
        split.parts.iter().map(|part| (part.subject.clone(), part.body.clone())).collect();
    let children = store.split_raw_alert(raw_alert_id, &parts, &reason)?;
    tracing::info!(raw_alert_id, objects = children.len(), "one email, several alerts: one per object");
    let mut outcomes = Vec::with_capacity(children.len());
    for child in children {
        let outcome = match triage_once(store, child, policies, databases, rules, false) {
            Err(StoreError::AlreadyTriaged { .. }) => Triage::AlreadyTriaged,
            other => other?,
        };
        outcomes.push((child, outcome));
    }
    Ok(Triage::Split { parts: outcomes })
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

    /// The default pack, from a fresh home.
    fn default_pack() -> PolicySet {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = crate::home::Home::at(dir.path().join("home"));
        home.init(false).expect("init");
        PolicySet::load(&home.root)
    }

    fn oracle_databases() -> Vec<KnownDatabase> {
        ["HRPROD", "PRODDB"]
            .into_iter()
            .map(|name| KnownDatabase {
                name: name.into(),
                environment: "PROD".into(),
                aliases: vec![],
                engine: Some(crate::targets::DbKind::Oracle),
            })
            .collect()
    }

    /// A corpus email (`tests/data/alert_corpus/…`), stored.
    fn stored_corpus(store: &Store, file: &str) -> i64 {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/alert_corpus").join(file);
        let text = std::fs::read(&path).expect("corpus file");
        let raw = RawAlert::from_rfc822(&text, "2026-11-25T00:00:00.000Z".into());
        store.insert_raw_alert(&raw).expect("stored").0
    }

    fn stored_nagios(store: &Store, notification: &str, output: &str) -> i64 {
        let body = format!(
            "***** Nagios *****\n\nService: ORA HRPROD tablespaces\nHost: dbhost02\n\nAdditional Info:\n\n{output}\n"
        );
        let raw = RawAlert::from_parts(
            &format!(
                "** {notification} Service Alert: dbhost02/ORA HRPROD tablespaces is {} **",
                &output[..output.find(' ').unwrap_or(0)]
            ),
            &body,
            "2026-11-25T00:00:00.000Z".into(),
        );
        store.insert_raw_alert(&raw).expect("stored").0
    }

    /// The (alert type, database, tablespace) of each workflow a split opened.
    fn opened(store: &Store, triage: &Triage) -> Vec<(String, String, String)> {
        let Triage::Split { parts } = triage else { panic!("expected a split, got {triage:?}") };
        parts
            .iter()
            .map(|(_, part)| {
                let Triage::Created { workflow_id, .. } = part else { panic!("expected a workflow, got {part:?}") };
                let workflow = store.get_workflow(workflow_id).expect("workflow");
                (workflow.alert_type, workflow.database, workflow.fields["tablespace_name"].clone())
            })
            .collect()
    }

    #[test]
    fn a_check_oracle_health_list_opens_one_workflow_per_tablespace_over_threshold() {
        let (store, _) = testing::store();
        let (set, known, rules) = (default_pack(), oracle_databases(), TriageRules::default());
        let email = stored_corpus(&store, "nagios/tbs_usage_multi.txt");
        let triage = triage(&store, email, &set, &known, &rules).expect("triage");
        let each = |tablespace: &str| ("tablespace_full".to_owned(), "HRPROD".to_owned(), tablespace.to_owned());
        assert_eq!(opened(&store, &triage), vec![each("HR_DATA"), each("SYSAUX")], "USERS and SYSTEM are under 90 %");
        let Triage::Split { parts } = &triage else { unreachable!() };
        let first = store.get_workflow(&match &parts[0].1 {
            Triage::Created { workflow_id, .. } => workflow_id.clone(),
            other => panic!("{other:?}"),
        });
        assert_eq!(first.expect("workflow").fields["used_percent"], "98.20", "each object keeps its own value");

        let row = store.get_raw_alert(email).expect("the email is kept");
        assert_eq!(row.outcome, Some(RawAlertOutcome::Split));
        let reason = row.outcome_reason.unwrap_or_default();
        assert!(
            reason.contains("4 objects listed, one alert for each of 2")
                && reason.contains("tbs USERS usage is 44.50%"),
            "{reason}"
        );
        let child = store.get_raw_alert(parts[1].0).expect("child");
        assert_eq!(child.message_id, format!("{}#object-2", row.message_id));
        assert_eq!(child.sender, row.sender);

        assert_eq!(triage_again(&store, email, &set, &known, &rules), Triage::AlreadyTriaged, "split once");
        assert_eq!(store.list_workflows(&Default::default()).expect("list").len(), 2);
    }

    fn triage_again(store: &Store, id: i64, set: &PolicySet, known: &[KnownDatabase], rules: &TriageRules) -> Triage {
        triage(store, id, set, known, rules).expect("triage")
    }

    #[test]
    fn a_split_cut_short_by_a_crash_loses_no_object_and_doubles_none() {
        let (store, _) = testing::store();
        let (set, known, rules) = (default_pack(), oracle_databases(), TriageRules::default());
        let email = stored_corpus(&store, "nagios/tbs_usage_multi.txt");
        let raw = store.get_raw_alert(email).expect("stored").to_raw_alert();
        let split = objects::split(&raw).expect("a list");
        let parts: Vec<(String, String)> = split.parts.iter().map(|p| (p.subject.clone(), p.body.clone())).collect();
        // The crash: the children are stored, none triaged yet.
        let children = store.split_raw_alert(email, &parts, "split").expect("split");
        let pending: Vec<i64> = store.pending_raw_alerts().expect("pending").iter().map(|row| row.id).collect();
        assert_eq!(pending, children, "after the crash the children wait, the email does not");
        for child in &children {
            assert!(matches!(triage_again(&store, *child, &set, &known, &rules), Triage::Created { .. }));
        }
        assert!(store.split_raw_alert(email, &parts, "split").is_err(), "an email is split once");
        assert_eq!(store.list_workflows(&Default::default()).expect("list").len(), 2);
    }

    #[test]
    fn a_recovery_listing_several_objects_clears_each_open_workflow() {
        let (store, _) = testing::store();
        let (set, known, rules) = (default_pack(), oracle_databases(), TriageRules::default());
        let problem = stored_nagios(
            &store,
            "PROBLEM",
            "CRITICAL - tbs HR_DATA usage is 98.20%, tbs SYSAUX usage is 91.02% | 'tbs_hr_data_usage_pct'=98.20%;90;98 'tbs_sysaux_usage_pct'=91.02%;90;98",
        );
        let opened = opened(&store, &triage_again(&store, problem, &set, &known, &rules));
        assert_eq!(opened.len(), 2);
        let ok = stored_nagios(
            &store,
            "RECOVERY",
            "OK - tbs HR_DATA usage is 61.00%, tbs SYSAUX usage is 70.00% | 'tbs_hr_data_usage_pct'=61.00%;90;98 'tbs_sysaux_usage_pct'=70.00%;90;98",
        );
        let Triage::Split { parts } = triage_again(&store, ok, &set, &known, &rules) else { panic!("a split") };
        assert_eq!(parts.len(), 2);
        for (_, part) in parts {
            let Triage::Cleared { workflow_id, resolved } = part else { panic!("a clear, got {part:?}") };
            assert!(resolved);
            assert_eq!(store.get_workflow(&workflow_id).expect("workflow").state, WorkflowState::Resolved);
        }
    }

    #[test]
    fn an_oem_rule_set_email_opens_one_workflow_per_event() {
        let (store, _) = testing::store();
        let (set, known, rules) = (default_pack(), oracle_databases(), TriageRules::default());
        let email = stored_corpus(&store, "oem/ruleset_two_events.txt");
        let triage = triage_again(&store, email, &set, &known, &rules);
        let each = |tablespace: &str| ("tablespace_full".to_owned(), "PRODDB".to_owned(), tablespace.to_owned());
        assert_eq!(opened(&store, &triage), vec![each("USERS"), each("SOE")]);
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
