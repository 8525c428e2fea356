//! Tests of the Oracle target that need no server: the hard connect timeout against a local
//! listener that never answers, a listener that hangs up, refusals that send nothing, and the
//! conversions of fetched values.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::*;
use crate::config::{DatabaseConfig, DbKind, Environment, Secret};

const PASSWORD: &str = "Tiger-Secret-42";

fn database(connection_string: &str) -> DatabaseConfig {
    DatabaseConfig {
        name: "PROD-ORA".to_owned(),
        engine: DbKind::Oracle,
        connection_string: connection_string.to_owned(),
        environment: Environment::Dev,
        username: Some("sentri_ro".to_owned()),
        password: Some(Secret::new(PASSWORD)),
        aliases: Vec::new(),
        autonomy_level: None,
        oracle_version: None,
        architecture: "STANDALONE".to_owned(),
        critical_schemas: Vec::new(),
        business_owner: None,
        dba_owner: None,
    }
}

fn options(connect_timeout: Duration) -> ConnectOptions {
    ConnectOptions { connect_timeout, call_timeout: Duration::from_secs(2), pool_size: 2 }
}

fn assert_no_password(error: &TargetError) {
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(PASSWORD), "{shown}");
}

/// A listener that accepts and then holds each connection open without a word, until the
/// returned sender is dropped.
fn silent_listener() -> (u16, mpsc::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (stop, stopped) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        listener.set_nonblocking(true).expect("nonblocking");
        loop {
            if let Ok((stream, _)) = listener.accept() {
                held.push(stream);
            }
            match stopped.recv_timeout(Duration::from_millis(20)) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                _ => break,
            }
        }
    });
    (port, stop)
}

#[tokio::test]
async fn a_listener_that_never_answers_gives_connect_timeout() {
    let (port, stop) = silent_listener();
    let started = Instant::now();
    let result =
        OracleTarget::connect(&database(&format!("127.0.0.1:{port}/ORCLPDB1")), &options(Duration::from_millis(500)))
            .await;
    let elapsed = started.elapsed();
    let error = result.expect_err("a silent listener cannot produce a session");
    assert_eq!(error.kind, ErrorKind::ConnectTimeout, "{error}");
    assert!(elapsed < Duration::from_secs(5), "returned after {elapsed:?}");
    assert!(elapsed >= Duration::from_millis(400), "the timeout, not something else, ended it: {elapsed:?}");
    assert_eq!(error.database, "PROD-ORA");
    assert!(error.hint.is_some());
    assert_no_password(&error);
    drop(stop);
}

#[tokio::test]
async fn a_listener_that_hangs_up_gives_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    std::thread::spawn(move || {
        if let Some(Ok(mut stream)) = listener.incoming().next() {
            // Read a little of the connect packet so the close is a clean FIN, then hang up.
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let mut buffer = [0u8; 64];
            let _ = stream.read(&mut buffer);
        }
    });
    let started = Instant::now();
    let result =
        OracleTarget::connect(&database(&format!("127.0.0.1:{port}/ORCLPDB1")), &options(Duration::from_secs(5))).await;
    let error = result.expect_err("no Oracle there");
    assert!(started.elapsed() < Duration::from_secs(4), "no hang: {:?}", started.elapsed());
    assert!(matches!(error.kind, ErrorKind::Unreachable | ErrorKind::ConnectionLost), "{error:?}");
    assert!(!error.message.is_empty());
    assert!(error.hint.as_deref().is_some_and(|hint| hint.contains("listener")), "{error:?}");
    assert_no_password(&error);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let error = OracleTarget::connect(&database(&format!("127.0.0.1:{port}/S")), &options(Duration::from_secs(5)))
        .await
        .expect_err("refused");
    assert_eq!(error.kind, ErrorKind::Unreachable, "{error:?}");
    assert_no_password(&error);
}

#[tokio::test]
async fn configuration_problems_are_named_before_any_network() {
    let mut no_password = database("h:1521/s");
    no_password.password = None;
    let error = OracleTarget::connect(&no_password, &options(Duration::from_secs(1))).await.expect_err("no password");
    assert_eq!(error.kind, ErrorKind::NoPassword);
    assert!(error.hint.as_deref().is_some_and(|hint| hint.contains("SENTRI_DB_PROD_ORA_PASSWORD")));

    let error = OracleTarget::connect(&database("h:1521/s?bogus=1"), &options(Duration::from_secs(1)))
        .await
        .expect_err("bad string");
    assert_eq!(error.kind, ErrorKind::BadConnectString);
}

/// A target that never connected, pointed at a port where nothing listens: any call that
/// reached the network would fail as Unreachable, so Refused/Fill prove nothing was sent.
fn unconnected() -> OracleTarget {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address").port()
    };
    let settings =
        Settings::read(&database(&format!("127.0.0.1:{port}/S")), &options(Duration::from_secs(2))).expect("settings");
    let config = settings.driver_config().expect("config");
    OracleTarget::from_parts(settings, config)
}

#[tokio::test]
async fn the_read_only_path_refuses_anything_but_a_query_without_sending_it() {
    let target = unconnected();
    for statement in [
        "DELETE FROM app.orders",
        "UPDATE t SET a = 1",
        "ALTER TABLESPACE users ADD DATAFILE SIZE 1G",
        "BEGIN dbms_stats.gather_schema_stats('APP'); END;",
        "  -- comment\n  DROP TABLE t",
    ] {
        let error = target.query(statement, &Values::new()).await.expect_err("refused");
        assert_eq!(error.kind, ErrorKind::Refused, "{statement}: {error:?}");
    }
    let error = target.query("SELECT :missing FROM dual", &Values::new()).await.expect_err("missing value");
    assert_eq!(error.kind, ErrorKind::Fill);
    // A query does reach the network (and finds nobody there).
    let error = target.query("SELECT 1 FROM dual;", &Values::new()).await.expect_err("nobody home");
    assert_eq!(error.kind, ErrorKind::Unreachable, "{error:?}");
    target.close().await;
}

#[tokio::test]
async fn transactions_refuse_ddl_and_blocks_before_sending_anything() {
    let target = unconnected();
    let values = Values::new();
    let error = target
        .execute_in_transaction(&[("UPDATE t SET a = 1", &values), ("ALTER TABLE t ADD (b NUMBER)", &values)])
        .await
        .expect_err("ddl refused");
    assert_eq!(error.kind, ErrorKind::Refused);
    assert!(error.message.contains("step 2"), "{}", error.message);
    let error = target.execute_in_transaction(&[("BEGIN NULL; END;", &values)]).await.expect_err("block refused");
    assert_eq!(error.kind, ErrorKind::Refused);
}

#[tokio::test]
async fn ddl_values_are_checked_before_any_round_trip() {
    let target = unconnected();
    let identifiers: BTreeMap<String, IdentifierKind> = [("tbs".to_owned(), IdentifierKind::Tablespace)].into();
    let mut values = Values::new();
    values.insert("tbs".into(), Some("USERS;DROP TABLE t".into()));
    let error = target
        .execute("ALTER TABLESPACE :tbs ADD DATAFILE SIZE 100M", &values, &identifiers, &Resolved::new())
        .await
        .expect_err("hostile identifier");
    assert_eq!(error.kind, ErrorKind::Fill, "{error:?}");
    let error = target
        .execute("ALTER TABLESPACE :other ONLINE", &values, &identifiers, &Resolved::new())
        .await
        .expect_err("undeclared");
    assert_eq!(error.kind, ErrorKind::Fill);
    let refused = resolve::lookups(
        Dialect::Oracle,
        &["ALTER TABLESPACE :tbs ADD DATAFILE SIZE 100M"],
        &identifiers,
        &values,
        &Default::default(),
    );
    assert!(matches!(refused, Err(fill::FillError::InvalidIdentifier { .. })), "resolving refuses it too: {refused:?}");
}

#[test]
fn oracle_placeholders_stay_named_binds() {
    let mut values = Values::new();
    values.insert("tbs".into(), Some("USERS".into()));
    values.insert("TOP_SID".into(), None);
    let filled = fill::fill(
        "SELECT ':tbs' AS lit, used FROM dba_tablespaces WHERE tablespace_name = :TBS AND :top_sid IS NULL -- :tbs",
        Dialect::Oracle,
        &values,
        &BTreeMap::new(),
        &Resolved::new(),
    )
    .expect("fills");
    assert_eq!(
        filled.sql,
        "SELECT :tbs AS lit, used FROM dba_tablespaces WHERE tablespace_name = :tbs AND :top_sid IS NULL -- :tbs"
    );
    assert_eq!(filled.binds, [("tbs".to_owned(), Some("USERS".to_owned())), ("top_sid".to_owned(), None)]);
    // The dictionary lookups bind by name: the object's name and its owner.
    let query = resolve::dictionary_query(Dialect::Oracle, IdentifierKind::Sequence).expect("query");
    let binds: Vec<String> = sql::placeholders(query).into_iter().map(|p| p.name).collect();
    assert_eq!(binds, ["name", "schema"]);
}

#[test]
fn numbers_keep_every_digit() {
    assert_eq!(number_value("42"), Value::Int(42));
    assert_eq!(number_value("-9223372036854775808"), Value::Int(i64::MIN));
    assert_eq!(number_value("9223372036854775808"), Value::Decimal("9223372036854775808".into()));
    assert_eq!(number_value("97.5"), Value::Decimal("97.5".into()));
    assert_eq!(number_value("0.000001"), Value::Decimal("0.000001".into()));
    assert_eq!(
        number_value("100000000000000000000000000000000000000"),
        Value::Decimal("1".to_owned() + &"0".repeat(38))
    );
}

#[test]
fn timestamps_as_rfc3339() {
    assert_eq!(timestamp_text([2026, 3, 1, 12, 30, 5], 0, false), "2026-03-01T12:30:05");
    assert_eq!(timestamp_text([2026, 3, 1, 12, 30, 5], 500_000_000, true), "2026-03-01T12:30:05.5Z");
    assert_eq!(timestamp_text([999, 1, 2, 3, 4, 5], 123_456, false), "0999-01-02T03:04:05.000123456");
    let parsed: jiff::Timestamp = timestamp_text([2026, 3, 1, 12, 30, 5], 250_000_000, true).parse().expect("rfc 3339");
    assert_eq!(parsed.subsec_millisecond(), 250);
}

#[test]
fn wallet_password_variable_and_operation_limit() {
    assert_eq!(wallet_password_env_var("prod-ora"), "SENTRI_DB_PROD_ORA_WALLET_PASSWORD");
    assert_eq!(operation_limit(Duration::from_secs(30)), Duration::from_secs(65));
    assert!(breaks_session(ErrorKind::CallTimeout) && !breaks_session(ErrorKind::Statement));
}

#[test]
fn debug_output_hides_the_password() {
    let target = unconnected();
    let shown = format!("{target:?}");
    assert!(shown.contains("PROD-ORA") && !shown.contains(PASSWORD), "{shown}");
}

#[test]
fn a_session_is_reset_by_rollback_then_package_reinitialisation() {
    let mut sent = Vec::new();
    let result: Result<(), String> = reset_session(|statement| {
        sent.push(statement.to_owned());
        Ok(())
    });
    assert_eq!(result, Ok(()));
    assert_eq!(sent, ["ROLLBACK", "BEGIN DBMS_SESSION.MODIFY_PACKAGE_STATE(DBMS_SESSION.REINITIALIZE); END;"]);
    // The block is one PL/SQL block with no placeholders: the driver runs it as it is.
    assert_eq!(sql::statement_kind(&sent[1]), StatementKind::Block);
    assert!(sql::placeholders(&sent[1]).is_empty());
    assert_eq!(sql::strip_terminator(&sent[1]), sent[1]);
}

#[test]
fn a_failed_reset_stops_at_once_and_is_reported() {
    let mut sent = Vec::new();
    let result = reset_session(|statement| {
        sent.push(statement.to_owned());
        Err(format!("ORA-03113 on {statement}"))
    });
    assert_eq!(result, Err("ORA-03113 on ROLLBACK".to_owned()));
    assert_eq!(sent, ["ROLLBACK"], "nothing after a failure; the session is then logged off");
}

#[test]
fn write_access_reads_privileges_roles_and_table_grants() {
    let rows = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    };
    assert!(!oracle_write_access(&[]).can_write);
    let access = oracle_write_access(&rows(&[
        ("PRIVILEGE", "ALTER SYSTEM"),
        ("PRIVILEGE", "DROP ANY TABLE"),
        ("ROLE", "DBA"),
        ("TABLE", "DELETE ON APP.ORDERS"),
    ]));
    assert!(access.can_write);
    assert_eq!(
        access.reasons,
        [
            "system privilege ALTER SYSTEM",
            "system privilege DROP ANY TABLE",
            "role DBA",
            "1 table grant(s): DELETE ON APP.ORDERS"
        ]
    );
    // The query itself passes the Oracle read-only gate it runs through.
    assert_eq!(crate::sql::read_only::check(WRITE_ACCESS_QUERY, crate::sql::Dialect::Oracle), Ok(()));
}
