//! `sentri demo` through the binary: the headless story on the SIMULATED sandbox (every alert
//! type completed, one fix rolled back, the PROD approval given as the OS user), the dry run
//! that executes nothing, `--alert-type`, and `--db` against a real PostgreSQL, where the
//! outcome is whatever the database says. The demo on a terminal (the console) is driven in
//! tmux by tests/demo_tmux.rs.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;

use common::postgres;

/// `sentri` with a SENTRI_HOME that does not exist (the demo needs none), a temp folder of its
/// own (to see the demo's home removed) and a known OS user.
fn sentri(tmp: &std::path::Path) -> Command {
    let mut command = Command::cargo_bin("sentri").expect("binary");
    command
        .env("SENTRI_HOME", tmp.join("no-home-here"))
        .env("TMPDIR", tmp.join("tmp"))
        .env("USER", "demo-operator")
        .env_remove("SUDO_USER")
        .timeout(std::time::Duration::from_secs(300));
    command
}

fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("tmp")).expect("tmp");
    dir
}

fn stdout_of(command: &mut Command) -> String {
    let output = command.assert().success().get_output().stdout.clone();
    String::from_utf8(output).expect("utf-8")
}

#[test]
fn headless_demo_tells_every_alert_type_completed_one_rolled_back_and_the_prod_approval() {
    let dir = scratch();
    let out = stdout_of(sentri(dir.path()).args(["demo", "--headless"]));
    for line in out.lines() {
        assert!(line.starts_with("[SIMULATED] "), "every line says SIMULATED: {line:?}");
    }
    for finished in ["⇒ tablespace_full", "⇒ temp_full", "⇒ session_blocker"] {
        let line = out.lines().find(|line| line.contains(finished)).unwrap_or_else(|| panic!("{finished} in\n{out}"));
        assert!(line.ends_with(": COMPLETED"), "{line}");
    }
    let rolled_back: Vec<&str> =
        out.lines().filter(|line| line.contains("⇒ ") && line.ends_with("ROLLED_BACK")).collect();
    assert_eq!(rolled_back.len(), 1, "exactly one fix is rolled back:\n{out}");
    assert!(rolled_back[0].contains("tablespace_full") && rolled_back[0].contains("DEV-DB-02"), "{}", rolled_back[0]);
    assert!(
        out.contains("rolled back: ALTER TABLESPACE \"HIST_DATA\" DROP DATAFILE '+DATA/DEVDB02/DATAFILE/"),
        "{out}"
    );
    assert!(out.contains("PRE_FLIGHT → AWAITING_APPROVAL"), "{out}");
    // The approver is the process's OS account; `USER=demo-operator` above changes nothing.
    let me = sentri::pipeline::approval::identity::os_account().expect("the OS account");
    assert!(out.contains(&format!("the demo gives this approval as the OS user `{me}`")), "{out}");
    assert!(out.contains(&format!("APPROVED by cli:{me}")), "{out}");
    assert!(out.contains(&format!("AWAITING_APPROVAL → APPROVED (cli:{me})")), "{out}");
    assert!(!out.contains("demo-operator"), "{out}");
    assert!(out.contains("SQL run: ALTER SYSTEM KILL SESSION '1234,5678,@1' IMMEDIATE"), "{out}");
    assert!(out.contains("Safety Mesh ▸ policy_gate: ALLOW"), "{out}");
    assert!(out.contains("before:   max_mb=10240, used_pct=97"), "{out}");
    assert!(out.contains("after:    max_mb=43007, used_pct=23.1"), "{out}");
    assert!(out.contains("hash chain intact"), "{out}");
    let left: Vec<_> = std::fs::read_dir(dir.path().join("tmp")).expect("tmp").collect();
    assert!(left.is_empty(), "the demo's home is removed at exit: {left:?}");
    assert!(!dir.path().join("no-home-here").exists(), "the user's SENTRI_HOME is not created");
}

#[test]
fn the_story_is_the_same_every_time_but_for_ids_and_times() {
    let dir = scratch();
    let strip = |text: String| -> Vec<String> {
        text.lines()
            // Workflow ids (and the plan hashes that include them) and lock expiry times vary.
            .filter(|line| !["conflict_lock", "workflow ", "⇒", "  plan "].iter().any(|varying| line.contains(varying)))
            .map(|line| line.split(" (ok, ").next().unwrap_or(line).to_owned())
            .collect()
    };
    let first = strip(stdout_of(sentri(dir.path()).args(["demo", "--headless", "--alert-type", "tablespace_full"])));
    let second = strip(stdout_of(sentri(dir.path()).args(["demo", "--headless", "--alert-type", "tablespace_full"])));
    assert_eq!(first, second);
}

#[test]
fn dry_run_classifies_plans_and_judges_but_executes_nothing() {
    let dir = scratch();
    let out = stdout_of(sentri(dir.path()).args(["demo", "--dry-run"]));
    assert_eq!(out.matches("DRY RUN: nothing was executed").count(), 4, "{out}");
    assert_eq!(out.matches("Safety Mesh verdict: ALLOW").count(), 3, "{out}");
    assert_eq!(out.matches("Safety Mesh verdict: NEEDS_APPROVAL").count(), 1, "{out}");
    for never in ["SQL run:", "EXECUTING", "COMPLETED", "ROLLED_BACK", "raw alert #"] {
        assert!(!out.contains(never), "a dry run shows no {never:?}:\n{out}");
    }
    assert!(out.lines().all(|line| line.starts_with("[SIMULATED] ")));
}

#[test]
fn alert_type_keeps_one_type() {
    let dir = scratch();
    let out = stdout_of(sentri(dir.path()).args(["demo", "--headless", "--alert-type", "TEMP_FULL"]));
    assert!(out.contains("Alert 1 of 1"), "{out}");
    assert!(out.contains("⇒ temp_full"), "{out}");
    assert!(!out.contains("tablespace_full") && !out.contains("session_blocker"), "{out}");

    sentri(dir.path())
        .args(["demo", "--alert-type", "widget_full"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no `widget_full` alert").and(predicate::str::contains("temp_full")));
    sentri(dir.path())
        .args(["demo", "--alert-type", "pg_sequence_exhaustion"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--db"));
}

#[tokio::test(flavor = "multi_thread")]
async fn db_sends_the_demo_alert_to_a_real_postgres_and_reports_what_it_says() {
    let dbname = postgres::fresh_database().await;
    let dir = scratch();
    let home = dir.path().join("home");
    let with_home = || {
        let mut command = sentri(dir.path());
        command.env("SENTRI_HOME", &home).env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD);
        command
    };
    with_home().arg("init").assert().success();
    let config = format!(
        "databases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.join("config/sentri.yaml"), config).expect("config");

    // The problem is not there: the real database says so.
    let out =
        stdout_of(with_home().args(["demo", "--headless", "--db", "app", "--alert-type", "pg_sequence_exhaustion"]));
    assert!(!out.contains("SIMULATED"), "a real database is not SIMULATED:\n{out}");
    assert!(out.contains("[LIVE app]"), "{out}");
    assert!(out.contains("⇒ pg_sequence_exhaustion") && out.contains(": VERIFICATION_FAILED"), "{out}");

    // Now it is: the demo's fix really changes the database.
    postgres::admin(&dbname)
        .await
        .batch_execute(
            "CREATE SEQUENCE public.orders_id_seq AS integer; SELECT setval('public.orders_id_seq', 2000000000);",
        )
        .await
        .expect("sequence");
    let out = stdout_of(with_home().args(["demo", "--headless", "--db", "app"]));
    assert!(out.contains("Alert 1 of 1"), "only the alerts of the database's engine:\n{out}");
    let done = out.lines().find(|line| line.contains("⇒ pg_sequence_exhaustion")).expect("a result line");
    assert!(done.ends_with(": COMPLETED"), "{out}");
    let row = postgres::admin(&dbname)
        .await
        .query_one("SELECT data_type::text FROM pg_sequences WHERE sequencename = 'orders_id_seq'", &[])
        .await
        .expect("sequence row");
    assert_eq!(row.get::<_, String>(0), "bigint", "the real database changed");
    with_home().arg("list").assert().success().stdout(predicate::str::contains("No workflows yet."));

    with_home()
        .args(["demo", "--db", "nowhere"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("`nowhere` is not a database"));
}

#[test]
fn a_sandbox_database_says_simulated_wherever_it_is_shown() {
    let dir = scratch();
    let home = dir.path().join("home");
    let with_home = || {
        let mut command = sentri(dir.path());
        command.env("SENTRI_HOME", &home);
        command
    };
    with_home().arg("init").assert().success();
    std::fs::write(
        home.join("config/sentri.yaml"),
        "databases:\n  - name: DEMO-DEV\n    connection_string: \"sandbox:dev\"\n    environment: DEV\n    aliases: [DEVDB01]\n",
    )
    .expect("config");
    with_home()
        .args(["db", "list"])
        .assert()
        .success()
        .stdout(predicate::str::contains("sandbox: SIMULATED Oracle").and(predicate::str::contains("not needed")));
    with_home()
        .args(["db", "test"])
        .assert()
        .success()
        .stdout(predicate::str::contains("DEMO-DEV (sandbox: SIMULATED Oracle, DEV): OK"));
    with_home().args(["show-profile", "DEMO-DEV"]).assert().success().stdout(predicate::str::contains("SIMULATED"));
    // The Oracle-shaped profile in `sentri profiles`: role, architecture, files and packs.
    let profiles = stdout_of(with_home().arg("profiles"));
    let row = profiles.lines().find(|line| line.starts_with("DEMO-DEV")).unwrap_or_else(|| panic!("{profiles}"));
    for expected in ["SIMULATED", "PRIMARY", "non-CDB, single", "OMF", "Diagnostics+Tuning"] {
        assert!(row.contains(expected), "{expected} in {row}");
    }
    let profiles: serde_json::Value =
        serde_json::from_str(&stdout_of(with_home().args(["profiles", "--json"]))).expect("json");
    assert_eq!(profiles[0]["database"], "DEMO-DEV");
    assert!(profiles[0]["profile"]["oracle"]["is_cdb"].is_boolean());

    let email = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/01_dev_users_tablespace_full.eml");
    with_home().args(["replay", email]).assert().success();
    with_home().arg("list").assert().success().stdout(predicate::str::contains("DEMO-DEV (SIMULATED)"));
    let listed = stdout_of(with_home().args(["list", "--json"]));
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    let id = listed[0]["short_id"].as_str().expect("a workflow").to_owned();
    with_home().args(["show", &id]).assert().success().stdout(predicate::str::contains("a SIMULATED database"));
    // `--db` on a sandbox database from sentri.yaml: still SIMULATED, and says so.
    let out = stdout_of(with_home().args(["demo", "--headless", "--db", "DEMO-DEV", "--alert-type", "temp_full"]));
    assert!(out.lines().all(|line| line.starts_with("[SIMULATED] ")), "{out}");
    assert!(out.contains("⇒ temp_full") && out.contains("on DEMO-DEV: COMPLETED"), "{out}");
}
