//! An Oracle database under care, through Oracle's pure-Rust thin driver (`oracledb`: no
//! Instant Client on the Sentri host).
//!
//! The driver is blocking, so every call runs on tokio's blocking pool and the runtime's
//! workers never wait on the network. Three limits keep a sick database from hanging Sentri:
//! - **connect** runs on its own detached thread under a hard `connect_timeout`: a listener that
//!   accepts the TCP connection and never answers leaves that thread waiting, not the caller
//!   (who gets [`ErrorKind::ConnectTimeout`]) and not runtime shutdown, which would wait
//!   forever for a blocking-pool task that never returns;
//! - **every call** has the driver's call timeout set from `call_timeout`: it bounds each wait
//!   for the server and, when it expires, cancels the call on the server (ORA-01013) so the
//!   session stays usable;
//! - **every operation** (a query with its transaction control, a write and its commit) is
//!   also bounded at twice the call timeout plus 5 s, for an operation of many round trips or
//!   a server that stops answering during the cancel; past that the connection is abandoned.
//!
//! Connections live in a small pool (`pool_size`); one that failed in a way that leaves its
//! state in doubt (lost, timed out) is dropped, never reused, and the next call opens a fresh
//! one.
//!
//! The read-only path is enforced twice: before anything is sent, the gate
//! ([`crate::sql::read_only`]) refuses anything but one plain query calling only built-in
//! functions and read-only supplied packages (a user function may be an autonomous transaction,
//! which `SET TRANSACTION READ ONLY` does not stop); then `SET TRANSACTION READ ONLY` opens
//! every query's transaction, so a write in it fails with ORA-01456.
//!
//! Every session is reset before it goes back to the pool ([`SESSION_RESET`]): the transaction
//! is rolled back and every package's state (variables, open cursors of packages) is
//! reinitialised. What cannot be reset generically is stated there.

pub mod connect;
pub mod errors;
pub mod profile;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use self::connect::OracleAddress;
use self::errors::Phase;
use super::fill::{self, Dialect, FilledStatement};
use super::resolve;
use super::sql::{self, IdentifierKind, StatementKind};
use super::{
    ConnectOptions, ErrorKind, ExecOutcome, LimitedRows, Profile, ReadLimits, Resolved, Rows, TargetError, Value,
    Values, WriteAccess,
};
use crate::config::{DEFAULT_ORACLE_USER, DatabaseConfig, Secret, password_env_var};

/// Sent, in order, on every session before it goes back to the pool; if one fails the session
/// is logged off instead.
///
/// - `ROLLBACK` ends whatever transaction a call left open (the paths end their own; this is
///   the backstop).
/// - `DBMS_SESSION.MODIFY_PACKAGE_STATE(DBMS_SESSION.REINITIALIZE)` resets the state of every
///   PL/SQL package the session used (globals, package cursors), as a new session would have
///   it; unlike `RESET_PACKAGE` it takes effect at once and keeps the memory. `DBMS_SESSION`
///   is granted to PUBLIC by default; an account without it loses every session after use.
///
/// Not reset: `DBMS_LOCK` user locks (releasing one needs its handle, which only the caller
/// that took it knows; this is why the read path refuses `DBMS_LOCK`), `ALTER SESSION`
/// settings (no generic undo; only fixes run them, through the write path), rows in `ON COMMIT
/// PRESERVE ROWS` temporary tables, and open database links.
pub const SESSION_RESET: &[&str] =
    &["ROLLBACK", "BEGIN DBMS_SESSION.MODIFY_PACKAGE_STATE(DBMS_SESSION.REINITIALIZE); END;"];

/// Runs [`SESSION_RESET`] through `run`, stopping at the first failure.
pub fn reset_session<E>(mut run: impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
    SESSION_RESET.iter().try_for_each(|statement| run(statement))
}

/// What the account may do, one privilege or role per row: system privileges with ANY that
/// are not read-only, ALTER SYSTEM/DATABASE, CREATE privileges, powerful roles, and
/// INSERT/UPDATE/DELETE granted on tables directly or through a role.
const WRITE_ACCESS_QUERY: &str = "\
SELECT 'PRIVILEGE' AS source, privilege AS name FROM session_privs \
 WHERE (privilege LIKE '% ANY %' AND privilege NOT LIKE 'SELECT ANY %' AND privilege NOT LIKE 'READ ANY %') \
    OR privilege IN ('ALTER SYSTEM', 'ALTER DATABASE', 'SYSDBA', 'SYSOPER', 'SYSBACKUP', 'SYSDG', 'SYSKM', \
                     'CREATE TABLE', 'CREATE PROCEDURE', 'CREATE TRIGGER', 'CREATE USER', 'DROP USER', \
                     'ALTER USER', 'GRANT ANY PRIVILEGE', 'GRANT ANY ROLE', 'BECOME USER') \
UNION ALL \
SELECT 'ROLE', role FROM session_roles \
 WHERE role IN ('DBA', 'IMP_FULL_DATABASE', 'DATAPUMP_IMP_FULL_DATABASE', 'EXP_FULL_DATABASE', 'RESOURCE', \
                'SCHEDULER_ADMIN', 'PDB_DBA', 'CDB_DBA') \
UNION ALL \
SELECT 'TABLE', privilege || ' ON ' || owner || '.' || table_name FROM user_tab_privs_recd \
 WHERE privilege IN ('INSERT', 'UPDATE', 'DELETE') \
UNION ALL \
SELECT 'TABLE', privilege || ' ON ' || owner || '.' || table_name || ' (role ' || role || ')' FROM role_tab_privs \
 WHERE privilege IN ('INSERT', 'UPDATE', 'DELETE') \
ORDER BY 1, 2";

/// Judges the rows of [`WRITE_ACCESS_QUERY`] (`(source, name)`): every way the account could
/// write, table grants summarised.
pub fn oracle_write_access(rows: &[(String, String)]) -> WriteAccess {
    let mut reasons = Vec::new();
    let tables: Vec<&str> =
        rows.iter().filter(|(source, _)| source == "TABLE").map(|(_, name)| name.as_str()).collect();
    for (source, name) in rows {
        match source.as_str() {
            "PRIVILEGE" => reasons.push(format!("system privilege {name}")),
            "ROLE" => reasons.push(format!("role {name}")),
            _ => {}
        }
    }
    if !tables.is_empty() {
        let examples: Vec<&str> = tables.iter().take(5).copied().collect();
        reasons.push(format!("{} table grant(s): {}", tables.len(), examples.join(", ")));
    }
    WriteAccess::from_reasons(reasons, Vec::new())
}

/// One Oracle database, connected: a pool of sessions for one configured account.
pub struct OracleTarget {
    shared: Arc<Shared>,
}

impl fmt::Debug for OracleTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OracleTarget")
            .field("name", &self.shared.name)
            .field("user", &self.shared.user)
            .field("pool_size", &self.shared.options.pool_size)
            .finish_non_exhaustive()
    }
}

/// What every call on this target shares: how to open a session, the idle sessions and the
/// permits that cap them.
struct Shared {
    name: String,
    user: String,
    /// Only to cut it out of any message that might carry it.
    password: Secret,
    uses_tcps: bool,
    config: oracledb::Config,
    options: ConnectOptions,
    idle: Mutex<Vec<oracledb::Connection>>,
    permits: Arc<Semaphore>,
}

/// The environment variable holding the password of an encrypted `ewallet.pem`:
/// `SENTRI_DB_<NAME>_WALLET_PASSWORD`. It is not the database password.
pub fn wallet_password_env_var(db_name: &str) -> String {
    let password_var = password_env_var(db_name);
    match password_var.strip_suffix("_PASSWORD") {
        Some(prefix) => format!("{prefix}_WALLET_PASSWORD"),
        None => format!("{password_var}_WALLET"),
    }
}

/// Everything needed to build the driver's configuration, gathered on the caller's side
/// (environment, configuration) so the connect thread only does the blocking part.
struct Settings {
    name: String,
    user: String,
    password: Secret,
    wallet_password: Option<Secret>,
    tns_admin: Option<String>,
    address: OracleAddress,
    options: ConnectOptions,
}

impl Settings {
    fn read(db: &DatabaseConfig, options: &ConnectOptions) -> Result<Settings, TargetError> {
        let name = db.name.clone();
        let address = connect::parse_connect_string(&db.connection_string).map_err(|message| {
            TargetError::new(&name, ErrorKind::BadConnectString, message).with_hint(
                "use host:port/service, tcps://host:port/service?wallet_location=DIR, a (DESCRIPTION=…) or a \
                 tnsnames alias with TNS_ADMIN set",
            )
        })?;
        let Some(password) = db.password.clone() else {
            return Err(TargetError::new(&name, ErrorKind::NoPassword, "no password for this database")
                .with_hint(format!("set {}", password_env_var(&name))));
        };
        let user = db
            .username
            .clone()
            .filter(|user| !user.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_ORACLE_USER.to_owned());
        let non_empty = |value: String| Some(value).filter(|v| !v.is_empty());
        Ok(Settings {
            wallet_password: std::env::var(wallet_password_env_var(&name)).ok().and_then(non_empty).map(Secret::new),
            tns_admin: std::env::var("TNS_ADMIN").ok().and_then(non_empty),
            name,
            user,
            password,
            address,
            options: options.clone(),
        })
    }

    /// The driver's configuration. Blocking: a tnsnames alias is read from `TNS_ADMIN`.
    fn driver_config(&self) -> Result<oracledb::Config, TargetError> {
        let error = |e: &oracledb::Error| {
            errors::from_driver(
                &self.name,
                e,
                Phase::Connect,
                None,
                self.address.uses_tcps,
                Some(self.password.expose()),
            )
        };
        let mut config = oracledb::Config::default().set_credentials(&self.user, self.password.expose());
        if let Some(dir) = &self.tns_admin {
            config = config.set_config_dir(dir);
        }
        config = config.set_connect_string(&self.address.connect_string).map_err(|e| error(&e))?;
        let wallet = self
            .address
            .wallet_location
            .clone()
            .or_else(|| self.tns_admin.clone().filter(|dir| Path::new(dir).join("ewallet.pem").is_file()));
        if let Some(wallet) = wallet {
            config = config.set_wallet_location(wallet);
        }
        if let Some(wallet_password) = &self.wallet_password {
            config = config.set_wallet_password(wallet_password.expose());
        }
        let connect_timeout = self.options.connect_timeout;
        let transport = self.address.transport_connect_timeout.map_or(connect_timeout, |t| t.min(connect_timeout));
        config = config.set_transport_connect_timeout(Some(transport));
        // Shows as PROGRAM in v$session, so a DBA can tell Sentri's sessions apart.
        if let Ok(named) = config.clone().set_program("sentri") {
            config = named;
        }
        Ok(config)
    }
}

impl OracleTarget {
    /// Connects (one session, opened under the hard connect timeout) and keeps it in the pool.
    /// The user is [`DatabaseConfig::username`] (default `sentri_agent`); the password comes
    /// only from the environment.
    pub async fn connect(db: &DatabaseConfig, options: &ConnectOptions) -> Result<OracleTarget, TargetError> {
        let settings = Settings::read(db, options)?;
        let name = settings.name.clone();
        let call_timeout = options.call_timeout;
        let (settings, config, connection) = on_connect_thread(&name, options.connect_timeout, move || {
            let config = settings.driver_config()?;
            let connection = open_session(&settings.name, &config, call_timeout, &settings)?;
            Ok((settings, config, connection))
        })
        .await?;
        let target = OracleTarget::from_parts(settings, config);
        target.checkin(connection);
        Ok(target)
    }

    fn from_parts(settings: Settings, config: oracledb::Config) -> OracleTarget {
        let pool_size = settings.options.pool_size.max(1);
        OracleTarget {
            shared: Arc::new(Shared {
                name: settings.name,
                user: settings.user,
                password: settings.password,
                uses_tcps: settings.address.uses_tcps,
                config,
                options: settings.options,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(pool_size)),
            }),
        }
    }

    /// The configured database name, as errors and the store name it.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Runs a plain query on the read-only path and returns its rows.
    ///
    /// Anything but a query is refused before it is sent ([`ErrorKind::Refused`]); the query
    /// itself runs inside `SET TRANSACTION READ ONLY`, which the transaction then ends, so the
    /// database refuses a write hidden in it (ORA-01456, [`ErrorKind::ReadOnlyViolation`]).
    /// Values are bound by name (`:name`); `None` binds NULL.
    pub async fn query(&self, sql: &str, values: &Values) -> Result<Rows, TargetError> {
        let text = super::read_only_text(self.name(), super::DbKind::Oracle, sql)?;
        let filled = self.fill(&text, values, &BTreeMap::new(), &Resolved::new())?;
        self.run(move |connection, shared| shared.read_only(connection, &filled.sql, &filled.binds, usize::MAX))
            .await
            .map(|limited| limited.rows)
    }

    /// [`Self::query`] within an investigation tool's limits: the driver's call timeout is
    /// lowered to the tool's time limit for this call (and set back after), and rows past the
    /// cap are not fetched.
    pub async fn query_limited(
        &self,
        sql: &str,
        values: &Values,
        limits: &ReadLimits,
    ) -> Result<LimitedRows, TargetError> {
        let text = super::read_only_text(self.name(), super::DbKind::Oracle, sql)?;
        let filled = self.fill(&text, values, &BTreeMap::new(), &Resolved::new())?;
        let limits = *limits;
        self.run(move |connection, shared| {
            let normal = shared.options.call_timeout;
            let limit = limits.time_limit.min(normal);
            connection.set_call_timeout(Some(limit)).map_err(|e| shared.driver_error(&e, None))?;
            let result = shared.read_only(connection, &filled.sql, &filled.binds, limits.max_rows);
            let restored = connection.set_call_timeout(Some(normal)).map_err(|e| shared.driver_error(&e, None));
            let rows = result?;
            restored?;
            Ok(rows)
        })
        .await
    }

    /// Runs one write step: DML or a PL/SQL block committed on success and rolled back on
    /// error; DDL as is (Oracle commits DDL implicitly).
    ///
    /// In DDL each declared object is written from `resolved`, what the plan resolved once in
    /// the dictionary ([`super::Target::resolve_identifiers`]); nothing is looked up here, and
    /// an object without a resolution stops the step before a round trip. Sessions and numbers
    /// are checked by their grammar; a file path is also confirmed to be a file of its kind
    /// ([`resolve::FileCheck`]).
    pub async fn execute(
        &self,
        sql: &str,
        values: &Values,
        identifiers: &BTreeMap<String, IdentifierKind>,
        resolved: &Resolved,
    ) -> Result<ExecOutcome, TargetError> {
        let text = sql::strip_terminator(sql);
        let filled = self.fill(&text, values, identifiers, resolved)?;
        for check in resolve::file_checks(Dialect::Oracle, &text, values, identifiers) {
            let rows = self.query(check.query, &check.values()).await?;
            check.confirm(&rows).map_err(|message| TargetError::new(self.name(), ErrorKind::Fill, message))?;
        }
        self.run(move |connection, shared| shared.write(connection, &filled)).await
    }

    /// Runs several DML steps as one transaction: all committed, or all rolled back. DDL is
    /// refused (Oracle would commit it, and everything before it, on the spot), and so is a
    /// PL/SQL block (it may commit inside); nothing is sent unless every step is acceptable.
    pub async fn execute_in_transaction(&self, steps: &[(&str, &Values)]) -> Result<Vec<ExecOutcome>, TargetError> {
        let mut prepared = Vec::with_capacity(steps.len());
        for (index, (sql, values)) in steps.iter().enumerate() {
            let text = sql::strip_terminator(sql);
            let kind = sql::statement_kind(&text);
            if matches!(kind, StatementKind::Ddl | StatementKind::Block) {
                return Err(TargetError::new(
                    self.name(),
                    ErrorKind::Refused,
                    format!(
                        "step {} is {}, which can commit by itself and so cannot be part of a transaction; nothing was run",
                        index + 1,
                        kind.describe()
                    ),
                ));
            }
            prepared.push(self.fill(&text, values, &BTreeMap::new(), &Resolved::new())?);
        }
        self.run(move |connection, shared| {
            let mut outcomes = Vec::with_capacity(prepared.len());
            for (index, filled) in prepared.iter().enumerate() {
                match shared.run_bound(connection, filled) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(mut error) => {
                        let _ = connection.rollback();
                        error.message = format!("step {}: {} (all steps rolled back)", index + 1, error.message);
                        return Err(error);
                    }
                }
            }
            if let Err(error) = connection.commit() {
                let _ = connection.rollback();
                return Err(shared.driver_error(&error, None));
            }
            Ok(outcomes)
        })
        .await
    }

    /// Reads what this database is, in one round of read-only probes on one session. See
    /// [`profile::read_profile`] for which probes may fail for lack of privilege.
    pub async fn profile(&self) -> Result<Profile, TargetError> {
        self.run(move |connection, shared| {
            shared.begin_read_only(connection)?;
            let mut run = |sql: &str| shared.fetch(connection, sql, &[]);
            let profile = profile::read_profile(&mut run, jiff::Timestamp::now().to_string());
            let ended = connection.rollback().map_err(|e| shared.driver_error(&e, None));
            let profile = profile?;
            ended?;
            Ok(profile)
        })
        .await
    }

    /// Whether the configured account could write ([`WRITE_ACCESS_QUERY`], on the read path).
    pub async fn write_access(&self) -> Result<WriteAccess, TargetError> {
        let found = self.query(WRITE_ACCESS_QUERY, &Values::new()).await?;
        let rows: Vec<(String, String)> = found
            .rows
            .iter()
            .map(|row| {
                let text = |index: usize| row.get(index).and_then(Value::as_text).unwrap_or_default();
                (text(0), text(1))
            })
            .collect();
        Ok(oracle_write_access(&rows))
    }

    /// One round trip to the database, timed: what `sentri db test` reports as latency.
    pub async fn ping(&self) -> Result<Duration, TargetError> {
        self.run(move |connection, shared| {
            let started = Instant::now();
            connection.ping().map_err(|e| shared.driver_error(&e, None))?;
            Ok(started.elapsed())
        })
        .await
    }

    /// Logs the idle sessions off (bounded by the call timeout; a session still in use is
    /// closed when its call ends).
    pub async fn close(self) {
        let shared = self.shared;
        shared.permits.close();
        let connections = shared.take_all_idle();
        if connections.is_empty() {
            return;
        }
        let (done, finished) = tokio::sync::oneshot::channel();
        let spawned = std::thread::Builder::new().name("sentri-oracle-close".into()).spawn(move || {
            for mut connection in connections {
                let _ = connection.close();
            }
            let _ = done.send(());
        });
        if spawned.is_ok() {
            let _ = tokio::time::timeout(shared.options.call_timeout, finished).await;
        }
    }

    fn fill(
        &self,
        text: &str,
        values: &Values,
        identifiers: &BTreeMap<String, IdentifierKind>,
        resolved: &Resolved,
    ) -> Result<FilledStatement, TargetError> {
        fill::fill(text, Dialect::Oracle, values, identifiers, resolved).map_err(|e| self.shared.fill_error(&e))
    }

    fn checkin(&self, connection: oracledb::Connection) {
        self.shared.checkin(connection);
    }

    /// Runs `work` with a pooled session on the blocking pool, under the operation limit.
    async fn run<T, F>(&self, work: F) -> Result<T, TargetError>
    where
        T: Send + 'static,
        F: FnOnce(&oracledb::Connection, &Shared) -> Result<T, TargetError> + Send + 'static,
    {
        let shared = Arc::clone(&self.shared);
        let call_timeout = shared.options.call_timeout;
        let permit: OwnedSemaphorePermit =
            match tokio::time::timeout(call_timeout, Arc::clone(&shared.permits).acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                Ok(Err(_closed)) => {
                    return Err(TargetError::new(
                        &shared.name,
                        ErrorKind::ConnectionLost,
                        "the target has been closed",
                    ));
                }
                Err(_) => {
                    return Err(TargetError::timeout(
                        &shared.name,
                        ErrorKind::CallTimeout,
                        "waiting for a free session",
                        call_timeout,
                    )
                    .with_hint(format!(
                        "all {} pooled sessions are busy; raise pool_size or find the slow call",
                        shared.options.pool_size.max(1)
                    )));
                }
            };
        let connection = match shared.take_idle() {
            Some(connection) => connection,
            None => shared.open().await?,
        };
        let worker = Arc::clone(&shared);
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                connection.set_call_timeout(Some(call_timeout)).map_err(|e| worker.driver_error(&e, None))?;
                work(&connection, &worker)
            }));
            match outcome {
                Ok(result) => {
                    match &result {
                        Err(error) if breaks_session(error.kind) => discard(connection),
                        _ => match reset_session(|statement| connection.execute(statement, &[]).map(|_| ())) {
                            Ok(()) => worker.checkin(connection),
                            Err(error) => {
                                tracing::debug!(database = %worker.name, %error, "session reset failed; logging off");
                                discard(connection);
                            }
                        },
                    }
                    result
                }
                Err(_panic) => {
                    discard(connection);
                    Err(TargetError::new(
                        &worker.name,
                        ErrorKind::ConnectionLost,
                        "the Oracle driver failed inside a call; the session was dropped",
                    ))
                }
            }
        });
        let limit = operation_limit(call_timeout);
        match tokio::time::timeout(limit, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(TargetError::new(
                &shared.name,
                ErrorKind::ConnectionLost,
                format!("the call's thread failed: {join_error}"),
            )),
            Err(_) => Err(TargetError::timeout(&shared.name, ErrorKind::CallTimeout, "the call", limit)
                .with_hint("the server stopped answering; the session is abandoned and a fresh one is used next")),
        }
    }
}

impl Shared {
    fn driver_error(&self, error: &oracledb::Error, sql: Option<&str>) -> TargetError {
        errors::from_driver(&self.name, error, Phase::Call, sql, self.uses_tcps, Some(self.password.expose()))
    }

    fn fill_error(&self, error: &fill::FillError) -> TargetError {
        TargetError::new(&self.name, ErrorKind::Fill, errors::redact(&error.to_string(), Some(self.password.expose())))
    }

    fn take_idle(&self) -> Option<oracledb::Connection> {
        self.idle.lock().map(|mut idle| idle.pop()).unwrap_or(None)
    }

    fn take_all_idle(&self) -> Vec<oracledb::Connection> {
        self.idle.lock().map(|mut idle| std::mem::take(&mut *idle)).unwrap_or_default()
    }

    fn checkin(&self, connection: oracledb::Connection) {
        match self.idle.lock() {
            Ok(mut idle) if idle.len() < self.options.pool_size.max(1) => idle.push(connection),
            _ => discard(connection),
        }
    }

    /// Opens one more session under the hard connect timeout.
    async fn open(&self) -> Result<oracledb::Connection, TargetError> {
        let config = self.config.clone();
        let name = self.name.clone();
        let call_timeout = self.options.call_timeout;
        let uses_tcps = self.uses_tcps;
        let password = self.password.clone();
        on_connect_thread(&self.name, self.options.connect_timeout, move || {
            let connection = oracledb::connect(config).map_err(|e| {
                errors::from_driver(&name, &e, Phase::Connect, None, uses_tcps, Some(password.expose()))
            })?;
            connection.set_call_timeout(Some(call_timeout)).map_err(|e| {
                errors::from_driver(&name, &e, Phase::Connect, None, uses_tcps, Some(password.expose()))
            })?;
            Ok(connection)
        })
        .await
    }

    /// Runs a query and reads every row into [`Rows`].
    fn fetch(
        &self,
        connection: &oracledb::Connection,
        sql: &str,
        binds: &[(String, Option<String>)],
    ) -> Result<Rows, TargetError> {
        read_rows(connection, sql, binds, usize::MAX)
            .map(|limited| limited.rows)
            .map_err(|e| self.driver_error(&e, Some(sql)))
    }

    fn begin_read_only(&self, connection: &oracledb::Connection) -> Result<(), TargetError> {
        connection.execute("SET TRANSACTION READ ONLY", &[]).map(|_| ()).map_err(|e| self.driver_error(&e, None))
    }

    /// One query inside its own read-only transaction, which is then ended.
    fn read_only(
        &self,
        connection: &oracledb::Connection,
        sql: &str,
        binds: &[(String, Option<String>)],
        max_rows: usize,
    ) -> Result<LimitedRows, TargetError> {
        self.begin_read_only(connection)?;
        let rows = read_rows(connection, sql, binds, max_rows).map_err(|e| self.driver_error(&e, Some(sql)));
        let ended = connection.rollback().map_err(|e| self.driver_error(&e, None));
        let rows = rows?;
        ended?;
        Ok(rows)
    }

    /// Runs a filled write step: DDL as is; anything else with its binds, committed on
    /// success and rolled back on failure.
    fn write(&self, connection: &oracledb::Connection, filled: &FilledStatement) -> Result<ExecOutcome, TargetError> {
        if filled.kind == StatementKind::Ddl {
            let started = Instant::now();
            let result = connection.execute(&filled.sql, &[]).map_err(|e| self.driver_error(&e, Some(&filled.sql)))?;
            return Ok(outcome(filled, result.rows_affected(), started));
        }
        match self.run_bound(connection, filled) {
            Ok(done) => match connection.commit() {
                Ok(()) => Ok(done),
                Err(error) => {
                    let _ = connection.rollback();
                    Err(self.driver_error(&error, None))
                }
            },
            Err(error) => {
                let _ = connection.rollback();
                Err(error)
            }
        }
    }

    /// Executes one statement with named binds, without ending the transaction.
    fn run_bound(
        &self,
        connection: &oracledb::Connection,
        filled: &FilledStatement,
    ) -> Result<ExecOutcome, TargetError> {
        let started = Instant::now();
        let params: Vec<(&str, &dyn oracledb::ToDbValue)> =
            filled.binds.iter().map(|(name, value)| (name.as_str(), value as &dyn oracledb::ToDbValue)).collect();
        let result =
            connection.execute_named(&filled.sql, &params).map_err(|e| self.driver_error(&e, Some(&filled.sql)))?;
        Ok(outcome(filled, result.rows_affected(), started))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Logging off is a round trip; never on a runtime worker.
        for connection in self.take_all_idle() {
            discard(connection);
        }
    }
}

fn outcome(filled: &FilledStatement, rows_affected: u64, started: Instant) -> ExecOutcome {
    ExecOutcome {
        sql: filled.sql.clone(),
        rows_affected,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    }
}

/// Opens a session with the call timeout in place. Blocking.
fn open_session(
    name: &str,
    config: &oracledb::Config,
    call_timeout: Duration,
    settings: &Settings,
) -> Result<oracledb::Connection, TargetError> {
    let error = |e: &oracledb::Error| {
        errors::from_driver(name, e, Phase::Connect, None, settings.address.uses_tcps, Some(settings.password.expose()))
    };
    let connection = oracledb::connect(config.clone()).map_err(|e| error(&e))?;
    connection.set_call_timeout(Some(call_timeout)).map_err(|e| error(&e))?;
    Ok(connection)
}

/// Runs blocking connect work on its own detached thread and waits at most `limit`. On expiry
/// the caller gets [`ErrorKind::ConnectTimeout`]; the thread lingers until the socket gives
/// up, and whatever it produces then is dropped there.
async fn on_connect_thread<T, F>(database: &str, limit: Duration, work: F) -> Result<T, TargetError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, TargetError> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("sentri-oracle-connect".into())
        .spawn(move || {
            let _ = sender.send(work());
        })
        .map_err(|e| {
            TargetError::new(database, ErrorKind::Unreachable, format!("could not start a connect thread: {e}"))
        })?;
    match tokio::time::timeout(limit, receiver).await {
        Ok(Ok(result)) => result,
        Ok(Err(_)) => Err(TargetError::new(
            database,
            ErrorKind::Unreachable,
            "the Oracle driver failed while connecting (it ended without an answer)",
        )),
        Err(_) => Err(TargetError::timeout(database, ErrorKind::ConnectTimeout, "connecting", limit).with_hint(
            "something accepted the connection but did not answer as an Oracle listener: check host and port, \
             and whether the listener expects TCPS (tcps://)",
        )),
    }
}

/// Drops a session on a detached thread: logging off is a round trip that a dead server can
/// stretch without limit, and that must hold up neither a caller nor runtime shutdown.
fn discard(connection: oracledb::Connection) {
    let _ = std::thread::Builder::new().name("sentri-oracle-discard".into()).spawn(move || drop(connection));
}

/// Failures after which a session's state is in doubt: it is dropped, not reused.
fn breaks_session(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionLost
            | ErrorKind::CallTimeout
            | ErrorKind::Unreachable
            | ErrorKind::ConnectTimeout
            | ErrorKind::Tls
    )
}

/// The bound on one whole operation: twice the call timeout (a call, then its cancel) plus 5 s.
fn operation_limit(call_timeout: Duration) -> Duration {
    call_timeout.saturating_mul(2).saturating_add(Duration::from_secs(5))
}

/// Reads every row of a query. Column names are lower-cased, as policies write them.
fn read_rows(
    connection: &oracledb::Connection,
    sql: &str,
    binds: &[(String, Option<String>)],
    max_rows: usize,
) -> Result<LimitedRows, oracledb::Error> {
    let params: Vec<(&str, &dyn oracledb::ToDbValue)> =
        binds.iter().map(|(name, value)| (name.as_str(), value as &dyn oracledb::ToDbValue)).collect();
    let cursor = connection.query_named(sql, &params)?;
    let columns: Vec<String> = cursor.columns().iter().map(|column| column.name().to_lowercase()).collect();
    let mut rows = Vec::new();
    let mut truncated = false;
    for row in cursor {
        if rows.len() == max_rows {
            truncated = true;
            break;
        }
        let row = row?;
        let mut values = Vec::with_capacity(columns.len());
        for (index, column) in row.columns().iter().enumerate() {
            values.push(column_value(&row, index, column.db_type())?);
        }
        rows.push(values);
    }
    Ok(LimitedRows { rows: Rows { columns, rows }, truncated })
}

/// One fetched column as a [`Value`], by its Oracle type.
fn column_value(row: &oracledb::Row, index: usize, db_type: &oracledb::DbType) -> Result<Value, oracledb::Error> {
    use oracledb::*;
    let value = if db_type == DB_TYPE_NUMBER || db_type == DB_TYPE_BINARY_INTEGER {
        row.get::<Option<OracleNumber>>(index)?.map(|number| number_value(&number.to_string()))
    } else if db_type == DB_TYPE_BINARY_FLOAT {
        // Through its shortest text, so 0.1f32 reads 0.1 and not 0.10000000149011612.
        row.get::<Option<f32>>(index)?.map(|float| Value::Float(float.to_string().parse().unwrap_or(f64::from(float))))
    } else if db_type == DB_TYPE_BINARY_DOUBLE {
        row.get::<Option<f64>>(index)?.map(Value::Float)
    } else if db_type == DB_TYPE_DATE
        || db_type == DB_TYPE_TIMESTAMP
        || db_type == DB_TYPE_TIMESTAMP_TZ
        || db_type == DB_TYPE_TIMESTAMP_LTZ
    {
        row.get::<Option<OracleTimestamp>>(index)?.map(|ts| {
            Value::Timestamp(timestamp_text(
                [
                    i32::from(ts.year()),
                    ts.month().into(),
                    ts.day().into(),
                    ts.hour().into(),
                    ts.minute().into(),
                    ts.second().into(),
                ],
                ts.nanoseconds(),
                ts.is_utc(),
            ))
        })
    } else if db_type == DB_TYPE_RAW || db_type == DB_TYPE_LONG_RAW || db_type == DB_TYPE_BLOB {
        row.get::<Option<Vec<u8>>>(index)?.map(Value::Bytes)
    } else if db_type == DB_TYPE_BOOLEAN {
        row.get::<Option<bool>>(index)?.map(Value::Bool)
    } else if db_type == DB_TYPE_INTERVAL_DS {
        row.get::<Option<OracleIntervalDS>>(index)?.map(|interval| Value::Text(interval.to_string()))
    } else if db_type == DB_TYPE_INTERVAL_YM {
        row.get::<Option<OracleIntervalYM>>(index)?.map(|interval| Value::Text(interval.to_string()))
    } else {
        // VARCHAR2, CHAR, NVARCHAR2, NCHAR, CLOB, NCLOB, LONG, ROWID: text. LOBs arrive as text
        // because the driver fetches them inline unless asked for locators.
        row.get::<Option<String>>(index)?.map(Value::Text)
    };
    Ok(value.unwrap_or(Value::Null))
}

/// NUMBER text → `Int` when it is an integer that fits `i64`, else `Decimal` with the digits
/// as Oracle gave them (nothing rounded).
pub fn number_value(text: &str) -> Value {
    if !text.contains(['.', 'e', 'E'])
        && let Ok(integer) = text.parse::<i64>()
    {
        return Value::Int(integer);
    }
    Value::Decimal(text.to_owned())
}

/// RFC 3339 text for an Oracle date or timestamp: `2026-03-01T12:30:05`, fractional seconds
/// only when present (trailing zeros dropped), `Z` when the value is in UTC (TIMESTAMP WITH
/// TIME ZONE, normalised by the driver). DATE and plain TIMESTAMP carry no zone: the
/// database's local time, written without an offset.
pub fn timestamp_text(parts: [i32; 6], nanoseconds: u32, is_utc: bool) -> String {
    let [year, month, day, hour, minute, second] = parts;
    let mut text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}");
    if nanoseconds > 0 {
        let fraction = format!("{nanoseconds:09}");
        text.push('.');
        text.push_str(fraction.trim_end_matches('0'));
    }
    if is_utc {
        text.push('Z');
    }
    text
}

#[cfg(test)]
mod tests;
