//! One-time approval tokens: 160 random bits written as 40 hex digits, kept only as a sha256.
//!
//! The token proves a reply answers *this* request: a forged From address alone is not enough,
//! the sender must also hold the token that was mailed to that approver. It is minted when its
//! email is handed to the SMTP server (`notify::approval_token`) and lives only in that
//! message: the store keeps the hash, so neither a copy of `sentri.db` nor the outbox hands out
//! valid tokens. A leaf here because both `notify` (minting) and `pipeline::approval` (reading
//! replies) need it.

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

/// The mark an approval request's stored text carries where its token goes: random, so no alert
/// text can guess it and get the token written elsewhere, and no token (`[` is not a hex digit),
/// so the stored text cannot be replied with. The notifier puts the token in its place when it
/// sends the message.
pub fn slot() -> Result<String, RandomUnavailable> {
    let mut bytes = [0_u8; 8];
    getrandom::fill(&mut bytes).map_err(|error| RandomUnavailable(error.to_string()))?;
    Ok(format!("[token-sent-by-mail-only-{}]", hex::encode(bytes)))
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
}
