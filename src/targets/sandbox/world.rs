//! The state of one SIMULATED Oracle database: tablespaces and their files, the storage under
//! them, sessions and who blocks whom, the parameters policies read. Seeded from a fixed
//! scenario (no clock, no randomness), changed only by the write statements the sandbox
//! recognises, so the same alerts always tell the same story.
//!
//! Space model. A permanent tablespace's maximum, as `dba_tablespace_usage_metrics` reports it
//! here, is what its files hold plus the growth the *storage* really allows: the autoextend
//! headroom of its files, capped by the free space of the disk group they live on. That is the
//! case the `tablespace_full` policy warns about — files that can each still grow a little, on a
//! disk group that is full — and it is how the `dev-tight` world makes a new datafile that
//! cannot grow: it takes the very space the old files would have grown into, the maximum does
//! not move, and the fix's validation fails.

use std::collections::BTreeMap;

/// One megabyte, in bytes.
pub const MB: u64 = 1024 * 1024;
/// One gigabyte, in bytes.
pub const GB: u64 = 1024 * MB;

/// What a tablespace holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    Permanent,
    Temporary,
    Undo,
}

impl Contents {
    /// As `dba_tablespaces.contents` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Contents::Permanent => "PERMANENT",
            Contents::Temporary => "TEMPORARY",
            Contents::Undo => "UNDO",
        }
    }
}

/// One tablespace. `used` is the space its segments occupy (for a temporary tablespace: what
/// sorts hold now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tablespace {
    pub name: String,
    pub contents: Contents,
    pub bigfile: bool,
    pub used: u64,
    /// Temporary tablespaces: the most space sorts held at once (`gv$sort_segment`).
    pub peak_used: u64,
}

/// One datafile or tempfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbFile {
    pub id: u32,
    pub path: String,
    pub tablespace: String,
    pub temp: bool,
    pub bytes: u64,
    pub maxbytes: u64,
    pub autoextensible: bool,
    /// `v$datafile.creation_change#`: newer files have higher numbers.
    pub creation_change: u64,
    /// Space allocated to segments inside this file; a file with extents cannot be dropped.
    pub used: u64,
}

impl DbFile {
    /// How much more the file may grow by autoextend, ignoring the storage under it.
    pub fn headroom(&self) -> u64 {
        if self.autoextensible { self.maxbytes.saturating_sub(self.bytes) } else { 0 }
    }
}

/// One session in `gv$session`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub inst_id: u32,
    pub sid: u32,
    pub serial: u32,
    pub username: Option<String>,
    pub status: String,
    /// USER or BACKGROUND.
    pub kind: String,
    pub program: String,
    pub machine: String,
    pub sql_id: Option<String>,
    pub prev_sql_id: Option<String>,
    /// Seconds since the last call.
    pub last_call_et: u64,
    /// The root blocker `(instance, sid)` this session waits behind.
    pub blocked_by: Option<(u32, u32)>,
    pub wait_time_micro: u64,
    pub event: String,
    /// Undo blocks of the session's open transaction, if it has one.
    pub undo_blocks: Option<u64>,
}

/// One SIMULATED database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct World {
    /// The scenario it was seeded from (`sandbox:NAME`).
    pub scenario: String,
    /// `v$database.name`.
    pub db_name: String,
    pub instance_name: String,
    pub host_name: String,
    pub version: String,
    pub block_size: u64,
    /// `db_create_file_dest`: the disk group new files go to.
    pub omf_dest: Option<String>,
    /// Free space in that disk group.
    pub storage_free: u64,
    pub tablespaces: Vec<Tablespace>,
    pub files: Vec<DbFile>,
    pub sessions: Vec<Session>,
    pub parameters: BTreeMap<String, String>,
    pub users: Vec<String>,
    /// The last SCN handed out (file creation).
    pub scn: u64,
}

/// The scenarios a `sandbox:NAME` connection string may name, with what each one is for.
pub const SCENARIOS: &[(&str, &str)] = &[
    ("dev", "a DEV database: USERS 97% full and TEMP 96% full, on a disk group with room"),
    ("dev-tight", "a DEV database: HIST_DATA 96% full on a disk group with 1.1 GB free (a new datafile cannot grow)"),
    ("prod", "a PROD database: an idle session holding a lock three others wait behind"),
];

impl World {
    /// The seeded state of scenario `name` (case-insensitive), or `None` if there is no such
    /// scenario (see [`SCENARIOS`]).
    pub fn seed(name: &str) -> Option<World> {
        match name.trim().to_ascii_lowercase().as_str() {
            "dev" => Some(dev()),
            "dev-tight" => Some(dev_tight()),
            "prod" => Some(prod()),
            _ => None,
        }
    }

    pub fn tablespace(&self, name: &str) -> Option<&Tablespace> {
        self.tablespaces.iter().find(|t| t.name == name)
    }

    /// The tablespace's datafiles or tempfiles.
    pub fn files_of<'a>(&'a self, tablespace: &'a str) -> impl Iterator<Item = &'a DbFile> + 'a {
        self.files.iter().filter(move |f| f.tablespace == tablespace)
    }

    /// `dba_tablespace_usage_metrics.tablespace_size` in bytes: what the files hold plus the
    /// growth the storage allows (see the module docs).
    pub fn usable_size(&self, tablespace: &str) -> u64 {
        let (bytes, headroom) =
            self.files_of(tablespace).fold((0, 0), |(bytes, headroom), f| (bytes + f.bytes, headroom + f.headroom()));
        bytes + headroom.min(self.storage_free)
    }

    /// Hands out the next SCN.
    pub fn next_scn(&mut self) -> u64 {
        self.scn += 1;
        self.scn
    }

    /// The next free file number (datafiles and tempfiles are numbered separately in Oracle).
    pub fn next_file_id(&self, temp: bool) -> u32 {
        self.files.iter().filter(|f| f.temp == temp).map(|f| f.id).max().unwrap_or(0) + 1
    }
}

fn base(scenario: &str, db_name: &str, host: &str) -> World {
    let parameters = [
        ("cluster_database", "FALSE"),
        ("db_create_file_dest", "+DATA"),
        ("db_files", "200"),
        ("control_management_pack_access", "DIAGNOSTIC+TUNING"),
        ("standby_file_management", "MANUAL"),
        ("undo_tablespace", "UNDOTBS1"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    World {
        scenario: scenario.to_owned(),
        db_name: db_name.to_owned(),
        instance_name: db_name.to_lowercase(),
        host_name: host.to_owned(),
        version: "19.21.0.0.0".to_owned(),
        block_size: 8192,
        omf_dest: Some("+DATA".to_owned()),
        storage_free: 500 * GB,
        tablespaces: vec![
            permanent("SYSTEM", 900 * MB),
            permanent("SYSAUX", 1400 * MB),
            Tablespace { contents: Contents::Undo, ..permanent("UNDOTBS1", 300 * MB) },
        ],
        files: vec![
            datafile(1, db_name, "SYSTEM", 1024 * MB, 32767 * MB, true, 0),
            datafile(2, db_name, "SYSAUX", 2048 * MB, 32767 * MB, true, 0),
            datafile(3, db_name, "UNDOTBS1", 2048 * MB, 32767 * MB, true, 0),
        ],
        sessions: vec![background(1, 2, "oracle@dbhost (PMON)"), background(1, 3, "oracle@dbhost (DBW0)")],
        parameters,
        users: ["SYS", "SYSTEM", "DBSNMP", "SENTRI_AGENT", "APP", "APP_BATCH", "REPORTING"]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        scn: 2_400_000,
    }
}

/// DEV: USERS is at its files' maximum and 97% used; TEMP has held 98% at its peak. The disk
/// group has plenty of room, so both fixes work.
fn dev() -> World {
    let mut world = base("dev", "DEVDB01", "devdb01.example.com");
    world.tablespaces.push(permanent("USERS", 9933 * MB));
    world.files.push(datafile(4, "DEVDB01", "USERS", 10240 * MB, 10240 * MB, true, 41_000));
    world.tablespaces.push(Tablespace {
        name: "TEMP".to_owned(),
        contents: Contents::Temporary,
        bigfile: false,
        used: 7864 * MB,
        peak_used: 8028 * MB,
    });
    world.files.push(tempfile(1, "DEVDB01", "TEMP", 8192 * MB, 8192 * MB, true, 41_100));
    world.sessions.push(user_session(1, 311, 4411, "APP", "ACTIVE", None));
    world
}

/// DEV, tight storage: HIST_DATA's four files can each still grow by 820 MB (under the policy's
/// 1 GB pre-flight limit), but the disk group has only 1.1 GB free. A new 1 GB datafile takes
/// the space the old files would have grown into: the tablespace's real maximum does not move.
fn dev_tight() -> World {
    let mut world = base("dev-tight", "DEVDB02", "devdb02.example.com");
    world.storage_free = 1100 * MB;
    world.tablespaces.push(permanent("HIST_DATA", 30_600 * MB));
    for (index, id) in (4..8).enumerate() {
        let mut file = datafile(id, "DEVDB02", "HIST_DATA", 7680 * MB, 8500 * MB, true, 52_000 + index as u64);
        file.used = 7650 * MB;
        world.files.push(file);
    }
    world.tablespaces.push(Tablespace {
        name: "TEMP".to_owned(),
        contents: Contents::Temporary,
        bigfile: false,
        used: 200 * MB,
        peak_used: 900 * MB,
    });
    world.files.push(tempfile(1, "DEVDB02", "TEMP", 4096 * MB, 32767 * MB, true, 52_100));
    world
}

/// PROD: session 1234 (APP_BATCH, idle for 12 minutes with an open transaction) holds a row
/// lock three application sessions have waited behind for up to seven minutes.
fn prod() -> World {
    let mut world = base("prod", "PRODDB", "db07.example.com");
    world.tablespaces.push(permanent("USERS", 20_000 * MB));
    world.files.push(datafile(4, "PRODDB", "USERS", 32767 * MB, 32767 * MB, true, 30_000));
    world.tablespaces.push(Tablespace {
        name: "TEMP".to_owned(),
        contents: Contents::Temporary,
        bigfile: false,
        used: 100 * MB,
        peak_used: 2000 * MB,
    });
    world.files.push(tempfile(1, "PRODDB", "TEMP", 8192 * MB, 32767 * MB, true, 30_100));
    let mut blocker = user_session(1, 1234, 5678, "APP_BATCH", "INACTIVE", None);
    blocker.program = "JDBC Thin Client".to_owned();
    blocker.machine = "batch01.example.com".to_owned();
    blocker.prev_sql_id = Some("8fq3xkz1u2v9a".to_owned());
    blocker.last_call_et = 754;
    blocker.undo_blocks = Some(42);
    blocker.event = "SQL*Net message from client".to_owned();
    world.sessions.push(blocker);
    for (sid, serial, wait_s) in [(201, 3301, 420), (202, 3302, 305), (245, 3345, 96)] {
        let mut waiter = user_session(1, sid, serial, "APP", "ACTIVE", Some((1, 1234)));
        waiter.sql_id = Some("a1b2c3d4e5f6g".to_owned());
        waiter.wait_time_micro = wait_s * 1_000_000;
        waiter.event = "enq: TX - row lock contention".to_owned();
        world.sessions.push(waiter);
    }
    world
}

fn permanent(name: &str, used: u64) -> Tablespace {
    Tablespace { name: name.to_owned(), contents: Contents::Permanent, bigfile: false, used, peak_used: 0 }
}

fn datafile(id: u32, db: &str, tablespace: &str, bytes: u64, maxbytes: u64, auto: bool, scn: u64) -> DbFile {
    DbFile {
        id,
        path: format!("+DATA/{db}/DATAFILE/{}.{}.1150000{id:03}", tablespace.to_lowercase(), 256 + id),
        tablespace: tablespace.to_owned(),
        temp: false,
        bytes,
        maxbytes,
        autoextensible: auto,
        creation_change: scn,
        used: bytes / 2,
    }
}

fn tempfile(id: u32, db: &str, tablespace: &str, bytes: u64, maxbytes: u64, auto: bool, scn: u64) -> DbFile {
    DbFile {
        path: format!("+DATA/{db}/TEMPFILE/{}.{}.1150001{id:03}", tablespace.to_lowercase(), 300 + id),
        temp: true,
        used: 0,
        ..datafile(id, db, tablespace, bytes, maxbytes, auto, scn)
    }
}

fn background(inst_id: u32, sid: u32, program: &str) -> Session {
    Session {
        inst_id,
        sid,
        serial: 1,
        username: None,
        status: "ACTIVE".to_owned(),
        kind: "BACKGROUND".to_owned(),
        program: program.to_owned(),
        machine: "dbhost".to_owned(),
        sql_id: None,
        prev_sql_id: None,
        last_call_et: 86_400,
        blocked_by: None,
        wait_time_micro: 0,
        event: "rdbms ipc message".to_owned(),
        undo_blocks: None,
    }
}

fn user_session(
    inst_id: u32,
    sid: u32,
    serial: u32,
    username: &str,
    status: &str,
    blocked_by: Option<(u32, u32)>,
) -> Session {
    Session {
        inst_id,
        sid,
        serial,
        username: Some(username.to_owned()),
        status: status.to_owned(),
        kind: "USER".to_owned(),
        program: "JDBC Thin Client".to_owned(),
        machine: "app01.example.com".to_owned(),
        sql_id: None,
        prev_sql_id: None,
        last_call_et: 5,
        blocked_by,
        wait_time_micro: 0,
        event: "SQL*Net message from client".to_owned(),
        undo_blocks: None,
    }
}
