//! `sentri demo` on a real terminal: the binary runs inside tmux (a 160x48 pseudo-terminal) and
//! is driven with keys as a person would. The console comes up with the SIMULATED banner, the
//! demo alerts arrive, the DEV fixes complete (one is rolled back), the PROD fix waits in
//! AWAITING_APPROVAL until it is selected, `a` opens the approval dialog with its plan hash and
//! SQL, Enter approves it, and the engine runs it. `q` quits: the session ends with exit code 0
//! and the demo's temporary home is gone. With `--db` on a real PostgreSQL the banner says
//! `LIVE <name>` and the fix really changes that database.
//!
//! The waits poll `tmux capture-pane` up to a generous limit that only guards against a hang;
//! nothing here measures speed.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

mod common;

use common::postgres;
use common::tmux::{self, Tmux, quoted};

/// How long one thing may take to show on screen before the test gives up (a hang guard).
const PATIENCE: Duration = Duration::from_secs(300);

/// The workflows pane's rows: the left column's lines that start with a workflow's short id.
fn workflow_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .filter_map(|line| {
            let row = line.split('│').nth(1)?.trim();
            let id = row.split_whitespace().next()?;
            (id.len() == 8 && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| row.to_owned())
        })
        .collect()
}

/// The PROD fix's row, if it is shown: its id and the row.
fn prod_row(screen: &str) -> Option<(String, String)> {
    workflow_rows(screen).into_iter().find_map(|row| {
        let id = row.split_whitespace().next()?.to_owned();
        (row.contains("PROD-DB-03") && row.contains("session_blocker")).then_some((id, row))
    })
}

/// The shell line tmux runs: `sentri demo ARGS` with `env` set (plus a plain terminal without
/// colours), then its exit code written to `exit_file`.
fn demo_line(env: &[(&str, String)], args: &str, exit_file: &Path) -> String {
    let mut line = String::from("env NO_COLOR=1 TERM=xterm-256color USER=demo-operator");
    for (name, value) in env {
        line.push_str(&format!(" {name}='{}'", value.replace('\'', r"'\''")));
    }
    let binary = assert_cmd::cargo::cargo_bin("sentri");
    line.push_str(&format!(" {} demo {args}; echo $? > {}", quoted(&binary), quoted(exit_file)));
    line
}

/// Presses `q` and waits for the session to end; returns the demo's exit code.
fn quit(tmux: &Tmux, exit_file: &Path) -> String {
    tmux.keys(&["q"]);
    let deadline = Instant::now() + PATIENCE;
    while tmux.alive() {
        assert!(Instant::now() < deadline, "the demo did not end after q:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(200));
    }
    std::fs::read_to_string(exit_file).expect("the shell wrote the demo's exit code").trim().to_owned()
}

fn header(screen: &str) -> &str {
    screen.lines().next().unwrap_or("")
}

#[test]
fn the_demo_on_a_terminal_opens_the_console_and_the_prod_fix_runs_after_approval_in_it() {
    if !tmux::installed() {
        eprintln!(
            "\n\n*** SKIPPED: tmux is not installed; tests/demo_tmux.rs needs it (CI installs it in .ci/run) ***\n\n"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let exit_file = dir.path().join("exit-code");
    let env =
        [("SENTRI_HOME", dir.path().join("no-home-here").display().to_string()), ("TMPDIR", tmp.display().to_string())];
    let command = demo_line(&env, "", &exit_file);
    let tmux = Tmux::start(dir.path().join("tmux.sock"), &command, PATIENCE);

    // The console is up, says SIMULATED, and tells the user what to do.
    let screen = tmux.wait_for("the console with its first hint", |screen| screen.contains("A PROD fix waits for you"));
    assert!(header(&screen).contains("SIMULATED"), "{screen}");
    assert!(screen.contains("select it (j/k) and press a"), "{screen}");

    // The alerts arrive; the DEV fixes run (one rolled back); the PROD fix waits.
    let screen = tmux.wait_for("the PROD fix AWAITING_APPROVAL", |screen| {
        prod_row(screen).is_some_and(|(_, row)| row.contains("AWAITING_APPROVAL"))
    });
    let (id, _) = prod_row(&screen).expect("the PROD row");
    let screen = tmux.wait_for("the DEV fixes done", |screen| {
        let rows = workflow_rows(screen);
        rows.iter().filter(|row| row.contains(" DEV ") && row.contains("COMPLETED")).count() == 2
            && rows.iter().any(|row| row.contains("ROLLED_BACK"))
    });
    assert!(header(&screen).contains("SIMULATED") && header(&screen).contains("1 awaiting approval"), "{screen}");
    let rows = workflow_rows(&screen);
    assert_eq!(rows.len(), 4, "four workflows:\n{screen}");
    let rolled_back = rows.iter().find(|row| row.contains("ROLLED_BACK")).expect("a rolled-back row");
    assert!(rolled_back.contains("DEV-DB-02") && rolled_back.contains("tablespace_full"), "{rolled_back}");

    // Select it as a user would: filter the workflows to it, then `a`.
    tmux.keys(&["/"]);
    tmux.type_text("PROD-DB-03");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the workflows filtered to PROD-DB-03", |screen| screen.contains("Workflows 1/"));
    tmux.keys(&["a"]);
    // Waits for the whole dialog: a capture can land between two writes of one frame.
    let dialog = tmux.wait_for("the approval dialog with its plan", |screen| {
        screen.contains("Approve plan") && screen.contains("IMMEDIATE")
    });
    assert!(header(&dialog).contains("SIMULATED"), "the dialog screen says SIMULATED too:\n{dialog}");
    assert!(dialog.contains(&format!("Approve {id} session_blocker on PROD-DB-03 (PROD)")), "{dialog}");
    assert!(dialog.contains("plan hash"), "{dialog}");
    assert!(dialog.contains("ALTER SYSTEM KILL SESSION '1234,5678,@1' IMMEDIATE"), "{dialog}");
    tmux.keys(&["Enter"]);

    // The engine runs it: the workflow is COMPLETED, the audit has the decision and the run,
    // the SQL pane shows what changed.
    let screen = tmux.wait_for("the PROD fix COMPLETED", |screen| {
        prod_row(screen).is_some_and(|(_, row)| row.contains("COMPLETED"))
            && screen.lines().any(|line| line.contains(&id) && line.contains("COMPLETED") && line.contains("executor"))
    });
    assert!(header(&screen).contains("SIMULATED") && header(&screen).contains("0 awaiting approval"), "{screen}");
    // The OS account decides, whatever `USER` says.
    let me = sentri::pipeline::approval::identity::os_account().expect("the OS account");
    assert!(screen.contains(&format!("Workflow {id} APPROVED by {me}")), "{screen}");
    assert!(
        screen
            .lines()
            .any(|line| line.contains(&id) && line.contains("APPROVAL_DECISION") && line.contains("APPROVED")),
        "{screen}"
    );
    assert!(screen.contains("SQL KILL_SESSION"), "{screen}");
    assert!(screen.contains("waiting_on_blocker: 3 → 0"), "the fix ran on the SIMULATED database:\n{screen}");
    assert!(screen.contains("Audit chain intact"), "{screen}");

    // `q` quits: the session ends, the exit code is 0, the demo's home is gone.
    assert_eq!(quit(&tmux, &exit_file), "0", "sentri demo's exit code");
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "the demo's home is removed at exit: {left:?}");
    assert!(!dir.path().join("no-home-here").exists(), "the user's SENTRI_HOME is not created");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_db_on_a_terminal_the_console_says_live_and_the_real_database_changes() {
    if !tmux::installed() {
        eprintln!(
            "\n\n*** SKIPPED: tmux is not installed; tests/demo_tmux.rs needs it (CI installs it in .ci/run) ***\n\n"
        );
        return;
    }
    let dbname = postgres::fresh_database().await;
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).expect("tmp");
    let init = Command::new(assert_cmd::cargo::cargo_bin("sentri"))
        .arg("init")
        .env("SENTRI_HOME", &home)
        .output()
        .expect("sentri init");
    assert!(init.status.success(), "sentri init: {}", String::from_utf8_lossy(&init.stderr));
    let config = format!(
        "databases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.join("config/sentri.yaml"), config).expect("config");
    let exit_file = dir.path().join("exit-code");
    let env = [
        ("SENTRI_HOME", home.display().to_string()),
        ("TMPDIR", tmp.display().to_string()),
        ("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD.to_owned()),
    ];
    let tmux = Tmux::start(dir.path().join("tmux.sock"), &demo_line(&env, "--db app", &exit_file), PATIENCE);

    let screen = tmux.wait_for("the pg_sequence_exhaustion fix COMPLETED", |screen| {
        workflow_rows(screen).iter().any(|row| row.contains("pg_sequence_exhaustion") && row.contains("COMPLETED"))
    });
    assert!(header(&screen).contains("LIVE app"), "{screen}");
    assert!(!screen.contains("SIMULATED"), "a real database is not SIMULATED:\n{screen}");
    assert!(screen.contains("Demo alerts for app arrive"), "{screen}");
    let row = postgres::admin(&dbname)
        .await
        .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
        .await
        .expect("sequence row");
    assert_eq!(row.get::<_, String>(0), "bigint", "the real database changed");

    assert_eq!(quit(&tmux, &exit_file), "0", "sentri demo's exit code");
    let left: Vec<_> = std::fs::read_dir(&tmp).expect("tmp").collect();
    assert!(left.is_empty(), "the demo's home is removed at exit: {left:?}");
}
