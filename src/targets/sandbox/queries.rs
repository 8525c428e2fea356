//! The queries the sandbox answers, recognised by their normalised text — upper-cased outside
//! string literals, whitespace collapsed — and never by a SQL parser: the profile probes and the
//! dictionary lookups by their exact text (the constants the real Oracle target sends), the
//! policies' queries by a few fragments that only their shape has. Anything else is refused
//! with an error that names it: a query the sandbox does not know never gets an empty answer.

use std::collections::BTreeMap;

use super::world::{Contents, DbFile, MB, World};
use crate::targets::fill::Dialect;
use crate::targets::oracle::profile as probe;
use crate::targets::resolve;
use crate::targets::sql::{self, IdentifierKind};
use crate::targets::{Rows, Value};

/// The bound values of one statement, by placeholder name (lower case), in bind order.
pub type Binds = [(String, Option<String>)];

/// Why the sandbox refused or failed a statement; the caller turns it into a `TargetError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No shape the sandbox knows: the normalised text, shortened.
    Unknown(String),
    /// Oracle's own error, as the real database would give it.
    Oracle { code: &'static str, message: String },
}

/// A query shape: every fragment present, none of `none_of`.
struct Shape {
    name: &'static str,
    all_of: &'static [&'static str],
    none_of: &'static [&'static str],
    answer: fn(&World, &Binds) -> Result<Rows, Refusal>,
}

const SHAPES: &[Shape] = &[
    Shape {
        name: "tablespace usage (verification)",
        all_of: &["FROM DBA_TABLESPACE_USAGE_METRICS M", "AS FILE_COUNT", "T.CONTENTS = 'PERMANENT'"],
        none_of: &[],
        answer: tablespace_verification,
    },
    Shape {
        name: "tablespace usage (validation)",
        all_of: &["FROM DBA_TABLESPACE_USAGE_METRICS M", "AS USED_PCT", "AS MAX_MB"],
        none_of: &["FILE_COUNT"],
        answer: tablespace_validation,
    },
    Shape {
        name: "bigfile flag of a tablespace",
        all_of: &["SELECT BIGFILE FROM DBA_TABLESPACES WHERE TABLESPACE_NAME = UPPER(:"],
        none_of: &[" AND ", " JOIN "],
        answer: bigfile_flag,
    },
    Shape {
        name: "OMF configured",
        all_of: &["SELECT COUNT(*) FROM V$PARAMETER WHERE NAME = 'db_create_file_dest' AND VALUE IS NOT NULL"],
        none_of: &[],
        answer: omf_configured,
    },
    Shape {
        name: "datafiles that can still grow by 1 GB",
        all_of: &[
            "SELECT COUNT(*) FROM DBA_DATA_FILES WHERE TABLESPACE_NAME = UPPER(:",
            "AUTOEXTENSIBLE = 'YES'",
            "MAXBYTES - BYTES >= 1073741824",
        ],
        none_of: &[],
        answer: growable_datafiles,
    },
    Shape {
        name: "tempfiles that can still grow by 1 GB",
        all_of: &[
            "SELECT COUNT(*) FROM DBA_TEMP_FILES WHERE TABLESPACE_NAME = UPPER(:",
            "AUTOEXTENSIBLE = 'YES'",
            "MAXBYTES - BYTES >= 1073741824",
        ],
        none_of: &[],
        answer: growable_tempfiles,
    },
    Shape {
        name: "standby file management",
        all_of: &["FROM V$ARCHIVE_DEST WHERE TARGET = 'STANDBY' AND STATUS = 'VALID'", "'standby_file_management'"],
        none_of: &[],
        answer: standby_file_management,
    },
    Shape {
        name: "newest datafile (capture)",
        all_of: &["FROM DBA_DATA_FILES F JOIN V$DATAFILE D ON D.FILE# = F.FILE_ID", "ORDER BY D.CREATION_CHANGE# DESC"],
        none_of: &[],
        answer: newest_datafile,
    },
    Shape {
        name: "newest tempfile (capture)",
        all_of: &["FROM DBA_TEMP_FILES F JOIN V$TEMPFILE V ON V.FILE# = F.FILE_ID", "ORDER BY V.CREATION_CHANGE# DESC"],
        none_of: &[],
        answer: newest_tempfile,
    },
    Shape {
        name: "temporary tablespace usage (verification)",
        all_of: &["FROM DBA_TEMP_FREE_SPACE F", "AS PEAK_USED_PCT", "FROM GV$SORT_SEGMENT"],
        none_of: &[],
        answer: temp_verification,
    },
    Shape {
        name: "temporary tablespace size (validation)",
        all_of: &["FROM DBA_TEMP_FILES WHERE TABLESPACE_NAME = UPPER(:", "AS MAX_MB", "AS SIZE_MB"],
        none_of: &["AUTOEXTENSIBLE = 'YES' AND"],
        answer: temp_validation,
    },
    Shape {
        name: "root blocker and its waiters (verification)",
        all_of: &["FINAL_BLOCKING_SESSION_STATUS = 'VALID'", "AS WAITER_COUNT", "FROM W JOIN GV$SESSION B"],
        none_of: &[],
        answer: blocker_verification,
    },
    Shape {
        name: "the same blocker session",
        all_of: &["SELECT SID FROM GV$SESSION WHERE INST_ID = :", "AND SID = :", "AND SERIAL# = :"],
        none_of: &["COUNT("],
        answer: same_blocker,
    },
    Shape {
        name: "protected session",
        all_of: &["SELECT COUNT(*) FROM GV$SESSION WHERE INST_ID = :", "TYPE = 'BACKGROUND'", "USERNAME IN ("],
        none_of: &[],
        answer: protected_session,
    },
    Shape {
        name: "undo held by the blocker",
        all_of: &["SELECT NVL(SUM(T.USED_UBLK), 0) FROM GV$SESSION S JOIN GV$TRANSACTION T"],
        none_of: &[],
        answer: blocker_undo,
    },
    Shape {
        name: "sessions still waiting on the blocker (validation)",
        all_of: &["AS WAITING_ON_BLOCKER", "FROM GV$SESSION WHERE FINAL_BLOCKING_INSTANCE = :"],
        none_of: &[],
        answer: waiting_on_blocker,
    },
];

/// Upper-cases everything outside quotes (string literals, quoted names), collapses whitespace
/// to one space and drops it just inside parentheses; drops a trailing terminator. Two
/// spellings of one statement normalise alike; a literal or a quoted name keeps its case.
pub fn normalise(text: &str) -> String {
    let text = sql::strip_terminator(text);
    let mut out = String::with_capacity(text.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in text.chars() {
        if let Some(open) = quote {
            out.push(c);
            if c == open {
                quote = None;
            }
            continue;
        }
        if c.is_whitespace() {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() && !out.ends_with('(') && c != ')' {
            out.push(' ');
        }
        pending_space = false;
        if c == '\'' || c == '"' {
            quote = Some(c);
        }
        out.extend(c.to_uppercase());
    }
    out
}

/// Answers a query from the world, or says why not.
pub fn answer(world: &World, text: &str, binds: &Binds) -> Result<Rows, Refusal> {
    let normal = normalise(text);
    if let Some(rows) = profile_probe(world, &normal) {
        return Ok(rows);
    }
    if let Some(result) = file_lookup(world, &normal, binds) {
        return result;
    }
    if let Some(result) = dictionary_lookup(world, &normal, binds) {
        return result;
    }
    let matching: Vec<&Shape> = SHAPES
        .iter()
        .filter(|shape| {
            shape.all_of.iter().all(|fragment| normal.contains(fragment))
                && !shape.none_of.iter().any(|fragment| normal.contains(fragment))
        })
        .collect();
    match matching.as_slice() {
        [shape] => (shape.answer)(world, binds),
        [] => Err(Refusal::Unknown(shorten(&normal))),
        several => Err(Refusal::Unknown(format!(
            "{} (it has the shape of {} at once)",
            shorten(&normal),
            several.iter().map(|shape| shape.name).collect::<Vec<_>>().join(" and ")
        ))),
    }
}

/// The name of the shape a query has, for tests and messages; `None` if it is unknown.
pub fn shape_of(text: &str) -> Option<&'static str> {
    let normal = normalise(text);
    let probes = [
        probe::BANNER,
        probe::INSTANCE,
        probe::VERSION_FULL,
        probe::DATABASE,
        probe::SESSION,
        probe::CONTAINERS,
        probe::PARAMETERS,
        probe::BIGFILE,
        probe::INSTANCES,
    ];
    if probes.iter().any(|probe| normalise(probe) == normal) {
        return Some("profile probe");
    }
    if dictionary_kind(&normal).is_some() {
        return Some("dictionary lookup");
    }
    let matching: Vec<&Shape> = SHAPES
        .iter()
        .filter(|shape| {
            shape.all_of.iter().all(|fragment| normal.contains(fragment))
                && !shape.none_of.iter().any(|fragment| normal.contains(fragment))
        })
        .collect();
    match matching.as_slice() {
        [shape] => Some(shape.name),
        _ => None,
    }
}

fn shorten(normal: &str) -> String {
    if normal.chars().count() <= 160 {
        return normal.to_owned();
    }
    format!("{}…", normal.chars().take(160).collect::<String>())
}

/// The profile probes the real Oracle target sends (`oracle::profile`), by their exact text.
fn profile_probe(world: &World, normal: &str) -> Option<Rows> {
    let is = |probe: &str| normalise(probe) == normal;
    if is(probe::BANNER) {
        return Some(rows(
            &["banner"],
            vec![vec![text(format!(
                "Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production (SIMULATED: Sentri sandbox `{}`)",
                world.scenario
            ))]],
        ));
    }
    if is(probe::INSTANCE) {
        return Some(rows(
            &["instance_name", "host_name", "version"],
            vec![vec![text(&world.instance_name), text(&world.host_name), text("19.0.0.0.0")]],
        ));
    }
    if is(probe::VERSION_FULL) {
        return Some(rows(&["version_full"], vec![vec![text(&world.version)]]));
    }
    if is(probe::DATABASE) {
        return Some(rows(
            &["name", "cdb", "database_role", "open_mode"],
            vec![vec![text(&world.db_name), text("NO"), text("PRIMARY"), text("READ WRITE")]],
        ));
    }
    if is(probe::SESSION) {
        return Some(rows(&["session_user", "con_name"], vec![vec![text("SENTRI_AGENT"), text(&world.db_name)]]));
    }
    if is(probe::CONTAINERS) {
        return Some(rows(&["con_id", "name", "open_mode"], Vec::new()));
    }
    if is(probe::PARAMETERS) {
        let wanted = ["cluster_database", "db_create_file_dest", "db_files", "control_management_pack_access"];
        let found = wanted
            .iter()
            .filter_map(|name| world.parameters.get(*name).map(|value| vec![text(*name), text(value)]))
            .collect();
        return Some(rows(&["name", "value"], found));
    }
    if is(probe::BIGFILE) {
        let mut names: Vec<&str> = world.tablespaces.iter().filter(|t| t.bigfile).map(|t| t.name.as_str()).collect();
        names.sort_unstable();
        return Some(rows(&["tablespace_name"], names.into_iter().map(|name| vec![text(name)]).collect()));
    }
    if is(probe::INSTANCES) {
        return Some(rows(&["instances"], vec![vec![Value::Int(1)]]));
    }
    None
}

/// Which dictionary lookup ([`resolve::dictionary_query`]) this text is, if any.
fn dictionary_kind(normal: &str) -> Option<IdentifierKind> {
    IdentifierKind::ALL
        .iter()
        .map(|(_, kind)| *kind)
        .find(|kind| resolve::dictionary_query(Dialect::Oracle, *kind).is_some_and(|query| normalise(query) == normal))
}

/// The file confirmations a DDL step runs ([`resolve::file_query`]), answered from the world.
fn file_lookup(world: &World, normal: &str, binds: &Binds) -> Option<Result<Rows, Refusal>> {
    let temp = [IdentifierKind::Datafile, IdentifierKind::Tempfile]
        .into_iter()
        .find(|kind| resolve::file_query(Dialect::Oracle, *kind).is_some_and(|query| normalise(query) == normal))?
        == IdentifierKind::Tempfile;
    let path = match bind(binds, "name") {
        Ok(path) => path,
        Err(refusal) => return Some(Err(refusal)),
    };
    let found = world.files.iter().filter(|f| f.temp == temp && f.path == path).map(|f| vec![text(f.path.clone())]);
    Some(Ok(rows(&["file_name"], found.collect())))
}

/// The identifier lookups a plan runs when it is made, answered from the world as the real
/// dictionary answers them: the exact name, no folding (the name arrives folded already).
fn dictionary_lookup(world: &World, normal: &str, binds: &Binds) -> Option<Result<Rows, Refusal>> {
    let kind = dictionary_kind(normal)?;
    let name = match bind(binds, "name") {
        Ok(name) => name,
        Err(refusal) => return Some(Err(refusal)),
    };
    let global = |found: Vec<String>| {
        rows(&["schema_name", "object_name"], found.into_iter().map(|v| vec![Value::Null, text(v)]).collect())
    };
    let result = match kind {
        IdentifierKind::Tablespace => {
            Ok(global(world.tablespaces.iter().filter(|t| t.name == name).map(|t| t.name.clone()).collect()))
        }
        IdentifierKind::TempTablespace => Ok(global(
            world
                .tablespaces
                .iter()
                .filter(|t| t.contents == Contents::Temporary && t.name == name)
                .map(|t| t.name.clone())
                .collect(),
        )),
        IdentifierKind::User | IdentifierKind::Schema => {
            Ok(global(world.users.iter().filter(|u| **u == name).cloned().collect()))
        }
        IdentifierKind::Database => Ok(global([world.db_name.clone()].into_iter().filter(|db| *db == name).collect())),
        IdentifierKind::Parameter => Ok(global(world.parameters.keys().filter(|p| **p == name).cloned().collect())),
        other => {
            Err(Refusal::Unknown(format!("{} (the sandbox does not model {} objects)", shorten(normal), other.name())))
        }
    };
    Some(result)
}

// ---- the policies' queries -------------------------------------------------------------

fn tablespace_verification(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let columns = ["tbs_name", "used_pct", "used_mb", "max_mb", "bigfile", "contents", "file_count", "con_name"];
    let Some(tablespace) = world.tablespace(&name).filter(|t| t.contents == Contents::Permanent) else {
        return Ok(rows(&columns, Vec::new()));
    };
    let size = world.usable_size(&tablespace.name);
    Ok(rows(
        &columns,
        vec![vec![
            text(&tablespace.name),
            round(percent(tablespace.used, size), 2),
            round(tablespace.used as f64 / MB as f64, 0),
            round(size as f64 / MB as f64, 0),
            text(yes_no(tablespace.bigfile)),
            text(tablespace.contents.as_str()),
            Value::Int(world.files_of(&tablespace.name).count() as i64),
            text(&world.db_name),
        ]],
    ))
}

fn tablespace_validation(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let Some(tablespace) = world.tablespace(&name) else {
        return Ok(rows(&["used_pct", "max_mb"], Vec::new()));
    };
    let size = world.usable_size(&tablespace.name);
    Ok(rows(
        &["used_pct", "max_mb"],
        vec![vec![round(percent(tablespace.used, size), 2), round(size as f64 / MB as f64, 0)]],
    ))
}

fn bigfile_flag(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let found = world.tablespace(&name).map(|t| vec![text(yes_no(t.bigfile))]);
    Ok(rows(&["bigfile"], found.into_iter().collect()))
}

fn omf_configured(world: &World, _binds: &Binds) -> Result<Rows, Refusal> {
    let set = world.parameters.get("db_create_file_dest").is_some_and(|value| !value.is_empty());
    Ok(count(i64::from(set)))
}

fn growable(world: &World, binds: &Binds, temp: bool) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let n = world.files_of(&name).filter(|f| f.temp == temp && f.autoextensible && f.headroom() >= 1024 * MB).count();
    Ok(count(n as i64))
}

fn growable_datafiles(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    growable(world, binds, false)
}

fn growable_tempfiles(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    growable(world, binds, true)
}

fn standby_file_management(_world: &World, _binds: &Binds) -> Result<Rows, Refusal> {
    // No standby destination is modelled: the new file cannot go missing on a standby.
    Ok(rows(&["standby_check"], vec![vec![text("OK")]]))
}

fn newest(world: &World, binds: &Binds, temp: bool) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let newest: Option<&DbFile> =
        world.files_of(&name).filter(|f| f.temp == temp).max_by_key(|f| (f.creation_change, f.id));
    Ok(rows(
        &["file_name", "file_id"],
        newest.map(|f| vec![text(&f.path), Value::Int(i64::from(f.id))]).into_iter().collect(),
    ))
}

fn newest_datafile(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    newest(world, binds, false)
}

fn newest_tempfile(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    newest(world, binds, true)
}

fn temp_verification(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let columns = ["temp_tbs", "size_mb", "free_mb", "used_pct", "peak_used_pct", "max_mb", "bigfile", "con_name"];
    let Some(tablespace) = world.tablespace(&name).filter(|t| t.contents == Contents::Temporary) else {
        return Ok(rows(&columns, Vec::new()));
    };
    let size: u64 = world.files_of(&name).filter(|f| f.temp).map(|f| f.bytes).sum();
    let max: u64 = world.files_of(&name).filter(|f| f.temp).map(|f| f.bytes.max(f.headroom() + f.bytes)).sum();
    let free = size.saturating_sub(tablespace.used);
    Ok(rows(
        &columns,
        vec![vec![
            text(&tablespace.name),
            round(size as f64 / MB as f64, 0),
            round(free as f64 / MB as f64, 0),
            round(percent(size - free, size), 2),
            round(percent(tablespace.peak_used, size).min(100.0), 2),
            round(max as f64 / MB as f64, 0),
            text(yes_no(tablespace.bigfile)),
            text(&world.db_name),
        ]],
    ))
}

fn temp_validation(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let name = first_bind(binds)?.to_uppercase();
    let files: Vec<&DbFile> = world.files_of(&name).filter(|f| f.temp).collect();
    if files.is_empty() {
        // SUM over no rows: one row of NULLs, as Oracle gives it.
        return Ok(rows(&["max_mb", "size_mb"], vec![vec![Value::Null, Value::Null]]));
    }
    let max: u64 = files.iter().map(|f| f.bytes.max(f.headroom() + f.bytes)).sum();
    let size: u64 = files.iter().map(|f| f.bytes).sum();
    Ok(rows(&["max_mb", "size_mb"], vec![vec![round(max as f64 / MB as f64, 0), round(size as f64 / MB as f64, 0)]]))
}

fn blocker_verification(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let wanted_sid = optional_number(binds, "blocking_sid")?;
    let wanted_inst = optional_number(binds, "blocking_inst")?;
    let mut groups: BTreeMap<(u32, u32), (i64, u64)> = BTreeMap::new();
    for waiter in &world.sessions {
        if let Some(blocker) = waiter.blocked_by {
            let entry = groups.entry(blocker).or_insert((0, 0));
            entry.0 += 1;
            entry.1 = entry.1.max(waiter.wait_time_micro);
        }
    }
    let mut candidates: Vec<_> = groups
        .into_iter()
        .filter(|((inst, sid), _)| {
            wanted_sid.is_none_or(|wanted| i64::from(*sid) == wanted)
                && wanted_inst.is_none_or(|wanted| i64::from(*inst) == wanted)
        })
        .filter_map(|((inst, sid), (waiters, max_wait))| {
            let blocker = world.sessions.iter().find(|s| s.inst_id == inst && s.sid == sid)?;
            Some((blocker, waiters, max_wait))
        })
        .collect();
    candidates.sort_by(|a, b| b.1.cmp(&a.1).then(b.2.cmp(&a.2)));
    let columns = [
        "blk_inst",
        "blk_sid",
        "blk_serial",
        "blk_username",
        "blk_status",
        "blk_type",
        "blk_program",
        "blk_machine",
        "blk_sql_id",
        "blk_prev_sql_id",
        "blk_idle_s",
        "waiter_count",
        "max_wait_s",
        "blk_undo_blocks",
        "session",
    ];
    let found = candidates.first().map(|(b, waiters, max_wait)| {
        vec![
            Value::Int(i64::from(b.inst_id)),
            Value::Int(i64::from(b.sid)),
            Value::Int(i64::from(b.serial)),
            b.username.as_deref().map_or(Value::Null, text),
            text(&b.status),
            text(&b.kind),
            text(&b.program),
            text(&b.machine),
            b.sql_id.as_deref().map_or(Value::Null, text),
            b.prev_sql_id.as_deref().map_or(Value::Null, text),
            Value::Int(b.last_call_et as i64),
            Value::Int(*waiters),
            round(*max_wait as f64 / 1e6, 0),
            Value::Int(b.undo_blocks.unwrap_or(0) as i64),
            text(format!("{},{},@{}", b.sid, b.serial, b.inst_id)),
        ]
    });
    Ok(rows(&columns, found.into_iter().collect()))
}

/// The `:blk_inst`, `:blk_sid`, `:blk_serial` the blocker pre-flight checks name.
fn blocker_key(binds: &Binds) -> Result<(i64, i64, i64), Refusal> {
    let number = |name: &str| optional_number(binds, name)?.ok_or_else(|| missing(name));
    Ok((number("blk_inst")?, number("blk_sid")?, number("blk_serial")?))
}

fn same_blocker(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let (inst, sid, serial) = blocker_key(binds)?;
    let found = world
        .sessions
        .iter()
        .filter(|s| i64::from(s.inst_id) == inst && i64::from(s.sid) == sid && i64::from(s.serial) == serial)
        .map(|s| vec![Value::Int(i64::from(s.sid))])
        .collect();
    Ok(rows(&["sid"], found))
}

fn protected_session(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let (inst, sid, serial) = blocker_key(binds)?;
    const PROTECTED: &[&str] =
        &["SYS", "SYSTEM", "DBSNMP", "SYSBACKUP", "SYSDG", "SYSKM", "SYSRAC", "AUDSYS", "GSMADMIN_INTERNAL"];
    let n = world
        .sessions
        .iter()
        .filter(|s| i64::from(s.inst_id) == inst && i64::from(s.sid) == sid && i64::from(s.serial) == serial)
        .filter(|s| {
            let program_upper = s.program.to_uppercase();
            let program_lower = s.program.to_lowercase();
            s.kind == "BACKGROUND"
                || s.username.as_deref().is_some_and(|u| PROTECTED.contains(&u))
                || program_upper.contains("RMAN")
                || program_upper.contains("(DM0")
                || program_upper.contains("(DW")
                || program_lower.contains("extract")
                || program_lower.contains("replicat")
        })
        .count();
    Ok(count(n as i64))
}

fn blocker_undo(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let (inst, sid, serial) = blocker_key(binds)?;
    let undo: u64 = world
        .sessions
        .iter()
        .filter(|s| i64::from(s.inst_id) == inst && i64::from(s.sid) == sid && i64::from(s.serial) == serial)
        .filter_map(|s| s.undo_blocks)
        .sum();
    Ok(rows(&["undo_blocks"], vec![vec![Value::Int(undo as i64)]]))
}

fn waiting_on_blocker(world: &World, binds: &Binds) -> Result<Rows, Refusal> {
    let inst = optional_number(binds, "blk_inst")?.ok_or_else(|| missing("blk_inst"))?;
    let sid = optional_number(binds, "blk_sid")?.ok_or_else(|| missing("blk_sid"))?;
    let n = world
        .sessions
        .iter()
        .filter(|s| s.blocked_by.is_some_and(|(i, b)| i64::from(i) == inst && i64::from(b) == sid))
        .count();
    Ok(rows(&["waiting_on_blocker"], vec![vec![Value::Int(n as i64)]]))
}

// ---- helpers ---------------------------------------------------------------------------

fn rows(columns: &[&str], rows: Vec<Vec<Value>>) -> Rows {
    Rows { columns: columns.iter().map(|c| (*c).to_owned()).collect(), rows }
}

fn count(n: i64) -> Rows {
    rows(&["count(*)"], vec![vec![Value::Int(n)]])
}

fn text(value: impl Into<String>) -> Value {
    Value::Text(value.into())
}

fn yes_no(flag: bool) -> &'static str {
    if flag { "YES" } else { "NO" }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 * 100.0 }
}

/// `ROUND(x, places)` as Oracle prints a NUMBER: no trailing zeros.
fn round(value: f64, places: usize) -> Value {
    let fixed = format!("{value:.places$}");
    let trimmed = if fixed.contains('.') { fixed.trim_end_matches('0').trim_end_matches('.') } else { &fixed };
    if !trimmed.contains('.')
        && let Ok(int) = trimmed.parse::<i64>()
    {
        return Value::Int(int);
    }
    Value::Decimal(trimmed.to_owned())
}

fn missing(name: &str) -> Refusal {
    Refusal::Oracle { code: "ORA-01008", message: format!("not all variables bound (:{name})") }
}

/// The value bound to `:name`, which must not be NULL.
fn bind(binds: &Binds, name: &str) -> Result<String, Refusal> {
    binds.iter().find(|(bound, _)| bound == name).and_then(|(_, value)| value.clone()).ok_or_else(|| missing(name))
}

/// The first bound value (the policies' one-placeholder queries name it differently).
fn first_bind(binds: &Binds) -> Result<String, Refusal> {
    match binds.first() {
        Some((_, Some(value))) => Ok(value.clone()),
        Some((name, None)) => Err(missing(name)),
        None => Err(missing("1")),
    }
}

/// `TO_NUMBER(:name)`, NULL allowed.
fn optional_number(binds: &Binds, name: &str) -> Result<Option<i64>, Refusal> {
    match binds.iter().find(|(bound, _)| bound == name) {
        None => Err(missing(name)),
        Some((_, None)) => Ok(None),
        Some((_, Some(value))) => value
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Refusal::Oracle { code: "ORA-01722", message: format!("invalid number (:{name})") }),
    }
}
