//! The supervisor's routing, deterministic: which specialists an alert concerns, and which tools
//! they need on this engine.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::domain::DbKind;
use crate::policy::check_alert;
use crate::policy::{PolicySet, Specialist, ToolPolicy};

/// What is known of the alert being diagnosed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertContext {
    pub subject: String,
    /// The recognised alert type, when a policy matched.
    pub alert_type: Option<String>,
    /// The fields the policy extracted.
    pub fields: BTreeMap<String, String>,
    /// The email's text. Routing reads only the subject and type; a model reads the body too
    /// (capped, delimited as data): monitors put the numbers a DBA looks at there.
    pub body: String,
    /// The specialist a check's finding names (`routes_to:`): it alone takes the alert when it
    /// has rules for the engine, whatever the type and subject say.
    pub specialist: Option<String>,
}

impl AlertContext {
    /// The context of a stored workflow (its raw alert's `subject` and `body`, when it came
    /// from one). A check's finding (`check:<name>`) is diagnosed as the alert its check fixes
    /// with, by the specialist the check names.
    pub fn of_workflow(
        policies: &PolicySet,
        alert_type: &str,
        fields: BTreeMap<String, String>,
        subject: String,
        body: String,
    ) -> AlertContext {
        let check = check_alert::check_name(alert_type)
            .and_then(|name| policies.checks.iter().find(|check| check.name == name));
        AlertContext {
            subject,
            alert_type: Some(check.and_then(|check| check.fix_policy.clone()).unwrap_or_else(|| alert_type.to_owned())),
            fields,
            body,
            specialist: check.map(|check| check.routes_to.clone()),
        }
    }
}

/// The specialists with rules for `engine` that take `alert` (by type or subject words). With
/// no alert, or an alert none of them takes, all of them: a diagnosis does not guess which
/// half of the evidence to look at.
pub fn specialists<'a>(policies: &'a PolicySet, engine: DbKind, alert: Option<&AlertContext>) -> Vec<&'a Specialist> {
    let engine = engine.policy_engine();
    let able: Vec<&Specialist> = policies
        .specialists
        .iter()
        .map(Arc::as_ref)
        .filter(|specialist| specialist.causes.iter().any(|rule| rule.engine == engine))
        .collect();
    let Some(alert) = alert else { return able };
    if let Some(named) = &alert.specialist {
        let chosen: Vec<&Specialist> =
            able.iter().copied().filter(|specialist| specialist.name.eq_ignore_ascii_case(named)).collect();
        if !chosen.is_empty() {
            return chosen;
        }
    }
    let taking: Vec<&Specialist> = able
        .iter()
        .copied()
        .filter(|specialist| specialist.takes(alert.alert_type.as_deref(), &alert.subject))
        .collect();
    if taking.is_empty() { able } else { taking }
}

/// The tools `specialists` list for `engine` that the pack has, each once, in listing order.
pub fn tools<'a>(policies: &'a PolicySet, engine: DbKind, specialists: &[&Specialist]) -> Vec<&'a ToolPolicy> {
    let mut wanted: Vec<&ToolPolicy> = Vec::new();
    for specialist in specialists {
        for name in specialist.tools.get(&engine.policy_engine()).into_iter().flatten() {
            if let Some(tool) = policies.tool(engine, name)
                && !wanted.iter().any(|known| known.name == tool.name)
            {
                wanted.push(tool);
            }
        }
    }
    wanted
}
