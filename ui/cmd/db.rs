//! `sentri db list`: the databases in sentri.yaml — engine, environment, the account Sentri
//! uses and where its password comes from — without ever printing a secret.

use std::process::ExitCode;

use sentri::config::password_env_var;

use super::{Context, print_json, table};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the configured databases and where their credentials come from.
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Print JSON: an array of {"name","engine","environment","username","connection_string","aliases","password_set","password_variable"}.
    #[arg(long)]
    json: bool,
}

#[derive(serde::Serialize)]
struct Listed<'a> {
    name: &'a str,
    engine: String,
    environment: String,
    username: Option<&'a str>,
    connection_string: &'a str,
    aliases: &'a [String],
    password_set: bool,
    password_variable: String,
}

pub fn run(context: &Context, command: Command) -> anyhow::Result<ExitCode> {
    let Command::List(args) = command;
    let config = context.config()?;
    let listed: Vec<Listed> = config
        .databases
        .iter()
        .map(|database| Listed {
            name: &database.name,
            engine: database.engine.to_string(),
            environment: database.environment.to_string(),
            username: database.username.as_deref(),
            connection_string: &database.connection_string,
            aliases: &database.aliases,
            password_set: database.password.is_some(),
            password_variable: password_env_var(&database.name),
        })
        .collect();
    if args.json {
        print_json(&listed)?;
        return Ok(ExitCode::SUCCESS);
    }
    if listed.is_empty() {
        println!(
            "No databases configured. Add them under `databases:` in {}",
            context.existing_home()?.config_file().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = listed
        .iter()
        .map(|db| {
            vec![
                db.name.to_owned(),
                db.engine.clone(),
                db.environment.clone(),
                db.username.unwrap_or("(driver default)").to_owned(),
                db.connection_string.to_owned(),
                db.aliases.join(","),
                if db.password_set { "yes".to_owned() } else { format!("no — set {}", db.password_variable) },
            ]
        })
        .collect();
    table::print(&["NAME", "ENGINE", "ENV", "USER", "CONNECTION", "ALIASES", "PASSWORD"], &rows);
    Ok(ExitCode::SUCCESS)
}
