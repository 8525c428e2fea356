//! Specialists (`agents/*.md`): the deterministic rules a senior DBA follows from an alert to a
//! root cause and the fixes for it, in a file a DBA can read and edit.
//!
//! A specialist says which alerts it takes (`handles:` alert types, `subjects:` words of the
//! subject), which tools it runs per engine (`## Tools`), how it weighs a fix
//! (`## Scoring Weights`, the reference format), and its rules: each `## Cause: CODE` section
//! names a root cause that holds when a row of one tool's result meets every `when:` condition,
//! and the `## Fix: TITLE` sections after it are the concrete fixes for that cause.
//!
//! The reference product's agent files (weights only) still load: they route and weigh, and
//! name no cause.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::alert::SqlBlock;
use super::condition::Condition;
use super::markdown::{Document, Section};
use super::{DbKind, Problem};
use crate::domain::{IdentifierKind, Risk, RootCause};
use crate::targets::sql;

/// One specialist.
#[derive(Debug, Clone)]
pub struct Specialist {
    pub name: String,
    pub path: PathBuf,
    /// Alert types this specialist takes; `*` at the end matches a prefix.
    pub handles: Vec<String>,
    /// Case-insensitive words or phrases of an alert's subject that route to this specialist.
    pub subjects: Vec<String>,
    /// The tools it runs on each engine, in order (independent tools run in parallel).
    pub tools: BTreeMap<DbKind, Vec<String>>,
    pub weights: Vec<(Criterion, f64)>,
    /// What each weight was called in the file (the reference's `fixes_root_cause`…).
    pub weight_names: BTreeMap<Criterion, String>,
    pub causes: Vec<CauseRule>,
}

/// What a candidate fix is scored on. The reference product's criterion names map onto these
/// (`fixes_root_cause` and `targets_root_cause` are benefit, `side_effect_risk` is risk,
/// `execution_time` is availability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Criterion {
    /// 1 for LOW risk down to 0 for CRITICAL.
    Risk,
    /// 1 with a real rollback, lower for an irreversible fix.
    Reversibility,
    /// How little the fix locks or interrupts while it runs (the fix's `impact:`).
    Availability,
    /// How much the fix treats the cause, times how sure the cause is.
    Benefit,
    /// How often this kind of fix succeeded on this database before.
    History,
}

impl Criterion {
    /// Reads a criterion as a specialist file writes it, reference names included.
    pub fn parse(text: &str) -> Option<Criterion> {
        Some(match text.trim().to_lowercase().as_str() {
            "risk" | "side_effect_risk" => Criterion::Risk,
            "reversibility" => Criterion::Reversibility,
            "availability" | "lock_impact" | "execution_time" => Criterion::Availability,
            "benefit" | "fixes_root_cause" | "targets_root_cause" | "reduces_wait_time" => Criterion::Benefit,
            "history" | "historical_success" => Criterion::History,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::Risk => "risk",
            Criterion::Reversibility => "reversibility",
            Criterion::Availability => "availability",
            Criterion::Benefit => "benefit",
            Criterion::History => "history",
        }
    }
}

/// The weights a specialist without `## Scoring Weights` uses.
pub const DEFAULT_WEIGHTS: [(Criterion, f64); 5] = [
    (Criterion::Benefit, 0.35),
    (Criterion::Risk, 0.20),
    (Criterion::Reversibility, 0.15),
    (Criterion::Availability, 0.20),
    (Criterion::History, 0.10),
];

/// One `## Cause: CODE` rule.
#[derive(Debug, Clone)]
pub struct CauseRule {
    pub cause: RootCause,
    /// The engine the rule reads (a rule's tool belongs to one engine).
    pub engine: DbKind,
    pub tool: String,
    /// The tool's query whose rows are judged; the first one when not given.
    pub query: Option<String>,
    /// All must hold on one row.
    pub when: Vec<Condition>,
    pub confidence: f64,
    /// One line, with `{column}` filled from the row that held.
    pub summary: String,
    pub fixes: Vec<FixRule>,
    pub line: usize,
}

/// One `## Fix: TITLE` for the cause before it.
#[derive(Debug, Clone)]
pub struct FixRule {
    pub title: String,
    pub risk: Risk,
    /// How much the fix locks or interrupts while it runs.
    pub impact: Impact,
    /// 0.0–1.0: how fully the fix treats the cause (cancelling a statement buys time: low).
    pub benefit: f64,
    /// The row of brain/rules.md "Action Rules" this fix falls under.
    pub action_type: String,
    pub irreversible: Option<String>,
    pub why: String,
    pub forward: Vec<SqlBlock>,
    pub rollback: Vec<SqlBlock>,
    /// Placeholders that DDL splices, with their kinds (`- identifier: table = table`).
    pub identifiers: BTreeMap<String, IdentifierKind>,
    pub line: usize,
}

impl FixRule {
    /// What makes the fix unusable, with the line of the statement at fault when there is one:
    /// the checks every fix passes, whether a DBA wrote it or a model proposed it.
    pub fn problems(&self) -> Vec<(Option<usize>, String)> {
        let mut problems = Vec::new();
        if self.action_type.is_empty() {
            problems.push((None, "the fix needs `- action_type:` (a row of brain/rules.md)".to_owned()));
        }
        if self.forward.is_empty() {
            problems.push((None, "the fix needs a ```sql block".to_owned()));
        }
        if self.rollback.is_empty() && self.irreversible.is_none() {
            problems.push((
                None,
                "the fix needs a ```sql rollback block or `- irreversible:` saying why it cannot be undone".to_owned(),
            ));
        }
        if !self.rollback.is_empty() && self.irreversible.is_some() {
            problems.push((None, "a fix has a rollback or is irreversible, not both".to_owned()));
        }
        for step in self.forward.iter().chain(&self.rollback) {
            if step.kind.takes_binds() {
                continue;
            }
            for placeholder in sql::placeholders(&step.sql) {
                if !placeholder.as_literal && !self.identifiers.contains_key(&placeholder.name.to_lowercase()) {
                    problems.push((
                        Some(step.line),
                        format!(
                            "`:{}` is spliced into DDL: declare it with `- identifier: {} = KIND`",
                            placeholder.name, placeholder.name
                        ),
                    ));
                }
            }
        }
        problems
    }
}

/// How much a fix locks or interrupts while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Impact {
    None,
    Low,
    Medium,
    High,
}

impl Impact {
    pub fn parse(text: &str) -> Option<Impact> {
        Some(match text.trim().to_lowercase().as_str() {
            "none" => Impact::None,
            "low" => Impact::Low,
            "medium" => Impact::Medium,
            "high" => Impact::High,
            _ => return None,
        })
    }

    /// The availability criterion's score.
    pub fn score(self) -> f64 {
        match self {
            Impact::None => 1.0,
            Impact::Low => 0.8,
            Impact::Medium => 0.5,
            Impact::High => 0.2,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FrontMatter {
    agent_name: Option<String>,
    handles: Vec<String>,
    subjects: Vec<String>,
}

const KEYS: &[&str] = &["agent_name", "name", "handles", "subjects", "version", "type", "description"];

impl Specialist {
    /// Reads one specialist file. A broken rule is an error with its line, and the file is
    /// skipped whole: half a specialist would diagnose wrongly without saying so.
    pub fn from_document(
        path: &Path,
        document: &Document,
        problems: &mut Vec<Problem>,
    ) -> Result<Specialist, Vec<Problem>> {
        let mut errors = Vec::new();
        let front: FrontMatter = super::front_matter(path, document, KEYS, &mut errors, problems).unwrap_or_default();
        let stem = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        let name = front.agent_name.clone().unwrap_or(stem);
        let (weights, weight_names) = weights(path, document, &mut errors, problems);
        let tools = tools(path, document, &mut errors);
        let causes = causes(path, document, &mut errors);
        for cause in &causes {
            let listed = tools.get(&cause.engine).is_some_and(|names| names.contains(&cause.tool));
            if !listed {
                errors.push(Problem::error(
                    path,
                    cause.line,
                    format!(
                        "the cause reads tool `{}`, which `## Tools` does not list for {}",
                        cause.tool,
                        cause.engine.as_str()
                    ),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Specialist {
            name,
            path: path.to_path_buf(),
            handles: front.handles.iter().map(|handle| handle.trim().to_lowercase()).collect(),
            subjects: front
                .subjects
                .iter()
                .map(|subject| subject.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            tools,
            weights,
            weight_names,
            causes,
        })
    }

    /// Whether this specialist takes an alert of `alert_type` (with `*` prefixes) or whose
    /// subject holds one of its words.
    pub fn takes(&self, alert_type: Option<&str>, subject: &str) -> bool {
        let by_type = alert_type.is_some_and(|alert_type| {
            let alert_type = alert_type.to_lowercase();
            self.handles.iter().any(|handle| match handle.strip_suffix('*') {
                Some(prefix) => !prefix.is_empty() && alert_type.starts_with(prefix),
                None => *handle == alert_type,
            })
        });
        let subject = subject.to_lowercase();
        by_type || self.subjects.iter().any(|word| subject.contains(word.as_str()))
    }

    /// The weight of each criterion, with the name the file gave it.
    pub fn weight_label(&self, criterion: Criterion) -> String {
        self.weight_names.get(&criterion).cloned().unwrap_or_else(|| criterion.as_str().to_owned())
    }
}

fn weights(
    path: &Path,
    document: &Document,
    errors: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
) -> (Vec<(Criterion, f64)>, BTreeMap<Criterion, String>) {
    let Some(section) = document.section("scoring_weights") else {
        return (DEFAULT_WEIGHTS.to_vec(), BTreeMap::new());
    };
    let mut weights: Vec<(Criterion, f64)> = Vec::new();
    let mut names = BTreeMap::new();
    for item in section.items() {
        let Some((key, value)) = item.text.split_once(':') else {
            errors.push(Problem::error(path, item.line, format!("`{}`: expected `criterion: weight`", item.text)));
            continue;
        };
        let key = key.trim().trim_matches('`');
        let Ok(weight) = value.trim().parse::<f64>() else {
            errors.push(Problem::error(path, item.line, format!("`{}`: the weight is not a number", item.text)));
            continue;
        };
        match Criterion::parse(key) {
            Some(criterion) => {
                match weights.iter_mut().find(|(known, _)| *known == criterion) {
                    Some((_, sum)) => *sum += weight,
                    None => weights.push((criterion, weight)),
                }
                names.entry(criterion).or_insert_with(|| key.to_owned());
            }
            None => warnings.push(Problem::warning(
                path,
                item.line,
                format!(
                    "criterion `{key}` is not scored (known: risk, reversibility, availability, benefit, history, \
                     and the reference names) and is ignored"
                ),
            )),
        }
    }
    if weights.is_empty() {
        return (DEFAULT_WEIGHTS.to_vec(), names);
    }
    (weights, names)
}

/// `## Tools`: bullets `postgres: a, b` and `oracle: c, d`.
fn tools(path: &Path, document: &Document, errors: &mut Vec<Problem>) -> BTreeMap<DbKind, Vec<String>> {
    let mut tools: BTreeMap<DbKind, Vec<String>> = BTreeMap::new();
    let Some(section) = document.section("tools") else { return tools };
    for item in section.items() {
        let Some((engine, names)) = item.text.split_once(':') else {
            errors.push(Problem::error(path, item.line, format!("`{}`: expected `ENGINE: tool, tool`", item.text)));
            continue;
        };
        let Some(engine) = DbKind::parse(engine.trim()) else {
            errors.push(Problem::error(path, item.line, format!("`{}` is not oracle or postgres", engine.trim())));
            continue;
        };
        let entry = tools.entry(engine).or_default();
        for name in names.split(',').map(|name| name.trim().trim_matches('`')).filter(|name| !name.is_empty()) {
            entry.push(name.to_owned());
        }
    }
    tools
}

/// The `## Cause:` sections, each with the `## Fix:` sections that follow it.
fn causes(path: &Path, document: &Document, errors: &mut Vec<Problem>) -> Vec<CauseRule> {
    let mut causes: Vec<CauseRule> = Vec::new();
    for section in &document.sections {
        let heading = section.heading.trim();
        if let Some(code) = heading.strip_prefix("Cause:") {
            if let Some(cause) = cause(path, section, code.trim(), errors) {
                causes.push(cause);
            }
        } else if let Some(title) = heading.strip_prefix("Fix:") {
            let fix = fix(path, section, title.trim(), errors);
            match (causes.last_mut(), fix) {
                (Some(cause), Some(fix)) => cause.fixes.push(fix),
                (None, _) => {
                    errors.push(Problem::error(path, section.line, "a `## Fix:` must follow the `## Cause:` it treats"))
                }
                (_, None) => {}
            }
        }
    }
    causes
}

/// The `- key: value` bullets of a section, lower-cased keys, with their lines.
fn bullets(section: &Section) -> Vec<(String, String, usize)> {
    section
        .items()
        .filter_map(|item| {
            let (key, value) = item.text.split_once(':')?;
            Some((key.trim().trim_matches('`').to_lowercase(), value.trim().to_owned(), item.line))
        })
        .collect()
}

fn cause(path: &Path, section: &Section, code: &str, errors: &mut Vec<Problem>) -> Option<CauseRule> {
    let Some(cause) = RootCause::parse(code) else {
        let known: Vec<_> = RootCause::ALL.iter().map(|(name, _)| *name).collect();
        errors.push(Problem::error(
            path,
            section.line,
            format!("`{code}` is not a root-cause code (one of {})", known.join(", ")),
        ));
        return None;
    };
    let before = errors.len();
    let (mut engine, mut tool, mut query, mut when, mut confidence, mut summary) =
        (None, None, None, Vec::new(), None, None);
    for (key, value, line) in bullets(section) {
        match key.as_str() {
            "engine" => match DbKind::parse(&value) {
                Some(kind) => engine = Some(kind),
                None => errors.push(Problem::error(path, line, format!("engine `{value}` is not oracle or postgres"))),
            },
            "tool" => tool = Some(value.trim_matches('`').to_owned()),
            "query" => query = Some(value.trim_matches('`').to_lowercase()),
            "when" => match Condition::parse(&value, line) {
                Ok(condition) => when.push(condition),
                Err(message) => errors.push(Problem::error(path, line, message)),
            },
            "confidence" => match value.parse::<f64>() {
                Ok(number) if (0.0..=1.0).contains(&number) => confidence = Some(number),
                _ => errors.push(Problem::error(path, line, format!("confidence `{value}` must be 0.0 to 1.0"))),
            },
            "summary" => summary = Some(value),
            other => errors.push(Problem::error(
                path,
                line,
                format!("`{other}:` is not a cause key (engine, tool, query, when, confidence, summary)"),
            )),
        }
    }
    let mut missing =
        |what: &str| errors.push(Problem::error(path, section.line, format!("the cause needs `- {what}:`")));
    if engine.is_none() {
        missing("engine");
    }
    if tool.is_none() {
        missing("tool");
    }
    if when.is_empty() {
        missing("when");
    }
    if confidence.is_none() {
        missing("confidence");
    }
    if errors.len() > before {
        return None;
    }
    Some(CauseRule {
        cause,
        engine: engine?,
        tool: tool?,
        query,
        when,
        confidence: confidence?,
        summary: summary.unwrap_or_else(|| cause.as_str().to_owned()),
        fixes: Vec::new(),
        line: section.line,
    })
}

fn fix(path: &Path, section: &Section, title: &str, errors: &mut Vec<Problem>) -> Option<FixRule> {
    let before = errors.len();
    let mut fix = FixRule {
        title: title.to_owned(),
        risk: Risk::Medium,
        impact: Impact::Low,
        benefit: 0.5,
        action_type: String::new(),
        irreversible: None,
        why: String::new(),
        forward: Vec::new(),
        rollback: Vec::new(),
        identifiers: BTreeMap::new(),
        line: section.line,
    };
    let mut risk_given = false;
    for (key, value, line) in bullets(section) {
        match key.as_str() {
            "risk" => match Risk::parse_leading(&value) {
                Some(risk) => {
                    fix.risk = risk;
                    risk_given = true;
                }
                None => errors.push(Problem::error(path, line, "risk must be LOW, MEDIUM, HIGH or CRITICAL")),
            },
            "impact" => match Impact::parse(&value) {
                Some(impact) => fix.impact = impact,
                None => errors.push(Problem::error(path, line, "impact must be none, low, medium or high")),
            },
            "benefit" => match value.parse::<f64>() {
                Ok(number) if (0.0..=1.0).contains(&number) => fix.benefit = number,
                _ => errors.push(Problem::error(path, line, format!("benefit `{value}` must be 0.0 to 1.0"))),
            },
            "action_type" => fix.action_type = value.trim_matches('`').to_uppercase(),
            "irreversible" => fix.irreversible = Some(value),
            "why" => fix.why = value,
            "identifier" => {
                let parsed = value
                    .split_once('=')
                    .map(|(name, kind)| (name.trim().trim_matches('`').to_lowercase(), kind.trim()));
                match parsed.and_then(|(name, kind)| IdentifierKind::parse(kind).map(|kind| (name, kind))) {
                    Some((name, kind)) => {
                        fix.identifiers.insert(name, kind);
                    }
                    None => errors.push(Problem::error(
                        path,
                        line,
                        format!(
                            "`identifier: {value}`: expected `NAME = KIND` with KIND one of {}",
                            IdentifierKind::names().collect::<Vec<_>>().join(", ")
                        ),
                    )),
                }
            }
            other => errors.push(Problem::error(
                path,
                line,
                format!(
                    "`{other}:` is not a fix key (risk, impact, benefit, action_type, irreversible, why, identifier)"
                ),
            )),
        }
    }
    for block in section.blocks("sql") {
        let text = sql::strip_terminator(&block.code);
        let step = SqlBlock { kind: sql::statement_kind(&text), sql: text, line: block.line + 1 };
        match block.role.as_deref() {
            None | Some("forward") => fix.forward.push(step),
            Some("rollback") => fix.rollback.push(step),
            Some(other) => errors.push(Problem::error(
                path,
                block.line,
                format!("```sql {other}: a fix's blocks are ```sql (forward) or ```sql rollback"),
            )),
        }
    }
    if !risk_given {
        errors.push(Problem::error(path, section.line, "the fix needs `- risk:` (LOW, MEDIUM, HIGH or CRITICAL)"));
    }
    for (line, message) in fix.problems() {
        errors.push(Problem::error(path, line.unwrap_or(section.line), message));
    }
    (errors.len() == before).then_some(fix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;

    const FILE: &str = "---\nagent_name: blocking\nhandles: [pg_blocking_session, check_finding:*]\nsubjects: [blocked, lock wait]\n---\n\
        ## Tools\n- postgres: pg_blocking_tree, pg_locks\n\
        ## Scoring Weights\n- targets_root_cause: 0.5\n- reversibility: 0.3\n- execution_time: 0.2\n- mood: 1\n\
        ## Cause: LOCK_CONTENTION\n- engine: postgres\n- tool: pg_blocking_tree\n- when: holder_state == 'active'\n- when: waiters >= 1\n- confidence: 0.9\n- summary: pid {holder_pid} blocks {waiters}\n\
        ## Fix: Cancel the statement\n- risk: LOW\n- impact: low\n- benefit: 0.6\n- action_type: CANCEL_QUERY\n- irreversible: the statement is lost\n```sql\nSELECT pg_cancel_backend(:holder_pid)\n```\n\
        ## Fix: Analyze\n- risk: LOW\n- action_type: GATHER_STATS\n- identifier: table_name = table\n- irreversible: statistics are replaced\n```sql\nANALYZE :table_name\n```\n";

    #[test]
    fn a_specialist_reads_routing_weights_causes_and_fixes() {
        let mut warnings = Vec::new();
        let specialist =
            Specialist::from_document(Path::new("agents/blocking.md"), &markdown::parse(FILE), &mut warnings)
                .expect("loads");
        assert!(warnings.iter().any(|w| w.message.contains("`mood`")), "{warnings:?}");
        assert_eq!(specialist.weights.len(), 3);
        assert_eq!(specialist.weight_label(Criterion::Benefit), "targets_root_cause");
        assert!(specialist.takes(Some("pg_blocking_session"), ""));
        assert!(specialist.takes(Some("check_finding:stale_stats"), ""));
        assert!(specialist.takes(None, "Sessions BLOCKED on app"));
        assert!(!specialist.takes(Some("tablespace_full"), "tablespace USERS 97%"));
        let cause = &specialist.causes[0];
        assert_eq!(cause.cause, RootCause::LockContention);
        assert_eq!(cause.when.len(), 2);
        assert_eq!(cause.fixes.len(), 2);
        assert_eq!(cause.fixes[1].identifiers.get("table_name"), Some(&IdentifierKind::Table));
    }

    #[test]
    fn broken_rules_are_errors_with_lines() {
        let load =
            |text: &str| Specialist::from_document(Path::new("agents/x.md"), &markdown::parse(text), &mut Vec::new());
        let unknown = load("## Tools\n- postgres: t\n## Cause: SLOWNESS\n- engine: postgres\n").unwrap_err();
        assert!(unknown[0].message.contains("not a root-cause code"), "{unknown:?}");
        let unlisted = load("## Tools\n- postgres: t\n## Cause: VACUUM\n- engine: postgres\n- tool: other\n- when: n > 1\n- confidence: 0.5\n")
            .unwrap_err();
        assert!(unlisted[0].message.contains("does not list"), "{unlisted:?}");
        let spliced = load(
            "## Tools\n- postgres: t\n## Cause: VACUUM\n- engine: postgres\n- tool: t\n- when: n > 1\n- confidence: 0.5\n\
             ## Fix: vacuum\n- risk: LOW\n- action_type: VACUUM\n- irreversible: no\n```sql\nVACUUM :table_name\n```\n",
        )
        .unwrap_err();
        assert!(spliced[0].message.contains("declare it with `- identifier"), "{spliced:?}");
        let orphan = load("## Fix: x\n- risk: LOW\n").unwrap_err();
        assert!(orphan.iter().any(|p| p.message.contains("must follow")), "{orphan:?}");
    }

    #[test]
    fn reference_agent_files_load_as_weights_only() {
        let text = "---\nagent_name: storage_agent\nhandles: [tablespace_full]\nversion: 1\n---\n## Scoring Weights\n\n- fixes_root_cause: 0.30\n- reversibility: 0.25\n- side_effect_risk: 0.20\n- execution_time: 0.15\n- historical_success: 0.10\n";
        let specialist =
            Specialist::from_document(Path::new("agents/storage_agent.md"), &markdown::parse(text), &mut Vec::new())
                .expect("loads");
        assert_eq!(specialist.weights.len(), 5);
        assert!(specialist.causes.is_empty());
    }
}
