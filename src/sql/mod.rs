//! Reading SQL text without running it, in one place: the tokenizer ([`lexer`]), what kind of
//! statement a text is ([`statement`]), which calls act beyond their statement ([`effects`]),
//! and the read-only gate built on them ([`read_only`]).
//!
//! Before this module the read-only gate (`targets::sql`) and blast radius (`sql::classify`)
//! each read SQL their own way, so they could disagree about what a statement is: the gate
//! looked at the first keyword only and let `SELECT pg_terminate_backend(…)` through, while
//! blast radius knew it killed sessions. Both now consume these tokens and these tables.
//!
//! A leaf: it imports nothing else from the crate.

pub mod classify;
pub mod effects;
pub mod lexer;
pub mod read_only;
pub mod statement;

pub use lexer::{Dialect, Lexed, Token, lex};
pub use statement::StatementKind;
