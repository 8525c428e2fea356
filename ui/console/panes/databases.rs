//! The Databases view (`D`): one row per database — does it answer, what it runs, where it
//! lives, its open workflows, its worst finding, and its most urgent space series as a sparkline
//! with the days until full. Enter opens that database's checks and their series.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table};
use sentri::checks::history::sparkline;
use sentri::domain::Severity;

use crate::console::app::{App, DatabasesView};
use crate::console::fleet::DatabaseOverview;
use crate::console::model::age;
use crate::console::theme::Theme;
use crate::console::view::{clean, pane_block};

/// Draws the view over `area` (the body, between the status lines).
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, view: &DatabasesView) {
    frame.render_widget(Clear, area);
    match app.model.fleet.get(view.selected) {
        Some(database) if view.open => draw_database(app, theme, frame, area, database, view.scroll),
        _ => draw_list(app, theme, frame, area, view),
    }
}

fn draw_list(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, view: &DatabasesView) {
    let fleet = &app.model.fleet;
    let unreachable = fleet.iter().filter(|database| database.reachable == Some(false)).count();
    let mut title = vec![Span::raw(" Databases "), Span::styled(fleet.len().to_string(), theme.info())];
    if unreachable > 0 {
        title.push(Span::styled(format!(" {unreachable} unreachable"), theme.bad()));
    }
    title.push(Span::styled("  Enter: checks and history · Esc: back ", theme.dim()));
    let block = pane_block(theme, Line::from(title), true);
    if fleet.is_empty() {
        let text = "No database is configured (databases: in sentri.yaml).";
        frame.render_widget(Paragraph::new(Span::styled(text, theme.dim())).block(block), area);
        return;
    }
    let height = usize::from(area.height.saturating_sub(3)).max(1);
    let start = view.selected.saturating_sub(height - 1).min(fleet.len().saturating_sub(height));
    let rows = fleet.iter().enumerate().skip(start).take(height).map(|(index, database)| {
        let (reach, reach_style) = match database.reachable {
            Some(true) => ("up", theme.good()),
            Some(false) => ("DOWN", theme.bad()),
            None => ("?", theme.dim()),
        };
        let worst = database.worst.as_ref().map_or_else(
            || Span::styled("-", theme.dim()),
            |worst| {
                Span::styled(
                    format!("{} {}", worst.severity.as_str(), clean(&worst.text)),
                    severity_style(theme, worst.severity),
                )
            },
        );
        let (trend, full_in) = match &database.urgent {
            Some(series) => (
                format!("{} {}", sparkline(&series.values, 16), clean(&series.object)),
                series.full_in.clone().unwrap_or_default(),
            ),
            None => (String::new(), "-".to_owned()),
        };
        let row = Row::new(vec![
            Cell::from(clean(&database.database.name)),
            Cell::from(Span::styled(reach, reach_style)),
            Cell::from(format!(
                "{} {}",
                database.database.engine,
                database.version.as_deref().map(clean).unwrap_or_default()
            )),
            Cell::from(clean(&database.database.environment)),
            Cell::from(database.open_workflows.to_string()),
            Cell::from(worst),
            Cell::from(trend),
            Cell::from(full_in),
        ]);
        if index == view.selected { row.style(theme.selected(true)) } else { row }
    });
    let header = Row::new(["DATABASE", "REACH", "ENGINE", "ENV", "OPEN", "WORST FINDING", "MOST URGENT", "FULL IN"])
        .style(theme.header());
    let widths = [
        Constraint::Fill(2),
        Constraint::Length(5),
        Constraint::Fill(2),
        Constraint::Length(9),
        Constraint::Length(4),
        Constraint::Fill(3),
        Constraint::Fill(3),
        Constraint::Length(20),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).column_spacing(1).block(block), area);
}

fn draw_database(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, database: &DatabaseOverview, scroll: u16) {
    let title = Line::from(vec![
        Span::raw(" "),
        Span::styled(clean(&database.database.name), theme.header()),
        Span::raw(format!(" · {} · {} ", database.database.engine, database.database.environment)),
        Span::styled(" Esc: back ", theme.dim()),
    ]);
    let mut lines = vec![Line::styled("Checks", theme.header())];
    if database.checks.is_empty() {
        lines.push(Line::styled(
            "  No check has been scheduled on this database yet (the daemon runs them).",
            theme.dim(),
        ));
    }
    for check in &database.checks {
        let last = check.last_run.map_or_else(|| "never".to_owned(), |at| format!("{} ago", age(app.model.now, at)));
        let next = check.next_run.map_or_else(String::new, |at| {
            if at > app.model.now { format!("next in {}", age(at, app.model.now)) } else { "due".to_owned() }
        });
        let style = if check.result.starts_with("error") {
            theme.bad()
        } else if check.result == "ok" {
            theme.good()
        } else {
            theme.warn()
        };
        lines.push(Line::from(vec![
            Span::raw(format!("  {:<28} {:<14} {:<12} {:<14} ", clean(&check.name), check.schedule, last, next)),
            Span::styled(clean(&check.result), style),
        ]));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Series", theme.header()));
    if database.series.is_empty() {
        lines.push(Line::styled("  No numbers kept yet.", theme.dim()));
    }
    for series in &database.series {
        let latest = series.values.last().map_or_else(String::new, |value| format!("{value:.2}"));
        let full_in = series.full_in.as_deref().map_or_else(String::new, |text| format!("  full in {text}"));
        lines.push(Line::from(vec![
            Span::raw(format!(
                "  {:<24} {:<28} ",
                clean(&series.check),
                clean(&format!("{} {}", series.object, series.metric))
            )),
            Span::styled(sparkline(&series.values, 24), theme.info()),
            Span::raw(format!(" {latest}")),
            Span::styled(full_in, theme.warn()),
        ]));
    }
    let block = pane_block(theme, title, true);
    frame.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

fn severity_style(theme: &Theme, severity: Severity) -> ratatui::style::Style {
    match severity {
        Severity::Critical | Severity::High => theme.bad(),
        Severity::Medium => theme.warn(),
        Severity::Low => theme.dim(),
    }
}
