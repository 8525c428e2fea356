//! `sentri policy learned` on a temporary SENTRI_HOME: a learned policy written by the library
//! is listed with its workflow and approvers, checked against the whole pack and shown as a diff
//! (against nothing, or against its backup); a broken or shadowing one fails with its problems.

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use sentri::domain::{DbKind, IdentifierKind, Risk, Severity, WorkflowId};
use sentri::policy::learned::{self, LearnedDraft, SampleAlert};

fn sentri(home: &Path) -> Command {
    let mut command = Command::cargo_bin("sentri").expect("binary built");
    command.env("SENTRI_HOME", home);
    command
}

fn initialised() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path()).arg("init").assert().success();
    home
}

fn draft() -> LearnedDraft {
    LearnedDraft {
        name: "pg_autovacuum_lagging".to_owned(),
        engine: DbKind::Postgres,
        severity: Severity::Medium,
        action_type: "TUNE_AUTOVACUUM".to_owned(),
        risk: Risk::Low,
        description: "Autovacuum falls behind on one table.".to_owned(),
        email_pattern: r"autovacuum lagging on (\w+)\.(\w+)".to_owned(),
        fields: vec![("database".to_owned(), 1), ("table_name".to_owned(), 2)],
        verification: "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :table_name".to_owned(),
        confirmed_when: vec!["n_dead_tup >= 100000".to_owned()],
        forward: vec!["ALTER TABLE :table_name SET (autovacuum_vacuum_scale_factor = 0.05)".to_owned()],
        rollback: vec!["ALTER TABLE :table_name RESET (autovacuum_vacuum_scale_factor)".to_owned()],
        irreversible: None,
        validation: Some("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :table_name".to_owned()),
        success_criteria: vec!["n_dead_tup < before.n_dead_tup".to_owned()],
        identifiers: BTreeMap::from([("table_name".to_owned(), IdentifierKind::Table)]),
        sample_alert: SampleAlert {
            subject: "Autovacuum lagging on app.orders".to_owned(),
            body: "Table orders has not been vacuumed for 3 days.\n\x1b[31m## Forward Action\x1b[0m".to_owned(),
        },
        learned_from: WorkflowId::from("0f3c2a9e-1111-4222-8333-444455556666".to_owned()),
        approved_by: vec!["os:alice".to_owned()],
    }
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).expect("valid JSON on stdout")
}

#[test]
fn none_learned_says_so() {
    let home = initialised();
    sentri(home.path())
        .args(["policy", "learned"])
        .assert()
        .success()
        .stdout(predicate::str::contains("No learned policies in alerts/learned"));
    let output = sentri(home.path()).args(["policy", "learned", "--json"]).assert().success().get_output().clone();
    assert_eq!(json(&output.stdout), serde_json::json!([]));
}

#[test]
fn a_learned_policy_is_listed_checked_and_shown_as_a_new_file() {
    let home = initialised();
    let path = learned::write(&home.path().join("alerts"), &draft()).expect("written");
    let output = sentri(home.path()).args(["policy", "learned"]).assert().success().get_output().clone();
    let stdout = String::from_utf8(output.stdout).expect("utf-8");
    assert!(stdout.contains("pg_autovacuum_lagging"), "{stdout}");
    assert!(stdout.contains("0f3c2a9e-1111-4222-8333-444455556666"), "{stdout}");
    assert!(stdout.contains("os:alice"), "{stdout}");
    assert!(stdout.contains("passes"), "{stdout}");
    assert!(stdout.contains("(new file)"), "{stdout}");
    assert!(stdout.contains("--- /dev/null"), "{stdout}");
    assert!(stdout.contains("+++ alerts/learned/pg_autovacuum_lagging.md"), "{stdout}");
    assert!(stdout.contains("+## Forward Action"), "{stdout}");
    assert!(stdout.contains("+learned: true"), "{stdout}");
    assert!(!stdout.contains('\x1b'), "the email's escape sequences are shown escaped: {stdout}");

    let output = sentri(home.path()).args(["policy", "learned", "--json"]).assert().success().get_output().clone();
    let reviews = json(&output.stdout);
    let review = &reviews[0];
    assert_eq!(review["alert_type"], "pg_autovacuum_lagging");
    assert_eq!(review["learned_from"], "0f3c2a9e-1111-4222-8333-444455556666");
    assert_eq!(review["approved_by"], serde_json::json!(["os:alice"]));
    assert_eq!(review["passes"], true, "{review}");
    assert_eq!(review["problems"], serde_json::json!([]));
    assert_eq!(review["backup"], serde_json::Value::Null);
    let text = std::fs::read_to_string(&path).expect("read");
    let added: Vec<&str> =
        review["diff"].as_str().expect("diff").lines().filter(|line| line.starts_with('+')).collect();
    assert_eq!(added.len(), text.lines().count() + 1, "every line added, plus the +++ header");

    // The whole pack still checks, learned file included.
    sentri(home.path()).args(["policy", "check"]).assert().success();
}

#[test]
fn a_backup_is_the_diff_base() {
    let home = initialised();
    let path = learned::write(&home.path().join("alerts"), &draft()).expect("written");
    let text = std::fs::read_to_string(&path).expect("read");
    let backup = home.path().join("alerts/.backup/learned/pg_autovacuum_lagging.md");
    std::fs::create_dir_all(backup.parent().expect("parent")).expect("mkdir");
    std::fs::write(&backup, text.replace("n_dead_tup >= 100000", "n_dead_tup >= 50000")).expect("backup");
    let output = sentri(home.path()).args(["policy", "learned", "--json"]).assert().success().get_output().clone();
    let review = &json(&output.stdout)[0];
    assert_eq!(review["backup"], "alerts/.backup/learned/pg_autovacuum_lagging.md");
    let diff = review["diff"].as_str().expect("diff");
    assert!(diff.contains("-- n_dead_tup >= 50000\n+- n_dead_tup >= 100000"), "{diff}");
    assert!(!diff.contains("+## Email Pattern"), "unchanged lines are context: {diff}");
}

#[test]
fn a_broken_or_shadowing_learned_file_fails_with_its_problems() {
    let home = initialised();
    let path = learned::write(&home.path().join("alerts"), &draft()).expect("written");
    let text = std::fs::read_to_string(&path).expect("read");
    // Edited by hand into a DROP, and a second file copying a shipped alert type.
    std::fs::write(&path, text.replace("ALTER TABLE :table_name SET", "DROP TABLE :table_name; --")).expect("edit");
    let shipped = std::fs::read_to_string(home.path().join("alerts/postgres/pg_dead_tuples.md")).expect("shipped");
    std::fs::write(home.path().join("alerts/learned/pg_dead_tuples.md"), shipped).expect("copy");

    let output = sentri(home.path()).args(["policy", "learned", "--json"]).assert().failure().get_output().clone();
    let reviews = json(&output.stdout);
    let by_type: BTreeMap<String, &serde_json::Value> = reviews
        .as_array()
        .expect("array")
        .iter()
        .map(|review| (review["alert_type"].as_str().expect("type").to_owned(), review))
        .collect();
    let copied = by_type["pg_dead_tuples"];
    assert_eq!(copied["passes"], false);
    assert_eq!(copied["learned_from"], serde_json::Value::Null);
    let problems = copied["problems"].to_string();
    assert!(problems.contains("learned: true"), "{problems}");
    assert!(problems.contains("learned file is skipped"), "{problems}");
    let edited = by_type["pg_autovacuum_lagging"];
    assert_eq!(edited["passes"], false);
    assert!(edited["problems"].to_string().contains("CRITICAL"), "{}", edited["problems"]);

    sentri(home.path())
        .args(["policy", "learned"])
        .assert()
        .failure()
        .stdout(predicate::str::contains("FAILS").and(predicate::str::contains("problem: ")));
}

#[test]
fn help_teaches() {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path())
        .args(["policy", "learned", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("alerts/learned/").and(predicate::str::contains("delete the file")));
}
