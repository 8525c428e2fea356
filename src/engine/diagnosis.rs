//! VERIFIED → a plan, through the diagnosis: the specialists name the root cause with its
//! evidence, their fixes and the policy's own compete on score, and the best becomes the plan
//! the Safety Mesh judges. The diagnosis (evidence, candidates, each tool's time) is stored with
//! the workflow and audited, whichever plan wins.

use tracing::info;

use super::{Engine, EngineError};
use crate::diagnose::{self, AlertContext, PlanFacts, Request};
use crate::domain::{Plan, Verification};
use crate::pipeline::steps;
use crate::policy::AlertPolicy;
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
        let subject = match workflow.raw_alert_id {
            Some(raw) => {
                self.blocking(move |store| store.get_raw_alert(raw.0)).await.map(|row| row.subject).unwrap_or_default()
            }
            None => String::new(),
        };
        let history = {
            let database = workflow.database.clone();
            self.blocking(move |store| store.fix_history(&database)).await.unwrap_or_default()
        };
        let alert =
            AlertContext { subject, alert_type: Some(workflow.alert_type.clone()), fields: workflow.fields.clone() };
        let policies = self.policies.snapshot();
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
        let diagnosis = diagnose::diagnose(target, &policies, request).await;
        info!(
            workflow_id = %workflow.id,
            cause = %diagnosis.first_cause(),
            candidates = diagnosis.candidates.len(),
            elapsed_ms = diagnosis.elapsed_ms,
            "diagnosed"
        );
        let chosen = steps::chosen_plan(&diagnosis, policy, &workflow.fields, verification, &workflow.id);
        let (id, stored) = (workflow.id.clone(), diagnosis);
        self.blocking(move |store| store.set_diagnosis(&id, &stored, "engine")).await?;
        Ok(chosen.or(template))
    }
}
