//! The workflow list: status, database, environment, alert type and age, newest first.
//! Only the rows in the visible window are built, so 10,000 workflows draw as fast as 20.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::console::app::App;
use crate::console::model::age;
use crate::console::theme::Theme;
use crate::console::view::{clean, pane_block};

/// Draws the Workflows pane into `area`.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let total = app.model.workflows.len();
    let shown = app.visible_workflows.len();
    let mut title = vec![Span::raw(" Workflows "), Span::styled(format!("{shown}"), theme.info())];
    if shown != total {
        title.push(Span::styled(format!("/{total}"), theme.dim()));
    }
    if !app.workflow_filter.is_empty() {
        title.push(Span::styled(format!(" /{}", app.workflow_filter), theme.warn()));
    }
    title.push(Span::raw(" "));
    let block = pane_block(theme, Line::from(title), focused);
    if shown == 0 {
        let text = if total == 0 { "No workflows yet." } else { "No workflow matches the filter (Esc clears it)." };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())).block(block), area);
        return;
    }
    let height = usize::from(area.height.saturating_sub(3));
    let start = app.workflows.window_start(height, shown);
    let end = (start + height).min(shown);
    let rows = app.visible_workflows[start..end].iter().enumerate().map(|(n, &index)| {
        let workflow = &app.model.workflows[index];
        let selected = start + n == app.workflows.selected;
        let row = Row::new(vec![
            Cell::from(Span::styled(workflow.short_id().to_owned(), theme.dim())),
            Cell::from(Span::styled(workflow.state.as_str(), theme.state(workflow.state))),
            Cell::from(clean(&workflow.database)),
            Cell::from(clean(&workflow.environment)),
            Cell::from(if workflow.occurrences > 1 {
                format!("{} ×{}", clean(&workflow.alert_type), workflow.occurrences)
            } else {
                clean(&workflow.alert_type)
            }),
            Cell::from(Span::styled(age(app.model.now, workflow.created_at), theme.dim())),
        ]);
        if selected { row.style(theme.selected(focused)) } else { row }
    });
    let header = Row::new(["ID", "STATUS", "DATABASE", "ENV", "ALERT TYPE", "AGE"]).style(theme.header());
    let widths = [
        Constraint::Length(8),
        Constraint::Length(19),
        Constraint::Fill(2),
        Constraint::Length(7),
        Constraint::Fill(3),
        Constraint::Length(4),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1).block(block), area);
}
