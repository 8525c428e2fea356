//! Investigation tools (`tools/{oracle,postgres}/*.md`): one read-only look at a database that
//! a DBA, a specialist or a model can ask for by name — the reference product's twelve DBA tools,
//! made drop-in. A tool file names its arguments with their types, one or more read-only
//! queries, a row cap and a time limit; the runner (`diagnose::tools`) validates the arguments,
//! binds every value and runs each query on the read-only path.
//!
//! Tools never splice text into SQL: an argument is a bind variable, and an object argument
//! (`type: table`) is resolved once in the dictionary and bound as the catalog's own name (with
//! its schema as `:NAME_schema`). The one exception is a `statement` argument (EXPLAIN's input),
//! which is itself gated as a read-only query before it is placed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::markdown::Document;
use super::{DbKind, Problem};
use crate::domain::IdentifierKind;
use crate::targets::sql::{self, StatementKind};

/// Rows a tool returns when its file does not say: enough to read, small enough for a prompt.
pub const DEFAULT_ROW_CAP: usize = 50;
/// A tool's time limit when its file does not say (the reference's 10 s).
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);
/// No tool may ask for more rows than this: a result is read by a person or a model.
pub const MAX_ROW_CAP: usize = 1_000;
/// No tool may run longer than this.
pub const MAX_TIME_LIMIT: Duration = Duration::from_secs(60);

/// One investigation tool.
#[derive(Debug, Clone)]
pub struct ToolPolicy {
    pub name: String,
    pub path: PathBuf,
    pub engine: DbKind,
    /// What the tool shows, for a DBA or a model choosing among tools.
    pub description: String,
    pub arguments: Vec<ToolArgument>,
    /// Run in order; each result is kept under its name.
    pub queries: Vec<ToolQuery>,
    pub row_cap: usize,
    pub time_limit: Duration,
    /// What the database must have for the tool to run (an extension, a licensed pack).
    pub requires: Vec<Requirement>,
    /// Environments the tool refuses to run in (EXPLAIN ANALYZE is never run on PROD).
    pub not_on: Vec<String>,
}

/// One typed argument.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolArgument {
    pub name: String,
    pub kind: ArgumentKind,
    pub required: bool,
    /// Used when the caller gives none (already valid for the kind).
    pub default: Option<String>,
    pub description: String,
}

/// What an argument's value must be.
#[derive(Debug, Clone, PartialEq)]
pub enum ArgumentKind {
    Integer,
    Number,
    Text,
    Boolean,
    /// One of a fixed list (compared case-insensitively, bound as written in the list).
    Choice(Vec<String>),
    /// A database object: validated by the engine's identifier grammar, resolved once in the
    /// dictionary, bound as its catalog name.
    Object(IdentifierKind),
    /// A statement to explain: it must itself pass the read-only gate.
    Statement,
}

impl ArgumentKind {
    /// The kind as a tool file and `--help` write it.
    pub fn describe(&self) -> String {
        match self {
            ArgumentKind::Integer => "integer".into(),
            ArgumentKind::Number => "number".into(),
            ArgumentKind::Text => "text".into(),
            ArgumentKind::Boolean => "boolean".into(),
            ArgumentKind::Choice(choices) => format!("one of {}", choices.join("|")),
            ArgumentKind::Object(kind) => kind.name().into(),
            ArgumentKind::Statement => "statement".into(),
        }
    }
}

/// One named query of a tool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolQuery {
    pub name: String,
    pub sql: String,
    /// 1-based line of the SQL in the file.
    pub line: usize,
}

/// What a database needs for a tool to run there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// A PostgreSQL extension, e.g. `pg_stat_statements`.
    Extension(String),
    /// Oracle's Diagnostics Pack (ASH, AWR), as the profile's `control_management_pack_access` says.
    DiagnosticsPack,
    /// Oracle's Tuning Pack.
    TuningPack,
}

impl std::fmt::Display for Requirement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Requirement::Extension(name) => write!(f, "the {name} extension"),
            Requirement::DiagnosticsPack => f.write_str("the Oracle Diagnostics Pack"),
            Requirement::TuningPack => f.write_str("the Oracle Tuning Pack"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FrontMatter {
    name: Option<String>,
    engine: Option<String>,
    description: Option<String>,
    row_cap: Option<usize>,
    time_limit: Option<String>,
    requires: Vec<String>,
    not_on: Vec<String>,
    arguments: BTreeMap<String, ArgumentFront>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ArgumentFront {
    #[serde(rename = "type")]
    kind: Option<String>,
    required: bool,
    default: Option<String>,
    choices: Vec<String>,
    description: String,
}

const KEYS: &[&str] =
    &["type", "name", "engine", "description", "row_cap", "time_limit", "requires", "not_on", "arguments", "version"];

impl ToolPolicy {
    /// Reads one tool file. Errors name the line; a file with any error is skipped whole.
    pub fn from_document(
        path: &Path,
        document: &Document,
        folder_engine: Option<DbKind>,
        problems: &mut Vec<Problem>,
    ) -> Result<ToolPolicy, Vec<Problem>> {
        let mut errors = Vec::new();
        let front: FrontMatter = super::front_matter(path, document, KEYS, &mut errors, problems).unwrap_or_default();
        let line = document.front_matter.as_ref().map_or(1, |front| front.first_line);
        let stem = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        let name = front.name.clone().unwrap_or(stem);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            errors.push(Problem::error(path, line, format!("tool name `{name}` must be letters, digits and _")));
        }
        let engine = match (front.engine.as_deref(), folder_engine) {
            (Some(text), _) => DbKind::parse(text).unwrap_or_else(|| {
                errors.push(Problem::error(path, line, format!("engine `{text}` is not oracle or postgres")));
                DbKind::Postgres
            }),
            (None, Some(engine)) => engine,
            (None, None) => {
                errors.push(Problem::error(
                    path,
                    line,
                    "no engine: put the file under tools/oracle/ or tools/postgres/, or say `engine:`",
                ));
                DbKind::Postgres
            }
        };
        let description = front
            .description
            .clone()
            .or_else(|| document.section("description").map(|section| section.text()))
            .unwrap_or_default();
        if description.trim().is_empty() {
            errors.push(Problem::error(
                path,
                line,
                "a tool needs a `description:`: it is how a DBA or a model chooses it",
            ));
        }
        let row_cap = front.row_cap.unwrap_or(DEFAULT_ROW_CAP);
        if row_cap == 0 || row_cap > MAX_ROW_CAP {
            errors.push(Problem::error(path, line, format!("row_cap must be 1 to {MAX_ROW_CAP}, not {row_cap}")));
        }
        let time_limit = match front.time_limit.as_deref() {
            None => DEFAULT_TIME_LIMIT,
            Some(text) => match parse_limit(text) {
                Some(limit) if !limit.is_zero() && limit <= MAX_TIME_LIMIT => limit,
                _ => {
                    errors.push(Problem::error(
                        path,
                        line,
                        format!(
                            "time_limit `{text}` must be like 500ms, 5s or 1m, at most {}s",
                            MAX_TIME_LIMIT.as_secs()
                        ),
                    ));
                    DEFAULT_TIME_LIMIT
                }
            },
        };
        let requires = front
            .requires
            .iter()
            .map(|text| match text.trim().to_lowercase().as_str() {
                "diagnostics_pack" | "diagnostic_pack" => Requirement::DiagnosticsPack,
                "tuning_pack" => Requirement::TuningPack,
                other => Requirement::Extension(other.to_owned()),
            })
            .collect();
        let arguments = arguments(path, line, &front.arguments, &mut errors);
        let queries = queries(path, document, &arguments, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ToolPolicy {
            name,
            path: path.to_path_buf(),
            engine,
            description: description.split_whitespace().collect::<Vec<_>>().join(" "),
            arguments,
            queries,
            row_cap,
            time_limit,
            requires,
            not_on: front.not_on.iter().map(|env| env.trim().to_uppercase()).collect(),
        })
    }

    pub fn argument(&self, name: &str) -> Option<&ToolArgument> {
        self.arguments.iter().find(|argument| argument.name.eq_ignore_ascii_case(name))
    }
}

fn arguments(
    path: &Path,
    line: usize,
    declared: &BTreeMap<String, ArgumentFront>,
    errors: &mut Vec<Problem>,
) -> Vec<ToolArgument> {
    let mut arguments = Vec::new();
    for (name, front) in declared {
        let name = name.trim().to_lowercase();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            errors.push(Problem::error(path, line, format!("argument `{name}`: names are letters, digits and _")));
            continue;
        }
        let kind = match front.kind.as_deref().map(|text| text.trim().to_lowercase()) {
            None => ArgumentKind::Text,
            Some(text) => match text.as_str() {
                "integer" | "int" => ArgumentKind::Integer,
                "number" | "float" => ArgumentKind::Number,
                "text" | "string" => ArgumentKind::Text,
                "boolean" | "bool" => ArgumentKind::Boolean,
                "statement" | "sql" => ArgumentKind::Statement,
                "choice" if !front.choices.is_empty() => ArgumentKind::Choice(front.choices.clone()),
                "choice" => {
                    errors.push(Problem::error(
                        path,
                        line,
                        format!("argument `{name}`: a choice needs `choices: [...]`"),
                    ));
                    continue;
                }
                other => match IdentifierKind::parse(other) {
                    Some(kind) if !kind.is_literal() => ArgumentKind::Object(kind),
                    _ => {
                        let objects: Vec<_> = IdentifierKind::ALL
                            .iter()
                            .filter(|(_, kind)| !kind.is_literal())
                            .map(|(name, _)| *name)
                            .collect();
                        errors.push(Problem::error(
                            path,
                            line,
                            format!(
                                "argument `{name}`: type `{other}` is not integer, number, text, boolean, choice, \
                                 statement or an object kind ({})",
                                objects.join(", ")
                            ),
                        ));
                        continue;
                    }
                },
            },
        };
        let default = front.default.clone();
        if let Some(value) = &default
            && let Err(message) = check_value(&kind, value)
        {
            errors.push(Problem::error(path, line, format!("argument `{name}`: default {value:?}: {message}")));
        }
        arguments.push(ToolArgument {
            name,
            kind,
            required: front.required,
            default,
            description: front.description.split_whitespace().collect::<Vec<_>>().join(" "),
        });
    }
    arguments
}

/// Every `## Query` / `## Query: NAME` section's ```sql block, each a plain read-only query whose
/// placeholders are declared arguments (or an object argument's `_schema`).
fn queries(path: &Path, document: &Document, arguments: &[ToolArgument], errors: &mut Vec<Problem>) -> Vec<ToolQuery> {
    let mut queries: Vec<ToolQuery> = Vec::new();
    for section in
        document.sections.iter().filter(|section| section.key == "query" || section.key.starts_with("query_"))
    {
        let name =
            section.heading.split_once(':').map_or("main", |(_, name)| name.trim()).to_lowercase().replace(' ', "_");
        let blocks: Vec<_> = section.blocks("sql").collect();
        let Some(block) = blocks.first() else {
            errors.push(Problem::error(path, section.line, format!("`## {}` has no ```sql block", section.heading)));
            continue;
        };
        if blocks.len() > 1 {
            errors.push(Problem::error(path, blocks[1].line, "one ```sql block per `## Query` section"));
        }
        if queries.iter().any(|query| query.name == name) {
            errors.push(Problem::error(path, section.line, format!("two queries are named `{name}`")));
        }
        let text = sql::strip_terminator(&block.code);
        let line = block.line + 1;
        let explains = arguments.iter().any(|argument| argument.kind == ArgumentKind::Statement);
        if !explains && sql::statement_kind(&text) != StatementKind::Query {
            errors.push(Problem::error(path, line, "a tool query must be one read-only SELECT/WITH statement"));
        }
        for placeholder in sql::placeholders(&text) {
            let wanted = placeholder.name.to_lowercase();
            let known = arguments.iter().any(|argument| {
                argument.name == wanted
                    || (matches!(argument.kind, ArgumentKind::Object(_))
                        && wanted == format!("{}_schema", argument.name))
            });
            if !known {
                errors.push(Problem::error(
                    path,
                    line,
                    format!("`:{}` is not a declared argument (declare it under `arguments:`)", placeholder.name),
                ));
            }
        }
        queries.push(ToolQuery { name, sql: text, line });
    }
    if queries.is_empty() && errors.is_empty() {
        errors.push(Problem::error(path, 1, "a tool needs at least one `## Query` section with a ```sql block"));
    }
    queries
}

/// Whether `value` is a valid value of `kind`, before anything touches the database (an
/// object's dictionary lookup happens when the tool runs).
pub fn check_value(kind: &ArgumentKind, value: &str) -> Result<(), String> {
    let value = value.trim();
    match kind {
        ArgumentKind::Integer => {
            value.parse::<i64>().map(|_| ()).map_err(|_| format!("`{value}` is not a whole number"))
        }
        ArgumentKind::Number => value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(|_| ())
            .ok_or_else(|| format!("`{value}` is not a number")),
        ArgumentKind::Boolean => {
            parse_boolean(value).map(|_| ()).ok_or_else(|| format!("`{value}` is not true or false"))
        }
        ArgumentKind::Choice(choices) => {
            if choices.iter().any(|choice| choice.eq_ignore_ascii_case(value)) {
                Ok(())
            } else {
                Err(format!("`{value}` is not one of {}", choices.join(", ")))
            }
        }
        ArgumentKind::Text | ArgumentKind::Object(_) | ArgumentKind::Statement => {
            if value.is_empty() {
                Err("the value is empty".into())
            } else if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                Err("the value holds control characters".into())
            } else {
                Ok(())
            }
        }
    }
}

/// `true`/`false`, `yes`/`no`, `on`/`off`, `1`/`0`.
pub fn parse_boolean(text: &str) -> Option<bool> {
    match text.trim().to_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Some(true),
        "false" | "no" | "off" | "0" => Some(false),
        _ => None,
    }
}

/// `500ms`, `5s`, `2m`, or a bare number of seconds.
pub fn parse_limit(text: &str) -> Option<Duration> {
    let text = text.trim().to_lowercase();
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(at) => text.split_at(at),
        None => (text.as_str(), "s"),
    };
    let number: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => number / 1_000.0,
        "s" | "sec" | "secs" => number,
        "m" | "min" => number * 60.0,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;

    fn load(text: &str) -> Result<ToolPolicy, Vec<Problem>> {
        ToolPolicy::from_document(
            Path::new("tools/postgres/t.md"),
            &markdown::parse(text),
            Some(DbKind::Postgres),
            &mut Vec::new(),
        )
    }

    #[test]
    fn a_tool_reads_its_arguments_queries_and_limits() {
        let tool = load(
            "---\ndescription: Table stats\nrow_cap: 20\ntime_limit: 2s\nrequires: [pg_stat_statements]\n\
             arguments:\n  table: {type: table, required: true}\n  top_n: {type: integer, default: \"10\"}\n---\n\
             ## Query: stats\n```sql\nSELECT * FROM pg_stat_user_tables WHERE relname = :table AND schemaname = :table_schema LIMIT :top_n;\n```\n",
        )
        .expect("tool loads");
        assert_eq!(tool.name, "t");
        assert_eq!(tool.row_cap, 20);
        assert_eq!(tool.time_limit, Duration::from_secs(2));
        assert_eq!(tool.requires, vec![Requirement::Extension("pg_stat_statements".into())]);
        assert_eq!(tool.queries[0].name, "stats");
        assert!(!tool.queries[0].sql.ends_with(';'));
        assert_eq!(tool.argument("table").map(|a| a.kind.clone()), Some(ArgumentKind::Object(IdentifierKind::Table)));
    }

    #[test]
    fn broken_tools_name_what_is_wrong() {
        let undeclared = load("---\ndescription: x\n---\n## Query\n```sql\nSELECT :nope\n```\n").unwrap_err();
        assert!(undeclared[0].message.contains("`:nope` is not a declared argument"), "{undeclared:?}");
        let write = load("---\ndescription: x\n---\n## Query\n```sql\nDELETE FROM t\n```\n").unwrap_err();
        assert!(write[0].message.contains("read-only"), "{write:?}");
        let no_query = load("---\ndescription: x\n---\n## Notes\ntext\n").unwrap_err();
        assert!(no_query[0].message.contains("at least one `## Query`"), "{no_query:?}");
        let bad_type =
            load("---\ndescription: x\narguments:\n  a: {type: colour}\n---\n## Query\n```sql\nSELECT 1\n```\n")
                .unwrap_err();
        assert!(bad_type[0].message.contains("type `colour`"), "{bad_type:?}");
        let bad_limit =
            load("---\ndescription: x\ntime_limit: forever\n---\n## Query\n```sql\nSELECT 1\n```\n").unwrap_err();
        assert!(bad_limit[0].message.contains("time_limit"), "{bad_limit:?}");
        let no_description = load("## Query\n```sql\nSELECT 1\n```\n").unwrap_err();
        assert!(no_description[0].message.contains("description"), "{no_description:?}");
    }

    #[test]
    fn values_are_checked_by_kind() {
        assert!(check_value(&ArgumentKind::Integer, "42").is_ok());
        assert!(check_value(&ArgumentKind::Integer, "4 2").is_err());
        assert!(check_value(&ArgumentKind::Boolean, "yes").is_ok());
        assert!(check_value(&ArgumentKind::Choice(vec!["calls".into()]), "CALLS").is_ok());
        assert!(check_value(&ArgumentKind::Choice(vec!["calls".into()]), "rows").is_err());
        assert!(check_value(&ArgumentKind::Text, "a\u{0}b").is_err());
        assert_eq!(parse_limit("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_limit("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_limit("3"), Some(Duration::from_secs(3)));
    }
}
