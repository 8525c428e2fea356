//! The demo's story as plain text lines, read from what the store recorded: the workflow's
//! audit rows in order (every change of state, each Safety Mesh verdict, the plan, approvals)
//! with the verification evidence and the execution report (the SQL run, metrics before and
//! after, the proof, the rollback) told where they happened. Pure functions of the rows, so the
//! story is exactly what the engine did and can be checked without a terminal.

use std::collections::BTreeMap;

use sentri::domain::StepRecord;
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
        let text = |key: &str| row.detail_text(key).to_owned();
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
            "SAFETY_VERDICT" => match row.safety_verdict() {
                Some(verdict) if verdict.is_summary() => {
                    lines.push(format!("    Safety Mesh verdict: {}", row.result));
                }
                Some(verdict) => {
                    let note = if verdict.approved() { " (satisfied by the approval of this plan)" } else { "" };
                    let reason = verdict.reason.unwrap_or_default();
                    lines.push(format!("    Safety Mesh ▸ {}: {}{note} — {reason}", verdict.check, row.result));
                }
                None => lines.push(format!("    Safety Mesh: {} (unreadable detail)", row.result)),
            },
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
    if !verification.evidence.is_empty() {
        lines.push(format!("    live evidence: {}", pairs(&verification.evidence)));
    }
    lines
}

fn plan_lines(workflow: &WorkflowRow) -> Vec<String> {
    let Some(plan) = &workflow.plan else { return Vec::new() };
    let mut lines = vec![format!(
        "  plan {}: {} (risk {}){}",
        short_hash(workflow.plan_hash.as_deref().unwrap_or_default()),
        plan.action_type,
        plan.risk.as_str(),
        if plan.irreversible.is_some() { ", irreversible" } else { "" }
    )];
    for step in &plan.steps {
        lines.push(format!("    fix:      {}", one_line(&step.sql)));
    }
    for step in &plan.rollback {
        lines.push(format!("    rollback: {}", one_line(&step.sql)));
    }
    lines
}

fn execution_lines(workflow: &WorkflowRow) -> Vec<String> {
    let Some(report) = &workflow.execution else { return Vec::new() };
    let mut lines = Vec::new();
    let metrics = |map: &BTreeMap<String, String>| (!map.is_empty()).then(|| pairs(map));
    if let Some(before) = metrics(&report.metrics_before) {
        lines.push(format!("    before:   {before}"));
    }
    let steps = |records: &[StepRecord], label: &str, lines: &mut Vec<String>| {
        for step in records {
            let outcome = match &step.error {
                Some(error) => format!("FAILED: {error}"),
                None => format!("ok, {} ms", step.elapsed_ms),
            };
            lines.push(format!("    {label} {} ({outcome})", one_line(&step.sql)));
        }
    };
    steps(&report.forward, "SQL run:", &mut lines);
    if let Some(captured) = metrics(&report.captured) {
        lines.push(format!("    captured: {captured}"));
    }
    if let Some(after) = metrics(&report.metrics_after) {
        lines.push(format!("    after:    {after}"));
    }
    for proof in &report.proof {
        lines.push(format!("    proof:    {proof}"));
    }
    steps(&report.rollback, "rolled back:", &mut lines);
    if let Some(error) = &report.error {
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
