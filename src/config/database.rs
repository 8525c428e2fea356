//! The databases under care, as `sentri.yaml` describes them, with their credentials resolved
//! from the environment.
//!
//! Connection strings come in the shapes DBAs already use (`oracle://user@host:1521/svc`,
//! `host:port/service`, `user/password@tns_alias`, TNS descriptors, `postgres://` URLs,
//! libpq `key=value` strings). A password embedded in one is cut out and never used: the
//! reference product kept `user:pass` as the *username*, which put the password in logs.

use super::Secret;
use super::diagnostics::{Diagnostics, Position, WarningKind};
use super::yaml::{Fields, Node};

pub use crate::domain::{DbKind, Environment};

/// A per-database setting of how much Sentri may do on its own. It can only make a database
/// stricter than its environment's default (DEV autonomous, UAT supervised, PROD advisory),
/// never looser — the Safety Mesh's policy gate applies the stricter of the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AutonomyLevel {
    /// Fixes the brain's action rules allow run without approval.
    Autonomous,
    /// Low-risk fixes run; anything riskier waits for approval.
    Supervised,
    /// Every fix waits for a human approval of its exact plan.
    Advisory,
}

impl AutonomyLevel {
    /// The spellings accepted in the file (case-insensitive).
    pub const ALLOWED: &'static str = "AUTONOMOUS, SUPERVISED, ADVISORY";

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "AUTONOMOUS" => Some(Self::Autonomous),
            "SUPERVISED" => Some(Self::Supervised),
            "ADVISORY" => Some(Self::Advisory),
            _ => None,
        }
    }
}

/// One database under care, with credentials resolved. Built only by the loader, so every
/// instance has passed validation.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Unique name (case-insensitively); alert emails are matched to it and its aliases.
    pub name: String,
    /// Oracle or PostgreSQL: from `engine:` / `db_engine:`, else inferred from the
    /// connection string.
    pub engine: DbKind,
    /// The connection string with any embedded password removed.
    pub connection_string: String,
    /// DEV, UAT or PROD.
    pub environment: Environment,
    /// The account to connect as: `SENTRI_DB_<NAME>_USERNAME`, else `username:`, else the
    /// user in the connection string, else `sentri_agent` for Oracle. `None` only for a
    /// PostgreSQL target that names no user (the driver's default applies).
    pub username: Option<String>,
    /// From `SENTRI_DB_<NAME>_PASSWORD` only.
    pub password: Option<Secret>,
    /// Other names alert emails use for this database (matched case-insensitively).
    pub aliases: Vec<String>,
    /// Per-database override of the environment's autonomy.
    pub autonomy_level: Option<AutonomyLevel>,
    /// Oracle release as written (`19c`, `12.2`), a hint until the profiler has run.
    pub oracle_version: Option<String>,
    /// STANDALONE, CDB, RAC, … upper-cased; a hint until the profiler has run.
    pub architecture: String,
    /// Schemas whose objects fixes must not touch without a human.
    pub critical_schemas: Vec<String>,
    /// Who owns the application, for notifications.
    pub business_owner: Option<String>,
    /// The DBA responsible, for notifications.
    pub dba_owner: Option<String>,
}

impl DatabaseConfig {
    /// Whether `name` is this database's name or one of its aliases (case-insensitive, exact).
    pub fn answers_to(&self, name: &str) -> bool {
        let name = name.trim();
        self.name.eq_ignore_ascii_case(name) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// The account Sentri uses on Oracle when nothing else names one (the reference's default).
pub const DEFAULT_ORACLE_USER: &str = "sentri_agent";

/// The `<NAME>` part of the per-database environment variables: upper-cased, `-` → `_`.
fn env_name(db_name: &str) -> String {
    db_name.trim().to_uppercase().replace('-', "_")
}

/// `SENTRI_DB_<NAME>_PASSWORD`: where a database's password comes from. Public so the CLI can
/// print it as a hint when a connection fails for want of a password.
pub fn password_env_var(db_name: &str) -> String {
    format!("SENTRI_DB_{}_PASSWORD", env_name(db_name))
}

/// `SENTRI_DB_<NAME>_USERNAME`: overrides the account a database is reached with.
pub fn username_env_var(db_name: &str) -> String {
    format!("SENTRI_DB_{}_USERNAME", env_name(db_name))
}

/// A connection string taken apart just enough to find the user and cut out a password.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ParsedConnection {
    /// The string with the password removed.
    pub(crate) sanitized: String,
    /// The user named in it, if any.
    pub(crate) user: Option<String>,
    /// Whether a password was found (and removed).
    pub(crate) had_password: bool,
    /// The URL scheme, lower-cased (`oracle`, `postgres`…), if it is a URL.
    pub(crate) scheme: Option<String>,
    /// Whether it is a libpq `key=value` string.
    pub(crate) keyword_form: bool,
}

/// Splits `user[:password]` or `user[/password]`.
fn split_userinfo(userinfo: &str) -> (String, bool) {
    match userinfo.find([':', '/']) {
        Some(i) => (percent_decode(&userinfo[..i]), true),
        None => (percent_decode(userinfo), false),
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = s.get(i + 1..i + 3)
            && let Ok(b) = u8::from_str_radix(hex, 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn parse_connection_string(s: &str) -> ParsedConnection {
    let mut parsed = parse_connection_parts(s.trim());
    if parsed.keyword_form {
        return parsed;
    }
    // `postgres://h/db?user=bob&password=x`, `h:1521/svc?password=x`: query parameters can
    // carry credentials too.
    if let Some((base, query)) = parsed.sanitized.split_once('?') {
        let mut kept = Vec::new();
        for parameter in query.split('&') {
            let key = parameter.split('=').next().unwrap_or_default().to_ascii_lowercase();
            match key.as_str() {
                "password" | "passwd" | "pwd" => parsed.had_password = true,
                "user" if parsed.user.is_none() => {
                    parsed.user =
                        parameter.split_once('=').map(|(_, value)| percent_decode(value)).filter(|u| !u.is_empty());
                    kept.push(parameter);
                }
                _ => kept.push(parameter),
            }
        }
        parsed.sanitized = if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) };
    }
    parsed
}

fn parse_connection_parts(s: &str) -> ParsedConnection {
    if let Some((scheme, rest)) = s.split_once("://") {
        // The user part ends at the last `@` before any query string (a password may contain
        // `@` or `/`; a host or service name does not contain `@`).
        let query_start = rest.find('?').unwrap_or(rest.len());
        let (user, had_password, host_part) = match rest[..query_start].rfind('@') {
            Some(at) => {
                let (user, had_password) = split_userinfo(&rest[..at]);
                (Some(user).filter(|u| !u.is_empty()), had_password, &rest[at + 1..])
            }
            None => (None, false, rest),
        };
        let sanitized = match (&user, had_password) {
            (_, false) => s.to_owned(),
            (Some(_), true) => {
                let at = rest[..query_start].rfind('@').unwrap_or(0);
                let userinfo = &rest[..at];
                let raw_user = &userinfo[..userinfo.find([':', '/']).unwrap_or(userinfo.len())];
                format!("{scheme}://{raw_user}@{host_part}")
            }
            (None, true) => format!("{scheme}://{host_part}"),
        };
        return ParsedConnection {
            sanitized,
            user,
            had_password,
            scheme: Some(scheme.to_ascii_lowercase()),
            keyword_form: false,
        };
    }
    // libpq `key=value …` starts with a bare keyword; EZConnect (`host:1521/svc?k=v`) and
    // descriptors (`(DESCRIPTION=…)`) do not.
    if s.split_once('=')
        .is_some_and(|(k, _)| !k.trim().is_empty() && k.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        return parse_keyword_form(s);
    }
    if !s.starts_with('(')
        && let Some(at) = s.rfind('@')
    {
        // Oracle's `user/password@dsn` (or `user@dsn`).
        let userinfo = &s[..at];
        let dsn = &s[at + 1..];
        let (user, had_password) = split_userinfo(userinfo);
        let raw_user = &userinfo[..userinfo.find([':', '/']).unwrap_or(userinfo.len())];
        let sanitized = if raw_user.is_empty() { dsn.to_owned() } else { format!("{raw_user}@{dsn}") };
        return ParsedConnection {
            sanitized,
            user: Some(user).filter(|u| !u.is_empty()),
            had_password,
            scheme: None,
            keyword_form: false,
        };
    }
    ParsedConnection { sanitized: s.to_owned(), user: None, had_password: false, scheme: None, keyword_form: false }
}

/// libpq `host=… port=… dbname=… user=… password=…`; values may be single-quoted.
fn parse_keyword_form(s: &str) -> ParsedConnection {
    let mut kept = Vec::new();
    let mut user = None;
    let mut had_password = false;
    let mut rest = s.trim_start();
    while !rest.is_empty() {
        let (key, after_key) = match rest.split_once('=') {
            Some((k, a)) => (k.trim(), a.trim_start()),
            None => {
                kept.push(rest.to_owned());
                break;
            }
        };
        let (value, remainder) = if let Some(quoted) = after_key.strip_prefix('\'') {
            let mut end = None;
            let mut escaped = false;
            for (i, c) in quoted.char_indices() {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '\'') => {
                        end = Some(i);
                        break;
                    }
                    _ => {}
                }
            }
            let end = end.unwrap_or(quoted.len());
            (&after_key[..(end + 2).min(after_key.len())], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = after_key.find(char::is_whitespace).unwrap_or(after_key.len());
            (&after_key[..end], &after_key[end..])
        };
        if key.eq_ignore_ascii_case("password") {
            had_password = true;
        } else {
            if key.eq_ignore_ascii_case("user") {
                user = Some(value.trim_matches('\'').to_owned()).filter(|u| !u.is_empty());
            }
            kept.push(format!("{key}={value}"));
        }
        rest = remainder.trim_start();
    }
    ParsedConnection { sanitized: kept.join(" "), user, had_password, scheme: None, keyword_form: true }
}

/// Schemes of engines the reference listed but Sentri does not support.
const UNSUPPORTED_ENGINES: &[&str] = &["snowflake", "sqlserver", "mssql", "mysql", "mariadb"];

fn parse_engine(s: &str) -> Result<DbKind, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "oracle" => Ok(DbKind::Oracle),
        "postgres" | "postgresql" => Ok(DbKind::Postgres),
        "sandbox" => Ok(DbKind::Sandbox),
        other if UNSUPPORTED_ENGINES.contains(&other) => {
            Err(format!("engine `{other}` is not supported (supported: oracle, postgres)"))
        }
        other => Err(format!("unknown engine `{other}` (allowed: oracle, postgres, sandbox)")),
    }
}

/// The engine a connection string implies: `postgres://`, `postgresql://` and libpq
/// `key=value` strings are PostgreSQL; `sandbox:NAME` is the SIMULATED Oracle of `sentri demo`;
/// every other shape is Oracle.
fn infer_engine(parsed: &ParsedConnection) -> Result<DbKind, String> {
    if crate::domain::sandbox_world_name(&parsed.sanitized).is_some() {
        return Ok(DbKind::Sandbox);
    }
    if parsed.keyword_form {
        return Ok(DbKind::Postgres);
    }
    match parsed.scheme.as_deref() {
        Some("postgres" | "postgresql") => Ok(DbKind::Postgres),
        Some(s) if UNSUPPORTED_ENGINES.contains(&s) => {
            Err(format!("`{s}://` databases are not supported (supported: oracle, postgres)"))
        }
        _ => Ok(DbKind::Oracle),
    }
}

/// What identifies a database entry: known even when the entry has other problems, so that
/// duplicate names are reported alongside them.
pub(crate) struct Identity {
    path: String,
    name_position: Option<Position>,
    aliases_position: Option<Position>,
    name: String,
    aliases: Vec<String>,
}

impl Identity {
    fn answers_to(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name) || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// Reads one `databases[i]` entry: its identity (when it has a name) and its configuration
/// (`None` when it has a problem, recorded in `d`).
pub(crate) fn read_database(
    node: &Node,
    path: &str,
    d: &mut Diagnostics,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<Identity>, Option<DatabaseConfig>) {
    let mut f = Fields::new(Some(node), path, d);
    let problems_before = d.problems.len();

    let name = f.string(d, "name").map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if name.is_none() {
        d.problem(f.position(), f.key_path("name"), "required key is missing");
    }
    // How this entry is named in messages: `databases[1] (PROD-DB-07)`.
    let label = match &name {
        Some(n) => format!("database {n}"),
        None => "this database".to_owned(),
    };
    let password_var = password_env_var(name.as_deref().unwrap_or("<NAME>"));
    let username_var = username_env_var(name.as_deref().unwrap_or("<NAME>"));

    if let Some(n) = &name
        && !n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        d.warn(
            f.get("name").map(|n| n.position),
            f.key_path("name"),
            WarningKind::Questionable,
            format!(
                "{n:?} contains characters other than letters, digits, `-` and `_`, so its \
                 credentials variable {password_var} cannot be set from a shell"
            ),
        );
    }

    let connection = f.string(d, "connection_string").filter(|c| !c.trim().is_empty());
    if connection.is_none() {
        d.problem(f.position(), f.key_path("connection_string"), format!("required key is missing for {label}"));
    }
    let parsed = connection.as_deref().map(parse_connection_string);
    if let Some(p) = &parsed
        && p.had_password
    {
        d.warn(
            f.get("connection_string").map(|n| n.position),
            f.key_path("connection_string"),
            WarningKind::SecretInFile { env_var: password_var.clone() },
            format!(
                "the password embedded in the connection string of {label} is ignored and \
                 removed; set {password_var} instead"
            ),
        );
    }

    let environment = match f.string(d, "environment") {
        None => {
            d.problem(
                f.position(),
                f.key_path("environment"),
                format!("required key is missing for {label} (allowed: {})", Environment::ALLOWED),
            );
            None
        }
        Some(e) => {
            let parsed = Environment::parse(&e);
            if parsed.is_none() {
                d.problem(
                    f.get("environment").map(|n| n.position),
                    f.key_path("environment"),
                    format!("{label}: unknown environment `{e}` (allowed: {})", Environment::ALLOWED),
                );
            }
            parsed
        }
    };

    // `engine:` is ours; `db_engine:` is the reference product's name for it.
    let engine_written = match (f.string(d, "engine"), f.string(d, "db_engine")) {
        (Some(a), Some(b)) if !a.trim().eq_ignore_ascii_case(b.trim()) => {
            d.problem(
                f.get("db_engine").map(|n| n.position),
                f.key_path("db_engine"),
                format!("{label}: `engine: {a}` and `db_engine: {b}` disagree; keep one"),
            );
            None
        }
        (Some(e), _) => Some(("engine", e)),
        (None, Some(e)) => Some(("db_engine", e)),
        (None, None) => None,
    };
    let engine = match (engine_written, &parsed) {
        (Some((key, e)), parsed) => match parse_engine(&e) {
            Ok(engine) => {
                let implied = parsed.as_ref().and_then(|p| infer_engine(p).ok());
                let scheme_named = parsed.as_ref().is_some_and(|p| p.scheme.is_some() || p.keyword_form);
                if scheme_named && implied.is_some_and(|i| i != engine) {
                    d.problem(
                        f.get("connection_string").map(|n| n.position),
                        f.key_path("connection_string"),
                        format!(
                            "{label}: `{key}: {engine}` but the connection string is for {}",
                            implied.map_or_else(String::new, |i| i.to_string())
                        ),
                    );
                }
                Some(engine)
            }
            Err(message) => {
                d.problem(f.get(key).map(|n| n.position), f.key_path(key), format!("{label}: {message}"));
                None
            }
        },
        (None, Some(p)) => match infer_engine(p) {
            Ok(engine) => Some(engine),
            Err(message) => {
                d.problem(
                    f.get("connection_string").map(|n| n.position),
                    f.key_path("connection_string"),
                    format!("{label}: {message}"),
                );
                None
            }
        },
        (None, None) => None,
    };

    f.secret_in_file(d, "password", &password_var);
    let username_written = f.string(d, "username").map(|u| u.trim().to_owned()).filter(|u| !u.is_empty());
    let aliases = f.list(d, "aliases");
    let autonomy_level = f.string(d, "autonomy_level").and_then(|a| {
        let parsed = AutonomyLevel::parse(&a);
        if parsed.is_none() {
            d.problem(
                f.get("autonomy_level").map(|n| n.position),
                f.key_path("autonomy_level"),
                format!("{label}: unknown autonomy level `{a}` (allowed: {})", AutonomyLevel::ALLOWED),
            );
        }
        parsed
    });
    let oracle_version = f.string(d, "oracle_version").filter(|v| !v.trim().is_empty());
    let architecture = f
        .string(d, "architecture")
        .map(|a| a.trim().to_ascii_uppercase())
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| "STANDALONE".to_owned());
    let critical_schemas = f.list(d, "critical_schemas");
    let business_owner = f.string(d, "business_owner").filter(|v| !v.trim().is_empty());
    let dba_owner = f.string(d, "dba_owner").filter(|v| !v.trim().is_empty());
    let identity = name.clone().map(|name| Identity {
        path: path.to_owned(),
        name_position: f.get("name").map(|n| n.position),
        aliases_position: f.get("aliases").map(|n| n.position),
        name,
        aliases: aliases.clone(),
    });
    f.finish(d);

    if d.problems.len() > problems_before {
        return (identity, None);
    }
    let (Some(name), Some(parsed), Some(environment), Some(engine)) = (name, parsed, environment, engine) else {
        return (identity, None);
    };

    let non_empty = |var: &str| env(var).filter(|v| !v.is_empty());
    let username = non_empty(&username_var)
        .or(username_written)
        .or_else(|| parsed.user.clone())
        .or_else(|| (engine == DbKind::Oracle).then(|| DEFAULT_ORACLE_USER.to_owned()));
    let password = non_empty(&password_var).map(Secret::new);

    let config = DatabaseConfig {
        name,
        engine,
        connection_string: parsed.sanitized,
        environment,
        username,
        password,
        aliases,
        autonomy_level,
        oracle_version,
        architecture,
        critical_schemas,
        business_owner,
        dba_owner,
    };
    (identity, Some(config))
}

/// Checks across databases: unique names, aliases that point at one database only, and
/// credential variables that do not collide (`PROD-DB` and `PROD_DB` would share one).
pub(crate) fn check_unique(entries: &[Identity], d: &mut Diagnostics) {
    for (i, db) in entries.iter().enumerate() {
        for earlier in &entries[..i] {
            if earlier.name.eq_ignore_ascii_case(&db.name) {
                d.problem(
                    db.name_position,
                    format!("{}.name", db.path),
                    format!(
                        "database name `{}` is already used by {} (names are compared \
                         case-insensitively)",
                        db.name, earlier.path
                    ),
                );
            } else if password_env_var(&earlier.name) == password_env_var(&db.name) {
                d.problem(
                    db.name_position,
                    format!("{}.name", db.path),
                    format!(
                        "databases `{}` and `{}` ({}) would share the credentials variable \
                         {}; rename one",
                        db.name,
                        earlier.name,
                        earlier.path,
                        password_env_var(&db.name)
                    ),
                );
            }
            for alias in &db.aliases {
                if earlier.answers_to(alias) {
                    d.problem(
                        db.aliases_position,
                        format!("{}.aliases", db.path),
                        format!(
                            "alias `{alias}` of database {} also names database {} ({}); an \
                             alert naming it would be ambiguous",
                            db.name, earlier.name, earlier.path
                        ),
                    );
                }
            }
            if let Some(alias) = earlier.aliases.iter().find(|a| a.eq_ignore_ascii_case(&db.name)) {
                d.problem(
                    db.name_position,
                    format!("{}.name", db.path),
                    format!(
                        "`{}` is also an alias (`{alias}`) of database {} ({}); an alert \
                         naming it would be ambiguous",
                        db.name, earlier.name, earlier.path
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_query_parameters_are_removed() {
        let p = parse_connection_string("postgres://h/db?user=bob&password=pgsecret99&sslmode=require");
        assert_eq!(p.sanitized, "postgres://h/db?user=bob&sslmode=require");
        assert!(p.had_password);
        assert_eq!(p.user.as_deref(), Some("bob"));
        let p = parse_connection_string("h:1521/S?PWD=x");
        assert_eq!(p.sanitized, "h:1521/S");
        assert!(p.had_password);
        assert!(!p.sanitized.contains('x'));
    }

    #[test]
    fn env_var_names_follow_the_reference_pattern() {
        assert_eq!(password_env_var("PROD-DB-07"), "SENTRI_DB_PROD_DB_07_PASSWORD");
        assert_eq!(username_env_var("dev-db-01"), "SENTRI_DB_DEV_DB_01_USERNAME");
    }

    #[test]
    fn url_with_password_is_split() {
        let p = parse_connection_string("oracle://scott:tig@r/x@db-host:1521/ORCL");
        assert_eq!(p.user.as_deref(), Some("scott"));
        assert!(p.had_password);
        assert_eq!(p.sanitized, "oracle://scott@db-host:1521/ORCL");
        assert!(!p.sanitized.contains("tig"));
    }

    #[test]
    fn oracle_slash_form_is_split() {
        let p = parse_connection_string("scott/tiger@PRODDB");
        assert_eq!(p.user.as_deref(), Some("scott"));
        assert!(p.had_password);
        assert_eq!(p.sanitized, "scott@PRODDB");
    }

    #[test]
    fn shapes_without_credentials_are_kept() {
        for s in [
            "db-host:1521/ORCL",
            "PRODDB",
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=h)(PORT=1521))(CONNECT_DATA=(SERVICE_NAME=s)))",
            "tcps://h:2484/s",
        ] {
            let p = parse_connection_string(s);
            assert_eq!(p.sanitized, s);
            assert_eq!(p.user, None);
            assert!(!p.had_password);
        }
        let p = parse_connection_string("postgres://app%40x@h/db");
        assert_eq!(p.user.as_deref(), Some("app@x"));
    }

    #[test]
    fn keyword_form_drops_password() {
        let p = parse_connection_string("host=h dbname=d user=u password='s e' port=5432");
        assert_eq!(p.user.as_deref(), Some("u"));
        assert!(p.had_password);
        assert_eq!(p.sanitized, "host=h dbname=d user=u port=5432");
    }

    #[test]
    fn engine_inference() {
        let infer = |s: &str| infer_engine(&parse_connection_string(s));
        assert_eq!(infer("postgres://u@h/d"), Ok(DbKind::Postgres));
        assert_eq!(infer("postgresql://h/d"), Ok(DbKind::Postgres));
        assert_eq!(infer("host=h dbname=d"), Ok(DbKind::Postgres));
        assert_eq!(infer("oracle://u@h:1521/s"), Ok(DbKind::Oracle));
        assert_eq!(infer("h:1521/s"), Ok(DbKind::Oracle));
        assert_eq!(infer("tcps://h:2484/s"), Ok(DbKind::Oracle));
        assert_eq!(infer("PRODDB"), Ok(DbKind::Oracle));
        assert_eq!(infer("h:1521/s?connect_timeout=5"), Ok(DbKind::Oracle));
        assert_eq!(infer("(DESCRIPTION=(ADDRESS=(HOST=h)))"), Ok(DbKind::Oracle));
        assert!(infer("snowflake://acct/db").is_err_and(|e| e.contains("not supported")));
        assert!(infer("sqlserver://h/db").is_err_and(|e| e.contains("not supported")));
        assert_eq!(infer("sandbox:dev"), Ok(DbKind::Sandbox));
        assert_eq!(parse_engine("Sandbox"), Ok(DbKind::Sandbox));
    }
}
