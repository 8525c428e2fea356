//! The header (name, banner, engine state, databases, pending approvals) and the footer (what
//! just happened, the filter being typed, the keys that matter now).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::console::app::{App, Mode};
use crate::console::model::EngineState;
use crate::console::theme::Theme;
use crate::console::view::clean;

/// The top line: name, banner, engine state, pending approvals, databases.
pub fn header(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let status = &app.model.status;
    let mut spans = vec![Span::styled(" Sentri ", theme.selected(true))];
    if let Some(label) = &status.label {
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!(" {} ", clean(label)), theme.banner()));
    }
    let wide = area.width >= crate::console::view::WIDE;
    spans.push(Span::raw("  "));
    spans.push(match &status.engine {
        EngineState::InProcess => Span::styled("engine: in-process", theme.good()),
        EngineState::Attached { pid: Some(pid) } => Span::styled(format!("engine: daemon pid {pid}"), theme.good()),
        EngineState::Attached { pid: None } => Span::styled("engine: daemon", theme.good()),
        EngineState::Stopped { why } if wide => Span::styled(format!("engine: stopped ({})", clean(why)), theme.bad()),
        EngineState::Stopped { .. } => Span::styled("engine: stopped", theme.bad()),
    });
    spans.push(Span::styled(if wide { "  │  " } else { " │ " }, theme.dim()));
    let pending = app.model.pending_approvals();
    spans.push(Span::styled(
        format!("{pending} awaiting approval"),
        if pending > 0 { theme.warn() } else { theme.dim() },
    ));
    spans.push(Span::styled(if wide { "  │  " } else { " │ " }, theme.dim()));
    let total = status.databases.len();
    let reachable = status.databases.iter().filter(|d| d.reachable == Some(true)).count();
    let unknown = status.databases.iter().filter(|d| d.reachable.is_none()).count();
    let style = if total > 0 && reachable == total {
        theme.good()
    } else if total == 0 {
        theme.dim()
    } else {
        theme.warn()
    };
    let mut databases = format!("{} {reachable}/{total} reachable", if wide { "databases" } else { "db" });
    if unknown > 0 && wide {
        databases.push_str(&format!(", {unknown} not yet profiled"));
    }
    spans.push(Span::styled(databases, style));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The bottom line: the filter being typed, the last message, or the main keys.
pub fn footer(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let line = if let Mode::Filter { .. } = &app.mode {
        Line::from(vec![
            Span::styled(format!(" filter {}: /", app.focus.title()), theme.info()),
            Span::raw(app.filter_text(app.focus).clone()),
            Span::styled("▏", theme.info()),
            Span::styled("   Enter keeps · Esc restores", theme.dim()),
        ])
    } else if let Some(flash) = &app.flash {
        Line::from(Span::styled(
            format!(" {}", clean(&flash.text)),
            if flash.error { theme.bad() } else { theme.good() },
        ))
    } else if area.width >= crate::console::view::WIDE {
        Line::from(Span::styled(
            " ↑↓/jk move · Tab pane · e evidence · ⏎ detail · a approve · d deny · r resolve · / filter · ? help · q quit",
            theme.dim(),
        ))
    } else {
        Line::from(Span::styled(
            " jk move · Tab pane · e evidence · ⏎ detail · a/d/r approve/deny/resolve · / ? q",
            theme.dim(),
        ))
    };
    frame.render_widget(Paragraph::new(line), area);
}
