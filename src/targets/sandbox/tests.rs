//! The sandbox on its own: its state changes as the policies' statements say, it refuses what it
//! does not know and writes on the read-only path, and every statement of the demo's policies in
//! the default pack is one it recognises.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::world::{GB, MB, World};
use super::*;
use crate::home::Home;
use crate::policy::{AlertPolicy, PolicySet};

/// The policies `sentri demo` drives through the sandbox.
const DEMO_POLICIES: [&str; 3] = ["tablespace_full", "temp_full", "session_blocker"];

fn default_pack() -> (tempfile::TempDir, PolicySet) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = Home::at(dir.path().join("home"));
    home.init(false).expect("init");
    let set = PolicySet::load(&home.root);
    (dir, set)
}

fn policy(set: &PolicySet, name: &str) -> Arc<AlertPolicy> {
    set.alert(name).cloned().unwrap_or_else(|| panic!("the default pack has {name}"))
}

fn sandbox(scenario: &str) -> SandboxTarget {
    SandboxTarget::new("TEST-DB", World::seed(scenario).expect("a scenario"))
}

fn values(pairs: &[(&str, &str)]) -> Values {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned()))).collect()
}

/// Resolves `sql`'s identifiers through the sandbox's dictionary, as a plan does when it is
/// made, then runs it with that resolution.
async fn run(
    target: &SandboxTarget,
    sql: &str,
    values: &Values,
    identifiers: &BTreeMap<String, IdentifierKind>,
) -> Result<ExecOutcome, TargetError> {
    let query = |text: &'static str, values: Values| async move { target.query(text, &values).await };
    let resolved = crate::targets::resolve::resolve_all(
        "TEST-DB",
        Dialect::Oracle,
        query,
        &[sql],
        identifiers,
        values,
        &Default::default(),
    )
    .await?;
    target.execute(sql, values, identifiers, &resolved).await
}

fn first(rows: &Rows) -> BTreeMap<String, String> {
    rows.first_as_text().expect("a row")
}

fn number(row: &BTreeMap<String, String>, column: &str) -> f64 {
    row.get(column).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{column} in {row:?}"))
}

#[test]
fn every_query_of_the_demo_policies_has_one_known_shape() {
    let (_dir, set) = default_pack();
    for name in DEMO_POLICIES {
        let policy = policy(&set, name);
        let mut queries: Vec<(&str, &str)> = Vec::new();
        if let Some(block) = &policy.verification {
            queries.push(("verification", &block.sql));
        }
        if let Some(block) = &policy.capture {
            queries.push(("capture", &block.sql));
        }
        if let Some(block) = &policy.validation {
            queries.push(("validation", &block.sql));
        }
        for check in &policy.preflight {
            queries.push(("pre-flight", &check.sql.sql));
        }
        assert!(queries.len() >= 4, "{name} has its queries");
        for (role, sql) in queries {
            assert!(queries::shape_of(sql).is_some(), "{name} {role} is not recognised:\n{sql}");
        }
    }
}

#[tokio::test]
async fn tablespace_full_is_verified_fixed_validated_and_rolled_back_on_the_world() {
    let (_dir, set) = default_pack();
    let policy = policy(&set, "tablespace_full");
    let target = sandbox("dev");
    let alert = values(&[("tablespace_name", "users")]);
    let verification = target.query(&policy.verification.as_ref().expect("verification").sql, &alert).await;
    let row = first(&verification.expect("verified"));
    assert_eq!(row["tbs_name"], "USERS");
    assert_eq!(number(&row, "used_pct"), 97.0);
    assert_eq!(row["file_count"], "1");

    for check in &policy.preflight {
        let rows = target.query(&check.sql.sql, &alert).await.expect("pre-flight runs");
        let (passed, why) = crate::pipeline::verify::preflight_passes(&check.expectation, &rows);
        assert!(passed, "{}: {why}", check.name);
    }

    let validation = &policy.validation.as_ref().expect("validation").sql;
    let before = first(&target.query(validation, &alert).await.expect("before"));
    let forward = &policy.forward[0].sql;
    let outcome = run(&target, forward, &alert, &policy.identifiers).await.expect("datafile added");
    assert!(outcome.sql.contains("ALTER TABLESPACE \"USERS\" ADD DATAFILE"), "{}", outcome.sql);
    let after = first(&target.query(validation, &alert).await.expect("after"));
    assert!(number(&after, "max_mb") > number(&before, "max_mb"), "{before:?} → {after:?}");
    assert!(number(&after, "used_pct") < number(&before, "used_pct"));

    let captured = first(&target.query(&policy.capture.as_ref().expect("capture").sql, &alert).await.expect("capture"));
    let new_file = captured["file_name"].clone();
    assert!(new_file.starts_with("+DATA/DEVDB01/DATAFILE/users."), "{new_file}");
    let files_before_drop = target.snapshot().expect("world").files.len();
    let mut with_file = alert.clone();
    with_file.insert("file_name".into(), Some(new_file.clone()));
    run(&target, &policy.rollback[0].sql, &with_file, &policy.identifiers).await.expect("dropped");
    let world = target.snapshot().expect("world");
    assert_eq!(world.files.len(), files_before_drop - 1);
    assert!(world.files.iter().all(|f| f.path != new_file));
    assert_eq!(world.storage_free, 500 * GB, "the space came back");
}

#[tokio::test]
async fn a_datafile_that_cannot_grow_leaves_the_maximum_where_it_was() {
    let (_dir, set) = default_pack();
    let policy = policy(&set, "tablespace_full");
    let target = sandbox("dev-tight");
    let alert = values(&[("tablespace_name", "HIST_DATA")]);
    let row = first(&target.query(&policy.verification.as_ref().expect("v").sql, &alert).await.expect("verified"));
    assert!(number(&row, "used_pct") >= 96.0, "{row:?}");
    let validation = &policy.validation.as_ref().expect("validation").sql;
    let before = first(&target.query(validation, &alert).await.expect("before"));
    run(&target, &policy.forward[0].sql, &alert, &policy.identifiers).await.expect("the file is created");
    let after = first(&target.query(validation, &alert).await.expect("after"));
    assert_eq!(after["max_mb"], before["max_mb"], "the new file took the space the old ones would have grown into");
    assert_eq!(target.snapshot().expect("world").storage_free, 76 * MB);
    // A second file no longer fits at all: Oracle's error, nothing changed.
    let error = run(&target, &policy.forward[0].sql, &alert, &policy.identifiers).await.expect_err("disk full");
    assert_eq!(error.code.as_deref(), Some("ORA-01119"));
}

#[tokio::test]
async fn the_blocker_is_found_killed_and_its_waiters_released() {
    let (_dir, set) = default_pack();
    let policy = policy(&set, "session_blocker");
    let target = sandbox("prod");
    let alert: Values = [("blocking_sid".to_owned(), None), ("blocking_inst".to_owned(), None)].into_iter().collect();
    let row = first(&target.query(&policy.verification.as_ref().expect("v").sql, &alert).await.expect("verified"));
    assert_eq!(row["blk_sid"], "1234");
    assert_eq!(row["waiter_count"], "3");
    assert_eq!(row["max_wait_s"], "420");
    assert_eq!(row["session"], "1234,5678,@1");
    let mut plan_values = alert.clone();
    for (column, value) in &row {
        plan_values.insert(column.clone(), Some(value.clone()));
    }
    for check in &policy.preflight {
        let rows = target.query(&check.sql.sql, &plan_values).await.expect("pre-flight runs");
        let (passed, why) = crate::pipeline::verify::preflight_passes(&check.expectation, &rows);
        assert!(passed, "{}: {why}", check.name);
    }
    let validation = &policy.validation.as_ref().expect("validation").sql;
    assert_eq!(first(&target.query(validation, &plan_values).await.expect("before"))["waiting_on_blocker"], "3");
    let outcome = run(&target, &policy.forward[0].sql, &plan_values, &policy.identifiers).await.expect("killed");
    assert_eq!(outcome.sql, "ALTER SYSTEM KILL SESSION '1234,5678,@1' IMMEDIATE");
    assert_eq!(first(&target.query(validation, &plan_values).await.expect("after"))["waiting_on_blocker"], "0");
    let again = run(&target, &policy.forward[0].sql, &plan_values, &policy.identifiers).await;
    assert_eq!(again.expect_err("gone").code.as_deref(), Some("ORA-00030"));
    let none = target.query(&policy.verification.as_ref().expect("v").sql, &alert).await.expect("runs");
    assert!(none.is_empty(), "no blocker is left");
}

#[tokio::test]
async fn unknown_statements_are_refused_by_name() {
    let target = sandbox("dev");
    let error = target.query("SELECT * FROM dba_segments WHERE owner = :o", &values(&[("o", "APP")])).await;
    let error = error.expect_err("unknown");
    assert_eq!(error.kind, ErrorKind::Refused);
    assert!(error.message.contains("SELECT * FROM DBA_SEGMENTS WHERE OWNER = :O"), "{}", error.message);
    let write =
        target.execute("ALTER TABLESPACE users OFFLINE", &Values::new(), &BTreeMap::new(), &Resolved::new()).await;
    assert!(write.expect_err("unknown write").message.contains("ALTER TABLESPACE USERS OFFLINE"));
    let dml = target
        .execute("DELETE FROM app.orders WHERE id = :id", &values(&[("id", "1")]), &BTreeMap::new(), &Resolved::new())
        .await;
    assert_eq!(dml.expect_err("no DML").kind, ErrorKind::Refused);
}

#[tokio::test]
async fn the_read_only_path_refuses_writes_before_reading_them() {
    let target = sandbox("dev");
    let before = target.snapshot().expect("world");
    for write in [
        "ALTER TABLESPACE USERS ADD DATAFILE SIZE 1G",
        "ALTER SYSTEM KILL SESSION '311,4411' IMMEDIATE",
        "DELETE FROM dba_data_files",
        "BEGIN NULL; END;",
    ] {
        let error = target.query(write, &Values::new()).await.expect_err("refused");
        assert_eq!(error.kind, ErrorKind::Refused, "{write}");
    }
    assert_eq!(target.snapshot().expect("world"), before, "nothing changed");
}

#[tokio::test]
async fn identifiers_must_exist_in_the_dictionary_and_values_stay_binds() {
    let (_dir, set) = default_pack();
    let policy = policy(&set, "tablespace_full");
    let target = sandbox("dev");
    let nope = values(&[("tablespace_name", "NOPE")]);
    let missing = run(&target, &policy.forward[0].sql, &nope, &policy.identifiers).await;
    let error = missing.expect_err("not in the dictionary");
    assert_eq!(error.kind, ErrorKind::Statement, "as on every engine: {error}");
    assert!(error.message.contains("`:tablespace_name`") && error.message.contains("NOPE"), "{error}");
    let hostile = values(&[("tablespace_name", "USERS ADD DATAFILE SIZE 1T")]);
    let refused = run(&target, &policy.forward[0].sql, &hostile, &policy.identifiers).await;
    assert_eq!(refused.expect_err("not an identifier").kind, ErrorKind::Fill);
    let hostile_query = target
        .query(&policy.verification.as_ref().expect("v").sql, &values(&[("tablespace_name", "USERS' OR '1'='1")]))
        .await
        .expect("runs");
    assert!(hostile_query.is_empty(), "a value is compared, never read as SQL");
    assert_eq!(target.snapshot().expect("world").files.len(), World::seed("dev").expect("dev").files.len());
}

#[tokio::test]
async fn the_profile_says_simulated_and_unknown_scenarios_are_refused() {
    let profile = sandbox("prod").profile().await.expect("profile");
    assert_eq!(profile.engine, DbKind::Sandbox);
    assert_eq!(profile.database_name, "PRODDB");
    let oracle = profile.oracle.expect("an Oracle profile");
    assert!(oracle.banner.contains("SIMULATED"), "{}", oracle.banner);
    assert_eq!(oracle.omf_destination.as_deref(), Some("+DATA"));
    assert_eq!(DbKind::Sandbox.to_string(), "sandbox: SIMULATED Oracle");
    assert_eq!(world_name(" Sandbox:dev-tight "), Some("dev-tight"));
    assert_eq!(world_name("db:1521/sandbox"), None);
    assert!(World::seed("nowhere").is_none());
}

#[test]
fn seeds_are_deterministic() {
    for (name, _) in world::SCENARIOS {
        assert_eq!(World::seed(name), World::seed(name), "{name}");
    }
}

#[test]
fn normalising_ignores_layout_but_not_literals() {
    assert_eq!(
        queries::normalise("select  count(*)\n from v$parameter\twhere name = 'Db_X' ;"),
        "SELECT COUNT(*) FROM V$PARAMETER WHERE NAME = 'Db_X'"
    );
    assert_eq!(queries::normalise("SELECT ( a ) FROM \"Mixed\""), "SELECT (A) FROM \"Mixed\"");
}

#[tokio::test]
async fn temp_full_adds_a_tempfile_and_drops_it_again() {
    let (_dir, set) = default_pack();
    let policy = policy(&set, "temp_full");
    let target = sandbox("dev");
    let alert = values(&[("temp_tablespace", "TEMP")]);
    let row = first(&target.query(&policy.verification.as_ref().expect("v").sql, &alert).await.expect("verified"));
    assert_eq!(number(&row, "peak_used_pct"), 98.0);
    assert_eq!(number(&row, "used_pct"), 96.0);
    for check in &policy.preflight {
        let rows = target.query(&check.sql.sql, &alert).await.expect("pre-flight runs");
        let (passed, why) = crate::pipeline::verify::preflight_passes(&check.expectation, &rows);
        assert!(passed, "{}: {why}", check.name);
    }
    let validation = &policy.validation.as_ref().expect("validation").sql;
    let before = first(&target.query(validation, &alert).await.expect("before"));
    run(&target, &policy.forward[0].sql, &alert, &policy.identifiers).await.expect("tempfile added");
    let after = first(&target.query(validation, &alert).await.expect("after"));
    assert_eq!((number(&before, "max_mb"), number(&after, "max_mb")), (8192.0, 8192.0 + 32767.0));
    let captured = first(&target.query(&policy.capture.as_ref().expect("capture").sql, &alert).await.expect("capture"));
    assert!(captured["file_name"].starts_with("+DATA/DEVDB01/TEMPFILE/temp."), "{captured:?}");
    let mut with_file = alert.clone();
    with_file.insert("file_name".into(), Some(captured["file_name"].clone()));
    run(&target, &policy.rollback[0].sql, &with_file, &policy.identifiers).await.expect("tempfile dropped");
    assert_eq!(first(&target.query(validation, &alert).await.expect("again")), before, "back where it was");
    // A datafile is not a tempfile: the dictionary lookup for the rollback's file fails.
    let datafile = World::seed("dev").expect("dev").files.iter().find(|f| !f.temp).map(|f| f.path.clone());
    with_file.insert("file_name".into(), datafile);
    let wrong = run(&target, &policy.rollback[0].sql, &with_file, &policy.identifiers).await;
    assert_eq!(wrong.expect_err("not a tempfile").kind, ErrorKind::Fill);
}
