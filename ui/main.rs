//! The `sentri` command: a thin shell over the engine library. Each subcommand lives in its own
//! file under `cmd/`; this file only declares the command tree and maps results to exit codes
//! (0 success, 1 error, 2 usage — the last one is clap's).

mod cmd;
mod console;
mod demo;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sentri reads database alert emails, re-verifies each problem on the live database, and
/// fixes it through a Safety Mesh — automatically in DEV, after approval in PROD — with a
/// tamper-evident audit trail.
#[derive(Debug, Parser)]
#[command(name = "sentri", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Start with `sentri init`, then `sentri policy check` and `sentri match <email>`.\nSENTRI_HOME (default ~/.sentri) holds policies, config/sentri.yaml and the store."
)]
struct Cli {
    /// Run the engine headless in the foreground (the same as `sentri start`).
    #[arg(long)]
    daemon: bool,

    /// The Sentri home folder [default: ~/.sentri]
    #[arg(long, global = true, env = "SENTRI_HOME", value_name = "DIR", hide_env_values = true)]
    home: Option<PathBuf>,

    /// How `start` and the console log: human-readable text, or one JSON object per line
    /// [default: monitoring.log_format, else text]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["text", "json"])]
    log_format: Option<String>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The live console: alerts, workflows, Safety Mesh verdicts, SQL and audit; approve, deny
    /// and resolve from the keyboard (also what `sentri` alone opens).
    Console(cmd::console::Args),
    /// Run the engine headless in the foreground: mailbox intake, verification, Safety Mesh,
    /// fixes. systemd-friendly (no fork; Type=notify with a watchdog; logs to stderr and
    /// logs/sentri.DATE.log; SIGTERM lets the current step finish).
    Start(cmd::start::Args),
    /// Create (or complete) SENTRI_HOME: folders, the default policy pack, a commented
    /// config/sentri.yaml and the store. Edited files are kept unless --force.
    Init(cmd::init::Args),
    /// Work with the Markdown policy pack.
    #[command(subcommand)]
    Policy(cmd::policy::Command),
    /// Explain how Sentri reads one alert email: which alert type, which database, which fields.
    Match(cmd::matching::Args),
    /// The databases Sentri looks after.
    #[command(subcommand)]
    Db(cmd::db::Command),
    /// List workflows, newest last.
    List(cmd::list::Args),
    /// Everything about one workflow: alert, state history, plan, audit.
    Show(cmd::show::Args),
    /// Counts by state, database and alert type, and execution outcomes.
    Stats(cmd::stats::Args),
    /// Read the audit trail, or prove it has not been altered (--verify).
    Audit(cmd::audit::Args),
    /// Why a database is in trouble: the specialists' root causes with their evidence, and
    /// scored fix candidates with their SQL. Read-only; nothing is run.
    Diagnose(cmd::diagnose::Args),
    /// Run the read-only investigation tools (tools/{oracle,postgres}/*.md) on a database by
    /// hand: without TOOL, list them with their arguments.
    Investigate(cmd::investigate::Args),
    /// The proactive checks (checks/**/*.md): schedules and last results; `run NAME` runs one
    /// now, `history NAME --db DB` shows its series and when they reach their limit.
    Checks(cmd::checks::Args),
    /// The cached profile of one database (version, CDB/PDB, RAC, OMF, packs).
    ShowProfile(cmd::profile::Args),
    /// Every profiled database: engine, version, role, CDB/RAC/bigfile/OMF, licensed packs and
    /// when it was profiled (from the store; nothing is connected to).
    Profiles(cmd::profiles::Args),
    /// Every alert email received and what became of it (workflow, folded, unmatched).
    Alerts(cmd::alerts::Args),
    /// Push an mbox, a maildir or a folder of .eml files through the pipeline (--dry-run: only show).
    Replay(cmd::replay::Args),
    /// Approve (or --deny) the plan of a workflow waiting for approval.
    Approve(cmd::approve::ApproveArgs),
    /// Close a workflow a DBA handled by hand.
    Resolve(cmd::approve::ResolveArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cmd::completions::Args),
    /// Write a systemd unit for `sentri start` (Type=notify, watchdog, hardening) and an example
    /// environment file for its secrets, and print the commands that enable it.
    InstallService(cmd::install_service::Args),
    /// Write the man pages (sentri.1 and one per subcommand) and the shell completions into a
    /// folder, for packaging.
    #[command(hide = true)]
    GenerateDocs(cmd::man::Args),
    /// See Sentri work with nothing to set up: the real engine on SIMULATED Oracle databases
    /// (--headless: plain lines; --dry-run: execute nothing; --db NAME: a real database).
    Demo(cmd::demo::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log_format = cli.log_format.as_deref().and_then(sentri::config::LogFormat::parse);
    let context = cmd::Context::new(cli.home, log_format);
    let command = match (cli.command, cli.daemon) {
        (Some(command), _) => command,
        (None, true) => Command::Start(cmd::start::Args {}),
        (None, false) => Command::Console(cmd::console::Args {}),
    };
    let result = match command {
        Command::Console(args) => cmd::console::run(&context, args),
        Command::Start(args) => cmd::start::run(&context, args),
        Command::Init(args) => cmd::init::run(&context, args),
        Command::Policy(command) => cmd::policy::run(&context, command),
        Command::Match(args) => cmd::matching::run(&context, args),
        Command::Db(command) => cmd::db::run(&context, command),
        Command::List(args) => cmd::list::run(&context, args),
        Command::Show(args) => cmd::show::run(&context, args),
        Command::Diagnose(args) => cmd::diagnose::run(&context, args),
        Command::Investigate(args) => cmd::investigate::run(&context, args),
        Command::Checks(args) => cmd::checks::run(&context, args),
        Command::Stats(args) => cmd::stats::run(&context, args),
        Command::Audit(args) => cmd::audit::run(&context, args),
        Command::Alerts(args) => cmd::alerts::run(&context, args),
        Command::ShowProfile(args) => cmd::profile::run(&context, args),
        Command::Profiles(args) => cmd::profiles::run(&context, args),
        Command::Replay(args) => cmd::replay::run(&context, args),
        Command::Approve(args) => cmd::approve::approve(&context, args),
        Command::Resolve(args) => cmd::approve::resolve(&context, args),
        Command::Completions(args) => cmd::completions::run::<Cli>(args),
        Command::InstallService(args) => cmd::install_service::run(&context, args),
        Command::GenerateDocs(args) => cmd::man::run::<Cli>(args),
        Command::Demo(args) => cmd::demo::run(&context, args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
