//! Bulk work on a real PostgreSQL: a load that writes more WAL than max_wal_size allows between
//! checkpoints forces checkpoint after checkpoint, and the diagnosis names INSERT_LARGE_DATA
//! and proposes more WAL room. Running its first candidate's SQL, as printed (ALTER SYSTEM and
//! a reload), makes the same load run without a forced checkpoint.
//!
//! Its own test binary, so its own server: the fix changes a server-wide setting, and the
//! checkpoint counters are the whole server's.

mod common;

use std::time::{Duration, Instant};

use common::diagnosis;
use common::postgres::{admin, fresh_database};
use sentri::domain::RootCause;

/// About 60 MB of WAL: three forced checkpoints under a 32 MB max_wal_size, none under 128 MB.
const BULK_LOAD: &str = "CREATE TABLE bulk AS SELECT g, repeat('x', 100) AS filler FROM generate_series(1, 400000) g";

async fn checkpoints_requested(client: &tokio_postgres::Client) -> i64 {
    client.query_one("SELECT checkpoints_req FROM pg_stat_bgwriter", &[]).await.expect("bgwriter").get(0)
}

/// Resets the checkpoint counters, runs the bulk load, and returns how many checkpoints it
/// forced once the checkpointer has reported them (it reports at the end of each checkpoint).
async fn bulk_load(db: &str, settle: Duration) -> i64 {
    let client = admin(db).await;
    client.batch_execute("DROP TABLE IF EXISTS bulk").await.expect("drop");
    client.batch_execute("CHECKPOINT").await.expect("checkpoint");
    // The CHECKPOINT just asked for is counted when the checkpointer reports it.
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.batch_execute("SELECT pg_stat_reset_shared('bgwriter')").await.expect("reset");
    client.batch_execute(BULK_LOAD).await.expect("bulk load");
    let deadline = Instant::now() + settle;
    let mut seen = checkpoints_requested(&client).await;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen = checkpoints_requested(&client).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bulk_load_that_forces_checkpoints_is_insert_large_data() {
    let db = fresh_database().await;
    let client = admin(&db).await;
    for statement in
        ["ALTER SYSTEM SET min_wal_size = '32MB'", "ALTER SYSTEM SET max_wal_size = '32MB'", "SELECT pg_reload_conf()"]
    {
        client.batch_execute(statement).await.expect("a small max_wal_size");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let forced = bulk_load(&db, Duration::from_secs(3)).await;
    assert!(forced >= 3, "the load forces checkpoints under 32 MB: {forced}");

    let diagnosis = diagnosis::diagnose(&db, "checkpoints are occurring too frequently", None).await;
    let report = diagnosis::report(&diagnosis);
    assert_eq!(diagnosis.first_cause(), RootCause::InsertLargeData, "{report}");
    let row = &diagnosis.root_causes[0].evidence[0].row;
    assert_eq!(row.get("max_wal_size_mb").map(String::as_str), Some("32"), "{report}");
    let candidate = &diagnosis.candidates[0];
    assert_eq!(candidate.root_cause, RootCause::InsertLargeData, "{report}");
    assert_eq!(candidate.forward.len(), 2, "ALTER SYSTEM and a reload: {report}");
    for statement in &candidate.forward {
        client.batch_execute(statement).await.unwrap_or_else(|error| panic!("{statement}: {error:?}"));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let size: String = admin(&db).await.query_one("SHOW max_wal_size", &[]).await.expect("show").get(0);
    assert_eq!(size, "128MB", "{report}");
    let forced = bulk_load(&db, Duration::from_secs(3)).await;
    assert_eq!(forced, 0, "the same load forces no checkpoint with the new room");
    for statement in ["ALTER SYSTEM RESET max_wal_size", "ALTER SYSTEM RESET min_wal_size", "SELECT pg_reload_conf()"] {
        client.batch_execute(statement).await.expect("reset");
    }
}
