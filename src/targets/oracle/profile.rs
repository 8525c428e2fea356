//! The Oracle profile probes (oracle-queries.md §0.2, §0.3, §0.5): what this database is, read
//! in one round on one connection so policies can depend on it — a bigfile tablespace cannot
//! take another datafile, OMF needs no path, and the Diagnostics Pack may only be queried when
//! `control_management_pack_access` says it is licensed.
//!
//! The probes are written against a query-running closure, so the reading of their results is
//! tested without a server.

use crate::targets::profile::{Container, OracleProfile, Profile};
use crate::targets::{DbKind, ErrorKind, Rows, TargetError};

/// `v$version` banner (the first row is the database's).
pub const BANNER: &str = "SELECT banner FROM v$version";
/// Instance identity and release (VERSION is the base release, e.g. 19.0.0.0.0).
pub const INSTANCE: &str = "SELECT instance_name, host_name, version FROM v$instance";
/// The patched release, 18c and later (`19.21.0.0.0`); optional.
pub const VERSION_FULL: &str = "SELECT version_full FROM v$instance";
/// Database name, CDB or not, role and open mode.
pub const DATABASE: &str = "SELECT name, cdb, database_role, open_mode FROM v$database";
/// Who Sentri is and where: needs no privilege.
pub const SESSION: &str = "SELECT SYS_CONTEXT('USERENV', 'SESSION_USER') AS session_user, \
     SYS_CONTEXT('USERENV', 'CON_NAME') AS con_name FROM dual";
/// Containers visible from here (all of them from CDB$ROOT, only itself from a PDB); optional.
pub const CONTAINERS: &str = "SELECT con_id, name, open_mode FROM v$containers ORDER BY con_id";
/// The parameters policies depend on; optional.
pub const PARAMETERS: &str = "SELECT name, value FROM v$parameter WHERE name IN \
     ('cluster_database', 'db_create_file_dest', 'db_files', 'control_management_pack_access')";
/// Bigfile tablespaces (one datafile only); optional.
pub const BIGFILE: &str = "SELECT tablespace_name FROM dba_tablespaces WHERE bigfile = 'YES' ORDER BY tablespace_name";
/// Open instances of a RAC database; optional.
pub const INSTANCES: &str = "SELECT COUNT(*) AS instances FROM gv$instance";

/// Reads the profile through `run` (one read-only query per call).
///
/// Required — the profile fails without them: `v$version`, `v$instance` and `v$database`
/// (granted by SELECT_CATALOG_ROLE), and the session context.
///
/// Optional — a probe refused for lack of privilege, or not available on this release or open
/// mode, leaves a cautious default and the rest of the profile stands: `version_full` (falls
/// back to VERSION), `v$containers` (no containers listed), `v$parameter` (not RAC, no OMF,
/// `db_files` unknown, pack access `UNKNOWN`, which counts as *not* licensed),
/// `dba_tablespaces` (no bigfile tablespaces known) and `gv$instance` (one instance).
/// A lost connection or a timeout is never optional.
pub fn read_profile(
    run: &mut dyn FnMut(&str) -> Result<Rows, TargetError>,
    profiled_at: String,
) -> Result<Profile, TargetError> {
    let banner_rows = run(BANNER)?;
    let banner = (0..banner_rows.rows.len())
        .filter_map(|row| text(&banner_rows, row, "banner"))
        .find(|banner| banner.starts_with("Oracle"))
        .or_else(|| text(&banner_rows, 0, "banner"))
        .unwrap_or_default();
    let instance = run(INSTANCE)?;
    let database = run(DATABASE)?;
    let session = run(SESSION)?;
    let version = optional(run, VERSION_FULL)?
        .and_then(|rows| text(&rows, 0, "version_full"))
        .or_else(|| text(&instance, 0, "version"))
        .unwrap_or_default();
    let is_cdb = text(&database, 0, "cdb").is_some_and(|cdb| cdb.eq_ignore_ascii_case("YES"));
    let containers = if is_cdb {
        optional(run, CONTAINERS)?.map(|rows| read_containers(&rows)).unwrap_or_default()
    } else {
        Vec::new()
    };
    let parameters = optional(run, PARAMETERS)?;
    let parameter = |name: &str| -> Option<String> {
        let rows = parameters.as_ref()?;
        (0..rows.rows.len())
            .find(|&row| text(rows, row, "name").is_some_and(|found| found.eq_ignore_ascii_case(name)))
            .and_then(|row| text(rows, row, "value"))
    };
    let is_rac = parameter("cluster_database").is_some_and(|value| value.eq_ignore_ascii_case("TRUE"));
    let bigfile_tablespaces = optional(run, BIGFILE)?
        .map(|rows| (0..rows.rows.len()).filter_map(|row| text(&rows, row, "tablespace_name")).collect())
        .unwrap_or_default();
    let instance_count = optional(run, INSTANCES)?
        .and_then(|rows| text(&rows, 0, "instances"))
        .and_then(|count| count.parse::<u32>().ok())
        .unwrap_or(1);
    let oracle = OracleProfile {
        banner,
        instance_name: text(&instance, 0, "instance_name").unwrap_or_default(),
        host_name: text(&instance, 0, "host_name").unwrap_or_default(),
        database_role: text(&database, 0, "database_role").unwrap_or_default(),
        open_mode: text(&database, 0, "open_mode").unwrap_or_default(),
        is_cdb,
        current_container: if is_cdb { text(&session, 0, "con_name").unwrap_or_default() } else { String::new() },
        containers,
        is_rac,
        instance_count,
        omf_destination: parameter("db_create_file_dest").filter(|dest| !dest.trim().is_empty()),
        bigfile_tablespaces,
        db_files: parameter("db_files").and_then(|value| value.trim().parse().ok()),
        pack_access: parameter("control_management_pack_access").unwrap_or_else(|| "UNKNOWN".to_owned()),
    };
    Ok(Profile {
        engine: DbKind::Oracle,
        profiled_at,
        version_major: version_major(&version),
        version,
        connected_as: text(&session, 0, "session_user").unwrap_or_default(),
        database_name: text(&database, 0, "name").unwrap_or_default(),
        oracle: Some(oracle),
        postgres: None,
    })
}

/// Runs an optional probe: a privilege or availability failure gives `None`.
fn optional(run: &mut dyn FnMut(&str) -> Result<Rows, TargetError>, sql: &str) -> Result<Option<Rows>, TargetError> {
    match run(sql) {
        Ok(rows) => Ok(Some(rows)),
        Err(error) if matches!(error.kind, ErrorKind::InsufficientPrivilege | ErrorKind::Statement) => {
            tracing::info!(database = %error.database, probe = sql, error = %error, "optional profile probe skipped");
            Ok(None)
        }
        Err(error) => Err(error),
    }
}

fn read_containers(rows: &Rows) -> Vec<Container> {
    (0..rows.rows.len())
        .filter_map(|row| {
            Some(Container {
                con_id: text(rows, row, "con_id")?.parse().ok()?,
                name: text(rows, row, "name")?,
                open_mode: text(rows, row, "open_mode").unwrap_or_default(),
            })
        })
        .collect()
}

fn text(rows: &Rows, row: usize, column: &str) -> Option<String> {
    rows.get(row, column).and_then(|value| value.as_text())
}

/// The major release: `19.21.0.0.0` → 19, `23.4.0.24.05` → 23; 0 when unreadable.
pub fn version_major(version: &str) -> u32 {
    let digits: String = version.trim().chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::targets::Value;

    fn rows(columns: &[&str], data: &[&[&str]]) -> Rows {
        Rows {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: data.iter().map(|row| row.iter().map(|v| Value::Text(v.to_string())).collect()).collect(),
        }
    }

    fn answers() -> BTreeMap<&'static str, Result<Rows, TargetError>> {
        let mut map = BTreeMap::new();
        map.insert(
            BANNER,
            Ok(rows(&["banner"], &[&["Oracle Database 19c Enterprise Edition Release 19.0.0.0.0 - Production"]])),
        );
        map.insert(
            INSTANCE,
            Ok(rows(&["instance_name", "host_name", "version"], &[&["ORCL1", "dbhost1", "19.0.0.0.0"]])),
        );
        map.insert(VERSION_FULL, Ok(rows(&["version_full"], &[&["19.21.0.0.0"]])));
        map.insert(
            DATABASE,
            Ok(rows(&["name", "cdb", "database_role", "open_mode"], &[&["ORCL", "YES", "PRIMARY", "READ WRITE"]])),
        );
        map.insert(SESSION, Ok(rows(&["session_user", "con_name"], &[&["C##SENTRI_RO", "CDB$ROOT"]])));
        map.insert(
            CONTAINERS,
            Ok(rows(
                &["con_id", "name", "open_mode"],
                &[&["1", "CDB$ROOT", "READ WRITE"], &["2", "PDB$SEED", "READ ONLY"], &["3", "SALES", "READ WRITE"]],
            )),
        );
        map.insert(
            PARAMETERS,
            Ok(rows(
                &["name", "value"],
                &[
                    &["cluster_database", "TRUE"],
                    &["db_create_file_dest", "+DATA"],
                    &["db_files", "200"],
                    &["control_management_pack_access", "DIAGNOSTIC+TUNING"],
                ],
            )),
        );
        map.insert(BIGFILE, Ok(rows(&["tablespace_name"], &[&["BIG_DATA"], &["UNDOTBS2"]])));
        map.insert(INSTANCES, Ok(rows(&["instances"], &[&["2"]])));
        map
    }

    fn profile_with(mut answers: BTreeMap<&'static str, Result<Rows, TargetError>>) -> Result<Profile, TargetError> {
        let mut run = |sql: &str| answers.remove(sql).unwrap_or_else(|| panic!("unexpected probe {sql}"));
        read_profile(&mut run, "2026-01-01T00:00:00Z".to_owned())
    }

    fn denied(kind: ErrorKind) -> Result<Rows, TargetError> {
        Err(TargetError::new("ORCL", kind, "ORA-00942: table or view does not exist"))
    }

    #[test]
    fn a_rac_cdb_with_omf_bigfile_and_packs() {
        let profile = profile_with(answers()).expect("profile");
        assert_eq!((profile.version.as_str(), profile.version_major), ("19.21.0.0.0", 19));
        assert_eq!(profile.connected_as, "C##SENTRI_RO");
        assert_eq!(profile.database_name, "ORCL");
        let oracle = profile.oracle.expect("oracle facts");
        assert!(oracle.is_cdb && oracle.is_rac);
        assert_eq!(oracle.current_container, "CDB$ROOT");
        assert_eq!(oracle.containers.len(), 3);
        assert_eq!(oracle.containers[2], Container { con_id: 3, name: "SALES".into(), open_mode: "READ WRITE".into() });
        assert_eq!(oracle.instance_count, 2);
        assert_eq!(oracle.omf_destination.as_deref(), Some("+DATA"));
        assert_eq!(oracle.bigfile_tablespaces, ["BIG_DATA", "UNDOTBS2"]);
        assert_eq!(oracle.db_files, Some(200));
        assert!(oracle.diagnostics_pack() && oracle.tuning_pack());
        assert_eq!(oracle.instance_name, "ORCL1");
        assert!(oracle.banner.starts_with("Oracle Database 19c"));
    }

    #[test]
    fn optional_probes_refused_leave_cautious_defaults() {
        let mut answers = answers();
        for probe in [VERSION_FULL, CONTAINERS, PARAMETERS, BIGFILE, INSTANCES] {
            answers.insert(probe, denied(ErrorKind::InsufficientPrivilege));
        }
        let profile = profile_with(answers).expect("profile still stands");
        assert_eq!(profile.version, "19.0.0.0.0", "falls back to v$instance.version");
        let oracle = profile.oracle.expect("oracle facts");
        assert!(!oracle.is_rac && oracle.containers.is_empty() && oracle.bigfile_tablespaces.is_empty());
        assert_eq!(oracle.pack_access, "UNKNOWN");
        assert!(!oracle.diagnostics_pack(), "unknown licensing is treated as unlicensed");
        assert_eq!((oracle.instance_count, oracle.db_files, oracle.omf_destination), (1, None, None));
    }

    #[test]
    fn required_probes_and_broken_connections_fail_the_profile() {
        let mut answers = answers();
        answers.insert(DATABASE, denied(ErrorKind::InsufficientPrivilege));
        let error = profile_with(answers).expect_err("v$database is required");
        assert_eq!(error.kind, ErrorKind::InsufficientPrivilege);
        let mut lost = super::tests::answers();
        lost.insert(BIGFILE, denied(ErrorKind::ConnectionLost));
        assert_eq!(profile_with(lost).expect_err("lost").kind, ErrorKind::ConnectionLost);
    }

    #[test]
    fn a_non_cdb_has_no_container_and_skips_v_containers() {
        let mut answers = answers();
        answers.insert(
            DATABASE,
            Ok(rows(
                &["name", "cdb", "database_role", "open_mode"],
                &[&["LEGACY", "NO", "PHYSICAL STANDBY", "READ ONLY WITH APPLY"]],
            )),
        );
        answers.remove(CONTAINERS);
        let profile = profile_with(answers).expect("profile");
        let oracle = profile.oracle.expect("oracle facts");
        assert!(!oracle.is_cdb);
        assert_eq!(oracle.current_container, "");
        assert_eq!(oracle.database_role, "PHYSICAL STANDBY");
    }

    #[test]
    fn major_versions() {
        assert_eq!(version_major("19.21.0.0.0"), 19);
        assert_eq!(version_major("23.4.0.24.05"), 23);
        assert_eq!(version_major("12.2.0.1.0"), 12);
        assert_eq!(version_major(""), 0);
    }
}
