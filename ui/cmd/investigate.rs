//! `sentri investigate DB [TOOL [ARG=VALUE…]] [--json]`: the investigation tools a specialist or
//! a model uses, by hand. Read-only whatever the environment: every query runs on the read
//! path, under the tool's time limit and row cap.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use sentri::diagnose::tools::{self, ToolContext, ToolResult};
use sentri::policy::{PolicySet, ToolPolicy};
use sentri::targets::{ConnectOptions, Target};

use super::{Context, print_json, printable, table};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  sentri investigate PG-DEV\n  sentri investigate PG-DEV pg_table_stats table=orders\n  \
                        sentri investigate PG-DEV pg_explain 'sql=SELECT * FROM orders WHERE id = 7' --json"
)]
pub struct Args {
    /// The database's name or one of its aliases (`sentri db list`).
    database: String,
    /// The tool to run; without it, the tools for this database's engine are listed.
    tool: Option<String>,
    /// The tool's arguments as NAME=VALUE (`sentri investigate DB` lists them).
    arguments: Vec<String>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let Some(database) = config.database(&args.database) else {
        bail!("no database named or aliased `{}` in sentri.yaml (see `sentri db list`)", args.database);
    };
    let home = context.existing_home()?;
    let policies = PolicySet::load(&home.root);
    let Some(name) = &args.tool else {
        list(&policies, database.engine, &database.name, args.json)?;
        return Ok(ExitCode::SUCCESS);
    };
    let Some(tool) = policies.tool(database.engine, name) else {
        let known: Vec<_> = policies.tools_for(database.engine).iter().map(|tool| tool.name.clone()).collect();
        bail!(
            "no tool `{name}` for {} databases (tools: {}); see `sentri investigate {}`",
            database.engine,
            if known.is_empty() {
                "none: is tools/ in SENTRI_HOME? run `sentri init`".into()
            } else {
                known.join(", ")
            },
            database.name
        );
    };
    let given = parse_arguments(&args.arguments)?;
    tools::check_arguments(tool, &given)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(async {
        let target = Target::connect(database, &ConnectOptions::default()).await?;
        let tool_context = ToolContext { environment: Some(database.environment), profile: None };
        let result = tools::run(&target, tool, &given, &tool_context).await;
        target.close().await;
        anyhow::Ok(result?)
    })?;
    if args.json {
        print_json(&result)?;
    } else {
        print_result(&result);
    }
    let failed = result.skipped.is_some() || result.queries.iter().any(|query| query.error.is_some());
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// `NAME=VALUE` words as a map; a word without `=` is an error that shows the form.
fn parse_arguments(words: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut arguments = BTreeMap::new();
    for word in words {
        let (name, value) = word
            .split_once('=')
            .with_context(|| format!("`{word}`: tool arguments are NAME=VALUE (e.g. table=orders)"))?;
        arguments.insert(name.trim().to_lowercase(), value.to_owned());
    }
    Ok(arguments)
}

fn list(policies: &PolicySet, engine: sentri::domain::DbKind, database: &str, json: bool) -> anyhow::Result<()> {
    let tools = policies.tools_for(engine);
    if json {
        let listed: Vec<_> = tools.iter().map(|tool| listed(tool)).collect();
        return print_json(&listed);
    }
    if tools.is_empty() {
        println!(
            "No {engine} tools in SENTRI_HOME/tools/{}/ (run `sentri init` to install the default pack).",
            engine.as_str()
        );
        return Ok(());
    }
    println!("Tools for {database} ({engine}); run one with `sentri investigate {database} TOOL [ARG=VALUE…]`:\n");
    for tool in tools {
        println!("{}  —  {}", tool.name, tool.description);
        for argument in &tool.arguments {
            let need = match (&argument.default, argument.required) {
                (Some(default), _) => format!("default {default}"),
                (None, true) => "required".into(),
                (None, false) => "optional".into(),
            };
            let about =
                if argument.description.is_empty() { String::new() } else { format!(": {}", argument.description) };
            println!("    {}={} ({need}){about}", argument.name, argument.kind.describe());
        }
        let requires: Vec<_> = tool.requires.iter().map(ToString::to_string).collect();
        if !requires.is_empty() {
            println!("    needs {}", requires.join(", "));
        }
    }
    Ok(())
}

fn listed(tool: &ToolPolicy) -> serde_json::Value {
    serde_json::json!({
        "name": tool.name,
        "description": tool.description,
        "arguments": tool.arguments.iter().map(|argument| serde_json::json!({
            "name": argument.name,
            "type": argument.kind.describe(),
            "required": argument.required,
            "default": argument.default,
            "description": argument.description,
        })).collect::<Vec<_>>(),
        "row_cap": tool.row_cap,
        "time_limit_ms": u64::try_from(tool.time_limit.as_millis()).unwrap_or(u64::MAX),
        "requires": tool.requires.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn print_result(result: &ToolResult) {
    let arguments: Vec<_> = result.arguments.iter().map(|(name, value)| format!("{name}={value}")).collect();
    println!("{} on {} ({} ms) {}", result.tool, result.database, result.elapsed_ms, arguments.join(" "));
    if let Some(skipped) = &result.skipped {
        println!("not run: {skipped}");
        return;
    }
    for query in &result.queries {
        println!(
            "\n== {} ({} rows, {} ms{})",
            query.name,
            query.rows.len(),
            query.ms,
            if query.truncated { ", cut at the row cap" } else { "" }
        );
        if let Some(error) = &query.error {
            println!("error: {error}");
            continue;
        }
        if query.rows.is_empty() {
            println!("(no rows)");
            continue;
        }
        let header: Vec<&str> = query.columns.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = query
            .rows
            .iter()
            .map(|row| row.iter().map(|value| printable(&value.to_string()).chars().take(120).collect()).collect())
            .collect();
        table::print(&header, &rows);
    }
}
