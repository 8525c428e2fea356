//! One scenario suite for every engine: each scenario takes a connected [`Target`] and the
//! engine's [`Fixture`] (the SQL that differs between engines), so PostgreSQL and Oracle are
//! held to the same behaviour. The PostgreSQL runs use the local harness; the Oracle runs need
//! `SENTRI_TEST_ORACLE_DSN`, `SENTRI_TEST_ORACLE_USER` and `SENTRI_TEST_ORACLE_PASSWORD`, and
//! without them report themselves as skipped, by name.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use sentri::config::Config;
use sentri::targets::sql::IdentifierKind;
use sentri::targets::{ConnectOptions, DbKind, ErrorKind, Target, Value, Values};

/// What a scenario needs to know about the engine it runs on.
struct Fixture {
    engine: DbKind,
    /// A table name unique to this run.
    table: String,
    /// `CREATE TABLE <table> (id <int> PRIMARY KEY, name <text>)`.
    create_table: String,
    /// `DROP TABLE <table>`, run at the end.
    drop_table: String,
    /// `""` on PostgreSQL, `" FROM dual"` on Oracle.
    from_dual: &'static str,
}

fn options() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(10), call_timeout: Duration::from_secs(20), pool_size: 2 }
}

fn values(pairs: &[(&str, Option<&str>)]) -> Values {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned))).collect()
}

/// Resolves the statement's declared identifiers once, as a plan does, then runs it.
async fn resolve_and_execute(
    target: &Target,
    sql: &str,
    values: &Values,
    declared: &BTreeMap<String, IdentifierKind>,
) -> Result<sentri::targets::ExecOutcome, sentri::targets::TargetError> {
    let resolved = target.resolve_identifiers(&[sql], declared, values, &Default::default()).await?;
    target.execute(sql, values, declared, &resolved).await
}

fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_text)
}

fn unique_table() -> String {
    format!("sentri_t_{}", &uuid::Uuid::new_v4().simple().to_string()[..10])
}

async fn postgres_fixture() -> (Target, Fixture) {
    let db = common::postgres::fresh_database().await;
    let target = Target::connect(&common::postgres::database_config(&db), &options()).await.expect("connects");
    let table = unique_table();
    let fixture = Fixture {
        engine: DbKind::Postgres,
        create_table: format!("CREATE TABLE {table} (id int8 PRIMARY KEY, name text)"),
        drop_table: format!("DROP TABLE {table}"),
        table,
        from_dual: "",
    };
    (target, fixture)
}

/// The Oracle target from the environment, or `None` after printing why the test is skipped.
async fn oracle_fixture(test: &str) -> Option<(Target, Fixture)> {
    let dsn = std::env::var("SENTRI_TEST_ORACLE_DSN").ok().filter(|v| !v.is_empty());
    let Some(dsn) = dsn else {
        // Straight to stderr, past the test harness's capture, so the skip shows in CI logs.
        let _ = writeln!(std::io::stderr(), "skipped: {test} (set SENTRI_TEST_ORACLE_DSN)");
        return None;
    };
    let user = std::env::var("SENTRI_TEST_ORACLE_USER").unwrap_or_else(|_| "sentri_agent".to_owned());
    let password = std::env::var("SENTRI_TEST_ORACLE_PASSWORD").ok();
    let yaml = format!(
        "databases:\n  - name: oratest\n    engine: oracle\n    environment: DEV\n    \
         connection_string: \"{dsn}\"\n    username: {user}\n"
    );
    let env = move |var: &str| if var == "SENTRI_DB_ORATEST_PASSWORD" { password.clone() } else { None };
    let loaded = Config::from_yaml(&yaml, Path::new("oracle-test.yaml"), &env).expect("Oracle test configuration");
    let db = loaded.config.databases.into_iter().next().expect("one database");
    let target = Target::connect(&db, &options()).await.expect("connects to the Oracle test database");
    let table = unique_table().to_uppercase();
    let fixture = Fixture {
        engine: DbKind::Oracle,
        create_table: format!("CREATE TABLE {table} (id NUMBER(18) PRIMARY KEY, name VARCHAR2(4000))"),
        drop_table: format!("DROP TABLE {table} PURGE"),
        table,
        from_dual: " FROM dual",
    };
    Some((target, fixture))
}

async fn create_table(target: &Target, fixture: &Fixture) {
    target
        .execute(&fixture.create_table, &Values::new(), &BTreeMap::new(), &Default::default())
        .await
        .expect("create the test table");
}

async fn count_rows(target: &Target, fixture: &Fixture) -> String {
    let rows = target.query(&format!("SELECT COUNT(*) AS n FROM {}", fixture.table), &Values::new()).await;
    text(rows.expect("count").get(0, "n")).unwrap_or_default()
}

// --- the scenarios -------------------------------------------------------------------------

async fn ping_and_profile(target: &Target, fixture: &Fixture) {
    let latency = target.ping().await.expect("ping");
    assert!(latency < Duration::from_secs(5));
    let profile = target.profile().await.expect("profile");
    assert_eq!(profile.engine, fixture.engine);
    assert_eq!(target.engine(), fixture.engine);
    assert!(!profile.version.is_empty() && profile.version_major > 0, "{profile:?}");
    assert!(!profile.connected_as.is_empty());
}

async fn binds_round_trip_values_and_null(target: &Target, fixture: &Fixture) {
    let sql = format!("SELECT :a AS a, :b AS b{}", fixture.from_dual);
    let rows = target.query(&sql, &values(&[("a", Some("USERS")), ("b", None)])).await.expect("query");
    assert_eq!(rows.columns, ["a", "b"]);
    assert_eq!(text(rows.get(0, "a")).as_deref(), Some("USERS"));
    assert_eq!(rows.get(0, "b"), Some(&Value::Null));
}

async fn writes_commit_and_read_back(target: &Target, fixture: &Fixture) {
    create_table(target, fixture).await;
    let insert = format!("INSERT INTO {} (id, name) VALUES (:id, :name)", fixture.table);
    for (id, name) in [("1", "one"), ("2", "two")] {
        let outcome = target
            .execute(&insert, &values(&[("id", Some(id)), ("name", Some(name))]), &BTreeMap::new(), &Default::default())
            .await
            .expect("insert");
        assert_eq!(outcome.rows_affected, 1);
    }
    let rows = target
        .query(&format!("SELECT name FROM {} WHERE id = :id", fixture.table), &values(&[("id", Some("2"))]))
        .await
        .expect("read back");
    assert_eq!(text(rows.get(0, "name")).as_deref(), Some("two"));
    assert_eq!(count_rows(target, fixture).await, "2");
}

async fn a_failing_transaction_changes_nothing(target: &Target, fixture: &Fixture) {
    create_table(target, fixture).await;
    let insert = format!("INSERT INTO {} (id, name) VALUES (:id, :name)", fixture.table);
    let first = values(&[("id", Some("1")), ("name", Some("first"))]);
    let again = values(&[("id", Some("1")), ("name", Some("duplicate"))]);
    let error = target.execute_in_transaction(&[(&insert, &first), (&insert, &again)]).await.expect_err("duplicate");
    assert_eq!(error.kind, ErrorKind::Statement, "{error}");
    assert_eq!(count_rows(target, fixture).await, "0");
    let ddl = target.execute_in_transaction(&[(fixture.drop_table.as_str(), &Values::new())]).await;
    assert_eq!(ddl.expect_err("DDL refused in a transaction").kind, ErrorKind::Refused);
}

async fn the_read_only_path_refuses_writes(target: &Target, fixture: &Fixture) {
    create_table(target, fixture).await;
    let insert = format!("INSERT INTO {} (id, name) VALUES (1, 'x')", fixture.table);
    assert_eq!(target.query(&insert, &Values::new()).await.expect_err("refused").kind, ErrorKind::Refused);
    assert_eq!(count_rows(target, fixture).await, "0");
}

async fn hostile_values_stay_data(target: &Target, fixture: &Fixture) {
    create_table(target, fixture).await;
    let sql = format!("SELECT :v AS v{}", fixture.from_dual);
    let declared = BTreeMap::from([("t".to_owned(), IdentifierKind::Table)]);
    for hostile in ["USERS;DROP TABLE t", "USERS\"--", "x'/**/OR/**/'1"] {
        let rows = target.query(&sql, &values(&[("v", Some(hostile))])).await.expect("query");
        assert_eq!(text(rows.get(0, "v")).as_deref(), Some(hostile));
        let error = resolve_and_execute(target, "DROP TABLE :t", &values(&[("t", Some(hostile))]), &declared)
            .await
            .expect_err("refused");
        assert_eq!(error.kind, ErrorKind::Fill, "{error}");
    }
    assert_eq!(count_rows(target, fixture).await, "0", "the table is still there");
}

async fn a_missing_identifier_stops_the_step(target: &Target, fixture: &Fixture) {
    let declared = BTreeMap::from([("t".to_owned(), IdentifierKind::Table)]);
    let absent = unique_table();
    let error = resolve_and_execute(target, "DROP TABLE :t", &values(&[("t", Some(&absent))]), &declared)
        .await
        .expect_err("not found");
    assert_eq!(error.kind, ErrorKind::Statement, "{error}");
    assert!(error.message.contains(":t"), "{error}");
    let _ = fixture;
}

/// Runs each scenario against PostgreSQL (always) and Oracle (when configured), cleaning up
/// the scenario's table afterwards.
macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        mod postgres_runs {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let (target, fixture) = super::postgres_fixture().await;
                    super::$scenario(&target, &fixture).await;
                    target.close().await;
                }
            )*
        }

        mod oracle_runs {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let name = concat!("oracle_runs::", stringify!($scenario));
                    let Some((target, fixture)) = super::oracle_fixture(name).await else { return };
                    super::$scenario(&target, &fixture).await;
                    let _ = target.execute(&fixture.drop_table, &sentri::targets::Values::new(), &Default::default(), &Default::default()).await;
                    target.close().await;
                }
            )*
        }
    };
}

scenarios!(
    ping_and_profile,
    binds_round_trip_values_and_null,
    writes_commit_and_read_back,
    a_failing_transaction_changes_nothing,
    the_read_only_path_refuses_writes,
    hostile_values_stay_data,
    a_missing_identifier_stops_the_step,
);
