//! The brain (`brain/*.md`): the DBA team's standing rules — which actions may run unattended
//! in which environment, confidence thresholds, protected sessions and databases, the circuit
//! breaker, routing, and the time tables (change and freeze windows, the duplicate and
//! correlation windows, root-cause thresholds). Read in the reference product's table formats so
//! existing files work; a row that cannot be read is a [`Problem`] with its line, never dropped
//! silently.

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
    /// Schemas (owners) no fix may change (`## Protected Schemas — Never Modify`, upper-case).
    pub protected_schemas: Vec<String>,
    /// Client programs whose sessions are never ended: a session whose program contains one of
    /// these (case-insensitive) is protected (`## Session Kill Rules`, "program contains `…`").
    pub protected_programs: Vec<String>,
    pub circuit_breaker_failures: u32,
    pub circuit_breaker_hours: u32,
    /// `(pattern, agent)`: a pattern ending in `*` is a prefix.
    pub routes: Vec<(String, String)>,
    pub fallback_agent: String,
    /// When `auto` fixes may run, per environment (`## Change Windows`). An environment with no
    /// row has no window: its auto fixes may run at any time.
    pub change_windows: Vec<TimeWindow>,
    /// When no fix runs at all, per environment (`## Freeze Windows`).
    pub freeze_windows: Vec<TimeWindow>,
    /// A repeat of an open alert within this many minutes is folded into its workflow.
    pub duplicate_window_minutes: u32,
    /// Alerts on one database within this many minutes belong to one incident.
    pub correlation_window_minutes: u32,
    /// Recommend a root-cause analysis once an alert repeats this often…
    pub rca_alert_count: u32,
    /// …within this many hours.
    pub rca_window_hours: u32,
}

/// A weekly period in UTC from `## Change Windows` or `## Freeze Windows`: some days of the
/// week, one span of hours on each (start inclusive, end exclusive; `24:00` ends at midnight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeWindow {
    /// DEV, UAT, PROD (upper-case), or `*` for every environment.
    pub environment: String,
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes after midnight UTC.
    pub start_minute: u16,
    /// Minutes after midnight UTC, at most 1440.
    pub end_minute: u16,
    /// Why (freeze windows), for the verdict a DBA reads.
    pub reason: Option<String>,
    /// Where it is written, so a verdict can point at the row.
    pub line: usize,
    /// The row's Days and Hours cells as written, for messages.
    pub text: String,
}

impl TimeWindow {
    /// Whether this row is about `environment` (case-insensitive; `*` matches all).
    pub fn applies_to(&self, environment: &str) -> bool {
        self.environment == "*" || self.environment.eq_ignore_ascii_case(environment)
    }

    /// Whether `at` (UTC) falls inside the window.
    pub fn contains(&self, at: jiff::civil::DateTime) -> bool {
        let day = usize::from(at.weekday().to_monday_zero_offset().unsigned_abs());
        let minute = u16::from(at.hour().unsigned_abs()) * 60 + u16::from(at.minute().unsigned_abs());
        self.days.get(day).copied().unwrap_or(false) && self.start_minute <= minute && minute < self.end_minute
    }
}

/// The name a protected-names bullet starts with: the text before `—` (or ` - `), upper-cased,
/// without Markdown emphasis — `- SYS — dictionary owner` names `SYS`.
pub(crate) fn bullet_name(text: &str) -> Option<String> {
    let head = text.split('—').next()?.split(" - ").next()?;
    let name = head.trim().trim_matches('`').trim_matches('*').trim().to_uppercase();
    (!name.is_empty()).then_some(name)
}

/// Every `back-ticked` token of a line, trimmed, empty ones dropped.
fn backticked(text: &str) -> Vec<String> {
    text.split('`').skip(1).step_by(2).map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect()
}

impl Default for Brain {
    fn default() -> Self {
        Brain {
            action_rules: BTreeMap::new(),
            block_below: 0.60,
            approval_below: 0.80,
            protected_sessions: Vec::new(),
            protected_databases: Vec::new(),
            protected_schemas: Vec::new(),
            protected_programs: Vec::new(),
            circuit_breaker_failures: 3,
            circuit_breaker_hours: 24,
            routes: Vec::new(),
            fallback_agent: "storage_agent".to_owned(),
            change_windows: Vec::new(),
            freeze_windows: Vec::new(),
            duplicate_window_minutes: 30,
            correlation_window_minutes: 5,
            rca_alert_count: 3,
            rca_window_hours: 24,
        }
    }
}

impl Brain {
    pub fn load(dir: &Path, problems: &mut Vec<Problem>) -> Brain {
        let mut brain = Brain::default();
        if let Some(document) = read(&dir.join("rules.md"), problems) {
            brain.read_rules(&dir.join("rules.md"), &document, problems);
            brain.read_time_tables(&dir.join("rules.md"), &document, problems);
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
            self.protected_sessions = section.items().filter_map(|item| bullet_name(&item.text)).collect();
        }
        if let Some(section) = document.sections.iter().find(|s| s.key.contains("protected_schema")) {
            self.protected_schemas = section.items().filter_map(|item| bullet_name(&item.text)).collect();
        }
        if let Some(section) = document.sections.iter().find(|s| s.key.contains("session_kill_rule")) {
            self.protected_programs = section
                .items()
                .filter(|item| item.text.to_lowercase().contains("program contains"))
                .flat_map(|item| backticked(&item.text))
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

    /// Whether `environment`'s change window is open at `at`: `None` when the environment has
    /// no change window (always open), else the answer and the rows that were consulted.
    pub fn change_window_open(&self, environment: &str, at: jiff::civil::DateTime) -> Option<(bool, Vec<&TimeWindow>)> {
        let rows: Vec<&TimeWindow> = self.change_windows.iter().filter(|w| w.applies_to(environment)).collect();
        if rows.is_empty() {
            return None;
        }
        Some((rows.iter().any(|w| w.contains(at)), rows))
    }

    /// The freeze window `environment` is in at `at`, if any.
    pub fn freeze_at(&self, environment: &str, at: jiff::civil::DateTime) -> Option<&TimeWindow> {
        self.freeze_windows.iter().find(|w| w.applies_to(environment) && w.contains(at))
    }

    fn read_time_tables(&mut self, path: &Path, document: &Document, problems: &mut Vec<Problem>) {
        if let Some(section) = document.section("change_windows") {
            self.change_windows = windows(path, section, false, problems);
        }
        if let Some(section) = document.section("freeze_windows") {
            self.freeze_windows = windows(path, section, true, problems);
        }
        for key in ["duplicate_window", "correlation_window", "rca_recommendation_thresholds"] {
            let Some(section) = document.section(key) else { continue };
            for (line, cells) in table_rows(section) {
                let name = cells.first().map(|c| c.to_lowercase()).unwrap_or_default();
                let field = match key {
                    "duplicate_window" if name.contains("minute") => &mut self.duplicate_window_minutes,
                    "correlation_window" if name.contains("minute") => &mut self.correlation_window_minutes,
                    "rca_recommendation_thresholds" if name.contains("count") => &mut self.rca_alert_count,
                    "rca_recommendation_thresholds" if name.contains("hour") => &mut self.rca_window_hours,
                    _ => {
                        problems.push(Problem::error(
                            path,
                            line,
                            format!("{}: unknown setting `{name}`", section.heading),
                        ));
                        continue;
                    }
                };
                let value = cells.get(1).map(|v| v.trim()).unwrap_or_default();
                match value.parse::<u32>() {
                    Ok(number) => *field = number,
                    Err(_) => problems.push(Problem::error(
                        path,
                        line,
                        format!("{}: `{value}` is not a whole number for `{name}`", section.heading),
                    )),
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

/// Rows of a Change Windows (`| Environment | Days | Hours UTC |`) or Freeze Windows (plus
/// `| Reason |`) table; every unreadable row is a problem at its line.
fn windows(path: &Path, section: &Section, freeze: bool, problems: &mut Vec<Problem>) -> Vec<TimeWindow> {
    let mut found = Vec::new();
    let wanted = if freeze { 4 } else { 3 };
    for (line, cells) in table_rows(section) {
        let mut error =
            |message: String| problems.push(Problem::error(path, line, format!("{}: {message}", section.heading)));
        if cells.len() < wanted {
            error(format!(
                "a row needs {wanted} cells (Environment, Days, Hours UTC{})",
                if freeze { ", Reason" } else { "" }
            ));
            continue;
        }
        let environment = cells[0].trim().to_uppercase();
        if !matches!(environment.as_str(), "DEV" | "UAT" | "PROD" | "*") {
            error(format!("environment `{}` is not DEV, UAT, PROD or *", cells[0]));
            continue;
        }
        let Some(days) = parse_days(&cells[1]) else {
            error(format!("days `{}` are not `*`, a day (Mon) or a range (Mon-Fri), comma-separated", cells[1]));
            continue;
        };
        let Some((start_minute, end_minute)) = parse_hours(&cells[2]) else {
            error(format!(
                "hours `{}` are not `*` or HH:MM-HH:MM with the start before the end (split a span over \
                 midnight into two rows)",
                cells[2]
            ));
            continue;
        };
        let reason = freeze.then(|| cells[3].trim().to_owned()).filter(|r| !r.is_empty());
        if freeze && reason.is_none() {
            error("a freeze window needs a reason".to_owned());
            continue;
        }
        found.push(TimeWindow {
            environment,
            days,
            start_minute,
            end_minute,
            reason,
            line,
            text: format!("{} {} UTC", cells[1].trim(), cells[2].trim()),
        });
    }
    found
}

const DAY_NAMES: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

fn parse_days(text: &str) -> Option<[bool; 7]> {
    let text = text.trim();
    if text == "*" {
        return Some([true; 7]);
    }
    let day = |name: &str| {
        let name = name.trim().to_uppercase();
        let short = name.get(..3)?;
        let full = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"];
        DAY_NAMES.iter().position(|d| *d == short).filter(|i| name.len() == 3 || full[*i] == name)
    };
    let mut days = [false; 7];
    for part in text.split(',') {
        match part.split_once(['-', '–']) {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                if from > to {
                    return None;
                }
                days[from..=to].iter_mut().for_each(|d| *d = true);
            }
            None => days[day(part)?] = true,
        }
    }
    Some(days)
}

fn parse_hours(text: &str) -> Option<(u16, u16)> {
    let text = text.trim();
    if text == "*" {
        return Some((0, 1440));
    }
    let minute = |hhmm: &str| -> Option<u16> {
        let (h, m) = hhmm.trim().split_once(':')?;
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(h * 60 + m)
    };
    let (start, end) = text.split_once(['-', '–'])?;
    let (start, end) = (minute(start)?, minute(end)?);
    (start < end).then_some((start, end))
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

    fn load_rules(text: &str) -> (Brain, Vec<Problem>) {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("rules.md"), text).expect("write");
        let mut problems = Vec::new();
        let brain = Brain::load(dir.path(), &mut problems);
        (brain, problems)
    }

    fn at(text: &str) -> jiff::civil::DateTime {
        text.parse().expect("datetime")
    }

    #[test]
    fn reads_protected_schemas_and_programs() {
        let (brain, problems) = load_rules(
            "## Protected Schemas — Never Modify\n\n- SYS — dictionary\n- `pg_catalog` - catalog\n\n\
             ## Session Kill Rules\n\n- Never kill when the program contains `RMAN` or `(PMON)`\n\
             - Kill only INACTIVE sessions with `status` checked\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(brain.protected_schemas, ["SYS", "PG_CATALOG"]);
        assert_eq!(brain.protected_programs, ["RMAN", "(PMON)"], "only bullets that say 'program contains'");
    }

    #[test]
    fn reads_the_default_packs_time_tables() {
        let text =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/policies/brain/rules.md")).expect("read");
        let (brain, problems) = load_rules(&text);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(brain.duplicate_window_minutes, 30);
        assert_eq!((brain.rca_alert_count, brain.rca_window_hours), (3, 24));
        assert_eq!(brain.protected_schemas, ["SYS", "SYSTEM", "AUDSYS", "XDB", "PG_CATALOG", "INFORMATION_SCHEMA"]);
        assert!(brain.protected_programs.iter().any(|p| p == "RMAN"), "{:?}", brain.protected_programs);
        assert!(brain.protected_programs.iter().any(|p| p == "walsender"), "{:?}", brain.protected_programs);
        assert_eq!(brain.change_windows.len(), 3);
        assert_eq!(brain.freeze_windows.len(), 2);
        // 2026-11-25 is a Wednesday; 2026-11-28 a Saturday.
        assert_eq!(brain.change_window_open("PROD", at("2026-11-25T08:00")).map(|(open, _)| open), Some(true));
        assert_eq!(brain.change_window_open("prod", at("2026-11-25T17:00")).map(|(open, _)| open), Some(false));
        assert_eq!(brain.change_window_open("DEV", at("2026-11-28T03:00")).map(|(open, _)| open), Some(true));
        assert_eq!(brain.change_window_open("UAT", at("2026-11-28T10:00")).map(|(open, _)| open), Some(false));
        let freeze = brain.freeze_at("PROD", at("2026-11-28T23:59")).expect("frozen");
        assert_eq!(freeze.reason.as_deref(), Some("Weekly release window"));
        assert!(brain.freeze_at("PROD", at("2026-11-29T03:59")).is_some());
        assert!(brain.freeze_at("PROD", at("2026-11-29T04:00")).is_none());
        assert!(brain.freeze_at("UAT", at("2026-11-28T23:00")).is_none());
    }

    #[test]
    fn time_tables_have_defaults_and_custom_values() {
        let (brain, problems) =
            load_rules("## Correlation Window\n\n| Setting | Value |\n|---|---|\n| Minutes | 10 |\n");
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(brain.correlation_window_minutes, 10);
        assert_eq!(brain.duplicate_window_minutes, 30);
        assert!(brain.change_windows.is_empty());
        assert_eq!(brain.change_window_open("PROD", at("2026-11-25T03:00")), None);
    }

    #[test]
    fn bad_time_rows_are_problems_with_their_lines() {
        let text = "## Change Windows\n\n| Environment | Days | Hours UTC |\n|---|---|---|\n| PROD | Mon-Fri | 08:00-17:00 |\n| QA | * | * |\n| UAT | Funday | * |\n| UAT | Fri-Mon | * |\n| DEV | * | 22:00-02:00 |\n| DEV | Mon,Wed | 25:00-26:00 |\n| DEV | Tuesday | 00:00-24:00 |\n\n## Freeze Windows\n\n| Environment | Days | Hours UTC | Reason |\n|---|---|---|---|\n| PROD | Sat | 22:00-24:00 | |\n\n## Duplicate Window\n\n| Setting | Value |\n|---|---|\n| Minutes | soon |\n| Hours | 2 |\n";
        let (brain, problems) = load_rules(text);
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, [6, 7, 8, 9, 10, 17, 23, 24], "{problems:#?}");
        assert!(problems[3].message.contains("split a span over midnight"));
        assert!(problems[5].message.contains("reason"));
        assert_eq!(brain.change_windows.len(), 2);
        assert_eq!(brain.change_windows[1].days, [false, true, false, false, false, false, false]);
        assert!(brain.freeze_windows.is_empty());
        assert_eq!(brain.duplicate_window_minutes, 30);
    }
}
