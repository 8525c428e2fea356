//! `sentri show-profile NAME`: what Sentri last learned about a database (from `sentri db test`
//! or the engine's first connection), without connecting again.

use std::process::ExitCode;

use anyhow::bail;

use super::{Context, print_json};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The database's name or one of its aliases.
    name: String,
    /// Print the profile as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let config = context.config()?;
    let name = config.database(&args.name).map(|database| database.name.clone()).unwrap_or(args.name.clone());
    let store = context.store()?;
    let Some(profile) = store.profile(&name)? else {
        bail!("{name} has not been profiled yet; run `sentri db test {name}`");
    };
    if args.json {
        print_json(&profile)?;
    } else {
        println!("{name} ({})", profile.engine);
        super::db::print_profile(&profile);
    }
    Ok(ExitCode::SUCCESS)
}
