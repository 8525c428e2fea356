//! SENTRI_HOME: where a DBA team's policies, configuration, store and logs live, and `init`,
//! which lays it out with the default policy pack.
//!
//! The layout is the reference product's, so an existing home works as it is. `init` never
//! overwrites a file the DBA has edited unless told to (`--force`), and then keeps a backup.
//!
//! The home holds the store (every approval, the audit trail, raw alert mail) and the
//! configuration, so it is private to the account that runs Sentri: its folder is made (or
//! tightened to) 0700 and every folder `init` creates 0700; the store's files are 0600
//! (`Store::open`).

use std::path::{Path, PathBuf};

use include_dir::{Dir, include_dir};

use crate::store::Store;

/// The default policy pack, compiled into the binary so `sentri init` needs nothing else.
pub static DEFAULT_PACK: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/policies");

/// Folders `init` creates.
const FOLDERS: &[&str] = &[
    "brain",
    "agents",
    "alerts",
    "alerts/oracle",
    "alerts/postgres",
    "checks",
    "checks/oracle",
    "checks/postgres",
    "environments",
    "tools",
    "tools/oracle",
    "tools/postgres",
    "workflows",
    "docs",
    "docs/oracle",
    "data",
    "logs",
    "config",
];

/// Where each folder of the repository's `policies/` goes in a home.
const PACK_DESTINATIONS: &[(&str, &str)] = &[
    ("oracle", "alerts/oracle"),
    ("postgres", "alerts/postgres"),
    ("checks", "checks"),
    ("brain", "brain"),
    ("agents", "agents"),
    ("tools", "tools"),
    ("environments", "environments"),
    ("workflows", "workflows"),
    ("docs", "docs"),
    ("README.md", "alerts/README.md"),
];

/// Errors at the boundary of the home folder.
#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error("cannot find a home folder: set SENTRI_HOME or HOME")]
    NoHome,
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("database {path}: {source}")]
    Store { path: PathBuf, source: crate::store::StoreError },
}

/// The paths of one SENTRI_HOME.
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

/// What one file did during `init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileAction {
    Installed,
    Unchanged,
    /// The file differs from the default and was left alone.
    KeptEdited,
    /// `--force`: the edited file was backed up and replaced.
    Replaced,
}

/// Everything `init` did, for the report.
#[derive(Debug, Default, serde::Serialize)]
pub struct InitReport {
    pub root: PathBuf,
    pub created_folders: Vec<PathBuf>,
    pub files: Vec<(PathBuf, FileAction)>,
    pub backups: Vec<PathBuf>,
    pub database: PathBuf,
    pub database_created: bool,
    /// The audit chain's key (`data/audit.key`, mode 0600): back it up apart from the database.
    pub audit_key: PathBuf,
    pub audit_key_created: bool,
}

impl Home {
    /// SENTRI_HOME if set, else ~/.sentri.
    pub fn from_env() -> Result<Home, HomeError> {
        if let Some(path) = std::env::var_os("SENTRI_HOME").filter(|path| !path.is_empty()) {
            return Ok(Home { root: PathBuf::from(path) });
        }
        let home = std::env::var_os("HOME").filter(|path| !path.is_empty()).ok_or(HomeError::NoHome)?;
        Ok(Home { root: PathBuf::from(home).join(".sentri") })
    }

    pub fn at(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }

    pub fn config_file(&self) -> PathBuf {
        self.root.join("config/sentri.yaml")
    }

    pub fn database_file(&self) -> PathBuf {
        self.root.join("data/sentri.db")
    }

    /// The audit chain's key, beside the database (see `store::audit::key`).
    pub fn audit_key_file(&self) -> PathBuf {
        crate::store::audit::key::key_file_for(&self.database_file())
    }

    pub fn log_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn exists(&self) -> bool {
        self.root.is_dir()
    }

    /// Lays out the home, installs the default pack and config template, and migrates the
    /// store. Safe to run again: unchanged files are left, edited files are kept unless `force`.
    pub fn init(&self, force: bool) -> Result<InitReport, HomeError> {
        let mut report = InitReport { root: self.root.clone(), ..InitReport::default() };
        for folder in std::iter::once("").chain(FOLDERS.iter().copied()) {
            let path = self.root.join(folder);
            if !path.is_dir() {
                private_dir(&path).map_err(|source| HomeError::Io { path: path.clone(), source })?;
                report.created_folders.push(path);
            }
        }
        tighten(&self.root, PRIVATE_DIR).map_err(|source| HomeError::Io { path: self.root.clone(), source })?;
        let stamp = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ").to_string();
        for (source, destination) in PACK_DESTINATIONS {
            if let Some(file) = DEFAULT_PACK.get_file(source) {
                self.install(&self.root.join(destination), file.contents(), force, &stamp, &mut report)?;
            } else if let Some(dir) = DEFAULT_PACK.get_dir(source) {
                for file in all_files(dir) {
                    let relative = file.path().strip_prefix(source).unwrap_or(file.path());
                    if relative.file_name().is_some_and(|name| name == ".gitkeep") {
                        continue;
                    }
                    self.install(
                        &self.root.join(destination).join(relative),
                        file.contents(),
                        force,
                        &stamp,
                        &mut report,
                    )?;
                }
            }
        }
        self.install(&self.config_file(), crate::config::TEMPLATE.as_bytes(), force, &stamp, &mut report)?;
        let database = self.database_file();
        report.database_created = !database.exists();
        report.audit_key = self.audit_key_file();
        let (_, created) = crate::store::audit::AuditKey::load_or_create(&report.audit_key)
            .map_err(|source| HomeError::Store { path: report.audit_key.clone(), source })?;
        report.audit_key_created = created;
        Store::open(&database).map_err(|source| HomeError::Store { path: database.clone(), source })?;
        report.database = database;
        Ok(report)
    }

    fn install(
        &self,
        path: &Path,
        contents: &[u8],
        force: bool,
        stamp: &str,
        report: &mut InitReport,
    ) -> Result<(), HomeError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| HomeError::Io { path, source }
        };
        let action = match std::fs::read(path) {
            Ok(existing) if existing == contents => FileAction::Unchanged,
            Ok(_) if !force => FileAction::KeptEdited,
            Ok(existing) => {
                let backup = backup_path(&self.root, path, stamp);
                if let Some(parent) = backup.parent() {
                    private_dir(parent).map_err(io(parent))?;
                }
                std::fs::write(&backup, existing).map_err(io(&backup))?;
                report.backups.push(backup);
                std::fs::write(path, contents).map_err(io(path))?;
                FileAction::Replaced
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                if let Some(parent) = path.parent() {
                    private_dir(parent).map_err(io(parent))?;
                }
                std::fs::write(path, contents).map_err(io(path))?;
                FileAction::Installed
            }
            Err(source) => return Err(HomeError::Io { path: path.to_path_buf(), source }),
        };
        report.files.push((path.to_path_buf(), action));
        Ok(())
    }
}

/// The mode of the home folder and every folder `init` creates.
const PRIVATE_DIR: u32 = 0o700;

/// Creates `path` and any missing parents 0700 (less what the umask takes away).
fn private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(PRIVATE_DIR).create(path)
}

/// Sets `path`'s permission bits to `mode` when it has any other bit.
fn tighten(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current & !mode != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(current & mode))?;
    }
    Ok(())
}

/// `alerts/oracle/x.md` → `<home>/.backup/<stamp>/alerts/oracle/x.md`: hidden, so the loader
/// never reads a backup as a policy.
fn backup_path(root: &Path, path: &Path, stamp: &str) -> PathBuf {
    let relative = path.strip_prefix(root).unwrap_or(path);
    root.join(".backup").join(stamp).join(relative)
}

fn all_files<'a>(dir: &'a Dir<'a>) -> Vec<&'a include_dir::File<'a>> {
    let mut files: Vec<_> = dir.files().collect();
    for child in dir.dirs() {
        files.extend(all_files(child));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_lays_out_the_home_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path().join("home"));
        let first = home.init(false).expect("init");
        for folder in FOLDERS {
            assert!(home.root.join(folder).is_dir(), "{folder}");
        }
        assert!(first.database_created);
        assert!(first.audit_key_created);
        assert_eq!(first.audit_key, home.root.join("data/audit.key"));
        assert!(home.config_file().is_file());
        assert!(first.files.iter().all(|(_, action)| *action == FileAction::Installed));

        let second = home.init(false).expect("init again");
        assert!(second.created_folders.is_empty());
        assert!(!second.database_created);
        assert!(!second.audit_key_created);
        assert!(second.files.iter().all(|(_, action)| *action == FileAction::Unchanged));
    }

    #[test]
    fn the_home_is_private_to_its_account() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        // A home made by hand, readable by everyone, is tightened; new folders are born private.
        let root = dir.path().join("home");
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
        let home = Home::at(&root);
        home.init(false).unwrap();
        assert_eq!(mode(&root), 0o700);
        for folder in ["data", "config", "alerts/oracle"] {
            assert_eq!(mode(&root.join(folder)) & 0o077, 0, "{folder} is private");
        }
        let database = home.database_file();
        for file in [database.clone(), database.with_extension("db-wal"), database.with_extension("db-shm")] {
            if file.exists() {
                assert_eq!(mode(&file), 0o600, "{}", file.display());
            }
        }
        assert_eq!(mode(&database), 0o600);
    }

    #[test]
    fn edited_files_are_kept_unless_forced_and_then_backed_up() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path());
        home.init(false).expect("init");
        std::fs::write(home.config_file(), "email: {}\n").expect("edit");

        let kept = home.init(false).expect("init");
        assert!(kept.files.contains(&(home.config_file(), FileAction::KeptEdited)));
        assert_eq!(std::fs::read_to_string(home.config_file()).expect("read"), "email: {}\n");

        let forced = home.init(true).expect("init --force");
        assert!(forced.files.contains(&(home.config_file(), FileAction::Replaced)));
        assert_eq!(forced.backups.len(), 1);
        assert_eq!(std::fs::read_to_string(&forced.backups[0]).expect("backup"), "email: {}\n");
        assert_eq!(std::fs::read_to_string(home.config_file()).expect("read"), crate::config::TEMPLATE);
    }
}

/// Proof that this process is the one engine of a home: held for the engine's life, released
/// by the operating system when the process ends (even after kill -9), so a crash never leaves
/// a stale lock behind.
#[derive(Debug)]
pub struct EngineLock {
    _file: std::fs::File,
}

/// Why the engine lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another Sentri engine is running for {home}: {holder}")]
    Held { home: PathBuf, holder: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl Home {
    /// The engine lock file.
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("data/engine.lock")
    }

    /// Takes the engine lock, or says who holds it (pid, user, host, since when).
    pub fn lock_engine(&self) -> Result<EngineLock, LockError> {
        use std::io::{Seek, Write};
        let path = self.lock_file();
        let io = |source| LockError::Io { path: path.clone(), source };
        let mut file =
            std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder =
                    if holder.trim().is_empty() { "holder unknown".to_owned() } else { holder.trim().to_owned() };
                return Err(LockError::Held { home: self.root.clone(), holder });
            }
            Err(std::fs::TryLockError::Error(source)) => return Err(io(source)),
        }
        let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME")).unwrap_or_else(|_| "unknown".to_owned());
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "unknown".to_owned());
        file.set_len(0).map_err(io)?;
        file.rewind().map_err(io)?;
        writeln!(file, "pid {} (user {user} on {host}) since {}", std::process::id(), jiff::Timestamp::now())
            .map_err(io)?;
        file.flush().map_err(io)?;
        Ok(EngineLock { _file: file })
    }
}

#[cfg(test)]
mod lock_tests {
    use super::*;

    #[test]
    fn a_second_engine_is_told_who_holds_the_lock() {
        let dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(dir.path());
        std::fs::create_dir_all(dir.path().join("data")).expect("mkdir");
        let first = home.lock_engine().expect("first engine");
        match home.lock_engine() {
            Err(LockError::Held { holder, .. }) => {
                assert!(holder.contains(&format!("pid {}", std::process::id())), "{holder}")
            }
            other => panic!("expected Held, got {other:?}"),
        }
        drop(first);
        assert!(home.lock_engine().is_ok(), "released when the holder ends");
    }
}
