//! Deciding, from what the live database answered, whether an alert is real, whether the
//! policy's pre-flight checks allow a fix, and what the fix's plan is.
//!
//! These are plain functions over rows already fetched: the engine runs the queries through the
//! target (read-only), then asks here what they mean. Nothing here talks to a database.

use std::collections::BTreeMap;

use super::plan::{Plan, PlanSource, PlanStep, ProofSpec};
pub use crate::domain::VerificationVerdict;
use crate::policy::AlertPolicy;
use crate::policy::condition::{self, Scope};
use crate::targets::{Rows, Values};

pub use crate::domain::Verification;

/// Judges the verification query's rows against the policy.
///
/// With `## Confirmed When`, every condition must hold on the first row. Without it, a row
/// confirms the alert, and the reference format's `## Tolerance` rules apply: a numeric field
/// the alert reported that is now better than reported by more than the tolerance means the
/// problem went away.
pub fn judge(policy: &AlertPolicy, alert_fields: &BTreeMap<String, String>, rows: Option<&Rows>) -> Verification {
    judge_with(&policy.confirmed_when, &policy.tolerance, alert_fields, rows)
}

/// [`judge`] with the rules given directly: how the executor re-verifies with the rules the
/// approved plan carries rather than the policy in force now.
pub fn judge_with(
    confirmed_when: &[condition::Condition],
    tolerance: &[(String, f64)],
    alert_fields: &BTreeMap<String, String>,
    rows: Option<&Rows>,
) -> Verification {
    let Some(rows) = rows else {
        return Verification {
            verdict: VerificationVerdict::Unverifiable,
            evidence: BTreeMap::new(),
            rows: 0,
            explanations: vec!["the policy has no verification query".to_owned()],
        };
    };
    let Some(first) = rows.first_as_text() else {
        return Verification {
            verdict: VerificationVerdict::NotConfirmed,
            evidence: BTreeMap::new(),
            rows: 0,
            explanations: vec!["the verification query returned no row".to_owned()],
        };
    };
    let mut explanations = Vec::new();
    let confirmed = if confirmed_when.is_empty() {
        let mut held = true;
        for (key, tolerance) in tolerance {
            let (Some(actual), Some(reported)) = (
                first.get(key).and_then(|v| condition::parse_number(v)),
                alert_fields.get(key).and_then(|v| condition::parse_number(v)),
            ) else {
                continue;
            };
            let better_by = reported - actual;
            let ok = better_by <= *tolerance;
            explanations.push(format!(
                "{key}: reported {reported}, now {actual} (tolerance {tolerance}): {}",
                if ok { "still there" } else { "gone" }
            ));
            held &= ok;
        }
        if explanations.is_empty() {
            explanations.push("the verification query returned a row".to_owned());
        }
        held
    } else {
        let scope = Scope { row: Some(&first), alert: Some(alert_fields), before: None };
        let (held, outcomes) = condition::all_hold(confirmed_when, &scope);
        explanations.extend(outcomes.into_iter().map(|outcome| outcome.explanation));
        held
    };
    Verification {
        verdict: if confirmed { VerificationVerdict::Confirmed } else { VerificationVerdict::NotConfirmed },
        evidence: first,
        rows: rows.rows.len(),
        explanations,
    }
}

/// Whether one pre-flight check passes, from its query's rows. The expectation grammar:
/// `has rows` / `exists` / `not empty`, `no rows`, `> N` `>= N` `< N` `<= N` `== N` `!= N`,
/// `not VALUE`, or an exact value (case-insensitive) — applied to the first column of the first
/// row. A numeric expectation over no rows fails: absence is not evidence of safety.
pub fn preflight_passes(expectation: &str, rows: &Rows) -> (bool, String) {
    let expectation = expectation.trim();
    let first = rows.rows.first().and_then(|row| row.first()).and_then(|value| value.as_text());
    let lower = expectation.to_lowercase();
    let shown = first.clone().unwrap_or_else(|| "no rows".to_owned());
    let passed = match lower.as_str() {
        "" => true,
        "has rows" | "exists" | "not empty" => !rows.is_empty(),
        "no rows" | "empty" => rows.is_empty(),
        _ => {
            let operator_len = expectation.chars().take_while(|c| matches!(c, '<' | '>' | '=' | '!')).count();
            if operator_len > 0 {
                let (operator, number) = expectation.split_at(operator_len);
                match (first.as_deref().and_then(condition::parse_number), condition::parse_number(number)) {
                    (Some(actual), Some(limit)) => match operator {
                        ">" => actual > limit,
                        ">=" => actual >= limit,
                        "<" => actual < limit,
                        "<=" => actual <= limit,
                        "==" | "=" => actual == limit,
                        "!=" | "<>" => actual != limit,
                        _ => false,
                    },
                    _ => false,
                }
            } else if let Some(rest) = lower.strip_prefix("not ") {
                first.as_deref().is_some_and(|value| !value.eq_ignore_ascii_case(rest.trim()))
            } else {
                first.as_deref().is_some_and(|value| value.eq_ignore_ascii_case(expectation))
            }
        }
    };
    (passed, format!("expected {}, found {shown}", if expectation.is_empty() { "anything" } else { expectation }))
}

/// The values a plan's placeholders are filled with: every field the policy declares (`None`
/// when this alert did not carry it, bound as NULL), then the verification row's columns.
/// When a name is both, the live database's value wins: it is what the fix will act on, and
/// it is spelled as the dictionary spells it.
pub fn plan_values(
    policy: &AlertPolicy,
    alert_fields: &BTreeMap<String, String>,
    evidence: &BTreeMap<String, String>,
) -> Values {
    let mut values: Values = policy.fields.iter().map(|rule| (rule.name.clone(), None)).collect();
    for (name, value) in alert_fields {
        values.insert(name.clone(), Some(value.clone()));
    }
    for (name, value) in evidence {
        values.insert(name.clone(), Some(value.clone()));
    }
    values
}

/// Everything a plan is made from that is not in the policy.
pub struct PlanInputs<'a> {
    pub workflow_id: &'a str,
    pub database: &'a str,
    pub environment: &'a str,
    pub alert_fields: &'a BTreeMap<String, String>,
    pub verification: &'a Verification,
}

/// The policy's template fix as a plan, or `None` when the policy has no usable fix.
pub fn template_plan(policy: &AlertPolicy, inputs: &PlanInputs<'_>) -> Option<Plan> {
    if !policy.has_fix() {
        return None;
    }
    let step = |block: &crate::policy::alert::SqlBlock| PlanStep { sql: block.sql.clone() };
    Some(Plan {
        workflow_id: inputs.workflow_id.to_owned(),
        alert_type: policy.name.clone(),
        database: inputs.database.to_owned(),
        environment: inputs.environment.to_owned(),
        engine: policy.engine,
        action_type: policy.action_type.clone(),
        risk: policy.risk,
        confidence: 1.0,
        steps: policy.forward.iter().map(step).collect(),
        rollback: policy.rollback.iter().map(step).collect(),
        capture: policy.capture.as_ref().map(step),
        validation: policy.validation.as_ref().map(step),
        irreversible: policy.irreversible.clone(),
        identifiers: policy.identifiers.clone(),
        values: plan_values(policy, inputs.alert_fields, &inputs.verification.evidence),
        source: PlanSource::Template,
        rationale: format!(
            "the `{}` policy's own fix, for a problem the live database confirmed ({})",
            policy.name,
            inputs.verification.explanations.join("; ")
        ),
        proof: ProofSpec {
            success_criteria: policy.success_criteria.iter().map(ToString::to_string).collect(),
            verification: policy.verification.as_ref().map(step),
            confirmed_when: policy.confirmed_when.iter().map(ToString::to_string).collect(),
            tolerance: policy.tolerance.clone(),
        },
        // Resolved on the live database by `steps::resolve_plan`, before the plan is judged.
        resolved: BTreeMap::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;
    use crate::targets::Value;
    use std::path::Path;

    fn policy(extra: &str) -> AlertPolicy {
        let text = format!(
            "---\nidentifiers:\n  tbs: tablespace\n  file_name: datafile\n---\n## Email Pattern\n```regex\ntablespace (\\w+) is (\\d+)%( on (\\S+))?\n```\n## Extracted Fields\n- `tbs` = group(1)\n- `used_percent` = group(2)\n- `database` = group(4)\n## Verification Query\n```sql\nSELECT used_pct FROM m WHERE name = :tbs\n```\n## Forward Action\n```sql\nALTER TABLESPACE :tbs ADD DATAFILE SIZE 1G\n```\n## Rollback Action\n```sql\nALTER TABLESPACE :tbs DROP DATAFILE :file_name\n```\n{extra}"
        );
        AlertPolicy::from_document(Path::new("alerts/tbs.md"), &markdown::parse(&text), None, &mut Vec::new())
            .expect("policy loads")
    }

    fn rows(columns: &[&str], values: Vec<Vec<Value>>) -> Rows {
        Rows { columns: columns.iter().map(|c| c.to_string()).collect(), rows: values }
    }

    fn fields(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn confirmed_when_decides_over_the_first_row() {
        let policy = policy("## Confirmed When\n- used_pct >= alert.used_percent - 2\n");
        let alert = fields(&[("tbs", "USERS"), ("used_percent", "97")]);
        let still = judge(&policy, &alert, Some(&rows(&["used_pct"], vec![vec![Value::Decimal("96.1".into())]])));
        assert_eq!(still.verdict, VerificationVerdict::Confirmed, "{:?}", still.explanations);
        let gone = judge(&policy, &alert, Some(&rows(&["used_pct"], vec![vec![Value::Int(60)]])));
        assert_eq!(gone.verdict, VerificationVerdict::NotConfirmed);
        let empty = judge(&policy, &alert, Some(&rows(&["used_pct"], vec![])));
        assert_eq!(empty.verdict, VerificationVerdict::NotConfirmed);
        assert_eq!(judge(&policy, &alert, None).verdict, VerificationVerdict::Unverifiable);
    }

    #[test]
    fn reference_tolerance_applies_without_confirmed_when() {
        let policy = policy("## Tolerance\n- used_pct: 2\n");
        let alert = fields(&[("used_pct", "97")]);
        let near = judge(&policy, &alert, Some(&rows(&["used_pct"], vec![vec![Value::Int(96)]])));
        assert_eq!(near.verdict, VerificationVerdict::Confirmed);
        let better = judge(&policy, &alert, Some(&rows(&["used_pct"], vec![vec![Value::Int(80)]])));
        assert_eq!(better.verdict, VerificationVerdict::NotConfirmed);
    }

    #[test]
    fn preflight_expectations() {
        let one = rows(&["n"], vec![vec![Value::Int(3)]]);
        let none = rows(&["n"], vec![]);
        let text = rows(&["username"], vec![vec![Value::Text("APP".into())]]);
        assert!(preflight_passes("has rows", &one).0);
        assert!(!preflight_passes("has rows", &none).0);
        assert!(preflight_passes("no rows", &none).0);
        assert!(preflight_passes("> 2", &one).0);
        assert!(!preflight_passes("< 2", &one).0);
        assert!(!preflight_passes("< 2", &none).0, "a numeric expectation over no rows fails");
        assert!(preflight_passes("not SYS", &text).0);
        assert!(!preflight_passes("not app", &text).0);
        assert!(preflight_passes("app", &text).0);
        assert_eq!(preflight_passes("== 4", &one).1, "expected == 4, found 3");
    }

    #[test]
    fn plan_values_bind_missing_fields_as_null_and_prefer_the_live_value() {
        let policy = policy("");
        let alert = fields(&[("tbs", "users")]);
        let evidence = fields(&[("tbs", "USERS"), ("used_pct", "97")]);
        let values = plan_values(&policy, &alert, &evidence);
        assert_eq!(values["tbs"], Some("USERS".into()));
        assert_eq!(values["database"], None);
        assert_eq!(values["used_pct"], Some("97".into()));
    }

    #[test]
    fn a_template_plan_carries_the_policy_fix() {
        let policy = policy("");
        let alert = fields(&[("tbs", "USERS")]);
        let verification = judge(&policy, &alert, Some(&rows(&["used_pct"], vec![vec![Value::Int(97)]])));
        let inputs = PlanInputs {
            workflow_id: "w",
            database: "DEV-DB-01",
            environment: "DEV",
            alert_fields: &alert,
            verification: &verification,
        };
        let plan = template_plan(&policy, &inputs).expect("a plan");
        assert_eq!(plan.steps[0].sql, "ALTER TABLESPACE :tbs ADD DATAFILE SIZE 1G");
        assert_eq!(plan.rollback.len(), 1);
        assert_eq!(plan.source, PlanSource::Template);
        assert!(plan.rationale.contains("confirmed"));
    }
}
