//! The Safety Mesh's rules, one test per row of each check's semantics, and how they combine.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::config::AutonomyLevel;
use crate::pipeline::plan::PlanStep;
use crate::policy::alert::Risk;
use crate::policy::environment::{Autonomy, EnvironmentPolicy};
use crate::store::audit::{AuditFilter, actions};
use crate::store::{LockOutcome, Store};

use super::testing::{brain, context, plan, wednesday};
use super::*;

fn verdict_of(check: CheckName, plan: &Plan, context: &MeshContext<'_>) -> MeshVerdict {
    check.run(plan, context).verdict
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

// ---- policy gate ----

#[test]
fn autonomy_by_environment() {
    let brain = brain();
    for (environment, expected) in
        [("DEV", MeshVerdict::Allow), ("UAT", MeshVerdict::Allow), ("PROD", MeshVerdict::NeedsApproval)]
    {
        let plan = plan(environment);
        assert_eq!(verdict_of(CheckName::PolicyGate, &plan, &context(&brain, &plan)), expected, "{environment}");
    }
    let mut medium = plan("UAT");
    medium.risk = Risk::Medium;
    let gate = policy_gate::check(&medium, &context(&brain, &medium));
    assert_eq!(gate.verdict, MeshVerdict::NeedsApproval);
    assert!(gate.reason.contains("SUPERVISED"), "{}", gate.reason);
    let mut medium_dev = plan("DEV");
    medium_dev.risk = Risk::High;
    assert_eq!(verdict_of(CheckName::PolicyGate, &medium_dev, &context(&brain, &medium_dev)), MeshVerdict::Allow);
}

#[test]
fn the_configured_environment_is_judged_and_a_plan_claiming_another_is_blocked() {
    let brain = brain();
    let claims_dev = plan("DEV");
    let mut ctx = context(&brain, &claims_dev);
    ctx.database_environment = Some(Environment::Prod);
    let gate = policy_gate::check(&claims_dev, &ctx);
    assert_eq!(gate.verdict, MeshVerdict::Block, "{}", gate.reason);
    assert!(gate.reason.contains("configured PROD"), "{}", gate.reason);
    let honest = plan("PROD");
    let mut ctx = context(&brain, &honest);
    ctx.database_environment = Some(Environment::Prod);
    assert_eq!(verdict_of(CheckName::PolicyGate, &honest, &ctx), MeshVerdict::NeedsApproval);
}

#[test]
fn an_unknown_environment_is_prod() {
    let brain = brain();
    let plan = plan("STAGING");
    let gate = policy_gate::check(&plan, &context(&brain, &plan));
    assert_eq!(gate.verdict, MeshVerdict::NeedsApproval);
    assert!(gate.reason.contains("treated as PROD"), "{}", gate.reason);
}

fn environment_file(database: &str, over: Option<Autonomy>, expires: Option<jiff::civil::Date>) -> EnvironmentPolicy {
    EnvironmentPolicy {
        path: PathBuf::from("environments/dev_db_01.md"),
        database_id: database.into(),
        environment: None,
        autonomy_override: over,
        override_reason: Some("migration".into()),
        override_approved_by: Some("dba".into()),
        override_expires: expires,
        critical_schemas: Vec::new(),
    }
}

#[test]
fn overrides_make_stricter_until_they_expire_and_never_relax() {
    let brain = brain();
    let dev = plan("DEV");
    let advisory = environment_file("dev-db-01", Some(Autonomy::Advisory), Some(jiff::civil::date(2026, 11, 30)));
    let mut ctx = context(&brain, &dev);
    ctx.environment_policy = Some(&advisory);
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::NeedsApproval);
    ctx.now = at("2026-12-01T10:00:00Z");
    let expired = policy_gate::check(&dev, &ctx);
    assert_eq!(expired.verdict, MeshVerdict::Allow);
    assert!(expired.reason.contains("expired"), "{}", expired.reason);

    let prod = plan("PROD");
    let relax = environment_file("DEV-DB-01", Some(Autonomy::Autonomous), None);
    let mut ctx = context(&brain, &prod);
    ctx.environment_policy = Some(&relax);
    let gate = policy_gate::check(&prod, &ctx);
    assert_eq!(gate.verdict, MeshVerdict::NeedsApproval);
    assert!(gate.reason.contains("ignored"), "{}", gate.reason);

    let other = environment_file("OTHER-DB", None, None);
    let mut ctx = context(&brain, &dev);
    ctx.environment_policy = Some(&other);
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::Block);
}

#[test]
fn the_config_autonomy_level_only_tightens() {
    let brain = brain();
    let dev = plan("DEV");
    let mut ctx = context(&brain, &dev);
    ctx.database_autonomy = Some(AutonomyLevel::Advisory);
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::NeedsApproval);
    let prod = plan("PROD");
    let mut ctx = context(&brain, &prod);
    ctx.database_autonomy = Some(AutonomyLevel::Autonomous);
    assert_eq!(verdict_of(CheckName::PolicyGate, &prod, &ctx), MeshVerdict::NeedsApproval);
}

#[test]
fn a_workflow_no_policy_file_knows_waits_for_a_human_even_in_dev() {
    let brain = brain();
    let dev = plan("DEV");
    let mut ctx = context(&brain, &dev);
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::Allow);
    ctx.provisional = true;
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::NeedsApproval);
    let hash = dev.hash();
    ctx.approved_plan_hash = Some(hash.into());
    let (decision, _) = crate::safety::evaluate(dev.clone(), &ctx);
    assert_eq!(decision.verdict, MeshVerdict::Allow, "an approval of this plan satisfies it");
}

#[test]
fn action_rules_are_keyed_by_action_type() {
    let brain = brain();
    let mut listener = plan("DEV");
    listener.alert_type = "listener_down".into();
    listener.action_type = "start_listener".into();
    let gate = policy_gate::check(&listener, &context(&brain, &listener));
    assert_eq!(gate.verdict, MeshVerdict::NeedsApproval);
    assert!(gate.reason.contains("START_LISTENER needs approval in DEV"), "{}", gate.reason);

    let mut unknown = plan("DEV");
    unknown.action_type = "NEW_THING".into();
    assert_eq!(verdict_of(CheckName::PolicyGate, &unknown, &context(&brain, &unknown)), MeshVerdict::Allow);
    unknown.environment = "UAT".into();
    assert_eq!(verdict_of(CheckName::PolicyGate, &unknown, &context(&brain, &unknown)), MeshVerdict::NeedsApproval);
    unknown.action_type = " ".into();
    unknown.environment = "DEV".into();
    assert_eq!(verdict_of(CheckName::PolicyGate, &unknown, &context(&brain, &unknown)), MeshVerdict::NeedsApproval);
}

#[test]
fn confidence_thresholds() {
    let brain = brain();
    let mut dev = plan("DEV");
    for (confidence, expected) in [
        (0.80, MeshVerdict::Allow),
        (0.79, MeshVerdict::NeedsApproval),
        (0.60, MeshVerdict::NeedsApproval),
        (0.59, MeshVerdict::Block),
        (f64::NAN, MeshVerdict::Block),
        (1.5, MeshVerdict::Block),
    ] {
        dev.confidence = confidence;
        assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &context(&brain, &dev)), expected, "{confidence}");
    }
}

#[test]
fn change_and_freeze_windows() {
    let brain = brain();
    let uat = plan("UAT");
    let mut ctx = context(&brain, &uat);
    ctx.now = at("2026-11-25T21:00:00Z");
    let outside = policy_gate::check(&uat, &ctx);
    assert_eq!(outside.verdict, MeshVerdict::NeedsApproval);
    assert!(outside.reason.contains("outside UAT's change window"), "{}", outside.reason);

    let prod = plan("PROD");
    let mut ctx = context(&brain, &prod);
    ctx.now = at("2026-11-28T23:00:00Z");
    let frozen = policy_gate::check(&prod, &ctx);
    assert_eq!(frozen.verdict, MeshVerdict::Block);
    assert!(frozen.reason.contains("Weekly release window"), "{}", frozen.reason);

    let dev = plan("DEV");
    let mut ctx = context(&brain, &dev);
    ctx.now = at("2026-11-28T23:00:00Z");
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::Allow);
}

#[test]
fn protected_databases_match_exact_names_and_aliases_only() {
    let brain = brain();
    let mut dev = plan("DEV");
    dev.database = "prod-db-07".into();
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &context(&brain, &dev)), MeshVerdict::NeedsApproval);
    dev.database = "PROD-DB-070".into();
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &context(&brain, &dev)), MeshVerdict::Allow);
    let aliases = vec!["prod-db-07".to_owned()];
    let mut ctx = context(&brain, &dev);
    ctx.database_aliases = &aliases;
    assert_eq!(verdict_of(CheckName::PolicyGate, &dev, &ctx), MeshVerdict::NeedsApproval);
}

#[test]
fn protected_sessions_are_never_ended() {
    let brain = brain();
    let mut kill = plan("DEV");
    kill.action_type = "TERMINATE_SESSION".into();
    kill.steps = vec![PlanStep { sql: "SELECT pg_terminate_backend(:pid)".into() }];
    kill.values.insert("USENAME".into(), Some("postgres".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &kill, &context(&brain, &kill)), MeshVerdict::Block);
    kill.values.insert("USENAME".into(), Some("app".into()));
    kill.action_type = "KILL_SESSION".into();
    assert_eq!(verdict_of(CheckName::PolicyGate, &kill, &context(&brain, &kill)), MeshVerdict::NeedsApproval);
    kill.values.remove("USENAME");
    let unknown = policy_gate::check(&kill, &context(&brain, &kill));
    assert!(unknown.reason.contains("does not say whose"), "{}", unknown.reason);
    // A plan that ends no session is not judged on the user it mentions.
    let mut other = plan("DEV");
    other.values.insert("username".into(), Some("SYS".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &other, &context(&brain, &other)), MeshVerdict::Allow);
}

#[test]
fn prefixed_user_and_program_values_are_recognised() {
    let mut brain = brain();
    brain.protected_programs = vec!["RMAN".into(), "(PMON)".into()];
    let mut kill = plan("DEV");
    kill.action_type = "KILL_SESSION".into();
    kill.steps = vec![PlanStep { sql: "ALTER SYSTEM KILL SESSION :session IMMEDIATE".into() }];
    kill.values.insert("blk_username".into(), Some("SYS".into()));
    kill.values.insert("blk_program".into(), Some("sqlplus@app01".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &kill, &context(&brain, &kill)), MeshVerdict::Block, "blk_username");
    kill.values.insert("blk_username".into(), Some("APP".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &kill, &context(&brain, &kill)), MeshVerdict::NeedsApproval);
    kill.values.insert("blk_program".into(), Some("rman@db01 (TNS V1-V3)".into()));
    let rman = policy_gate::check(&kill, &context(&brain, &kill));
    assert_eq!(rman.verdict, MeshVerdict::Block);
    assert!(rman.reason.contains("`RMAN`"), "{}", rman.reason);
    kill.values.remove("blk_program");
    let unknown = policy_gate::check(&kill, &context(&brain, &kill));
    assert!(unknown.reason.contains("which program"), "{}", unknown.reason);
    // A value whose name only contains the word is not taken for it.
    kill.values.insert("usernames_seen".into(), Some("SYS".into()));
    kill.values.insert("program".into(), Some("JDBC Thin Client".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &kill, &context(&brain, &kill)), MeshVerdict::NeedsApproval);
}

#[test]
fn protected_schemas_are_never_modified() {
    let mut brain = brain();
    brain.protected_schemas = vec!["SYS".into(), "PG_CATALOG".into()];
    let mut vacuum = plan("DEV");
    vacuum.action_type = "VACUUM_TABLE".into();
    vacuum.steps = vec![PlanStep { sql: "VACUUM (ANALYZE) :tbl_schema.:tbl_name".into() }];
    vacuum.values = BTreeMap::from([
        ("tbl_schema".into(), Some("pg_catalog".into())),
        ("tbl_name".into(), Some("pg_class".into())),
    ]);
    let blocked = policy_gate::check(&vacuum, &context(&brain, &vacuum));
    assert_eq!(blocked.verdict, MeshVerdict::Block);
    assert!(blocked.reason.contains("protected schema"), "{}", blocked.reason);
    vacuum.values.insert("tbl_schema".into(), Some("public".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &vacuum, &context(&brain, &vacuum)), MeshVerdict::Allow);
    // A schema written into the statement itself counts too.
    vacuum.steps = vec![PlanStep { sql: "ALTER TABLE sys.aud$ MOVE TABLESPACE :tablespace_name".into() }];
    assert_eq!(verdict_of(CheckName::PolicyGate, &vacuum, &context(&brain, &vacuum)), MeshVerdict::Block);
    // Reading a protected schema's objects is not modifying them.
    let mut read = plan("DEV");
    read.steps = vec![PlanStep { sql: "SELECT COUNT(*) FROM sys.obj$ WHERE owner# = :owner".into() }];
    read.values.insert("owner".into(), Some("SYS".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &read, &context(&brain, &read)), MeshVerdict::Allow);
}

#[test]
fn critical_schemas_need_a_human() {
    let brain = brain();
    let mut fix = plan("DEV");
    fix.action_type = "EXTEND_SEQUENCE".into();
    fix.steps = vec![PlanStep { sql: "ALTER SEQUENCE :seq_schema.:seq_name AS bigint".into() }];
    fix.values = BTreeMap::from([("seq_schema".into(), Some("hr".into())), ("seq_name".into(), Some("ids".into()))]);
    let critical = vec!["HR".to_owned()];
    let mut ctx = context(&brain, &fix);
    ctx.critical_schemas = &critical;
    let verdict = policy_gate::check(&fix, &ctx);
    assert_eq!(verdict.verdict, MeshVerdict::NeedsApproval);
    assert!(verdict.reason.contains("critical schema"), "{}", verdict.reason);
    fix.values.insert("seq_schema".into(), Some("sales".into()));
    assert_eq!(verdict_of(CheckName::PolicyGate, &fix, &ctx), MeshVerdict::Allow, "another schema runs in DEV");
}

// ---- conflict lock ----

#[test]
fn lock_keys_name_the_resource() {
    let dev = plan("DEV");
    assert_eq!(conflict_lock::lock_key(&dev), "DEV-DB-01:tablespace:USERS");
    let mut kill = plan("DEV");
    kill.identifiers.clear();
    kill.action_type = "kill_session".into();
    assert_eq!(conflict_lock::lock_key(&kill), "DEV-DB-01:action:KILL_SESSION");
}

#[test]
fn lock_keys_are_the_resolved_identity_not_the_raw_value() {
    use crate::targets::DbKind;
    use crate::targets::resolve::ResolvedIdentifier;
    use crate::targets::sql::IdentifierKind;
    let sequence = |values: &str, resolved: Option<(&str, &str)>| {
        let mut fix = plan("DEV");
        fix.engine = DbKind::Postgres;
        fix.identifiers = BTreeMap::from([("seq_name".into(), IdentifierKind::Sequence)]);
        fix.values = BTreeMap::from([("seq_name".into(), Some(values.to_owned()))]);
        if let Some((schema, name)) = resolved {
            fix.resolved.insert(
                "seq_name".into(),
                ResolvedIdentifier { kind: IdentifierKind::Sequence, schema: Some(schema.into()), name: name.into() },
            );
        }
        conflict_lock::lock_key(&fix)
    };
    assert_eq!(sequence("DUP", Some(("public", "dup"))), "DEV-DB-01:sequence:public.dup");
    assert_eq!(sequence("DUP", Some(("public", "dup"))), sequence("dup", Some(("public", "dup"))));
    assert_ne!(sequence("DUP", Some(("public", "DUP"))), sequence("dup", Some(("public", "dup"))));
    assert_eq!(sequence("DUP", None), sequence("dup", None), "unquoted names fold on PostgreSQL");
    assert_ne!(sequence("\"DUP\"", None), sequence("dup", None), "a quoted name is exact");
}

#[test]
fn conflict_lock_rows() {
    let brain = brain();
    let dev = plan("DEV");
    let mut ctx = context(&brain, &dev);
    assert_eq!(verdict_of(CheckName::ConflictLock, &dev, &ctx), MeshVerdict::Allow);
    ctx.lock = Some(LockAttempt {
        key: conflict_lock::lock_key(&dev),
        outcome: LockOutcome::Held { workflow_id: "abcdef12-3456".into(), expires_at: wednesday() },
    });
    let held = conflict_lock::check(&dev, &ctx);
    assert_eq!(held.verdict, MeshVerdict::Block);
    assert!(held.reason.starts_with("workflow abcdef12 holds DEV-DB-01:tablespace:USERS"), "{}", held.reason);
    ctx.lock = Some(LockAttempt {
        key: "DEV-DB-01:tablespace:TEMP".into(),
        outcome: LockOutcome::Acquired { expires_at: wednesday() },
    });
    assert_eq!(verdict_of(CheckName::ConflictLock, &dev, &ctx), MeshVerdict::Block);
    ctx.lock = None;
    assert_eq!(verdict_of(CheckName::ConflictLock, &dev, &ctx), MeshVerdict::Block);
}

// ---- blast radius ----

#[test]
fn blast_radius_rows() {
    let brain = brain();
    let step = |environment: &str, sql: &str| {
        let mut plan = plan(environment);
        plan.steps = vec![PlanStep { sql: sql.into() }];
        plan.rollback = vec![PlanStep { sql: "SELECT 1 FROM dual".into() }];
        verdict_of(CheckName::BlastRadius, &plan, &context(&brain, &plan))
    };
    assert_eq!(step("DEV", "DROP TABLE t"), MeshVerdict::Block);
    assert_eq!(step("DEV", "ALTER SYSTEM KILL SESSION :session"), MeshVerdict::Allow);
    assert_eq!(step("UAT", "ALTER SYSTEM KILL SESSION :session"), MeshVerdict::NeedsApproval);
    assert_eq!(step("PROD", "ALTER SYSTEM KILL SESSION :session"), MeshVerdict::NeedsApproval);
    assert_eq!(step("QA", "ALTER SYSTEM KILL SESSION :session"), MeshVerdict::NeedsApproval);
    assert_eq!(step("PROD", "ALTER SEQUENCE s AS bigint"), MeshVerdict::Allow);
}

#[test]
fn blast_radius_reads_rollbacks_and_read_only_queries_too() {
    let brain = brain();
    // The template: DROP DATAFILE undoing ADD DATAFILE on the same tablespace carries ADD's risk.
    let uat = plan("UAT");
    assert_eq!(verdict_of(CheckName::BlastRadius, &uat, &context(&brain, &uat)), MeshVerdict::Allow);
    let mut other = plan("UAT");
    other.rollback = vec![PlanStep { sql: "ALTER TABLESPACE system DROP DATAFILE :file_name".into() }];
    assert_eq!(verdict_of(CheckName::BlastRadius, &other, &context(&brain, &other)), MeshVerdict::NeedsApproval);
    let mut hidden = plan("DEV");
    hidden.rollback = vec![PlanStep { sql: "BEGIN EXECUTE IMMEDIATE 'dr'||'op table t'; END;".into() }];
    assert_eq!(verdict_of(CheckName::BlastRadius, &hidden, &context(&brain, &hidden)), MeshVerdict::Block);
    let mut writes = plan("DEV");
    writes.validation = Some(PlanStep { sql: "DELETE FROM t WHERE a = 1".into() });
    assert_eq!(verdict_of(CheckName::BlastRadius, &writes, &context(&brain, &writes)), MeshVerdict::Block);
}

// ---- circuit breaker ----

#[test]
fn circuit_breaker_rows() {
    let brain = brain();
    let dev = plan("DEV");
    let mut ctx = context(&brain, &dev);
    let since = failure_window_start(&brain, ctx.now);
    ctx.failures = Some(FailureCount { since, count: 2 });
    assert_eq!(verdict_of(CheckName::CircuitBreaker, &dev, &ctx), MeshVerdict::Allow);
    ctx.failures = Some(FailureCount { since, count: 3 });
    let open = circuit_breaker::check(&dev, &ctx);
    assert_eq!(open.verdict, MeshVerdict::Block);
    assert!(open.reason.contains("circuit breaker open"), "{}", open.reason);
    ctx.failures = Some(FailureCount { since: ctx.now, count: 0 });
    assert_eq!(verdict_of(CheckName::CircuitBreaker, &dev, &ctx), MeshVerdict::Block);
    ctx.failures = None;
    assert_eq!(verdict_of(CheckName::CircuitBreaker, &dev, &ctx), MeshVerdict::Block);
}

// ---- rollback guarantee ----

#[test]
fn rollback_guarantee_rows() {
    let brain = brain();
    let dev = plan("DEV");
    assert_eq!(verdict_of(CheckName::RollbackGuarantee, &dev, &context(&brain, &dev)), MeshVerdict::Allow);
    let mut none = plan("DEV");
    none.rollback.clear();
    assert_eq!(verdict_of(CheckName::RollbackGuarantee, &none, &context(&brain, &none)), MeshVerdict::Block);
    for fake in ["-- nothing to do", "N/A", "N/A: irreversible", "  ", "/* later */"] {
        let mut plan = plan("DEV");
        plan.rollback = vec![PlanStep { sql: fake.into() }];
        assert_eq!(
            verdict_of(CheckName::RollbackGuarantee, &plan, &context(&brain, &plan)),
            MeshVerdict::Block,
            "{fake}"
        );
    }
    let mut short = plan("DEV");
    short.steps.push(PlanStep { sql: "ALTER TABLESPACE :tablespace_name ADD DATAFILE SIZE 1G".into() });
    assert_eq!(verdict_of(CheckName::RollbackGuarantee, &short, &context(&brain, &short)), MeshVerdict::Block);
    let mut irreversible = plan("DEV");
    irreversible.rollback.clear();
    irreversible.irreversible = Some("a killed session cannot be revived".into());
    assert_eq!(
        verdict_of(CheckName::RollbackGuarantee, &irreversible, &context(&brain, &irreversible)),
        MeshVerdict::NeedsApproval
    );
    irreversible.irreversible = Some(" ".into());
    assert_eq!(
        verdict_of(CheckName::RollbackGuarantee, &irreversible, &context(&brain, &irreversible)),
        MeshVerdict::Block
    );
}

// ---- the mesh ----

#[test]
fn a_clean_dev_plan_is_cleared_with_every_check_known() {
    let brain = brain();
    let dev = plan("DEV");
    let (decision, result) = evaluate(dev.clone(), &context(&brain, &dev));
    assert_eq!(decision.verdict, MeshVerdict::Allow, "{decision:#?}");
    assert_eq!(decision.checks.len(), 5);
    assert_eq!(decision.plan_hash, dev.hash());
    let cleared = result.expect("cleared");
    assert_eq!(cleared.plan(), &dev);
}

#[test]
fn the_most_restrictive_verdict_wins_and_no_check_is_skipped() {
    let brain = brain();
    let mut prod = plan("PROD");
    prod.rollback.clear();
    let (decision, result) = evaluate(prod.clone(), &context(&brain, &prod));
    assert_eq!(decision.verdict, MeshVerdict::Block);
    let verdicts: Vec<MeshVerdict> = decision.checks.iter().map(|c| c.verdict.verdict).collect();
    assert_eq!(
        verdicts,
        [MeshVerdict::NeedsApproval, MeshVerdict::Allow, MeshVerdict::Allow, MeshVerdict::Allow, MeshVerdict::Block]
    );
    assert_eq!(result.expect_err("not cleared"), prod);
    assert_eq!(decision.reasons().len(), 1);
}

#[test]
fn an_approval_of_this_exact_plan_satisfies_needs_approval() {
    let brain = brain();
    let prod = plan("PROD");
    let mut ctx = context(&brain, &prod);
    let (decision, result) = evaluate(prod.clone(), &ctx);
    assert_eq!(decision.verdict, MeshVerdict::NeedsApproval);
    assert!(result.is_err());

    ctx.approved_plan_hash = Some("0".repeat(64).into());
    let (decision, _) = evaluate(prod.clone(), &ctx);
    assert_eq!(decision.verdict, MeshVerdict::NeedsApproval, "an approval of another plan counts for nothing");

    ctx.approved_plan_hash = Some(prod.plan_hash());
    let (decision, result) = evaluate(prod.clone(), &ctx);
    assert_eq!(decision.verdict, MeshVerdict::Allow);
    assert!(decision.approval_used);
    assert!(result.is_ok());
}

#[test]
fn an_approval_never_lifts_a_block() {
    let brain = brain();
    let mut prod = plan("PROD");
    prod.steps = vec![PlanStep { sql: "TRUNCATE TABLE t".into() }];
    let mut ctx = context(&brain, &prod);
    ctx.lock = Some(LockAttempt {
        key: conflict_lock::lock_key(&prod),
        outcome: LockOutcome::Acquired { expires_at: ctx.now },
    });
    ctx.approved_plan_hash = Some(prod.plan_hash());
    let (decision, result) = evaluate(prod, &ctx);
    assert_eq!(decision.verdict, MeshVerdict::Block);
    assert!(decision.approval_used);
    assert!(result.is_err());
}

#[test]
fn every_verdict_is_audited_with_a_summary() {
    let store = Store::open_in_memory().unwrap();
    let brain = brain();
    let prod = plan("PROD");
    let (decision, _) = evaluate(prod.clone(), &context(&brain, &prod));
    audit(&store, &prod, &decision).unwrap();
    let rows = store.list_audit(&AuditFilter::default()).unwrap();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r.action == actions::SAFETY_VERDICT && r.actor == "safety"));
    assert_eq!(rows[0].detail["check"], "policy_gate");
    assert_eq!(rows[0].result, "NEEDS_APPROVAL");
    assert_eq!(rows[1].result, "ALLOW");
    assert_eq!(rows[5].detail["check"], "mesh");
    assert_eq!(rows[5].result, "NEEDS_APPROVAL");
    assert_eq!(rows[5].detail["plan_hash"], prod.hash());
    assert!(store.verify_audit().unwrap().is_intact());
}
