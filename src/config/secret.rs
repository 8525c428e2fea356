//! A value that must never reach a log, a terminal or an error message.
//!
//! Passwords, API keys, webhook URLs and routing keys are read from the environment into a
//! [`Secret`]. Its `Display` and `Debug` both print `***`, so a `{:?}` of a whole `Config`, a
//! tracing field or a panic message cannot leak one; code that really needs the value (a driver's
//! connect call, an HTTP header) says so by calling [`Secret::expose`].

use std::fmt;

/// A secret string (password, API key, webhook URL). Prints as `***`; read with [`expose`].
///
/// [`expose`]: Secret::expose
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value read from the environment, so that it cannot be printed by accident.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one call that needs it (connect, authenticate, send). Named so
    /// that every use is easy to find in review.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_debug_hide_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(s.to_string(), "***");
        assert_eq!(format!("{s:?}"), "***");
        assert_eq!(format!("{:?}", Some(s.clone())), "Some(***)");
        assert_eq!(s.expose(), "hunter2");
    }
}
