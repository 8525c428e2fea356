//! Cached database profiles: what each database is (version, CDB, RAC, OMF…), read on first
//! connect and kept so `sentri show-profile` and the engine need no round trip to know it.

use rusqlite::OptionalExtension;

use super::{SqlContext, Store, StoreError, timestamp_text};
use crate::targets::Profile;

impl Store {
    /// Stores (or replaces) the profile of `database`.
    pub fn save_profile(&self, database: &str, profile: &Profile) -> Result<(), StoreError> {
        let json = serde_json::to_string(profile)
            .map_err(|source| StoreError::Json { context: "encoding a profile", source })?;
        self.write(|tx, now| {
            tx.execute(
                "INSERT INTO db_profiles (database, engine, profile, profiled_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(database) DO UPDATE SET engine = excluded.engine, profile = excluded.profile,
                                                     profiled_at = excluded.profiled_at",
                (database, profile.engine.as_str(), &json, timestamp_text(now)),
            )
            .ctx("saving a database profile")?;
            Ok(())
        })
    }

    /// The cached profile of `database` (case-insensitive), if it was ever profiled.
    pub fn profile(&self, database: &str) -> Result<Option<Profile>, StoreError> {
        let json: Option<String> = self.read(|conn| {
            conn.query_row("SELECT profile FROM db_profiles WHERE database = ?1", [database], |row| row.get(0))
                .optional()
                .ctx("reading a database profile")
        })?;
        json.map(|json| {
            serde_json::from_str(&json).map_err(|source| StoreError::Json { context: "decoding a profile", source })
        })
        .transpose()
    }

    /// Every cached profile, by database name. A profile that no longer decodes (written by
    /// another version) is returned as its error beside its name rather than failing the list.
    pub fn profiles(&self) -> Result<Vec<StoredProfile>, StoreError> {
        let rows: Vec<(String, String, String)> = self.read(|conn| {
            let mut statement = conn
                .prepare("SELECT database, profile, profiled_at FROM db_profiles ORDER BY database COLLATE NOCASE")
                .ctx("listing database profiles")?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .ctx("listing database profiles")?
                .collect::<Result<Vec<_>, _>>()
                .ctx("reading a database profile row")?;
            Ok(rows)
        })?;
        Ok(rows
            .into_iter()
            .map(|(database, json, profiled_at)| StoredProfile {
                database,
                profiled_at,
                profile: serde_json::from_str(&json).map_err(|error| error.to_string()),
            })
            .collect())
    }
}

/// One row of `db_profiles`: the database's configured name, when it was profiled, and the
/// profile (or why it could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredProfile {
    pub database: String,
    /// RFC 3339 UTC, as the store wrote it.
    pub profiled_at: String,
    pub profile: Result<Profile, String>,
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::targets::profile::PostgresProfile;
    use crate::targets::{DbKind, Profile};

    #[test]
    fn a_profile_round_trips_and_is_replaced() {
        let store = Store::open_in_memory().expect("store");
        assert_eq!(store.profile("app").expect("read"), None);
        let mut profile = Profile {
            engine: DbKind::Postgres,
            profiled_at: "2026-11-25T00:00:00.000Z".into(),
            version: "15.18".into(),
            version_major: 15,
            connected_as: "sentri".into(),
            database_name: "app".into(),
            oracle: None,
            postgres: Some(PostgresProfile {
                server_version_num: 150018,
                in_recovery: false,
                max_connections: 100,
                extensions: vec!["plpgsql".into()],
                is_superuser: false,
            }),
        };
        store.save_profile("APP", &profile).expect("save");
        assert_eq!(store.profile("app").expect("read"), Some(profile.clone()));
        profile.version = "15.19".into();
        store.save_profile("app", &profile).expect("replace");
        assert_eq!(store.profile("App").expect("read").map(|p| p.version), Some("15.19".into()));
        store.save_profile("Billing", &profile).expect("second");
        let listed = store.profiles().expect("list");
        let names: Vec<&str> = listed.iter().map(|row| row.database.as_str()).collect();
        assert_eq!(names, ["APP", "Billing"]);
        assert_eq!(listed[0].profile.as_ref().map(|p| p.version.as_str()), Ok("15.19"));
    }
}
