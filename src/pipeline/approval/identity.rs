//! Who a decision is from, in the one spelling approvals are counted and compared by.
//!
//! From the CLI and the console the approver is the operating-system account the process runs
//! as: its real uid looked up in the password database (`getuid` → `getpwuid_r`, through
//! `libc`, which the tree already builds). The
//! environment (`$USER`, `$SUDO_USER`, `$LOGNAME`) is never read: anyone can set it, so
//! `USER=bob sentri approve` would otherwise make alice a second person. By email the approver
//! is the sender address the reply's token was bound to.
//!
//! Identities are normalised and tagged with their kind, so the two kinds never collide: an OS
//! account `alice` is `os:alice` whichever of the CLI or the console it uses, and an address is
//! `email:alice@example.com` whatever display name or case it was written with. Sentri has no
//! directory mapping one kind to the other, so `os:alice` and `email:alice@example.com` are two
//! identities; but no account and no address counts twice towards `required_approvals`.

use std::ffi::CStr;

/// The running process's OS account could not be named.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read the password database entry of uid {uid}: {source}")]
    Lookup { uid: u32, source: std::io::Error },
    #[error("uid {uid} has no entry in the password database, so this process has no account name to decide as")]
    NoAccount { uid: u32 },
    #[error("the account name of uid {uid} is not UTF-8")]
    NotUtf8 { uid: u32 },
}

/// The OS account name of this process's real uid. `sudo sentri approve` decides as root, not
/// as whoever ran sudo: the environment that would say so is the caller's to forge.
pub fn os_account() -> Result<String, IdentityError> {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let mut buffer: Vec<libc::c_char> = vec![0; 1024];
    loop {
        // SAFETY: an all-zero passwd is a valid value (integers and null pointers) for
        // getpwuid_r to fill.
        let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer is valid for the call: `entry` and `found` are locals, `buffer`
        // is `buffer.len()` writable bytes; the strings written into `entry` point into `buffer`,
        // which outlives their use below.
        let status = unsafe { libc::getpwuid_r(uid, &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
        if status == libc::ERANGE && buffer.len() < 1 << 20 {
            buffer.resize(buffer.len() * 2, 0);
            continue;
        }
        if status != 0 {
            return Err(IdentityError::Lookup { uid, source: std::io::Error::from_raw_os_error(status) });
        }
        if found.is_null() || entry.pw_name.is_null() {
            return Err(IdentityError::NoAccount { uid });
        }
        // SAFETY: getpwuid_r succeeded, so pw_name is a NUL-terminated string inside `buffer`.
        let name = unsafe { CStr::from_ptr(entry.pw_name) };
        return name.to_str().map(str::to_owned).map_err(|_| IdentityError::NotUtf8 { uid });
    }
}

/// The identity of an approver on `channel`: `email:<address>` (lower case) for email,
/// `os:<account>` (lower case) for every other channel (CLI, console).
pub fn approver_identity(channel: &str, approver: &str) -> String {
    let who = approver.trim().to_lowercase();
    if channel == super::EMAIL_CHANNEL { format!("email:{who}") } else { format!("os:{who}") }
}

/// The identity of a recorded requester: an address (it has an `@`) is an email identity,
/// anything else an OS account, as [`approver_identity`] spells them.
pub fn requester_identity(requester: &str) -> String {
    let channel = if requester.contains('@') { super::EMAIL_CHANNEL } else { "cli" };
    approver_identity(channel, requester)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_os_account_is_the_uid_s_name() {
        let id = std::process::Command::new("id").arg("-un").output().unwrap();
        assert_eq!(os_account().unwrap(), String::from_utf8(id.stdout).unwrap().trim());
    }

    #[test]
    fn identities_are_normalised_and_kinds_never_collide() {
        assert_eq!(approver_identity("cli", " Alice "), "os:alice");
        assert_eq!(approver_identity("console", "alice"), approver_identity("cli", "ALICE"));
        assert_eq!(approver_identity("email", "Alice@Example.com"), "email:alice@example.com");
        assert_ne!(approver_identity("cli", "alice@example.com"), approver_identity("email", "alice@example.com"));
        assert_eq!(requester_identity("carol"), "os:carol");
        assert_eq!(requester_identity("Carol@Example.com"), "email:carol@example.com");
    }
}
