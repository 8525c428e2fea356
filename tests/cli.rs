//! The `sentri` binary on a temporary SENTRI_HOME: init, policy check, match and the read-side
//! commands, with their exit codes and JSON shapes.

#[path = "common/plans.rs"]
mod plans;

use std::collections::BTreeMap;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use sentri::domain::WorkflowState;
use sentri::store::Store;
use sentri::store::workflows::NewWorkflow;

fn sentri(home: &Path) -> Command {
    let mut command = Command::cargo_bin("sentri").expect("binary built");
    command.env("SENTRI_HOME", home).env_remove("SENTRI_DB_PROD_DB_07_PASSWORD");
    command
}

fn initialised() -> tempfile::TempDir {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path()).arg("init").assert().success().stdout(predicate::str::contains("store: created"));
    home
}

fn json(output: &[u8]) -> serde_json::Value {
    serde_json::from_slice(output).expect("valid JSON on stdout")
}

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/samples/oem_tablespace_full.eml");

#[test]
fn init_twice_keeps_edits_and_force_replaces_them() {
    let home = initialised();
    let config = home.path().join("config/sentri.yaml");
    std::fs::write(&config, "databases: []\n").expect("edit config");
    sentri(home.path())
        .arg("init")
        .assert()
        .success()
        .stdout(predicate::str::contains("kept (edited): config/sentri.yaml"));
    assert_eq!(std::fs::read_to_string(&config).expect("read"), "databases: []\n");
    sentri(home.path())
        .args(["init", "--force"])
        .assert()
        .success()
        .stdout(predicate::str::contains("replaced: config/sentri.yaml"));
    assert_ne!(std::fs::read_to_string(&config).expect("read"), "databases: []\n");
    for folder in [
        "brain",
        "agents",
        "alerts/oracle",
        "alerts/postgres",
        "checks",
        "environments",
        "workflows",
        "docs/oracle",
        "logs",
    ] {
        assert!(home.path().join(folder).is_dir(), "{folder} missing");
    }
    assert!(home.path().join("alerts/README.md").is_file(), "the policy guide is installed with the pack");
}

#[test]
fn the_default_pack_passes_policy_check() {
    let home = initialised();
    let output = sentri(home.path()).args(["policy", "check", "--json"]).assert().success().get_output().stdout.clone();
    let report = json(&output);
    assert_eq!(report["ok"], true);
    let alerts = report["alerts"].as_array().expect("alerts");
    let names: Vec<&str> = alerts.iter().filter_map(|alert| alert["name"].as_str()).collect();
    for expected in [
        "tablespace_full",
        "temp_full",
        "archive_dest_full",
        "high_undo_usage",
        "long_running_sql",
        "cpu_high",
        "session_blocker",
        "listener_down",
        "archive_gap",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    let postgres = alerts.iter().filter(|alert| alert["engine"] == "postgres").count();
    assert!(postgres >= 6, "only {postgres} PostgreSQL policies");
    for alert in alerts {
        assert!(alert["samples_total"].as_u64().unwrap_or(0) >= 3, "{} has fewer than 3 samples", alert["name"]);
        assert_eq!(alert["samples_passed"], alert["samples_total"], "{}", alert["name"]);
    }
}

#[test]
fn a_broken_policy_is_reported_with_file_and_line_and_the_rest_still_load() {
    let home = initialised();
    std::fs::write(
        home.path().join("alerts/oracle/broken.md"),
        "---\nseverity: HIGH\n---\n## Email Pattern\n```regex\ndisk (\\w+ full\n```\n",
    )
    .expect("write");
    std::fs::write(
        home.path().join("alerts/postgres/bad_group.md"),
        "## Email Pattern\n```regex\nwal (\\w+) lag\n```\n## Extracted Fields\n- `slot` = group(2)\n",
    )
    .expect("write");
    sentri(home.path())
        .args(["policy", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("alerts/oracle/broken.md:6: error: invalid regex"))
        .stdout(predicate::str::contains(
            "alerts/postgres/bad_group.md:6: error: field `slot` refers to group(2), but the pattern has 1 group(s)",
        ))
        .stdout(predicate::str::contains("17 alert policies"))
        .stdout(predicate::str::contains("2 file(s) skipped"));
}

/// The attack: one policy whose pattern cannot finish (it exceeds the backtracking limit on any
/// text). Before, its error was added to every other policy's samples, so the whole pack failed.
/// Now only its own samples fail, with its file and line; every other sample runs and passes.
#[test]
fn a_runaway_regex_fails_only_its_own_policys_samples() {
    let home = initialised();
    std::fs::write(
        home.path().join("alerts/postgres/runaway.md"),
        "## Email Pattern\n```regex\n(?:.|..)*(?=N)NEVER_IN_ANY_MAIL\n```\n## Sample Alerts\n\
         ```email\nSubject: runaway pattern sample, long enough to need a lot of backtracking\n\n\
         the body of the sample alert, also long\n```\n",
    )
    .expect("write");
    let output = sentri(home.path()).args(["policy", "check", "--json"]).assert().code(1).get_output().stdout.clone();
    let report = json(&output);
    assert_eq!(report["ok"], false);
    let samples = report["samples"].as_array().expect("samples");
    let (own, others): (Vec<_>, Vec<_>) = samples.iter().partition(|sample| sample["policy"] == "runaway");
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["passed"], false);
    let failure = own[0]["failures"][0].as_str().unwrap_or_default();
    assert!(failure.contains("the pattern (line 3) could not finish on this sample"), "{failure}");
    assert!(others.len() > 40, "the default pack's samples ran: {}", others.len());
    for sample in &others {
        assert_eq!(sample["passed"], true, "{sample}");
    }
    let problems = report["problems"].as_array().expect("problems");
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]["path"].as_str().unwrap_or_default().ends_with("alerts/postgres/runaway.md"));
    assert_eq!(problems[0]["line"], 3);
    for alert in report["alerts"].as_array().expect("alerts").iter().filter(|alert| alert["name"] != "runaway") {
        assert_eq!(alert["samples_passed"], alert["samples_total"], "{}", alert["name"]);
    }

    sentri(home.path())
        .args(["policy", "check"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("alerts/postgres/runaway.md:3: error: the pattern could not finish"))
        .stdout(predicate::str::contains("runaway (sample at alerts/postgres/runaway.md:6)"))
        .stdout(predicate::str::contains(format!("{}/{} samples passed", others.len(), others.len() + 1)));
}

#[test]
fn match_explains_an_oem_alert_and_resolves_the_alias() {
    let home = initialised();
    let output = sentri(home.path()).args(["match", "--json", SAMPLE]).assert().success().get_output().stdout.clone();
    let result = json(&output);
    assert_eq!(result["alert_type"], "tablespace_full");
    assert_eq!(result["database"], "PROD-DB-07", "PRODDB is an alias of PROD-DB-07 in the template config");
    assert_eq!(result["environment"], "PROD");
    assert_eq!(result["fields"]["tablespace_name"], "USERS");
    assert_eq!(result["fields"]["used_percent"], "97");
    let keys: Vec<&String> = result.as_object().expect("object").keys().collect();
    assert_eq!(keys, ["alert_type", "database", "environment", "fields"]);
}

#[test]
fn match_reads_standard_input_and_explains_a_miss() {
    let home = initialised();
    sentri(home.path())
        .args(["match", "-"])
        .write_stdin("Subject: Quarterly storage newsletter\n\nTablespace planning tips inside.\n")
        .assert()
        .success()
        .stdout(predicate::str::contains("no policy matched"))
        .stdout(predicate::str::contains("nearest policies:"))
        .stdout(predicate::str::contains("tablespace_full"));
    let output = sentri(home.path())
        .args(["match", "--json", "-"])
        .write_stdin("Subject: tablespace planning\n\nnothing else\n")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let result = json(&output);
    assert_eq!(result["alert_type"], serde_json::Value::Null);
    assert_eq!(result["database"], serde_json::Value::Null);
    assert_eq!(result["fields"], serde_json::json!({}));
    assert_eq!(result["nearest"][0]["alert_type"], "tablespace_full");
}

#[test]
fn match_survives_hostile_input() {
    let home = initialised();
    let mut inputs: Vec<Vec<u8>> = vec![
        Vec::new(),
        vec![0xff, 0xfe, 0x00, 0x1b, b'[', b'3', b'1', b'm', 0x80, b'\n'],
        b"Subject: Tablespace USERS is 97% full \xff\xfe\n\nbody \xc3\x28\n".to_vec(),
    ];
    let mut large = b"Subject: nightly report\n\n".to_vec();
    large.extend(std::iter::repeat_n(b"Lorem ipsum dolor sit amet. ".as_slice(), 200_000).flatten());
    inputs.push(large);
    for input in inputs {
        let assert = sentri(home.path()).args(["match", "-"]).write_stdin(input).assert().success();
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
        assert!(!stdout.contains('\u{1b}'), "escape sequences from an email must not reach the terminal");
    }
    // An alert whose recognisable line sits at the top of a very long mail is still read.
    let mut long = b"Subject: Tablespace USERS is 97% full on database DEV-DB-01\n\n".to_vec();
    long.extend(std::iter::repeat_n(b"quoted history line\n".as_slice(), 50_000).flatten());
    sentri(home.path())
        .args(["match", "-"])
        .write_stdin(long)
        .assert()
        .success()
        .stdout(predicate::str::contains("alert_type:  tablespace_full"))
        .stdout(predicate::str::contains("database:    DEV-DB-01"));
}

#[test]
fn config_problems_are_reported_with_file_line_and_key() {
    let home = initialised();
    let config = home.path().join("config/sentri.yaml");
    let database = |environment: &str, extra: &str| {
        format!(
            "databases:\n  - name: UAT-DB-03\n    connection_string: oracle://u@h:1521/UAT\n    environment: {environment}\n{extra}"
        )
    };
    std::fs::write(&config, database("STAGING", "")).expect("write");
    sentri(home.path())
        .args(["db", "list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("sentri.yaml:4:"))
        .stderr(predicate::str::contains("UAT-DB-03"))
        .stderr(predicate::str::contains("DEV, UAT, PROD"));
    std::fs::write(&config, database("UAT", "    enviroment: UAT\n")).expect("write");
    sentri(home.path())
        .args(["db", "list"])
        .assert()
        .success()
        .stderr(predicate::str::contains("databases[0].enviroment"))
        .stderr(predicate::str::contains("did you mean `environment`"));
    std::fs::write(&config, "databases:\n  - name: [unclosed\n").expect("write");
    sentri(home.path()).args(["db", "list"]).assert().code(1).stderr(predicate::str::contains("sentri.yaml:2:"));
    std::fs::write(&config, database("DEV", "    password: hunter2-secret\n")).expect("write");
    let output = sentri(home.path()).args(["db", "list", "--json"]).assert().success().get_output().clone();
    let everything = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(everything.contains("SENTRI_DB_UAT_DB_03_PASSWORD"), "{everything}");
    assert!(!everything.contains("hunter2-secret"), "a secret printed: {everything}");
}

#[test]
fn policy_check_path_must_be_a_policy_folder() {
    let home = initialised();
    sentri(home.path()).args(["policy", "check", "--path", "/nonexistent/folder"]).assert().code(1);
    let empty = tempfile::tempdir().expect("tempdir");
    sentri(home.path())
        .args(["policy", "check", "--path"])
        .arg(empty.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no alerts/ or checks/ folder"));
    sentri(home.path()).args(["policy", "check", "--path"]).arg(home.path()).assert().success();
}

#[test]
fn read_commands_work_on_an_empty_store_and_fail_clearly_without_a_home() {
    let home = initialised();
    sentri(home.path()).arg("list").assert().success().stdout(predicate::str::contains("No workflows yet."));
    sentri(home.path()).args(["list", "--json"]).assert().success().stdout(predicate::str::diff("[]\n"));
    sentri(home.path()).args(["stats", "--json"]).assert().success().stdout(predicate::str::contains("\"total\": 0"));
    sentri(home.path())
        .args(["audit", "--verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("Audit chain intact"));

    let missing = home.path().join("nope");
    sentri(&missing).arg("list").assert().code(1).stderr(predicate::str::contains("run `sentri init` first"));
}

#[test]
fn usage_errors_exit_2_and_every_command_has_help() {
    let home = tempfile::tempdir().expect("tempdir");
    sentri(home.path()).arg("frobnicate").assert().code(2);
    sentri(home.path()).args(["list", "--status", "SLEEPING"]).assert().code(2);
    for command in [
        vec!["init"],
        vec!["policy", "check"],
        vec!["match"],
        vec!["db", "list"],
        vec!["list"],
        vec!["show"],
        vec!["stats"],
        vec!["audit"],
        vec!["completions"],
        vec!["install-service"],
        vec!["profiles"],
    ] {
        let mut args = command.clone();
        args.push("--help");
        sentri(home.path()).args(&args).assert().success().stdout(predicate::str::contains("Usage: sentri"));
    }
    sentri(home.path()).arg("--version").assert().success().stdout(predicate::str::starts_with("sentri "));
    sentri(home.path()).args(["completions", "bash"]).assert().success().stdout(predicate::str::contains("_sentri"));
}

#[test]
fn alerts_that_hit_one_database_together_are_shown_as_one_incident() {
    let home = initialised();
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let new = |alert_type: &str| NewWorkflow {
        raw_alert_id: None,
        alert_type: alert_type.to_owned(),
        database: "PROD-DB-07".to_owned(),
        environment: "PROD".to_owned(),
        severity: "HIGH".to_owned(),
        fields: BTreeMap::new(),
    };
    let window = Some(jiff::SignedDuration::from_mins(5));
    let first = store.create_workflow_in_incident(new("tablespace_full"), "test", window).expect("first");
    let second = store.create_workflow_in_incident(new("archive_dest_full"), "test", window).expect("second");
    assert_eq!(second.incident_id, first.id);

    sentri(home.path())
        .args(["show", second.short_id()])
        .assert()
        .success()
        .stdout(predicate::str::contains(format!(
            "incident:    {} (2 alerts on PROD-DB-07 together)",
            first.short_id()
        )))
        .stdout(predicate::str::contains(format!("{}  tablespace_full — DETECTED", first.short_id())));
    let output = sentri(home.path()).args(["show", &first.id, "--json"]).assert().success().get_output().stdout.clone();
    assert_eq!(json(&output)["incident"], serde_json::json!([first.id, second.id]));
    sentri(home.path())
        .arg("list")
        .assert()
        .success()
        .stdout(predicate::str::contains("INCIDENT"))
        .stdout(predicate::str::contains(format!("PROD  DETECTED  {}", first.short_id())));
}

/// A message stored cut at the size cap shows as truncated with its original size, and a
/// message ignored for its sender shows why: nothing is invisible in `sentri alerts`.
#[test]
fn alerts_show_truncation_and_ignore_reasons() {
    let home = initialised();
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let key = sentri::store::MailboxKey { server: "imap".into(), username: "alerts".into(), folder: "INBOX".into() };
    let mail = |id: &str, from: &str| {
        let text = format!("From: {from}\r\nSubject: Tablespace USERS full\r\nMessage-ID: <{id}@x>\r\n\r\nbody\r\n");
        sentri::intake::RawAlert::from_rfc822(text.as_bytes(), "2026-11-25T01:02:03Z".into())
    };
    let (cut, _) = store.store_mailbox_alert(&key, 1, 1, &mail("cut", "oem@x.org"), Some(52_428_800)).expect("store");
    let (stranger, _) =
        store.store_mailbox_alert(&key, 1, 2, &mail("stranger", "m@evil.example"), None).expect("store");
    let rules = sentri::pipeline::triage::TriageRules::default().with_alert_senders(&["oem@x.org".to_owned()]);
    let policies = sentri::policy::PolicySet::load(home.path());
    sentri::pipeline::triage::triage(&store, stranger, &policies, &[], &rules).expect("triage");

    sentri(home.path())
        .arg("alerts")
        .assert()
        .success()
        .stdout(predicate::str::contains("NOTE"))
        .stdout(predicate::str::contains("truncated (original 50.0 MiB)"))
        .stdout(predicate::str::contains(
            "not read as an alert: the sender m@evil.example is not on email.alert_senders",
        ));
    let output = sentri(home.path()).args(["alerts", "--json"]).assert().success().get_output().stdout.clone();
    let listed = json(&output);
    let by_id = |id: i64| listed.as_array().into_iter().flatten().find(|alert| alert["id"] == id).cloned();
    let cut = by_id(cut).expect("listed");
    assert_eq!(cut["truncated"], true);
    assert_eq!(cut["original_size"], 52_428_800);
    let stranger = by_id(stranger).expect("listed");
    assert_eq!(stranger["outcome"], "ignored");
    assert_eq!(stranger["truncated"], false);
    assert!(stranger["reason"].as_str().unwrap_or_default().contains("m@evil.example"), "{stranger}");
}

fn workflow(store: &Store, alert_type: &str, database: &str, environment: &str) -> String {
    let new = NewWorkflow {
        raw_alert_id: None,
        alert_type: alert_type.to_owned(),
        database: database.to_owned(),
        environment: environment.to_owned(),
        severity: "HIGH".to_owned(),
        fields: BTreeMap::from([("tablespace_name".to_owned(), "USERS".to_owned())]),
    };
    store.create_workflow(new, "test").expect("create workflow").id.into()
}

#[test]
fn list_show_stats_and_audit_read_the_store() {
    let home = initialised();
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let first = workflow(&store, "tablespace_full", "PROD-DB-07", "PROD");
    let second = workflow(&store, "temp_full", "DEV-DB-01", "DEV");
    store
        .transition(&second, WorkflowState::Detected, WorkflowState::Verifying, "engine", "checking the live database")
        .expect("transition");

    let output = sentri(home.path()).args(["list", "--json"]).assert().success().get_output().stdout.clone();
    let listed = json(&output);
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), 2);
    let keys: Vec<&String> = listed[0].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "alert_type",
            "created_at",
            "database",
            "environment",
            "id",
            "incident_id",
            "short_id",
            "status",
            "updated_at"
        ]
    );
    assert_eq!(listed[0]["incident_id"], first.as_str(), "a workflow that came alone is its own incident");
    assert_eq!(listed[1]["status"], "VERIFYING");
    assert_eq!(listed[1]["short_id"], &second[..8]);

    sentri(home.path())
        .args(["list", "--status", "verifying"])
        .assert()
        .success()
        .stdout(predicate::str::contains("temp_full").and(predicate::str::contains("tablespace_full").not()));
    sentri(home.path())
        .args(["list", "--db", "prod-db-07"])
        .assert()
        .success()
        .stdout(predicate::str::contains("tablespace_full").and(predicate::str::contains("temp_full").not()));

    sentri(home.path())
        .args(["show", &second[..8]])
        .assert()
        .success()
        .stdout(predicate::str::contains("temp_full on DEV-DB-01 (DEV)"))
        .stdout(predicate::str::contains("DETECTED → VERIFYING  by engine — checking the live database"));
    sentri(home.path())
        .args(["show", "00000000-0000-4000-8000-000000000000"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not found"));

    // Seventeen ids share a first hex digit somewhere (pigeonhole): that prefix is ambiguous.
    let mut ids = vec![first.clone(), second.clone()];
    ids.extend((0..15).map(|_| workflow(&store, "tablespace_full", "UAT-DB-03", "UAT")));
    let shared = ids
        .iter()
        .find_map(|id| {
            let prefix = &id[..1];
            let matching: Vec<&String> = ids.iter().filter(|other| other.starts_with(prefix)).collect();
            (matching.len() > 1).then(|| (prefix.to_owned(), matching[0].clone(), matching[1].clone()))
        })
        .expect("two ids share a first digit");
    sentri(home.path()).args(["show", &shared.0]).assert().code(1).stderr(
        predicate::str::contains("ambiguous")
            .and(predicate::str::contains(&shared.1))
            .and(predicate::str::contains(&shared.2)),
    );

    let output = sentri(home.path()).args(["stats", "--json"]).assert().success().get_output().stdout.clone();
    assert_eq!(json(&output)["total"], 17);
    sentri(home.path())
        .args(["audit", "--db", "DEV-DB-01"])
        .assert()
        .success()
        .stdout(predicate::str::contains("TRANSITION"));
    sentri(home.path())
        .args(["audit", "--verify"])
        .assert()
        .success()
        .stdout(predicate::str::contains("18 row(s) verified"));
}

#[test]
fn audit_verify_names_the_first_edited_row() {
    let home = initialised();
    let path = home.path().join("data/sentri.db");
    let store = Store::open(&path).expect("open store");
    for _ in 0..3 {
        workflow(&store, "tablespace_full", "PROD-DB-07", "PROD");
    }
    drop(store);
    // What someone with the sqlite3 shell would do: drop the guard, then rewrite history.
    let connection = rusqlite::Connection::open(&path).expect("open sqlite");
    let triggers: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit'")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
        .expect("list triggers");
    assert!(!triggers.is_empty(), "the audit table must be guarded by triggers");
    let refused = connection.execute("UPDATE audit SET actor = 'someone else' WHERE id = 2", []);
    assert!(refused.is_err(), "the audit table must refuse UPDATE");
    for trigger in triggers {
        connection.execute(&format!("DROP TRIGGER \"{trigger}\""), []).expect("drop trigger");
    }
    connection.execute("UPDATE audit SET actor = 'someone else' WHERE id = 2", []).expect("tamper");
    drop(connection);
    sentri(home.path())
        .args(["audit", "--verify"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("BROKEN at row #2"));
}

fn awaiting_approval(store: &Store) -> String {
    let id = workflow(store, "tablespace_full", "PROD-DB-07", "PROD");
    for (from, to) in [
        (WorkflowState::Detected, WorkflowState::Verifying),
        (WorkflowState::Verifying, WorkflowState::Verified),
        (WorkflowState::Verified, WorkflowState::PreFlight),
    ] {
        store.transition(&id, from, to, "engine", "").expect("transition");
    }
    store.set_plan(&id, &plans::plan_adding_a_datafile(&id), "engine").expect("plan");
    store
        .transition(&id, WorkflowState::PreFlight, WorkflowState::AwaitingApproval, "engine", "PROD needs approval")
        .expect("await");
    id
}

#[test]
fn approve_deny_and_resolve_from_the_cli() {
    let home = initialised();
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let approved = awaiting_approval(&store);
    let me = os_account();
    sentri(home.path())
        .args(["approve", &approved[..8]])
        .env("USER", "alice")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("APPROVED by {me}")))
        .stdout(predicate::str::contains("plan hash:"));
    let row = store.get_workflow(&approved).expect("workflow");
    assert_eq!(row.state, WorkflowState::Approved);
    let approvals = store.approvals(&approved).expect("approvals");
    assert_eq!(approvals.len(), 1);
    assert_eq!(approvals[0].approver, me, "the OS account, not $USER");
    assert_eq!(
        Some(approvals[0].plan_hash.as_str()),
        row.plan_hash.as_deref(),
        "the approval is bound to the plan hash"
    );
    sentri(home.path())
        .args(["approve", &approved[..8]])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not AWAITING_APPROVAL"));

    let denied = awaiting_approval(&store);
    sentri(home.path())
        .args(["approve", &denied[..8], "--deny"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--deny needs --reason"));
    sentri(home.path())
        .args(["approve", &denied[..8], "--deny", "--reason", "change freeze"])
        .assert()
        .success()
        .stdout(predicate::str::contains("DENIED"));
    assert_eq!(store.get_workflow(&denied).expect("workflow").state, WorkflowState::Denied);

    sentri(home.path())
        .args(["resolve", &denied[..8], "--reason", "extended the tablespace by hand"])
        .env("USER", "bob")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("RESOLVED by {me} (was DENIED)")));
    sentri(home.path())
        .args(["resolve", &denied[..8], "--reason", "again"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot be resolved"));
    sentri(home.path()).args(["audit", "--verify"]).assert().success();
}

/// The account this test process runs as, by `id -un` (what the uid is called, whatever the
/// environment says).
fn os_account() -> String {
    let output = std::process::Command::new("id").arg("-un").env("USER", "nobody-at-all").output().expect("id -un");
    String::from_utf8(output.stdout).expect("utf-8").trim().to_owned()
}

#[test]
fn one_person_cannot_be_two_approvers_by_changing_user_or_sudo_user() {
    let home = initialised();
    std::fs::write(home.path().join("config/sentri.yaml"), "approvals:\n  required_approvals: 2\n").expect("config");
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let id = awaiting_approval(&store);
    let me = os_account();
    // The attack: the same person approves as "alice", then as "bob".
    sentri(home.path())
        .args(["approve", &id[..8]])
        .env("USER", "alice")
        .env("LOGNAME", "alice")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("approval by {me} recorded (1 of 2 distinct approvers)")));
    sentri(home.path())
        .args(["approve", &id[..8]])
        .env("USER", "bob")
        .env("LOGNAME", "bob")
        .env("SUDO_USER", "bob")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!("the decision by {me} was refused")))
        .stderr(predicate::str::contains("already approved"));
    assert_eq!(store.get_workflow(&id).expect("workflow").state, WorkflowState::AwaitingApproval);
    let approvers: Vec<String> = store.approvals(&id).expect("approvals").into_iter().map(|a| a.approver).collect();
    assert_eq!(approvers, std::slice::from_ref(&me));
    let refused = store.list_audit(&Default::default()).expect("audit").pop().expect("a row");
    assert_eq!((refused.action.as_str(), refused.result.as_str()), ("APPROVAL_REFUSED", "ALREADY_APPROVED"));
    assert_eq!(refused.actor, format!("cli:{me}"));
}

#[test]
fn self_approval_is_judged_on_the_os_account_not_the_environment() {
    let home = initialised();
    std::fs::write(home.path().join("config/sentri.yaml"), "approvals:\n  forbid_self_approval: true\n")
        .expect("config");
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let id = awaiting_approval(&store);
    // Recorded the way `sentri replay` records it: the OS account of whoever replayed.
    store.record_requester(&id, &os_account(), "replay").expect("requester");
    sentri(home.path())
        .args(["approve", &id[..8]])
        .env("USER", "someone-else")
        .env("SUDO_USER", "someone-else")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("requested this change"));
    assert_eq!(store.get_workflow(&id).expect("workflow").state, WorkflowState::AwaitingApproval);
    assert!(store.approvals(&id).expect("approvals").is_empty());
}

#[test]
fn replay_records_the_os_account_as_requester() {
    let home = initialised();
    let folder = home.path().join("replay");
    std::fs::create_dir_all(&folder).expect("folder");
    std::fs::copy(SAMPLE, folder.join("alert.eml")).expect("sample");
    sentri(home.path()).arg("replay").arg(&folder).env("USER", "carol").env("SUDO_USER", "carol").assert().success();
    let store = Store::open(home.path().join("data/sentri.db")).expect("open store");
    let workflows = store.list_workflows(&Default::default()).expect("list");
    assert_eq!(workflows.len(), 1, "the sample opens one workflow");
    assert_eq!(store.requesters(&workflows[0].id).expect("requesters"), [os_account()]);
}

#[test]
fn the_home_and_the_store_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = initialised();
    let mode = |path: &Path| std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode(home.path()), 0o700);
    assert_eq!(mode(&home.path().join("data")), 0o700);
    let database = home.path().join("data/sentri.db");
    assert_eq!(mode(&database), 0o600);
    // Another account on the machine cannot read approvals or the audit trail while it runs.
    let store = Store::open(&database).expect("open store");
    awaiting_approval(&store);
    for sidecar in ["data/sentri.db-wal", "data/sentri.db-shm"] {
        assert_eq!(mode(&home.path().join(sidecar)), 0o600, "{sidecar}");
    }
}

#[test]
fn replay_a_folder_then_list_every_alert_with_its_outcome() {
    let home = initialised();
    let samples = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/samples");
    sentri(home.path())
        .args(["replay", "--dry-run", samples])
        .assert()
        .success()
        .stdout(predicate::str::contains("dry run: nothing stored"));
    sentri(home.path()).args(["alerts", "--json"]).assert().success().stdout(predicate::str::diff("[]\n"));

    sentri(home.path())
        .args(["replay", samples])
        .assert()
        .success()
        .stdout(predicate::str::contains("5 message(s): 4 recognised, 1 unmatched"));
    sentri(home.path())
        .args(["replay", samples])
        .assert()
        .success()
        .stdout(predicate::str::contains("already stored: skipped"));

    let output = sentri(home.path()).args(["alerts", "--json"]).assert().success().get_output().stdout.clone();
    let alerts = json(&output);
    let alerts = alerts.as_array().expect("array");
    assert_eq!(alerts.len(), 5, "replaying twice stores each message once");
    let keys: Vec<&String> = alerts[0].as_object().expect("object").keys().collect();
    assert_eq!(
        keys,
        [
            "alert_type",
            "body_pruned_at",
            "database",
            "id",
            "original_size",
            "outcome",
            "parse_error",
            "reason",
            "received_at",
            "subject",
            "truncated",
            "workflow_id"
        ]
    );
    let outcomes: Vec<&str> = alerts.iter().filter_map(|alert| alert["outcome"].as_str()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == "workflow").count(), 3);
    assert_eq!(outcomes.iter().filter(|o| **o == "unmatched").count(), 1);
    let unmatched =
        sentri(home.path()).args(["alerts", "--unmatched", "--json"]).assert().success().get_output().stdout.clone();
    assert_eq!(json(&unmatched).as_array().map(Vec::len), Some(1));

    let output = sentri(home.path()).args(["list", "--json"]).assert().success().get_output().stdout.clone();
    let workflows = json(&output);
    assert_eq!(workflows.as_array().map(Vec::len), Some(3));
    assert!(workflows.as_array().into_iter().flatten().all(|w| w["status"] == "DETECTED"));
}
