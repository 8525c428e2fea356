//! Oracle's failures turned into errors a DBA can act on: the ORA-/TNS- code and the driver's
//! own failure kinds become one [`ErrorKind`], with a hint that names the thing to change (the
//! environment variable, the listener command, the grant).
//!
//! The mapping is a pure function over the code and the message ([`map_failure`]); the thin
//! wrapper [`from_driver`] only reads the driver's error into that shape. A password never
//! appears in the result: messages pass through [`redact`] with the password in hand.

use crate::config::{password_env_var, username_env_var};
use crate::targets::{ErrorKind, TargetError};

/// When the failure happened: the same driver failure means different things while connecting
/// (the listener closed on us: wrong port or TCPS expected) and during a call (the session died).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Connect,
    Call,
}

/// What the driver reported, reduced to what the mapping needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverClass {
    /// The database or the listener sent an ORA- error number.
    Database,
    /// A socket read or connect ran past its limit.
    Timeout,
    /// The peer closed the connection.
    Closed,
    /// The driver closed the connection after a failed recovery.
    Unrecoverable,
    /// An operating-system network error (refused, unreachable, name not resolved…).
    Io,
    /// The TLS handshake or the wallet failed.
    Tls,
    /// The connect string or the tnsnames lookup failed.
    Address,
    /// An alias was given but no `TNS_ADMIN` (or `ORACLE_HOME`) says where tnsnames.ora is.
    NoConfigDir,
    /// No user or password reached the driver.
    NoCredentials,
    /// Anything else (conversion, protocol…): reported as a statement failure.
    Other,
}

/// The grants a read-only monitoring account needs (oracle-queries.md §0.1).
pub const PRIVILEGE_HINT: &str = "grant the account CREATE SESSION and SELECT_CATALOG_ROLE (or SELECT ANY \
     DICTIONARY); in a CDB, create it as a common user and ALTER USER … SET CONTAINER_DATA=ALL \
     CONTAINER=CURRENT from the root";

/// Maps one failure. `code` is the ORA- number when there is one; `sql` the statement that
/// failed (ORA-00942 is a privilege problem only on a dictionary view); `uses_tcps` whether
/// the connect string asked for TLS.
pub fn map_failure(
    database: &str,
    class: DriverClass,
    code: Option<u32>,
    message: &str,
    phase: Phase,
    sql: Option<&str>,
    uses_tcps: bool,
) -> TargetError {
    let (kind, hint) = match (class, code) {
        (DriverClass::Database, Some(code)) => classify_code(database, code, sql),
        (_, Some(code)) if class != DriverClass::Io => classify_code(database, code, sql),
        (DriverClass::Timeout, _) => match phase {
            Phase::Connect => {
                (ErrorKind::ConnectTimeout, Some("check that the host and port are reachable from here".into()))
            }
            Phase::Call => (ErrorKind::CallTimeout, Some(call_timeout_hint())),
        },
        (DriverClass::Closed, _) => match phase {
            Phase::Connect => (ErrorKind::Unreachable, Some(closed_during_connect_hint(uses_tcps))),
            Phase::Call => (ErrorKind::ConnectionLost, Some(lost_hint())),
        },
        (DriverClass::Unrecoverable, _) => (ErrorKind::ConnectionLost, Some(lost_hint())),
        (DriverClass::Io, _) => classify_io(message, phase, uses_tcps),
        (DriverClass::Tls, _) => (ErrorKind::Tls, Some(tls_hint())),
        (DriverClass::Address, _) => (
            ErrorKind::BadConnectString,
            Some("use host:port/service, tcps://host:port/service, a (DESCRIPTION=…) or a tnsnames alias".into()),
        ),
        (DriverClass::NoConfigDir, _) => (
            ErrorKind::BadConnectString,
            Some("set TNS_ADMIN to the directory holding tnsnames.ora, or use host:port/service".into()),
        ),
        (DriverClass::NoCredentials, _) => (ErrorKind::NoPassword, Some(format!("set {}", password_env_var(database)))),
        (DriverClass::Database | DriverClass::Other, _) => (ErrorKind::Statement, None),
    };
    let mut error = TargetError::new(database, kind, message.trim());
    if let Some(code) = code {
        error = error.with_code(format!("ORA-{code:05}"));
    }
    if let Some(hint) = hint {
        error = error.with_hint(hint);
    }
    error
}

/// Kind and hint for an ORA- number (TNS- errors reach a client as ORA-12xxx).
pub fn classify_code(database: &str, code: u32, sql: Option<&str>) -> (ErrorKind, Option<String>) {
    match code {
        1017 => (
            ErrorKind::AuthenticationFailed,
            Some(format!(
                "the user or password was refused: check {} and {} (or `username:` in sentri.yaml)",
                password_env_var(database),
                username_env_var(database)
            )),
        ),
        28000 => (ErrorKind::AuthenticationFailed, Some("the account is locked: ALTER USER … ACCOUNT UNLOCK".into())),
        28001 => (
            ErrorKind::AuthenticationFailed,
            Some(format!("the password has expired: set a new one and put it in {}", password_env_var(database))),
        ),
        1045 => (
            ErrorKind::InsufficientPrivilege,
            Some("the account lacks CREATE SESSION: GRANT CREATE SESSION TO …".into()),
        ),
        12514 | 12505 => (
            ErrorKind::UnknownService,
            Some(
                "the listener does not know this service or SID: `lsnrctl services` on the database host lists \
                 the ones it knows; a PDB's service is usually its name plus the DB domain"
                    .into(),
            ),
        ),
        12541 | 12543 | 12545 | 12560 | 12537 | 12547 => (
            ErrorKind::Unreachable,
            Some("is the listener running on that host and port? `lsnrctl status` on the database host".into()),
        ),
        12516 | 12518 | 12519 | 12520 | 12526 | 12527 | 12528 => (
            ErrorKind::Unreachable,
            Some(
                "the listener has no handler for the service: the instance may be down, restricted or out of processes"
                    .into(),
            ),
        ),
        1033 | 1034 | 1089 | 1090 | 27101 => (
            ErrorKind::Unreachable,
            Some("the instance is not open (starting, stopping or down): check the alert log".into()),
        ),
        12170 | 12535 => {
            (ErrorKind::ConnectTimeout, Some("check that the host and port are reachable from here".into()))
        }
        1013 => (ErrorKind::CallTimeout, Some(call_timeout_hint())),
        1031 => (ErrorKind::InsufficientPrivilege, Some(PRIVILEGE_HINT.into())),
        942 if sql.is_some_and(names_dictionary_view) => {
            (ErrorKind::InsufficientPrivilege, Some(PRIVILEGE_HINT.into()))
        }
        1456 | 16000 => (
            ErrorKind::ReadOnlyViolation,
            Some("a write was attempted on the read-only path: only plain queries belong there".into()),
        ),
        3113 | 3114 | 3135 | 3136 => (ErrorKind::ConnectionLost, Some(lost_hint())),
        28759 | 28860 | 28862 | 28864 | 28865 | 29002 | 29003 | 29019 | 29024 | 29039 | 29040 | 29106 | 29113 => {
            (ErrorKind::Tls, Some(tls_hint()))
        }
        _ => (ErrorKind::Statement, None),
    }
}

/// Whether a statement reads a dictionary or dynamic performance view, where ORA-00942 means
/// "no privilege" rather than "no such table".
pub fn names_dictionary_view(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    ["v$", "gv$", "v_$", "gv_$", "dba_", "cdb_", "sys.v", "sys.dba_", "sys.cdb_"].iter().any(|prefix| {
        lower.match_indices(prefix).any(|(index, _)| {
            index == 0
                || !(bytes[index - 1].is_ascii_alphanumeric() || bytes[index - 1] == b'_' || bytes[index - 1] == b'$')
        })
    })
}

fn classify_io(message: &str, phase: Phase, uses_tcps: bool) -> (ErrorKind, Option<String>) {
    let lower = message.to_ascii_lowercase();
    let tls_words = ["certificate", "tls", "handshake", "fatal alert", "unknownissuer", "peer sent"];
    if tls_words.iter().any(|word| lower.contains(word)) {
        return (ErrorKind::Tls, Some(tls_hint()));
    }
    if lower.contains("refused") {
        return (
            ErrorKind::Unreachable,
            Some("nothing listens on that host and port: is the listener running? `lsnrctl status`".into()),
        );
    }
    if lower.contains("timed out") {
        return match phase {
            Phase::Connect => {
                (ErrorKind::ConnectTimeout, Some("check that the host and port are reachable from here".into()))
            }
            Phase::Call => (ErrorKind::CallTimeout, Some(call_timeout_hint())),
        };
    }
    let name_words = ["lookup", "resolve", "name or service not known", "no such host", "nodename", "no address"];
    if name_words.iter().any(|word| lower.contains(word)) {
        return (ErrorKind::Unreachable, Some("the host name does not resolve: check it and DNS".into()));
    }
    match phase {
        Phase::Connect if lower.contains("reset") || lower.contains("broken pipe") || lower.contains("aborted") => {
            (ErrorKind::Unreachable, Some(closed_during_connect_hint(uses_tcps)))
        }
        Phase::Connect => (ErrorKind::Unreachable, None),
        Phase::Call => (ErrorKind::ConnectionLost, Some(lost_hint())),
    }
}

fn call_timeout_hint() -> String {
    "the call was cancelled at the call timeout; the statement may need a cheaper plan or a longer timeout".into()
}

fn lost_hint() -> String {
    "the session ended (killed, instance restart, network drop or an idle-connection firewall); \
     Sentri reconnects on the next call"
        .into()
}

fn tls_hint() -> String {
    "TLS failed: the wallet directory (wallet_location= or TNS_ADMIN) must hold ewallet.pem with the server's CA \
     (and the client certificate for mTLS); an encrypted one needs SENTRI_DB_<NAME>_WALLET_PASSWORD"
        .into()
}

fn closed_during_connect_hint(uses_tcps: bool) -> String {
    if uses_tcps {
        "the server closed the connection during the TLS/Net handshake: check the port is the TCPS listener \
         and that the wallet holds the server's CA"
            .into()
    } else {
        "the server closed the connection during the handshake: is this port an Oracle listener, and does it \
         expect TCPS (write tcps://host:port/service)?"
            .into()
    }
}

/// Replaces every occurrence of `secret` with `***`. Secrets shorter than 4 characters are
/// left alone: masking every `a` in a message hides nothing and garbles everything.
pub fn redact(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if secret.chars().count() >= 4 => text.replace(secret, "***"),
        _ => text.to_owned(),
    }
}

/// Reads the driver's error into [`map_failure`]. `password` is only used to redact it.
pub fn from_driver(
    database: &str,
    error: &oracledb::Error,
    phase: Phase,
    sql: Option<&str>,
    uses_tcps: bool,
    password: Option<&str>,
) -> TargetError {
    use oracledb::ErrorKind as Driver;
    let message = redact(&error.to_string(), password);
    let (class, code) = match error.kind() {
        Driver::DbError(db_error) => (DriverClass::Database, u32::try_from(db_error.code()).ok()),
        Driver::CallTimeoutExceeded => (DriverClass::Timeout, None),
        Driver::DeadConnection | Driver::NotConnected => (DriverClass::Closed, None),
        Driver::UnableToRecover => (DriverClass::Unrecoverable, None),
        Driver::InvalidServiceName(..) => (DriverClass::Database, Some(12514)),
        Driver::InvalidSid(..) => (DriverClass::Database, Some(12505)),
        Driver::ListenerRefusedConnection(_, _, _, number) => (DriverClass::Database, u32::try_from(*number).ok()),
        Driver::UnexpectedRefuse(_) => (DriverClass::Closed, None),
        Driver::StreamOperation => (DriverClass::Io, None),
        Driver::TlsOperation
        | Driver::PemFileOperation
        | Driver::WalletPasswordMissingOrInvalid(..)
        | Driver::WalletPrivateKeyInvalid(_)
        | Driver::WalletUnreadable(_)
        | Driver::EndUserSecurityContextRequiresTcps => (DriverClass::Tls, None),
        Driver::InvalidConnectString(..)
        | Driver::InvalidDescriptorNode(..)
        | Driver::InvalidNetworkName(_)
        | Driver::TnsAliasNotFound(..)
        | Driver::IfileCycleDetected(..) => (DriverClass::Address, None),
        Driver::NoConfigDir => (DriverClass::NoConfigDir, None),
        Driver::NoCredentials => (DriverClass::NoCredentials, None),
        _ => (DriverClass::Other, None),
    };
    map_failure(database, class, code, &message, phase, sql, uses_tcps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ora(code: u32, message: &str, sql: Option<&str>) -> TargetError {
        map_failure("PROD-DB", DriverClass::Database, Some(code), message, Phase::Call, sql, false)
    }

    #[test]
    fn wrong_password_names_the_environment_variables() {
        let error = ora(1017, "ORA-01017: invalid credential or not authorized; logon denied", None);
        assert_eq!(error.kind, ErrorKind::AuthenticationFailed);
        assert_eq!(error.code.as_deref(), Some("ORA-01017"));
        let hint = error.hint.expect("hint");
        assert!(hint.contains("SENTRI_DB_PROD_DB_PASSWORD") && hint.contains("SENTRI_DB_PROD_DB_USERNAME"), "{hint}");
        assert_eq!(ora(28000, "ORA-28000: The account is locked.", None).kind, ErrorKind::AuthenticationFailed);
        assert_eq!(ora(28001, "ORA-28001: the password has expired", None).kind, ErrorKind::AuthenticationFailed);
    }

    #[test]
    fn unknown_service_and_sid_point_at_lsnrctl() {
        for code in [12514, 12505] {
            let error = ora(code, "listener does not currently know of service requested", None);
            assert_eq!(error.kind, ErrorKind::UnknownService, "ORA-{code}");
            assert!(error.hint.as_deref().is_some_and(|hint| hint.contains("lsnrctl services")));
            assert_eq!(error.code, Some(format!("ORA-{code:05}")));
        }
    }

    #[test]
    fn unreachable_listeners() {
        for code in [12541, 12543, 12545, 12516, 12528, 1034] {
            assert_eq!(ora(code, "TNS", None).kind, ErrorKind::Unreachable, "ORA-{code}");
        }
        let refused =
            map_failure("db", DriverClass::Io, None, "Connection refused (os error 111)", Phase::Connect, None, false);
        assert_eq!(refused.kind, ErrorKind::Unreachable);
        assert!(refused.hint.as_deref().is_some_and(|hint| hint.contains("listener")));
        let dns = map_failure(
            "db",
            DriverClass::Io,
            None,
            "failed to lookup address information: Name or service not known",
            Phase::Connect,
            None,
            false,
        );
        assert_eq!(dns.kind, ErrorKind::Unreachable);
        assert_eq!(ora(12170, "TNS:Connect timeout occurred", None).kind, ErrorKind::ConnectTimeout);
    }

    #[test]
    fn timeouts_depend_on_the_phase() {
        assert_eq!(
            ora(1013, "ORA-01013: user requested cancel of current operation", None).kind,
            ErrorKind::CallTimeout
        );
        let call = map_failure(
            "db",
            DriverClass::Timeout,
            None,
            "the configured call timeout was exceeded",
            Phase::Call,
            None,
            false,
        );
        assert_eq!(call.kind, ErrorKind::CallTimeout);
        let connect = map_failure("db", DriverClass::Timeout, None, "timed out", Phase::Connect, None, false);
        assert_eq!(connect.kind, ErrorKind::ConnectTimeout);
        let io = map_failure(
            "db",
            DriverClass::Io,
            None,
            "connection timed out (os error 110)",
            Phase::Connect,
            None,
            false,
        );
        assert_eq!(io.kind, ErrorKind::ConnectTimeout);
    }

    #[test]
    fn privileges_only_on_dictionary_views_for_ora_00942() {
        let error = ora(1031, "ORA-01031: insufficient privileges", None);
        assert_eq!(error.kind, ErrorKind::InsufficientPrivilege);
        assert!(error.hint.as_deref().is_some_and(|hint| hint.contains("SELECT_CATALOG_ROLE")));
        let dictionary = ora(942, "ORA-00942: table or view does not exist", Some("SELECT name FROM v$database"));
        assert_eq!(dictionary.kind, ErrorKind::InsufficientPrivilege);
        let dba = ora(942, "ORA-00942", Some("select * from DBA_TABLESPACES where bigfile = 'YES'"));
        assert_eq!(dba.kind, ErrorKind::InsufficientPrivilege);
        let application = ora(942, "ORA-00942: table or view does not exist", Some("SELECT * FROM app.orders"));
        assert_eq!(application.kind, ErrorKind::Statement);
        assert!(!names_dictionary_view("SELECT * FROM my_dba_notes"));
        assert!(names_dictionary_view("SELECT COUNT(*) FROM gv$instance"));
        assert!(names_dictionary_view("SELECT * FROM sys.dba_users"));
        assert_eq!(ora(1045, "ORA-01045: lacks CREATE SESSION privilege", None).kind, ErrorKind::InsufficientPrivilege);
    }

    #[test]
    fn read_only_violations() {
        let error =
            ora(1456, "ORA-01456: may not perform insert/delete/update operation inside a READ ONLY transaction", None);
        assert_eq!(error.kind, ErrorKind::ReadOnlyViolation);
        assert_eq!(
            ora(16000, "ORA-16000: database or pluggable database open for read-only access", None).kind,
            ErrorKind::ReadOnlyViolation
        );
    }

    #[test]
    fn tls_and_wallet_failures() {
        for code in [28759, 28860, 29024] {
            assert_eq!(ora(code, "SSL", None).kind, ErrorKind::Tls, "ORA-{code}");
        }
        let wallet = map_failure(
            "db",
            DriverClass::Tls,
            None,
            "wallet with name /w/ewallet.pem unreadable",
            Phase::Connect,
            None,
            true,
        );
        assert_eq!(wallet.kind, ErrorKind::Tls);
        assert!(wallet.hint.as_deref().is_some_and(|hint| hint.contains("ewallet.pem")));
        let handshake = map_failure(
            "db",
            DriverClass::Io,
            None,
            "invalid peer certificate: UnknownIssuer",
            Phase::Connect,
            None,
            true,
        );
        assert_eq!(handshake.kind, ErrorKind::Tls);
    }

    #[test]
    fn lost_connections() {
        for code in [3113, 3114, 3135] {
            assert_eq!(
                ora(code, "end-of-file on communication channel", None).kind,
                ErrorKind::ConnectionLost,
                "ORA-{code}"
            );
        }
        let closed = map_failure("db", DriverClass::Closed, None, "closed", Phase::Call, None, false);
        assert_eq!(closed.kind, ErrorKind::ConnectionLost);
        let during_connect = map_failure("db", DriverClass::Closed, None, "closed", Phase::Connect, None, false);
        assert_eq!(during_connect.kind, ErrorKind::Unreachable);
        assert!(during_connect.hint.as_deref().is_some_and(|hint| hint.contains("tcps://")));
        let reset = map_failure(
            "db",
            DriverClass::Io,
            None,
            "Connection reset by peer (os error 104)",
            Phase::Call,
            None,
            false,
        );
        assert_eq!(reset.kind, ErrorKind::ConnectionLost);
    }

    #[test]
    fn other_errors_are_statement_failures_and_bad_addresses_are_named() {
        assert_eq!(ora(1653, "ORA-01653: unable to extend table", None).kind, ErrorKind::Statement);
        let alias = map_failure(
            "db",
            DriverClass::NoConfigDir,
            None,
            "no configuration directory",
            Phase::Connect,
            None,
            false,
        );
        assert_eq!(alias.kind, ErrorKind::BadConnectString);
        assert!(alias.hint.as_deref().is_some_and(|hint| hint.contains("TNS_ADMIN")));
        let listener = map_failure(
            "db",
            DriverClass::Other,
            Some(12519),
            "listener refused connection. (Similar to ORA-12519)",
            Phase::Connect,
            None,
            false,
        );
        assert_eq!(listener.kind, ErrorKind::Unreachable);
    }

    #[test]
    fn the_password_never_appears() {
        let password = "S3cret-Pa55";
        let message = format!("ORA-01017: invalid credential for scott/{password}@db");
        let error = map_failure(
            "db",
            DriverClass::Database,
            Some(1017),
            &redact(&message, Some(password)),
            Phase::Connect,
            None,
            false,
        );
        let shown = format!("{error} {error:?} {}", serde_json::to_string(&error).expect("json"));
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("***"));
        assert_eq!(redact("a b c", Some("a")), "a b c", "one-letter secrets are not masked");
        assert_eq!(redact("x", None), "x");
    }
}
