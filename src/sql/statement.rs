//! What kind of statement a text is, read from its tokens. The read-only gate, the filling of
//! placeholders and the blast-radius check all ask this one function, so they cannot disagree
//! about whether a text is a query.

use super::lexer::Token;

/// What a statement can be asked to do with values, which decides how placeholders are filled
/// and whether it may run on the read-only path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StatementKind {
    /// SELECT / WITH / VALUES / SHOW / TABLE, and EXPLAIN of one: placeholders are binds.
    Query,
    /// INSERT / UPDATE / DELETE / MERGE, a query holding one (`WITH d AS (DELETE …) SELECT`),
    /// and EXPLAIN of one: placeholders are binds.
    Dml,
    /// An anonymous PL/SQL block, a `DO` block or a procedure call: placeholders are binds.
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

/// The kind of the (first) statement in `tokens`.
pub fn kind(tokens: &[Token]) -> StatementKind {
    if is_block_start(tokens) {
        return StatementKind::Block;
    }
    let statement = tokens.split(|t| *t == Token::Semi).find(|s| !s.is_empty()).unwrap_or_default();
    let lead = statement.iter().take_while(|t| **t == Token::Open).count();
    let body = &statement[lead..];
    match leading_word(body).as_str() {
        "SELECT" | "WITH" | "VALUES" | "TABLE" | "SHOW" => {
            if nested_dml(body).is_empty() {
                StatementKind::Query
            } else {
                StatementKind::Dml
            }
        }
        "INSERT" | "UPDATE" | "DELETE" | "MERGE" => StatementKind::Dml,
        "CALL" | "EXEC" | "EXECUTE" => StatementKind::Block,
        "EXPLAIN" => match explained(body) {
            Some(index) => kind(&body[index..]),
            None => StatementKind::Ddl,
        },
        _ => StatementKind::Ddl,
    }
}

/// The first word of a statement, upper-cased; empty when it does not start with a word.
pub fn leading_word(tokens: &[Token]) -> String {
    tokens.first().and_then(Token::word).unwrap_or_default()
}

/// Where the statement an `EXPLAIN [ANALYZE] [(options)] [PLAN FOR]` explains starts.
pub fn explained(tokens: &[Token]) -> Option<usize> {
    tokens.iter().position(|t| {
        matches!(
            t.word().as_deref(),
            Some("SELECT" | "WITH" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "CREATE" | "VALUES" | "TABLE")
        )
    })
}

/// Whether the text opens a block: `DECLARE …`, `BEGIN …` (but not PostgreSQL's `BEGIN;`,
/// `BEGIN TRANSACTION`, `BEGIN WORK`, `BEGIN ISOLATION …`, which start a transaction) or `DO`.
pub fn is_block_start(tokens: &[Token]) -> bool {
    let first = tokens.first().and_then(Token::word).unwrap_or_default();
    let second = tokens.get(1);
    match first.as_str() {
        "DECLARE" | "DO" => true,
        "BEGIN" => {
            !matches!(second, None | Some(Token::Semi))
                && !second.is_some_and(|t| t.is_word("TRANSACTION") || t.is_word("WORK") || t.is_word("ISOLATION"))
        }
        _ => false,
    }
}

/// Data-modifying statements nested in another one (PostgreSQL `WITH d AS (DELETE …) SELECT`,
/// `INSERT … SELECT` aside): the index of each nested INSERT/UPDATE/DELETE/MERGE that opens a
/// parenthesised statement. `FOR UPDATE`, `ON DELETE CASCADE` and GRANT lists are not.
pub fn nested_dml(tokens: &[Token]) -> Vec<usize> {
    tokens
        .iter()
        .enumerate()
        .skip(1)
        .filter(|(index, token)| {
            token.word().is_some_and(|w| matches!(w.as_str(), "UPDATE" | "DELETE" | "INSERT" | "MERGE"))
                && (tokens[index - 1].is_word("AS") || tokens[index - 1] == Token::Open)
        })
        .map(|(index, _)| index)
        .collect()
}

/// Paren depth just before `index`.
pub fn depth_at(tokens: &[Token], index: usize) -> i32 {
    tokens[..index].iter().fold(0, |depth, t| match t {
        Token::Open => depth + 1,
        Token::Close => depth - 1,
        _ => depth,
    })
}

/// The statements of a text that is not a block, split at `;`, empty ones dropped.
pub fn statements(tokens: &[Token]) -> Vec<&[Token]> {
    tokens.split(|t| *t == Token::Semi).filter(|s| !s.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{Dialect, lex};

    fn of(sql: &str) -> StatementKind {
        kind(&lex(sql, Dialect::Generic).tokens)
    }

    #[test]
    fn kinds() {
        assert_eq!(of("  -- c\n select 1"), StatementKind::Query);
        assert_eq!(of("(SELECT 1) UNION (SELECT 2)"), StatementKind::Query);
        assert_eq!(of("WITH x AS (SELECT 1) SELECT * FROM x"), StatementKind::Query);
        assert_eq!(of("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d"), StatementKind::Dml);
        assert_eq!(of("EXPLAIN ANALYZE DELETE FROM t"), StatementKind::Dml);
        assert_eq!(of("EXPLAIN (ANALYZE, BUFFERS) SELECT 1"), StatementKind::Query);
        assert_eq!(of("delete from t where a = :a"), StatementKind::Dml);
        assert_eq!(of("BEGIN dbms_stats.gather_table_stats(:o, :t); END;"), StatementKind::Block);
        assert_eq!(of("BEGIN;"), StatementKind::Ddl);
        assert_eq!(of("ALTER TABLESPACE users ADD DATAFILE SIZE 1G"), StatementKind::Ddl);
        assert_eq!(of("VACUUM (ANALYZE) t"), StatementKind::Ddl);
        assert_eq!(of("SELECT * FROM t FOR UPDATE"), StatementKind::Query);
    }
}
