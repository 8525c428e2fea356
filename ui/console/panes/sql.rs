//! The selected workflow's plan: forward steps beside their rollback steps, placeholders shown
//! filled, and once it ran, the metrics before and after and how it ended.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use crate::console::app::App;
use crate::console::plan_text::PlanView;
use crate::console::theme::Theme;
use crate::console::view::{clean, pane_block, wrap};

/// Draws the SQL pane for the selected workflow into `area`.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let workflow = app.selected_workflow();
    let view = workflow.map(PlanView::of);
    let mut title = vec![Span::raw(" SQL ")];
    if let Some(plan) = view.as_ref().and_then(|v| v.plan.as_ref()) {
        title.push(Span::styled(
            format!("{} · risk {:?} · {} ", clean(&plan.action_type), plan.risk, plan.engine.as_str()),
            theme.dim(),
        ));
    }
    let block = pane_block(theme, Line::from(title), focused);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let (Some(workflow), Some(view)) = (workflow, view) else {
        frame.render_widget(Paragraph::new(Line::styled("Select a workflow.", theme.dim())), inner);
        return;
    };
    if let Some(problem) = &view.unreadable {
        frame
            .render_widget(Paragraph::new(Line::styled(clean(problem), theme.bad())).wrap(Wrap { trim: false }), inner);
        return;
    }
    let Some(plan) = &view.plan else {
        let text = format!("No plan yet ({}).", workflow.state);
        frame.render_widget(Paragraph::new(Line::styled(text, theme.dim())), inner);
        return;
    };
    let execution_lines = execution_lines(&view, theme);
    let bottom = if execution_lines.is_empty() { 0 } else { (execution_lines.len() as u16 + 1).min(inner.height / 2) };
    let [steps, results] = Layout::vertical([Constraint::Min(1), Constraint::Length(bottom)]).areas(inner);
    let [forward_area, rollback_area] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(steps);
    // Each statement numbered, wrapped under itself.
    let column_width = usize::from(forward_area.width.saturating_sub(1)).max(12);
    let numbered = |statements: Vec<String>| -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        for (n, sql) in statements.into_iter().enumerate() {
            let number = format!("{}. ", n + 1);
            let indent = number.chars().count();
            for (part_no, part) in wrap(&clean(&sql), column_width - indent).into_iter().enumerate() {
                let lead = if part_no == 0 { number.clone() } else { " ".repeat(indent) };
                lines.push(Line::from(format!("{lead}{part}")));
            }
        }
        lines
    };
    let forward = numbered(view.forward());
    let mut rollback = numbered(view.rollback());
    if rollback.is_empty() {
        let text = match &plan.irreversible {
            Some(why) => format!("irreversible: {}", clean(why)),
            None => "no rollback".to_owned(),
        };
        rollback.push(Line::styled(text, theme.warn()));
    }
    let column = |lines: Vec<Line<'static>>, title: &'static str, borders: Borders| {
        Paragraph::new(lines)
            .block(
                Block::default().borders(borders).border_style(theme.dim()).title(Span::styled(title, theme.header())),
            )
            .wrap(Wrap { trim: false })
            .scroll((app.sql_scroll, 0))
    };
    frame.render_widget(column(forward, "Forward", Borders::NONE), forward_area);
    frame.render_widget(column(rollback, "Rollback", Borders::LEFT), rollback_area);
    if bottom > 0 {
        let paragraph = Paragraph::new(execution_lines)
            .block(Block::default().borders(Borders::TOP).border_style(theme.dim()))
            .wrap(Wrap { trim: false });
        frame.render_widget(paragraph, results);
    }
}

/// How the fix ended and the metrics before and after, when it ran.
fn execution_lines(view: &PlanView, theme: &Theme) -> Vec<Line<'static>> {
    let Some(report) = &view.execution else { return Vec::new() };
    let outcome = format!("{:?}", report.outcome);
    let style = if outcome == "Completed" { theme.good() } else { theme.bad() };
    let mut lines = vec![Line::from(vec![
        Span::styled(outcome, style),
        Span::styled(format!("  {} ms", report.duration_ms), theme.dim()),
    ])];
    let names: std::collections::BTreeSet<&String> =
        report.metrics_before.keys().chain(report.metrics_after.keys()).collect();
    for name in names {
        let before = report.metrics_before.get(name).map_or("-", String::as_str);
        let after = report.metrics_after.get(name).map_or("-", String::as_str);
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", clean(name)), theme.dim()),
            Span::raw(format!("{} → {}", clean(before), clean(after))),
        ]));
    }
    if let Some(error) = &report.error {
        lines.push(Line::styled(clean(error), theme.bad()));
    }
    lines
}
