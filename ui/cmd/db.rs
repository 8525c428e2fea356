//! `sentri db list`: the databases in sentri.yaml — engine, environment, the account Sentri
//! uses and where its password comes from — without ever printing a secret.

use std::process::ExitCode;

use std::time::Duration;

use sentri::config::{DatabaseConfig, password_env_var};
use sentri::targets::{ConnectOptions, Profile, Target, TargetError, WriteAccess};

use super::{Context, print_json, table};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List the configured databases and where their credentials come from.
    List(ListArgs),
    /// Connect to each database (or one): who Sentri is there, the round trip, what the
    /// database is (version, CDB/PDB, RAC, OMF, bigfile, packs) and whether the account could
    /// write. Exit 1 if any fails.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// Only this database (its name or an alias).
    name: Option<String>,
    /// Seconds allowed to connect.
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    timeout: u64,
    /// Print JSON: an array of {"name","engine","environment","ok","connected_as","latency_ms","profile","write_access","error"}.
    #[arg(long)]
    json: bool,
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
    let args = match command {
        Command::List(args) => args,
        Command::Test(args) => return test(context, args),
    };
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
                if db.password_set {
                    "yes".to_owned()
                } else if db.engine == sentri::targets::DbKind::Sandbox.to_string() {
                    "not needed (SIMULATED)".to_owned()
                } else {
                    format!("no — set {}", db.password_variable)
                },
            ]
        })
        .collect();
    table::print(&["NAME", "ENGINE", "ENV", "USER", "CONNECTION", "ALIASES", "PASSWORD"], &rows);
    Ok(ExitCode::SUCCESS)
}

/// `sentri db test`: can Sentri reach each database, as whom, how fast, and what is it?
pub fn test(context: &Context, args: TestArgs) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let selected: Vec<&DatabaseConfig> = match &args.name {
        Some(name) => match config.database(name) {
            Some(database) => vec![database],
            None => anyhow::bail!("no database named or aliased `{name}` in sentri.yaml (see `sentri db list`)"),
        },
        None => config.databases.iter().collect(),
    };
    if selected.is_empty() {
        println!("No databases configured.");
        return Ok(ExitCode::SUCCESS);
    }
    let store = context.store().ok();
    let options = ConnectOptions {
        connect_timeout: Duration::from_secs(args.timeout),
        call_timeout: Duration::from_secs(args.timeout.max(5) * 3),
        pool_size: 1,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let results: Vec<Tested> = runtime.block_on(async {
        let mut results = Vec::new();
        for database in &selected {
            results.push(test_one(database, &options).await);
        }
        results
    });
    if let Some(store) = &store {
        for result in &results {
            if let Some(profile) = &result.profile
                && let Err(error) = store.save_profile(&result.name, profile)
            {
                eprintln!("warning: could not cache the profile of {}: {error}", result.name);
            }
        }
    }
    let all_ok = results.iter().all(|result| result.ok);
    if args.json {
        print_json(&results)?;
    } else {
        for result in &results {
            print_tested(result);
        }
    }
    Ok(if all_ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

#[derive(serde::Serialize)]
struct Tested {
    name: String,
    engine: String,
    environment: String,
    ok: bool,
    connected_as: Option<String>,
    latency_ms: Option<f64>,
    profile: Option<Profile>,
    /// Whether the account could write; `None` when it could not be read (the error says why
    /// in `write_access_error`).
    write_access: Option<WriteAccess>,
    write_access_error: Option<TargetError>,
    error: Option<TargetError>,
}

async fn test_one(database: &DatabaseConfig, options: &ConnectOptions) -> Tested {
    let mut tested = Tested {
        name: database.name.clone(),
        engine: database.engine.to_string(),
        environment: database.environment.to_string(),
        ok: false,
        connected_as: None,
        latency_ms: None,
        profile: None,
        write_access: None,
        write_access_error: None,
        error: None,
    };
    let target = match Target::connect(database, options).await {
        Ok(target) => target,
        Err(error) => {
            tested.error = Some(error);
            return tested;
        }
    };
    match target.ping().await {
        Ok(latency) => tested.latency_ms = Some(latency.as_secs_f64() * 1000.0),
        Err(error) => {
            tested.error = Some(error);
            target.close().await;
            return tested;
        }
    }
    match target.profile().await {
        Ok(profile) => {
            tested.connected_as = Some(profile.connected_as.clone());
            tested.profile = Some(profile);
            tested.ok = true;
        }
        Err(error) => tested.error = Some(error),
    }
    if tested.ok {
        match target.write_access().await {
            Ok(access) => tested.write_access = Some(access),
            Err(error) => tested.write_access_error = Some(error),
        }
    }
    target.close().await;
    tested
}

fn print_tested(result: &Tested) {
    let status = if result.ok { "OK" } else { "FAILED" };
    println!("{} ({}, {}): {status}", result.name, result.engine, result.environment);
    if let Some(error) = &result.error {
        println!("  error: {error}");
    }
    if let Some(latency) = result.latency_ms {
        println!("  round trip: {latency:.1} ms");
    }
    if let Some(profile) = &result.profile {
        print_profile(profile);
    }
    if let Some(access) = &result.write_access {
        print_write_access(access);
    }
    if let Some(error) = &result.write_access_error {
        println!("  can write:    unknown ({error})");
    }
}

/// Whether the account could write, with every reason: the read path is only as read-only as
/// the account (see the README's read-only role).
fn print_write_access(access: &WriteAccess) {
    if access.can_write {
        println!("  can write:    YES — this account could change the database:");
        for reason in &access.reasons {
            println!("                - {reason}");
        }
        println!("                (a read-only role for the read path is recommended; see the README)");
    } else {
        println!("  can write:    no (read-only account)");
    }
    for note in &access.notes {
        println!("                {note}");
    }
}

/// The profile in a few lines a DBA reads at a glance.
pub fn print_profile(profile: &Profile) {
    println!("  connected as: {}", profile.connected_as);
    println!("  database:     {}  version {}", profile.database_name, profile.version);
    if let Some(oracle) = &profile.oracle {
        println!(
            "  instance:     {} on {} ({}, {})",
            oracle.instance_name, oracle.host_name, oracle.database_role, oracle.open_mode
        );
        let cdb = if oracle.is_cdb {
            format!("CDB, in container {}, {} container(s)", oracle.current_container, oracle.containers.len())
        } else {
            "non-CDB".to_owned()
        };
        println!(
            "  architecture: {cdb}; {}",
            if oracle.is_rac {
                format!("RAC, {} instances", oracle.instance_count)
            } else {
                "single instance".to_owned()
            }
        );
        println!(
            "  files:        {}; bigfile tablespaces: {}",
            oracle
                .omf_destination
                .as_deref()
                .map_or("no OMF (paths needed)".to_owned(), |dest| format!("OMF in {dest}")),
            if oracle.bigfile_tablespaces.is_empty() {
                "none".to_owned()
            } else {
                oracle.bigfile_tablespaces.join(", ")
            }
        );
        println!(
            "  packs:        {} (Diagnostics {}, Tuning {})",
            oracle.pack_access,
            if oracle.diagnostics_pack() { "yes" } else { "no" },
            if oracle.tuning_pack() { "yes" } else { "no" }
        );
    }
    if let Some(postgres) = &profile.postgres {
        println!(
            "  server:       {} ({}), max_connections {}, superuser {}",
            postgres.server_version_num,
            if postgres.in_recovery { "standby: read-only" } else { "primary" },
            postgres.max_connections,
            if postgres.is_superuser { "yes" } else { "no" }
        );
        println!(
            "  extensions:   {}",
            if postgres.extensions.is_empty() { "none".to_owned() } else { postgres.extensions.join(", ") }
        );
    }
    println!("  profiled at:  {}", profile.profiled_at);
}
