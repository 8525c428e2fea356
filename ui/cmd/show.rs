//! `sentri show ID`: one workflow in full — the alert, its fields, every change of state with
//! who made it and why, the plan, the messages sent about it (and their delivery state), and its
//! audit rows.

use std::process::ExitCode;

use sentri::store::audit::AuditFilter;
use sentri::store::outbox::OutboxMessage;
use sentri::store::timestamp_text;
use sentri::store::workflows::WorkflowRow;

use super::{Context, print_json, printable};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The workflow id, or any unique prefix of it (the 8-character short id works).
    id: String,
    /// Print JSON: {"workflow", "incident" (the ids of its incident's workflows), "transitions", "outbox",
    /// "audit"}.
    #[arg(long)]
    json: bool,
    /// Print the language model's conversation in full: the prompts Sentri sent, the model's
    /// answers, its tool calls and their results, and the judges' verdicts (secrets removed).
    #[arg(long)]
    conversation: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let workflow = store.find_workflows(args.id.trim())?;
    let transitions = store.workflow_transitions(&workflow.id)?;
    let outbox = store.outbox_for_workflow(&workflow.id)?;
    let audit =
        store.list_audit(&AuditFilter { workflow_id: Some(workflow.id.to_string()), ..AuditFilter::default() })?;
    if args.json {
        let incident: Vec<String> =
            store.incident_workflows(&workflow.incident_id)?.into_iter().map(|member| member.id.into()).collect();
        print_json(&serde_json::json!({
            "workflow": workflow,
            "incident": incident,
            "transitions": transitions,
            "outbox": outbox,
            "audit": audit,
        }))?;
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
    let incident = store.incident_workflows(&workflow.incident_id)?;
    if incident.len() > 1 {
        println!(
            "  incident:    {} ({} alerts on {} together)",
            short(&workflow.incident_id),
            incident.len(),
            workflow.database
        );
        for member in incident.iter().filter(|member| member.id != workflow.id) {
            println!("               {}  {} — {}", member.short_id(), member.alert_type, member.state);
        }
    }
    if !workflow.fields.is_empty() {
        println!("Fields:");
        for (name, value) in &workflow.fields {
            println!("  {name} = {}", printable(value));
        }
    }
    print_records(&workflow)?;
    print_conversation(&workflow, args.conversation);
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
    print_messages(&outbox);
    println!("Audit:");
    for row in &audit {
        println!("  #{} {}  {} {}  by {}", row.id, timestamp_text(row.at), row.action, row.result, row.actor);
    }
    Ok(ExitCode::SUCCESS)
}

/// The typed records of the workflow, as JSON a DBA can read (and copy into a ticket).
fn print_records(workflow: &WorkflowRow) -> anyhow::Result<()> {
    if let Some(diagnosis) = &workflow.diagnosis {
        println!("Diagnosis:");
        let chosen = workflow.plan.as_ref().and_then(|plan| diagnosis.chosen(plan));
        for line in sentri::diagnose::text::report(diagnosis, chosen, sentri::diagnose::text::Statements::Every).lines()
        {
            println!("  {line}");
        }
    }
    let records = [
        ("Verification", workflow.verification.as_ref().map(serde_json::to_value).transpose()?),
        ("Plan", workflow.plan.as_ref().map(serde_json::to_value).transpose()?),
        ("Execution", workflow.execution.as_ref().map(serde_json::to_value).transpose()?),
    ];
    for (title, value) in records {
        if let Some(value) = value {
            println!("{title}:");
            for line in serde_json::to_string_pretty(&value)?.lines() {
                println!("  {line}");
            }
        }
    }
    for note in &workflow.unreadable {
        println!("Unreadable: {note}");
    }
    if let Some(hash) = &workflow.plan_hash {
        println!("  plan hash: {hash}");
    }
    Ok(())
}

/// The model's conversation, kept with the diagnosis: in full with `--conversation`, else a
/// line saying how to see it.
fn print_conversation(workflow: &WorkflowRow, full: bool) {
    let Some(record) = workflow.diagnosis.as_ref().and_then(|diagnosis| diagnosis.model.as_ref()) else { return };
    if let Some(judgement) = &record.judgement {
        println!("Judges: {}", printable(&judgement.outcome));
        for vote in &judgement.judges {
            match &vote.error {
                Some(error) => println!("  {}: not counted — {}", vote.judge, printable(error)),
                None => {
                    let totals: Vec<String> = vote.totals.iter().map(|total| format!("{total:.2}")).collect();
                    println!("  {}: {}", vote.judge, totals.join(" "));
                }
            }
        }
    }
    if record.transcript.is_empty() {
        return;
    }
    if !full {
        println!(
            "Model conversation: {} message(s) — `sentri show {} --conversation` prints them",
            record.transcript.len(),
            workflow.short_id()
        );
        return;
    }
    println!("Model conversation:");
    for entry in &record.transcript {
        println!("  [{}]", entry.role);
        for line in entry.text.lines() {
            println!("    {}", printable(line));
        }
    }
}

/// What was sent (or is still to be sent) about the workflow, and why a message failed.
fn print_messages(outbox: &[OutboxMessage]) {
    if !outbox.is_empty() {
        println!("Messages:");
        for message in outbox {
            let when = message.sent_at.or(message.gave_up_at).or(message.next_attempt_at).map(timestamp_text);
            let attempts =
                if message.attempts > 0 { format!(", {} failed attempt(s)", message.attempts) } else { String::new() };
            println!(
                "  #{} {} to {}: {}{attempts}{}",
                message.id,
                message.kind,
                printable(&message.recipient),
                message.state(),
                when.map(|at| format!(" ({at})")).unwrap_or_default()
            );
            if let Some(error) = &message.last_error
                && message.sent_at.is_none()
            {
                println!("      last error: {}", printable(error));
            }
        }
    }
}

/// The first 8 characters of an id.
fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
