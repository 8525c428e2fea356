//! Reading policy SQL for the targets: where its `:name` placeholders are, what kind of
//! statement it is, and how to drop a terminator the driver would reject.
//!
//! The reading itself is [`crate::sql`]'s one tokenizer, the same that the read-only gate and
//! blast radius use: a `:name` inside a string literal, a quoted identifier, a comment or a
//! PostgreSQL `::` cast is not a placeholder, and `:top` never eats the start of `:top_sid`.

use std::ops::Range;

pub use crate::domain::IdentifierKind;
pub use crate::sql::StatementKind;
use crate::sql::{Dialect, Token, lex, statement};

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

/// Finds every placeholder in `sql`, in order.
pub fn placeholders(sql: &str) -> Vec<Placeholder> {
    let lexed = lex(sql, Dialect::Generic);
    let mut found = Vec::new();
    for (token, span) in lexed.tokens.iter().zip(&lexed.spans) {
        match token {
            Token::Placeholder(name) => {
                found.push(Placeholder { name: name.clone(), span: span.clone(), as_literal: false })
            }
            Token::Str(content) if sql.as_bytes().get(span.start) == Some(&b'\'') => {
                let name = content.strip_prefix(':').unwrap_or_default();
                let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && sql.get(span.clone()) == Some(&format!("':{name}'"));
                if valid {
                    found.push(Placeholder { name: name.to_owned(), span: span.clone(), as_literal: true });
                }
            }
            _ => {}
        }
    }
    found
}

/// Classifies a statement by the shared reading ([`crate::sql::statement::kind`]).
pub fn statement_kind(sql: &str) -> StatementKind {
    statement::kind(&lex(sql, Dialect::Generic).tokens)
}

/// Whether the text is a PL/SQL block, which keeps its terminating `;`.
pub fn is_plsql_block(sql: &str) -> bool {
    let tokens = lex(sql, Dialect::Generic).tokens;
    statement::is_block_start(&tokens) && matches!(statement::leading_word(&tokens).as_str(), "BEGIN" | "DECLARE")
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

/// The first word of the statement, after comments and opening parentheses; empty when there
/// is none.
pub fn first_keyword(sql: &str) -> &str {
    let lexed = lex(sql, Dialect::Generic);
    let first = lexed.tokens.iter().position(|t| *t != Token::Open);
    match first {
        Some(index) if matches!(lexed.tokens[index], Token::Word(_)) => {
            sql.get(lexed.spans[index].clone()).unwrap_or("")
        }
        _ => "",
    }
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
    fn first_keywords() {
        assert_eq!(first_keyword(" -- c\n ( select 1)"), "select");
        assert_eq!(first_keyword("/* only */"), "");
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
