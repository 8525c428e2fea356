//! The audit chain's key: what makes the chain's hashes something only Sentri can compute.
//!
//! With plain sha256, anyone who can write `sentri.db` can rewrite a row and recompute every
//! hash after it, and the chain verifies. With HMAC-SHA256 under a key kept *outside* the
//! database, they cannot: the key is `audit.key`, beside the database file (in a home,
//! `data/audit.key`), 32 random bytes written as 64 hex digits, mode 0600, made by `sentri init`
//! (or on the first open that finds it missing, with a warning).
//!
//! Back it up apart from the database: without it the chain cannot be verified, and whoever holds
//! it can forge rows and anchors. The same key signs anchor lines ([`super::anchor`]); the
//! messages differ in their first bytes (a JSON array vs `sentri-audit-anchor`), so a signature
//! of one kind is never valid for the other.

use std::io::Write;
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::store::StoreError;

/// The key file's name, beside the database file.
pub const KEY_FILE: &str = "audit.key";

/// Random bytes in a key.
const KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// The secret the chain is keyed with. Prints as `***`.
#[derive(Clone)]
pub struct AuditKey([u8; KEY_BYTES]);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditKey(***)")
    }
}

/// Where the key of the store at `database` lives: `audit.key` in the database's folder.
pub fn key_file_for(database: &Path) -> PathBuf {
    database.parent().unwrap_or_else(|| Path::new(".")).join(KEY_FILE)
}

impl AuditKey {
    /// A fresh key from the operating system's random source (in-memory stores use one; it
    /// lives as long as they do).
    pub fn random() -> Result<AuditKey, StoreError> {
        let mut bytes = [0_u8; KEY_BYTES];
        getrandom::fill(&mut bytes).map_err(|error| StoreError::RandomUnavailable(error.to_string()))?;
        Ok(AuditKey(bytes))
    }

    /// Reads the key at `path`, or makes one there (mode 0600) if there is none; `true` when it
    /// was made now. Two processes racing to make it end up with the one that was written first.
    pub fn load_or_create(path: &Path) -> Result<(AuditKey, bool), StoreError> {
        let io = |source| StoreError::AuditKeyIo { path: path.to_owned(), source };
        match std::fs::read(path) {
            Ok(bytes) => return Ok((AuditKey::parse(path, &bytes)?, false)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io(error)),
        }
        let key = AuditKey::random()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(path) {
            Ok(mut file) => {
                file.write_all(format!("{}\n", hex::encode(key.0)).as_bytes()).map_err(io)?;
                file.sync_all().map_err(io)?;
                Ok((key, true))
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                let bytes = std::fs::read(path).map_err(io)?;
                Ok((AuditKey::parse(path, &bytes)?, false))
            }
            Err(error) => Err(io(error)),
        }
    }

    /// 64 hex digits (surrounding whitespace ignored) or exactly 32 raw bytes.
    fn parse(path: &Path, bytes: &[u8]) -> Result<AuditKey, StoreError> {
        let invalid = || StoreError::AuditKeyInvalid { path: path.to_owned() };
        let text = std::str::from_utf8(bytes).map(str::trim).unwrap_or_default();
        let mut key = [0_u8; KEY_BYTES];
        if text.len() == KEY_BYTES * 2 {
            hex::decode_to_slice(text, &mut key).map_err(|_| invalid())?;
        } else if bytes.len() == KEY_BYTES {
            key.copy_from_slice(bytes);
        } else {
            return Err(invalid());
        }
        Ok(AuditKey(key))
    }

    /// Hex HMAC-SHA256 of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.mac(message).finalize().into_bytes())
    }

    /// Whether `signature` (hex) is the HMAC of `message`, compared in constant time.
    pub(crate) fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = hex::decode(signature) else { return false };
        self.mac(message).verify_slice(&bytes).is_ok()
    }

    fn mac(&self, message: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(message);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_made_once_with_mode_0600_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        let (made, created) = AuditKey::load_or_create(&path).unwrap();
        assert!(created);
        let (read, created) = AuditKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(made.sign(b"x"), read.sign(b"x"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap().trim().len(), 64);
    }

    #[test]
    fn raw_bytes_are_accepted_and_anything_else_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        std::fs::write(&path, [7_u8; 32]).unwrap();
        let (raw, _) = AuditKey::load_or_create(&path).unwrap();
        std::fs::write(&path, format!("{}\n", hex::encode([7_u8; 32]))).unwrap();
        let (hexed, _) = AuditKey::load_or_create(&path).unwrap();
        assert_eq!(raw.sign(b"m"), hexed.sign(b"m"));
        std::fs::write(&path, "short").unwrap();
        let err = AuditKey::load_or_create(&path).unwrap_err();
        assert!(matches!(err, StoreError::AuditKeyInvalid { .. }), "{err:?}");
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let key = AuditKey::random().unwrap();
        let signature = key.sign(b"message");
        assert!(key.verifies(b"message", &signature));
        assert!(!key.verifies(b"messagf", &signature));
        assert!(!AuditKey::random().unwrap().verifies(b"message", &signature));
        assert!(!key.verifies(b"message", "not hex"));
        assert_eq!(format!("{key:?}"), "AuditKey(***)");
    }
}
