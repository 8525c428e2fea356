//! The shipped Oracle check policies (`policies/checks/oracle/`) on a live Oracle: each health
//! query runs as the scheduler runs it (`run_check`, the read-only path), within its time
//! limit, and returns every column its file names (thresholds, `object:`, `## Forecast`, the
//! fields of its `fix_policy:` alert); `dataguard_lag` returns no row on a primary.
//! `src/policy/oracle_check_tests.rs` proves the same queries against the documented catalog
//! without a server.
//!
//! It runs when `SENTRI_TEST_ORACLE_DSN` is set (with `SENTRI_TEST_ORACLE_USER`, default
//! `sentri_agent`, and `SENTRI_TEST_ORACLE_PASSWORD`, as `tests/diagnose_oracle.rs` reads them);
//! without the DSN it says it was skipped and returns. The account needs to read the dictionary
//! (SELECT ANY DICTIONARY or SELECT_CATALOG_ROLE); it changes nothing.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use sentri::checks::{DEFAULT_LIMITS, run_check};
use sentri::config::{Config, DatabaseConfig};
use sentri::home::Home;
use sentri::policy::check::ForecastLimit;
use sentri::policy::{DbKind, PolicySet};
use sentri::targets::{ConnectOptions, Target, Values};

/// The Oracle test database from the environment, or `None` after saying why the test is skipped.
fn oracle(test: &str) -> Option<DatabaseConfig> {
    let Some(dsn) = std::env::var("SENTRI_TEST_ORACLE_DSN").ok().filter(|v| !v.is_empty()) else {
        let _ = writeln!(std::io::stderr(), "skipped: {test} (set SENTRI_TEST_ORACLE_DSN)");
        return None;
    };
    let user = std::env::var("SENTRI_TEST_ORACLE_USER").unwrap_or_else(|_| "sentri_agent".to_owned());
    let password = std::env::var("SENTRI_TEST_ORACLE_PASSWORD").unwrap_or_default();
    let yaml = format!(
        "databases:\n  - name: orachecks\n    engine: oracle\n    environment: DEV\n    \
         connection_string: \"{dsn}\"\n    username: {user}\n"
    );
    let env = move |var: &str| (var == "SENTRI_DB_ORACHECKS_PASSWORD").then(|| password.clone());
    let loaded = Config::from_yaml(&yaml, Path::new("oracle-checks-test.yaml"), &env).expect("test configuration");
    loaded.config.databases.into_iter().next()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_oracle_check_runs_on_the_read_only_path_and_returns_its_columns() {
    let Some(config) = oracle("every_oracle_check_runs_on_the_read_only_path_and_returns_its_columns") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    Home::at(home.path()).init(false).expect("the default pack installs");
    let set = PolicySet::load(home.path());
    let options = ConnectOptions {
        connect_timeout: Duration::from_secs(10),
        call_timeout: Duration::from_secs(60),
        pool_size: 1,
    };
    let target = Target::connect(&config, &options).await.expect("connects to the Oracle test database");
    let role = target
        .query("SELECT database_role FROM v$database", &Values::new())
        .await
        .expect("v$database")
        .get(0, "database_role")
        .and_then(|value| value.as_text())
        .unwrap_or_default();
    let checks: Vec<_> = set.checks.iter().filter(|check| check.engine == DbKind::Oracle).collect();
    assert!(checks.len() >= 9, "{:?}", checks.iter().map(|c| &c.name).collect::<Vec<_>>());
    for check in checks {
        let started = Instant::now();
        let outcome = run_check(&target, "orachecks", check, &DEFAULT_LIMITS)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", check.name));
        assert!(started.elapsed() < Duration::from_secs(30), "{} took {:?}", check.name, started.elapsed());
        if check.name == "dataguard_lag" && role == "PRIMARY" {
            assert_eq!(outcome.rows, 0, "dataguard_lag returns rows only on a standby");
        }
        let read = target
            .query_limited(&check.health_query.sql, &Values::new(), &DEFAULT_LIMITS)
            .await
            .unwrap_or_else(|error| panic!("{}: {error}", check.name));
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
            let alert = set.alerts.iter().find(|alert| &alert.name == fix).expect("the fix policy is shipped");
            named.extend(alert.fields.iter().map(|field| field.name.as_str()));
        }
        for column in named {
            assert!(columns.contains(column), "{}: `{column}` is not a column of its rows {columns:?}", check.name);
        }
    }
    target.close().await;
}
