//! Triage for a check's finding: it becomes an alert of type `check:<name>` on its database and
//! object, folded into a workflow already open on that object — the check's own, or one of the
//! alert its check fixes with (`fix_policy:`) — or opening a new one.
//!
//! Unlike an email's repeat, a finding folds into an open workflow however old it is: a check
//! that runs every hour would otherwise open a new escalation every hour for one expiring
//! password.

use std::collections::BTreeMap;
use std::time::Duration;

use super::matcher::KnownDatabase;
use super::triage::{Triage, UNKNOWN_ENVIRONMENT, route_and_correlate};
use crate::checks::Finding;
use crate::policy::CheckPolicy;
use crate::policy::check_alert::{self, FORECAST_FIELD};
use crate::store::audit::NewAudit;
use crate::store::workflows::{NewWorkflow, WorkflowRow};
use crate::store::{Store, StoreError};

/// The fields of a finding's workflow: its row (the evidence, and the fields of the alert its
/// check fixes with), its object, and the forecast when it is only a forecast.
pub fn finding_fields(finding: &Finding) -> BTreeMap<String, String> {
    let mut fields = finding.row.clone();
    if let Some(forecast) = &finding.forecast {
        fields.insert("days_to_full".to_owned(), format!("{:.2}", forecast.days_to_full));
        fields.insert(
            "forecast".to_owned(),
            format!("{} reaches {} in {}", forecast.metric, forecast.limit, forecast.days_text()),
        );
        if finding.over.is_empty() {
            fields.insert(FORECAST_FIELD.to_owned(), "1".to_owned());
        }
    }
    fields
}

/// Takes in one finding of `check`.
pub fn triage_finding(
    store: &Store,
    finding: &Finding,
    check: &CheckPolicy,
    databases: &[KnownDatabase],
    correlation_window: Duration,
) -> Result<Triage, StoreError> {
    let alert_type = check_alert::alert_type(&check.name);
    let database = finding.database.clone();
    let mut open = store.open_workflows_for(&alert_type, &database)?;
    if let Some(fix) = &check.fix_policy {
        open.extend(store.open_workflows_for(fix, &database)?);
    }
    if let Some(open) = open.into_iter().find(|open| about_object(check, open, finding)) {
        record_fold(store, &open, finding)?;
        return Ok(Triage::Folded { workflow_id: open.id, alert_type, database });
    }
    let environment = databases
        .iter()
        .find(|known| known.name.eq_ignore_ascii_case(&database))
        .map_or_else(|| UNKNOWN_ENVIRONMENT.to_owned(), |known| known.environment.clone());
    let workflow = store.create_workflow_in_incident(
        NewWorkflow {
            raw_alert_id: None,
            alert_type: alert_type.clone(),
            database: database.clone(),
            environment,
            severity: finding.severity.as_str().to_owned(),
            fields: finding_fields(finding),
        },
        "checks",
        jiff::SignedDuration::try_from(correlation_window).ok(),
    )?;
    route_and_correlate(store, &workflow, &check.routes_to)?;
    Ok(Triage::Created { workflow_id: workflow.id, alert_type, database })
}

/// Takes in every finding of one run of `check`, in order; the ids of the workflows they opened,
/// to be driven. A finding that cannot be stored is logged and the others still go in.
pub fn take_findings(
    store: &Store,
    check: &CheckPolicy,
    findings: &[Finding],
    databases: &[KnownDatabase],
    correlation_window: Duration,
) -> Vec<Triage> {
    findings
        .iter()
        .filter_map(|finding| match triage_finding(store, finding, check, databases, correlation_window) {
            Ok(triage) => Some(triage),
            Err(error) => {
                tracing::warn!(%error, check = check.name, object = finding.object, "a finding was not taken in");
                None
            }
        })
        .collect()
}

/// Whether `open` is about the finding's object: every `object:` column the workflow has agrees
/// (case-insensitively), and it has at least one of them — or the check has none, and then one
/// workflow per database is about it.
fn about_object(check: &CheckPolicy, open: &WorkflowRow, finding: &Finding) -> bool {
    if check.object.is_empty() {
        return true;
    }
    let mut compared = 0;
    for column in &check.object {
        let (Some(theirs), Some(ours)) = (open.fields.get(column), finding.row.get(column)) else { continue };
        if !theirs.eq_ignore_ascii_case(ours) {
            return false;
        }
        compared += 1;
    }
    compared > 0
}

/// A finding again for an open workflow: one audit row with what was measured, so the trend is
/// on the workflow's record.
fn record_fold(store: &Store, open: &WorkflowRow, finding: &Finding) -> Result<(), StoreError> {
    store.audit(NewAudit {
        workflow_id: Some(open.id.to_string()),
        database: Some(open.database.clone()),
        environment: Some(open.environment.clone()),
        actor: "checks".to_owned(),
        action: "FINDING_FOLDED".to_owned(),
        result: finding.severity.as_str().to_owned(),
        detail: serde_json::json!({
            "check": finding.check,
            "object": finding.object,
            "over": finding.over,
            "forecast": finding.forecast,
        }),
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::findings;
    use crate::policy::markdown;
    use crate::store::testing;
    use crate::targets::{Rows, Value};
    use std::path::Path;

    fn check() -> CheckPolicy {
        let text = "---\nengine: postgres\nobject: [schema_name, table_name]\nfix_policy: pg_dead_tuples\n---\n## Health Query\n```sql\nSELECT 1 AS x\n```\n## Threshold\n- dead_pct: 20\n";
        CheckPolicy::from_document(Path::new("checks/postgres/bloat.md"), &markdown::parse(text), None, &mut Vec::new())
            .expect("loads")
    }

    fn finding(table: &str, dead: i64) -> Finding {
        let rows = Rows {
            columns: vec!["schema_name".into(), "table_name".into(), "dead_pct".into()],
            rows: vec![vec![Value::Text("public".into()), Value::Text(table.into()), Value::Int(dead)]],
        };
        findings::findings("db1", &check(), &rows).remove(0)
    }

    fn databases() -> Vec<KnownDatabase> {
        vec![KnownDatabase { name: "db1".into(), environment: "DEV".into(), aliases: Vec::new(), engine: None }]
    }

    #[test]
    fn a_finding_opens_one_workflow_per_object_and_folds_repeats_however_late() {
        let (store, _clock) = testing::store();
        let window = Duration::from_secs(300);
        let first = triage_finding(&store, &finding("orders", 40), &check(), &databases(), window).unwrap();
        let Triage::Created { workflow_id, alert_type, .. } = first else { panic!("{first:?}") };
        assert_eq!(alert_type, "check:bloat");
        let workflow = store.get_workflow(&workflow_id).unwrap();
        assert_eq!((workflow.environment.as_str(), workflow.fields["table_name"].as_str()), ("DEV", "orders"));
        assert!(workflow.raw_alert_id.is_none());

        let again = triage_finding(&store, &finding("ORDERS", 45), &check(), &databases(), window).unwrap();
        assert!(matches!(&again, Triage::Folded { workflow_id: id, .. } if *id == workflow_id), "{again:?}");
        let other = triage_finding(&store, &finding("items", 45), &check(), &databases(), window).unwrap();
        assert!(matches!(other, Triage::Created { .. }), "another table is another workflow");
    }

    #[test]
    fn a_finding_folds_into_the_open_workflow_of_the_alert_it_fixes_with() {
        let (store, _clock) = testing::store();
        let fields = BTreeMap::from([("table_name".to_owned(), "orders".to_owned())]);
        let alert = store
            .create_workflow_in_incident(
                NewWorkflow {
                    raw_alert_id: None,
                    alert_type: "pg_dead_tuples".into(),
                    database: "db1".into(),
                    environment: "DEV".into(),
                    severity: "HIGH".into(),
                    fields,
                },
                "test",
                None,
            )
            .unwrap();
        let taken = triage_finding(&store, &finding("orders", 40), &check(), &databases(), Duration::ZERO).unwrap();
        assert!(matches!(&taken, Triage::Folded { workflow_id, .. } if *workflow_id == alert.id), "{taken:?}");
    }
}
