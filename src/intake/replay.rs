//! Replay: alert history from files — an mbox, a maildir, or a folder of `.eml` files — read
//! as the same [`RawAlert`]s the mailbox gives, so a team can tune its patterns on real mail.

use std::path::{Path, PathBuf};

use mail_parser::mailbox::{maildir, mbox};

use super::RawAlert;

/// Why a replay source could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not an mbox file, a maildir (cur/ and new/) or a folder of .eml files")]
    Unrecognised { path: PathBuf },
}

/// One message of a replay, with where it came from (`file#3` for the third of an mbox).
#[derive(Debug, Clone)]
pub struct ReplayMessage {
    pub origin: String,
    pub raw: RawAlert,
}

/// Reads every message of `path`. `received_at` stamps them all (replayed mail has no arrival
/// time of its own in Sentri).
pub fn read(path: &Path, received_at: &str) -> Result<Vec<ReplayMessage>, ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if metadata.is_dir() {
        if path.join("cur").is_dir() && path.join("new").is_dir() {
            return read_maildir(path, received_at);
        }
        return read_folder(path, received_at);
    }
    let bytes = std::fs::read(path).map_err(io)?;
    if bytes.starts_with(b"From ") {
        let mut messages = Vec::new();
        for (index, message) in mbox::MessageIterator::new(bytes.as_slice()).enumerate() {
            let message = message.map_err(io)?;
            messages.push(ReplayMessage {
                origin: format!("{}#{}", path.display(), index + 1),
                raw: RawAlert::from_rfc822(message.contents(), received_at.to_owned()),
            });
        }
        return Ok(messages);
    }
    Ok(vec![ReplayMessage {
        origin: path.display().to_string(),
        raw: RawAlert::from_rfc822(&bytes, received_at.to_owned()),
    }])
}

fn read_maildir(path: &Path, received_at: &str) -> Result<Vec<ReplayMessage>, ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    let mut messages = Vec::new();
    for message in maildir::MessageIterator::new(path).map_err(io)? {
        let message = message.map_err(io)?;
        messages.push(ReplayMessage {
            origin: message.path().display().to_string(),
            raw: RawAlert::from_rfc822(message.contents(), received_at.to_owned()),
        });
    }
    messages.sort_by(|a, b| a.origin.cmp(&b.origin));
    Ok(messages)
}

fn read_folder(path: &Path, received_at: &str) -> Result<Vec<ReplayMessage>, ReplayError> {
    let io = |source| ReplayError::Io { path: path.to_path_buf(), source };
    let mut files = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let entry_path = entry.path();
            if entry_path.is_dir() {
                pending.push(entry_path);
            } else if entry_path.extension().is_some_and(|ext| ext.eq_ignore_ascii_case("eml")) {
                files.push(entry_path);
            }
        }
    }
    if files.is_empty() {
        return Err(ReplayError::Unrecognised { path: path.to_path_buf() });
    }
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let bytes = std::fs::read(&file).map_err(|source| ReplayError::Io { path: file.clone(), source })?;
            Ok(ReplayMessage {
                origin: file.display().to_string(),
                raw: RawAlert::from_rfc822(&bytes, received_at.to_owned()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "From: oem@example.com\nSubject: Tablespace USERS is 97% full\nMessage-ID: <one@x>\n\nbody one\n";
    const TWO: &str = "From: oem@example.com\nSubject: Temp tablespace TEMP is 95% full\nMessage-ID: <two@x>\n\nbody two\nFrom the start of a line\n";

    #[test]
    fn mbox_folder_and_maildir() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mbox_path = dir.path().join("alerts.mbox");
        std::fs::write(&mbox_path, format!("From oem@example.com Tue Nov 24 23:41:07 2026\n{ONE}\nFrom oem@example.com Tue Nov 24 23:42:07 2026\n{}", TWO.replace("\nFrom the", "\n>From the")))
            .expect("write mbox");
        let messages = read(&mbox_path, "2026-11-25T00:00:00.000Z").expect("mbox");
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].raw.subject, "Tablespace USERS is 97% full");
        assert_eq!(messages[1].raw.id, "<two@x>");
        assert!(messages[1].origin.ends_with("#2"));

        let folder = dir.path().join("eml");
        std::fs::create_dir_all(folder.join("nested")).expect("mkdir");
        std::fs::write(folder.join("a.eml"), ONE).expect("write");
        std::fs::write(folder.join("nested/b.EML"), TWO).expect("write");
        std::fs::write(folder.join("notes.txt"), "not mail").expect("write");
        let messages = read(&folder, "2026-11-25T00:00:00.000Z").expect("folder");
        assert_eq!(messages.len(), 2);

        let maildir_path = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir_path.join(sub)).expect("mkdir");
        }
        std::fs::write(maildir_path.join("new/1.host"), ONE).expect("write");
        std::fs::write(maildir_path.join("cur/2.host:2,S"), TWO).expect("write");
        assert_eq!(read(&maildir_path, "2026-11-25T00:00:00.000Z").expect("maildir").len(), 2);

        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).expect("mkdir");
        assert!(matches!(read(&empty, "x"), Err(ReplayError::Unrecognised { .. })));
        assert!(matches!(read(&dir.path().join("missing"), "x"), Err(ReplayError::Io { .. })));
    }
}
