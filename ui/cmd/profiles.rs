//! `sentri profiles`: every database Sentri has profiled, one line each — what the engine knows
//! about each (engine, version, role, CDB/RAC/bigfile/OMF, licensed packs) and how old that
//! knowledge is — read from the store's cache without connecting to anything.

use std::process::ExitCode;

use sentri::targets::Profile;

use super::{Context, print_json, printable, table};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON: an array of {"database","profiled_at","profile"} (or "error" for a cached
    /// profile this version cannot read).
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    let profiles = store.profiles()?;
    if args.json {
        let rows: Vec<serde_json::Value> = profiles
            .iter()
            .map(|row| match &row.profile {
                Ok(profile) => serde_json::json!({
                    "database": row.database, "profiled_at": row.profiled_at, "profile": profile,
                }),
                Err(error) => serde_json::json!({
                    "database": row.database, "profiled_at": row.profiled_at, "error": error,
                }),
            })
            .collect();
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if profiles.is_empty() {
        println!(
            "No database has been profiled yet; run `sentri db test` (the engine also profiles on first connect)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = profiles
        .iter()
        .map(|row| {
            let mut cells = vec![printable(&row.database)];
            match &row.profile {
                Ok(profile) => cells.extend(columns(profile).map(|cell| printable(&cell))),
                Err(error) => {
                    cells.extend(["?", "?", "?", "?", "?"].map(str::to_owned));
                    cells.push(format!("unreadable: {error}"));
                }
            }
            cells.push(row.profiled_at.clone());
            cells
        })
        .collect();
    table::print(&["DATABASE", "ENGINE", "VERSION", "ROLE", "ARCHITECTURE", "FILES", "PACKS", "PROFILED AT"], &rows);
    Ok(ExitCode::SUCCESS)
}

/// ENGINE, VERSION, ROLE, ARCHITECTURE, FILES, PACKS of one profile.
fn columns(profile: &Profile) -> [String; 6] {
    let engine = profile.engine.to_string();
    let version = profile.version.clone();
    if let Some(oracle) = &profile.oracle {
        let mut architecture =
            vec![if oracle.is_cdb { format!("CDB ({} PDBs)", oracle.containers.len()) } else { "non-CDB".to_owned() }];
        architecture.push(if oracle.is_rac { format!("RAC x{}", oracle.instance_count) } else { "single".to_owned() });
        let mut files = vec![if oracle.omf_destination.is_some() { "OMF" } else { "no OMF" }.to_owned()];
        if !oracle.bigfile_tablespaces.is_empty() {
            files.push(format!("bigfile: {}", oracle.bigfile_tablespaces.join(",")));
        }
        let mut packs = Vec::new();
        if oracle.diagnostics_pack() {
            packs.push("Diagnostics");
        }
        if oracle.tuning_pack() {
            packs.push("Tuning");
        }
        let packs = if packs.is_empty() { "none".to_owned() } else { packs.join("+") };
        return [engine, version, oracle.database_role.clone(), architecture.join(", "), files.join(", "), packs];
    }
    if let Some(postgres) = &profile.postgres {
        let role = if postgres.in_recovery { "standby" } else { "primary" }.to_owned();
        return [engine, version, role, "single".to_owned(), "-".to_owned(), "n/a".to_owned()];
    }
    [engine, version, "-".to_owned(), "-".to_owned(), "-".to_owned(), "-".to_owned()]
}
