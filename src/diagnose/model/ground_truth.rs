//! Facts about the database a proposed statement must respect, checked against its profile
//! before the statement can become a candidate: the rules a model is most often wrong about
//! (the reference's `docs/oracle/rules`, here read from the lexed statement, not by regex, and
//! failing closed: when the profile cannot say, the statement is refused).
//!
//! - BIGFILE: a bigfile tablespace takes no second data file (ORA-32771).
//! - OMF: with `db_create_file_dest` set, Oracle names new files; an explicit path is refused.
//! - CDB: tablespace and data-file changes are not made from CDB$ROOT.
//! - Read-only: nothing but queries on a database open READ ONLY, a standby, or a PostgreSQL
//!   server in recovery.
//! - Version: `ALTER SYSTEM CANCEL SQL` needs Oracle 18c; `REINDEX … CONCURRENTLY` PostgreSQL 12.

use std::collections::BTreeMap;

use crate::domain::DbKind;
use crate::sql::classify::{StatementClass, Verb};
use crate::sql::statement::StatementKind;
use crate::targets::Profile;

/// Why `statement` (classified as `class`, with the candidate's `values`) must not run on the
/// database `profile` describes; `None` when no rule objects.
pub fn refusal(
    engine: DbKind,
    profile: Option<&Profile>,
    statement: &str,
    class: &StatementClass,
    values: &BTreeMap<String, String>,
) -> Option<String> {
    if class.kind == StatementKind::Query {
        return None;
    }
    let Some(profile) = profile else {
        return Some("the database's profile could not be read, so the ground-truth rules cannot be checked".into());
    };
    let upper = statement.to_ascii_uppercase();
    match engine {
        DbKind::Postgres => {
            let postgres = profile.postgres.as_ref()?;
            if postgres.in_recovery {
                return Some("the server is in recovery (a standby): it refuses every write".into());
            }
            if class.verb == Verb::Other("REINDEX".into())
                && upper.contains("CONCURRENTLY")
                && profile.version_major < 12
            {
                return Some(format!("REINDEX CONCURRENTLY needs PostgreSQL 12; this is {}", profile.version));
            }
            None
        }
        DbKind::Oracle | DbKind::Sandbox => {
            let Some(oracle) = profile.oracle.as_ref() else {
                return Some("the profile has no Oracle facts, so the ground-truth rules cannot be checked".into());
            };
            let open_mode = oracle.open_mode.to_ascii_uppercase();
            if open_mode.contains("READ ONLY") || oracle.database_role.to_ascii_uppercase().contains("STANDBY") {
                return Some(format!(
                    "the database is {} ({}): it takes no changes",
                    oracle.open_mode, oracle.database_role
                ));
            }
            let object = class.object.as_deref().unwrap_or_default();
            let operation = class.operation.as_deref().unwrap_or_default();
            let adds_file = object == "TABLESPACE"
                && (operation.starts_with("ADD DATAFILE") || operation.starts_with("ADD TEMPFILE"));
            if adds_file {
                let tablespace = class.target.as_deref().map(|name| written_value(name, values)).unwrap_or_default();
                if oracle.bigfile_tablespaces.iter().any(|bigfile| bigfile.eq_ignore_ascii_case(&tablespace)) {
                    return Some(format!(
                        "{tablespace} is a BIGFILE tablespace: it takes no second file (ORA-32771); resize its file instead"
                    ));
                }
                if oracle.omf_destination.is_some() && names_a_file(&upper) {
                    return Some(
                        "Oracle-managed files are on (db_create_file_dest is set): let Oracle name the new file".into(),
                    );
                }
            }
            let changes_files = object == "TABLESPACE"
                || (object == "DATABASE" && (upper.contains(" DATAFILE") || upper.contains(" TEMPFILE")));
            if oracle.is_cdb && changes_files && oracle.current_container.eq_ignore_ascii_case("CDB$ROOT") {
                return Some(
                    "connected to CDB$ROOT: tablespace and file changes belong in the PDB that holds the data".into(),
                );
            }
            if upper.contains("CANCEL SQL") && profile.version_major < 18 {
                return Some(format!("ALTER SYSTEM CANCEL SQL needs Oracle 18c; this is {}", profile.version));
            }
            None
        }
    }
}

/// A name as written in the statement (`:tablespace` or `USERS`), with a placeholder replaced
/// by its value.
fn written_value(name: &str, values: &BTreeMap<String, String>) -> String {
    match name.strip_prefix(':') {
        Some(placeholder) => values.get(&placeholder.to_lowercase()).cloned().unwrap_or_default(),
        None => name.trim_matches('"').to_owned(),
    }
}

/// Whether an ADD DATAFILE / ADD TEMPFILE names its file (a quoted path follows the keyword).
fn names_a_file(upper: &str) -> bool {
    ["ADD DATAFILE", "ADD TEMPFILE"]
        .iter()
        .any(|keyword| upper.find(keyword).is_some_and(|at| upper[at + keyword.len()..].trim_start().starts_with('\'')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::classify::classify;
    use crate::targets::profile::OracleProfile;

    fn oracle(edit: impl FnOnce(&mut OracleProfile)) -> Profile {
        let mut facts = OracleProfile {
            banner: "Oracle Database 19c".into(),
            instance_name: "orcl".into(),
            host_name: "db1".into(),
            database_role: "PRIMARY".into(),
            open_mode: "READ WRITE".into(),
            is_cdb: true,
            current_container: "APP_PDB".into(),
            containers: Vec::new(),
            is_rac: false,
            instance_count: 1,
            omf_destination: None,
            bigfile_tablespaces: vec!["BIG_DATA".into()],
            db_files: Some(200),
            pack_access: "NONE".into(),
        };
        edit(&mut facts);
        Profile {
            engine: DbKind::Oracle,
            profiled_at: String::new(),
            version: "19.21.0.0.0".into(),
            version_major: 19,
            connected_as: "SENTRI".into(),
            database_name: "ORCL".into(),
            oracle: Some(facts),
            postgres: None,
        }
    }

    fn refused(profile: Option<&Profile>, sql: &str, values: &[(&str, &str)]) -> Option<String> {
        let values = values.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        refusal(DbKind::Oracle, profile, sql, &classify(sql), &values)
    }

    #[test]
    fn each_rule_refuses_its_statement_and_lets_the_right_one_through() {
        let add = "ALTER TABLESPACE :ts ADD DATAFILE SIZE 1G AUTOEXTEND ON NEXT 256M MAXSIZE 32767M";
        let plain = oracle(|_| {});
        assert_eq!(refused(Some(&plain), add, &[("ts", "USERS")]), None);
        assert!(refused(Some(&plain), add, &[("ts", "BIG_DATA")]).expect("bigfile").contains("BIGFILE"));
        let named = "ALTER TABLESPACE users ADD DATAFILE '/u01/users02.dbf' SIZE 1G";
        assert_eq!(refused(Some(&plain), named, &[]), None);
        let omf = oracle(|facts| facts.omf_destination = Some("+DATA".into()));
        assert!(refused(Some(&omf), named, &[]).expect("omf").contains("Oracle-managed"));
        assert_eq!(refused(Some(&omf), add, &[("ts", "USERS")]), None, "OMF without a name is right");
        let root = oracle(|facts| facts.current_container = "CDB$ROOT".into());
        assert!(refused(Some(&root), add, &[("ts", "USERS")]).expect("root").contains("CDB$ROOT"));
        let standby = oracle(|facts| facts.open_mode = "READ ONLY WITH APPLY".into());
        assert!(refused(Some(&standby), add, &[("ts", "USERS")]).expect("read only").contains("READ ONLY"));
        let mut old = oracle(|_| {});
        old.version_major = 12;
        let cancel = "ALTER SYSTEM CANCEL SQL '12, 345, @1, 7b2twsn8vgfsc'";
        assert!(refused(Some(&old), cancel, &[]).expect("version").contains("18c"));
        assert_eq!(refused(Some(&plain), cancel, &[]), None);
    }

    #[test]
    fn without_a_profile_only_queries_pass() {
        assert!(refused(None, "ALTER TABLESPACE users ADD DATAFILE SIZE 1G", &[]).is_some());
        assert_eq!(refused(None, "SELECT 1 FROM dual", &[]), None);
    }
}
