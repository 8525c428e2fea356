//! Diagnosis without a model: investigation tools run on the read-only path ([`tools`]), the
//! specialists' rules read their rows and name root causes with the evidence that supports
//! them, and each cause's fixes become concrete, scored candidates.
pub mod tools;
