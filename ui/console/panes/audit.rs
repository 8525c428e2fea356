//! The audit trail's live tail, with the state of the hash chain in the title.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::console::app::App;
use crate::console::theme::Theme;
use crate::console::view::{clean, pane_block};

/// Draws the Audit pane into `area`.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let chain = match &app.model.chain {
        None => Span::styled("chain not checked yet", theme.dim()),
        Some(report) => match &report.first_broken {
            None => Span::styled(format!("chain intact ({} rows)", report.rows_checked), theme.good()),
            Some(broken) => Span::styled(format!("CHAIN BROKEN at #{}", broken.id), theme.bad()),
        },
    };
    let mut title = vec![Span::raw(" Audit "), chain];
    if !app.audit_filter.is_empty() {
        title.push(Span::styled(format!(" /{}", app.audit_filter), theme.warn()));
    }
    title.push(Span::raw(" "));
    let block = pane_block(theme, Line::from(title), focused);
    let shown = app.visible_audit.len();
    if shown == 0 {
        frame.render_widget(Paragraph::new(Span::styled("No audit rows.", theme.dim())).block(block), area);
        return;
    }
    let height = usize::from(area.height.saturating_sub(2));
    let start = app.audit.window_start(height, shown);
    let end = (start + height).min(shown);
    // A narrow pane drops the time column so the action stays readable.
    let with_time = area.width >= 70;
    let rows = app.visible_audit[start..end].iter().enumerate().map(|(n, &index)| {
        let row = &app.model.audit[index];
        let result_style = match row.result.as_str() {
            "BLOCK" | "FAILED" | "ROLLED_BACK" | "DENIED" | "ESCALATED" => theme.bad(),
            "NEEDS_APPROVAL" | "AWAITING_APPROVAL" => theme.warn(),
            "ALLOW" | "COMPLETED" | "APPROVED" => theme.good(),
            _ => ratatui::style::Style::new(),
        };
        let mut cells = vec![Cell::from(Span::styled(format!("#{}", row.id), theme.dim()))];
        if with_time {
            cells.push(Cell::from(Span::styled(row.at.strftime("%H:%M:%S").to_string(), theme.dim())));
        }
        cells.extend([
            Cell::from(Span::styled(
                row.workflow_id.as_deref().map_or("-", |id| id.get(..8).unwrap_or(id)).to_owned(),
                theme.dim(),
            )),
            Cell::from(clean(&row.action)),
            Cell::from(Span::styled(clean(&row.result), result_style)),
            Cell::from(clean(&row.actor)),
        ]);
        let line = Row::new(cells);
        if start + n == app.audit.selected { line.style(theme.selected(focused)) } else { line }
    });
    let mut widths = vec![Constraint::Length(6)];
    if with_time {
        widths.push(Constraint::Length(8));
    }
    widths.extend([Constraint::Length(8), Constraint::Fill(5), Constraint::Fill(3), Constraint::Fill(2)]);
    frame.render_widget(Table::new(rows, widths).column_spacing(1).block(block), area);
}
