//! `sentri replay DIR --dry-run --report [--json]`: the coverage report of a folder of corpus
//! alerts plus unmatched mail of two shapes (issue 14 §4).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn sentri(home: &Path) -> Command {
    let mut command = Command::cargo_bin("sentri").expect("binary built");
    command.env("SENTRI_HOME", home);
    command
}

const CORPUS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/alert_corpus/alertlog/");

#[test]
fn report_counts_types_and_groups_misses() {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path()).arg("init").assert().success();
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, file) in ["ora01652.txt", "ora01653.txt", "ora00257.txt", "ora01653_pdb.txt"].iter().enumerate() {
        let text = std::fs::read_to_string(format!("{CORPUS}{file}")).expect("corpus file");
        std::fs::write(
            dir.path().join(format!("a{i}.eml")),
            format!("From: oem@example.com\nMessage-ID: <a{i}@x>\n{text}"),
        )
        .expect("write");
    }
    let misses = [
        "Listener queue depth 42 on PROD-DB-07",
        "Listener queue depth 7 on DEV-DB-01",
        "Listener queue depth 130 on PROD-DB-02",
        "Weekly newsletter 2026-11-24",
        "Weekly newsletter 2026-12-01",
    ];
    for (i, subject) in misses.iter().enumerate() {
        std::fs::write(
            dir.path().join(format!("m{i}.eml")),
            format!("From: ops@example.com\nSubject: {subject}\nMessage-ID: <m{i}@x>\n\nhello\n"),
        )
        .expect("write");
    }
    let out =
        sentri(home.path()).args(["replay", "--dry-run", "--report", "--json"]).arg(dir.path()).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["total"], 9);
    assert_eq!(report["recognised"], 4, "{report}");
    assert_eq!(report["by_type"]["tablespace_full"], 2, "{report}");
    assert_eq!(report["by_type"]["temp_full"], 1);
    let groups = report["unmatched_groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2, "{report}");
    assert_eq!(groups[0]["shape"], "Listener queue depth N on <name>");
    assert_eq!(groups[0]["count"], 3);
    assert_eq!(groups[0]["example_subject"], "Listener queue depth 42 on PROD-DB-07");
    assert_eq!(groups[0]["nearest"]["alert_type"], "listener_down", "{report}");
    assert!(groups[0]["nearest"]["missing"].as_array().is_some_and(|m| m.iter().any(|w| w == "down")));
    assert_eq!(groups[1]["shape"], "Weekly newsletter N");
    assert_eq!(groups[1]["count"], 2);
    assert!(groups[1]["nearest"].is_null(), "no policy looks for a newsletter's words");
    // PRODDB is an alias of the configured PROD-DB-07; one alert-log text names no database.
    assert_eq!(report["by_database"]["PROD-DB-07"], 3, "{report}");
    assert_eq!(report["by_database"]["(none)"], 1, "{report}");

    sentri(home.path()).args(["replay", "--dry-run", "--report"]).arg(dir.path()).assert().success().stdout(
        predicate::str::contains("Recognised by alert type:")
            .and(predicate::str::contains("Unmatched, grouped by subject shape:")),
    );
    sentri(home.path())
        .args(["replay", "--report"])
        .arg(dir.path())
        .assert()
        .failure()
        .stderr(predicate::str::contains("--dry-run"));
}
