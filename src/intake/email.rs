//! An email as Sentri sees it: the one shape every intake source (IMAP, replay, `sentri match`)
//! turns its input into.

pub use crate::domain::RawAlert;
use sha2::{Digest, Sha256};

impl RawAlert {
    /// Parses a whole RFC 5322 message. Never fails: a message that cannot be parsed becomes a
    /// `RawAlert` with `parse_error` set and the raw text as its body, so it is kept, not dropped.
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
        let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
            return unparsable("not a parsable email message");
        };
        // The parser is lenient: text with no header line at all parses as a body. That is not
        // an email (every message has at least From and Date), so it is kept and marked.
        if message.headers().is_empty() {
            return unparsable("no header fields: not an email message");
        }
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
        let body = body_text(&message);
        let headers = message
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
        RawAlert { id, received_at, from, subject, body, headers, parse_error: None }
    }
}

/// The message's first text body: its text/plain part, or, for an HTML-only message, the text
/// its HTML shows, line breaks kept ([`html_text`](super::html_text)).
fn body_text(message: &mail_parser::Message<'_>) -> String {
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
