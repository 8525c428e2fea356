//! Driver errors as `TargetError`s a DBA can act on: the SQLSTATE and the server's words, or for
//! a connection that failed, what to check (host, port, TLS, password, pg_hba.conf).

use std::error::Error as _;
use std::net::IpAddr;

use tokio_postgres::config::Host;

use super::{ConnectOptions, ErrorKind, Phase, TargetError};
use crate::config::{password_env_var, username_env_var};

/// Whether every host is a Unix socket or a loopback address, where plain TCP is acceptable.
pub(super) fn all_local(config: &tokio_postgres::Config) -> bool {
    let host_local = |host: &Host| match host {
        Host::Unix(_) => true,
        Host::Tcp(name) => {
            name.eq_ignore_ascii_case("localhost")
                || name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    };
    config.get_hosts().iter().all(host_local) && config.get_hostaddrs().iter().all(IpAddr::is_loopback)
}

/// The error mapping itself, free of the target so it can be unit-tested.
pub(super) fn classify(
    name: &str,
    error: &tokio_postgres::Error,
    phase: Phase,
    options: &ConnectOptions,
) -> TargetError {
    let credentials_hint = format!(
        "check {} and {} (or the user in the connection string)",
        password_env_var(name),
        username_env_var(name)
    );
    if let Some(db) = error.as_db_error() {
        let code = db.code().code();
        let mut message = db.message().to_owned();
        if let Some(detail) = db.detail() {
            message.push_str(" — ");
            message.push_str(detail);
        }
        let (kind, hint) = match code {
            "28P01" | "28000" => (ErrorKind::AuthenticationFailed, Some(credentials_hint)),
            "3D000" => (
                ErrorKind::UnknownDatabase,
                Some("check the database name in connection_string (`\\l` in psql lists them)".to_owned()),
            ),
            "57014" => (
                ErrorKind::CallTimeout,
                Some(format!(
                    "the statement ran past the call timeout of {} ms and was cancelled by the server",
                    options.call_timeout.as_millis()
                )),
            ),
            "25006" => (
                ErrorKind::ReadOnlyViolation,
                Some("this path is read-only; writes go through an approved fix".to_owned()),
            ),
            "42501" => (
                ErrorKind::InsufficientPrivilege,
                Some("grant the Sentri account the privilege this statement needs (see the policy)".to_owned()),
            ),
            "57P01" | "57P02" | "57P03" => (ErrorKind::ConnectionLost, db.hint().map(str::to_owned)),
            other if other.starts_with("08") => (ErrorKind::ConnectionLost, db.hint().map(str::to_owned)),
            _ => (ErrorKind::Statement, db.hint().map(str::to_owned)),
        };
        let mut mapped = TargetError::new(name, kind, message).with_code(code);
        mapped.hint = hint;
        return mapped;
    }
    if error.is_closed() {
        return TargetError::new(name, ErrorKind::ConnectionLost, "the connection to the server was closed")
            .with_hint("the server restarted or dropped the session; the next call reconnects");
    }
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(current) = cause {
        text.push_str(": ");
        text.push_str(&current.to_string());
        cause = current.source();
    }
    if text.contains("password missing") {
        return TargetError::new(name, ErrorKind::NoPassword, "the server asks for a password and none is configured")
            .with_hint(format!("set {}", password_env_var(name)));
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = error.source();
    let mut io = None;
    while let Some(current) = source {
        if let Some(found) = current.downcast_ref::<std::io::Error>() {
            io = Some(found);
            break;
        }
        source = current.source();
    }
    let tls_failure = io.and_then(std::io::Error::get_ref).and_then(|inner| inner.downcast_ref::<rustls::Error>());
    if let Some(tls) = tls_failure {
        return TargetError::new(name, ErrorKind::Tls, format!("the TLS handshake failed: {tls}")).with_hint(
            "with sslmode=verify-ca or verify-full (or require with sslrootcert), sslrootcert must name the CA that \
             signed the server's certificate, and verify-full needs the host name in that certificate",
        );
    }
    if text.contains("TLS handshake") || text.contains("server does not support TLS") {
        return TargetError::new(name, ErrorKind::Tls, text)
            .with_hint("the server's TLS settings (ssl = on in postgresql.conf) and sslmode must agree");
    }
    if let Some(io) = io {
        return match io.kind() {
            std::io::ErrorKind::TimedOut => {
                TargetError::timeout(name, ErrorKind::ConnectTimeout, "connecting", options.connect_timeout)
                    .with_hint("check the host and port, and that a firewall does not drop the traffic")
            }
            std::io::ErrorKind::ConnectionRefused => {
                TargetError::new(name, ErrorKind::Unreachable, format!("connection refused: {io}"))
                    .with_hint("is PostgreSQL running and listening on that host and port (listen_addresses)?")
            }
            _ if phase == Phase::Call => {
                TargetError::new(name, ErrorKind::ConnectionLost, format!("the connection broke: {io}"))
            }
            _ => TargetError::new(name, ErrorKind::Unreachable, format!("cannot reach the server: {io}"))
                .with_hint("check the host name and the network path to it"),
        };
    }
    if text.contains("invalid configuration") {
        return TargetError::new(name, ErrorKind::BadConnectString, text)
            .with_hint("check the connection string and the configured user");
    }
    match phase {
        Phase::Connect => TargetError::new(name, ErrorKind::Unreachable, text),
        Phase::Call => TargetError::new(name, ErrorKind::Statement, text),
    }
}
