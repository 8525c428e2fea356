//! Values and rows read from a target, in one shape for every engine, so verification,
//! conditions and the audit trail never care which driver produced them.

use std::collections::BTreeMap;
use std::fmt;

/// One column value. Numbers that do not fit an `i64` exactly (Oracle NUMBER, PostgreSQL
/// numeric) keep their decimal text in `Decimal`, so nothing is rounded on the way.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Decimal(String),
    Text(String),
    /// RFC 3339 text (UTC when the column has a zone).
    Timestamp(String),
    Bytes(Vec<u8>),
}

impl Value {
    /// The value as text for conditions, placeholders and display; `None` for NULL.
    pub fn as_text(&self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Bool(value) => Some(value.to_string()),
            Value::Int(value) => Some(value.to_string()),
            Value::Float(value) => Some(value.to_string()),
            Value::Decimal(text) | Value::Text(text) | Value::Timestamp(text) => Some(text.clone()),
            Value::Bytes(bytes) => Some(hex::encode(bytes)),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_text() {
            Some(text) => f.write_str(&text),
            None => f.write_str("NULL"),
        }
    }
}

/// The rows of one query. Column names are lower-cased: policies refer to them that way.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The first row as `column → text` (NULLs left out): what conditions and placeholders use.
    pub fn first_as_text(&self) -> Option<BTreeMap<String, String>> {
        let row = self.rows.first()?;
        Some(
            self.columns
                .iter()
                .zip(row)
                .filter_map(|(column, value)| value.as_text().map(|text| (column.clone(), text)))
                .collect(),
        )
    }

    /// One row's value by column name (case-insensitive).
    pub fn get(&self, row: usize, column: &str) -> Option<&Value> {
        let index = self.columns.iter().position(|name| name.eq_ignore_ascii_case(column))?;
        self.rows.get(row)?.get(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_row_as_text_skips_nulls() {
        let rows = Rows {
            columns: vec!["used_pct".to_owned(), "note".to_owned()],
            rows: vec![vec![Value::Decimal("97.50".into()), Value::Null]],
        };
        let first = rows.first_as_text().expect("a row");
        assert_eq!(first.get("used_pct").map(String::as_str), Some("97.50"));
        assert!(!first.contains_key("note"));
        assert_eq!(rows.get(0, "USED_PCT"), Some(&Value::Decimal("97.50".into())));
    }
}
