//! The environment class of a database (DEV, UAT, PROD), which decides how much may run
//! without a human.

use std::fmt;

/// The environment class of a database. Autonomy (what may run without a human) is decided by
/// it, so an unrecognised value is an error rather than a silent "not PROD".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Environment {
    /// Development: fixes may run on their own.
    Dev,
    /// User acceptance: low-risk fixes run, the rest wait for approval.
    Uat,
    /// Production: changes wait for approval.
    Prod,
}

impl Environment {
    /// The spellings accepted in the file (case-insensitive).
    pub const ALLOWED: &'static str = "DEV, UAT, PROD";

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "DEV" => Some(Self::Dev),
            "UAT" => Some(Self::Uat),
            "PROD" => Some(Self::Prod),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Environment::Dev => "DEV",
            Environment::Uat => "UAT",
            Environment::Prod => "PROD",
        })
    }
}
