//! The read-only gate: whether a text may run on the read path (verification, pre-flight,
//! capture, validation and investigation queries).
//!
//! The database's read-only transaction stops table writes, but not everything a `SELECT` can
//! do: it can kill a session, take an advisory lock that outlives the ROLLBACK, or (on Oracle)
//! call an autonomous-transaction function that commits. So before anything is sent, the text
//! must be exactly one plain query, with no locking clause, no `SELECT … INTO`, and no call the
//! engine's rules refuse ([`super::effects`] lists them and says why).

use super::effects::{self, Reference};
use super::lexer::{Dialect, lex};
use super::statement::{self, StatementKind};

/// Why a text may not run on the read path, in words for the DBA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub reason: String,
    /// The function or package that was refused, as written (lower case), when one was.
    pub function: Option<String>,
}

impl Refusal {
    fn new(reason: impl Into<String>) -> Refusal {
        Refusal { reason: reason.into(), function: None }
    }

    fn call(name: String, why: &str) -> Refusal {
        Refusal { reason: format!("the query calls {name}, which {why}"), function: Some(name) }
    }
}

/// Checks `sql` (terminator already stripped) for the read path of a `dialect` server.
pub fn check(sql: &str, dialect: Dialect) -> Result<(), Refusal> {
    let lexed = lex(sql, dialect);
    if let Some(problem) = lexed.unterminated {
        return Err(Refusal::new(format!("the text cannot be read: {problem}")));
    }
    let tokens = &lexed.tokens;
    match statement::statements(tokens).len() {
        0 => return Err(Refusal::new("there is no statement")),
        1 => {}
        n => return Err(Refusal::new(format!("the text holds {n} statements; the read path runs exactly one"))),
    }
    let kind = statement::kind(tokens);
    if kind != StatementKind::Query {
        return Err(Refusal::new(format!(
            "only a plain query may run on the read-only path; this is {}",
            kind.describe()
        )));
    }
    if let Some(pair) = tokens
        .windows(2)
        .find(|pair| pair[0].is_word("FOR") && ["UPDATE", "SHARE", "NO", "KEY"].iter().any(|w| pair[1].is_word(w)))
    {
        return Err(Refusal::new(format!("FOR {} locks the rows it reads", pair[1].describe())));
    }
    if tokens.iter().any(|t| t.is_word("INTO")) {
        return Err(Refusal::new("SELECT … INTO writes its result into a table or variables"));
    }
    for reference in effects::references(tokens) {
        check_reference(&reference, dialect)?;
    }
    Ok(())
}

fn check_reference(reference: &Reference, dialect: Dialect) -> Result<(), Refusal> {
    let last = reference.segments.len() - 1;
    for (index, segment) in reference.segments.iter().enumerate() {
        if let Some(effect) = effects::postgres(segment, index == last && reference.called) {
            return Err(Refusal::call(reference.dotted(), effect.why));
        }
    }
    // Supplied packages that write, on both engines: PostgreSQL's orafce extension ships
    // `utl_file` and `dbms_output` too.
    for (index, segment) in reference.segments.iter().enumerate().take(last) {
        if let Some(effect) = effects::oracle_package(segment, &reference.segments[index + 1]) {
            return Err(Refusal::call(reference.dotted(), effect.why));
        }
    }
    if dialect == Dialect::Postgres {
        return Ok(());
    }
    if reference.called && !oracle_allowed(&reference.segments) {
        return Err(Refusal::call(
            reference.dotted(),
            "is not an Oracle built-in function or a read-only supplied package function; any other function \
             may be an autonomous transaction that commits its own writes",
        ));
    }
    Ok(())
}

/// A call the Oracle read path allows: a built-in, or a read-only supplied package member,
/// optionally qualified by `SYS`.
fn oracle_allowed(segments: &[String]) -> bool {
    let unqualified = match segments {
        [sys, rest @ ..] if sys == "sys" && !rest.is_empty() => rest,
        all => all,
    };
    match unqualified {
        [name] => effects::ORACLE_BUILTINS.contains(&name.as_str()),
        [package, member] => effects::oracle_read_only(package, member),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(sql: &str, dialect: Dialect) -> Option<String> {
        check(sql, dialect).err().map(|r| r.function.unwrap_or(r.reason))
    }

    #[test]
    fn postgres_side_effects_are_refused_anywhere() {
        let pg = Dialect::Postgres;
        for (sql, function) in [
            ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'x'", "pg_terminate_backend"),
            ("select 1 from pg_stat_activity where PG_CANCEL_BACKEND(pid)", "pg_cancel_backend"),
            ("SELECT pg_catalog.pg_terminate_backend(1)", "pg_catalog.pg_terminate_backend"),
            ("SELECT \"pg_terminate_backend\"(1)", "pg_terminate_backend"),
            ("WITH k AS (SELECT pg_terminate_backend(1) AS ok) SELECT * FROM k", "pg_terminate_backend"),
            ("SELECT * FROM (SELECT pg_advisory_lock(42)) s", "pg_advisory_lock"),
            ("SELECT pg_try_advisory_xact_lock_shared(1)", "pg_try_advisory_xact_lock_shared"),
            ("SELECT set_config('search_path', 'evil', false)", "set_config"),
            ("SELECT lo_import('/etc/passwd')", "lo_import"),
            ("SELECT * FROM dblink('c', 'DELETE FROM t') AS x(a int)", "dblink"),
            ("SELECT * FROM (VALUES ('c', 'DELETE FROM t')) v(c, q), LATERAL dblink(c, q) AS (r text)", "dblink"),
            ("SELECT utl_file.fopen('/tmp', 'x', 'w')", "utl_file.fopen"),
            ("SELECT nextval('s')", "nextval"),
            ("SELECT query_to_xml('select pg_terminate_backend(1)', true, true, '')", "query_to_xml"),
            ("SELECT txid_current()", "txid_current"),
            ("SELECT pg_reload_conf()", "pg_reload_conf"),
            ("SELECT 1 FROM t WHERE x IN (SELECT pg_switch_wal())", "pg_switch_wal"),
            (r"SELECT E'\'' , pg_terminate_backend(1), '' ", "pg_terminate_backend"),
            // `--` ends at a carriage return on PostgreSQL (found by tests/properties.rs).
            ("SELECT 1 -- note\r, pg_terminate_backend(1)", "pg_terminate_backend"),
        ] {
            assert_eq!(refused(sql, pg).as_deref(), Some(function), "{sql}");
        }
    }

    #[test]
    fn postgres_reads_pass() {
        for sql in [
            "SELECT pid, pg_blocking_pids(pid) FROM pg_stat_activity WHERE state = 'active'",
            "SELECT count(*) FILTER (WHERE state = 'idle') FROM pg_stat_activity",
            "SELECT txid_current_if_assigned(), pg_size_pretty(pg_database_size(current_database()))",
            "SELECT '-- pg_terminate_backend(1)' AS note",
            "SELECT 1 /* pg_terminate_backend(1) /* nested */ still a comment */",
            "WITH RECURSIVE r (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT n FROM r",
        ] {
            assert_eq!(check(sql, Dialect::Postgres), Ok(()), "{sql}");
        }
    }

    #[test]
    fn not_a_single_plain_query_is_refused() {
        for sql in [
            "DELETE FROM t",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "EXPLAIN ANALYZE DELETE FROM t",
            "SELECT 1; SELECT 2",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * INTO copy FROM t",
            "SELECT 'open",
            "",
        ] {
            assert!(check(sql, Dialect::Postgres).is_err(), "{sql}");
        }
    }

    #[test]
    fn oracle_allows_only_builtins_and_read_only_packages() {
        let oracle = Dialect::Oracle;
        for sql in [
            "SELECT ROUND(NVL(used_percent, 0), 1) AS used_pct FROM dba_tablespace_usage_metrics WHERE tablespace_name = UPPER(:t)",
            "SELECT * FROM TABLE(DBMS_XPLAN.DISPLAY_CURSOR(:sql_id))",
            "SELECT SYS.DBMS_METADATA.GET_DDL('TABLE', 'T') FROM dual",
            "SELECT CAST(x AS NUMBER(10)), SYS_CONTEXT('USERENV', 'CON_NAME') FROM v$session",
            "SELECT LISTAGG(name, ',') WITHIN GROUP (ORDER BY name) FROM t",
        ] {
            assert_eq!(check(sql, oracle), Ok(()), "{sql}");
        }
        for (sql, function) in [
            ("SELECT my_audit_fn(1) FROM dual", "my_audit_fn"),
            ("SELECT app.pkg.fn(1) FROM dual", "app.pkg.fn"),
            ("SELECT DBMS_LOCK.REQUEST(1) FROM dual", "dbms_lock.request"),
            ("SELECT sys.dbms_pipe.send_message('p') FROM dual", "sys.dbms_pipe.send_message"),
            ("SELECT DBMS_STATS.GATHER_TABLE_STATS('A', 'B') FROM dual", "dbms_stats.gather_table_stats"),
            ("SELECT \"DBMS_SCHEDULER\".\"RUN_JOB\"('J') FROM dual", "dbms_scheduler.run_job"),
            ("SELECT UTL_HTTP.REQUEST('http://x') FROM dual", "utl_http.request"),
            ("SELECT s.NEXTVAL FROM dual", "s.nextval"),
            ("SELECT DBMS_SESSION.UNIQUE_SESSION_ID FROM dual", "dbms_session.unique_session_id"),
            ("SELECT f@remote(1) FROM dual", "remote"),
        ] {
            assert_eq!(refused(sql, oracle).as_deref(), Some(function), "{sql}");
        }
        // A lone carriage return in a `--` comment: where the comment ends is not certain.
        assert!(check("SELECT 1 FROM dual -- note\r, my_fn(1)", oracle).is_err());
        // A comment that PostgreSQL would nest is not nested on Oracle.
        assert_eq!(refused("SELECT 1 /* a /* b */ , my_fn(1) FROM dual", oracle).as_deref(), Some("my_fn"));
    }
}
