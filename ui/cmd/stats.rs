//! `sentri stats`: how many workflows, in which states, on which databases, how fixes ended, and
//! what the language model cost per day.

use std::process::ExitCode;

use super::{Context, print_json, table};

#[derive(Debug, clap::Args)]
#[command(after_help = "Model spend counts every call to the configured model (diagnosis, one-shot and \
judges), from the providers' own token counts at the price table's rates (llm.prices overrides it). \
Days are UTC; llm.daily_cost_limit stops spending for the rest of a day.")]
pub struct Args {
    /// Print the statistics as JSON (with "model_spend": one row per day).
    #[arg(long)]
    json: bool,
    /// How many of the latest days with model calls to show.
    #[arg(long, default_value_t = 14, value_name = "N")]
    days: usize,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let stats = store.stats()?;
    let spend = store.model_spend_by_day(args.days)?;
    if args.json {
        let mut value = serde_json::to_value(&stats)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("model_spend".into(), serde_json::to_value(&spend)?);
        }
        print_json(&value)?;
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
    println!();
    if spend.is_empty() {
        println!("Model spend: no model calls recorded");
    } else {
        let total: f64 = spend.iter().map(|day| day.cost_usd).sum();
        println!("Model spend: ${total:.4} over the last {} day(s) with calls", spend.len());
        let rows: Vec<Vec<String>> = spend
            .iter()
            .map(|day| {
                vec![
                    day.day.clone(),
                    day.calls.to_string(),
                    day.input_tokens.to_string(),
                    day.output_tokens.to_string(),
                    format!("${:.4}", day.cost_usd),
                ]
            })
            .collect();
        table::print(&["DAY (UTC)", "CALLS", "INPUT TOKENS", "OUTPUT TOKENS", "COST"], &rows);
    }
    Ok(ExitCode::SUCCESS)
}
