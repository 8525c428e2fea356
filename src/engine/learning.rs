//! Alerts no policy knows. An email the matcher left unmatched is shown to the configured model
//! ([`model::classify_email`]); when it reads as an alert about a configured database, its
//! reading becomes a draft policy (`policy::learned`), checked by the real loader — the pattern
//! must match this very email and give the database the model named — and a workflow opens with
//! that draft as its provisional policy. It is verified, diagnosed and planned like any other,
//! and every fix waits for a human (`MeshContext::provisional`). Only when that fix was approved
//! and validated is the draft written to `alerts/learned/<name>.md`, with the fix that ran, and
//! the pack reloaded: the next such email follows the normal path, with no model.
//!
//! A model that is down, unsure, or that says "not a database alert" leaves the email unmatched
//! and visible, as with no model.

use std::collections::BTreeMap;
use std::sync::Arc;

use tracing::{info, warn};

use super::Engine;
use crate::config::LlmProvider;
use crate::diagnose::AlertContext;
use crate::diagnose::model::classify::{AlertReading, Classification, KnownTarget};
use crate::diagnose::model::{self, Configured, Depth};
use crate::domain::{Risk, WorkflowId};
use crate::policy::AlertPolicy;
use crate::policy::check_alert;
use crate::policy::learned::{self, LearnedDraft, SampleAlert};
use crate::store::RawAlertRow;
use crate::store::audit::NewAudit;
use crate::store::model_calls::{CallSite, StoreLedger};
use crate::store::workflows::{NewWorkflow, WorkflowRow};

/// The action type of a draft before any fix ran: no Action Rules row has it, so nothing about
/// it is automatic even before the provisional flag is read.
const UNDECIDED_ACTION: &str = "LEARNED_UNDECIDED";

impl Engine {
    /// After triage left `raw_alert_id` unmatched: asks the model, when one is configured. Returns
    /// the workflow it opened, if it did.
    pub(super) async fn learn_unmatched(&self, raw_alert_id: i64) -> Option<WorkflowId> {
        let (raw, classified) = self.classify(raw_alert_id).await?;
        let (outcome, mut detail) = match &classified.reading {
            Ok(Classification::NotAnAlert { reason }) => ("NOT_AN_ALERT", serde_json::json!({ "reason": reason })),
            Ok(Classification::Alert(reading)) => {
                ("DATABASE_ALERT", serde_json::json!({ "name": reading.name, "database": reading.database }))
            }
            Err(reason) => ("UNREADABLE", serde_json::json!({ "reason": reason })),
        };
        detail["raw_alert_id"] = raw_alert_id.into();
        detail["calls"] = classified.record.calls.len().into();
        let Ok(Classification::Alert(reading)) = classified.reading else {
            info!(raw_alert_id, outcome, "an unmatched alert stays unmatched");
            self.audit_classification(outcome, detail).await;
            return None;
        };
        match self.open_provisional(raw_alert_id, raw, &reading).await {
            Ok(workflow) => {
                detail["workflow_id"] = workflow.id.to_string().into();
                info!(workflow_id = %workflow.id, alert_type = %workflow.alert_type, "a model-classified alert opened a workflow");
                self.audit_classification(outcome, detail).await;
                Some(workflow.id)
            }
            Err(problems) => {
                detail["refused"] = problems.clone().into();
                warn!(raw_alert_id, %problems, "the model's reading of an unmatched alert does not hold; it stays unmatched");
                self.audit_classification("REFUSED", detail).await;
                None
            }
        }
    }

    /// The raw alert and what the configured model made of it; `None` with no model, no real
    /// database to name, or no raw alert.
    async fn classify(&self, raw_alert_id: i64) -> Option<(RawAlertRow, model::Classified)> {
        if self.config.llm.provider == LlmProvider::None || !self.config.llm.classify_unmatched {
            return None;
        }
        let configured = match Configured::from_config(&self.config) {
            Ok(Some(configured)) => configured,
            Ok(None) => return None,
            Err(error) => {
                warn!(raw_alert_id, %error, "an unmatched alert is not classified: the model cannot be asked");
                return None;
            }
        };
        let targets: Vec<KnownTarget> = self
            .config
            .databases
            .iter()
            .filter(|database| !database.engine.is_simulated())
            .map(|database| KnownTarget {
                name: database.name.clone(),
                engine: database.engine,
                environment: database.environment.to_string(),
            })
            .collect();
        if targets.is_empty() {
            return None;
        }
        let raw = self.blocking(move |store| store.get_raw_alert(raw_alert_id)).await.ok()?;
        let alert = AlertContext { subject: raw.subject.clone(), body: raw.body.clone(), ..AlertContext::default() };
        let ledger = StoreLedger {
            store: &self.store,
            site: CallSite { workflow_id: None, database: None, environment: None, actor: "engine".into() },
        };
        let advisor = configured.advisor(&ledger, Depth::OneShot);
        let classified = model::classify_email(&advisor, &alert, &targets).await;
        Some((raw, classified))
    }

    /// The workflow for `reading`, its draft checked first; or why the draft does not hold.
    async fn open_provisional(
        &self,
        raw_alert_id: i64,
        raw: RawAlertRow,
        reading: &AlertReading,
    ) -> Result<WorkflowRow, String> {
        if self.policies.snapshot().alert(&reading.name).is_some() {
            // Its workflow would run under the pack's policy of that name, not the draft.
            return Err(format!(
                "name: a policy named `{}` is already loaded; a draft may not take its name",
                reading.name
            ));
        }
        let sample = SampleAlert { subject: raw.subject, body: raw.body };
        let (draft, policy, fields) =
            provisional(reading, sample, &self.config).map_err(|problems| problems.join("; "))?;
        let environment = self
            .config
            .database(&reading.database)
            .map(|database| database.environment.to_string())
            .unwrap_or_default();
        let new = NewWorkflow {
            raw_alert_id: Some(raw_alert_id),
            alert_type: policy.name.clone(),
            database: reading.database.clone(),
            environment,
            severity: reading.severity.as_str().to_owned(),
            fields,
        };
        let text = learned::render(&draft);
        self.blocking(move |store| store.create_provisional_workflow(new, &text, "engine")).await.map_err(|error| {
            warn!(raw_alert_id, %error, "the classified alert's workflow could not be stored");
            error.to_string()
        })
    }

    async fn audit_classification(&self, outcome: &'static str, detail: serde_json::Value) {
        let audit = NewAudit {
            workflow_id: detail["workflow_id"].as_str().map(str::to_owned),
            database: detail["database"].as_str().map(str::to_owned),
            environment: None,
            actor: "engine".into(),
            action: "ALERT_CLASSIFIED".into(),
            result: outcome.into(),
            detail,
        };
        if let Err(error) = self.blocking(move |store| store.audit(audit)).await {
            warn!(%error, "the classification was not audited");
        }
    }

    /// The policy of `workflow`: the pack's, the alert policy of the check whose finding it is
    /// (`check:<name>`), or the draft a model made for it.
    pub(super) fn policy_of(&self, workflow: &WorkflowRow) -> Option<Arc<AlertPolicy>> {
        let pack = self.policies.snapshot();
        if let Some(policy) = pack.alert(&workflow.alert_type) {
            return Some(Arc::clone(policy));
        }
        if let Some(name) = check_alert::check_name(&workflow.alert_type) {
            let check = pack.checks.iter().find(|check| check.name == name)?;
            return match check_alert::alert_policy(check, &pack) {
                Ok(policy) => Some(Arc::new(policy)),
                Err(error) => {
                    warn!(workflow_id = %workflow.id, %error, "the check's findings cannot be driven");
                    None
                }
            };
        }
        let text = workflow.provisional_policy.as_deref()?;
        match learned::check_provisional_text(&provisional_path(workflow), text) {
            Ok(policy) => Some(Arc::new(policy)),
            Err(problems) => {
                warn!(workflow_id = %workflow.id, problems = %problems.join("; "), "the provisional policy no longer loads");
                None
            }
        }
    }

    /// After a provisional workflow COMPLETED: its draft, with the fix that ran and who approved
    /// it, becomes `alerts/learned/<name>.md`, and the pack is reloaded. A failure is logged and
    /// audited; the workflow's ending stands.
    pub(super) async fn write_learned(&self, workflow: &WorkflowRow) {
        let Some(text) = workflow.provisional_policy.as_deref() else { return };
        let (Some(plan), Some(raw_id)) = (workflow.plan.as_ref(), workflow.raw_alert_id) else { return };
        let id = workflow.id.to_string();
        let approvals = self.blocking(move |store| store.approvals(&id)).await.unwrap_or_default();
        let approved_by: Vec<String> = approvals
            .iter()
            .filter(|approval| approval.plan_hash == workflow.plan_hash.as_deref().unwrap_or_default())
            .filter(|approval| approval.decision == crate::store::Decision::Approved)
            .map(|approval| approval.approver.clone())
            .collect();
        let raw = self.blocking(move |store| store.get_raw_alert(raw_id.0)).await;
        let written = match (learned::check_provisional_text(&provisional_path(workflow), text), raw) {
            (Ok(policy), Ok(raw)) => match sourced(workflow, plan) {
                Err(reason) => Err(reason),
                Ok(renames) => {
                    let reword = |sql: &str| reword(sql, plan.engine, &renames);
                    let draft = LearnedDraft {
                        name: policy.name.clone(),
                        engine: policy.engine,
                        severity: policy.severity,
                        action_type: plan.action_type.clone(),
                        risk: plan.risk,
                        description: policy.description.clone(),
                        email_pattern: policy.pattern.source.clone(),
                        fields: policy
                            .fields
                            .iter()
                            .filter_map(|rule| rule.groups.first().map(|group| (rule.name.clone(), *group)))
                            .collect(),
                        verification: policy.verification.as_ref().map(|block| block.sql.clone()).unwrap_or_default(),
                        confirmed_when: policy.confirmed_when.iter().map(ToString::to_string).collect(),
                        forward: plan.steps.iter().map(|step| reword(&step.sql)).collect(),
                        rollback: plan.rollback.iter().map(|step| reword(&step.sql)).collect(),
                        irreversible: plan.irreversible.clone(),
                        validation: plan.validation.as_ref().map(|step| reword(&step.sql)),
                        success_criteria: plan.proof.success_criteria.clone(),
                        identifiers: plan
                            .identifiers
                            .iter()
                            .map(|(name, kind)| (renames.get(name).cloned().unwrap_or_else(|| name.clone()), *kind))
                            .collect(),
                        sample_alert: SampleAlert { subject: raw.subject, body: raw.body },
                        learned_from: workflow.id.clone(),
                        approved_by,
                    };
                    learned::write(&self.policies.home().join("alerts"), &draft)
                        .map_err(|error| error.to_string())
                        .map(|path| (path, draft.name))
                }
            },
            (Err(problems), _) => Err(problems.join("; ")),
            (_, Err(error)) => Err(error.to_string()),
        };
        let (result, detail) = match written {
            Ok((path, name)) => {
                self.policies.reload();
                info!(workflow_id = %workflow.id, path = %path.display(), "a learned policy was written");
                ("WRITTEN", serde_json::json!({ "path": path.display().to_string(), "alert_type": name }))
            }
            Err(reason) => {
                warn!(workflow_id = %workflow.id, %reason, "the learned policy was not written");
                ("NOT_WRITTEN", serde_json::json!({ "reason": reason }))
            }
        };
        let audit = NewAudit {
            workflow_id: Some(workflow.id.to_string()),
            database: Some(workflow.database.clone()),
            environment: Some(workflow.environment.clone()),
            actor: "engine".into(),
            action: "POLICY_LEARNED".into(),
            result: result.into(),
            detail,
        };
        if let Err(error) = self.blocking(move |store| store.audit(audit)).await {
            warn!(%error, "the learned policy was not audited");
        }
    }
}

/// Where each value of the fix that ran will come from next time, as placeholder renames. A
/// placeholder the email's fields or the verification row already name stays; one the
/// diagnosis filled (`:holder_pid` from an evidence row) is renamed to the field or column that
/// carried the same value (`:pid`). A placeholder nothing carries refuses the policy: a learned
/// fix the next alert cannot fill would be a broken file.
fn sourced(workflow: &WorkflowRow, plan: &crate::domain::Plan) -> Result<BTreeMap<String, String>, String> {
    let evidence = workflow.verification.as_ref().map(|verification| &verification.evidence);
    let known = |name: &str| workflow.fields.contains_key(name) || evidence.is_some_and(|row| row.contains_key(name));
    let carrier = |value: &str| {
        workflow
            .fields
            .iter()
            .chain(evidence.into_iter().flatten())
            .find(|(_, carried)| carried.as_str() == value)
            .map(|(name, _)| name.clone())
    };
    let statements = plan.steps.iter().chain(&plan.rollback).chain(&plan.validation).map(|step| step.sql.as_str());
    let mut renames = BTreeMap::new();
    let mut missing = Vec::new();
    for placeholder in statements.flat_map(crate::targets::sql::placeholders) {
        let name = placeholder.name;
        if known(&name) || renames.contains_key(&name) {
            continue;
        }
        match plan.values.get(&name).cloned().flatten().and_then(|value| carrier(&value)) {
            Some(field) => {
                renames.insert(name, field);
            }
            None => missing.push(format!(":{name}")),
        }
    }
    if missing.is_empty() {
        Ok(renames)
    } else {
        missing.dedup();
        Err(format!(
            "the fix needs {}, which neither the email's fields nor the verification row give: the next alert could not fill it",
            missing.join(", ")
        ))
    }
}

/// `sql` with its `:name` placeholders renamed by `renames`, found by the lexer (never inside a
/// literal or a comment).
fn reword(sql: &str, engine: crate::domain::DbKind, renames: &BTreeMap<String, String>) -> String {
    let lexed = crate::sql::lexer::lex(sql, crate::targets::sql_dialect(engine));
    let mut out = sql.to_owned();
    for (token, span) in lexed.tokens.iter().zip(&lexed.spans).rev() {
        if let crate::sql::lexer::Token::Placeholder(name) = token
            && let Some(new) = renames.get(name)
        {
            out.replace_range(span.clone(), &format!(":{new}"));
        }
    }
    out
}

/// Where a provisional policy would live: the loader names a policy after its file, so the
/// draft is read as the file it becomes.
fn provisional_path(workflow: &WorkflowRow) -> std::path::PathBuf {
    std::path::Path::new("alerts").join(learned::FOLDER).join(format!("{}.md", workflow.alert_type))
}

/// The draft policy for `reading`, checked by the real loader, and the fields its pattern
/// extracts from the email. Refused when the pattern's `database` is not the database the model
/// named.
fn provisional(
    reading: &AlertReading,
    sample: SampleAlert,
    config: &crate::config::Config,
) -> Result<(LearnedDraft, AlertPolicy, BTreeMap<String, String>), Vec<String>> {
    let name = learned::sanitize_name(&reading.name).map_err(|error| vec![error.to_string()])?;
    // The read path refuses anything else when it runs; refused here, nothing is opened on it.
    if let Err(error) = crate::targets::read_only_text(&reading.database, reading.engine, &reading.verification) {
        return Err(vec![format!("verification: not a read-only query: {error}")]);
    }
    let draft = LearnedDraft {
        name,
        engine: reading.engine,
        severity: reading.severity,
        action_type: UNDECIDED_ACTION.to_owned(),
        risk: Risk::High,
        description: reading.description.clone(),
        email_pattern: reading.email_pattern.clone(),
        fields: reading.fields.clone(),
        verification: reading.verification.clone(),
        confirmed_when: reading.confirmed_when.clone(),
        forward: Vec::new(),
        rollback: Vec::new(),
        irreversible: None,
        validation: None,
        success_criteria: Vec::new(),
        identifiers: BTreeMap::new(),
        sample_alert: sample,
        learned_from: WorkflowId::from("provisional"),
        approved_by: Vec::new(),
    };
    let policy = learned::check_provisional(&draft)?;
    let fields: BTreeMap<String, String> =
        learned::extract(&draft, &draft.sample_alert.normalized()).unwrap_or_default().into_iter().collect();
    let named = fields.get("database").and_then(|written| config.database(written)).map(|database| &database.name);
    if named != Some(&reading.database) {
        return Err(vec![format!(
            "the pattern's database field gives {:?}, not the database the model named ({})",
            fields.get("database"),
            reading.database
        )]);
    }
    Ok((draft, policy, fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DbKind, Severity};

    fn config() -> crate::config::Config {
        let yaml = "databases:\n  - name: PG-DEV\n    engine: postgres\n    environment: DEV\n    connection_string: \"postgresql://app@127.0.0.1:5432/app\"\n";
        crate::config::Config::from_yaml(yaml, std::path::Path::new("sentri.yaml"), &|_| None).expect("config").config
    }

    fn reading(pattern: &str) -> AlertReading {
        AlertReading {
            name: "pg_archiver_failing".into(),
            database: "PG-DEV".into(),
            engine: DbKind::Postgres,
            severity: Severity::High,
            description: "WAL archiving keeps failing".into(),
            email_pattern: pattern.into(),
            fields: vec![("database".into(), 1)],
            verification: "SELECT failed_count FROM pg_stat_archiver".into(),
            confirmed_when: vec!["failed_count >= 1".into()],
        }
    }

    fn sample() -> SampleAlert {
        SampleAlert { subject: "ARCHIVER FAILING on PG-DEV".into(), body: "archive_command returned 1".into() }
    }

    #[test]
    fn a_reading_becomes_a_checked_draft_with_the_emails_fields() {
        let (draft, policy, fields) =
            provisional(&reading(r"ARCHIVER FAILING on (\S+)"), sample(), &config()).expect("a draft");
        assert_eq!(policy.name, "pg_archiver_failing");
        assert_eq!(fields.get("database").map(String::as_str), Some("PG-DEV"));
        assert!(draft.forward.is_empty(), "no fix before one is approved");
    }

    #[test]
    fn placeholders_are_renamed_by_the_lexer_never_inside_literals_or_comments() {
        let renames = BTreeMap::from([("holder_pid".to_owned(), "pid".to_owned())]);
        let sql = "SELECT pg_terminate_backend(:holder_pid) /* :holder_pid */ WHERE ':holder_pid' <> ''";
        assert_eq!(
            reword(sql, DbKind::Postgres, &renames),
            "SELECT pg_terminate_backend(:pid) /* :holder_pid */ WHERE ':holder_pid' <> ''"
        );
    }

    #[test]
    fn a_pattern_that_misses_the_email_or_names_another_database_is_refused() {
        let missed = provisional(&reading(r"DISK FULL on (\S+)"), sample(), &config()).expect_err("refused");
        assert!(
            missed.iter().any(|problem| problem.contains("email_pattern") || problem.contains("sample")),
            "{missed:?}"
        );
        let other = provisional(&reading(r"ARCHIVER (\S+)"), sample(), &config()).expect_err("refused");
        let mut writing = reading(r"ARCHIVER FAILING on (\S+)");
        writing.verification = "UPDATE pg_settings SET setting = 'on' WHERE name = 'archive_mode'".into();
        let refused = provisional(&writing, sample(), &config()).expect_err("refused");
        assert!(refused[0].contains("not a read-only query"), "{refused:?}");
        assert!(other.iter().any(|problem| problem.contains("not the database the model named")), "{other:?}");
    }
}
