//! A real PostgreSQL for the tests: `initdb` into a temporary directory, `postgres` on a free
//! loopback port with its socket in that directory, once per test binary.
//!
//! Debian keeps the server binaries in /usr/lib/postgresql/<version>/bin (the newest is used);
//! both refuse to run as root, so under root they run as the `postgres` user. TCP connections
//! need a password (scram-sha-256), so tests exercise real authentication; the harness itself
//! uses the Unix socket (trust). Statics are never dropped, so a small watchdog process,
//! started with the server, stops it by PID and removes the directory once the test binary has
//! exited, however it exited.
//!
//! `pg_stat_statements` is preloaded when the contrib library is installed, so a test database
//! can `CREATE EXTENSION pg_stat_statements`.
//!
//! Every statement the server receives is logged (`log_statement=all`) to [`server_log`], so a
//! test can prove what reached the server as SQL text and what arrived only as a bind value.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sentri::config::{Config, DatabaseConfig};

/// The password of the `postgres` superuser over TCP.
pub const SUPERUSER_PASSWORD: &str = "harness-superuser-pw";

/// The name every test database is configured under (so its password variable is
/// `SENTRI_DB_PGTEST_PASSWORD`).
pub const DB_NAME: &str = "pgtest";

/// The file whose presence makes the server's `archive_command` fail.
const ARCHIVE_FAIL: &str = "archive_fail";

/// Makes the server's `archive_command` fail (`true`) or succeed again (`false`), for the
/// archiver check's tests. The server is per test binary, so only that binary's archiver is
/// affected.
pub fn set_archive_failing(failing: bool) {
    let flag = server().dir.join(ARCHIVE_FAIL);
    if failing {
        fs::write(&flag, b"").expect("create the archive_fail flag");
    } else if flag.exists() {
        fs::remove_file(&flag).expect("remove the archive_fail flag");
    }
}

/// A client program of the server's own version (`pg_receivewal`, `psql`, …), from the same
/// /usr/lib/postgresql/<version>/bin as `postgres`.
pub fn server_program(name: &str) -> PathBuf {
    server_binaries().expect("the server's binaries").join(name)
}

/// The running server of this test binary.
pub struct PgServer {
    /// The temporary directory: `data/`, the socket, `server.log`.
    pub dir: PathBuf,
    /// The loopback TCP port.
    pub port: u16,
    /// The PID of the postmaster.
    pub pid: u32,
    /// How long `initdb` took.
    pub initdb_time: Duration,
    /// From spawning `postgres` to the first successful connection.
    pub ready_time: Duration,
}

static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();

/// The server, started on first use. Panics with the reason (and the install command when
/// binaries are missing) if it cannot start.
pub fn server() -> &'static PgServer {
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(reason) => panic!("PostgreSQL test server: {reason}"),
    }
}

/// The PEM file of the private CA that signed the server's certificate (for the name
/// `localhost` only, not for 127.0.0.1, so tests can tell verify-ca from verify-full): what a
/// DBA would give as `sslrootcert`.
pub fn ca_file() -> PathBuf {
    server().dir.join("ca.pem")
}

/// The server's log so far (every statement it received).
pub fn server_log() -> String {
    fs::read_to_string(server().dir.join("server.log")).unwrap_or_default()
}

/// `postgres://127.0.0.1:<port>/<dbname>?sslmode=disable`.
pub fn connection_string(dbname: &str) -> String {
    format!("postgres://127.0.0.1:{}/{dbname}?sslmode=disable", server().port)
}

/// A `DatabaseConfig` as the configuration loader builds it, for `connection` (a connection
/// string), connecting as `user`; the password goes through the injected environment as
/// `SENTRI_DB_PGTEST_PASSWORD`, exactly as in production.
pub fn database_config_for(connection: &str, user: &str, password: Option<&str>) -> DatabaseConfig {
    let yaml = format!(
        "databases:\n  - name: {DB_NAME}\n    engine: postgres\n    environment: DEV\n    \
         connection_string: \"{connection}\"\n    username: {user}\n"
    );
    let password = password.map(str::to_owned);
    let env = move |var: &str| if var == "SENTRI_DB_PGTEST_PASSWORD" { password.clone() } else { None };
    let loaded = Config::from_yaml(&yaml, Path::new("test-sentri.yaml"), &env).expect("test configuration loads");
    loaded.config.databases.into_iter().next().expect("one database")
}

/// The superuser's configuration for database `dbname` over TCP with a password.
pub fn database_config(dbname: &str) -> DatabaseConfig {
    database_config_for(&connection_string(dbname), "postgres", Some(SUPERUSER_PASSWORD))
}

/// A superuser connection over the Unix socket, for setting tests up behind the target's back.
pub async fn admin(dbname: &str) -> tokio_postgres::Client {
    let server = server();
    let config = format!("host={} port={} user=postgres dbname={dbname}", server.dir.display(), server.port);
    let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls).await.expect("admin connects");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A new, empty database for one test: `t_<random>`.
pub async fn fresh_database() -> String {
    let name = format!("t_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    admin("postgres")
        .await
        .batch_execute(&format!("CREATE DATABASE {name} STRATEGY = FILE_COPY"))
        .await
        .expect("CREATE DATABASE");
    name
}

/// A login role with a password (for authentication tests), allowed to connect to `dbname`.
pub async fn create_role(role: &str, password: &str) {
    admin("postgres")
        .await
        .batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD '{}'", password.replace('\'', "''")))
        .await
        .expect("CREATE ROLE");
}

fn start() -> Result<PgServer, String> {
    let bin = server_binaries()?;
    let as_postgres =
        if fs::metadata("/proc/self").map_err(|e| e.to_string())?.uid() == 0 { Some(postgres_user()?) } else { None };
    let dir = tempfile::Builder::new().prefix("sentri-pg-").tempdir().map_err(|e| e.to_string())?.keep();
    let chown = |path: &Path| -> Result<(), String> {
        if let Some((uid, gid)) = as_postgres {
            std::os::unix::fs::chown(path, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", path.display()))?;
        }
        Ok(())
    };
    chown(&dir)?;
    let command = |program: &Path| {
        let mut command = Command::new(program);
        if let Some((uid, gid)) = as_postgres {
            command.uid(uid).gid(gid);
        }
        command.env("LC_ALL", "C").env_remove("PGDATA");
        command
    };

    let pwfile = dir.join("pwfile");
    fs::write(&pwfile, SUPERUSER_PASSWORD).map_err(|e| e.to_string())?;
    chown(&pwfile)?;
    let initdb_started = Instant::now();
    let output = command(&bin.join("initdb"))
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"])
        .args(["--no-sync", "--no-instructions"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "initdb failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let initdb_time = initdb_started.elapsed();

    // TLS: a private CA and a server certificate it signed, so tests can prove verification.
    let (ca_pem, cert_pem, key_pem) = certificates()?;
    fs::write(dir.join("ca.pem"), ca_pem).map_err(|e| e.to_string())?;
    for (name, text) in [("server.crt", cert_pem), ("server.key", key_pem)] {
        let path = dir.join(name);
        fs::write(&path, text).map_err(|e| e.to_string())?;
        chown(&path)?;
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(|e| e.to_string())?;
    }

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(|e| format!("no free port: {e}"))?
        .port();
    let log_path = dir.join("server.log");
    let log = fs::File::create(&log_path).map_err(|e| e.to_string())?;
    chown(&log_path)?;
    // pg_stat_statements needs preloading before `CREATE EXTENSION` can use it (the
    // investigation tools' tests); it is only loaded where the contrib library is installed.
    let preload = bin
        .parent()
        .map(|root| root.join("lib/pg_stat_statements.so"))
        .filter(|lib| lib.is_file())
        .map_or(Vec::new(), |_| vec!["-c".to_owned(), "shared_preload_libraries=pg_stat_statements".to_owned()]);
    let started = Instant::now();
    let mut child = command(&bin.join("postgres"))
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-k")
        .arg(&dir)
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        .args(["-c", "log_statement=all", "-c", "max_connections=200", "-c", "shared_buffers=16MB"])
        .args(["-c", "ssl=on", "-c", "log_connections=on"])
        // Archiving on, to a command that succeeds (and keeps nothing) unless the test has
        // created `archive_fail` in the server's directory ([`set_archive_failing`]): the
        // archiver check's tests need real failures; every other test sees a working archiver.
        .args(["-c", "archive_mode=on", "-c"])
        .arg(format!("archive_command=test ! -e {}", dir.join(ARCHIVE_FAIL).display()))
        .args(&preload)
        .arg("-c")
        .arg(format!("ssl_cert_file={}", dir.join("server.crt").display()))
        .arg("-c")
        .arg(format!("ssl_key_file={}", dir.join("server.key").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    let pid = child.id();

    // Stops the server and removes its directory once this test binary is gone.
    let watchdog = "while kill -0 \"$1\" 2>/dev/null; do sleep 0.5; done; kill -INT \"$2\" 2>/dev/null; \
                    i=0; while kill -0 \"$2\" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done; \
                    kill -KILL \"$2\" 2>/dev/null; rm -rf \"$3\"";
    Command::new("sh")
        .args(["-c", watchdog, "sentri-pg-watchdog", &std::process::id().to_string(), &pid.to_string()])
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the watchdog: {e}"))?;

    let socket_config = format!("host={} port={port} user=postgres dbname=postgres", dir.display());
    let deadline = started + Duration::from_secs(15);
    let ready = std::thread::spawn(move || -> Result<(), String> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
        runtime.block_on(async {
            loop {
                match tokio_postgres::connect(&socket_config, tokio_postgres::NoTls).await {
                    Ok(_) => return Ok(()),
                    Err(error) if Instant::now() > deadline => return Err(format!("not ready in time: {error}")),
                    Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        })
    });
    let waited = ready.join().map_err(|_| "readiness check panicked".to_owned())?;
    if let Err(reason) = waited {
        let exited = child.try_wait().ok().flatten();
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        return Err(format!("postgres did not become ready ({reason}; exit: {exited:?}):\n{log}"));
    }
    let ready_time = started.elapsed();
    eprintln!(
        "postgres harness: {} ready on 127.0.0.1:{port} (initdb {} ms, server start {} ms)",
        bin.display(),
        initdb_time.as_millis(),
        ready_time.as_millis()
    );
    Ok(PgServer { dir, port, pid, initdb_time, ready_time })
}

/// The newest /usr/lib/postgresql/<version>/bin holding both initdb and postgres.
fn server_binaries() -> Result<PathBuf, String> {
    let missing = "PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin; \
                   install them with: apt-get install -y postgresql";
    let entries = fs::read_dir("/usr/lib/postgresql").map_err(|_| missing.to_owned())?;
    let mut versions: Vec<(Vec<u32>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: Vec<u32> =
                entry.file_name().to_string_lossy().split('.').map(|part| part.parse().ok()).collect::<Option<_>>()?;
            let bin = entry.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("postgres").is_file()).then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| missing.to_owned())
}

/// The uid and gid of the `postgres` OS user, from /etc/passwd.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = fs::read_to_string("/etc/passwd").map_err(|e| e.to_string())?;
    passwd
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.first() == Some(&"postgres"))
                .then(|| Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?)))?
        })
        .ok_or_else(|| {
            "running as root needs the `postgres` OS user to run initdb/postgres: apt-get install -y postgresql"
                .to_owned()
        })
}

/// `(CA certificate, server certificate, server key)` as PEM, the server's for `localhost`.
fn certificates() -> Result<(String, String, String), String> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let text = |e: rcgen::Error| e.to_string();
    let ca_key = KeyPair::generate().map_err(text)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(text)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Sentri test PostgreSQL CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key).map_err(text)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().map_err(text)?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned()]).map_err(text)?;
    server.distinguished_name.push(DnType::CommonName, "localhost");
    let cert = server.signed_by(&key, &issuer).map_err(text)?;
    Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
}

/// The backend process id of `client`'s session.
pub async fn backend_pid(client: &tokio_postgres::Client) -> i32 {
    client.query_one("SELECT pg_backend_pid()", &[]).await.expect("pg_backend_pid").get(0)
}

/// Polls until backend `pid` of database `db` waits on a lock (5 s at most), so a test sees
/// the queue it built.
pub async fn wait_until_waiting(db: &str, pid: i32) {
    let watcher = admin(db).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let row = watcher
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'", &[&pid])
            .await
            .expect("poll pg_stat_activity");
        if row.get::<_, i64>(0) == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "backend {pid} never waited on its lock");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A small table for lock scenarios: 100 accounts.
pub const ACCOUNTS: &str = "CREATE TABLE accounts (id int PRIMARY KEY, balance numeric NOT NULL);
    INSERT INTO accounts SELECT g, 100 FROM generate_series(1, 100) g;";

/// [`ACCOUNTS`] in `db`, then an idle transaction holding a row lock with one session waiting
/// on it; returns the holder's pid, the connection holding it (the lock lives while it does),
/// and the waiter's task, which ends when the lock is released.
pub async fn idle_holder(
    db: &str,
) -> (i32, tokio_postgres::Client, tokio::task::JoinHandle<Result<(), tokio_postgres::Error>>) {
    admin(db).await.batch_execute(ACCOUNTS).await.expect("fixture");
    let holder = admin(db).await;
    let holder_pid = backend_pid(&holder).await;
    holder.batch_execute("BEGIN; UPDATE accounts SET balance = balance + 1 WHERE id = 1").await.expect("holder");
    let waiter = admin(db).await;
    let waiter_pid = backend_pid(&waiter).await;
    let waiting = tokio::spawn(async move {
        waiter.batch_execute("SET statement_timeout = '60s'; UPDATE accounts SET balance = 0 WHERE id = 1").await
    });
    wait_until_waiting(db, waiter_pid).await;
    (holder_pid, holder, waiting)
}
