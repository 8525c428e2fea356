//! The Markdown policy pack: what DBAs write to teach Sentri an alert, a check or a rule.
//!
//! A [`PolicySet`] is loaded as a whole from SENTRI_HOME and swapped in atomically when a file
//! changes ([`watch`]), so the engine never sees half an edit. A broken file is reported with
//! its file and line and skipped; the rest of the pack keeps working.

pub mod alert;
pub mod brain;
pub mod check;
pub mod check_alert;
pub mod condition;
pub mod environment;
pub mod learned;
pub mod markdown;
#[cfg(test)]
mod oracle_check_tests;
#[cfg(test)]
mod oracle_tool_tests;
pub mod prefilter;
pub mod schedule;
pub mod specialist;
pub mod tool;
pub mod watch;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;

pub use alert::AlertPolicy;
pub use brain::Brain;
pub use check::CheckPolicy;
pub use environment::EnvironmentPolicy;
pub use schedule::Schedule;
pub use specialist::Specialist;
pub use tool::ToolPolicy;

pub use crate::domain::{DbKind, Severity};

/// Whether a problem skips the file or is only worth knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Warning,
    Error,
}

/// Something wrong in a policy file, pointing at the line to fix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    pub path: PathBuf,
    pub line: usize,
    pub level: Level,
    pub message: String,
}

impl Problem {
    pub fn error(path: &Path, line: usize, message: impl Into<String>) -> Problem {
        Problem { path: path.to_path_buf(), line, level: Level::Error, message: message.into() }
    }

    pub fn warning(path: &Path, line: usize, message: impl Into<String>) -> Problem {
        Problem { path: path.to_path_buf(), line, level: Level::Warning, message: message.into() }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Error => "error",
            Level::Warning => "warning",
        };
        write!(f, "{}:{}: {level}: {}", self.path.display(), self.line, self.message)
    }
}

/// Everything loaded from one SENTRI_HOME, as one consistent snapshot.
#[derive(Debug, Default)]
pub struct PolicySet {
    pub alerts: Vec<Arc<AlertPolicy>>,
    pub checks: Vec<Arc<CheckPolicy>>,
    pub environments: Vec<EnvironmentPolicy>,
    /// Investigation tools (`tools/{oracle,postgres}/*.md`).
    pub tools: Vec<Arc<ToolPolicy>>,
    /// Specialists (`agents/*.md`): routing, rules, weights.
    pub specialists: Vec<Arc<Specialist>>,
    pub brain: Brain,
    /// Every error and warning found while loading, in file order.
    pub problems: Vec<Problem>,
    /// Files that were skipped because of an error.
    pub skipped: Vec<PathBuf>,
    /// The one-pass prefilter over `alerts`' patterns, built when first needed.
    pub alert_prefilter: std::sync::OnceLock<prefilter::AlertPrefilter>,
}

impl PolicySet {
    /// Per alert policy (in `alerts` order), where in `text` its pattern's search may start;
    /// `None` means it certainly does not match (see [`prefilter`]). Built once per set; a set
    /// whose `alerts` changed after it was built gets a fresh one.
    pub fn alert_candidates(&self, text: &str) -> Vec<Option<usize>> {
        let built = self.alert_prefilter.get_or_init(|| prefilter::AlertPrefilter::build(&self.alerts));
        if built.is_for(&self.alerts) {
            built.candidates(text)
        } else {
            prefilter::AlertPrefilter::build(&self.alerts).candidates(text)
        }
    }

    /// Loads alerts/** (alerts/learned/ last), checks/**, brain/ and environments/ under `home`.
    /// Never fails: every problem is recorded in `problems` and the files that can load do.
    pub fn load(home: &Path) -> PolicySet {
        let mut set = PolicySet::default();
        let mut seen: BTreeMap<String, PathBuf> = BTreeMap::new();
        let learned_root = home.join("alerts").join(learned::FOLDER);
        // Learned policies load last, so that on a duplicate alert type the policy a DBA wrote
        // is the one kept and the learned file is the one skipped: a file Sentri wrote never
        // silently replaces one a person wrote (`learned` sorts before `oracle`/`postgres`).
        let (learned_files, written): (Vec<PathBuf>, Vec<PathBuf>) =
            markdown_files(&home.join("alerts"), &mut set.problems)
                .into_iter()
                .partition(|path| path.starts_with(&learned_root));
        for path in written.into_iter().chain(learned_files) {
            let Some(text) = read(&path, &mut set.problems) else {
                set.skipped.push(path);
                continue;
            };
            let folder_engine = folder_engine(&home.join("alerts"), &path);
            let document = markdown::parse(&text);
            match AlertPolicy::from_document(&path, &document, folder_engine, &mut set.problems) {
                Ok(policy) => {
                    if let Some(first) = seen.get(&policy.name) {
                        let message = if path.starts_with(&learned_root) {
                            format!(
                                "alert type `{}` is already defined by {}; this learned file is skipped (a learned policy never replaces another: rename it, or merge it into that file)",
                                policy.name,
                                first.display()
                            )
                        } else {
                            format!(
                                "alert type `{}` is already defined by {}; this file is skipped",
                                policy.name,
                                first.display()
                            )
                        };
                        set.problems.push(Problem::error(&path, 1, message));
                        set.skipped.push(path);
                        continue;
                    }
                    seen.insert(policy.name.clone(), path.clone());
                    set.alerts.push(Arc::new(policy));
                }
                Err(errors) => {
                    set.problems.extend(errors);
                    set.skipped.push(path);
                }
            }
        }
        let mut seen_checks: BTreeMap<String, PathBuf> = BTreeMap::new();
        for path in markdown_files(&home.join("checks"), &mut set.problems) {
            let Some(text) = read(&path, &mut set.problems) else {
                set.skipped.push(path);
                continue;
            };
            let folder_engine = folder_engine(&home.join("checks"), &path);
            match CheckPolicy::from_document(&path, &markdown::parse(&text), folder_engine, &mut set.problems) {
                Ok(check) => {
                    if let Some(first) = seen_checks.get(&check.name) {
                        set.problems.push(Problem::error(
                            &path,
                            1,
                            format!(
                                "check `{}` is already defined by {}; this file is skipped",
                                check.name,
                                first.display()
                            ),
                        ));
                        set.skipped.push(path);
                        continue;
                    }
                    seen_checks.insert(check.name.clone(), path.clone());
                    set.checks.push(Arc::new(check));
                }
                Err(errors) => {
                    set.problems.extend(errors);
                    set.skipped.push(path);
                }
            }
        }
        for path in markdown_files(&home.join("environments"), &mut set.problems) {
            let Some(text) = read(&path, &mut set.problems) else { continue };
            match EnvironmentPolicy::from_document(&path, &markdown::parse(&text), &mut set.problems) {
                Ok(environment) => set.environments.push(environment),
                Err(errors) => {
                    set.problems.extend(errors);
                    set.skipped.push(path);
                }
            }
        }
        set.load_tools(&home.join("tools"));
        set.load_specialists(&home.join("agents"));
        set.brain = Brain::load(&home.join("brain"), &mut set.problems);
        set
    }

    /// tools/**: a tool is known by its engine and name, once.
    fn load_tools(&mut self, root: &Path) {
        for path in markdown_files(root, &mut self.problems) {
            let Some(text) = read(&path, &mut self.problems) else {
                self.skipped.push(path);
                continue;
            };
            let folder_engine = folder_engine(root, &path);
            match ToolPolicy::from_document(&path, &markdown::parse(&text), folder_engine, &mut self.problems) {
                Ok(tool) => {
                    if let Some(first) =
                        self.tools.iter().find(|known| known.engine == tool.engine && known.name == tool.name)
                    {
                        let message = format!(
                            "tool `{}` is already defined for {} by {}; this file is skipped",
                            tool.name,
                            tool.engine.as_str(),
                            first.path.display()
                        );
                        self.problems.push(Problem::error(&path, 1, message));
                        self.skipped.push(path);
                        continue;
                    }
                    self.tools.push(Arc::new(tool));
                }
                Err(errors) => {
                    self.problems.extend(errors);
                    self.skipped.push(path);
                }
            }
        }
    }

    /// agents/*.md. A cause that reads a tool the pack does not have is reported (the
    /// specialist still loads: its other causes work).
    fn load_specialists(&mut self, root: &Path) {
        for path in markdown_files(root, &mut self.problems) {
            let Some(text) = read(&path, &mut self.problems) else {
                self.skipped.push(path);
                continue;
            };
            match Specialist::from_document(&path, &markdown::parse(&text), &mut self.problems) {
                Ok(specialist) => {
                    let missing: Vec<(DbKind, &String)> = specialist
                        .tools
                        .iter()
                        .flat_map(|(engine, names)| names.iter().map(move |name| (*engine, name)))
                        .filter(|(engine, name)| self.tool(*engine, name).is_none())
                        .collect();
                    let warnings: Vec<Problem> = missing
                        .into_iter()
                        .map(|(engine, name)| {
                            let message = format!(
                                "tool `{name}` is not in tools/{}/; the causes that read it never hold",
                                engine.as_str()
                            );
                            Problem::warning(&path, 1, message)
                        })
                        .collect();
                    self.problems.extend(warnings);
                    self.specialists.push(Arc::new(specialist));
                }
                Err(errors) => {
                    self.problems.extend(errors);
                    self.skipped.push(path);
                }
            }
        }
    }

    /// The tool `name` for `engine` (the Sandbox uses the Oracle tools).
    pub fn tool(&self, engine: DbKind, name: &str) -> Option<&Arc<ToolPolicy>> {
        let engine = engine.policy_engine();
        self.tools.iter().find(|tool| tool.engine == engine && tool.name.eq_ignore_ascii_case(name))
    }

    /// Every tool for `engine`, by name.
    pub fn tools_for(&self, engine: DbKind) -> Vec<&Arc<ToolPolicy>> {
        let engine = engine.policy_engine();
        let mut tools: Vec<_> = self.tools.iter().filter(|tool| tool.engine == engine).collect();
        tools.sort_by(|a, b| a.name.cmp(&b.name));
        tools
    }

    pub fn alert(&self, name: &str) -> Option<&Arc<AlertPolicy>> {
        self.alerts.iter().find(|policy| policy.name == name)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|problem| problem.level == Level::Error)
    }
}

/// Deserialises a document's front matter, turning YAML positions into file lines.
/// Unknown keys are warnings (a typo like `severty:` must not pass silently); `known_keys` lists
/// every key the caller reads, and the reference format's informational keys.
pub(crate) fn front_matter<T: DeserializeOwned + Default>(
    path: &Path,
    document: &markdown::Document,
    known_keys: &[&str],
    errors: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> Option<T> {
    let Some(front) = &document.front_matter else { return Some(T::default()) };
    if front.yaml.trim().is_empty() {
        return Some(T::default());
    }
    match serde_saphyr::from_str::<T>(&front.yaml) {
        Ok(value) => {
            if let Ok(keys) = serde_saphyr::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(&front.yaml) {
                for key in keys.keys().filter(|key| !known_keys.contains(&key.as_str())) {
                    warnings.push(Problem::warning(
                        path,
                        front.first_line,
                        format!("front matter: unknown key `{key}` is ignored (known: {})", known_keys.join(", ")),
                    ));
                }
            }
            Some(value)
        }
        Err(error) => {
            let line =
                error.location().map_or(front.first_line, |location| front.first_line + location.line() as usize - 1);
            let message = error.to_string();
            let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
            errors.push(Problem::error(path, line, format!("front matter: {message}")));
            None
        }
    }
}

/// `alerts/postgres/x.md` → postgres; a file straight under alerts/ has no folder engine.
fn folder_engine(root: &Path, path: &Path) -> Option<DbKind> {
    let relative = path.strip_prefix(root).ok()?;
    relative.components().next().and_then(|component| DbKind::parse(&component.as_os_str().to_string_lossy()))
}

fn read(path: &Path, problems: &mut Vec<Problem>) -> Option<String> {
    match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => Some(text),
            Err(error) => {
                problems.push(Problem::error(path, 1, format!("not UTF-8 text ({error}); file skipped")));
                None
            }
        },
        Err(error) => {
            problems.push(Problem::error(path, 1, format!("cannot read: {error}; file skipped")));
            None
        }
    }
}

/// Every `*.md` under `root`, sorted by path, skipping README.md files and `.backup`/hidden
/// folders (editors' and the reference product's backups are not policies).
pub fn markdown_files(root: &Path, problems: &mut Vec<Problem>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                problems.push(Problem::error(&dir, 0, format!("cannot list folder: {error}")));
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if name.to_lowercase().ends_with(".md") && !name.eq_ignore_ascii_case("readme.md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, relative: &str, text: &str) {
        let path = root.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }

    const MINIMAL: &str =
        "## Email Pattern\n```regex\nthing (\\w+) broke\n```\n## Extracted Fields\n- `what` = group(1)\n";

    #[test]
    fn nested_folders_are_discovered_and_engine_comes_from_the_folder() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), "alerts/oracle/a.md", MINIMAL);
        write(home.path(), "alerts/postgres/deep/b.md", MINIMAL);
        write(home.path(), "alerts/c.md", MINIMAL);
        write(home.path(), "alerts/README.md", "# not a policy");
        write(home.path(), "alerts/.backup/old.md", MINIMAL);
        let set = PolicySet::load(home.path());
        let names: Vec<_> = set.alerts.iter().map(|p| (p.name.as_str(), p.engine)).collect();
        assert_eq!(names, [("c", DbKind::Oracle), ("a", DbKind::Oracle), ("b", DbKind::Postgres)]);
        assert!(set.problems.is_empty(), "{:?}", set.problems);
    }

    #[test]
    fn a_broken_file_is_skipped_and_the_rest_load() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), "alerts/good.md", MINIMAL);
        write(home.path(), "alerts/bad.md", "## Email Pattern\n```regex\n(unclosed\n```\n");
        let set = PolicySet::load(home.path());
        assert_eq!(set.alerts.len(), 1);
        assert_eq!(set.skipped.len(), 1);
        let error = set.errors().next().expect("an error");
        assert!(error.path.ends_with("alerts/bad.md"));
        assert_eq!(error.line, 3);
    }

    #[test]
    fn a_duplicate_alert_type_is_reported_not_silently_merged() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), "alerts/oracle/same.md", MINIMAL);
        write(home.path(), "alerts/postgres/same.md", MINIMAL);
        let set = PolicySet::load(home.path());
        assert_eq!(set.alerts.len(), 1);
        assert!(set.errors().any(|p| p.message.contains("already defined")));
    }

    #[test]
    fn a_misspelt_front_matter_key_is_a_warning() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), "alerts/x.md", &format!("---\nseverty: LOW\n---\n{MINIMAL}"));
        let set = PolicySet::load(home.path());
        assert_eq!(set.alerts.len(), 1);
        assert!(
            set.problems.iter().any(|p| p.level == Level::Warning && p.message.contains("unknown key `severty`")),
            "{:?}",
            set.problems
        );
    }

    #[test]
    fn front_matter_yaml_errors_point_at_the_file_line() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), "alerts/x.md", &format!("---\nseverity: HIGH\nidentifiers: [unclosed\n---\n{MINIMAL}"));
        let set = PolicySet::load(home.path());
        let error = set.errors().next().expect("an error");
        assert!(error.message.starts_with("front matter"), "{error}");
        assert!((3..=4).contains(&error.line), "{error}");
    }

    /// A policy in the reference product's format, as its users have them: `(?i)` inline,
    /// group fields with `--` descriptions, a DDL fix with undeclared placeholders, a
    /// comment-only rollback, prose risk level, a `:name` bind in the verification query.
    const REFERENCE_STYLE: &str = "---\ntype: alert_pattern\nname: tablespace_full\nseverity: high\naction_type: add_datafile\nversion: \"1.0\"\n---\n\n# Tablespace Full\n\n## Email Pattern\n\n```regex\n(?i)(?<!temp\\s)(?<!temporary\\s)tablespace\\s+(\\S+)\\s+.*?(\\d+(?:\\.\\d+)?)\\s*%.*?(?:on|database)\\s+(\\S+)\n```\n\n## Extracted Fields\n\n- `tablespace_name` = group(1) -- the tablespace\n- `used_percent` = group(2) -- how full\n- `database_id` = group(3) -- the database\n\n## Verification Query\n\n```sql\nSELECT tablespace_name, ROUND(used_percent, 1) AS used_percent\nFROM dba_tablespace_usage_metrics\nWHERE tablespace_name = :tablespace_name;\n```\n\n## Tolerance\n\n- `used_percent`: 2 percentage points\n\n## Forward Action\n\n```sql\nALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 10G AUTOEXTEND ON NEXT 1G MAXSIZE 32G;\n```\n\n## Rollback Action\n\n```sql\n-- N/A: a datafile cannot be dropped while it holds data\n```\n\n## Risk Level\n\nLOW -- adding space is routine\n";

    #[test]
    fn a_reference_product_home_loads_unchanged() {
        let home = tempfile::tempdir().expect("tempdir");
        write(home.path(), "alerts/tablespace_full.md", REFERENCE_STYLE);
        write(home.path(), "alerts/.backup/tablespace_full.md.bak.md", REFERENCE_STYLE);
        write(
            home.path(),
            "brain/rules.md",
            "## Action Rules\n\n| Action Type | DEV | UAT | PROD | Notes |\n|---|---|---|---|---|\n| ADD_DATAFILE | auto | auto | approval | |\n",
        );
        let set = PolicySet::load(home.path());
        assert!(set.skipped.is_empty(), "{:?}", set.problems);
        assert_eq!(set.errors().count(), 0, "{:?}", set.problems);
        let policy = set.alert("tablespace_full").expect("loaded");
        assert_eq!(policy.action_type, "ADD_DATAFILE");
        assert_eq!(policy.risk, alert::Risk::Low);
        assert_eq!(policy.tolerance, [("used_percent".to_owned(), 2.0)]);
        assert!(!policy.has_fix(), "an undeclared DDL placeholder and no real rollback disable the fix");
        assert!(set.problems.iter().any(|p| p.message.contains("fix disabled")));
        let raw = crate::intake::RawAlert::from_parts(
            "ALERT: Tablespace USERS is 92% full on database DEV-DB-01",
            "",
            String::new(),
        );
        let crate::pipeline::matcher::MatchOutcome::Matched(alert) =
            crate::pipeline::matcher::match_alert(&raw, &set, &[])
        else {
            panic!("the reference pattern must still match");
        };
        assert_eq!(alert.fields["tablespace_name"], "USERS");
        assert_eq!(alert.fields["used_percent"], "92");
        // The reference pattern captures the word "database" as the database; with the database
        // configured, the whole-word scan still finds the right one.
        let known = [crate::pipeline::matcher::KnownDatabase {
            name: "DEV-DB-01".into(),
            environment: "DEV".into(),
            aliases: Vec::new(),
            engine: None,
        }];
        let crate::pipeline::matcher::MatchOutcome::Matched(alert) =
            crate::pipeline::matcher::match_alert(&raw, &set, &known)
        else {
            panic!("must match");
        };
        assert_eq!(alert.fields["database_id"], "database");
        assert_eq!(alert.database.as_deref(), Some("DEV-DB-01"));
    }
}
