//! Console rendering with 10,000 workflows: how long one frame of the workflow pane and of the
//! whole screen takes in a TestBackend, how long an incremental refresh takes after one
//! workflow changed, and how long re-filtering the list takes. Prints figures; run with
//! `cargo bench --bench console_render`.

#[allow(dead_code)]
#[path = "../ui/console/mod.rs"]
mod console;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use console::app::{Action, App, Pane};
use console::model::{EngineState, Model, Status};
use console::refresh::Refresher;
use console::theme::Theme;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use sentri::domain::WorkflowState;
use sentri::store::{NewWorkflow, Store};

const WORKFLOWS: usize = 10_000;

fn per_frame(label: &str, frames: u32, mut frame: impl FnMut(u32)) {
    let started = Instant::now();
    for n in 0..frames {
        frame(n);
    }
    let elapsed = started.elapsed();
    println!("{label:<52} {:>8.3} ms/frame  ({frames} frames)", ms(elapsed) / f64::from(frames));
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Workflows created 10 s apart over the last day or so, as a busy site would have them.
    let step_ms = 10_000;
    let start = jiff::Timestamp::now().as_millisecond() - step_ms * (WORKFLOWS as i64 + 100);
    let ticks = Arc::new(AtomicI64::new(start));
    let clock = Arc::clone(&ticks);
    let store = Arc::new(
        Store::open_with_clock(
            dir.path().join("sentri.db"),
            Arc::new(move || {
                jiff::Timestamp::from_millisecond(clock.fetch_add(step_ms, Ordering::SeqCst)).expect("time")
            }),
        )
        .expect("store"),
    );
    let started = Instant::now();
    let databases = ["PRODDB", "ERPPRD", "HRPROD", "DEV-DB-01", "app", "shop"];
    let mut ids = Vec::with_capacity(WORKFLOWS);
    for n in 0..WORKFLOWS {
        let row = store
            .create_workflow(
                NewWorkflow {
                    raw_alert_id: None,
                    alert_type: if n % 3 == 0 { "archive_full" } else { "tablespace_full" }.into(),
                    database: databases[n % databases.len()].into(),
                    environment: if n % 2 == 0 { "PROD" } else { "DEV" }.into(),
                    severity: "CRITICAL".into(),
                    fields: BTreeMap::from([("tablespace_name".into(), format!("TS_{n}"))]),
                },
                "engine",
            )
            .expect("workflow");
        ids.push(row.id);
    }
    println!("filled a store with {WORKFLOWS} workflows in {:.0} ms", ms(started.elapsed()));

    let status = Status { engine: EngineState::InProcess, label: None, databases: Vec::new() };
    let mut app = App::new(Model::new(status, jiff::Timestamp::now()));
    let mut refresher = Refresher::new(Arc::clone(&store));
    let started = Instant::now();
    refresher.refresh(&mut app).expect("first load");
    println!("{:<52} {:>8.3} ms", "first load (every workflow, alerts, audit tail, chain)", ms(started.elapsed()));
    assert_eq!(app.model.workflows.len(), WORKFLOWS);

    let theme = Theme::for_terminal(false, "");
    let mut pane_terminal = Terminal::new(TestBackend::new(100, 46)).expect("terminal");
    per_frame("workflow pane 100x46, moving the selection", 500, |n| {
        app.apply(if n % 50 < 25 { Action::PageDown } else { Action::Down });
        pane_terminal
            .draw(|frame| console::view::draw_pane(&app, &theme, frame, Pane::Workflows, Rect::new(0, 0, 100, 46)))
            .expect("draw");
    });
    let mut screen = Terminal::new(TestBackend::new(160, 48)).expect("terminal");
    per_frame("whole screen 160x48", 200, |_| {
        screen.draw(|frame| console::view::draw(&app, &theme, frame)).expect("draw");
    });
    per_frame("whole screen 160x48, selection at the bottom", 200, |_| {
        app.apply(Action::Bottom);
        screen.draw(|frame| console::view::draw(&app, &theme, frame)).expect("draw");
    });

    per_frame("refresh with nothing changed (change marker only)", 200, |_| {
        refresher.refresh(&mut app).expect("refresh");
    });
    let mut n = 0;
    per_frame("refresh after one workflow changed (incremental)", 50, |_| {
        store
            .transition(&ids[n], WorkflowState::Detected, WorkflowState::Escalated, "engine", "bench")
            .expect("transition");
        n += 1;
        refresher.refresh(&mut app).expect("refresh");
    });
    per_frame("re-filter 10,000 workflows (typing one character)", 100, |n| {
        app.workflow_filter = if n % 2 == 0 { "db:prod tablespace".into() } else { "db:prod".into() };
        app.recompute();
    });
}
