//! The console's state, key by key: navigation, panes, filters, the approve / deny / resolve
//! dialogs and the commands they produce, help and quit — on a store filled the way the engine
//! fills it, with no terminal. Commands are then carried out on that real store.

#[allow(dead_code)]
#[path = "../ui/console/mod.rs"]
mod console;
#[allow(dead_code)]
mod console_support;

use console::app::{Action, App, Command, Mode, Pane, ReasonKind};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use sentri::domain::WorkflowState;

fn key(app: &mut App, code: KeyCode) -> Option<Command> {
    app.handle_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        assert_eq!(key(app, KeyCode::Char(c)), None);
    }
}

fn select(app: &mut App, id: &str) {
    app.focus = Pane::Workflows;
    key(app, KeyCode::Char('g'));
    while app.selected_workflow().is_some_and(|w| w.id != id) {
        let before = app.workflows.selected;
        key(app, KeyCode::Char('j'));
        assert_ne!(before, app.workflows.selected, "workflow {id} not in the list");
    }
}

#[test]
fn lists_are_newest_first_and_navigation_stays_in_bounds() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    let ids: Vec<&str> = app.visible_workflows.iter().map(|&i| app.model.workflows[i].id.as_str()).collect();
    assert_eq!(ids, [fixture.escalated.id.as_str(), fixture.completed.id.as_str(), fixture.awaiting.id.as_str()]);
    assert_eq!(app.selected_workflow().map(|w| &w.id), Some(&fixture.escalated.id));
    key(&mut app, KeyCode::Up);
    assert_eq!(app.workflows.selected, 0, "no wrap above the top");
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.selected_workflow().map(|w| &w.id), Some(&fixture.awaiting.id));
    key(&mut app, KeyCode::Down);
    assert_eq!(app.workflows.selected, 2, "no wrap below the bottom");
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.workflows.selected, 1);
    key(&mut app, KeyCode::Char('G'));
    assert_eq!(app.workflows.selected, 2);
    key(&mut app, KeyCode::Home);
    assert_eq!(app.workflows.selected, 0);
    assert_eq!(app.visible_alerts.len(), 5);
    assert_eq!(app.model.pending_approvals(), 1);
}

#[test]
fn tab_and_shift_tab_cycle_the_panes_and_digits_jump() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    let mut seen = vec![app.focus];
    for _ in 0..6 {
        key(&mut app, KeyCode::Tab);
        seen.push(app.focus);
    }
    assert_eq!(
        seen,
        [Pane::Workflows, Pane::Mesh, Pane::Sql, Pane::Alerts, Pane::Audit, Pane::Evidence, Pane::Workflows]
    );
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Evidence);
    key(&mut app, KeyCode::BackTab);
    assert_eq!(app.focus, Pane::Audit);
    key(&mut app, KeyCode::Char('4'));
    assert_eq!(app.focus, Pane::Alerts);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.alerts.selected, 1, "arrows move the focused list");
    assert_eq!(app.workflows.selected, 0);
}

#[test]
fn e_and_6_open_the_evidence_pane_which_scrolls_and_resets_with_the_selection() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    select(&mut app, &fixture.awaiting.id);
    key(&mut app, KeyCode::Char('e'));
    assert_eq!(app.focus, Pane::Evidence);
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('6'));
    assert_eq!(app.focus, Pane::Evidence);
    key(&mut app, KeyCode::Char('j'));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.evidence_scroll, 2, "arrows scroll the pane");
    assert_eq!(app.selected_workflow().map(|w| &w.id), Some(&fixture.awaiting.id), "and leave the selection");
    assert!(app.selected_workflow().is_some_and(|w| w.diagnosis.is_some()), "the fixture's workflow is diagnosed");
    key(&mut app, KeyCode::Char('1'));
    key(&mut app, KeyCode::Char('k'));
    assert_eq!(app.evidence_scroll, 0, "another workflow starts at its root cause");
    assert!(console::app::HELP.iter().any(|(keys, what)| keys.contains('e') && what.starts_with("Evidence")));
}

#[test]
fn filter_editing_narrows_live_enter_keeps_esc_restores() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    key(&mut app, KeyCode::Char('/'));
    assert!(matches!(app.mode, Mode::Filter { .. }));
    typed(&mut app, "status:await");
    assert_eq!(app.workflow_filter, "status:await");
    assert_eq!(app.visible_workflows.len(), 1);
    assert_eq!(app.selected_workflow().map(|w| &w.id), Some(&fixture.awaiting.id));
    typed(&mut app, "q");
    assert_eq!(app.visible_workflows.len(), 0, "q is text while typing, not quit");
    assert!(!app.should_quit);
    key(&mut app, KeyCode::Backspace);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Normal);
    assert_eq!(app.visible_workflows.len(), 1);

    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, " db:nothing");
    assert_eq!(app.visible_workflows.len(), 0);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.workflow_filter, "status:await", "Esc brings back the filter as it was");
    assert_eq!(app.visible_workflows.len(), 1);

    key(&mut app, KeyCode::Esc);
    assert_eq!(app.workflow_filter, "", "Esc in the list clears the filter");
    assert_eq!(app.visible_workflows.len(), 3);

    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "prod env:prod");
    key(&mut app, KeyCode::Enter);
    let databases: Vec<&str> =
        app.visible_workflows.iter().map(|&i| app.model.workflows[i].database.as_str()).collect();
    assert_eq!(databases, ["PGPROD", "PRODDB"]);

    key(&mut app, KeyCode::Char('4'));
    key(&mut app, KeyCode::Char('/'));
    typed(&mut app, "unmatched");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.visible_alerts.len(), 1, "the Alerts pane has its own filter");
    assert_eq!(app.visible_workflows.len(), 2);
}

#[test]
fn approve_shows_the_plan_hash_and_sql_then_yields_an_approve_command() {
    let fixture = console_support::filled();
    let (mut app, mut refresher) = console_support::app(&fixture);
    select(&mut app, &fixture.awaiting.id);
    // The live loop loads the selection's detail (its verdicts) after every key.
    refresher.refresh_detail(&mut app).expect("detail");
    assert_eq!(key(&mut app, KeyCode::Char('a')), None);
    let Mode::Confirm(confirm) = &app.mode else { panic!("expected the approve dialog, got {:?}", app.mode) };
    let hash = fixture.awaiting.plan_hash.clone().expect("plan hash");
    assert_eq!(confirm.plan_hash, hash);
    assert_eq!(confirm.why.len(), 1, "{:?}", confirm.why);
    assert!(confirm.why[0].starts_with("policy_gate: PRODDB runs ADVISORY"), "{:?}", confirm.why);
    assert_eq!(
        confirm.forward,
        ["ALTER TABLESPACE \"USERS\" ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32G"]
    );
    assert_eq!(confirm.rollback, ["ALTER TABLESPACE \"USERS\" DROP DATAFILE :file_name"]);
    assert_eq!(key(&mut app, KeyCode::Char('j')), None, "other keys do nothing in the dialog");
    assert!(matches!(app.mode, Mode::Confirm(_)));
    assert_eq!(key(&mut app, KeyCode::Esc), None);
    assert_eq!(app.mode, Mode::Normal);

    key(&mut app, KeyCode::Char('a'));
    let command = key(&mut app, KeyCode::Char('y'));
    assert_eq!(command, Some(Command::Approve { workflow_id: fixture.awaiting.id.clone(), plan_hash: hash.clone() }));
    key(&mut app, KeyCode::Char('a'));
    let command = key(&mut app, KeyCode::Enter);
    assert_eq!(command, Some(Command::Approve { workflow_id: fixture.awaiting.id.clone(), plan_hash: hash }));
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn approve_and_deny_are_refused_on_a_workflow_not_awaiting_approval() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    select(&mut app, &fixture.completed.id);
    assert_eq!(key(&mut app, KeyCode::Char('a')), None);
    assert_eq!(app.mode, Mode::Normal);
    let flash = app.flash.clone().expect("a message");
    assert!(flash.error && flash.text.contains("COMPLETED"), "{flash:?}");
    key(&mut app, KeyCode::Char('d'));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.flash.as_ref().is_some_and(|f| f.text.contains("nothing to deny")));
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(app.mode, Mode::Normal, "a completed workflow cannot be resolved by hand");
}

#[test]
fn deny_requires_a_reason() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    select(&mut app, &fixture.awaiting.id);
    key(&mut app, KeyCode::Char('d'));
    assert!(matches!(&app.mode, Mode::Reason(p) if p.kind == ReasonKind::Deny));
    typed(&mut app, "   ");
    assert_eq!(key(&mut app, KeyCode::Enter), None);
    let Mode::Reason(prompt) = &app.mode else { panic!("the prompt stays open") };
    assert!(prompt.error.as_deref().is_some_and(|e| e.contains("reason")), "{prompt:?}");
    app.apply(Action::Backspace);
    typed(&mut app, "change freeze: after the release");
    let command = key(&mut app, KeyCode::Enter);
    assert_eq!(
        command,
        Some(Command::Deny {
            workflow_id: fixture.awaiting.id.clone(),
            plan_hash: fixture.awaiting.plan_hash.clone().expect("hash"),
            reason: "change freeze: after the release".into(),
        })
    );
    assert_eq!(app.mode, Mode::Normal);
}

#[test]
fn resolve_asks_what_was_done_and_esc_cancels() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    select(&mut app, &fixture.escalated.id);
    assert!(WorkflowState::Escalated.can_transition(WorkflowState::Resolved));
    key(&mut app, KeyCode::Char('r'));
    assert!(matches!(&app.mode, Mode::Reason(p) if p.kind == ReasonKind::Resolve));
    typed(&mut app, "x");
    assert_eq!(key(&mut app, KeyCode::Esc), None);
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char('r'));
    assert_eq!(key(&mut app, KeyCode::Enter), None, "empty reason refused");
    typed(&mut app, "killed the session by hand");
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        Some(Command::Resolve {
            workflow_id: fixture.escalated.id.clone(),
            from: WorkflowState::Escalated,
            reason: "killed the session by hand".into(),
        })
    );
}

#[test]
fn help_overlay_opens_and_closes_and_q_quits_only_from_the_lists() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    key(&mut app, KeyCode::Char('?'));
    assert_eq!(app.mode, Mode::Help);
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.should_quit, "q closes help first");
    key(&mut app, KeyCode::Char('?'));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.mode, Mode::Normal);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.should_quit);

    let (mut app, _) = console_support::app(&fixture);
    app.handle_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.should_quit, "Ctrl-C quits");
}

#[test]
fn enter_on_an_alert_goes_to_its_workflow_and_elsewhere_opens_the_detail() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    key(&mut app, KeyCode::Char('4'));
    // Newest first: pending nagios, unmatched newsletter, folded clear event (→ awaiting).
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Detail(0)), "an unmatched alert has no workflow: its detail opens");
    key(&mut app, KeyCode::Esc);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.focus, Pane::Workflows);
    assert_eq!(app.selected_workflow().map(|w| &w.id), Some(&fixture.awaiting.id));
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.mode, Mode::Detail(0));
    key(&mut app, KeyCode::Char('j'));
    assert_eq!(app.mode, Mode::Detail(1));
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.mode, Mode::Normal);
    assert!(!app.should_quit);
}

#[test]
fn decisions_are_recorded_in_the_store_as_the_os_user_on_the_console_channel() {
    let fixture = console_support::filled();
    let (mut app, mut refresher) = console_support::app(&fixture);
    select(&mut app, &fixture.awaiting.id);
    key(&mut app, KeyCode::Char('a'));
    let command = key(&mut app, KeyCode::Enter).expect("approve command");

    let stale = Command::Approve { workflow_id: fixture.awaiting.id.clone(), plan_hash: "0".repeat(64).into() };
    let refused = console::decide::carry_out(&fixture.store, &Default::default(), &stale, "dba")
        .expect_err("a plan hash not shown");
    assert!(refused.contains("plan"), "{refused}");
    assert_eq!(fixture.store.get_workflow(&fixture.awaiting.id).expect("wf").state, WorkflowState::AwaitingApproval);

    let message = console::decide::carry_out(&fixture.store, &Default::default(), &command, "dba").expect("approved");
    assert!(message.contains("APPROVED by dba"), "{message}");
    let approvals = fixture.store.approvals(&fixture.awaiting.id).expect("approvals");
    let last = approvals.last().expect("an approval");
    assert_eq!((last.approver.as_str(), last.channel.as_str()), ("dba", "console"));
    assert_eq!(Some(last.plan_hash.as_str()), fixture.awaiting.plan_hash.as_deref());

    let again =
        console::decide::carry_out(&fixture.store, &Default::default(), &command, "dba").expect_err("already decided");
    assert!(again.contains("APPROVED"), "{again}");

    assert!(refresher.refresh(&mut app).expect("refresh"), "the change is seen");
    assert_eq!(app.selected_workflow().map(|w| w.state), Some(WorkflowState::Approved));
    assert_eq!(app.model.pending_approvals(), 0);
    let last_audit = app.model.audit.last().expect("audit");
    assert_eq!(last_audit.actor, "console:dba");
    assert!(app.model.chain.as_ref().is_some_and(|c| c.is_intact()));

    let resolve = Command::Resolve {
        workflow_id: fixture.escalated.id.clone(),
        from: WorkflowState::Escalated,
        reason: "killed the session by hand".into(),
    };
    let message = console::decide::carry_out(&fixture.store, &Default::default(), &resolve, "dba").expect("resolved");
    assert!(message.contains("RESOLVED by dba"), "{message}");
    let history = fixture.store.workflow_transitions(&fixture.escalated.id).expect("history");
    let last = history.last().expect("transition");
    assert_eq!((last.actor.as_str(), last.reason.as_str()), ("console:dba", "killed the session by hand"));
}

#[test]
fn workflow_queries_combine_status_database_environment_and_words() {
    use console::model::WorkflowQuery;
    let query = WorkflowQuery::parse("status:await DB:prod env:PROD users extra");
    assert_eq!(query.status.as_deref(), Some("await"));
    assert_eq!(query.database.as_deref(), Some("prod"));
    assert_eq!(query.environment.as_deref(), Some("prod"));
    assert_eq!(query.words, ["users", "extra"]);
    assert_eq!(
        WorkflowQuery::parse("status: db:"),
        WorkflowQuery { words: vec!["status:".into(), "db:".into()], ..WorkflowQuery::default() }
    );

    let fixture = console_support::filled();
    let matching = |text: &str| -> Vec<String> {
        let query = WorkflowQuery::parse(text);
        [&fixture.awaiting, &fixture.completed, &fixture.escalated]
            .into_iter()
            .filter(|w| query.matches(w))
            .map(|w| w.database.clone())
            .collect()
    };
    assert_eq!(matching("s:escalated"), ["PGPROD"]);
    assert_eq!(matching("env:dev"), ["DEVDB"]);
    assert_eq!(matching("tablespace"), ["PRODDB", "DEVDB"]);
    assert_eq!(matching(&fixture.completed.short_id().to_uppercase()), ["DEVDB"], "an id prefix, any case");
    assert!(matching("tablespace env:staging").is_empty());
}

#[test]
fn a_refresh_merges_changed_rows_by_id_and_keeps_the_selection() {
    let fixture = console_support::filled();
    let (mut app, mut refresher) = console_support::app(&fixture);
    select(&mut app, &fixture.completed.id);
    let created = fixture
        .store
        .create_workflow(
            sentri::store::NewWorkflow {
                raw_alert_id: None,
                alert_type: "archive_full".into(),
                database: "PRODDB".into(),
                environment: "PROD".into(),
                severity: "WARNING".into(),
                fields: Default::default(),
            },
            "engine",
        )
        .expect("workflow");
    fixture
        .store
        .transition(&fixture.escalated.id, WorkflowState::Escalated, WorkflowState::Resolved, "cli:bob", "done")
        .expect("resolve");
    assert!(refresher.refresh(&mut app).expect("refresh"));
    assert_eq!(app.model.workflows.len(), 4, "merged, not appended twice");
    assert_eq!(app.model.workflows.iter().filter(|w| w.id == fixture.escalated.id).count(), 1);
    assert_eq!(app.model.workflows.last().map(|w| &w.id), Some(&created.id));
    assert_eq!(app.selected_workflow().map(|w| &w.id), Some(&fixture.completed.id), "selection follows the row");
    assert_eq!(app.workflows.selected, 2, "the new row is on top, so the selection moved down one");
    let resolved = app.model.workflows.iter().find(|w| w.id == fixture.escalated.id).expect("row");
    assert_eq!(resolved.state, WorkflowState::Resolved);
    assert!(!refresher.refresh(&mut app).expect("refresh"), "nothing new: nothing reloaded");
}

#[test]
fn the_list_window_follows_the_selection_and_moves_as_little_as_possible() {
    let state = console::app::ListState::default();
    assert_eq!(state.window_start(10, 10_000), 0);
    let state = console::app::ListState { selected: 25, ..Default::default() };
    assert_eq!(state.window_start(10, 10_000), 16, "scrolled just enough to show row 25 at the bottom");
    let state = console::app::ListState { selected: 20, offset: std::cell::Cell::new(16) };
    assert_eq!(state.window_start(10, 10_000), 16, "still visible: the window stays");
    let state = console::app::ListState { selected: 3, offset: std::cell::Cell::new(16) };
    assert_eq!(state.window_start(10, 10_000), 3, "moved up: the row comes in at the top");
}

#[test]
fn plan_text_fills_identifiers_by_kind_binds_as_literals_and_leaves_unknown_values() {
    use sentri::pipeline::plan::Plan;
    let fixture = console_support::filled();
    let mut plan: Plan = fixture.awaiting.plan.clone().expect("plan");
    plan.values.insert("note".into(), Some("it's full".into()));
    let filled = console::plan_text::filled(
        &plan,
        "ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name -- :ignored\n",
        None,
    );
    assert_eq!(filled, "ALTER TABLESPACE \"USERS\" DROP DATAFILE :file_name -- :ignored\n");
    let captured = std::collections::BTreeMap::from([("file_name".to_owned(), "/u01/users02.dbf".to_owned())]);
    let filled = console::plan_text::filled(
        &plan,
        "ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name",
        Some(&captured),
    );
    assert_eq!(filled, "ALTER TABLESPACE \"USERS\" DROP DATAFILE '/u01/users02.dbf'");
    let filled = console::plan_text::filled(&plan, "SELECT 1 FROM dual WHERE note = :note", None);
    assert_eq!(filled, "SELECT 1 FROM dual WHERE note = 'it''s full'");
}

/// A writer takes its time before it waits for the write lock, so a change can commit after a
/// newer one and carry an older time. The refresh still sees it.
#[test]
fn a_change_committed_late_with_an_older_time_is_still_seen() {
    let fixture = console_support::filled();
    let (mut app, mut refresher) = console_support::app(&fixture);
    let newest = app.model.last_workflow_change().expect("workflows");
    let late_time = newest.checked_sub(jiff::SignedDuration::from_secs(5)).expect("time");
    let path = fixture.dir.path().join("sentri.db");
    let late_writer =
        sentri::store::Store::open_with_clock(&path, std::sync::Arc::new(move || late_time)).expect("second handle");
    late_writer
        .transition(&fixture.escalated.id, WorkflowState::Escalated, WorkflowState::Resolved, "cli:bob", "late")
        .expect("resolve");
    assert!(refresher.refresh(&mut app).expect("refresh"));
    let row = app.model.workflows.iter().find(|w| w.id == fixture.escalated.id).expect("row");
    assert_eq!(row.state, WorkflowState::Resolved);
    assert_eq!(row.updated_at, late_time);
}

#[test]
fn wrapping_breaks_at_spaces_and_cuts_only_words_longer_than_a_line() {
    use console::view::wrap;
    assert_eq!(
        wrap("holds PRODDB:tablespace:USERS until noon", 20),
        ["holds", "PRODDB:tablespace:US", "ERS until noon"]
    );
    assert_eq!(wrap("a b c", 3), ["a b", "c"]);
    assert_eq!(wrap("", 5), [""]);
    assert_eq!(wrap("exactly10!", 10), ["exactly10!"]);
    assert!(wrap(&"word ".repeat(100), 17).iter().all(|line| line.chars().count() <= 17));
}
