//! Anchors: the chain's head, written down *outside* the store, so that cutting the newest rows
//! or rewriting the chain (even with the key) shows against a copy the attacker cannot reach.
//!
//! An anchor is one line, `sentri-audit-anchor v1 <row id> <head hash> <time> <signature>`, the
//! signature an HMAC under the audit key over the rest of the line. The engine logs one after
//! every execution; every ending's notification carries one, and one is queued daily; `sentri
//! audit --anchor` prints one. `sentri audit --verify --anchors FILE` reads every such line in a
//! file (a log, saved mails: the line may sit anywhere in a line of text) and checks that each
//! anchored row is still there with that hash.

use jiff::Timestamp;
use serde::Serialize;

use super::key::AuditKey;
use crate::store::timestamp_text;

/// What every anchor line starts with.
pub const ANCHOR_PREFIX: &str = "sentri-audit-anchor v1";

/// The chain's head at one moment, signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Anchor {
    /// The newest row's id (0 for an empty chain).
    pub row_id: i64,
    /// Its hash ([`super::GENESIS_HASH`] for an empty chain).
    pub head_hash: String,
    /// When the anchor was taken, in the store's time format.
    pub at: String,
    /// Hex HMAC-SHA256 of the line up to here.
    pub signature: String,
}

impl Anchor {
    /// The anchor of `row_id`/`head_hash` at `at`, signed with `key`.
    pub(crate) fn signed(key: &AuditKey, row_id: i64, head_hash: String, at: Timestamp) -> Anchor {
        let at = timestamp_text(at);
        let signature = key.sign(signed_text(row_id, &head_hash, &at).as_bytes());
        Anchor { row_id, head_hash, at, signature }
    }

    /// Whether the signature is the key's: a line not made by this store's key is not evidence.
    pub(crate) fn is_signed_by(&self, key: &AuditKey) -> bool {
        key.verifies(signed_text(self.row_id, &self.head_hash, &self.at).as_bytes(), &self.signature)
    }

    /// Every anchor in `text`, in order, wherever it sits in its line (after a log prefix, in a
    /// quoted mail). Lines that carry the prefix but cannot be read are returned as errors with
    /// their 1-based line number, so a damaged anchor is not silently skipped.
    pub fn find_all(text: &str) -> Vec<Result<Anchor, UnreadableAnchor>> {
        text.lines()
            .enumerate()
            .filter_map(|(index, line)| {
                let start = line.find(ANCHOR_PREFIX)?;
                let rest = &line[start + ANCHOR_PREFIX.len()..];
                Some(
                    parse_fields(rest)
                        .ok_or_else(|| UnreadableAnchor { line: index + 1, text: line.trim().to_owned() }),
                )
            })
            .collect()
    }
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", signed_text(self.row_id, &self.head_hash, &self.at), self.signature)
    }
}

/// A line that names itself an anchor but does not read as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("line {line} is not a readable anchor: {text}")]
pub struct UnreadableAnchor {
    pub line: usize,
    pub text: String,
}

fn signed_text(row_id: i64, head_hash: &str, at: &str) -> String {
    format!("{ANCHOR_PREFIX} {row_id} {head_hash} {at}")
}

fn parse_fields(rest: &str) -> Option<Anchor> {
    let mut fields = rest.split_whitespace();
    let row_id = fields.next()?.parse::<i64>().ok().filter(|id| *id >= 0)?;
    let head_hash = fields.next().filter(|hash| is_hex_hash(hash))?.to_owned();
    let at = fields.next().filter(|at| at.parse::<Timestamp>().is_ok())?.to_owned();
    let signature = fields.next().filter(|signature| is_hex_hash(signature))?.to_owned();
    Some(Anchor { row_id, head_hash, at, signature })
}

/// 64 lower-case hex digits: a sha256 or HMAC-SHA256 as Sentri writes them.
pub fn is_hex_hash(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_line_reads_back_from_a_log_line_and_keeps_its_signature() {
        let key = AuditKey::random().unwrap();
        let at: Timestamp = "2026-11-25T01:02:03.456Z".parse().unwrap();
        let anchor = Anchor::signed(&key, 42, "ab".repeat(32), at);
        let line = anchor.to_string();
        assert!(line.starts_with("sentri-audit-anchor v1 42 abab"), "{line}");
        let log = format!("2026-11-25T01:02:03Z  INFO sentri::engine: audit anchor: {line}\nother line\n");
        let found = Anchor::find_all(&log);
        assert_eq!(found, [Ok(anchor.clone())]);
        assert!(anchor.is_signed_by(&key));
        assert!(!anchor.is_signed_by(&AuditKey::random().unwrap()));
        let moved = Anchor { row_id: 41, ..anchor };
        assert!(!moved.is_signed_by(&key), "the signature covers the row id");
    }

    #[test]
    fn a_damaged_anchor_line_is_reported_with_its_line_number() {
        let found = Anchor::find_all("x\n> sentri-audit-anchor v1 7 nothex 2026-11-25T01:02:03.456Z sig\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].as_ref().unwrap_err().line, 2);
    }
}
