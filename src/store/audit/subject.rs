//! The rows an audit row vouches for: a transition's audit row carries the sha256 of the
//! `transitions` row it records, an approval's the sha256 of the `approvals` row (which holds
//! the plan hash approved). Those tables have no hashes of their own; through these, a rewritten
//! or deleted transition or approval shows when the chain is verified.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::{SqlContext, StoreError};

/// A table whose rows the chain covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectTable {
    Transitions,
    Approvals,
}

impl SubjectTable {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectTable::Transitions => "transitions",
            SubjectTable::Approvals => "approvals",
        }
    }

    pub fn parse(text: &str) -> Option<SubjectTable> {
        match text {
            "transitions" => Some(SubjectTable::Transitions),
            "approvals" => Some(SubjectTable::Approvals),
            _ => None,
        }
    }

    /// The hashed columns, fixed here: a later migration adding a column does not change the
    /// hash of rows already written.
    fn select(self) -> &'static str {
        match self {
            SubjectTable::Transitions => {
                "SELECT id, workflow_id, from_state, to_state, actor, reason, at FROM transitions WHERE id = ?1"
            }
            SubjectTable::Approvals => {
                "SELECT id, workflow_id, plan_hash, approver, decision, channel, reason, at, token_hash, expires_at
                 FROM approvals WHERE id = ?1"
            }
        }
    }

    fn columns(self) -> usize {
        match self {
            SubjectTable::Transitions => 7,
            SubjectTable::Approvals => 10,
        }
    }
}

/// One row an audit row vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub table: SubjectTable,
    pub id: i64,
}

/// Hex sha256 of a JSON array of the row's hashed columns as stored; `None` if there is no such
/// row.
pub(crate) fn content_hash(conn: &Connection, subject: Subject) -> Result<Option<String>, StoreError> {
    let columns = subject.table.columns();
    conn.query_row(subject.table.select(), [subject.id], |row| {
        let mut values = Vec::with_capacity(columns);
        for index in 0..columns {
            values.push(match row.get_ref(index)? {
                ValueRef::Null => serde_json::Value::Null,
                ValueRef::Integer(n) => serde_json::Value::from(n),
                ValueRef::Real(x) => serde_json::Value::from(x),
                ValueRef::Text(text) => serde_json::Value::from(String::from_utf8_lossy(text).into_owned()),
                ValueRef::Blob(bytes) => serde_json::Value::from(hex::encode(bytes)),
            });
        }
        Ok(hex::encode(Sha256::digest(serde_json::Value::Array(values).to_string().as_bytes())))
    })
    .optional()
    .ctx("hashing a row the audit chain covers")
}
