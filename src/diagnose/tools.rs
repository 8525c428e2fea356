//! Running one investigation tool (`policy::ToolPolicy`) on a database, on the read-only path.
//!
//! The arguments are checked by kind before anything is sent; an object argument is resolved
//! once in the dictionary and bound as the catalog's spelling (its schema as `:NAME_schema`);
//! everything else is a bind variable. Each query runs under the tool's time limit and row cap,
//! and its result says how long it took and whether rows were cut.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::domain::Environment;
use crate::policy::tool::{self, ArgumentKind, Requirement, ToolPolicy};
use crate::targets::resolve::{self, Lookup, Spelling};
use crate::targets::{Profile, ReadLimits, Target, Value, Values};

/// What the caller knows about where the tool runs.
#[derive(Debug, Clone, Default)]
pub struct ToolContext {
    /// The database's configured environment: some tools refuse PROD (EXPLAIN ANALYZE).
    pub environment: Option<Environment>,
    /// The database's profile, for a tool's `requires:`; read from the target when absent.
    pub profile: Option<Profile>,
}

/// Why a tool was not run: said before anything reached the database.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToolError {
    #[error("tool `{tool}` has no argument `{argument}` (it takes: {known})")]
    UnknownArgument { tool: String, argument: String, known: String },
    #[error("tool `{tool}`: `{argument}` is required ({kind})")]
    MissingArgument { tool: String, argument: String, kind: String },
    #[error("tool `{tool}`: `{argument}`: {message}")]
    InvalidArgument { tool: String, argument: String, message: String },
    #[error("tool `{tool}` is refused on {environment}: {reason}")]
    Refused { tool: String, environment: String, reason: String },
}

/// One query's result.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QueryResult {
    pub name: String,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
    /// More rows existed than the tool's cap.
    pub truncated: bool,
    pub ms: u64,
    pub error: Option<String>,
}

impl QueryResult {
    /// Row `index` as `column → text`, NULLs left out: what the cause rules read.
    pub fn row_as_text(&self, index: usize) -> Option<BTreeMap<String, String>> {
        let row = self.rows.get(index)?;
        Some(
            self.columns
                .iter()
                .zip(row)
                .filter_map(|(column, value)| value.as_text().map(|text| (column.clone(), text)))
                .collect(),
        )
    }
}

/// One tool run.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolResult {
    pub tool: String,
    pub database: String,
    /// The values bound, as given (objects as the dictionary spells them).
    pub arguments: BTreeMap<String, String>,
    pub queries: Vec<QueryResult>,
    pub elapsed_ms: u64,
    /// Why the tool did not run at all (a missing extension, an unlicensed pack, an object
    /// that does not exist).
    pub skipped: Option<String>,
}

impl ToolResult {
    /// Rows over all queries.
    pub fn row_count(&self) -> usize {
        self.queries.iter().map(|query| query.rows.len()).sum()
    }

    /// The first error of the run, for a one-line summary.
    pub fn error(&self) -> Option<String> {
        self.skipped.clone().or_else(|| self.queries.iter().find_map(|query| query.error.clone()))
    }

    /// The query `name`, or the first when `name` is `None`.
    pub fn query(&self, name: Option<&str>) -> Option<&QueryResult> {
        match name {
            Some(name) => self.queries.iter().find(|query| query.name == name),
            None => self.queries.first(),
        }
    }
}

/// Checks `given` against the tool's arguments and returns the values to bind (objects not yet
/// resolved). Unknown, missing and malformed arguments are errors naming the argument.
pub fn check_arguments(
    tool: &ToolPolicy,
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, ToolError> {
    let mut checked = BTreeMap::new();
    for (name, value) in given {
        let Some(argument) = tool.argument(name) else {
            let known: Vec<_> = tool.arguments.iter().map(|argument| argument.name.as_str()).collect();
            return Err(ToolError::UnknownArgument {
                tool: tool.name.clone(),
                argument: name.clone(),
                known: if known.is_empty() { "no arguments".into() } else { known.join(", ") },
            });
        };
        tool::check_value(&argument.kind, value).map_err(|message| ToolError::InvalidArgument {
            tool: tool.name.clone(),
            argument: argument.name.clone(),
            message,
        })?;
        // An object's spelling is read by the engine's identifier grammar here, so a malformed
        // name is the caller's error before anything is sent, not a skipped run after a lookup.
        if let ArgumentKind::Object(kind) = argument.kind {
            resolve::parse(tool.engine.dialect(), kind, value.trim(), Spelling::Written).map_err(|reason| {
                ToolError::InvalidArgument {
                    tool: tool.name.clone(),
                    argument: argument.name.clone(),
                    message: format!("{:?} is not a valid {}: {reason}", value.trim(), kind.name()),
                }
            })?;
        }
        let value = match &argument.kind {
            ArgumentKind::Choice(choices) => {
                choices.iter().find(|choice| choice.eq_ignore_ascii_case(value.trim())).cloned().unwrap_or_default()
            }
            ArgumentKind::Boolean => tool::parse_boolean(value).unwrap_or_default().to_string(),
            ArgumentKind::Statement | ArgumentKind::Text => value.clone(),
            _ => value.trim().to_owned(),
        };
        checked.insert(argument.name.clone(), value);
    }
    for argument in &tool.arguments {
        if checked.contains_key(&argument.name) {
            continue;
        }
        match (&argument.default, argument.required) {
            (Some(default), _) => {
                checked.insert(argument.name.clone(), default.clone());
            }
            (None, true) => {
                return Err(ToolError::MissingArgument {
                    tool: tool.name.clone(),
                    argument: argument.name.clone(),
                    kind: argument.kind.describe(),
                });
            }
            (None, false) => {}
        }
    }
    Ok(checked)
}

/// Runs `tool` on `target` with `given` arguments. Argument problems are errors before anything
/// is sent; what the database says (a missing extension, a timeout) is in the result.
pub async fn run(
    target: &Target,
    tool: &ToolPolicy,
    given: &BTreeMap<String, String>,
    context: &ToolContext,
) -> Result<ToolResult, ToolError> {
    let started = Instant::now();
    let checked = check_arguments(tool, given)?;
    if let Some(environment) = context.environment {
        let name = environment.to_string();
        if tool.not_on.contains(&name) {
            return Err(ToolError::Refused {
                tool: tool.name.clone(),
                environment: name,
                reason: "its file says `not_on` this environment".into(),
            });
        }
    }
    let analyze = tool.argument("analyze").is_some_and(|argument| argument.kind == ArgumentKind::Boolean)
        && checked.get("analyze").is_some_and(|value| value == "true");
    if analyze && context.environment == Some(Environment::Prod) {
        return Err(ToolError::Refused {
            tool: tool.name.clone(),
            environment: "PROD".into(),
            reason: "EXPLAIN ANALYZE runs the statement; it is never run on PROD (plain EXPLAIN is)".into(),
        });
    }
    let mut result = ToolResult {
        tool: tool.name.clone(),
        database: target.name().to_owned(),
        arguments: checked.clone(),
        queries: Vec::new(),
        elapsed_ms: 0,
        skipped: None,
    };
    if let Some(missing) = unmet_requirement(target, tool, context).await {
        result.skipped = Some(missing);
        result.elapsed_ms = elapsed_ms(started);
        return Ok(result);
    }
    let mut values: Values = tool.arguments.iter().map(|argument| (argument.name.clone(), None)).collect();
    for argument in &tool.arguments {
        let Some(value) = checked.get(&argument.name) else { continue };
        match argument.kind {
            ArgumentKind::Object(kind) => match resolve_object(target, &argument.name, kind, value).await {
                Ok((name, schema)) => {
                    result.arguments.insert(argument.name.clone(), name.clone());
                    values.insert(argument.name.clone(), Some(name));
                    values.insert(format!("{}_schema", argument.name), schema);
                }
                Err(message) => {
                    result.skipped = Some(message);
                    result.elapsed_ms = elapsed_ms(started);
                    return Ok(result);
                }
            },
            ArgumentKind::Statement => {}
            _ => {
                values.insert(argument.name.clone(), Some(value.clone()));
            }
        }
    }
    for argument in tool.arguments.iter().filter(|argument| matches!(argument.kind, ArgumentKind::Object(_))) {
        values.entry(format!("{}_schema", argument.name)).or_insert(None);
    }
    let limits = ReadLimits { time_limit: tool.time_limit, max_rows: tool.row_cap };
    let statement = tool
        .arguments
        .iter()
        .find(|argument| argument.kind == ArgumentKind::Statement)
        .and_then(|argument| checked.get(&argument.name).map(|text| (argument.name.as_str(), text.as_str())));
    for query in &tool.queries {
        let query_started = Instant::now();
        let outcome = match statement {
            Some((name, text)) => run_statement(target, &query.sql, name, text, analyze, &values, &limits).await,
            None => target.query_limited(&query.sql, &values, &limits).await.map_err(|error| error.to_string()),
        };
        let ms = elapsed_ms(query_started);
        result.queries.push(match outcome {
            Ok(limited) => QueryResult {
                name: query.name.clone(),
                columns: limited.rows.columns,
                rows: limited.rows.rows,
                truncated: limited.truncated,
                ms,
                error: None,
            },
            Err(error) => QueryResult {
                name: query.name.clone(),
                columns: Vec::new(),
                rows: Vec::new(),
                truncated: false,
                ms,
                error: Some(error),
            },
        });
    }
    result.elapsed_ms = elapsed_ms(started);
    Ok(result)
}

/// A statement tool's query: `:sql` alone runs the statement itself on the read path;
/// `EXPLAIN (options) :sql` explains it. Anything else around the placeholder is refused.
async fn run_statement(
    target: &Target,
    query: &str,
    placeholder: &str,
    statement: &str,
    analyze: bool,
    values: &Values,
    limits: &ReadLimits,
) -> Result<crate::targets::LimitedRows, String> {
    let found = crate::targets::sql::placeholders(query);
    let Some(spot) = found.iter().find(|found| found.name.eq_ignore_ascii_case(placeholder)) else {
        return Err(format!("the query does not place `:{placeholder}`"));
    };
    let before = query[..spot.span.start].trim();
    let after = query[spot.span.end..].trim();
    if !after.is_empty() {
        return Err(format!("nothing may follow `:{placeholder}` in a statement tool's query"));
    }
    if has_positional(statement) {
        return Err("the statement has $N parameters (as pg_stat_statements shows it): give it with values".into());
    }
    if before.is_empty() {
        return target.query_limited(statement, values, limits).await.map_err(|error| error.to_string());
    }
    let Some(options) = before
        .strip_prefix("EXPLAIN")
        .or_else(|| before.strip_prefix("explain"))
        .map(str::trim)
        .map(|rest| rest.trim_start_matches('(').trim_end_matches(')').trim().to_owned())
    else {
        return Err(format!("a statement tool's query is `:{placeholder}` or `EXPLAIN (options) :{placeholder}`"));
    };
    if options.to_uppercase().contains("ANALYZE") {
        return Err("write EXPLAIN without ANALYZE: the `analyze` argument adds it where it is allowed".into());
    }
    let mut options = if options.is_empty() { "FORMAT TEXT".to_owned() } else { options };
    if analyze {
        options.push_str(", ANALYZE, BUFFERS");
    }
    target.explain(&options, statement, values, limits).await.map_err(|error| error.to_string())
}

fn has_positional(text: &str) -> bool {
    text.as_bytes().windows(2).any(|pair| pair[0] == b'$' && pair[1].is_ascii_digit())
}

/// The catalog's spelling of an object argument and its schema, or why it cannot be used.
async fn resolve_object(
    target: &Target,
    argument: &str,
    kind: crate::domain::IdentifierKind,
    value: &str,
) -> Result<(String, Option<String>), String> {
    let dialect = target.engine().dialect();
    let wanted = resolve::parse(dialect, kind, value, Spelling::Written)
        .map_err(|reason| format!("`{argument}` = {value:?} is not a valid {}: {reason}", kind.name()))?;
    let Some(query) = resolve::dictionary_query(dialect, kind) else {
        return Ok((wanted.name, wanted.schema));
    };
    let rows = target.query(query, &resolve::lookup_values(&wanted)).await.map_err(|error| error.to_string())?;
    let lookup = Lookup { placeholder: argument.to_owned(), kind, wanted, schema_placeholder: None };
    let found = resolve::one_object(&lookup, &rows).map_err(|error| error.to_string())?;
    Ok((found.name, found.schema))
}

/// The first of the tool's requirements this database does not meet, in words.
async fn unmet_requirement(target: &Target, tool: &ToolPolicy, context: &ToolContext) -> Option<String> {
    if tool.requires.is_empty() {
        return None;
    }
    let profile = match &context.profile {
        Some(profile) => profile.clone(),
        None => match target.profile().await {
            Ok(profile) => profile,
            Err(error) => {
                return Some(format!("cannot read the database's profile to check the tool's requirements: {error}"));
            }
        },
    };
    tool.requires.iter().find_map(|requirement| {
        let met = match requirement {
            Requirement::Extension(name) => {
                profile.postgres.as_ref().is_some_and(|postgres| postgres.extensions.iter().any(|known| known == name))
            }
            Requirement::DiagnosticsPack => profile.oracle.as_ref().is_some_and(|oracle| oracle.diagnostics_pack()),
            Requirement::TuningPack => profile.oracle.as_ref().is_some_and(|oracle| oracle.tuning_pack()),
        };
        (!met).then(|| match requirement {
            Requirement::Extension(name) => format!(
                "needs {requirement}, which is not installed in this database: add it to shared_preload_libraries \
                 and run CREATE EXTENSION {name}"
            ),
            _ => format!(
                "needs {requirement}, which the profile does not show as licensed \
                 (control_management_pack_access); Sentri does not query unlicensed views"
            ),
        })
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::policy::{DbKind, markdown};

    fn table_tool() -> ToolPolicy {
        let text = "---\ndescription: one table\narguments:\n  table: {type: table, required: true}\n---\n\
                    ## Query\n```sql\nSELECT relname FROM pg_class WHERE relname = :table\n```\n";
        ToolPolicy::from_document(
            Path::new("tools/postgres/t.md"),
            &markdown::parse(text),
            Some(DbKind::Postgres),
            &mut Vec::new(),
        )
        .expect("the test tool loads")
    }

    #[test]
    fn a_malformed_object_name_is_an_argument_error() {
        let tool = table_tool();
        let given = |value: &str| BTreeMap::from([("table".to_owned(), value.to_owned())]);
        for bad in ["orders; DROP TABLE t", "a.b.c", "\"unclosed", "1orders"] {
            let error = check_arguments(&tool, &given(bad)).expect_err(bad);
            assert!(
                matches!(&error, ToolError::InvalidArgument { argument, message, .. }
                    if argument == "table" && message.contains("is not a valid table")),
                "{bad}: {error}"
            );
        }
        for good in ["orders", "shop.orders", "\"Mixed Case\""] {
            assert_eq!(check_arguments(&tool, &given(good)).expect(good)["table"], good);
        }
    }
}
