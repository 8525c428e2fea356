//! The engine: wires intake → triage → verification → Safety Mesh → executor, for the daemon
//! and the console alike.
//!
//! Every step is a state transition committed to the store *before* its side effect runs, so a
//! crash leaves a state the engine resumes from without guessing: a workflow found EXECUTING
//! after a restart is never run again — it is re-verified and handed to a DBA with the evidence.
//! The store is the truth; [`EngineEvent`]s only say "look again".

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use crate::config::Config;
use crate::domain::WorkflowState;
use crate::domain::{MeshVerdict, VerificationVerdict};
use crate::execute::{self, ExecutionOutcome};
use crate::notify::Channels;
use crate::notify::report::{RepeatRule, Reporter};
use crate::pipeline::approval;
use crate::pipeline::matcher::KnownDatabase;
use crate::pipeline::plan::Plan;
use crate::pipeline::triage::{self, Triage, TriageRules};
use crate::pipeline::verify::{self, PlanInputs};
use crate::policy::AlertPolicy;
use crate::policy::watch::LivePolicies;
use crate::safety::{self, FailureCount, LockAttempt, MeshContext};
use crate::store::workflows::{Payload, WorkflowFilter, WorkflowRow};
use crate::store::{Store, StoreError};
use crate::targets::{ConnectOptions, Target, TargetError};

/// Something changed; small values carrying ids, never rows (read the store for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    AlertStored { raw_alert_id: i64 },
    WorkflowChanged { workflow_id: String, state: WorkflowState },
}

/// Errors at the engine's boundary.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking store call did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
}

/// What the engine is started with.
pub struct EngineSettings {
    pub store: Arc<Store>,
    pub policies: LivePolicies,
    pub config: Arc<Config>,
    pub connect: ConnectOptions,
    /// Triage rules; `None` reads them from the brain in force (hot-reloaded).
    pub triage: Option<TriageRules>,
    /// How often open workflows are looked at again (approvals, timeouts, crash recovery).
    pub sweep_interval: Duration,
}

/// The engine. Cheap to share behind an `Arc`; every method is safe to call concurrently.
pub struct Engine {
    store: Arc<Store>,
    policies: LivePolicies,
    config: Arc<Config>,
    connect: ConnectOptions,
    triage: Option<TriageRules>,
    sweep_interval: Duration,
    targets: tokio::sync::Mutex<HashMap<String, Arc<Target>>>,
    in_flight: Mutex<HashSet<String>>,
    events: broadcast::Sender<EngineEvent>,
}

impl Engine {
    pub fn new(settings: EngineSettings) -> Arc<Engine> {
        let (events, _) = broadcast::channel(1024);
        // Every ending and escalation queues its notifications with the transition itself.
        let brain = settings.policies.clone();
        settings.store.set_reporter(Arc::new(Reporter::new(Channels::from_config(&settings.config), move || {
            RepeatRule::from_brain(&brain.snapshot().brain)
        })));
        Arc::new(Engine {
            store: settings.store,
            policies: settings.policies,
            config: settings.config,
            connect: settings.connect,
            triage: settings.triage,
            sweep_interval: settings.sweep_interval,
            targets: tokio::sync::Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashSet::new()),
            events,
        })
    }

    /// Events as they happen (a lagging subscriber should reload from the store).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Runs until `shutdown`: triages every raw alert id received on `intake`, and sweeps open
    /// workflows on an interval. On shutdown intake stops first, then running steps finish.
    pub async fn run(self: Arc<Self>, mut intake: mpsc::Receiver<i64>, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        self.recover().await;
        let mut sweep = tokio::time::interval(self.sweep_interval);
        // With no intake (no mailbox configured) the engine still sweeps: approvals given from
        // the CLI, timeouts, and alerts that `sentri replay` stored.
        let mut intake_open = true;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                received = intake.recv(), if intake_open => match received {
                    Some(raw_alert_id) => {
                        let engine = Arc::clone(&self);
                        tracker.spawn(async move { engine.ingest(raw_alert_id).await });
                    }
                    None => intake_open = false,
                },
                _ = sweep.tick() => {
                    let engine = Arc::clone(&self);
                    tracker.spawn(async move { engine.sweep().await });
                }
            }
        }
        tracker.close();
        if tokio::time::timeout(Duration::from_secs(60), tracker.wait()).await.is_err() {
            warn!("steps still running after 60 s at shutdown; their workflows will be recovered at the next start");
        }
        let targets: Vec<Arc<Target>> = self.targets.lock().await.drain().map(|(_, target)| target).collect();
        for target in targets {
            if let Ok(target) = Arc::try_unwrap(target) {
                target.close().await;
            }
        }
    }

    /// Triage one stored raw alert and, if it opened a workflow, drive it.
    pub async fn ingest(&self, raw_alert_id: i64) {
        let _ = self.events.send(EngineEvent::AlertStored { raw_alert_id });
        if self.approval_reply(raw_alert_id).await {
            return;
        }
        let policies = self.policies.snapshot();
        let databases = KnownDatabase::from_config(&self.config);
        let rules = self.triage.clone().unwrap_or_else(|| TriageRules::from_brain(&policies.brain));
        let outcome =
            self.blocking(move |store| triage::triage(store, raw_alert_id, &policies, &databases, &rules)).await;
        match outcome {
            Ok(Triage::Created { workflow_id, alert_type, database }) => {
                info!(%workflow_id, %alert_type, %database, "workflow opened");
                self.drive(&workflow_id).await;
            }
            Ok(other) => info!(raw_alert_id, outcome = ?other, "alert triaged"),
            Err(error) => warn!(raw_alert_id, %error, "triage failed; the alert stays stored and pending"),
        }
    }

    /// At start: alerts stored but never triaged, and workflows a crash interrupted.
    async fn recover(&self) {
        match self.blocking(|store| store.pending_raw_alerts()).await {
            Ok(pending) => {
                for raw in pending {
                    self.ingest(raw.id).await;
                }
            }
            Err(error) => warn!(%error, "could not list pending alerts"),
        }
        self.sweep().await;
    }

    /// Looks at every open workflow once: drives the ones the engine owes a step. Alerts stored
    /// by another process (`sentri replay`) and not yet triaged are taken in first.
    pub async fn sweep(&self) {
        if let Ok(pending) = self.blocking(|store| store.pending_raw_alerts()).await {
            for raw in pending {
                self.ingest(raw.id).await;
            }
        }
        let open = self.blocking(|store| store.list_workflows(&WorkflowFilter::default())).await;
        let Ok(open) = open else { return };
        for workflow in open.into_iter().filter(|workflow| workflow.state.is_open()) {
            self.drive(&workflow.id).await;
        }
    }

    /// Advances one workflow as far as it can go now. Only one driver per workflow at a time.
    pub async fn drive(&self, workflow_id: &str) {
        {
            let Ok(mut in_flight) = self.in_flight.lock() else { return };
            if !in_flight.insert(workflow_id.to_owned()) {
                return;
            }
        }
        for _ in 0..8 {
            match self.step(workflow_id).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(error) => {
                    warn!(%workflow_id, %error, "step failed; will retry on the next sweep");
                    break;
                }
            }
        }
        if let Ok(mut in_flight) = self.in_flight.lock() {
            in_flight.remove(workflow_id);
        }
    }

    /// One step. `Ok(true)` when the workflow moved and may move again.
    async fn step(&self, workflow_id: &str) -> Result<bool, EngineError> {
        let id = workflow_id.to_owned();
        let workflow = self.blocking(move |store| store.get_workflow(&id)).await?;
        match workflow.state {
            WorkflowState::Detected => self.verify(workflow).await,
            WorkflowState::Verified => self.pre_flight(workflow).await,
            WorkflowState::Approved => self.pre_flight(workflow).await,
            WorkflowState::Executing => self.recover_executing(workflow).await,
            WorkflowState::AwaitingApproval => {
                self.request_approval(&workflow.id).await;
                self.check_timeout(workflow).await
            }
            WorkflowState::Timeout | WorkflowState::Failed => {
                self.move_to(&workflow, WorkflowState::Escalated, "engine", "a DBA must take over").await?;
                Ok(false)
            }
            _ => Ok(false),
        }
    }

    async fn verify(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let Some(policy) = self.policies.snapshot().alert(&workflow.alert_type).cloned() else {
            let reason = format!("the policy `{}` is no longer loaded", workflow.alert_type);
            self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
            return Ok(false);
        };
        if self.config.database(&workflow.database).is_none() {
            let reason = format!("`{}` is not a configured database: the alert cannot be verified", workflow.database);
            self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
            return Ok(false);
        }
        let workflow =
            self.move_to(&workflow, WorkflowState::Verifying, "engine", "checking the live database").await?;
        let Some(target) = self.target_or_escalate(&workflow).await? else {
            return Ok(false);
        };
        let values = verify::plan_values(&policy, &workflow.fields, &BTreeMap::new());
        let rows = match &policy.verification {
            None => None,
            Some(query) => match target.query(&query.sql, &values).await {
                Ok(rows) => Some(rows),
                Err(error) => {
                    let reason = format!("the verification query failed: {error}");
                    self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
                    return Ok(false);
                }
            },
        };
        let verification = verify::judge(&policy, &workflow.fields, rows.as_ref());
        let payload = serde_json::to_value(&verification).unwrap_or_default();
        let id = workflow.id.clone();
        self.blocking(move |store| store.set_workflow_payload(&id, Payload::Verification, &payload)).await?;
        let summary = verification.explanations.join("; ");
        let next = match verification.verdict {
            VerificationVerdict::Confirmed => WorkflowState::Verified,
            VerificationVerdict::NotConfirmed => WorkflowState::VerificationFailed,
            VerificationVerdict::Unverifiable => WorkflowState::Escalated,
        };
        self.move_to(&workflow, next, "engine", &summary).await?;
        Ok(next == WorkflowState::Verified)
    }

    async fn pre_flight(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let approved = workflow.state == WorkflowState::Approved;
        let Some(policy) = self.policies.snapshot().alert(&workflow.alert_type).cloned() else {
            self.move_to(&workflow, WorkflowState::Escalated, "engine", "the policy is no longer loaded").await?;
            return Ok(false);
        };
        let workflow =
            self.move_to(&workflow, WorkflowState::PreFlight, "engine", "pre-flight checks and Safety Mesh").await?;
        let plan = if approved {
            // An approval binds the plan the approver saw: re-check that very plan.
            match workflow.plan.clone().and_then(|plan| serde_json::from_value::<Plan>(plan).ok()) {
                Some(plan) => plan,
                None => {
                    self.move_to(&workflow, WorkflowState::Escalated, "engine", "the approved plan cannot be read")
                        .await?;
                    return Ok(false);
                }
            }
        } else {
            let verification: verify::Verification =
                match workflow.verification.clone().and_then(|v| serde_json::from_value(v).ok()) {
                    Some(verification) => verification,
                    None => {
                        self.move_to(&workflow, WorkflowState::Escalated, "engine", "no verification evidence").await?;
                        return Ok(false);
                    }
                };
            let inputs = PlanInputs {
                workflow_id: &workflow.id,
                database: &workflow.database,
                environment: &workflow.environment,
                alert_fields: &workflow.fields,
                verification: &verification,
            };
            let Some(plan) = verify::template_plan(&policy, &inputs) else {
                let reason = no_fix_reason(&policy);
                self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
                return Ok(false);
            };
            let json = serde_json::to_value(&plan).unwrap_or_default();
            let id = workflow.id.clone();
            self.blocking(move |store| store.set_plan(&id, &json, "engine")).await?;
            plan
        };

        let Some(target) = self.target_or_escalate(&workflow).await? else {
            return Ok(false);
        };
        let mut failures = Vec::new();
        for check in &policy.preflight {
            match target.query(&check.sql.sql, &plan.values).await {
                Ok(rows) => {
                    let (passed, explanation) = verify::preflight_passes(&check.expectation, &rows);
                    if !passed {
                        failures.push(format!("{}: {explanation}", check.name));
                    }
                }
                Err(error) => failures.push(format!("{}: {error}", check.name)),
            }
        }
        if !failures.is_empty() {
            let reason = format!("pre-flight checks failed: {}", failures.join("; "));
            self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
            return Ok(false);
        }

        let policies = self.policies.snapshot();
        let now = self.store.now();
        let lock_key = safety::conflict_lock::lock_key(&plan);
        let lock_outcome = {
            let (key, id) = (lock_key.clone(), workflow.id.clone());
            self.blocking(move |store| store.try_acquire(&key, &id, jiff::SignedDuration::from_mins(30))).await?
        };
        let since = safety::failure_window_start(&policies.brain, now);
        let failures = {
            let database = workflow.database.clone();
            self.blocking(move |store| store.recent_failures(&database, since)).await?
        };
        let approvals = {
            let id = workflow.id.clone();
            self.blocking(move |store| store.approvals(&id)).await?
        };
        let database_config = self.config.database(&workflow.database);
        let environment_policy = policies.environments.iter().find(|environment| match database_config {
            Some(database) => database.answers_to(&environment.database_id),
            None => environment.database_id.eq_ignore_ascii_case(&workflow.database),
        });
        let approved_plan_hash = approved_hash(&workflow, &approvals, self.config.approvals.required_approvals)
            .filter(|hash| approved && Some(hash.as_str()) == workflow.plan_hash.as_deref())
            .map(|_| plan.hash());
        let context = MeshContext {
            brain: &policies.brain,
            now,
            environment_policy,
            database_autonomy: database_config.and_then(|database| database.autonomy_level),
            database_aliases: database_config.map(|database| database.aliases.as_slice()).unwrap_or(&[]),
            critical_schemas: database_config.map(|database| database.critical_schemas.as_slice()).unwrap_or(&[]),
            lock: Some(LockAttempt { key: lock_key.clone(), outcome: lock_outcome }),
            failures: Some(FailureCount { since, count: failures }),
            approved_plan_hash,
        };
        let (decision, cleared) = safety::evaluate(plan.clone(), &context);
        let audited_plan = plan.clone();
        let audited = decision.clone();
        self.blocking(move |store| safety::audit(store, &audited_plan, &audited)).await?;
        match (decision.verdict, cleared) {
            (MeshVerdict::Allow, Ok(cleared)) => {
                let workflow =
                    self.move_to(&workflow, WorkflowState::Executing, "engine", "Safety Mesh: allowed").await?;
                let report = execute::execute(&target, &cleared, &policy).await;
                let payload = serde_json::to_value(&report).unwrap_or_default();
                let id = workflow.id.clone();
                self.blocking(move |store| store.set_workflow_payload(&id, Payload::Execution, &payload)).await?;
                let (next, reason) = match report.outcome {
                    ExecutionOutcome::Completed => {
                        (WorkflowState::Completed, "the fix worked: ".to_owned() + &report.proof.join("; "))
                    }
                    ExecutionOutcome::RolledBack => (
                        WorkflowState::RolledBack,
                        format!("the fix did not work and was undone: {}", report.proof.join("; ")),
                    ),
                    ExecutionOutcome::FailedBeforeChange | ExecutionOutcome::FailedNeedsDba => {
                        (WorkflowState::Failed, report.error.clone().unwrap_or_else(|| "the fix failed".to_owned()))
                    }
                };
                let workflow = self.move_to(&workflow, next, "executor", &reason).await?;
                if report.outcome == ExecutionOutcome::FailedNeedsDba {
                    warn!(workflow_id = %workflow.id, "ROLLBACK FAILED OR IMPOSSIBLE: escalating");
                    self.move_to(
                        &workflow,
                        WorkflowState::Escalated,
                        "executor",
                        "the database may be half-changed: a DBA must look now",
                    )
                    .await?;
                }
                self.release(&lock_key, &workflow.id).await;
                Ok(false)
            }
            (MeshVerdict::NeedsApproval, _) => {
                self.release(&lock_key, &workflow.id).await;
                let reason = format!("Safety Mesh: approval needed ({})", decision.reasons().join("; "));
                let workflow = self.move_to(&workflow, WorkflowState::AwaitingApproval, "engine", &reason).await?;
                self.request_approval(&workflow.id).await;
                Ok(false)
            }
            _ => {
                self.release(&lock_key, &workflow.id).await;
                let reason = format!("Safety Mesh: blocked ({})", decision.reasons().join("; "));
                self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
                Ok(false)
            }
        }
    }

    /// Queues the email approval requests for a workflow awaiting approval, unless already
    /// queued for its current plan (see `pipeline::approval::request`). A failure is retried on
    /// the next sweep.
    async fn request_approval(&self, workflow_id: &str) {
        let (config, id) = (Arc::clone(&self.config), workflow_id.to_owned());
        let issued =
            self.blocking(move |store| Ok(approval::request::ensure_requested(store, &config.approvals, &id))).await;
        match issued {
            Ok(Ok(0)) => {}
            Ok(Ok(count)) => info!(%workflow_id, count, "approval requests queued"),
            Ok(Err(error)) => warn!(%workflow_id, %error, "approval requests not queued; retrying on the next sweep"),
            Err(error) => warn!(%workflow_id, %error, "approval requests not queued; retrying on the next sweep"),
        }
    }

    /// Handles a stored message that replies to an approval request (never triaged as an
    /// alert); `true` if it was one. An approval that completes the decision drives the fix.
    async fn approval_reply(&self, raw_alert_id: i64) -> bool {
        let config = Arc::clone(&self.config);
        let handled = self
            .blocking(move |store| Ok(approval::inbound::handle_reply(store, &config.approvals, raw_alert_id)))
            .await;
        let handled = match handled {
            Ok(Ok(handled)) => handled,
            Ok(Err(error)) => {
                warn!(raw_alert_id, %error, "approval reply not handled; it stays stored and pending");
                return looks_like_reply(&self.store, raw_alert_id);
            }
            Err(error) => {
                warn!(raw_alert_id, %error, "approval reply not handled; it stays stored and pending");
                return looks_like_reply(&self.store, raw_alert_id);
            }
        };
        let Some(handled) = handled else { return false };
        info!(raw_alert_id, workflow_id = ?handled.workflow_id, outcome = ?handled.outcome, "approval reply handled");
        if let (approval::DecisionOutcome::Decided { state }, Some(workflow_id)) =
            (&handled.outcome, &handled.workflow_id)
        {
            let _ = self.events.send(EngineEvent::WorkflowChanged { workflow_id: workflow_id.clone(), state: *state });
            self.drive(workflow_id).await;
        }
        true
    }

    /// A workflow found EXECUTING at start was interrupted mid-fix: it is never run again. It is
    /// re-verified, the evidence kept, and handed to a DBA — what ran cannot be proven.
    async fn recover_executing(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let mut finding = "re-verification not possible".to_owned();
        if let Some(policy) = self.policies.snapshot().alert(&workflow.alert_type).cloned()
            && let Some(query) = &policy.verification
            && let Ok(target) = self.target(&workflow.database).await
        {
            let values = verify::plan_values(&policy, &workflow.fields, &BTreeMap::new());
            finding = match target.query(&query.sql, &values).await {
                Ok(rows) => {
                    let judged = verify::judge(&policy, &workflow.fields, Some(&rows));
                    let evidence = serde_json::json!({ "after_restart": judged });
                    let id = workflow.id.clone();
                    self.blocking(move |store| store.set_workflow_payload(&id, Payload::Verification, &evidence))
                        .await?;
                    match judged.verdict {
                        VerificationVerdict::NotConfirmed => "the problem is no longer present".to_owned(),
                        _ => "the problem is still present".to_owned(),
                    }
                }
                Err(error) => format!("re-verification failed: {error}"),
            };
        }
        let reason = format!(
            "found mid-execution after a restart; not run again ({finding}); what ran cannot be proven: a DBA must check"
        );
        self.move_to(&workflow, WorkflowState::Escalated, "engine", &reason).await?;
        Ok(false)
    }

    async fn check_timeout(&self, workflow: WorkflowRow) -> Result<bool, EngineError> {
        let timeout = self.config.approvals.approval_timeout;
        let since = {
            let row = workflow.clone();
            self.blocking(move |store| store.awaiting_approval_since(&row)).await?
        };
        let waited = self.store.now().as_millisecond() - since.as_millisecond();
        if u128::try_from(waited).unwrap_or(0) <= timeout.as_millis() {
            return Ok(false);
        }
        let reason = format!("no decision within {} s", timeout.as_secs());
        let workflow = self.move_to(&workflow, WorkflowState::Timeout, "engine", &reason).await?;
        self.move_to(&workflow, WorkflowState::Escalated, "engine", "approval timed out").await?;
        Ok(false)
    }

    /// The workflow's database, or — when it cannot be reached — the workflow escalated with the
    /// reason and `None`.
    async fn target_or_escalate(&self, workflow: &WorkflowRow) -> Result<Option<Arc<Target>>, EngineError> {
        match self.target(&workflow.database).await {
            Ok(target) => Ok(Some(target)),
            Err(error) => {
                let reason = format!("cannot reach the database: {error}");
                self.move_to(workflow, WorkflowState::Escalated, "engine", &reason).await?;
                Ok(None)
            }
        }
    }

    async fn release(&self, key: &str, workflow_id: &str) {
        let (key, id) = (key.to_owned(), workflow_id.to_owned());
        if let Err(error) = self.blocking(move |store| store.release(&key, &id)).await {
            warn!(%error, "could not release a lock; it expires on its own");
        }
    }

    /// A transition, committed with its audit row (and, for an ending or an escalation, its
    /// notifications: see [`Reporter`]), then announced.
    async fn move_to(
        &self,
        workflow: &WorkflowRow,
        to: WorkflowState,
        actor: &str,
        reason: &str,
    ) -> Result<WorkflowRow, EngineError> {
        let (id, from, actor, reason) = (workflow.id.clone(), workflow.state, actor.to_owned(), reason.to_owned());
        let moved = self.blocking(move |store| store.transition(&id, from, to, &actor, &reason)).await?;
        info!(workflow_id = %moved.id, from = %from, to = %to, "workflow moved");
        let _ = self.events.send(EngineEvent::WorkflowChanged { workflow_id: moved.id.clone(), state: to });
        Ok(moved)
    }

    /// The connected target for a configured database, connecting on first use.
    async fn target(&self, database: &str) -> Result<Arc<Target>, TargetError> {
        let mut targets = self.targets.lock().await;
        if let Some(target) = targets.get(database) {
            return Ok(Arc::clone(target));
        }
        let Some(config) = self.config.database(database) else {
            return Err(TargetError::new(
                database,
                crate::targets::ErrorKind::BadConnectString,
                "not a configured database",
            ));
        };
        let target = Arc::new(Target::connect(config, &self.connect).await?);
        if let Ok(profile) = target.profile().await {
            let (name, store) = (config.name.clone(), Arc::clone(&self.store));
            let _ = tokio::task::spawn_blocking(move || store.save_profile(&name, &profile)).await;
        }
        targets.insert(database.to_owned(), Arc::clone(&target));
        Ok(target)
    }

    /// Runs a store call on the blocking pool (rusqlite must not block the runtime's workers).
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, EngineError> {
        let store = Arc::clone(&self.store);
        Ok(tokio::task::spawn_blocking(move || call(&store)).await??)
    }
}

/// Whether a stored message is an approval reply, when handling it failed: it must not fall
/// through to alert triage (a failure to read it counts as a reply, to be retried).
fn looks_like_reply(store: &Store, raw_alert_id: i64) -> bool {
    store.get_raw_alert(raw_alert_id).map_or(true, |raw| approval::inbound::looks_like_reply(&raw))
}

fn no_fix_reason(policy: &AlertPolicy) -> String {
    match &policy.fix_disabled {
        Some(reason) => format!("the policy's fix is disabled ({reason})"),
        None if policy.recommended_action.is_empty() => "the policy has no automatic fix".to_owned(),
        None => format!(
            "no automatic fix; recommended action: {}",
            policy.recommended_action.lines().next().unwrap_or_default()
        ),
    }
}

/// The plan hash enough distinct people approved, if any: approvals bound to the workflow's
/// current plan, decision APPROVED, counted once per approver.
fn approved_hash(
    workflow: &WorkflowRow,
    approvals: &[crate::store::approvals::ApprovalRow],
    required: u32,
) -> Option<String> {
    let hash = workflow.plan_hash.clone()?;
    let approvers: HashSet<&str> = approvals
        .iter()
        .filter(|approval| {
            approval.plan_hash == hash && approval.decision == crate::store::approvals::Decision::Approved
        })
        .map(|approval| approval.approver.as_str())
        .collect();
    (approvers.len() >= usize::try_from(required.max(1)).unwrap_or(1)).then_some(hash)
}
