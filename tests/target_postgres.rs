//! The PostgreSQL target against a real server (tests/common/postgres.rs), each test on its own
//! database: every operation, the read-only path refused by the server, statement timeouts,
//! authentication and connection errors a DBA can act on, and hostile values from an email
//! that never become SQL.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::postgres::{self as pg, admin, database_config, database_config_for, fresh_database};
use sentri::targets::postgres::PostgresTarget;
use sentri::targets::sql::IdentifierKind;
use sentri::targets::{ConnectOptions, DbKind, ErrorKind, ExecOutcome, Resolved, Target, TargetError, Value, Values};

const SECRET: &str = "S3cr3t-pw!";

fn options() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(5), call_timeout: Duration::from_secs(10), pool_size: 2 }
}

fn values(pairs: &[(&str, Option<&str>)]) -> Values {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned))).collect()
}

fn kinds(pairs: &[(&str, IdentifierKind)]) -> BTreeMap<String, IdentifierKind> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

/// A fresh database with an `items` table and a `t` canary table, and a target on it.
async fn setup() -> (String, PostgresTarget) {
    let db = fresh_database().await;
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE items (id int8 PRIMARY KEY, name text, qty int4 CHECK (qty >= 0), price numeric(10,2), \
               active bool, seen timestamptz, ratio float8, small int2);
             INSERT INTO items VALUES
               (1, 'USERS', 10, 12.50, true, '2024-03-01 10:00:00+00', 0.5, 1),
               (2, 'TEMP', 0, 0.99, false, '2024-03-02 10:00:00+00', 1.25, 2),
               (3, NULL, 5, NULL, true, NULL, NULL, NULL);
             CREATE TABLE t (canary text);
             INSERT INTO t VALUES ('alive');
             CREATE SEQUENCE s;",
        )
        .await
        .expect("fixture");
    let target = PostgresTarget::connect(&database_config(&db), &options()).await.expect("connects");
    (db, target)
}

/// The same database through the [`Target`] enum, which resolves identifiers as a plan does.
async fn setup_target() -> (String, Target) {
    let (db, target) = setup().await;
    target.close().await;
    let target = Target::connect(&database_config(&db), &options()).await.expect("connects");
    (db, target)
}

/// Resolves the statement's declared identifiers once, as a plan does, then runs it with
/// that resolution.
async fn resolve_and_execute(
    target: &Target,
    sql: &str,
    values: &Values,
    declared: &BTreeMap<String, IdentifierKind>,
) -> Result<ExecOutcome, TargetError> {
    let resolved = target.resolve_identifiers(&[sql], declared, values, &Default::default()).await?;
    target.execute(sql, values, declared, &resolved).await
}

async fn count(db: &str, sql: &str) -> i64 {
    admin(db).await.query_one(sql, &[]).await.expect("count").get::<_, i64>(0)
}

async fn canary_intact(db: &str) {
    let row = admin(db).await.query_one("SELECT count(*), min(canary) FROM t", &[]).await.expect("canary table exists");
    assert_eq!(row.get::<_, i64>(0), 1);
    assert_eq!(row.get::<_, Option<String>>(1).as_deref(), Some("alive"));
    assert_eq!(count(db, "SELECT count(*) FROM items").await, 3);
}

#[tokio::test]
async fn query_binds_several_types_and_null_and_decodes_typed_values() {
    let (_db, target) = setup().await;
    let rows = target
        .query(
            "SELECT id AS \"ID\", name, qty, price, active, seen, ratio, small FROM items \
             WHERE qty >= :min_qty AND active = :active AND price > :price AND seen > :since \
             AND (name = :name OR :name IS NULL) ORDER BY id",
            &values(&[
                ("min_qty", Some("1")),
                ("active", Some("true")),
                ("price", Some("1.5")),
                ("since", Some("2024-01-01T00:00:00Z")),
                ("name", None),
            ]),
        )
        .await
        .expect("query runs");
    assert_eq!(rows.columns, ["id", "name", "qty", "price", "active", "seen", "ratio", "small"]);
    assert_eq!(rows.rows.len(), 1);
    assert_eq!(
        rows.rows[0],
        vec![
            Value::Int(1),
            Value::Text("USERS".into()),
            Value::Int(10),
            Value::Decimal("12.50".into()),
            Value::Bool(true),
            Value::Timestamp("2024-03-01T10:00:00Z".into()),
            Value::Float(0.5),
            Value::Int(1),
        ]
    );

    let nulls = target.query("SELECT name, price, seen FROM items WHERE id = :id", &values(&[("id", Some("3"))])).await;
    assert_eq!(nulls.expect("runs").rows[0], vec![Value::Null, Value::Null, Value::Null]);

    let bad_int = target.query("SELECT 1 FROM items WHERE qty > :min_qty", &values(&[("min_qty", Some("lots"))])).await;
    let error = bad_int.expect_err("a word is not an integer");
    assert_eq!(error.kind, ErrorKind::Fill);
    assert!(error.message.contains("`:min_qty`"), "{error}");

    let bad_time =
        target.query("SELECT 1 FROM items WHERE seen > :since", &values(&[("since", Some("yesterday-ish"))])).await;
    let error = bad_time.expect_err("not a timestamp");
    assert_eq!(error.kind, ErrorKind::Fill, "{error}");
    assert!(error.message.contains("`:since`"), "{error}");

    let missing = target.query("SELECT 1 FROM items WHERE qty > :absent", &Values::new()).await;
    assert_eq!(missing.expect_err("no value").kind, ErrorKind::Fill);

    let misc = target
        .query(
            "SELECT 'a'::bytea AS b, DATE '2024-02-29' AS d, '00000000-0000-0000-0000-00000000002a'::uuid AS u, \
             '{\"k\": 1}'::jsonb AS j, 'x'::name AS n, 42::oid AS o, (-1.5)::numeric(5,1) AS m",
            &Values::new(),
        )
        .await
        .expect("runs");
    assert_eq!(
        misc.rows[0],
        vec![
            Value::Bytes(b"a".to_vec()),
            Value::Text("2024-02-29".into()),
            Value::Text("00000000-0000-0000-0000-00000000002a".into()),
            Value::Text("{\"k\": 1}".into()),
            Value::Text("x".into()),
            Value::Int(42),
            Value::Decimal("-1.5".into()),
        ]
    );
    target.close().await;
}

#[tokio::test]
async fn execute_dml_commits_and_reports_rows() {
    let (db, target) = setup().await;
    let outcome = target
        .execute(
            "INSERT INTO items (id, name, qty, price, active) VALUES (:id, :name, :qty, :price, :active);",
            &values(&[
                ("id", Some("10")),
                ("name", Some("SYSAUX")),
                ("qty", Some("7")),
                ("price", Some("3.10")),
                ("active", Some("no")),
            ]),
            &BTreeMap::new(),
            &Resolved::new(),
        )
        .await
        .expect("insert runs");
    assert_eq!(outcome.rows_affected, 1);
    assert_eq!(outcome.sql, "INSERT INTO items (id, name, qty, price, active) VALUES ($1, $2, $3, $4, $5)");
    assert_eq!(count(&db, "SELECT count(*) FROM items WHERE id = 10 AND NOT active AND price = 3.10").await, 1);

    let updated = target
        .execute(
            "UPDATE items SET qty = qty + :n WHERE active",
            &values(&[("n", Some("1"))]),
            &BTreeMap::new(),
            &Resolved::new(),
        )
        .await
        .expect("update runs");
    assert_eq!(updated.rows_affected, 2);
    target.close().await;
}

#[tokio::test]
async fn failing_dml_is_rolled_back_and_the_connection_stays_usable() {
    let (db, target) = setup().await;
    // One row would go negative: the CHECK fails and nothing is changed.
    let error = target
        .execute("UPDATE items SET qty = qty - :n", &values(&[("n", Some("6"))]), &BTreeMap::new(), &Resolved::new())
        .await
        .expect_err("check constraint");
    assert_eq!(error.kind, ErrorKind::Statement);
    assert_eq!(error.code.as_deref(), Some("23514"));
    assert_eq!(count(&db, "SELECT sum(qty) FROM items").await, 15);
    // Every pooled connection still works: none was left inside an aborted transaction.
    for _ in 0..4 {
        target.query("SELECT 1 AS one", &Values::new()).await.expect("connection usable");
        target
            .execute("SELECT 1", &Values::new(), &BTreeMap::new(), &Resolved::new())
            .await
            .expect("connection usable");
    }
    target.close().await;
}

#[tokio::test]
async fn ddl_with_a_declared_identifier_is_resolved_and_written_as_the_catalog_spells_it() {
    let (db, target) = setup_target().await;
    let declared = kinds(&[("table", IdentifierKind::Table)]);
    let vacuum =
        resolve_and_execute(&target, "VACUUM (ANALYZE) :table", &values(&[("table", Some("ITEMS"))]), &declared)
            .await
            .expect("VACUUM runs outside a transaction");
    assert_eq!(vacuum.sql, "VACUUM (ANALYZE) \"public\".\"items\"", "unquoted ITEMS folds to items");

    let alter = resolve_and_execute(
        &target,
        "ALTER TABLE :table ADD COLUMN note text",
        &values(&[("table", Some("Items"))]),
        &declared,
    )
    .await
    .expect("ALTER runs");
    assert_eq!(alter.sql, "ALTER TABLE \"public\".\"items\" ADD COLUMN note text");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'"
        )
        .await,
        1
    );

    let quoted = resolve_and_execute(&target, "VACUUM :table", &values(&[("table", Some("\"ITEMS\""))]), &declared)
        .await
        .expect_err("a quoted name is exact: there is no table \"ITEMS\"");
    assert_eq!(quoted.kind, ErrorKind::Statement, "{quoted}");

    let undeclared = target
        .execute(
            "ALTER TABLE :table ADD COLUMN x int",
            &values(&[("table", Some("items"))]),
            &BTreeMap::new(),
            &Resolved::new(),
        )
        .await;
    assert_eq!(undeclared.expect_err("undeclared").kind, ErrorKind::Fill);
    let unresolved = target
        .execute(
            "ALTER TABLE :table ADD COLUMN x int",
            &values(&[("table", Some("items"))]),
            &declared,
            &Resolved::new(),
        )
        .await
        .expect_err("an object without a resolution is never looked up at execution");
    assert_eq!(unresolved.kind, ErrorKind::Fill, "{unresolved}");
    target.close().await;
}

#[tokio::test]
async fn a_missing_identifier_is_refused_before_any_write() {
    let (db, target) = setup_target().await;
    let name = format!("no_such_table_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let error = resolve_and_execute(
        &target,
        "DROP TABLE :table",
        &values(&[("table", Some(&name))]),
        &kinds(&[("table", IdentifierKind::Table)]),
    )
    .await
    .expect_err("not in the catalog");
    assert_eq!(error.kind, ErrorKind::Statement);
    assert!(error.message.contains("`:table`") && error.message.contains(&name), "{error}");
    let log = pg::server_log();
    assert!(!log.lines().any(|line| line.contains("DROP TABLE") && line.contains(&name)), "the DROP was sent");
    canary_intact(&db).await;
    target.close().await;
}

#[tokio::test]
async fn a_name_in_two_visible_schemas_is_an_error_naming_both() {
    let (db, target) = setup_target().await;
    admin(&db)
        .await
        .batch_execute(&format!(
            "CREATE SCHEMA app; CREATE SCHEMA audit; CREATE SEQUENCE app.\"DUP\"; CREATE SEQUENCE audit.\"DUP\";
             ALTER DATABASE {db} SET search_path = app, audit, public"
        ))
        .await
        .expect("two schemas");
    // A new connection, which sees the database's new search_path.
    target.close().await;
    let target = Target::connect(&database_config(&db), &options()).await.expect("connects");
    let declared = kinds(&[("seq", IdentifierKind::Sequence)]);
    let statement = "ALTER SEQUENCE :seq RESTART";
    let error = resolve_and_execute(&target, statement, &values(&[("seq", Some("\"DUP\""))]), &declared)
        .await
        .expect_err("ambiguous");
    assert_eq!(error.kind, ErrorKind::Statement);
    assert!(error.message.contains("sequence DUP matches app.DUP and audit.DUP"), "{error}");
    let qualified = resolve_and_execute(&target, statement, &values(&[("seq", Some("audit.\"DUP\""))]), &declared)
        .await
        .expect("the schema decides");
    assert_eq!(qualified.sql, "ALTER SEQUENCE \"audit\".\"DUP\" RESTART");
    let absent = resolve_and_execute(&target, statement, &values(&[("seq", Some("DUP"))]), &declared)
        .await
        .expect_err("unquoted DUP is dup, which does not exist");
    assert_eq!(absent.kind, ErrorKind::Statement, "{absent}");
    target.close().await;
}

#[tokio::test]
async fn alerts_naming_one_object_however_spelled_contend_for_one_lock() {
    let (db, target) = setup_target().await;
    admin(&db).await.batch_execute("CREATE SEQUENCE dup; CREATE SEQUENCE \"DUP\"").await.expect("sequences");
    let declared = kinds(&[("seq", IdentifierKind::Sequence)]);
    let key_for = |written: &'static str| {
        let (target, declared) = (&target, &declared);
        async move {
            let values = values(&[("seq", Some(written))]);
            let resolved = target
                .resolve_identifiers(&["ALTER SEQUENCE :seq RESTART"], declared, &values, &Default::default())
                .await
                .expect("resolves");
            let plan = sentri::pipeline::plan::Plan {
                workflow_id: "w".into(),
                alert_type: "seq".into(),
                database: "app".into(),
                environment: "DEV".into(),
                engine: DbKind::Postgres,
                action_type: "RESTART_SEQUENCE".into(),
                risk: sentri::policy::alert::Risk::Low,
                confidence: 1.0,
                steps: vec![sentri::pipeline::plan::PlanStep { sql: "ALTER SEQUENCE :seq RESTART".into() }],
                rollback: Vec::new(),
                capture: None,
                validation: None,
                irreversible: None,
                identifiers: declared.clone(),
                values,
                source: sentri::pipeline::plan::PlanSource::Template,
                rationale: String::new(),
                proof: Default::default(),
                resolved,
            };
            sentri::safety::conflict_lock::lock_key(&plan)
        }
    };
    assert_eq!(key_for("DUP").await, "APP:sequence:public.dup");
    assert_eq!(key_for("dup").await, key_for("DUP").await, "unquoted DUP and dup are one object on PostgreSQL");
    assert_eq!(key_for("\"DUP\"").await, "APP:sequence:public.DUP", "the quoted name is the other object");
    target.close().await;
}

#[tokio::test]
async fn execute_in_transaction_is_all_or_nothing() {
    let (db, target) = setup().await;
    let a = values(&[("id", Some("20")), ("name", Some("A"))]);
    let duplicate = values(&[("id", Some("1")), ("name", Some("dup"))]);
    let insert = "INSERT INTO items (id, name) VALUES (:id, :name)";
    let error = target
        .execute_in_transaction(&[
            (insert, &a),
            ("UPDATE items SET qty = 0 WHERE id = 2", &Values::new()),
            (insert, &duplicate),
        ])
        .await
        .expect_err("duplicate key");
    assert_eq!(error.code.as_deref(), Some("23505"));
    assert_eq!(count(&db, "SELECT count(*) FROM items WHERE id = 20").await, 0, "the first step was rolled back");

    let b = values(&[("id", Some("21")), ("name", Some("B"))]);
    let outcomes = target
        .execute_in_transaction(&[
            (insert, &a),
            (insert, &b),
            ("DELETE FROM items WHERE id = :id", &values(&[("id", Some("3"))])),
        ])
        .await
        .expect("all steps run");
    assert_eq!(outcomes.iter().map(|o| o.rows_affected).collect::<Vec<_>>(), [1, 1, 1]);
    assert_eq!(count(&db, "SELECT count(*) FROM items WHERE id IN (20, 21)").await, 2);

    let c = values(&[("id", Some("22")), ("name", None)]);
    let none = Values::new();
    let ddl = target.execute_in_transaction(&[(insert, &c), ("CREATE TABLE z (i int)", &none)]).await;
    assert_eq!(ddl.expect_err("DDL refused").kind, ErrorKind::Refused);
    assert_eq!(count(&db, "SELECT count(*) FROM items WHERE id = 22").await, 0, "nothing was sent");
    target.close().await;
}

#[tokio::test]
async fn profile_and_ping() {
    let (db, target) = setup().await;
    let profile = target.profile().await.expect("profile");
    assert_eq!(profile.engine, DbKind::Postgres);
    assert!(profile.version_major >= 10, "{profile:?}");
    assert!(profile.version.starts_with(&profile.version_major.to_string()), "{profile:?}");
    assert_eq!(profile.connected_as, "postgres");
    assert_eq!(profile.database_name, db);
    let postgres = profile.postgres.expect("postgres facts");
    assert!(!postgres.in_recovery);
    assert_eq!(postgres.max_connections, 200);
    assert!(postgres.is_superuser);
    assert!(postgres.extensions.iter().any(|e| e == "plpgsql"), "{:?}", postgres.extensions);
    assert_eq!(postgres.server_version_num / 10_000, profile.version_major);

    let latency = target.ping().await.expect("ping");
    assert!(latency > Duration::ZERO && latency < Duration::from_secs(1), "{latency:?}");
    target.close().await;
}

#[tokio::test]
async fn the_pool_never_holds_more_than_pool_size_connections() {
    let (db, target) = setup().await;
    let started = Instant::now();
    let none = Values::new();
    let calls = (0..6).map(|_| target.query("SELECT pg_sleep(0.2) AS slept", &none));
    let results = futures_join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let sessions = count(
        &db,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sentri' AND datname = '{db}'"),
    )
    .await;
    assert!(sessions <= 2, "{sessions} sessions");
    assert!(started.elapsed() >= Duration::from_millis(550), "six 0.2 s queries on two connections take three rounds");
    target.close().await;
}

/// Runs futures concurrently on the current task (no `futures` dependency).
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in set.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    std::task::Poll::Ready(value) => *output = Some(value),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending { std::task::Poll::Pending } else { std::task::Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

#[tokio::test]
async fn writes_on_the_read_only_path_are_refused_by_the_server() {
    let (db, target) = setup().await;
    // Not a query: refused before it is sent.
    let insert = target.query("INSERT INTO items (id) VALUES (99)", &Values::new()).await;
    assert_eq!(insert.expect_err("refused").kind, ErrorKind::Refused);
    let create = target.query("CREATE TABLE made_here (i int)", &Values::new()).await;
    assert_eq!(create.expect_err("refused").kind, ErrorKind::Refused);

    // Queries that hold a write (a data-modifying CTE, nextval) are refused by the gate too,
    // before anything is sent.
    for sql in [
        "WITH x AS (INSERT INTO items (id) VALUES (99) RETURNING 1) SELECT * FROM x",
        "SELECT nextval('s')",
        "WITH gone AS (DELETE FROM t RETURNING 1) SELECT count(*) FROM gone",
    ] {
        let error = target.query(sql, &Values::new()).await.expect_err(sql);
        assert_eq!(error.kind, ErrorKind::Refused, "{sql}: {error}");
    }

    // Writes hidden in a function pass the client's check; the server refuses them.
    admin(&db)
        .await
        .batch_execute(
            "CREATE FUNCTION make_table() RETURNS int LANGUAGE plpgsql AS \
             $$ BEGIN CREATE TABLE made_here (i int); RETURN 1; END $$;
             CREATE FUNCTION add_row() RETURNS int LANGUAGE plpgsql AS \
             $$ BEGIN INSERT INTO items (id) VALUES (99); RETURN 1; END $$;
             CREATE FUNCTION bump() RETURNS int8 LANGUAGE sql AS 'SELECT nextval(''s'')';",
        )
        .await
        .expect("function");
    for sql in ["SELECT make_table()", "SELECT add_row()", "SELECT bump()"] {
        let error = target.query(sql, &Values::new()).await.expect_err(sql);
        assert_eq!(error.kind, ErrorKind::ReadOnlyViolation, "{sql}: {error}");
        assert_eq!(error.code.as_deref(), Some("25006"));
    }
    canary_intact(&db).await;
    assert_eq!(count(&db, "SELECT count(*) FROM pg_class WHERE relname = 'made_here'").await, 0);
    assert_eq!(count(&db, "SELECT last_value FROM s").await, 1);
    assert!(!admin(&db).await.query_one("SELECT is_called FROM s", &[]).await.expect("seq").get::<_, bool>(0));
    target.close().await;
}

#[tokio::test]
async fn a_statement_past_its_timeout_is_cancelled_and_reported() {
    let db = fresh_database().await;
    let options = ConnectOptions { call_timeout: Duration::from_millis(300), ..options() };
    let target = PostgresTarget::connect(&database_config(&db), &options).await.expect("connects");
    let started = Instant::now();
    let error = target.query("SELECT pg_sleep(5)", &Values::new()).await.expect_err("times out");
    assert_eq!(error.kind, ErrorKind::CallTimeout, "{error}");
    assert_eq!(error.code.as_deref(), Some("57014"));
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    let write = target.execute("SELECT pg_sleep(5)", &Values::new(), &BTreeMap::new(), &Resolved::new()).await;
    assert_eq!(write.expect_err("times out").kind, ErrorKind::CallTimeout);
    let ddl = target.execute("VACUUM", &Values::new(), &BTreeMap::new(), &Resolved::new()).await;
    assert!(ddl.is_ok() || ddl.as_ref().is_err_and(|e| e.kind == ErrorKind::CallTimeout), "{ddl:?}");
    target.ping().await.expect("still usable after a cancelled statement");
    target.close().await;
}

#[tokio::test]
async fn a_wrong_password_is_reported_without_the_password() {
    let db = fresh_database().await;
    let role = format!("auth_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    pg::create_role(&role, "the-right-one").await;
    let wrong = database_config_for(&pg::connection_string(&db), &role, Some(SECRET));
    let error = PostgresTarget::connect(&wrong, &options()).await.expect_err("wrong password");
    assert_eq!(error.kind, ErrorKind::AuthenticationFailed, "{error}");
    assert_eq!(error.code.as_deref(), Some("28P01"));
    assert!(error.hint.as_deref().unwrap_or_default().contains("SENTRI_DB_PGTEST_PASSWORD"), "{error}");
    assert!(!error.to_string().contains(SECRET) && !format!("{error:?}").contains(SECRET));

    let none = database_config_for(&pg::connection_string(&db), &role, None);
    let error = PostgresTarget::connect(&none, &options()).await.expect_err("no password");
    assert_eq!(error.kind, ErrorKind::NoPassword, "{error}");
    assert!(error.hint.as_deref().unwrap_or_default().contains("SENTRI_DB_PGTEST_PASSWORD"), "{error}");

    admin("postgres").await.batch_execute(&format!("ALTER ROLE {role} PASSWORD '{SECRET}'")).await.expect("alter");
    let right = database_config_for(&pg::connection_string(&db), &role, Some(SECRET));
    let target = PostgresTarget::connect(&right, &options()).await.expect("right password");
    assert!(!format!("{target:?}").contains(SECRET));
    let denied =
        target.execute("CREATE TABLE private.x (i int)", &Values::new(), &BTreeMap::new(), &Resolved::new()).await;
    let denied = denied.expect_err("no such schema or privilege");
    assert!(!format!("{denied:?}").contains(SECRET));
    admin(&db)
        .await
        .batch_execute("CREATE TABLE secret_stuff (i int); REVOKE ALL ON secret_stuff FROM PUBLIC")
        .await
        .expect("t");
    let error = target.query("SELECT * FROM secret_stuff", &Values::new()).await.expect_err("no privilege");
    assert_eq!(error.kind, ErrorKind::InsufficientPrivilege, "{error}");
    assert_eq!(error.code.as_deref(), Some("42501"));
    target.close().await;
}

#[tokio::test]
async fn connection_failures_are_named() {
    let unknown = database_config(&format!("no_such_db_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
    let error = PostgresTarget::connect(&unknown, &options()).await.expect_err("unknown database");
    assert_eq!(error.kind, ErrorKind::UnknownDatabase, "{error}");
    assert_eq!(error.code.as_deref(), Some("3D000"));

    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let refused =
        database_config_for(&format!("postgres://127.0.0.1:{closed_port}/x?sslmode=disable"), "postgres", None);
    let error = PostgresTarget::connect(&refused, &options()).await.expect_err("nothing listens");
    assert_eq!(error.kind, ErrorKind::Unreachable, "{error}");

    // A listener that accepts and never answers must not hang the connect.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = silent.local_addr().expect("addr").port();
    let held = tokio::spawn(async move {
        let mut sockets = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            sockets.push(socket);
        }
    });
    let quiet = database_config_for(&format!("postgres://127.0.0.1:{port}/x?sslmode=disable"), "postgres", None);
    let started = Instant::now();
    let options = ConnectOptions { connect_timeout: Duration::from_millis(400), ..options() };
    let error = PostgresTarget::connect(&quiet, &options).await.expect_err("silent listener");
    assert_eq!(error.kind, ErrorKind::ConnectTimeout, "{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    held.abort();

    let unknown_mode = database_config_for(&format!("{}&sslmode=always", pg::connection_string("x")), "postgres", None);
    let error = PostgresTarget::connect(&unknown_mode, &options).await.expect_err("unknown sslmode");
    assert_eq!(error.kind, ErrorKind::BadConnectString, "{error}");
}

/// Whether the target's own session is encrypted, as the server sees it.
async fn session_is_encrypted(target: &PostgresTarget) -> bool {
    let rows = target
        .query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &Values::new())
        .await
        .expect("pg_stat_ssl");
    matches!(rows.rows.first().and_then(|row| row.first()), Some(Value::Bool(true)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_follows_sslmode_and_sslrootcert() {
    let dbname = pg::fresh_database().await;
    let base = format!("postgres://127.0.0.1:{}/{dbname}", pg::server().port);
    let ca = pg::ca_file();
    let connect = |query: String| {
        let config = database_config_for(&format!("{base}?{query}"), "postgres", Some(pg::SUPERUSER_PASSWORD));
        async move { PostgresTarget::connect(&config, &options()).await }
    };

    // Loopback without sslmode: plain, as before. sslmode=require: encrypted, unverified.
    let plain = connect("application_name=x".into()).await.expect("plain on loopback");
    assert!(!session_is_encrypted(&plain).await);
    let required = connect("sslmode=require".into()).await.expect("require");
    assert!(session_is_encrypted(&required).await);

    // verify-full with the CA that signed the server, by the name in its certificate:
    // encrypted and authenticated.
    let by_name = format!("postgres://localhost:{}/{dbname}", pg::server().port);
    let named = database_config_for(
        &format!("{by_name}?sslmode=verify-full&sslrootcert={}", ca.display()),
        "postgres",
        Some(pg::SUPERUSER_PASSWORD),
    );
    let verified = PostgresTarget::connect(&named, &options()).await.expect("verify-full by name");
    assert!(session_is_encrypted(&verified).await);
    // The certificate names localhost, not 127.0.0.1: verify-ca accepts it, verify-full does not.
    let ca_only = connect(format!("sslmode=verify-ca&sslrootcert={}", ca.display())).await.expect("verify-ca");
    assert!(session_is_encrypted(&ca_only).await);
    let error = connect(format!("sslmode=verify-full&sslrootcert={}", ca.display())).await.expect_err("wrong name");
    assert_eq!(error.kind, ErrorKind::Tls, "{error}");

    // verify-full against the public roots: the private CA is not trusted.
    let error = connect("sslmode=verify-full".into()).await.expect_err("an unknown CA");
    assert_eq!(error.kind, ErrorKind::Tls, "{error}");
    // require with a root certificate verifies the chain (libpq); a wrong root fails.
    let other_ca = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(other_ca.path(), rcgen_ca()).expect("write");
    let error = connect(format!("sslmode=require&sslrootcert={}", other_ca.path().display()))
        .await
        .expect_err("a chain to another CA");
    assert_eq!(error.kind, ErrorKind::Tls, "{error}");
    // A missing root certificate file is named.
    let error = connect("sslmode=verify-ca&sslrootcert=/nonexistent/root.crt".into()).await.expect_err("missing");
    assert_eq!(error.kind, ErrorKind::Tls, "{error}");
    assert!(error.to_string().contains("/nonexistent/root.crt"), "{error}");

    for target in [plain, required, verified, ca_only] {
        target.close().await;
    }
}

/// A CA certificate that signed nothing the server holds.
fn rcgen_ca() -> String {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).expect("certificate").pem()
}

fn hostile_values(marker: &str) -> Vec<String> {
    let invalid_utf8 = String::from_utf8_lossy(&[b'U', 0xff, 0xfe, b'S', 0xc3, 0x28, b'\'', b';']).into_owned();
    let mut list: Vec<String> = vec![
        "USERS;DROP TABLE t".into(),
        "USERS\"--".into(),
        "x'/**/OR/**/'1".into(),
        "A".repeat(10_000),
        invalid_utf8,
    ];
    let marked: Vec<String> = list.iter().map(|v| format!("{marker}{v}")).collect();
    list.extend(marked);
    list
}

#[tokio::test]
async fn hostile_values_as_binds_stay_data() {
    let (db, target) = setup().await;
    let marker = format!("HOSTILE{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    for (index, hostile) in hostile_values(&marker).iter().enumerate() {
        let v = values(&[("v", Some(hostile))]);
        let rows = target
            .query("SELECT :v AS v, length(:v) AS n, (SELECT count(*) FROM items WHERE name = :v) AS matches", &v)
            .await
            .expect("runs");
        assert_eq!(rows.rows[0][0], Value::Text(hostile.clone()), "round trip of {index}");
        assert_eq!(rows.rows[0][1], Value::Int(i64::try_from(hostile.chars().count()).expect("fits")));
        assert_eq!(rows.rows[0][2], Value::Int(0));

        let id = (100 + index).to_string();
        let inserted = target
            .execute(
                "INSERT INTO items (id, name) VALUES (:id, :v)",
                &values(&[("id", Some(&id)), ("v", Some(hostile))]),
                &BTreeMap::new(),
                &Resolved::new(),
            )
            .await
            .expect("insert");
        assert_eq!(inserted.sql, "INSERT INTO items (id, name) VALUES ($1, $2)");
        let back = admin(&db).await.query_one("SELECT name FROM items WHERE id = $1", &[&(100 + index as i64)]).await;
        assert_eq!(back.expect("row").get::<_, String>(0), *hostile);
        admin(&db).await.execute("DELETE FROM items WHERE id >= 100", &[]).await.expect("cleanup");
    }
    canary_intact(&db).await;
    // The server saw the values only as parameters, never in a statement's text.
    let log = pg::server_log();
    let lines: Vec<&str> = log.lines().filter(|line| line.contains(&marker)).collect();
    assert!(!lines.is_empty(), "the marked values reached the server as parameters");
    assert!(lines.iter().all(|line| line.contains("parameters:")), "{lines:#?}");
    target.close().await;
}

#[tokio::test]
async fn hostile_values_as_identifiers_are_refused_before_anything_is_sent() {
    let (db, target) = setup_target().await;
    let marker = format!("HOSTILE{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let declared = kinds(&[("table", IdentifierKind::Table)]);
    for hostile in hostile_values(&marker) {
        for sql in ["ALTER TABLE :table ADD COLUMN x int", "VACUUM :table", "DELETE FROM items WHERE name = :table"] {
            let result = resolve_and_execute(&target, sql, &values(&[("table", Some(&hostile))]), &declared).await;
            let error = result.expect_err("refused");
            assert_eq!(
                error.kind,
                ErrorKind::Fill,
                "{sql} with {:?}: {error}",
                hostile.chars().take(40).collect::<String>()
            );
        }
    }
    canary_intact(&db).await;
    assert!(!pg::server_log().contains(&marker), "a hostile identifier reached the server");
    target.close().await;
}
