//! What a SQL statement can do, decided statement by statement — not by grepping for keywords.
//!
//! The reference product looked for `DROP|TRUNCATE|…` anywhere in the text: a comment saying
//! "DROP" tripped it and `EXECUTE IMMEDIATE 'dr'||'op table t'` walked past it. Here the text is
//! tokenized first (comments, string literals, quoted identifiers and dollar-quoted bodies are
//! single tokens that never look like keywords), then the statement is read by its verb and the
//! words that follow it. The blast-radius check ([`super::blast_radius`]) turns the result into a
//! verdict; the rollback guarantee uses [`StatementClass::is_statement`] to tell a real rollback
//! from a comment.
//!
//! When the text cannot be read with confidence (an unterminated quote or comment, more than one
//! statement, a block that continues after its `END`, text PostgreSQL and Oracle would read
//! differently), the answer is [`Severity::Critical`]: anything this reader does not understand
//! is treated as able to destroy.
//!
//! The tokens, the statement kind and the list of side-effecting functions come from
//! [`crate::sql`], the same reading the read-only gate uses, so the two cannot disagree about
//! what a statement is ([`StatementClass::kind`]).

use std::fmt;

use super::effects::{self, Effect};
use super::statement::{self, StatementKind, depth_at, is_block_start};
use super::{Dialect, Token, lex};

/// How much a statement can destroy, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    /// Reads, or gathers statistics: nothing to undo.
    Low,
    /// Changes data or structure in a bounded, undoable way (an INSERT, an UPDATE with WHERE,
    /// adding a datafile, growing a sequence).
    Medium,
    /// Hard or impossible to undo, or reaches beyond its object: killing sessions, changing
    /// system parameters, dropping a datafile, calling a procedure whose body we cannot see.
    High,
    /// Can destroy data or the database: blocked whatever the environment.
    Critical,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        })
    }
}

/// The statement's verb: its first keyword, read past comments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Verb {
    Select,
    Insert,
    Update,
    Delete,
    Merge,
    Create,
    Alter,
    Drop,
    Truncate,
    Grant,
    Revoke,
    /// An anonymous PL/SQL block (`BEGIN … END;`, `DECLARE …`) or a PL/pgSQL `DO` block.
    PlsqlBlock,
    /// `CALL`, `EXEC`, `EXECUTE`: a stored procedure whose body we cannot see.
    Call,
    Vacuum,
    Analyze,
    /// No statement at all: blank, or only comments.
    Empty,
    /// Any other first word, upper-cased (`COMMENT`, `SET`, `N` for the text `N/A`, …).
    Other(String),
}

impl fmt::Display for Verb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Verb::Select => "SELECT",
            Verb::Insert => "INSERT",
            Verb::Update => "UPDATE",
            Verb::Delete => "DELETE",
            Verb::Merge => "MERGE",
            Verb::Create => "CREATE",
            Verb::Alter => "ALTER",
            Verb::Drop => "DROP",
            Verb::Truncate => "TRUNCATE",
            Verb::Grant => "GRANT",
            Verb::Revoke => "REVOKE",
            Verb::PlsqlBlock => "PLSQL_BLOCK",
            Verb::Call => "CALL",
            Verb::Vacuum => "VACUUM",
            Verb::Analyze => "ANALYZE",
            Verb::Empty => "EMPTY",
            Verb::Other(word) => word,
        };
        f.write_str(text)
    }
}

/// What one SQL text can do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatementClass {
    pub verb: Verb,
    /// The statement's kind as the read-only gate and the targets read it
    /// ([`crate::sql::statement::kind`]).
    pub kind: StatementKind,
    /// The kind of object for DDL: `TABLESPACE` in `ALTER TABLESPACE`, `SYSTEM` in
    /// `ALTER SYSTEM`, `INDEX` in `DROP INDEX`.
    pub object: Option<String>,
    /// The object's name as written (`:tablespace_name`, `USERS`), when the statement names one.
    pub target: Option<String>,
    /// What an ALTER does to its object, e.g. `ADD DATAFILE`, `DROP TEMPFILE`, `KILL SESSION`.
    pub operation: Option<String>,
    /// For UPDATE and DELETE: whether the statement has its own WHERE clause.
    pub has_where: Option<bool>,
    /// The text builds SQL at run time (EXECUTE IMMEDIATE, DBMS_SQL, PL/pgSQL EXECUTE, dblink),
    /// which no reader can classify.
    pub dynamic_sql: bool,
    /// It kills or cancels sessions (ALTER SYSTEM KILL SESSION, pg_terminate_backend, …).
    pub kills_session: bool,
    /// How many statements the text holds (a block counts as one).
    pub statements: usize,
    /// Every qualifier written before a `.` in front of a name (`SYS` in `sys.aud$`): the schemas
    /// (or table aliases) the text names. Placeholders are not included; their values are.
    pub qualifiers: Vec<String>,
    pub severity: Severity,
    /// Why the severity is what it is, for the DBA reading the verdict.
    pub why: String,
}

impl StatementClass {
    /// Whether this is a real statement a database would run — not blank, not comments only,
    /// and not prose such as `N/A` or `none`. The rollback guarantee rests on this.
    pub fn is_statement(&self) -> bool {
        match &self.verb {
            Verb::Empty => false,
            Verb::Other(word) => KNOWN_OTHER.iter().any(|(known, _, _)| known == word),
            _ => true,
        }
    }
}

/// First words that are real SQL but none of the named verbs, with their severity and why.
const KNOWN_OTHER: &[(&str, Severity, &str)] = &[
    ("BEGIN", Severity::Medium, "BEGIN starts a transaction"),
    ("COMMENT", Severity::Low, "COMMENT changes only documentation"),
    ("SHOW", Severity::Low, "SHOW only reads a setting"),
    ("SET", Severity::Medium, "SET changes a session setting"),
    ("RESET", Severity::Medium, "RESET changes a session setting"),
    ("COMMIT", Severity::Medium, "COMMIT ends a transaction"),
    ("ROLLBACK", Severity::Medium, "ROLLBACK ends a transaction"),
    ("SAVEPOINT", Severity::Medium, "SAVEPOINT marks a transaction"),
    ("START", Severity::Medium, "START TRANSACTION begins a transaction"),
    ("REFRESH", Severity::Medium, "REFRESH rebuilds a materialized view"),
    ("CHECKPOINT", Severity::Medium, "CHECKPOINT forces a checkpoint"),
    ("REINDEX", Severity::High, "REINDEX locks the table while it rebuilds"),
    ("CLUSTER", Severity::High, "CLUSTER rewrites the table under an exclusive lock"),
    ("LOCK", Severity::High, "LOCK blocks other sessions"),
    ("RENAME", Severity::High, "RENAME breaks everything that uses the old name"),
    ("AUDIT", Severity::High, "AUDIT changes the audit configuration"),
    ("NOAUDIT", Severity::High, "NOAUDIT turns auditing off"),
    ("COPY", Severity::High, "COPY reads or writes server files"),
    ("PURGE", Severity::Critical, "PURGE destroys dropped objects for good"),
    ("FLASHBACK", Severity::Critical, "FLASHBACK rewinds data or the database"),
    ("LOAD", Severity::Critical, "LOAD loads a shared library into the server"),
];

/// Classifies one plan step's SQL text.
pub fn classify(sql: &str) -> StatementClass {
    let lexed = lex(sql, Dialect::Generic);
    let mut reader = Reader::new();
    if let Some(problem) = lexed.unterminated {
        reader.raise(Severity::Critical, format!("the text does not parse: {problem}"));
    }
    if lexed.ambiguous {
        reader.raise(
            Severity::Critical,
            "PostgreSQL and Oracle read this text differently (a nested comment or a backslash escape)",
        );
    }
    let tokens = lexed.tokens;
    reader.class.kind = statement::kind(&tokens);
    reader.class.qualifiers = qualifiers(&tokens);
    let Some(first) = tokens.first() else {
        reader.class.verb = Verb::Empty;
        reader.class.statements = 0;
        reader.class.why = "no statement: blank or comments only".to_owned();
        return reader.finish();
    };
    let first_word = first.word().unwrap_or_default();
    if is_block_start(&tokens) {
        reader.class.verb = Verb::PlsqlBlock;
        reader.class.statements = 1;
        if first_word == "DO" {
            read_do_block(&tokens, &mut reader);
        } else {
            read_plsql_block(&tokens, &mut reader);
        }
        return reader.finish();
    }
    let statements = statement::statements(&tokens);
    reader.class.statements = statements.len();
    if statements.len() > 1 {
        reader.raise(
            Severity::Critical,
            format!("{} statements in one step; a step must be exactly one statement", statements.len()),
        );
    }
    if let Some(statement) = statements.first() {
        read_statement(statement, &mut reader, true);
    }
    reader.finish()
}

/// The names written before a `.` that is followed by a name: `a` in `a.b`, `"Odd"` in `"Odd".t`.
fn qualifiers(tokens: &[Token]) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for window in tokens.windows(3) {
        let [qualifier @ (Token::Word(_) | Token::Quoted(_)), Token::Punct('.'), name] = window else { continue };
        if matches!(name, Token::Word(_) | Token::Quoted(_) | Token::Placeholder(_)) {
            let qualifier = qualifier.describe();
            if !found.contains(&qualifier) {
                found.push(qualifier);
            }
        }
    }
    found
}

/// Accumulates what is learnt about a text; the highest severity and its first reason win.
struct Reader {
    class: StatementClass,
    raised: bool,
}

impl Reader {
    fn new() -> Reader {
        Reader {
            class: StatementClass {
                verb: Verb::Empty,
                kind: StatementKind::Ddl,
                object: None,
                target: None,
                operation: None,
                has_where: None,
                dynamic_sql: false,
                kills_session: false,
                statements: 1,
                qualifiers: Vec::new(),
                severity: Severity::Low,
                why: String::new(),
            },
            raised: false,
        }
    }

    fn raise(&mut self, severity: Severity, why: impl Into<String>) {
        if !self.raised || severity > self.class.severity {
            self.class.severity = severity;
            self.class.why = why.into();
            self.raised = true;
        }
    }

    fn finish(mut self) -> StatementClass {
        if !self.raised && self.class.why.is_empty() {
            self.class.why = format!("{} only reads", self.class.verb);
        }
        self.class
    }
}

/// Reads one statement (no `;` inside). `top` is false for statements inside a block, whose
/// verb and object must not overwrite the block's.
fn read_statement(tokens: &[Token], reader: &mut Reader, top: bool) {
    scan_functions(tokens, reader);
    scan_nested_dml(tokens, reader);
    let lead = tokens.iter().take_while(|t| **t == Token::Open).count();
    let words: Vec<String> = tokens.iter().skip(lead).take(4).map(|t| t.word().unwrap_or_default()).collect();
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    let verb = match word(0) {
        "SELECT" | "WITH" | "VALUES" | "TABLE" => Verb::Select,
        "INSERT" => Verb::Insert,
        "UPDATE" => Verb::Update,
        "DELETE" => Verb::Delete,
        "MERGE" => Verb::Merge,
        "CREATE" => Verb::Create,
        "ALTER" => Verb::Alter,
        "DROP" => Verb::Drop,
        "TRUNCATE" => Verb::Truncate,
        "GRANT" => Verb::Grant,
        "REVOKE" => Verb::Revoke,
        "CALL" | "EXEC" | "EXECUTE" => Verb::Call,
        "VACUUM" => Verb::Vacuum,
        "ANALYZE" | "ANALYSE" => Verb::Analyze,
        "EXPLAIN" => {
            // EXPLAIN ANALYZE runs the statement: judge what it explains.
            let inner = tokens.iter().position(|t| {
                matches!(
                    t.word().as_deref(),
                    Some("SELECT" | "WITH" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "CREATE" | "VALUES")
                )
            });
            match inner {
                Some(index) => return read_statement(&tokens[index..], reader, top),
                None => Verb::Other("EXPLAIN".to_owned()),
            }
        }
        "" => Verb::Other(tokens.first().map(Token::describe).unwrap_or_default()),
        other => Verb::Other(other.to_owned()),
    };
    if top {
        reader.class.verb = verb.clone();
    }
    match verb {
        Verb::Select => {
            if has_locking_clause(tokens) {
                reader.raise(Severity::Medium, "SELECT … FOR UPDATE locks the rows it reads");
            } else {
                reader.raise(Severity::Low, "a query only reads");
            }
        }
        Verb::Insert => reader.raise(Severity::Medium, "INSERT adds rows"),
        Verb::Merge => reader.raise(Severity::Medium, "MERGE changes the rows its ON clause matches"),
        Verb::Update | Verb::Delete => {
            let has_where = tokens.iter().enumerate().any(|(i, t)| t.is_word("WHERE") && depth_at(tokens, i) == 0);
            if top {
                reader.class.has_where = Some(has_where);
            }
            if has_where {
                reader.raise(Severity::Medium, format!("{verb} with a WHERE clause changes the rows it selects"));
            } else {
                reader.raise(Severity::Critical, format!("{verb} without WHERE changes every row of the table"));
            }
        }
        Verb::Create => read_create(tokens, reader, top),
        Verb::Alter => read_alter(tokens, reader, top),
        Verb::Drop => {
            let object = object_after(tokens, 1);
            let text = object.clone().unwrap_or_else(|| "an object".to_owned());
            if top {
                reader.class.object = object;
            }
            reader.raise(Severity::Critical, format!("DROP {text} destroys it"));
        }
        Verb::Truncate => reader.raise(Severity::Critical, "TRUNCATE deletes every row and cannot be rolled back"),
        Verb::Grant | Verb::Revoke => {
            reader.raise(Severity::Critical, format!("{verb} changes privileges; a DBA does that by hand"))
        }
        Verb::Call => {
            reader.raise(Severity::High, "a procedure call can do anything its body does, and we cannot see it")
        }
        Verb::Vacuum => {
            if tokens.iter().any(|t| t.is_word("FULL")) {
                reader.raise(Severity::High, "VACUUM FULL rewrites the table under an exclusive lock");
            } else {
                reader.raise(Severity::Medium, "VACUUM reclaims space; it reads and writes the whole table");
            }
        }
        Verb::Analyze => reader.raise(Severity::Low, "ANALYZE only refreshes statistics"),
        Verb::PlsqlBlock | Verb::Empty => {}
        Verb::Other(word) => match KNOWN_OTHER.iter().find(|(known, _, _)| *known == word) {
            Some((_, severity, why)) => reader.raise(*severity, *why),
            None => reader.raise(Severity::High, format!("`{word}` is not a statement Sentri recognises")),
        },
    }
}

fn read_create(tokens: &[Token], reader: &mut Reader, top: bool) {
    let replace = tokens.get(1).is_some_and(|t| t.is_word("OR")) && tokens.get(2).is_some_and(|t| t.is_word("REPLACE"));
    let start = if replace { 3 } else { 1 };
    let object = object_after(tokens, start);
    if top {
        reader.class.object = object.clone();
    }
    let object = object.unwrap_or_default();
    let code = ["TRIGGER", "FUNCTION", "PROCEDURE", "PACKAGE", "PACKAGE BODY", "RULE", "EVENT TRIGGER"];
    let security = ["USER", "ROLE", "PROFILE", "DATABASE LINK", "DIRECTORY", "EXTENSION", "LIBRARY"];
    if replace {
        reader.raise(Severity::High, format!("CREATE OR REPLACE {object} replaces what exists"));
    } else if code.contains(&object.as_str()) {
        reader.raise(Severity::High, format!("CREATE {object} installs code that runs later"));
    } else if security.contains(&object.as_str()) {
        reader.raise(Severity::High, format!("CREATE {object} changes who can do what"));
    } else {
        reader.raise(Severity::Medium, format!("CREATE {object} adds an object"));
    }
}

fn read_alter(tokens: &[Token], reader: &mut Reader, top: bool) {
    let object = object_after(tokens, 1).unwrap_or_default();
    let after_object = 1 + object.split(' ').count();
    let words = |from: usize| -> Vec<String> { tokens.iter().skip(from).filter_map(Token::word).collect() };
    let mut target = None;
    let mut operation = None;
    match object.as_str() {
        "TABLESPACE" => {
            target = tokens.get(after_object).map(Token::describe);
            let rest = words(after_object + 1);
            let op: Vec<&str> = rest.iter().take(2).map(String::as_str).collect();
            operation = Some(op.join(" "));
            match op.as_slice() {
                ["ADD", "DATAFILE" | "TEMPFILE"] => {
                    reader.raise(Severity::Medium, format!("ALTER TABLESPACE {} adds capacity", op.join(" ")))
                }
                ["RESIZE" | "AUTOEXTEND", ..] => reader.raise(Severity::Medium, "ALTER TABLESPACE resizes its file"),
                _ => reader.raise(
                    Severity::High,
                    format!("ALTER TABLESPACE {} changes the tablespace's files or availability", op.join(" ")),
                ),
            }
        }
        "DATABASE" | "PLUGGABLE DATABASE" => {
            // The one narrowly safe form: growing an Oracle file. `ALTER DATABASE [name]
            // DATAFILE|TEMPFILE <files> RESIZE <size> | AUTOEXTEND …`. Anything else (open, close,
            // recover, rename, switchover, PostgreSQL's ALTER DATABASE …) is critical.
            match safe_file_resize(tokens, after_object) {
                Some(op) => {
                    operation = Some(op);
                    reader.raise(Severity::Medium, "ALTER DATABASE … RESIZE/AUTOEXTEND changes one file's size");
                }
                None => reader.raise(
                    Severity::Critical,
                    "ALTER DATABASE changes the whole database (only DATAFILE/TEMPFILE … RESIZE or AUTOEXTEND \
                     is allowed)",
                ),
            }
        }
        "SYSTEM" => {
            let rest = words(after_object);
            let op: Vec<&str> = rest.iter().take(2).map(String::as_str).collect();
            operation = Some(op.join(" "));
            match op.as_slice() {
                ["KILL" | "DISCONNECT", "SESSION"] | ["CANCEL", "SQL"] => {
                    reader.class.kills_session = true;
                    reader.raise(Severity::High, format!("ALTER SYSTEM {} ends another session's work", op.join(" ")));
                }
                _ => reader.raise(Severity::High, "ALTER SYSTEM changes the whole instance"),
            }
        }
        "SEQUENCE" => {
            target = tokens.get(after_object).map(Token::describe);
            reader.raise(Severity::Medium, "ALTER SEQUENCE changes one sequence")
        }
        "SESSION" => reader.raise(Severity::Medium, "ALTER SESSION changes only this session"),
        "INDEX" => reader.raise(Severity::Medium, "ALTER INDEX changes one index"),
        "TABLE" | "MATERIALIZED VIEW" => {
            let rest = words(after_object);
            let destroys = rest.windows(2).any(|pair| {
                (pair[0] == "DROP" && matches!(pair[1].as_str(), "COLUMN" | "PARTITION" | "SUBPARTITION"))
                    || (pair[0] == "TRUNCATE")
                    || (pair[0] == "SET" && pair[1] == "UNUSED")
            }) || rest.last().is_some_and(|w| w == "TRUNCATE");
            if destroys {
                reader.raise(Severity::Critical, format!("ALTER {object} drops or truncates data"));
            } else {
                reader.raise(Severity::High, format!("ALTER {object} changes a table others use"));
            }
        }
        _ => reader.raise(Severity::High, format!("ALTER {object} changes shared structure or security")),
    }
    if top {
        reader.class.object = (!object.is_empty()).then_some(object);
        reader.class.target = target;
        reader.class.operation = operation.filter(|op| !op.is_empty());
    }
}

/// `[name] DATAFILE|TEMPFILE <file>[, <file>…] RESIZE … | AUTOEXTEND …` with nothing but sizes
/// after; returns the operation (`DATAFILE RESIZE`) when the form matches exactly.
fn safe_file_resize(tokens: &[Token], mut index: usize) -> Option<String> {
    let is_file_word = |t: Option<&Token>| t.is_some_and(|t| t.is_word("DATAFILE") || t.is_word("TEMPFILE"));
    if !is_file_word(tokens.get(index)) {
        index += 1; // an optional database name
    }
    let file_word = tokens.get(index)?.word()?;
    if file_word != "DATAFILE" && file_word != "TEMPFILE" {
        return None;
    }
    index += 1;
    loop {
        match tokens.get(index)? {
            Token::Str(_) | Token::Placeholder(_) | Token::Number(_) => index += 1,
            _ => return None,
        }
        if tokens.get(index) == Some(&Token::Punct(',')) {
            index += 1;
        } else {
            break;
        }
    }
    let op = tokens.get(index)?.word()?;
    if op != "RESIZE" && op != "AUTOEXTEND" {
        return None;
    }
    const SIZES: &[&str] = &["ON", "OFF", "NEXT", "MAXSIZE", "UNLIMITED", "K", "M", "G", "T", "P", "E"];
    let rest_ok = tokens[index + 1..].iter().all(|t| match t {
        Token::Number(_) | Token::Placeholder(_) => true,
        Token::Word(word) => SIZES.contains(&word.as_str()),
        _ => false,
    });
    rest_ok.then(|| format!("{file_word} {op}"))
}

/// The object kind named after `start`: one word, or a known two-word kind.
fn object_after(tokens: &[Token], start: usize) -> Option<String> {
    let first = tokens.get(start)?.word()?;
    let second = tokens.get(start + 1).and_then(Token::word).unwrap_or_default();
    const TWO_WORD: &[(&str, &str)] = &[
        ("PUBLIC", "SYNONYM"),
        ("MATERIALIZED", "VIEW"),
        ("PLUGGABLE", "DATABASE"),
        ("DATABASE", "LINK"),
        ("PACKAGE", "BODY"),
        ("EVENT", "TRIGGER"),
        ("UNIQUE", "INDEX"),
        ("BITMAP", "INDEX"),
        ("GLOBAL", "TEMPORARY"),
        ("FOREIGN", "TABLE"),
    ];
    if TWO_WORD.iter().any(|(a, b)| *a == first && *b == second) {
        return Some(format!("{first} {second}"));
    }
    Some(first)
}

/// `FOR UPDATE`, `FOR SHARE`, `FOR NO KEY UPDATE`, `FOR KEY SHARE` at any depth.
fn has_locking_clause(tokens: &[Token]) -> bool {
    tokens
        .windows(2)
        .any(|pair| pair[0].is_word("FOR") && ["UPDATE", "SHARE", "NO", "KEY"].iter().any(|w| pair[1].is_word(w)))
}

/// Data-modifying statements nested in another one (PostgreSQL `WITH d AS (DELETE …) SELECT`):
/// each nested UPDATE/DELETE must have its own WHERE inside its parentheses.
fn scan_nested_dml(tokens: &[Token], reader: &mut Reader) {
    for index in statement::nested_dml(tokens) {
        let word = tokens[index].word().unwrap_or_default();
        let depth = depth_at(tokens, index);
        let end = tokens[index..]
            .iter()
            .enumerate()
            .find(|(offset, t)| **t == Token::Close && depth_at(tokens, index + offset) == depth)
            .map_or(tokens.len(), |(offset, _)| index + offset);
        let inner = &tokens[index..end];
        match word.as_str() {
            "UPDATE" | "DELETE" => {
                let has_where = inner.iter().enumerate().any(|(i, t)| t.is_word("WHERE") && depth_at(inner, i) == 0);
                if has_where {
                    reader.raise(Severity::Medium, format!("a nested {word} with WHERE changes rows"));
                } else {
                    reader.raise(Severity::Critical, format!("a nested {word} without WHERE changes every row"));
                }
            }
            _ => reader.raise(Severity::Medium, format!("a nested {word} changes rows")),
        }
    }
}

/// Calls of known side-effecting functions and packages, anywhere in the statement: the list
/// the read-only gate refuses ([`crate::sql::effects`]), for any engine.
fn scan_functions(tokens: &[Token], reader: &mut Reader) {
    for reference in effects::references(tokens) {
        let Some((name, side_effect)) = effects::any_engine(&reference) else { continue };
        match side_effect.effect {
            Effect::KillsSession => {
                reader.class.kills_session = true;
                reader.raise(Severity::High, format!("{name}() ends another session's work"));
            }
            Effect::Writes => reader.raise(Severity::High, format!("{name} {}", side_effect.why)),
            Effect::Dynamic => {
                reader.class.dynamic_sql = true;
                reader.raise(Severity::Critical, format!("{name} runs SQL built at run time, which cannot be checked"));
            }
        }
    }
}

/// An Oracle anonymous block: `[DECLARE …] BEGIN … END [label];`, nothing after it.
fn read_plsql_block(tokens: &[Token], reader: &mut Reader) {
    reader.raise(Severity::Medium, "a PL/SQL block runs the statements inside it");
    let mut end = tokens.len();
    while end > 0 && matches!(tokens[end - 1], Token::Semi | Token::Punct('/')) {
        end -= 1;
    }
    let closes = match &tokens[..end] {
        [.., last] if last.is_word("END") => true,
        [.., before, Token::Word(_)] if before.is_word("END") => true,
        _ => false,
    };
    if !closes {
        reader.raise(Severity::Critical, "the block does not end with END; text follows it or it is cut short");
    }
    read_block_body(tokens, reader);
}

/// A PostgreSQL `DO [LANGUAGE x] $$ … $$ [LANGUAGE x];`: its body is read as PL/pgSQL.
fn read_do_block(tokens: &[Token], reader: &mut Reader) {
    reader.raise(Severity::Medium, "a DO block runs the statements inside it");
    let statements = tokens.split(|t| *t == Token::Semi).filter(|s| !s.is_empty()).count();
    if statements > 1 {
        reader.class.statements = statements;
        reader.raise(Severity::Critical, format!("{statements} statements in one step; a step must be exactly one"));
    }
    let bodies: Vec<&String> = tokens
        .iter()
        .filter_map(|t| match t {
            Token::Dollar(body) | Token::Str(body) => Some(body),
            _ => None,
        })
        .collect();
    let [body] = bodies.as_slice() else {
        reader.raise(Severity::Critical, "a DO block must have exactly one body");
        return;
    };
    let inner = lex(body, Dialect::Postgres);
    if let Some(problem) = inner.unterminated {
        reader.raise(Severity::Critical, format!("the DO body does not parse: {problem}"));
    }
    // In PL/pgSQL, EXECUTE always runs a string as SQL.
    if inner.tokens.iter().any(|t| t.is_word("EXECUTE")) {
        reader.class.dynamic_sql = true;
        reader.raise(Severity::Critical, "the DO block runs dynamic SQL (EXECUTE), which cannot be checked");
    }
    read_block_body(&inner.tokens, reader);
}

/// The statements inside a block, each read like a top-level one (DML without WHERE stays
/// critical inside a block), plus dynamic SQL and procedure calls.
fn read_block_body(tokens: &[Token], reader: &mut Reader) {
    for (index, pair) in tokens.windows(2).enumerate() {
        if pair[0].is_word("EXECUTE") && pair[1].is_word("IMMEDIATE") {
            reader.class.dynamic_sql = true;
            reader.raise(Severity::Critical, "the block runs dynamic SQL (EXECUTE IMMEDIATE), which cannot be checked");
        }
        // `OPEN c FOR 'text'` or `OPEN c FOR variable` is a dynamic cursor.
        if pair[0].is_word("OPEN")
            && tokens.get(index + 2).is_some_and(|t| t.is_word("FOR"))
            && tokens.get(index + 3).is_some_and(|t| !t.is_word("SELECT") && !t.is_word("WITH"))
        {
            reader.class.dynamic_sql = true;
            reader.raise(Severity::Critical, "the block opens a cursor on dynamic SQL");
        }
    }
    const CONTROL: &[&str] = &[
        "BEGIN",
        "DECLARE",
        "END",
        "NULL",
        "IF",
        "ELSIF",
        "ELSEIF",
        "ELSE",
        "THEN",
        "LOOP",
        "FOR",
        "WHILE",
        "EXIT",
        "CONTINUE",
        "RETURN",
        "RAISE",
        "EXCEPTION",
        "WHEN",
        "CASE",
        "OPEN",
        "FETCH",
        "CLOSE",
        "GOTO",
        "PERFORM",
        "GET",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "PRAGMA",
        "CURSOR",
        "TYPE",
        "SUBTYPE",
        "ASSERT",
    ];
    const SQL: &[&str] = &[
        "SELECT", "WITH", "INSERT", "UPDATE", "DELETE", "MERGE", "CREATE", "ALTER", "DROP", "TRUNCATE", "GRANT",
        "REVOKE", "CALL", "VACUUM", "ANALYZE", "LOCK", "SET",
    ];
    const STARTERS: &[&str] = &["BEGIN", "THEN", "ELSE", "LOOP", "EXCEPTION", "DECLARE", "IS", "AS"];
    let mut declaring = false;
    for statement in tokens.split(|t| *t == Token::Semi) {
        if statement.first().is_some_and(|t| t.is_word("DECLARE")) {
            declaring = true;
        }
        // Declarations run only their default values' function calls.
        let statement = if declaring {
            match statement.iter().position(|t| t.is_word("BEGIN")) {
                Some(begin) => {
                    declaring = false;
                    &statement[begin..]
                }
                None => {
                    scan_functions(statement, reader);
                    continue;
                }
            }
        } else {
            statement
        };
        let starts_here =
            |index: usize| index == 0 || statement[index - 1].word().is_some_and(|w| STARTERS.contains(&w.as_str()));
        let sql_at = statement
            .iter()
            .enumerate()
            .position(|(index, t)| t.word().is_some_and(|w| SQL.contains(&w.as_str())) && starts_here(index));
        if let Some(index) = sql_at {
            read_statement(&statement[index..], reader, false);
            continue;
        }
        scan_functions(statement, reader);
        let start = statement
            .iter()
            .rposition(|t| t.word().is_some_and(|w| STARTERS.contains(&w.as_str())))
            .map_or(0, |index| index + 1);
        let rest = &statement[start..];
        let Some(word) = rest.first().and_then(Token::word) else { continue };
        let assignment = rest.contains(&Token::Assign);
        // PERFORM f(...) in PL/pgSQL and a bare `pkg.proc(...)` in PL/SQL run code we cannot see.
        if word == "PERFORM" || (!CONTROL.contains(&word.as_str()) && !assignment) {
            reader.raise(Severity::High, format!("the block calls {word}, whose body we cannot see"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn severity(sql: &str) -> Severity {
        classify(sql).severity
    }

    #[test]
    fn queries_are_low_unless_they_lock_or_call_side_effects() {
        let class = classify("SELECT tablespace_name, used_percent FROM dba_tablespace_usage_metrics WHERE x = :y");
        assert_eq!((class.verb, class.severity), (Verb::Select, Severity::Low));
        assert_eq!(severity("SELECT * FROM t FOR UPDATE"), Severity::Medium);
        let kill = classify("SELECT pg_terminate_backend(:pid)");
        assert_eq!((kill.verb.clone(), kill.severity, kill.kills_session), (Verb::Select, Severity::High, true));
        assert!(classify("SELECT pg_cancel_backend(:pid);").kills_session);
        assert_eq!(severity("SELECT pg_reload_conf()"), Severity::High);
        assert_eq!(severity("SELECT dbms_stats.gather_table_stats('A','B') FROM dual"), Severity::High);
        // A column or alias that merely shares a name is not a call.
        assert_eq!(severity("SELECT setval_count FROM t"), Severity::Low);
    }

    #[test]
    fn the_default_packs_connection_limit_fix_is_a_high_session_kill() {
        let sql = "WITH candidates AS MATERIALIZED (\n SELECT a.pid FROM pg_stat_activity a WHERE a.state = 'idle'\n)\nSELECT count(*) FILTER (WHERE pg_terminate_backend(c.pid, 5000)) AS terminated FROM candidates c";
        let class = classify(sql);
        assert_eq!((class.verb.clone(), class.severity, class.kills_session), (Verb::Select, Severity::High, true));
    }

    #[test]
    fn data_modifying_ctes_are_judged_like_dml() {
        assert_eq!(severity("WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d"), Severity::Critical);
        assert_eq!(severity("WITH d AS (DELETE FROM t WHERE a = 1 RETURNING *) SELECT * FROM d"), Severity::Medium);
    }

    #[test]
    fn dml_needs_where() {
        let delete = classify("DELETE FROM t -- WHERE a=1");
        assert_eq!(
            (delete.verb.clone(), delete.has_where, delete.severity),
            (Verb::Delete, Some(false), Severity::Critical)
        );
        let update = classify("UPDATE t SET a = 1 WHERE id = :id");
        assert_eq!((update.has_where, update.severity), (Some(true), Severity::Medium));
        assert_eq!(severity("UPDATE t SET a = (SELECT b FROM u WHERE u.id = 1)"), Severity::Critical);
        assert_eq!(severity("UPDATE t SET note = 'WHERE id = 1'"), Severity::Critical);
        assert_eq!(severity("INSERT INTO t (a) VALUES (:a)"), Severity::Medium);
        assert_eq!(
            classify("MERGE INTO t USING s ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET a = 1").verb,
            Verb::Merge
        );
    }

    #[test]
    fn drop_truncate_grant_revoke_are_critical() {
        let drop = classify("DROP INDEX idx_a");
        assert_eq!(
            (drop.verb.clone(), drop.object.as_deref(), drop.severity),
            (Verb::Drop, Some("INDEX"), Severity::Critical)
        );
        assert_eq!(severity("drop table t purge"), Severity::Critical);
        assert_eq!(severity("TRUNCATE TABLE t"), Severity::Critical);
        assert_eq!(classify("GRANT DBA TO scott").severity, Severity::Critical);
        assert_eq!(classify("REVOKE SELECT ON t FROM scott").verb, Verb::Revoke);
        assert_eq!(severity("REVOKE SELECT ON t FROM scott"), Severity::Critical);
        assert_eq!(severity("ALTER TABLE t DROP COLUMN c"), Severity::Critical);
        assert_eq!(severity("ALTER TABLE t TRUNCATE PARTITION p1"), Severity::Critical);
        assert_eq!(severity("ALTER TABLE t ADD c NUMBER"), Severity::High);
        assert_eq!(severity("PURGE RECYCLEBIN"), Severity::Critical);
    }

    #[test]
    fn alter_tablespace_is_classified_by_what_it_does() {
        let add =
            classify("ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32767M");
        assert_eq!(add.verb, Verb::Alter);
        assert_eq!(add.object.as_deref(), Some("TABLESPACE"));
        assert_eq!(add.target.as_deref(), Some(":tablespace_name"));
        assert_eq!(add.operation.as_deref(), Some("ADD DATAFILE"));
        assert_eq!(add.severity, Severity::Medium);
        let drop = classify("ALTER TABLESPACE users DROP DATAFILE 'f'");
        assert_eq!(
            (drop.verb.clone(), drop.operation.as_deref(), drop.severity),
            (Verb::Alter, Some("DROP DATAFILE"), Severity::High)
        );
        assert_eq!(severity("ALTER TABLESPACE :temp_tablespace ADD TEMPFILE SIZE 1G"), Severity::Medium);
        assert_eq!(severity("ALTER TABLESPACE users OFFLINE"), Severity::High);
    }

    #[test]
    fn alter_database_is_critical_except_growing_a_file() {
        assert_eq!(severity("ALTER DATABASE OPEN RESETLOGS"), Severity::Critical);
        assert_eq!(severity("ALTER DATABASE mydb RENAME TO other"), Severity::Critical);
        let resize = classify("ALTER DATABASE DATAFILE '/u01/users01.dbf' RESIZE 10G");
        assert_eq!((resize.severity, resize.operation.as_deref()), (Severity::Medium, Some("DATAFILE RESIZE")));
        assert_eq!(
            severity("ALTER DATABASE TEMPFILE :file_name AUTOEXTEND ON NEXT 256M MAXSIZE UNLIMITED"),
            Severity::Medium
        );
        assert_eq!(severity("ALTER DATABASE DATAFILE 5 RESIZE 2048M"), Severity::Medium);
        assert_eq!(severity("ALTER DATABASE orcl DATAFILE 5 RESIZE 2048M"), Severity::Medium);
        assert_eq!(severity("ALTER DATABASE DATAFILE 'f' OFFLINE DROP"), Severity::Critical);
        assert_eq!(severity("ALTER DATABASE TEMPFILE 'f' DROP INCLUDING DATAFILES"), Severity::Critical);
        assert_eq!(severity("ALTER DATABASE DATAFILE 'f' RESIZE 10G OFFLINE"), Severity::Critical);
    }

    #[test]
    fn alter_system_kill_and_cancel_are_high_session_kills() {
        let kill = classify("ALTER SYSTEM KILL SESSION :session IMMEDIATE");
        assert_eq!((kill.object.as_deref(), kill.operation.as_deref()), (Some("SYSTEM"), Some("KILL SESSION")));
        assert_eq!((kill.severity, kill.kills_session), (Severity::High, true));
        let cancel = classify("ALTER SYSTEM CANCEL SQL :session");
        assert_eq!((cancel.severity, cancel.kills_session), (Severity::High, true));
        assert_eq!(severity("ALTER SYSTEM SET processes = 500 SCOPE = SPFILE"), Severity::High);
    }

    #[test]
    fn sequences_vacuum_analyze_create() {
        let sequence = classify("ALTER SEQUENCE :seq_schema.:seq_name AS bigint MAXVALUE 9223372036854775807;");
        assert_eq!(
            (sequence.object.as_deref(), sequence.severity, sequence.statements),
            (Some("SEQUENCE"), Severity::Medium, 1)
        );
        assert_eq!(
            (classify("VACUUM (ANALYZE) :s.:t;").verb, severity("VACUUM (ANALYZE) :s.:t;")),
            (Verb::Vacuum, Severity::Medium)
        );
        assert_eq!(severity("VACUUM FULL t"), Severity::High);
        assert_eq!((classify("ANALYZE :s.:t;").verb, severity("ANALYZE :s.:t")), (Verb::Analyze, Severity::Low));
        assert_eq!(severity("CREATE INDEX i ON t (a)"), Severity::Medium);
        assert_eq!(severity("CREATE OR REPLACE VIEW v AS SELECT 1 FROM dual"), Severity::High);
        assert_eq!(severity("CREATE USER x IDENTIFIED BY y"), Severity::High);
    }

    #[test]
    fn comments_and_literals_never_trip_it() {
        let hostile = classify("ALTER TABLESPACE users /* DROP */ ADD DATAFILE SIZE 1G");
        assert_eq!(
            (hostile.verb.clone(), hostile.operation.as_deref(), hostile.severity),
            (Verb::Alter, Some("ADD DATAFILE"), Severity::Medium)
        );
        assert_eq!(severity("-- DROP TABLE t;\nSELECT 1 FROM dual"), Severity::Low);
        assert_eq!(severity("SELECT 'DROP TABLE t; TRUNCATE x' AS note FROM dual"), Severity::Low);
        assert_eq!(severity("SELECT \"DROP\" FROM t"), Severity::Low);
        assert_eq!(severity("SELECT q'[it's; DROP TABLE t]' FROM dual"), Severity::Low);
        assert_eq!(severity("SELECT $x$ ; DROP TABLE t $x$"), Severity::Low);
    }

    #[test]
    fn more_than_one_statement_is_critical() {
        let two = classify("SELECT 1 FROM dual; DELETE FROM t WHERE a = 1");
        assert_eq!((two.statements, two.severity), (2, Severity::Critical));
        assert_eq!(classify("SELECT 1 FROM dual;").statements, 1);
        assert_eq!(severity("SELECT 1; -- trailing comment"), Severity::Low);
        // A semicolon hidden in a comment or literal is not a separator.
        assert_eq!(classify("SELECT ';' FROM dual /* ; */").statements, 1);
    }

    #[test]
    fn dynamic_sql_in_blocks_is_critical() {
        let oracle = classify("BEGIN EXECUTE IMMEDIATE 'dr'||'op table t'; END;");
        assert_eq!(
            (oracle.verb.clone(), oracle.dynamic_sql, oracle.severity),
            (Verb::PlsqlBlock, true, Severity::Critical)
        );
        let dbms_sql = classify("DECLARE c INTEGER; BEGIN c := DBMS_SQL.OPEN_CURSOR; END;");
        assert!(dbms_sql.dynamic_sql);
        assert_eq!(dbms_sql.severity, Severity::Critical);
        let pg = classify("DO $$ BEGIN EXECUTE format('DROP TABLE %I', 't'); END $$;");
        assert_eq!((pg.verb.clone(), pg.dynamic_sql, pg.severity), (Verb::PlsqlBlock, true, Severity::Critical));
        let pg_quoted = classify("DO 'BEGIN EXECUTE ''select 1''; END';");
        assert!(pg_quoted.dynamic_sql);
        assert_eq!(classify("BEGIN OPEN c FOR v_sql; END;").severity, Severity::Critical);
        assert_eq!(severity("SELECT * FROM dblink('conn', 'DELETE FROM t') AS x(a int)"), Severity::Critical);
    }

    #[test]
    fn blocks_are_read_statement_by_statement() {
        assert_eq!(severity("BEGIN NULL; END;"), Severity::Medium);
        assert_eq!(severity("BEGIN DELETE FROM t; END;"), Severity::Critical);
        assert_eq!(severity("BEGIN DELETE FROM t WHERE a = :a; COMMIT; END;"), Severity::Medium);
        assert_eq!(severity("BEGIN dbms_stats.gather_schema_stats('HR'); END;"), Severity::High);
        assert_eq!(severity("BEGIN my_pkg.fix(:a); END;"), Severity::High);
        assert_eq!(severity("BEGIN NULL; END; DROP TABLE t"), Severity::Critical);
        assert_eq!(severity("DO $$ BEGIN PERFORM pg_sleep(1); END $$"), Severity::High);
        assert_eq!(severity("DO $$ BEGIN PERFORM 1; END $$; DROP TABLE t"), Severity::Critical);
        // PostgreSQL's BEGIN; is a transaction start, not a block.
        assert_eq!(classify("BEGIN").verb, Verb::Other("BEGIN".into()));
    }

    #[test]
    fn calls_are_high() {
        assert_eq!(
            (classify("CALL fix_things(:a)").verb, severity("CALL fix_things(:a)")),
            (Verb::Call, Severity::High)
        );
        assert_eq!(severity("EXEC dbms_sql.execute(:c)"), Severity::Critical);
    }

    #[test]
    fn unreadable_text_is_critical_and_prose_is_not_a_statement() {
        assert_eq!(severity("SELECT 'unterminated FROM t"), Severity::Critical);
        assert_eq!(severity("SELECT 1 /* open comment"), Severity::Critical);
        let empty = classify("  -- nothing to undo\n/* really */ ");
        assert_eq!(empty.verb, Verb::Empty);
        assert!(!empty.is_statement());
        assert!(!classify("N/A").is_statement());
        assert!(!classify("N/A: irreversible").is_statement());
        assert!(!classify("none").is_statement());
        assert_eq!(severity("N/A"), Severity::High);
        assert!(classify("ALTER TABLESPACE :t DROP DATAFILE :f").is_statement());
        assert!(classify("COMMENT ON TABLE t IS 'x'").is_statement());
    }

    /// What classify's own reading (its verb) says the statement kind is. `SHOW` is a query to
    /// both; a SELECT holding a data-modifying CTE is DML.
    fn kind_of_verb(class: &StatementClass) -> Vec<StatementKind> {
        match &class.verb {
            Verb::Select => vec![StatementKind::Query, StatementKind::Dml],
            Verb::Insert | Verb::Update | Verb::Delete | Verb::Merge => vec![StatementKind::Dml],
            Verb::PlsqlBlock | Verb::Call => vec![StatementKind::Block],
            Verb::Other(word) if word == "SHOW" => vec![StatementKind::Query],
            _ => vec![StatementKind::Ddl],
        }
    }

    /// Statements of every kind, and the attacks on the read path.
    const CORPUS: &[&str] = &[
        "SELECT tablespace_name, used_percent FROM dba_tablespace_usage_metrics WHERE x = :y",
        "  -- c\n select 1",
        "(SELECT 1) UNION (SELECT 2)",
        "WITH x AS (SELECT 1) SELECT * FROM x",
        "WITH d AS (DELETE FROM t RETURNING *) SELECT count(*) FROM d",
        "WITH d AS (UPDATE t SET a = 1 WHERE b = 2 RETURNING *) SELECT * FROM d",
        "VALUES (1), (2)",
        "TABLE t",
        "SHOW max_connections",
        "EXPLAIN SELECT * FROM t",
        "EXPLAIN ANALYZE DELETE FROM t",
        "EXPLAIN PLAN FOR SELECT * FROM dual",
        "SELECT * FROM t FOR UPDATE",
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = :pid",
        "SELECT pg_catalog.pg_terminate_backend(1)",
        "SELECT \"pg_cancel_backend\"(1)",
        "SELECT pg_advisory_lock(42)",
        "SELECT pg_advisory_xact_lock(42)",
        "SELECT set_config('a', 'b', false)",
        "SELECT lo_unlink(1)",
        "SELECT * FROM dblink('c', 'DELETE FROM t') AS x(a int)",
        "SELECT nextval('s')",
        "SELECT DBMS_LOCK.REQUEST(1) FROM dual",
        "SELECT dbms_stats.gather_table_stats('A','B') FROM dual",
        "SELECT * FROM TABLE(DBMS_XPLAN.DISPLAY_CURSOR(:sql_id))",
        "SELECT my_func(1) FROM dual",
        "SELECT 1 /* a /* b */ pg_terminate_backend(1) */",
        "SELECT 'DROP TABLE t; pg_terminate_backend(1)' AS note FROM dual",
        "SELECT q'[it's; DROP TABLE t]' FROM dual",
        "SELECT $x$ ; DROP TABLE t $x$",
        "INSERT INTO t (a) VALUES (:a)",
        "UPDATE t SET a = 1 WHERE id = :id",
        "DELETE FROM t",
        "MERGE INTO t USING s ON (t.id = s.id) WHEN MATCHED THEN UPDATE SET a = 1",
        "BEGIN dbms_stats.gather_table_stats(:o, :t); END;",
        "DECLARE c INTEGER; BEGIN c := DBMS_SQL.OPEN_CURSOR; END;",
        "DO $$ BEGIN PERFORM pg_sleep(1); END $$",
        "CALL fix_things(:a)",
        "EXEC dbms_sql.execute(:c)",
        "BEGIN",
        "BEGIN;",
        "ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G",
        "ALTER SYSTEM KILL SESSION :session IMMEDIATE",
        "VACUUM (ANALYZE) :s.:t;",
        "ANALYZE t",
        "CREATE INDEX i ON t (a)",
        "DROP TABLE t",
        "TRUNCATE TABLE t",
        "GRANT DBA TO scott",
        "SET statement_timeout = 0",
        "SELECT 1; DELETE FROM t WHERE a = 1",
        "N/A",
        "",
    ];

    #[test]
    fn blast_radius_and_the_read_only_gate_agree_on_every_statement_kind() {
        use crate::domain::DbKind;
        use crate::targets::{read_only_text, sql::statement_kind, sql::strip_terminator};
        for sql in CORPUS {
            let class = classify(sql);
            let gate_kind = statement_kind(&strip_terminator(sql));
            assert_eq!(class.kind, gate_kind, "{sql}: classify and the targets read different kinds");
            assert!(kind_of_verb(&class).contains(&class.kind), "{sql}: verb {} but kind {:?}", class.verb, class.kind);
            for engine in [DbKind::Postgres, DbKind::Oracle] {
                let gate = read_only_text("db", engine, sql);
                // Blast radius does not know the engine, so text the two engines read differently
                // (a nested comment) is critical to it while the gate, reading as the one engine
                // does, may pass it: stricter, never laxer.
                let ambiguous = lex(sql, Dialect::Generic).ambiguous;
                if gate.is_ok() && !ambiguous {
                    // What the gate lets through, blast radius must call a plain read.
                    assert_eq!(
                        (class.kind, class.severity),
                        (StatementKind::Query, Severity::Low),
                        "{sql} on {engine:?}"
                    );
                }
                if !ambiguous
                    && (class.kind != StatementKind::Query
                        || class.kills_session
                        || class.dynamic_sql
                        || class.severity > Severity::Low)
                {
                    // What blast radius says acts beyond a read, the gate refuses.
                    assert!(gate.is_err(), "{sql} on {engine:?}: {class:?}");
                }
            }
        }
    }

    #[test]
    fn every_shipped_read_query_passes_the_gate_of_its_engine() {
        use crate::domain::DbKind;
        use crate::policy::PolicySet;
        use crate::targets::read_only_text;
        let dir = tempfile::tempdir().expect("tempdir");
        let home = crate::home::Home::at(dir.path().join("home"));
        home.init(false).expect("init");
        let set = PolicySet::load(&home.root);
        assert!(set.alerts.len() >= 10 && !set.checks.is_empty(), "the shipped packs load");
        let mut checked = 0;
        for policy in &set.alerts {
            let reads = policy
                .verification
                .iter()
                .chain(policy.capture.iter())
                .chain(policy.validation.iter())
                .chain(policy.preflight.iter().map(|check| &check.sql));
            for block in reads {
                if policy.engine == DbKind::Sandbox {
                    continue;
                }
                read_only_text("db", policy.engine, &block.sql)
                    .unwrap_or_else(|e| panic!("{}:{}: {e}", policy.path.display(), block.line));
                checked += 1;
            }
        }
        for check in &set.checks {
            read_only_text("db", check.engine, &check.health_query.sql)
                .unwrap_or_else(|e| panic!("{}:{}: {e}", check.path.display(), check.health_query.line));
            checked += 1;
        }
        assert!(checked > 30, "{checked} read queries checked");
    }
}
