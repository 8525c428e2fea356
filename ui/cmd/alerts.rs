//! `sentri alerts`: every alert email received, with what became of it — its workflow, the
//! workflow it was folded into, or unmatched. Nothing received is ever invisible: a message
//! stored cut at `email.max_message_bytes` says so with its original size, an ignored one says
//! why, a malformed one what was wrong with it, and one whose body retention dropped says that
//! too.

use std::process::ExitCode;

use sentri::store::alerts::RawAlertOutcome;
use sentri::store::timestamp_text;

use super::{Context, print_json, printable, table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only alerts no policy recognised.
    #[arg(long)]
    unmatched: bool,
    /// How many of the most recent alerts to show.
    #[arg(long, value_name = "N", default_value_t = 50)]
    last: usize,
    /// Print JSON: an array of {"id","received_at","subject","alert_type","database","workflow_id","outcome",
    /// "reason","truncated","original_size","parse_error","body_pruned_at"}.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Listed {
    id: i64,
    received_at: String,
    subject: String,
    alert_type: Option<String>,
    database: Option<String>,
    workflow_id: Option<String>,
    outcome: &'static str,
    /// Why it was ignored, when it was.
    reason: Option<String>,
    /// Only the first `email.max_message_bytes` of the message are stored.
    truncated: bool,
    /// The message's size on the server, when it was truncated.
    original_size: Option<u64>,
    /// What was wrong reading the message (unparsable, MIME nested too deep, undecodable parts,
    /// unknown charsets, NUL bytes in headers, several From addresses), when anything was.
    parse_error: Option<String>,
    /// When retention dropped the body.
    body_pruned_at: Option<String>,
}

impl Listed {
    /// The NOTE column: truncation, the ignore reason, what was malformed, a pruned body.
    fn note(&self) -> String {
        let mut notes = Vec::new();
        if let Some(size) = self.original_size {
            notes.push(format!("truncated (original {})", human_size(size)));
        }
        if let Some(reason) = &self.reason {
            notes.push(reason.clone());
        }
        if let Some(problem) = &self.parse_error {
            notes.push(format!("malformed: {problem}"));
        }
        if self.body_pruned_at.is_some() {
            notes.push("body pruned (retention)".to_owned());
        }
        if notes.is_empty() { "-".to_owned() } else { printable(&notes.join("; ")) }
    }
}

/// Bytes as a person reads them: `812 B`, `64.0 KiB`, `50.0 MiB`.
fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for next in &UNITS[1..] {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let rows = store.list_raw_alerts(args.unmatched, Some(args.last))?;
    let listed: Vec<Listed> = rows
        .iter()
        .map(|row| {
            let (outcome, alert_type, database, workflow_id) = match &row.outcome {
                None => ("pending", None, None, None),
                Some(RawAlertOutcome::Workflow { workflow_id, alert_type, database }) => {
                    ("workflow", Some(alert_type.clone()), Some(database.clone()), Some(workflow_id.clone()))
                }
                Some(RawAlertOutcome::Folded { workflow_id, alert_type, database }) => {
                    ("folded", Some(alert_type.clone()), Some(database.clone()), Some(workflow_id.clone()))
                }
                Some(RawAlertOutcome::Unmatched) => ("unmatched", None, None, None),
                Some(RawAlertOutcome::Ignored) => ("ignored", None, None, None),
                Some(RawAlertOutcome::Split) => ("split", None, None, None),
                Some(RawAlertOutcome::ApprovalReply { workflow_id }) => {
                    ("approval_reply", None, None, workflow_id.clone())
                }
            };
            Listed {
                id: row.id,
                received_at: timestamp_text(row.received_at),
                subject: row.subject.clone(),
                alert_type,
                database,
                workflow_id,
                outcome,
                reason: row.outcome_reason.clone(),
                truncated: row.original_size.is_some(),
                original_size: row.original_size,
                parse_error: row.parse_error.clone(),
                body_pruned_at: row.body_pruned_at.map(timestamp_text),
            }
        })
        .collect();
    if args.json {
        print_json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        println!("No alerts received{}.", if args.unmatched { " that no policy recognised" } else { "" });
        return Ok(ExitCode::SUCCESS);
    }
    let table_rows: Vec<Vec<String>> = listed
        .iter()
        .map(|alert| {
            vec![
                alert.id.to_string(),
                alert.received_at.clone(),
                alert.outcome.to_owned(),
                alert.alert_type.clone().unwrap_or_else(|| "-".into()),
                alert.database.clone().unwrap_or_else(|| "-".into()),
                alert.workflow_id.as_deref().map(|id| id.get(..8).unwrap_or(id)).unwrap_or("-").to_owned(),
                printable(&alert.subject.chars().take(60).collect::<String>()),
                alert.note(),
            ]
        })
        .collect();
    table::print(
        &["ID", "RECEIVED (UTC)", "OUTCOME", "ALERT TYPE", "DATABASE", "WORKFLOW", "SUBJECT", "NOTE"],
        &table_rows,
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::human_size;

    #[test]
    fn sizes_read_as_a_person_would() {
        assert_eq!(human_size(812), "812 B");
        assert_eq!(human_size(64 * 1024), "64.0 KiB");
        assert_eq!(human_size(50 * 1024 * 1024), "50.0 MiB");
        assert_eq!(human_size(52_428_800 + 1), "50.0 MiB");
    }
}
