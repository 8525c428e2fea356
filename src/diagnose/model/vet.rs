//! A model's candidate, made into a fix the way a specialist's `## Fix:` is, or refused with
//! the reason. The checks fail closed, each one enough to drop the candidate:
//! - its cause, risk, impact and action type are read as a fix file's are, and the action type
//!   must be a row of the brain's Action Rules;
//! - every statement is one statement, classified by the one lexer, and none is one the Safety
//!   Mesh would block outright (CRITICAL), builds SQL at run time, or is a block or call;
//! - every placeholder has a value, object names are declared identifiers of a known kind (they
//!   are resolved in the dictionary when the fix is drafted), and DDL splices nothing else;
//! - the ground-truth rules hold against the database's profile.
//!
//! What survives is a [`FixRule`] and a [`Basis`]: `candidates::draft` resolves it and the
//! Safety Mesh judges it like any plan.

use std::collections::BTreeMap;

use super::answer::{self, CandidateAnswer, MAX_STATEMENTS, MAX_TEXT};
use super::ground_truth;
use crate::diagnose::candidates::Basis;
use crate::domain::{DbKind, IdentifierKind, PlanSource, Risk, RootCause};
use crate::policy::alert::SqlBlock;
use crate::policy::specialist::{FixRule, Impact};
use crate::sql::classify::{Severity, classify};
use crate::sql::statement::StatementKind;
use crate::targets::{Profile, sql};

/// What the vetting knows about where the fix would run.
pub struct Ground<'a> {
    pub engine: DbKind,
    pub profile: Option<&'a Profile>,
    /// The brain's Action Rules rows (upper case).
    pub action_types: Vec<String>,
    /// Who proposed it, for the plan's source.
    pub provider: String,
}

/// A candidate that passed: the fix and what it is proposed on.
#[derive(Debug, Clone)]
pub struct Vetted {
    pub fix: FixRule,
    pub basis: Basis,
}

/// Makes `candidate` a fix, or says why it cannot be one.
pub fn vet(candidate: &CandidateAnswer, ground: &Ground<'_>) -> Result<Vetted, String> {
    let cause = RootCause::parse(&candidate.root_cause)
        .ok_or_else(|| format!("`{}` is not a root-cause code", candidate.root_cause))?;
    let risk = Risk::parse_leading(&candidate.risk)
        .ok_or_else(|| format!("risk `{}` is not LOW, MEDIUM, HIGH or CRITICAL", candidate.risk))?;
    let impact = match &candidate.impact {
        Some(text) => Impact::parse(text).ok_or_else(|| format!("impact `{text}` is not none, low, medium or high"))?,
        None => Impact::Medium,
    };
    let benefit = candidate.benefit.unwrap_or(0.5);
    if !(0.0..=1.0).contains(&benefit) {
        return Err(format!("benefit {benefit} is not between 0 and 1"));
    }
    let action_type = candidate.action_type.trim().to_ascii_uppercase();
    if !ground.action_types.contains(&action_type) {
        return Err(format!("action type `{action_type}` is not a row of the brain's Action Rules"));
    }
    for text in [&candidate.title, &candidate.why] {
        if text.chars().count() > MAX_TEXT {
            return Err("a title or why is too long".into());
        }
    }
    if candidate.forward.len() > MAX_STATEMENTS || candidate.rollback.len() > MAX_STATEMENTS {
        return Err(format!("more than {MAX_STATEMENTS} statements in one direction"));
    }
    let values = values(candidate)?;
    let mut identifiers = BTreeMap::new();
    for (name, kind) in &candidate.identifiers {
        let kind = IdentifierKind::parse(kind).ok_or_else(|| {
            format!(
                "identifier `{name}`: `{kind}` is not a kind (one of {})",
                IdentifierKind::names().collect::<Vec<_>>().join(", ")
            )
        })?;
        identifiers.insert(name.to_lowercase(), kind);
    }
    let forward = statements(&candidate.forward, &values, ground)?;
    let rollback = statements(&candidate.rollback, &values, ground)?;
    let irreversible = candidate.irreversible.clone().filter(|reason| !reason.trim().is_empty());
    let fix = FixRule {
        title: candidate.title.clone(),
        risk,
        impact,
        benefit,
        action_type,
        irreversible,
        why: candidate.why.clone(),
        forward,
        rollback,
        identifiers,
        line: 0,
    };
    if let Some((_, problem)) = fix.problems().into_iter().next() {
        return Err(problem);
    }
    let basis = Basis {
        cause,
        confidence: benefit,
        summary: candidate.why.clone(),
        source: PlanSource::Llm { provider: ground.provider.clone() },
        row: values,
        from_catalog: false,
    };
    Ok(Vetted { fix, basis })
}

/// The candidate's values as text, names lower-cased.
fn values(candidate: &CandidateAnswer) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    for (name, value) in &candidate.values {
        let text =
            answer::value_text(value).ok_or_else(|| format!("value `{name}` is not a string, number or boolean"))?;
        if text.chars().count() > MAX_TEXT {
            return Err(format!("value `{name}` is too long"));
        }
        values.insert(name.to_lowercase(), text);
    }
    Ok(values)
}

/// Each statement read as a fix file's ```sql block is, then checked.
fn statements(
    texts: &[String],
    values: &BTreeMap<String, String>,
    ground: &Ground<'_>,
) -> Result<Vec<SqlBlock>, String> {
    let mut blocks = Vec::new();
    for (index, text) in texts.iter().enumerate() {
        if text.chars().count() > MAX_TEXT {
            return Err(format!("statement {} is too long", index + 1));
        }
        let sql_text = sql::strip_terminator(text);
        let class = classify(&sql_text);
        let quoted = excerpt(&sql_text);
        if class.statements != 1 {
            return Err(format!("`{quoted}` holds {} statements; each step is one", class.statements));
        }
        if class.severity == Severity::Critical {
            return Err(format!("`{quoted}` is refused: {}", class.why));
        }
        if class.dynamic_sql {
            return Err(format!("`{quoted}` builds SQL at run time, which no reader can check"));
        }
        let kind = sql::statement_kind(&sql_text);
        if kind == StatementKind::Block {
            return Err(format!("`{quoted}` is a block or a call, whose body cannot be checked"));
        }
        for placeholder in sql::placeholders(&sql_text) {
            if !values.contains_key(&placeholder.name.to_lowercase()) {
                return Err(format!("`{quoted}`: `:{}` has no value", placeholder.name));
            }
        }
        if let Some(reason) = ground_truth::refusal(ground.engine, ground.profile, &sql_text, &class, values) {
            return Err(format!("`{quoted}`: {reason}"));
        }
        blocks.push(SqlBlock { kind, sql: sql_text, line: index + 1 });
    }
    Ok(blocks)
}

fn excerpt(sql_text: &str) -> String {
    let flat = sql_text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 { format!("{}…", flat.chars().take(120).collect::<String>()) } else { flat }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DbKind;

    fn profile() -> &'static Profile {
        static PROFILE: std::sync::OnceLock<Profile> = std::sync::OnceLock::new();
        PROFILE.get_or_init(|| Profile {
            engine: DbKind::Postgres,
            profiled_at: String::new(),
            version: "15.18".into(),
            version_major: 15,
            connected_as: "sentri".into(),
            database_name: "app".into(),
            oracle: None,
            postgres: Some(crate::targets::profile::PostgresProfile {
                server_version_num: 150018,
                in_recovery: false,
                max_connections: 100,
                extensions: Vec::new(),
                is_superuser: false,
            }),
        })
    }

    fn ground() -> Ground<'static> {
        Ground {
            engine: DbKind::Postgres,
            profile: Some(profile()),
            action_types: vec!["VACUUM".into(), "CREATE_INDEX".into(), "KILL_SESSION".into()],
            provider: "claude".into(),
        }
    }

    fn candidate(forward: &[&str], values: serde_json::Value) -> CandidateAnswer {
        CandidateAnswer {
            title: "Vacuum the table".into(),
            root_cause: "VACUUM".into(),
            action_type: "vacuum".into(),
            risk: "LOW".into(),
            impact: Some("low".into()),
            benefit: Some(0.8),
            forward: forward.iter().map(|s| (*s).to_owned()).collect(),
            rollback: Vec::new(),
            irreversible: Some("a vacuum cannot be undone, and needs no undoing".into()),
            identifiers: BTreeMap::from([("table".to_owned(), "table".to_owned())]),
            values: serde_json::from_value(values).expect("values"),
            why: "dead tuples".into(),
        }
    }

    #[test]
    fn a_well_formed_candidate_becomes_a_fix_with_its_values() {
        let vetted =
            vet(&candidate(&["VACUUM (ANALYZE) :table;"], serde_json::json!({"table": "public.orders"})), &ground())
                .expect("vetted");
        assert_eq!(vetted.fix.action_type, "VACUUM");
        assert_eq!(vetted.fix.forward[0].sql, "VACUUM (ANALYZE) :table");
        assert_eq!(vetted.basis.row["table"], "public.orders");
        assert!(!vetted.basis.from_catalog);
    }

    #[test]
    fn destructive_smuggled_and_undeclared_statements_are_refused_with_the_reason() {
        let refused = |forward: &[&str], values: serde_json::Value| {
            vet(&candidate(forward, values), &ground()).expect_err("refused")
        };
        let drop = refused(&["DROP TABLE :table"], serde_json::json!({"table": "orders"}));
        assert!(drop.contains("refused"), "{drop}");
        let two = refused(&["VACUUM :table; DROP TABLE orders"], serde_json::json!({"table": "orders"}));
        assert!(two.contains("2 statements"), "{two}");
        let missing = refused(&["VACUUM :table"], serde_json::json!({}));
        assert!(missing.contains("no value"), "{missing}");
        let mut spliced = candidate(&["VACUUM :other"], serde_json::json!({"other": "orders"}));
        spliced.identifiers.clear();
        assert!(vet(&spliced, &ground()).expect_err("undeclared").contains("spliced into DDL"));
        let mut unknown = candidate(&["VACUUM :table"], serde_json::json!({"table": "orders"}));
        unknown.action_type = "DROP_EVERYTHING".into();
        assert!(vet(&unknown, &ground()).expect_err("action").contains("Action Rules"));
        let block = refused(&["DO $$ BEGIN EXECUTE 'drop table orders'; END $$"], serde_json::json!({}));
        assert!(block.contains("run time") || block.contains("block"), "{block}");
    }
}
