//! The one tokenizer for SQL text. Comments, string literals (`'…'`, PostgreSQL `E'…'` and
//! `$tag$…$tag$`, Oracle `q'[…]'`), quoted identifiers and bind markers are single tokens that
//! never look like keywords, so a `DROP` in a comment or a `;` in a literal means nothing.
//!
//! The dialects differ where a reader that guessed wrong would see code the server does not (or
//! miss code it runs): PostgreSQL nests `/* */` comments and reads backslash escapes in `E'…'`;
//! Oracle does neither but has `q'…'`. [`Dialect::Generic`] is the reading used where the engine
//! is not known (policy text): both kinds of alternative quote, no nesting, no escapes.

use std::ops::Range;

/// Which server's reading of the text to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Oracle,
    /// No engine known: `$tag$` and `q'…'` both quote, comments do not nest, `E'…'` has no
    /// escapes. What policy text is read with.
    Generic,
}

/// One lexical token. Comments and whitespace produce none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    /// A bare word (keyword or identifier), upper-cased.
    Word(String),
    /// A `"quoted identifier"`, as written without the quotes (`""` unescaped).
    Quoted(String),
    /// A string literal's content, unescaped (`''` → `'`), `E`/`N`/`q` prefixes dropped.
    Str(String),
    /// A `$tag$ … $tag$` body (PostgreSQL).
    Dollar(String),
    Number(String),
    /// A `:name` bind marker, the name as written.
    Placeholder(String),
    /// A PostgreSQL `$1` positional parameter.
    Positional(String),
    Semi,
    Open,
    Close,
    /// `:=` (PL/SQL assignment).
    Assign,
    /// `::` (PostgreSQL cast).
    Cast,
    Punct(char),
}

impl Token {
    /// The word, upper-cased, when the token is a bare word.
    pub fn word(&self) -> Option<String> {
        match self {
            Token::Word(word) => Some(word.clone()),
            _ => None,
        }
    }

    pub fn is_word(&self, wanted: &str) -> bool {
        matches!(self, Token::Word(word) if word == wanted)
    }

    /// The name a word or quoted identifier stands for, lower-cased: what a function or package
    /// name is compared by. Quoted names are folded too, so `"PG_TERMINATE_BACKEND"` and
    /// `"DBMS_LOCK"` are recognised (refusing too much is safe; missing one is not).
    pub fn name(&self) -> Option<String> {
        match self {
            Token::Word(word) | Token::Quoted(word) => Some(word.to_lowercase()),
            _ => None,
        }
    }

    /// The token as a DBA would recognise it in a message.
    pub fn describe(&self) -> String {
        match self {
            Token::Word(word) => word.clone(),
            Token::Quoted(name) => format!("\"{name}\""),
            Token::Str(_) => "'…'".to_owned(),
            Token::Dollar(_) => "$$…$$".to_owned(),
            Token::Number(number) => number.clone(),
            Token::Placeholder(name) => format!(":{name}"),
            Token::Positional(number) => format!("${number}"),
            Token::Semi => ";".to_owned(),
            Token::Open => "(".to_owned(),
            Token::Close => ")".to_owned(),
            Token::Assign => ":=".to_owned(),
            Token::Cast => "::".to_owned(),
            Token::Punct(c) => c.to_string(),
        }
    }
}

/// A text read into tokens, each with the byte range it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexed {
    pub tokens: Vec<Token>,
    /// `spans[i]` is where `tokens[i]` is in the text.
    pub spans: Vec<Range<usize>>,
    /// What was left open at the end of the text, if anything: such text cannot be read with
    /// confidence.
    pub unterminated: Option<&'static str>,
    /// The text holds something PostgreSQL and Oracle read differently: a `/*` inside a
    /// comment (PostgreSQL nests them) or a backslash in an `E'…'` literal (PostgreSQL escapes).
    /// A reader that does not know the engine must not trust such text.
    pub ambiguous: bool,
}

/// Reads `sql` into tokens the way `dialect`'s server would.
pub fn lex(sql: &str, dialect: Dialect) -> Lexed {
    let bytes = sql.as_bytes();
    let mut out = Lexed { tokens: Vec::new(), spans: Vec::new(), unterminated: None, ambiguous: false };
    let push = |out: &mut Lexed, token: Token, span: Range<usize>| {
        out.tokens.push(token);
        out.spans.push(span);
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let next = bytes.get(i + 1).copied();
        match b {
            _ if b.is_ascii_whitespace() => i += 1,
            b'-' if next == Some(b'-') => {
                i = line_comment_end(sql, i, dialect, &mut out);
            }
            b'/' if next == Some(b'*') => match comment_end(bytes, i, dialect == Dialect::Postgres) {
                Some(end) => {
                    out.ambiguous |= sql[i + 2..end - 2].contains("/*");
                    i = end;
                }
                None => {
                    out.unterminated = Some("a /* comment is never closed");
                    i = bytes.len();
                }
            },
            b'\'' => {
                let (end, content) = string_end(sql, i, false);
                if end.is_none() {
                    out.unterminated = Some("a string literal is never closed");
                }
                let end = end.unwrap_or(bytes.len());
                push(&mut out, Token::Str(content), i..end);
                i = end;
            }
            b'"' => {
                let (end, closed) = quoted_end(bytes, i, b'"');
                if !closed {
                    out.unterminated = Some("a quoted identifier is never closed");
                }
                let content = sql.get(i + 1..end.saturating_sub(1).max(i + 1)).unwrap_or_default();
                push(&mut out, Token::Quoted(content.replace("\"\"", "\"")), i..end);
                i = end;
            }
            // Oracle `q'…'` and `nq'…'`.
            b'q' | b'Q' | b'n' | b'N' if dialect != Dialect::Postgres && !ident_byte(before(bytes, i)) => {
                let quote_at = if matches!(b, b'n' | b'N') && matches!(next, Some(b'q' | b'Q')) { i + 1 } else { i };
                if matches!(bytes[quote_at], b'q' | b'Q') && bytes.get(quote_at + 1) == Some(&b'\'') {
                    match q_quote_end(bytes, quote_at) {
                        Some(end) => {
                            let content = sql.get(quote_at + 3..end - 2).unwrap_or_default().to_owned();
                            push(&mut out, Token::Str(content), i..end);
                            i = end;
                        }
                        None => {
                            out.unterminated = Some("a q'…' literal is never closed");
                            i = bytes.len();
                        }
                    }
                } else {
                    i = word(sql, i, &mut out);
                }
            }
            // PostgreSQL `E'…'`: backslash escapes, so `E'\''` is one quote, not the end.
            b'e' | b'E' if dialect == Dialect::Postgres && next == Some(b'\'') && !ident_byte(before(bytes, i)) => {
                let (end, content) = string_end(sql, i + 1, true);
                out.ambiguous |= sql[i..end.unwrap_or(bytes.len())].contains('\\');
                if end.is_none() {
                    out.unterminated = Some("a string literal is never closed");
                }
                let end = end.unwrap_or(bytes.len());
                push(&mut out, Token::Str(content), i..end);
                i = end;
            }
            b'$' if dialect != Dialect::Oracle && dollar_tag(sql, i).is_some() => {
                let tag_len = dollar_tag(sql, i).unwrap_or(2);
                let tag = &sql[i..i + tag_len];
                match sql[i + tag_len..].find(tag) {
                    Some(offset) => {
                        let body = sql[i + tag_len..i + tag_len + offset].to_owned();
                        let end = i + tag_len + offset + tag_len;
                        push(&mut out, Token::Dollar(body), i..end);
                        i = end;
                    }
                    None => {
                        out.unterminated = Some("a dollar-quoted body is never closed");
                        i = bytes.len();
                    }
                }
            }
            b'$' if next.is_some_and(|c| c.is_ascii_digit()) => {
                let end = i + 1 + bytes[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                push(&mut out, Token::Positional(sql[i + 1..end].to_owned()), i..end);
                i = end;
            }
            b':' if next == Some(b'=') => {
                push(&mut out, Token::Assign, i..i + 2);
                i += 2;
            }
            b':' if next == Some(b':') => {
                push(&mut out, Token::Cast, i..i + 2);
                i += 2;
            }
            b':' if next.is_some_and(|c| c.is_ascii_alphabetic() || c == b'_') => {
                let end =
                    i + 1 + bytes[i + 1..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_').count();
                push(&mut out, Token::Placeholder(sql[i + 1..end].to_owned()), i..end);
                i = end;
            }
            b';' => {
                push(&mut out, Token::Semi, i..i + 1);
                i += 1;
            }
            b'(' => {
                push(&mut out, Token::Open, i..i + 1);
                i += 1;
            }
            b')' => {
                push(&mut out, Token::Close, i..i + 1);
                i += 1;
            }
            _ if b.is_ascii_digit() => {
                let end = i + bytes[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'.').count();
                push(&mut out, Token::Number(sql[i..end].to_owned()), i..end);
                i = end;
            }
            _ if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 => i = word(sql, i, &mut out),
            _ => {
                let c = sql[i..].chars().next().unwrap_or(' ');
                let end = i + c.len_utf8().max(1);
                push(&mut out, Token::Punct(c), i..end);
                i = end;
            }
        }
    }
    out
}

/// Reads the word starting at `start` (a letter, `_` or a non-ASCII character) and returns the
/// index just past it.
fn word(sql: &str, start: usize, out: &mut Lexed) -> usize {
    let end = start
        + sql[start..]
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '$' | '#')))
            .map_or(sql.len() - start, |(offset, _)| offset);
    if end == start {
        let c = sql[start..].chars().next().unwrap_or(' ');
        let end = start + c.len_utf8().max(1);
        out.tokens.push(Token::Punct(c));
        out.spans.push(start..end);
        return end;
    }
    // `N'…'` (national) and, outside PostgreSQL's reading, `E'…'`: the prefix joins the string.
    let text = &sql[start..end];
    if sql.as_bytes().get(end) == Some(&b'\'') && (text.eq_ignore_ascii_case("n") || text.eq_ignore_ascii_case("e")) {
        let (close, content) = string_end(sql, end, false);
        if close.is_none() {
            out.unterminated = Some("a string literal is never closed");
        }
        let close = close.unwrap_or(sql.len());
        out.ambiguous |= text.eq_ignore_ascii_case("e") && content.contains('\\');
        out.tokens.push(Token::Str(content));
        out.spans.push(start..close);
        return close;
    }
    out.tokens.push(Token::Word(text.to_uppercase()));
    out.spans.push(start..end);
    end
}

/// The index just past a `--` comment opened at `start`. PostgreSQL ends it at a line feed or
/// a carriage return (`non_newline [^\n\r]` in its scanner), so a lone CR there ends the comment
/// and what follows is code: `SELECT 1 --\r, pg_terminate_backend(1)` runs the call. Read up to
/// the line feed only, that call hid in the comment and passed the read-only gate. Oracle and a
/// reader that does not know the engine end it at the line feed, but a lone CR inside is text
/// servers may read either way: marked ambiguous, and on Oracle unreadable (refused).
fn line_comment_end(sql: &str, start: usize, dialect: Dialect, out: &mut Lexed) -> usize {
    let rest = &sql.as_bytes()[start..];
    if dialect == Dialect::Postgres {
        return rest.iter().position(|b| matches!(b, b'\n' | b'\r')).map_or(sql.len(), |offset| start + offset + 1);
    }
    let end = rest.iter().position(|b| *b == b'\n').map_or(sql.len(), |offset| start + offset + 1);
    let comment = &sql.as_bytes()[start..end];
    let lone_cr = comment.iter().enumerate().any(|(index, b)| *b == b'\r' && comment.get(index + 1) != Some(&b'\n'));
    if lone_cr {
        out.ambiguous = true;
        if dialect == Dialect::Oracle {
            out.unterminated = Some("a -- comment holds a carriage return that does not end its line");
        }
    }
    end
}

fn before(bytes: &[u8], index: usize) -> Option<u8> {
    index.checked_sub(1).map(|previous| bytes[previous])
}

fn ident_byte(byte: Option<u8>) -> bool {
    byte.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b == b'#' || b >= 0x80)
}

/// The end of a `/* */` comment opened at `start`; PostgreSQL nests them, Oracle does not.
fn comment_end(bytes: &[u8], start: usize, nested: bool) -> Option<usize> {
    let mut depth = 1usize;
    let mut i = start + 2;
    while i + 1 < bytes.len() {
        if bytes[i] == b'*' && bytes[i + 1] == b'/' {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return Some(i);
            }
        } else if nested && bytes[i] == b'/' && bytes[i + 1] == b'*' {
            depth += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    None
}

/// A `'…'` literal opened at `start`: its end (`None` if never closed) and unescaped content.
/// `backslash` reads `\x` as an escaped character (PostgreSQL `E'…'`).
fn string_end(sql: &str, start: usize, backslash: bool) -> (Option<usize>, String) {
    let bytes = sql.as_bytes();
    let mut content = Vec::new();
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslash => {
                if let Some(escaped) = bytes.get(i + 1) {
                    content.push(*escaped);
                }
                i += 2;
            }
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => {
                content.push(b'\'');
                i += 2;
            }
            b'\'' => return (Some(i + 1), String::from_utf8_lossy(&content).into_owned()),
            other => {
                content.push(other);
                i += 1;
            }
        }
    }
    (None, String::from_utf8_lossy(&content).into_owned())
}

/// End (exclusive) of a quoted run opened at `start`, and whether it was closed. A doubled
/// quote is an escaped quote.
fn quoted_end(bytes: &[u8], start: usize, quote: u8) -> (usize, bool) {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return (i + 1, true);
        }
        i += 1;
    }
    (bytes.len(), false)
}

/// Length of a `$tag$` opener at `start` (`$$` or `$name$`), if there is one. `$1` is not.
fn dollar_tag(sql: &str, start: usize) -> Option<usize> {
    if ident_byte(before(sql.as_bytes(), start)) {
        // `a$b$` is an identifier with dollars in it, not a quote.
        return None;
    }
    let rest = &sql.as_bytes()[start + 1..];
    let name_len = rest.iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_').count();
    if name_len > 0 && rest[0].is_ascii_digit() {
        return None;
    }
    (rest.get(name_len) == Some(&b'$')).then_some(name_len + 2)
}

/// The index just past an Oracle `q'…'` literal opened at `start` (the `q`): the closing
/// delimiter (the opening one's pair for brackets) followed by a quote ends it. `None` if
/// unterminated.
fn q_quote_end(bytes: &[u8], start: usize) -> Option<usize> {
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

    fn tokens(sql: &str, dialect: Dialect) -> Vec<Token> {
        lex(sql, dialect).tokens
    }

    fn words(sql: &str, dialect: Dialect) -> Vec<String> {
        tokens(sql, dialect).iter().filter_map(Token::word).collect()
    }

    #[test]
    fn keywords_identifiers_quoted_and_literals() {
        let found = tokens("select \"Odd\"\"Name\", 'it''s', 42, a.b from t", Dialect::Generic);
        assert_eq!(
            found,
            [
                Token::Word("SELECT".into()),
                Token::Quoted("Odd\"Name".into()),
                Token::Punct(','),
                Token::Str("it's".into()),
                Token::Punct(','),
                Token::Number("42".into()),
                Token::Punct(','),
                Token::Word("A".into()),
                Token::Punct('.'),
                Token::Word("B".into()),
                Token::Word("FROM".into()),
                Token::Word("T".into()),
            ]
        );
    }

    #[test]
    fn bind_markers_casts_and_assignment() {
        let found = tokens("v := :top_sid::int + $1", Dialect::Postgres);
        assert_eq!(
            found,
            [
                Token::Word("V".into()),
                Token::Assign,
                Token::Placeholder("top_sid".into()),
                Token::Cast,
                Token::Word("INT".into()),
                Token::Punct('+'),
                Token::Positional("1".into()),
            ]
        );
    }

    #[test]
    fn comments_produce_nothing_and_nest_only_on_postgres() {
        assert_eq!(words("-- DROP\nSELECT /* DROP */ 1", Dialect::Oracle), ["SELECT"]);
        let nested = "SELECT 1 /* outer /* inner */ pg_terminate_backend(1) */";
        assert_eq!(words(nested, Dialect::Postgres), ["SELECT"]);
        assert_eq!(words(nested, Dialect::Oracle), ["SELECT", "PG_TERMINATE_BACKEND"]);
        assert!(lex("SELECT 1 /* open", Dialect::Generic).unterminated.is_some());
        assert!(lex(nested, Dialect::Generic).ambiguous);
        assert!(lex(r"SELECT E'\''", Dialect::Generic).ambiguous);
        assert!(!lex("SELECT 'a' /* b */", Dialect::Generic).ambiguous);
    }

    #[test]
    fn dollar_quotes_on_postgres_and_q_quotes_on_oracle() {
        let pg = tokens("DO $body$ BEGIN PERFORM 1; END $body$", Dialect::Postgres);
        assert_eq!(pg, [Token::Word("DO".into()), Token::Dollar(" BEGIN PERFORM 1; END ".into())]);
        let oracle = tokens("SELECT q'[it's; DROP]', nq'{x}' FROM dual", Dialect::Oracle);
        assert_eq!(oracle[1], Token::Str("it's; DROP".into()));
        assert_eq!(oracle[3], Token::Str("x".into()));
        assert_eq!(
            words("SELECT v$session.sid FROM v$session", Dialect::Postgres),
            ["SELECT", "V$SESSION", "SID", "FROM", "V$SESSION"]
        );
    }

    #[test]
    fn postgres_escape_strings_read_backslashes() {
        // PostgreSQL reads `E'\''` as one quote: the call after it is code, not literal text.
        let sql = r"SELECT E'\'' , pg_terminate_backend(1), '' ";
        assert!(words(sql, Dialect::Postgres).contains(&"PG_TERMINATE_BACKEND".to_owned()));
        assert_eq!(tokens(r"SELECT E'a\'b'", Dialect::Postgres)[1], Token::Str("a'b".into()));
    }

    #[test]
    fn a_carriage_return_ends_a_line_comment_where_postgresql_ends_it() {
        // PostgreSQL's scanner ends `--` at CR as well as LF: what follows a lone CR is code.
        let sql = "SELECT 1 -- note\r, pg_terminate_backend(1)";
        assert!(words(sql, Dialect::Postgres).contains(&"PG_TERMINATE_BACKEND".to_owned()));
        // Elsewhere a lone CR inside the comment is text the servers may read either way.
        let oracle = lex(sql, Dialect::Oracle);
        assert!(oracle.ambiguous && oracle.unterminated.is_some(), "{oracle:?}");
        assert!(lex(sql, Dialect::Generic).ambiguous);
        // A CRLF line end is a line end everywhere.
        let crlf = "SELECT 1 -- note\r\nFROM dual";
        for dialect in [Dialect::Postgres, Dialect::Oracle, Dialect::Generic] {
            let lexed = lex(crlf, dialect);
            assert_eq!(lexed.unterminated, None, "{dialect:?}");
            assert!(!lexed.ambiguous, "{dialect:?}");
            assert_eq!(words(crlf, dialect), ["SELECT", "FROM", "DUAL"], "{dialect:?}");
        }
    }

    #[test]
    fn spans_point_into_the_text() {
        let sql = "SELECT ':x' FROM t WHERE a = :y";
        let lexed = lex(sql, Dialect::Generic);
        let spans: Vec<&str> = lexed.spans.iter().map(|span| &sql[span.clone()]).collect();
        assert_eq!(spans, ["SELECT", "':x'", "FROM", "t", "WHERE", "a", "=", ":y"]);
    }
}
