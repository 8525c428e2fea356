//! Secrets out of what a model is sent and what Sentri keeps of a conversation. A tool's rows
//! can hold a password (`ALTER ROLE … PASSWORD '…'` in `pg_stat_activity.query`, `IDENTIFIED
//! BY` in `v$sql`), an email can quote a connection string, and a transcript is shown by
//! `sentri show` and the console: each goes through [`Redactor::scrub`] first.
//!
//! Two nets: the secrets of this configuration, by value (database, mail and API passwords
//! and keys), and the shapes secrets take in SQL, URLs and headers.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

/// Known secrets shorter than this are not matched by value: a two-letter password would
/// blank every word that contains it.
const SHORTEST_KNOWN: usize = 6;

/// The shapes a secret takes in text, each with what to keep around it.
static SHAPES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
    [
        // PostgreSQL: CREATE/ALTER ROLE … [ENCRYPTED] PASSWORD 'x'.
        (r"(?i)(\bpassword\s+)'(?:[^']|'')*'", "${1}'[redacted]'"),
        // Oracle: IDENTIFIED BY x / "x" (ALTER USER, CREATE DATABASE LINK).
        (r#"(?i)(\bidentified\s+by\s+)(?:"[^"]*"|[^\s;,)]+)"#, "${1}[redacted]"),
        // key=value in connection strings and logs: password=…, pwd=…, secret=…, token=….
        (
            r#"(?i)(\b(?:password|passwd|pwd|secret|token|api_key|apikey)\s*[=:]\s*)(?:"[^"]*"|'[^']*'|[^\s;&,"']+)"#,
            "${1}[redacted]",
        ),
        // JSON: "password": "…".
        (r#"(?i)("(?:password|passwd|secret|token|api_key|apikey)"\s*:\s*)"(?:[^"\\]|\\.)*""#, r#"${1}"[redacted]""#),
        // The password in a URL's user info: scheme://user:secret@host.
        (r"([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)[^\s@/]+@", "${1}[redacted]@"),
        // Authorization headers.
        (r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}", "${1}[redacted]"),
        // Vendor API keys by their prefixes: Anthropic and OpenAI (sk-…), Google (AIza…).
        (r"\bsk-[A-Za-z0-9_-]{16,}", "[redacted]"),
        (r"\bAIza[0-9A-Za-z_-]{30,}", "[redacted]"),
    ]
    .into_iter()
    .filter_map(|(pattern, keep)| Regex::new(pattern).ok().map(|regex| (regex, keep)))
    .collect()
});

/// Removes secrets from text bound for a model or for the record.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// This configuration's secrets, longest first so a secret containing another goes whole.
    known: Vec<String>,
}

impl Redactor {
    /// A redactor for `known` secret values (those too short to match safely are left to the
    /// shapes).
    pub fn new(known: impl IntoIterator<Item = String>) -> Redactor {
        let mut known: Vec<String> = known.into_iter().filter(|secret| secret.len() >= SHORTEST_KNOWN).collect();
        known.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        known.dedup();
        Redactor { known }
    }

    /// `text` with every known secret and every secret-shaped value replaced by [`REDACTED`].
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut text = Cow::Borrowed(text);
        for secret in &self.known {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), REDACTED));
            }
        }
        for (shape, keep) in SHAPES.iter() {
            if let Cow::Owned(replaced) = shape.replace_all(&text, *keep) {
                text = Cow::Owned(replaced);
            }
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shape_of_secret_is_redacted_and_the_rest_kept() {
        let redactor = Redactor::default();
        let cases = [
            (
                "ALTER ROLE app ENCRYPTED PASSWORD 'hunter2''s' VALID UNTIL 'infinity'",
                "PASSWORD '[redacted]' VALID UNTIL 'infinity'",
            ),
            ("alter user scott identified by tiger account unlock", "identified by [redacted] account unlock"),
            (
                r#"CREATE DATABASE LINK l CONNECT TO u IDENTIFIED BY "p@ss" USING 'x'"#,
                "IDENTIFIED BY [redacted] USING 'x'",
            ),
            ("host=db1 user=app password=s3cret dbname=app", "user=app password=[redacted] dbname=app"),
            (r#"{"user": "app", "password": "s3\"cret"}"#, r#""password": "[redacted]"}"#),
            ("postgres://app:s3cret@db1:5432/app", "postgres://app:[redacted]@db1:5432/app"),
            ("Authorization: Bearer abcdefghijklmnop", "Bearer [redacted]"),
            ("key sk-ant-api03-abcdefghijklmnopqrstuv in a log", "key [redacted] in a log"),
            ("AIzaSyA-abcdefghijklmnopqrstuvwxyz012345", "[redacted]"),
        ];
        for (text, expected) in cases {
            let scrubbed = redactor.scrub(text);
            assert!(scrubbed.contains(expected), "{text}\n-> {scrubbed}");
        }
        let plain = "SELECT pid, state FROM pg_stat_activity WHERE wait_event_type = 'Lock'";
        assert!(matches!(redactor.scrub(plain), Cow::Borrowed(_)), "nothing to redact, nothing copied");
    }

    #[test]
    fn known_secrets_go_by_value_and_short_ones_are_left_to_the_shapes() {
        let redactor = Redactor::new(["Tr0ub4dor&3".to_owned(), "ab".to_owned()]);
        assert_eq!(redactor.scrub("login failed for Tr0ub4dor&3 at tab"), "login failed for [redacted] at tab");
    }
}
