//! The read path cannot write, against a real PostgreSQL (tests/common/postgres.rs): the attacks
//! a hostile review ran — a verification query that killed another session, an advisory lock
//! that survived the ROLLBACK on a pooled connection — are refused before anything is sent, a
//! session state that does get through is gone before the connection is used again, and
//! `sentri db test` says whether the configured account could write.

mod common;

use std::time::Duration;

use assert_cmd::Command;
use common::postgres::{self as pg, admin, database_config, fresh_database};
use sentri::targets::postgres::PostgresTarget;
use sentri::targets::{ConnectOptions, ErrorKind, Value, Values};

fn options() -> ConnectOptions {
    // One connection, so the next call is sure to reuse the one the attack ran on.
    ConnectOptions { connect_timeout: Duration::from_secs(5), call_timeout: Duration::from_secs(10), pool_size: 1 }
}

fn values(pairs: &[(&str, &str)]) -> Values {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), Some((*v).to_owned()))).collect()
}

/// The backend pid of `client`'s session.
async fn pid_of(client: &tokio_postgres::Client) -> i32 {
    client.query_one("SELECT pg_backend_pid()", &[]).await.expect("pid").get(0)
}

#[tokio::test]
async fn a_query_that_would_kill_another_session_is_refused_and_the_session_survives() {
    let db = fresh_database().await;
    let victim = admin(&db).await;
    let victim_pid = pid_of(&victim).await;
    let target = PostgresTarget::connect(&database_config(&db), &options()).await.expect("connects");
    let pid = victim_pid.to_string();
    for sql in [
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = :pid",
        "select PG_TERMINATE_BACKEND(pid) from pg_stat_activity where pid = :pid",
        "SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = :pid",
        "SELECT \"pg_terminate_backend\"(pid) FROM pg_stat_activity WHERE pid = :pid",
        "WITH k AS (SELECT pg_terminate_backend(a.pid) AS done FROM pg_stat_activity a WHERE a.pid = :pid) SELECT * FROM k",
        "SELECT count(*) FROM pg_stat_activity WHERE pid = :pid AND pg_terminate_backend(pid)",
        "SELECT * FROM (SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE pid = :pid) s",
        "SELECT 1 FROM pg_stat_activity WHERE pid IN (SELECT pid FROM pg_stat_activity WHERE pid = :pid AND pg_terminate_backend(pid))",
    ] {
        let error = target.query(sql, &values(&[("pid", &pid)])).await.expect_err(sql);
        assert_eq!(error.kind, ErrorKind::Refused, "{sql}: {error}");
        assert!(error.message.contains("backend"), "the refusal names the function: {error}");
    }
    // The victim still answers, as the same backend.
    assert_eq!(pid_of(&victim).await, victim_pid);
    let alive = admin(&db)
        .await
        .query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", &[&victim_pid])
        .await
        .expect("count")
        .get::<_, i64>(0);
    assert_eq!(alive, 1);
    target.close().await;
}

#[tokio::test]
async fn advisory_locks_and_other_side_effects_are_refused_on_the_read_path() {
    let db = fresh_database().await;
    let target = PostgresTarget::connect(&database_config(&db), &options()).await.expect("connects");
    for (sql, function) in [
        ("SELECT pg_advisory_lock(42)", "pg_advisory_lock"),
        ("SELECT pg_try_advisory_lock(42)", "pg_try_advisory_lock"),
        ("SELECT pg_advisory_xact_lock(42)", "pg_advisory_xact_lock"),
        ("SELECT set_config('application_name', 'hijacked', false)", "set_config"),
        ("SELECT pg_reload_conf()", "pg_reload_conf"),
        ("SELECT lo_creat(-1)", "lo_creat"),
        ("SELECT nextval('x')", "nextval"),
    ] {
        let error = target.query(sql, &Values::new()).await.expect_err(sql);
        assert_eq!(error.kind, ErrorKind::Refused, "{sql}: {error}");
        assert!(error.message.contains(function), "{sql}: {error}");
    }
    // Nothing reached the server: another session takes the lock at once.
    let other = admin(&db).await;
    let free: bool = other.query_one("SELECT pg_try_advisory_lock(42)", &[]).await.expect("try").get(0);
    assert!(free, "no session holds advisory lock 42");
    let large_objects: i64 =
        other.query_one("SELECT count(*) FROM pg_largeobject_metadata", &[]).await.expect("count").get(0);
    assert_eq!(large_objects, 0);
    target.close().await;
}

#[tokio::test]
async fn session_state_that_gets_through_is_gone_before_the_connection_is_reused() {
    let db = fresh_database().await;
    // A user function is not refused on PostgreSQL (see sql::effects); this one takes a
    // session-level advisory lock, which the read path's ROLLBACK does not release.
    admin(&db)
        .await
        .batch_execute(
            "CREATE FUNCTION grab(k int) RETURNS bool LANGUAGE plpgsql AS \
             $$ BEGIN PERFORM pg_advisory_lock(k); RETURN true; END $$;
             CREATE TYPE mood AS ENUM ('calm', 'busy');",
        )
        .await
        .expect("fixture");
    let target = PostgresTarget::connect(&database_config(&db), &options()).await.expect("connects");
    let backend = |rows: sentri::targets::Rows| match rows.get(0, "pid") {
        Some(Value::Int(pid)) => *pid,
        other => panic!("no pid: {other:?}"),
    };
    let before = backend(target.query("SELECT pg_backend_pid() AS pid", &Values::new()).await.expect("pid"));
    let grabbed = target.query("SELECT grab(4242) AS ok, pg_backend_pid() AS pid", &Values::new()).await.expect("runs");
    assert_eq!(grabbed.get(0, "ok"), Some(&Value::Bool(true)));
    assert_eq!(backend(grabbed), before, "the pool has one connection");

    // Between calls the pooled connection holds nothing: another session gets the lock.
    let other = admin(&db).await;
    let held: i64 = other
        .query_one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242", &[])
        .await
        .expect("locks")
        .get(0);
    assert_eq!(held, 0, "the reset released the session's advisory lock");
    let free: bool = other.query_one("SELECT pg_try_advisory_lock(4242)", &[]).await.expect("try").get(0);
    assert!(free);
    other.batch_execute("SELECT pg_advisory_unlock_all()").await.expect("unlock");

    // The same connection (same backend, so it was reset, not replaced) still works, with a
    // custom type whose lookup the driver caches in prepared statements the reset deallocated.
    let again = target
        .query("SELECT 'busy'::mood AS mood, pg_backend_pid() AS pid", &Values::new())
        .await
        .expect("the reset connection is usable");
    assert_eq!(again.get(0, "mood"), Some(&Value::Text("busy".into())));
    let twice = target.query("SELECT 'calm'::mood AS mood, pg_backend_pid() AS pid", &Values::new()).await;
    assert_eq!(backend(twice.expect("and again")), before);
    target.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn db_test_says_a_superuser_could_write_and_a_pg_monitor_role_could_not() {
    let dbname = fresh_database().await;
    let role = format!("ro_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    pg::create_role(&role, "monitor-only").await;
    admin(&dbname)
        .await
        .batch_execute(&format!(
            "GRANT pg_monitor TO {role};
             REVOKE CREATE ON SCHEMA public FROM PUBLIC;
             CREATE TABLE orders (id int);"
        ))
        .await
        .expect("grants");
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = || {
        let mut command = Command::cargo_bin("sentri").expect("binary");
        command
            .env("SENTRI_HOME", home.path())
            .env("SENTRI_DB_SUPER_PASSWORD", pg::SUPERUSER_PASSWORD)
            .env("SENTRI_DB_MONITOR_PASSWORD", "monitor-only");
        command
    };
    sentri().arg("init").assert().success();
    let connection = pg::connection_string(&dbname);
    let config = format!(
        "databases:\n  - name: super\n    connection_string: \"{connection}\"\n    environment: DEV\n    username: postgres\n  \
         - name: monitor\n    connection_string: \"{connection}\"\n    environment: DEV\n    username: {role}\n"
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");

    let output = sentri().args(["db", "test", "--json"]).assert().success().get_output().stdout.clone();
    let results: serde_json::Value = serde_json::from_slice(&output).expect("json");
    let superuser = &results[0]["write_access"];
    assert_eq!(superuser["can_write"], true, "{results}");
    assert!(superuser["reasons"][0].as_str().is_some_and(|r| r.starts_with("superuser")), "{results}");
    let monitor = &results[1]["write_access"];
    assert_eq!(results[1]["connected_as"], role.as_str());
    assert_eq!(monitor["can_write"], false, "{results}");
    assert_eq!(monitor["reasons"], serde_json::json!([]));

    // A grant that lets it write is reported, naming the table.
    admin(&dbname).await.batch_execute(&format!("GRANT DELETE ON orders TO {role}")).await.expect("grant");
    let text = sentri().args(["db", "test", "monitor"]).assert().success().get_output().stdout.clone();
    let text = String::from_utf8_lossy(&text);
    assert!(text.contains("can write:    YES"), "{text}");
    assert!(text.contains("public.orders"), "{text}");
}

#[tokio::test]
async fn the_reset_refuses_a_connection_left_inside_a_transaction() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    // Fresh: the reset runs and releases what it should.
    client.batch_execute("SELECT pg_advisory_lock(7)").await.expect("lock");
    client.batch_execute(sentri::targets::postgres::SESSION_RESET).await.expect("the reset runs");
    let held: i64 = client
        .query_one("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7", &[])
        .await
        .expect("locks")
        .get(0);
    assert_eq!(held, 0);
    // Left inside a transaction: the reset fails (so the pool closes the connection).
    client.batch_execute("BEGIN; SET LOCAL work_mem = '1MB'").await.expect("begin");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let error = client.batch_execute(sentri::targets::postgres::SESSION_RESET).await.expect_err("refused");
    assert!(error.to_string().contains("still open") || format!("{error:?}").contains("still open"), "{error:?}");
}
