//! Whether the configured account could write: the catalog's answer for the current user, for
//! `sentri db test` and the README's advice to give the read path a read-only role.

use super::WriteAccess;

/// What the account may do, read from the catalog for the current user.
pub(super) const WRITE_ACCESS_QUERY: &str = "\
WITH writable AS (
    SELECT format('%I.%I', n.nspname, c.relname) AS name
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%'
      AND n.nspname NOT LIKE 'pg\\_temp%'
      AND ((c.relkind IN ('r', 'p', 'v', 'f')
            AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
                 OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE')))
           OR (c.relkind = 'S' AND has_sequence_privilege(c.oid, 'UPDATE')))
)
SELECT r.rolsuper AS superuser, r.rolcreaterole AS create_role, r.rolcreatedb AS create_db,
       has_database_privilege(current_database(), 'CREATE') AS create_on_database,
       (SELECT string_agg(quote_ident(nspname), ', ' ORDER BY nspname) FROM pg_catalog.pg_namespace
         WHERE has_schema_privilege(oid, 'CREATE') AND nspname NOT LIKE 'pg\\_temp%'
           AND nspname NOT LIKE 'pg\\_toast%') AS create_schemas,
       (SELECT count(*) FROM writable) AS writable_tables,
       (SELECT string_agg(name, ', ') FROM (SELECT name FROM writable ORDER BY name LIMIT 5) w) AS writable_examples,
       current_setting('default_transaction_read_only') AS default_read_only
FROM pg_catalog.pg_roles r WHERE r.rolname = current_user";

/// The facts [`WRITE_ACCESS_QUERY`] reads.
#[derive(Debug, Default)]
pub(super) struct PostgresGrants {
    pub(super) superuser: bool,
    pub(super) create_role: bool,
    pub(super) create_db: bool,
    pub(super) create_on_database: bool,
    pub(super) create_schemas: String,
    pub(super) writable_tables: i64,
    pub(super) writable_examples: String,
    pub(super) default_read_only: bool,
}

/// Judges the facts: every way the account could write.
pub(super) fn postgres_write_access(grants: &PostgresGrants) -> WriteAccess {
    let mut reasons = Vec::new();
    if grants.superuser {
        reasons.push("superuser: can do anything".to_owned());
    }
    if grants.create_role {
        reasons.push("CREATEROLE: can create and grant roles".to_owned());
    }
    if grants.create_db {
        reasons.push("CREATEDB: can create databases".to_owned());
    }
    if grants.create_on_database {
        reasons.push("CREATE on the database: can create schemas".to_owned());
    }
    if !grants.create_schemas.is_empty() {
        reasons.push(format!("CREATE on schema(s) {}: can create tables and functions", grants.create_schemas));
    }
    if grants.writable_tables > 0 {
        reasons.push(format!(
            "INSERT/UPDATE/DELETE/TRUNCATE on {} table(s) or sequence(s), e.g. {}",
            grants.writable_tables, grants.writable_examples
        ));
    }
    let notes = if grants.default_read_only {
        vec!["default_transaction_read_only is on (a session can still turn it off)".to_owned()]
    } else {
        vec!["default_transaction_read_only is off".to_owned()]
    };
    WriteAccess::from_reasons(reasons, notes)
}
