//! VERIFIED → a plan, through the diagnosis: the specialists name the root cause with its
//! evidence, their fixes and the policy's own compete on score, and the best becomes the plan
//! the Safety Mesh judges. The diagnosis (evidence, candidates, each tool's time) is stored with
//! the workflow and audited, whichever plan wins.

use tracing::{info, warn};

use super::{Engine, EngineError};
use crate::config::LlmProvider;
use crate::diagnose::model::{self, Briefing, Configured, gate, memory};
use crate::diagnose::{self, AlertContext, PlanFacts, Request};
use crate::domain::{Diagnosis, ModelRecord, Plan, Verification};
use crate::pipeline::steps;
use crate::policy::{AlertPolicy, PolicySet};
use crate::store::model_calls::{CallSite, StoreLedger};
use crate::store::workflows::WorkflowRow;
use crate::targets::Target;

impl Engine {
    /// Diagnoses `workflow` on `target`, stores the diagnosis, and returns the plan it chooses
    /// (the template itself when it scores best, or when nothing else is proposed). `None`
    /// when there is no plan at all: the caller escalates.
    pub(super) async fn diagnosed_plan(
        &self,
        workflow: &WorkflowRow,
        policy: &AlertPolicy,
        target: &Target,
        template: Option<Plan>,
        verification: &Verification,
    ) -> Result<Option<Plan>, EngineError> {
        // Diagnosed already from this verification (a workflow waiting for a conflict lock is
        // planned again on every sweep): its candidates are plans, resolved once; the tools do
        // not run again and the audit does not fill with the same diagnosis.
        if let Some(stored) = &workflow.diagnosis {
            let chosen = steps::chosen_plan(stored, policy, &workflow.fields, verification, &workflow.id);
            return Ok(chosen.or(template));
        }
        let (subject, body) = match workflow.raw_alert_id {
            Some(raw) => self
                .blocking(move |store| store.get_raw_alert(raw.0))
                .await
                .map(|row| (row.subject, row.body))
                .unwrap_or_default(),
            None => (String::new(), String::new()),
        };
        let history = {
            let database = workflow.database.clone();
            self.blocking(move |store| store.fix_history(&database)).await.unwrap_or_default()
        };
        let policies = self.policies.snapshot();
        let alert = AlertContext::of_workflow(&policies, &workflow.alert_type, workflow.fields.clone(), subject, body);
        let environment = self.config.database(&workflow.database).map(|database| database.environment);
        let request = Request {
            alert: Some(&alert),
            facts: PlanFacts {
                workflow_id: &workflow.id,
                alert_type: &workflow.alert_type,
                database: &workflow.database,
                environment: &workflow.environment,
            },
            environment,
            template: template.clone(),
            history,
            profile: None,
        };
        let started = std::time::Instant::now();
        let deterministic = diagnose::diagnose(target, &policies, request.clone()).await;
        let diagnosis = self.deepened(workflow, target, &policies, &request, deterministic, verification).await;
        self.vitals.diagnosis_seconds.observe(started.elapsed().as_secs_f64());
        info!(
            workflow_id = %workflow.id,
            cause = %diagnosis.first_cause(),
            level = %diagnosis.level,
            candidates = diagnosis.candidates.len(),
            elapsed_ms = diagnosis.elapsed_ms,
            "diagnosed"
        );
        let chosen = steps::chosen_plan(&diagnosis, policy, &workflow.fields, verification, &workflow.id);
        let (id, stored) = (workflow.id.clone(), diagnosis);
        self.blocking(move |store| store.set_diagnosis(&id, &stored, "engine")).await?;
        Ok(chosen.or(template))
    }

    /// The specialists' diagnosis, deepened by the configured model when there is one and the
    /// cost gate asks for it. Nothing here can hold the workflow up: no model, a model that
    /// cannot be built, a spent budget or a failed call all leave `deterministic` as it was,
    /// with the reason in its model record.
    async fn deepened(
        &self,
        workflow: &WorkflowRow,
        target: &Target,
        policies: &PolicySet,
        request: &Request<'_>,
        deterministic: Diagnosis,
        verification: &Verification,
    ) -> Diagnosis {
        if self.config.llm.provider == LlmProvider::None {
            return deterministic;
        }
        let configured = match Configured::from_config(&self.config) {
            Ok(Some(configured)) => configured,
            Ok(None) => return deterministic,
            Err(error) => {
                warn!(workflow_id = %workflow.id, %error, "the configured model cannot be asked");
                return with_fallback(deterministic, format!("the model cannot be asked: {error}"));
            }
        };
        let now = self.store.now();
        let since = now.saturating_sub(memory::LONG_TERM).unwrap_or(jiff::Timestamp::MIN);
        let (alert_type, database) = (workflow.alert_type.clone(), workflow.database.clone());
        let outcomes = self
            .blocking(move |store| store.finished_outcomes(&alert_type, &database, since))
            .await
            .unwrap_or_default();
        let gated = gate::depth(outcomes, &deterministic);
        let Some(depth) = gated.depth else {
            info!(workflow_id = %workflow.id, reason = %gated.reason, "the model is not asked");
            let mut diagnosis = deterministic;
            diagnosis.model.get_or_insert_with(ModelRecord::default).gate = Some(gated.reason);
            return diagnosis;
        };
        let (alert_type, database) = (workflow.alert_type.clone(), workflow.database.clone());
        let remembered = self
            .blocking(move |store| memory::recall(store, &database, &alert_type, now))
            .await
            .map_err(|error| warn!(workflow_id = %workflow.id, %error, "no memory for the model"))
            .ok()
            .flatten();
        let evidence = serde_json::to_string(&verification.evidence).ok();
        let briefing = Briefing { verification: evidence.as_deref(), memory: remembered.as_deref() };
        let ledger = StoreLedger {
            store: &self.store,
            site: CallSite {
                workflow_id: Some(workflow.id.to_string()),
                database: Some(workflow.database.clone()),
                environment: Some(workflow.environment.clone()),
                actor: "engine".into(),
            },
        };
        let advisor = configured.advisor(&ledger, depth);
        let mut diagnosis = model::deepen(target, policies, request, deterministic, &advisor, &briefing).await;
        if let Some(record) = diagnosis.model.as_mut() {
            record.gate = Some(gated.reason);
        }
        diagnosis
    }
}

/// `diagnosis` with a note of why the model did not add to it.
fn with_fallback(mut diagnosis: Diagnosis, reason: String) -> Diagnosis {
    diagnosis.model.get_or_insert_with(ModelRecord::default).fallbacks.push(reason);
    diagnosis
}
