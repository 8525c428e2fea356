//! An identifier as the dictionary confirmed it: what a plan carries for each object it names,
//! so that every step and the rollback act on that one object.

use std::fmt;

use super::IdentifierKind;

/// One object as the dictionary spells it: its kind, its schema (owner on Oracle) for the
/// kinds that live in one, and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ResolvedIdentifier {
    pub kind: IdentifierKind,
    pub schema: Option<String>,
    pub name: String,
}

impl ResolvedIdentifier {
    /// The object as a statement must name it: `"schema"."name"`, or `"name"`.
    pub fn render(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{}.{}", quoted_identifier(schema), quoted_identifier(&self.name)),
            None => quoted_identifier(&self.name),
        }
    }

    /// `schema.name` (or `name`) as spelled in the catalog: the object's identity in lock keys
    /// and messages.
    pub fn identity(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }
}

impl fmt::Display for ResolvedIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.name(), self.identity())
    }
}

/// `name` as a double-quoted SQL identifier (an embedded `"` doubled): the one spelling both
/// engines read back exactly as written.
pub fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
