//! Which functions and packages a statement calls, and which of them act beyond the statement.
//!
//! A `SELECT` is not a read when it calls `pg_terminate_backend` (a session dies),
//! `pg_advisory_lock` (a lock outlives the ROLLBACK and stays on the pooled connection) or an
//! Oracle function declared `PRAGMA AUTONOMOUS_TRANSACTION` (it commits its own writes inside a
//! read-only transaction). The database's read-only transaction stops none of these. The tables
//! here are the one list both the read-only gate ([`super::read_only`]) and the blast-radius
//! classification (`sql::classify`) consult.
//!
//! # PostgreSQL: a list of functions with side effects
//! PostgreSQL's `BEGIN READ ONLY` already refuses table writes, `nextval`/`setval`, and DDL. It
//! does not refuse the functions below, which act outside the transaction. Each is refused on
//! the read path, by exact name (anywhere in the text, called or not) or by prefix (when called):
//!
//! - sessions: `pg_terminate_backend`, `pg_cancel_backend`, `pg_log_backend_memory_contexts`;
//! - session state that survives ROLLBACK: `pg_advisory_*` and `pg_try_advisory_*` (every
//!   advisory lock and unlock function, session and xact alike), `set_config`;
//! - the server: `pg_reload_conf`, `pg_rotate_logfile*`, `pg_switch_wal`/`pg_switch_xlog`,
//!   `pg_create_restore_point`, `pg_promote`, `pg_wal_replay_*`, `pg_backup_*`,
//!   `pg_start_backup`, `pg_stop_backup`, `pg_notify`, `pg_import_system_collations`,
//!   `pg_stat_reset*`, `pg_stat_statements_reset`, replication slots and origins
//!   (`pg_create_*`, `pg_drop_*`, `pg_copy_*`, `pg_replication_*`, `pg_logical_*`: reading a
//!   logical slot's changes consumes them), index maintenance (`brin_*summarize*`,
//!   `gin_clean_pending_list`, `pg_truncate_visibility_map`), `binary_upgrade_*`;
//! - files and other servers: `lo_*` and `lowrite` (large objects, server files), `pg_file_*`
//!   (adminpack), `dblink*` (a second connection, which is not read-only);
//! - sequences: `nextval`, `setval` (no rollback undoes them);
//! - transaction ids: `txid_current` and `pg_current_xact_id` assign an XID to the read-only
//!   transaction (WAL, and one step nearer wraparound); the `…_if_assigned` forms do not, and
//!   are allowed;
//! - dynamic SQL: `query_to_xml*` runs a query given as text, which no gate can read.
//!
//! User-defined functions are not refused on PostgreSQL: inside `BEGIN READ ONLY` they cannot
//! write tables, and what else they may do is bounded by the account's privileges. That is why
//! the README asks for a read-only role (`pg_monitor`) on the read path, and why every pooled
//! connection is reset (`DISCARD ALL`, bar `DEALLOCATE`) before reuse (a wrapper that takes an advisory lock
//! leaves nothing behind).
//!
//! # Oracle: an allowlist
//! Oracle's `SET TRANSACTION READ ONLY` does not stop an autonomous transaction, and any user
//! function (or package function) may be one, so on the read path a call is allowed only to
//! - Oracle's built-in SQL functions ([`ORACLE_BUILTINS`]: `ROUND`, `NVL`, `TO_CHAR`,
//!   `SYS_CONTEXT`, …, and type names written like calls: `NUMBER(10)`), and
//! - the read-only members of a few supplied packages ([`ORACLE_READ_ONLY`]: `DBMS_XPLAN`
//!   display functions, `DBMS_METADATA.GET_*DDL`, `DBMS_LOB` readers, `DBMS_UTILITY` timers
//!   and formatters, `DBMS_ASSERT`, `DBMS_RANDOM`, `DBMS_STATS.GET_PREFS`),
//!
//! optionally qualified by `SYS.`. Everything else is refused, and a package named before a
//! `.` is refused even without parentheses (`DBMS_RANDOM.VALUE`-style calls need none). The
//! supplied packages that write are named in [`ORACLE_WRITING_PACKAGES`] with why, for the
//! refusal message and for blast radius: scheduler and jobs (`DBMS_SCHEDULER`, `DBMS_JOB`),
//! statistics (`DBMS_STATS` gather/set/delete), user locks that outlive the transaction
//! (`DBMS_LOCK`), messages outside transactions (`DBMS_PIPE`, `DBMS_ALERT`, `DBMS_AQ`), session
//! state (`DBMS_SESSION`, `DBMS_APPLICATION_INFO`), files and the network (`UTL_FILE`,
//! `UTL_HTTP`, `UTL_TCP`, `UTL_SMTP`, `UTL_MAIL`, `UTL_INADDR`), and dynamic SQL (`DBMS_SQL`,
//! `DBMS_XMLGEN`, …). A zero-argument user function written without parentheses
//! (`SELECT my_func FROM dual`) looks exactly like a column and cannot be caught by reading;
//! the read-only account is the guard against that.

use super::lexer::Token;

/// What a call does beyond its statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Kills or cancels another session.
    KillsSession,
    /// Writes, locks or changes state outside the transaction.
    Writes,
    /// Runs SQL given as text, which no reader can judge.
    Dynamic,
}

/// A side-effecting function or package, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SideEffect {
    pub effect: Effect,
    pub why: &'static str,
}

/// How a name in [`POSTGRES`] is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The whole name, anywhere in the text.
    Exact,
    /// A name that starts with it, when called.
    Prefix,
}

const KILL: &str = "ends another session's work";
const SESSION_LOCK: &str = "takes or releases an advisory lock, which can outlive the transaction";
const SERVER: &str = "changes the server's state outside the transaction";
const SLOT: &str = "creates, drops or consumes replication state";
const FILES: &str = "reads or writes server files or large objects";

/// PostgreSQL functions with side effects a read-only transaction does not stop (lower case).
const POSTGRES: &[(&str, Match, Effect, &str)] = &[
    ("pg_terminate_backend", Match::Exact, Effect::KillsSession, KILL),
    ("pg_cancel_backend", Match::Exact, Effect::KillsSession, KILL),
    ("pg_log_backend_memory_contexts", Match::Exact, Effect::Writes, "signals another backend"),
    ("pg_advisory_", Match::Prefix, Effect::Writes, SESSION_LOCK),
    ("pg_try_advisory_", Match::Prefix, Effect::Writes, SESSION_LOCK),
    ("set_config", Match::Exact, Effect::Writes, "changes a setting for the rest of the session"),
    ("pg_reload_conf", Match::Exact, Effect::Writes, "reloads the server configuration"),
    ("pg_rotate_logfile", Match::Prefix, Effect::Writes, SERVER),
    ("pg_switch_wal", Match::Exact, Effect::Writes, "forces a WAL switch"),
    ("pg_switch_xlog", Match::Exact, Effect::Writes, "forces a WAL switch"),
    ("pg_create_restore_point", Match::Exact, Effect::Writes, "writes a WAL record"),
    ("pg_promote", Match::Exact, Effect::Writes, "promotes a standby"),
    ("pg_wal_replay_", Match::Prefix, Effect::Writes, "pauses or resumes recovery"),
    ("pg_xlog_replay_", Match::Prefix, Effect::Writes, "pauses or resumes recovery"),
    ("pg_backup_", Match::Prefix, Effect::Writes, "starts or stops a backup"),
    ("pg_start_backup", Match::Exact, Effect::Writes, "starts a backup"),
    ("pg_stop_backup", Match::Exact, Effect::Writes, "stops a backup"),
    ("pg_notify", Match::Exact, Effect::Writes, "signals every listener"),
    ("pg_import_system_collations", Match::Exact, Effect::Writes, "writes the catalog"),
    ("pg_stat_reset", Match::Prefix, Effect::Writes, "throws statistics away"),
    ("pg_stat_statements_reset", Match::Exact, Effect::Writes, "throws statistics away"),
    ("pg_create_", Match::Prefix, Effect::Writes, SLOT),
    ("pg_drop_", Match::Prefix, Effect::Writes, SLOT),
    ("pg_copy_", Match::Prefix, Effect::Writes, SLOT),
    ("pg_replication_", Match::Prefix, Effect::Writes, SLOT),
    ("pg_logical_", Match::Prefix, Effect::Writes, SLOT),
    ("brin_summarize_", Match::Prefix, Effect::Writes, "writes an index"),
    ("brin_desummarize_range", Match::Exact, Effect::Writes, "writes an index"),
    ("gin_clean_pending_list", Match::Exact, Effect::Writes, "writes an index"),
    ("pg_truncate_visibility_map", Match::Exact, Effect::Writes, "writes a relation's visibility map"),
    ("binary_upgrade_", Match::Prefix, Effect::Writes, "writes the catalog"),
    ("lo_", Match::Prefix, Effect::Writes, FILES),
    ("lowrite", Match::Exact, Effect::Writes, FILES),
    ("pg_file_", Match::Prefix, Effect::Writes, FILES),
    ("dblink", Match::Prefix, Effect::Dynamic, "runs SQL over a second connection, which is not read-only"),
    ("nextval", Match::Exact, Effect::Writes, "moves a sequence, which no rollback undoes"),
    ("setval", Match::Exact, Effect::Writes, "moves a sequence, which no rollback undoes"),
    ("txid_current", Match::Exact, Effect::Writes, "assigns a transaction id"),
    ("pg_current_xact_id", Match::Exact, Effect::Writes, "assigns a transaction id"),
    ("query_to_xml", Match::Prefix, Effect::Dynamic, "runs a query given as text"),
];

/// Oracle supplied packages that write, lock, signal or run dynamic SQL (lower case).
pub const ORACLE_WRITING_PACKAGES: &[(&str, Effect, &str)] = &[
    ("dbms_scheduler", Effect::Writes, "creates, runs or changes scheduler jobs"),
    ("dbms_job", Effect::Writes, "submits or changes jobs"),
    ("dbms_stats", Effect::Writes, "gathers, sets or deletes optimizer statistics"),
    ("dbms_lock", Effect::Writes, "takes user locks that outlive the transaction"),
    ("dbms_pipe", Effect::Writes, "sends messages outside any transaction"),
    ("dbms_alert", Effect::Writes, "signals other sessions"),
    ("dbms_aq", Effect::Writes, "enqueues or dequeues messages"),
    ("dbms_aqadm", Effect::Writes, "administers queues"),
    ("dbms_session", Effect::Writes, "changes session state, roles or contexts"),
    ("dbms_application_info", Effect::Writes, "changes what the session reports"),
    ("dbms_system", Effect::Writes, "changes other sessions and writes trace files"),
    ("dbms_shared_pool", Effect::Writes, "purges or pins shared memory"),
    ("dbms_flashback", Effect::Writes, "rewinds the session's view of data"),
    ("dbms_redefinition", Effect::Writes, "rebuilds tables"),
    ("dbms_workload_repository", Effect::Writes, "takes snapshots and changes AWR settings"),
    ("dbms_space_admin", Effect::Writes, "changes tablespaces"),
    ("dbms_monitor", Effect::Writes, "turns tracing on or off"),
    ("dbms_resource_manager", Effect::Writes, "changes resource plans"),
    ("dbms_output", Effect::Writes, "buffers output in the session"),
    ("utl_file", Effect::Writes, "reads and writes server files"),
    ("utl_http", Effect::Writes, "makes network calls"),
    ("utl_tcp", Effect::Writes, "makes network calls"),
    ("utl_smtp", Effect::Writes, "sends mail"),
    ("utl_mail", Effect::Writes, "sends mail"),
    ("utl_inaddr", Effect::Writes, "makes network calls"),
    ("dbms_sql", Effect::Dynamic, "runs SQL built at run time"),
    ("dbms_xmlgen", Effect::Dynamic, "runs a query given as text"),
    ("dbms_xmlquery", Effect::Dynamic, "runs a query given as text"),
    ("dbms_xmlstore", Effect::Dynamic, "writes rows from XML"),
];

/// Members of Oracle supplied packages that only read (`*` for every member), lower case.
pub const ORACLE_READ_ONLY: &[(&str, &str)] = &[
    ("dbms_xplan", "display"),
    ("dbms_xplan", "display_cursor"),
    ("dbms_xplan", "display_awr"),
    ("dbms_xplan", "display_sql_plan_baseline"),
    ("dbms_xplan", "display_workload_repository"),
    ("dbms_metadata", "get_ddl"),
    ("dbms_metadata", "get_dependent_ddl"),
    ("dbms_metadata", "get_granted_ddl"),
    ("dbms_metadata", "get_xml"),
    ("dbms_lob", "getlength"),
    ("dbms_lob", "substr"),
    ("dbms_lob", "instr"),
    ("dbms_lob", "compare"),
    ("dbms_utility", "get_time"),
    ("dbms_utility", "get_cpu_time"),
    ("dbms_utility", "get_hash_value"),
    ("dbms_utility", "format_error_stack"),
    ("dbms_utility", "format_error_backtrace"),
    ("dbms_utility", "format_call_stack"),
    ("dbms_assert", "*"),
    ("dbms_random", "value"),
    ("dbms_random", "normal"),
    ("dbms_random", "string"),
    ("dbms_stats", "get_prefs"),
    ("dbms_db_version", "*"),
];

/// Oracle built-in SQL functions (and type names written like calls), lower case: the only
/// unqualified calls the Oracle read path allows.
pub const ORACLE_BUILTINS: &[&str] = &[
    "abs",
    "acos",
    "add_months",
    "approx_count_distinct",
    "ascii",
    "asciistr",
    "asin",
    "atan",
    "atan2",
    "avg",
    "bin_to_num",
    "bitand",
    "cardinality",
    "cast",
    "ceil",
    "chr",
    "coalesce",
    "collect",
    "compose",
    "concat",
    "convert",
    "corr",
    "cos",
    "cosh",
    "count",
    "covar_pop",
    "covar_samp",
    "cume_dist",
    "current_date",
    "current_timestamp",
    "dbtimezone",
    "decode",
    "decompose",
    "dense_rank",
    "dump",
    "empty_blob",
    "empty_clob",
    "exp",
    "extract",
    "first_value",
    "floor",
    "from_tz",
    "greatest",
    "grouping",
    "grouping_id",
    "group_id",
    "hextoraw",
    "initcap",
    "instr",
    "instrb",
    "json_array",
    "json_arrayagg",
    "json_object",
    "json_objectagg",
    "json_query",
    "json_table",
    "json_value",
    "lag",
    "last_day",
    "last_value",
    "lead",
    "least",
    "length",
    "lengthb",
    "listagg",
    "ln",
    "lnnvl",
    "localtimestamp",
    "log",
    "lower",
    "lpad",
    "ltrim",
    "max",
    "median",
    "min",
    "mod",
    "months_between",
    "nanvl",
    "new_time",
    "next_day",
    "nls_initcap",
    "nls_lower",
    "nls_upper",
    "nlssort",
    "nth_value",
    "ntile",
    "nullif",
    "numtodsinterval",
    "numtoyminterval",
    "nvl",
    "nvl2",
    "ora_hash",
    "percent_rank",
    "percentile_cont",
    "percentile_disc",
    "power",
    "rank",
    "ratio_to_report",
    "rawtohex",
    "regexp_count",
    "regexp_instr",
    "regexp_like",
    "regexp_replace",
    "regexp_substr",
    "remainder",
    "replace",
    "round",
    "row_number",
    "rowidtochar",
    "rpad",
    "rtrim",
    "sessiontimezone",
    "sign",
    "sin",
    "sinh",
    "soundex",
    "sqrt",
    "standard_hash",
    "stddev",
    "stddev_pop",
    "stddev_samp",
    "substr",
    "substrb",
    "sum",
    "sys_context",
    "sys_extract_utc",
    "sys_guid",
    "sysdate",
    "systimestamp",
    "tan",
    "tanh",
    "to_binary_double",
    "to_binary_float",
    "to_char",
    "to_clob",
    "to_date",
    "to_dsinterval",
    "to_multi_byte",
    "to_nchar",
    "to_number",
    "to_single_byte",
    "to_timestamp",
    "to_timestamp_tz",
    "to_yminterval",
    "translate",
    "treat",
    "trim",
    "trunc",
    "tz_offset",
    "uid",
    "unistr",
    "upper",
    "user",
    "userenv",
    "validate_conversion",
    "var_pop",
    "var_samp",
    "variance",
    "vsize",
    "width_bucket",
    "xmlagg",
    "xmlcast",
    "xmlelement",
    "xmlforest",
    "xmlserialize",
    "xmltable",
    "xmltype",
    "xmlquery",
    "xmlexists",
    "xmlattributes",
    "number",
    "varchar2",
    "nvarchar2",
    "varchar",
    "char",
    "nchar",
    "raw",
    "timestamp",
    "float",
    "decimal",
    "integer",
    "day",
    "second",
    "year",
    "month",
];

/// Words that may stand before `(` without being a call.
const NOT_CALLS: &[&str] = &[
    "ALL",
    "AND",
    "ANY",
    "APPLY",
    "ARRAY",
    "AS",
    "BETWEEN",
    "BY",
    "CASE",
    "CROSS",
    "CUBE",
    "DEFINE",
    "DIMENSION",
    "DISTINCT",
    "ELSE",
    "EXCEPT",
    "EXISTS",
    "FETCH",
    "FILTER",
    "FOR",
    "FROM",
    "FULL",
    "GROUP",
    "HAVING",
    "IN",
    "INNER",
    "INTERSECT",
    "INTO",
    "IS",
    "JOIN",
    "KEEP",
    "LATERAL",
    "LEFT",
    "LIKE",
    "MATCH_RECOGNIZE",
    "MEASURES",
    "MINUS",
    "MODEL",
    "MULTISET",
    "NATURAL",
    "NOT",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PARTITION",
    "PATTERN",
    "PIVOT",
    "PRIOR",
    "RETURNING",
    "RIGHT",
    "ROLLUP",
    "ROW",
    "ROWS",
    "SAMPLE",
    "SEED",
    "SELECT",
    "SET",
    "SETS",
    "SOME",
    "TABLE",
    "THEN",
    "UNION",
    "UNPIVOT",
    "USING",
    "VALUES",
    "WHEN",
    "WHERE",
    "WITH",
    "WITHIN",
];

/// A dotted name in the text (`a`, `pg_catalog.pg_terminate_backend`, `sys.dbms_lock.request`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Each part, lower-cased (quoted parts folded too).
    pub segments: Vec<String>,
    /// Followed by `(` as a function call (not an alias's or a CTE's column list, not a type
    /// after `::`, not a keyword such as `IN (`).
    pub called: bool,
}

impl Reference {
    /// The name as written in messages: `pg_catalog.pg_terminate_backend`.
    pub fn dotted(&self) -> String {
        self.segments.join(".")
    }
}

/// Every dotted name in `tokens`, in order.
pub fn references(tokens: &[Token]) -> Vec<Reference> {
    let is_name = |t: &Token| matches!(t, Token::Word(_) | Token::Quoted(_));
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if !is_name(&tokens[i]) || (i > 0 && tokens[i - 1] == Token::Punct('.')) {
            i += 1;
            continue;
        }
        let start = i;
        let mut segments = vec![tokens[i].name().unwrap_or_default()];
        while tokens.get(i + 1) == Some(&Token::Punct('.')) && tokens.get(i + 2).is_some_and(is_name) {
            i += 2;
            segments.push(tokens[i].name().unwrap_or_default());
        }
        let end = i;
        let called = tokens.get(end + 1) == Some(&Token::Open) && is_call(tokens, start, end, &segments);
        found.push(Reference { segments, called });
        i = end + 1;
    }
    found
}

/// Whether the name at `start..=end`, followed by `(`, is a function call.
fn is_call(tokens: &[Token], start: usize, end: usize, segments: &[String]) -> bool {
    let previous = start.checked_sub(1).map(|index| &tokens[index]);
    // `AS x(a, b)` and `f(…) x(a)`: an alias's column list; `::numeric(10, 2)`: a type.
    if previous.is_some_and(|t| t.is_word("AS") || *t == Token::Close || *t == Token::Cast) {
        return false;
    }
    if segments.len() == 1 && tokens[start].word().is_some_and(|w| NOT_CALLS.contains(&w.as_str())) {
        return false;
    }
    // `WITH c (a, b) AS (…)`: a CTE's column list, names only, then `AS (` or `AS [NOT] MATERIALIZED`.
    let open = end + 1;
    let close = matching_close(tokens, open);
    let names_only = tokens
        .get(open + 1..close)
        .is_some_and(|inner| inner.iter().all(|t| matches!(t, Token::Word(_) | Token::Quoted(_) | Token::Punct(','))));
    // The body must open with a statement: `f(a) AS (r text)` is a call with a column
    // definition list (`FROM dblink(c, q) AS (r text)`), not a CTE.
    let body = |offset: usize| tokens.get(close + offset);
    let statement_word = |t: Option<&Token>| {
        t.and_then(Token::word).is_some_and(|w| {
            matches!(w.as_str(), "SELECT" | "WITH" | "VALUES" | "TABLE" | "INSERT" | "UPDATE" | "DELETE" | "MERGE")
        }) || t == Some(&Token::Open)
    };
    let then_as = body(1).is_some_and(|t| t.is_word("AS"))
        && ((body(2) == Some(&Token::Open) && statement_word(body(3)))
            || body(2).is_some_and(|t| t.is_word("MATERIALIZED") || t.is_word("NOT")));
    !(names_only && then_as)
}

/// The index of the `)` matching the `(` at `open`, or the end of the tokens.
fn matching_close(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (index, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return index;
                }
            }
            _ => {}
        }
    }
    tokens.len().saturating_sub(1).max(open)
}

/// The side effect of a PostgreSQL function named `name` (lower case), called or (for exact
/// names) merely named.
pub fn postgres(name: &str, called: bool) -> Option<SideEffect> {
    POSTGRES
        .iter()
        .find(|(known, matching, _, _)| match matching {
            Match::Exact => name == *known,
            Match::Prefix => called && name.starts_with(known),
        })
        .map(|(_, _, effect, why)| SideEffect { effect: *effect, why })
}

/// Whether `package.member` (lower case) is a supplied Oracle package function that only reads.
pub fn oracle_read_only(package: &str, member: &str) -> bool {
    ORACLE_READ_ONLY
        .iter()
        .any(|(known, known_member)| *known == package && (*known_member == "*" || *known_member == member))
}

/// The side effect of naming Oracle package `package` (lower case) before a `.` with `member`
/// after it. A supplied package (`dbms_*`, `utl_*`) that is neither listed as writing nor as
/// read-only is assumed to write.
pub fn oracle_package(package: &str, member: &str) -> Option<SideEffect> {
    if oracle_read_only(package, member) {
        return None;
    }
    if let Some((_, effect, why)) = ORACLE_WRITING_PACKAGES.iter().find(|(known, _, _)| *known == package) {
        return Some(SideEffect { effect: *effect, why });
    }
    (package.starts_with("dbms_") || package.starts_with("utl_"))
        .then_some(SideEffect { effect: Effect::Writes, why: "is a supplied package not known to only read" })
}

/// The side effect of a reference whatever the engine (blast radius does not know it): the
/// PostgreSQL list for each part, and the Oracle package rules for each part followed by
/// another. `None` when nothing listed is called.
pub fn any_engine(reference: &Reference) -> Option<(String, SideEffect)> {
    let last = reference.segments.len() - 1;
    for (index, segment) in reference.segments.iter().enumerate() {
        let called = index < last || reference.called;
        if let Some(effect) = postgres(segment, called) {
            return Some((segment.clone(), effect));
        }
        if index < last
            && let Some(effect) = oracle_package(segment, &reference.segments[index + 1])
        {
            return Some((segment.clone(), effect));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::lexer::{Dialect, lex};

    fn calls(sql: &str) -> Vec<String> {
        references(&lex(sql, Dialect::Generic).tokens).into_iter().filter(|r| r.called).map(|r| r.dotted()).collect()
    }

    #[test]
    fn calls_are_names_before_parentheses_but_not_aliases_types_or_keywords() {
        assert_eq!(calls("SELECT count(*) FROM t WHERE a IN (1) AND EXISTS (SELECT 1)"), ["count"]);
        assert_eq!(calls("SELECT pg_catalog.pg_terminate_backend(pid) FROM x"), ["pg_catalog.pg_terminate_backend"]);
        assert_eq!(calls("SELECT \"pg_cancel_backend\"(1)"), ["pg_cancel_backend"]);
        assert_eq!(calls("SELECT * FROM dblink('c', 'q') AS x(a int)"), ["dblink"]);
        assert_eq!(calls("SELECT g.i FROM generate_series(1, 3) g(i)"), ["generate_series"]);
        assert_eq!(calls("SELECT x::numeric(10, 2), CAST(y AS NUMBER(10)) FROM t"), ["cast"]);
        assert_eq!(calls("WITH c (a, b) AS (SELECT 1, 2) SELECT f(a) AS (b) FROM c"), ["f"]);
        assert_eq!(calls("SELECT f(a) AS x FROM t"), ["f"]);
        assert_eq!(calls("SELECT * FROM v, LATERAL dblink(c, q) AS (r text)"), ["dblink"]);
        assert_eq!(calls("WITH RECURSIVE r (n) AS MATERIALIZED (SELECT 1) SELECT n FROM r"), Vec::<String>::new());
    }

    #[test]
    fn postgres_list_matches_exact_names_anywhere_and_prefixes_when_called() {
        assert_eq!(postgres("pg_terminate_backend", false).map(|e| e.effect), Some(Effect::KillsSession));
        assert!(postgres("pg_advisory_xact_lock_shared", true).is_some());
        assert!(postgres("pg_try_advisory_lock", true).is_some());
        assert!(postgres("lo_import", true).is_some());
        assert!(postgres("lo_value", false).is_none());
        assert!(postgres("txid_current_if_assigned", true).is_none());
        assert!(postgres("pg_stat_get_activity", true).is_none());
    }

    #[test]
    fn oracle_packages() {
        assert!(oracle_package("dbms_lock", "request").is_some());
        assert!(oracle_package("dbms_stats", "gather_table_stats").is_some());
        assert!(oracle_package("dbms_stats", "get_prefs").is_none());
        assert!(oracle_package("dbms_xplan", "display_cursor").is_none());
        assert!(oracle_package("dbms_new_thing", "x").is_some());
        assert!(oracle_package("my_pkg", "x").is_none());
    }
}
