//! The identifiers that travel between intake, engine, store and screens, as types of their own:
//! a workflow id cannot be passed where a plan hash is expected, and neither is a bare string.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One workflow (the life of one alert): a UUID, shown by its first 8 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkflowId(String);

impl WorkflowId {
    /// A new, random workflow id.
    pub fn generate() -> WorkflowId {
        WorkflowId(uuid::Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 hex digits, as the console, the CLI and email subjects show it.
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

/// One stored message (an alert, a reply, a newsletter): the store's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RawAlertId(pub i64);

/// The SHA-256 of a plan's canonical form: what an approval binds to, and what the executor
/// checks again before it runs anything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanHash(String);

impl PlanHash {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 12 hex digits, as approval dialogs show it.
    pub fn short(&self) -> &str {
        self.0.get(..12).unwrap_or(&self.0)
    }
}

macro_rules! text_id {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                $name(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                $name(text.to_owned())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        /// Reads as the text it is wherever text is expected (`&id` passes as `&str`): the
        /// type keeps ids, hashes and plain text apart where it matters — in the signatures
        /// of the engine's handle, the approval path and the records — without a conversion
        /// at every call that only prints or looks up.
        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == &other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl rusqlite::ToSql for $name {
            fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
                self.0.to_sql()
            }
        }

        impl rusqlite::types::FromSql for $name {
            fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
                String::column_result(value).map($name)
            }
        }
    };
}

text_id!(WorkflowId);
text_id!(PlanHash);

impl fmt::Display for RawAlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl rusqlite::ToSql for RawAlertId {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        self.0.to_sql()
    }
}

impl rusqlite::types::FromSql for RawAlertId {
    fn column_result(value: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        i64::column_result(value).map(RawAlertId)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_forms_cut_long_ids_and_keep_short_ones() {
        let id = WorkflowId::from("3f9c2a1b-0000-4000-8000-000000000000");
        assert_eq!(id.short(), "3f9c2a1b");
        assert_eq!(WorkflowId::from("abc").short(), "abc");
        assert_eq!(PlanHash::from("0123456789abcdef").short(), "0123456789ab");
    }

    #[test]
    fn ids_serialise_as_their_bare_value() {
        let id = WorkflowId::from("w1");
        assert_eq!(serde_json::to_string(&id).ok().as_deref(), Some("\"w1\""));
        assert_eq!(serde_json::to_string(&RawAlertId(7)).ok().as_deref(), Some("7"));
    }
}
