//! The shipped PostgreSQL check policies (`policies/checks/postgres/`, issue 13 §2), run as the
//! scheduler runs them (`run_check`: the read-only path, `Target::query_limited`) on the
//! harness's real PostgreSQL (tests/common/postgres.rs), each test on its own database.
//!
//! For every check: a state that trips it and one that does not, with the finding's object,
//! severity and values asserted. Where the shipped default cannot be reached on one test server
//! (an XID age of 1.3 billion, a day-old ANALYZE, 90 % of 200 connections, ten minutes idle in a
//! transaction), the test runs a copy of the shipped file with only that threshold lowered
//! ([`variant`], which fails if the text it replaces is not in the file) and asserts that the
//! real value is what was judged; the shipped file itself is run too, and must not trip.
//!
//! Also: every shipped check file (both engines) loads without an error or a warning, names a
//! specialist that exists, and, when it names a `fix_policy`, that alert policy exists for its
//! engine and every field the alert extracts is a column of the check's rows.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::postgres::{admin, backend_pid, database_config, fresh_database, server, server_program};
use sentri::checks::{CheckOutcome, DEFAULT_LIMITS, Finding, run_check};
use sentri::home::Home;
use sentri::policy::check::ForecastLimit;
use sentri::policy::{CheckPolicy, DbKind, PolicySet, Severity, markdown};
use sentri::targets::{ConnectOptions, Target, Values};

/// Every PostgreSQL check issue 13 §2 asks for, by file name.
const POSTGRES_CHECKS: &[&str] = &[
    "pg_archiver",
    "pg_cache_hit_ratio",
    "pg_connections_headroom",
    "pg_database_size",
    "pg_dead_tuples_bloat",
    "pg_idle_transactions",
    "pg_redundant_indexes",
    "pg_replication_slots",
    "pg_sequence_headroom",
    "pg_stale_stats",
    "pg_tablespace_size",
    "pg_unused_indexes",
    "pg_xid_wraparound_risk",
];

/// A health query of a check runs within this on the test server (the scheduler's limit is a
/// minute; a catalog read that takes seconds on an empty database would take minutes on a big one).
const FAST: Duration = Duration::from_secs(5);

fn pack_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The default pack as `sentri init` lays it out in a home (alerts under `alerts/`), loaded by
/// the loader the engine uses.
fn installed_pack() -> (tempfile::TempDir, PolicySet) {
    let home = tempfile::tempdir().unwrap();
    Home::at(home.path()).init(false).expect("the default pack installs");
    let set = PolicySet::load(home.path());
    (home, set)
}

/// The shipped check `name`, loaded from `policies/checks/postgres/` as the loader reads it.
fn shipped(name: &str) -> CheckPolicy {
    variant(name, &[])
}

/// A copy of the shipped check `name` with each `(from, to)` text replaced, e.g. a threshold
/// line lowered for a state one test server cannot reach. Every `from` must be in the file, so
/// a copy cannot silently test the shipped default.
fn variant(name: &str, replacements: &[(&str, &str)]) -> CheckPolicy {
    let path = pack_root().join(format!("checks/postgres/{name}.md"));
    let mut text = std::fs::read_to_string(&path).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{name}: `{from}` is not in the shipped file");
        text = text.replacen(from, to, 1);
    }
    let mut problems = Vec::new();
    let check = CheckPolicy::from_document(&path, &markdown::parse(&text), Some(DbKind::Postgres), &mut problems)
        .unwrap_or_else(|errors| panic!("{name}: {errors:?}"));
    assert!(problems.is_empty(), "{name}: {problems:?}");
    check
}

async fn target(db: &str) -> Target {
    let options =
        ConnectOptions { connect_timeout: Duration::from_secs(5), call_timeout: Duration::from_secs(30), pool_size: 1 };
    Target::connect(&database_config(db), &options).await.expect("connects")
}

/// Runs `check` on `db` the way the scheduler does, on a new connection, and fails if it is
/// refused, errs or is slow.
async fn run(db: &str, check: &CheckPolicy) -> CheckOutcome {
    let target = target(db).await;
    let started = Instant::now();
    let outcome = run_check(&target, db, check, &DEFAULT_LIMITS)
        .await
        .unwrap_or_else(|error| panic!("{} on {db}: {error}", check.name));
    assert!(started.elapsed() < FAST, "{} took {:?}", check.name, started.elapsed());
    target.close().await;
    outcome
}

/// The finding about `object`, if any.
fn about<'a>(outcome: &'a CheckOutcome, object: &str) -> Option<&'a Finding> {
    outcome.findings.iter().find(|finding| finding.object == object)
}

/// The finding about `object`; fails with every finding when there is none.
fn finding<'a>(outcome: &'a CheckOutcome, object: &str) -> &'a Finding {
    about(outcome, object).unwrap_or_else(|| {
        let objects: Vec<&str> = outcome.findings.iter().map(|f| f.object.as_str()).collect();
        panic!("no finding about `{object}`; findings about {objects:?}")
    })
}

/// The columns `finding` is over, with the value judged and whether it was critical.
fn over(finding: &Finding) -> BTreeMap<&str, (f64, bool)> {
    finding.over.iter().map(|e| (e.column.as_str(), (e.value, e.critical))).collect()
}

fn number(finding: &Finding, column: &str) -> f64 {
    let text = finding.row.get(column).unwrap_or_else(|| panic!("no `{column}` in {:?}", finding.row));
    text.parse().unwrap_or_else(|_| panic!("`{column}` = {text} is not a number"))
}

/// Polls `sql` (one bigint) on `db` until it is at least `at_least`: the statistics a backend
/// reports reach the shared counters up to a second after its transaction.
async fn wait_until(db: &str, sql: &str, at_least: i64) {
    let client = admin(db).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let value: i64 = client.query_one(sql, &[]).await.unwrap().get(0);
        if value >= at_least {
            return;
        }
        assert!(Instant::now() < deadline, "`{sql}` stayed at {value}, wanted {at_least}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_shipped_check_loads_cleanly_names_its_agent_and_serves_its_fix() {
    let (_home, set) = installed_pack();
    let problems: Vec<String> = set
        .problems
        .iter()
        .filter(|problem| problem.path.components().any(|part| part.as_os_str() == "checks"))
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "the shipped checks have problems:\n{}", problems.join("\n"));
    let names: BTreeSet<&str> =
        set.checks.iter().filter(|c| c.engine == DbKind::Postgres).map(|c| c.name.as_str()).collect();
    assert_eq!(names, POSTGRES_CHECKS.iter().copied().collect(), "the PostgreSQL checks of issue 13 §2");
    let oracle: BTreeSet<&str> =
        set.checks.iter().filter(|c| c.engine == DbKind::Oracle).map(|c| c.name.as_str()).collect();
    assert!(oracle.len() >= 9, "the reference's seven, FRA and Data Guard: {oracle:?}");

    let agents: BTreeSet<&str> = set.specialists.iter().map(|s| s.name.as_str()).collect();
    let db = fresh_database().await;
    let target = target(&db).await;
    for check in &set.checks {
        assert!(
            agents.contains(check.routes_to.as_str()),
            "{}: routes_to `{}` is no agent",
            check.name,
            check.routes_to
        );
        assert!(check.description.len() > 200, "{}: the description says where its defaults come from", check.name);
        assert!(!check.thresholds.is_empty(), "{}: no threshold", check.name);
        if let Some(fix) = &check.fix_policy {
            let alert = set
                .alerts
                .iter()
                .find(|alert| &alert.name == fix)
                .unwrap_or_else(|| panic!("{}: fix_policy `{fix}` is no alert policy", check.name));
            assert_eq!(alert.engine, check.engine, "{}: fix_policy `{fix}` is for another engine", check.name);
        }
        if check.engine != DbKind::Postgres {
            continue;
        }
        // The query passes the read-only gate and returns every column the file names.
        let started = Instant::now();
        let read = target
            .query_limited(&check.health_query.sql, &Values::new(), &DEFAULT_LIMITS)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", check.name));
        assert!(started.elapsed() < FAST, "{} took {:?}", check.name, started.elapsed());
        let columns: BTreeSet<&str> = read.rows.columns.iter().map(String::as_str).collect();
        let mut named: Vec<&str> = check.thresholds.iter().map(|t| t.column.as_str()).collect();
        named.extend(check.object.iter().map(String::as_str));
        if let Some(forecast) = &check.forecast {
            named.push(&forecast.metric);
            if let ForecastLimit::Column(column) = &forecast.limit {
                named.push(column);
            }
        }
        if let Some(fix) = &check.fix_policy {
            let alert = set.alerts.iter().find(|alert| &alert.name == fix).unwrap();
            named.extend(alert.fields.iter().map(|field| field.name.as_str()));
        }
        for column in named {
            assert!(columns.contains(column), "{}: `{column}` is not a column of its rows {columns:?}", check.name);
        }
    }
    target.close().await;
}

/// Dead tuples: a table with autovacuum off and 95 % of its rows deleted is over
/// postgres-checkup's 90 % (critical); the shipped 1 GB of check_postgres cannot be written on
/// the test server, so a copy with `dead_mb` at 1 MB proves that column is judged too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_tuples_trip_on_a_table_autovacuum_left_alone() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    client
        .batch_execute(
            "CREATE TABLE bloated (id int, pad text) WITH (autovacuum_enabled = false);
             INSERT INTO bloated SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
             DELETE FROM bloated WHERE id > 1000;
             CREATE TABLE healthy (id int, pad text) WITH (autovacuum_enabled = false);
             INSERT INTO healthy SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
             DELETE FROM healthy WHERE id <= 100;",
        )
        .await
        .unwrap();
    wait_until(&db, "SELECT coalesce(sum(n_dead_tup), 0)::bigint FROM pg_stat_user_tables", 19_100).await;

    let outcome = run(&db, &shipped("pg_dead_tuples_bloat")).await;
    let bloated = finding(&outcome, "public.bloated");
    assert_eq!(bloated.severity, Severity::Critical, "95 % dead is over the 90 % critical level");
    assert_eq!(over(bloated), BTreeMap::from([("dead_pct", (95.0, true))]), "4.5 MB is far under 1 GB");
    assert_eq!(
        (bloated.row["database"].as_str(), bloated.row["schema_name"].as_str(), bloated.row["table_name"].as_str()),
        (db.as_str(), "public", "bloated"),
        "the pg_dead_tuples alert's fields"
    );
    assert_eq!((number(bloated, "n_dead_tup"), number(bloated, "n_live_tup")), (19_000.0, 1_000.0));
    assert_eq!(bloated.row["autovacuum_disabled"], "true");
    assert!(about(&outcome, "public.healthy").is_none(), "100 dead rows of 20,000 are under autovacuum's own trigger");

    let by_size = variant("pg_dead_tuples_bloat", &[("- dead_mb: 1024, critical 5120", "- dead_mb: 1, critical 5120")]);
    let outcome = run(&db, &by_size).await;
    let bloated = finding(&outcome, "public.bloated");
    let dead_mb = number(bloated, "dead_mb");
    assert!(dead_mb > 4.0 && dead_mb < 6.0, "about 95 % of a 5 MB table: {dead_mb}");
    assert_eq!(over(bloated)["dead_mb"], (dead_mb, false));
    assert!(about(&outcome, "public.healthy").is_none(), "{:?}", about(&outcome, "public.healthy"));
}

/// XID wraparound: 1.3 billion transactions cannot be burnt on a test server, so a copy with
/// `xid_age` at 0 shows the real age of the oldest table is judged (between the oldest ages read
/// before and after the run, since other tests use XIDs meanwhile) and is not critical under
/// 1.4 billion; the shipped file does not trip on a young cluster.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xid_age_is_judged_and_a_young_cluster_does_not_trip() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    client.batch_execute("CREATE TABLE young (id int); INSERT INTO young VALUES (1);").await.unwrap();
    let oldest = "SELECT max(age(relfrozenxid))::bigint FROM pg_class WHERE relkind IN ('r', 'm', 't')";

    let outcome = run(&db, &shipped("pg_xid_wraparound_risk")).await;
    assert_eq!(outcome.rows, 20, "the 20 oldest tables are read");
    assert!(outcome.findings.is_empty(), "a fresh cluster is nowhere near: {:?}", outcome.findings);

    let lowered = variant("pg_xid_wraparound_risk", &[("- xid_age: 1300000000,", "- xid_age: 0,")]);
    let before: i64 = client.query_one(oldest, &[]).await.unwrap().get(0);
    let lowered_outcome = run(&db, &lowered).await;
    let after: i64 = client.query_one(oldest, &[]).await.unwrap().get(0);
    assert_eq!(lowered_outcome.findings.len(), 20, "every row read is over 0");
    let first = &lowered_outcome.findings[0];
    let (value, critical) = over(first)["xid_age"];
    assert!(value >= before as f64 && value <= after as f64, "{before} <= {value} <= {after}");
    assert!(value > 0.0 && !critical && first.severity == Severity::High, "{first:?}");
    assert_eq!(first.object, format!("{}.{}", first.row["schema_name"], first.row["table_name"]));
    let pct = number(first, "pct_towards_wraparound");
    assert!((pct - 100.0 * value / 2_147_483_648.0).abs() < 0.006, "{pct}");
    assert!(about(&lowered_outcome, "public.young").is_none(), "the youngest table is not among the 20 oldest");
}

/// Unused indexes: a 2 MB index never scanned is judged by a copy with `index_size_mb` at 1
/// (the shipped 100 MB needs a table of millions of rows); a scanned index of the same size
/// and a unique one are not listed; the shipped file does not trip on 2 MB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unscanned_index_over_the_size_is_unused() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    client
        .batch_execute(
            "CREATE TABLE orders (id int, customer int, amount int);
             INSERT INTO orders SELECT g, g * 7, g % 97 FROM generate_series(1, 100000) g;
             CREATE INDEX orders_customer_idx ON orders (customer);
             CREATE INDEX orders_amount_idx ON orders (amount);
             CREATE UNIQUE INDEX orders_id_key ON orders (id);
             ANALYZE orders;
             SET enable_seqscan = off;
             SELECT count(*) FROM orders WHERE amount = 5;",
        )
        .await
        .unwrap();
    wait_until(
        &db,
        "SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes WHERE indexrelname = 'orders_amount_idx'",
        1,
    )
    .await;

    let outcome = run(&db, &shipped("pg_unused_indexes")).await;
    assert!(outcome.findings.is_empty(), "2 MB is under the shipped 100 MB: {:?}", outcome.findings);

    let outcome = run(&db, &variant("pg_unused_indexes", &[("- index_size_mb: 100", "- index_size_mb: 1")])).await;
    let objects: Vec<&str> = outcome.findings.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(objects, ["public.orders_customer_idx"], "scanned and unique indexes are not unused");
    let unused = &outcome.findings[0];
    assert_eq!((unused.row["table_name"].as_str(), unused.row["idx_scan"].as_str()), ("orders", "0"));
    let size: i64 = client.query_one("SELECT pg_relation_size('orders_customer_idx')", &[]).await.unwrap().get(0);
    assert_eq!(over(unused)["index_size_mb"].0, (size as f64 / 1048576.0 * 10.0).round() / 10.0);
}

/// Redundant indexes, at the shipped threshold (every one): a prefix of another index and a
/// plain copy of a unique index are reported with the index that covers them; indexes in
/// another order, on other sort options, partial or with INCLUDE columns are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prefix_and_duplicate_indexes_are_redundant() {
    let db = fresh_database().await;
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE t (a int, b int, c int, d int);
             CREATE INDEX t_a ON t (a);
             CREATE INDEX t_a_b ON t (a, b);
             CREATE UNIQUE INDEX t_c_key ON t (c);
             CREATE INDEX t_c ON t (c);
             CREATE INDEX t_b ON t (b DESC);
             CREATE INDEX t_b_a ON t (b, a);
             CREATE INDEX t_d_partial ON t (d) WHERE a > 0;
             CREATE INDEX t_d_c ON t (d, c);
             CREATE INDEX t_b_incl ON t (b) INCLUDE (d);",
        )
        .await
        .unwrap();
    let outcome = run(&db, &shipped("pg_redundant_indexes")).await;
    let found: BTreeMap<&str, &str> =
        outcome.findings.iter().map(|f| (f.object.as_str(), f.row["covered_by"].as_str())).collect();
    assert_eq!(
        found,
        BTreeMap::from([("public.t_a", "t_a_b"), ("public.t_c", "t_c_key")]),
        "t_b is DESC, t_d_partial has a predicate, t_b_incl has INCLUDE columns"
    );
    assert!(outcome.findings.iter().all(|f| f.severity == Severity::Low && f.row["table_name"] == "t"));

    let clean = fresh_database().await;
    admin(&clean)
        .await
        .batch_execute("CREATE TABLE t (a int, b int); CREATE INDEX t_a ON t (a); CREATE INDEX t_b_a ON t (b, a);")
        .await
        .unwrap();
    let outcome = run(&clean, &shipped("pg_redundant_indexes")).await;
    assert_eq!((outcome.rows, outcome.findings.len()), (0, 0));
}

/// Sequences at the shipped 85 % / 95 %: an integer sequence at 97.8 % is critical; a bigint
/// sequence at 1.9 billion is over only because the integer column it feeds is the limit; a
/// descending one at 90 % of its range is a warning; a smallint sequence at 3 % and a bigint
/// one at 1.9 billion feeding a bigint column are not findings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequences_near_their_limit_or_their_columns_limit_trip() {
    let db = fresh_database().await;
    admin(&db)
        .await
        .batch_execute(
            "CREATE SEQUENCE near AS integer;
             SELECT setval('near', 2100000000);
             CREATE TABLE narrow (id integer);
             CREATE SEQUENCE wide AS bigint OWNED BY narrow.id;
             ALTER TABLE narrow ALTER COLUMN id SET DEFAULT nextval('wide');
             SELECT setval('wide', 1900000000);
             CREATE TABLE roomy (id bigint);
             CREATE SEQUENCE wide_ok AS bigint OWNED BY roomy.id;
             SELECT setval('wide_ok', 1900000000);
             CREATE SEQUENCE down INCREMENT -1 MINVALUE -1000 MAXVALUE -1;
             SELECT setval('down', -900);
             CREATE SEQUENCE tiny AS smallint;
             SELECT setval('tiny', 1000);",
        )
        .await
        .unwrap();
    let outcome = run(&db, &shipped("pg_sequence_headroom")).await;
    let objects: BTreeSet<&str> = outcome.findings.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(objects, BTreeSet::from(["public.near", "public.wide", "public.down"]));

    let near = finding(&outcome, "public.near");
    assert_eq!((near.severity, over(near)["used_percent"]), (Severity::Critical, (97.79, true)));
    assert_eq!(
        (near.row["database"].as_str(), near.row["schema_name"].as_str(), near.row["sequence_name"].as_str()),
        (db.as_str(), "public", "near"),
        "the pg_sequence_exhaustion alert's fields"
    );
    let wide = finding(&outcome, "public.wide");
    assert_eq!((wide.severity, over(wide)["used_percent"]), (Severity::High, (88.48, false)));
    assert_eq!((wide.row["limited_by"].as_str(), wide.row["end_of_range"].as_str()), ("column", "2147483647"));
    assert_eq!((number(wide, "values_used"), number(wide, "values_capacity")), (1_899_999_999.0, 2_147_483_646.0));
    let down = finding(&outcome, "public.down");
    assert_eq!((down.severity, over(down)["used_percent"]), (Severity::High, (89.99, false)));
    assert_eq!(number(down, "values_used"), 899.0, "from -1 down to -900");
}

/// Stale statistics: a table never analyzed with rows loaded trips the shipped file
/// (`never_analyzed`); a table analyzed then fully updated is not a day old on a test server, so
/// a copy with `hours_since_analyze` at 0 shows its real age is judged; a table analyzed after
/// its changes is not listed at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_changed_since_their_last_analyze_are_stale() {
    let db = fresh_database().await;
    // Each step in a session of its own, its statistics flushed when it ends, so an ANALYZE
    // never runs before the counts of the rows it should cover have arrived.
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE never (id int) WITH (autovacuum_enabled = false);
             INSERT INTO never SELECT generate_series(1, 5000);
             CREATE TABLE changed (id int, v int) WITH (autovacuum_enabled = false);
             INSERT INTO changed SELECT g, 0 FROM generate_series(1, 10000) g;
             CREATE TABLE fresh (id int) WITH (autovacuum_enabled = false);
             INSERT INTO fresh SELECT generate_series(1, 10000);",
        )
        .await
        .unwrap();
    wait_until(&db, "SELECT coalesce(sum(n_mod_since_analyze), 0)::bigint FROM pg_stat_user_tables", 25_000).await;
    admin(&db).await.batch_execute("ANALYZE changed; ANALYZE fresh;").await.unwrap();
    wait_until(&db, "SELECT count(last_analyze) FROM pg_stat_user_tables", 2).await;
    admin(&db).await.batch_execute("UPDATE changed SET v = 1").await.unwrap();
    wait_until(&db, "SELECT coalesce(sum(n_mod_since_analyze), 0)::bigint FROM pg_stat_user_tables", 15_000).await;

    let outcome = run(&db, &shipped("pg_stale_stats")).await;
    assert_eq!(outcome.rows, 2, "`fresh` has no changes since its ANALYZE");
    let never = finding(&outcome, "public.never");
    assert_eq!((over(never), never.severity), (BTreeMap::from([("never_analyzed", (1.0, false))]), Severity::Medium));
    assert_eq!(never.row["table_name"], "never");
    assert!(about(&outcome, "public.changed").is_none(), "analyzed minutes ago, not a day");

    // Hours are given to three decimals (3.6 s): wait until the ANALYZE is more than that old.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let lowered = variant("pg_stale_stats", &[("- hours_since_analyze: 24,", "- hours_since_analyze: 0,")]);
    let outcome = run(&db, &lowered).await;
    let changed = finding(&outcome, "public.changed");
    let (hours, critical) = over(changed)["hours_since_analyze"];
    assert!(hours > 0.0 && hours < 0.1 && !critical, "analyzed seconds ago: {hours} h");
    assert_eq!(number(changed, "n_mod_since_analyze"), 10_000.0);
    assert_eq!(
        (changed.row["database"].as_str(), changed.row["schema_name"].as_str()),
        (db.as_str(), "public"),
        "the pg_stale_statistics alert's fields"
    );
    assert!(about(&outcome, "public.fresh").is_none());
}

/// Connections: 90 % of the harness's 200 `max_connections` cannot be opened without starving
/// the other tests, and the server cannot be restarted with fewer; the shipped file does not
/// trip, and a copy with `used_percent` at 0 shows the real count (at least the six sessions
/// this test holds) is judged against the slots left after `superuser_reserved_connections`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_are_judged_against_the_usable_slots() {
    let db = fresh_database().await;
    let mut held = Vec::new();
    for _ in 0..5 {
        held.push(admin(&db).await);
    }
    let settings = admin(&db).await;
    let usable: i64 = settings
        .query_one(
            "SELECT current_setting('max_connections')::bigint - current_setting('superuser_reserved_connections')::bigint",
            &[],
        )
        .await
        .unwrap()
        .get(0);

    let outcome = run(&db, &shipped("pg_connections_headroom")).await;
    assert_eq!(outcome.rows, 1);
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);

    let outcome = run(&db, &variant("pg_connections_headroom", &[("- used_percent: 90,", "- used_percent: 0,")])).await;
    let found = finding(&outcome, "");
    let connections = number(found, "reported_connections");
    assert!(connections >= 7.0, "five held, the admin one and the check's own: {connections}");
    assert_eq!(number(found, "reported_max_connections"), usable as f64);
    let (used, critical) = over(found)["used_percent"];
    assert!((used - 100.0 * connections / usable as f64).abs() <= 0.051 && !critical, "{used}");
    assert_eq!(found.row["database"], db);
    drop(held);
}

/// Idle in transaction: a session left in an open transaction on a second connection is over a
/// copy's 1 s (the shipped 600 s is ten minutes of a test); an idle session outside a
/// transaction is not listed, and the shipped file does not trip on a session idle for seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_idle_in_its_transaction_trips() {
    let db = fresh_database().await;
    let holder = admin(&db).await;
    let holder_pid = backend_pid(&holder).await;
    holder.batch_execute("CREATE TABLE t (id int); BEGIN; INSERT INTO t VALUES (1);").await.unwrap();
    let idle = admin(&db).await;
    let idle_pid = backend_pid(&idle).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let outcome = run(&db, &shipped("pg_idle_transactions")).await;
    assert_eq!(outcome.rows, 1, "only the session in a transaction is listed");
    assert!(outcome.findings.is_empty(), "seconds are not ten minutes: {:?}", outcome.findings);

    let quick = variant("pg_idle_transactions", &[("- reported_seconds: 600,", "- reported_seconds: 1,")]);
    let outcome = run(&db, &quick).await;
    assert_eq!(outcome.findings.len(), 1, "{:?}", outcome.findings);
    let found = finding(&outcome, &holder_pid.to_string());
    let (seconds, critical) = over(found)["reported_seconds"];
    assert!(seconds > 1.0 && seconds < 60.0 && !critical, "{seconds}");
    assert_eq!(found.severity, Severity::Medium);
    assert_eq!(
        (found.row["database"].as_str(), found.row["state"].as_str(), found.row["last_statement"].as_str()),
        (db.as_str(), "idle in transaction", "CREATE TABLE t (id int); BEGIN; INSERT INTO t VALUES (1);")
    );
    assert!(about(&outcome, &idle_pid.to_string()).is_none());

    holder.batch_execute("COMMIT").await.unwrap();
    let outcome = run(&db, &quick).await;
    assert_eq!((outcome.rows, outcome.findings.len()), (0, 0), "committed, so no longer idle in a transaction");
}

/// Replication slots: a physical slot that reserved WAL and has no consumer trips the shipped
/// file (`inactive`); with `pg_receivewal` streaming from it, it is active and not a finding.
/// Slots belong to the server, so the slot has a name of its own and is dropped at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inactive_slot_trips_and_an_active_one_does_not() {
    let db = fresh_database().await;
    let slot = format!("sentri_{}", &db[2..]);
    let client = admin(&db).await;
    client.query_one("SELECT pg_create_physical_replication_slot($1, true)", &[&slot]).await.unwrap();

    let outcome = run(&db, &shipped("pg_replication_slots")).await;
    let found = finding(&outcome, &slot);
    assert_eq!(over(found), BTreeMap::from([("inactive", (1.0, false))]), "{found:?}");
    assert_eq!((found.row["slot_type"].as_str(), found.row["active"].as_str()), ("physical", "false"));
    assert_eq!(found.row["wal_status"], "reserved");
    assert!(number(found, "retained_wal_mb") >= 0.0);

    let wal = tempfile::tempdir().unwrap();
    let server = server();
    let mut receiver = std::process::Command::new(server_program("pg_receivewal"))
        .arg("-h")
        .arg(&server.dir)
        .args(["-p", &server.port.to_string(), "-U", "postgres", "-S", &slot, "--no-loop", "-D"])
        .arg(wal.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("pg_receivewal starts");
    let active = format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND active");
    wait_until(&db, &active, 1).await;
    let outcome = run(&db, &shipped("pg_replication_slots")).await;
    let _ = receiver.kill();
    let _ = receiver.wait();
    assert!(about(&outcome, &slot).is_none(), "streaming, so active: {:?}", about(&outcome, &slot));

    let gone = format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT active");
    wait_until(&db, &gone, 1).await;
    client.query_one("SELECT pg_drop_replication_slot($1)", &[&slot]).await.unwrap();
    let outcome = run(&db, &shipped("pg_replication_slots")).await;
    assert!(about(&outcome, &slot).is_none());
}

/// The archiver: with the harness's `archive_command` made to fail, a WAL switch leaves a segment
/// the archiver cannot archive, which trips the shipped file (`failing`); once the command
/// works again and the next segment is archived, it does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_archive_command_trips_and_a_working_one_does_not() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    client.batch_execute("CREATE TABLE w (id int)").await.unwrap();
    let failed: i64 = client.query_one("SELECT failed_count FROM pg_stat_archiver", &[]).await.unwrap().get(0);

    common::postgres::set_archive_failing(true);
    client.batch_execute("INSERT INTO w VALUES (1); SELECT pg_switch_wal();").await.unwrap();
    wait_until(&db, "SELECT failed_count FROM pg_stat_archiver", failed + 1).await;
    let outcome = run(&db, &shipped("pg_archiver")).await;
    common::postgres::set_archive_failing(false);
    let found = finding(&outcome, "");
    assert_eq!(over(found)["failing"], (1.0, false), "{found:?}");
    assert_eq!(found.severity, Severity::High);
    assert!(number(found, "failed_count") > failed as f64);
    assert!(found.row.contains_key("last_failed_wal"));
    assert!(number(found, "ready_files") >= 1.0, "the segment waits in archive_status");

    client.batch_execute("INSERT INTO w VALUES (2); SELECT pg_switch_wal();").await.unwrap();
    wait_until(
        &db,
        "SELECT coalesce((last_archived_time > last_failed_time)::int, 0)::bigint FROM pg_stat_archiver",
        1,
    )
    .await;
    let outcome = run(&db, &shipped("pg_archiver")).await;
    assert_eq!(outcome.rows, 1);
    assert!(outcome.findings.is_empty(), "archiving again: {:?}", outcome.findings);
}

/// Cache hit ratio: scanning a table over twice the size of the harness's 16 MB of shared
/// buffers misses the cache on most blocks; a database that reads one small table through its
/// index 100,000 times hits it on more than 99 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_from_disk_trip_the_cache_check_and_cached_reads_do_not() {
    let cold = fresh_database().await;
    admin(&cold)
        .await
        .batch_execute(
            "CREATE TABLE big (id int, pad text);
             INSERT INTO big SELECT g, repeat('x', 500) FROM generate_series(1, 100000) g;",
        )
        .await
        .unwrap();
    {
        let reader = admin(&cold).await;
        reader
            .batch_execute("SELECT count(*) FROM big; SELECT count(*) FROM big; SELECT count(*) FROM big;")
            .await
            .unwrap();
    }
    wait_until(&cold, "SELECT blks_read FROM pg_stat_database WHERE datname = current_database()", 10_000).await;
    let outcome = run(&cold, &shipped("pg_cache_hit_ratio")).await;
    let found = finding(&outcome, &cold);
    let (miss, _) = over(found)["miss_pct"];
    assert!(miss > 1.0, "{miss}");
    assert!((miss + number(found, "hit_pct") - 100.0).abs() < 0.011, "{found:?}");

    let warm = fresh_database().await;
    {
        let worker = admin(&warm).await;
        worker
            .batch_execute(
                "CREATE TABLE small (id int PRIMARY KEY, v int);
                 INSERT INTO small SELECT g, g FROM generate_series(1, 100) g;
                 ANALYZE small;
                 SELECT sum((SELECT v FROM small WHERE id = g % 100 + 1)) FROM generate_series(1, 100000) g;",
            )
            .await
            .unwrap();
    }
    wait_until(&warm, "SELECT blks_hit FROM pg_stat_database WHERE datname = current_database()", 100_000).await;
    let outcome = run(&warm, &shipped("pg_cache_hit_ratio")).await;
    assert_eq!(outcome.rows, 1);
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
}

/// Database size: without `sentri.database_capacity_mb` the size is recorded and nothing is
/// judged; with a capacity the database fills to 96 %, it is a warning (node-mixin's 95 %), and
/// to 98 % critical (97 %).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_size_is_judged_against_its_capacity_setting() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    let outcome = run(&db, &shipped("pg_database_size")).await;
    assert_eq!((outcome.rows, outcome.findings.len()), (1, 0), "no capacity, no judgement");

    let size: i64 = client.query_one("SELECT pg_database_size(current_database())", &[]).await.unwrap().get(0);
    let size_mb = size as f64 / 1048576.0;
    for (share, severity) in [(0.962, Severity::Medium), (0.985, Severity::Critical)] {
        let capacity = format!("{:.3}", size_mb / share);
        client
            .batch_execute(&format!("ALTER DATABASE {db} SET sentri.database_capacity_mb = '{capacity}'"))
            .await
            .unwrap();
        let outcome = run(&db, &shipped("pg_database_size")).await;
        let found = finding(&outcome, &db);
        assert_eq!(found.row["capacity_mb"], capacity);
        let (used, critical) = over(found)["used_pct_of_capacity"];
        assert!((used - share * 100.0).abs() < 0.6, "{used} for {share}");
        assert_eq!((found.severity, critical), (severity, severity == Severity::Critical));
    }
    client.batch_execute(&format!("ALTER DATABASE {db} SET sentri.database_capacity_mb = '1000000'")).await.unwrap();
    let outcome = run(&db, &shipped("pg_database_size")).await;
    assert!(outcome.findings.is_empty(), "{:?}", outcome.findings);
}

/// Tablespace size: the capacity setting names `pg_default` only, small enough that it is over
/// 97 %; `pg_global`, which it does not name, is recorded without a limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tablespace_size_is_judged_for_the_tablespaces_with_a_capacity() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    let outcome = run(&db, &shipped("pg_tablespace_size")).await;
    assert!(outcome.rows >= 2 && outcome.findings.is_empty(), "{outcome:?}");

    client
        .batch_execute(&format!("ALTER DATABASE {db} SET sentri.tablespace_capacity_mb = 'pg_default = 1, other=9'"))
        .await
        .unwrap();
    let outcome = run(&db, &shipped("pg_tablespace_size")).await;
    let objects: Vec<&str> = outcome.findings.iter().map(|f| f.object.as_str()).collect();
    assert_eq!(objects, ["pg_default"]);
    let found = &outcome.findings[0];
    assert_eq!((found.severity, found.row["capacity_mb"].as_str()), (Severity::Critical, "1"));
    assert!(over(found)["used_pct_of_capacity"].0 > 100.0, "the whole cluster's data in 1 MB");
}
