//! What a database is — version, CDB/PDB, RAC, OMF, bigfile tablespaces, pack licensing — read
//! once on first connect and cached in the store, so policies and fixes can depend on it
//! (a bigfile tablespace cannot take another datafile; OMF needs no file path).

use super::DbKind;

/// The profile of one database.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Profile {
    pub engine: DbKind,
    /// RFC 3339 UTC time the profile was read.
    pub profiled_at: String,
    /// Full version text, e.g. `19.21.0.0.0` or `15.18`.
    pub version: String,
    /// Major release: 19, 23, 15…
    pub version_major: u32,
    /// The account Sentri is connected as.
    pub connected_as: String,
    /// The database (Oracle DB_NAME / PostgreSQL current database).
    pub database_name: String,
    pub oracle: Option<OracleProfile>,
    pub postgres: Option<PostgresProfile>,
}

/// Oracle-specific facts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OracleProfile {
    /// `v$version` banner.
    pub banner: String,
    pub instance_name: String,
    pub host_name: String,
    /// PRIMARY, PHYSICAL STANDBY…
    pub database_role: String,
    /// READ WRITE, MOUNTED…
    pub open_mode: String,
    /// `v$database.cdb = 'YES'`.
    pub is_cdb: bool,
    /// The container Sentri is connected to (CDB$ROOT or a PDB name); empty on a non-CDB.
    pub current_container: String,
    /// PDBs visible from here (`v$containers`), with their open mode.
    pub containers: Vec<Container>,
    /// `cluster_database = TRUE`.
    pub is_rac: bool,
    pub instance_count: u32,
    /// `db_create_file_dest` when set: Oracle-managed files, no paths needed.
    pub omf_destination: Option<String>,
    /// Tablespaces created BIGFILE (cannot take another datafile).
    pub bigfile_tablespaces: Vec<String>,
    /// `db_files` (the datafile limit).
    pub db_files: Option<u32>,
    /// `control_management_pack_access`: NONE, DIAGNOSTIC, DIAGNOSTIC+TUNING.
    pub pack_access: String,
}

impl OracleProfile {
    /// Whether the Diagnostics Pack (ASH, AWR) may be queried.
    pub fn diagnostics_pack(&self) -> bool {
        self.pack_access.to_uppercase().contains("DIAGNOSTIC")
    }

    /// Whether the Tuning Pack may be used.
    pub fn tuning_pack(&self) -> bool {
        self.pack_access.to_uppercase().contains("TUNING")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Container {
    pub con_id: u32,
    pub name: String,
    pub open_mode: String,
}

/// PostgreSQL-specific facts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PostgresProfile {
    /// `server_version_num`, e.g. 150018.
    pub server_version_num: u32,
    /// `pg_is_in_recovery()`: a standby refuses writes.
    pub in_recovery: bool,
    pub max_connections: u32,
    /// Installed extensions (`pg_extension`), e.g. pg_stat_statements.
    pub extensions: Vec<String>,
    pub is_superuser: bool,
}
