//! Diagnosis on a live Oracle, with the default pack: each test makes one anomaly really happen
//! — a small tablespace filled past 90 %, a row lock held by an idle transaction, the same lock
//! held by a session still running, a cartesian join left running — and asserts that the
//! diagnosis names its root cause first, with the evidence row of the object or session at
//! fault, and that running the first candidate's SQL, exactly as the diagnosis prints it,
//! clears the anomaly (checked by Oracle's own views). `src/diagnose/oracle_rules_tests.rs`
//! proves the same rules on rows built by hand, without a server.
//!
//! They run when `SENTRI_TEST_ORACLE_DSN` is set (the connect string, as `connection_string` in
//! sentri.yaml takes it), with `SENTRI_TEST_ORACLE_USER` (default `sentri_agent`) and
//! `SENTRI_TEST_ORACLE_PASSWORD`, as `tests/target_scenarios.rs` reads them; without the DSN each
//! test says it was skipped and returns. The account must be able to do what the scenarios do
//! and what the fixes do: create and drop a tablespace and tables in it (CREATE TABLESPACE, DROP
//! TABLESPACE, UNLIMITED TABLESPACE or a quota), ALTER TABLESPACE, ALTER SYSTEM (kill and
//! cancel), and read the dictionary (SELECT ANY DICTIONARY): a test database's DBA account.
//! Point it at a PDB or non-CDB of its own: the scenarios add a datafile and kill sessions.
//!
//! Every workload is bounded: its sessions carry a call timeout, and every wait polls against a
//! deadline. The runaway query needs its statement to pass the rule's 300 s, so that test takes
//! about five and a half minutes.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use sentri::config::{Config, DatabaseConfig};
use sentri::diagnose::{self, AlertContext, PlanFacts, Request};
use sentri::domain::{Diagnosis, Environment, RootCause};
use sentri::policy::PolicySet;
use sentri::targets::oracle::connect::parse_connect_string;
use sentri::targets::{ConnectOptions, Target, Value, Values};

/// The Oracle test database from the environment.
#[derive(Clone)]
struct Oracle {
    dsn: String,
    user: String,
    password: String,
    config: DatabaseConfig,
}

/// The database, or `None` after saying on stderr (past the harness's capture) why `test` is
/// skipped.
fn oracle(test: &str) -> Option<Oracle> {
    let Some(dsn) = std::env::var("SENTRI_TEST_ORACLE_DSN").ok().filter(|v| !v.is_empty()) else {
        let _ = writeln!(std::io::stderr(), "skipped: {test} (set SENTRI_TEST_ORACLE_DSN)");
        return None;
    };
    let user = std::env::var("SENTRI_TEST_ORACLE_USER").unwrap_or_else(|_| "sentri_agent".to_owned());
    let password = std::env::var("SENTRI_TEST_ORACLE_PASSWORD").unwrap_or_default();
    let yaml = format!(
        "databases:\n  - name: oradiag\n    engine: oracle\n    environment: DEV\n    \
         connection_string: \"{dsn}\"\n    username: {user}\n"
    );
    let secret = password.clone();
    let env = move |var: &str| (var == "SENTRI_DB_ORADIAG_PASSWORD").then(|| secret.clone());
    let loaded = Config::from_yaml(&yaml, Path::new("oracle-diagnose-test.yaml"), &env).expect("test configuration");
    let config = loaded.config.databases.into_iter().next().expect("one database");
    Some(Oracle { dsn, user, password, config })
}

fn options() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(10), call_timeout: Duration::from_secs(60), pool_size: 2 }
}

async fn target(db: &Oracle) -> Target {
    Target::connect(&db.config, &options()).await.expect("connects to the Oracle test database")
}

/// A session of its own, outside Sentri's pool, for a workload that must hold a transaction
/// open or run for minutes; every call is bounded by `call_timeout`. Blocking.
fn session(db: &Oracle, call_timeout: Duration) -> oracledb::Connection {
    let address = parse_connect_string(&db.dsn).expect("SENTRI_TEST_ORACLE_DSN is a connect string");
    let config = oracledb::Config::default()
        .set_credentials(&db.user, &db.password)
        .set_connect_string(&address.connect_string)
        .expect("the driver reads the connect string");
    let connection = oracledb::connect(config).expect("a workload session connects");
    connection.set_call_timeout(Some(call_timeout)).expect("call timeout");
    connection
}

/// The SID of `connection`'s session. Blocking.
fn sid_of(connection: &oracledb::Connection) -> String {
    let mut rows = connection.query("SELECT SYS_CONTEXT('USERENV', 'SID') FROM dual", &[]).expect("SID");
    let row = rows.next().expect("one row").expect("a readable row");
    row.get::<String>(0).expect("the SID as text")
}

fn pack_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The default pack; a specialist, Oracle tool or brain file that does not load fails by name.
fn pack() -> PolicySet {
    let set = PolicySet::load(&pack_root());
    let watched = [pack_root().join("agents"), pack_root().join("tools/oracle"), pack_root().join("brain")];
    let problems: Vec<String> = set
        .problems
        .iter()
        .filter(|problem| watched.iter().any(|dir| problem.path.starts_with(dir)))
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "the pack has problems:\n{}", problems.join("\n"));
    set
}

/// Diagnoses the database for an alert with `subject` and `alert_type`, as the engine does after
/// VERIFIED on a DEV database.
async fn diagnose(db: &Oracle, subject: &str, alert_type: &str) -> Diagnosis {
    let set = pack();
    let target = target(db).await;
    let alert =
        AlertContext { subject: subject.to_owned(), alert_type: Some(alert_type.to_owned()), ..Default::default() };
    let request = Request {
        alert: Some(&alert),
        facts: PlanFacts { workflow_id: "diagnose-test", alert_type, database: "oradiag", environment: "DEV" },
        environment: Some(Environment::Dev),
        template: None,
        history: BTreeMap::new(),
        profile: None,
    };
    let diagnosis = diagnose::diagnose(&target, &set, request).await;
    target.close().await;
    diagnosis
}

fn report(diagnosis: &Diagnosis) -> String {
    sentri::diagnose::text::report(diagnosis, None, sentri::diagnose::text::Statements::Every)
}

/// Asserts the first cause and that the first candidate treats it; returns its first evidence row.
fn first_cause(diagnosis: &Diagnosis, wanted: RootCause) -> BTreeMap<String, String> {
    assert_eq!(diagnosis.first_cause(), wanted, "wrong first cause:\n{}", report(diagnosis));
    let finding = &diagnosis.root_causes[0];
    assert!(!finding.evidence.is_empty(), "{wanted} without evidence:\n{}", report(diagnosis));
    assert!(
        diagnosis.candidates.first().is_some_and(|candidate| candidate.root_cause == wanted),
        "the first candidate does not treat {wanted}:\n{}",
        report(diagnosis)
    );
    finding.evidence[0].row.clone()
}

fn column<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map_or_else(|| panic!("no column {name} in {row:?}"), String::as_str)
}

/// Whether `sql` still holds a `:name` placeholder outside its string literals.
fn has_placeholder(sql: &str) -> bool {
    let mut quoted = false;
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().any(|(index, byte)| {
        if *byte == b'\'' {
            quoted = !quoted;
        }
        !quoted && *byte == b':' && bytes.get(index + 1).is_some_and(|next| next.is_ascii_alphabetic() || *next == b'_')
    })
}

/// Runs the first candidate's forward SQL as printed, one statement at a time, as a DBA pasting
/// it into SQL*Plus would, in a session of its own.
async fn run_first_candidate(db: &Oracle, diagnosis: &Diagnosis) -> String {
    let candidate = diagnosis.candidates.first().expect("a candidate").clone();
    for statement in &candidate.forward {
        assert!(!has_placeholder(statement), "a placeholder is left in {statement:?}");
    }
    let db = db.clone();
    let statements = candidate.forward.clone();
    tokio::task::spawn_blocking(move || {
        let connection = session(&db, Duration::from_secs(60));
        for statement in &statements {
            connection
                .execute(statement, &[])
                .unwrap_or_else(|error| panic!("the candidate's SQL fails: {statement}\n{error}"));
        }
    })
    .await
    .expect("the fix's session ends");
    candidate.forward.join(";\n")
}

/// The single number `sql` returns (NULL as NaN), on the read-only path.
async fn number(db: &Oracle, sql: &str, values: &Values) -> f64 {
    let target = target(db).await;
    let rows = target.query(sql, values).await.unwrap_or_else(|error| panic!("{sql}: {error}"));
    target.close().await;
    let value = rows.rows.first().and_then(|row| row.first()).cloned().unwrap_or(Value::Null);
    value.as_text().and_then(|text| text.parse::<f64>().ok()).unwrap_or(f64::NAN)
}

/// Polls `sql` until `done` holds, for at most `limit`.
async fn poll(db: &Oracle, sql: &str, values: &Values, what: &str, limit: Duration, done: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + limit;
    loop {
        let value = number(db, sql, values).await;
        if done(value) {
            return value;
        }
        assert!(Instant::now() < deadline, "{what}: still {value} after {limit:?} ({sql})");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn values(pairs: &[(&str, &str)]) -> Values {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), Some((*value).to_owned()))).collect()
}

/// Runs one statement through Sentri's write path (DML committed, DDL as is).
async fn execute(db: &Oracle, sql: &str) -> Result<(), String> {
    let target = target(db).await;
    let outcome = target.execute(sql, &Values::new(), &BTreeMap::new(), &Default::default()).await;
    target.close().await;
    outcome.map(|_| ()).map_err(|error| error.to_string())
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]).to_uppercase()
}

/// Runs `scenario`, then `cleanup` whether it passed or panicked, then passes the panic on.
async fn with_cleanup(scenario: impl std::future::Future<Output = ()>, cleanup: impl std::future::Future<Output = ()>) {
    let outcome = AssertUnwindSafe(scenario).catch_unwind().await;
    cleanup.await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

// --- capacity --------------------------------------------------------------------------------

const USED_PCT: &str = "SELECT ROUND(m.used_percent, 1) AS pct FROM dba_tablespace_usage_metrics m \
                        WHERE m.tablespace_name = :tablespace_name";

#[tokio::test(flavor = "multi_thread")]
async fn a_small_tablespace_filled_past_ninety_percent_is_tablespace_full() {
    let Some(db) = oracle("a_small_tablespace_filled_past_ninety_percent_is_tablespace_full") else { return };
    let tablespace = unique("SENTRI_TS");
    let table = unique("SENTRI_FILL");
    let scenario = async {
        // A file beside the database's own files (or Oracle-managed), 10 MB that cannot grow.
        let omf = number(
            &db,
            "SELECT COUNT(*) FROM v$parameter p WHERE p.name = 'db_create_file_dest' AND p.value IS NOT NULL",
            &Values::new(),
        )
        .await;
        let datafile = if omf >= 1.0 {
            "SIZE 10M AUTOEXTEND OFF".to_owned()
        } else {
            let target = target(&db).await;
            let rows = target
                .query(
                    "SELECT d.file_name FROM dba_data_files d ORDER BY d.file_id FETCH FIRST 1 ROWS ONLY",
                    &Values::new(),
                )
                .await
                .expect("a data file to put the test's beside");
            target.close().await;
            let file = rows.rows[0][0].as_text().expect("a file name");
            let dir = &file[..=file.rfind('/').expect("a file-system path (set db_create_file_dest for ASM)")];
            format!("'{dir}{}_1.dbf' SIZE 10M AUTOEXTEND OFF", tablespace.to_lowercase())
        };
        execute(&db, &format!("CREATE TABLESPACE {tablespace} DATAFILE {datafile}")).await.expect("the tablespace");
        let _ = execute(&db, &format!("ALTER USER {} QUOTA UNLIMITED ON {tablespace}", db.user)).await;
        execute(&db, &format!("CREATE TABLE {table} (pad CHAR(2000)) TABLESPACE {tablespace}"))
            .await
            .expect("the table");
        let ts = values(&[("tablespace_name", &tablespace)]);
        let mut used = 0.0;
        for _ in 0..200 {
            let insert = format!("INSERT INTO {table} SELECT 'x' FROM dual CONNECT BY LEVEL <= 100");
            if let Err(error) = execute(&db, &insert).await {
                assert!(error.contains("ORA-01653"), "filling the tablespace: {error}");
                break;
            }
            used = number(&db, USED_PCT, &ts).await;
            if used >= 92.0 {
                break;
            }
        }
        poll(&db, USED_PCT, &ts, "the tablespace's use", Duration::from_secs(60), |pct| pct >= 90.0).await;

        let diagnosis = diagnose(&db, &format!("Tablespace {tablespace} is {used:.0}% full"), "tablespace_full").await;
        let row = first_cause(&diagnosis, RootCause::TablespaceFull);
        assert_eq!(
            column(&row, "tablespace_name"),
            tablespace,
            "another tablespace of this database ranks first; the fix is not run on it:\n{}",
            report(&diagnosis)
        );
        let ran = run_first_candidate(&db, &diagnosis).await;
        assert!(ran.contains("ADD DATAFILE"), "{ran}");
        poll(&db, USED_PCT, &ts, "the tablespace's use after the fix", Duration::from_secs(60), |pct| pct < 85.0).await;
        let again = diagnose(&db, &format!("Tablespace {tablespace} is {used:.0}% full"), "tablespace_full").await;
        let still = again
            .root_causes
            .iter()
            .flat_map(|finding| &finding.evidence)
            .any(|evidence| evidence.row.get("tablespace_name") == Some(&tablespace));
        assert!(!still, "the tablespace is still evidence after the fix:\n{}", report(&again));
    };
    let cleanup = async {
        let _ = execute(&db, &format!("DROP TABLESPACE {tablespace} INCLUDING CONTENTS AND DATAFILES")).await;
    };
    with_cleanup(scenario, cleanup).await;
}

// --- blocking and sessions -------------------------------------------------------------------

/// How many sessions wait, at the end of their chain, on session `sid`.
const WAITING_ON: &str = "SELECT COUNT(*) AS n FROM gv$session w \
                          WHERE w.final_blocking_session_status = 'VALID' AND w.final_blocking_session = TO_NUMBER(:sid)";

/// Whether session `sid` has an open transaction.
const HAS_TRANSACTION: &str = "SELECT COUNT(*) AS n FROM gv$session s \
                               JOIN gv$transaction t ON t.inst_id = s.inst_id AND t.addr = s.taddr \
                               WHERE s.sid = TO_NUMBER(:sid)";

/// A table with one row for two sessions to fight over.
async fn one_row_table(db: &Oracle, table: &str) {
    execute(db, &format!("CREATE TABLE {table} (id NUMBER PRIMARY KEY, n NUMBER)")).await.expect("the table");
    execute(db, &format!("INSERT INTO {table} (id, n) VALUES (1, 0)")).await.expect("its row");
}

/// A session that updates the row and then waits (for the holder's lock) until it gets it or
/// its call times out; its SID comes first on the channel, then how its update ended.
fn waiter(db: &Oracle, table: &str) -> mpsc::Receiver<Result<String, String>> {
    let (sender, receiver) = mpsc::channel();
    let (db, table) = (db.clone(), table.to_owned());
    std::thread::spawn(move || {
        let connection = session(&db, Duration::from_secs(120));
        let _ = sender.send(Ok(sid_of(&connection)));
        let updated = connection
            .execute(&format!("UPDATE {table} SET n = n + 1 WHERE id = 1"), &[])
            .and_then(|_| connection.commit())
            .map(|()| "updated".to_owned())
            .map_err(|error| error.to_string());
        let _ = sender.send(updated);
    });
    receiver
}

/// The idle holder: updates the row, reports its SID, and leaves its transaction open (INACTIVE)
/// until told to stop or 120 s pass.
fn idle_holder(db: &Oracle, table: &str) -> (String, mpsc::Sender<()>) {
    let (sid_sender, sid_receiver) = mpsc::channel();
    let (stop, stopped) = mpsc::channel::<()>();
    let (db, table) = (db.clone(), table.to_owned());
    std::thread::spawn(move || {
        let connection = session(&db, Duration::from_secs(30));
        connection.execute(&format!("UPDATE {table} SET n = n + 1 WHERE id = 1"), &[]).expect("the holder's update");
        let _ = sid_sender.send(sid_of(&connection));
        let _ = stopped.recv_timeout(Duration::from_secs(120));
        let _ = connection.rollback();
    });
    let sid = sid_receiver.recv_timeout(Duration::from_secs(30)).expect("the holder's SID");
    (sid, stop)
}

/// The active holder: updates the row and sleeps 120 s in the same PL/SQL call, so it stays
/// ACTIVE holding the lock. Its SID comes on the channel before it runs.
fn active_holder(db: &Oracle, table: &str) -> String {
    let (sid_sender, sid_receiver) = mpsc::channel();
    let (db, table) = (db.clone(), table.to_owned());
    std::thread::spawn(move || {
        let connection = session(&db, Duration::from_secs(150));
        let _ = sid_sender.send(sid_of(&connection));
        let block = format!("BEGIN UPDATE {table} SET n = n + 1 WHERE id = 1; DBMS_SESSION.SLEEP(120); ROLLBACK; END;");
        let _ = connection.execute(&block, &[]);
    });
    sid_receiver.recv_timeout(Duration::from_secs(30)).expect("the holder's SID")
}

/// Waits until the waiter is blocked by `holder`, diagnoses, checks the cause and its row, runs
/// the first candidate, and checks the waiter got its row.
async fn blocked_then_cleared(db: &Oracle, table: &str, holder: &str, wanted: RootCause, status: &str) {
    // The holder's update must be in (its transaction open) before the waiter asks.
    let on_holder = values(&[("sid", holder)]);
    poll(db, HAS_TRANSACTION, &on_holder, "the holder's transaction", Duration::from_secs(15), |n| n >= 1.0).await;
    let waiting = waiter(db, table);
    let waiter_sid = waiting.recv_timeout(Duration::from_secs(30)).expect("the waiter's SID").expect("SID");
    poll(db, WAITING_ON, &on_holder, "the waiter behind the holder", Duration::from_secs(30), |n| n >= 1.0).await;

    let diagnosis =
        diagnose(db, "Blocking session alert: sessions waiting on row lock contention", "session_blocker").await;
    let row = first_cause(&diagnosis, wanted);
    assert_eq!(column(&row, "sid"), holder, "the evidence is not the holder:\n{}", report(&diagnosis));
    assert_eq!(column(&row, "status"), status);
    let ran = run_first_candidate(db, &diagnosis).await;
    assert!(ran.starts_with("ALTER SYSTEM KILL SESSION"), "{ran}");
    let outcome = waiting.recv_timeout(Duration::from_secs(60)).expect("the waiter ends");
    assert_eq!(outcome, Ok("updated".to_owned()), "waiter {waiter_sid} did not get the row");
    poll(db, WAITING_ON, &on_holder, "waiters behind the killed holder", Duration::from_secs(30), |n| n == 0.0).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_session_holding_a_row_lock_is_idle_in_transaction() {
    let Some(db) = oracle("an_idle_session_holding_a_row_lock_is_idle_in_transaction") else { return };
    let table = unique("SENTRI_LOCK");
    one_row_table(&db, &table).await;
    let (holder, stop) = idle_holder(&db, &table);
    let scenario = async {
        blocked_then_cleared(&db, &table, &holder, RootCause::IdleInTransaction, "INACTIVE").await;
    };
    let cleanup = async {
        let _ = stop.send(());
        let _ = execute(&db, &format!("DROP TABLE {table} PURGE")).await;
    };
    with_cleanup(scenario, cleanup).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_active_session_holding_a_row_lock_is_lock_contention() {
    let Some(db) = oracle("an_active_session_holding_a_row_lock_is_lock_contention") else { return };
    let table = unique("SENTRI_LOCK");
    one_row_table(&db, &table).await;
    let holder = active_holder(&db, &table);
    let scenario = async {
        blocked_then_cleared(&db, &table, &holder, RootCause::LockContention, "ACTIVE").await;
    };
    let cleanup = async {
        let _ = execute(&db, &format!("DROP TABLE {table} PURGE")).await;
    };
    with_cleanup(scenario, cleanup).await;
}

// --- SQL performance -------------------------------------------------------------------------

/// How long session `sid`'s current call has run, while it is ACTIVE.
const ACTIVE_FOR: &str = "SELECT MAX(s.last_call_et) AS seconds FROM gv$session s \
                          WHERE s.sid = TO_NUMBER(:sid) AND s.status = 'ACTIVE'";

#[tokio::test(flavor = "multi_thread")]
async fn a_cartesian_join_left_running_is_long_running_query() {
    let Some(db) = oracle("a_cartesian_join_left_running_is_long_running_query") else { return };
    let (sid_sender, sid_receiver) = mpsc::channel();
    let (outcome_sender, outcome) = mpsc::channel();
    let worker_db = db.clone();
    std::thread::spawn(move || {
        // Bounded by its call timeout if nothing cancels it.
        let connection = session(&worker_db, Duration::from_secs(420));
        let _ = sid_sender.send(sid_of(&connection));
        let ran = connection
            .query("SELECT COUNT(*) FROM all_objects a, all_objects b, all_objects c", &[])
            .and_then(|mut rows| rows.next().transpose())
            .map(|_| ())
            .map_err(|error| error.to_string());
        let _ = outcome_sender.send(ran);
    });
    let sid = sid_receiver.recv_timeout(Duration::from_secs(30)).expect("the runaway's SID");
    let on_sid = values(&[("sid", &sid)]);
    poll(&db, ACTIVE_FOR, &on_sid, "the runaway's time", Duration::from_secs(360), |seconds| seconds >= 305.0).await;

    let diagnosis = diagnose(&db, "Long running SQL on oradiag", "long_running_sql").await;
    let row = first_cause(&diagnosis, RootCause::LongRunningQuery);
    assert_eq!(column(&row, "sid"), sid, "another session ranks first; it is not cancelled:\n{}", report(&diagnosis));
    let ran = run_first_candidate(&db, &diagnosis).await;
    assert!(ran.starts_with("ALTER SYSTEM CANCEL SQL"), "{ran}");
    let ended = outcome.recv_timeout(Duration::from_secs(60)).expect("the runaway ends");
    let error = ended.expect_err("the runaway was cancelled, not finished");
    assert!(error.contains("ORA-01013"), "{error}");
    poll(&db, ACTIVE_FOR, &on_sid, "the runaway after the cancel", Duration::from_secs(30), |seconds| {
        seconds.is_nan() || seconds < 300.0
    })
    .await;
}
