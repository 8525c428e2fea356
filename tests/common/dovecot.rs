//! A real Dovecot (IMAP + LMTP) for integration tests, so the IMAP intake is proven against the
//! server it will meet, not against a mock.
//!
//! [`shared`] starts one server per test binary, in a temp directory, on free loopback ports, from
//! a config written there: plain-text LOGIN allowed (loopback only, `ssl = no`), users from a
//! passwd-file ([`Dovecot::add_user`] adds one per test so tests never see each other's mail),
//! maildirs in the temp directory. It is ready when a LOGIN succeeds, not merely when the port
//! opens. A watchdog shell stops it (by the PID in its `master.pid`) and removes the directory
//! when the test process exits. [`Dovecot::start`] gives a private server a test may stop and
//! restart on the same port ([`Dovecot::stop`], [`Dovecot::restart`]). [`Dovecot::start_tls`]
//! gives one that speaks TLS, with a certificate [`private_ca`] signed.
//!
//! Helpers speak IMAP through async-imap: [`Dovecot::append`] (APPEND, as a mail server would
//! deliver) and [`Dovecot::flags`] (a message's flags, read with EXAMINE so looking changes
//! nothing).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::TryStreamExt;

/// The password of every test user.
pub const PASSWORD: &str = "sentri-test-pw";
const PROBE_USER: &str = "probe";
const INSTALL: &str = "apt-get install dovecot-imapd dovecot-lmtpd";
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A running Dovecot and where it lives.
pub struct Dovecot {
    dir: PathBuf,
    /// Kept so the temp directory lives as long as the server (for private servers).
    _temp: Option<tempfile::TempDir>,
    pub imap_port: u16,
    pub lmtp_port: u16,
    /// The implicit-TLS port, for a server started with [`Dovecot::start_tls`].
    pub imaps_port: Option<u16>,
    conf: PathBuf,
    child: Mutex<Option<Child>>,
    users: Mutex<()>,
}

static SHARED: OnceLock<Dovecot> = OnceLock::new();

/// The test binary's Dovecot, started on first use.
pub fn shared() -> &'static Dovecot {
    SHARED.get_or_init(|| {
        // The watchdog removes the directory, so it is not a TempDir that would be dropped
        // (statics are never dropped anyway).
        let dir = tempfile::Builder::new().prefix("sentri-dovecot-").tempdir().expect("create a temp dir").keep();
        let server = Dovecot::launch(dir, None, "", None);
        server.watchdog(true);
        server
    })
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local address").port()
}

fn dovecot_binary() -> PathBuf {
    for candidate in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    if let Ok(out) = Command::new("sh").args(["-c", "command -v dovecot"]).output()
        && out.status.success()
    {
        return PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    }
    panic!("dovecot is not installed; the IMAP tests need a real server: {INSTALL}");
}

/// `(major, minor)` of the installed Dovecot, from `dovecot --version` ("2.3.19.1 (9b53102964)").
fn dovecot_version(binary: &Path) -> (u32, u32) {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {} --version ({e}); {INSTALL}", binary.display()));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace().next().unwrap_or_default().split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).unwrap_or(2);
    let minor = parts.next().and_then(|p| p.parse().ok()).unwrap_or(3);
    (major, minor)
}

fn id_of(flag: &str, name: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Who owns the mail, and the internal and login users, depending on whether we are root.
struct Accounts {
    /// `Some((uid, gid))` under root: mail is owned by an unprivileged account.
    mail: Option<(u32, u32)>,
    internal_user: String,
    login_user: String,
    root: bool,
}

fn accounts() -> Accounts {
    let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    if root {
        let uid = id_of("-u", "nobody").expect("the `nobody` account");
        let gid = id_of("-g", "nobody").expect("the `nobody` group");
        let internal_user = if id_of("-u", "dovecot").is_some() { "dovecot" } else { "nobody" };
        let login_user = if id_of("-u", "dovenull").is_some() { "dovenull" } else { "nobody" };
        Accounts { mail: Some((uid, gid)), internal_user: internal_user.into(), login_user: login_user.into(), root }
    } else {
        let me = current_user();
        Accounts { mail: None, internal_user: me.clone(), login_user: me, root }
    }
}

/// TLS for a server: its certificate chain and key (PEM files in its directory), and the port
/// of its implicit-TLS listener. The plain port then also offers STARTTLS.
struct Tls {
    imaps_port: u16,
}

fn config(
    dir: &Path,
    version: (u32, u32),
    imap_port: u16,
    lmtp_port: u16,
    accounts: &Accounts,
    tls: Option<&Tls>,
) -> String {
    let d = dir.display();
    let imaps_port = tls.map_or(0, |tls| tls.imaps_port);
    let ssl = match (tls, version >= (2, 4)) {
        (None, _) => "ssl = no".to_owned(),
        (Some(_), true) => {
            format!("ssl = yes\nssl_server_cert_file = {d}/server.pem\nssl_server_key_file = {d}/server.key")
        }
        (Some(_), false) => format!("ssl = yes\nssl_cert = <{d}/server.pem\nssl_key = <{d}/server.key"),
    };
    // The mail owner, as global settings and as userdb fields (2.3 `args`, 2.4 `fields {}`).
    let (mail_uid, mail_gid, userdb_fields) = match accounts.mail {
        Some((uid, gid)) => (
            format!("mail_uid = {uid}\nmail_gid = {gid}\n"),
            format!("uid={uid} gid={gid}"),
            format!("    uid = {uid}\n    gid = {gid}\n"),
        ),
        None => (String::new(), String::new(), String::new()),
    };
    let chroot = if accounts.root { "" } else { "  chroot =\n" };
    let common = format!(
        "base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
listen = 127.0.0.1
protocols = imap lmtp
{ssl}
# A wrong password is answered at once (a user just added may not be loaded yet).
auth_failure_delay = 0
default_internal_user = {internal}
default_login_user = {login}
{mail_uid}service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
{chroot}}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
service anvil {{
{chroot}}}
",
        internal = accounts.internal_user,
        login = accounts.login_user,
    );
    if version >= (2, 4) {
        // Dovecot 2.4 renamed most settings and versions its config format.
        format!(
            "dovecot_config_version = {major}.{minor}.0
dovecot_storage_version = {major}.{minor}.0
{common}auth_allow_cleartext = yes
mail_driver = maildir
mail_path = {d}/mail/%{{user}}
mail_home = {d}/home/%{{user}}
passdb passwd-file {{
  passwd_file_path = {d}/users
}}
userdb static {{
  fields {{
{userdb_fields}  }}
}}
",
            major = version.0,
            minor = version.1,
        )
    } else {
        format!(
            "{common}disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{d}/mail/%u
protocol lmtp {{
  postmaster_address = postmaster@localhost
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = {mail_gid} home={d}/home/%u
}}
"
        )
    }
}

impl Dovecot {
    /// A private server in its own temp directory, stopped when dropped.
    pub fn start() -> Dovecot {
        Dovecot::start_with("")
    }

    /// A private server whose config ends with `extra` (settings for one test, e.g.
    /// `imap_capability` to hide IDLE).
    pub fn start_with(extra: &str) -> Dovecot {
        let temp = tempfile::Builder::new().prefix("sentri-dovecot-").tempdir().expect("create a temp dir");
        let dir = temp.path().to_owned();
        let server = Dovecot::launch(dir, Some(temp), extra, None);
        server.watchdog(false);
        server
    }

    /// A private server that speaks TLS with this certificate chain and key (PEM): implicit
    /// TLS on [`Dovecot::imaps_port`], STARTTLS on [`Dovecot::imap_port`].
    pub fn start_tls(certificate_pem: &str, key_pem: &str) -> Dovecot {
        let temp = tempfile::Builder::new().prefix("sentri-dovecot-").tempdir().expect("create a temp dir");
        let dir = temp.path().to_owned();
        std::fs::write(dir.join("server.pem"), certificate_pem).expect("write the server certificate");
        std::fs::write(dir.join("server.key"), key_pem).expect("write the server key");
        let server = Dovecot::launch(dir, Some(temp), "", Some(Tls { imaps_port: free_port() }));
        server.watchdog(false);
        server
    }

    fn launch(dir: PathBuf, temp: Option<tempfile::TempDir>, extra: &str, tls: Option<Tls>) -> Dovecot {
        let binary = dovecot_binary();
        let version = dovecot_version(&binary);
        let accounts = accounts();
        let imap_port = free_port();
        let lmtp_port = free_port();
        // Dovecot's unprivileged processes must reach the directory.
        set_mode(&dir, 0o755);
        for sub in ["mail", "home"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).expect("create a mail directory");
            if let Some((uid, gid)) = accounts.mail {
                std::os::unix::fs::chown(&path, Some(uid), Some(gid)).expect("chown the mail directory");
            }
        }
        std::fs::write(dir.join("users"), format!("{PROBE_USER}:{{PLAIN}}{PASSWORD}::::::\n")).expect("write users");
        let conf = dir.join("dovecot.conf");
        let text = format!("{}{extra}\n", config(&dir, version, imap_port, lmtp_port, &accounts, tls.as_ref()));
        std::fs::write(&conf, text).expect("write dovecot.conf");
        let server = Dovecot {
            dir,
            _temp: temp,
            imap_port,
            lmtp_port,
            imaps_port: tls.map(|tls| tls.imaps_port),
            conf,
            child: Mutex::new(None),
            users: Mutex::new(()),
        };
        server.spawn();
        server
    }

    fn spawn(&self) {
        let binary = dovecot_binary();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("stderr.log"))
            .expect("open the Dovecot stderr log");
        // Its own process group, so that stopping it ends every Dovecot process, the ones
        // serving open connections included.
        let child = Command::new(&binary)
            .process_group(0)
            .arg("-F")
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}; {INSTALL}", binary.display()));
        *super::process::child_slot(&self.child) = Some(child);
        self.wait_ready();
    }

    /// Waits until a LOGIN succeeds, or fails with Dovecot's own log.
    fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            if self.probe_login().is_ok() {
                return;
            }
            if let Some(status) = super::process::exit_status(&self.child) {
                panic!("Dovecot exited during startup ({status}):\n{}", self.logs());
            }
            if start.elapsed() > READY_DEADLINE {
                panic!("Dovecot did not accept a LOGIN within {READY_DEADLINE:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn probe_login(&self) -> std::io::Result<()> {
        let stream = TcpStream::connect(("127.0.0.1", self.imap_port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if !line.starts_with("* OK") {
            return Err(std::io::Error::other(format!("greeting: {line}")));
        }
        let mut writer = stream;
        writer.write_all(format!("a1 LOGIN {PROBE_USER} {PASSWORD}\r\n").as_bytes())?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("closed"));
            }
            if line.starts_with("a1 OK") {
                let _ = writer.write_all(b"a2 LOGOUT\r\n");
                return Ok(());
            }
            if line.starts_with("a1 ") {
                return Err(std::io::Error::other(line.clone()));
            }
        }
    }

    /// Dovecot's logs, for failure messages.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for name in ["stderr.log", "dovecot.log"] {
            if let Ok(content) = std::fs::read_to_string(self.dir.join(name)) {
                text.push_str(&format!("--- {name}\n{content}\n"));
            }
        }
        text
    }

    fn master_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.join("run/master.pid")).ok()?.trim().parse().ok()
    }

    /// Stops the server when this test process exits, however it exits; `remove_dir` also
    /// deletes the directory (for the shared server, whose directory no one else owns).
    fn watchdog(&self, remove_dir: bool) {
        let pidfile = self.dir.join("run/master.pid");
        let cleanup = if remove_dir { format!("; sleep 1; rm -rf '{}'", self.dir.display()) } else { String::new() };
        let then = format!("kill -- -$(cat '{}') 2>/dev/null{cleanup}", pidfile.display());
        super::process::after_this_process(&then, "Dovecot");
    }

    /// Stops the server as a crash or a reboot would look to a client: every Dovecot process
    /// (its process group) is killed, so open connections break; then waits until the port is
    /// closed.
    pub fn stop(&self) {
        let running = super::process::child_slot(&self.child).take();
        if let Some(child) = running {
            super::process::kill_group_and_wait(child, self.imap_port, "Dovecot");
        }
    }

    /// Starts the server again on the same ports, with the same mail, and waits for a LOGIN.
    pub fn restart(&self) {
        self.stop();
        self.spawn();
    }

    /// Adds a user (password [`PASSWORD`]) and returns its name; call with a name unique to the
    /// test. Dovecot re-reads the passwd-file when it changes.
    pub fn add_user(&self, name: &str) -> String {
        let _guard = self.users.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut file = std::fs::OpenOptions::new().append(true).open(self.dir.join("users")).expect("open users");
        writeln!(file, "{name}:{{PLAIN}}{PASSWORD}::::::").expect("add a user");
        drop(file);
        // Dovecot looks at the passwd-file at most once per second (and re-reads it when it
        // changed), so a lookup earlier in this second would not see the new line. A failed
        // LOGIN would also earn this address an auth penalty (seconds of delay), so wait for the
        // next second before the first try rather than retrying quickly.
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        std::thread::sleep(
            Duration::from_nanos(u64::from(1_000_000_000 - since_epoch.subsec_nanos())) + Duration::from_millis(20),
        );
        let start = Instant::now();
        loop {
            if self.blocking_login(name) {
                return name.to_owned();
            }
            assert!(start.elapsed() < READY_DEADLINE, "user {name} never became valid:\n{}", self.logs());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn blocking_login(&self, user: &str) -> bool {
        let attempt = || -> std::io::Result<bool> {
            let stream = TcpStream::connect(("127.0.0.1", self.imap_port))?;
            stream.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut reader = BufReader::new(stream.try_clone()?);
            let mut writer = stream;
            let mut line = String::new();
            reader.read_line(&mut line)?;
            writer.write_all(format!("a1 LOGIN {user} {PASSWORD}\r\n").as_bytes())?;
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    return Ok(false);
                }
                if line.starts_with("a1 ") {
                    let _ = writer.write_all(b"a2 LOGOUT\r\n");
                    return Ok(line.starts_with("a1 OK"));
                }
            }
        };
        attempt().unwrap_or(false)
    }

    async fn session(&self, user: &str) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.imap_port)).await.expect("connect to Dovecot");
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.expect("greeting").expect("greeting");
        client.login(user, PASSWORD).await.map_err(|(e, _)| e).expect("LOGIN")
    }

    /// APPENDs `message` to `user`'s INBOX, as a delivery would, with no flags.
    /// APPENDs a message a person has already read (`\\Seen`).
    pub async fn append_read(&self, user: &str, message: &[u8]) {
        let mut session = self.session(user).await;
        session.append("INBOX", Some("(\\Seen)"), None, message).await.expect("APPEND");
        session.logout().await.ok();
    }

    pub async fn append(&self, user: &str, message: &[u8]) {
        let mut session = self.session(user).await;
        session.append("INBOX", None, None, message).await.expect("APPEND");
        session.logout().await.ok();
    }

    /// APPENDs every message to `user`'s INBOX over one session, unflagged: a burst.
    pub async fn append_many(&self, user: &str, messages: &[Vec<u8>]) {
        let mut session = self.session(user).await;
        for message in messages {
            session.append("INBOX", None, None, message).await.expect("APPEND");
        }
        session.logout().await.ok();
    }

    /// The flags of the message in `user`'s INBOX whose Message-ID header contains
    /// `message_id`, or `None` if there is no such message. Read-only (EXAMINE).
    pub async fn flags(&self, user: &str, message_id: &str) -> Option<Vec<String>> {
        self.flags_where(user, &format!("HEADER Message-ID \"{message_id}\"")).await
    }

    /// The flags of message `uid` in `user`'s INBOX (for messages without a Message-ID).
    pub async fn flags_by_uid(&self, user: &str, uid: u32) -> Option<Vec<String>> {
        self.flags_where(user, &format!("UID {uid}")).await
    }

    async fn flags_where(&self, user: &str, search: &str) -> Option<Vec<String>> {
        let mut session = self.session(user).await;
        session.examine("INBOX").await.expect("EXAMINE");
        let uids = session.uid_search(search).await.expect("UID SEARCH");
        let uid = uids.into_iter().max()?;
        let fetches: Vec<async_imap::types::Fetch> =
            session.uid_fetch(uid.to_string(), "FLAGS").await.expect("UID FETCH").try_collect().await.expect("FETCH");
        session.logout().await.ok();
        let fetch = fetches.into_iter().find(|f| f.uid == Some(uid))?;
        Some(fetch.flags().map(|flag| flag_text(&flag)).collect())
    }

    /// The UIDVALIDITY of `user`'s INBOX.
    pub async fn uidvalidity(&self, user: &str) -> u32 {
        let mut session = self.session(user).await;
        let mailbox = session.examine("INBOX").await.expect("EXAMINE");
        session.logout().await.ok();
        mailbox.uid_validity.expect("Dovecot sends UIDVALIDITY")
    }

    /// How many messages `user`'s INBOX holds.
    pub async fn count(&self, user: &str) -> u32 {
        let mut session = self.session(user).await;
        let mailbox = session.examine("INBOX").await.expect("EXAMINE");
        session.logout().await.ok();
        mailbox.exists
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A flag as IMAP writes it (`\\Seen`, `$SentriHandled`).
fn flag_text(flag: &async_imap::types::Flag<'_>) -> String {
    use async_imap::types::Flag;
    match flag {
        Flag::Seen => "\\Seen".into(),
        Flag::Answered => "\\Answered".into(),
        Flag::Flagged => "\\Flagged".into(),
        Flag::Deleted => "\\Deleted".into(),
        Flag::Draft => "\\Draft".into(),
        Flag::Recent => "\\Recent".into(),
        Flag::MayCreate => "\\*".into(),
        Flag::Custom(keyword) => keyword.to_string(),
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod the Dovecot directory");
}

impl Dovecot {
    /// Delivers `message` to `user`'s INBOX over LMTP, as a mail server does: the bytes as they
    /// are (dot-stuffed), NUL bytes and bare line ends included, which APPEND may refuse.
    /// Returns the server's final reply line.
    pub fn deliver_lmtp(&self, user: &str, message: &[u8]) -> String {
        let stream = TcpStream::connect(("127.0.0.1", self.lmtp_port)).expect("connect to Dovecot's LMTP");
        stream.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut writer = stream;
        let reply = |reader: &mut BufReader<TcpStream>| -> String {
            let mut all = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).expect("LMTP reply") == 0 {
                    return all;
                }
                all.push_str(&line);
                if line.as_bytes().get(3) != Some(&b'-') {
                    return all;
                }
            }
        };
        let greeting = reply(&mut reader);
        assert!(greeting.starts_with("220"), "LMTP greeting: {greeting}");
        for command in
            ["LHLO localhost".to_owned(), "MAIL FROM:<>".to_owned(), format!("RCPT TO:<{user}>"), "DATA".to_owned()]
        {
            writer.write_all(format!("{command}\r\n").as_bytes()).expect("LMTP command");
            let answer = reply(&mut reader);
            assert!(answer.starts_with('2') || answer.starts_with('3'), "LMTP {command}: {answer}\n{}", self.logs());
        }
        let mut data = Vec::with_capacity(message.len() + 1024);
        let mut line_start = true;
        for &byte in message {
            if line_start && byte == b'.' {
                data.push(b'.');
            }
            data.push(byte);
            line_start = byte == b'\n';
        }
        if !data.ends_with(b"\r\n") {
            data.extend_from_slice(b"\r\n");
        }
        data.extend_from_slice(b".\r\n");
        writer.write_all(&data).expect("LMTP data");
        let answer = reply(&mut reader);
        let _ = writer.write_all(b"QUIT\r\n");
        answer
    }
}

/// A private CA and a server certificate it signed for 127.0.0.1 and localhost, as PEM:
/// `(ca certificate, server certificate, server key)`, for [`Dovecot::start_tls`] (rcgen).
pub fn private_ca() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
    let ca_key = KeyPair::generate().expect("CA key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(DnType::CommonName, "Sentri test CA");
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().expect("server key");
    let mut server_params =
        CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).expect("server params");
    server_params.distinguished_name.push(DnType::CommonName, "localhost");
    let server_cert = server_params.signed_by(&server_key, &issuer).expect("server certificate");
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}
