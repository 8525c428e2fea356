//! `sentri list`: recent workflows, oldest first, filtered by state and database.

use std::process::ExitCode;

use sentri::domain::WorkflowState;
use sentri::store::timestamp_text;
use sentri::store::workflows::{WorkflowFilter, WorkflowRow};

use super::{Context, print_json, table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only workflows in this state (e.g. AWAITING_APPROVAL, ESCALATED; case-insensitive).
    #[arg(long, value_name = "STATE")]
    status: Option<WorkflowState>,
    /// Only workflows on this database (its configured name).
    #[arg(long, value_name = "NAME")]
    db: Option<String>,
    /// How many of the most recent workflows to show.
    #[arg(long, value_name = "N", default_value_t = 20)]
    last: usize,
    /// Print JSON: an array of {"id","short_id","incident_id","alert_type","database","environment","status",
    /// "created_at","updated_at"}.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Listed<'a> {
    id: &'a str,
    short_id: &'a str,
    incident_id: &'a str,
    alert_type: &'a str,
    database: &'a str,
    environment: &'a str,
    status: String,
    created_at: String,
    updated_at: String,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let rows =
        store.list_workflows(&WorkflowFilter { state: args.status, database: args.db, last: Some(args.last) })?;
    if args.json {
        let listed: Vec<Listed> = rows
            .iter()
            .map(|row| Listed {
                id: &row.id,
                short_id: row.short_id(),
                incident_id: &row.incident_id,
                alert_type: &row.alert_type,
                database: &row.database,
                environment: &row.environment,
                status: row.state.to_string(),
                created_at: timestamp_text(row.created_at),
                updated_at: timestamp_text(row.updated_at),
            })
            .collect();
        print_json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("No workflows yet.");
        return Ok(ExitCode::SUCCESS);
    }
    let simulated = context.simulated_databases();
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.short_id().to_owned(),
                row.alert_type.clone(),
                if simulated.contains(&row.database) {
                    format!("{} (SIMULATED)", row.database)
                } else {
                    row.database.clone()
                },
                row.environment.clone(),
                row.state.to_string(),
                incident_label(row),
                timestamp_text(row.created_at),
            ]
        })
        .collect();
    table::print(&["ID", "ALERT TYPE", "DATABASE", "ENV", "STATUS", "INCIDENT", "CREATED (UTC)"], &table_rows);
    Ok(ExitCode::SUCCESS)
}

/// The short id of the incident a workflow joined, or `-` when it came alone.
fn incident_label(row: &WorkflowRow) -> String {
    if row.incident_id == row.id { "-".to_owned() } else { row.incident_id.chars().take(8).collect() }
}
