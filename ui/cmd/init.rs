//! `sentri init`: lay out SENTRI_HOME and say exactly what was created, kept or replaced.

use std::process::ExitCode;

use sentri::home::FileAction;

use super::Context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Replace files you have edited with the defaults (each is backed up under .backup/ first).
    #[arg(long)]
    force: bool,
}

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let home = context.home()?;
    let report = home.init(args.force)?;
    let root = report.root.display();
    println!("Sentri home: {root}");
    if report.created_folders.is_empty() {
        println!("  folders: all present");
    } else {
        println!("  folders: created {}", report.created_folders.len());
    }
    let count = |wanted: FileAction| report.files.iter().filter(|(_, action)| *action == wanted).count();
    println!(
        "  files: {} installed, {} already up to date, {} edited and kept, {} replaced",
        count(FileAction::Installed),
        count(FileAction::Unchanged),
        count(FileAction::KeptEdited),
        count(FileAction::Replaced)
    );
    for (path, action) in &report.files {
        let relative = path.strip_prefix(&report.root).unwrap_or(path).display();
        match action {
            FileAction::KeptEdited => println!("    kept (edited): {relative}"),
            FileAction::Replaced => println!("    replaced: {relative}"),
            _ => {}
        }
    }
    for backup in &report.backups {
        println!("    backup: {}", backup.display());
    }
    if count(FileAction::KeptEdited) > 0 {
        println!("  (run `sentri init --force` to replace edited files with the defaults; they are backed up first)");
    }
    let verb = if report.database_created { "created" } else { "migrated" };
    println!("  store: {verb} {}", report.database.display());
    let key_verb = if report.audit_key_created { "created" } else { "kept" };
    println!(
        "  audit key: {key_verb} {}  (mode 0600; back it up apart from the store: without it the audit chain cannot be verified)",
        report.audit_key.display()
    );
    println!();
    println!("Next:");
    println!(
        "  1. Edit {}  (databases, mailbox; passwords come from environment variables)",
        home.config_file().display()
    );
    println!("  2. sentri policy check      # every alert policy, validated with its sample alerts");
    println!("  3. sentri match <email.eml> # see how an alert email is read");
    Ok(ExitCode::SUCCESS)
}
