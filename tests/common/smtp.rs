//! A real SMTP server for integration tests: OpenSMTPD from Debian, delivering every recipient
//! into the Dovecot harness over LMTP, so a test reads what Sentri sent from a real mailbox.
//!
//! OpenSMTPD's queue (`/var/spool/smtpd`) and control socket (`/var/run/smtpd.sock`) are
//! compiled in; no option moves them. To run an isolated instance next to any other (another
//! test binary, another checkout, a system MTA), each server runs in its own mount namespace
//! (`unshare --mount`) where a temp directory is bind-mounted over `/var/spool` and `/run`. That
//! needs root (as OpenSMTPD itself does: it drops to its `opensmtpd`/`opensmtpq` users, which
//! the Debian package creates). The config accepts mail from loopback for any address and hands
//! it to Dovecot's LMTP listener with the original recipient (`virtual` catch-all +
//! `rcpt-to`), so a Dovecot user named like the address (`ann@localhost`) receives it.
//!
//! The server is ready when it greets and answers EHLO, not merely when the port opens. It is
//! stopped by its process group (the PID it was started with), on [`Smtpd::stop`], on drop,
//! and by a watchdog when the test process exits.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::TryStreamExt;

use super::dovecot::{Dovecot, PASSWORD};

const INSTALL: &str = "apt-get install -y opensmtpd";
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A running OpenSMTPD and where it lives.
pub struct Smtpd {
    dir: tempfile::TempDir,
    /// The SMTP port on 127.0.0.1.
    pub port: u16,
    child: Mutex<Option<Child>>,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral loopback port");
    listener.local_addr().expect("local address").port()
}

fn smtpd_binary() -> PathBuf {
    for candidate in ["/usr/sbin/smtpd", "/usr/local/sbin/smtpd"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!("OpenSMTPD (smtpd) is not installed; the SMTP tests need a real server: {INSTALL}");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod an OpenSMTPD directory");
}

impl Smtpd {
    /// Starts a private OpenSMTPD on a free loopback port that delivers into `dovecot` over LMTP.
    pub fn start(dovecot: &Dovecot) -> Smtpd {
        let binary = smtpd_binary();
        let root = Command::new("id").arg("-u").output().is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        assert!(
            root,
            "the OpenSMTPD harness runs smtpd in its own mount namespace and needs root (smtpd itself needs \
             root to drop to its users)"
        );
        let dir = tempfile::Builder::new().prefix("sentri-smtpd-").tempdir().expect("create a temp dir");
        // smtpd's unprivileged processes must reach the spool under the bind mount.
        set_mode(dir.path(), 0o755);
        for sub in ["spool", "run"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("create an OpenSMTPD directory");
            set_mode(&dir.path().join(sub), 0o755);
        }
        let port = free_port();
        let d = dir.path().display();
        std::fs::write(dir.path().join("catchall"), "@ nobody\n").expect("write the catch-all table");
        let config = format!(
            "table catchall file:{d}/catchall
listen on 127.0.0.1 port {port}
action \"dovecot\" lmtp \"127.0.0.1:{lmtp}\" rcpt-to virtual <catchall>
match from any for any action \"dovecot\"
",
            lmtp = dovecot.lmtp_port,
        );
        std::fs::write(dir.path().join("smtpd.conf"), config).expect("write smtpd.conf");
        let check = Command::new(&binary)
            .args(["-n", "-f"])
            .arg(dir.path().join("smtpd.conf"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} ({e}); {INSTALL}", binary.display()));
        assert!(check.status.success(), "smtpd rejects its config: {}", String::from_utf8_lossy(&check.stderr));
        let server = Smtpd { dir, port, child: Mutex::new(None) };
        server.spawn();
        server.watchdog();
        server
    }

    fn spawn(&self) {
        let binary = smtpd_binary();
        let d = self.dir.path().display();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("smtpd.log"))
            .expect("open the OpenSMTPD log");
        let script = format!(
            "mount --bind '{d}/spool' /var/spool && mount --bind '{d}/run' /run && exec '{}' -d -f '{d}/smtpd.conf'",
            binary.display()
        );
        // Its own process group, so stopping it ends smtpd and all of its privilege-separated
        // processes.
        let child = Command::new("unshare")
            .process_group(0)
            .args(["--mount", "--propagation", "private", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start OpenSMTPD through unshare (util-linux): {e}"));
        *super::process::child_slot(&self.child) = Some(child);
        self.wait_ready();
    }

    /// Waits until the server greets and answers EHLO, or fails with its log.
    fn wait_ready(&self) {
        let start = Instant::now();
        loop {
            if self.probe().is_ok() {
                return;
            }
            if let Some(status) = super::process::exit_status(&self.child) {
                panic!("OpenSMTPD exited during startup ({status}):\n{}", self.logs());
            }
            assert!(
                start.elapsed() < READY_DEADLINE,
                "OpenSMTPD did not answer EHLO within {READY_DEADLINE:?}:\n{}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn probe(&self) -> std::io::Result<()> {
        let stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        let mut line = String::new();
        reader.read_line(&mut line)?;
        if !line.starts_with("220 ") {
            return Err(std::io::Error::other(format!("greeting: {line}")));
        }
        writer.write_all(b"EHLO probe.localhost\r\n")?;
        loop {
            line.clear();
            if reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("closed during EHLO"));
            }
            if line.starts_with("250 ") {
                let _ = writer.write_all(b"QUIT\r\n");
                return Ok(());
            }
            if !line.starts_with("250-") {
                return Err(std::io::Error::other(format!("EHLO: {line}")));
            }
        }
    }

    /// OpenSMTPD's log (it runs with `-d`, logging to stderr) and the modes of its spool (it
    /// refuses to start on a spool it did not lay out), for failure messages.
    pub fn logs(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("smtpd.log")).unwrap_or_default();
        let spool = Command::new("ls")
            .args(["-la", "--time-style=+"])
            .arg(self.dir.path().join("spool"))
            .arg(self.dir.path().join("spool/smtpd"))
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default();
        format!("{log}\n--- spool\n{spool}")
    }

    /// Stops the server when the test process exits, however it exits.
    fn watchdog(&self) {
        let Some(group) = super::process::child_slot(&self.child).as_ref().map(Child::id) else { return };
        super::process::after_this_process(&format!("kill -KILL -- -{group} 2>/dev/null"), "OpenSMTPD");
    }

    /// Stops the server as a crash would look to a client (its process group is killed), and
    /// waits until the port is closed. Mail already queued stays in its spool.
    pub fn stop(&self) {
        let running = super::process::child_slot(&self.child).take();
        if let Some(child) = running {
            super::process::kill_group_and_wait(child, self.port, "OpenSMTPD");
        }
    }

    /// Starts the server again on the same port, with the same spool, and waits for EHLO.
    pub fn restart(&self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for Smtpd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One message read back from a Dovecot mailbox.
#[derive(Debug, Clone)]
pub struct Received {
    pub uid: u32,
    /// The whole message as stored (headers and body, CRLF line ends).
    pub raw: Vec<u8>,
}

impl Received {
    /// The message parsed (headers decoded, MIME parts split).
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default().parse(&self.raw).expect("a parsable message")
    }

    /// The first value of header `name`, as written (unfolded only by trimming).
    pub fn header(&self, name: &str) -> Option<String> {
        self.parsed().header_raw(name).map(|value| value.trim().to_owned())
    }
}

/// Every message in `user`'s INBOX, oldest first, read over IMAP (EXAMINE: nothing changes).
pub async fn inbox(dovecot: &Dovecot, user: &str) -> Vec<Received> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", dovecot.imap_port)).await.expect("connect to Dovecot");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.expect("greeting").expect("greeting");
    let mut session = client.login(user, PASSWORD).await.map_err(|(e, _)| e).expect("LOGIN");
    let mailbox = session.examine("INBOX").await.expect("EXAMINE");
    let mut out = Vec::new();
    if mailbox.exists > 0 {
        let fetches: Vec<async_imap::types::Fetch> =
            session.uid_fetch("1:*", "(UID BODY.PEEK[])").await.expect("UID FETCH").try_collect().await.expect("FETCH");
        for fetch in fetches {
            if let (Some(uid), Some(body)) = (fetch.uid, fetch.body()) {
                out.push(Received { uid, raw: body.to_vec() });
            }
        }
    }
    session.logout().await.ok();
    out.sort_by_key(|m| m.uid);
    out
}

/// Waits until `user`'s INBOX holds at least `count` messages, and returns them all.
pub async fn wait_for_mail(dovecot: &Dovecot, user: &str, count: usize, within: Duration) -> Vec<Received> {
    let start = Instant::now();
    loop {
        let messages = inbox(dovecot, user).await;
        if messages.len() >= count {
            return messages;
        }
        assert!(
            start.elapsed() < within,
            "{user} has {} message(s), expected {count}, after {within:?}:\n{}",
            messages.len(),
            dovecot.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
