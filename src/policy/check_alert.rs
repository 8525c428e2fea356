//! A check's finding as an alert: the alert policy a `check:<name>` workflow is driven by, so a
//! finding goes through the same verification, diagnosis, Safety Mesh and fix as an email.
//!
//! A check that names a `fix_policy:` borrows that alert policy whole (verification, fix,
//! rollback, proof); its health query returns columns named as that policy's fields, and the
//! finding's row is the alert's fields. A check without one is verified by its own health
//! query, narrowed to the finding's object and to rows still over a threshold, and has no fix:
//! the workflow is escalated with the evidence (password expiry, backup freshness).

use std::collections::BTreeMap;

use super::alert::{AlertPolicy, FieldRule, Pattern, Risk, SqlBlock};
use super::check::ThresholdValue;
use super::{CheckPolicy, PolicySet};
use crate::targets::sql;

/// The field a finding that is only a forecast carries (`1`); declared by every check's alert
/// policy, so it is bound as NULL for a finding over a threshold.
pub const FORECAST_FIELD: &str = "sentri_forecast";

/// Alert types of findings start with this.
pub const PREFIX: &str = "check:";

/// `check:<name>`: the alert type of `check`'s findings.
pub fn alert_type(check: &str) -> String {
    format!("{PREFIX}{check}")
}

/// The check an alert type is about, if it is a finding's.
pub fn check_name(alert_type: &str) -> Option<&str> {
    alert_type.strip_prefix(PREFIX)
}

/// Why a check's findings cannot become workflows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckAlertError {
    #[error("{check}: `fix_policy: {fix}` names no loaded alert policy")]
    NoFixPolicy { check: String, fix: String },
    #[error("{check}: column `{column}` is not a plain SQL name, so the health query cannot be narrowed to one object")]
    BadColumn { check: String, column: String },
    #[error("{check}: the never-matching pattern did not compile: {message}")]
    Pattern { check: String, message: String },
}

/// The alert policy of `check`'s findings in `pack`.
pub fn alert_policy(check: &CheckPolicy, pack: &PolicySet) -> Result<AlertPolicy, CheckAlertError> {
    if let Some(fix) = &check.fix_policy {
        let policy = pack
            .alert(fix)
            .ok_or_else(|| CheckAlertError::NoFixPolicy { check: check.name.clone(), fix: fix.clone() })?;
        let mut policy = AlertPolicy::clone(policy);
        policy.name = alert_type(&check.name);
        policy.severity = policy.severity.max(check.severity);
        return Ok(policy);
    }
    let verification = narrowed_query(check)?;
    // Never consulted (the pack's matcher only sees the pack's own alert policies), but the
    // type has one: a class that matches no character.
    let regex = fancy_regex::Regex::new(r"[^\s\S]")
        .map_err(|error| CheckAlertError::Pattern { check: check.name.clone(), message: error.to_string() })?;
    Ok(AlertPolicy {
        name: alert_type(&check.name),
        path: check.path.clone(),
        engine: check.engine,
        severity: check.severity,
        action_type: "ESCALATE".to_owned(),
        priority: 0,
        description: check.description.clone(),
        pattern: Pattern { source: String::new(), line: 0, regex },
        fields: vec![FieldRule { name: FORECAST_FIELD.to_owned(), groups: Vec::new(), line: 0 }],
        identifiers: BTreeMap::new(),
        verification: Some(SqlBlock {
            kind: sql::statement_kind(&verification),
            sql: verification,
            line: check.health_query.line,
        }),
        confirmed_when: Vec::new(),
        tolerance: Vec::new(),
        preflight: Vec::new(),
        forward: Vec::new(),
        capture: None,
        rollback: Vec::new(),
        validation: None,
        success_criteria: Vec::new(),
        risk: Risk::Low,
        irreversible: None,
        recommended_action: check.recommended_action.clone(),
        samples: Vec::new(),
        fix_disabled: None,
        os_steps: Vec::new(),
        learned: None,
    })
}

/// The health query narrowed to one object (its `object:` columns bound to the finding's
/// values) and to rows still over at least one numeric threshold, unless the finding is a
/// forecast. The thresholds are the
/// check file's own numbers, written as SQL numbers; the object's values are binds.
fn narrowed_query(check: &CheckPolicy) -> Result<String, CheckAlertError> {
    let column = |name: &str| -> Result<String, CheckAlertError> {
        if plain_name(name) {
            Ok(name.to_owned())
        } else {
            Err(CheckAlertError::BadColumn { check: check.name.clone(), column: name.to_owned() })
        }
    };
    let mut conditions = Vec::new();
    for object in &check.object {
        let name = column(object)?;
        conditions.push(format!("sentri_check.{name} = :{name}"));
    }
    let mut over = Vec::new();
    for threshold in &check.thresholds {
        if let ThresholdValue::Number(limit) = threshold.value
            && limit.is_finite()
        {
            over.push(format!("sentri_check.{} > {limit}", column(&threshold.column)?));
        }
    }
    if !over.is_empty() {
        // A finding that is only a forecast is confirmed by its object's row being there.
        over.insert(0, format!(":{FORECAST_FIELD} = 1"));
        conditions.push(format!("({})", over.join(" OR ")));
    }
    let query = format!("SELECT * FROM (\n{}\n) sentri_check", check.health_query.sql);
    Ok(if conditions.is_empty() { query } else { format!("{query}\nWHERE {}", conditions.join("\n  AND ")) })
}

/// A name that needs no quoting in either dialect: a letter or `_`, then letters, digits, `_`.
fn plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;
    use crate::targets::sql::StatementKind;
    use std::path::Path;

    /// Whether the narrowed query is still one read-only query (the health query was).
    fn is_read_only(policy: &AlertPolicy) -> bool {
        policy.verification.as_ref().is_some_and(|query| query.kind == StatementKind::Query)
    }

    fn check(front: &str) -> CheckPolicy {
        let text = format!(
            "---\nengine: postgres\n{front}---\n## Health Query\n```sql\nSELECT usename AS user_name, days_left, 1 AS n FROM accounts ORDER BY 2;\n```\n## Threshold\n- days_left: 7\n- exclude: \"SYS\"\n"
        );
        CheckPolicy::from_document(
            Path::new("checks/postgres/expiry.md"),
            &markdown::parse(&text),
            None,
            &mut Vec::new(),
        )
        .expect("loads")
    }

    #[test]
    fn a_check_without_a_fix_is_verified_by_its_own_query_narrowed_to_the_object() {
        let policy = alert_policy(&check("object: user_name\n"), &PolicySet::default()).expect("a policy");
        assert_eq!(policy.name, "check:expiry");
        let sql = &policy.verification.as_ref().expect("a query").sql;
        assert_eq!(
            sql,
            "SELECT * FROM (\nSELECT usename AS user_name, days_left, 1 AS n FROM accounts ORDER BY 2\n) sentri_check\nWHERE sentri_check.user_name = :user_name\n  AND (:sentri_forecast = 1 OR sentri_check.days_left > 7)"
        );
        assert!(is_read_only(&policy));
        assert!(policy.forward.is_empty(), "escalated with the evidence, never fixed");
        assert_eq!(check_name(&policy.name), Some("expiry"));
    }

    #[test]
    fn a_fix_policy_that_is_not_loaded_is_an_error_naming_it() {
        let error = alert_policy(&check("fix_policy: nothing_here\n"), &PolicySet::default()).expect_err("fails");
        assert!(error.to_string().contains("nothing_here"), "{error}");
    }

    #[test]
    fn an_object_column_that_needs_quoting_is_refused() {
        let error = alert_policy(&check("object: \"user name\"\n"), &PolicySet::default()).expect_err("fails");
        assert!(matches!(error, CheckAlertError::BadColumn { .. }), "{error}");
    }
}
