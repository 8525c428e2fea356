//! One-time approval tokens: 160 random bits written as 40 hex digits, kept only as a sha256.
//!
//! The token proves a reply answers *this* request: a forged From address alone is not enough,
//! the sender must also hold the token that was mailed to an approver. The store keeps the hash,
//! so a copy of `sentri.db` does not hand out valid tokens.

use sha2::{Digest, Sha256};

/// Random bytes in a token (160 bits).
const TOKEN_BYTES: usize = 20;
/// Hex digits in a token.
pub const TOKEN_LEN: usize = TOKEN_BYTES * 2;

/// The operating system's random source failed; no token is issued without real randomness.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomUnavailable(pub String);

/// A fresh token from the operating system's random source.
pub fn generate() -> Result<String, RandomUnavailable> {
    let mut bytes = [0_u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|error| RandomUnavailable(error.to_string()))?;
    Ok(hex::encode(bytes))
}

/// The stored form of a token: hex sha256 of its lower-case text.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().to_ascii_lowercase().as_bytes()))
}

/// Every token a reply carries on a `Token:` line, quoted (`> Token: …`) or not, in order of
/// appearance and without repeats. Mail clients quote the request, so the token line is usually
/// inside the quote; where it sits says nothing about who wrote it — the token and the sender do.
pub fn find_tokens(body: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for line in body.lines() {
        let line = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace() || c == '\u{feff}');
        let Some(label) = line.get(..6) else { continue };
        if !label.eq_ignore_ascii_case("token:") {
            continue;
        }
        let value = line[6..].trim_start();
        let candidate: String = value.chars().take_while(char::is_ascii_hexdigit).collect();
        let ends_cleanly = value[candidate.len()..].chars().next().is_none_or(|c| !c.is_ascii_alphanumeric());
        if candidate.len() == TOKEN_LEN && ends_cleanly {
            let token = candidate.to_ascii_lowercase();
            if seen.insert(token.clone()) {
                found.push(token);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_hex_of_160_bits() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert_eq!(a.len(), TOKEN_LEN);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn the_hash_ignores_case_and_surrounding_space_but_nothing_else() {
        let token = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(hash(token), hash(&format!("  {}\n", token.to_ascii_uppercase())));
        assert_ne!(hash(token), hash("0123456789abcdef0123456789abcdef01234568"));
        assert_eq!(hash(token).len(), 64);
        assert_ne!(hash(token), token, "the token is never stored as itself");
    }

    #[test]
    fn tokens_are_found_on_token_lines_quoted_or_not() {
        let token = "0123456789abcdef0123456789abcdef01234567";
        for body in [
            format!("APPROVED\nToken: {token}\n"),
            format!("APPROVED\n\n> > Token: {token}\n"),
            format!("APPROVED\r\n>Token:{}\r\n", token.to_ascii_uppercase()),
            format!("APPROVED\n  token: {token}."),
        ] {
            assert_eq!(find_tokens(&body), [token], "{body:?}");
        }
    }

    #[test]
    fn near_misses_are_not_tokens() {
        let token = "0123456789abcdef0123456789abcdef01234567";
        for body in [
            format!("APPROVED {token}"),
            format!("Keep the token line: Token: {}", &token[..39]),
            format!("Token: {token}0"),
            format!("Token: {token}z"),
            format!("My Token: {token}"),
            "Token: ".to_owned(),
        ] {
            assert!(find_tokens(&body).is_empty(), "{body:?}");
        }
    }

    #[test]
    fn repeated_tokens_are_listed_once_in_order() {
        let (a, b) = ("a".repeat(TOKEN_LEN), "b".repeat(TOKEN_LEN));
        let body = format!("Token: {b}\n> Token: {a}\n> > Token: {b}");
        assert_eq!(find_tokens(&body), [b, a]);
    }
}
