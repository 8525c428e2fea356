//! `sentri show ID`: one workflow in full — the alert, its fields, every change of state with
//! who made it and why, the plan, and its audit rows.

use std::process::ExitCode;

use sentri::store::audit::AuditFilter;
use sentri::store::timestamp_text;

use super::{Context, print_json, printable};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow id, or any unique prefix of it (the 8-character short id works).
    id: String,
    /// Print JSON: {"workflow", "transitions", "audit"}.
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let workflow = store.find_workflows(args.id.trim())?;
    let transitions = store.workflow_transitions(&workflow.id)?;
    let audit = store.list_audit(&AuditFilter { workflow_id: Some(workflow.id.clone()), ..AuditFilter::default() })?;
    if args.json {
        print_json(&serde_json::json!({ "workflow": workflow, "transitions": transitions, "audit": audit }))?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("Workflow {}", workflow.id);
    let simulated =
        if context.simulated_databases().contains(&workflow.database) { " — a SIMULATED database" } else { "" };
    println!("  {} on {} ({}){simulated}", workflow.alert_type, workflow.database, workflow.environment);
    println!("  status:      {}", workflow.state);
    println!("  severity:    {}", workflow.severity);
    println!("  created:     {}", timestamp_text(workflow.created_at));
    println!("  updated:     {}", timestamp_text(workflow.updated_at));
    if workflow.occurrences > 1 {
        println!("  occurrences: {}", workflow.occurrences);
    }
    if !workflow.fields.is_empty() {
        println!("Fields:");
        for (name, value) in &workflow.fields {
            println!("  {name} = {}", printable(value));
        }
    }
    for (title, value) in
        [("Verification", &workflow.verification), ("Plan", &workflow.plan), ("Execution", &workflow.execution)]
    {
        if let Some(value) = value {
            println!("{title}:");
            for line in serde_json::to_string_pretty(value)?.lines() {
                println!("  {line}");
            }
        }
    }
    if let Some(hash) = &workflow.plan_hash {
        println!("  plan hash: {hash}");
    }
    println!("History:");
    for transition in &transitions {
        let reason = if transition.reason.is_empty() { String::new() } else { format!(" — {}", transition.reason) };
        println!(
            "  {}  {} → {}  by {}{reason}",
            timestamp_text(transition.at),
            transition.from,
            transition.to,
            transition.actor
        );
    }
    println!("Audit:");
    for row in &audit {
        println!("  #{} {}  {} {}  by {}", row.id, timestamp_text(row.at), row.action, row.result, row.actor);
    }
    Ok(ExitCode::SUCCESS)
}
