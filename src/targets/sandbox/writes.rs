//! The write statements the sandbox carries out, read from their normalised text by a small
//! word-by-word reader (not a SQL parser): adding and dropping datafiles and tempfiles, and
//! killing a session. Each one checks what Oracle would check and fails with Oracle's error when
//! the world does not allow it; anything else is refused as unknown.

use super::queries::{Refusal, normalise};
use super::world::{Contents, DbFile, GB, MB, World};

/// What a recognised write does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    AddFile { tablespace: String, temp: bool, size: u64, autoextend: Option<u64> },
    DropFile { tablespace: String, temp: bool, path: String },
    KillSession { sid: u32, serial: u32, inst_id: Option<u32> },
}

/// Reads a filled write statement (identifiers rendered, no binds).
pub fn read(text: &str) -> Result<Write, Refusal> {
    let normal = normalise(text);
    let unknown = || Refusal::Unknown(normal.chars().take(160).collect());
    let words = words(&normal);
    let word = |index: usize| words.get(index).map(String::as_str);
    match (word(0), word(1)) {
        (Some("ALTER"), Some("TABLESPACE")) => {
            let tablespace = unquote(word(2).ok_or_else(unknown)?);
            let temp = match word(4) {
                Some("DATAFILE") => false,
                Some("TEMPFILE") => true,
                _ => return Err(unknown()),
            };
            match word(3) {
                Some("ADD") => {
                    let rest: Vec<&str> = words[5..].iter().map(String::as_str).collect();
                    let (size, autoextend) = read_file_spec(&rest).ok_or_else(unknown)?;
                    Ok(Write::AddFile { tablespace, temp, size, autoextend })
                }
                Some("DROP") if words.len() == 6 => {
                    let path = literal(word(5).ok_or_else(unknown)?).ok_or_else(unknown)?;
                    Ok(Write::DropFile { tablespace, temp, path })
                }
                _ => Err(unknown()),
            }
        }
        (Some("ALTER"), Some("SYSTEM")) => {
            let shape_ok = word(2) == Some("KILL")
                && word(3) == Some("SESSION")
                && matches!(words.len(), 5 | 6)
                && (words.len() == 5 || word(5) == Some("IMMEDIATE"));
            if !shape_ok {
                return Err(unknown());
            }
            let session = literal(word(4).ok_or_else(unknown)?).ok_or_else(unknown)?;
            let parts: Vec<&str> = session.split(',').map(str::trim).collect();
            let number = |text: &str| text.parse::<u32>().ok();
            let invalid = || Refusal::Oracle { code: "ORA-00026", message: "missing or invalid session ID".to_owned() };
            match parts.as_slice() {
                [sid, serial] => Ok(Write::KillSession {
                    sid: number(sid).ok_or_else(invalid)?,
                    serial: number(serial).ok_or_else(invalid)?,
                    inst_id: None,
                }),
                [sid, serial, inst] => Ok(Write::KillSession {
                    sid: number(sid).ok_or_else(invalid)?,
                    serial: number(serial).ok_or_else(invalid)?,
                    inst_id: Some(inst.strip_prefix('@').and_then(number).ok_or_else(invalid)?),
                }),
                _ => Err(invalid()),
            }
        }
        _ => Err(unknown()),
    }
}

/// Carries a write out on the world, or fails as Oracle would, changing nothing.
pub fn apply(world: &mut World, write: &Write) -> Result<(), Refusal> {
    match write {
        Write::AddFile { tablespace, temp, size, autoextend } => add_file(world, tablespace, *temp, *size, *autoextend),
        Write::DropFile { tablespace, temp, path } => drop_file(world, tablespace, *temp, path),
        Write::KillSession { sid, serial, inst_id } => kill_session(world, *sid, *serial, *inst_id),
    }
}

fn add_file(world: &mut World, name: &str, temp: bool, size: u64, autoextend: Option<u64>) -> Result<(), Refusal> {
    let Some(tablespace) = world.tablespace(name) else {
        return Err(oracle("ORA-00959", format!("tablespace '{name}' does not exist")));
    };
    if temp != (tablespace.contents == Contents::Temporary) {
        return Err(if temp {
            oracle("ORA-03217", "invalid option for alter of TEMPORARY TABLESPACE".to_owned())
        } else {
            oracle("ORA-03217", format!("tablespace '{name}' is temporary: add a TEMPFILE"))
        });
    }
    if tablespace.bigfile {
        return Err(oracle("ORA-32771", format!("cannot add file to bigfile tablespace {name}")));
    }
    let Some(dest) = world.omf_dest.clone() else {
        return Err(oracle("ORA-02236", "invalid file name (db_create_file_dest is not set)".to_owned()));
    };
    if size > world.storage_free {
        return Err(oracle(
            "ORA-01119",
            format!(
                "error in creating database file: {dest} has {} MB free, the file needs {} MB",
                world.storage_free / MB,
                size / MB
            ),
        ));
    }
    let id = world.next_file_id(temp);
    let scn = world.next_scn();
    let folder = if temp { "TEMPFILE" } else { "DATAFILE" };
    let path = format!("{dest}/{}/{folder}/{}.{}.{scn}", world.db_name, name.to_lowercase(), 256 + id);
    world.storage_free -= size;
    world.files.push(DbFile {
        id,
        path,
        tablespace: name.to_owned(),
        temp,
        bytes: size,
        maxbytes: autoextend.unwrap_or(size).max(size),
        autoextensible: autoextend.is_some(),
        creation_change: scn,
        used: 0,
    });
    Ok(())
}

fn drop_file(world: &mut World, name: &str, temp: bool, path: &str) -> Result<(), Refusal> {
    if world.tablespace(name).is_none() {
        return Err(oracle("ORA-00959", format!("tablespace '{name}' does not exist")));
    }
    let Some(index) = world.files.iter().position(|f| f.temp == temp && f.path == path) else {
        return Err(oracle("ORA-01516", format!("nonexistent log file, data file, or temporary file \"{path}\"")));
    };
    let file = &world.files[index];
    if file.tablespace != name {
        return Err(oracle("ORA-03264", format!("cannot drop {path}: it belongs to tablespace {}", file.tablespace)));
    }
    let first = world.files_of(name).filter(|f| f.temp == temp).map(|f| f.id).min();
    if !temp && first == Some(file.id) {
        return Err(oracle("ORA-03263", format!("cannot drop the first file of tablespace {name}")));
    }
    if file.used > 0 {
        return Err(oracle("ORA-03262", "the file is non-empty".to_owned()));
    }
    let removed = world.files.remove(index);
    world.storage_free += removed.bytes;
    Ok(())
}

fn kill_session(world: &mut World, sid: u32, serial: u32, inst_id: Option<u32>) -> Result<(), Refusal> {
    let Some(index) = world
        .sessions
        .iter()
        .position(|s| s.sid == sid && s.serial == serial && inst_id.is_none_or(|inst| s.inst_id == inst))
    else {
        return Err(oracle("ORA-00030", "User session ID does not exist.".to_owned()));
    };
    if world.sessions[index].kind == "BACKGROUND" {
        return Err(oracle("ORA-00029", "session is not a user session".to_owned()));
    }
    let killed = world.sessions.remove(index);
    // Its transaction is rolled back and its locks released: the waiters get their rows.
    for waiter in &mut world.sessions {
        if waiter.blocked_by == Some((killed.inst_id, killed.sid)) {
            waiter.blocked_by = None;
            waiter.wait_time_micro = 0;
            waiter.event = "SQL*Net message from client".to_owned();
        }
    }
    Ok(())
}

fn oracle(code: &'static str, message: String) -> Refusal {
    Refusal::Oracle { code, message }
}

/// `SIZE 1G [AUTOEXTEND ON [NEXT 256M] MAXSIZE 32767M | AUTOEXTEND OFF]` → (size, maxsize).
fn read_file_spec(words: &[&str]) -> Option<(u64, Option<u64>)> {
    match words {
        ["SIZE", size] => Some((bytes(size)?, None)),
        ["SIZE", size, "AUTOEXTEND", "OFF"] => Some((bytes(size)?, None)),
        ["SIZE", size, "AUTOEXTEND", "ON", "MAXSIZE", max] => Some((bytes(size)?, Some(max_bytes(max)?))),
        ["SIZE", size, "AUTOEXTEND", "ON", "NEXT", next, "MAXSIZE", max] => {
            bytes(next)?;
            Some((bytes(size)?, Some(max_bytes(max)?)))
        }
        _ => None,
    }
}

/// `1G`, `256M`, `512K`, `1048576`.
fn bytes(text: &str) -> Option<u64> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let number: u64 = digits.parse().ok()?;
    let factor = match unit {
        "" => 1,
        "K" => 1024,
        "M" => MB,
        "G" => GB,
        "T" => 1024 * GB,
        _ => return None,
    };
    number.checked_mul(factor)
}

/// A MAXSIZE: a size, or UNLIMITED (32767 MB with 8 KB blocks).
fn max_bytes(text: &str) -> Option<u64> {
    if text == "UNLIMITED" { Some(32767 * MB) } else { bytes(text) }
}

/// Splits normalised text into words; a quoted name or literal is one word.
fn words(normal: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in normal.chars() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == ' ' => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                current.push(c);
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// A name as written: `"USERS"` → `USERS`; a bare name is already upper-cased.
fn unquote(word: &str) -> String {
    word.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')).unwrap_or(word).replace("\"\"", "\"")
}

/// The content of a `'…'` literal (doubled quotes undone); `None` if the word is not one.
fn literal(word: &str) -> Option<String> {
    let inner = word.strip_prefix('\'')?.strip_suffix('\'')?;
    Some(inner.replace("''", "'"))
}
