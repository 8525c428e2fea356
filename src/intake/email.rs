//! An email as Sentri sees it: the one shape every intake source (IMAP, replay, `sentri match`)
//! turns its input into.
//!
//! Mail is outside input, and some of it is hostile or broken: MIME nested a hundred deep, parts
//! that do not decode, charsets nobody knows, NUL bytes in headers, a From naming several
//! people. None of it stops a message from being kept: what cannot be read is stored as it
//! came, and what was read with a problem is stored with the problem named (`parse_error`,
//! shown by `sentri alerts`), so a DBA can see why such a message did nothing. The parser runs
//! behind `catch_unwind`: a panic in it (mail-parser's own index arithmetic and debug
//! assertions) marks that one message instead of ending the intake task.

use std::panic::AssertUnwindSafe;

use mail_parser::{Message, PartType};
use sha2::{Digest, Sha256};

pub use crate::domain::RawAlert;

/// MIME nesting deeper than this is marked: no monitor nests parts this deep, so such a message
/// was built to hurt a parser. (mail-parser keeps its own stack, so depth costs no recursion;
/// the mark is for the DBA.)
pub const MAX_MIME_DEPTH: usize = 20;

impl RawAlert {
    /// Parses a whole RFC 5322 message. Never fails: a message that cannot be parsed becomes a
    /// `RawAlert` with `parse_error` set and the raw text as its body, so it is kept, not dropped;
    /// one read with problems (see [`RawAlert::parse_error`]) has them named there.
    pub fn from_rfc822(raw: &[u8], received_at: String) -> Self {
        let content_id = format!("sha256:{}", hex::encode(Sha256::digest(raw)));
        let unparsable = |problem: &str| RawAlert {
            id: content_id.clone(),
            received_at: received_at.clone(),
            from: String::new(),
            subject: String::new(),
            body: String::from_utf8_lossy(raw).into_owned(),
            headers: Vec::new(),
            parse_error: Some(problem.to_owned()),
        };
        let parsed = std::panic::catch_unwind(AssertUnwindSafe(|| mail_parser::MessageParser::default().parse(raw)));
        let message = match parsed {
            Ok(Some(message)) => message,
            Ok(None) => return unparsable("not a parsable email message"),
            Err(_) => return unparsable("the email parser failed on this message (a panic, caught); kept as it came"),
        };
        // The parser is lenient: text with no header line at all parses as a body. That is not
        // an email (every message has at least From and Date), so it is kept and marked.
        if message.headers().is_empty() {
            return unparsable("no header fields: not an email message");
        }
        let read =
            std::panic::catch_unwind(AssertUnwindSafe(|| read_parsed(&message, content_id.clone(), &received_at)));
        match read {
            Ok(alert) => alert,
            Err(_) => unparsable("the email parser failed on this message (a panic, caught); kept as it came"),
        }
    }
}

/// The alert a parsed message gives, with what was wrong in it named in `parse_error`.
fn read_parsed(message: &Message<'_>, content_id: String, received_at: &str) -> RawAlert {
    let subject = message.subject().unwrap_or_default().to_owned();
    let from = message
        .from()
        .and_then(|addresses| addresses.first())
        .map(|address| match (address.name(), address.address()) {
            (Some(name), Some(email)) => format!("{name} <{email}>"),
            (None, Some(email)) => email.to_owned(),
            (Some(name), None) => name.to_owned(),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    let body = body_text(message);
    let headers: Vec<(String, String)> = message
        .headers()
        .iter()
        .map(|header| {
            let value = match header.value() {
                mail_parser::HeaderValue::Text(text) => text.to_string(),
                _ => message.header_raw(header.name()).unwrap_or_default().trim().to_owned(),
            };
            (header.name().to_owned(), value)
        })
        .collect();
    let id = message.message_id().map(|id| format!("<{id}>")).unwrap_or(content_id);
    let found = problems(message, &headers, &body);
    let parse_error = (!found.is_empty()).then(|| found.join("; "));
    RawAlert { id, received_at: received_at.to_owned(), from, subject, body, headers, parse_error }
}

/// What was wrong in a message that parsed: each problem in words for the DBA, empty when
/// nothing was.
fn problems(message: &Message<'_>, headers: &[(String, String)], body: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let depth = mime_depth(message);
    if depth > MAX_MIME_DEPTH {
        problems.push(format!("MIME parts nested {depth} deep (more than {MAX_MIME_DEPTH})"));
    }
    let undecodable = all_parts(message).filter(|part| part.is_encoding_problem).count();
    if undecodable > 0 {
        problems.push(format!(
            "{undecodable} MIME part(s) did not decode as their headers say (kept as raw text or left out)"
        ));
    }
    let mut unknown: Vec<String> = all_parts(message)
        .filter_map(|part| part.headers.iter().find(|h| h.name().eq_ignore_ascii_case("content-type")))
        .filter_map(|header| header.value().as_content_type()?.attribute("charset").map(str::to_owned))
        .filter(|charset| !is_known_charset(charset))
        .collect();
    unknown.sort();
    unknown.dedup();
    if !unknown.is_empty() {
        let shown: Vec<String> = unknown.iter().take(3).map(|c| printable(c, 40)).collect();
        problems.push(format!("unknown charset {}: read as UTF-8", shown.join(", ")));
    }
    if body.contains('\u{fffd}') {
        problems.push("the text holds bytes that are not valid in its charset (shown as U+FFFD)".to_owned());
    }
    if headers.iter().any(|(name, value)| name.contains('\0') || value.contains('\0')) {
        problems.push("header fields hold NUL bytes".to_owned());
    }
    // A server hands NULs over as 0x80 (Dovecot does, without BINARY), and 8-bit header text
    // must be UTF-8: either way the header is not what it claims to be.
    if headers.iter().any(|(name, value)| name.contains('\u{fffd}') || value.contains('\u{fffd}')) {
        problems.push("header fields hold bytes that are not valid UTF-8 (shown as U+FFFD)".to_owned());
    }
    let froms = headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("from")).count();
    let addresses = message.from().map_or(0, |from| from.iter().count());
    if froms > 1 {
        problems.push(format!("{froms} From headers: the first is shown, and no sender rule trusts it"));
    } else if addresses > 1 {
        problems.push(format!(
            "the From header names {addresses} addresses: the first is shown, and no sender rule trusts it"
        ));
    }
    problems
}

/// Every part of the message and of the messages nested in it, without recursion.
fn all_parts<'m>(message: &'m Message<'m>) -> impl Iterator<Item = &'m mail_parser::MessagePart<'m>> {
    let mut pending: Vec<&'m Message<'m>> = vec![message];
    let none: &'m [mail_parser::MessagePart<'m>] = &[];
    let mut current = none.iter();
    std::iter::from_fn(move || {
        loop {
            if let Some(part) = current.next() {
                if let PartType::Message(inner) = &part.body {
                    pending.push(inner);
                }
                return Some(part);
            }
            current = pending.pop()?.parts.iter();
        }
    })
}

/// How deep the message's parts nest (a single-part message is 1), walked without recursion:
/// the depth is the attacker's to choose.
fn mime_depth(message: &Message<'_>) -> usize {
    let mut deepest = 0;
    let mut pending: Vec<(&Message<'_>, usize, usize)> = vec![(message, 0, 1)];
    // Children come after their parent in the parser's list; the budget guards against any
    // list that does not.
    let mut budget = 1_000_000usize;
    while let Some((message, part, depth)) = pending.pop() {
        budget = budget.saturating_sub(1);
        if budget == 0 {
            break;
        }
        deepest = deepest.max(depth);
        match message.parts.get(part).map(|part| &part.body) {
            Some(PartType::Multipart(children)) => {
                for child in children.iter().map(|child| *child as usize).filter(|child| *child > part) {
                    pending.push((message, child, depth + 1));
                }
            }
            Some(PartType::Message(inner)) => pending.push((inner, 0, depth + 1)),
            _ => {}
        }
    }
    deepest
}

fn is_known_charset(charset: &str) -> bool {
    let lower = charset.trim().to_ascii_lowercase();
    matches!(lower.as_str(), "utf-8" | "utf8" | "us-ascii" | "ascii" | "")
        || mail_parser::decoders::charsets::map::charset_decoder(lower.as_bytes()).is_some()
}

/// At most `limit` characters of `text`, control characters left out: names from a message
/// quoted in a mark.
fn printable(text: &str, limit: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(limit).collect()
}

/// The message's first text body: its text/plain part, or, for an HTML-only message, the text
/// its HTML shows, line breaks kept ([`html_text`](super::html_text)).
fn body_text(message: &Message<'_>) -> String {
    match message.text_part(0).map(|part| &part.body) {
        Some(mail_parser::PartType::Html(html)) => super::html_text::html_to_text(html),
        _ => message.body_text(0).map(|text| text.into_owned()).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: &str = "2026-11-25T01:02:03Z";

    #[test]
    fn a_message_without_headers_is_kept_and_marked() {
        for raw in [&b""[..], b" ", b"\r\nORA-00600 and no headers\r\n"] {
            let alert = RawAlert::from_rfc822(raw, AT.into());
            assert!(alert.parse_error.is_some(), "{raw:?}");
            assert!(alert.id.starts_with("sha256:"), "{raw:?}");
            assert_eq!(alert.body, String::from_utf8_lossy(raw), "{raw:?}");
        }
    }

    fn problem(raw: &[u8]) -> String {
        RawAlert::from_rfc822(raw, AT.into()).parse_error.unwrap_or_default()
    }

    #[test]
    fn mime_nested_a_hundred_deep_is_read_and_marked() {
        let mut raw = b"From: a@example.org\r\nSubject: deep\r\n".to_vec();
        for level in 0..100 {
            raw.extend(
                format!("Content-Type: multipart/mixed; boundary=\"b{level}\"\r\n\r\n--b{level}\r\n").as_bytes(),
            );
        }
        raw.extend(b"Content-Type: text/plain\r\n\r\nORA-00600 at the bottom\r\n");
        for level in (0..100).rev() {
            raw.extend(format!("--b{level}--\r\n").as_bytes());
        }
        let alert = RawAlert::from_rfc822(&raw, AT.into());
        assert!(alert.body.contains("ORA-00600"), "{:?}", alert.body);
        let marked = alert.parse_error.unwrap_or_default();
        assert!(marked.contains("nested 101 deep"), "{marked}");
        // message/rfc822 nesting too.
        let mut raw = b"From: a@example.org\r\nSubject: deep\r\n".to_vec();
        for _ in 0..100 {
            raw.extend(b"Content-Type: message/rfc822\r\n\r\nFrom: b@example.org\r\n");
        }
        raw.extend(b"\r\nbottom\r\n");
        assert!(problem(&raw).contains("deep"), "{}", problem(&raw));
    }

    #[test]
    fn broken_encodings_and_charsets_are_read_lossily_and_marked() {
        let raw = b"From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=x-no-such\r\n\r\nbody\r\n";
        assert!(problem(raw).contains("unknown charset x-no-such"), "{}", problem(raw));
        let raw = b"From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nbad \xc3\x28 bytes\r\n";
        assert!(problem(raw).contains("U+FFFD"), "{}", problem(raw));
        let raw = b"From: a@example.org\r\nSubject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
            Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@not base64@@@\r\n--b--\r\n";
        let alert = RawAlert::from_rfc822(raw, AT.into());
        assert!(alert.parse_error.is_some(), "{alert:?}");
        // Known charsets are not marked.
        let raw =
            b"From: a@example.org\r\nSubject: x\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\r\ncaf\xe9\r\n";
        let alert = RawAlert::from_rfc822(raw, AT.into());
        assert_eq!((alert.parse_error, alert.body.trim()), (None, "café"));
    }

    #[test]
    fn nul_bytes_in_headers_and_several_senders_are_marked() {
        let raw = b"From: a@example.org\r\nSubject: bad\x00nul\r\nX-N\x00: v\r\n\r\nbody\r\n";
        assert!(problem(raw).contains("NUL"), "{}", problem(raw));
        let raw = b"From: a@example.org, b@example.org, \"C, D\" <c@example.org>\r\nSubject: x\r\n\r\nbody\r\n";
        let alert = RawAlert::from_rfc822(raw, AT.into());
        assert_eq!(alert.from, "a@example.org");
        assert!(alert.parse_error.as_deref().unwrap_or_default().contains("names 3 addresses"), "{alert:?}");
        let raw = b"From: a@example.org\r\nFrom: b@example.org\r\nSubject: x\r\n\r\nbody\r\n";
        assert!(problem(raw).contains("2 From headers"), "{}", problem(raw));
    }

    #[test]
    fn a_huge_base64_part_and_a_long_line_are_read_whole_within_the_input() {
        // 3 MiB of base64 (what fits in the default 4 MiB cap) decodes to 2.25 MiB: never more
        // than the input, so the cap bounds it.
        let line = "QUxFUlQgT1JBLTAwNjAwIGludGVybmFsIGVycm9yIGF0IHRoZSBib3R0b20gb2YgdGhlIHN0YWNr\r\n";
        let mut raw = b"From: a@example.org\r\nSubject: x\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
        while raw.len() < 3 * 1024 * 1024 {
            raw.extend(line.as_bytes());
        }
        let alert = RawAlert::from_rfc822(&raw, AT.into());
        assert!(alert.body.len() <= raw.len() && alert.body.starts_with("ALERT ORA-00600"), "{}", alert.body.len());
        let mut raw = b"From: a@example.org\r\nSubject: x\r\n\r\n".to_vec();
        raw.extend(std::iter::repeat_n(b'x', 4 * 1024 * 1024));
        let alert = RawAlert::from_rfc822(&raw, AT.into());
        assert_eq!(alert.body.len(), 4 * 1024 * 1024);
    }

    #[test]
    fn a_message_that_makes_the_parser_panic_is_kept_and_marked() {
        // Found by tests/properties.rs: mail-parser 0.11.9 fails a debug assertion ("Invalid
        // part ID, could not find multipart.") on message/rfc822 parts nested in a multipart
        // with a base64 one inside. Caught, the message is kept as it came.
        let raw = b"Content-Type: multipart/mixed; boundary=\"a\"\r\n\r\n--a\r\nContent-Type: message/rfc822\r\n\r\n\
            Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
            RnJvbTogYUBiDQpTdWJqZWN0OiBuZXN0ZWQNCg0KYm9keQ0K\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n--a--\r\n";
        let alert = RawAlert::from_rfc822(raw, AT.into());
        assert!(alert.id.starts_with("sha256:"), "{alert:?}");
        if cfg!(debug_assertions) {
            assert!(alert.parse_error.as_deref().unwrap_or_default().contains("panic"), "{alert:?}");
            assert_eq!(alert.body, String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn a_plain_message_parses_cleanly() {
        let raw = b"From: OEM <oem@example.org>\r\nSubject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n";
        let alert = RawAlert::from_rfc822(raw, AT.into());
        assert_eq!(alert.parse_error, None);
        assert_eq!(alert.id, "<a@b>");
        assert_eq!(alert.from, "OEM <oem@example.org>");
        assert_eq!(alert.subject, "hi");
    }
}
