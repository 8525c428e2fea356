//! Screens of the console drawn with ratatui's TestBackend from a store filled the way the
//! engine fills it: each pane, the whole screen at 80x24 and 160x48, and the dialogs.
//! Random workflow ids and plan hashes are replaced by fixed stand-ins of the same width.

#[allow(dead_code)]
#[path = "../ui/console/mod.rs"]
mod console;
#[allow(dead_code)]
mod console_support;

use console::app::{Action, App, Pane};
use console::theme::Theme;
use console_support::{Fixture, screen, stabilise};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::style::Color;

fn selecting(fixture: &Fixture, id: &str) -> App {
    let (mut app, mut refresher) = console_support::app(fixture);
    while app.selected_workflow().is_some_and(|w| w.id != id) {
        app.apply(Action::Down);
    }
    refresher.refresh_detail(&mut app).expect("detail");
    app
}

fn pane(fixture: &Fixture, app: &App, pane: Pane, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    let theme = Theme::for_terminal(false, "");
    terminal
        .draw(|frame| console::view::draw_pane(app, &theme, frame, pane, Rect::new(0, 0, width, height)))
        .expect("draw");
    stabilise(fixture, &terminal.backend().to_string())
}

#[test]
fn whole_screen_160x48() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(screen(&fixture, &app, 160, 48));
}

#[test]
fn whole_screen_80x24() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(screen(&fixture, &app, 80, 24));
}

#[test]
fn whole_screen_80x24_on_the_sql_pane() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.completed.id);
    app.apply(Action::FocusPane(Pane::Sql));
    insta::assert_snapshot!(screen(&fixture, &app, 80, 24));
}

#[test]
fn pane_workflows() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Workflows, 100, 8));
}

#[test]
fn pane_alerts() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Alerts, 120, 9));
}

#[test]
fn pane_mesh_awaiting_approval() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Mesh, 120, 10));
}

#[test]
fn pane_mesh_after_approval() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.completed.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Mesh, 120, 10));
}

#[test]
fn pane_sql_executed_with_metrics() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.completed.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Sql, 110, 14));
}

#[test]
fn pane_sql_no_plan() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.escalated.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Sql, 60, 5));
}

#[test]
fn pane_evidence_diagnosed() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Evidence, 100, 22));
}

#[test]
fn pane_evidence_with_the_models_part() {
    use sentri::domain::{Dropped, JudgeVote, Judgement, Level, ModelCall, ModelRecord, TranscriptEntry};
    let fixture = console_support::filled();
    let mut diagnosis = fixture.awaiting.diagnosis.clone().expect("diagnosed");
    let call = |level: Level, error: Option<&str>| ModelCall {
        provider: "claude".into(),
        model: "claude-sonnet-4-5".into(),
        level,
        input_tokens: 2400,
        output_tokens: 300,
        cost_usd: 0.0117,
        ms: 2100,
        tools: vec!["ora_tablespace".into()],
        prompt_sha256: "0".repeat(64),
        error: error.map(str::to_owned),
    };
    diagnosis.level = Level::Agentic;
    diagnosis.model = Some(ModelRecord {
        gate: Some("2 of 3 finished fixes worked (67 %): investigate".into()),
        calls: vec![call(Level::Agentic, None), call(Level::Agentic, None), call(Level::Judge, None)],
        dropped: vec![Dropped {
            title: "Drop the old audit table".into(),
            statements: vec!["DROP TABLE audit_2019".into()],
            reason: "DROP TABLE is CRITICAL: a model never proposes that".into(),
        }],
        fallbacks: Vec::new(),
        transcript: vec![
            TranscriptEntry {
                role: "user".into(),
                text: "Database: PRODDB (environment PROD)\nALERT: tablespace USERS 97%\u{1b}[31m".into(),
            },
            TranscriptEntry { role: "tool_call".into(), text: "ora_tablespace({})".into() },
            TranscriptEntry {
                role: "assistant".into(),
                text: "{\"root_causes\": [{\"cause\": \"TABLESPACE_FULL\"}]}".into(),
            },
        ],
        judgement: Some(Judgement {
            judges: vec![JudgeVote {
                judge: "claude:claude-sonnet-4-5".into(),
                totals: vec![0.8, 0.6],
                ..JudgeVote::default()
            }],
            outcome: "the panel (1 of 1 valid) chose \"Add a datafile to USERS\" (0.80)".into(),
            deterministic: Vec::new(),
        }),
    });
    fixture.store.set_diagnosis(&fixture.awaiting.id, &diagnosis, "engine").expect("stored");
    let app = selecting(&fixture, &fixture.awaiting.id);
    let drawn = pane(&fixture, &app, Pane::Evidence, 100, 32);
    assert!(!drawn.contains('\u{1b}'), "a model's text is shown, never obeyed by the terminal");
    insta::assert_snapshot!(drawn);
}

#[test]
fn pane_evidence_not_diagnosed() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.escalated.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Evidence, 90, 4));
}

#[test]
fn pane_audit() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    insta::assert_snapshot!(pane(&fixture, &app, Pane::Audit, 100, 12));
}

#[test]
fn approve_dialog_80x24() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.awaiting.id);
    app.apply(Action::Approve);
    insta::assert_snapshot!(screen(&fixture, &app, 80, 24));
}

#[test]
fn deny_prompt_with_missing_reason_80x24() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.awaiting.id);
    app.apply(Action::Deny);
    app.apply(Action::Accept);
    insta::assert_snapshot!(screen(&fixture, &app, 80, 24));
}

#[test]
fn help_overlay_160x48() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.awaiting.id);
    app.apply(Action::Help);
    insta::assert_snapshot!(screen(&fixture, &app, 160, 48));
}

/// The review of a learned policy, as `L` shows it: written by the real writer into a real home,
/// read back by the same review `sentri policy learned` prints.
#[test]
fn learned_policies_review_100x36() {
    use sentri::domain::{DbKind, Risk, Severity, WorkflowId};
    use sentri::policy::learned::{self, LearnedDraft, SampleAlert};
    let fixture = console_support::filled();
    let home = tempfile::tempdir().expect("home");
    sentri::home::Home::at(home.path()).init(false).expect("init");
    let draft = LearnedDraft {
        name: "dbwatch_lock_queue".into(),
        engine: DbKind::Postgres,
        severity: Severity::High,
        action_type: "TERMINATE_SESSION".into(),
        risk: Risk::High,
        description: "dbwatch reports writers queued behind a session holding a row lock".into(),
        email_pattern: r"\[dbwatch\] PG lock queue on (\S+): writers stuck behind pid (\d+)".into(),
        fields: vec![("database".into(), 1), ("pid".into(), 2)],
        verification: "SELECT count(*) AS holding FROM pg_stat_activity WHERE pid = :pid".into(),
        confirmed_when: vec!["holding >= 1".into()],
        forward: vec!["SELECT pg_terminate_backend(:pid)".into()],
        rollback: Vec::new(),
        irreversible: Some("its open transaction is rolled back".into()),
        validation: None,
        success_criteria: Vec::new(),
        identifiers: Default::default(),
        sample_alert: SampleAlert {
            subject: "[dbwatch] PG lock queue on app: writers stuck behind pid 4242".into(),
            body: "Holder pid: 4242 (idle in transaction)".into(),
        },
        learned_from: WorkflowId::from("76088d20-0259-4acb-969a-666b7ae19f5e"),
        approved_by: vec!["os:alice".into()],
    };
    learned::write(&home.path().join("alerts"), &draft).expect("written");
    let mut app = selecting(&fixture, &fixture.awaiting.id);
    let key = |c| ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Char(c));
    app.handle_key(key('L'));
    assert!(std::mem::take(&mut app.learned_wanted), "L asks the loop to read the files");
    let reviews = sentri::pipeline::learned_review::review(home.path()).expect("review");
    assert!(reviews[0].passes, "{:?}", reviews[0].problems);
    app.learned = Some(Ok(reviews));
    insta::assert_snapshot!(screen(&fixture, &app, 100, 36));
    app.handle_key(key('L'));
    assert_eq!(app.mode, console::app::Mode::Normal, "L closes it again");
}

#[test]
fn workflow_detail_160x48() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.completed.id);
    app.apply(Action::Detail);
    insta::assert_snapshot!(screen(&fixture, &app, 160, 48));
}

#[test]
fn filter_being_typed_160x48() {
    let fixture = console_support::filled();
    let (mut app, _) = console_support::app(&fixture);
    app.apply(Action::Filter);
    for c in "env:prod".chars() {
        app.apply(Action::Input(c));
    }
    insta::assert_snapshot!(screen(&fixture, &app, 160, 48));
}

/// NO_COLOR: no colour anywhere on the screen; by default only the 16 ANSI colours; RGB only
/// when COLORTERM says truecolor.
#[test]
fn colours_follow_no_color_and_colorterm() {
    let fixture = console_support::filled();
    let app = selecting(&fixture, &fixture.awaiting.id);
    let colours = |theme: Theme| -> Vec<Color> {
        let mut terminal = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
        terminal.draw(|frame| console::view::draw(&app, &theme, frame)).expect("draw");
        terminal.backend().buffer().content().iter().flat_map(|cell| [cell.fg, cell.bg]).collect()
    };
    let mono = colours(Theme::for_terminal(true, "truecolor"));
    assert!(mono.iter().all(|c| *c == Color::Reset), "NO_COLOR wins over COLORTERM");
    let basic = colours(Theme::for_terminal(false, ""));
    assert!(basic.iter().any(|c| *c != Color::Reset));
    assert!(basic.iter().all(|c| !matches!(c, Color::Rgb(..) | Color::Indexed(_))), "16 colours only");
    let rgb = colours(Theme::for_terminal(false, "truecolor"));
    assert!(rgb.iter().any(|c| matches!(c, Color::Rgb(..))));
}

#[test]
fn simulated_banner_and_stopped_engine_80x24() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.awaiting.id);
    app.model.status.label = Some("SIMULATED".into());
    app.model.status.engine = console::model::EngineState::Stopped { why: "daemon pid 4242 exited".into() };
    app.flash("Workflow wf000000 APPROVED by dba.", false);
    insta::assert_snapshot!(screen(&fixture, &app, 80, 24));
}

/// Each pane as an 80x24 terminal shows it: focused, full width, under the tab line.
#[test]
fn each_pane_at_80x24() {
    let fixture = console_support::filled();
    for (name, pane) in [
        ("workflows", Pane::Workflows),
        ("mesh", Pane::Mesh),
        ("sql", Pane::Sql),
        ("alerts", Pane::Alerts),
        ("audit", Pane::Audit),
        ("evidence", Pane::Evidence),
    ] {
        let mut app = selecting(&fixture, &fixture.awaiting.id);
        app.apply(Action::FocusPane(pane));
        insta::assert_snapshot!(format!("pane_{name}_80x24"), screen(&fixture, &app, 80, 24));
    }
}

/// Every pane at 160x48, with the executed workflow selected (its metrics in the SQL pane).
#[test]
fn whole_screen_160x48_executed_workflow() {
    let fixture = console_support::filled();
    let mut app = selecting(&fixture, &fixture.completed.id);
    app.apply(Action::FocusPane(Pane::Audit));
    insta::assert_snapshot!(screen(&fixture, &app, 160, 48));
}

/// The Databases view (`D`) over check runs recorded as the scheduler records them: PRODDB's
/// tablespace check has run hourly with USERS growing, so it is forecast; PGPROD's last run
/// could not connect. Enter opens PRODDB's checks and series.
#[test]
fn databases_view_and_one_database_160x30() {
    use console::fleet::ConfiguredDatabase;
    use sentri::store::{NewCheckRun, Sample, SeriesRetention};
    let fixture = console_support::filled();
    let home = tempfile::tempdir().expect("home");
    std::fs::create_dir_all(home.path().join("checks/oracle")).expect("checks");
    std::fs::write(
        home.path().join("checks/oracle/space_trend.md"),
        "---\nschedule: hourly\nobject: tablespace_name\n---\n## Health Query\n```sql\nSELECT tablespace_name, used_pct FROM dba_tablespace_usage_metrics\n```\n## Threshold\n- used_pct: 85\n## Forecast\n- metric: used_pct\n- limit: 100\n",
    )
    .expect("check");
    let pack = sentri::policy::PolicySet::load(home.path());
    let start: jiff::Timestamp = "2026-11-25T00:00:00Z".parse().expect("time");
    let at = |hours: i64| start.checked_add(jiff::SignedDuration::from_hours(hours)).expect("time");
    fixture.store.schedule_check("PRODDB", "space_trend", at(0)).expect("scheduled");
    for hour in 0..9 {
        let run = NewCheckRun {
            database: "PRODDB".into(),
            check: "space_trend".into(),
            started_at: at(hour),
            finished_at: at(hour),
            error: None,
            rows: 2,
            findings: u64::from(hour >= 6),
            samples: vec![
                Sample { object: "USERS".into(), metric: "used_pct".into(), value: 80.0 + hour as f64 },
                Sample { object: "SYSAUX".into(), metric: "used_pct".into(), value: 40.0 },
            ],
        };
        fixture
            .store
            .take_check_lease(
                "PRODDB",
                "space_trend",
                "test",
                jiff::SignedDuration::from_mins(5),
                sentri::store::LeaseWhen::Now,
            )
            .expect("lease");
        fixture.store.finish_check_run("test", &run, at(hour + 1), &SeriesRetention::default()).expect("recorded");
    }
    fixture.store.schedule_check("PGPROD", "space_trend", at(0)).expect("scheduled");
    let failed = NewCheckRun {
        database: "PGPROD".into(),
        check: "space_trend".into(),
        started_at: at(8),
        finished_at: at(8),
        error: Some("cannot connect to PGPROD: connection refused".into()),
        rows: 0,
        findings: 0,
        samples: Vec::new(),
    };
    fixture.store.finish_check_run("test", &failed, at(9), &SeriesRetention::default()).expect("recorded");

    let databases = vec![
        ConfiguredDatabase { name: "PRODDB".into(), engine: "oracle".into(), environment: "PROD".into() },
        ConfiguredDatabase { name: "DEVDB".into(), engine: "oracle".into(), environment: "DEV".into() },
        ConfiguredDatabase { name: "PGPROD".into(), engine: "postgres".into(), environment: "PROD".into() },
    ];
    let (mut app, refresher) = console_support::app(&fixture);
    let mut refresher = refresher.with_fleet(databases, pack);
    let key = |c| ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Char(c));
    app.handle_key(key('D'));
    assert!(refresher.refresh_fleet(&mut app, true).expect("fleet"), "opening the view reads it");
    let proddb = &app.model.fleet[0];
    let urgent = proddb.urgent.as_ref().expect("USERS is forecast");
    assert_eq!((urgent.object.as_str(), urgent.full_in.as_deref()), ("USERS", Some("0.50 ± 0.00 days")));
    assert_eq!(app.model.fleet[2].reachable, Some(false), "PGPROD's last run could not connect");
    insta::assert_snapshot!("databases_view", screen(&fixture, &app, 160, 30));
    app.handle_key(ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Enter));
    insta::assert_snapshot!("databases_one_database", screen(&fixture, &app, 160, 30));
    app.handle_key(ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Esc));
    app.handle_key(ratatui::crossterm::event::KeyEvent::from(ratatui::crossterm::event::KeyCode::Esc));
    assert_eq!(app.mode, console::app::Mode::Normal, "Esc closes the database, then the view");
}
