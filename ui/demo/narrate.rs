//! The demo's story as plain text lines, read from what the store recorded: the workflow's
//! audit rows in order (every change of state, each Safety Mesh verdict, the plan, approvals)
//! with the verification evidence and the execution report (the SQL run, metrics before and
//! after, the proof, the rollback) told where they happened. Pure functions of the rows, so the
//! story is exactly what the engine did and can be checked without a terminal.

use std::collections::BTreeMap;

use sentri::store::audit::AuditRow;
use sentri::store::workflows::WorkflowRow;

/// Where every line of one demo run begins: says whether the databases are SIMULATED.
#[derive(Debug, Clone)]
pub struct Voice {
    prefix: String,
}

impl Voice {
    /// The sandbox: every line says SIMULATED.
    pub fn simulated() -> Voice {
        Voice { prefix: "[SIMULATED]".to_owned() }
    }

    /// A real database.
    pub fn live(database: &str) -> Voice {
        Voice { prefix: format!("[LIVE {database}]") }
    }

    /// The banner without brackets: `SIMULATED` or `LIVE <name>`, as the console shows it.
    pub fn label(&self) -> &str {
        self.prefix.trim_start_matches('[').trim_end_matches(']')
    }

    /// One line, prefixed; control characters from emails or databases are made visible.
    pub fn line(&self, text: &str) -> String {
        let clean: String = text
            .chars()
            .map(|c| if c.is_control() && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() })
            .collect();
        format!("{} {clean}", self.prefix)
    }
}

/// The story of one workflow, from its audit rows (oldest first).
pub fn workflow_story(workflow: &WorkflowRow, audit: &[AuditRow]) -> Vec<String> {
    let mut lines = Vec::new();
    for row in audit {
        let detail = &row.detail;
        let text = |key: &str| detail.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        match row.action.as_str() {
            "WORKFLOW_CREATED" => {
                lines.push(format!(
                    "  workflow {} opened: {} on {} ({}), severity {}",
                    workflow.short_id(),
                    workflow.alert_type,
                    workflow.database,
                    workflow.environment,
                    workflow.severity
                ));
                if !workflow.fields.is_empty() {
                    lines.push(format!("    fields from the email: {}", pairs(&workflow.fields)));
                }
            }
            "TRANSITION" => {
                let to = text("to");
                if from_executing(&text("from")) {
                    lines.extend(execution_lines(workflow));
                }
                let reason = text("reason");
                let reason = if reason.is_empty() { String::new() } else { format!(": {reason}") };
                lines.push(format!("  {} → {} ({}){reason}", text("from"), to, row.actor));
                if to == "VERIFIED" || to == "VERIFICATION_FAILED" {
                    lines.extend(evidence_lines(workflow));
                }
            }
            "PLAN_SET" => lines.extend(plan_lines(workflow)),
            "SAFETY_VERDICT" => {
                let check = text("check");
                if check == "mesh" {
                    lines.push(format!("    Safety Mesh verdict: {}", row.result));
                } else {
                    let approved = detail.get("satisfied_by_approval").and_then(|v| v.as_bool()).unwrap_or(false);
                    let note = if approved { " (satisfied by the approval of this plan)" } else { "" };
                    lines.push(format!("    Safety Mesh ▸ {check}: {}{note} — {}", row.result, text("reason")));
                }
            }
            "APPROVAL_DECISION" => {
                let reason = text("reason");
                let reason = if reason.is_empty() { String::new() } else { format!(": {reason}") };
                lines.push(format!(
                    "  {} by {}{reason} (plan {})",
                    row.result,
                    row.actor,
                    short_hash(&text("plan_hash"))
                ));
            }
            "ALERT_FOLDED" => lines.push("  a repeat of this alert was folded into the workflow".to_owned()),
            _ => {}
        }
    }
    lines
}

fn from_executing(from: &str) -> bool {
    from == "EXECUTING"
}

fn evidence_lines(workflow: &WorkflowRow) -> Vec<String> {
    let Some(verification) = &workflow.verification else { return Vec::new() };
    let mut lines = Vec::new();
    if let Some(evidence) = verification.get("evidence").and_then(|v| v.as_object())
        && !evidence.is_empty()
    {
        let shown: BTreeMap<String, String> = evidence
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
            .collect();
        lines.push(format!("    live evidence: {}", pairs(&shown)));
    }
    lines
}

fn plan_lines(workflow: &WorkflowRow) -> Vec<String> {
    let Some(plan) = &workflow.plan else { return Vec::new() };
    let mut lines = vec![format!(
        "  plan {}: {} (risk {}){}",
        short_hash(workflow.plan_hash.as_deref().unwrap_or_default()),
        plan.get("action_type").and_then(|v| v.as_str()).unwrap_or_default(),
        plan.get("risk").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).unwrap_or_default(),
        if plan.get("irreversible").is_some_and(|v| !v.is_null()) { ", irreversible" } else { "" }
    )];
    for step in plan.get("steps").and_then(|v| v.as_array()).into_iter().flatten() {
        if let Some(sql) = step.get("sql").and_then(|v| v.as_str()) {
            lines.push(format!("    fix:      {}", one_line(sql)));
        }
    }
    for step in plan.get("rollback").and_then(|v| v.as_array()).into_iter().flatten() {
        if let Some(sql) = step.get("sql").and_then(|v| v.as_str()) {
            lines.push(format!("    rollback: {}", one_line(sql)));
        }
    }
    lines
}

fn execution_lines(workflow: &WorkflowRow) -> Vec<String> {
    let Some(report) = &workflow.execution else { return Vec::new() };
    let mut lines = Vec::new();
    let metrics = |key: &str| -> Option<String> {
        let map = report.get(key)?.as_object()?;
        let shown: BTreeMap<String, String> =
            map.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect();
        (!shown.is_empty()).then(|| pairs(&shown))
    };
    if let Some(before) = metrics("metrics_before") {
        lines.push(format!("    before:   {before}"));
    }
    let steps = |key: &str, label: &str, lines: &mut Vec<String>| {
        for step in report.get(key).and_then(|v| v.as_array()).into_iter().flatten() {
            let sql = step.get("sql").and_then(|v| v.as_str()).unwrap_or_default();
            let outcome = match step.get("error").and_then(|v| v.as_str()) {
                Some(error) => format!("FAILED: {error}"),
                None => format!("ok, {} ms", step.get("elapsed_ms").and_then(|v| v.as_u64()).unwrap_or(0)),
            };
            lines.push(format!("    {label} {} ({outcome})", one_line(sql)));
        }
    };
    steps("forward", "SQL run:", &mut lines);
    if let Some(captured) = metrics("captured") {
        lines.push(format!("    captured: {captured}"));
    }
    if let Some(after) = metrics("metrics_after") {
        lines.push(format!("    after:    {after}"));
    }
    for proof in report.get("proof").and_then(|v| v.as_array()).into_iter().flatten() {
        if let Some(proof) = proof.as_str() {
            lines.push(format!("    proof:    {proof}"));
        }
    }
    steps("rollback", "rolled back:", &mut lines);
    if let Some(error) = report.get("error").and_then(|v| v.as_str()) {
        lines.push(format!("    error:    {error}"));
    }
    lines
}

fn pairs(map: &BTreeMap<String, String>) -> String {
    map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ")
}

fn one_line(sql: &str) -> String {
    sql.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}
