//! Turning a policy's SQL and an alert's values into a statement a driver can run — without a
//! value ever becoming SQL text.
//!
//! In a query, DML or block every `:name` becomes a bind variable (`:name` for Oracle, `$N` for
//! PostgreSQL) and its value travels beside the text. In DDL, which cannot take binds, only a
//! value declared as an identifier may be spliced, and only after it passed the engine's
//! grammar for its kind; it is written quoted (names) or as an escaped literal (paths, session
//! ids, numbers). A placeholder with no value is an error: no `:name` is ever left in the text.
//! Checking that a name exists in the dictionary is the target's job, before `fill` is called,
//! with [`dictionary_query`].

use std::collections::BTreeMap;

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
}

/// Values available to a statement. A key present with `None` is a field the policy knows but
/// this alert did not carry: bound as NULL, never spliced.
pub type Values = BTreeMap<String, Option<String>>;

/// Fills `sql` for `dialect`. `identifiers` are the policy's declared DDL placeholders.
pub fn fill(
    sql_text: &str,
    dialect: Dialect,
    values: &Values,
    identifiers: &BTreeMap<String, IdentifierKind>,
) -> Result<FilledStatement, FillError> {
    let kind = sql::statement_kind(sql_text);
    let mut out = String::with_capacity(sql_text.len());
    let mut binds: Vec<(String, Option<String>)> = Vec::new();
    let mut cursor = 0;
    for placeholder in sql::placeholders(sql_text) {
        out.push_str(&sql_text[cursor..placeholder.span.start]);
        cursor = placeholder.span.end;
        let name = placeholder.name.to_lowercase();
        let value = values
            .get(&name)
            .or_else(|| values.iter().find(|(key, _)| key.eq_ignore_ascii_case(&name)).map(|(_, value)| value));
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
            (true, _) => {
                let position = binds.iter().position(|(bound, _)| *bound == name);
                let index = match position {
                    Some(index) => index,
                    None => {
                        binds.push((name.clone(), value.clone()));
                        binds.len() - 1
                    }
                };
                match dialect {
                    Dialect::Oracle => {
                        out.push(':');
                        out.push_str(&name);
                    }
                    Dialect::Postgres => out.push_str(&format!("${}", index + 1)),
                }
            }
            (false, Some(identifier_kind)) => {
                let Some(text) = value else { return Err(FillError::MissingValue { name }) };
                out.push_str(&render_identifier(dialect, *identifier_kind, &name, text)?);
            }
            (false, None) => return Err(FillError::UndeclaredIdentifier { name }),
        }
    }
    out.push_str(&sql_text[cursor..]);
    Ok(FilledStatement { sql: out, binds, kind })
}

/// Validates a value against its kind's grammar and writes it as the statement must see it.
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
        _ => {
            let bare = object_name(dialect, value).map_err(invalid)?;
            Ok(quoted_identifier(&bare))
        }
    }
}

/// Checks a dictionary name against the engine's grammar and returns it without quotes.
/// A name written in double quotes is taken as written; otherwise it must be a plain name.
pub fn object_name(dialect: Dialect, value: &str) -> Result<String, &'static str> {
    let max_bytes = match dialect {
        Dialect::Oracle => 128,
        Dialect::Postgres => 63,
    };
    if let Some(inner) = value.strip_prefix('"').and_then(|rest| rest.strip_suffix('"')) {
        if inner.is_empty() || inner.len() > max_bytes {
            return Err(match dialect {
                Dialect::Oracle => "an Oracle name is 1 to 128 bytes",
                Dialect::Postgres => "a PostgreSQL name is 1 to 63 bytes",
            });
        }
        if inner.contains('"') || inner.chars().any(|c| c.is_control()) {
            return Err("a quoted name has no double quote or control character inside");
        }
        return Ok(inner.to_owned());
    }
    if value.is_empty() || value.len() > max_bytes {
        return Err(match dialect {
            Dialect::Oracle => "an Oracle name is 1 to 128 bytes",
            Dialect::Postgres => "a PostgreSQL name is 1 to 63 bytes",
        });
    }
    let mut chars = value.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || (dialect == Dialect::Postgres && c == '_'));
    if !first_ok {
        return Err("a name starts with a letter");
    }
    let rest_ok =
        chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$' || (dialect == Dialect::Oracle && c == '#'));
    if !rest_ok {
        return Err("a name holds only letters, digits, _ and $ (and # on Oracle)");
    }
    Ok(value.to_owned())
}

/// `"name"`, with any inner quote doubled.
pub fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

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

/// The query that confirms a name of this kind exists and returns it as the dictionary spells
/// it, with one bind `:name` (`$1` on PostgreSQL). `None` for kinds that are not dictionary
/// objects (numbers, sessions, paths are checked elsewhere).
pub fn dictionary_query(dialect: Dialect, kind: IdentifierKind) -> Option<&'static str> {
    use IdentifierKind::*;
    match dialect {
        Dialect::Oracle => Some(match kind {
            Tablespace => {
                "SELECT tablespace_name FROM dba_tablespaces WHERE tablespace_name = UPPER(:name) OR tablespace_name = :name"
            }
            TempTablespace => {
                "SELECT tablespace_name FROM dba_tablespaces WHERE contents = 'TEMPORARY' AND (tablespace_name = UPPER(:name) OR tablespace_name = :name)"
            }
            Datafile => "SELECT file_name FROM dba_data_files WHERE file_name = :name",
            Tempfile => "SELECT file_name FROM dba_temp_files WHERE file_name = :name",
            User | Schema => "SELECT username FROM dba_users WHERE username = UPPER(:name) OR username = :name",
            Table => "SELECT table_name FROM dba_tables WHERE table_name = UPPER(:name) OR table_name = :name",
            Index => "SELECT index_name FROM dba_indexes WHERE index_name = UPPER(:name) OR index_name = :name",
            Sequence => {
                "SELECT sequence_name FROM dba_sequences WHERE sequence_name = UPPER(:name) OR sequence_name = :name"
            }
            Role => "SELECT role FROM dba_roles WHERE role = UPPER(:name) OR role = :name",
            Database => "SELECT name FROM v$database WHERE name = UPPER(:name) OR name = :name",
            Parameter => "SELECT name FROM v$parameter WHERE name = LOWER(:name)",
            Session | Number => return None,
        }),
        Dialect::Postgres => Some(match kind {
            Table => {
                "SELECT relname FROM pg_catalog.pg_class WHERE relkind IN ('r', 'p', 'm') AND (relname = lower($1) OR relname = $1) LIMIT 1"
            }
            Index => {
                "SELECT relname FROM pg_catalog.pg_class WHERE relkind IN ('i', 'I') AND (relname = lower($1) OR relname = $1) LIMIT 1"
            }
            Sequence => {
                "SELECT relname FROM pg_catalog.pg_class WHERE relkind = 'S' AND (relname = lower($1) OR relname = $1) LIMIT 1"
            }
            Schema => "SELECT nspname FROM pg_catalog.pg_namespace WHERE nspname = lower($1) OR nspname = $1 LIMIT 1",
            User | Role => "SELECT rolname FROM pg_catalog.pg_roles WHERE rolname = lower($1) OR rolname = $1 LIMIT 1",
            Database => "SELECT datname FROM pg_catalog.pg_database WHERE datname = lower($1) OR datname = $1 LIMIT 1",
            Parameter => "SELECT name FROM pg_catalog.pg_settings WHERE name = lower($1)",
            Tablespace | TempTablespace => {
                "SELECT spcname FROM pg_catalog.pg_tablespace WHERE spcname = lower($1) OR spcname = $1 LIMIT 1"
            }
            Datafile | Tempfile | Session | Number => return None,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let oracle = fill(sql, Dialect::Oracle, &v, &BTreeMap::new()).expect("fills");
        assert_eq!(oracle.sql, sql);
        assert_eq!(oracle.binds.len(), 3);
        let postgres = fill(sql, Dialect::Postgres, &v, &BTreeMap::new()).expect("fills");
        assert_eq!(postgres.sql, "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 AND d = $1");
        assert_eq!(postgres.binds[2], ("top_sid".to_owned(), Some("2".to_owned())));
    }

    #[test]
    fn hostile_values_never_change_query_text() {
        for hostile in HOSTILE {
            let v = values(&[("tbs", hostile)]);
            let filled =
                fill("SELECT 1 FROM t WHERE name = :tbs", Dialect::Postgres, &v, &BTreeMap::new()).expect("fills");
            assert_eq!(filled.sql, "SELECT 1 FROM t WHERE name = $1");
            assert_eq!(filled.binds[0].1.as_deref(), Some(*hostile));
        }
        let long = "A".repeat(10_000);
        let filled =
            fill("SELECT :x FROM dual", Dialect::Oracle, &values(&[("x", &long)]), &BTreeMap::new()).expect("fills");
        assert_eq!(filled.sql, "SELECT :x FROM dual");
    }

    #[test]
    fn hostile_values_are_refused_as_identifiers() {
        let declared = kinds(&[("tbs", IdentifierKind::Tablespace)]);
        for hostile in HOSTILE {
            let result = fill(
                "ALTER TABLESPACE :tbs ADD DATAFILE SIZE 1G",
                Dialect::Oracle,
                &values(&[("tbs", hostile)]),
                &declared,
            );
            assert!(matches!(result, Err(FillError::InvalidIdentifier { .. })), "{hostile:?} gave {result:?}");
        }
        let long = "A".repeat(129);
        assert!(fill("ALTER TABLESPACE :tbs ONLINE", Dialect::Oracle, &values(&[("tbs", &long)]), &declared).is_err());
    }

    #[test]
    fn ddl_splices_only_declared_validated_identifiers() {
        let declared = kinds(&[("tbs", IdentifierKind::Tablespace), ("file_name", IdentifierKind::Datafile)]);
        let filled = fill(
            "ALTER TABLESPACE :tbs DROP DATAFILE :file_name",
            Dialect::Oracle,
            &values(&[("tbs", "USERS"), ("file_name", "/u01/oradata/it's.dbf")]),
            &declared,
        )
        .expect("fills");
        assert_eq!(filled.sql, "ALTER TABLESPACE \"USERS\" DROP DATAFILE '/u01/oradata/it''s.dbf'");
        assert!(filled.binds.is_empty());
        let undeclared =
            fill("ALTER TABLESPACE :other ONLINE", Dialect::Oracle, &values(&[("other", "USERS")]), &declared);
        assert_eq!(undeclared, Err(FillError::UndeclaredIdentifier { name: "other".into() }));
    }

    #[test]
    fn a_missing_value_is_an_error_and_none_binds_null() {
        let result = fill("SELECT :a FROM dual", Dialect::Oracle, &Values::new(), &BTreeMap::new());
        assert_eq!(result, Err(FillError::MissingValue { name: "a".into() }));
        let mut known = Values::new();
        known.insert("sid".into(), None);
        let filled = fill(
            "SELECT 1 FROM v$session WHERE (:sid IS NULL OR sid = :sid)",
            Dialect::Oracle,
            &known,
            &BTreeMap::new(),
        )
        .expect("fills");
        assert_eq!(filled.binds, [("sid".to_owned(), None)]);
        let declared = kinds(&[("tbs", IdentifierKind::Tablespace)]);
        let mut missing = Values::new();
        missing.insert("tbs".into(), None);
        assert!(fill("ALTER TABLESPACE :tbs ONLINE", Dialect::Oracle, &missing, &declared).is_err());
    }

    #[test]
    fn sessions_numbers_and_quoted_literals() {
        let declared = kinds(&[("session", IdentifierKind::Session), ("max_value", IdentifierKind::Number)]);
        let filled = fill(
            "ALTER SYSTEM KILL SESSION :session IMMEDIATE",
            Dialect::Oracle,
            &values(&[("session", "123,4567,@2")]),
            &declared,
        )
        .expect("fills");
        assert_eq!(filled.sql, "ALTER SYSTEM KILL SESSION '123,4567,@2' IMMEDIATE");
        assert!(
            fill("ALTER SYSTEM KILL SESSION :session", Dialect::Oracle, &values(&[("session", "1,2' --")]), &declared)
                .is_err()
        );
        assert!(
            fill(
                "ALTER SEQUENCE s MAXVALUE :max_value",
                Dialect::Postgres,
                &values(&[("max_value", "1e9")]),
                &declared
            )
            .is_err()
        );
        let literal =
            fill("ALTER TABLESPACE x DROP DATAFILE ':path'", Dialect::Oracle, &values(&[("path", "a'b")]), &declared)
                .expect("fills");
        assert_eq!(literal.sql, "ALTER TABLESPACE x DROP DATAFILE 'a''b'");
        let bound =
            fill("SELECT * FROM t WHERE name = ':path'", Dialect::Postgres, &values(&[("path", "a'b")]), &declared)
                .expect("fills");
        assert_eq!(bound.sql, "SELECT * FROM t WHERE name = $1", "in a query the quoted placeholder is bound");
        assert_eq!(string_literal_for(Dialect::Postgres, r"C:\x'"), r"E'C:\\x'''");
        assert_eq!(string_literal_for(Dialect::Oracle, r"C:\x"), r"'C:\x'");
    }

    #[test]
    fn identifier_grammar_per_engine() {
        assert_eq!(object_name(Dialect::Oracle, "SYS$UMF#1"), Ok("SYS$UMF#1".into()));
        assert!(object_name(Dialect::Postgres, "a#b").is_err());
        assert_eq!(object_name(Dialect::Postgres, "_tmp"), Ok("_tmp".into()));
        assert!(object_name(Dialect::Oracle, "_tmp").is_err());
        assert!(object_name(Dialect::Postgres, &"a".repeat(64)).is_err());
        assert!(object_name(Dialect::Oracle, &"a".repeat(128)).is_ok());
        assert_eq!(object_name(Dialect::Oracle, "\"Mixed Case\""), Ok("Mixed Case".into()));
        assert!(object_name(Dialect::Oracle, "\"a\"\"b\"").is_err());
        assert_eq!(quoted_identifier("Mixed Case"), "\"Mixed Case\"");
    }

    #[test]
    fn every_object_kind_has_a_dictionary_query() {
        for (name, kind) in IdentifierKind::ALL {
            let oracle = dictionary_query(Dialect::Oracle, kind);
            assert_eq!(oracle.is_none(), matches!(kind, IdentifierKind::Session | IdentifierKind::Number), "{name}");
            if let Some(query) = oracle {
                assert_eq!(sql::statement_kind(query), StatementKind::Query);
                assert_eq!(
                    sql::placeholders(query).iter().map(|p| p.name.as_str()).collect::<Vec<_>>().first(),
                    Some(&"name")
                );
            }
        }
    }
}
