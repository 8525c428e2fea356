//! The IMAP source: reads alert emails from a mailbox folder as they arrive, stores each as a
//! [`RawAlert`] and only then marks it handled on the server.
//!
//! New mail is taken in batches ([`MAX_BATCH_MESSAGES`] messages, [`MAX_BATCH_BYTES`]): the new
//! UIDs and sizes are listed, then each batch is one streamed `UID FETCH a:b`, one store
//! transaction ([`Store::store_mailbox_batch`]) and one `UID STORE a:b` — a round trip and a
//! commit per batch, not per message.
//!
//! Nothing lost, nothing read twice:
//! - The position in the folder (UIDVALIDITY, last UID) lives in the store and is written in the
//!   same transaction as the batch's raw alerts. Every message with a greater UID is read,
//!   whatever its flags (a human may have opened it).
//! - A message is fetched with `BODY.PEEK[]<0.N>`, which does not set `\Seen`; its batch is
//!   flagged `\Seen $SentriHandled` only after it is stored. A crash between the two leaves the
//!   batch stored and unflagged, and its UIDs recorded as read, so it is not read again; the next
//!   session flags the last batch's worth of UIDs again, so it heals. Should a message be read
//!   again all the same, the raw-alert dedupe (Message-ID or content hash) stores it once.
//! - When the server renumbers the folder (a new UIDVALIDITY), the folder is read from the start;
//!   the raw-alert dedupe (Message-ID or content hash) keeps anything from being stored twice.
//!
//! One message costs at most `email.max_message_bytes` of memory and store, a batch at most
//! [`MAX_BATCH_BYTES`] (each message parsed as it streams in, its wire bytes dropped): its size
//! (`RFC822.SIZE`) is listed before it is fetched, and the fetch asks for the first N bytes only
//! (`BODY.PEEK[]<0.N>`), so the server never sends more, whatever the size it announced. A
//! message cut that way is stored marked with its original size. (async-imap reads one response
//! into one buffer; bounding the literal the server sends is what bounds that buffer.)
//!
//! New mail is awaited with IDLE (re-issued before the 29-minute limit of RFC 2177), or by polling
//! every `monitoring.scout_poll_interval` when the server has no IDLE. Connection problems are
//! retried with exponential backoff; the only errors [`run`] returns are configuration mistakes
//! that no retry can fix. All waiting uses `tokio::time`, so tests can run it on a paused clock.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::imap_proto::{Response, Status};
use async_imap::types::{Fetch, Flag, UnsolicitedResponse};
use async_imap::{Client, Session};
use futures::TryStreamExt;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::RawAlert;
use crate::config::{EmailConfig, MonitoringConfig, Secret};
use crate::store::{MailboxKey, MailboxMessage, MailboxPosition, Store, StoreError, timestamp_text};

/// The keyword Sentri sets on a message it has stored, beside `\Seen`.
pub const HANDLED_KEYWORD: &str = "$SentriHandled";

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (`email.use_ssl: true`, usually port 993).
    ImplicitTls,
    /// A plain connection upgraded with STARTTLS before LOGIN (`use_ssl: false`).
    StartTls,
    /// No TLS at all (`use_ssl: false, starttls: false`): loopback only, unless
    /// `allow_plaintext` says otherwise.
    Plain,
}

/// Everything the IMAP source needs, taken from the configuration once.
#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Secret,
    pub security: Security,
    /// Plain text to a host that is not loopback is refused unless this is set.
    pub allow_plaintext: bool,
    /// The folder alerts are read from ("INBOX").
    pub folder: String,
    /// How often to look for new mail when the server has no IDLE.
    pub poll_interval: Duration,
    /// How long one IDLE runs before it is ended and re-issued (servers may drop an IDLE
    /// after 30 minutes; RFC 2177 says re-issue within 29).
    pub idle_renewal: Duration,
    /// The first reconnect delay; it doubles after each failed attempt...
    pub backoff_initial: Duration,
    /// ...up to this cap, and starts over after a session that stored a message or caught up.
    pub backoff_max: Duration,
    /// The longest any single command (connect, TLS handshake, LOGIN, FETCH, STORE) may take
    /// before the connection is considered dead.
    pub io_timeout: Duration,
    /// Extra CA certificates to trust beside the public roots (`email.ca_file`).
    pub ca_file: Option<std::path::PathBuf>,
    /// The most of one message fetched (`email.max_message_bytes`); a larger message is stored
    /// as its first `max_message_bytes` bytes, marked with its size.
    pub max_message_bytes: u32,
}

impl ImapSettings {
    /// Settings from `email` and `monitoring`, with the default timings (IDLE renewed every
    /// 25 minutes, backoff 1 s doubling to 60 s, 60 s per command).
    pub fn from_config(email: &EmailConfig, monitoring: &MonitoringConfig) -> Result<ImapSettings, IntakeError> {
        if email.imap_server.is_empty() {
            return Err(IntakeError::NotConfigured { what: "email.imap_server" });
        }
        if email.username.is_empty() {
            return Err(IntakeError::NotConfigured { what: "email.username" });
        }
        let password = email
            .password
            .clone()
            .ok_or(IntakeError::NotConfigured { what: "the IMAP password (SENTRI_EMAIL_PASSWORD)" })?;
        let security = match (email.use_ssl, email.starttls) {
            (true, _) => Security::ImplicitTls,
            (false, true) => Security::StartTls,
            (false, false) => Security::Plain,
        };
        Ok(ImapSettings {
            host: email.imap_server.clone(),
            port: email.imap_port,
            username: email.username.clone(),
            password,
            security,
            allow_plaintext: email.allow_plaintext,
            folder: if email.folder.is_empty() { "INBOX".to_owned() } else { email.folder.clone() },
            poll_interval: monitoring.scout_poll_interval,
            idle_renewal: Duration::from_secs(25 * 60),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            io_timeout: Duration::from_secs(60),
            ca_file: email.ca_file.clone(),
            max_message_bytes: email.max_message_bytes,
        })
    }

    /// Refuses plain text to a host that is not loopback (unless explicitly allowed), before
    /// anything is sent: the password would otherwise cross the network in clear.
    pub fn check_transport(&self) -> Result<(), IntakeError> {
        if self.security == Security::Plain && !self.allow_plaintext && !is_loopback(&self.host) {
            return Err(IntakeError::PlaintextRefused { host: self.host.clone() });
        }
        Ok(())
    }

    /// Where this source keeps its position in the store.
    pub fn mailbox_key(&self) -> MailboxKey {
        MailboxKey {
            server: self.host.to_ascii_lowercase(),
            username: self.username.clone(),
            folder: self.folder.clone(),
        }
    }
}

pub use crate::config::is_loopback;

/// What stopped or interrupted the IMAP source.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// A setting the source cannot run without is missing.
    #[error("IMAP intake is not configured: {what} is missing")]
    NotConfigured { what: &'static str },
    /// Plain text to a non-loopback host, not explicitly allowed. Nothing was sent.
    #[error(
        "refusing to send the IMAP password in clear text to {host}: it is not a loopback host; \
         use email.use_ssl or email.starttls, or set email.allow_plaintext: true"
    )]
    PlaintextRefused { host: String },
    /// `email.ca_file` cannot be used.
    #[error("email.ca_file: {0}")]
    CaFile(#[from] crate::tls::CaFileError),
    /// The host cannot be used as a TLS server name.
    #[error("{host:?} is not a valid TLS server name")]
    InvalidServerName { host: String },
    /// The TCP connection could not be made.
    #[error("cannot connect to {host}:{port}")]
    Connect {
        host: String,
        port: u16,
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake (implicit or after STARTTLS) failed.
    #[error("TLS handshake with {host} failed")]
    Tls {
        host: String,
        #[source]
        source: std::io::Error,
    },
    /// The server said nothing within the command timeout.
    #[error("the IMAP server did not answer within {limit:?} during {during}")]
    Timeout { during: &'static str, limit: Duration },
    /// The server's greeting was not OK (e.g. BYE), or the connection closed before it.
    #[error("the IMAP server refused the connection: {detail}")]
    Greeting { detail: String },
    /// LOGIN was rejected.
    #[error("IMAP login as {username} failed")]
    Login {
        username: String,
        #[source]
        source: async_imap::error::Error,
    },
    /// An IMAP command failed (or the connection broke during it).
    #[error("IMAP {during} failed")]
    Imap {
        during: &'static str,
        #[source]
        source: async_imap::error::Error,
    },
    /// The server sent no UIDVALIDITY for the folder, so UIDs cannot be trusted across sessions.
    #[error("the server gave no UIDVALIDITY for folder {folder:?}")]
    NoUidValidity { folder: String },
    /// Storing a message (or reading the position) failed; the message stays unflagged.
    #[error("storing mail from the IMAP folder failed")]
    Store(#[from] StoreError),
    /// The blocking store call did not complete (panicked or was cancelled).
    #[error("the store task failed")]
    StoreTask(#[from] tokio::task::JoinError),
}

impl IntakeError {
    /// True for configuration mistakes no reconnect can fix; [`run`] returns these. Everything
    /// else is retried with backoff.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            IntakeError::NotConfigured { .. }
                | IntakeError::PlaintextRefused { .. }
                | IntakeError::CaFile(_)
                | IntakeError::InvalidServerName { .. }
        )
    }
}

/// Reconnect delays: `initial`, doubling after each failure up to `max`, back to `initial`
/// after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        let initial = initial.min(max);
        Backoff { initial, max, next: initial }
    }

    /// The delay before the next attempt; the one after it doubles (capped).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        delay
    }

    /// A connection succeeded: the next failure waits `initial` again.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

pub use crate::tls::install_crypto_provider;

/// Reads `settings.folder` until `shutdown` is cancelled: every new message is stored, its raw
/// alert id sent on `notify` (only for messages not stored before), then flagged handled.
///
/// Returns `Ok(())` when cancelled, or an error that retrying cannot fix (plain text refused,
/// missing settings). Connection, server and store errors are logged and retried with backoff.
pub async fn run(
    settings: ImapSettings,
    store: Arc<Store>,
    notify: mpsc::Sender<i64>,
    shutdown: CancellationToken,
) -> Result<(), IntakeError> {
    run_reporting(settings, store, notify, Arc::new(ImapStatus::default()), shutdown).await
}

/// Whether the intake is connected now, and whether it has tried yet: what the engine's
/// readiness, `/readyz`, the metrics and systemd's `STATUS=` line say about the mailbox.
#[derive(Debug, Default)]
pub struct ImapStatus {
    connected: AtomicBool,
    /// Sessions that ended (or connected): 0 until the first attempt has an outcome.
    attempts: std::sync::atomic::AtomicU64,
    /// The last session's error, one line, when it is not connected.
    last_error: std::sync::Mutex<Option<String>>,
    /// The highest UID the server listed in the folder, at the last listing.
    newest_uid: std::sync::atomic::AtomicU32,
    /// The highest UID stored.
    stored_uid: std::sync::atomic::AtomicU32,
}

impl ImapStatus {
    /// Logged in and the folder selected.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Whether a first connection attempt has ended one way or the other.
    pub fn tried(&self) -> bool {
        self.attempts.load(Ordering::Relaxed) > 0
    }

    /// Why the intake is not connected (the last session's error), if it is not.
    pub fn last_error(&self) -> Option<String> {
        if self.connected() {
            return None;
        }
        self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Messages the server listed that are not stored yet (by UID, at the last listing): how
    /// far the intake is behind its folder. 0 when caught up or not connected yet.
    pub fn uid_lag(&self) -> u32 {
        self.newest_uid.load(Ordering::Relaxed).saturating_sub(self.stored_uid.load(Ordering::Relaxed))
    }

    fn set_uids(&self, newest: Option<u32>, stored: u32) {
        if let Some(newest) = newest {
            self.newest_uid.store(newest, Ordering::Relaxed);
        }
        self.stored_uid.store(stored, Ordering::Relaxed);
    }

    /// The intake could not even start (its settings are incomplete): not connected, tried.
    pub fn record_unstartable(&self, error: String) {
        self.set_failed(error);
    }

    fn set_connected(&self) {
        self.connected.store(true, Ordering::Relaxed);
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }

    fn set_failed(&self, error: String) {
        self.connected.store(false, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error);
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }
}

/// [`run`], reporting the connection's state in `status` as it changes.
pub async fn run_reporting(
    settings: ImapSettings,
    store: Arc<Store>,
    notify: mpsc::Sender<i64>,
    status: Arc<ImapStatus>,
    shutdown: CancellationToken,
) -> Result<(), IntakeError> {
    let status_on_exit = Arc::clone(&status);
    let outcome = run_sessions(settings, store, notify, status, shutdown).await;
    if let Err(error) = &outcome {
        status_on_exit.set_failed(error_chain(error));
    }
    outcome
}

async fn run_sessions(
    settings: ImapSettings,
    store: Arc<Store>,
    notify: mpsc::Sender<i64>,
    status: Arc<ImapStatus>,
    shutdown: CancellationToken,
) -> Result<(), IntakeError> {
    settings.check_transport()?;
    let tls = match settings.security {
        Security::Plain => None,
        Security::ImplicitTls | Security::StartTls => Some(tls_connector(settings.ca_file.as_deref())?),
    };
    let source = Source { settings, store, notify, tls, progressed: AtomicBool::new(false), status };
    let mut backoff = Backoff::new(source.settings.backoff_initial, source.settings.backoff_max);
    let mut attempt: u32 = 0;
    loop {
        attempt = attempt.saturating_add(1);
        source.progressed.store(false, Ordering::Relaxed);
        let outcome = tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            outcome = source.session() => outcome,
        };
        let Err(error) = outcome;
        source.status.set_failed(error_chain(&error));
        if error.is_permanent() {
            return Err(error);
        }
        // A session that stored something or caught up was a success; one that fails before
        // that again and again (a store that refuses every write, a login that is rejected)
        // backs off further each time.
        if source.progressed.load(Ordering::Relaxed) {
            backoff.reset();
            attempt = 1;
        }
        let delay = backoff.next_delay();
        warn!(
            host = %source.settings.host,
            folder = %source.settings.folder,
            attempt,
            retry_in = ?delay,
            error = %error_chain(&error),
            "IMAP intake interrupted; reconnecting"
        );
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// An error and its sources on one line, for logs.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn tls_connector(ca_file: Option<&std::path::Path>) -> Result<TlsConnector, IntakeError> {
    Ok(TlsConnector::from(crate::tls::client_config(ca_file)?))
}

/// The byte stream under the IMAP client: plain TCP or TLS over TCP.
#[derive(Debug)]
enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Bounds one command by `limit` and names it in the error.
async fn timed<T>(
    limit: Duration,
    during: &'static str,
    command: impl Future<Output = Result<T, async_imap::error::Error>>,
) -> Result<T, IntakeError> {
    match tokio::time::timeout(limit, command).await {
        Ok(result) => result.map_err(|source| IntakeError::Imap { during, source }),
        Err(_) => Err(IntakeError::Timeout { during, limit }),
    }
}

/// Opens logged-in sessions: TCP, TLS (implicit or STARTTLS) with the configured roots, the
/// greeting and LOGIN, each under the I/O timeout.
struct Dialer<'a> {
    settings: &'a ImapSettings,
    tls: Option<&'a TlsConnector>,
}

impl Dialer<'_> {
    async fn connect(&self) -> Result<Session<Stream>, IntakeError> {
        let settings = &self.settings;
        let connect = TcpStream::connect((settings.host.as_str(), settings.port));
        let tcp = match tokio::time::timeout(settings.io_timeout, connect).await {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(source)) => {
                return Err(IntakeError::Connect { host: settings.host.clone(), port: settings.port, source });
            }
            Err(_) => return Err(IntakeError::Timeout { during: "connect", limit: settings.io_timeout }),
        };
        let client = match settings.security {
            Security::ImplicitTls => {
                let mut client = Client::new(self.tls_wrap(tcp).await?);
                self.greeting(&mut client).await?;
                client
            }
            Security::StartTls => {
                let mut plain = Client::new(tcp);
                self.greeting(&mut plain).await?;
                timed(settings.io_timeout, "STARTTLS", plain.run_command_and_check_ok("STARTTLS", None)).await?;
                Client::new(self.tls_wrap(plain.into_inner()).await?)
            }
            Security::Plain => {
                let mut client = Client::new(Stream::Plain(tcp));
                self.greeting(&mut client).await?;
                client
            }
        };
        let login = client.login(&settings.username, settings.password.expose());
        match tokio::time::timeout(settings.io_timeout, login).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err((source, _client))) => Err(IntakeError::Login { username: settings.username.clone(), source }),
            Err(_) => Err(IntakeError::Timeout { during: "LOGIN", limit: settings.io_timeout }),
        }
    }

    async fn tls_wrap(&self, tcp: TcpStream) -> Result<Stream, IntakeError> {
        let host = &self.settings.host;
        let Some(tls) = self.tls else {
            return Err(IntakeError::Tls {
                host: host.clone(),
                source: std::io::Error::other("TLS is not configured for this source"),
            });
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let name = ServerName::try_from(bare).map_err(|_| IntakeError::InvalidServerName { host: host.clone() })?;
        match tokio::time::timeout(self.settings.io_timeout, tls.connect(name, tcp)).await {
            Ok(Ok(stream)) => Ok(Stream::Tls(Box::new(stream))),
            Ok(Err(source)) => Err(IntakeError::Tls { host: host.clone(), source }),
            Err(_) => Err(IntakeError::Timeout { during: "TLS handshake", limit: self.settings.io_timeout }),
        }
    }

    /// Reads the server's first line: `* OK` (or `* PREAUTH`) to go on; `* BYE` or nothing is
    /// an error.
    async fn greeting<T>(&self, client: &mut Client<T>) -> Result<(), IntakeError>
    where
        T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
    {
        let limit = self.settings.io_timeout;
        let response = match tokio::time::timeout(limit, client.read_response()).await {
            Ok(Ok(Some(response))) => response,
            Ok(Ok(None)) => return Err(IntakeError::Greeting { detail: "connection closed before greeting".into() }),
            Ok(Err(source)) => return Err(IntakeError::Imap { during: "greeting", source: source.into() }),
            Err(_) => return Err(IntakeError::Timeout { during: "greeting", limit }),
        };
        match response.parsed() {
            Response::Data { status: Status::Ok | Status::PreAuth, .. } => Ok(()),
            other => Err(IntakeError::Greeting { detail: format!("{other:?}") }),
        }
    }
}

/// Connects, logs in, selects the folder and logs out, once: proves the settings work (TLS
/// trust, credentials, folder) without reading or flagging any mail.
pub async fn check(settings: &ImapSettings) -> Result<(), IntakeError> {
    settings.check_transport()?;
    let tls = match settings.security {
        Security::Plain => None,
        Security::ImplicitTls | Security::StartTls => Some(tls_connector(settings.ca_file.as_deref())?),
    };
    let mut session = Dialer { settings, tls: tls.as_ref() }.connect().await?;
    timed(settings.io_timeout, "SELECT", session.examine(&settings.folder)).await?;
    timed(settings.io_timeout, "LOGOUT", session.logout()).await?;
    Ok(())
}

/// One IMAP source: its settings and where its mail goes.
struct Source {
    settings: ImapSettings,
    store: Arc<Store>,
    notify: mpsc::Sender<i64>,
    tls: Option<TlsConnector>,
    /// Set when the current session stored a message or caught up with the folder.
    progressed: AtomicBool,
    status: Arc<ImapStatus>,
}

/// What one logged-in session knows about its folder.
struct Folder {
    uidvalidity: u32,
    /// The highest UID stored under `uidvalidity`.
    last_uid: u32,
    /// `+FLAGS (...)` argument marking a message handled.
    handled_flags: &'static str,
}

const FLAGS_WITH_KEYWORD: &str = "+FLAGS.SILENT (\\Seen $SentriHandled)";
const FLAGS_SEEN_ONLY: &str = "+FLAGS.SILENT (\\Seen)";

impl Source {
    /// Bounds one command by the I/O timeout and names it in the error.
    async fn timed<T>(
        &self,
        during: &'static str,
        command: impl Future<Output = Result<T, async_imap::error::Error>>,
    ) -> Result<T, IntakeError> {
        timed(self.settings.io_timeout, during, command).await
    }

    fn dialer(&self) -> Dialer<'_> {
        Dialer { settings: &self.settings, tls: self.tls.as_ref() }
    }

    /// Runs a blocking store call on the blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, IntakeError> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || call(&store)).await??)
    }

    /// One connection, from connect to the first error. Never returns `Ok`: a session ends only
    /// by failing (or by being dropped when shutdown is cancelled).
    async fn session(&self) -> Result<std::convert::Infallible, IntakeError> {
        let mut session = self.dialer().connect().await?;
        let mailbox = self.timed("SELECT", session.select(&self.settings.folder)).await?;
        let uidvalidity =
            mailbox.uid_validity.ok_or_else(|| IntakeError::NoUidValidity { folder: self.settings.folder.clone() })?;
        let keyword_allowed = mailbox
            .permanent_flags
            .iter()
            .any(|flag| matches!(flag, Flag::MayCreate) || matches!(flag, Flag::Custom(k) if k == HANDLED_KEYWORD));
        let capabilities = self.timed("CAPABILITY", session.capabilities()).await?;
        let idle = capabilities.has_str("IDLE");

        let key = self.settings.mailbox_key();
        let position = self.blocking(move |store| store.mailbox_position(&key)).await?;
        let mut folder = Folder {
            uidvalidity,
            last_uid: MailboxPosition::last_uid_under(position, uidvalidity),
            handled_flags: if keyword_allowed { FLAGS_WITH_KEYWORD } else { FLAGS_SEEN_ONLY },
        };
        if let Some(old) = position.filter(|p| p.uidvalidity != uidvalidity) {
            warn!(
                folder = %self.settings.folder,
                old = old.uidvalidity,
                new = uidvalidity,
                "the folder's UIDVALIDITY changed; reading it again from the start (stored alerts are not duplicated)"
            );
        }
        info!(
            host = %self.settings.host,
            user = %self.settings.username,
            folder = %self.settings.folder,
            uidvalidity,
            last_uid = folder.last_uid,
            idle,
            "IMAP intake connected"
        );
        self.status.set_connected();
        // The last batch stored may have been stored but not flagged (a crash or a broken
        // connection in between): flagging is idempotent, so flag the last batch's worth again.
        if folder.last_uid > 0 {
            let last = folder.last_uid;
            let range = uid_range(last.saturating_sub(MAX_BATCH_MESSAGES as u32 - 1).max(1), last);
            self.flag(&mut session, &mut folder, &range).await?;
        }

        if position.is_none() {
            // First time this folder is read: mail a person already read is history, not an
            // alert to act on now. Start at the first unread message (`sentri replay` is the way
            // to push old mail through on purpose).
            folder.last_uid = self.first_run_start(&mut session, uidvalidity, mailbox.uid_next).await?;
        }

        loop {
            self.read_new(&mut session, &mut folder).await?;
            self.progressed.store(true, Ordering::Relaxed);
            if arrived_meanwhile(&session) {
                continue;
            }
            if idle {
                session = self.idle(session).await?;
            } else {
                tokio::time::sleep(self.settings.poll_interval).await;
            }
        }
    }

    /// Where a folder read for the first time starts: just before its first unread message, or,
    /// when everything had been read, where the folder ended when it was selected (`UIDNEXT`, a
    /// snapshot: mail arriving later has a higher UID and is read). The position is recorded,
    /// so skipped history stays skipped. Without `UIDNEXT` the whole folder is read.
    async fn first_run_start(
        &self,
        session: &mut Session<Stream>,
        uidvalidity: u32,
        uid_next: Option<u32>,
    ) -> Result<u32, IntakeError> {
        let unseen = self.timed("UID SEARCH UNSEEN", session.uid_search("UNSEEN")).await?;
        let start = match unseen.iter().min() {
            Some(first_unread) => first_unread.saturating_sub(1),
            None => uid_next.unwrap_or(1).saturating_sub(1),
        };
        if start > 0 {
            let key = self.settings.mailbox_key();
            self.blocking(move |store| store.record_uid(&key, uidvalidity, start)).await?;
            info!(folder = %self.settings.folder, skipped_through_uid = start, "first read of this folder: mail already read is left alone");
        }
        Ok(start)
    }

    /// Stores every message with a UID above `folder.last_uid`, in UID order, a batch at a
    /// time ([`batches`]): one streamed `UID FETCH` per batch, one store transaction, the ids
    /// announced, then one `UID STORE` flagging the batch.
    async fn read_new(&self, session: &mut Session<Stream>, folder: &mut Folder) -> Result<(), IntakeError> {
        let range = format!("{}:*", folder.last_uid.saturating_add(1));
        let listed: Vec<Fetch> = self
            .timed("UID FETCH (list new)", async {
                session.uid_fetch(&range, "(UID RFC822.SIZE)").await?.try_collect().await
            })
            .await?;
        // `n:*` also matches the highest UID when it is below n, so filter.
        let mut new: Vec<(u32, Option<u32>)> = listed
            .iter()
            .filter_map(|f| f.uid.map(|uid| (uid, f.size)))
            .filter(|(uid, _)| *uid > folder.last_uid)
            .collect();
        drop(listed);
        new.sort_unstable();
        new.dedup_by_key(|(uid, _)| *uid);
        let newest = new.last().map_or(folder.last_uid, |(uid, _)| *uid);
        self.status.set_uids(Some(newest), folder.last_uid);
        for batch in batches(&new, self.settings.max_message_bytes, MAX_BATCH_MESSAGES, MAX_BATCH_BYTES) {
            self.take_batch(session, folder, batch).await?;
        }
        Ok(())
    }

    /// Fetches one batch (at most `max_message_bytes` of each message, streamed: each message
    /// is parsed as it arrives and its wire bytes dropped), stores it in one transaction (with
    /// the UIDs and, for a cut message, its original size), announces the new ids, and only
    /// then flags the batch with one `UID STORE`. `batch` is (UID, listed RFC822.SIZE), sorted.
    async fn take_batch(
        &self,
        session: &mut Session<Stream>,
        folder: &mut Folder,
        batch: &[(u32, Option<u32>)],
    ) -> Result<(), IntakeError> {
        let (Some(&(first, _)), Some(&(last, _))) = (batch.first(), batch.last()) else {
            return Ok(());
        };
        let cap = self.settings.max_message_bytes;
        for (uid, size) in batch.iter().filter(|(_, size)| size.is_some_and(|size| size > cap)) {
            warn!(uid, size, cap, "message is larger than email.max_message_bytes; storing its first bytes, marked");
        }
        // Partial even when the listed size fits: the request itself bounds what the server
        // may send, so a size that changed or was misreported cannot make it unbounded.
        let query = format!("(UID RFC822.SIZE BODY.PEEK[]<0.{cap}>)");
        let range = uid_range(first, last);
        let received_at = timestamp_text(self.store.now());
        let mut messages: Vec<MailboxMessage> = Vec::with_capacity(batch.len());
        self.timed("UID FETCH (messages)", async {
            let mut fetches = session.uid_fetch(&range, &query).await?;
            while let Some(message) = fetches.try_next().await? {
                let Some(uid) = message.uid else { continue };
                let Ok(at) = batch.binary_search_by_key(&uid, |(uid, _)| *uid) else { continue };
                if messages.iter().any(|taken| taken.uid == uid) {
                    continue;
                }
                let raw = message.body().unwrap_or_default();
                let original_size = cut_from(raw.len(), message.size.or(batch[at].1), cap);
                let alert = RawAlert::from_rfc822(raw, received_at.clone());
                if let Some(problem) = &alert.parse_error {
                    warn!(uid, problem = %problem, "message is malformed; storing it as it is, marked");
                }
                messages.push(MailboxMessage { uid, alert, original_size });
            }
            Ok::<(), async_imap::error::Error>(())
        })
        .await?;
        if messages.len() < batch.len() {
            // Expunged between listing and fetching: there is nothing left to read of those.
            debug!(listed = batch.len(), fetched = messages.len(), "messages vanished before they could be fetched");
        }
        messages.sort_by_key(|message| message.uid);
        let key = self.settings.mailbox_key();
        let uidvalidity = folder.uidvalidity;
        let (messages, stored) = self
            .blocking(move |store| {
                let stored = store.store_mailbox_batch(&key, uidvalidity, &messages)?;
                Ok((messages, stored))
            })
            .await?;
        folder.last_uid = folder.last_uid.max(messages.last().map_or(0, |message| message.uid));
        self.status.set_uids(None, folder.last_uid);
        self.progressed.store(true, Ordering::Relaxed);
        let fresh = stored.iter().filter(|(_, new)| *new).count();
        drop(messages);
        for (id, new) in stored.iter().copied() {
            if !new {
                debug!(
                    raw_alert_id = id,
                    "message was already stored (a second delivery, or the folder was renumbered)"
                );
            } else if self.notify.send(id).await.is_err() {
                // Nobody listens (the engine is stopping); the alert is stored and will be
                // picked up as pending on the next start.
                debug!(id, "raw alert stored but nobody is listening for it");
            }
        }
        self.flag(session, folder, &range).await?;
        info!(uids = %range, stored = stored.len(), new = fresh, "stored and flagged alert emails");
        Ok(())
    }

    /// Marks the messages of `uid_text` (a UID set) handled, with one command. If the server
    /// refuses the keyword, falls back to `\Seen` alone for the rest of the session.
    async fn flag(
        &self,
        session: &mut Session<Stream>,
        folder: &mut Folder,
        uid_text: &str,
    ) -> Result<(), IntakeError> {
        let result: Result<Vec<Fetch>, IntakeError> = self
            .timed("UID STORE", async { session.uid_store(uid_text, folder.handled_flags).await?.try_collect().await })
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(IntakeError::Imap { source: async_imap::error::Error::No(reason), .. })
                if folder.handled_flags == FLAGS_WITH_KEYWORD =>
            {
                warn!(uids = %uid_text, reason = %reason, "the server refused the {HANDLED_KEYWORD} keyword; flagging \\Seen only");
                folder.handled_flags = FLAGS_SEEN_ONLY;
                let _: Vec<Fetch> = self
                    .timed("UID STORE", async {
                        session.uid_store(uid_text, folder.handled_flags).await?.try_collect().await
                    })
                    .await?;
                Ok(())
            }
            Err(error) => Err(error),
        }
    }

    /// Waits in IDLE until the server reports a change or the renewal time passes.
    async fn idle(&self, session: Session<Stream>) -> Result<Session<Stream>, IntakeError> {
        let mut handle = session.idle();
        self.timed("IDLE", handle.init()).await?;
        {
            let (wait, _interrupt) = handle.wait_with_timeout(self.settings.idle_renewal);
            match wait.await.map_err(|source| IntakeError::Imap { during: "IDLE", source })? {
                async_imap::extensions::idle::IdleResponse::NewData(data) => {
                    debug!(response = ?data.parsed(), "IDLE: the folder changed");
                }
                async_imap::extensions::idle::IdleResponse::Timeout => debug!("IDLE renewal"),
                async_imap::extensions::idle::IdleResponse::ManualInterrupt => {
                    // The server closed the stream under us.
                    return Err(IntakeError::Imap { during: "IDLE", source: async_imap::error::Error::ConnectionLost });
                }
            }
        }
        self.timed("IDLE DONE", handle.done()).await
    }
}

/// The most messages fetched, stored and flagged as one batch: a crash between storing and
/// flagging leaves at most this many unflagged, and a new session flags this many again.
pub const MAX_BATCH_MESSAGES: usize = 200;
/// The most message bytes (each counted up to `email.max_message_bytes`) held for one batch, so
/// that a burst of large mail is taken in bounded memory.
pub const MAX_BATCH_BYTES: u64 = 16 * 1024 * 1024;

/// Cuts the new messages (UID, listed size; sorted) into batches of at most `max_messages`
/// messages and `max_bytes` bytes (a message counts at most `cap`; one larger than the budget
/// is a batch of its own).
fn batches(new: &[(u32, Option<u32>)], cap: u32, max_messages: usize, max_bytes: u64) -> Vec<&[(u32, Option<u32>)]> {
    let mut batches = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (index, (_, size)) in new.iter().enumerate() {
        let cost = u64::from(size.unwrap_or(cap).min(cap));
        if index > start && (index - start >= max_messages || bytes + cost > max_bytes) {
            batches.push(&new[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += cost;
    }
    if start < new.len() {
        batches.push(&new[start..]);
    }
    batches
}

/// `first:last` as IMAP writes a UID range (`7` for one message).
fn uid_range(first: u32, last: u32) -> String {
    if first == last { first.to_string() } else { format!("{first}:{last}") }
}

/// The original size to mark a stored message with when only its first `received` bytes were
/// fetched: the server's RFC822.SIZE when it is larger than what came, or, when the server gave
/// no size, at least the cap if that much came (the rest was not asked for). `None`: whole.
fn cut_from(received: usize, size: Option<u32>, cap: u32) -> Option<u64> {
    let received = u64::try_from(received).unwrap_or(u64::MAX);
    match size {
        Some(size) if u64::from(size) > received => Some(u64::from(size)),
        Some(_) => None,
        None if received >= u64::from(cap) => Some(received),
        None => None,
    }
}

/// True if the server announced new messages while other commands ran (those announcements
/// would otherwise be missed by the next IDLE). Drains the queue either way.
fn arrived_meanwhile(session: &Session<Stream>) -> bool {
    let mut arrived = false;
    while let Ok(response) = session.unsolicited_responses.try_recv() {
        if matches!(response, UnsolicitedResponse::Exists(_) | UnsolicitedResponse::Recent(_)) {
            arrived = true;
        }
    }
    arrived
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_counts_listed_messages_not_yet_stored_and_says_why_it_is_down() {
        let status = ImapStatus::default();
        assert!(!status.tried() && !status.connected() && status.uid_lag() == 0);
        status.set_uids(Some(10), 7);
        assert_eq!(status.uid_lag(), 3, "UIDs 8, 9 and 10 listed, not stored");
        status.set_uids(None, 9);
        assert_eq!(status.uid_lag(), 1);
        status.set_failed("connection refused".into());
        assert!(status.tried() && !status.connected());
        assert_eq!(status.last_error().as_deref(), Some("connection refused"));
        status.set_connected();
        assert_eq!(status.last_error(), None, "no error while connected");
    }

    fn settings(host: &str, security: Security, allow_plaintext: bool) -> ImapSettings {
        ImapSettings {
            host: host.to_owned(),
            port: 143,
            username: "alerts".into(),
            password: Secret::new("pw"),
            security,
            allow_plaintext,
            folder: "INBOX".into(),
            poll_interval: Duration::from_secs(60),
            idle_renewal: Duration::from_secs(25 * 60),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            io_timeout: Duration::from_secs(60),
            ca_file: None,
            max_message_bytes: crate::config::EmailConfig::default().max_message_bytes,
        }
    }

    #[test]
    fn a_message_is_marked_cut_only_when_more_was_there() {
        assert_eq!(cut_from(1000, Some(1000), 4096), None, "whole");
        assert_eq!(cut_from(4096, Some(52_428_800), 4096), Some(52_428_800), "cut at the cap");
        assert_eq!(cut_from(4096, Some(4096), 4096), None, "exactly the cap is whole");
        assert_eq!(cut_from(4096, None, 4096), Some(4096), "no size given, the cap reached: cut");
        assert_eq!(cut_from(10, None, 4096), None);
    }

    #[test]
    fn new_mail_is_cut_into_bounded_batches() {
        let new: Vec<(u32, Option<u32>)> = (1..=5).map(|uid| (uid, Some(100))).collect();
        let sizes = |batches: Vec<&[(u32, Option<u32>)]>| batches.iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(sizes(batches(&new, 1000, 2, u64::MAX)), [2, 2, 1], "by count");
        assert_eq!(sizes(batches(&new, 1000, 100, 250)), [2, 2, 1], "by bytes");
        assert_eq!(sizes(batches(&new, 50, 100, 250)), [5], "a message counts at most the cap");
        let huge = [(1, Some(u32::MAX)), (2, None), (3, Some(10))];
        assert_eq!(sizes(batches(&huge, 1000, 100, 500)), [1, 1, 1], "one over the budget is a batch alone");
        assert!(batches(&[], 1000, 100, 500).is_empty());
        assert_eq!(uid_range(3, 3), "3");
        assert_eq!(uid_range(3, 9), "3:9");
    }

    #[test]
    fn loopback_hosts() {
        for host in ["localhost", "LOCALHOST", "127.0.0.1", "127.3.2.1", "::1", "[::1]"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["imap.example.org", "10.0.0.1", "192.168.1.1", "::2", "localhost.example.org", ""] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn plain_text_is_for_loopback_unless_allowed() {
        assert!(settings("127.0.0.1", Security::Plain, false).check_transport().is_ok());
        let err = settings("imap.example.org", Security::Plain, false).check_transport().unwrap_err();
        assert!(matches!(err, IntakeError::PlaintextRefused { .. }), "{err:?}");
        assert!(err.is_permanent());
        assert!(err.to_string().contains("imap.example.org"), "{err}");
        assert!(settings("imap.example.org", Security::Plain, true).check_transport().is_ok());
        assert!(settings("imap.example.org", Security::StartTls, false).check_transport().is_ok());
        assert!(settings("imap.example.org", Security::ImplicitTls, false).check_transport().is_ok());
    }

    #[test]
    fn settings_follow_the_config() {
        let monitoring = MonitoringConfig::default();
        let mut email =
            EmailConfig { imap_server: "imap.example.org".into(), username: "a".into(), ..Default::default() };
        let err = ImapSettings::from_config(&email, &monitoring).unwrap_err();
        assert!(matches!(err, IntakeError::NotConfigured { .. }), "{err:?}");
        email.password = Some(Secret::new("pw"));
        let s = ImapSettings::from_config(&email, &monitoring).unwrap();
        assert_eq!(s.security, Security::ImplicitTls);
        assert_eq!(s.folder, "INBOX");
        assert_eq!(s.poll_interval, monitoring.scout_poll_interval);
        assert!(s.idle_renewal < Duration::from_secs(29 * 60));
        email.use_ssl = false;
        assert_eq!(ImapSettings::from_config(&email, &monitoring).unwrap().security, Security::StartTls);
        email.starttls = false;
        assert_eq!(ImapSettings::from_config(&email, &monitoring).unwrap().security, Security::Plain);
        assert!(!format!("{s:?}").contains("pw\""), "the password must not print");
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let delays: Vec<u64> = (0..8).map(|_| backoff.next_delay().as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 60, 60]);
        backoff.reset();
        assert_eq!(backoff.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn installing_the_crypto_provider_twice_is_harmless() {
        install_crypto_provider();
        install_crypto_provider();
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn plain_text_to_a_remote_host_is_refused_before_connecting() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let (tx, _rx) = mpsc::channel(1);
        let s = settings("192.0.2.1", Security::Plain, false);
        let err = run(s, store, tx, CancellationToken::new()).await.unwrap_err();
        assert!(matches!(err, IntakeError::PlaintextRefused { .. }), "{err:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_the_backoff_promptly() {
        // Nothing listens on this port: every attempt fails and the source backs off.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let store = Arc::new(Store::open_in_memory().unwrap());
        let (tx, _rx) = mpsc::channel(1);
        let mut s = settings("127.0.0.1", Security::Plain, false);
        s.port = port;
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(run(s, store, tx, shutdown.clone()));
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert!(!task.is_finished());
        shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(1), task).await.unwrap().unwrap();
        assert!(result.is_ok(), "{result:?}");
    }
}
