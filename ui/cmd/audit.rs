//! `sentri audit`: read the audit trail, or prove it is intact (`--verify`).

use std::process::ExitCode;

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use sentri::store::audit::{Anchor, AnchorOutcome, AuditFilter, ChainReport, Expected, anchor::is_hex_hash};
use sentri::store::timestamp_text;

use super::{Context, print_json, table};

#[derive(Debug, clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct Args {
    /// Only rows about this database.
    #[arg(long, value_name = "NAME")]
    db: Option<String>,
    /// How many of the most recent rows to show.
    #[arg(long, value_name = "N", default_value_t = 50)]
    last: usize,
    /// Verify the hash chain instead of listing rows.
    #[arg(long)]
    verify: bool,
    /// With --verify: a head hash kept from an earlier `--verify` or anchor; the chain must still
    /// contain it. Repeatable.
    #[arg(long, value_name = "HASH", requires = "verify")]
    expect_head: Vec<String>,
    /// With --verify: a file holding anchor lines (a log, saved mails); every anchor in it must
    /// still hold. Repeatable.
    #[arg(long, value_name = "FILE", requires = "verify")]
    anchors: Vec<PathBuf>,
    /// Print a signed anchor of the chain's head, to keep somewhere the store's host cannot
    /// rewrite.
    #[arg(long, conflicts_with = "verify")]
    anchor: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

const AFTER_HELP: &str = "\
--verify recomputes every row's keyed hash and link, and the content hash of every transition and
approval it records. Exit status 1 if anything is broken, naming the first broken row.

Anchors catch what the chain alone cannot: the newest rows deleted, or the chain rewritten. An
anchor is one signed line, `sentri-audit-anchor v1 <row id> <head hash> <time> <signature>`.
The engine logs one after every execution; every ending's notification (email, Slack,
webhook) carries one, and one is sent on its own daily; `sentri audit --anchor` prints one.
Keep them off this host (mail, a log server, a ticket). Then `sentri audit --verify --anchors
FILE` checks that every anchored row is still there with its hash: a cut or rewritten chain is
reported with the row id.

The chain is keyed with data/audit.key (mode 0600). Back it up apart from the store: without it
the chain cannot be verified; whoever holds it can forge rows and anchors.";

pub fn run(context: &Context, args: Args) -> anyhow::Result<ExitCode> {
    let store = context.store()?;
    if args.anchor {
        let anchor = store.audit_anchor()?;
        if args.json {
            print_json(&anchor)?;
        } else {
            println!("{anchor}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if args.verify {
        let expected = expected_heads(&args)?;
        let report = store.verify_audit_against(&expected)?;
        if args.json {
            print_json(&report)?;
        } else {
            print_report(&report);
        }
        return Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::FAILURE });
    }
    let rows = store.list_audit(&AuditFilter { database: args.db, workflow_id: None, last: Some(args.last) })?;
    if args.json {
        print_json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("The audit trail is empty.");
        return Ok(ExitCode::SUCCESS);
    }
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.id.to_string(),
                timestamp_text(row.at),
                row.workflow_id.as_deref().map(|id| id.get(..8).unwrap_or(id)).unwrap_or("-").to_owned(),
                row.action.clone(),
                row.database.clone().unwrap_or_else(|| "-".into()),
                row.environment.clone().unwrap_or_else(|| "-".into()),
                row.result.clone(),
                row.actor.clone(),
            ]
        })
        .collect();
    table::print(&["ID", "TIME (UTC)", "WORKFLOW", "ACTION", "DATABASE", "ENV", "RESULT", "BY"], &table_rows);
    Ok(ExitCode::SUCCESS)
}

/// The heads the chain must still hold: `--expect-head` hashes and every anchor line in the
/// `--anchors` files (a file with none is an error: it was probably the wrong file).
fn expected_heads(args: &Args) -> anyhow::Result<Vec<Expected>> {
    let mut expected = Vec::new();
    for hash in &args.expect_head {
        let hash = hash.trim().to_ascii_lowercase();
        if !is_hex_hash(&hash) {
            bail!("--expect-head {hash:?} is not a 64-digit hex hash");
        }
        expected.push(Expected::Head { hash });
    }
    for path in &args.anchors {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let found = Anchor::find_all(&text);
        if found.is_empty() {
            bail!("{} holds no anchor line (sentri-audit-anchor v1 …)", path.display());
        }
        expected.extend(found.into_iter().map(|anchor| match anchor {
            Ok(anchor) => Expected::Anchor(anchor),
            Err(unreadable) => Expected::Unreadable(unreadable),
        }));
    }
    Ok(expected)
}

fn print_report(report: &ChainReport) {
    if let Some(broken) = &report.first_broken {
        println!("Audit chain BROKEN at row #{}: {}", broken.id, broken.reason);
        println!("({} row(s) checked; rows before #{} verify)", report.rows_checked, broken.id);
    } else {
        println!("Audit chain intact: {} row(s) verified.", report.rows_checked);
        if let Some(head) = &report.head_hash {
            println!("Head hash: {head}  (`sentri audit --anchor` prints it signed, to keep elsewhere)");
        }
    }
    if report.legacy_rows > 0 {
        println!(
            "Note: {} older row(s) were hashed without the key (before it existed); only anchors protect those.",
            report.legacy_rows
        );
    }
    for check in &report.anchors {
        let what = match &check.expected {
            Expected::Anchor(anchor) => format!("anchor of row #{} ({})", anchor.row_id, anchor.at),
            Expected::Head { hash } => format!("expected head {hash}"),
            Expected::Unreadable(unreadable) => unreadable.to_string(),
        };
        let verdict = if matches!(check.outcome, AnchorOutcome::Held { .. }) { "ok" } else { "FAILED" };
        println!("{verdict}: {what}: {}", check.outcome);
    }
}
