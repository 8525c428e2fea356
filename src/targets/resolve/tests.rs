//! Folding per dialect, the dictionary queries' text and binds, and what a lookup's rows mean.

use super::*;
use crate::sql::StatementKind;

fn wanted(schema: Option<&str>, name: &str) -> WantedName {
    WantedName { schema: schema.map(str::to_owned), name: name.to_owned() }
}

fn written(dialect: Dialect, kind: IdentifierKind, value: &str) -> Result<WantedName, &'static str> {
    parse(dialect, kind, value, Spelling::Written)
}

const HOSTILE: &[&str] =
    &["USERS;DROP TABLE t", "USERS\"--", "x'/**/OR/**/'1", "a\u{0}b", "USERS/**/DROP/**/DATAFILE", "\"a\u{0}\""];

#[test]
fn unquoted_names_fold_by_the_engines_rules_and_quoted_names_stay_exact() {
    use IdentifierKind::Sequence;
    assert_eq!(written(Dialect::Postgres, Sequence, "DUP"), Ok(wanted(None, "dup")));
    assert_eq!(written(Dialect::Postgres, Sequence, "dup"), Ok(wanted(None, "dup")));
    assert_eq!(written(Dialect::Postgres, Sequence, "\"DUP\""), Ok(wanted(None, "DUP")));
    assert_eq!(written(Dialect::Oracle, Sequence, "dup"), Ok(wanted(None, "DUP")));
    assert_eq!(written(Dialect::Oracle, Sequence, "DUP"), Ok(wanted(None, "DUP")));
    assert_eq!(written(Dialect::Oracle, Sequence, "\"dup\""), Ok(wanted(None, "dup")));
    assert_eq!(written(Dialect::Postgres, Sequence, "App.\"DUP\""), Ok(wanted(Some("app"), "DUP")));
    assert_eq!(written(Dialect::Oracle, Sequence, "app.\"Dup\""), Ok(wanted(Some("APP"), "Dup")));
    assert_eq!(written(Dialect::Postgres, Sequence, "\"a.b\".\"c\"\"d\""), Ok(wanted(Some("a.b"), "c\"d")));
    assert_eq!(parse(Dialect::Postgres, Sequence, "DUP", Spelling::Catalog), Ok(wanted(None, "DUP")));
    assert_eq!(
        parse(Dialect::Postgres, Sequence, "odd.name", Spelling::Catalog),
        Ok(wanted(None, "odd.name")),
        "a catalog spelling is one exact name, dots and all"
    );
    assert_eq!(written(Dialect::Oracle, IdentifierKind::Parameter, "DB_FILES"), Ok(wanted(None, "db_files")));
}

#[test]
fn only_objects_in_a_schema_take_one_and_the_grammar_holds_per_engine() {
    assert!(written(Dialect::Oracle, IdentifierKind::Tablespace, "a.users").is_err());
    assert!(written(Dialect::Postgres, IdentifierKind::Table, "a.b.c").is_err());
    assert!(written(Dialect::Postgres, IdentifierKind::Table, "a.").is_err());
    assert!(written(Dialect::Postgres, IdentifierKind::Table, "\"\"").is_err());
    assert!(written(Dialect::Postgres, IdentifierKind::Table, "\"open").is_err());
    assert_eq!(written(Dialect::Oracle, IdentifierKind::Table, "SYS$UMF#1"), Ok(wanted(None, "SYS$UMF#1")));
    assert!(written(Dialect::Postgres, IdentifierKind::Table, "a#b").is_err());
    assert_eq!(written(Dialect::Postgres, IdentifierKind::Table, "_tmp"), Ok(wanted(None, "_tmp")));
    assert!(written(Dialect::Oracle, IdentifierKind::Table, "_tmp").is_err());
    assert!(written(Dialect::Postgres, IdentifierKind::Table, &"a".repeat(64)).is_err());
    assert!(written(Dialect::Oracle, IdentifierKind::Table, &"a".repeat(128)).is_ok());
    assert!(written(Dialect::Oracle, IdentifierKind::Table, &"a".repeat(129)).is_err());
    for hostile in HOSTILE {
        for dialect in [Dialect::Oracle, Dialect::Postgres] {
            assert!(written(dialect, IdentifierKind::Tablespace, hostile).is_err(), "{hostile:?}");
        }
    }
}

#[test]
fn every_object_kind_has_a_dictionary_query_binding_name_and_schema() {
    for dialect in [Dialect::Oracle, Dialect::Postgres] {
        for (name, kind) in IdentifierKind::ALL {
            let query = dictionary_query(dialect, kind);
            assert_eq!(query.is_none(), kind.is_literal(), "{name}");
            let Some(query) = query else { continue };
            assert_eq!(sql::statement_kind(query), StatementKind::Query, "{query}");
            let gate = match dialect {
                Dialect::Oracle => crate::sql::Dialect::Oracle,
                Dialect::Postgres => crate::sql::Dialect::Postgres,
            };
            assert!(crate::sql::read_only::check(query, gate).is_ok(), "{query}");
            let binds: BTreeSet<String> = sql::placeholders(query).into_iter().map(|p| p.name).collect();
            let expected: BTreeSet<String> = if is_schema_scoped(kind) {
                ["name", "schema"].map(str::to_owned).into()
            } else {
                ["name"].map(str::to_owned).into()
            };
            assert_eq!(binds, expected, "{query}");
            assert!(query.contains("AS schema_name") && query.contains("AS object_name") && query.contains("ORDER BY"));
            assert!(!query.to_lowercase().contains("lower(") && !query.to_lowercase().contains("upper("), "{query}");
        }
    }
    let pg = dictionary_query(Dialect::Postgres, IdentifierKind::Sequence).unwrap_or_default();
    assert!(pg.contains("current_schemas(false)") && pg.contains("c.relname = :name"), "{pg}");
    let ora = dictionary_query(Dialect::Oracle, IdentifierKind::Sequence).unwrap_or_default();
    assert!(ora.contains("sequence_owner = NVL(:schema, SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA'))"), "{ora}");
    assert_eq!(
        lookup_values(&wanted(None, "DUP")),
        Values::from([("name".to_owned(), Some("DUP".to_owned())), ("schema".to_owned(), None)])
    );
}

fn rows(found: &[(Option<&str>, &str)]) -> Rows {
    Rows {
        columns: vec!["schema_name".into(), "object_name".into()],
        rows: found
            .iter()
            .map(|(schema, name)| {
                vec![schema.map_or(Value::Null, |s| Value::Text(s.to_owned())), Value::Text((*name).to_owned())]
            })
            .collect(),
    }
}

fn sequence_lookup() -> Lookup {
    Lookup {
        placeholder: "seq_name".into(),
        kind: IdentifierKind::Sequence,
        wanted: wanted(None, "DUP"),
        schema_placeholder: Some("seq_schema".into()),
    }
}

#[test]
fn exactly_one_object_resolves_and_more_than_one_is_named() {
    let lookup = sequence_lookup();
    let one = one_object(&lookup, &rows(&[(Some("app"), "DUP")])).expect("one");
    assert_eq!(
        one,
        ResolvedIdentifier { kind: IdentifierKind::Sequence, schema: Some("app".into()), name: "DUP".into() }
    );
    assert_eq!(one.render(), "\"app\".\"DUP\"");
    let none = one_object(&lookup, &rows(&[])).expect_err("none");
    assert!(matches!(none, ResolveError::NotFound { .. }), "{none}");
    let two = one_object(&lookup, &rows(&[(Some("audit"), "DUP"), (Some("app"), "DUP")])).expect_err("two");
    assert_eq!(two.to_string(), "`:seq_name`: sequence DUP matches app.DUP and audit.DUP; nothing was run");
}

#[test]
fn a_plan_looks_up_each_spliced_object_once_with_the_schema_written_before_it() {
    let identifiers = BTreeMap::from([
        ("seq_schema".to_owned(), IdentifierKind::Schema),
        ("seq_name".to_owned(), IdentifierKind::Sequence),
        ("max_value".to_owned(), IdentifierKind::Number),
    ]);
    let statements = [
        "ALTER SEQUENCE :seq_schema.:seq_name AS bigint",
        "ALTER SEQUENCE :seq_schema.:seq_name AS integer MAXVALUE :max_value",
        "SELECT 1 FROM pg_sequences WHERE sequencename = :seq_name",
    ];
    let values = Values::from([
        ("seq_schema".to_owned(), Some("App".to_owned())),
        ("seq_name".to_owned(), Some("DUP".to_owned())),
        ("max_value".to_owned(), Some("2147483647".to_owned())),
    ]);
    let written = lookups(Dialect::Postgres, &statements, &identifiers, &values, &BTreeSet::new()).expect("lookups");
    assert_eq!(
        written,
        [Lookup {
            placeholder: "seq_name".into(),
            kind: IdentifierKind::Sequence,
            wanted: wanted(Some("app"), "dup"),
            schema_placeholder: Some("seq_schema".into()),
        }]
    );
    let from_catalog = BTreeSet::from(["seq_schema".to_owned(), "seq_name".to_owned()]);
    let exact = lookups(Dialect::Postgres, &statements, &identifiers, &values, &from_catalog).expect("lookups");
    assert_eq!(exact[0].wanted, wanted(Some("App"), "DUP"), "catalog spellings are taken exactly");

    let mut resolved = Resolved::new();
    let found = ResolvedIdentifier { kind: IdentifierKind::Sequence, schema: Some("App".into()), name: "DUP".into() };
    record(&mut resolved, &exact[0], found.clone()).expect("recorded");
    assert_eq!(resolved["seq_schema"].name, "App");
    assert!(unresolved(&statements, &identifiers, &resolved).is_empty());
    assert_eq!(unresolved(&statements, &identifiers, &Resolved::new()), BTreeSet::from(["seq_name".to_owned()]));
    let bound = bound_values(&values, &resolved);
    assert_eq!(bound["seq_name"].as_deref(), Some("DUP"));
    assert_eq!(bound["seq_schema"].as_deref(), Some("App"));
    let other = ResolvedIdentifier { schema: Some("audit".into()), ..found };
    assert!(matches!(record(&mut resolved, &exact[0], other), Err(ResolveError::SchemaConflict { .. })));

    for hostile in HOSTILE {
        let values = Values::from([("seq_name".to_owned(), Some((*hostile).to_owned()))]);
        let refused = lookups(Dialect::Postgres, &statements[..1], &identifiers, &values, &BTreeSet::new());
        assert!(matches!(refused, Err(FillError::InvalidIdentifier { .. })), "{hostile:?}: {refused:?}");
    }
}
