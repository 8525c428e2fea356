//! Why the selected workflow's database is in trouble, as the diagnosis found it: the root
//! cause with its confidence, the evidence rows that made it hold, then the candidates with
//! their scores per criterion and their SQL, the one that became the plan marked. The words are
//! `diagnose::text`'s, the same as `sentri show` and the emails; this pane only lays them out.
//! When a model took part, what it did follows: its calls and cost, the levels it fell from,
//! what it proposed that was refused and why, the judges' verdict, and the conversation as kept
//! (secrets removed), each message cut at [`MESSAGE_CAP`] characters.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use sentri::diagnose::text;
use sentri::domain::{Diagnosis, WorkflowState};

use crate::console::app::App;
use crate::console::theme::Theme;
use crate::console::view::{clean, hanging, pane_block};

/// The characters of one model message the pane shows (`sentri show ID --conversation` prints
/// them whole).
const MESSAGE_CAP: usize = 1200;

/// Draws the Evidence pane for the selected workflow into `area`.
pub fn draw(app: &App, theme: &Theme, frame: &mut Frame, area: Rect, focused: bool) {
    let selected = app.selected_workflow();
    let mut title = vec![Span::raw(" Evidence ")];
    if let Some(workflow) = selected {
        title.push(Span::styled(format!("{} ", workflow.short_id()), theme.dim()));
        if let Some(diagnosis) = &workflow.diagnosis {
            title.push(Span::styled(format!("{} ", diagnosis.first_cause()), theme.warn()));
            title.push(Span::styled(format!("· {} ms ", diagnosis.elapsed_ms), theme.dim()));
        }
    }
    let block = pane_block(theme, Line::from(title), focused);
    let width = usize::from(area.width.saturating_sub(2)).max(20);
    let lines = match selected {
        None => vec![Line::styled("Select a workflow.", theme.dim())],
        Some(workflow) => match &workflow.diagnosis {
            Some(diagnosis) => {
                let chosen = workflow.plan.as_ref().and_then(|plan| diagnosis.chosen(plan));
                diagnosis_lines(diagnosis, chosen, width, theme)
            }
            None => match workflow.unreadable.iter().find_map(|note| note.strip_prefix("diagnosis: ")) {
                Some(why) => hanging("", &format!("The stored diagnosis cannot be read: {why}"), width, theme.bad()),
                None => {
                    let text = if matches!(workflow.state, WorkflowState::Detected | WorkflowState::Verifying) {
                        format!(
                            "Not diagnosed yet ({}): the diagnosis runs once the alert is verified.",
                            workflow.state
                        )
                    } else {
                        format!("No diagnosis stored for this workflow ({}).", workflow.state)
                    };
                    vec![Line::styled(text, theme.dim())]
                }
            },
        },
    };
    frame.render_widget(Paragraph::new(lines).block(block).scroll((app.evidence_scroll, 0)), area);
}

/// The diagnosis as lines of `width` characters, continuation lines under their text.
fn diagnosis_lines(diagnosis: &Diagnosis, chosen: Option<usize>, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for (index, finding) in diagnosis.root_causes.iter().enumerate() {
        let (label, style) = if index == 0 { ("Root cause: ", theme.warn()) } else { ("Also:       ", Style::new()) };
        lines.extend(hanging(label, &text::finding_line(finding), width, style));
        for evidence in &finding.evidence {
            let lead = format!("  {} ", clean(&evidence.tool));
            lines.extend(hanging(&lead, &text::evidence_row(evidence), width, Style::new()));
            lines.extend(hanging("    because ", &evidence.why, width, theme.dim()));
        }
    }
    if diagnosis.candidates.is_empty() {
        lines.push(Line::styled("No candidates: nothing is safe to propose on this evidence.", theme.dim()));
    } else {
        lines.push(Line::styled("Candidates (best first)", theme.header()));
    }
    for (index, candidate) in diagnosis.candidates.iter().enumerate() {
        let is_chosen = chosen == Some(index);
        let lead = format!("{}{}. ", if is_chosen { "▶ " } else { "  " }, index + 1);
        let mut line = text::candidate_line(candidate);
        if is_chosen {
            // One word to the wrapper, so the arrow never ends a line without what it says.
            line.push_str(&format!("  {}", text::CHOSEN.replace(' ', "\u{a0}")));
        }
        lines.extend(hanging(&lead, &line, width, if is_chosen { theme.good() } else { Style::new() }));
        lines.extend(hanging("     scores: ", &text::scores_line(candidate), width, theme.info()));
        for step in &candidate.forward {
            lines.extend(hanging("     ", step, width, Style::new()));
        }
        match &candidate.irreversible {
            Some(why) => lines.extend(hanging("     rollback: none — ", why, width, theme.warn())),
            None => {
                for step in &candidate.rollback {
                    lines.extend(hanging("     rollback: ", step, width, Style::new()));
                }
            }
        }
        lines.extend(hanging("     why: ", &candidate.why, width, theme.dim()));
    }
    if let Some(tools) = text::tools_line(diagnosis) {
        lines.extend(hanging("", &tools, width, theme.dim()));
    }
    if let Some(record) = &diagnosis.model {
        model_lines(diagnosis, record, width, theme, &mut lines);
    }
    lines
}

/// What the model did, then its conversation.
fn model_lines(
    diagnosis: &Diagnosis,
    record: &sentri::domain::ModelRecord,
    width: usize,
    theme: &Theme,
    lines: &mut Vec<Line<'static>>,
) {
    if let Some(gate) = &record.gate {
        lines.extend(hanging("Cost gate: ", gate, width, theme.dim()));
    }
    if record.calls.is_empty() && record.fallbacks.is_empty() {
        return;
    }
    for line in text::model_report(diagnosis.level, record).lines().filter(|line| !line.trim().is_empty()) {
        lines.extend(hanging("", line, width, theme.info()));
    }
    if let Some(judgement) = &record.judgement {
        lines.extend(hanging("Judges: ", &judgement.outcome, width, theme.info()));
    }
    if record.transcript.is_empty() {
        return;
    }
    lines.push(Line::styled("Model conversation (secrets removed)", theme.header()));
    for entry in &record.transcript {
        let mut message: String = entry.text.chars().take(MESSAGE_CAP).collect();
        if entry.text.chars().count() > MESSAGE_CAP {
            message.push_str(" …[cut: sentri show --conversation has it all]");
        }
        let lead = format!("  [{}] ", clean(&entry.role));
        for (index, part) in message.lines().enumerate() {
            let lead = if index == 0 { lead.clone() } else { " ".repeat(lead.chars().count()) };
            lines.extend(hanging(&lead, part, width, Style::new()));
        }
    }
}
