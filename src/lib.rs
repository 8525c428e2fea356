//! Sentri: the engine that turns database alert emails into verified, safety-checked fixes.
//!
//! ```text
//!  intake/ ──RawAlert──▶ pipeline::matcher ──Alert──▶ supervisor ──Plan──▶ safety ──Cleared──▶ execute
//!                                  everything is recorded in store/ (SQLite, WAL)
//! ```
//!
//! # Glossary
//! Words this domain overloads, and what they mean here:
//! - **alert** — a notification from a monitor (OEM, Nagios, a script). A [`intake::RawAlert`] is
//!   what arrived; an [`pipeline::matcher::Alert`] is one a policy recognised.
//! - **policy** — a Markdown file written by a DBA that says how to recognise, verify and fix one
//!   kind of alert (alerts/**) or how to run one proactive check (checks/**).
//! - **workflow** — the life of one alert, from DETECTED to a terminal state, in the store.
//! - **plan** — the ordered SQL steps of a fix with their rollback steps.
//! - **verdict** — what one Safety Mesh check said about a plan: allow, needs approval, or block.
//! - **target** — a database under care (Oracle, PostgreSQL, or the demo's simulated Oracle).
//!
//! The binary (`ui/`) is a thin shell over this library: nothing here knows about terminals.

pub mod checks;
pub mod config;
pub mod diagnose;
pub mod domain;
pub mod engine;
pub mod execute;
pub mod home;
pub mod intake;
pub mod llm;
pub mod monitor;
pub mod notify;
pub mod pipeline;
pub mod policy;
pub mod safety;
pub mod sql;
pub mod store;
pub mod targets;
pub mod tls;
