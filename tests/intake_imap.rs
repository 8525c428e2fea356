//! The IMAP intake against a real Dovecot: mail APPENDed to the inbox is stored and announced
//! while the source IDLEs; nothing is read twice or missed across restarts; a message is flagged
//! only after it is stored (and stays unflagged when storing fails), and a crash between the two
//! is healed (a whole batch of it); a burst larger than a batch is stored, announced and
//! flagged once per message; a malformed message is kept and marked; without IDLE the folder is polled; plain
//! text to a remote host is refused; the source reconnects when the server goes away; a message
//! over `max_message_bytes` is fetched only that far, stored cut and marked with its size. Each
//! test reads its own Dovecot user's mailbox.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentri::config::Secret;
use sentri::intake::IntakeError;
use sentri::intake::imap::{self, ImapSettings, Security};
use sentri::store::{MailboxKey, MailboxMessage, Store};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use common::dovecot::{self, Dovecot, PASSWORD};

/// Generous: these tests prove correctness, not speed (the measured latency is printed).
const PATIENCE: Duration = Duration::from_secs(10);

fn settings(server: &Dovecot, user: &str) -> ImapSettings {
    ImapSettings {
        host: "127.0.0.1".into(),
        port: server.imap_port,
        username: user.into(),
        password: Secret::new(PASSWORD),
        security: Security::Plain,
        allow_plaintext: false,
        folder: "INBOX".into(),
        poll_interval: Duration::from_secs(1),
        idle_renewal: Duration::from_secs(25 * 60),
        backoff_initial: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        io_timeout: Duration::from_secs(10),
        ca_file: None,
        max_message_bytes: 4 * 1024 * 1024,
    }
}

struct Running {
    task: JoinHandle<Result<(), IntakeError>>,
    shutdown: CancellationToken,
    announced: mpsc::Receiver<i64>,
}

impl Running {
    fn start(settings: ImapSettings, store: &Arc<Store>) -> Running {
        // The source's own log, shown for failing tests (`SENTRI_TEST_LOG=debug` for more).
        let filter = std::env::var("SENTRI_TEST_LOG").unwrap_or_else(|_| "sentri=info".into());
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter(filter).try_init();
        let (tx, announced) = mpsc::channel(64);
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(imap::run(settings, Arc::clone(store), tx, shutdown.clone()));
        Running { task, shutdown, announced }
    }

    async fn next(&mut self) -> i64 {
        tokio::time::timeout(PATIENCE, self.announced.recv())
            .await
            .expect("an alert should have been announced")
            .expect("the source stopped announcing")
    }

    async fn nothing_more(&mut self, wait: Duration) {
        if let Ok(Some(id)) = tokio::time::timeout(wait, self.announced.recv()).await {
            panic!("unexpected announcement of raw alert {id}");
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let result = tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .expect("the source should stop promptly")
            .expect("the source task should not panic");
        assert!(result.is_ok(), "{result:?}");
    }
}

fn open_store(dir: &tempfile::TempDir) -> Arc<Store> {
    Arc::new(Store::open(dir.path().join("sentri.db")).unwrap())
}

fn message(id: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: OEM <oem@example.org>\r\nTo: alerts@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <{id}@example.org>\r\nDate: Wed, 25 Nov 2026 01:02:03 +0000\r\n\r\n\
         Tablespace USERS is 97% full.\r\n"
    )
    .into_bytes()
}

fn stored_ids(store: &Store) -> Vec<String> {
    store.list_raw_alerts(false, None).unwrap().into_iter().map(|row| row.message_id).collect()
}

async fn wait_for_flag(server: &Dovecot, user: &str, id: &str, flag: &str) -> Vec<String> {
    let start = Instant::now();
    loop {
        let flags = server.flags(user, id).await.unwrap_or_default();
        if flags.iter().any(|f| f == flag) {
            return flags;
        }
        assert!(start.elapsed() < PATIENCE, "{id} never got {flag}; flags: {flags:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn appended_mail_is_stored_and_announced_while_idling() {
    let server = dovecot::shared();
    let user = server.add_user("idle");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let mut source = Running::start(settings(server, &user), &store);

    // A first message proves the source is connected; after it, the source sits in IDLE.
    server.append(&user, &message("warm-up", "first")).await;
    source.next().await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    let sent = Instant::now();
    server.append(&user, &message("idle-1", "ORA-1653 on PROD1")).await;
    let id = source.next().await;
    let latency = sent.elapsed();
    eprintln!("IMAP APPEND → raw alert stored and announced: {latency:?}");
    assert!(latency < PATIENCE, "took {latency:?}");

    let row = store.get_raw_alert(id).unwrap();
    assert_eq!(row.subject, "ORA-1653 on PROD1");
    assert_eq!(row.message_id, "<idle-1@example.org>");
    assert_eq!(row.parse_error, None);
    let flags = wait_for_flag(server, &user, "idle-1@example.org", "\\Seen").await;
    assert!(flags.iter().any(|f| f == imap::HANDLED_KEYWORD), "{flags:?}");
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_nothing_twice_and_catches_up() {
    let server = dovecot::shared();
    let user = server.add_user("restart");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);

    let mut source = Running::start(settings(server, &user), &store);
    server.append(&user, &message("before-1", "one")).await;
    server.append(&user, &message("before-2", "two")).await;
    let first = [source.next().await, source.next().await];
    wait_for_flag(server, &user, "before-2@example.org", "\\Seen").await;
    source.stop().await;
    let key = MailboxKey { server: "127.0.0.1".into(), username: user.clone(), folder: "INBOX".into() };
    assert_eq!(store.mailbox_position(&key).unwrap().map(|p| p.last_uid), Some(2));

    // Forget the stored rows: if the restarted source read those messages again, they would be
    // stored (and announced) anew, so their absence below proves they were not read.
    let sql = rusqlite::Connection::open(dir.path().join("sentri.db")).unwrap();
    sql.execute("DELETE FROM raw_alerts WHERE id IN (?1, ?2)", first).unwrap();

    server.append(&user, &message("while-down", "three")).await;
    let mut source = Running::start(settings(server, &user), &store);
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().message_id, "<while-down@example.org>");
    source.nothing_more(Duration::from_secs(1)).await;
    assert_eq!(stored_ids(&store), ["<while-down@example.org>"]);
    assert_eq!(store.mailbox_position(&key).unwrap().map(|p| p.last_uid), Some(3));
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_is_flagged_only_after_it_is_stored() {
    let server = dovecot::shared();
    let user = server.add_user("order");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);

    // The store refuses every new raw alert, as a full disk would.
    let sql = rusqlite::Connection::open(dir.path().join("sentri.db")).unwrap();
    sql.execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON raw_alerts BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();

    let mut source = Running::start(settings(server, &user), &store);
    server.append(&user, &message("order-1", "must not be lost")).await;
    // Several attempts (backoff 50 ms doubling to 500 ms) fail meanwhile.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let flags = server.flags(&user, "order-1@example.org").await.expect("the message is there");
    assert!(!flags.iter().any(|f| f == "\\Seen"), "flagged although not stored: {flags:?}");
    assert!(stored_ids(&store).is_empty());

    // The disk recovers: the next attempt stores it, and only then is it flagged. Watch the flags
    // closely; the first time \Seen shows, the row must already be there.
    sql.execute_batch("DROP TRIGGER refuse;").unwrap();
    let start = Instant::now();
    loop {
        let flags = server.flags(&user, "order-1@example.org").await.unwrap_or_default();
        let stored = stored_ids(&store);
        if flags.iter().any(|f| f == "\\Seen") {
            assert_eq!(stored, ["<order-1@example.org>"], "flagged before it was stored");
            break;
        }
        assert!(start.elapsed() < PATIENCE, "never flagged: {flags:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().subject, "must not be lost");
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_kept_and_marked() {
    let server = dovecot::shared();
    let user = server.add_user("malformed");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let mut source = Running::start(settings(server, &user), &store);

    // No header at all: not an email message, but something a monitor sent all the same.
    let garbage = b"\r\nORA-00600 internal error, and no headers at all\r\n";
    server.append(&user, garbage).await;
    let id = source.next().await;
    let row = store.get_raw_alert(id).unwrap();
    assert!(row.parse_error.is_some(), "{row:?}");
    assert!(row.message_id.starts_with("sha256:"), "{row:?}");
    assert!(row.body.contains("ORA-00600"), "{row:?}");
    // And it is handled on the server like any other message.
    let start = Instant::now();
    while !server.flags_by_uid(&user, 1).await.unwrap_or_default().iter().any(|f| f == "\\Seen") {
        assert!(start.elapsed() < PATIENCE, "the malformed message was never flagged handled");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_text_to_a_remote_host_is_refused_before_connecting() {
    let server = dovecot::shared();
    let mut remote = settings(server, "nobody-here");
    // TEST-NET-1: nothing answers there, so a connection attempt would hang, not fail fast.
    remote.host = "192.0.2.1".into();
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let (tx, _rx) = mpsc::channel(1);
    let started = Instant::now();
    let result =
        tokio::time::timeout(Duration::from_secs(2), imap::run(remote.clone(), store, tx, CancellationToken::new()))
            .await
            .expect("refused at once, without trying to connect");
    let err = result.unwrap_err();
    assert!(matches!(err, IntakeError::PlaintextRefused { .. }), "{err:?}");
    assert!(err.to_string().contains("192.0.2.1"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // Explicitly allowed, it is not refused up front (it would try, and back off).
    remote.allow_plaintext = true;
    assert!(remote.check_transport().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_source_reconnects_when_the_server_restarts() {
    // A private server, so stopping it disturbs no other test.
    let server = Arc::new(Dovecot::start());
    let user = server.add_user("reconnect");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let mut source = Running::start(settings(&server, &user), &store);

    server.append(&user, &message("before-restart", "one")).await;
    source.next().await;

    // Every Dovecot process dies (the harness checks), so the source's connection is gone: what
    // follows can only be read over a new connection.
    let restarting = Arc::clone(&server);
    tokio::task::spawn_blocking(move || restarting.restart()).await.unwrap();

    server.append(&user, &message("after-restart", "two")).await;
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().message_id, "<after-restart@example.org>");
    wait_for_flag(&server, &user, "after-restart@example.org", "\\Seen").await;
    assert_eq!(stored_ids(&store).len(), 2);
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_is_renewed_and_keeps_working() {
    let server = dovecot::shared();
    let user = server.add_user("renew");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let mut short = settings(server, &user);
    short.idle_renewal = Duration::from_millis(200);
    let mut source = Running::start(short, &store);
    server.append(&user, &message("renew-0", "zero")).await;
    source.next().await;
    // Several IDLE rounds end and are re-issued meanwhile.
    tokio::time::sleep(Duration::from_secs(1)).await;
    server.append(&user, &message("renew-1", "one")).await;
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().message_id, "<renew-1@example.org>");
    source.nothing_more(Duration::from_millis(500)).await;
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_idle_the_folder_is_polled() {
    // This server does not advertise IDLE after login.
    let server = Dovecot::start_with("imap_capability = IMAP4rev1 LITERAL+ UIDPLUS");
    let user = server.add_user("poll");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let mut polling = settings(&server, &user);
    polling.poll_interval = Duration::from_millis(300);
    let mut source = Running::start(polling, &store);
    server.append(&user, &message("poll-1", "polled")).await;
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().subject, "polled");
    wait_for_flag(&server, &user, "poll-1@example.org", "\\Seen").await;
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_storing_and_flagging_is_healed() {
    let server = dovecot::shared();
    let user = server.add_user("crash");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let raws: Vec<Vec<u8>> =
        (1..=3).map(|n| message(&format!("crash-{n}"), "stored, then the power went out")).collect();
    server.append_many(&user, &raws).await;

    // What a crash right after a batch was stored leaves: its alerts and last UID stored, none
    // of its messages flagged on the server.
    let key = MailboxKey { server: "127.0.0.1".into(), username: user.clone(), folder: "INBOX".into() };
    let uidvalidity = server.uidvalidity(&user).await;
    let batch: Vec<MailboxMessage> = raws
        .iter()
        .zip(1..)
        .map(|(raw, uid)| MailboxMessage {
            uid,
            alert: sentri::intake::RawAlert::from_rfc822(raw, "2026-11-25T01:02:03Z".into()),
            original_size: None,
        })
        .collect();
    store.store_mailbox_batch(&key, uidvalidity, &batch).unwrap();
    for n in 1..=3 {
        let flags = server.flags(&user, &format!("crash-{n}@example.org")).await.unwrap();
        assert!(!flags.iter().any(|f| f == "\\Seen"), "{flags:?}");
    }

    // The next session flags the whole batch, without reading or announcing any of it again.
    let mut source = Running::start(settings(server, &user), &store);
    for n in 1..=3 {
        wait_for_flag(server, &user, &format!("crash-{n}@example.org"), "\\Seen").await;
    }
    source.nothing_more(Duration::from_millis(500)).await;
    let mut ids = stored_ids(&store);
    ids.sort();
    assert_eq!(ids, ["<crash-1@example.org>", "<crash-2@example.org>", "<crash-3@example.org>"]);
    source.stop().await;
}

/// A burst larger than a batch: every message stored once, announced once, in UID order, and
/// flagged; the folder's position ends at the last UID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_is_taken_in_batches_each_flagged_after_it_is_stored() {
    let server = dovecot::shared();
    let user = server.add_user("burst");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let count = imap::MAX_BATCH_MESSAGES * 2 + 50;
    let raws: Vec<Vec<u8>> = (0..count).map(|n| message(&format!("burst-{n}"), &format!("alert {n}"))).collect();
    server.append_many(&user, &raws).await;

    let mut source = Running::start(settings(server, &user), &store);
    let mut announced = Vec::new();
    for _ in 0..count {
        announced.push(source.next().await);
    }
    source.nothing_more(Duration::from_millis(300)).await;
    let subjects: Vec<String> = announced.iter().map(|id| store.get_raw_alert(*id).unwrap().subject).collect();
    let expected: Vec<String> = (0..count).map(|n| format!("alert {n}")).collect();
    assert_eq!(subjects, expected, "each message announced once, in UID order");
    assert_eq!(stored_ids(&store).len(), count);
    for n in [0, imap::MAX_BATCH_MESSAGES - 1, imap::MAX_BATCH_MESSAGES, count - 1] {
        let flags = wait_for_flag(server, &user, &format!("burst-{n}@example.org"), "\\Seen").await;
        assert!(flags.iter().any(|f| f == imap::HANDLED_KEYWORD), "{flags:?}");
    }
    let key = MailboxKey { server: "127.0.0.1".into(), username: user.clone(), folder: "INBOX".into() };
    assert_eq!(store.mailbox_position(&key).unwrap().map(|p| p.last_uid), Some(u32::try_from(count).unwrap()));
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_run_leaves_mail_already_read_alone() {
    let server = dovecot::shared();
    let user = server.add_user("history");
    let message = |id: &str| {
        format!("From: n@x\r\nSubject: Tablespace USERS is 97% full\r\nMessage-ID: <{id}@x>\r\n\r\nbody\r\n")
    };
    server.append_read(&user, message("old-read").as_bytes()).await;
    server.append(&user, message("old-unread").as_bytes()).await;
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let mut source = Running::start(settings(server, &user), &store);
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().message_id, "<old-unread@x>");
    server.append(&user, message("new").as_bytes()).await;
    let id = source.next().await;
    assert_eq!(store.get_raw_alert(id).unwrap().message_id, "<new@x>");
    assert_eq!(
        store.list_raw_alerts(false, None).unwrap().len(),
        2,
        "the message read before Sentri came is not an alert"
    );
    source.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_servers_are_trusted_through_email_ca_file_and_only_then() {
    let (ca_pem, server_pem, key_pem) = dovecot::private_ca();
    let server = Dovecot::start_tls(&server_pem, &key_pem);
    let user = server.add_user("tls");
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("company-ca.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();

    let implicit = ImapSettings {
        port: server.imaps_port.expect("an implicit-TLS port"),
        security: Security::ImplicitTls,
        ..settings(&server, &user)
    };
    let starttls = ImapSettings { security: Security::StartTls, ..settings(&server, &user) };

    // Without the team's CA the handshake fails: the certificate is not trusted, and nothing
    // (no password) was sent.
    for untrusted in [&implicit, &starttls] {
        let error = imap::check(untrusted).await.expect_err("an unknown CA must not be trusted");
        assert!(matches!(error, IntakeError::Tls { .. }), "{error:?}");
        let chain = format!("{error} {:?}", std::error::Error::source(&error));
        assert!(chain.to_lowercase().contains("certificate"), "{chain}");
    }

    // With email.ca_file, both implicit TLS and STARTTLS connect, log in and read mail.
    let implicit = ImapSettings { ca_file: Some(ca_file.clone()), ..implicit };
    let starttls = ImapSettings { ca_file: Some(ca_file.clone()), ..starttls };
    imap::check(&implicit).await.expect("implicit TLS with the CA file");
    imap::check(&starttls).await.expect("STARTTLS with the CA file");
    let store = open_store(&dir);
    let mut source = Running::start(implicit, &store);
    server.append(&user, &message("tls-1", "Tablespace USERS 97% on DEV-DB-01")).await;
    source.next().await;
    assert_eq!(stored_ids(&store), ["<tls-1@example.org>"]);
    source.stop().await;

    // A CA file that holds no certificate is a permanent, named error.
    let broken = dir.path().join("broken.pem");
    std::fs::write(&broken, "not a certificate").unwrap();
    let error = imap::check(&ImapSettings { ca_file: Some(broken), ..starttls }).await.expect_err("broken CA file");
    assert!(error.is_permanent(), "{error:?}");
    assert!(error.to_string().contains("broken.pem"), "{error}");
}

/// A message far over `max_message_bytes` (the attack: a 50 MB email; here 3 MB over a 64 KiB
/// cap, the same code path) is fetched only up to the cap, stored cut and marked with its
/// original size, triaged from its headers like any other, and flagged handled; the message
/// after it arrives as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_is_stored_truncated_and_marked_with_its_size() {
    let server = dovecot::shared();
    let user = server.add_user("oversized");
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(&dir);
    let cap: u32 = 64 * 1024;
    let mut huge = message("huge-1", "Tablespace USERS is 97% full on PRODDB");
    let line = "ORA-01653: unable to extend table APP.EVENTS by 128 in tablespace USERS\r\n";
    while huge.len() < 3 * 1024 * 1024 {
        huge.extend_from_slice(line.as_bytes());
    }
    huge.extend_from_slice(b"THE-END-MARKER\r\n");
    server.append(&user, &huge).await;
    server.append(&user, &message("after-1", "the next alert")).await;

    let mut source = Running::start(ImapSettings { max_message_bytes: cap, ..settings(server, &user) }, &store);
    let first = source.next().await;
    let second = source.next().await;
    let row = store.get_raw_alert(first).unwrap();
    assert_eq!(row.message_id, "<huge-1@example.org>");
    assert_eq!(row.subject, "Tablespace USERS is 97% full on PRODDB", "the headers survive the cut");
    assert_eq!(row.original_size, Some(huge.len() as u64), "the mark says the original size");
    assert!(row.body.len() < cap as usize, "at most the cap is kept: {} bytes", row.body.len());
    assert!(
        row.body.starts_with("Tablespace USERS is 97% full.\r\nORA-01653"),
        "{:?}",
        row.body.chars().take(80).collect::<String>()
    );
    assert!(!row.body.contains("THE-END-MARKER"), "nothing past the cap was fetched");
    wait_for_flag(server, &user, "huge-1@example.org", "\\Seen").await;

    let next = store.get_raw_alert(second).unwrap();
    assert_eq!((next.message_id.as_str(), next.original_size), ("<after-1@example.org>", None), "whole");
    source.stop().await;
}
