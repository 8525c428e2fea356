//! `sentri db test`, `sentri show-profile` and `sentri profiles` against a real PostgreSQL.

mod common;

use assert_cmd::Command;
use predicates::prelude::*;

use common::postgres;

#[tokio::test(flavor = "multi_thread")]
async fn db_test_connects_profiles_and_caches_the_profile() {
    let dbname = postgres::fresh_database().await;
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = || {
        let mut command = Command::cargo_bin("sentri").expect("binary");
        command.env("SENTRI_HOME", home.path()).env("SENTRI_DB_APP_PASSWORD", postgres::SUPERUSER_PASSWORD);
        command
    };
    sentri().arg("init").assert().success();
    let config = format!(
        "databases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n    aliases: [appdb]\n  - name: gone\n    connection_string: \"postgres://127.0.0.1:1/nowhere?sslmode=disable\"\n    environment: DEV\n    username: postgres\n",
        postgres::connection_string(&dbname)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");

    let output = sentri().args(["db", "test", "appdb", "--json"]).assert().success().get_output().stdout.clone();
    let results: serde_json::Value = serde_json::from_slice(&output).expect("json");
    let app = &results[0];
    assert_eq!(app["name"], "app");
    assert_eq!(app["ok"], true);
    assert_eq!(app["connected_as"], "postgres");
    assert!(app["latency_ms"].as_f64().is_some_and(|ms| ms > 0.0));
    assert_eq!(app["profile"]["database_name"], dbname.as_str());
    assert_eq!(app["profile"]["postgres"]["in_recovery"], false);

    sentri()
        .args(["db", "test"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("app (postgres, DEV): OK"))
        .stdout(predicate::str::contains("gone (postgres, DEV): FAILED"))
        .stdout(predicate::str::contains(postgres::SUPERUSER_PASSWORD).not());

    sentri().args(["show-profile", "app"]).assert().success().stdout(predicate::str::contains("max_connections"));
    sentri()
        .args(["show-profile", "gone"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("has not been profiled yet"));

    // `sentri profiles` lists what was cached: app (profiled), not gone (never reached).
    let output = sentri().arg("profiles").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(output).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "a header and one database: {text}");
    assert!(lines[0].starts_with("DATABASE") && lines[0].contains("PROFILED AT"), "{text}");
    assert!(lines[1].starts_with("app ") && lines[1].contains("postgres") && lines[1].contains("primary"), "{text}");
    let output = sentri().args(["profiles", "--json"]).assert().success().get_output().stdout.clone();
    let listed: serde_json::Value = serde_json::from_slice(&output).expect("json");
    let listed = listed.as_array().expect("an array");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["database"], "app");
    assert_eq!(listed[0]["profile"]["database_name"], dbname.as_str());
    assert!(listed[0]["profiled_at"].as_str().is_some_and(|at| at.starts_with("20")));
}
