//! A stored plan as a DBA reads it: each statement with its placeholders shown filled, the
//! way the executor will fill them. For reading only — the executor fills binds itself and no
//! text built here is ever run.

use std::collections::BTreeMap;

use sentri::execute::ExecutionReport;
use sentri::pipeline::plan::Plan;
use sentri::store::WorkflowRow;
use sentri::targets::fill::{Dialect, render_identifier, string_literal_for};
use sentri::targets::resolve::qualified_pairs;
use sentri::targets::sql::placeholders;

/// A workflow's plan and execution report, as the store read them.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    pub plan: Option<Plan>,
    /// Set when the stored plan JSON is not a plan this build can read.
    pub unreadable: Option<String>,
    pub execution: Option<ExecutionReport>,
}

impl PlanView {
    /// Reads the plan and execution columns of `workflow`; an unreadable plan is reported, not hidden.
    pub fn of(workflow: &WorkflowRow) -> PlanView {
        let unreadable = workflow
            .unreadable
            .iter()
            .find_map(|note| note.strip_prefix("plan: "))
            .map(|why| format!("the stored plan cannot be read: {why}"));
        PlanView { plan: workflow.plan.clone(), unreadable, execution: workflow.execution.clone() }
    }

    /// The forward statements, filled.
    pub fn forward(&self) -> Vec<String> {
        self.plan
            .as_ref()
            .map(|plan| plan.steps.iter().map(|s| filled(plan, &s.sql, self.captured())).collect())
            .unwrap_or_default()
    }

    /// The rollback statements, filled (values captured by the execution included).
    pub fn rollback(&self) -> Vec<String> {
        self.plan
            .as_ref()
            .map(|plan| plan.rollback.iter().map(|s| filled(plan, &s.sql, self.captured())).collect())
            .unwrap_or_default()
    }

    fn captured(&self) -> Option<&BTreeMap<String, String>> {
        self.execution.as_ref().map(|report| &report.captured)
    }
}

/// `sql` with each `:name` replaced by its value as the statement will see it: declared
/// identifiers rendered by kind (quoted names, escaped paths), binds shown as literals. A value
/// not known yet (captured during execution) stays `:name`.
pub fn filled(plan: &Plan, sql: &str, captured: Option<&BTreeMap<String, String>>) -> String {
    let dialect = match plan.engine {
        sentri::targets::DbKind::Oracle | sentri::targets::DbKind::Sandbox => Dialect::Oracle,
        sentri::targets::DbKind::Postgres => Dialect::Postgres,
    };
    let mut out = String::with_capacity(sql.len());
    let mut cursor = 0;
    let found = placeholders(sql);
    let pairs = qualified_pairs(sql, &found, &plan.identifiers);
    for (index, placeholder) in found.iter().enumerate() {
        if placeholder.span.start < cursor {
            continue;
        }
        out.push_str(&sql[cursor..placeholder.span.start]);
        cursor = placeholder.span.end;
        // `:schema.:object` is one object, shown whole from the object's resolution.
        if let Some((_, object)) = pairs.iter().find(|(schema, _)| *schema == index)
            && let Some(resolved) = plan.resolved.get(&found[*object].name.to_lowercase())
        {
            out.push_str(&resolved.render());
            cursor = found[*object].span.end;
            continue;
        }
        let value = plan
            .values
            .get(&placeholder.name)
            .cloned()
            .flatten()
            .or_else(|| captured.and_then(|c| c.get(&placeholder.name).cloned()));
        let Some(value) = value else {
            out.push_str(&sql[placeholder.span.clone()]);
            continue;
        };
        let rendered = match (plan.identifiers.get(&placeholder.name), plan.resolved.get(&placeholder.name)) {
            // The object the plan resolved, as the executor will write it.
            (Some(_), Some(found)) if !placeholder.as_literal => found.render(),
            (Some(kind), None) if !placeholder.as_literal => {
                render_identifier(dialect, *kind, &placeholder.name, &value)
                    .unwrap_or_else(|_| string_literal_for(dialect, &value))
            }
            _ => string_literal_for(dialect, &value),
        };
        out.push_str(&rendered);
    }
    out.push_str(&sql[cursor..]);
    out
}
