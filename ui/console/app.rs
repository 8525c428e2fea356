//! The console's state and what each key does to it — no terminal, no store, no drawing, so
//! every key is tested as data. Keys become [`Action`]s through [`keymap`]; approve, deny and
//! resolve become [`Command`]s (carrying the plan hash the DBA saw) only after a confirmation
//! step; the loop carries the commands out.

use std::cell::Cell;

use jiff::Timestamp;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use sentri::domain::{PlanHash, WorkflowId, WorkflowState};
use sentri::pipeline::learned_review::LearnedReview;
use sentri::store::WorkflowRow;

use super::model::{Model, WorkflowQuery, alert_matches, audit_matches};
use super::plan_text::PlanView;

/// The panes, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    Workflows,
    Mesh,
    Sql,
    Alerts,
    Audit,
    /// The diagnosis: root cause, evidence, scored candidates. Last in Tab order so the digits
    /// 1–5 keep their panes; `e` reaches it too.
    Evidence,
}

impl Pane {
    pub const ALL: [Pane; 6] = [Pane::Workflows, Pane::Mesh, Pane::Sql, Pane::Alerts, Pane::Audit, Pane::Evidence];

    /// The name in the pane's title and the tab line.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Workflows => "Workflows",
            Pane::Mesh => "Safety Mesh",
            Pane::Sql => "SQL",
            Pane::Alerts => "Alerts",
            Pane::Audit => "Audit",
            Pane::Evidence => "Evidence",
        }
    }

    fn position(self) -> usize {
        Pane::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }

    /// The pane Tab goes to.
    pub fn next(self) -> Pane {
        Pane::ALL[(self.position() + 1) % Pane::ALL.len()]
    }

    /// The pane Shift-Tab goes to.
    pub fn previous(self) -> Pane {
        Pane::ALL[(self.position() + Pane::ALL.len() - 1) % Pane::ALL.len()]
    }
}

/// What a key means, whatever key it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    NextPane,
    PreviousPane,
    FocusPane(Pane),
    Detail,
    Approve,
    Deny,
    Resolve,
    Filter,
    ClearFilter,
    Help,
    /// Review the learned policies (`L`).
    Learned,
    /// The Databases view (`D`).
    Databases,
    Quit,
    /// A character typed into a text field.
    Input(char),
    Backspace,
    /// Enter (or `y`) in a dialog.
    Accept,
    /// Esc in a dialog.
    Cancel,
}

/// A decision to carry out, exactly as the DBA confirmed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Approve this workflow's plan — this exact plan hash, the one shown in the dialog.
    Approve { workflow_id: WorkflowId, plan_hash: PlanHash },
    /// Deny this plan, with the reason typed.
    Deny { workflow_id: WorkflowId, plan_hash: PlanHash, reason: String },
    /// Close a workflow a DBA handled by hand, from the state it was seen in.
    Resolve { workflow_id: WorkflowId, from: WorkflowState, reason: String },
}

/// The approve dialog: what the DBA is about to approve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmApproval {
    pub workflow_id: WorkflowId,
    pub title: String,
    pub plan_hash: PlanHash,
    /// Why the Safety Mesh asks for a human: its NEEDS_APPROVAL reasons, `check: reason`.
    pub why: Vec<String>,
    pub forward: Vec<String>,
    pub rollback: Vec<String>,
}

/// Which decision a reason is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonKind {
    Deny,
    Resolve,
}

/// The reason prompt of deny and resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonPrompt {
    pub kind: ReasonKind,
    pub workflow_id: WorkflowId,
    pub title: String,
    pub plan_hash: Option<PlanHash>,
    pub from: WorkflowState,
    pub text: String,
    pub error: Option<String>,
}

/// What the keyboard is talking to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// Editing the focused pane's filter; `previous` comes back on Esc.
    Filter {
        previous: String,
    },
    Help,
    /// The review of the learned policies, as `sentri policy learned` prints it; its scroll.
    Learned(u16),
    /// The Databases view: one row per database; Enter opens the selected one's checks and
    /// series.
    Databases(DatabasesView),
    /// The detail overlay of the focused pane's selection; the number is its scroll.
    Detail(u16),
    Confirm(ConfirmApproval),
    Reason(ReasonPrompt),
}

/// Where the Databases view is: its selected row, and whether that database's checks and
/// history are open (with their scroll).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DatabasesView {
    pub selected: usize,
    pub open: bool,
    pub scroll: u16,
}

/// A one-line message at the bottom: what just happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    pub text: String,
    pub error: bool,
}

/// Selection and scroll of one list. The offset is view memory: drawing keeps the selection in
/// the window and remembers where the window was, through a `Cell` so drawing stays `&App`.
#[derive(Debug, Clone, Default)]
pub struct ListState {
    pub selected: usize,
    pub offset: Cell<usize>,
}

impl ListState {
    /// The first row to show in a window of `height` rows so that the selection is visible and
    /// the window moves as little as possible.
    pub fn window_start(&self, height: usize, len: usize) -> usize {
        let height = height.max(1);
        let mut offset = self.offset.get().min(len.saturating_sub(1));
        if self.selected < offset {
            offset = self.selected;
        } else if self.selected >= offset + height {
            offset = self.selected + 1 - height;
        }
        self.offset.set(offset);
        offset
    }
}

/// The whole console state.
#[derive(Debug, Clone)]
pub struct App {
    pub model: Model,
    pub focus: Pane,
    pub mode: Mode,
    pub workflows: ListState,
    pub alerts: ListState,
    pub audit: ListState,
    pub workflow_filter: String,
    pub alert_filter: String,
    pub audit_filter: String,
    /// Positions in `model.workflows` that pass the filter, newest first.
    pub visible_workflows: Vec<usize>,
    /// Positions in `model.alerts` that pass the filter, newest first.
    pub visible_alerts: Vec<usize>,
    /// Positions in `model.audit` that pass the filter, newest first.
    pub visible_audit: Vec<usize>,
    /// Scroll of the Safety Mesh, SQL and Evidence panes.
    pub mesh_scroll: u16,
    pub sql_scroll: u16,
    pub evidence_scroll: u16,
    pub flash: Option<Flash>,
    pub should_quit: bool,
    /// The learned policies as last read (the loop reads them when the review opens), or why
    /// they could not be.
    pub learned: Option<Result<Vec<LearnedReview>, String>>,
    /// Set when the review was opened: the loop reads the files and clears it.
    pub learned_wanted: bool,
    selected_workflow_id: Option<WorkflowId>,
}

/// Rows a page key moves.
const PAGE: usize = 10;

impl App {
    /// The state over `model`: Workflows focused, first row selected, no filter.
    pub fn new(model: Model) -> App {
        let mut app = App {
            model,
            focus: Pane::Workflows,
            mode: Mode::Normal,
            workflows: ListState::default(),
            alerts: ListState::default(),
            audit: ListState::default(),
            workflow_filter: String::new(),
            alert_filter: String::new(),
            audit_filter: String::new(),
            visible_workflows: Vec::new(),
            visible_alerts: Vec::new(),
            visible_audit: Vec::new(),
            mesh_scroll: 0,
            sql_scroll: 0,
            evidence_scroll: 0,
            flash: None,
            should_quit: false,
            learned: None,
            learned_wanted: false,
            selected_workflow_id: None,
        };
        app.recompute();
        app
    }

    /// Call after the model changed: re-applies the filters and keeps the selected workflow
    /// selected (by id) even if rows moved.
    pub fn recompute(&mut self) {
        let query = WorkflowQuery::parse(&self.workflow_filter);
        self.visible_workflows =
            (0..self.model.workflows.len()).rev().filter(|&i| query.matches(&self.model.workflows[i])).collect();
        self.visible_alerts = (0..self.model.alerts.len())
            .rev()
            .filter(|&i| alert_matches(&self.model.alerts[i], &self.alert_filter))
            .collect();
        self.visible_audit = (0..self.model.audit.len())
            .rev()
            .filter(|&i| audit_matches(&self.model.audit[i], &self.audit_filter))
            .collect();
        if let Some(id) = &self.selected_workflow_id
            && let Some(at) = self.visible_workflows.iter().position(|&i| self.model.workflows[i].id == *id)
        {
            self.workflows.selected = at;
        }
        clamp(&mut self.workflows, self.visible_workflows.len());
        clamp(&mut self.alerts, self.visible_alerts.len());
        clamp(&mut self.audit, self.visible_audit.len());
        self.remember_selection();
    }

    fn remember_selection(&mut self) {
        self.selected_workflow_id = self.selected_workflow().map(|w| w.id.clone());
    }

    /// The workflow the Mesh, SQL and Evidence panes (and approve, deny, resolve) are about.
    pub fn selected_workflow(&self) -> Option<&WorkflowRow> {
        self.visible_workflows.get(self.workflows.selected).map(|&i| &self.model.workflows[i])
    }

    /// Updates "now" (for ages) on a tick.
    pub fn set_now(&mut self, now: Timestamp) {
        self.model.now = now;
    }

    /// Shows the outcome of a command.
    pub fn flash(&mut self, text: impl Into<String>, error: bool) {
        self.flash = Some(Flash { text: text.into(), error });
    }

    /// Handles one key; returns a command when the DBA confirmed a decision.
    pub fn handle_key(&mut self, key: KeyEvent) -> Option<Command> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let action = keymap(&self.mode, key)?;
        self.apply(action)
    }

    /// Applies one action.
    pub fn apply(&mut self, action: Action) -> Option<Command> {
        match self.mode.clone() {
            Mode::Normal => self.normal(action),
            Mode::Filter { previous } => {
                self.filter_key(action, previous);
                None
            }
            Mode::Help => {
                if matches!(action, Action::Cancel | Action::Help | Action::Quit | Action::Accept) {
                    self.mode = Mode::Normal;
                }
                None
            }
            Mode::Learned(scroll) => {
                self.mode = match action {
                    Action::Down => Mode::Learned(scroll.saturating_add(1)),
                    Action::Up => Mode::Learned(scroll.saturating_sub(1)),
                    Action::PageDown => Mode::Learned(scroll.saturating_add(PAGE as u16)),
                    Action::PageUp => Mode::Learned(scroll.saturating_sub(PAGE as u16)),
                    Action::Top => Mode::Learned(0),
                    Action::Cancel | Action::Accept | Action::Quit | Action::Learned => Mode::Normal,
                    _ => Mode::Learned(scroll),
                };
                None
            }
            Mode::Databases(view) => {
                self.mode = self.databases_key(action, view);
                None
            }
            Mode::Detail(scroll) => {
                self.mode = match action {
                    Action::Down => Mode::Detail(scroll.saturating_add(1)),
                    Action::Up => Mode::Detail(scroll.saturating_sub(1)),
                    Action::PageDown => Mode::Detail(scroll.saturating_add(PAGE as u16)),
                    Action::PageUp => Mode::Detail(scroll.saturating_sub(PAGE as u16)),
                    Action::Cancel | Action::Accept | Action::Quit | Action::Detail => Mode::Normal,
                    _ => Mode::Detail(scroll),
                };
                None
            }
            Mode::Confirm(confirm) => match action {
                Action::Accept => {
                    self.mode = Mode::Normal;
                    Some(Command::Approve { workflow_id: confirm.workflow_id, plan_hash: confirm.plan_hash })
                }
                Action::Cancel => {
                    self.mode = Mode::Normal;
                    self.flash("Approval cancelled; nothing was recorded.", false);
                    None
                }
                _ => None,
            },
            Mode::Reason(prompt) => self.reason_key(action, prompt),
        }
    }

    fn normal(&mut self, action: Action) -> Option<Command> {
        match action {
            Action::Up => self.move_selection(-1),
            Action::Down => self.move_selection(1),
            Action::PageUp => self.move_selection(-(PAGE as isize)),
            Action::PageDown => self.move_selection(PAGE as isize),
            Action::Top => self.move_selection(isize::MIN / 2),
            Action::Bottom => self.move_selection(isize::MAX / 2),
            Action::NextPane => self.focus = self.focus.next(),
            Action::PreviousPane => self.focus = self.focus.previous(),
            Action::FocusPane(pane) => self.focus = pane,
            Action::Detail => self.open_detail(),
            Action::Approve => self.start_approval(),
            Action::Deny => self.start_reason(ReasonKind::Deny),
            Action::Resolve => self.start_reason(ReasonKind::Resolve),
            Action::Filter => {
                let pane = self.filter_pane();
                self.focus = pane;
                self.mode = Mode::Filter { previous: self.filter_text(pane).clone() };
            }
            Action::ClearFilter => {
                if self.flash.take().is_none() {
                    let pane = self.filter_pane();
                    self.filter_text_mut(pane).clear();
                    self.recompute();
                }
            }
            Action::Help => self.mode = Mode::Help,
            Action::Databases => self.mode = Mode::Databases(DatabasesView::default()),
            Action::Learned => {
                self.mode = Mode::Learned(0);
                self.learned_wanted = true;
            }
            Action::Quit => self.should_quit = true,
            Action::Input(_) | Action::Backspace | Action::Accept | Action::Cancel => {}
        }
        None
    }

    /// A key in the Databases view: the list moves the selection, an open database scrolls;
    /// Enter opens or closes the database, Esc closes it and then the view.
    fn databases_key(&self, action: Action, mut view: DatabasesView) -> Mode {
        let last = self.model.fleet.len().saturating_sub(1);
        let step = |delta: isize, view: &mut DatabasesView| {
            if view.open {
                view.scroll = scroll(view.scroll, delta);
            } else {
                view.selected = (view.selected as isize).saturating_add(delta).clamp(0, last as isize) as usize;
            }
        };
        match action {
            Action::Up => step(-1, &mut view),
            Action::Down => step(1, &mut view),
            Action::PageUp => step(-(PAGE as isize), &mut view),
            Action::PageDown => step(PAGE as isize, &mut view),
            Action::Top => step(isize::MIN / 2, &mut view),
            Action::Bottom => step(isize::MAX / 2, &mut view),
            Action::Detail | Action::Accept if !self.model.fleet.is_empty() => {
                view.open = !view.open;
                view.scroll = 0;
            }
            Action::Cancel if view.open => view.open = false,
            Action::Cancel | Action::Quit | Action::Databases => return Mode::Normal,
            _ => {}
        }
        Mode::Databases(view)
    }

    /// Whether the Databases view is showing (the refresher reads it only then).
    pub fn databases_open(&self) -> bool {
        matches!(self.mode, Mode::Databases(_))
    }

    /// The pane a filter applies to: the focused list, or Workflows from the panes about the
    /// selected workflow (Safety Mesh, SQL, Evidence).
    fn filter_pane(&self) -> Pane {
        match self.focus {
            Pane::Alerts => Pane::Alerts,
            Pane::Audit => Pane::Audit,
            _ => Pane::Workflows,
        }
    }

    /// The filter text of a list pane.
    pub fn filter_text(&self, pane: Pane) -> &String {
        match pane {
            Pane::Alerts => &self.alert_filter,
            Pane::Audit => &self.audit_filter,
            _ => &self.workflow_filter,
        }
    }

    fn filter_text_mut(&mut self, pane: Pane) -> &mut String {
        match pane {
            Pane::Alerts => &mut self.alert_filter,
            Pane::Audit => &mut self.audit_filter,
            _ => &mut self.workflow_filter,
        }
    }

    fn filter_key(&mut self, action: Action, previous: String) {
        let pane = self.filter_pane();
        match action {
            Action::Input(c) => self.filter_text_mut(pane).push(c),
            Action::Backspace => {
                self.filter_text_mut(pane).pop();
            }
            Action::Accept => self.mode = Mode::Normal,
            Action::Cancel => {
                *self.filter_text_mut(pane) = previous;
                self.mode = Mode::Normal;
            }
            _ => return,
        }
        self.recompute();
    }

    fn reason_key(&mut self, action: Action, mut prompt: ReasonPrompt) -> Option<Command> {
        match action {
            Action::Input(c) => {
                prompt.text.push(c);
                prompt.error = None;
            }
            Action::Backspace => {
                prompt.text.pop();
            }
            Action::Cancel => {
                self.mode = Mode::Normal;
                self.flash("Cancelled; nothing was recorded.", false);
                return None;
            }
            Action::Accept => {
                let reason = prompt.text.trim().to_owned();
                if reason.is_empty() {
                    prompt.error = Some(match prompt.kind {
                        ReasonKind::Deny => "A denial needs a reason, for the audit trail.".to_owned(),
                        ReasonKind::Resolve => "Say what was done by hand, for the audit trail.".to_owned(),
                    });
                } else {
                    self.mode = Mode::Normal;
                    return match (prompt.kind, prompt.plan_hash) {
                        (ReasonKind::Deny, Some(plan_hash)) => {
                            Some(Command::Deny { workflow_id: prompt.workflow_id, plan_hash, reason })
                        }
                        (ReasonKind::Deny, None) => {
                            self.flash("This workflow has no plan to deny.", true);
                            None
                        }
                        (ReasonKind::Resolve, _) => {
                            Some(Command::Resolve { workflow_id: prompt.workflow_id, from: prompt.from, reason })
                        }
                    };
                }
            }
            _ => {}
        }
        self.mode = Mode::Reason(prompt);
        None
    }

    fn move_selection(&mut self, delta: isize) {
        let (state, len) = match self.focus {
            Pane::Workflows => (&mut self.workflows, self.visible_workflows.len()),
            Pane::Alerts => (&mut self.alerts, self.visible_alerts.len()),
            Pane::Audit => (&mut self.audit, self.visible_audit.len()),
            Pane::Mesh => {
                self.mesh_scroll = scroll(self.mesh_scroll, delta);
                return;
            }
            Pane::Sql => {
                self.sql_scroll = scroll(self.sql_scroll, delta);
                return;
            }
            Pane::Evidence => {
                self.evidence_scroll = scroll(self.evidence_scroll, delta);
                return;
            }
        };
        let last = len.saturating_sub(1) as isize;
        state.selected = (state.selected as isize).saturating_add(delta).clamp(0, last.max(0)) as usize;
        if self.focus == Pane::Workflows {
            self.mesh_scroll = 0;
            self.sql_scroll = 0;
            self.evidence_scroll = 0;
            self.remember_selection();
        }
    }

    /// Enter: on an alert that started or joined a workflow, jump to it; otherwise the detail
    /// overlay of the selection.
    fn open_detail(&mut self) {
        if self.focus == Pane::Alerts {
            let target = self
                .visible_alerts
                .get(self.alerts.selected)
                .and_then(|&i| super::model::alert_outcome(&self.model.alerts[i]).3.map(str::to_owned));
            if let Some(id) = target
                && let Some(at) = self.visible_workflows.iter().position(|&i| self.model.workflows[i].id == id)
            {
                self.workflows.selected = at;
                self.remember_selection();
                self.focus = Pane::Workflows;
                return;
            }
        }
        let has_selection = match self.focus {
            Pane::Alerts => !self.visible_alerts.is_empty(),
            Pane::Audit => !self.visible_audit.is_empty(),
            _ => self.selected_workflow().is_some(),
        };
        if has_selection {
            self.mode = Mode::Detail(0);
        }
    }

    fn start_approval(&mut self) {
        let Some(workflow) = self.selected_workflow() else {
            self.flash("No workflow selected.", true);
            return;
        };
        if workflow.state != WorkflowState::AwaitingApproval {
            let text = format!("Workflow {} is {}; nothing to approve.", workflow.short_id(), workflow.state);
            self.flash(text, true);
            return;
        }
        let Some(plan_hash) = workflow.plan_hash.clone() else {
            let text = format!("Workflow {} has no plan to approve.", workflow.short_id());
            self.flash(text, true);
            return;
        };
        let view = PlanView::of(workflow);
        let why = self
            .model
            .detail
            .as_ref()
            .filter(|detail| detail.workflow_id == workflow.id)
            .map(|detail| {
                super::model::latest_run(&detail.audit)
                    .0
                    .into_iter()
                    .filter(|row| row.result == "NEEDS_APPROVAL")
                    .filter_map(|row| row.safety_verdict())
                    .filter(|verdict| !verdict.is_summary())
                    .map(|verdict| format!("{}: {}", verdict.check, verdict.reason.unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        self.mode = Mode::Confirm(ConfirmApproval {
            workflow_id: workflow.id.clone(),
            title: title(workflow),
            plan_hash,
            why,
            forward: view.forward(),
            rollback: view.rollback(),
        });
    }

    fn start_reason(&mut self, kind: ReasonKind) {
        let Some(workflow) = self.selected_workflow() else {
            self.flash("No workflow selected.", true);
            return;
        };
        let refusal = match kind {
            ReasonKind::Deny if workflow.state != WorkflowState::AwaitingApproval => {
                Some(format!("Workflow {} is {}; nothing to deny.", workflow.short_id(), workflow.state))
            }
            ReasonKind::Deny if workflow.plan_hash.is_none() => {
                Some(format!("Workflow {} has no plan to deny.", workflow.short_id()))
            }
            ReasonKind::Resolve if !workflow.state.can_transition(WorkflowState::Resolved) => Some(format!(
                "Workflow {} is {} and cannot be resolved by hand{}.",
                workflow.short_id(),
                workflow.state,
                if workflow.state == WorkflowState::Executing { " while a fix is running" } else { "" }
            )),
            _ => None,
        };
        if let Some(text) = refusal {
            self.flash(text, true);
            return;
        }
        self.mode = Mode::Reason(ReasonPrompt {
            kind,
            workflow_id: workflow.id.clone(),
            title: title(workflow),
            plan_hash: workflow.plan_hash.clone(),
            from: workflow.state,
            text: String::new(),
            error: None,
        });
    }
}

fn title(workflow: &WorkflowRow) -> String {
    format!("{} {} on {} ({})", workflow.short_id(), workflow.alert_type, workflow.database, workflow.environment)
}

fn clamp(state: &mut ListState, len: usize) {
    state.selected = state.selected.min(len.saturating_sub(1));
}

fn scroll(current: u16, delta: isize) -> u16 {
    let next = (current as isize).saturating_add(delta).clamp(0, u16::MAX as isize);
    next as u16
}

/// Which action a key is in a mode. Text fields take printable characters as input; lists
/// take vi keys and arrows alike.
pub fn keymap(mode: &Mode, key: KeyEvent) -> Option<Action> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return Some(match mode {
            Mode::Normal => Action::Quit,
            _ => Action::Cancel,
        });
    }
    match mode {
        Mode::Filter { .. } | Mode::Reason(_) => match key.code {
            KeyCode::Enter => Some(Action::Accept),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Backspace => Some(Action::Backspace),
            KeyCode::Char(c) if !ctrl => Some(Action::Input(c)),
            _ => None,
        },
        Mode::Confirm(_) => match key.code {
            KeyCode::Enter | KeyCode::Char('y') | KeyCode::Char('Y') => Some(Action::Accept),
            KeyCode::Esc | KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Char('q') => Some(Action::Cancel),
            _ => None,
        },
        Mode::Help => match key.code {
            KeyCode::Esc | KeyCode::Char('?') | KeyCode::Char('q') | KeyCode::Enter => Some(Action::Cancel),
            _ => None,
        },
        Mode::Databases(_) => match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
            KeyCode::PageUp => Some(Action::PageUp),
            KeyCode::PageDown => Some(Action::PageDown),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Bottom),
            KeyCode::Enter => Some(Action::Detail),
            KeyCode::Esc => Some(Action::Cancel),
            KeyCode::Char('q') | KeyCode::Char('D') => Some(Action::Databases),
            _ => None,
        },
        Mode::Learned(_) => match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
            KeyCode::PageUp => Some(Action::PageUp),
            KeyCode::PageDown => Some(Action::PageDown),
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
            KeyCode::Esc | KeyCode::Char('q') | KeyCode::Char('L') | KeyCode::Enter => Some(Action::Cancel),
            _ => None,
        },
        Mode::Detail(_) | Mode::Normal => match key.code {
            KeyCode::Up | KeyCode::Char('k') => Some(Action::Up),
            KeyCode::Down | KeyCode::Char('j') => Some(Action::Down),
            KeyCode::PageUp => Some(Action::PageUp),
            KeyCode::PageDown => Some(Action::PageDown),
            KeyCode::Char('u') if ctrl => Some(Action::PageUp),
            KeyCode::Char('d') if ctrl => Some(Action::PageDown),
            KeyCode::Esc => Some(if matches!(mode, Mode::Normal) { Action::ClearFilter } else { Action::Cancel }),
            KeyCode::Enter => Some(Action::Detail),
            KeyCode::Char('q') => Some(if matches!(mode, Mode::Normal) { Action::Quit } else { Action::Cancel }),
            _ if !matches!(mode, Mode::Normal) => None,
            KeyCode::Home | KeyCode::Char('g') => Some(Action::Top),
            KeyCode::End | KeyCode::Char('G') => Some(Action::Bottom),
            KeyCode::Tab => Some(Action::NextPane),
            KeyCode::BackTab => Some(Action::PreviousPane),
            KeyCode::Char('1') => Some(Action::FocusPane(Pane::Workflows)),
            KeyCode::Char('2') => Some(Action::FocusPane(Pane::Mesh)),
            KeyCode::Char('3') => Some(Action::FocusPane(Pane::Sql)),
            KeyCode::Char('4') => Some(Action::FocusPane(Pane::Alerts)),
            KeyCode::Char('5') => Some(Action::FocusPane(Pane::Audit)),
            KeyCode::Char('6') | KeyCode::Char('e') => Some(Action::FocusPane(Pane::Evidence)),
            KeyCode::Char('a') => Some(Action::Approve),
            KeyCode::Char('d') => Some(Action::Deny),
            KeyCode::Char('r') => Some(Action::Resolve),
            KeyCode::Char('/') => Some(Action::Filter),
            KeyCode::Char('?') => Some(Action::Help),
            KeyCode::Char('L') => Some(Action::Learned),
            KeyCode::Char('D') => Some(Action::Databases),
            _ => None,
        },
    }
}

/// Every key, for the help overlay: (keys, what they do).
pub const HELP: &[(&str, &str)] = &[
    ("↑ ↓  k j", "move the selection (scroll in Safety Mesh, SQL and Evidence)"),
    ("PgUp PgDn  ^u ^d", "move a page"),
    ("g G  Home End", "first / last row"),
    ("Tab  Shift-Tab", "next / previous pane"),
    ("1 2 3 4 5", "Workflows, Safety Mesh, SQL, Alerts, Audit"),
    ("6  e", "Evidence: root cause, evidence rows, scored candidates"),
    ("Enter", "detail of the selection (on an alert: go to its workflow)"),
    ("a", "approve the selected plan (shows its hash and SQL; Enter/y confirms)"),
    ("d", "deny the plan (asks for a reason)"),
    ("r", "resolve by hand (asks what was done)"),
    ("/", "filter the list: words, status:awaiting db:NAME env:PROD"),
    ("Esc", "clear the message, then the filter; close a dialog"),
    ("L", "review the policies Sentri learned (alerts/learned/), as diffs"),
    ("D", "Databases: reachability, open workflows, worst finding, days to full; Enter: its checks"),
    ("?", "this help"),
    ("q  Ctrl-C", "quit"),
];
