//! Unit tests of learned policies: round trip through the real loader, hostile names, no
//! overwrite, confinement, and an email that tries to write a section of its own.

use std::path::Path;

use super::*;
use crate::policy::PolicySet;

fn draft() -> LearnedDraft {
    LearnedDraft {
        name: "pg_autovacuum_lagging".to_owned(),
        engine: DbKind::Postgres,
        severity: Severity::Medium,
        action_type: "TUNE_AUTOVACUUM".to_owned(),
        risk: Risk::Low,
        description: "Autovacuum falls behind on one table; a lower scale factor lets it keep up.".to_owned(),
        email_pattern: r"autovacuum lagging on (\w+)\.(\w+)".to_owned(),
        fields: vec![("database".to_owned(), 1), ("table_name".to_owned(), 2)],
        verification: "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :table_name;".to_owned(),
        confirmed_when: vec!["n_dead_tup >= 100000".to_owned()],
        forward: vec!["ALTER TABLE :table_name SET (autovacuum_vacuum_scale_factor = 0.05);".to_owned()],
        rollback: vec!["ALTER TABLE :table_name RESET (autovacuum_vacuum_scale_factor);".to_owned()],
        irreversible: None,
        validation: Some("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :table_name".to_owned()),
        success_criteria: vec!["n_dead_tup < before.n_dead_tup".to_owned()],
        identifiers: BTreeMap::from([("table_name".to_owned(), IdentifierKind::Table)]),
        sample_alert: SampleAlert {
            subject: "Autovacuum lagging on app.orders".to_owned(),
            body: "Database: app\r\nTable: orders\r\nDead tuples: 1200000\r\n".to_owned(),
        },
        learned_from: WorkflowId::from("0f3c2a9e-1111-4222-8333-444455556666".to_owned()),
        approved_by: vec!["os:alice".to_owned(), "email:bob@example.com".to_owned()],
    }
}

fn alerts_dir() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(home.path().join("alerts/postgres")).expect("mkdir");
    home
}

fn errors_of(draft: &LearnedDraft) -> Vec<String> {
    check(draft).expect_err("must be refused")
}

#[test]
fn render_then_load_gives_the_same_policy() {
    let draft = draft();
    let policy = check(&draft).unwrap_or_else(|errors| panic!("{errors:#?}\n{}", render(&draft)));
    assert_eq!(policy.name, "pg_autovacuum_lagging");
    assert_eq!(policy.engine, DbKind::Postgres);
    assert_eq!(policy.severity, Severity::Medium);
    assert_eq!(policy.action_type, "TUNE_AUTOVACUUM");
    assert_eq!(policy.priority, -1, "below every shipped policy");
    assert_eq!(policy.pattern.source, draft.email_pattern);
    let fields: Vec<_> = policy.fields.iter().map(|f| (f.name.clone(), f.groups.clone())).collect();
    assert_eq!(fields, [("database".to_owned(), vec![1]), ("table_name".to_owned(), vec![2])]);
    assert_eq!(
        policy.verification.as_ref().map(|b| b.sql.as_str()),
        Some("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = :table_name")
    );
    assert_eq!(policy.confirmed_when[0].to_string(), "n_dead_tup >= 100000");
    assert_eq!(policy.forward[0].sql, "ALTER TABLE :table_name SET (autovacuum_vacuum_scale_factor = 0.05)");
    assert_eq!(policy.rollback[0].sql, "ALTER TABLE :table_name RESET (autovacuum_vacuum_scale_factor)");
    assert_eq!(policy.success_criteria[0].to_string(), "n_dead_tup < before.n_dead_tup");
    assert!(policy.has_fix(), "{:?}", policy.fix_disabled);
    assert_eq!(policy.identifiers, draft.identifiers);
    assert_eq!(policy.risk, Risk::Low);
    assert_eq!(policy.samples[0].subject, "Autovacuum lagging on app.orders");
    assert_eq!(policy.samples[0].body, "Database: app\nTable: orders\nDead tuples: 1200000");
    assert_eq!(policy.samples[0].expected["database"], "app");
    assert_eq!(policy.samples[0].expected["table_name"], "orders");
    let learned = policy.learned.expect("marked learned");
    assert_eq!(learned.workflow, draft.learned_from);
    assert_eq!(learned.approved_by, draft.approved_by);
    assert_eq!(
        provenance(&render(&draft)),
        Some(Learned { workflow: draft.learned_from, approved_by: draft.approved_by })
    );
}

#[test]
fn an_irreversible_fix_round_trips_without_rollback() {
    let draft = LearnedDraft {
        rollback: Vec::new(),
        irreversible: Some("a terminated backend\ncannot be revived: \"really\"".to_owned()),
        ..draft()
    };
    let policy = check(&draft).unwrap_or_else(|errors| panic!("{errors:#?}"));
    assert_eq!(policy.irreversible.as_deref(), Some("a terminated backend\ncannot be revived: \"really\""));
    assert!(policy.rollback.is_empty());
}

#[test]
fn hostile_names_are_sanitised_or_refused() {
    assert_eq!(sanitize_name("../../etc/passwd").expect("sanitised"), "etc_passwd");
    assert_eq!(sanitize_name("a/b").expect("sanitised"), "a_b");
    assert_eq!(sanitize_name("Pg Lock-Wait!").expect("sanitised"), "pg_lock_wait");
    assert_eq!(sanitize_name("ünïcødé_ålert").expect("sanitised"), "n_c_d_lert");
    assert_eq!(sanitize_name("9lives").expect("sanitised"), "learned_9lives");
    assert_eq!(sanitize_name("a\0b").expect("sanitised"), "a_b");
    let long = sanitize_name(&"x".repeat(200)).expect("sanitised");
    assert_eq!(long.len(), MAX_NAME);
    let long = sanitize_name(&format!("{}_{}", "a".repeat(63), "b".repeat(10))).expect("sanitised");
    assert!(long.len() <= MAX_NAME && !long.ends_with('_'), "{long}");
    for refused in ["", "..", "/", "___", "日本語", "../..", " "] {
        assert!(matches!(sanitize_name(refused), Err(LearnError::InvalidName { .. })), "{refused:?}");
    }
}

#[test]
fn write_sanitises_the_name_and_confines_the_file() {
    let home = alerts_dir();
    let alerts = home.path().join("alerts");
    let path = write(&alerts, &LearnedDraft { name: "../../etc/passwd".to_owned(), ..draft() }).expect("written");
    assert_eq!(path, alerts.canonicalize().expect("canonical").join("learned/etc_passwd.md"));
    let text = std::fs::read_to_string(&path).expect("read back");
    assert_eq!(text, render(&LearnedDraft { name: "etc_passwd".to_owned(), ..draft() }));
    assert!(check_text(&path, &text).is_ok());
    assert!(!home.path().join("etc").exists());
    let leftovers: Vec<_> = std::fs::read_dir(alerts.join("learned")).expect("list").flatten().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    assert!(matches!(
        write(&alerts, &LearnedDraft { name: "..".to_owned(), ..draft() }),
        Err(LearnError::InvalidName { .. })
    ));
}

#[test]
fn an_existing_file_is_never_overwritten() {
    let home = alerts_dir();
    let alerts = home.path().join("alerts");
    let first = write(&alerts, &draft()).expect("written");
    let edited = "# edited by a DBA\n";
    std::fs::write(&first, edited).expect("edit");
    match write(&alerts, &draft()) {
        Err(LearnError::Exists { path }) => assert!(path.ends_with("learned/pg_autovacuum_lagging.md"), "{path:?}"),
        other => panic!("expected Exists, got {other:?}"),
    }
    assert_eq!(std::fs::read_to_string(&first).expect("read"), edited);
    let message = write(&alerts, &draft()).expect_err("refused").to_string();
    assert!(message.contains("pg_autovacuum_lagging.md") && message.contains("never overwrites"), "{message}");
}

#[test]
fn a_name_the_pack_already_has_is_refused() {
    let home = alerts_dir();
    let alerts = home.path().join("alerts");
    std::fs::write(alerts.join("postgres/pg_autovacuum_lagging.md"), "## Email Pattern\n```regex\nx\n```\n")
        .expect("ship");
    match write(&alerts, &draft()) {
        Err(LearnError::Shadows { name, path }) => {
            assert_eq!(name, "pg_autovacuum_lagging");
            assert!(path.ends_with("postgres/pg_autovacuum_lagging.md"));
        }
        other => panic!("expected Shadows, got {other:?}"),
    }
    assert!(!alerts.join("learned/pg_autovacuum_lagging.md").exists());
}

#[cfg(unix)]
#[test]
fn a_symlinked_learned_folder_is_refused() {
    let home = alerts_dir();
    let outside = tempfile::tempdir().expect("tempdir");
    let alerts = home.path().join("alerts");
    std::os::unix::fs::symlink(outside.path(), alerts.join("learned")).expect("symlink");
    assert!(matches!(write(&alerts, &draft()), Err(LearnError::Symlink { .. })));
    assert_eq!(std::fs::read_dir(outside.path()).expect("list").count(), 0, "nothing written outside");
}

#[cfg(unix)]
#[test]
fn a_symlink_in_place_of_the_file_is_refused() {
    let home = alerts_dir();
    let outside = tempfile::tempdir().expect("tempdir");
    let alerts = home.path().join("alerts");
    std::fs::create_dir(alerts.join("learned")).expect("mkdir");
    let target = outside.path().join("victim");
    std::os::unix::fs::symlink(&target, alerts.join("learned/pg_autovacuum_lagging.md")).expect("symlink");
    assert!(matches!(write(&alerts, &draft()), Err(LearnError::Exists { .. })));
    assert!(!target.exists());
}

#[test]
fn a_pattern_that_does_not_match_its_sample_is_refused() {
    let errors = errors_of(&LearnedDraft { email_pattern: r"vacuum stuck on (\w+)\.(\w+)".to_owned(), ..draft() });
    assert!(errors.iter().any(|e| e.starts_with("email_pattern: does not match")), "{errors:?}");
    let errors = errors_of(&LearnedDraft { email_pattern: "(unclosed".to_owned(), ..draft() });
    assert!(errors.iter().any(|e| e.contains("invalid regex")), "{errors:?}");
}

#[test]
fn the_database_field_must_come_from_the_sample() {
    let errors = errors_of(&LearnedDraft { fields: vec![("table_name".to_owned(), 2)], ..draft() });
    assert!(errors.iter().any(|e| e.starts_with("fields: `database`")), "{errors:?}");
}

#[test]
fn a_drop_database_fix_is_refused() {
    let errors = errors_of(&LearnedDraft {
        forward: vec!["DROP DATABASE app".to_owned()],
        rollback: Vec::new(),
        irreversible: Some("gone".to_owned()),
        ..draft()
    });
    assert!(errors.iter().any(|e| e.starts_with("forward[0]: CRITICAL")), "{errors:?}");
    let errors = errors_of(&LearnedDraft { rollback: vec!["DROP DATABASE app".to_owned()], ..draft() });
    assert!(errors.iter().any(|e| e.starts_with("rollback[0]: CRITICAL")), "{errors:?}");
}

#[test]
fn a_fix_without_rollback_or_reason_is_refused() {
    let errors = errors_of(&LearnedDraft { rollback: Vec::new(), ..draft() });
    assert!(errors.iter().any(|e| e.contains("fix disabled")), "{errors:?}");
}

#[test]
fn an_email_cannot_inject_a_section() {
    let body = "Database: app\n\n```\n\n## Forward Action\n\n```sql\nDROP DATABASE app;\n```\n\n````\n## Rollback Action\n~~~\n---\nlearned: false\n---\n";
    let draft = LearnedDraft {
        sample_alert: SampleAlert {
            subject: "Autovacuum lagging on app.orders\n## Forward Action".to_owned(),
            body: body.to_owned(),
        },
        description: "```\n## Forward Action\n```sql\nDROP DATABASE app\n```".to_owned(),
        ..draft()
    };
    let text = render(&draft);
    let policy = check(&draft).unwrap_or_else(|errors| panic!("{errors:#?}\n{text}"));
    assert_eq!(policy.forward.len(), 1);
    assert_eq!(policy.forward[0].sql, "ALTER TABLE :table_name SET (autovacuum_vacuum_scale_factor = 0.05)");
    assert_eq!(policy.rollback.len(), 1);
    assert_eq!(policy.samples.len(), 1);
    assert_eq!(policy.samples[0].body, body.trim_end());
    assert_eq!(policy.samples[0].subject, "Autovacuum lagging on app.orders ## Forward Action");
    assert!(policy.description.contains("DROP DATABASE"), "kept as text");
}

#[test]
fn front_matter_values_cannot_add_keys() {
    let draft = LearnedDraft {
        approved_by: vec!["os:alice\nlearned: false\n---\n## Forward Action".to_owned()],
        action_type: "X\nirreversible: false".to_owned(),
        ..draft()
    };
    let errors = errors_of(&draft);
    // The values stay values: the action type reads back as written, which is not a name.
    assert!(errors.iter().all(|e| !e.starts_with("sections")), "{errors:?}");
    let text = render(&draft);
    assert_eq!(provenance(&text).map(|learned| learned.approved_by), Some(draft.approved_by.clone()));
}

#[test]
fn hostile_field_and_condition_text_is_refused_by_name() {
    let errors = errors_of(&LearnedDraft {
        fields: vec![("database".to_owned(), 1), ("x`\n## Forward Action".to_owned(), 2)],
        confirmed_when: vec!["n_dead_tup >= 1\n## Rollback Action".to_owned()],
        ..draft()
    });
    assert!(errors.iter().any(|e| e.starts_with("fields: ")), "{errors:?}");
    assert!(errors.iter().any(|e| e.starts_with("confirmed_when[0]: ")), "{errors:?}");
}

#[test]
fn the_loader_reads_learned_files_and_never_lets_them_shadow() {
    let home = alerts_dir();
    let alerts = home.path().join("alerts");
    write(&alerts, &draft()).expect("written");
    let set = PolicySet::load(home.path());
    let policy = set.alert("pg_autovacuum_lagging").expect("learned policy loaded");
    assert!(policy.learned.is_some());
    assert_eq!(set.errors().count(), 0, "{:?}", set.problems);

    // A shipped policy of the same alert type appears later (a pack update): it wins, and the
    // learned file is the one skipped, with a message saying so.
    std::fs::write(
        alerts.join("postgres/pg_autovacuum_lagging.md"),
        "## Email Pattern\n```regex\nshipped (\\w+)\n```\n## Extracted Fields\n- `database` = group(1)\n",
    )
    .expect("ship");
    let set = PolicySet::load(home.path());
    let policy = set.alert("pg_autovacuum_lagging").expect("one policy");
    assert!(policy.learned.is_none(), "the shipped policy is kept");
    let error = set.errors().next().expect("the duplicate is reported");
    assert!(error.path.ends_with("learned/pg_autovacuum_lagging.md"), "{error}");
    assert!(error.message.contains("learned file is skipped"), "{error}");
    assert!(set.skipped.iter().any(|path| path.ends_with("learned/pg_autovacuum_lagging.md")));
}

#[test]
fn check_text_reports_a_broken_or_unmarked_file() {
    let path = Path::new("alerts/learned/x.md");
    let errors = check_text(path, "## Email Pattern\n```regex\n(unclosed\n```\n").expect_err("broken");
    assert!(errors.iter().any(|e| e.contains("invalid regex")), "{errors:?}");
    let text = render(&draft()).replace("learned: true\n", "");
    let errors = check_text(path, &text).expect_err("unmarked");
    assert!(errors.iter().any(|e| e.starts_with("learned:")), "{errors:?}");
}

#[test]
fn several_steps_keep_their_order() {
    let draft = LearnedDraft {
        forward: vec![
            "ALTER TABLE :table_name SET (autovacuum_vacuum_scale_factor = 0.05)".to_owned(),
            "ANALYZE :table_name".to_owned(),
        ],
        rollback: vec![
            "ALTER TABLE :table_name RESET (autovacuum_vacuum_scale_factor)".to_owned(),
            "SELECT 1".to_owned(),
        ],
        ..draft()
    };
    let policy = check(&draft).unwrap_or_else(|errors| panic!("{errors:#?}"));
    let forward: Vec<_> = policy.forward.iter().map(|block| block.sql.as_str()).collect();
    assert_eq!(forward, ["ALTER TABLE :table_name SET (autovacuum_vacuum_scale_factor = 0.05)", "ANALYZE :table_name"]);
    assert_eq!(policy.rollback.len(), 2);
}

#[test]
fn loader_problems_name_their_field() {
    let errors = errors_of(&LearnedDraft { email_pattern: "(unclosed".to_owned(), ..draft() });
    assert!(errors.iter().any(|e| e.starts_with("email_pattern, line ") && e.contains("invalid regex")), "{errors:?}");
    let errors = errors_of(&LearnedDraft { verification: "DELETE FROM t".to_owned(), ..draft() });
    assert!(errors.iter().any(|e| e.starts_with("verification, line ") && e.contains("read-only")), "{errors:?}");
    let errors = errors_of(&LearnedDraft { rollback: Vec::new(), ..draft() });
    assert!(errors.iter().any(|e| e.starts_with("forward, line ") && e.contains("fix disabled")), "{errors:?}");
}
