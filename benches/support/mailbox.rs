//! What the intake benches share: the generated mailbox (N emails, each with its own
//! Message-ID, cycling through a list of alert texts with every tenth email a newsletter that is
//! no alert), APPENDed to a Dovecot user in one session, and the peak RSS of a process.

#![allow(dead_code)]

use std::path::Path;

/// The `index`th email of the mailbox: the alert texts in turn, every tenth one no alert.
pub fn email(index: usize, samples: &[(String, String)]) -> String {
    let (subject, body) = if index % 10 == 9 || samples.is_empty() {
        (format!("Newsletter {index}: storage tips"), "lorem ipsum ".repeat(100))
    } else {
        samples[index % samples.len()].clone()
    };
    let body = body.replace('\n', "\r\n");
    format!(
        "From: monitor@example.org\r\nTo: alerts@example.org\r\nSubject: {subject}\r\n\
         Message-ID: <intake-{index}@example.org>\r\nDate: Wed, 25 Nov 2026 01:02:03 +0000\r\n\r\n{body}\r\n"
    )
}

/// How many of the first `count` emails are alerts (the rest are newsletters).
pub fn alert_count(count: usize, samples: &[(String, String)]) -> usize {
    if samples.is_empty() { 0 } else { (0..count).filter(|index| index % 10 != 9).count() }
}

/// One plain-IMAP session APPENDs every email (a session per email would time logins, not
/// intake).
pub async fn append_all(port: u16, user: &str, password: &str, samples: &[(String, String)], count: usize) {
    let mut session = login(port, user, password).await;
    for index in 0..count {
        session.append("INBOX", None, None, email(index, samples).as_bytes()).await.expect("APPEND");
    }
    session.logout().await.ok();
}

/// Makes every email of the INBOX unread again and takes Sentri's `$SentriHandled` keyword off,
/// so the next run reads the same mailbox from the start.
pub async fn mark_all_unread(port: u16, user: &str, password: &str) {
    use futures::TryStreamExt;
    let mut session = login(port, user, password).await;
    session.select("INBOX").await.expect("SELECT");
    let _: Vec<_> = session
        .uid_store("1:*", "-FLAGS.SILENT (\\Seen $SentriHandled)")
        .await
        .expect("UID STORE")
        .try_collect()
        .await
        .expect("UID STORE responses");
    session.logout().await.ok();
}

async fn login(port: u16, user: &str, password: &str) -> async_imap::Session<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect to Dovecot");
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.expect("greeting").expect("greeting");
    client.login(user, password).await.map_err(|(e, _)| e).expect("LOGIN")
}

/// The alert texts of one family of the labelled corpus (`tests/data/alert_corpus/<family>/`):
/// `(subject, body)` of every case labelled an alert.
pub fn corpus_alerts(family: &str) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/alert_corpus");
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("labels.json")).expect("labels.json"))
            .expect("labels.json is JSON");
    let prefix = format!("{family}/");
    let mut samples = Vec::new();
    for case in labels["cases"].as_array().into_iter().flatten() {
        let (Some(file), Some(kind)) = (case["file"].as_str(), case["type"].as_str()) else { continue };
        if !file.starts_with(&prefix) || kind == "NONE" {
            continue;
        }
        let text = std::fs::read_to_string(root.join(file)).expect("a corpus case");
        let (head, body) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
        let subject = head.lines().find_map(|line| line.strip_prefix("Subject:")).unwrap_or_default().trim();
        samples.push((subject.to_owned(), body.trim_end().to_owned()));
    }
    samples
}

/// `VmHWM` (peak resident set) of a process, in MiB, from `/proc/<pid>/status`.
pub fn peak_rss_mib(pid: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: f64 =
        status.lines().find_map(|line| line.strip_prefix("VmHWM:"))?.split_whitespace().next()?.parse().ok()?;
    Some(kib / 1024.0)
}
