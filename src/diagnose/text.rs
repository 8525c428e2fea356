//! A diagnosis as plain text, the one way every screen says it (`sentri diagnose`, `sentri
//! show`, approval and completion emails): the cause in one line, its evidence, then the
//! candidates with their SQL. Values from the database are shown with control characters
//! escaped, so a row cannot rewrite the reader's terminal or forge a line of the report.

use std::fmt::Write as _;

use crate::domain::{Diagnosis, Finding};

/// `LOCK_CONTENTION (0.90): pid 4242 blocks 3 sessions` — the first cause, or UNKNOWN.
pub fn headline(diagnosis: &Diagnosis) -> String {
    match diagnosis.root_causes.first() {
        Some(finding) => finding_line(finding),
        None => "UNKNOWN: no diagnosis".to_owned(),
    }
}

fn finding_line(finding: &Finding) -> String {
    format!("{} ({:.2}): {}", finding.cause, finding.confidence, printable(&finding.summary))
}

/// The full report; `with_sql` adds each candidate's statements (screens), or leaves them to
/// the plan shown beside it (an approval email shows the chosen plan's SQL once).
pub fn report(diagnosis: &Diagnosis, with_sql: bool) -> String {
    let mut out = String::new();
    for (index, finding) in diagnosis.root_causes.iter().enumerate() {
        let label = if index == 0 { "Root cause" } else { "Also" };
        let _ = writeln!(out, "{label}: {}", finding_line(finding));
        for evidence in &finding.evidence {
            let row: Vec<_> =
                evidence.row.iter().map(|(column, value)| format!("{column}={}", shorten(value, 60))).collect();
            let _ = writeln!(out, "  evidence {}: {}", evidence.tool, printable(&row.join(" ")));
            let _ = writeln!(out, "    because {}", printable(&evidence.why));
        }
    }
    if diagnosis.candidates.is_empty() {
        let _ = writeln!(out, "Candidates: none (nothing is safe to propose on this evidence)");
    } else {
        let _ = writeln!(out, "Candidates (best first):");
    }
    for (index, candidate) in diagnosis.candidates.iter().enumerate() {
        let _ = writeln!(
            out,
            "{:>2}. [{:.2}] {} — {} risk, treats {}",
            index + 1,
            candidate.score,
            printable(&candidate.title),
            candidate.risk.as_str(),
            candidate.root_cause
        );
        if with_sql {
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
        let scores: Vec<_> = candidate.scores.iter().map(|(name, score)| format!("{name} {score:.2}")).collect();
        let _ = writeln!(out, "      scores: {}", scores.join(", "));
        let _ = writeln!(out, "      why: {}", printable(&candidate.why));
    }
    let tools: Vec<_> = diagnosis
        .tools
        .iter()
        .map(|tool| match &tool.error {
            Some(error) => format!("{} {} ms: {}", tool.name, tool.ms, shorten(error, 100)),
            None => format!("{} {} ms {} rows", tool.name, tool.ms, tool.rows),
        })
        .collect();
    if !tools.is_empty() {
        let _ = writeln!(out, "Tools ({} ms in all): {}", diagnosis.elapsed_ms, printable(&tools.join("; ")));
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
    use crate::domain::{Evidence, RootCause};

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
        };
        let text = report(&diagnosis, true);
        assert_eq!(text.lines().filter(|line| line.starts_with("Root cause:")).count(), 1, "{text}");
        assert!(!text.contains('\u{1b}'), "{text}");
        assert!(headline(&diagnosis).starts_with("VACUUM (0.80): t has 90% dead rows"));
    }
}
