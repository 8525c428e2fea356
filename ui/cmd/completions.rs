//! `sentri completions SHELL`: completion scripts generated from the command tree itself.

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate for.
    shell: Shell,
}

pub fn run<C: CommandFactory>(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = C::command();
    clap_complete::generate(args.shell, &mut command, "sentri", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}
