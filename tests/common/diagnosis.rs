//! Diagnosis on the test server with the default pack, as the engine runs it after VERIFIED on
//! a DEV database, and the fix a DBA would paste: what `tests/diagnose_*.rs` share.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sentri::diagnose::{self, AlertContext, PlanFacts, Request};
use sentri::domain::{Diagnosis, Environment, RootCause};
use sentri::policy::PolicySet;
use sentri::targets::{ConnectOptions, Target};

use super::postgres::{admin, database_config};

pub fn pack_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

/// The default pack; a specialist or tool file that does not load fails the test by name.
pub fn pack() -> PolicySet {
    let set = PolicySet::load(&pack_root());
    let watched = [pack_root().join("agents"), pack_root().join("tools/postgres")];
    let problems: Vec<String> = set
        .problems
        .iter()
        .filter(|problem| watched.iter().any(|dir| problem.path.starts_with(dir)))
        .map(ToString::to_string)
        .collect();
    assert!(problems.is_empty(), "the pack's specialists or tools have problems:\n{}", problems.join("\n"));
    set
}

fn options() -> ConnectOptions {
    ConnectOptions { connect_timeout: Duration::from_secs(5), call_timeout: Duration::from_secs(20), pool_size: 2 }
}

/// Diagnoses `db` for an alert with `subject` (and `alert_type`, when a policy would have
/// recognised one), as the engine does after VERIFIED on a DEV database.
pub async fn diagnose(db: &str, subject: &str, alert_type: Option<&str>) -> Diagnosis {
    let set = pack();
    let target = Target::connect(&database_config(db), &options()).await.expect("connects");
    let alert =
        AlertContext { subject: subject.to_owned(), alert_type: alert_type.map(str::to_owned), ..Default::default() };
    let request = Request {
        alert: Some(&alert),
        facts: PlanFacts {
            workflow_id: "diagnose-test",
            alert_type: alert_type.unwrap_or("adhoc"),
            database: db,
            environment: "DEV",
        },
        environment: Some(Environment::Dev),
        template: None,
        history: BTreeMap::new(),
        profile: None,
    };
    let diagnosis = diagnose::diagnose(&target, &set, request).await;
    target.close().await;
    diagnosis
}

/// The report a DBA would read, for assertion messages.
pub fn report(diagnosis: &Diagnosis) -> String {
    sentri::diagnose::text::report(diagnosis, None, sentri::diagnose::text::Statements::Every)
}

/// Asserts the first cause and returns its first evidence row.
pub fn first_cause(diagnosis: &Diagnosis, wanted: RootCause) -> BTreeMap<String, String> {
    assert_eq!(diagnosis.first_cause(), wanted, "wrong first cause:\n{}", report(diagnosis));
    let finding = &diagnosis.root_causes[0];
    assert!(!finding.evidence.is_empty(), "{wanted} without evidence:\n{}", report(diagnosis));
    assert!(
        diagnosis.candidates.first().is_some_and(|candidate| candidate.root_cause == wanted),
        "the first candidate does not treat {wanted}:\n{}",
        report(diagnosis)
    );
    finding.evidence[0].row.clone()
}

pub fn column<'a>(row: &'a BTreeMap<String, String>, name: &str) -> &'a str {
    row.get(name).map_or_else(|| panic!("no column {name} in {row:?}"), String::as_str)
}

/// Runs the first candidate's forward SQL as printed, one statement at a time, as a DBA
/// pasting it into psql would (simple query protocol, autocommit: CREATE INDEX CONCURRENTLY
/// and VACUUM cannot run in a transaction block).
pub async fn run_first_candidate(db: &str, diagnosis: &Diagnosis) -> String {
    let candidate = diagnosis.candidates.first().expect("a candidate");
    let client = admin(db).await;
    for statement in &candidate.forward {
        assert!(!has_placeholder(statement), "a placeholder is left in {statement:?}");
        client
            .batch_execute(statement)
            .await
            .unwrap_or_else(|error| panic!("the candidate's SQL fails: {statement}\n{error:?}"));
    }
    candidate.forward.join(";\n")
}

/// Asserts that a new diagnosis of the same alert no longer names `cause` first.
pub async fn assert_no_longer(db: &str, subject: &str, alert_type: Option<&str>, cause: RootCause) {
    let again = diagnose(db, subject, alert_type).await;
    assert_ne!(again.first_cause(), cause, "{}", report(&again));
}

/// Whether `sql` still holds a `:name` placeholder (a `::type` cast is not one).
pub fn has_placeholder(sql: &str) -> bool {
    let bytes = sql.as_bytes();
    bytes.iter().enumerate().any(|(index, byte)| {
        *byte == b':'
            && bytes.get(index + 1).is_some_and(|next| next.is_ascii_alphabetic() || *next == b'_')
            && (index == 0 || bytes[index - 1] != b':')
    })
}
