//! PostgreSQL as a database under care, through tokio-postgres.
//!
//! Every statement Sentri sends to a PostgreSQL target goes through here, so the rules of
//! ARCHITECTURE §4 are enforced in one place:
//!
//! - **Values are binds.** Policy SQL is filled by [`fill::fill`] (`:name` → `$N`); the
//!   statement is prepared so the server says which type each `$N` has, and each value (text
//!   from an email or a query) is converted to that type here — a value that does not parse
//!   is refused naming its placeholder, before anything runs.
//! - **The read-only path is enforced by the server.** [`PostgresTarget::query`] refuses any
//!   statement that is not a query before sending it, and runs the rest inside
//!   `BEGIN READ ONLY`, always rolled back, so a query that writes anyway (a data-modifying
//!   CTE, `nextval`, a function that creates a table) is refused by PostgreSQL itself.
//! - **Identifiers are resolved once, before any write.** The plan resolves every declared
//!   identifier in the catalog on the read-only path ([`super::Target::resolve_identifiers`]);
//!   [`PostgresTarget::execute`] writes each from that resolution, quoted and schema-qualified,
//!   and looks nothing up again.
//! - **Every call is bounded**: `statement_timeout` on the server, plus a client-side backstop
//!   that cancels the query and discards the connection.
//! - **A pooled connection is reset before reuse** with [`SESSION_RESET`] (`DISCARD ALL`
//!   but for `DEALLOCATE ALL`, which would break the driver's cached type lookups):
//!   whatever a call left in the session — an advisory lock taken by a user function on the
//!   read path (which a ROLLBACK does not release), a `SET`, a prepared statement, a temporary
//!   table, a `LISTEN` — is gone before the next call. A connection whose reset fails is
//!   closed, never reused.
//!
//! Connections use TLS with libpq's `sslmode`/`sslrootcert` meanings, except that a remote
//! host is never reached in plain text unless `sslmode=disable` says so (see
//! [`tls`]).

mod binds;
mod decode;
mod errors;
pub mod tls;
mod write_access;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_postgres::config::SslMode;
use tokio_postgres::types::ToSql;
use tokio_postgres_rustls::MakeRustlsConnect;

use binds::{bind_failure, convert_binds};
use decode::decode_row;
use errors::{all_local, classify};
use tls::{Protection, connector, protection, take_tls_keys};
use write_access::{PostgresGrants, WRITE_ACCESS_QUERY, postgres_write_access};

use super::fill::{self, Dialect, FillError};
use super::profile::{PostgresProfile, Profile};
use super::sql::{self, IdentifierKind, StatementKind};
use super::{
    ConnectOptions, DbKind, ErrorKind, ExecOutcome, LimitedRows, ReadLimits, Resolved, Rows, TargetError, Value,
    Values, WriteAccess,
};
use crate::config::DatabaseConfig;

/// Sent on every connection before it goes back to the pool, as one message: what
/// `DISCARD ALL` does, except `DEALLOCATE ALL`.
///
/// `DEALLOCATE ALL` is left out because tokio-postgres keeps its own prepared statements for
/// type lookups (enums, composites) across calls and cannot be told they are gone (its
/// `clear_type_cache` forgets the types, not the statements): after a `DISCARD ALL` the next
/// query on a custom type fails with "prepared statement … does not exist". The read path
/// cannot `PREPARE` (it is not a query), so nothing of a caller's is left allocated.
///
/// The first statement refuses a connection still inside a transaction a call left open (its
/// start is older than this message), which would otherwise absorb the reset; the failure
/// closes the connection. Then: open cursors closed, the session user restored, every `SET`
/// undone, `LISTEN`s dropped, session advisory locks released (what a ROLLBACK does not),
/// cached plans, temporary tables and sequence caches discarded.
pub const SESSION_RESET: &str = "\
DO $reset$ BEGIN IF transaction_timestamp() <> statement_timestamp() THEN \
RAISE EXCEPTION 'a transaction is still open'; END IF; END $reset$; \
CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); \
DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES";

/// Extra time the client waits past `statement_timeout` before it cancels on its own: the
/// server's timeout should fire first and give the precise error.
const BACKSTOP_GRACE: Duration = Duration::from_secs(2);

/// A PostgreSQL database under care: its connection settings and a small pool of connections.
pub struct PostgresTarget {
    name: String,
    /// Connection settings, password included (tokio-postgres redacts it in `Debug`).
    config: tokio_postgres::Config,
    /// The password, kept only to scrub it out of any error text.
    password: Option<String>,
    options: ConnectOptions,
    /// How connections are protected, for `db test` and errors.
    protection: Protection,
    /// Used only when `protection` is TLS (tokio-postgres then negotiates it).
    tls: MakeRustlsConnect,
    idle: Mutex<Vec<Client>>,
    permits: Semaphore,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for PostgresTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresTarget")
            .field("name", &self.name)
            .field("hosts", &self.config.get_hosts())
            .field("ports", &self.config.get_ports())
            .field("dbname", &self.config.get_dbname())
            .field("user", &self.config.get_user())
            .field("options", &self.options)
            .field("protection", &self.protection)
            .finish_non_exhaustive()
    }
}

impl PostgresTarget {
    /// Opens the first connection (so a wrong password or an unknown database is reported now,
    /// not at the first alert) and keeps room for `options.pool_size` connections.
    ///
    /// The connection string is a `postgres://` URL or a libpq `key=value` string; the user
    /// and password come from the configuration (`SENTRI_DB_<NAME>_…`), never from the string.
    /// Without a password Sentri tries to connect anyway (trust or peer authentication); if the
    /// server asks for one, the error names the variable to set. TLS follows `sslmode` and
    /// `sslrootcert` as [`tls`] describes.
    pub async fn connect(db: &DatabaseConfig, options: &ConnectOptions) -> Result<PostgresTarget, TargetError> {
        let name = db.name.clone();
        let request = take_tls_keys(&db.connection_string);
        let mut config = tokio_postgres::Config::from_str(&request.connection).map_err(|error| {
            TargetError::new(&name, ErrorKind::BadConnectString, format!("cannot read the connection string: {error}"))
                .with_hint("write postgres://host:port/dbname?sslmode=verify-full or `host=… port=… dbname=…`")
        })?;
        if config.get_hosts().is_empty() {
            return Err(TargetError::new(&name, ErrorKind::BadConnectString, "the connection string names no host")
                .with_hint("write postgres://host:port/dbname"));
        }
        let protection = protection(&request, all_local(&config)).map_err(|mode| {
            TargetError::new(&name, ErrorKind::BadConnectString, format!("unknown sslmode `{mode}`"))
                .with_hint("use one of disable, allow, prefer, require, verify-ca, verify-full")
        })?;
        let tls = connector(&protection).map_err(|error| {
            TargetError::new(&name, ErrorKind::Tls, error.to_string())
                .with_hint("sslrootcert must name a readable PEM file of CA certificates, or `system`")
        })?;
        config.ssl_mode(if protection == Protection::Plain { SslMode::Disable } else { SslMode::Require });
        if let Some(user) = &db.username {
            config.user(user);
        }
        if let Some(password) = &db.password {
            config.password(password.expose());
        }
        config.connect_timeout(options.connect_timeout);
        config.application_name("sentri");
        let target = PostgresTarget {
            name,
            config,
            password: db.password.as_ref().map(|secret| secret.expose().to_owned()),
            options: options.clone(),
            protection,
            tls,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(options.pool_size.max(1)),
            tasks: Mutex::new(Vec::new()),
        };
        let first = target.open().await?;
        lock(&target.idle).push(first);
        Ok(target)
    }

    /// The configured database name, for messages and the audit trail.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs a query on the read-only path and returns its rows.
    ///
    /// Anything but a query is refused before it is sent ([`ErrorKind::Refused`]); a query
    /// runs in `BEGIN READ ONLY` with `statement_timeout` set to the call timeout and is always
    /// rolled back, so a write hidden in it is refused by the server
    /// ([`ErrorKind::ReadOnlyViolation`]).
    pub async fn query(&self, sql_text: &str, values: &Values) -> Result<Rows, TargetError> {
        let limits = ReadLimits { time_limit: self.options.call_timeout, max_rows: usize::MAX };
        self.query_limited(sql_text, values, &limits).await.map(|limited| limited.rows)
    }

    /// [`Self::query`] within a time limit (`statement_timeout`, never above the call timeout)
    /// reading at most `max_rows` rows: the rest are never fetched into memory.
    pub async fn query_limited(
        &self,
        sql_text: &str,
        values: &Values,
        limits: &ReadLimits,
    ) -> Result<LimitedRows, TargetError> {
        let text = super::read_only_text(&self.name, DbKind::Postgres, sql_text)?;
        self.read_only_limited(text, values, limits).await
    }

    /// `EXPLAIN` of one statement on the read path: the statement must itself pass the
    /// read-only gate (so `ANALYZE` only ever runs a plain query, inside a read-only
    /// transaction that is rolled back). `options` is the EXPLAIN option list, from the tool.
    pub async fn explain(
        &self,
        options: &str,
        statement: &str,
        values: &Values,
        limits: &ReadLimits,
    ) -> Result<LimitedRows, TargetError> {
        let inner = super::read_only_text(&self.name, DbKind::Postgres, statement)?;
        self.read_only_limited(format!("EXPLAIN ({options}) {inner}"), values, limits).await
    }

    async fn read_only_limited(
        &self,
        text: String,
        values: &Values,
        limits: &ReadLimits,
    ) -> Result<LimitedRows, TargetError> {
        let filled = fill::fill(&text, Dialect::Postgres, values, &BTreeMap::new(), &Resolved::new())
            .map_err(|e| self.fill_error(&e))?;
        let timeout_ms = limits.time_limit.min(self.options.call_timeout).as_millis().max(1);
        let max_rows = limits.max_rows;
        self.with_client(1, move |client| {
            Box::pin(async move {
                client
                    .batch_execute(&format!(
                        "BEGIN READ ONLY; SET LOCAL statement_timeout = {timeout_ms}; \
                         SET LOCAL standard_conforming_strings = on"
                    ))
                    .await
                    .map_err(Failure::Db)?;
                let result = run_query(client, &filled.sql, &filled.binds, max_rows).await;
                let rollback = client.batch_execute("ROLLBACK").await.map_err(Failure::Db);
                let rows = result?;
                rollback?;
                Ok(rows)
            })
        })
        .await
        .map_err(|mut error| {
            // The limit that fired is this read's (a tool's `time_limit`), not the call timeout
            // the generic mapping names.
            if error.code.as_deref() == Some("57014") && error.message.contains("statement timeout") {
                error.hint = Some(format!(
                    "the statement ran past its time limit of {timeout_ms} ms and was cancelled by the server"
                ));
            }
            error
        })
    }

    /// Runs one write step. Declared identifiers are written from `resolved`, the objects the
    /// plan resolved once; a missing resolution, value or malformed literal stops the step
    /// before anything is sent.
    ///
    /// DML, blocks and queries run in a transaction committed on success and rolled back on
    /// error; DDL and utility statements (VACUUM cannot run in a transaction block) run on
    /// their own. `statement_timeout` applies to both.
    pub async fn execute(
        &self,
        sql_text: &str,
        values: &Values,
        identifiers: &BTreeMap<String, IdentifierKind>,
        resolved: &Resolved,
    ) -> Result<ExecOutcome, TargetError> {
        let text = sql::strip_terminator(sql_text);
        let filled =
            fill::fill(&text, Dialect::Postgres, values, identifiers, resolved).map_err(|e| self.fill_error(&e))?;
        let timeout_ms = self.timeout_ms();
        self.with_client(1, move |client| {
            Box::pin(async move {
                let started = Instant::now();
                let rows_affected = if filled.kind == StatementKind::Ddl {
                    client
                        .batch_execute(&format!("SET statement_timeout = {timeout_ms}"))
                        .await
                        .map_err(Failure::Db)?;
                    let result = client.execute(filled.sql.as_str(), &[]).await.map_err(Failure::Db);
                    client.batch_execute("RESET statement_timeout").await.map_err(Failure::Db)?;
                    result?
                } else {
                    client
                        .batch_execute(&format!("BEGIN; SET LOCAL statement_timeout = {timeout_ms}"))
                        .await
                        .map_err(Failure::Db)?;
                    let result = run_execute(client, &filled.sql, &filled.binds).await;
                    finish_transaction(client, result).await?
                };
                Ok(ExecOutcome { sql: filled.sql, rows_affected, elapsed_ms: elapsed_ms(started) })
            })
        })
        .await
    }

    /// Runs several DML steps all-or-nothing: one transaction, committed only if every step
    /// succeeded. DDL is refused (PostgreSQL would commit nothing of it separately, but the
    /// plan would no longer mean what it says about VACUUM and friends).
    pub async fn execute_in_transaction(&self, steps: &[(&str, &Values)]) -> Result<Vec<ExecOutcome>, TargetError> {
        let mut filled = Vec::with_capacity(steps.len());
        for (index, (sql_text, values)) in steps.iter().enumerate() {
            let text = sql::strip_terminator(sql_text);
            let kind = sql::statement_kind(&text);
            if kind == StatementKind::Ddl {
                return Err(TargetError::new(
                    &self.name,
                    ErrorKind::Refused,
                    format!("step {} is DDL or a utility statement, which cannot join a transaction here", index + 1),
                )
                .with_hint("run DDL as its own step with execute"));
            }
            filled.push(
                fill::fill(&text, Dialect::Postgres, values, &BTreeMap::new(), &Resolved::new())
                    .map_err(|e| self.fill_error(&e))?,
            );
        }
        let timeout_ms = self.timeout_ms();
        self.with_client(filled.len().max(1), move |client| {
            Box::pin(async move {
                client
                    .batch_execute(&format!("BEGIN; SET LOCAL statement_timeout = {timeout_ms}"))
                    .await
                    .map_err(Failure::Db)?;
                let mut outcomes = Vec::with_capacity(filled.len());
                let mut failure = None;
                for step in filled {
                    let started = Instant::now();
                    match run_execute(client, &step.sql, &step.binds).await {
                        Ok(rows_affected) => {
                            outcomes.push(ExecOutcome { sql: step.sql, rows_affected, elapsed_ms: elapsed_ms(started) })
                        }
                        Err(error) => {
                            failure = Some(error);
                            break;
                        }
                    }
                }
                let result = match failure {
                    Some(error) => Err(error),
                    None => Ok(0),
                };
                finish_transaction(client, result).await?;
                Ok(outcomes)
            })
        })
        .await
    }

    /// Reads what this database is: version, account, recovery state, limits, extensions.
    pub async fn profile(&self) -> Result<Profile, TargetError> {
        let facts = self
            .query(
                "SELECT current_setting('server_version') AS version, \
                 current_setting('server_version_num')::int4 AS version_num, \
                 current_user::text AS connected_as, current_database()::text AS database_name, \
                 pg_is_in_recovery() AS in_recovery, current_setting('max_connections')::int4 AS max_connections, \
                 COALESCE((SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), false) AS is_superuser",
                &Values::new(),
            )
            .await?;
        let extensions =
            self.query("SELECT extname::text FROM pg_catalog.pg_extension ORDER BY 1", &Values::new()).await?;
        let text = |column: &str| facts.get(0, column).and_then(Value::as_text).unwrap_or_default();
        let number = |column: &str| match facts.get(0, column) {
            Some(Value::Int(value)) => u32::try_from(*value).unwrap_or(0),
            _ => 0,
        };
        let flag = |column: &str| matches!(facts.get(0, column), Some(Value::Bool(true)));
        let server_version_num = number("version_num");
        let version = text("version").split_whitespace().next().unwrap_or_default().to_owned();
        Ok(Profile {
            engine: DbKind::Postgres,
            profiled_at: jiff::Timestamp::now().to_string(),
            version,
            version_major: if server_version_num >= 100_000 {
                server_version_num / 10_000
            } else {
                server_version_num / 100
            },
            connected_as: text("connected_as"),
            database_name: text("database_name"),
            oracle: None,
            postgres: Some(PostgresProfile {
                server_version_num,
                in_recovery: flag("in_recovery"),
                max_connections: number("max_connections"),
                extensions: extensions.rows.iter().filter_map(|row| row.first().and_then(Value::as_text)).collect(),
                is_superuser: flag("is_superuser"),
            }),
        })
    }

    /// Whether the configured account could write: superuser, CREATEDB/CREATEROLE, CREATE on
    /// the database or on a schema, or INSERT/UPDATE/DELETE/TRUNCATE on a table (or UPDATE on a
    /// sequence) outside the system catalogs. `default_transaction_read_only` is reported as a
    /// note: a session can turn it off.
    pub async fn write_access(&self) -> Result<WriteAccess, TargetError> {
        let facts = self.query(WRITE_ACCESS_QUERY, &Values::new()).await?;
        let text = |column: &str| facts.get(0, column).and_then(Value::as_text).unwrap_or_default();
        let flag = |column: &str| matches!(facts.get(0, column), Some(Value::Bool(true)));
        Ok(postgres_write_access(&PostgresGrants {
            superuser: flag("superuser"),
            create_role: flag("create_role"),
            create_db: flag("create_db"),
            create_on_database: flag("create_on_database"),
            create_schemas: text("create_schemas"),
            writable_tables: match facts.get(0, "writable_tables") {
                Some(Value::Int(count)) => *count,
                _ => 0,
            },
            writable_examples: text("writable_examples"),
            default_read_only: text("default_read_only") == "on",
        }))
    }

    /// The round trip of `SELECT 1` on a pooled connection: what `sentri db test` reports.
    pub async fn ping(&self) -> Result<Duration, TargetError> {
        self.with_client(1, |client| {
            Box::pin(async move {
                let started = Instant::now();
                client.simple_query("SELECT 1").await.map_err(Failure::Db)?;
                Ok(started.elapsed())
            })
        })
        .await
    }

    /// Closes every connection and waits (briefly) for their tasks to end.
    pub async fn close(self) {
        lock(&self.idle).clear();
        let tasks: Vec<JoinHandle<()>> = lock(&self.tasks).drain(..).collect();
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
        }
    }

    fn timeout_ms(&self) -> u128 {
        self.options.call_timeout.as_millis().max(1)
    }

    fn fill_error(&self, error: &FillError) -> TargetError {
        TargetError::new(&self.name, ErrorKind::Fill, error.to_string())
            .with_hint("the value cannot be used in this statement; nothing was sent")
    }

    /// Opens one connection within the connect timeout and spawns its task.
    async fn open(&self) -> Result<Client, TargetError> {
        let connecting = self.config.connect(self.tls.clone());
        let (client, connection) = match tokio::time::timeout(self.options.connect_timeout, connecting).await {
            Err(_) => {
                return Err(TargetError::timeout(
                    &self.name,
                    ErrorKind::ConnectTimeout,
                    "connecting",
                    self.options.connect_timeout,
                )
                .with_hint("check that the host and port are right and that a firewall does not drop the traffic"));
            }
            Ok(Err(error)) => return Err(self.map_error(&error, Phase::Connect)),
            Ok(Ok(pair)) => pair,
        };
        let name = self.name.clone();
        let task = tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(database = %name, %error, "PostgreSQL connection ended");
            }
        });
        let mut tasks = lock(&self.tasks);
        tasks.retain(|task| !task.is_finished());
        tasks.push(task);
        Ok(client)
    }

    /// Runs `work` on a pooled connection with a client-side backstop of `statements` call
    /// timeouts. A connection that timed out, broke, or was left in an unknown state is
    /// discarded rather than returned to the pool.
    async fn with_client<T, F>(&self, statements: usize, work: F) -> Result<T, TargetError>
    where
        F: for<'c> FnOnce(&'c Client) -> futures_boxed::BoxFuture<'c, Result<T, Failure>>,
    {
        let permit = self.permits.acquire().await.map_err(|_| {
            TargetError::new(&self.name, ErrorKind::ConnectionLost, "the connection pool has been closed")
        })?;
        let pooled = lock(&self.idle).pop();
        let client = match pooled {
            Some(client) if !client.is_closed() => client,
            _ => self.open().await?,
        };
        let lease = Lease { target: self, client: Some(client), _permit: permit };
        let Some(client) = lease.client.as_ref() else {
            return Err(TargetError::new(&self.name, ErrorKind::ConnectionLost, "no connection"));
        };
        let factor = u32::try_from(statements).unwrap_or(u32::MAX);
        let backstop = self.options.call_timeout.saturating_mul(factor).saturating_add(BACKSTOP_GRACE);
        match tokio::time::timeout(backstop, work(client)).await {
            Ok(Ok(value)) => {
                self.recycle(lease).await;
                Ok(value)
            }
            Ok(Err(failure)) => {
                let error = match failure {
                    Failure::Db(error) => self.map_error(&error, Phase::Call),
                    Failure::Target(mut error) => {
                        if error.database.is_empty() {
                            error.database.clone_from(&self.name);
                        }
                        error
                    }
                };
                // A connection whose transaction could not be closed is not reused.
                if !matches!(error.kind, ErrorKind::ConnectionLost) {
                    self.recycle(lease).await;
                }
                Err(error)
            }
            Err(_) => {
                let cancel = client.cancel_token();
                let _ = tokio::time::timeout(Duration::from_secs(2), cancel.cancel_query(self.tls.clone())).await;
                Err(TargetError::timeout(&self.name, ErrorKind::CallTimeout, "the call", backstop)
                    .with_hint("the server did not answer in time; the query was cancelled and the connection dropped"))
            }
        }
    }

    /// Resets the session ([`SESSION_RESET`]) and returns the connection to the pool; closes it
    /// instead when the reset fails or does not answer within the call timeout.
    async fn recycle(&self, lease: Lease<'_>) {
        let Some(client) = lease.client.as_ref() else { return };
        match tokio::time::timeout(self.options.call_timeout, client.batch_execute(SESSION_RESET)).await {
            Ok(Ok(())) => lease.release(),
            Ok(Err(error)) => {
                tracing::debug!(database = %self.name, %error, "session reset failed; closing the connection");
            }
            Err(_) => tracing::debug!(database = %self.name, "session reset timed out; closing the connection"),
        }
    }

    /// Turns a driver error into one a DBA can act on, without the password in it.
    fn map_error(&self, error: &tokio_postgres::Error, phase: Phase) -> TargetError {
        let mut mapped = classify(&self.name, error, phase, &self.options);
        if let Some(password) = self.password.as_deref().filter(|p| !p.is_empty()) {
            mapped.message = mapped.message.replace(password, "***");
            mapped.hint = mapped.hint.map(|hint| hint.replace(password, "***"));
        }
        mapped
    }
}

/// Boxed futures for the per-call closures, without a `futures` dependency.
mod futures_boxed {
    use std::future::Future;
    use std::pin::Pin;

    /// A boxed future borrowing the connection it runs on.
    pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
}

/// Why one call failed: the driver's error (mapped by the target) or an error already mapped.
enum Failure {
    Db(tokio_postgres::Error),
    Target(TargetError),
}

/// When an error happened, which decides how a bare I/O error reads.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Connect,
    Call,
}

/// A connection borrowed from the pool with its permit. Dropped without [`Lease::release`]
/// (timeout, cancellation, broken connection) the connection is closed, not reused.
struct Lease<'t> {
    target: &'t PostgresTarget,
    client: Option<Client>,
    _permit: SemaphorePermit<'t>,
}

impl Lease<'_> {
    fn release(mut self) {
        if let Some(client) = self.client.take()
            && !client.is_closed()
        {
            lock(&self.target.idle).push(client);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Ends the transaction the caller opened: COMMIT after success, ROLLBACK after failure.
async fn finish_transaction(client: &Client, result: Result<u64, Failure>) -> Result<u64, Failure> {
    match result {
        Ok(rows) => {
            client.batch_execute("COMMIT").await.map_err(Failure::Db)?;
            Ok(rows)
        }
        Err(failure) => {
            client.batch_execute("ROLLBACK").await.map_err(Failure::Db)?;
            Err(failure)
        }
    }
}

/// Runs a query and reads at most `max_rows` rows of it; `truncated` says there were more.
async fn run_query(
    client: &Client,
    sql_text: &str,
    binds: &[(String, Option<String>)],
    max_rows: usize,
) -> Result<LimitedRows, Failure> {
    use futures::TryStreamExt;
    let statement = client.prepare(sql_text).await.map_err(Failure::Db)?;
    let params = convert_binds(&statement, binds)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    let stream = client.query_raw(&statement, refs).await.map_err(|e| bind_failure(e, binds))?;
    let mut stream = std::pin::pin!(stream);
    let mut rows = Vec::new();
    let mut truncated = false;
    while let Some(row) = stream.try_next().await.map_err(|e| bind_failure(e, binds))? {
        if rows.len() == max_rows {
            truncated = true;
            break;
        }
        rows.push(decode_row(&row)?);
    }
    let columns = statement.columns().iter().map(|c| c.name().to_lowercase()).collect();
    Ok(LimitedRows { rows: Rows { columns, rows }, truncated })
}

async fn run_execute(client: &Client, sql_text: &str, binds: &[(String, Option<String>)]) -> Result<u64, Failure> {
    let statement = client.prepare(sql_text).await.map_err(Failure::Db)?;
    let params = convert_binds(&statement, binds)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
    client.execute(&statement, &refs).await.map_err(|e| bind_failure(e, binds))
}

#[cfg(test)]
mod tests {
    use super::binds::*;
    use super::decode::*;
    use super::errors::*;
    use super::write_access::*;
    use super::*;
    use tokio_postgres::types::Type;

    #[test]
    fn write_access_names_every_way_to_write() {
        let none = postgres_write_access(&PostgresGrants { default_read_only: true, ..PostgresGrants::default() });
        assert!(!none.can_write, "{none:?}");
        assert!(none.notes[0].contains("default_transaction_read_only is on"));
        let grants = PostgresGrants {
            superuser: true,
            create_schemas: "public".into(),
            writable_tables: 2,
            writable_examples: "public.a, public.b".into(),
            ..PostgresGrants::default()
        };
        let all = postgres_write_access(&grants);
        assert!(all.can_write);
        assert_eq!(all.reasons.len(), 3, "{:?}", all.reasons);
        assert!(all.reasons[2].contains("public.a"));
    }

    #[test]
    fn loopback_hosts_are_local() {
        let local = tokio_postgres::Config::from_str("host=127.0.0.1,localhost,/tmp dbname=x").expect("parses");
        assert!(all_local(&local));
        let remote = tokio_postgres::Config::from_str("postgres://db.example.com/x").expect("parses");
        assert!(!all_local(&remote));
    }

    #[test]
    fn numeric_grammar() {
        for good in ["1", "-1.5", ".5", "1e10", "1.2E-3", "NaN", "-Infinity", "1_000"] {
            assert!(is_numeric_text(good), "{good}");
        }
        for bad in ["", "e5", "1.2.3", "1e", "12abc", "1;DROP"] {
            assert!(!is_numeric_text(bad), "{bad}");
        }
    }

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        for word in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            out.extend_from_slice(&word.to_be_bytes());
        }
        out
    }

    #[test]
    fn numeric_binary_to_text() {
        assert_eq!(numeric_text(&numeric(2, 0, 0, 2, &[97, 5000])).as_deref(), Some("97.50"));
        assert_eq!(numeric_text(&numeric(2, 1, 0x4000, 0, &[12, 3456])).as_deref(), Some("-123456"));
        assert_eq!(numeric_text(&numeric(1, -1, 0, 5, &[1234])).as_deref(), Some("0.12340"));
        assert_eq!(numeric_text(&numeric(0, 0, 0, 0, &[])).as_deref(), Some("0"));
        assert_eq!(numeric_text(&numeric(1, 2, 0, 0, &[5])).as_deref(), Some("500000000"));
        assert_eq!(numeric_text(&numeric(0, 0, 0xC000, 0, &[])).as_deref(), Some("NaN"));
    }

    #[test]
    fn time_values_read_as_text() {
        assert_eq!(timestamp_text(0, true).as_deref(), Some("2000-01-01T00:00:00Z"));
        assert_eq!(timestamp_text(1_500_000, false).as_deref(), Some("2000-01-01T00:00:01.5"));
        assert_eq!(date_text(-1).as_deref(), Some("1999-12-31"));
        assert_eq!(time_text(3_723_500_000), "01:02:03.5");
    }

    #[test]
    fn values_are_converted_to_declared_types() {
        assert!(matches!(convert("n", Some(" 42 "), &Type::INT4), Ok(Param::I32(42))));
        assert!(matches!(convert("n", None, &Type::INT4), Ok(Param::Null)));
        assert!(matches!(convert("b", Some("Yes"), &Type::BOOL), Ok(Param::Bool(true))));
        let Err(Failure::Target(error)) = convert("pct", Some("ninety"), &Type::INT8) else {
            panic!("a word is not a bigint");
        };
        assert_eq!(error.kind, ErrorKind::Fill);
        assert!(error.message.contains("`:pct`"), "{}", error.message);
        assert!(matches!(convert("t", Some(" padded "), &Type::TEXT), Ok(Param::Text(t)) if t == " padded "));
    }
}
