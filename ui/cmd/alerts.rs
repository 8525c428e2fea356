//! `sentri alerts`: every alert email received, with what became of it — its workflow, the
//! workflow it was folded into, or unmatched. Nothing received is ever invisible.

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
    /// Print JSON: an array of {"id","received_at","subject","alert_type","database","workflow_id","outcome"}.
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
            ]
        })
        .collect();
    table::print(&["ID", "RECEIVED (UTC)", "OUTCOME", "ALERT TYPE", "DATABASE", "WORKFLOW", "SUBJECT"], &table_rows);
    Ok(ExitCode::SUCCESS)
}
