//! The PostgreSQL investigation tools of the default pack (`policies/tools/postgres/`) on a real
//! server (tests/common/postgres.rs), each test on its own database: every tool loads and runs,
//! the rows of the ones a rule reads are right on a fixture built to show them (a blocking
//! queue, duplicate indexes, a nearly full sequence), object arguments resolve and bind,
//! pg_stat_statements is needed only where it is used, EXPLAIN never runs a write, and the row
//! cap and time limit hold. The last test drives `sentri investigate` itself.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use common::postgres::{self as pg, admin, database_config, fresh_database};
use sentri::diagnose::tools::{self, QueryResult, ToolContext, ToolError, ToolResult};
use sentri::domain::{DbKind, Environment, IdentifierKind};
use sentri::policy::tool::ArgumentKind;
use sentri::policy::{PolicySet, ToolPolicy};
use sentri::targets::{ConnectOptions, Target};

/// A table in `public` (found unqualified), its duplicate and prefix indexes, a schema with
/// another table, and a sequence at 90 of 100.
const FIXTURE: &str = "
    CREATE TABLE orders (id int8 PRIMARY KEY, customer_id int4 NOT NULL, status text, note text);
    INSERT INTO orders SELECT g, g % 50, CASE WHEN g % 3 = 0 THEN 'open' ELSE 'done' END, 'n'
      FROM generate_series(1, 2000) g;
    CREATE INDEX orders_customer ON orders (customer_id);
    CREATE INDEX orders_customer_status ON orders (customer_id, status);
    CREATE INDEX orders_customer_again ON orders (customer_id);
    CREATE SCHEMA shop;
    CREATE TABLE shop.items (id int4 PRIMARY KEY, name text);
    CREATE SEQUENCE shop.ticket_seq MAXVALUE 100;
    SELECT setval('shop.ticket_seq', 90);
    ANALYZE;";

fn pack_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The default pack's PostgreSQL tools; a file that does not load fails the test by name.
fn pack() -> PolicySet {
    let set = PolicySet::load(&pack_root());
    let tools_dir = pack_root().join("tools/postgres");
    let problems: Vec<String> =
        set.problems.iter().filter(|problem| problem.path.starts_with(&tools_dir)).map(ToString::to_string).collect();
    assert!(problems.is_empty(), "the PostgreSQL tools have problems:\n{}", problems.join("\n"));
    assert!(!set.skipped.iter().any(|path| path.starts_with(&tools_dir)), "skipped: {:?}", set.skipped);
    set
}

fn tool<'a>(set: &'a PolicySet, name: &str) -> &'a ToolPolicy {
    set.tool(DbKind::Postgres, name).unwrap_or_else(|| panic!("the pack has no tool {name}"))
}

fn options() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(5), call_timeout: Duration::from_secs(10), pool_size: 2 }
}

fn dev() -> ToolContext {
    ToolContext { environment: Some(Environment::Dev), profile: None }
}

fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

async fn setup() -> (String, Target) {
    let db = fresh_database().await;
    admin(&db).await.batch_execute(FIXTURE).await.expect("fixture");
    let target = Target::connect(&database_config(&db), &options()).await.expect("connects");
    (db, target)
}

async fn run(target: &Target, tool: &ToolPolicy, given: &[(&str, &str)], context: &ToolContext) -> ToolResult {
    tools::run(target, tool, &args(given), context).await.unwrap_or_else(|error| panic!("{}: {error}", tool.name))
}

/// The query `name` of a run that must have worked.
fn query<'a>(result: &'a ToolResult, name: &str) -> &'a QueryResult {
    assert_eq!(result.skipped, None, "{} was skipped", result.tool);
    let query = result.query(Some(name)).unwrap_or_else(|| panic!("{} has no query {name}", result.tool));
    assert_eq!(query.error, None, "{}.{name} failed", result.tool);
    query
}

/// Every row of a query as `column → text`.
fn rows(query: &QueryResult) -> Vec<BTreeMap<String, String>> {
    (0..query.rows.len()).filter_map(|index| query.row_as_text(index)).collect()
}

fn column<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map_or("NULL", String::as_str)
}

async fn count_orders(db: &str) -> i64 {
    admin(db).await.query_one("SELECT count(*) FROM orders", &[]).await.expect("count").get(0)
}

/// Values for a tool's object and statement arguments, from the fixture.
fn fixture_value(argument: &ArgumentKind) -> Option<&'static str> {
    match argument {
        ArgumentKind::Object(IdentifierKind::Table) => Some("orders"),
        ArgumentKind::Object(IdentifierKind::Sequence) => Some("shop.ticket_seq"),
        ArgumentKind::Object(IdentifierKind::Schema) => Some("shop"),
        ArgumentKind::Object(IdentifierKind::Index) => Some("orders_customer"),
        ArgumentKind::Object(other) => panic!("no fixture object for a {} argument", other.name()),
        ArgumentKind::Statement => Some("SELECT count(*) FROM orders WHERE customer_id = 7"),
        _ => None,
    }
}

#[tokio::test]
async fn every_postgres_tool_loads_and_runs_with_and_without_its_object_arguments() {
    let set = pack();
    let pg_tools = set.tools_for(DbKind::Postgres);
    assert!(pg_tools.len() >= 15, "only {} PostgreSQL tools", pg_tools.len());
    let (_db, target) = setup().await;
    for tool in pg_tools {
        assert!(tool.name.starts_with("pg_"), "{} lacks the pg_ prefix", tool.name);
        // Defaults only (a required argument is given), then every object argument given too.
        let required: Vec<(&str, &str)> = tool
            .arguments
            .iter()
            .filter(|argument| argument.required && argument.default.is_none())
            .map(|argument| {
                let value = fixture_value(&argument.kind).unwrap_or_else(|| panic!("{}: no value", tool.name));
                (argument.name.as_str(), value)
            })
            .collect();
        let objects: Vec<(&str, &str)> = tool
            .arguments
            .iter()
            .filter_map(|argument| fixture_value(&argument.kind).map(|value| (argument.name.as_str(), value)))
            .collect();
        for given in [required, objects] {
            let result = run(&target, tool, &given, &dev()).await;
            if tool.requires.is_empty() {
                assert_eq!(result.skipped, None, "{} {given:?}", tool.name);
                assert_eq!(result.queries.len(), tool.queries.len(), "{}", tool.name);
                for query in &result.queries {
                    assert_eq!(query.error, None, "{}.{} {given:?}", tool.name, query.name);
                    assert!(!query.columns.is_empty(), "{}.{} has no columns", tool.name, query.name);
                }
            } else {
                let skipped = result.skipped.unwrap_or_default();
                assert!(skipped.contains("pg_stat_statements"), "{}: {skipped}", tool.name);
            }
        }
    }
    target.close().await;
}

#[tokio::test]
async fn the_fixture_shows_in_the_rows_a_rule_reads() {
    let set = pack();
    let (_db, target) = setup().await;

    let indexes = run(&target, tool(&set, "pg_index_usage"), &[("table", "orders")], &dev()).await;
    let redundant: Vec<(String, String, String)> = rows(query(&indexes, "redundant"))
        .iter()
        .map(|row| {
            (column(row, "redundant_index").into(), column(row, "covered_by").into(), column(row, "kind").into())
        })
        .collect();
    for expected in [
        ("orders_customer_again", "orders_customer", "duplicate"),
        ("orders_customer", "orders_customer_status", "prefix"),
        ("orders_customer_again", "orders_customer_status", "prefix"),
    ] {
        assert!(
            redundant.iter().any(|(r, k, kind)| (r.as_str(), k.as_str(), kind.as_str()) == expected),
            "{expected:?} not in {redundant:?}"
        );
    }
    assert_eq!(redundant.len(), 3, "the primary key and the two-column index are not redundant: {redundant:?}");
    assert_eq!(rows(query(&indexes, "usage")).len(), 4, "orders has four indexes");

    let sequences = run(&target, tool(&set, "pg_sequences"), &[("sequence", "shop.ticket_seq")], &dev()).await;
    let sequence = rows(query(&sequences, "sequences"));
    assert_eq!(sequence.len(), 1, "{sequence:?}");
    assert_eq!(column(&sequence[0], "sequence_name"), "ticket_seq");
    assert_eq!(column(&sequence[0], "pct_used"), "89.90");
    assert_eq!(column(&sequence[0], "calls_left"), "10");

    let stats = run(&target, tool(&set, "pg_table_stats"), &[("table", "shop.items")], &dev()).await;
    let items = rows(query(&stats, "tables"));
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!((column(&items[0], "schema_name"), column(&items[0], "table_name")), ("shop", "items"));
    let stats = run(&target, tool(&set, "pg_table_stats"), &[("table", "orders")], &dev()).await;
    let orders = rows(query(&stats, "tables"));
    assert_eq!((column(&orders[0], "schema_name"), column(&orders[0], "estimated_rows")), ("public", "2000"));

    let sizes = run(&target, tool(&set, "pg_sizes"), &[("schema", "shop")], &dev()).await;
    let relations = rows(query(&sizes, "relations"));
    assert!(relations.iter().all(|row| column(row, "schema_name") == "shop"), "{relations:?}");
    assert_eq!(relations.len(), 1, "{relations:?}");

    let connections = run(&target, tool(&set, "pg_connections"), &[], &dev()).await;
    let summary = &rows(query(&connections, "summary"))[0];
    assert_eq!(column(summary, "max_connections"), "200", "the harness runs max_connections=200");
    assert!(column(summary, "connections").parse::<i64>().is_ok_and(|n| n >= 1), "{summary:?}");
    target.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blocking_queue_shows_its_root_holder_waiters_and_locks() {
    let set = pack();
    let (db, target) = setup().await;
    // holder (idle in transaction) ← exclusive (wants ACCESS EXCLUSIVE) ← reader (queued behind it).
    let holder = admin(&db).await;
    let holder_pid = pg::backend_pid(&holder).await;
    holder.batch_execute("BEGIN; LOCK TABLE orders IN ROW EXCLUSIVE MODE").await.expect("holder locks");
    let exclusive = admin(&db).await;
    let exclusive_pid = pg::backend_pid(&exclusive).await;
    let exclusive_task = tokio::spawn(async move {
        exclusive.batch_execute("SET lock_timeout = '10s'; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE").await
    });
    pg::wait_until_waiting(&db, exclusive_pid).await;
    let reader = admin(&db).await;
    let reader_pid = pg::backend_pid(&reader).await;
    let reader_task =
        tokio::spawn(
            async move { reader.batch_execute("SET lock_timeout = '10s'; SELECT count(*) FROM orders").await },
        );
    pg::wait_until_waiting(&db, reader_pid).await;

    let blocking = run(&target, tool(&set, "pg_blocking"), &[], &dev()).await;
    let roots = rows(query(&blocking, "roots"));
    assert_eq!(roots.len(), 1, "{roots:?}");
    let root = &roots[0];
    assert_eq!(column(root, "holder_pid"), holder_pid.to_string());
    assert_eq!(column(root, "holder_state"), "idle in transaction");
    assert_eq!((column(root, "direct_waiters"), column(root, "waiters"), column(root, "depth")), ("1", "2", "2"));
    assert!(column(root, "holder_xact_seconds").parse::<i64>().is_ok(), "{root:?}");
    assert!(column(root, "holder_query").contains("LOCK TABLE orders"), "{root:?}");
    let waiters = rows(query(&blocking, "waiters"));
    let blocked_by: BTreeMap<&str, &str> =
        waiters.iter().map(|row| (column(row, "pid"), column(row, "blocked_by"))).collect();
    assert_eq!(blocked_by.get(exclusive_pid.to_string().as_str()), Some(&holder_pid.to_string().as_str()));
    assert_eq!(blocked_by.get(reader_pid.to_string().as_str()), Some(&exclusive_pid.to_string().as_str()));

    let locks = run(&target, tool(&set, "pg_locks"), &[("table", "orders"), ("waiting_only", "true")], &dev()).await;
    let waiting: Vec<String> = rows(query(&locks, "locks")).iter().map(|row| column(row, "mode").to_owned()).collect();
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    assert!(waiting.iter().any(|mode| mode == "AccessExclusiveLock"), "{waiting:?}");
    assert!(waiting.iter().any(|mode| mode == "AccessShareLock"), "{waiting:?}");
    let by_relation = rows(query(&locks, "by_relation"));
    assert_eq!((column(&by_relation[0], "relation"), column(&by_relation[0], "waiting")), ("orders", "2"));

    let sessions = run(&target, tool(&set, "pg_activity"), &[("state", "IDLE IN TRANSACTION")], &dev()).await;
    let idle: Vec<String> =
        rows(query(&sessions, "sessions")).iter().map(|row| column(row, "pid").to_owned()).collect();
    assert_eq!(idle, [holder_pid.to_string()]);
    let waits = run(&target, tool(&set, "pg_wait_events"), &[], &dev()).await;
    let lock_waits = rows(query(&waits, "waits"))
        .into_iter()
        .find(|row| column(row, "wait_event_type") == "Lock")
        .expect("a Lock wait row");
    assert_eq!(column(&lock_waits, "sessions"), "2");

    holder.batch_execute("ROLLBACK").await.expect("holder releases");
    exclusive_task.await.expect("task").expect("the exclusive lock is granted once the holder is gone");
    reader_task.await.expect("task").expect("the reader runs once the queue moves");
    target.close().await;
}

#[tokio::test]
async fn object_arguments_resolve_bind_and_refuse() {
    let set = pack();
    let (_db, target) = setup().await;
    let stats = tool(&set, "pg_table_stats");

    let folded = run(&target, stats, &[("table", "ORDERS")], &dev()).await;
    assert_eq!(folded.arguments["table"], "orders", "bound as the catalog spells it");
    assert_eq!(rows(query(&folded, "tables")).len(), 1);

    let unknown = run(&target, stats, &[("table", "no_such_table")], &dev()).await;
    let skipped = unknown.skipped.unwrap_or_default();
    assert!(skipped.contains("no_such_table"), "{skipped}");
    assert!(unknown.queries.is_empty(), "nothing ran: {:?}", unknown.queries);

    let marker = "orders_pgtools_marker; DROP TABLE orders";
    let malformed = tools::run(&target, stats, &args(&[("table", marker)]), &dev()).await;
    match malformed {
        Err(ToolError::InvalidArgument { argument, message, .. }) => {
            assert_eq!(argument, "table");
            assert!(message.contains("is not a valid table"), "{message}");
        }
        other => panic!("a malformed table name must be an argument error, got {other:?}"),
    }
    assert!(!pg::server_log().contains("orders_pgtools_marker"), "the malformed value reached the server");

    let wrong_type = tools::run(&target, stats, &args(&[("top_n", "ten")]), &dev()).await;
    assert!(matches!(wrong_type, Err(ToolError::InvalidArgument { ref argument, .. }) if argument == "top_n"));
    let unknown_argument = tools::run(&target, stats, &args(&[("tabel", "orders")]), &dev()).await;
    assert!(matches!(unknown_argument, Err(ToolError::UnknownArgument { .. })), "{unknown_argument:?}");
    target.close().await;
}

#[tokio::test]
async fn pg_stat_statements_tools_run_only_where_the_extension_is() {
    let set = pack();
    let top = tool(&set, "pg_top_statements");
    let (db, target) = setup().await;
    let without = run(&target, top, &[], &dev()).await;
    let note = without.skipped.unwrap_or_default();
    assert!(note.contains("pg_stat_statements") && note.contains("CREATE EXTENSION"), "{note}");
    assert!(without.queries.is_empty());

    let client = admin(&db).await;
    client.batch_execute("CREATE EXTENSION pg_stat_statements").await.expect("CREATE EXTENSION");
    for customer in 0..3 {
        client.query("SELECT count(*) FROM orders WHERE customer_id = $1", &[&customer]).await.expect("workload");
    }
    // The profile is read when the context carries none, so the new extension is seen.
    let with = run(&target, top, &[("metric", "calls"), ("top_n", "50")], &dev()).await;
    let statements = rows(query(&with, "statements"));
    let orders = statements
        .iter()
        .find(|row| column(row, "query").contains("FROM orders WHERE customer_id = $1"))
        .unwrap_or_else(|| panic!("the workload is not in {statements:?}"));
    assert_eq!(column(orders, "calls"), "3");
    for metric in ["total_time", "mean_time", "rows", "shared_blks_read", "temp_blks_written", "wal_bytes"] {
        let ranked = run(&target, top, &[("metric", metric)], &dev()).await;
        assert!(!query(&ranked, "statements").rows.is_empty(), "metric {metric}");
    }
    let temp = run(&target, tool(&set, "pg_temp_statements"), &[], &dev()).await;
    query(&temp, "statements");
    target.close().await;
}

#[tokio::test]
async fn explain_shows_a_plan_never_runs_a_write_and_refuses_analyze_on_prod() {
    let set = pack();
    let explain = tool(&set, "pg_explain");
    let (db, target) = setup().await;
    let plan_text = |result: &ToolResult| -> String {
        rows(query(result, "plan")).iter().flat_map(|row| row.values().cloned()).collect::<Vec<_>>().join("\n")
    };

    let plain = run(&target, explain, &[("sql", "SELECT * FROM orders WHERE customer_id = 7")], &dev()).await;
    let text = plan_text(&plain);
    assert!(text.contains("Scan") && text.contains("customer_id = 7"), "{text}");
    assert!(!text.contains("actual time"), "plain EXPLAIN does not run the statement: {text}");

    for write in [
        "DELETE FROM orders WHERE note = 'pgtools-canary-delete'",
        "WITH gone AS (DELETE FROM orders WHERE note = 'pgtools-canary-cte' RETURNING id) SELECT count(*) FROM gone",
    ] {
        let refused = run(&target, explain, &[("sql", write), ("analyze", "true")], &dev()).await;
        let error = refused.queries[0].error.clone().unwrap_or_default();
        assert!(error.contains("read-only"), "{write}: {error}");
    }
    assert_eq!(count_orders(&db).await, 2000, "the table is untouched");
    assert!(!pg::server_log().contains("pgtools-canary"), "a refused statement reached the server");

    let analyzed = run(&target, explain, &[("sql", "SELECT count(*) FROM orders"), ("analyze", "yes")], &dev()).await;
    let text = plan_text(&analyzed);
    assert!(text.contains("actual time") && text.contains("Buffers"), "{text}");

    let prod = ToolContext { environment: Some(Environment::Prod), profile: None };
    let on_prod =
        tools::run(&target, explain, &args(&[("sql", "SELECT count(*) FROM orders"), ("analyze", "true")]), &prod)
            .await;
    assert!(matches!(&on_prod, Err(ToolError::Refused { environment, .. }) if environment == "PROD"), "{on_prod:?}");
    let plain_on_prod = run(&target, explain, &[("sql", "SELECT count(*) FROM orders")], &prod).await;
    assert!(plan_text(&plain_on_prod).contains("Aggregate"));
    target.close().await;
}

#[tokio::test]
async fn the_row_cap_cuts_and_the_time_limit_cancels() {
    let set = pack();
    let (_db, target) = setup().await;
    let settings = tool(&set, "pg_settings");
    let all = run(&target, settings, &[], &dev()).await;
    let cut = query(&all, "settings");
    assert_eq!((cut.rows.len(), cut.truncated), (settings.row_cap, true), "the server has more settings than the cap");
    let one = run(&target, settings, &[("name", "work_mem")], &dev()).await;
    let one = query(&one, "settings");
    assert_eq!((one.rows.len(), one.truncated), (1, false));

    let home = tempfile::tempdir().expect("tempdir");
    let folder = home.path().join("tools/postgres");
    std::fs::create_dir_all(&folder).expect("tools folder");
    std::fs::write(
        folder.join("t_many.md"),
        "---\ndescription: fifty rows\nrow_cap: 7\n---\n## Query: numbers\n```sql\nSELECT g FROM generate_series(1, 50) g\n```\n",
    )
    .expect("write tool");
    std::fs::write(
        folder.join("t_slow.md"),
        "---\ndescription: sleeps\ntime_limit: 300ms\n---\n## Query: sleep\n```sql\nSELECT pg_sleep(2)\n```\n",
    )
    .expect("write tool");
    let local = PolicySet::load(home.path());
    assert!(local.problems.is_empty(), "{:?}", local.problems);

    let many = run(&target, tool(&local, "t_many"), &[], &dev()).await;
    let numbers = query(&many, "numbers");
    assert_eq!((numbers.rows.len(), numbers.truncated), (7, true));

    let started = Instant::now();
    let slow = run(&target, tool(&local, "t_slow"), &[], &dev()).await;
    let elapsed = started.elapsed();
    let error = slow.queries[0].error.clone().unwrap_or_default();
    assert!(elapsed < Duration::from_millis(1_500), "cancelled after {elapsed:?}, not at the 300 ms limit");
    assert!(error.contains("statement timeout") && error.contains("cancel"), "{error}");
    assert!(error.contains("300 ms"), "the error names the tool's limit: {error}");
    // The connection is usable afterwards.
    let after = run(&target, settings, &[("name", "work_mem")], &dev()).await;
    query(&after, "settings");
    target.close().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cli_lists_the_tools_and_prints_a_run_as_json() {
    let db = fresh_database().await;
    admin(&db).await.batch_execute(FIXTURE).await.expect("fixture");
    let home = tempfile::tempdir().expect("tempdir");
    let sentri = || {
        let mut command = Command::cargo_bin("sentri").expect("binary");
        command.env("SENTRI_HOME", home.path()).env("SENTRI_DB_APP_PASSWORD", pg::SUPERUSER_PASSWORD);
        command
    };
    sentri().arg("init").assert().success();
    let config = format!(
        "databases:\n  - name: app\n    connection_string: \"{}\"\n    environment: DEV\n    username: postgres\n",
        pg::connection_string(&db)
    );
    std::fs::write(home.path().join("config/sentri.yaml"), config).expect("config");

    let listing = sentri().args(["investigate", "app"]).assert().success().get_output().stdout.clone();
    let listing = String::from_utf8_lossy(&listing);
    for name in ["pg_blocking", "pg_settings", "pg_table_stats", "pg_top_statements", "pg_explain"] {
        assert!(listing.contains(name), "{name} not listed:\n{listing}");
    }
    assert!(listing.contains("needs the pg_stat_statements extension"), "{listing}");

    let output = sentri()
        .args(["investigate", "app", "pg_settings", "name=work_mem", "--json"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let result: serde_json::Value = serde_json::from_slice(&output).expect("JSON on stdout");
    assert_eq!(result["tool"], "pg_settings");
    assert_eq!(result["queries"][0]["rows"][0][0], "work_mem");
    assert_eq!(result["queries"][0]["error"], serde_json::Value::Null);

    let malformed = sentri().args(["investigate", "app", "pg_table_stats", "table=a.b.c"]).assert().failure();
    let stderr = String::from_utf8_lossy(&malformed.get_output().stderr).into_owned();
    assert!(stderr.contains("is not a valid table"), "{stderr}");
}
