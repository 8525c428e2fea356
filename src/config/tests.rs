//! Loading tests: defaults, the reference product's files, secrets, diagnostics.

use std::collections::HashMap;
use std::path::Path;

use super::*;

fn env_from(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |k| map.get(k).cloned()
}

fn load_with(text: &str, env: &[(&str, &str)]) -> Result<LoadedConfig, ConfigError> {
    Config::from_yaml(text, Path::new("sentri.yaml"), &env_from(env))
}

fn load(text: &str) -> LoadedConfig {
    match load_with(text, &[]) {
        Ok(loaded) => loaded,
        Err(e) => panic!("expected the config to load, got:\n{e}"),
    }
}

fn problems(text: &str) -> Vec<ConfigProblem> {
    match load_with(text, &[]) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        Err(other) => panic!("expected validation problems, got {other}"),
        Ok(_) => panic!("expected validation problems, the config loaded"),
    }
}

#[test]
fn empty_file_means_defaults() {
    for text in ["", "# nothing\n", "email:\n", "---\n"] {
        let loaded = load(text);
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        let c = loaded.config;
        assert_eq!(c.email.imap_port, 993);
        assert!(c.email.use_ssl);
        assert_eq!(c.email.smtp_port, 587);
        assert!(c.email.use_tls);
        assert_eq!(c.email.folder, "INBOX");
        assert!(c.email.starttls);
        assert!(!c.email.allow_plaintext);
        assert!(!c.email.smtp_ssl);
        assert!(c.databases.is_empty());
        assert_eq!(c.approvals.approval_timeout.as_secs(), 3600);
        assert!(!c.approvals.email_enabled);
        assert_eq!(c.approvals.required_approvals, 1);
        assert!(!c.approvals.forbid_self_approval);
        assert_eq!(c.monitoring.log_level, LogLevel::Info);
        assert_eq!(c.monitoring.scout_poll_interval.as_secs(), 60);
        assert_eq!(c.monitoring.orchestrator_poll_interval.as_secs(), 10);
        assert_eq!(c.monitoring.profile_refresh.map(|d| d.as_secs()), Some(24 * 3600));
        assert!(c.notifications.adapters.is_empty());
        assert_eq!(c.llm.provider, LlmProvider::None);
        assert!((c.llm.daily_cost_limit - 5.0).abs() < f64::EPSILON);
        assert!(!c.learning.enabled);
        assert_eq!(c.learning.min_observations, 5);
        assert_eq!(c.rag.default_version, "19c");
        assert!(c.rag.validate_sql);
    }
}

/// The example from the reference product's README, as its users have it.
const SEED_README: &str = r#"
email:
  imap_server: imap.gmail.com
  imap_port: 993
  username: dba-alerts@company.com
  use_ssl: true

databases:
  - name: PROD-DB-07
    connection_string: oracle://sentri_agent@prod-scan:1521/PRODDB
    environment: PROD
    username: sentri_ro
    aliases: [PRODDB, prod-db-07, PROD07]
    autonomy_level: ADVISORY
    oracle_version: "19c"
    architecture: RAC

  - name: DEV-DB-01
    connection_string: oracle://sentri_agent@dev-db-01:1521/DEVDB
    environment: DEV
    aliases: [DEVDB, dev-db-01]

approvals:
  email_enabled: true
  approval_recipients: ["dba-team@company.com"]
  approval_timeout: 3600

monitoring:
  log_level: INFO
  scout_poll_interval: 60
"#;

#[test]
fn reference_readme_config_loads_unchanged_without_warnings() {
    let loaded = match load_with(
        SEED_README,
        &[
            ("SENTRI_EMAIL_PASSWORD", "imap-pw"),
            ("SENTRI_DB_PROD_DB_07_PASSWORD", "prod-pw"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
        ],
    ) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let c = &loaded.config;
    assert_eq!(c.databases.len(), 2);
    let prod = &c.databases[0];
    assert_eq!(prod.engine, DbKind::Oracle);
    assert_eq!(prod.environment, Environment::Prod);
    assert_eq!(prod.username.as_deref(), Some("sentri_ro"));
    assert_eq!(prod.password.as_ref().map(Secret::expose), Some("prod-pw"));
    assert_eq!(prod.autonomy_level, Some(AutonomyLevel::Advisory));
    assert_eq!(prod.oracle_version.as_deref(), Some("19c"));
    assert_eq!(prod.architecture, "RAC");
    let dev = &c.databases[1];
    assert_eq!(dev.username.as_deref(), Some("sentri_agent"));
    assert!(dev.password.is_none());
    assert_eq!(dev.architecture, "STANDALONE");
    assert_eq!(c.approvals.approvers, ["dba-team@company.com"]);
    assert_eq!(c.email.from_address, "dba-alerts@company.com");
    assert_eq!(c.email.smtp_password.as_ref().map(Secret::expose), Some("imap-pw"));
    // ANTHROPIC_API_KEY alone selects Claude, as the README promises.
    assert_eq!(c.llm.provider, LlmProvider::Claude);
    assert_eq!(c.llm.model_for(LlmProvider::Claude), Some("claude-sonnet-4-5-20250929"));
}

#[test]
fn template_loads_with_no_warnings_and_no_errors() {
    let loaded = match load_with(TEMPLATE, &[]) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let names: Vec<_> = loaded.config.databases.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["DEV-DB-01", "UAT-DB-03", "PROD-DB-07"]);
    assert!(loaded.config.databases.iter().all(|d| d.engine == DbKind::Oracle));
}

#[test]
fn template_postgres_example_loads_when_uncommented() {
    let text = TEMPLATE
        .replace("  # - name: PG-APP-01", "  - name: PG-APP-01")
        .replace("  #   connection_string: postgres", "    connection_string: postgres")
        .replace("  #   environment: UAT", "    environment: UAT")
        .replace("  #   aliases: [appdb]", "    aliases: [appdb]");
    let loaded = match load_with(&text, &[]) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    let pg = loaded.config.database("APPDB").map(|d| d.engine);
    assert_eq!(pg, Some(DbKind::Postgres));
}

/// The reference product's full file shape, with the learning and rag sections and the keys
/// it shipped but never read.
#[test]
fn reference_learning_and_rag_sections_are_understood() {
    let text = r#"
email:
  username: alerts@company.com
  poll_interval: 60
  mark_as_read: true
databases: []
learning:
  enabled: true
  min_observations: 7
  judge_count: 3
  judge_agreement: 2
  monitoring_days: 14
  llm_provider: openai
  llm_model: gpt-4.1
  daily_cost_limit: 2.5
  researcher_provider: gemini
  judge_provider: diverse
rag:
  enable_web_fetch: true
  enable_embeddings: false
  cache_hours: 12
  max_docs_in_prompt: 3
  default_version: "12.2"
  validate_sql: true
"#;
    let loaded = load_with(text, &[("OPENAI_API_KEY", "sk-oa")]).unwrap_or_else(|e| panic!("{e}"));
    let kinds: Vec<_> = loaded.warnings.iter().map(|w| (w.key.as_str(), &w.kind)).collect();
    assert_eq!(kinds, [("email.poll_interval", &WarningKind::NotUsed), ("email.mark_as_read", &WarningKind::NotUsed)]);
    assert!(loaded.warnings[0].message.contains("monitoring.scout_poll_interval"));
    let c = loaded.config;
    assert!(c.learning.enabled);
    assert_eq!(c.learning.min_observations, 7);
    assert_eq!(c.llm.provider, LlmProvider::OpenAi);
    assert_eq!(c.llm.model_for(LlmProvider::OpenAi), Some("gpt-4.1"));
    // The model applies to the main provider only (the reference applied it to every one).
    assert_eq!(c.llm.model_for(LlmProvider::Gemini), Some("gemini-2.5-flash"));
    assert_eq!(c.llm.researcher_provider, Some(LlmProvider::Gemini));
    assert_eq!(c.llm.judge_provider, Some(JudgeProvider::Diverse));
    assert!((c.llm.daily_cost_limit - 2.5).abs() < f64::EPSILON);
    assert_eq!(c.llm.api_key(LlmProvider::OpenAi).map(Secret::expose), Some("sk-oa"));
    assert_eq!(c.rag.default_version, "12.2");
    assert_eq!(c.rag.cache_hours, 12);
}

#[test]
fn llm_section_wins_over_learning_keys_with_a_warning() {
    let text = "llm:\n  provider: gemini\nlearning:\n  llm_provider: openai\n";
    let loaded = load_with(text, &[("SENTRI_GEMINI_API_KEY", "g")]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.llm.provider, LlmProvider::Gemini);
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].key, "learning.llm_provider");
    assert!(loaded.warnings[0].message.contains("llm.provider"));
}

#[test]
fn llm_key_precedence() {
    let text = "llm:\n  provider: claude\n";
    let key = |env: &[(&str, &str)]| {
        load_with(text, env).ok().and_then(|l| l.config.llm.api_key(LlmProvider::Claude).map(|s| s.expose().to_owned()))
    };
    assert_eq!(
        key(&[("SENTRI_CLAUDE_API_KEY", "a"), ("SENTRI_LLM_API_KEY", "b"), ("ANTHROPIC_API_KEY", "c")]),
        Some("a".to_owned())
    );
    assert_eq!(key(&[("SENTRI_LLM_API_KEY", "b"), ("ANTHROPIC_API_KEY", "c")]), Some("b".to_owned()));
    assert_eq!(key(&[("ANTHROPIC_API_KEY", "c")]), Some("c".to_owned()));
    let warned = load_with(text, &[]).unwrap_or_else(|e| panic!("{e}"));
    assert!(warned.warnings[0].message.contains("SENTRI_CLAUDE_API_KEY"));
}

#[test]
fn local_provider_needs_base_url_and_model() {
    let p = problems("llm:\n  provider: local\n");
    let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["llm.base_url", "llm.model"]);
    let ok = load("llm:\n  provider: local\n  base_url: http://127.0.0.1:11434/v1\n  model: qwen3\n");
    assert_eq!(ok.config.llm.model_for(LlmProvider::Local), Some("qwen3"));
}

#[test]
fn llm_prices_override_the_list_and_a_bad_row_names_its_key() {
    let ok = load("llm:\n  prices:\n    claude-sonnet: {input: 2.5, output: 12}\n    qwen3: {input: 0, output: 0}\n");
    let prices = &ok.config.llm.prices;
    assert_eq!(prices["claude-sonnet"], crate::config::PriceOverride { input: 2.5, output: 12.0 });
    assert_eq!(prices["qwen3"].output, 0.0);
    let p = problems("llm:\n  prices:\n    gpt-4o: {input: 2.5}\n    gpt-5: {input: -1, output: 10}\n");
    let keys: Vec<_> = p.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["llm.prices.gpt-4o", "llm.prices.gpt-5.input"], "{p:#?}");
    assert!(p[0].message.contains("per million tokens"), "{}", p[0].message);
    assert!(ok.config.llm.classify_unmatched, "on unless turned off");
    assert!(!load("llm:\n  classify_unmatched: false\n").config.llm.classify_unmatched);
}

#[test]
fn aliases_as_list_and_as_comma_string() {
    let text = r#"
databases:
  - name: PROD-DB-07
    connection_string: prod-scan:1521/PRODDB
    environment: prod
    aliases: [PRODDB, PROD07]
    critical_schemas: "HR, FINANCE"
  - name: dev-db-01
    connection_string: dev:1521/DEVDB
    environment: Dev
    aliases: "DEVDB, dev01 ,"
"#;
    let c = load(text).config;
    assert_eq!(c.databases[0].aliases, ["PRODDB", "PROD07"]);
    assert_eq!(c.databases[0].critical_schemas, ["HR", "FINANCE"]);
    assert_eq!(c.databases[1].aliases, ["DEVDB", "dev01"]);
    assert_eq!(c.databases[1].environment, Environment::Dev);
    assert_eq!(c.database("proddb").map(|d| d.name.as_str()), Some("PROD-DB-07"));
    assert_eq!(c.database("DEV-DB-01").map(|d| d.name.as_str()), Some("dev-db-01"));
    assert_eq!(c.database("DEV01").map(|d| d.name.as_str()), Some("dev-db-01"));
    assert!(c.database("PROD").is_none(), "whole names only");
    assert!(c.database("PROD-DB-0").is_none());
}

#[test]
fn engine_is_inferred_or_taken_from_either_key() {
    let text = r#"
databases:
  - {name: A, environment: DEV, connection_string: "postgres://app@pg:5432/app"}
  - {name: B, environment: DEV, connection_string: "postgresql://pg/app"}
  - {name: C, environment: DEV, connection_string: "oracle://u@h:1521/s"}
  - {name: D, environment: DEV, connection_string: "h:1521/s"}
  - {name: E, environment: DEV, connection_string: "PRODTNS"}
  - {name: F, environment: DEV, connection_string: "tcps://h:2484/s"}
  - {name: G, environment: DEV, db_engine: postgres, connection_string: "host=pg dbname=app"}
  - {name: H, environment: DEV, engine: ORACLE, connection_string: "(DESCRIPTION=(ADDRESS=(HOST=h)))"}
"#;
    let c = load(text).config;
    let engines: Vec<_> = c.databases.iter().map(|d| d.engine).collect();
    use DbKind::{Oracle, Postgres};
    assert_eq!(engines, [Postgres, Postgres, Oracle, Oracle, Oracle, Oracle, Postgres, Oracle]);
    // A PostgreSQL target without a user leaves it to the driver; Oracle falls back.
    assert_eq!(c.databases[1].username, None);
    assert_eq!(c.databases[3].username.as_deref(), Some(DEFAULT_ORACLE_USER));
}

#[test]
fn unsupported_and_conflicting_engines_are_errors() {
    let text = r#"
databases:
  - {name: S, environment: DEV, connection_string: "snowflake://acct/db"}
  - {name: Q, environment: DEV, db_engine: sqlserver, connection_string: "h/db"}
  - {name: M, environment: DEV, engine: oracle, connection_string: "postgres://pg/app"}
"#;
    let p = problems(text);
    assert_eq!(p.len(), 3, "{p:#?}");
    assert!(p[0].message.contains("not supported"), "{}", p[0]);
    assert!(p[1].message.contains("not supported"), "{}", p[1]);
    assert_eq!(p[1].key, "databases[1].db_engine");
    assert!(p[2].message.contains("postgres"), "{}", p[2]);
}

#[test]
fn unknown_environment_names_the_database_and_allowed_values() {
    let text = "databases:\n  - name: PROD-DB-07\n    connection_string: h:1521/s\n    environment: STAGING\n";
    let p = problems(text);
    assert_eq!(p.len(), 1);
    let msg = p[0].to_string();
    assert!(msg.starts_with("sentri.yaml:4:18: databases[0].environment:"), "{msg}");
    assert!(msg.contains("PROD-DB-07"), "{msg}");
    assert!(msg.contains("STAGING"), "{msg}");
    assert!(msg.contains("DEV, UAT, PROD"), "{msg}");
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = r#"
email:
  imap_port: 99999
databases:
  - name: A
    connection_string: h/a
    environment: DEV
  - name: a
    connection_string: h/b
    environment: QA
  - connection_string: h/c
  - name: B
    environment: UAT
monitoring:
  scout_poll_interval: soon
approvals:
  approval_timeout: -5
"#;
    let err = match load_with(text, &[]) {
        Err(e) => e,
        Ok(_) => panic!("expected errors"),
    };
    let ConfigError::Invalid { problems: all, .. } = &err else { panic!("{err}") };
    let keys: Vec<_> = all.iter().map(|p| p.key.as_str()).collect();
    for expected in [
        "email.imap_port",
        "databases[1].name",
        "databases[1].environment",
        "databases[2].name",
        "databases[2].environment",
        "databases[3].connection_string",
        "monitoring.scout_poll_interval",
        "approvals.approval_timeout",
    ] {
        assert!(keys.contains(&expected), "{expected} missing from {keys:?}");
    }
    // Duplicates are found among valid entries too.
    let dup = problems(
        "databases:\n  - {name: A, connection_string: h/a, environment: DEV}\n  - {name: a, connection_string: h/b, environment: UAT}\n",
    );
    assert_eq!(dup.len(), 1);
    assert!(dup[0].message.contains("already used"), "{}", dup[0]);
    let rendered = err.to_string();
    assert!(rendered.starts_with("sentri.yaml has 8 problems:"), "{rendered}");
}

#[test]
fn ambiguous_aliases_and_colliding_variables_are_errors() {
    let p = problems(
        "databases:\n  - {name: A-1, connection_string: h/a, environment: DEV, aliases: [X]}\n  - {name: A_1, connection_string: h/b, environment: DEV, aliases: [x]}\n",
    );
    assert_eq!(p.len(), 2, "{p:#?}");
    assert!(p[0].message.contains("SENTRI_DB_A_1_PASSWORD"));
    assert!(p[1].message.contains("ambiguous"));
}

#[test]
fn unknown_key_warns_with_path_line_and_suggestion() {
    let text = r#"
databases:
  - name: A
    connection_string: h/a
    environment: DEV
  - name: B
    connection_string: h/b
    environment: UAT
    enviroment: PROD
monitoring:
  log_levle: DEBUG
colour: blue
"#;
    let w = load(text).warnings;
    assert_eq!(w.len(), 3, "{w:#?}");
    assert_eq!(w[0].key, "databases[1].enviroment");
    assert_eq!(w[0].position, Some(Position { line: 9, column: 5 }));
    assert_eq!(w[0].kind, WarningKind::UnknownKey { suggestion: Some("environment".to_owned()) });
    assert_eq!(
        w[0].to_string(),
        "sentri.yaml:9:5: databases[1].enviroment: unknown key, ignored; did you mean `environment`?"
    );
    assert_eq!(w[1].key, "monitoring.log_levle");
    assert!(w[1].message.contains("log_level"));
    assert_eq!(w[2].key, "colour");
    assert_eq!(w[2].kind, WarningKind::UnknownKey { suggestion: None });
}

#[test]
fn misspelt_required_key_shows_warning_with_the_error() {
    let text = "databases:\n  - name: A\n    connection_string: h/a\n    enviroment: DEV\n";
    let err = load_with(text, &[]).err().map(|e| e.to_string()).unwrap_or_default();
    assert!(err.contains("databases[0].environment: required key is missing"), "{err}");
    assert!(err.contains("did you mean `environment`"), "{err}");
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let text = "email:\n  imap_server: [a, b\n  imap_port: 1\n";
    match load_with(text, &[]) {
        Err(e @ ConfigError::Syntax { .. }) => {
            let msg = e.to_string();
            assert!(msg.starts_with("sentri.yaml:3:"), "{msg}");
            assert!(!msg.contains(" at line "), "{msg}");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
    match load_with("email:\n  username: a\n  username: b\n", &[]) {
        Err(e @ ConfigError::Syntax { .. }) => {
            assert_eq!(e.to_string(), "sentri.yaml:3:3: duplicate mapping key: username");
        }
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

#[test]
fn a_list_where_a_mapping_belongs_is_a_problem() {
    let p = problems("email: [a, b]\n");
    assert_eq!(p[0].key, "email");
    let p = problems("- a\n- b\n");
    assert!(p[0].message.contains("mapping"));
}

const SECRETS_IN_FILE: &str = r#"
email:
  username: alerts@company.com
  password: "imap-s3cret"
approvals:
  slack_webhook_url: https://hooks.slack.com/services/T0/B0/slack-s3cret
databases:
  - name: PROD-DB-07
    connection_string: oracle://scott:conn-s3cret@prod:1521/PRODDB
    environment: PROD
    password: db-s3cret
learning:
  claude_api_key: sk-ant-s3cret
notifications:
  adapters:
    - type: pagerduty
      routing_key: pd-s3cret
"#;

#[test]
fn secrets_in_the_file_are_ignored_with_warnings_that_never_show_them() {
    let loaded = load_with(SECRETS_IN_FILE, &[]).unwrap_or_else(|e| panic!("{e}"));
    let vars: Vec<_> = loaded
        .warnings
        .iter()
        .map(|w| match &w.kind {
            WarningKind::SecretInFile { env_var } => (w.key.as_str(), env_var.as_str()),
            other => panic!("unexpected warning {other:?}: {w}"),
        })
        .collect();
    assert_eq!(
        vars,
        [
            ("email.password", "SENTRI_EMAIL_PASSWORD"),
            ("approvals.slack_webhook_url", "SENTRI_SLACK_WEBHOOK_URL"),
            ("databases[0].connection_string", "SENTRI_DB_PROD_DB_07_PASSWORD"),
            ("databases[0].password", "SENTRI_DB_PROD_DB_07_PASSWORD"),
            ("learning.claude_api_key", "SENTRI_CLAUDE_API_KEY"),
            ("notifications.adapters[0].routing_key", "SENTRI_PAGERDUTY_ROUTING_KEY"),
        ]
    );
    let c = &loaded.config;
    assert!(c.email.password.is_none());
    assert!(c.approvals.slack_webhook_url.is_none());
    let db = &c.databases[0];
    assert!(db.password.is_none());
    assert_eq!(db.username.as_deref(), Some("scott"), "user:pass@ is split");
    assert_eq!(db.connection_string, "oracle://scott@prod:1521/PRODDB");
    assert!(c.llm.api_keys.claude.is_none());
    assert!(c.notifications.adapters[0].routing_key.is_none());

    let everything = format!("{:?}\n{:#?}", loaded.warnings, loaded.config)
        + &loaded.warnings.iter().map(ToString::to_string).collect::<String>();
    assert!(!everything.contains("s3cret"), "{everything}");
}

#[test]
fn secrets_never_print_in_debug_of_a_whole_config() {
    let env = [
        ("SENTRI_EMAIL_PASSWORD", "imap-s3cret"),
        ("SENTRI_SMTP_PASSWORD", "smtp-s3cret"),
        ("SENTRI_DB_PROD_DB_07_PASSWORD", "db-s3cret"),
        ("SENTRI_SLACK_WEBHOOK_URL", "https://hooks.slack.com/s3cret"),
        ("SENTRI_PAGERDUTY_ROUTING_KEY", "pd-s3cret"),
        ("SENTRI_CLAUDE_API_KEY", "sk-s3cret"),
    ];
    let text = "databases:\n  - {name: PROD-DB-07, connection_string: h/s, environment: PROD}\nnotifications:\n  adapters:\n    - {type: pagerduty, enabled: true}\n    - {type: webhook, url: https://x/s3cret, headers: {Authorization: Bearer s3cret}}\n";
    let loaded = load_with(text, &env).unwrap_or_else(|e| panic!("{e}"));
    let c = &loaded.config;
    assert_eq!(c.email.password.as_ref().map(Secret::expose), Some("imap-s3cret"));
    assert_eq!(c.email.smtp_password.as_ref().map(Secret::expose), Some("smtp-s3cret"));
    assert_eq!(c.databases[0].password.as_ref().map(Secret::expose), Some("db-s3cret"));
    assert!(c.approvals.slack_webhook_url.is_some());
    assert!(c.notifications.adapters[0].routing_key.is_some());
    assert_eq!(c.llm.provider, LlmProvider::Claude);
    let debug = format!("{c:?} {c:#?} {loaded:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(debug.contains("***"));
}

#[test]
fn username_precedence() {
    let db = |yaml_user: &str, conn: &str, env: &[(&str, &str)]| {
        let text = format!(
            "databases:\n  - name: PROD-DB-07\n    environment: PROD\n    connection_string: {conn}\n{yaml_user}"
        );
        load_with(&text, env).unwrap_or_else(|e| panic!("{e}")).config.databases.remove(0)
    };
    let env_user = [("SENTRI_DB_PROD_DB_07_USERNAME", "from_env")];
    let yaml_user = "    username: from_yaml\n";
    let url = "oracle://from_url@h:1521/s";
    assert_eq!(db(yaml_user, url, &env_user).username.as_deref(), Some("from_env"));
    assert_eq!(db(yaml_user, url, &[]).username.as_deref(), Some("from_yaml"));
    assert_eq!(db("", url, &[]).username.as_deref(), Some("from_url"));
    assert_eq!(db("", "postgres://pg_user@h/db", &[]).username.as_deref(), Some("pg_user"));
    assert_eq!(db("", "h:1521/s", &[]).username.as_deref(), Some("sentri_agent"));
    // An empty variable counts as unset.
    let empty = [("SENTRI_DB_PROD_DB_07_USERNAME", "")];
    assert_eq!(db(yaml_user, url, &empty).username.as_deref(), Some("from_yaml"));
}

#[test]
fn password_comes_only_from_the_environment() {
    let text = "databases:\n  - {name: dev-db-01, connection_string: 'scott/tiger@DEVDB', environment: DEV}\n";
    let loaded = load_with(text, &[("SENTRI_DB_DEV_DB_01_PASSWORD", "env-pw")]).unwrap_or_else(|e| panic!("{e}"));
    let db = &loaded.config.databases[0];
    assert_eq!(db.password.as_ref().map(Secret::expose), Some("env-pw"));
    assert_eq!(db.username.as_deref(), Some("scott"));
    assert_eq!(db.connection_string, "scott@DEVDB");
    assert_eq!(loaded.warnings.len(), 1);
    let w = loaded.warnings[0].to_string();
    assert!(w.contains("SENTRI_DB_DEV_DB_01_PASSWORD"), "{w}");
    assert!(!w.contains("tiger"), "{w}");
    // SMTP falls back to the IMAP password, and has its own variable.
    let both = load_with("", &[("SENTRI_EMAIL_PASSWORD", "a"), ("SENTRI_SMTP_PASSWORD", "b")])
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(both.config.email.smtp_password.as_ref().map(Secret::expose), Some("b"));
}

#[test]
fn log_level_from_the_environment_wins() {
    let c = load_with("monitoring:\n  log_level: debug\n", &[("SENTRI_LOG_LEVEL", "warning")])
        .unwrap_or_else(|e| panic!("{e}"))
        .config;
    assert_eq!(c.monitoring.log_level, LogLevel::Warn);
    let p = match load_with("", &[("SENTRI_LOG_LEVEL", "loud")]) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("{other:?}"),
    };
    assert_eq!(p[0].key, "SENTRI_LOG_LEVEL");
    let p = problems("monitoring:\n  log_level: loud\n  profile_refresh_hours: 0\n");
    assert_eq!(p.len(), 1);
    assert_eq!(load("monitoring:\n  profile_refresh_hours: 0\n").config.monitoring.profile_refresh, None);
}

#[test]
fn email_defaults_and_plaintext_guard() {
    let c = load("email:\n  imap_server: imap\n  username: a@b\n  smtp_server: smtp\n").config;
    assert_eq!(c.email.from_address, "a@b");
    assert_eq!(c.email.smtp_username, "a@b");
    assert_eq!(c.approvals.approval_recipients, ["a@b"], "empty recipients mean email.username");
    assert_eq!(c.approvals.approvers, ["a@b"]);
    let p = problems("email:\n  imap_server: mail.example.com\n  username: a@b\n  use_ssl: false\n  starttls: false\n");
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].key, "email.starttls");
    // Plain text to a server on this machine is accepted without allow_plaintext (the issue's rule).
    load("email:\n  imap_server: 127.0.0.1\n  username: a@b\n  use_ssl: false\n  starttls: false\n");
    load("email:\n  use_ssl: false\n  starttls: false\n  use_tls: false\n  allow_plaintext: true\n");
    let p = problems("email:\n  imap_server: imap\n");
    assert_eq!(p[0].key, "email.username");
}

#[test]
fn approvals_from_the_alert_mailbox_are_flagged() {
    let loaded = load("email:\n  username: alerts@x\napprovals:\n  email_enabled: true\n");
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.warnings[0].kind, WarningKind::Questionable);
    let p = problems("approvals:\n  email_enabled: true\n  approvers: [a@x]\n  required_approvals: 2\n");
    assert_eq!(p[0].key, "approvals.required_approvals");
}

#[test]
fn notification_adapters() {
    let text = r#"
notifications:
  adapters:
    - type: webhook
      enabled: true
      url: https://hooks.example/sentri
      headers: {X-Token: abc}
    - type: slack
      enabled: true
    - type: pager
"#;
    let p = problems(text);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].key, "notifications.adapters[2].type");
    assert!(p[0].message.contains("webhook, pagerduty, slack, email"));
    let loaded =
        load_with(&text.replace("    - type: pager\n", ""), &[("SENTRI_SLACK_WEBHOOK_URL", "https://hooks.slack")])
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    let a = &loaded.config.notifications.adapters;
    assert_eq!(a[0].kind, AdapterKind::Webhook);
    assert_eq!(a[0].url.as_ref().map(Secret::expose), Some("https://hooks.example/sentri"));
    assert_eq!(a[0].headers.get("X-Token").map(Secret::expose), Some("abc"));
    assert_eq!(a[1].url.as_ref().map(Secret::expose), Some("https://hooks.slack"));
}

#[test]
fn scalars_keep_their_written_text() {
    let c = load("databases:\n  - {name: 7, connection_string: h/s, environment: DEV, oracle_version: 12.10}\n").config;
    assert_eq!(c.databases[0].name, "7");
    assert_eq!(c.databases[0].oracle_version.as_deref(), Some("12.10"));
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("sentri.yaml");
    assert!(matches!(Config::load(&path), Err(ConfigError::Read { .. })));
    std::fs::write(&path, "monitoring:\n  scout_poll_interval: 30\n").unwrap_or_else(|e| panic!("{e}"));
    let loaded = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.config.monitoring.scout_poll_interval.as_secs(), 30);
}

#[test]
fn ca_file_is_read_next_to_sentri_yaml_and_must_hold_certificates() {
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = dir.path().join("sentri.yaml");
    let text = "email:\n  ca_file: company-ca.pem\n";
    let missing = match Config::from_yaml(text, &yaml, &env_from(&[])) {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("a missing CA file must be a problem, got {other:?}"),
    };
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].key, "email.ca_file");
    assert!(missing[0].message.contains("company-ca.pem"), "{}", missing[0].message);

    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let pem = params.self_signed(&key).expect("certificate").pem();
    std::fs::write(dir.path().join("company-ca.pem"), pem).expect("write");
    let loaded = Config::from_yaml(text, &yaml, &env_from(&[])).map(|loaded| loaded.config.email.ca_file);
    assert_eq!(loaded.ok().flatten(), Some(dir.path().join("company-ca.pem")), "resolved next to sentri.yaml");
}

// --- Intake limits and raw-mail retention (email.max_message_bytes, email.alert_senders,
// monitoring.raw_mail_retention_days) ---

#[test]
fn message_size_cap_defaults_and_bounds() {
    let c = load("").config;
    assert_eq!(c.email.max_message_bytes, sections::DEFAULT_MAX_MESSAGE_BYTES);
    assert_eq!(load("email:\n  max_message_bytes: 65536\n").config.email.max_message_bytes, 65536);
    for bad in ["0", "1000", "99999999999"] {
        let p = problems(&format!("email:\n  max_message_bytes: {bad}\n"));
        assert_eq!(p.len(), 1, "{bad}: {p:?}");
        assert_eq!(p[0].key, "email.max_message_bytes");
        assert_eq!(p[0].position.map(|at| at.line), Some(2), "{bad}: the problem names the line");
    }
}

#[test]
fn alert_senders_are_addresses_or_domains() {
    assert!(load("").config.email.alert_senders.is_empty(), "default: anyone may send alerts");
    let c = load("email:\n  alert_senders: [OEM@Company.com, \"@monitoring.company.com\"]\n").config;
    assert_eq!(c.email.alert_senders, ["oem@company.com", "@monitoring.company.com"]);
    let p = problems("email:\n  alert_senders: [oem@company.com, nobody, \"OEM <oem@x.org>\", \"@\"]\n");
    let keys: Vec<&str> = p.iter().map(|problem| problem.key.as_str()).collect();
    assert_eq!(keys, ["email.alert_senders"; 3], "{p:?}");
    assert!(p[0].message.contains("`nobody`"), "{}", p[0].message);
}

#[test]
fn template_alert_senders_example_loads_when_uncommented() {
    let text = TEMPLATE.replace("  # alert_senders: [", "  alert_senders: [");
    assert_ne!(text, TEMPLATE, "the template shows alert_senders");
    let loaded = match load_with(&text, &[]) {
        Ok(l) => l,
        Err(e) => panic!("{e}"),
    };
    assert!(loaded.warnings.is_empty(), "{:#?}", loaded.warnings);
    assert_eq!(loaded.config.email.alert_senders, ["oem@company.com", "@monitoring.company.com"]);
    assert_eq!(loaded.config.email.max_message_bytes, 4 * 1024 * 1024);
    assert_eq!(loaded.config.monitoring.raw_mail_retention, Some(std::time::Duration::from_secs(90 * 86_400)));
}

#[test]
fn raw_mail_retention_in_days_zero_keeps_forever() {
    let days = |text: &str| load(text).config.monitoring.raw_mail_retention.map(|d| d.as_secs() / 86_400);
    assert_eq!(days(""), Some(sections::DEFAULT_RAW_MAIL_RETENTION_DAYS));
    assert_eq!(days("monitoring:\n  raw_mail_retention_days: 7\n"), Some(7));
    assert_eq!(days("monitoring:\n  raw_mail_retention_days: 0\n"), None);
}

#[test]
fn metrics_listen_is_opt_in_a_bare_port_is_loopback_and_log_format_is_read() {
    let monitoring = |text: &str| load(text).config.monitoring;
    let default = monitoring("");
    assert_eq!(default.metrics_listen, None, "off unless asked for");
    assert_eq!((default.log_format, default.log_keep_days), (LogFormat::Text, sections::DEFAULT_LOG_KEEP_DAYS));
    let set = monitoring("monitoring:\n  metrics_listen: 127.0.0.1:9187\n  log_format: JSON\n  log_keep_days: 3\n");
    assert_eq!(set.metrics_listen.map(|a| a.to_string()).as_deref(), Some("127.0.0.1:9187"));
    assert_eq!((set.log_format, set.log_keep_days), (LogFormat::Json, 3));
    assert_eq!(
        monitoring("monitoring:\n  metrics_listen: 9187\n").metrics_listen.map(|a| a.to_string()).as_deref(),
        Some("127.0.0.1:9187")
    );
    let bad = problems("monitoring:\n  metrics_listen: everywhere\n  log_format: xml\n");
    let keys: Vec<&str> = bad.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["monitoring.metrics_listen", "monitoring.log_format"], "{bad:?}");
}
