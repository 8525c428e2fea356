//! Diagnosis on a real PostgreSQL (tests/common/postgres.rs), with the default pack: each test
//! makes one anomaly really happen on its own database — a blocking queue, a runaway query,
//! a table read whole for want of an index, dead rows, an ageing table, a sequence near its
//! end, an abandoned slot, a connection pool leaking slots, sorts spilling to disk — and asserts
//! that the diagnosis names its root cause first, with the evidence row of the object at fault,
//! and that running the first candidate's SQL, exactly as the diagnosis prints it, clears the
//! anomaly on the server (checked by the server's own views, then by a second diagnosis).
//!
//! Alike pairs are here on purpose: "sessions are waiting" from an idle transaction and from an
//! active statement; "a query is slow" from a runaway statement, a missing index and stale
//! statistics; a sequence stopped by its MAXVALUE and one at its type's limit.
//!
//! Every workload is bounded: sessions that sleep or spin carry a statement timeout, and every
//! wait polls against a deadline.

mod common;

use std::time::{Duration, Instant};

use common::diagnosis::{assert_no_longer, column, diagnose, first_cause, run_first_candidate};
use common::postgres::{self as pg, admin, fresh_database};
use sentri::domain::RootCause;

/// Tests that create or read state the whole server shares (replication slots, which every
/// database's `pg_replication` sees) run one at a time.
static SERVER_WIDE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Polls `sql` (one row, one bigint-or-numeric column read as text) until `done` holds.
async fn poll(db: &str, sql: &str, what: &str, done: impl Fn(f64) -> bool) -> f64 {
    let client = admin(db).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = client.query_one(&format!("SELECT CAST(({sql}) AS float8)"), &[]).await.expect(what);
        let value: Option<f64> = row.get(0);
        let value = value.unwrap_or(f64::NAN);
        if done(value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: still {value} after 15 s ({sql})");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Flushes a workload session's statistics and ends it, so pg_stat_* show its scans and
/// tuples (PostgreSQL flushes a backend's counters at most once a second while it runs, and
/// always when it exits).
async fn finish_workload(client: tokio_postgres::Client) {
    client.batch_execute("SELECT pg_stat_force_next_flush()").await.expect("flush");
    drop(client);
}

/// Runs `fixture` in its own session and flushes its statistics, so that what follows (an
/// ANALYZE, a diagnosis) sees its rows counted. In one multi-statement batch PostgreSQL counts
/// the rows only at commit, after an ANALYZE inside the same batch.
async fn load(db: &str, fixture: &str) {
    let client = admin(db).await;
    client.batch_execute(fixture).await.expect("fixture");
    finish_workload(client).await;
}

/// `ANALYZE` of the whole database, after [`load`]: the planner statistics are current and no
/// table has changes since its last analyze.
async fn analyze(db: &str) {
    admin(db).await.batch_execute("ANALYZE").await.expect("ANALYZE");
}

const ACCOUNTS: &str = "CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL);
    INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 100) g;";

// --- blocking and sessions -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_transaction_holding_a_row_lock_is_idle_in_transaction() {
    let db = fresh_database().await;
    admin(&db).await.batch_execute(ACCOUNTS).await.expect("fixture");
    let holder = admin(&db).await;
    let holder_pid = pg::backend_pid(&holder).await;
    holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.expect("holder");
    let waiter = admin(&db).await;
    let waiter_pid = pg::backend_pid(&waiter).await;
    let waiting = tokio::spawn(async move {
        waiter.batch_execute("SET statement_timeout = '60s'; UPDATE accounts SET balance = 0 WHERE id = 1").await
    });
    pg::wait_until_waiting(&db, waiter_pid).await;

    let diagnosis = diagnose(&db, "sessions waiting on locks", Some("pg_blocking_session")).await;
    let row = first_cause(&diagnosis, RootCause::IdleInTransaction);
    assert_eq!(column(&row, "holder_pid"), holder_pid.to_string(), "the root holder is named");
    run_first_candidate(&db, &diagnosis).await;

    let waited = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("the waiter is freed");
    waited.expect("task").expect("the waiter's UPDATE completes once the holder is gone");
    poll(&db, &format!("SELECT count(*) FROM pg_stat_activity WHERE pid = {holder_pid}"), "holder gone", |n| n == 0.0)
        .await;
    assert_no_longer(&db, "sessions waiting on locks", Some("pg_blocking_session"), RootCause::IdleInTransaction).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_active_statement_holding_a_row_lock_is_lock_contention() {
    let db = fresh_database().await;
    admin(&db).await.batch_execute(ACCOUNTS).await.expect("fixture");
    let holder = admin(&db).await;
    let holder_pid = pg::backend_pid(&holder).await;
    // One autocommit statement that takes the row lock and then works (sleeps) while holding it.
    let holding = tokio::spawn(async move {
        holder
            .batch_execute(
                "SET statement_timeout = '60s';
                 WITH locked AS (UPDATE accounts SET balance = balance + 1 WHERE id = 1 RETURNING id)
                 SELECT pg_sleep(30) FROM locked",
            )
            .await
    });
    poll(
        &db,
        &format!("SELECT count(*) FROM pg_locks WHERE pid = {holder_pid} AND locktype = 'transactionid' AND granted"),
        "holder has its lock",
        |n| n >= 1.0,
    )
    .await;
    let waiter = admin(&db).await;
    let waiter_pid = pg::backend_pid(&waiter).await;
    let waiting = tokio::spawn(async move {
        waiter.batch_execute("SET statement_timeout = '60s'; UPDATE accounts SET balance = 0 WHERE id = 1").await
    });
    pg::wait_until_waiting(&db, waiter_pid).await;

    let diagnosis = diagnose(&db, "sessions waiting on locks", Some("pg_blocking_session")).await;
    let row = first_cause(&diagnosis, RootCause::LockContention);
    assert_eq!(column(&row, "holder_pid"), holder_pid.to_string());
    assert_eq!(column(&row, "holder_state"), "active");
    run_first_candidate(&db, &diagnosis).await;

    let waited = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("the waiter is freed");
    waited.expect("task").expect("the waiter's UPDATE completes");
    let held = tokio::time::timeout(Duration::from_secs(10), holding).await.expect("the holder ends");
    assert!(held.expect("task").is_err(), "the holder's statement was cancelled or its session ended");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_that_keeps_idle_connections_up_to_the_limit_is_connection_exhaustion() {
    let db = fresh_database().await;
    let role = format!("leaky_{}", &db[2..]);
    pg::create_role(&role, "leaky-pw").await;
    admin(&db)
        .await
        .batch_execute(&format!(
            "ALTER DATABASE {db} CONNECTION LIMIT 12; ALTER DATABASE {db} SET sentri.idle_session_seconds = 1"
        ))
        .await
        .expect("limits");
    let server = pg::server();
    let mut pool = Vec::new();
    for _ in 0..10 {
        let config = format!(
            "host={} port={} user={role} dbname={db} application_name=leaky-pool",
            server.dir.display(),
            server.port
        );
        let (client, connection) =
            tokio_postgres::connect(&config, tokio_postgres::NoTls).await.expect("pool connects");
        tokio::spawn(async move {
            let _ = connection.await;
        });
        client.batch_execute("SELECT 1").await.expect("pool works");
        pool.push(client);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let diagnosis = diagnose(&db, "too many clients already", Some("pg_connection_limit")).await;
    let row = first_cause(&diagnosis, RootCause::ConnectionExhaustion);
    assert_eq!(column(&row, "scope"), "database");
    assert_eq!(column(&row, "name"), db);
    assert!(column(&row, "idle_too_long").parse::<i64>().is_ok_and(|n| n >= 10), "{row:?}");
    run_first_candidate(&db, &diagnosis).await;

    poll(
        &db,
        &format!("SELECT count(*) FROM pg_stat_activity WHERE usename = '{role}'"),
        "the idle pool's sessions are gone",
        |n| n == 0.0,
    )
    .await;
    assert_no_longer(&db, "too many clients already", Some("pg_connection_limit"), RootCause::ConnectionExhaustion)
        .await;
    drop(pool);
}

// --- SQL performance: the same "slow query" from three causes --------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_cross_join_running_for_ever_is_a_long_running_query() {
    let db = fresh_database().await;
    load(
        &db,
        &format!(
            "CREATE TABLE items (id int PRIMARY KEY, note text);
             INSERT INTO items SELECT g, md5(g::text) FROM generate_series(1, 20000) g;
             ALTER DATABASE {db} SET sentri.long_query_seconds = 1;"
        ),
    )
    .await;
    analyze(&db).await;
    let runaway = admin(&db).await;
    let runaway_pid = pg::backend_pid(&runaway).await;
    // The join condition was forgotten: 400 million pairs.
    let running = tokio::spawn(async move {
        runaway
            .batch_execute(
                "SET statement_timeout = '60s'; SELECT count(*) FROM items a, items b WHERE a.note <> b.note",
            )
            .await
    });
    poll(
        &db,
        &format!(
            "SELECT COALESCE(max(extract(epoch FROM now() - query_start)), 0) FROM pg_stat_activity \
             WHERE pid = {runaway_pid} AND state = 'active'"
        ),
        "the runaway has run over a second",
        |seconds| seconds >= 1.5,
    )
    .await;

    let diagnosis = diagnose(&db, "Long running query on app", Some("pg_long_running_query")).await;
    let row = first_cause(&diagnosis, RootCause::LongRunningQuery);
    assert_eq!(column(&row, "pid"), runaway_pid.to_string());
    run_first_candidate(&db, &diagnosis).await;

    let ended = tokio::time::timeout(Duration::from_secs(10), running).await.expect("the runaway stops");
    let error = ended.expect("task").expect_err("the runaway was cancelled");
    assert_eq!(error.code().map(|code| code.code()), Some("57014"), "cancelled, not timed out: {error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn lookups_by_an_unindexed_foreign_key_are_missing_indexes() {
    let db = fresh_database().await;
    load(
        &db,
        "CREATE TABLE customers (id int PRIMARY KEY, name text);
         INSERT INTO customers SELECT g, 'c' || g FROM generate_series(1, 200) g;
         CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL REFERENCES customers, amount numeric);
         INSERT INTO orders SELECT g, 1 + g % 200, g % 97 FROM generate_series(1, 30000) g;",
    )
    .await;
    analyze(&db).await;
    let workload = admin(&db).await;
    for customer in 1..=15 {
        workload
            .batch_execute(&format!("SELECT sum(amount) FROM orders WHERE customer_id = {customer}"))
            .await
            .expect("lookup");
    }
    finish_workload(workload).await;
    poll(&db, "SELECT seq_scan FROM pg_stat_user_tables WHERE relname = 'orders'", "scans counted", |n| n >= 15.0)
        .await;

    let diagnosis = diagnose(&db, "slow query on orders", Some("pg_long_running_query")).await;
    let row = first_cause(&diagnosis, RootCause::MissingIndexes);
    assert_eq!(column(&row, "table_name"), "orders");
    assert_eq!(column(&row, "column_name"), "customer_id");
    let sql = run_first_candidate(&db, &diagnosis).await;
    assert!(sql.contains("CONCURRENTLY"), "{sql}");

    let plan: Vec<String> = admin(&db)
        .await
        .query("EXPLAIN (FORMAT TEXT) SELECT sum(amount) FROM orders WHERE customer_id = 7", &[])
        .await
        .expect("explain")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("Index") && !plan.contains("Seq Scan"), "the lookup uses the new index: {plan}");
    assert_no_longer(&db, "slow query on orders", Some("pg_long_running_query"), RootCause::MissingIndexes).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_grown_fivefold_since_its_last_analyze_lacks_statistics() {
    let db = fresh_database().await;
    load(
        &db,
        "CREATE TABLE events (id int PRIMARY KEY, kind text) WITH (autovacuum_enabled = false);
         INSERT INTO events SELECT g, 'k' || g % 10 FROM generate_series(1, 5000) g;",
    )
    .await;
    analyze(&db).await;
    // Then a bulk load the statistics never hear of (autovacuum, which would analyze, is off).
    load(&db, "INSERT INTO events SELECT g, 'k' || g % 10 FROM generate_series(5001, 25000) g").await;
    poll(&db, "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'events'", "changes counted", |n| {
        n >= 20000.0
    })
    .await;

    let diagnosis = diagnose(&db, "slow query on events", Some("pg_long_running_query")).await;
    let row = first_cause(&diagnosis, RootCause::LackStatisticInfo);
    assert_eq!(column(&row, "table_name"), "events");
    run_first_candidate(&db, &diagnosis).await;

    poll(&db, "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'events'", "analyzed", |n| n == 0.0)
        .await;
    let estimate = poll(&db, "SELECT reltuples FROM pg_class WHERE relname = 'events'", "estimate", |_| true).await;
    assert!((estimate - 25000.0).abs() < 1.0, "the planner now knows the table's size: {estimate}");
    assert_no_longer(&db, "slow query on events", Some("pg_long_running_query"), RootCause::LackStatisticInfo).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_index_on_the_same_column_is_a_redundant_index() {
    let db = fresh_database().await;
    load(
        &db,
        "CREATE TABLE payments (id int PRIMARY KEY, account int, paid_at timestamptz);
         INSERT INTO payments SELECT g, g % 500, now() FROM generate_series(1, 5000) g;
         CREATE INDEX payments_account ON payments (account);
         CREATE INDEX payments_account_again ON payments (account);",
    )
    .await;
    analyze(&db).await;

    let diagnosis = diagnose(&db, "unused indexes", Some("check_finding:pg_unused_indexes")).await;
    let row = first_cause(&diagnosis, RootCause::RedundantIndex);
    assert_eq!(column(&row, "table_name"), "payments");
    let redundant = column(&row, "redundant_index").to_owned();
    run_first_candidate(&db, &diagnosis).await;

    let left = poll(
        &db,
        "SELECT count(*) FROM pg_indexes WHERE tablename = 'payments' AND indexname LIKE 'payments_account%'",
        "one account index left",
        |_| true,
    )
    .await;
    assert_eq!(left, 1.0, "{redundant} was dropped and the other kept");
    assert_no_longer(&db, "unused indexes", Some("check_finding:pg_unused_indexes"), RootCause::RedundantIndex).await;
}

// --- maintenance -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_table_updated_whole_with_autovacuum_off_needs_vacuum() {
    let db = fresh_database().await;
    load(
        &db,
        "CREATE TABLE stock (id int PRIMARY KEY, qty int) WITH (autovacuum_enabled = false);
         INSERT INTO stock SELECT g, 1 FROM generate_series(1, 20000) g;",
    )
    .await;
    analyze(&db).await;
    load(&db, "UPDATE stock SET qty = qty + 1").await;
    poll(&db, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'stock'", "dead rows counted", |n| {
        n >= 20000.0
    })
    .await;

    let diagnosis = diagnose(&db, "dead tuples on stock", Some("pg_dead_tuples")).await;
    let row = first_cause(&diagnosis, RootCause::Vacuum);
    assert_eq!(column(&row, "table_name"), "stock");
    run_first_candidate(&db, &diagnosis).await;

    poll(&db, "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'stock'", "vacuumed", |n| n < 100.0).await;
    assert_no_longer(&db, "dead tuples on stock", Some("pg_dead_tuples"), RootCause::Vacuum).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_table_near_its_freeze_limit_is_xid_wraparound() {
    let db = fresh_database().await;
    // The table's own freeze limit is the lowest PostgreSQL allows (100 000), so a test can
    // age it to 85 % by spending transaction ids; autovacuum forces a freeze only past 100 %.
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE ledger (id int PRIMARY KEY, amount numeric)
               WITH (autovacuum_enabled = false, autovacuum_freeze_max_age = 100000);
             INSERT INTO ledger SELECT g, g FROM generate_series(1, 1000) g;
             CREATE PROCEDURE spend_xids(n int) LANGUAGE plpgsql AS $$
             BEGIN
               FOR i IN 1..n LOOP
                 PERFORM pg_current_xact_id();
                 COMMIT;
               END LOOP;
             END $$;",
        )
        .await
        .expect("fixture");
    // Alone, so that the procedure's COMMITs are not inside the batch's implicit transaction.
    admin(&db).await.batch_execute("CALL spend_xids(85000)").await.expect("transaction ids spent");

    let diagnosis = diagnose(&db, "transaction id wraparound risk", Some("pg_xid_wraparound")).await;
    let row = first_cause(&diagnosis, RootCause::XidWraparound);
    assert_eq!(column(&row, "table_name"), "ledger");
    run_first_candidate(&db, &diagnosis).await;

    let age =
        poll(&db, "SELECT age(relfrozenxid) FROM pg_class WHERE relname = 'ledger'", "frozen", |age| age < 10000.0)
            .await;
    assert!(age < 10000.0);
    assert_no_longer(&db, "transaction id wraparound risk", Some("pg_xid_wraparound"), RootCause::XidWraparound).await;
}

// --- capacity --------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_sequence_near_its_maxvalue_is_sequence_exhaustion() {
    let _server_wide = SERVER_WIDE.lock().await;
    let db = fresh_database().await;
    admin(&db)
        .await
        .batch_execute("CREATE SEQUENCE ticket_seq MAXVALUE 1000; SELECT setval('ticket_seq', 950);")
        .await
        .expect("fixture");

    let diagnosis = diagnose(&db, "sequence ticket_seq nearly exhausted", Some("pg_sequence_exhaustion")).await;
    let row = first_cause(&diagnosis, RootCause::SequenceExhaustion);
    assert_eq!(column(&row, "sequence_name"), "ticket_seq");
    assert_eq!(column(&row, "limited_by"), "max_value");
    run_first_candidate(&db, &diagnosis).await;

    let client = admin(&db).await;
    client.batch_execute("SELECT setval('ticket_seq', 1000)").await.expect("setval");
    let next: i64 = client.query_one("SELECT nextval('ticket_seq')", &[]).await.expect("nextval past 1000").get(0);
    assert_eq!(next, 1001, "nextval goes past the old MAXVALUE");
    assert_no_longer(
        &db,
        "sequence ticket_seq nearly exhausted",
        Some("pg_sequence_exhaustion"),
        RootCause::SequenceExhaustion,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_integer_sequence_at_its_type_limit_is_sequence_exhaustion_fixed_by_bigint() {
    let _server_wide = SERVER_WIDE.lock().await;
    let db = fresh_database().await;
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE tickets (id bigint PRIMARY KEY, subject text);
             CREATE SEQUENCE tickets_id_seq AS integer OWNED BY tickets.id;
             ALTER TABLE tickets ALTER COLUMN id SET DEFAULT nextval('tickets_id_seq');
             SELECT setval('tickets_id_seq', 2000000000);",
        )
        .await
        .expect("fixture");

    let diagnosis = diagnose(&db, "sequence tickets_id_seq nearly exhausted", Some("pg_sequence_exhaustion")).await;
    let row = first_cause(&diagnosis, RootCause::SequenceExhaustion);
    assert_eq!(column(&row, "sequence_name"), "tickets_id_seq");
    assert_eq!(column(&row, "limited_by"), "type", "the bigint column is not the limit: {row:?}");
    run_first_candidate(&db, &diagnosis).await;

    admin(&db)
        .await
        .batch_execute(
            "SELECT setval('tickets_id_seq', 2147483647); INSERT INTO tickets (subject) VALUES ('past int4')",
        )
        .await
        .expect("an id past the integer range is handed out");
    assert_no_longer(
        &db,
        "sequence tickets_id_seq nearly exhausted",
        Some("pg_sequence_exhaustion"),
        RootCause::SequenceExhaustion,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slot_no_standby_reads_is_replication_lag() {
    let _server_wide = SERVER_WIDE.lock().await;
    let db = fresh_database().await;
    let slot = format!("gone_standby_{}", &db[2..]);
    admin(&db)
        .await
        .batch_execute(&format!("SELECT pg_create_physical_replication_slot('{slot}', true)"))
        .await
        .expect("slot");
    admin(&db)
        .await
        .batch_execute(
            "CREATE TABLE wal_maker AS SELECT g, repeat('x', 200) AS filler FROM generate_series(1, 30000) g",
        )
        .await
        .expect("WAL written past the slot");

    let diagnosis = diagnose(&db, "pg_wal growing: replication slot inactive", None).await;
    let row = first_cause(&diagnosis, RootCause::ReplicationLag);
    assert_eq!(column(&row, "slot_name"), slot);
    run_first_candidate(&db, &diagnosis).await;

    poll(
        &db,
        &format!("SELECT count(*) FROM pg_replication_slots WHERE slot_name = '{slot}'"),
        "the slot is dropped",
        |n| n == 0.0,
    )
    .await;
}

// --- memory and resources --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn sorts_spilling_under_a_tiny_work_mem_are_small_memory_alloc() {
    let db = fresh_database().await;
    load(
        &db,
        &format!(
            "CREATE EXTENSION pg_stat_statements;
             CREATE TABLE readings (id int, code text);
             INSERT INTO readings SELECT g, md5(g::text) FROM generate_series(1, 150000) g;
             ALTER DATABASE {db} SET work_mem = '64kB';"
        ),
    )
    .await;
    analyze(&db).await;
    const SORT: &str = "SELECT id FROM readings ORDER BY code";
    let workload = admin(&db).await;
    for _ in 0..3 {
        workload.query(SORT, &[]).await.expect("sort");
    }
    drop(workload);

    let diagnosis = diagnose(&db, "temporary files written on app", None).await;
    let row = first_cause(&diagnosis, RootCause::SmallMemoryAlloc);
    assert!(column(&row, "query").contains("ORDER BY code"), "{row:?}");
    assert_eq!(column(&row, "work_mem_kb"), "64");
    run_first_candidate(&db, &diagnosis).await;

    // A new session gets the database's new work_mem and sorts in memory.
    let plan: Vec<String> = admin(&db)
        .await
        .query(&format!("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {SORT}"), &[])
        .await
        .expect("explain")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("quicksort") && !plan.contains("external"), "the sort stays in memory:\n{plan}");
}
