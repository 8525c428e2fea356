//! What an intake source saw, before any policy looked at it.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a source saw, before any policy looked at it. Stored first, so a crash or a parse
/// problem later never loses the message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawAlert {
    /// Message-ID when the mail has one, else `sha256:<hex>` of the raw bytes, so that the same
    /// message seen twice is recognised as the same.
    pub id: String,
    /// RFC 3339 UTC time Sentri received it.
    pub received_at: String,
    pub from: String,
    pub subject: String,
    /// Plain text body; an HTML-only mail is converted to text.
    pub body: String,
    /// `(name, value)` pairs in the order they appeared, decoded.
    pub headers: Vec<(String, String)>,
    /// Set when the message could not be parsed cleanly; the message is kept and marked. It
    /// names every problem met (`; `-separated): unparsable (the body is then the raw text),
    /// or read with one — MIME nested too deep, a part that did not decode, an unknown charset,
    /// NUL bytes in headers, several From addresses.
    pub parse_error: Option<String>,
}

impl RawAlert {
    /// Builds an alert from a subject and body alone, as policy samples and tests write them.
    pub fn from_parts(subject: &str, body: &str, received_at: String) -> Self {
        let id = format!("sha256:{}", hex::encode(Sha256::digest(format!("{subject}\n{body}").as_bytes())));
        RawAlert {
            id,
            received_at,
            from: String::new(),
            subject: subject.to_owned(),
            body: body.to_owned(),
            headers: Vec::new(),
            parse_error: None,
        }
    }
}
