//! The specialists' Oracle rules, proven without a server.
//!
//! Oracle cannot run where these tests run, so each scenario builds the rows a real Oracle
//! returns for the tool a rule reads — with the tool's own output columns, read from the tool's
//! query in the default pack, and Oracle's value types (NUMBER as integers or decimals, NULL as
//! NULL) — runs [`rules::findings`] with the default pack's specialists, and asserts the first
//! cause and the evidence row. Each fix is then made a plan as [`candidates::draft`] makes it
//! ([`candidates::plan`]), its identifiers resolved against a dictionary written by hand (the
//! lookups [`resolve::lookups`] asks for, answered as `DBA_TABLESPACES` would), and shown as
//! it would run ([`candidates::shown`]): the exact Oracle statement is asserted.
//!
//! `tests/diagnose_oracle.rs` runs the same scenarios on a live Oracle when one is configured.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use super::candidates::{self, PlanFacts};
use super::rules::{self, Held};
use super::score::{self, History};
use super::tools::{self, QueryResult, ToolResult};
use super::{AlertContext, route};
use crate::domain::IdentifierKind::{self, Tablespace, TempTablespace};
use crate::domain::{DbKind, Dialect, Plan, RootCause};
use crate::policy::specialist::{FixRule, Specialist};
use crate::policy::{PolicySet, ToolPolicy};
use crate::sql::{Token, lex};
use crate::targets::Value;
use crate::targets::resolve::{self, Resolved, ResolvedIdentifier};

fn pack_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The default pack; any problem in a specialist, an Oracle tool or the brain fails the test.
fn pack() -> PolicySet {
    let set = PolicySet::load(&pack_root());
    let watched = [pack_root().join("agents"), pack_root().join("tools/oracle"), pack_root().join("brain")];
    let problems: Vec<String> = set
        .problems
        .iter()
        .filter(|problem| watched.iter().any(|dir| problem.path.starts_with(dir)))
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "the pack has problems:\n{}", problems.join("\n"));
    set
}

fn specialists(set: &PolicySet) -> Vec<&Specialist> {
    set.specialists.iter().map(Arc::as_ref).collect()
}

fn tool<'a>(set: &'a PolicySet, name: &str) -> &'a ToolPolicy {
    set.tool(DbKind::Oracle, name).map(Arc::as_ref).unwrap_or_else(|| panic!("the pack has no Oracle tool {name}"))
}

/// The names of the columns `sql` returns, lower case as the driver's rows are: each item of
/// its outermost SELECT list, by its alias (`AS name`, `AS "NAME"`) or its last word
/// (`t.contents`).
fn output_columns(sql: &str) -> Vec<String> {
    let tokens = lex(sql, crate::sql::Dialect::Oracle).tokens;
    let mut depth = 0i32;
    let mut start = None;
    for (index, token) in tokens.iter().enumerate() {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            _ if depth == 0 && token.is_word("SELECT") => {
                start = Some(index + 1);
                break;
            }
            _ => {}
        }
    }
    let start = start.expect("the query has a top-level SELECT");
    let mut items: Vec<Vec<&Token>> = vec![Vec::new()];
    depth = 0;
    for token in &tokens[start..] {
        match token {
            Token::Open => depth += 1,
            Token::Close => depth -= 1,
            _ if depth == 0 && token.is_word("FROM") => break,
            Token::Punct(',') if depth == 0 => {
                items.push(Vec::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(token);
        }
    }
    items
        .iter()
        .map(|item| {
            let mut depth = 0i32;
            let mut named = None;
            for pair in item.windows(2) {
                match pair[0] {
                    Token::Open => depth += 1,
                    Token::Close => depth -= 1,
                    _ if depth == 0 && pair[0].is_word("AS") => named = pair[1].name(),
                    _ => {}
                }
            }
            named
                .or_else(|| item.iter().rev().find_map(|token| token.word()).map(|word| word.to_lowercase()))
                .expect("every select item has a name")
        })
        .collect()
}

/// `text`, `int`, `dec` and `null`: values as the Oracle driver returns them.
fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}
fn int(value: i64) -> Value {
    Value::Int(value)
}
fn dec(value: &str) -> Value {
    Value::Decimal(value.to_owned())
}

/// The result of running `tool_name`, whose query `query` returned `rows`. Every row names only
/// columns the query returns (the test fails otherwise) and the columns it leaves out are NULL,
/// so a rule reading a column the tool does not give cannot hold here either.
fn result(set: &PolicySet, tool_name: &str, query: &str, rows: &[&[(&str, Value)]]) -> (String, ToolResult) {
    let tool = tool(set, tool_name);
    let mut queries = Vec::new();
    for known in &tool.queries {
        let columns = output_columns(&known.sql);
        let rows = if known.name == query {
            rows.iter()
                .map(|row| {
                    for (column, _) in *row {
                        assert!(
                            columns.iter().any(|known| known == column),
                            "{tool_name} / {query} returns no column `{column}` (it returns {columns:?})"
                        );
                    }
                    columns
                        .iter()
                        .map(|column| {
                            row.iter().find(|(name, _)| name == column).map_or(Value::Null, |(_, value)| value.clone())
                        })
                        .collect()
                })
                .collect()
        } else {
            Vec::new()
        };
        queries.push(QueryResult { name: known.name.clone(), columns, rows, truncated: false, ms: 1, error: None });
    }
    assert!(queries.iter().any(|known| known.name == query), "{tool_name} has no query `{query}`");
    let result = ToolResult {
        tool: tool_name.to_owned(),
        database: "ORADEV".into(),
        arguments: BTreeMap::new(),
        queries,
        elapsed_ms: 1,
        skipped: None,
    };
    (tool_name.to_owned(), result)
}

/// What the diagnosis finds on `results`, with every specialist of the pack.
fn findings<'a>(set: &'a PolicySet, results: &[(String, ToolResult)]) -> Vec<Held<'a>> {
    let results: BTreeMap<String, ToolResult> = results.iter().cloned().collect();
    rules::findings(&specialists(set), DbKind::Oracle, &results, &BTreeMap::new())
}

/// The first cause, which must be `wanted`, and its first evidence row.
fn first<'a>(held: &'a [Held<'a>], wanted: RootCause) -> &'a BTreeMap<String, String> {
    let causes: Vec<_> = held.iter().map(|held| held.finding.cause).collect();
    assert_eq!(causes.first(), Some(&wanted), "causes found: {causes:?}");
    let evidence = &held[0].finding.evidence;
    assert!(!evidence.is_empty(), "{wanted} without evidence");
    &evidence[0].row
}

/// The objects the hand-written dictionary holds: `(kind, name)`.
type Dictionary = &'static [(IdentifierKind, &'static str)];

/// `fix` for the first cause, as `candidates::draft` makes it on a database whose dictionary
/// holds `dictionary`: values from the evidence row, each object looked up as the plan's
/// lookups ask (catalog spelling from the row), and the steps shown.
fn shown(held: &Held<'_>, fix: &FixRule, dictionary: Dictionary) -> (Vec<String>, Vec<String>, Plan) {
    let facts = PlanFacts { workflow_id: "wf", alert_type: "adhoc", database: "ORADEV", environment: "DEV" };
    let mut plan = candidates::plan(DbKind::Oracle, &facts, &candidates::Basis::of(held), fix, &BTreeMap::new());
    let catalog_spelled: BTreeSet<String> = held.finding.evidence[0].row.keys().cloned().collect();
    let statements: Vec<&str> = plan.steps.iter().chain(&plan.rollback).map(|step| step.sql.as_str()).collect();
    let lookups = resolve::lookups(Dialect::Oracle, &statements, &plan.identifiers, &plan.values, &catalog_spelled)
        .unwrap_or_else(|error| panic!("{}: {error}", fix.title));
    let mut resolved = Resolved::new();
    for lookup in &lookups {
        let present = dictionary.iter().any(|(kind, name)| *kind == lookup.kind && *name == lookup.wanted.name);
        assert!(present, "{}: the dictionary has no {} {}", fix.title, lookup.kind.name(), lookup.wanted);
        let found = ResolvedIdentifier { kind: lookup.kind, schema: None, name: lookup.wanted.name.clone() };
        resolve::record(&mut resolved, lookup, found).expect("one resolution per placeholder");
    }
    plan.resolved = resolved;
    let forward = candidates::shown(&plan, &plan.steps).unwrap_or_else(|error| panic!("{}: {error}", fix.title));
    let rollback = candidates::shown(&plan, &plan.rollback).unwrap_or_else(|error| panic!("{}: {error}", fix.title));
    (forward, rollback, plan)
}

/// The fix titled `title` of the first cause.
fn fix<'a>(held: &'a Held<'a>, title: &str) -> &'a FixRule {
    let titles: Vec<_> = held.rule.fixes.iter().map(|fix| fix.title.as_str()).collect();
    held.rule.fixes.iter().find(|fix| fix.title == title).unwrap_or_else(|| panic!("no fix {title:?} in {titles:?}"))
}

/// The first cause's fixes as the diagnosis ranks them (best score first), by title.
fn ranked(held: &Held<'_>, dictionary: Dictionary) -> Vec<String> {
    let mut drafted: Vec<_> = held
        .rule
        .fixes
        .iter()
        .map(|fix| {
            let (_, _, plan) = shown(held, fix, dictionary);
            let mut one = candidates::drafted(plan, &candidates::Basis::of(held), fix).expect("drafted");
            score::score(&mut one, Some(held.specialist), &History::new());
            one
        })
        .collect();
    drafted.sort_by(|a, b| b.candidate.score.total_cmp(&a.candidate.score));
    drafted.into_iter().map(|one| one.candidate.title).collect()
}

const USERS_PATH: &str = "/opt/oracle/oradata/FREE/FREEPDB1/users_2.dbf";

fn tablespace_row(
    name: &'static str,
    used_pct: &str,
    omf: &'static str,
    new_file: Option<&'static str>,
) -> Vec<(&'static str, Value)> {
    vec![
        ("tablespace_name", text(name)),
        ("contents", text("PERMANENT")),
        ("bigfile", text("NO")),
        ("block_size", int(8192)),
        ("used_pct_of_max", dec(used_pct)),
        ("used_mb", int(973)),
        ("max_mb", int(1024)),
        ("files", int(1)),
        ("growable_mb", int(0)),
        ("omf", text(omf)),
        ("new_file_name", new_file.map_or(Value::Null, text)),
        ("standby_gets_new_files", text("YES")),
    ]
}

#[test]
fn a_tablespace_near_its_maximum_gets_a_datafile_beside_its_files() {
    let set = pack();
    let users = tablespace_row("USERS", "95.1", "NO", Some(USERS_PATH));
    let sysaux = tablespace_row("SYSAUX", "61.4", "NO", Some("/opt/oracle/oradata/FREE/FREEPDB1/sysaux_2.dbf"));
    let mut undo = tablespace_row("UNDOTBS1", "99.2", "NO", Some("/opt/oracle/oradata/FREE/FREEPDB1/undotbs1_2.dbf"));
    undo[1].1 = text("UNDO");
    let mut big = tablespace_row("BIGDATA", "97.0", "NO", Some("/u02/bigdata_2.dbf"));
    big[2].1 = text("YES");
    let results = [result(&set, "ora_storage", "tablespaces", &[&big, &undo, &users, &sysaux])];
    let held = findings(&set, &results);
    let row = first(&held, RootCause::TablespaceFull);
    assert_eq!(row.get("tablespace_name").map(String::as_str), Some("USERS"), "undo and bigfile are not this rule's");
    assert_eq!(held[0].finding.evidence.len(), 1, "SYSAUX at 61 % is not evidence");
    assert!(held[0].finding.summary.starts_with("tablespace USERS holds 973 MB, 95.1 % of the 1024 MB"));
    let (forward, rollback, plan) =
        shown(&held[0], fix(&held[0], "Add a data file beside the others"), &[(Tablespace, "USERS")]);
    assert_eq!(
        forward,
        [format!(
            "ALTER TABLESPACE \"USERS\" ADD DATAFILE '{USERS_PATH}' SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32767M"
        )]
    );
    assert_eq!(rollback, [format!("ALTER TABLESPACE \"USERS\" DROP DATAFILE '{USERS_PATH}'")]);
    assert_eq!(plan.action_type, "ADD_DATAFILE");
    assert!(plan.irreversible.is_none());
}

#[test]
fn with_oracle_managed_files_the_datafile_needs_no_name() {
    let set = pack();
    // On ASM the files are `+DATA/...`: the tool offers no path, and OMF is what adds a file.
    let app = tablespace_row("APP_DATA", "91.0", "YES", None);
    let held = findings(&set, &[result(&set, "ora_storage", "tablespaces", &[&app])]);
    let row = first(&held, RootCause::TablespaceFull);
    assert_eq!(row.get("tablespace_name").map(String::as_str), Some("APP_DATA"));
    let only = &held[0].rule.fixes;
    assert_eq!(only.len(), 1);
    let (forward, rollback, plan) = shown(&held[0], &only[0], &[(Tablespace, "APP_DATA")]);
    assert_eq!(forward, ["ALTER TABLESPACE \"APP_DATA\" ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32767M"]);
    assert!(rollback.is_empty());
    assert!(plan.irreversible.as_deref().is_some_and(|why| why.contains("Oracle names")));

    // Neither a path nor OMF: no fix could work, so the cause is not claimed.
    let nowhere = tablespace_row("APP_DATA", "91.0", "NO", None);
    assert!(findings(&set, &[result(&set, "ora_storage", "tablespaces", &[&nowhere])]).is_empty());
    // A standby that would get the file as UNNAMED: not claimed either.
    let mut manual = tablespace_row("APP_DATA", "91.0", "YES", Some("/u02/app_data_2.dbf"));
    manual[11].1 = text("NO");
    assert!(findings(&set, &[result(&set, "ora_storage", "tablespaces", &[&manual])]).is_empty());
}

#[test]
fn temp_that_peaked_near_its_maximum_gets_a_tempfile() {
    let set = pack();
    let temp: &[(&str, Value)] = &[
        ("tablespace_name", text("TEMP")),
        ("bigfile", text("NO")),
        ("block_size", int(8192)),
        ("size_mb", int(512)),
        ("allocated_mb", int(512)),
        ("free_mb", int(500)),
        ("used_mb", int(12)),
        ("peak_used_mb", int(499)),
        ("max_mb", int(512)),
        ("peak_used_pct_of_max", dec("97.5")),
        ("files", int(1)),
        ("omf", text("NO")),
        ("new_file_name", text("/opt/oracle/oradata/FREE/temp_2.dbf")),
    ];
    let held = findings(&set, &[result(&set, "ora_temp_usage", "space", &[temp])]);
    let row = first(&held, RootCause::TempSpaceFull);
    assert_eq!(row.get("peak_used_pct_of_max").map(String::as_str), Some("97.5"));
    let (forward, rollback, _) =
        shown(&held[0], fix(&held[0], "Add a temp file beside the others"), &[(TempTablespace, "TEMP")]);
    assert_eq!(
        forward,
        [
            "ALTER TABLESPACE \"TEMP\" ADD TEMPFILE '/opt/oracle/oradata/FREE/temp_2.dbf' SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32767M"
        ]
    );
    assert_eq!(rollback, ["ALTER TABLESPACE \"TEMP\" DROP TEMPFILE '/opt/oracle/oradata/FREE/temp_2.dbf'"]);
}

fn undo_row(pressure: &'static str, nospace: i64, snapshot_too_old: i64, longest: i64) -> Vec<(&'static str, Value)> {
    vec![
        ("tablespace_name", text("UNDOTBS1")),
        ("bigfile", text("NO")),
        ("block_size", int(8192)),
        ("retention", text("NOGUARANTEE")),
        ("files", int(1)),
        ("autoextends", text("YES")),
        ("active_mb", int(if pressure == "YES" { 1843 } else { 120 })),
        ("max_mb", int(2048)),
        ("active_pct_of_max", dec(if pressure == "YES" { "90" } else { "5.9" })),
        ("out_of_space_errors", int(nospace)),
        ("ora_01555_errors", int(snapshot_too_old)),
        ("longest_query_s", int(longest)),
        ("tuned_retention_s", int(2110)),
        ("undo_retention_s", int(900)),
        ("space_pressure", text(pressure)),
        ("suggested_retention_s", int((longest * 12 / 10 + 299) / 300 * 300)),
        ("omf", text("NO")),
        ("new_file_name", text("/opt/oracle/oradata/FREE/undotbs1_2.dbf")),
        ("standby_gets_new_files", text("YES")),
    ]
}

#[test]
fn active_undo_near_its_maximum_gets_a_datafile() {
    let set = pack();
    let pressed = undo_row("YES", 3, 0, 40);
    let held = findings(&set, &[result(&set, "ora_undo", "pressure", &[&pressed])]);
    first(&held, RootCause::UndoSpacePressure);
    assert!(held[0].finding.summary.contains("1843 MB of ACTIVE undo, 90 %"), "{}", held[0].finding.summary);
    let (forward, rollback, plan) =
        shown(&held[0], fix(&held[0], "Add a data file to the undo tablespace"), &[(Tablespace, "UNDOTBS1")]);
    assert_eq!(
        forward,
        [
            "ALTER TABLESPACE \"UNDOTBS1\" ADD DATAFILE '/opt/oracle/oradata/FREE/undotbs1_2.dbf' SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32767M"
        ]
    );
    assert_eq!(rollback, ["ALTER TABLESPACE \"UNDOTBS1\" DROP DATAFILE '/opt/oracle/oradata/FREE/undotbs1_2.dbf'"]);
    assert_eq!(plan.action_type, "EXTEND_UNDO");
}

#[test]
fn snapshot_too_old_with_room_to_grow_raises_undo_retention() {
    let set = pack();
    let row = undo_row("NO", 0, 2, 3700);
    let held = findings(&set, &[result(&set, "ora_undo", "pressure", &[&row])]);
    first(&held, RootCause::UndoSpacePressure);
    assert_eq!(held[0].rule.fixes[0].title, "Raise undo_retention past the longest query");
    let (forward, rollback, _) = shown(&held[0], &held[0].rule.fixes[0], &[]);
    assert_eq!(forward, ["ALTER SYSTEM SET undo_retention = 4500 SCOPE=BOTH SID='*'"]);
    assert_eq!(rollback, ["ALTER SYSTEM SET undo_retention = 900 SCOPE=BOTH SID='*'"]);

    // A fixed-size undo tablespace ignores undo_retention: the rule does not claim it.
    let mut fixed = undo_row("NO", 0, 2, 3700);
    fixed[5].1 = text("NO");
    assert!(findings(&set, &[result(&set, "ora_undo", "pressure", &[&fixed])]).is_empty());
    // Neither pressure nor errors: high undo use is undo doing its job.
    let calm = undo_row("NO", 0, 0, 3700);
    assert!(findings(&set, &[result(&set, "ora_undo", "pressure", &[&calm])]).is_empty());
}

fn recovery_row(non_reclaimable: &str, fits: &'static str) -> Vec<(&'static str, Value)> {
    vec![
        ("name", text("+FRA")),
        ("limit_gb", dec("20")),
        ("used_gb", dec("19.6")),
        ("reclaimable_gb", dec("0.4")),
        ("number_of_files", int(212)),
        ("used_pct", dec("98")),
        ("non_reclaimable_pct", dec(non_reclaimable)),
        ("limit_bytes", int(21_474_836_480)),
        ("suggested_limit_bytes", int(29_527_900_160)),
        ("suggested_limit_gb", dec("27.5")),
        ("disk_group_usable_mb", int(81_920)),
        ("growth_fits_storage", text(fits)),
        ("sessions_waiting_for_archiver", int(14)),
    ]
}

#[test]
fn a_recovery_area_that_cannot_reclaim_space_gets_a_larger_limit() {
    let set = pack();
    let full = recovery_row("96", "YES");
    let held = findings(&set, &[result(&set, "ora_recovery_area", "destination", &[&full])]);
    first(&held, RootCause::ArchiveDestFull);
    assert!(held[0].finding.summary.contains("14 sessions wait for the archiver"), "{}", held[0].finding.summary);
    let (forward, rollback, plan) = shown(&held[0], fix(&held[0], "Raise the recovery area's limit"), &[]);
    assert_eq!(forward, ["ALTER SYSTEM SET db_recovery_file_dest_size = 29527900160 SCOPE=BOTH SID='*'"]);
    assert_eq!(rollback, ["ALTER SYSTEM SET db_recovery_file_dest_size = 21474836480 SCOPE=BOTH SID='*'"]);
    assert_eq!(plan.action_type, "RESIZE_RECOVERY_AREA");
    // The disk group could not hold the growth: raising the quota would only move the failure.
    let no_room = recovery_row("96", "NO");
    assert!(findings(&set, &[result(&set, "ora_recovery_area", "destination", &[&no_room])]).is_empty());
    let reclaimable = recovery_row("40", "YES");
    assert!(findings(&set, &[result(&set, "ora_recovery_area", "destination", &[&reclaimable])]).is_empty());
}

fn root(sid: i64, serial: i64, status: &'static str, transaction: bool, waiters: i64) -> Vec<(&'static str, Value)> {
    vec![
        ("inst_id", int(1)),
        ("sid", int(sid)),
        ("serial", int(serial)),
        ("con_id", int(3)),
        ("username", text("APP")),
        ("status", text(status)),
        ("type", text("USER")),
        ("machine", text("app01")),
        ("program", text("JDBC Thin Client")),
        ("module", text("orders")),
        ("sql_id", if status == "ACTIVE" { text("7h35uxf5uhmm1") } else { Value::Null }),
        ("prev_sql_id", text("b6usrg82hwsa3")),
        ("state", text("WAITING")),
        ("event", text(if status == "ACTIVE" { "db file sequential read" } else { "SQL*Net message from client" })),
        ("seconds_in_wait", int(1260)),
        ("seconds_in_status", int(1260)),
        ("waiters", int(waiters)),
        ("longest_wait_s", int(1185)),
        ("transaction_start", if transaction { text("06/02/25 03:01:12") } else { Value::Null }),
        ("undo_blocks", if transaction { int(2) } else { Value::Null }),
        ("open_transaction", text(if transaction { "YES" } else { "NO" })),
        ("session", text(&format!("{sid},{serial},@1"))),
    ]
}

#[test]
fn an_idle_root_blocker_with_an_open_transaction_is_idle_in_transaction() {
    let set = pack();
    let idle = root(123, 4567, "INACTIVE", true, 3);
    let active = root(88, 901, "ACTIVE", true, 1);
    let held = findings(&set, &[result(&set, "ora_blocking_tree", "roots", &[&idle, &active])]);
    let row = first(&held, RootCause::IdleInTransaction);
    assert_eq!(row.get("sid").map(String::as_str), Some("123"));
    assert_eq!(held[1].finding.cause, RootCause::LockContention, "the active holder is a second cause");
    let (forward, rollback, plan) = shown(&held[0], fix(&held[0], "Kill the idle blocking session"), &[]);
    assert_eq!(forward, ["ALTER SYSTEM KILL SESSION '123,4567,@1' IMMEDIATE"]);
    assert!(rollback.is_empty() && plan.irreversible.is_some());
    // The Safety Mesh judges a kill by whose session it is and what runs it: the plan says both.
    assert_eq!(plan.values.get("username").cloned().flatten().as_deref(), Some("APP"));
    assert_eq!(plan.values.get("program").cloned().flatten().as_deref(), Some("JDBC Thin Client"));

    // An idle blocker without a transaction (a user lock, a DDL lock) is neither cause.
    let no_transaction = root(123, 4567, "INACTIVE", false, 3);
    assert!(findings(&set, &[result(&set, "ora_blocking_tree", "roots", &[&no_transaction])]).is_empty());
    // A background process at the root is not a session to kill.
    let mut background = root(7, 1, "ACTIVE", false, 2);
    background[6].1 = text("BACKGROUND");
    assert!(findings(&set, &[result(&set, "ora_blocking_tree", "roots", &[&background])]).is_empty());
}

#[test]
fn an_active_root_blocker_is_lock_contention() {
    let set = pack();
    let active = root(88, 901, "ACTIVE", true, 4);
    let held = findings(&set, &[result(&set, "ora_blocking_tree", "roots", &[&active])]);
    let row = first(&held, RootCause::LockContention);
    assert_eq!(row.get("session").map(String::as_str), Some("88,901,@1"));
    let (forward, _, _) = shown(&held[0], fix(&held[0], "Kill the blocking session"), &[]);
    assert_eq!(forward, ["ALTER SYSTEM KILL SESSION '88,901,@1' IMMEDIATE"]);
}

fn running(sid: i64, seconds: i64, blocked: &'static str, job: &'static str) -> Vec<(&'static str, Value)> {
    vec![
        ("inst_id", int(2)),
        ("sid", int(sid)),
        ("serial", int(31337)),
        ("con_id", int(3)),
        ("username", text("REPORTS")),
        ("sql_id", text("9zg9qd9bm4spu")),
        ("sql_exec_start", Value::Timestamp("2025-06-02T02:10:00".into())),
        ("seconds_active", int(seconds)),
        ("state", text("WAITED SHORT TIME")),
        ("event", text("direct path read temp")),
        ("module", text("month_end")),
        ("program", text("sqlplus@rep01 (TNS V1-V3)")),
        ("machine", text("rep01")),
        ("is_blocked", text(blocked)),
        ("job_kind", text(job)),
        ("session", text(&format!("{sid},31337,@2"))),
    ]
}

#[test]
fn a_statement_running_for_minutes_unblocked_is_long_running() {
    let set = pack();
    let waiter = running(301, 5400, "YES", "user");
    let backup = running(302, 9000, "NO", "rman");
    let runaway = running(245, 1800, "NO", "user");
    let young = running(246, 120, "NO", "user");
    let held = findings(&set, &[result(&set, "ora_long_running", "sessions", &[&waiter, &backup, &runaway, &young])]);
    let row = first(&held, RootCause::LongRunningQuery);
    assert_eq!(row.get("sid").map(String::as_str), Some("245"), "a lock waiter and RMAN are not runaways");
    assert_eq!(held[0].finding.evidence.len(), 1, "two minutes is not long");
    let (forward, _, plan) = shown(&held[0], fix(&held[0], "Cancel the runaway statement"), &[]);
    assert_eq!(forward, ["ALTER SYSTEM CANCEL SQL '245,31337,@2'"]);
    assert_eq!(plan.action_type, "CANCEL_SQL");
    let (kill, _, _) = shown(&held[0], fix(&held[0], "Kill the runaway statement's session"), &[]);
    assert_eq!(kill, ["ALTER SYSTEM KILL SESSION '245,31337,@2' IMMEDIATE"]);
    assert_eq!(
        ranked(&held[0], &[]),
        ["Cancel the runaway statement", "Kill the runaway statement's session"],
        "the cancel keeps the session, so it comes first"
    );
}

fn redo_row(peak: i64, omf: &'static str, on_file_system: bool) -> Vec<(&'static str, Value)> {
    let member = |group: i64| {
        if on_file_system { text(&format!("/opt/oracle/oradata/FREE/redo_t1_g{group}.log")) } else { Value::Null }
    };
    vec![
        ("thread", int(1)),
        ("log_groups", int(3)),
        ("members", int(1)),
        ("log_mb", int(200)),
        ("peak_switches_per_hour", int(peak)),
        ("suggested_log_mb", int(2048)),
        ("suggested_log_bytes", int(2_147_483_648)),
        ("new_group_1", int(4)),
        ("new_group_2", int(5)),
        ("new_group_3", int(6)),
        ("omf", text(omf)),
        ("new_member_1", member(4)),
        ("new_member_2", member(5)),
        ("new_member_3", member(6)),
    ]
}

#[test]
fn logs_that_switch_every_few_minutes_are_undersized() {
    let set = pack();
    let busy = redo_row(38, "NO", true);
    let held = findings(&set, &[result(&set, "ora_redo_logs", "rate", &[&busy])]);
    first(&held, RootCause::RedoLogUndersized);
    let (forward, rollback, plan) = shown(&held[0], &held[0].rule.fixes[0], &[]);
    assert_eq!(
        forward,
        [
            "ALTER DATABASE ADD LOGFILE THREAD 1 GROUP 4 ('/opt/oracle/oradata/FREE/redo_t1_g4.log') SIZE 2147483648",
            "ALTER DATABASE ADD LOGFILE THREAD 1 GROUP 5 ('/opt/oracle/oradata/FREE/redo_t1_g5.log') SIZE 2147483648",
            "ALTER DATABASE ADD LOGFILE THREAD 1 GROUP 6 ('/opt/oracle/oradata/FREE/redo_t1_g6.log') SIZE 2147483648",
        ]
    );
    assert_eq!(
        rollback,
        [
            "ALTER DATABASE DROP LOGFILE GROUP 6",
            "ALTER DATABASE DROP LOGFILE GROUP 5",
            "ALTER DATABASE DROP LOGFILE GROUP 4"
        ]
    );
    assert_eq!(plan.action_type, "ADD_LOGFILE");

    let managed = redo_row(38, "YES", false);
    let held = findings(&set, &[result(&set, "ora_redo_logs", "rate", &[&managed])]);
    first(&held, RootCause::RedoLogUndersized);
    let (forward, _, _) = shown(&held[0], &held[0].rule.fixes[0], &[]);
    assert_eq!(forward[0], "ALTER DATABASE ADD LOGFILE THREAD 1 GROUP 4 SIZE 2147483648");

    let calm = redo_row(3, "YES", true);
    assert!(findings(&set, &[result(&set, "ora_redo_logs", "rate", &[&calm])]).is_empty());
}

fn parsing_row(hard: &str, variants: i64, sharing: &'static str) -> Vec<(&'static str, Value)> {
    vec![
        ("hard_parses_per_sec", dec(hard)),
        ("parses_per_sec", dec("1480.2")),
        ("hard_parse_pct", dec("42.1")),
        ("cursor_sharing", text(sharing)),
        ("literal_variants", int(variants)),
        ("sample_sql_id", text("3x1ab9kq0zd2c")),
        ("parsing_schema_name", text("SHOP")),
        ("sample_sql_text", text("SELECT price FROM items WHERE item_id = 81723")),
    ]
}

#[test]
fn hard_parses_of_literal_variants_are_hard_parse_contention() {
    let set = pack();
    let storm = parsing_row("623.4", 4810, "EXACT");
    let held = findings(&set, &[result(&set, "ora_system_load", "parsing", &[&storm])]);
    first(&held, RootCause::HardParseContention);
    assert!(held[0].finding.summary.contains("4810 versions"), "{}", held[0].finding.summary);
    let (forward, rollback, _) = shown(&held[0], &held[0].rule.fixes[0], &[]);
    assert_eq!(forward, ["ALTER SYSTEM SET cursor_sharing = FORCE SCOPE=MEMORY SID='*'"]);
    assert_eq!(rollback, ["ALTER SYSTEM SET cursor_sharing = EXACT SCOPE=MEMORY SID='*'"]);
    // Already FORCE: the setting is not the cause, and its rollback would be wrong.
    let forced = parsing_row("623.4", 4810, "FORCE");
    assert!(findings(&set, &[result(&set, "ora_system_load", "parsing", &[&forced])]).is_empty());
    // Many hard parses without a literal family (DDL, invalidations): not this cause.
    let few = parsing_row("623.4", 3, "EXACT");
    assert!(findings(&set, &[result(&set, "ora_system_load", "parsing", &[&few])]).is_empty());
}

#[test]
fn a_healthy_database_is_unknown_not_a_guess() {
    let set = pack();
    let users = tablespace_row("USERS", "41.0", "YES", Some(USERS_PATH));
    let idle_root = root(123, 4567, "INACTIVE", false, 1);
    let results = [
        result(&set, "ora_storage", "tablespaces", &[&users]),
        result(&set, "ora_undo", "pressure", &[&undo_row("NO", 0, 0, 30)]),
        result(&set, "ora_recovery_area", "destination", &[&recovery_row("31", "UNKNOWN")]),
        result(&set, "ora_blocking_tree", "roots", &[&idle_root]),
        result(&set, "ora_long_running", "sessions", &[&running(245, 90, "NO", "user")]),
        result(&set, "ora_redo_logs", "rate", &[&redo_row(2, "YES", true)]),
        result(&set, "ora_system_load", "parsing", &[&parsing_row("4.1", 12, "EXACT")]),
    ];
    let held = findings(&set, &results);
    assert!(held.is_empty(), "{:?}", held.iter().map(|held| held.finding.cause).collect::<Vec<_>>());
}

#[test]
fn every_oracle_rule_reads_columns_its_tool_returns_and_fixes_are_action_rules() {
    let set = pack();
    let mut checked = 0;
    for specialist in specialists(&set) {
        for rule in specialist.causes.iter().filter(|rule| rule.engine == DbKind::Oracle) {
            let tool = tool(&set, &rule.tool);
            let query = rule.query.as_deref().and_then(|name| tool.queries.iter().find(|query| query.name == name));
            let query =
                query.unwrap_or_else(|| panic!("{} line {}: no query {:?}", specialist.name, rule.line, rule.query));
            let columns = output_columns(&query.sql);
            let known = |column: &str| columns.iter().any(|known| known == column);
            let mut read: Vec<String> = Vec::new();
            for condition in &rule.when {
                read.push(condition.column.clone());
                if let crate::policy::condition::Operand::Column(other) = &condition.value {
                    read.push(other.clone());
                }
            }
            read.extend(braced(&rule.summary));
            for fix in &rule.fixes {
                assert!(
                    set.brain.action_rules.contains_key(&fix.action_type),
                    "{}: fix {:?} has action type {}, which is not a row of brain/rules.md",
                    specialist.name,
                    fix.title,
                    fix.action_type
                );
                for step in fix.forward.iter().chain(&fix.rollback) {
                    read.extend(
                        crate::targets::sql::placeholders(&step.sql).into_iter().map(|found| found.name.to_lowercase()),
                    );
                }
            }
            for column in read {
                assert!(
                    known(&column),
                    "{} line {}: `{column}` is not a column of {} / {} ({columns:?})",
                    specialist.name,
                    rule.line,
                    rule.tool,
                    query.name
                );
            }
            assert!(!rule.fixes.is_empty(), "{} line {}: a cause without a fix", specialist.name, rule.line);
            checked += 1;
        }
    }
    assert!(checked >= 14, "only {checked} Oracle rules");
}

/// The `{column}` names of a summary.
fn braced(summary: &str) -> Vec<String> {
    summary.split('{').skip(1).filter_map(|part| part.split_once('}').map(|(name, _)| name.to_lowercase())).collect()
}

#[test]
fn oracle_alerts_route_to_their_specialist_and_its_tools_run_without_arguments() {
    let set = pack();
    let expect = [
        ("tablespace_full", "storage_agent"),
        ("temp_full", "storage_agent"),
        ("high_undo_usage", "storage_agent"),
        ("archive_dest_full", "storage_agent"),
        ("session_blocker", "rca_agent"),
        ("long_running_sql", "sql_tuning_agent"),
    ];
    for (alert_type, wanted) in expect {
        let alert = AlertContext { alert_type: Some(alert_type.into()), subject: String::new(), ..Default::default() };
        let chosen: Vec<_> =
            route::specialists(&set, DbKind::Oracle, Some(&alert)).iter().map(|s| s.name.clone()).collect();
        assert_eq!(chosen, [wanted], "{alert_type}");
    }
    let redo = AlertContext {
        subject: "PRODDB: Checkpoint not complete, log switch every 2 minutes".into(),
        ..Default::default()
    };
    let chosen: Vec<_> = route::specialists(&set, DbKind::Oracle, Some(&redo)).iter().map(|s| s.name.clone()).collect();
    assert_eq!(chosen, ["resources_agent"]);
    // A diagnosis runs every tool with its defaults: none may require an argument.
    let all = specialists(&set);
    for tool in route::tools(&set, DbKind::Oracle, &all) {
        tools::check_arguments(tool, &BTreeMap::new())
            .unwrap_or_else(|error| panic!("{} cannot run in a diagnosis: {error}", tool.name));
    }
}

#[test]
fn the_column_reader_names_aliases_quoted_aliases_and_plain_columns() {
    let sql = "WITH w AS (SELECT a.x AS y FROM v$x a) SELECT t.contents, ROUND(m.used, 1) AS used_pct, \
               r.sid || ',' || r.serial# AS \"SESSION\", CASE WHEN a = 1 THEN 'Y' END AS flag FROM w";
    assert_eq!(output_columns(sql), ["contents", "used_pct", "session", "flag"]);
}
