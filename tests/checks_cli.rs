//! `sentri checks`, `checks run` and `checks history` against a real PostgreSQL: the list in the
//! issue's JSON shape, a run that prints its finding and opens a `check:` workflow (a second
//! run folds into it), and the series with its forecast; and the daemon running a check on its
//! schedule.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;

use common::postgres;

/// Rows in a table that grows: over 100 is a finding; its growth is forecast towards 10,000.
const LEDGER_CHECK: &str = "---\nengine: postgres\nseverity: MEDIUM\nschedule: daily\nobject: table_name\n---\n## Health Query\n```sql\nSELECT 'ledger' AS table_name, count(*) AS row_count FROM ledger\n```\n## Threshold\n- row_count: 100\n## Forecast\n- metric: row_count\n- limit: 10000\n## Recommended Action\nArchive the ledger.\n";

/// A fresh database with a `ledger` of 150 rows, and an admin connection to it.
async fn ledger_of_150_rows() -> (String, tokio_postgres::Client) {
    let dbname = postgres::fresh_database().await;
    let admin = postgres::admin(&dbname).await;
    admin
        .batch_execute("CREATE TABLE ledger (n int); INSERT INTO ledger SELECT generate_series(1, 150);")
        .await
        .unwrap();
    (dbname, admin)
}

#[tokio::test(flavor = "multi_thread")]
async fn checks_are_listed_run_and_their_history_shown() {
    let (dbname, admin) = ledger_of_150_rows().await;
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = || {
        let mut command = Command::cargo_bin("sentri").expect("binary");
        command.env("SENTRI_HOME", home.path()).env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD);
        command
    };
    sentri().arg("init").assert().success();
    std::fs::write(home.path().join("checks/postgres/ledger_rows.md"), LEDGER_CHECK).expect("check");
    let config = format!(
        "databases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");

    let listed = sentri().args(["checks", "--json"]).assert().success().get_output().stdout.clone();
    let listed: serde_json::Value = serde_json::from_slice(&listed).expect("json");
    let ledger = listed.as_array().expect("an array").iter().find(|c| c["name"] == "ledger_rows").expect("listed");
    assert_eq!(ledger["engine"], "postgres");
    assert_eq!(ledger["schedule"], "daily");
    assert!(ledger["last_run"].is_null() && ledger["next_run"].is_null(), "never scheduled yet: {ledger}");
    assert_eq!(ledger["findings"], 0);
    assert!(listed.as_array().unwrap().len() > 1, "the default pack's checks are listed too");

    let ran = sentri().args(["checks", "run", "ledger_rows", "--db", "app", "--json"]).assert().success();
    let ran: serde_json::Value = serde_json::from_slice(&ran.get_output().stdout).expect("json");
    assert_eq!(ran["runs"][0]["findings"][0]["object"], "ledger", "{ran}");
    assert_eq!(ran["runs"][0]["findings"][0]["over"][0]["value"], 150.0);
    assert_eq!(ran["workflows"][0]["outcome"], "created", "{ran}");
    assert_eq!(ran["workflows"][0]["alert_type"], "check:ledger_rows");

    for more in 0..3 {
        admin.batch_execute(&format!("INSERT INTO ledger SELECT generate_series(1, {});", 100 + more)).await.unwrap();
        sentri()
            .args(["checks", "run", "ledger_rows"])
            .assert()
            .success()
            .stdout(predicate::str::contains("app: 1 finding(s)"))
            .stdout(predicate::str::contains("folded into open workflow"));
    }
    sentri().args(["list"]).assert().success().stdout(predicate::str::contains("check:ledger_rows").count(1));

    let listed = sentri().args(["checks"]).assert().success().get_output().stdout.clone();
    let listed = String::from_utf8(listed).unwrap();
    let line = listed.lines().find(|line| line.starts_with("ledger_rows")).expect("a row");
    assert!(line.contains("app") && line.contains("1 finding"), "{line}");

    let history = sentri().args(["checks", "history", "ledger_rows", "--db", "app", "--json"]).assert().success();
    let history: serde_json::Value = serde_json::from_slice(&history.get_output().stdout).expect("json");
    let series = &history["series"][0];
    assert_eq!((series["object"].as_str(), series["metric"].as_str()), (Some("ledger"), Some("row_count")));
    let values: Vec<f64> = series["points"].as_array().unwrap().iter().map(|p| p["value"].as_f64().unwrap()).collect();
    assert_eq!(values, [150.0, 250.0, 351.0, 453.0]);
    assert_eq!(history["runs"].as_array().unwrap().len(), 4);
    // Four runs within seconds, ~100 rows apart: a forecast exists, and it is soon.
    assert!(series["forecast"]["days_to_full"].as_f64().is_some_and(|days| days < 1.0), "{series}");

    sentri()
        .args(["checks", "history", "ledger_rows", "--db", "app"])
        .assert()
        .success()
        .stdout(predicate::str::contains("row_count"))
        .stdout(predicate::str::contains("days"));
    sentri()
        .args(["checks", "run", "no_such_check"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("no check named `no_such_check`"));
}

/// The daemon runs a check on its own schedule (a cron line, every minute: the first run comes
/// at start plus its jitter, under 6 s), its finding opens one workflow, and `sentri checks`
/// shows the run.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_runs_checks_on_their_schedule_and_their_findings_become_workflows() {
    use std::process::Stdio;
    let (dbname, _admin) = ledger_of_150_rows().await;
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = || {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("sentri"));
        command.env("SENTRI_HOME", home.path()).env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD);
        command
    };
    assert!(sentri().arg("init").stdout(Stdio::null()).status().expect("init").success());
    // Only this check: the default pack's would run too, and are proven elsewhere.
    std::fs::remove_dir_all(home.path().join("checks")).expect("no default checks");
    std::fs::create_dir_all(home.path().join("checks/postgres")).expect("checks");
    let every_minute = LEDGER_CHECK.replace("schedule: daily", "schedule: \"* * * * *\"");
    std::fs::write(home.path().join("checks/postgres/ledger_rows.md"), every_minute).expect("check");
    let config = format!(
        "monitoring:\n  orchestrator_poll_interval: 1\ndatabases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");
    let _daemon = common::daemon::Daemon(
        sentri().arg("start").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start"),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let listed = loop {
        let output = sentri().args(["list", "--json"]).output().expect("list");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if text.contains("check:ledger_rows") {
            break text;
        }
        assert!(std::time::Instant::now() < deadline, "no check workflow within a minute: {text}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    };
    assert_eq!(listed.matches("check:ledger_rows").count(), 1, "{listed}");
    let schedule = sentri().args(["checks", "--json"]).output().expect("checks");
    let schedule: serde_json::Value = serde_json::from_slice(&schedule.stdout).expect("json");
    let ledger = &schedule[0];
    assert!(ledger["last_run"].is_string() && ledger["next_run"].is_string(), "{ledger}");
    assert_eq!(ledger["findings"], 1);
}
