//! What loading a configuration can say about it: warnings (the file loads, but something in it
//! is ignored or risky) and problems (the file cannot be used). Both name the file, the line and
//! column, and the full key path (`databases[1].environment`), so a DBA can go straight to the
//! line. Problems are collected rather than returned one at a time: a file with five mistakes
//! is fixed in one edit, not five runs.

use std::fmt;
use std::path::{Path, PathBuf};

/// A place in the YAML file (1-based line and column), carried by every warning and problem so
/// the message can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

/// Why a warning was given, so callers (the CLI, tests) can react to a kind without parsing
/// the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarningKind {
    /// A key Sentri does not know; it is ignored. `suggestion` is the closest known key.
    UnknownKey {
        /// The known key the name most resembles, if one is close.
        suggestion: Option<String>,
    },
    /// A secret written in the file. It is not used; `env_var` is where it must come from.
    SecretInFile {
        /// The environment variable to set instead.
        env_var: String,
    },
    /// A key the reference product shipped but never read; accepted so old files load.
    NotUsed,
    /// A setting that is valid but probably not what was meant, or unsafe.
    Questionable,
}

/// Something in the configuration that was ignored or looks wrong; loading still succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file the warning is about.
    pub file: PathBuf,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// The full key path, e.g. `databases[1].enviroment`.
    pub key: String,
    /// What kind of warning this is.
    pub kind: WarningKind,
    /// The human sentence (never contains a secret value).
    pub message: String,
}

/// One reason the configuration cannot be used. [`super::ConfigError::Invalid`] carries all of
/// them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The file the problem is in.
    pub file: PathBuf,
    /// Where in the file, when known.
    pub position: Option<Position>,
    /// The full key path, e.g. `databases[0].environment`.
    pub key: String,
    /// The human sentence (never contains a secret value).
    pub message: String,
}

fn write_located(
    f: &mut fmt::Formatter<'_>,
    file: &Path,
    position: Option<Position>,
    key: &str,
    message: &str,
) -> fmt::Result {
    write!(f, "{}", file.display())?;
    if let Some(p) = position {
        write!(f, ":{}:{}", p.line, p.column)?;
    }
    if key.is_empty() { write!(f, ": {message}") } else { write!(f, ": {key}: {message}") }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.file, self.position, &self.key, &self.message)
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_located(f, &self.file, self.position, &self.key, &self.message)
    }
}

/// Collects warnings and problems while the file is read.
pub(crate) struct Diagnostics {
    file: PathBuf,
    pub(crate) warnings: Vec<ConfigWarning>,
    pub(crate) problems: Vec<ConfigProblem>,
}

impl Diagnostics {
    pub(crate) fn new(file: &Path) -> Self {
        Self { file: file.to_path_buf(), warnings: Vec::new(), problems: Vec::new() }
    }

    /// Puts warnings and problems in file order (those with no position, such as ones about
    /// environment variables, last), so the report reads top to bottom like the file.
    pub(crate) fn sort(&mut self) {
        let key = |p: Option<Position>| p.map_or((u64::MAX, u64::MAX), |p| (p.line, p.column));
        self.warnings.sort_by_key(|w| key(w.position));
        self.problems.sort_by_key(|p| key(p.position));
    }

    pub(crate) fn warn(
        &mut self,
        position: Option<Position>,
        key: impl Into<String>,
        kind: WarningKind,
        message: impl Into<String>,
    ) {
        self.warnings.push(ConfigWarning {
            file: self.file.clone(),
            position,
            key: key.into(),
            kind,
            message: message.into(),
        });
    }

    pub(crate) fn problem(&mut self, position: Option<Position>, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(ConfigProblem {
            file: self.file.clone(),
            position,
            key: key.into(),
            message: message.into(),
        });
    }
}

/// The known key closest to `unknown`, if it is near enough to be a plausible typo.
pub(crate) fn closest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    let unknown = unknown.to_ascii_lowercase();
    let limit = (unknown.chars().count() / 3).max(1);
    known
        .iter()
        .map(|k| (edit_distance(&unknown, &k.to_ascii_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, counting characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_keys_only() {
        let known = ["environment", "engine", "name"];
        assert_eq!(closest("enviroment", &known), Some("environment"));
        assert_eq!(closest("Name", &known), Some("name"));
        assert_eq!(closest("colour", &known), None);
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
