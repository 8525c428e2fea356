//! The Safety Mesh's verdicts on the selected workflow's plan: each check — pass, approval or
//! block — and why, from the SAFETY_VERDICT audit rows of its latest run.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::console::app::App;
use crate::console::model::latest_run;
use crate::console::theme::Theme;
use crate::console::view::{clean, pane_block, wrap};

/// Draws the Safety Mesh pane for the selected workflow into `area`.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let selected = app.selected_workflow();
    let detail = app.model.detail.as_ref().filter(|d| selected.is_some_and(|w| w.id == d.workflow_id));
    let (rows, runs) = detail.map(|d| latest_run(&d.audit)).unwrap_or_default();
    let mut title = vec![Span::raw(" Safety Mesh ")];
    if let Some(workflow) = selected {
        title.push(Span::styled(format!("{} ", workflow.short_id()), theme.dim()));
    }
    if runs > 1 {
        title.push(Span::styled(format!("run {runs} of {runs} "), theme.dim()));
    }
    let block = pane_block(theme, Line::from(title), focused);
    let mut lines: Vec<Line> = Vec::new();
    if selected.is_none() {
        lines.push(Line::styled("Select a workflow.", theme.dim()));
    } else if rows.is_empty() {
        lines.push(Line::styled("The Safety Mesh has not judged a plan for this workflow yet.", theme.dim()));
    }
    for row in rows {
        let verdict = row.safety_verdict().unwrap_or_default();
        let check = verdict.check.as_str();
        let approved = verdict.approved();
        let (mark, word, style) = match row.result.as_str() {
            "ALLOW" => ("✓", "pass", theme.good()),
            "NEEDS_APPROVAL" if approved => ("✓", "approved", theme.good()),
            "NEEDS_APPROVAL" => ("?", "approval", theme.warn()),
            "BLOCK" => ("✗", "block", theme.bad()),
            other => ("·", other, theme.dim()),
        };
        let reason = match &verdict.reason {
            Some(reason) => reason.clone(),
            // The summary row: which checks gave the overall verdict (their reasons are above).
            None => {
                let checks: Vec<&str> =
                    verdict.reasons.iter().flatten().filter_map(|reason| reason.split(':').next()).collect();
                let by = if row.result == "ALLOW" { "all checks pass" } else { "from" };
                let used = if approved { " (approval of this plan hash used)" } else { "" };
                if row.result == "ALLOW" { format!("{by}{used}") } else { format!("{by} {}{used}", checks.join(", ")) }
            }
        };
        let name = if check == "mesh" { "overall" } else { check };
        let head = vec![
            Span::styled(format!("{mark} {word:<8} "), style),
            Span::styled(format!("{name:<18} "), if check == "mesh" { style } else { ratatui::style::Style::new() }),
        ];
        // The reason wraps under itself, not under the verdict.
        let indent = 30;
        let width = usize::from(area.width.saturating_sub(2)).saturating_sub(indent).max(10);
        for (n, part) in wrap(&clean(&reason), width).into_iter().enumerate() {
            let mut spans = if n == 0 { head.clone() } else { vec![Span::raw(" ".repeat(indent))] };
            spans.push(Span::styled(part, theme.dim()));
            lines.push(Line::from(spans));
        }
    }
    let paragraph = Paragraph::new(lines).block(block).wrap(Wrap { trim: false }).scroll((app.mesh_scroll, 0));
    frame.render_widget(paragraph, area);
}
