//! `checks:` in sentri.yaml: whether the daemon runs the pack's health checks, and how many at
//! once. The checks themselves are policy files (`checks/**/*.md`); this is only their engine.

use super::diagnostics::Diagnostics;
use super::yaml::Fields;

/// How the daemon runs the check policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksConfig {
    /// `enabled` (true): the daemon runs every check on its schedule. `sentri checks run`
    /// works either way.
    pub enabled: bool,
    /// `max_concurrent` (8): runs at once across every database.
    pub max_concurrent: usize,
    /// `per_database` (2): runs at once on one database.
    pub per_database: usize,
}

impl Default for ChecksConfig {
    fn default() -> ChecksConfig {
        ChecksConfig { enabled: true, max_concurrent: 8, per_database: 2 }
    }
}

pub(crate) fn read_checks(mut f: Fields<'_>, d: &mut Diagnostics) -> ChecksConfig {
    let defaults = ChecksConfig::default();
    let enabled = f.bool(d, "enabled").unwrap_or(defaults.enabled);
    let mut count = |f: &mut Fields<'_>, key: &'static str, default: usize| match f.uint(d, key) {
        Some(0) => {
            d.problem(f.get(key).map(|node| node.position), f.key_path(key), "must be at least 1");
            default
        }
        Some(n) => usize::try_from(n).unwrap_or(default),
        None => default,
    };
    let max_concurrent = count(&mut f, "max_concurrent", defaults.max_concurrent);
    let per_database = count(&mut f, "per_database", defaults.per_database);
    f.finish(d);
    ChecksConfig { enabled, max_concurrent, per_database }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    fn load(yaml: &str) -> Result<Config, String> {
        Config::from_yaml(yaml, Path::new("sentri.yaml"), &|_| None)
            .map(|loaded| loaded.config)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn checks_default_to_on_and_read_their_limits() {
        let config = load("email: {}\n").expect("loads");
        assert_eq!(config.checks, super::ChecksConfig::default());
        let config = load("checks:\n  enabled: false\n  max_concurrent: 32\n").expect("loads");
        assert!(!config.checks.enabled);
        assert_eq!((config.checks.max_concurrent, config.checks.per_database), (32, 2));
        let error = load("checks:\n  per_database: 0\n").expect_err("refused");
        assert!(error.contains("checks.per_database"), "{error}");
    }
}
