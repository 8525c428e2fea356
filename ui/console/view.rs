//! Drawing: a pure function of the [`App`] onto a frame. Wide terminals show every pane at
//! once; narrow ones (an 80-column SSH window) show the focused pane with a tab line. Dialogs
//! and overlays are drawn last, over the panes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::{App, Mode, Pane};
use super::panes;
use super::theme::Theme;

/// Below this width the panes are shown one at a time.
pub const WIDE: u16 = 110;

/// Draws the whole console.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame) {
    let [header, body, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    panes::status::header(app, theme, frame, header);
    panes::status::footer(app, theme, frame, footer);
    if body.width >= WIDE {
        let [left, right] = Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(body);
        let [workflows, evidence, alerts] =
            Layout::vertical([Constraint::Percentage(35), Constraint::Percentage(40), Constraint::Percentage(25)])
                .areas(left);
        let [mesh, sql, audit] =
            Layout::vertical([Constraint::Percentage(30), Constraint::Percentage(40), Constraint::Percentage(30)])
                .areas(right);
        draw_pane(app, theme, frame, Pane::Workflows, workflows);
        draw_pane(app, theme, frame, Pane::Evidence, evidence);
        draw_pane(app, theme, frame, Pane::Alerts, alerts);
        draw_pane(app, theme, frame, Pane::Mesh, mesh);
        draw_pane(app, theme, frame, Pane::Sql, sql);
        draw_pane(app, theme, frame, Pane::Audit, audit);
    } else {
        let [tabs, pane] = Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(body);
        tab_line(app, theme, frame, tabs);
        draw_pane(app, theme, frame, app.focus, pane);
    }
    match &app.mode {
        Mode::Help => panes::dialogs::help(theme, frame),
        Mode::Learned(scroll) => panes::dialogs::learned(app, theme, frame, *scroll),
        Mode::Databases(view) => panes::databases::draw(app, theme, frame, body, view),
        Mode::Detail(scroll) => panes::dialogs::detail(app, theme, frame, *scroll),
        Mode::Confirm(confirm) => panes::dialogs::confirm(confirm, theme, frame),
        Mode::Reason(prompt) => panes::dialogs::reason(prompt, theme, frame),
        Mode::Normal | Mode::Filter { .. } => {}
    }
}

/// Draws one pane into `area`.
pub fn draw_pane(app: &App, theme: &Theme, frame: &mut Frame, pane: Pane, area: Rect) {
    let focused = app.focus == pane;
    match pane {
        Pane::Workflows => panes::workflows::draw(app, theme, frame, area, focused),
        Pane::Alerts => panes::alerts::draw(app, theme, frame, area, focused),
        Pane::Mesh => panes::mesh::draw(app, theme, frame, area, focused),
        Pane::Sql => panes::sql::draw(app, theme, frame, area, focused),
        Pane::Audit => panes::audit::draw(app, theme, frame, area, focused),
        Pane::Evidence => panes::evidence::draw(app, theme, frame, area, focused),
    }
}

fn tab_line(app: &App, theme: &Theme, frame: &mut Frame, area: Rect) {
    let mut spans = Vec::new();
    for (n, pane) in Pane::ALL.iter().enumerate() {
        let style = if *pane == app.focus { theme.selected(true) } else { theme.dim() };
        spans.push(Span::styled(format!(" {} {} ", n + 1, pane.title()), style));
        spans.push(Span::raw(" "));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A pane's frame: its title (with a count or status), highlighted when focused.
pub fn pane_block<'a>(theme: &Theme, title: impl Into<Line<'a>>, focused: bool) -> Block<'a> {
    Block::default().borders(Borders::ALL).border_style(theme.border(focused)).title(title.into().style(if focused {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new()
    }))
}

/// Text from an email, a database or a policy made safe for a terminal: control characters
/// (escape sequences included) are shown as `\u{..}` instead of being interpreted.
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                if c == '\t' { " ".to_owned() } else { c.escape_unicode().to_string() }
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// `text` broken into lines of at most `width` characters, at spaces where it can be (a word
/// longer than a line is cut): for hanging indents, which ratatui's own wrapping cannot do.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let used = line.chars().count();
            let room = if used == 0 { width } else { width.saturating_sub(used + 1) };
            if word.len() <= room {
                if used > 0 {
                    line.push(' ');
                }
                line.extend(word.iter());
                break;
            }
            if used > 0 {
                lines.push(std::mem::take(&mut line));
                continue;
            }
            line.extend(word.drain(..width));
            lines.push(std::mem::take(&mut line));
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` after `lead`, wrapped to `width` with its continuation lines under the text.
pub fn hanging(lead: &str, text: &str, width: usize, style: Style) -> Vec<Line<'static>> {
    let indent = lead.chars().count();
    wrap(&clean(text), width.saturating_sub(indent))
        .into_iter()
        .enumerate()
        .map(|(n, part)| {
            let lead = if n == 0 { lead.to_owned() } else { " ".repeat(indent) };
            Line::styled(format!("{lead}{part}"), style)
        })
        .collect()
}
