//! Turning a policy's SQL and an alert's values into a statement a driver can run — without a
//! value ever becoming SQL text.
//!
//! In a query, DML or block every `:name` becomes a bind variable (`:name` for Oracle, `$N` for
//! PostgreSQL) and its value travels beside the text. In DDL, which cannot take binds, only a
//! declared identifier may be spliced: a database object is written from its resolution — the
//! object the plan resolved once in the dictionary ([`super::resolve`]), quoted and
//! schema-qualified — and a literal kind (paths, session ids, numbers) only after it passed
//! its grammar, as an escaped literal. A placeholder with no value, or an object with no
//! resolution, is an error: no `:name` is ever left in the text, and nothing is looked up here.

use std::collections::BTreeMap;

use super::resolve::{self, Resolved};
use super::sql::{self, IdentifierKind, StatementKind};

pub use crate::domain::Dialect;

/// A statement ready for a driver: text with bind markers, and the bound values in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilledStatement {
    pub sql: String,
    /// `(placeholder name, value)` in bind order. For Oracle the names are the bind names; for
    /// PostgreSQL value N is `$N`. `None` binds SQL NULL (a field the alert did not carry).
    pub binds: Vec<(String, Option<String>)>,
    pub kind: StatementKind,
    /// Where each bind marker sits in `sql`, with the index of its bind: what
    /// [`FilledStatement::inline`] replaces to show the statement as a person would run it.
    pub markers: Vec<(std::ops::Range<usize>, usize)>,
}

impl FilledStatement {
    /// The statement with every bind written as a literal (NULL, or an escaped string literal):
    /// what a DBA reads and could paste into psql or SQL*Plus. Never sent by Sentri itself,
    /// which always binds.
    pub fn inline(&self, dialect: Dialect) -> String {
        let mut text = self.sql.clone();
        for (span, index) in self.markers.iter().rev() {
            let literal = match self.binds.get(*index).and_then(|(_, value)| value.as_deref()) {
                Some(value) => string_literal_for(dialect, value),
                None => "NULL".to_owned(),
            };
            text.replace_range(span.clone(), &literal);
        }
        text
    }
}

/// Why a statement could not be filled. Every variant names the placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FillError {
    #[error("`:{name}` has no value (the alert did not carry it and no query produced it)")]
    MissingValue { name: String },
    #[error("`:{name}` is in a statement that cannot take bind variables and is not a declared identifier")]
    UndeclaredIdentifier { name: String },
    #[error("`:{name}` = {value:?} is not a valid {kind}: {reason}")]
    InvalidIdentifier { name: String, value: String, kind: &'static str, reason: &'static str },
    #[error(
        "`:{name}` names a {kind} the plan did not resolve when it was made; it is not looked up again: make a new plan"
    )]
    Unresolved { name: String, kind: &'static str },
}

/// Values available to a statement. A key present with `None` is a field the policy knows but
/// this alert did not carry: bound as NULL, never spliced.
pub type Values = BTreeMap<String, Option<String>>;

/// Fills `sql` for `dialect`. `identifiers` are the policy's declared DDL placeholders and
/// `resolved` the objects the plan resolved for them.
pub fn fill(
    sql_text: &str,
    dialect: Dialect,
    values: &Values,
    identifiers: &BTreeMap<String, IdentifierKind>,
    resolved: &Resolved,
) -> Result<FilledStatement, FillError> {
    let kind = sql::statement_kind(sql_text);
    let mut out = String::with_capacity(sql_text.len());
    let mut binds: Vec<(String, Option<String>)> = Vec::new();
    let mut markers = Vec::new();
    let mut cursor = 0;
    let found = sql::placeholders(sql_text);
    let pairs = if kind.takes_binds() { Vec::new() } else { resolve::qualified_pairs(sql_text, &found, identifiers) };
    for (index, placeholder) in found.iter().enumerate() {
        if placeholder.span.start < cursor {
            // The object of a `:schema.:object` pair, already written with its schema.
            continue;
        }
        out.push_str(&sql_text[cursor..placeholder.span.start]);
        cursor = placeholder.span.end;
        let name = placeholder.name.to_lowercase();
        let value = values
            .get(&name)
            .or_else(|| values.iter().find(|(key, _)| key.eq_ignore_ascii_case(&name)).map(|(_, value)| value));
        if let Some((_, object)) = pairs.iter().find(|(schema, _)| *schema == index) {
            // `:schema.:object` is one object: written whole from the object's resolution.
            let object = &found[*object];
            let object_name = object.name.to_lowercase();
            let object_kind = resolve::declared_kind(identifiers, &object_name).unwrap_or(IdentifierKind::Table);
            out.push_str(&resolved_text(resolved, &object_name, object_kind)?);
            cursor = object.span.end;
            continue;
        }
        let declared = identifiers.get(&name).copied();
        if !kind.takes_binds() && !placeholder.as_literal && declared.is_some_and(resolve::is_resolved) {
            // A database object is written from its resolution alone.
            let object_kind = declared.unwrap_or(IdentifierKind::Table);
            if value.is_none_or(Option::is_none) && !resolved.contains_key(&name) {
                return Err(FillError::MissingValue { name });
            }
            out.push_str(&resolved_text(resolved, &name, object_kind)?);
            continue;
        }
        let Some(value) = value else {
            return Err(FillError::MissingValue { name });
        };
        if placeholder.as_literal && !kind.takes_binds() {
            // `':name'` in DDL: the reference format's "this value as a string literal". In a
            // statement that takes binds the quotes go and the value is bound like any other.
            let Some(text) = value else { return Err(FillError::MissingValue { name }) };
            out.push_str(&string_literal_for(dialect, text));
            continue;
        }
        match (kind.takes_binds(), identifiers.get(&name)) {
            (true, declared) => {
                // A declared object binds its catalog name: the object the plan resolved.
                let value = match (declared, resolved.get(&name)) {
                    (Some(_), Some(found)) => Some(found.name.clone()),
                    _ => value.clone(),
                };
                let position = binds.iter().position(|(bound, _)| *bound == name);
                let index = match position {
                    Some(index) => index,
                    None => {
                        binds.push((name.clone(), value));
                        binds.len() - 1
                    }
                };
                let start = out.len();
                match dialect {
                    Dialect::Oracle => {
                        out.push(':');
                        out.push_str(&name);
                    }
                    Dialect::Postgres => out.push_str(&format!("${}", index + 1)),
                }
                markers.push((start..out.len(), index));
            }
            (false, Some(identifier_kind)) => {
                let Some(text) = value else { return Err(FillError::MissingValue { name }) };
                out.push_str(&render_identifier(dialect, *identifier_kind, &name, text)?);
            }
            (false, None) => return Err(FillError::UndeclaredIdentifier { name }),
        }
    }
    out.push_str(&sql_text[cursor..]);
    Ok(FilledStatement { sql: out, binds, kind, markers })
}

/// The resolved object for `name`, as the statement must write it; a missing resolution, or
/// one of another kind, is refused.
fn resolved_text(resolved: &Resolved, name: &str, kind: IdentifierKind) -> Result<String, FillError> {
    match resolved.get(name) {
        Some(found) if found.kind == kind => Ok(found.render()),
        _ => Err(FillError::Unresolved { name: name.to_owned(), kind: kind.name() }),
    }
}

/// Validates a literal kind's value (path, session, number) against its grammar and writes it
/// as the statement must see it. A database object is not rendered from a value: only from
/// its resolution ([`super::resolve`]).
pub fn render_identifier(dialect: Dialect, kind: IdentifierKind, name: &str, value: &str) -> Result<String, FillError> {
    let invalid = |reason: &'static str| FillError::InvalidIdentifier {
        name: name.to_owned(),
        value: value.chars().take(80).collect(),
        kind: kind.name(),
        reason,
    };
    match kind {
        IdentifierKind::Datafile | IdentifierKind::Tempfile => {
            if value.is_empty() || value.len() > 513 {
                return Err(invalid("a file path is 1 to 513 bytes"));
            }
            if value.chars().any(|c| c.is_control()) {
                return Err(invalid("a file path has no control characters"));
            }
            Ok(string_literal_for(dialect, value))
        }
        IdentifierKind::Session => {
            let parts: Vec<&str> = value.split(',').map(str::trim).collect();
            let digits = |part: &str| !part.is_empty() && part.len() <= 10 && part.chars().all(|c| c.is_ascii_digit());
            let valid = match parts.as_slice() {
                [sid, serial] => digits(sid) && digits(serial),
                [sid, serial, instance] => {
                    digits(sid) && digits(serial) && instance.strip_prefix('@').is_some_and(digits)
                }
                _ => false,
            };
            if !valid {
                return Err(invalid("a session is 'sid,serial#' or 'sid,serial#,@inst_id', digits only"));
            }
            Ok(string_literal(&parts.join(",")))
        }
        IdentifierKind::Number => {
            let digits = value.strip_prefix('-').unwrap_or(value);
            if digits.is_empty() || digits.len() > 38 || !digits.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid("a number is an integer of at most 38 digits"));
            }
            Ok(value.to_owned())
        }
        _ => Err(FillError::Unresolved { name: name.to_owned(), kind: kind.name() }),
    }
}

pub use crate::domain::quoted_identifier;

/// `'text'`, with any inner quote doubled.
pub fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// A string literal that reads the same whatever the session's settings: on PostgreSQL a value
/// holding a backslash is written as `E'…'` with the backslash escaped, so it means the same
/// with `standard_conforming_strings` on or off.
pub fn string_literal_for(dialect: Dialect, text: &str) -> String {
    match dialect {
        Dialect::Postgres if text.contains('\\') => format!("E'{}'", text.replace('\\', "\\\\").replace('\'', "''")),
        _ => string_literal(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::targets::resolve::ResolvedIdentifier;

    #[test]
    fn inline_writes_each_bind_as_a_literal() {
        let values: Values = [
            ("pid".to_owned(), Some("42".to_owned())),
            ("who".to_owned(), Some("o'hara".to_owned())),
            ("none".to_owned(), None),
        ]
        .into();
        let sql = "SELECT pg_cancel_backend(:pid) WHERE :who <> '' AND :none IS NULL AND :pid > 0";
        let filled = fill(sql, Dialect::Postgres, &values, &BTreeMap::new(), &Resolved::new()).expect("fills");
        assert_eq!(filled.sql, "SELECT pg_cancel_backend($1) WHERE $2 <> '' AND $3 IS NULL AND $1 > 0");
        assert_eq!(
            filled.inline(Dialect::Postgres),
            "SELECT pg_cancel_backend('42') WHERE 'o''hara' <> '' AND NULL IS NULL AND '42' > 0"
        );
        let oracle = fill(sql, Dialect::Oracle, &values, &BTreeMap::new(), &Resolved::new()).expect("fills");
        assert_eq!(
            oracle.inline(Dialect::Oracle),
            "SELECT pg_cancel_backend('42') WHERE 'o''hara' <> '' AND NULL IS NULL AND '42' > 0"
        );
    }

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs.iter().map(|(k, v)| (k.to_string(), Some(v.to_string()))).collect()
    }

    fn kinds(pairs: &[(&str, IdentifierKind)]) -> BTreeMap<String, IdentifierKind> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    const HOSTILE: &[&str] =
        &["USERS;DROP TABLE t", "USERS\"--", "x'/**/OR/**/'1", "a\u{0}b", "USERS/**/DROP/**/DATAFILE"];

    #[test]
    fn query_values_become_binds_in_each_dialect() {
        let sql = "SELECT * FROM t WHERE a = :tbs AND b = :top AND c = :top_sid AND d = :tbs";
        let v = values(&[("tbs", "USERS"), ("top", "1"), ("top_sid", "2")]);
        let oracle = fill(sql, Dialect::Oracle, &v, &BTreeMap::new(), &Resolved::new()).expect("fills");
        assert_eq!(oracle.sql, sql);
        assert_eq!(oracle.binds.len(), 3);
        let postgres = fill(sql, Dialect::Postgres, &v, &BTreeMap::new(), &Resolved::new()).expect("fills");
        assert_eq!(postgres.sql, "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 AND d = $1");
        assert_eq!(postgres.binds[2], ("top_sid".to_owned(), Some("2".to_owned())));
    }

    #[test]
    fn hostile_values_never_change_query_text() {
        for hostile in HOSTILE {
            let v = values(&[("tbs", hostile)]);
            let filled =
                fill("SELECT 1 FROM t WHERE name = :tbs", Dialect::Postgres, &v, &BTreeMap::new(), &Resolved::new())
                    .expect("fills");
            assert_eq!(filled.sql, "SELECT 1 FROM t WHERE name = $1");
            assert_eq!(filled.binds[0].1.as_deref(), Some(*hostile));
        }
        let long = "A".repeat(10_000);
        let filled =
            fill("SELECT :x FROM dual", Dialect::Oracle, &values(&[("x", &long)]), &BTreeMap::new(), &Resolved::new())
                .expect("fills");
        assert_eq!(filled.sql, "SELECT :x FROM dual");
    }

    #[test]
    fn an_object_is_written_only_from_its_resolution() {
        let declared = kinds(&[("tbs", IdentifierKind::Tablespace)]);
        for hostile in HOSTILE {
            let result = fill(
                "ALTER TABLESPACE :tbs ADD DATAFILE SIZE 1G",
                Dialect::Oracle,
                &values(&[("tbs", hostile)]),
                &declared,
                &Resolved::new(),
            );
            assert!(matches!(result, Err(FillError::Unresolved { .. })), "{hostile:?} gave {result:?}");
        }
        let resolved = Resolved::from([(
            "tbs".to_owned(),
            ResolvedIdentifier { kind: IdentifierKind::Tablespace, schema: None, name: "USERS".into() },
        )]);
        let filled =
            fill("ALTER TABLESPACE :tbs ONLINE", Dialect::Oracle, &values(&[("tbs", "users")]), &declared, &resolved)
                .expect("fills");
        assert_eq!(filled.sql, "ALTER TABLESPACE \"USERS\" ONLINE", "the resolution, not the value, is written");
        let wrong_kind = kinds(&[("tbs", IdentifierKind::Role)]);
        let refused =
            fill("ALTER ROLE :tbs NOLOGIN", Dialect::Oracle, &values(&[("tbs", "USERS")]), &wrong_kind, &resolved);
        assert!(matches!(refused, Err(FillError::Unresolved { .. })), "a resolution of another kind is not used");
    }

    #[test]
    fn a_schema_and_object_pair_is_written_as_one_qualified_object() {
        let declared = kinds(&[("seq_schema", IdentifierKind::Schema), ("seq_name", IdentifierKind::Sequence)]);
        let resolved = Resolved::from([
            (
                "seq_schema".to_owned(),
                ResolvedIdentifier { kind: IdentifierKind::Schema, schema: None, name: "app".into() },
            ),
            (
                "seq_name".to_owned(),
                ResolvedIdentifier { kind: IdentifierKind::Sequence, schema: Some("app".into()), name: "DUP".into() },
            ),
        ]);
        let pair = fill(
            "ALTER SEQUENCE :seq_schema.:seq_name AS bigint",
            Dialect::Postgres,
            &values(&[("seq_schema", "app"), ("seq_name", "DUP")]),
            &declared,
            &resolved,
        )
        .expect("fills");
        assert_eq!(pair.sql, "ALTER SEQUENCE \"app\".\"DUP\" AS bigint");
        let alone = fill("ALTER SEQUENCE :seq_name RESTART", Dialect::Postgres, &Values::new(), &declared, &resolved)
            .expect("fills from the resolution alone");
        assert_eq!(alone.sql, "ALTER SEQUENCE \"app\".\"DUP\" RESTART", "the schema is part of the identity");
    }

    #[test]
    fn ddl_splices_only_declared_validated_identifiers() {
        let declared = kinds(&[("tbs", IdentifierKind::Tablespace), ("file_name", IdentifierKind::Datafile)]);
        let resolved = Resolved::from([(
            "tbs".to_owned(),
            ResolvedIdentifier { kind: IdentifierKind::Tablespace, schema: None, name: "USERS".into() },
        )]);
        let filled = fill(
            "ALTER TABLESPACE :tbs DROP DATAFILE :file_name",
            Dialect::Oracle,
            &values(&[("tbs", "USERS"), ("file_name", "/u01/oradata/it's.dbf")]),
            &declared,
            &resolved,
        )
        .expect("fills");
        assert_eq!(filled.sql, "ALTER TABLESPACE \"USERS\" DROP DATAFILE '/u01/oradata/it''s.dbf'");
        assert!(filled.binds.is_empty());
        let undeclared = fill(
            "ALTER TABLESPACE :other ONLINE",
            Dialect::Oracle,
            &values(&[("other", "USERS")]),
            &declared,
            &resolved,
        );
        assert_eq!(undeclared, Err(FillError::UndeclaredIdentifier { name: "other".into() }));
    }

    #[test]
    fn a_missing_value_is_an_error_and_none_binds_null() {
        let result = fill("SELECT :a FROM dual", Dialect::Oracle, &Values::new(), &BTreeMap::new(), &Resolved::new());
        assert_eq!(result, Err(FillError::MissingValue { name: "a".into() }));
        let mut known = Values::new();
        known.insert("sid".into(), None);
        let filled = fill(
            "SELECT 1 FROM v$session WHERE (:sid IS NULL OR sid = :sid)",
            Dialect::Oracle,
            &known,
            &BTreeMap::new(),
            &Resolved::new(),
        )
        .expect("fills");
        assert_eq!(filled.binds, [("sid".to_owned(), None)]);
        let declared = kinds(&[("tbs", IdentifierKind::Tablespace)]);
        let mut missing = Values::new();
        missing.insert("tbs".into(), None);
        assert!(fill("ALTER TABLESPACE :tbs ONLINE", Dialect::Oracle, &missing, &declared, &Resolved::new()).is_err());
    }

    #[test]
    fn sessions_numbers_and_quoted_literals() {
        let declared = kinds(&[("session", IdentifierKind::Session), ("max_value", IdentifierKind::Number)]);
        let filled = fill(
            "ALTER SYSTEM KILL SESSION :session IMMEDIATE",
            Dialect::Oracle,
            &values(&[("session", "123,4567,@2")]),
            &declared,
            &Resolved::new(),
        )
        .expect("fills");
        assert_eq!(filled.sql, "ALTER SYSTEM KILL SESSION '123,4567,@2' IMMEDIATE");
        assert!(
            fill(
                "ALTER SYSTEM KILL SESSION :session",
                Dialect::Oracle,
                &values(&[("session", "1,2' --")]),
                &declared,
                &Resolved::new()
            )
            .is_err()
        );
        assert!(
            fill(
                "ALTER SEQUENCE s MAXVALUE :max_value",
                Dialect::Postgres,
                &values(&[("max_value", "1e9")]),
                &declared,
                &Resolved::new()
            )
            .is_err()
        );
        let literal = fill(
            "ALTER TABLESPACE x DROP DATAFILE ':path'",
            Dialect::Oracle,
            &values(&[("path", "a'b")]),
            &declared,
            &Resolved::new(),
        )
        .expect("fills");
        assert_eq!(literal.sql, "ALTER TABLESPACE x DROP DATAFILE 'a''b'");
        let bound = fill(
            "SELECT * FROM t WHERE name = ':path'",
            Dialect::Postgres,
            &values(&[("path", "a'b")]),
            &declared,
            &Resolved::new(),
        )
        .expect("fills");
        assert_eq!(bound.sql, "SELECT * FROM t WHERE name = $1", "in a query the quoted placeholder is bound");
        assert_eq!(string_literal_for(Dialect::Postgres, r"C:\x'"), r"E'C:\\x'''");
        assert_eq!(string_literal_for(Dialect::Oracle, r"C:\x"), r"'C:\x'");
    }
}
