//! The databases under care. This is the only module that speaks to them; today it holds the
//! SQL reading every other step relies on.

pub mod fill;
pub mod sql;
