//! The attacks on the audit trail, performed on a real store file with the `sqlite3`-shell moves
//! someone with write access would make, and `sentri audit --verify` catching each of them:
//! the newest rows cut off with SQLite's id counter reset (caught by an anchor kept elsewhere),
//! every hash recomputed from a row on with plain sha256 (caught by the key), and a transition
//! rewritten (caught by its content hash in the chain).

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use rusqlite::Connection;
use sentri::domain::WorkflowState;
use sentri::store::Store;
use sentri::store::workflows::NewWorkflow;
use sha2::{Digest, Sha256};

fn sentri(home: &Path) -> Command {
    let mut command = Command::cargo_bin("sentri").expect("binary built");
    command.env("SENTRI_HOME", home);
    command
}

/// An initialised home whose chain has a few workflows, each with transitions.
fn home_with_history() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path()).arg("init").assert().success().stdout(predicate::str::contains("audit key: created"));
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    for database in ["PROD-DB-07", "DEV-DB-01", "UAT-DB-03"] {
        let new = NewWorkflow {
            raw_alert_id: None,
            alert_type: "tablespace_full".to_owned(),
            database: database.to_owned(),
            environment: "PROD".to_owned(),
            severity: "HIGH".to_owned(),
            fields: Default::default(),
        };
        let id = store.create_workflow(new, "test").expect("create").id;
        store.transition(&id, WorkflowState::Detected, WorkflowState::Verifying, "engine", "checking").expect("move");
    }
    home
}

/// The raw file, with the append-only triggers dropped, as an attacker would have it.
fn tamper(home: &Path) -> Connection {
    let connection = Connection::open(home.join("data/sentri.db")).expect("open sqlite");
    connection.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;").expect("drop the guards");
    connection
}

fn anchor_line(home: &Path) -> String {
    let output = sentri(home).args(["audit", "--anchor"]).assert().success().get_output().stdout.clone();
    String::from_utf8(output).expect("utf-8").trim().to_owned()
}

#[test]
fn the_key_file_is_private() {
    let home = home_with_history();
    let key = home.path().join("data/audit.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("key exists").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "audit.key must be readable by its owner only");
    }
    let text = std::fs::read_to_string(&key).expect("read key");
    assert_eq!(text.trim().len(), 64);
}

#[test]
fn deleting_the_newest_rows_and_resetting_the_counter_is_caught_by_an_anchor() {
    let home = home_with_history();
    let line = anchor_line(home.path());
    assert!(line.starts_with("sentri-audit-anchor v1 6 "), "{line}");
    let head = line.split_whitespace().nth(3).expect("head hash").to_owned();
    // The anchor as it was kept elsewhere: a log line, a quoted mail.
    let anchors = home.path().join("kept-anchors.txt");
    std::fs::write(&anchors, format!("2026-12-03T10:00:00Z  INFO sentri::engine: audit anchor: {line}\n> {line}\n"))
        .expect("write anchors");
    sentri(home.path()).args(["audit", "--verify", "--anchors"]).arg(&anchors).assert().success();

    let connection = tamper(home.path());
    connection.execute("DELETE FROM audit WHERE id >= 5", []).expect("cut the newest rows");
    connection.execute("UPDATE sqlite_sequence SET seq = 4 WHERE name = 'audit'", []).expect("reset the counter");
    drop(connection);

    sentri(home.path()).args(["audit", "--verify", "--anchors"]).arg(&anchors).assert().code(1).stdout(
        predicate::str::contains("FAILED: anchor of row #6").and(predicate::str::contains("row #6 is missing")),
    );
    sentri(home.path())
        .args(["audit", "--verify", "--expect-head", &head])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("no row has this hash"));
}

/// The first schema's hash: sha256 of the JSON array of the row's columns, as the chain was
/// computed before it was keyed, and as anyone can recompute it.
fn plain_sha256(connection: &Connection, id: i64, prev_hash: &str) -> String {
    let canonical: serde_json::Value = connection
        .query_row(
            "SELECT id, at, workflow_id, database, environment, actor, action, result, detail FROM audit WHERE id = ?1",
            [id],
            |row| {
                Ok(serde_json::json!([
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, Option<String>>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                    prev_hash,
                ]))
            },
        )
        .expect("read row");
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// Rewrites row `from` (its actor) and recomputes every hash and link from it to the head with
/// plain sha256; with `downgrade`, also marks the rewritten rows as the unkeyed scheme.
fn rewrite_from(home: &Path, from: i64, downgrade: bool) {
    let connection = tamper(home);
    connection.execute("UPDATE audit SET actor = 'someone else' WHERE id = ?1", [from]).expect("edit");
    let last: i64 = connection.query_row("SELECT MAX(id) FROM audit", [], |row| row.get(0)).expect("last id");
    let mut prev_hash: String =
        connection.query_row("SELECT hash FROM audit WHERE id = ?1", [from - 1], |row| row.get(0)).expect("prev");
    for id in from..=last {
        let hash = plain_sha256(&connection, id, &prev_hash);
        connection
            .execute("UPDATE audit SET prev_hash = ?2, hash = ?3 WHERE id = ?1", (id, &prev_hash, &hash))
            .expect("recompute");
        if downgrade {
            connection.execute("UPDATE audit SET scheme = 'sha256' WHERE id = ?1", [id]).expect("downgrade");
        }
        prev_hash = hash;
    }
}

#[test]
fn recomputing_every_hash_from_a_row_on_with_plain_sha256_is_detected() {
    let home = home_with_history();
    rewrite_from(home.path(), 3, false);
    sentri(home.path())
        .args(["audit", "--verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("BROKEN at row #3").and(predicate::str::contains("edited")));
}

#[test]
fn recomputing_with_plain_sha256_and_marking_the_rows_unkeyed_is_detected() {
    let home = home_with_history();
    rewrite_from(home.path(), 3, true);
    sentri(home.path())
        .args(["audit", "--verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("BROKEN at row #3").and(predicate::str::contains("without the audit key")));
}

#[test]
fn a_rewritten_transition_is_detected_through_its_audit_row() {
    let home = home_with_history();
    let connection = tamper(home.path());
    connection.execute("UPDATE transitions SET reason = 'nothing to see' WHERE id = 2", []).expect("rewrite");
    drop(connection);
    sentri(home.path())
        .args(["audit", "--verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("BROKEN at row #4").and(predicate::str::contains("transitions row #2")));
}

#[test]
fn an_anchor_not_signed_with_the_key_is_refused() {
    let home = home_with_history();
    let line = anchor_line(home.path());
    let mut fields: Vec<&str> = line.split_whitespace().collect();
    fields[2] = "5";
    let forged = home.path().join("forged.txt");
    std::fs::write(&forged, fields.join(" ")).expect("write");
    sentri(home.path())
        .args(["audit", "--verify", "--anchors"])
        .arg(&forged)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("does not verify with this store's audit key"));
}
