//! `sentri audit`: read the audit trail, or prove it is intact (`--verify`).

use std::process::ExitCode;

use sentri::store::audit::AuditFilter;
use sentri::store::timestamp_text;

use super::{Context, print_json, table};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "--verify recomputes every row's hash and link. Exit status 1 if the chain is broken, naming the first broken row."
)]
pub struct Args {
    /// Only rows about this database.
    #[arg(long, value_name = "NAME")]
    db: Option<String>,
    /// How many of the most recent rows to show.
    #[arg(long, value_name = "N", default_value_t = 50)]
    last: usize,
    /// Verify the hash chain instead of listing rows.
    #[arg(long)]
    verify: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    if args.verify {
        let report = store.verify_audit()?;
        if args.json {
            print_json(&report)?;
        } else if let Some(broken) = &report.first_broken {
            println!("Audit chain BROKEN at row #{}: {}", broken.id, broken.reason);
            println!("({} row(s) checked; rows before #{} verify)", report.rows_checked, broken.id);
        } else {
            println!("Audit chain intact: {} row(s) verified.", report.rows_checked);
            if let Some(head) = &report.head_hash {
                println!("Head hash: {head}  (keep a copy elsewhere to detect a rewrite from the start)");
            }
        }
        return Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let rows = store.list_audit(&AuditFilter { database: args.db, workflow_id: None, last: Some(args.last) })?;
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("The audit trail is empty.");
        return Ok(ExitCode::SUCCESS);
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.id.to_string(),
                timestamp_text(row.at),
                row.workflow_id.as_deref().map(|id| id.get(..8).unwrap_or(id)).unwrap_or("-").to_owned(),
                row.action.clone(),
                row.database.clone().unwrap_or_else(|| "-".into()),
                row.environment.clone().unwrap_or_else(|| "-".into()),
                row.result.clone(),
                row.actor.clone(),
            ]
        })
        .collect();
    table::print(&["ID", "TIME (UTC)", "WORKFLOW", "ACTION", "DATABASE", "ENV", "RESULT", "BY"], &table_rows);
    Ok(ExitCode::SUCCESS)
}
