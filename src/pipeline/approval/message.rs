//! What an approval request says: the subject and the text and HTML parts, built from the
//! workflow, its plan, the alert, the Safety Mesh verdicts, the token and the expiry.
//!
//! Values from the alert and the database are outside input: in the text part every control
//! character is replaced and each value stays on its labelled line (so no line of the request
//! can read as a reply's APPROVED); in the HTML part every value is escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use jiff::Timestamp;

use crate::diagnose::text::{self, Statements};
use crate::domain::Diagnosis;
use crate::notify::EmailContent;
use crate::pipeline::plan::{Plan, PlanStep};
use crate::store::workflows::WorkflowRow;
use crate::store::{RawAlertRow, timestamp_text};
use crate::targets::fill::{self, Dialect};

/// One Safety Mesh check's verdict on the plan, as audited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeshLine {
    pub check: String,
    /// ALLOW, NEEDS_APPROVAL or BLOCK.
    pub verdict: String,
    pub reason: String,
}

/// Everything one request shows.
#[derive(Debug, Clone)]
pub struct RequestView<'a> {
    pub workflow: &'a WorkflowRow,
    pub plan_hash: &'a str,
    pub plan: Option<&'a Plan>,
    /// The alert email that opened the workflow, if it came from one.
    pub alert: Option<&'a RawAlertRow>,
    pub mesh: &'a [MeshLine],
    pub token: &'a str,
    pub expires_at: Timestamp,
    /// Approvers who already approved this plan (four-eyes), and how many are required.
    pub approved_by: &'a [String],
    pub required_approvals: u32,
}

/// The subject: `[Sentri] Approval needed [WF:3f9c2a1b] <alert type> on <database> (<env>)`.
pub fn subject(workflow: &WorkflowRow) -> String {
    format!(
        "[Sentri] Approval needed [WF:{}] {} on {} ({})",
        workflow.short_id(),
        one_line(&workflow.alert_type, 80),
        one_line(&workflow.database, 80),
        one_line(&workflow.environment, 16)
    )
}

/// The instruction line, word for word as the reply rules expect it.
pub const HOW_TO_REPLY: &str =
    "Reply to this email with APPROVED or DENIED on the first line; a reason may follow on the same line.";

/// Renders the text and HTML parts.
pub fn render(view: &RequestView<'_>) -> EmailContent {
    EmailContent { text: render_text(view), html: Some(render_html(view)) }
}

/// A value on one line: control characters (line breaks included), the Unicode line and
/// paragraph separators and the bidirectional overrides (which can make a line read as
/// something else) become spaces, and a value longer than `max` characters is cut with an
/// ellipsis.
fn one_line(value: &str, max: usize) -> String {
    let breaks_layout = |c: char| {
        c.is_control() || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    let cleaned: String = value.chars().map(|c| if breaks_layout(c) { ' ' } else { c }).collect();
    let cleaned = cleaned.trim();
    if cleaned.chars().count() > max {
        format!("{}…", cleaned.chars().take(max).collect::<String>())
    } else {
        cleaned.to_owned()
    }
}

/// HTML-escapes a value (`& < > " '`); every value from outside goes through it.
pub fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A plan step as it will run: the statement with placeholders filled for its engine (bind
/// markers, quoted identifiers) and the bind values; or the policy's text and why it cannot be
/// filled yet (e.g. a rollback value the capture query provides after the forward step).
fn filled(plan: &Plan, step: &PlanStep) -> (String, Vec<(String, String)>) {
    let dialect = match plan.engine {
        crate::targets::DbKind::Oracle | crate::targets::DbKind::Sandbox => Dialect::Oracle,
        crate::targets::DbKind::Postgres => Dialect::Postgres,
    };
    match fill::fill(&step.sql, dialect, &plan.values, &plan.identifiers, &plan.resolved) {
        Ok(statement) => {
            let binds = statement
                .binds
                .iter()
                .enumerate()
                .map(|(index, (name, value))| {
                    let marker = match dialect {
                        Dialect::Oracle => format!(":{name}"),
                        Dialect::Postgres => format!("${}", index + 1),
                    };
                    (marker, value.as_deref().map_or_else(|| "NULL".to_owned(), |v| format!("'{v}'")))
                })
                .collect();
            (statement.sql, binds)
        }
        Err(error) => (step.sql.clone(), vec![("note".to_owned(), format!("filled at run time: {error}"))]),
    }
}

/// The verification evidence stored with the workflow: the first row's columns, the row count
/// and the explanations.
fn evidence(workflow: &WorkflowRow) -> (BTreeMap<String, String>, Option<u64>, Vec<String>) {
    let Some(verification) = &workflow.verification else { return (BTreeMap::new(), None, Vec::new()) };
    let rows = u64::try_from(verification.rows).ok();
    (verification.evidence.clone(), rows, verification.explanations.clone())
}

fn render_text(view: &RequestView<'_>) -> String {
    let w = view.workflow;
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Sentri needs an approval for workflow {} ({} on {}, {}).",
        w.short_id(),
        one_line(&w.alert_type, 80),
        one_line(&w.database, 80),
        one_line(&w.environment, 16)
    );
    t.push('\n');
    t.push_str("HOW TO ANSWER\n");
    t.push_str(HOW_TO_REPLY);
    t.push('\n');
    let _ = writeln!(t, "Keep the token line: Token: {}", view.token);
    let _ = writeln!(
        t,
        "Only replies from an approver listed in sentri.yaml count; this request expires at {}.",
        timestamp_text(view.expires_at)
    );
    if view.required_approvals > 1 {
        let _ = writeln!(
            t,
            "This change needs {} distinct approvers; approved so far by: {}.",
            view.required_approvals,
            if view.approved_by.is_empty() { "nobody".to_owned() } else { one_line(&view.approved_by.join(", "), 400) }
        );
    }
    t.push_str("\nALERT\n");
    match view.alert {
        Some(alert) => {
            let _ = writeln!(t, "  Subject:   {}", one_line(&alert.subject, 400));
            let _ = writeln!(t, "  From:      {}", one_line(&alert.sender, 200));
            let _ = writeln!(t, "  Received:  {}", timestamp_text(alert.received_at));
        }
        None => t.push_str("  (not opened by an alert email)\n"),
    }
    let _ = writeln!(
        t,
        "  Database:  {} ({}), severity {}",
        one_line(&w.database, 80),
        one_line(&w.environment, 16),
        one_line(&w.severity, 32)
    );
    for (name, value) in &w.fields {
        let _ = writeln!(t, "  Field:     {} = {}", one_line(name, 80), one_line(value, 400));
    }
    let (columns, rows, explanations) = evidence(w);
    let _ = writeln!(
        t,
        "\nLIVE EVIDENCE (verification query on the database{})",
        rows.map(|n| format!(", {n} row(s); first row shown")).unwrap_or_default()
    );
    if columns.is_empty() && explanations.is_empty() {
        t.push_str("  (none stored)\n");
    }
    for (name, value) in &columns {
        let _ = writeln!(t, "  Column:    {} = {}", one_line(name, 80), one_line(value, 400));
    }
    for explanation in &explanations {
        let _ = writeln!(t, "  Check:     {}", one_line(explanation, 400));
    }
    if let Some(diagnosis) = &w.diagnosis {
        t.push_str("\nDIAGNOSIS\n");
        let chosen = view.plan.and_then(|plan| diagnosis.chosen(plan));
        for line in text::report(diagnosis, chosen, Statements::ButTheChosen).lines() {
            // The report's indentation says what belongs to what: kept, though each value is cleaned.
            let indent = line.len() - line.trim_start_matches(' ').len();
            let _ = writeln!(t, "  {}{}", " ".repeat(indent), one_line(line, 2000));
        }
    }
    t.push_str("\nPLAN\n");
    match view.plan {
        Some(plan) => {
            let _ = writeln!(
                t,
                "  Risk:      {:?} (action {}, confidence {:.2})",
                plan.risk,
                one_line(&plan.action_type, 80),
                plan.confidence
            );
            let _ = writeln!(t, "  Why:       {}", one_line(&plan.rationale, 400));
            if let Some(why) = &plan.irreversible {
                let _ = writeln!(t, "  IRREVERSIBLE: {}", one_line(why, 400));
            }
            for (index, step) in plan.steps.iter().enumerate() {
                let (sql, binds) = filled(plan, step);
                let _ = writeln!(t, "  Step {} forward:  {}", index + 1, one_line(&sql, 2000));
                for (marker, value) in binds {
                    let _ = writeln!(t, "      bind {}: {}", marker, one_line(&value, 400));
                }
                match plan.rollback.get(index) {
                    Some(rollback) => {
                        let (sql, binds) = filled(plan, rollback);
                        let _ = writeln!(t, "  Step {} rollback: {}", index + 1, one_line(&sql, 2000));
                        for (marker, value) in binds {
                            let _ = writeln!(t, "      bind {}: {}", marker, one_line(&value, 400));
                        }
                    }
                    None => {
                        let _ = writeln!(t, "  Step {} rollback: none", index + 1);
                    }
                }
            }
        }
        None => t.push_str("  (the stored plan cannot be read)\n"),
    }
    t.push_str("\nSAFETY MESH\n");
    if view.mesh.is_empty() {
        t.push_str("  (no verdicts recorded)\n");
    }
    for line in view.mesh {
        let _ = writeln!(
            t,
            "  Verdict:   {} {}: {}",
            one_line(&line.check, 40),
            one_line(&line.verdict, 20),
            one_line(&line.reason, 600)
        );
    }
    t.push('\n');
    let _ = writeln!(t, "Plan hash: {}", view.plan_hash);
    let _ = writeln!(t, "Workflow:  {} (sentri show {})", w.id, w.short_id());
    let _ = writeln!(t, "Expires:   {}", timestamp_text(view.expires_at));
    let _ = writeln!(t, "Token: {}", view.token);
    t
}

fn render_html(view: &RequestView<'_>) -> String {
    let w = view.workflow;
    let e = |value: &str| escape_html(value);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html><html><body style=\"font-family:sans-serif\">");
    let _ = write!(
        h,
        "<p>Sentri needs an approval for workflow <b>{}</b> ({} on {}, {}).</p>",
        e(w.short_id()),
        e(&w.alert_type),
        e(&w.database),
        e(&w.environment)
    );
    let _ = write!(
        h,
        "<p><b>How to answer:</b> {}<br>Keep the token line: <code>Token: {}</code><br>Only replies from an approver listed in sentri.yaml count; this request expires at {}.</p>",
        e(HOW_TO_REPLY),
        e(view.token),
        e(&timestamp_text(view.expires_at))
    );
    if view.required_approvals > 1 {
        let _ = write!(
            h,
            "<p>This change needs {} distinct approvers; approved so far by: {}.</p>",
            view.required_approvals,
            e(&if view.approved_by.is_empty() { "nobody".to_owned() } else { view.approved_by.join(", ") })
        );
    }
    h.push_str("<h3>Alert</h3><table>");
    let row = |h: &mut String, name: &str, value: &str| {
        let _ = write!(h, "<tr><th align=\"left\">{}</th><td>{}</td></tr>", e(name), e(value));
    };
    if let Some(alert) = view.alert {
        row(&mut h, "Subject", &alert.subject);
        row(&mut h, "From", &alert.sender);
        row(&mut h, "Received", &timestamp_text(alert.received_at));
    }
    row(&mut h, "Database", &format!("{} ({}), severity {}", w.database, w.environment, w.severity));
    for (name, value) in &w.fields {
        row(&mut h, name, value);
    }
    h.push_str("</table><h3>Live evidence</h3><table>");
    let (columns, rows, explanations) = evidence(w);
    for (name, value) in &columns {
        row(&mut h, name, value);
    }
    if let Some(rows) = rows {
        row(&mut h, "rows", &rows.to_string());
    }
    h.push_str("</table><ul>");
    for explanation in &explanations {
        let _ = write!(h, "<li>{}</li>", e(explanation));
    }
    h.push_str("</ul>");
    if let Some(diagnosis) = &w.diagnosis {
        diagnosis_html(&mut h, diagnosis, view.plan.and_then(|plan| diagnosis.chosen(plan)));
    }
    h.push_str("<h3>Plan</h3>");
    if let Some(plan) = view.plan {
        let _ = write!(
            h,
            "<p>Risk <b>{}</b>, action {}, confidence {:.2}. {}</p>",
            e(&format!("{:?}", plan.risk)),
            e(&plan.action_type),
            plan.confidence,
            e(&plan.rationale)
        );
        if let Some(why) = &plan.irreversible {
            let _ = write!(h, "<p><b>IRREVERSIBLE:</b> {}</p>", e(why));
        }
        h.push_str("<table border=\"1\" cellpadding=\"4\"><tr><th>#</th><th>Forward</th><th>Rollback</th></tr>");
        for (index, step) in plan.steps.iter().enumerate() {
            let cell = |step: Option<&PlanStep>| match step {
                Some(step) => {
                    let (sql, binds) = filled(plan, step);
                    let binds: String =
                        binds.iter().map(|(marker, value)| format!("<br>{} = {}", e(marker), e(value))).collect();
                    format!("<pre>{}</pre>{binds}", e(&sql))
                }
                None => "none".to_owned(),
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                index + 1,
                cell(Some(step)),
                cell(plan.rollback.get(index))
            );
        }
        h.push_str("</table>");
    }
    h.push_str(
        "<h3>Safety Mesh</h3><table border=\"1\" cellpadding=\"4\"><tr><th>Check</th><th>Verdict</th><th>Why</th></tr>",
    );
    for line in view.mesh {
        let _ =
            write!(h, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", e(&line.check), e(&line.verdict), e(&line.reason));
    }
    let _ = write!(
        h,
        "</table><p>Plan hash: <code>{}</code><br>Workflow: <code>{}</code> (<code>sentri show {}</code>)<br>Expires: {}<br>Token: <code>{}</code></p></body></html>",
        e(view.plan_hash),
        e(&w.id),
        e(w.short_id()),
        e(&timestamp_text(view.expires_at)),
        e(view.token)
    );
    h
}

/// The diagnosis as the text part says it ([`text::report`]'s lines, the same pieces), laid
/// out as tables: each cause with its evidence rows, then the candidates with their scores, the
/// chosen one marked and its statements left to the plan below.
fn diagnosis_html(h: &mut String, diagnosis: &Diagnosis, chosen: Option<usize>) {
    let e = |value: &str| escape_html(value);
    h.push_str("<h3>Diagnosis</h3>");
    for (index, finding) in diagnosis.root_causes.iter().enumerate() {
        let label = if index == 0 { "Root cause" } else { "Also" };
        let _ = write!(h, "<p><b>{label}:</b> {}</p>", e(&text::finding_line(finding)));
        if finding.evidence.is_empty() {
            continue;
        }
        h.push_str("<table border=\"1\" cellpadding=\"4\"><tr><th>Tool</th><th>Row</th><th>Because</th></tr>");
        for evidence in &finding.evidence {
            let _ = write!(
                h,
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                e(&text::printable(&evidence.tool)),
                e(&text::evidence_row(evidence)),
                e(&text::printable(&evidence.why))
            );
        }
        h.push_str("</table>");
    }
    if diagnosis.candidates.is_empty() {
        h.push_str("<p>Candidates: none (nothing is safe to propose on this evidence)</p>");
    } else {
        h.push_str(
            "<p>Candidates (best first):</p><table border=\"1\" cellpadding=\"4\"><tr><th>#</th><th>Candidate</th>\
             <th>Scores</th><th>Statements</th><th>Why</th></tr>",
        );
    }
    for (index, candidate) in diagnosis.candidates.iter().enumerate() {
        let is_chosen = chosen == Some(index);
        let mark = if is_chosen { format!(" <b>{}</b>", e(text::CHOSEN)) } else { String::new() };
        let statements = if is_chosen {
            "the plan's (below)".to_owned()
        } else {
            let forward: Vec<String> = candidate.forward.iter().map(|step| text::printable(step)).collect();
            let rollback = match &candidate.irreversible {
                Some(why) => format!("rollback: none — {}", e(&text::printable(why))),
                None => {
                    let steps: Vec<String> = candidate.rollback.iter().map(|step| text::printable(step)).collect();
                    format!("rollback:<pre>{}</pre>", e(&steps.join("\n")))
                }
            };
            format!("<pre>{}</pre>{rollback}", e(&forward.join("\n")))
        };
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}{mark}</td><td>{}</td><td>{statements}</td><td>{}</td></tr>",
            index + 1,
            e(&text::candidate_line(candidate)),
            e(&text::scores_line(candidate)),
            e(&text::printable(&candidate.why))
        );
    }
    if !diagnosis.candidates.is_empty() {
        h.push_str("</table>");
    }
    if let Some(tools) = text::tools_line(diagnosis) {
        let _ = write!(h, "<p>{}</p>", e(&tools));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escaping_covers_the_five_characters() {
        assert_eq!(escape_html("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn a_value_stays_on_one_line_and_is_cut_when_long() {
        assert_eq!(one_line("a\r\nb\tc", 100), "a  b c");
        assert_eq!(one_line("a\u{2028}b\u{2029}c\u{202e}d\u{2067}e\u{85}f", 100), "a b c d e f");
        assert_eq!(one_line("abcdef", 3), "abc…");
        assert_eq!(one_line("  x  ", 3), "x");
    }

    /// A value a client controls (its application name), as it reaches an evidence row.
    const HOSTILE: &str = "<script>x</script>\r\nAPPROVED";

    fn workflow(diagnosis: Option<Diagnosis>) -> WorkflowRow {
        let at: Timestamp = "2026-11-25T01:02:03Z".parse().expect("a timestamp");
        WorkflowRow {
            id: "3f9c2a1b-0000-4000-8000-000000000001".into(),
            raw_alert_id: None,
            alert_type: "pg_idle_in_transaction".into(),
            database: "app".into(),
            environment: "PROD".into(),
            severity: "CRITICAL".into(),
            state: crate::domain::WorkflowState::AwaitingApproval,
            fields: BTreeMap::new(),
            plan: None,
            plan_hash: None,
            verification: None,
            execution: None,
            diagnosis,
            provisional_policy: None,
            unreadable: Vec::new(),
            occurrences: 1,
            incident_id: "3f9c2a1b-0000-4000-8000-000000000001".into(),
            version: 5,
            created_at: at,
            updated_at: at,
        }
    }

    /// Both parts of the request for `workflow`, its plan the diagnosis' best candidate as the
    /// engine makes it (the alert's values added).
    fn rendered(workflow: &WorkflowRow) -> EmailContent {
        let mut plan = crate::domain::diagnosis_example::idle_in_transaction("x").candidates[0].plan.clone();
        plan.values.insert("datname".into(), Some("app".into()));
        let view = RequestView {
            workflow,
            plan_hash: "ab12",
            plan: Some(&plan),
            alert: None,
            mesh: &[],
            token: "T0KEN",
            expires_at: workflow.created_at,
            approved_by: &[],
            required_approvals: 1,
        };
        render(&view)
    }

    /// The lines of the text part from `title` to the next blank line.
    fn section<'a>(text: &'a str, title: &str) -> Vec<&'a str> {
        text.lines().skip_while(|line| *line != title).skip(1).take_while(|line| !line.is_empty()).collect()
    }

    #[test]
    fn the_text_part_shows_the_diagnosis_and_marks_the_chosen_candidate() {
        let diagnosed = workflow(Some(crate::domain::diagnosis_example::idle_in_transaction(HOSTILE)));
        let content = rendered(&diagnosed);
        let lines = section(&content.text, "DIAGNOSIS");
        assert_eq!(
            lines.first().copied(),
            Some(
                "  Root cause: IDLE_IN_TRANSACTION (0.90): pid 4242 (app, billing) is idle in a transaction open 754 s and blocks 3 sessions"
            ),
            "{}",
            content.text
        );
        let evidence = lines.iter().find(|line| line.contains("evidence pg_blocking:")).expect("the evidence row");
        assert!(evidence.contains("holder_pid=4242") && evidence.contains("waiters=3"), "{evidence}");
        assert!(evidence.contains("\\u{d}\\u{a}APPROVED"), "the row's line break is shown, not kept: {evidence}");
        let chosen: Vec<_> = lines.iter().filter(|line| line.ends_with(text::CHOSEN)).collect();
        assert_eq!(chosen.len(), 1, "{lines:#?}");
        assert!(chosen[0].contains("1. [0.82] Terminate the idle transaction's session — HIGH risk"), "{chosen:?}");
        // The other candidate's SQL is spelled out; the chosen one's is the PLAN's, once.
        assert!(lines.contains(&"        SELECT pg_cancel_backend(4242)"), "{lines:#?}");
        assert!(lines.contains(&"        scores: reversibility 0.10, targets_root_cause 0.30"), "{lines:#?}");
        assert_eq!(content.text.matches("pg_terminate_backend").count(), 1, "{}", content.text);
        assert!(section(&content.text, "PLAN").iter().any(|line| line.contains("pg_terminate_backend($1)")));
        assert!(
            content.text.lines().all(|line| !line.trim_start().starts_with("APPROVED")),
            "no line of the request reads as a reply: {}",
            content.text
        );
    }

    #[test]
    fn the_html_part_shows_the_diagnosis_with_every_value_escaped() {
        let diagnosed = workflow(Some(crate::domain::diagnosis_example::idle_in_transaction(HOSTILE)));
        let html = rendered(&diagnosed).html.expect("an HTML part");
        let diagnosis = &html[html.find("<h3>Diagnosis</h3>").expect("a Diagnosis section")..];
        let diagnosis = &diagnosis[..diagnosis.find("<h3>Plan</h3>").expect("the plan after it")];
        assert!(
            diagnosis.contains(
                "<p><b>Root cause:</b> IDLE_IN_TRANSACTION (0.90): pid 4242 (app, billing) is idle in a transaction"
            ),
            "{diagnosis}"
        );
        assert!(diagnosis.contains("<td>pg_blocking</td><td><code>holder_application="), "{diagnosis}");
        assert!(diagnosis.contains("holder_pid=4242"), "{diagnosis}");
        assert!(diagnosis.contains("holder_state == &#39;idle in transaction&#39;"), "{diagnosis}");
        assert!(!html.contains("<script>"), "a value reached the HTML unescaped: {html}");
        assert!(diagnosis.contains("&lt;script&gt;x&lt;/script&gt;\\u{d}\\u{a}APPROVED"), "{diagnosis}");
        let rows: Vec<&str> = diagnosis.split("<tr>").filter(|row| row.starts_with("<td>")).collect();
        let chosen: Vec<&&str> = rows.iter().filter(|row| row.contains("<b>← chosen</b>")).collect();
        assert_eq!(chosen.len(), 1, "{diagnosis}");
        assert!(
            chosen[0].starts_with("<td>1</td><td>[0.82] Terminate the idle transaction&#39;s session"),
            "{chosen:?}"
        );
        assert!(chosen[0].contains("<td>the plan's (below)</td>"), "its statements are the plan's: {chosen:?}");
        let other = rows.iter().find(|row| row.starts_with("<td>2</td>")).expect("the second candidate");
        assert!(other.contains("<pre>SELECT pg_cancel_backend(4242)</pre>"), "{other}");
        assert!(other.contains("<td>reversibility 0.10, targets_root_cause 0.30</td>"), "{other}");
        assert!(diagnosis.contains("<p>Tools (40 ms in all): pg_blocking 12 ms 1 rows</p>"), "{diagnosis}");
    }

    #[test]
    fn a_workflow_without_a_diagnosis_shows_no_diagnosis_section() {
        let content = rendered(&workflow(None));
        assert!(!content.text.contains("DIAGNOSIS"), "{}", content.text);
        assert!(content.text.contains("\nPLAN\n"), "{}", content.text);
        let html = content.html.expect("an HTML part");
        assert!(!html.contains("Diagnosis") && !html.contains("Root cause"), "{html}");
        assert!(html.contains("<h3>Plan</h3>"), "{html}");
    }
}
