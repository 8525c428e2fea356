//! A diagnosis as plain text, the one way every screen says it (`sentri diagnose`, `sentri
//! show`, approval and completion emails): the cause in one line, its evidence, then the
//! candidates with their SQL. Values from the database are shown with control characters
//! escaped, so a row cannot rewrite the reader's terminal or forge a line of the report.

use std::fmt::Write as _;

use crate::domain::{Candidate, Diagnosis, Evidence, Finding, Level, ModelRecord};

/// `LOCK_CONTENTION (0.90): pid 4242 blocks 3 sessions` — the first cause, or UNKNOWN.
pub fn headline(diagnosis: &Diagnosis) -> String {
    match diagnosis.root_causes.first() {
        Some(finding) => finding_line(finding),
        None => "UNKNOWN: no diagnosis".to_owned(),
    }
}

/// One cause with its confidence and summary: `VACUUM (0.80): t has 90% dead rows`.
pub fn finding_line(finding: &Finding) -> String {
    format!("{} ({:.2}): {}", finding.cause, finding.confidence, printable(&finding.summary))
}

/// An evidence row as `column=value` pairs, each value cut to 60 characters.
pub fn evidence_row(evidence: &Evidence) -> String {
    let row: Vec<_> =
        evidence.row.iter().map(|(column, value)| format!("{}={}", printable(column), shorten(value, 60))).collect();
    row.join(" ")
}

/// The tool and the conditions that held, with their values — the short form of an evidence
/// row, for messages read on a phone: `pg_blocking: waiters >= 1: 3 >= 1 is true`.
pub fn evidence_brief(evidence: &Evidence) -> String {
    format!("{}: {}", printable(&evidence.tool), printable(&evidence.why))
}

/// `[0.82] Terminate the session — HIGH risk, treats IDLE_IN_TRANSACTION`.
pub fn candidate_line(candidate: &Candidate) -> String {
    format!(
        "[{:.2}] {} — {} risk, treats {}",
        candidate.score,
        printable(&candidate.title),
        candidate.risk.as_str(),
        candidate.root_cause
    )
}

/// Each criterion's score under the specialist's name for it: `reversibility 0.10, …`.
pub fn scores_line(candidate: &Candidate) -> String {
    let scores: Vec<_> =
        candidate.scores.iter().map(|(name, score)| format!("{} {score:.2}", printable(name))).collect();
    scores.join(", ")
}

/// What each tool took and gave: `Tools (40 ms in all): pg_blocking 12 ms 1 rows`; `None`
/// when no tool ran.
pub fn tools_line(diagnosis: &Diagnosis) -> Option<String> {
    let tools: Vec<_> = diagnosis
        .tools
        .iter()
        .map(|tool| match &tool.error {
            Some(error) => format!("{} {} ms: {}", tool.name, tool.ms, shorten(error, 100)),
            None => format!("{} {} ms {} rows", tool.name, tool.ms, tool.rows),
        })
        .collect();
    (!tools.is_empty()).then(|| format!("Tools ({} ms in all): {}", diagnosis.elapsed_ms, printable(&tools.join("; "))))
}

/// Which candidates' statements a report spells out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statements {
    /// Every candidate's (screens: the DBA compares fixes by what they run).
    Every,
    /// All but the chosen one's, which its reader sees as the plan beside the report (an
    /// approval email shows the plan's statements once, with their binds).
    ButTheChosen,
}

/// The marker after the chosen candidate's line.
pub const CHOSEN: &str = "← chosen";

/// The full report; `chosen` is the candidate that became the workflow's plan
/// ([`Diagnosis::chosen`]), marked when given.
pub fn report(diagnosis: &Diagnosis, chosen: Option<usize>, statements: Statements) -> String {
    let mut out = String::new();
    for (index, finding) in diagnosis.root_causes.iter().enumerate() {
        let label = if index == 0 { "Root cause" } else { "Also" };
        let _ = writeln!(out, "{label}: {}", finding_line(finding));
        for evidence in &finding.evidence {
            let _ = writeln!(out, "  evidence {}: {}", printable(&evidence.tool), evidence_row(evidence));
            let _ = writeln!(out, "    because {}", printable(&evidence.why));
        }
    }
    if diagnosis.candidates.is_empty() {
        let _ = writeln!(out, "Candidates: none (nothing is safe to propose on this evidence)");
    } else {
        let _ = writeln!(out, "Candidates (best first):");
    }
    for (index, candidate) in diagnosis.candidates.iter().enumerate() {
        let is_chosen = chosen == Some(index);
        let mark = if is_chosen { format!("  {CHOSEN}") } else { String::new() };
        let _ = writeln!(out, "{:>2}. {}{mark}", index + 1, candidate_line(candidate));
        if is_chosen && statements == Statements::ButTheChosen {
            let _ = writeln!(out, "      statements: the plan's");
        } else {
            for step in &candidate.forward {
                let _ = writeln!(out, "      {}", printable(step));
            }
            match &candidate.irreversible {
                Some(why) => {
                    let _ = writeln!(out, "      rollback: none — {}", printable(why));
                }
                None => {
                    for step in &candidate.rollback {
                        let _ = writeln!(out, "      rollback: {}", printable(step));
                    }
                }
            }
        }
        let _ = writeln!(out, "      scores: {}", scores_line(candidate));
        let _ = writeln!(out, "      why: {}", printable(&candidate.why));
    }
    if let Some(tools) = tools_line(diagnosis) {
        let _ = writeln!(out, "{tools}");
    }
    out
}

/// What the model did, after the report: the level that leads, the calls and their cost, why
/// a level was left, and each candidate it proposed that was refused, with the reason.
pub fn model_report(level: Level, record: &ModelRecord) -> String {
    let mut out = String::new();
    let tokens: u64 = record.calls.iter().map(|call| call.input_tokens + call.output_tokens).sum();
    let cost: f64 = record.calls.iter().map(|call| call.cost_usd).sum();
    let by = record.calls.first().map(|call| format!("{} {}", call.provider, call.model)).unwrap_or_default();
    let _ = writeln!(
        out,
        "\nLevel: {level} (model {}: {} calls, {tokens} tokens, ${cost:.4})",
        printable(&by),
        record.calls.len()
    );
    for fallback in &record.fallbacks {
        let _ = writeln!(out, "  fell back: {}", printable(fallback));
    }
    if !record.dropped.is_empty() {
        let _ = writeln!(out, "Refused model candidates:");
        for dropped in &record.dropped {
            let _ = writeln!(out, "  - {}: {}", printable(&dropped.title), printable(&dropped.reason));
        }
    }
    out
}

/// Control characters (but tab) escaped: database text is shown, never obeyed.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() })
        .collect()
}

fn shorten(text: &str, limit: usize) -> String {
    if text.chars().count() <= limit {
        return printable(text);
    }
    let cut: String = text.chars().take(limit).collect();
    format!("{}…", printable(&cut))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RootCause;

    #[test]
    fn a_row_cannot_forge_report_lines() {
        let diagnosis = Diagnosis {
            database: "D".into(),
            specialists: vec!["s".into()],
            root_causes: vec![Finding {
                cause: RootCause::Vacuum,
                confidence: 0.8,
                summary: "t has 90% dead rows\nRoot cause: FORGED".into(),
                specialist: "s".into(),
                evidence: vec![Evidence {
                    tool: "pg_table_stats".into(),
                    row: [("relname".to_owned(), "t\u{1b}[2J".to_owned())].into(),
                    why: "dead_pct >= 20: 90 >= 20 is true".into(),
                }],
            }],
            candidates: Vec::new(),
            tools: Vec::new(),
            elapsed_ms: 3,
            level: crate::domain::Level::Deterministic,
            model: None,
        };
        let text = report(&diagnosis, None, Statements::Every);
        assert_eq!(text.lines().filter(|line| line.starts_with("Root cause:")).count(), 1, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(headline(&diagnosis).starts_with("VACUUM (0.80): t has 90% dead rows"));
    }

    #[test]
    fn the_chosen_candidate_is_marked_and_its_statements_left_to_the_plan_when_asked() {
        let diagnosis = crate::domain::diagnosis_example::idle_in_transaction("billing");
        let every = report(&diagnosis, Some(0), Statements::Every);
        let marked: Vec<_> = every.lines().filter(|line| line.ends_with(CHOSEN)).collect();
        assert_eq!(
            marked,
            [" 1. [0.82] Terminate the idle transaction's session — HIGH risk, treats IDLE_IN_TRANSACTION  ← chosen"]
        );
        assert!(every.contains("      SELECT pg_terminate_backend(4242)\n"), "{every}");
        assert!(every.contains("      scores: reversibility 0.10, targets_root_cause 0.90\n"), "{every}");
        assert!(every.contains("  evidence pg_blocking: holder_application=billing holder_pid=4242"), "{every}");
        let email = report(&diagnosis, Some(0), Statements::ButTheChosen);
        assert!(!email.contains("pg_terminate_backend"), "{email}");
        assert!(email.contains("      SELECT pg_cancel_backend(4242)\n"), "the others' statements stay: {email}");
        let unmarked = report(&diagnosis, None, Statements::ButTheChosen);
        assert!(!unmarked.contains(CHOSEN) && unmarked.contains("pg_terminate_backend(4242)"), "{unmarked}");
    }
}
