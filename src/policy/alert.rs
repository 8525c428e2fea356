//! Alert policies (`alerts/**/*.md`): how to recognise one kind of alert email, confirm it on
//! the live database, fix it, undo the fix, and prove the fix worked.
//!
//! Loading is strict where a mistake would be dangerous and lenient where the reference
//! product's files must keep working: a bad regex or a field pointing at a missing group skips
//! the policy; a fix whose DDL placeholders are not declared identifiers keeps the policy (it
//! still recognises and verifies alerts) but disables its fix, so nothing unsafe can run.
//! A reference policy whose steps are operating-system commands (`-- OS COMMAND (not SQL)`,
//! `lsnrctl start`, `tnsping`) loads the same way: Sentri runs SQL only, so those steps are
//! kept as [`OsStep`]s to be reported as not run, with a warning at their line, and the fix is
//! disabled.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::condition::Condition;
use super::markdown::{Document, Element, Section};
pub use crate::domain::Risk;

use super::{DbKind, Problem, Severity};
use crate::domain::WorkflowId;
use crate::targets::sql::{self, IdentifierKind, StatementKind};

/// One alert type, as a DBA wrote it.
#[derive(Debug, Clone)]
pub struct AlertPolicy {
    /// The alert type: the file stem. A name, never an enum, so a new file is a new type.
    pub name: String,
    pub path: PathBuf,
    pub engine: DbKind,
    pub severity: Severity,
    pub action_type: String,
    pub priority: i64,
    pub description: String,
    pub pattern: Pattern,
    pub fields: Vec<FieldRule>,
    pub identifiers: BTreeMap<String, IdentifierKind>,
    pub verification: Option<SqlBlock>,
    pub confirmed_when: Vec<Condition>,
    /// The reference format's `## Tolerance` bullets (`key: N`), used when no Confirmed When.
    pub tolerance: Vec<(String, f64)>,
    pub preflight: Vec<PreflightCheck>,
    pub forward: Vec<SqlBlock>,
    pub capture: Option<SqlBlock>,
    pub rollback: Vec<SqlBlock>,
    pub validation: Option<SqlBlock>,
    pub success_criteria: Vec<Condition>,
    pub risk: Risk,
    /// Why the fix cannot be undone; such a fix always needs a human approval.
    pub irreversible: Option<String>,
    pub recommended_action: String,
    pub samples: Vec<Sample>,
    /// Set when the fix is unusable (an undeclared DDL placeholder, no rollback…): the policy
    /// still recognises and verifies alerts, then hands them to a DBA.
    pub fix_disabled: Option<String>,
    /// Set when Sentri wrote the file itself (front matter `learned: true`), so that a reviewer
    /// can tell a learned policy from one a DBA wrote and trace it to the fix it came from.
    pub learned: Option<Learned>,
    /// Steps written as operating-system commands (the reference's `listener_down.md`): never
    /// run, reported as not run; any of them in the fix disables it.
    pub os_steps: Vec<OsStep>,
}

/// A policy step that is an operating-system command, not SQL (`-- OS COMMAND (not SQL)`
/// blocks, `lsnrctl`, `tnsping`, `srvctl`…). Sentri speaks only SQL to a database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsStep {
    /// The section's normalised name (`forward_action`, `validation_query`…).
    pub section: String,
    /// The command as written, comment lines left out.
    pub command: String,
    /// The command's line in the file.
    pub line: usize,
}

/// Where a learned policy came from ([`super::learned`] writes these keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    /// The workflow whose approved, validated fix the policy was learned from.
    pub workflow: WorkflowId,
    /// The identities that approved that fix (`os:alice`, `email:bob@example.com`).
    pub approved_by: Vec<String>,
}

/// A compiled `## Email Pattern`.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub line: usize,
    pub regex: fancy_regex::Regex,
}

/// `` `name` = group(N) [or group(M)…] ``: which capture group gives a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRule {
    pub name: String,
    /// Tried in order; the first group that took part in the match wins.
    pub groups: Vec<usize>,
    pub line: usize,
}

/// A SQL statement from a policy, terminator handled, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlBlock {
    pub sql: String,
    pub line: usize,
    pub kind: StatementKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreflightCheck {
    pub name: String,
    pub expectation: String,
    pub sql: SqlBlock,
}

/// A sample alert from `## Sample Alerts` and what matching it must give.
#[derive(Debug, Clone)]
pub struct Sample {
    pub subject: String,
    pub body: String,
    pub line: usize,
    /// Expected fields; `database` is the database as the alert names it, `cleared` whether
    /// the alert is a clear event.
    pub expected: BTreeMap<String, String>,
}

/// Keys an alert policy's front matter may hold: ours, and the reference format's
/// informational ones (`type`, `version`, `generated`).
const FRONT_MATTER_KEYS: &[&str] = &[
    "type",
    "name",
    "alert_type",
    "engine",
    "severity",
    "action_type",
    "priority",
    "identifiers",
    "irreversible",
    "risk_level",
    "version",
    "generated",
    "description",
    "learned",
    "learned_from",
    "approved_by",
];

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FrontMatter {
    name: Option<String>,
    alert_type: Option<String>,
    engine: Option<String>,
    severity: Option<String>,
    action_type: Option<String>,
    priority: Option<i64>,
    identifiers: BTreeMap<String, String>,
    irreversible: Option<serde_json::Value>,
    risk_level: Option<String>,
    learned: Option<bool>,
    learned_from: Option<String>,
    approved_by: Vec<String>,
}

impl AlertPolicy {
    /// Builds a policy from a parsed file. `Err` holds every problem that makes the policy
    /// unusable; warnings go to `problems` either way.
    pub fn from_document(
        path: &Path,
        document: &Document,
        folder_engine: Option<DbKind>,
        problems: &mut Vec<Problem>,
    ) -> Result<AlertPolicy, Vec<Problem>> {
        let mut errors = Vec::new();
        let name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
        let front: FrontMatter =
            super::front_matter(path, document, FRONT_MATTER_KEYS, &mut errors, problems).unwrap_or_default();
        if let Some(declared) = front.name.as_deref().or(front.alert_type.as_deref())
            && !declared.eq_ignore_ascii_case(&name)
        {
            problems.push(Problem::warning(
                path,
                1,
                format!("front matter names it `{declared}`, but the alert type is the file name `{name}`"),
            ));
        }
        let engine = match front.engine.as_deref() {
            Some(text) => DbKind::parse(text).unwrap_or_else(|| {
                errors.push(Problem::error(path, 1, format!("engine `{text}` is not one of oracle, postgres")));
                DbKind::Oracle
            }),
            None => folder_engine.unwrap_or(DbKind::Oracle),
        };
        let severity = match front.severity.as_deref() {
            Some(text) => Severity::parse(text).unwrap_or_else(|| {
                errors.push(Problem::error(
                    path,
                    1,
                    format!("severity `{text}` is not one of LOW, MEDIUM, HIGH, CRITICAL"),
                ));
                Severity::High
            }),
            None => Severity::High,
        };
        let action_type = front.action_type.clone().unwrap_or_else(|| name.to_uppercase()).to_uppercase();

        let mut identifiers = BTreeMap::new();
        for (placeholder, kind) in &front.identifiers {
            match IdentifierKind::parse(kind) {
                Some(kind) => {
                    identifiers.insert(placeholder.to_lowercase(), kind);
                }
                None => errors.push(Problem::error(
                    path,
                    1,
                    format!(
                        "identifiers: `{placeholder}` has unknown kind `{kind}` (known: {})",
                        IdentifierKind::names().collect::<Vec<_>>().join(", ")
                    ),
                )),
            }
        }
        let irreversible = match &front.irreversible {
            None | Some(serde_json::Value::Null) | Some(serde_json::Value::Bool(false)) => None,
            Some(serde_json::Value::String(why)) if !why.trim().is_empty() => Some(why.trim().to_owned()),
            Some(_) => {
                errors.push(Problem::error(
                    path,
                    1,
                    "irreversible: give the reason as text, e.g. irreversible: \"a killed session cannot be revived\"",
                ));
                None
            }
        };

        let learned = match front.learned {
            Some(true) => {
                if front.learned_from.as_deref().is_none_or(|id| id.trim().is_empty()) {
                    problems.push(Problem::warning(
                        path,
                        1,
                        "learned: true without `learned_from:` (the workflow it came from)",
                    ));
                }
                if front.approved_by.is_empty() {
                    problems.push(Problem::warning(
                        path,
                        1,
                        "learned: true without `approved_by:` (who approved the fix)",
                    ));
                }
                Some(Learned {
                    workflow: WorkflowId::from(front.learned_from.clone().unwrap_or_default().trim().to_owned()),
                    approved_by: front.approved_by.clone(),
                })
            }
            _ => None,
        };

        let pattern = match document.section("email_pattern") {
            None => {
                errors.push(Problem::error(path, 1, "missing `## Email Pattern` section with a ```regex block"));
                None
            }
            Some(section) => compile_pattern(path, section, &mut errors),
        };
        let fields =
            document.section("extracted_fields").map(|s| parse_fields(path, s, &mut errors)).unwrap_or_default();
        if let Some(pattern) = &pattern {
            let groups = pattern.regex.captures_len().saturating_sub(1);
            for field in &fields {
                for group in &field.groups {
                    if *group == 0 || *group > groups {
                        errors.push(Problem::error(
                            path,
                            field.line,
                            format!(
                                "field `{}` refers to group({group}), but the pattern has {groups} group(s)",
                                field.name
                            ),
                        ));
                    }
                }
            }
        }

        let mut os_steps = Vec::new();
        for section in OS_STEP_SECTIONS {
            if let Some(found) = document.section(section) {
                os_steps.extend(os_commands(section, found));
            }
        }
        for step in &os_steps {
            problems.push(Problem::warning(
                path,
                step.line,
                format!(
                    "`{}` is an operating-system command, not SQL: Sentri does not run it ({} step reported as not run)",
                    step.command, step.section
                ),
            ));
        }
        let verification = first_sql(document.section("verification_query"));
        let confirmed_when = conditions(path, document.section("confirmed_when"), &mut errors);
        let success_criteria = conditions(path, document.section("success_criteria"), &mut errors);
        let tolerance = document.section("tolerance").map(parse_tolerance).unwrap_or_default();
        let preflight =
            document.section("preflight_checks").map(|s| parse_preflight(path, s, problems)).unwrap_or_default();
        let forward = all_sql(document.section("forward_action"));
        let capture = first_sql(document.section("capture_query"));
        let rollback = all_sql(document.section("rollback_action"));
        let validation = first_sql(document.section("validation_query"));
        let risk = document
            .section("risk_level")
            .and_then(|section| {
                let text = section_prose(section);
                Risk::parse_leading(&text)
            })
            .or_else(|| front.risk_level.as_deref().and_then(Risk::parse_leading))
            .unwrap_or(Risk::Medium);
        let samples =
            document.section("sample_alerts").map(|s| parse_samples(path, s, &mut errors)).unwrap_or_default();

        for block in verification
            .iter()
            .chain(capture.iter())
            .chain(validation.iter())
            .chain(preflight.iter().map(|check| &check.sql))
        {
            if block.kind != StatementKind::Query {
                errors.push(Problem::error(path, block.line, "this query must be a read-only SELECT/WITH statement"));
            }
        }
        if !confirmed_when.is_empty() && verification.is_none() {
            errors.push(Problem::error(
                path,
                document.section("confirmed_when").map_or(1, |s| s.line),
                "`## Confirmed When` needs a `## Verification Query`",
            ));
        }

        if !errors.is_empty() {
            return Err(errors);
        }
        let Some(pattern) = pattern else {
            return Err(vec![Problem::error(path, 1, "missing `## Email Pattern`")]);
        };

        let os_fix_step = os_steps.iter().find(|step| FIX_SECTIONS.contains(&step.section.as_str()));
        let fix_disabled = match os_fix_step {
            Some(step) => Some(format!(
                "line {}: its {} is an operating-system command (`{}`), which Sentri does not run",
                step.line, step.section, step.command
            )),
            None => fix_problem(&forward, &rollback, &identifiers, irreversible.as_deref()),
        };
        if let Some(reason) = &fix_disabled {
            let line = document.section("forward_action").map_or(1, |s| s.line);
            problems.push(Problem::warning(
                path,
                line,
                format!("fix disabled: {reason}; alerts are still recognised and verified, then escalated"),
            ));
        }
        if irreversible.is_some() && !rollback.is_empty() {
            problems.push(Problem::warning(
                path,
                1,
                "declares `irreversible` and also has a `## Rollback Action`; the rollback is ignored",
            ));
        }

        Ok(AlertPolicy {
            name,
            path: path.to_path_buf(),
            engine,
            severity,
            action_type,
            priority: front.priority.unwrap_or(0),
            description: document.section("description").map(section_prose).unwrap_or_default(),
            pattern,
            fields,
            identifiers,
            verification,
            confirmed_when,
            tolerance,
            preflight,
            forward,
            capture,
            rollback: if irreversible.is_some() { Vec::new() } else { rollback },
            validation,
            success_criteria,
            risk,
            irreversible,
            recommended_action: document.section("recommended_action").map(section_prose).unwrap_or_default(),
            samples,
            fix_disabled,
            learned,
            os_steps,
        })
    }

    /// Whether this policy has a fix that may be planned (it still needs the Safety Mesh).
    pub fn has_fix(&self) -> bool {
        !self.forward.is_empty() && self.fix_disabled.is_none()
    }
}

fn compile_pattern(path: &Path, section: &Section, errors: &mut Vec<Problem>) -> Option<Pattern> {
    let mut blocks = section.blocks("regex");
    let Some(block) = blocks.next() else {
        // The reference's README shows the pattern as a bare paragraph; accept that too.
        let prose = section.text();
        if prose.trim().is_empty() {
            errors.push(Problem::error(path, section.line, "`## Email Pattern` has no ```regex block"));
            return None;
        }
        return build_pattern(path, prose.trim(), section.line + 1, errors);
    };
    if blocks.next().is_some() {
        errors.push(Problem::error(
            path,
            section.line,
            "`## Email Pattern` has more than one ```regex block; use `|` alternation in one pattern",
        ));
    }
    build_pattern(path, block.code.trim(), block.line + 1, errors)
}

/// Compiles an email pattern as every policy's is compiled: case-insensitive, `.` matching
/// newlines, and a backtracking limit so that no email can keep the matcher busy for ever.
/// One function, so that a learned policy is checked with the engine and limits it will run on.
pub fn compile_regex(source: &str) -> Result<fancy_regex::Regex, fancy_regex::Error> {
    // Python's `(?P=name)` back-reference and `(?P<name>` groups are accepted by fancy-regex.
    fancy_regex::RegexBuilder::new(source)
        .case_insensitive(true)
        .dot_matches_new_line(true)
        .backtrack_limit(1_000_000)
        .build()
}

fn build_pattern(path: &Path, source: &str, line: usize, errors: &mut Vec<Problem>) -> Option<Pattern> {
    match compile_regex(source) {
        Ok(regex) => Some(Pattern { source: source.to_owned(), line, regex }),
        Err(error) => {
            errors.push(Problem::error(path, line, format!("invalid regex: {error}")));
            None
        }
    }
}

/// Parses `` `name` = group(N) [or group(M)] -- description `` (also `name: group(N)`).
fn parse_fields(path: &Path, section: &Section, errors: &mut Vec<Problem>) -> Vec<FieldRule> {
    let mut fields = Vec::new();
    for item in section.items() {
        let text = item.text.as_str();
        let Some(split) = text.find('=').or_else(|| text.find(':')) else {
            errors.push(Problem::error(path, item.line, format!("`{text}`: expected `name` = group(N)")));
            continue;
        };
        let name: String = text[..split].chars().filter(|c| !c.is_whitespace() && *c != '`').collect();
        let accessor = text[split + 1..].trim();
        let accessor = accessor.split(" -- ").next().unwrap_or(accessor);
        let accessor = accessor.split(" — ").next().unwrap_or(accessor);
        let mut groups = Vec::new();
        let mut valid = !name.is_empty();
        for alternative in accessor.split(" or ") {
            let alternative = alternative.trim().trim_matches('`');
            let number = alternative
                .strip_prefix("group(")
                .and_then(|rest| rest.split_once(')'))
                .and_then(|(number, _)| number.trim().parse::<usize>().ok());
            match number {
                Some(number) => groups.push(number),
                None => valid = false,
            }
        }
        if !valid || groups.is_empty() {
            errors.push(Problem::error(
                path,
                item.line,
                format!("`{text}`: expected `name` = group(N), optionally `or group(M)`"),
            ));
            continue;
        }
        fields.push(FieldRule { name: name.to_lowercase(), groups, line: item.line });
    }
    fields
}

fn conditions(path: &Path, section: Option<&Section>, errors: &mut Vec<Problem>) -> Vec<Condition> {
    let Some(section) = section else { return Vec::new() };
    section
        .items()
        .filter_map(|item| match Condition::parse(&item.text, item.line) {
            Ok(condition) => Some(condition),
            Err(message) => {
                errors.push(Problem::error(path, item.line, message));
                None
            }
        })
        .collect()
}

fn parse_tolerance(section: &Section) -> Vec<(String, f64)> {
    section
        .items()
        .filter_map(|item| {
            let (key, value) = item.text.split_once(':')?;
            let number: String = value.trim().chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
            Some((key.trim().trim_matches('`').to_lowercase(), number.parse().unwrap_or(2.0)))
        })
        .collect()
}

fn parse_preflight(path: &Path, section: &Section, problems: &mut Vec<Problem>) -> Vec<PreflightCheck> {
    let blocks: Vec<_> = section.blocks("sql").collect();
    let items: Vec<_> = section.items().collect();
    if blocks.len() != items.len() {
        problems.push(Problem::warning(
            path,
            section.line,
            format!(
                "{} pre-flight check(s) but {} ```sql block(s); they are paired by position",
                items.len(),
                blocks.len()
            ),
        ));
    }
    items
        .iter()
        .zip(blocks)
        .filter(|(_, block)| !is_os_command(&block.code))
        .map(|(item, block)| {
            let (name, expectation) = item
                .text
                .split_once(" -- ")
                .or_else(|| item.text.split_once(" — "))
                .or_else(|| item.text.split_once(':'))
                .unwrap_or((item.text.as_str(), ""));
            PreflightCheck {
                name: name.trim().trim_matches('`').to_owned(),
                expectation: expectation.trim().to_owned(),
                sql: sql_block(&block.code, block.line),
            }
        })
        .collect()
}

fn parse_samples(path: &Path, section: &Section, errors: &mut Vec<Problem>) -> Vec<Sample> {
    let mut samples: Vec<Sample> = Vec::new();
    for element in &section.elements {
        match element {
            Element::Code(block) if block.lang == "email" => {
                let mut lines = block.code.lines();
                let first = lines.next().unwrap_or_default();
                let Some(subject) = first.strip_prefix("Subject:") else {
                    errors.push(Problem::error(
                        path,
                        block.line + 1,
                        "a sample email starts with `Subject: …`, then a blank line, then the body",
                    ));
                    continue;
                };
                let rest: Vec<&str> = lines.collect();
                let body = match rest.first() {
                    Some(line) if line.trim().is_empty() => rest[1..].join("\n"),
                    _ => rest.join("\n"),
                };
                samples.push(Sample {
                    subject: subject.trim().to_owned(),
                    body,
                    line: block.line,
                    expected: BTreeMap::new(),
                });
            }
            Element::Item(item) => {
                let Some(sample) = samples.last_mut() else {
                    errors.push(Problem::error(path, item.line, "expected fields must follow a ```email sample"));
                    continue;
                };
                let Some((name, value)) = item.text.split_once('=') else {
                    errors.push(Problem::error(path, item.line, format!("`{}`: expected `name = value`", item.text)));
                    continue;
                };
                let name: String = name.chars().filter(|c| !c.is_whitespace() && *c != '`').collect();
                sample.expected.insert(name.to_lowercase(), value.trim().trim_matches('`').to_owned());
            }
            _ => {}
        }
    }
    samples
}

fn section_prose(section: &Section) -> String {
    let mut lines = Vec::new();
    for element in &section.elements {
        match element {
            Element::Text(item) => lines.push(item.text.clone()),
            Element::Item(item) => lines.push(format!("- {}", item.text)),
            Element::Code(block) => lines.push(block.code.trim_end().to_owned()),
        }
    }
    lines.join("\n")
}

fn sql_block(code: &str, line: usize) -> SqlBlock {
    let sql = sql::strip_terminator(code);
    SqlBlock { kind: sql::statement_kind(&sql), sql, line: line + 1 }
}

/// The sections whose blocks may be steps, and those that make up the fix.
const OS_STEP_SECTIONS: &[&str] = &[
    "verification_query",
    "preflight_checks",
    "forward_action",
    "capture_query",
    "rollback_action",
    "validation_query",
];
const FIX_SECTIONS: &[&str] = &["forward_action", "capture_query", "rollback_action"];

/// Programs a reference policy runs on the database host; a block starting with one (after
/// its comments) is an OS command even without the `-- OS COMMAND` marker.
const OS_PROGRAMS: &[&str] = &[
    "lsnrctl",
    "tnsping",
    "srvctl",
    "crsctl",
    "emctl",
    "ps",
    "sudo",
    "systemctl",
    "service",
    "pg_ctl",
    "pg_ctlcluster",
];

/// Whether a ```sql block is an operating-system command rather than SQL.
fn is_os_command(code: &str) -> bool {
    let mut marked = false;
    for line in code.lines().map(str::trim).filter(|line| !line.is_empty()) {
        if let Some(comment) = line.strip_prefix("--") {
            marked |= comment.to_ascii_uppercase().contains("OS COMMAND");
            continue;
        }
        let program = line.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
        return marked || OS_PROGRAMS.contains(&program.as_str());
    }
    false
}

/// The OS-command blocks of a section, each as its first command line.
fn os_commands(section: &str, found: &Section) -> Vec<OsStep> {
    found
        .blocks("sql")
        .filter(|block| is_os_command(&block.code))
        .filter_map(|block| {
            let (offset, command) = block
                .code
                .lines()
                .enumerate()
                .find(|(_, line)| !line.trim().is_empty() && !line.trim().starts_with("--"))?;
            Some(OsStep {
                section: section.to_owned(),
                command: command.trim().to_owned(),
                line: block.line + 1 + offset,
            })
        })
        .collect()
}

/// SQL blocks that hold a statement; comment-only blocks (`-- N/A`) are not statements, and
/// an operating-system command ([`is_os_command`]) is not one either.
fn all_sql(section: Option<&Section>) -> Vec<SqlBlock> {
    let Some(section) = section else { return Vec::new() };
    section
        .blocks("sql")
        .filter(|block| !is_os_command(&block.code))
        .map(|block| sql_block(&block.code, block.line))
        .filter(|block| !sql::first_keyword(&block.sql).is_empty())
        .collect()
}

fn first_sql(section: Option<&Section>) -> Option<SqlBlock> {
    all_sql(section).into_iter().next()
}

/// Why the fix may not run, if it may not.
fn fix_problem(
    forward: &[SqlBlock],
    rollback: &[SqlBlock],
    identifiers: &BTreeMap<String, IdentifierKind>,
    irreversible: Option<&str>,
) -> Option<String> {
    if forward.is_empty() {
        return None;
    }
    if rollback.is_empty() && irreversible.is_none() {
        return Some("no `## Rollback Action` and no `irreversible:` reason in front matter".to_owned());
    }
    let steps = forward.iter().chain(if irreversible.is_none() { rollback } else { &[] });
    for step in steps {
        for placeholder in sql::placeholders(&step.sql) {
            let name = placeholder.name.to_lowercase();
            if !step.kind.takes_binds() && !placeholder.as_literal && !identifiers.contains_key(&name) {
                return Some(format!(
                    "line {}: `:{}` is in a statement that cannot take bind variables; declare it in front matter `identifiers:` with its kind",
                    step.line, placeholder.name
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::markdown;

    fn load(text: &str) -> (Result<AlertPolicy, Vec<Problem>>, Vec<Problem>) {
        let mut problems = Vec::new();
        let document = markdown::parse(text);
        let result =
            AlertPolicy::from_document(Path::new("alerts/oracle/tablespace_full.md"), &document, None, &mut problems);
        (result, problems)
    }

    const GOOD: &str = r#"---
type: alert_pattern
severity: HIGH
action_type: ADD_DATAFILE
identifiers:
  tablespace_name: tablespace
  file_name: datafile
---
## Email Pattern
```regex
(?<!temp\s)tablespace\s+\[?(\w+)\]?\s+is\s+\[?(\d+)\s*(?:%|percent)
```
## Extracted Fields
- `tablespace_name` = group(1)
- `used_percent` = group(2) -- how full
## Verification Query
```sql
SELECT used_percent AS used_pct FROM dba_tablespace_usage_metrics WHERE tablespace_name = :tablespace_name;
```
## Confirmed When
- used_pct >= alert.used_percent - 2
## Forward Action
```sql
ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G;
```
## Capture Query
```sql
SELECT file_name FROM dba_data_files WHERE tablespace_name = :tablespace_name ORDER BY file_id DESC FETCH FIRST 1 ROWS ONLY
```
## Rollback Action
```sql
ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name;
```
## Risk Level
LOW -- adding space is safe
## Sample Alerts
```email
Subject: Tablespace USERS is 97% full

body here
```
- tablespace_name = USERS
- used_percent = 97
"#;

    #[test]
    fn a_complete_policy_loads() {
        let (policy, problems) = load(GOOD);
        let policy = policy.expect("loads");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(policy.name, "tablespace_full");
        assert_eq!(policy.action_type, "ADD_DATAFILE");
        assert_eq!(policy.risk, Risk::Low);
        assert_eq!(policy.fields[1], FieldRule { name: "used_percent".into(), groups: vec![2], line: 15 });
        assert_eq!(policy.forward[0].sql, "ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G");
        assert!(policy.has_fix());
        assert_eq!(policy.samples[0].subject, "Tablespace USERS is 97% full");
        assert_eq!(policy.samples[0].body, "body here");
        assert_eq!(policy.samples[0].expected["used_percent"], "97");
    }

    #[test]
    fn look_behind_works_like_python() {
        let (policy, _) = load(GOOD);
        let regex = policy.expect("loads").pattern.regex;
        assert!(regex.is_match("Tablespace USERS is 97% full").unwrap_or(false));
        assert!(!regex.is_match("temp tablespace TEMP is 97% full").unwrap_or(true));
    }

    #[test]
    fn a_group_that_does_not_exist_is_an_error_with_its_line() {
        let text = GOOD.replace("group(2) -- how full", "group(3)");
        let (policy, _) = load(&text);
        let errors = policy.expect_err("must fail");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 15);
        assert!(errors[0].message.contains("group(3)"), "{}", errors[0].message);
    }

    #[test]
    fn an_invalid_regex_is_an_error_at_its_line() {
        let text = GOOD.replace(r"(?<!temp\s)tablespace", "(unclosed");
        let errors = load(&text).0.expect_err("must fail");
        assert_eq!(errors[0].line, 11);
        assert!(errors[0].message.contains("invalid regex"));
    }

    #[test]
    fn a_missing_pattern_is_an_error() {
        let errors = load("## Verification Query\n```sql\nSELECT 1 FROM dual\n```\n").0.expect_err("must fail");
        assert!(errors[0].message.contains("Email Pattern"));
    }

    #[test]
    fn undeclared_ddl_placeholder_disables_only_the_fix() {
        let text = GOOD.replace("  tablespace_name: tablespace\n", "");
        let (policy, problems) = load(&text);
        let policy = policy.expect("still loads");
        assert!(!policy.has_fix());
        assert!(policy.fix_disabled.as_deref().unwrap_or_default().contains(":tablespace_name"));
        assert!(problems.iter().any(|p| p.message.contains("fix disabled")));
    }

    #[test]
    fn reference_style_comment_only_rollback_disables_the_fix() {
        let text =
            GOOD.replace("ALTER TABLESPACE :tablespace_name DROP DATAFILE :file_name;", "-- N/A: cannot be undone");
        let policy = load(&text).0.expect("loads");
        assert!(policy.rollback.is_empty());
        assert!(!policy.has_fix());
    }

    #[test]
    fn or_groups_and_irreversible() {
        let text = GOOD
            .replace("- `tablespace_name` = group(1)", "- `tablespace_name` = group(1) or group(2)")
            .replace("type: alert_pattern", "type: alert_pattern\nirreversible: \"cannot undo\"");
        let (policy, problems) = load(&text);
        let policy = policy.expect("loads");
        assert_eq!(policy.fields[0].groups, vec![1, 2]);
        assert_eq!(policy.irreversible.as_deref(), Some("cannot undo"));
        assert!(policy.rollback.is_empty());
        assert!(problems.iter().any(|p| p.message.contains("rollback is ignored")));
    }

    /// The reference's `listener_down.md`, in its shape: SQL verification, OS-command fix,
    /// rollback and validation.
    const OS_COMMANDS: &str = "---\ntype: alert_pattern\nname: listener_down\nseverity: CRITICAL\naction_type: START_LISTENER\n---\n## Email Pattern\n```regex\n(?i)listener\\s+(\\S+)\\s+.*?down.*?on\\s+(\\S+)\n```\n## Extracted Fields\n- `listener_name` = group(1)\n- `database_id` = group(2)\n## Verification Query\n```sql\nSELECT instance_name, status FROM v$instance;\n```\n## Pre-Flight Checks\n- Database instance is running -- OPEN\n\n```sql\nSELECT status FROM v$instance;\n```\n## Forward Action\n```sql\n-- OS COMMAND (not SQL)\nlsnrctl start :listener_name\n```\n## Rollback Action\n```sql\n-- OS COMMAND (not SQL)\nlsnrctl stop :listener_name\n```\n## Validation Query\n```sql\ntnsping :listener_name\n```\n";

    #[test]
    fn os_command_steps_load_with_the_fix_disabled_and_a_warning_at_their_line() {
        let mut problems = Vec::new();
        let path = Path::new("alerts/listener_down.md");
        let policy = AlertPolicy::from_document(path, &markdown::parse(OS_COMMANDS), None, &mut problems)
            .expect("an OS-command policy loads, it is not rejected as broken");
        assert!(policy.verification.is_some(), "it still verifies");
        assert_eq!(policy.preflight.len(), 1);
        assert!(policy.forward.is_empty() && policy.rollback.is_empty() && policy.validation.is_none());
        let steps: Vec<(&str, &str, usize)> =
            policy.os_steps.iter().map(|s| (s.section.as_str(), s.command.as_str(), s.line)).collect();
        assert_eq!(
            steps,
            [
                ("forward_action", "lsnrctl start :listener_name", 27),
                ("rollback_action", "lsnrctl stop :listener_name", 32),
                ("validation_query", "tnsping :listener_name", 36),
            ]
        );
        assert!(!policy.has_fix());
        let reason = policy.fix_disabled.as_deref().unwrap_or_default();
        assert!(reason.contains("line 27") && reason.contains("lsnrctl start"), "{reason}");
        let warnings: Vec<(usize, &str)> = problems
            .iter()
            .filter(|p| p.level == crate::policy::Level::Warning && p.path == path)
            .map(|p| (p.line, p.message.as_str()))
            .collect();
        for line in [27, 32, 36] {
            assert!(warnings.iter().any(|(l, m)| *l == line && m.contains("not run")), "{warnings:?}");
        }
        assert!(warnings.iter().any(|(_, m)| m.contains("fix disabled")), "{warnings:?}");
        // A block that is SQL stays SQL: a plain policy has no OS steps.
        assert!(load(GOOD).0.expect("loads").os_steps.is_empty());
    }

    #[test]
    fn write_in_a_verification_query_is_refused() {
        let text = GOOD.replace("SELECT used_percent AS used_pct FROM dba_tablespace_usage_metrics WHERE tablespace_name = :tablespace_name;", "DELETE FROM t");
        let errors = load(&text).0.expect_err("must fail");
        assert!(errors[0].message.contains("read-only"));
    }
}
