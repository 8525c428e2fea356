//! Reading SQL text without executing it: where its `:name` placeholders are, what kind of
//! statement it is, and how to drop a terminator the driver would reject.
//!
//! This is the only place that looks inside SQL text, and it does so with a tokenizer, not
//! regexes: a `:name` inside a string literal, a quoted identifier, a comment or a PostgreSQL
//! `::` cast is not a placeholder, and `:top` never eats the start of `:top_sid`.

use std::ops::Range;

/// A `:name` placeholder found in SQL text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placeholder {
    /// The name as written, without the colon.
    pub name: String,
    /// Byte range of `:name`, or of `':name'` when `as_literal`.
    pub span: Range<usize>,
    /// Written as `':name'` — a placeholder alone inside single quotes, which the reference
    /// format uses to mean "this value as a string literal".
    pub as_literal: bool,
}

/// What a statement can be asked to do with values, which decides how placeholders are filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// SELECT / WITH / VALUES / SHOW / EXPLAIN: read-only; placeholders are binds.
    Query,
    /// INSERT / UPDATE / DELETE / MERGE: placeholders are binds.
    Dml,
    /// An anonymous PL/SQL block or a procedure call: placeholders are binds.
    Block,
    /// Everything else (ALTER, CREATE, DROP, VACUUM, ANALYZE, …): cannot take binds, so
    /// placeholders must be declared identifiers.
    Ddl,
}

impl StatementKind {
    /// What the statement is, in words for an error message.
    pub fn describe(self) -> &'static str {
        match self {
            StatementKind::Query => "a query",
            StatementKind::Dml => "DML (INSERT/UPDATE/DELETE/MERGE)",
            StatementKind::Block => "a PL/SQL block or call",
            StatementKind::Ddl => "DDL or another statement that is not a query",
        }
    }

    pub fn takes_binds(self) -> bool {
        !matches!(self, StatementKind::Ddl)
    }
}

/// What a spliced placeholder names, which decides how it is validated, looked up in the
/// dictionary and written into DDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentifierKind {
    Tablespace,
    TempTablespace,
    Datafile,
    Tempfile,
    User,
    Schema,
    Table,
    Index,
    Sequence,
    Role,
    Database,
    Parameter,
    Session,
    Number,
}

impl IdentifierKind {
    /// Every kind with its name as a policy writes it: the one table names and kinds come from.
    pub const ALL: [(&'static str, IdentifierKind); 14] = [
        ("tablespace", IdentifierKind::Tablespace),
        ("temp_tablespace", IdentifierKind::TempTablespace),
        ("datafile", IdentifierKind::Datafile),
        ("tempfile", IdentifierKind::Tempfile),
        ("user", IdentifierKind::User),
        ("schema", IdentifierKind::Schema),
        ("table", IdentifierKind::Table),
        ("index", IdentifierKind::Index),
        ("sequence", IdentifierKind::Sequence),
        ("role", IdentifierKind::Role),
        ("database", IdentifierKind::Database),
        ("parameter", IdentifierKind::Parameter),
        ("session", IdentifierKind::Session),
        ("number", IdentifierKind::Number),
    ];

    pub fn parse(text: &str) -> Option<IdentifierKind> {
        let wanted = text.trim().to_lowercase();
        Self::ALL.iter().find(|(name, _)| *name == wanted).map(|(_, kind)| *kind)
    }

    /// The kind's name as a policy writes it.
    pub fn name(self) -> &'static str {
        Self::ALL.iter().find(|(_, kind)| *kind == self).map_or("identifier", |(name, _)| name)
    }

    /// All names, for error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        Self::ALL.iter().map(|(name, _)| *name)
    }

    /// File paths, session ids and numbers are written as literals, not quoted names.
    pub fn is_literal(self) -> bool {
        matches!(
            self,
            IdentifierKind::Datafile | IdentifierKind::Tempfile | IdentifierKind::Session | IdentifierKind::Number
        )
    }
}

/// Finds every placeholder in `sql`, in order.
pub fn placeholders(sql: &str) -> Vec<Placeholder> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'\'' => {
                let end = skip_quoted(bytes, index, b'\'');
                if let Some(placeholder) = literal_placeholder(sql, index..end) {
                    found.push(placeholder);
                }
                index = end;
            }
            b'"' => index = skip_quoted(bytes, index, b'"'),
            b'-' if bytes.get(index + 1) == Some(&b'-') => {
                index = sql[index..].find('\n').map_or(bytes.len(), |offset| index + offset + 1);
            }
            b'/' if bytes.get(index + 1) == Some(&b'*') => {
                index = sql[index + 2..].find("*/").map_or(bytes.len(), |offset| index + 2 + offset + 2);
            }
            b'$' => index = skip_dollar_quoted(sql, index),
            b'q' | b'Q' if bytes.get(index + 1) == Some(&b'\'') && !is_ident_byte(before(bytes, index)) => {
                index = skip_q_quote(bytes, index);
            }
            b':' if bytes.get(index + 1) == Some(&b':') => index += 2,
            b':' if before(bytes, index) != Some(b':') => {
                let start = index + 1;
                let end = start + ident_len(&bytes[start..]);
                if end > start && (bytes[start].is_ascii_alphabetic() || bytes[start] == b'_') {
                    found.push(Placeholder { name: sql[start..end].to_owned(), span: index..end, as_literal: false });
                    index = end;
                } else {
                    index += 1;
                }
            }
            _ => index += 1,
        }
    }
    found
}

/// Classifies a statement by its first keyword, comments skipped.
pub fn statement_kind(sql: &str) -> StatementKind {
    let first = first_keyword(sql).to_ascii_uppercase();
    match first.as_str() {
        "SELECT" | "WITH" | "VALUES" | "SHOW" | "EXPLAIN" | "TABLE" => StatementKind::Query,
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" => StatementKind::Dml,
        "BEGIN" | "DECLARE" | "CALL" | "EXEC" | "EXECUTE" | "DO" => StatementKind::Block,
        _ => StatementKind::Ddl,
    }
}

/// Whether the text is a PL/SQL block, which keeps its terminating `;`.
pub fn is_plsql_block(sql: &str) -> bool {
    matches!(first_keyword(sql).to_ascii_uppercase().as_str(), "BEGIN" | "DECLARE")
}

/// Trims whitespace and drops a trailing `;` (and a SQL*Plus `/` line) from plain SQL; keeps
/// the `;` of a PL/SQL block, which needs it.
pub fn strip_terminator(sql: &str) -> String {
    let mut text = sql.trim();
    if let Some(without_slash) = text.strip_suffix('/')
        && without_slash.ends_with('\n')
    {
        text = without_slash.trim_end();
    }
    if is_plsql_block(text) {
        return text.to_owned();
    }
    text.trim_end_matches(';').trim_end().to_owned()
}

/// The first word of the statement, after comments and opening parentheses.
pub fn first_keyword(sql: &str) -> &str {
    let mut rest = sql;
    loop {
        rest = rest.trim_start().trim_start_matches('(').trim_start();
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.find('\n').map_or("", |offset| &after[offset + 1..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |offset| &after[offset + 2..]);
        } else {
            break;
        }
    }
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(rest.len());
    &rest[..end]
}

fn before(bytes: &[u8], index: usize) -> Option<u8> {
    index.checked_sub(1).map(|previous| bytes[previous])
}

fn is_ident_byte(byte: Option<u8>) -> bool {
    byte.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'#')
}

fn ident_len(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count()
}

/// Index just past a quoted run opened at `start`; a doubled quote is an escaped quote.
fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut index = start + 1;
    while index < bytes.len() {
        if bytes[index] == quote {
            if bytes.get(index + 1) == Some(&quote) {
                index += 2;
                continue;
            }
            return index + 1;
        }
        index += 1;
    }
    bytes.len()
}

/// `':name'`: a string literal whose whole content is one placeholder.
fn literal_placeholder(sql: &str, span: Range<usize>) -> Option<Placeholder> {
    let inner = sql.get(span.start + 1..span.end.checked_sub(1)?)?;
    let name = inner.strip_prefix(':')?;
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then(|| Placeholder { name: name.to_owned(), span, as_literal: true })
}

/// PostgreSQL dollar quoting: `$$…$$` or `$tag$…$tag$`. A `$1` parameter is not a quote.
fn skip_dollar_quoted(sql: &str, start: usize) -> usize {
    let rest = &sql[start + 1..];
    let tag_len = rest.find('$');
    let Some(tag_len) = tag_len else { return start + 1 };
    let tag = &rest[..tag_len];
    if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || tag.starts_with(|c: char| c.is_ascii_digit()) {
        return start + 1;
    }
    let delimiter = format!("${tag}$");
    let body_start = start + delimiter.len();
    sql[body_start..].find(&delimiter).map_or(sql.len(), |offset| body_start + offset + delimiter.len())
}

/// Oracle alternative quoting: `q'[ … ]'`, `q'{ … }'`, `q'! … !'`.
fn skip_q_quote(bytes: &[u8], start: usize) -> usize {
    q_quote_end(bytes, start).unwrap_or(bytes.len())
}

/// The index just past an Oracle `q'…'` literal opened at `start`: the closing delimiter
/// (the opening one's pair for brackets) followed by a quote ends it. `None` if unterminated.
pub(crate) fn q_quote_end(bytes: &[u8], start: usize) -> Option<usize> {
    let open = *bytes.get(start + 2)?;
    let close = match open {
        b'[' => b']',
        b'{' => b'}',
        b'(' => b')',
        b'<' => b'>',
        other => other,
    };
    let mut index = start + 3;
    while index + 1 < bytes.len() {
        if bytes[index] == close && bytes[index + 1] == b'\'' {
            return Some(index + 2);
        }
        index += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        placeholders(sql).into_iter().map(|p| p.name).collect()
    }

    #[test]
    fn finds_binds_and_ignores_quotes_comments_and_casts() {
        let sql = "SELECT 'x :not_me', \"A:B\", x::text, :tbs -- :comment\n /* :block */ FROM t WHERE a = :top AND b = :top_sid";
        assert_eq!(names(sql), ["tbs", "top", "top_sid"]);
    }

    #[test]
    fn literal_placeholder_is_marked() {
        let found = placeholders("ALTER TABLESPACE :tbs DROP DATAFILE ':new_datafile_path'");
        assert_eq!(found.len(), 2);
        assert!(!found[0].as_literal);
        assert!(found[1].as_literal);
        assert_eq!(found[1].name, "new_datafile_path");
        assert_eq!(found[1].span, 36..56);
    }

    #[test]
    fn dollar_and_q_quotes_are_skipped() {
        assert_eq!(names("DO $$ BEGIN PERFORM :x; END $$; SELECT $1, :y"), ["y"]);
        assert_eq!(names("SELECT q'[it's :x]' FROM dual WHERE a = :y"), ["y"]);
        assert_eq!(names("BEGIN v := :val; END;"), ["val"]);
    }

    #[test]
    fn statement_kinds() {
        assert_eq!(statement_kind("  -- c\n select 1"), StatementKind::Query);
        assert_eq!(statement_kind("WITH x AS (SELECT 1) SELECT * FROM x"), StatementKind::Query);
        assert_eq!(statement_kind("delete from t where a = :a"), StatementKind::Dml);
        assert_eq!(statement_kind("BEGIN dbms_stats.gather_table_stats(:o, :t); END;"), StatementKind::Block);
        assert_eq!(statement_kind("ALTER TABLESPACE users ADD DATAFILE SIZE 1G"), StatementKind::Ddl);
        assert_eq!(statement_kind("VACUUM (ANALYZE) t"), StatementKind::Ddl);
    }

    #[test]
    fn identifier_kinds_round_trip() {
        for (name, kind) in IdentifierKind::ALL {
            assert_eq!(IdentifierKind::parse(name), Some(kind), "{name}");
            assert_eq!(kind.name(), name);
        }
        assert_eq!(IdentifierKind::parse("Temp_Tablespace"), Some(IdentifierKind::TempTablespace));
        assert_eq!(IdentifierKind::parse("widget"), None);
    }

    #[test]
    fn terminators() {
        assert_eq!(strip_terminator("SELECT 1 FROM dual;\n"), "SELECT 1 FROM dual");
        assert_eq!(strip_terminator("BEGIN NULL; END;\n/\n"), "BEGIN NULL; END;");
        assert_eq!(
            strip_terminator("ALTER SYSTEM KILL SESSION :s IMMEDIATE ;"),
            "ALTER SYSTEM KILL SESSION :s IMMEDIATE"
        );
    }
}
