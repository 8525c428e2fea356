//! `sentri stats`: how many workflows, in which states, on which databases, and how fixes ended.

use std::process::ExitCode;

use super::{Context, print_json, table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the statistics as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let stats = context.store()?.stats()?;
    if args.json {
        print_json(&stats)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Workflows: {}", stats.total);
    let executions = &stats.executions;
    let finished = executions.completed + executions.rolled_back + executions.failed;
    println!(
        "Fixes executed: {finished} (completed {}, rolled back {}, failed {})",
        executions.completed, executions.rolled_back, executions.failed
    );
    if finished > 0 {
        println!("Success rate: {:.1}%", executions.completed as f64 * 100.0 / finished as f64);
    }
    for (title, rows) in [
        (
            "STATE",
            stats.by_state.iter().map(|(state, count)| vec![state.to_string(), count.to_string()]).collect::<Vec<_>>(),
        ),
        ("DATABASE", stats.by_database.iter().map(|(name, count)| vec![name.clone(), count.to_string()]).collect()),
        ("ALERT TYPE", stats.by_alert_type.iter().map(|(name, count)| vec![name.clone(), count.to_string()]).collect()),
    ] {
        if !rows.is_empty() {
            println!();
            table::print(&[title, "COUNT"], &rows);
        }
    }
    Ok(ExitCode::SUCCESS)
}
