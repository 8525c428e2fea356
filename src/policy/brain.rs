//! The brain (`brain/*.md`): the DBA team's standing rules — which actions may run unattended
//! in which environment, confidence thresholds, protected sessions and databases, the circuit
//! breaker, routing. Read in the reference product's table formats so existing files work.

use std::collections::BTreeMap;
use std::path::Path;

use super::Problem;
use super::markdown::{self, Document, Section};

/// What the action rules allow for one action in one environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ActionMode {
    Auto,
    Approval,
}

/// The parsed brain. Missing files or sections leave the documented defaults.
#[derive(Debug, Clone)]
pub struct Brain {
    /// Action type (upper-case) → mode for DEV, UAT, PROD.
    pub action_rules: BTreeMap<String, [ActionMode; 3]>,
    /// Below this confidence a plan is blocked.
    pub block_below: f64,
    /// Below this confidence a plan needs approval.
    pub approval_below: f64,
    /// Database users whose sessions are never killed (upper-case).
    pub protected_sessions: Vec<String>,
    /// Databases (exact names, case-insensitive) whose fixes always need approval.
    pub protected_databases: Vec<String>,
    pub circuit_breaker_failures: u32,
    pub circuit_breaker_hours: u32,
    /// `(pattern, agent)`: a pattern ending in `*` is a prefix.
    pub routes: Vec<(String, String)>,
    pub fallback_agent: String,
}

impl Default for Brain {
    fn default() -> Self {
        Brain {
            action_rules: BTreeMap::new(),
            block_below: 0.60,
            approval_below: 0.80,
            protected_sessions: Vec::new(),
            protected_databases: Vec::new(),
            circuit_breaker_failures: 3,
            circuit_breaker_hours: 24,
            routes: Vec::new(),
            fallback_agent: "storage_agent".to_owned(),
        }
    }
}

impl Brain {
    pub fn load(dir: &Path, problems: &mut Vec<Problem>) -> Brain {
        let mut brain = Brain::default();
        if let Some(document) = read(&dir.join("rules.md"), problems) {
            brain.read_rules(&dir.join("rules.md"), &document, problems);
        }
        if let Some(document) = read(&dir.join("routing_rules.md"), problems) {
            brain.read_routing(&document);
        }
        brain
    }

    /// Route for an alert type: first matching rule in file order, else the fallback.
    pub fn route(&self, alert_type: &str) -> &str {
        self.routes
            .iter()
            .find(|(pattern, _)| match pattern.strip_suffix('*') {
                Some(prefix) => alert_type.starts_with(prefix),
                None => pattern == alert_type,
            })
            .map_or(self.fallback_agent.as_str(), |(_, agent)| agent.as_str())
    }

    fn read_rules(&mut self, path: &Path, document: &Document, problems: &mut Vec<Problem>) {
        if let Some(section) = document.section("action_rules") {
            for (line, cells) in table_rows(section) {
                if cells.len() < 4 {
                    continue;
                }
                let mut modes = [ActionMode::Approval; 3];
                for (index, cell) in cells[1..4].iter().enumerate() {
                    modes[index] = match cell.to_lowercase().as_str() {
                        "auto" => ActionMode::Auto,
                        "approval" => ActionMode::Approval,
                        other => {
                            problems.push(Problem::warning(
                                path,
                                line,
                                format!(
                                    "action rule `{}`: `{other}` is not auto or approval; approval is used",
                                    cells[0]
                                ),
                            ));
                            ActionMode::Approval
                        }
                    };
                }
                for action in cells[0].split(',') {
                    let action = action.trim().trim_matches('`').to_uppercase();
                    if !action.is_empty() {
                        self.action_rules.insert(action, modes);
                    }
                }
            }
        }
        if let Some(section) = document.section("confidence_thresholds") {
            for (_, cells) in table_rows(section) {
                let (Some(range), Some(action)) = (cells.first(), cells.get(1)) else { continue };
                let action = action.to_lowercase();
                let numbers: Vec<f64> =
                    range.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter_map(|n| n.parse().ok()).collect();
                if range.trim_start().starts_with('<')
                    && ["escalate", "do not execute", "block"].iter().any(|w| action.contains(w))
                {
                    if let Some(value) = numbers.first() {
                        self.block_below = *value;
                    }
                } else if (action.contains("approval") || action.contains("require")) && numbers.len() == 2 {
                    self.approval_below = ((numbers[1] + 0.01) * 100.0).round() / 100.0;
                }
            }
        }
        if let Some(section) = document.sections.iter().find(|s| s.key.contains("protected_session")) {
            self.protected_sessions = section
                .items()
                .filter_map(|item| {
                    let head = item.text.split('—').next()?.split(" - ").next()?;
                    let user = head.trim().trim_matches('`').trim_matches('*').to_uppercase();
                    (!user.is_empty()).then_some(user)
                })
                .collect();
        }
        if let Some(section) = document.section("protected_databases") {
            self.protected_databases =
                table_rows(section).into_iter().filter_map(|(_, cells)| cells.first().cloned()).collect();
        }
        if let Some(section) = document.section("circuit_breaker") {
            for (_, cells) in table_rows(section) {
                let (Some(key), Some(value)) = (cells.first(), cells.get(1)) else { continue };
                let digits: String = value.chars().take_while(|c| c.is_ascii_digit()).collect();
                let Ok(number) = digits.parse::<u32>() else { continue };
                let key = key.to_lowercase();
                if key.contains("threshold") || key.contains("failures") {
                    self.circuit_breaker_failures = number;
                } else if key.contains("hour") || key.contains("window") {
                    self.circuit_breaker_hours = number;
                }
            }
        }
    }

    fn read_routing(&mut self, document: &Document) {
        if let Some(section) = document.section("direct_routing") {
            self.routes = section.items().filter_map(|item| arrow(&item.text)).collect();
        }
        if let Some(section) = document.section("fallback")
            && let Some((_, agent)) = section.items().find_map(|item| arrow(&item.text))
        {
            self.fallback_agent = agent;
        }
    }
}

fn arrow(text: &str) -> Option<(String, String)> {
    let (pattern, agent) = text.split_once('→').or_else(|| text.split_once("->"))?;
    Some((pattern.trim().trim_matches('`').to_owned(), agent.trim().trim_matches('`').to_owned()))
}

fn read(path: &Path, problems: &mut Vec<Problem>) -> Option<Document> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(markdown::parse(&text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            problems.push(Problem::error(path, 1, format!("cannot read: {error}")));
            None
        }
    }
}

/// Body rows of the Markdown tables in a section, as trimmed cells, header and rule skipped.
pub fn table_rows(section: &Section) -> Vec<(usize, Vec<String>)> {
    let mut rows = Vec::new();
    let mut header_seen = false;
    for element in &section.elements {
        let markdown::Element::Text(item) = element else {
            header_seen = false;
            continue;
        };
        let line = item.text.trim();
        if !line.starts_with('|') {
            header_seen = false;
            continue;
        }
        let cells: Vec<String> = line.trim_matches('|').split('|').map(|cell| cell.trim().to_owned()).collect();
        if cells.iter().all(|cell| cell.chars().all(|c| matches!(c, '-' | ':' | ' '))) {
            continue;
        }
        if !header_seen {
            header_seen = true;
            continue;
        }
        rows.push((item.line, cells));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: &str = "## Action Rules\n\n| Action Type | DEV | UAT | PROD | Notes |\n|---|---|---|---|---|\n| ADD_DATAFILE | auto | auto | approval | safe |\n| KILL_SESSION | approval | approval | approval | |\n\n## Confidence Thresholds\n\n| Confidence | Action |\n|---|---|\n| < 0.50 | Escalate, do not execute |\n| 0.50 - 0.84 | Require approval |\n\n## Protected Sessions — Never Kill\n\n- SYS — the kernel\n- DBSNMP - agent\n\n## Circuit Breaker\n\n| Setting | Value |\n|---|---|\n| Failure threshold | 5 |\n| Window hours | 12 |\n";

    #[test]
    fn reads_the_reference_tables() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rules.md"), RULES).expect("write");
        std::fs::write(dir.path().join("routing_rules.md"), "## Direct Routing\n- tablespace_full → storage_agent\n- check_finding:* -> storage_agent\n## Fallback\n- * → rca_agent\n").expect("write");
        let mut problems = Vec::new();
        let brain = Brain::load(dir.path(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(brain.action_rules["ADD_DATAFILE"], [ActionMode::Auto, ActionMode::Auto, ActionMode::Approval]);
        assert_eq!(brain.action_rules["KILL_SESSION"][0], ActionMode::Approval);
        assert_eq!(brain.block_below, 0.50);
        assert_eq!(brain.approval_below, 0.85);
        assert_eq!(brain.protected_sessions, ["SYS", "DBSNMP"]);
        assert_eq!((brain.circuit_breaker_failures, brain.circuit_breaker_hours), (5, 12));
        assert_eq!(brain.route("tablespace_full"), "storage_agent");
        assert_eq!(brain.route("check_finding:x"), "storage_agent");
        assert_eq!(brain.route("other"), "rca_agent");
    }
}
