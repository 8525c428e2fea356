//! Which database object an identifier names, decided once per plan.
//!
//! A fix and its rollback must act on the same object. Looking a name up again before each
//! step, case-insensitively and without its schema, let the forward step and the rollback land
//! on two different objects (`dup` and `"DUP"`). So an identifier is resolved once, when the
//! plan is made: its value is read the way the engine reads an SQL identifier (a quoted part
//! exactly, an unquoted part folded — lower case on PostgreSQL, upper case on Oracle;
//! `schema.name` gives both parts), or, when it came from the catalog itself (a verification
//! column), taken exactly as the catalog spelled it. It is then looked up in the dictionary
//! with its schema ([`dictionary_query`]); the one object found is a [`ResolvedIdentifier`],
//! stored in the plan under its hash, and every step writes that object, quoted and
//! schema-qualified. A name that matches more than one object is an error naming them all;
//! nothing ever looks a name up again while a fix runs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::fill::{FillError, Values};
use super::sql::{self, IdentifierKind, Placeholder};
use super::value::{Rows, Value};
use super::{ErrorKind, TargetError};
use crate::domain::Dialect;

pub use crate::domain::ResolvedIdentifier;

/// A plan's resolutions, by placeholder name (lower case, as [`super::fill::fill`] reads it).
pub type Resolved = BTreeMap<String, ResolvedIdentifier>;

/// Where an identifier's value came from, which decides how it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// Written by a person or a monitor (an alert field): parsed as an SQL identifier and
    /// folded by the engine's rules.
    Written,
    /// Returned by the catalog (a verification column): one name, exactly as spelled.
    Catalog,
}

/// An identifier as the dictionary must be asked for it: the exact (folded) name, and the
/// schema when the value named one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedName {
    pub schema: Option<String>,
    pub name: String,
}

impl fmt::Display for WantedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.schema {
            Some(schema) => write!(f, "{schema}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Kinds whose objects live in a schema, so that the schema is part of their identity.
pub fn is_schema_scoped(kind: IdentifierKind) -> bool {
    matches!(kind, IdentifierKind::Table | IdentifierKind::Index | IdentifierKind::Sequence)
}

/// Kinds resolved in the dictionary. File paths, sessions and numbers are literals, checked by
/// their grammar and written as they are.
pub fn is_resolved(kind: IdentifierKind) -> bool {
    !kind.is_literal()
}

/// Reads `value` as `dialect` reads an identifier of `kind`.
pub fn parse(
    dialect: Dialect,
    kind: IdentifierKind,
    value: &str,
    spelling: Spelling,
) -> Result<WantedName, &'static str> {
    if spelling == Spelling::Catalog {
        check_length(dialect, value)?;
        if value.chars().any(char::is_control) {
            return Err("a name has no control character");
        }
        return Ok(WantedName { schema: None, name: value.to_owned() });
    }
    if kind == IdentifierKind::Parameter {
        return parameter_name(value);
    }
    let mut parts = Vec::new();
    for part in split_parts(value)? {
        let name = match part {
            Part::Quoted(exact) => exact,
            Part::Plain(plain) => fold(dialect, plain)?,
        };
        check_length(dialect, &name)?;
        if name.chars().any(char::is_control) {
            return Err("a name has no control character");
        }
        parts.push(name);
    }
    match <[String; 2]>::try_from(parts) {
        Ok([schema, name]) if is_schema_scoped(kind) => Ok(WantedName { schema: Some(schema), name }),
        Ok(_) => Err("only tables, indexes and sequences are written schema.name"),
        Err(parts) => match <[String; 1]>::try_from(parts) {
            Ok([name]) => Ok(WantedName { schema: None, name }),
            Err(_) => Err("a name is `name` or `schema.name`"),
        },
    }
}

enum Part<'a> {
    Quoted(String),
    Plain(&'a str),
}

/// `a."B"."c""d"` → `a`, `B`, `c"d`: dots outside double quotes separate parts; `""` inside
/// quotes is one quote.
fn split_parts(value: &str) -> Result<Vec<Part<'_>>, &'static str> {
    let mut parts = Vec::new();
    let mut rest = value;
    loop {
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut exact = String::new();
            let mut chars = quoted.char_indices();
            let end = loop {
                match chars.next() {
                    None => return Err("a quoted name is closed by a double quote"),
                    Some((index, '"')) => {
                        if quoted[index + 1..].starts_with('"') {
                            exact.push('"');
                            chars.next();
                        } else {
                            break index + 1;
                        }
                    }
                    Some((_, c)) => exact.push(c),
                }
            };
            if exact.is_empty() {
                return Err("a quoted name is not empty");
            }
            parts.push(Part::Quoted(exact));
            rest = &quoted[end..];
            match rest.strip_prefix('.') {
                Some(next) => rest = next,
                None if rest.is_empty() => return Ok(parts),
                None => return Err("a quoted name is followed by a dot or nothing"),
            }
        } else {
            let (plain, next) = match rest.split_once('.') {
                Some((plain, next)) => (plain, Some(next)),
                None => (rest, None),
            };
            parts.push(Part::Plain(plain));
            match next {
                Some(next) => rest = next,
                None => return Ok(parts),
            }
        }
    }
}

/// An unquoted name: checked against the engine's grammar, then folded as the engine folds it.
fn fold(dialect: Dialect, plain: &str) -> Result<String, &'static str> {
    let mut chars = plain.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || (dialect == Dialect::Postgres && c == '_'));
    if !first_ok {
        return Err("a name starts with a letter");
    }
    let rest_ok =
        chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || (dialect == Dialect::Oracle && c == '#'));
    if !rest_ok {
        return Err("a name holds only letters, digits, _ and $ (and # on Oracle)");
    }
    Ok(match dialect {
        Dialect::Postgres => plain.to_ascii_lowercase(),
        Dialect::Oracle => plain.to_ascii_uppercase(),
    })
}

/// Parameters are lower case in both dictionaries (`v$parameter`, `pg_settings`), and
/// PostgreSQL's may hold a dot (`auto_explain.log_min_duration`).
fn parameter_name(value: &str) -> Result<WantedName, &'static str> {
    let valid = value.len() <= 128
        && value.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if !valid {
        return Err("a parameter name holds only letters, digits, _ and .");
    }
    Ok(WantedName { schema: None, name: value.to_ascii_lowercase() })
}

fn check_length(dialect: Dialect, name: &str) -> Result<(), &'static str> {
    match dialect {
        Dialect::Oracle if name.is_empty() || name.len() > 128 => Err("an Oracle name is 1 to 128 bytes"),
        Dialect::Postgres if name.is_empty() || name.len() > 63 => Err("a PostgreSQL name is 1 to 63 bytes"),
        _ => Ok(()),
    }
}

/// The query that finds the objects of `kind` with the exact name `:name` (and schema
/// `:schema`, NULL when the value named none), as `schema_name, object_name` rows in a fixed
/// order. An unqualified name is looked for where the engine itself would look: the schemas
/// of the search path (`current_schemas(false)`) on PostgreSQL, the current schema on Oracle.
/// `None` for the literal kinds.
pub fn dictionary_query(dialect: Dialect, kind: IdentifierKind) -> Option<&'static str> {
    use IdentifierKind::*;
    macro_rules! pg_relation {
        ($relkinds:literal) => {
            concat!(
                "SELECT n.nspname AS schema_name, c.relname AS object_name \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN (",
                $relkinds,
                ") AND c.relname = :name \
                 AND (n.nspname = CAST(:schema AS text) \
                      OR (CAST(:schema AS text) IS NULL AND n.nspname = ANY (pg_catalog.current_schemas(false)))) \
                 ORDER BY n.nspname, c.relname"
            )
        };
    }
    macro_rules! pg_global {
        ($column:literal, $from:literal) => {
            concat!(
                "SELECT CAST(NULL AS text) AS schema_name, ",
                $column,
                " AS object_name FROM ",
                $from,
                " WHERE ",
                $column,
                " = :name ORDER BY 2"
            )
        };
    }
    macro_rules! ora_owned {
        ($owner:literal, $column:literal, $from:literal) => {
            concat!(
                "SELECT ",
                $owner,
                " AS schema_name, ",
                $column,
                " AS object_name FROM ",
                $from,
                " WHERE ",
                $column,
                " = :name AND ",
                $owner,
                " = NVL(:schema, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA')) ORDER BY 1, 2"
            )
        };
    }
    macro_rules! ora_global {
        ($column:literal, $from:literal) => {
            concat!(
                "SELECT CAST(NULL AS VARCHAR2(128)) AS schema_name, ",
                $column,
                " AS object_name FROM ",
                $from,
                " WHERE ",
                $column,
                " = :name ORDER BY 2"
            )
        };
    }
    match dialect {
        Dialect::Postgres => Some(match kind {
            Table => pg_relation!("'r', 'p', 'm'"),
            Index => pg_relation!("'i', 'I'"),
            Sequence => pg_relation!("'S'"),
            Schema => pg_global!("nspname", "pg_catalog.pg_namespace"),
            User | Role => pg_global!("rolname", "pg_catalog.pg_roles"),
            Database => pg_global!("datname", "pg_catalog.pg_database"),
            Parameter => pg_global!("name", "pg_catalog.pg_settings"),
            Column => {
                "SELECT DISTINCT CAST(NULL AS text) AS schema_name, attname AS object_name \
                 FROM pg_catalog.pg_attribute WHERE attname = :name AND attnum > 0 AND NOT attisdropped ORDER BY 2"
            }
            Tablespace | TempTablespace => pg_global!("spcname", "pg_catalog.pg_tablespace"),
            Datafile | Tempfile | Session | Number => return None,
        }),
        Dialect::Oracle => Some(match kind {
            Table => ora_owned!("owner", "table_name", "dba_tables"),
            Index => ora_owned!("owner", "index_name", "dba_indexes"),
            Sequence => ora_owned!("sequence_owner", "sequence_name", "dba_sequences"),
            Tablespace => ora_global!("tablespace_name", "dba_tablespaces"),
            TempTablespace => {
                "SELECT CAST(NULL AS VARCHAR2(128)) AS schema_name, tablespace_name AS object_name \
                 FROM dba_tablespaces WHERE contents = 'TEMPORARY' AND tablespace_name = :name ORDER BY 2"
            }
            User | Schema => ora_global!("username", "dba_users"),
            Role => ora_global!("role", "dba_roles"),
            Database => ora_global!("name", "v$database"),
            Parameter => ora_global!("name", "v$parameter"),
            Column => {
                "SELECT DISTINCT CAST(NULL AS VARCHAR2(128)) AS schema_name, column_name AS object_name \
                 FROM dba_tab_columns WHERE column_name = :name ORDER BY 2"
            }
            Datafile | Tempfile | Session | Number => return None,
        }),
    }
}

/// The binds of a [`dictionary_query`] for `wanted`.
pub fn lookup_values(wanted: &WantedName) -> Values {
    Values::from([("name".to_owned(), Some(wanted.name.clone())), ("schema".to_owned(), wanted.schema.clone())])
}

/// Why an identifier could not be resolved. Every variant names the placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("`:{placeholder}`: no {kind} {wanted} in this database; nothing was run")]
    NotFound { placeholder: String, kind: &'static str, wanted: String },
    #[error("`:{placeholder}`: {kind} {wanted} matches {}; nothing was run", list(.matches))]
    Ambiguous { placeholder: String, kind: &'static str, wanted: String, matches: Vec<String> },
    #[error("`:{placeholder}`: the dictionary answered without a name; nothing was run")]
    Unreadable { placeholder: String },
    #[error("`:{placeholder}` resolves to {first} in one statement and {second} in another; nothing was run")]
    SchemaConflict { placeholder: String, first: String, second: String },
}

/// `a`, `a and b`, `a, b and c`.
fn list(items: &[String]) -> String {
    match items.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// The one object a [`dictionary_query`] found, or why there is not exactly one.
pub fn one_object(lookup: &Lookup, rows: &Rows) -> Result<ResolvedIdentifier, ResolveError> {
    let mut found = Vec::with_capacity(rows.rows.len());
    for row in 0..rows.rows.len() {
        let Some(name) = rows.get(row, "object_name").and_then(Value::as_text) else {
            return Err(ResolveError::Unreadable { placeholder: lookup.placeholder.clone() });
        };
        let schema = rows.get(row, "schema_name").and_then(Value::as_text);
        found.push(ResolvedIdentifier { kind: lookup.kind, schema, name });
    }
    found.sort();
    found.dedup();
    match <[ResolvedIdentifier; 1]>::try_from(found) {
        Ok([one]) => Ok(one),
        Err(found) if found.is_empty() => Err(ResolveError::NotFound {
            placeholder: lookup.placeholder.clone(),
            kind: lookup.kind.name(),
            wanted: lookup.wanted.to_string(),
        }),
        Err(found) => Err(ResolveError::Ambiguous {
            placeholder: lookup.placeholder.clone(),
            kind: lookup.kind.name(),
            wanted: lookup.wanted.to_string(),
            matches: found.iter().map(ResolvedIdentifier::identity).collect(),
        }),
    }
}

/// One dictionary lookup a plan needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    /// The placeholder, lower case.
    pub placeholder: String,
    pub kind: IdentifierKind,
    pub wanted: WantedName,
    /// A schema placeholder written just before this one (`:schema.:name`): it names this
    /// object's schema, so it resolves to the schema this lookup finds.
    pub schema_placeholder: Option<String>,
}

/// Pairs of placeholder indices `(schema, object)` written `:schema.:object` in `sql_text`,
/// where the first is declared a schema and the second a kind that lives in one. The pair is
/// one object, written from the object's resolution.
pub fn qualified_pairs(
    sql_text: &str,
    found: &[Placeholder],
    identifiers: &BTreeMap<String, IdentifierKind>,
) -> Vec<(usize, usize)> {
    let kind_of = |placeholder: &Placeholder| declared_kind(identifiers, &placeholder.name);
    found
        .windows(2)
        .enumerate()
        .filter(|(_, pair)| {
            !pair[0].as_literal
                && !pair[1].as_literal
                && kind_of(&pair[0]) == Some(IdentifierKind::Schema)
                && kind_of(&pair[1]).is_some_and(is_schema_scoped)
                && sql_text.get(pair[0].span.end..pair[1].span.start) == Some(".")
        })
        .map(|(index, _)| (index, index + 1))
        .collect()
}

/// The pairs of a statement that splices (a statement that takes binds binds each value).
fn spliced_pairs(
    sql_text: &str,
    found: &[Placeholder],
    identifiers: &BTreeMap<String, IdentifierKind>,
) -> Vec<(usize, usize)> {
    if sql::statement_kind(sql_text).takes_binds() {
        return Vec::new();
    }
    qualified_pairs(sql_text, found, identifiers)
}

/// A placeholder's declared kind, its name compared case-insensitively.
pub fn declared_kind(identifiers: &BTreeMap<String, IdentifierKind>, name: &str) -> Option<IdentifierKind> {
    identifiers.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, kind)| *kind)
}

fn value_of<'a>(values: &'a Values, name: &str) -> Option<(&'a String, &'a str)> {
    values
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .and_then(|(key, value)| Some((key, value.as_deref()?)))
}

/// The lookups that resolve every declared identifier the statements use, in a fixed order (in
/// a statement that takes binds, the object's catalog name is what is bound). A value that does not read as an identifier of its
/// kind is refused here, before anything is sent. `catalog_spelled` names the values that came
/// from the catalog and are taken exactly. A placeholder without a value is left out: filling
/// the statement reports it.
pub fn lookups(
    dialect: Dialect,
    statements: &[&str],
    identifiers: &BTreeMap<String, IdentifierKind>,
    values: &Values,
    catalog_spelled: &BTreeSet<String>,
) -> Result<Vec<Lookup>, FillError> {
    let mut objects: BTreeSet<String> = BTreeSet::new();
    let mut paired_with: BTreeMap<String, String> = BTreeMap::new();
    for statement in statements {
        let text = sql::strip_terminator(statement);
        let found = sql::placeholders(&text);
        let pairs = spliced_pairs(&text, &found, identifiers);
        for (index, placeholder) in found.iter().enumerate() {
            let name = placeholder.name.to_lowercase();
            let Some(kind) = declared_kind(identifiers, &name) else { continue };
            if !is_resolved(kind) || placeholder.as_literal {
                continue;
            }
            match pairs.iter().find(|(schema, object)| *schema == index || *object == index) {
                Some((schema, _)) if *schema == index => {}
                Some((schema, _)) => {
                    paired_with.entry(name.clone()).or_insert_with(|| found[*schema].name.to_lowercase());
                    objects.insert(name);
                }
                None => {
                    objects.insert(name);
                }
            }
        }
    }
    let spelling = |key: &str| {
        if catalog_spelled.iter().any(|name| name.eq_ignore_ascii_case(key)) {
            Spelling::Catalog
        } else {
            Spelling::Written
        }
    };
    let mut lookups = Vec::new();
    for name in objects {
        let Some(kind) = declared_kind(identifiers, &name) else { continue };
        let Some((key, value)) = value_of(values, &name) else { continue };
        let invalid = |reason: &'static str, value: &str| FillError::InvalidIdentifier {
            name: name.clone(),
            value: value.chars().take(80).collect(),
            kind: kind.name(),
            reason,
        };
        let mut wanted = parse(dialect, kind, value, spelling(key)).map_err(|reason| invalid(reason, value))?;
        let schema_placeholder = paired_with.get(&name).cloned();
        if let Some(schema_name) = &schema_placeholder
            && let Some((schema_key, schema_value)) = value_of(values, schema_name)
        {
            let schema = parse(dialect, IdentifierKind::Schema, schema_value, spelling(schema_key))
                .map_err(|reason| invalid(reason, schema_value))?
                .name;
            match &wanted.schema {
                None => wanted.schema = Some(schema),
                Some(named) if *named == schema => {}
                Some(_) => return Err(invalid("names a schema other than the one written before it", value)),
            }
        }
        lookups.push(Lookup { placeholder: name, kind, wanted, schema_placeholder });
    }
    Ok(lookups)
}

/// Runs the [`lookups`] of `statements` through `query` (a target's read-only path) and
/// collects one resolution per placeholder; the errors name the database `target`.
pub async fn resolve_all<F, Fut>(
    target: &str,
    dialect: Dialect,
    query: F,
    statements: &[&str],
    identifiers: &BTreeMap<String, IdentifierKind>,
    values: &Values,
    catalog_spelled: &BTreeSet<String>,
) -> Result<Resolved, TargetError>
where
    F: Fn(&'static str, Values) -> Fut,
    Fut: std::future::Future<Output = Result<Rows, TargetError>>,
{
    let lookups = lookups(dialect, statements, identifiers, values, catalog_spelled)
        .map_err(|error| TargetError::new(target, ErrorKind::Fill, error.to_string()))?;
    let unresolved = |error: ResolveError| {
        TargetError::new(target, ErrorKind::Statement, error.to_string())
            .with_hint("check the name in the alert against the database's catalog")
    };
    let mut resolved = Resolved::new();
    for lookup in &lookups {
        let Some(text) = dictionary_query(dialect, lookup.kind) else { continue };
        let rows = query(text, lookup_values(&lookup.wanted)).await?;
        let found = one_object(lookup, &rows).map_err(unresolved)?;
        record(&mut resolved, lookup, found).map_err(unresolved)?;
    }
    Ok(resolved)
}

/// Adds `found` (the result of `lookup`) to `resolved`, with the schema it names for a paired
/// schema placeholder.
pub fn record(resolved: &mut Resolved, lookup: &Lookup, found: ResolvedIdentifier) -> Result<(), ResolveError> {
    if let (Some(placeholder), Some(schema)) = (&lookup.schema_placeholder, &found.schema) {
        let named = ResolvedIdentifier { kind: IdentifierKind::Schema, schema: None, name: schema.clone() };
        insert_once(resolved, placeholder, named)?;
    }
    insert_once(resolved, &lookup.placeholder, found)
}

/// One resolution per placeholder: a second, different one is a conflict, never an overwrite.
fn insert_once(resolved: &mut Resolved, placeholder: &str, found: ResolvedIdentifier) -> Result<(), ResolveError> {
    match resolved.get(placeholder) {
        Some(earlier) if *earlier != found => Err(ResolveError::SchemaConflict {
            placeholder: placeholder.to_owned(),
            first: earlier.identity(),
            second: found.identity(),
        }),
        _ => {
            resolved.insert(placeholder.to_owned(), found);
            Ok(())
        }
    }
}

/// The declared identifiers `statements` use that need a resolution and have none in
/// `resolved`: a plan that lacks one is refused rather than looked up again.
pub fn unresolved(
    statements: &[&str],
    identifiers: &BTreeMap<String, IdentifierKind>,
    resolved: &Resolved,
) -> BTreeSet<String> {
    let mut missing = BTreeSet::new();
    for statement in statements {
        let text = sql::strip_terminator(statement);
        let found = sql::placeholders(&text);
        let pairs = spliced_pairs(&text, &found, identifiers);
        for (index, placeholder) in found.iter().enumerate() {
            let name = placeholder.name.to_lowercase();
            let needs = declared_kind(identifiers, &name).is_some_and(is_resolved) && !placeholder.as_literal;
            // The schema of a pair is written from its object's resolution.
            let schema_of_pair = pairs.iter().any(|(schema, _)| *schema == index);
            if needs && !schema_of_pair && !resolved.contains_key(&name) {
                missing.insert(name);
            }
        }
    }
    missing
}

/// The values with each resolved identifier replaced by its catalog name, so that queries
/// (pre-flight, validation, capture) bind the very object the steps write.
pub fn bound_values(values: &Values, resolved: &Resolved) -> Values {
    let mut bound = values.clone();
    for (placeholder, found) in resolved {
        let key = bound.keys().find(|key| key.eq_ignore_ascii_case(placeholder)).cloned();
        bound.insert(key.unwrap_or_else(|| placeholder.clone()), Some(found.name.clone()));
    }
    bound
}

/// A file path a DDL statement splices (a datafile or tempfile, often captured only after the
/// forward step), to be confirmed in the dictionary before that statement runs. A path is a
/// literal compared exactly: it cannot fold or match two files, so confirming it where it is
/// used cannot pick another object; it only stops a step on a path that is not a file of that
/// kind (a datafile handed to `DROP TEMPFILE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileCheck {
    pub placeholder: String,
    pub kind: IdentifierKind,
    pub path: String,
    /// One bind, `:name`; returns the file when it exists.
    pub query: &'static str,
}

impl FileCheck {
    /// The binds of [`FileCheck::query`].
    pub fn values(&self) -> Values {
        Values::from([("name".to_owned(), Some(self.path.clone()))])
    }

    /// Whether the query's rows confirm the file; the error names the placeholder.
    pub fn confirm(&self, rows: &Rows) -> Result<(), String> {
        if rows.rows.is_empty() {
            return Err(format!(
                "`:{}` = {:?} is not a {} in the dictionary; nothing was run",
                self.placeholder,
                self.path.chars().take(80).collect::<String>(),
                self.kind.name()
            ));
        }
        Ok(())
    }
}

/// The exact-path lookup for a file kind on Oracle (PostgreSQL has no such kinds).
pub fn file_query(dialect: Dialect, kind: IdentifierKind) -> Option<&'static str> {
    match (dialect, kind) {
        (Dialect::Oracle, IdentifierKind::Datafile) => {
            Some("SELECT file_name FROM dba_data_files WHERE file_name = :name")
        }
        (Dialect::Oracle, IdentifierKind::Tempfile) => {
            Some("SELECT file_name FROM dba_temp_files WHERE file_name = :name")
        }
        _ => None,
    }
}

/// The file paths `sql_text` splices, to confirm before it runs.
pub fn file_checks(
    dialect: Dialect,
    sql_text: &str,
    values: &Values,
    identifiers: &BTreeMap<String, IdentifierKind>,
) -> Vec<FileCheck> {
    if sql::statement_kind(sql_text).takes_binds() {
        return Vec::new();
    }
    let mut checks: Vec<FileCheck> = Vec::new();
    for placeholder in sql::placeholders(sql_text) {
        let name = placeholder.name.to_lowercase();
        let Some(kind) = declared_kind(identifiers, &name) else { continue };
        let Some(query) = file_query(dialect, kind) else { continue };
        let Some((_, path)) = value_of(values, &name) else { continue };
        if checks.iter().all(|check| check.placeholder != name) {
            checks.push(FileCheck { placeholder: name, kind, path: path.to_owned(), query });
        }
    }
    checks
}

#[cfg(test)]
mod tests;
