//! Conflict lock: one writer per database resource. The caller takes the lock named by
//! [`lock_key`] in the store before the mesh runs and passes the outcome in; this check only
//! judges it, so a plan whose resource another workflow holds is blocked (the engine retries it
//! later) and a caller that forgot to take the lock is blocked too.

use crate::pipeline::plan::Plan;
use crate::store::LockOutcome;
use crate::targets::DbKind;
use crate::targets::resolve::{self, Spelling};
use crate::targets::sql::IdentifierKind;

use super::{CheckVerdict, MeshContext};

/// Identifier kinds that name the resource a plan writes to, most specific first. File paths
/// are not resources: two fixes on one tablespace conflict whatever files they add.
const RESOURCE_KINDS: &[IdentifierKind] = &[
    IdentifierKind::Tablespace,
    IdentifierKind::TempTablespace,
    IdentifierKind::Sequence,
    IdentifierKind::Table,
    IdentifierKind::Index,
    IdentifierKind::Schema,
    IdentifierKind::User,
    IdentifierKind::Role,
    IdentifierKind::Session,
    IdentifierKind::Parameter,
    IdentifierKind::Database,
];

/// The lock a plan needs: `<DATABASE>:<kind>:<identity>` for the object it touches (its first
/// declared identifier of a resource kind that has a value, e.g. `PRODDB:tablespace:USERS`,
/// `APP:sequence:public.orders_id_seq`), else `<DATABASE>:action:<ACTION_TYPE>`.
///
/// The identity is the object the plan resolved (`schema.name` as the catalog spells it), so
/// two alerts naming one object however they spell it (`DUP`, `dup` on PostgreSQL) contend for
/// one lock, and two objects whose names differ only in case (`dup`, `"DUP"`) do not. A value
/// the plan did not resolve (a session, or a name it only binds) is folded as the engine folds
/// an unquoted name.
pub fn lock_key(plan: &Plan) -> String {
    let database = plan.database.trim().to_uppercase();
    for kind in RESOURCE_KINDS {
        let declared = || plan.identifiers.iter().filter(|(_, k)| *k == kind).map(|(name, _)| name);
        if let Some(found) = declared().find_map(|name| plan.resolved.get(&name.to_lowercase())) {
            return format!("{database}:{}:{}", kind.name(), found.identity());
        }
        let value = declared()
            .find_map(|name| plan.values.get(name).and_then(Option::as_deref))
            .map(str::trim)
            .filter(|v| !v.is_empty());
        if let Some(value) = value {
            return format!("{database}:{}:{}", kind.name(), folded(plan.engine, *kind, value));
        }
    }
    format!("{database}:action:{}", plan.action_type.trim().to_uppercase())
}

/// An unresolved value as the engine would read it, or as written when it is not a name.
fn folded(engine: DbKind, kind: IdentifierKind, value: &str) -> String {
    if kind.is_literal() {
        return value.to_owned();
    }
    match resolve::parse(engine.dialect(), kind, value, Spelling::Written) {
        Ok(wanted) => wanted.to_string(),
        Err(_) => value.to_owned(),
    }
}

/// The conflict lock's verdict on `plan`.
pub fn check(plan: &Plan, context: &MeshContext<'_>) -> CheckVerdict {
    let key = lock_key(plan);
    let Some(attempt) = &context.lock else {
        return CheckVerdict::block(format!("no lock was taken on {key}; the plan cannot run without it"));
    };
    if attempt.key != key {
        return CheckVerdict::block(format!("the lock taken is {}, but the plan touches {key}", attempt.key));
    }
    match &attempt.outcome {
        LockOutcome::Acquired { expires_at } => {
            CheckVerdict::allow(format!("holds {key} until {}", crate::store::timestamp_text(*expires_at)))
        }
        LockOutcome::Held { workflow_id, .. } if *workflow_id == plan.workflow_id => {
            CheckVerdict::allow(format!("already holds {key}"))
        }
        LockOutcome::Held { workflow_id, expires_at } => CheckVerdict::block(format!(
            "workflow {} holds {key} until {}; this plan waits and is retried",
            workflow_id.get(..8).unwrap_or(workflow_id),
            crate::store::timestamp_text(*expires_at)
        )),
    }
}
