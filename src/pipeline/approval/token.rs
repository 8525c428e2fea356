//! Finding approval tokens in a reply. What a token is, how it is made and stored
//! ([`generate`], [`hash`]) is `domain::token`, shared with the notifier that mints it.

pub use crate::domain::token::{RandomUnavailable, TOKEN_LEN, generate, hash, slot};

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
