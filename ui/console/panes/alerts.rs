//! Incoming alerts, matched and unmatched, newest first: nothing received is invisible.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table};

use crate::console::app::App;
use crate::console::model::{age, alert_outcome};
use crate::console::theme::Theme;
use crate::console::view::{clean, pane_block};

/// Draws the Alerts pane into `area`.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let shown = app.visible_alerts.len();
    let unmatched = app.model.alerts.iter().filter(|a| alert_outcome(a).0 == "unmatched").count();
    let mut title = vec![Span::raw(" Alerts "), Span::styled(shown.to_string(), theme.info())];
    if unmatched > 0 {
        title.push(Span::styled(format!(" {unmatched} unmatched"), theme.warn()));
    }
    if !app.alert_filter.is_empty() {
        title.push(Span::styled(format!(" /{}", app.alert_filter), theme.warn()));
    }
    title.push(Span::raw(" "));
    let block = pane_block(theme, Line::from(title), focused);
    if shown == 0 {
        let text = if app.model.alerts.is_empty() { "No alert received yet." } else { "No alert matches the filter." };
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())).block(block), area);
        return;
    }
    let height = usize::from(area.height.saturating_sub(3));
    let start = app.alerts.window_start(height, shown);
    let end = (start + height).min(shown);
    let rows = app.visible_alerts[start..end].iter().enumerate().map(|(n, &index)| {
        let alert = &app.model.alerts[index];
        let (outcome, alert_type, database, workflow) = alert_outcome(alert);
        let outcome_style = match outcome {
            "unmatched" => theme.warn(),
            "pending" => theme.info(),
            _ => theme.dim(),
        };
        let row = Row::new(vec![
            Cell::from(Span::styled(age(app.model.now, alert.received_at), theme.dim())),
            Cell::from(Span::styled(outcome, outcome_style)),
            Cell::from(clean(alert_type.unwrap_or("-"))),
            Cell::from(clean(database.unwrap_or("-"))),
            Cell::from(Span::styled(workflow.map_or("-", |id| id.get(..8).unwrap_or(id)).to_owned(), theme.dim())),
            Cell::from(clean(&alert.subject)),
        ]);
        if start + n == app.alerts.selected { row.style(theme.selected(focused)) } else { row }
    });
    let header = Row::new(["AGE", "OUTCOME", "ALERT TYPE", "DATABASE", "WORKFLOW", "SUBJECT"]).style(theme.header());
    let widths = [
        Constraint::Length(4),
        Constraint::Length(9),
        Constraint::Fill(2),
        Constraint::Fill(2),
        Constraint::Length(8),
        Constraint::Fill(4),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1).block(block), area);
}
