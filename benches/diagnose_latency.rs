//! How long a diagnosis takes on PostgreSQL: every specialist and every tool of the default
//! pack (no alert, so nothing is routed away), on a database that gives them work — 300
//! tables with indexes and sequences, dead rows, pg_stat_statements with a few hundred
//! statements, and a live blocking queue. Prints each tool's median and worst time against its
//! own `time_limit`, and the whole diagnosis against the 10 s target. Run with
//! `cargo bench --bench diagnose_latency` (needs PostgreSQL, like the tests).

#[path = "../tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::postgres::{admin, database_config, fresh_database};
use sentri::diagnose::{self, PlanFacts, Request};
use sentri::domain::{DbKind, Environment};
use sentri::policy::PolicySet;
use sentri::targets::{ConnectOptions, Target};

const RUNS: usize = 15;
const TABLES: usize = 300;
const TARGET_MS: u64 = 10_000;

#[tokio::main]
async fn main() {
    let db = fresh_database().await;
    build_workload(&db).await;
    let policies = PolicySet::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policies"));
    let limits: BTreeMap<String, u64> = policies
        .tools_for(DbKind::Postgres)
        .into_iter()
        .map(|tool| (tool.name.clone(), u64::try_from(tool.time_limit.as_millis()).unwrap_or(u64::MAX)))
        .collect();

    // A blocking queue held for the whole bench: the blocking tree has something to walk.
    let holder = admin(&db).await;
    holder.batch_execute("BEGIN; UPDATE t_0 SET v = v + 1 WHERE id = 1").await.expect("holder");
    let mut waiters = Vec::new();
    for _ in 0..5 {
        let waiter = admin(&db).await;
        waiters.push(tokio::spawn(async move {
            let _ = waiter.batch_execute("SET statement_timeout = '120s'; UPDATE t_0 SET v = 0 WHERE id = 1").await;
        }));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let options =
        ConnectOptions { connect_timeout: Duration::from_secs(5), call_timeout: Duration::from_secs(60), pool_size: 4 };
    let target = Target::connect(&database_config(&db), &options).await.expect("connects");
    let mut totals = Vec::new();
    let mut per_tool: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut errors: BTreeMap<String, String> = BTreeMap::new();
    let mut causes = Vec::new();
    for _ in 0..RUNS {
        let request = Request {
            alert: None,
            facts: PlanFacts { workflow_id: "bench", alert_type: "adhoc", database: &db, environment: "DEV" },
            environment: Some(Environment::Dev),
            template: None,
            history: BTreeMap::new(),
            profile: None,
        };
        let diagnosis = diagnose::diagnose(&target, &policies, request).await;
        totals.push(diagnosis.elapsed_ms);
        for tool in &diagnosis.tools {
            per_tool.entry(tool.name.clone()).or_default().push(tool.ms);
            if let Some(error) = &tool.error {
                errors.insert(tool.name.clone(), error.clone());
            }
        }
        causes = diagnosis.root_causes.iter().map(|finding| finding.cause.to_string()).collect();
    }
    target.close().await;
    drop(holder);
    for waiter in waiters {
        let _ = waiter.await;
    }

    println!("diagnosis on PostgreSQL: {TABLES} tables, {RUNS} runs, every specialist and tool of the pack");
    println!("{:<22} {:>8} {:>8} {:>10}", "tool", "p50 ms", "max ms", "limit ms");
    let mut over_limit = Vec::new();
    for (name, times) in &mut per_tool {
        times.sort_unstable();
        let limit = limits.get(name).copied().unwrap_or(0);
        let worst = times.last().copied().unwrap_or(0);
        if worst > limit {
            over_limit.push(name.clone());
        }
        println!("{name:<22} {:>8} {worst:>8} {limit:>10}", times[times.len() / 2]);
    }
    totals.sort_unstable();
    let (median, worst) = (totals[totals.len() / 2], totals[totals.len() - 1]);
    println!("whole diagnosis: p50 {median} ms, max {worst} ms (target < {TARGET_MS} ms)");
    println!("causes named: {}", causes.join(", "));
    for (name, error) in &errors {
        println!("tool {name} erred: {error}");
    }
    println!(
        "verdict: {} ; tools over their own limit: {}",
        if worst < TARGET_MS { "under target" } else { "OVER TARGET" },
        if over_limit.is_empty() { "none".to_owned() } else { over_limit.join(", ") }
    );
}

/// Tables with a primary key, a secondary and a duplicate index, a sequence each, rows, dead
/// rows in some, and pg_stat_statements with a spread of statements.
async fn build_workload(db: &str) {
    let client = admin(db).await;
    client.batch_execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").await.expect("pg_stat_statements");
    for index in 0..TABLES {
        client
            .batch_execute(&format!(
                "CREATE TABLE t_{index} (id int PRIMARY KEY, v int, note text);
                 CREATE INDEX t_{index}_v ON t_{index} (v);
                 CREATE INDEX t_{index}_v_note ON t_{index} (v, note);
                 CREATE SEQUENCE s_{index} MAXVALUE 100000;
                 INSERT INTO t_{index} SELECT g, g % 10, md5(g::text) FROM generate_series(1, 200) g;"
            ))
            .await
            .expect("table");
        if index % 10 == 0 {
            client.batch_execute(&format!("UPDATE t_{index} SET v = v + 1")).await.expect("dead rows");
        }
        client.query(&format!("SELECT count(*) FROM t_{index} WHERE note LIKE $1"), &[&"a%"]).await.expect("stmt");
    }
    client.batch_execute("ANALYZE").await.expect("analyze");
}
