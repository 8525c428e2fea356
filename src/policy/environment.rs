//! Per-database overrides (`environments/*.md`): a DBA can make one database stricter for a
//! while — e.g. ADVISORY during a migration — with a reason, an approver and an expiry date.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Problem;
use super::markdown::Document;

/// The autonomy a database runs under: what Sentri may do without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Autonomy {
    /// Fixes run without asking (DEV by default).
    Autonomous,
    /// Low-risk fixes run; others wait for approval (UAT by default).
    Supervised,
    /// Every fix waits for approval (PROD by default).
    Advisory,
}

impl Autonomy {
    pub fn parse(text: &str) -> Option<Autonomy> {
        match text.trim().to_uppercase().as_str() {
            "AUTONOMOUS" => Some(Autonomy::Autonomous),
            "SUPERVISED" => Some(Autonomy::Supervised),
            "ADVISORY" => Some(Autonomy::Advisory),
            _ => None,
        }
    }
}

/// One `environments/<db>.md`.
#[derive(Debug, Clone)]
pub struct EnvironmentPolicy {
    pub path: PathBuf,
    pub database_id: String,
    pub environment: Option<String>,
    pub autonomy_override: Option<Autonomy>,
    pub override_reason: Option<String>,
    pub override_approved_by: Option<String>,
    /// The override stops applying after this day (UTC).
    pub override_expires: Option<jiff::civil::Date>,
    /// Schemas whose objects a fix changes only with a human's approval (upper-case names, from
    /// `## Critical Schemas` bullets: the name, then optionally `—` and why).
    pub critical_schemas: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FrontMatter {
    database_id: Option<String>,
    environment: Option<String>,
    autonomy_override: Option<String>,
    override_reason: Option<String>,
    override_approved_by: Option<String>,
    override_expires: Option<String>,
}

impl EnvironmentPolicy {
    pub fn from_document(
        path: &Path,
        document: &Document,
        problems: &mut Vec<Problem>,
    ) -> Result<EnvironmentPolicy, Vec<Problem>> {
        let mut errors = Vec::new();
        const KEYS: &[&str] = &[
            "type",
            "database_id",
            "environment",
            "autonomy_level",
            "autonomy_override",
            "override_reason",
            "override_approved_by",
            "override_expires",
            "version",
        ];
        let front: FrontMatter = super::front_matter(path, document, KEYS, &mut errors, problems).unwrap_or_default();
        let database_id = front.database_id.clone().unwrap_or_else(|| {
            path.file_stem().map(|stem| stem.to_string_lossy().replace('_', "-")).unwrap_or_default()
        });
        let autonomy_override = match front.autonomy_override.as_deref() {
            None => None,
            Some(text) => match Autonomy::parse(text) {
                Some(autonomy) => Some(autonomy),
                None => {
                    errors.push(Problem::error(
                        path,
                        1,
                        format!("autonomy_override `{text}` is not one of AUTONOMOUS, SUPERVISED, ADVISORY"),
                    ));
                    None
                }
            },
        };
        let override_expires = match front.override_expires.as_deref() {
            None => None,
            Some(text) => match text.trim().parse::<jiff::civil::Date>() {
                Ok(date) => Some(date),
                Err(_) => {
                    errors.push(Problem::error(
                        path,
                        1,
                        format!("override_expires `{text}` is not a date (YYYY-MM-DD)"),
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(EnvironmentPolicy {
            path: path.to_path_buf(),
            database_id,
            environment: front.environment,
            autonomy_override,
            override_reason: front.override_reason,
            override_approved_by: front.override_approved_by,
            override_expires,
            critical_schemas: document
                .section("critical_schemas")
                .map(|s| s.items().filter_map(|i| super::brain::bullet_name(&i.text)).collect())
                .unwrap_or_default(),
        })
    }

    /// The override in force on `today`, if any. An expired override no longer applies.
    pub fn active_override(&self, today: jiff::civil::Date) -> Option<Autonomy> {
        match self.override_expires {
            Some(expires) if today > expires => None,
            _ => self.autonomy_override,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;

    #[test]
    fn an_override_expires() {
        let text = "---\ntype: environment\ndatabase_id: PROD-DB-07\nautonomy_override: advisory\noverride_expires: 2026-12-31\n---\n";
        let environment = EnvironmentPolicy::from_document(
            Path::new("environments/prod_db_07.md"),
            &markdown::parse(text),
            &mut Vec::new(),
        )
        .expect("loads");
        assert_eq!(environment.active_override(jiff::civil::date(2026, 12, 31)), Some(Autonomy::Advisory));
        assert_eq!(environment.active_override(jiff::civil::date(2027, 1, 1)), None);
    }

    #[test]
    fn a_bad_override_is_an_error_not_silently_ignored() {
        let text = "---\nautonomy_override: YOLO\n---\n";
        let errors = EnvironmentPolicy::from_document(Path::new("e.md"), &markdown::parse(text), &mut Vec::new())
            .expect_err("fails");
        assert!(errors[0].message.contains("YOLO"));
    }
}
