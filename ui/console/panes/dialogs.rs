//! Overlays: help, the review of the learned policies, the detail of a selection, the approval
//! confirmation (plan hash and SQL) and the reason prompt of deny and resolve.

use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};
use sentri::store::timestamp_text;

use crate::console::app::{App, ConfirmApproval, HELP, Pane, ReasonKind, ReasonPrompt};
use crate::console::model::alert_outcome;
use crate::console::plan_text::PlanView;
use crate::console::theme::Theme;
use crate::console::view::{WIDE, clean, hanging};

/// A centred rectangle of at most `width` × `height`.
fn centred(area: Rect, width: u16, height: u16) -> Rect {
    let [row] = Layout::vertical([Constraint::Length(height.min(area.height))]).flex(Flex::Center).areas(area);
    let [cell] = Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(row);
    cell
}

fn overlay<'a>(theme: &Theme, title: &'a str) -> Block<'a> {
    Block::default().borders(Borders::ALL).border_style(theme.border(true)).title(Span::styled(title, theme.header()))
}

/// The help overlay: every key.
pub fn help(theme: &Theme, frame: &mut Frame) {
    let area = centred(frame.area(), 92, HELP.len() as u16 + 4);
    let mut lines: Vec<Line> = HELP
        .iter()
        .map(|(keys, what)| Line::from(vec![Span::styled(format!(" {keys:<18}"), theme.info()), Span::raw(*what)]))
        .collect();
    lines.push(Line::styled(" Esc, ? or q closes this help.", theme.dim()));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(overlay(theme, " Keys ")).wrap(Wrap { trim: false }), area);
}

/// The review of the learned policies: each with where it came from, who approved it, whether
/// it passes the check, and its text as a diff (added lines green, removed red). Keeping a file
/// accepts it; deleting it rejects it — the console only shows.
pub fn learned(app: &App, theme: &Theme, frame: &mut Frame, scroll: u16) {
    let screen = frame.area();
    let area =
        if screen.width < WIDE { screen } else { centred(screen, screen.width - 8, screen.height.saturating_sub(2)) };
    let width = usize::from(area.width.saturating_sub(2)).max(20);
    let mut lines: Vec<Line> = Vec::new();
    match &app.learned {
        None => lines.push(Line::styled("Reading alerts/learned/…", theme.dim())),
        Some(Err(error)) => lines.extend(hanging("", error, width, theme.bad())),
        Some(Ok(reviews)) if reviews.is_empty() => {
            lines.push(Line::raw("No learned policies in alerts/learned/."));
            lines.push(Line::styled(
                "Sentri writes one there when a fix for an alert no policy knew is approved, runs and is validated.",
                theme.dim(),
            ));
        }
        Some(Ok(reviews)) => {
            for review in reviews {
                let (verdict, style) = if review.passes {
                    ("passes".to_owned(), theme.good())
                } else {
                    (format!("FAILS ({})", review.problems.len()), theme.bad())
                };
                lines.push(Line::from(vec![
                    Span::styled(clean(&review.alert_type), theme.header()),
                    Span::raw("  "),
                    Span::styled(verdict, style),
                ]));
                let from = review.learned_from.as_deref().map_or_else(|| "?".to_owned(), clean);
                let approvers = if review.approved_by.is_empty() {
                    "nobody".to_owned()
                } else {
                    clean(&review.approved_by.join(", "))
                };
                let against = review
                    .backup
                    .as_deref()
                    .map_or_else(|| "a new file".to_owned(), |backup| format!("against {}", clean(backup)));
                lines.extend(hanging(
                    "  ",
                    &format!("{} — from workflow {from}, approved by {approvers}; {against}", clean(&review.file)),
                    width,
                    theme.dim(),
                ));
                for problem in &review.problems {
                    lines.extend(hanging("  problem: ", problem, width, theme.bad()));
                }
                for line in review.diff.lines() {
                    let style = match line.chars().next() {
                        Some('+') if !line.starts_with("+++") => theme.good(),
                        Some('-') if !line.starts_with("---") => theme.bad(),
                        Some('@') => theme.info(),
                        _ => Style::new(),
                    };
                    lines.extend(hanging("", line, width, style));
                }
                lines.push(Line::raw(""));
            }
        }
    }
    let keys = Line::from(vec![
        Span::styled(" ↑↓ PgUp PgDn", theme.info()),
        Span::raw(" scroll · keep a file to accept it, delete it to reject it · "),
        Span::styled("Esc/L", theme.info()),
        Span::raw(" closes "),
    ]);
    frame.render_widget(Clear, area);
    let block = overlay(theme, " Learned policies ").title_bottom(keys);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

/// The approve dialog: the plan hash and the SQL about to be approved.
pub fn confirm(confirm: &ConfirmApproval, theme: &Theme, frame: &mut Frame) {
    let screen = frame.area();
    let area =
        if screen.width < WIDE { screen } else { centred(screen, screen.width - 8, screen.height.saturating_sub(4)) };
    let mut lines = vec![
        Line::from(vec![Span::raw("Approve "), Span::styled(clean(&confirm.title), theme.info())]),
        Line::styled("plan hash", theme.dim()),
        Line::raw(confirm.plan_hash.to_string()),
    ];
    let width = usize::from(area.width.saturating_sub(2));
    if !confirm.why.is_empty() {
        lines.push(Line::styled("Why the Safety Mesh asks:", theme.header()));
        for why in &confirm.why {
            lines.extend(hanging("  - ", why, width, theme.warn()));
        }
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Forward:", theme.header()));
    for (n, sql) in confirm.forward.iter().enumerate() {
        lines.extend(hanging(&format!("  {}. ", n + 1), sql, width, Style::new()));
    }
    lines.push(Line::styled("Rollback:", theme.header()));
    if confirm.rollback.is_empty() {
        lines.push(Line::styled("  none: this fix cannot be undone", theme.warn()));
    }
    for (n, sql) in confirm.rollback.iter().enumerate() {
        lines.extend(hanging(&format!("  {}. ", n + 1), sql, width, Style::new()));
    }
    frame.render_widget(Clear, area);
    // The keys sit on the frame, so a long plan never pushes them out of sight.
    let keys = Line::from(vec![
        Span::styled(" Enter/y", theme.good()),
        Span::raw(" approves this exact plan · "),
        Span::styled("Esc/n", theme.bad()),
        Span::raw(" cancels "),
    ]);
    let block = overlay(theme, " Approve plan ").title_bottom(keys);
    frame.render_widget(Paragraph::new(lines).block(block).wrap(Wrap { trim: false }), area);
}

/// The reason prompt of deny and resolve.
pub fn reason(prompt: &ReasonPrompt, theme: &Theme, frame: &mut Frame) {
    let screen = frame.area();
    let area = centred(screen, if screen.width < WIDE { screen.width } else { 76 }, 9);
    let (title, ask) = match prompt.kind {
        ReasonKind::Deny => (" Deny plan ", "Why is this plan denied?"),
        ReasonKind::Resolve => (" Resolve by hand ", "What was done by hand?"),
    };
    let mut lines = vec![
        Line::styled(clean(&prompt.title), theme.info()),
        Line::raw(ask),
        Line::from(vec![Span::raw("> "), Span::raw(clean(&prompt.text)), Span::styled("▏", theme.info())]),
    ];
    if let Some(error) = &prompt.error {
        lines.push(Line::styled(error.clone(), theme.bad()));
    }
    lines.push(Line::styled("Enter records it (audited with your user) · Esc cancels", theme.dim()));
    frame.render_widget(Clear, area);
    frame.render_widget(Paragraph::new(lines).block(overlay(theme, title)).wrap(Wrap { trim: false }), area);
}

/// The detail of the focused pane's selection.
pub fn detail(app: &App, theme: &Theme, frame: &mut Frame, scroll: u16) {
    let area = frame.area();
    let (title, lines) = match app.focus {
        Pane::Alerts => (" Alert ", alert_lines(app, theme)),
        Pane::Audit => (" Audit row ", audit_lines(app, theme)),
        _ => (" Workflow ", workflow_lines(app, theme)),
    };
    frame.render_widget(Clear, area);
    let paragraph = Paragraph::new(lines).block(overlay(theme, title)).wrap(Wrap { trim: false }).scroll((scroll, 0));
    frame.render_widget(paragraph, area);
}

fn field<'a>(theme: &Theme, name: &'a str, value: String) -> Line<'a> {
    Line::from(vec![Span::styled(format!("{name:<12}"), theme.dim()), Span::raw(clean(&value))])
}

fn json_lines(title: &'static str, value: &serde_json::Value, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(title, theme.header())];
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    lines.extend(text.lines().map(|line| Line::raw(format!("  {}", clean(line)))));
    lines
}

fn workflow_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let Some(workflow) = app.selected_workflow() else { return vec![Line::raw("No workflow selected.")] };
    let mut lines = vec![
        field(theme, "id", workflow.id.to_string()),
        field(theme, "alert", format!("{} on {} ({})", workflow.alert_type, workflow.database, workflow.environment)),
        Line::from(vec![
            Span::styled(format!("{:<12}", "status"), theme.dim()),
            Span::styled(workflow.state.as_str(), theme.state(workflow.state)),
        ]),
        field(theme, "severity", workflow.severity.clone()),
        field(theme, "created", timestamp_text(workflow.created_at)),
        field(theme, "updated", timestamp_text(workflow.updated_at)),
        field(theme, "occurrences", workflow.occurrences.to_string()),
    ];
    if let Some(hash) = &workflow.plan_hash {
        lines.push(field(theme, "plan hash", hash.to_string()));
    }
    if !workflow.fields.is_empty() {
        lines.push(Line::styled("Fields", theme.header()));
        lines.extend(workflow.fields.iter().map(|(k, v)| Line::raw(format!("  {} = {}", clean(k), clean(v)))));
    }
    if let Some(detail) = app.model.detail.as_ref().filter(|d| d.workflow_id == workflow.id) {
        lines.push(Line::styled("History", theme.header()));
        for t in &detail.transitions {
            let reason = if t.reason.is_empty() { String::new() } else { format!(" — {}", clean(&t.reason)) };
            lines.push(Line::raw(format!(
                "  {}  {} → {}  by {}{reason}",
                timestamp_text(t.at),
                t.from,
                t.to,
                clean(&t.actor)
            )));
        }
    }
    if let Some(diagnosis) = &workflow.diagnosis {
        lines.push(field(theme, "root cause", sentri::diagnose::text::headline(diagnosis)));
    }
    if let Some(plan) = PlanView::of(workflow).plan {
        lines.push(field(theme, "rationale", plan.rationale.clone()));
    }
    if let Some(value) = workflow.verification.as_ref().and_then(|v| serde_json::to_value(v).ok()) {
        lines.extend(json_lines("Verification", &value, theme));
    }
    if let Some(value) = workflow.execution.as_ref().and_then(|e| serde_json::to_value(e).ok()) {
        lines.extend(json_lines("Execution", &value, theme));
    }
    lines
}

fn alert_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let Some(alert) = app.visible_alerts.get(app.alerts.selected).map(|&i| &app.model.alerts[i]) else {
        return vec![Line::raw("No alert selected.")];
    };
    let (outcome, alert_type, database, workflow) = alert_outcome(alert);
    let mut lines = vec![
        field(theme, "id", alert.id.to_string()),
        field(theme, "received", timestamp_text(alert.received_at)),
        field(theme, "from", alert.sender.clone()),
        field(theme, "subject", alert.subject.clone()),
        field(theme, "outcome", outcome.to_owned()),
    ];
    if let (Some(alert_type), Some(database)) = (alert_type, database) {
        lines.push(field(theme, "matched", format!("{alert_type} on {database}")));
    }
    if let Some(workflow) = workflow {
        lines.push(field(theme, "workflow", workflow.to_owned()));
    }
    if let Some(error) = &alert.parse_error {
        lines.push(Line::styled(format!("parse error: {}", clean(error)), theme.bad()));
    }
    lines.push(Line::styled("Body", theme.header()));
    lines.extend(alert.body.lines().map(|line| Line::raw(format!("  {}", clean(line)))));
    lines
}

fn audit_lines(app: &App, theme: &Theme) -> Vec<Line<'static>> {
    let Some(row) = app.visible_audit.get(app.audit.selected).map(|&i| &app.model.audit[i]) else {
        return vec![Line::raw("No audit row selected.")];
    };
    let mut lines = vec![
        field(theme, "id", row.id.to_string()),
        field(theme, "at", timestamp_text(row.at)),
        field(theme, "workflow", row.workflow_id.clone().unwrap_or_else(|| "-".into())),
        field(theme, "database", row.database.clone().unwrap_or_else(|| "-".into())),
        field(theme, "actor", row.actor.clone()),
        field(theme, "action", row.action.clone()),
        field(theme, "result", row.result.clone()),
        field(theme, "hash", row.hash.clone()),
        field(theme, "prev hash", row.prev_hash.clone()),
    ];
    lines.extend(json_lines("Detail", &row.detail, theme));
    lines
}
