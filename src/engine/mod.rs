//! The engine: wires intake → triage → verification → Safety Mesh → executor, for the daemon,
//! the console and the demo alike.
//!
//! [`Engine::start`] starts it: mailbox intake, the sweeper, the notifier, the policy watcher and
//! the check scheduler, in one task tracker under one cancellation token, stopped with one deadline. What
//! it returns, an [`EngineHandle`], is how everything else talks to it: typed commands with
//! typed replies, and small events.
//!
//! Every step is a state transition committed to the store *before* its side effect runs, so a
//! crash leaves a state the engine resumes from without guessing: a workflow found VERIFYING or
//! PRE_FLIGHT after a restart runs that read-only step again; one found EXECUTING is never run
//! again, but re-verified and handed to a DBA with the evidence. The store is the truth;
//! [`EngineEvent`]s only say "look again".

mod connections;
mod diagnosis;
mod drive;
mod handle;
mod learning;
pub mod vitals;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

pub use connections::{FIRST_BACKOFF, MAX_BACKOFF, backoff_after};
pub use handle::{EngineHandle, ResolveOutcome};
pub use vitals::{Beat, Vitals};

use crate::checks::{Scheduler, SchedulerSettings, TargetSource};
use crate::config::Config;
use crate::domain::{RawAlertId, WorkflowId, WorkflowState};
use crate::intake::imap::{self, ImapSettings};
use crate::notify::notifier::{self, Notifier, NotifierSettings};
use crate::pipeline::approval;
use crate::pipeline::steps::{self, Taken};
use crate::pipeline::triage::Triage;
use crate::policy::watch::LivePolicies;
use crate::store::workflows::WorkflowRow;
use crate::store::{Store, StoreError};
use crate::targets::ConnectOptions;
use connections::Connections;

/// Something changed; small values carrying ids, never rows (read the store for the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineEvent {
    AlertStored { raw_alert_id: RawAlertId },
    WorkflowChanged { workflow_id: WorkflowId, state: WorkflowState },
}

/// Errors at the engine's boundary.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("a blocking store call did not complete: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error(transparent)]
    Approval(#[from] approval::ApprovalError),
    #[error("the engine has stopped")]
    Stopped,
}

/// What the engine is started with.
pub struct EngineSettings {
    pub store: Arc<Store>,
    pub policies: LivePolicies,
    pub config: Arc<Config>,
    pub connect: ConnectOptions,
    /// How often open workflows are looked at again (approvals, timeouts, crash recovery).
    pub sweep_interval: Duration,
    /// How long shutdown waits for running steps, the mailbox and a send in progress; what is
    /// still running then is recovered at the next start.
    pub shutdown_deadline: Duration,
    /// Read the mailbox `sentri.yaml` names (when it names one).
    pub mailbox: bool,
    /// Deliver the outbox (notifications, approval requests).
    pub notifier: bool,
    /// Reload the policy pack when its files change.
    pub watch_policies: bool,
    /// Run the pack's checks on their schedules ([`crate::checks::Scheduler`]).
    pub checks: bool,
}

impl EngineSettings {
    /// The settings `sentri start` runs with: mailbox, notifier and policy watching on, checks as
    /// `checks.enabled` says, the
    /// sweep interval from `monitoring.orchestrator_poll_interval`, a 60 s shutdown deadline.
    pub fn daemon(store: Arc<Store>, policies: LivePolicies, config: Arc<Config>) -> EngineSettings {
        let sweep_interval = config.monitoring.orchestrator_poll_interval;
        let checks = config.checks.enabled;
        EngineSettings {
            store,
            policies,
            config,
            connect: ConnectOptions::default(),
            sweep_interval,
            shutdown_deadline: Duration::from_secs(60),
            mailbox: true,
            notifier: true,
            watch_policies: true,
            checks,
        }
    }
}

/// The engine's state. Shared behind an `Arc`; every method is safe to call concurrently.
pub struct Engine {
    store: Arc<Store>,
    policies: LivePolicies,
    config: Arc<Config>,
    sweep_interval: Duration,
    connections: Connections,
    /// Workflows being driven now: one driver per workflow at a time.
    driving: Mutex<HashSet<String>>,
    /// Raw alerts being taken in now: one triage per message at a time, however many times the
    /// intake and the sweeps hand it over.
    taking_in: Mutex<HashSet<i64>>,
    /// One triage at a time, across messages: triage reads the open workflows and then creates
    /// or folds, so two repeats taken in together (the intake and a sweep) would otherwise both
    /// find none open and start two workflows. Triage takes milliseconds; the model and the
    /// driving that follow run outside it.
    triaging: tokio::sync::Mutex<()>,
    /// Only one sweep runs at a time; a tick that finds one running is skipped.
    sweeping: tokio::sync::Mutex<()>,
    events: broadcast::Sender<EngineEvent>,
    vitals: Arc<Vitals>,
}

/// How often the engine loop beats (see [`vitals`]): a systemd watchdog of 4 s or more is
/// pinged in time.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// The longest the engine goes without publishing an audit anchor.
pub const ANCHOR_EVERY: jiff::SignedDuration = jiff::SignedDuration::from_hours(24);

impl Engine {
    /// Builds the engine without starting anything: for tests and tools that drive it step by
    /// step ([`Engine::ingest`], [`Engine::sweep`]). [`Engine::start`] is how it runs.
    pub fn new(settings: &EngineSettings) -> Arc<Engine> {
        Engine::with_vitals(settings, Arc::new(Vitals::new(None)))
    }

    fn with_vitals(settings: &EngineSettings, vitals: Arc<Vitals>) -> Arc<Engine> {
        let (events, _) = broadcast::channel(1024);
        Arc::new(Engine {
            store: Arc::clone(&settings.store),
            policies: settings.policies.clone(),
            config: Arc::clone(&settings.config),
            sweep_interval: settings.sweep_interval,
            connections: Connections::new(
                Arc::clone(&settings.config),
                settings.connect.clone(),
                Arc::clone(&settings.store),
            ),
            driving: Mutex::new(HashSet::new()),
            taking_in: Mutex::new(HashSet::new()),
            triaging: tokio::sync::Mutex::new(()),
            sweeping: tokio::sync::Mutex::new(()),
            events,
            vitals,
        })
    }

    /// Starts the engine on the current Tokio runtime: recovery, then the intake, the sweeper,
    /// the notifier and the policy watcher, until [`EngineHandle::shutdown`].
    pub fn start(settings: EngineSettings) -> EngineHandle {
        if settings.store.reporter_missing() {
            warn!("the store was opened without a reporter: endings and escalations send no notifications");
        }
        let imap_status = (settings.mailbox && !settings.config.email.imap_server.trim().is_empty())
            .then(|| Arc::new(imap::ImapStatus::default()));
        let engine = Engine::with_vitals(&settings, Arc::new(Vitals::new(imap_status.clone())));
        let shutdown = CancellationToken::new();
        let tracker = TaskTracker::new();
        let (commands, command_receiver) = mpsc::channel(64);
        let (intake_sender, intake) = mpsc::channel(256);
        let watch = settings.watch_policies.then(|| watch_policies(&settings.policies)).flatten();
        match imap_status {
            Some(status) => start_mailbox(
                &tracker,
                &settings.config,
                Arc::clone(&settings.store),
                intake_sender,
                status,
                shutdown.clone(),
            ),
            None => {
                if settings.mailbox {
                    info!(
                        "no email.imap_server in sentri.yaml: mailbox intake is off (use `sentri replay` to feed alerts)"
                    );
                }
                drop(intake_sender);
            }
        }
        if settings.notifier {
            start_notifier(&tracker, &settings.config, &engine, shutdown.clone());
        }
        if settings.checks {
            start_checks(&tracker, &settings, &engine, shutdown.clone());
        }
        info!(databases = settings.config.databases.len(), "Sentri engine started");
        let running = Arc::clone(&engine);
        let (loop_tracker, loop_shutdown) = (tracker.clone(), shutdown.clone());
        tracker.spawn(async move { running.run(intake, command_receiver, loop_tracker, loop_shutdown).await });
        handle::EngineHandle::new(engine, commands, shutdown, tracker, settings.shutdown_deadline, watch)
    }

    /// Events as they happen (a lagging subscriber should reload from the store).
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.events.subscribe()
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The engine's health and in-process instruments.
    pub fn vitals(&self) -> &Arc<Vitals> {
        &self.vitals
    }

    /// Each configured database and whether its last connect succeeded (`None`: not tried yet).
    pub fn reachability(&self) -> Vec<(String, Option<bool>)> {
        self.config.databases.iter().map(|db| (db.name.clone(), self.connections.reachable(&db.name))).collect()
    }

    /// One heartbeat: the loop is here, and the store takes a write (its write lock, let go).
    /// Awaited in the loop itself, so a loop that stops turning stops the beats too.
    async fn heartbeat(&self) {
        let probe = self.blocking(|store| store.probe_write()).await.map_err(|error| error.to_string());
        if let Err(error) = &probe {
            warn!(%error, "heartbeat: the store cannot be written; the watchdog is not pinged");
        }
        self.vitals.record_tick(probe);
    }

    /// The loop: takes in every raw alert id the intake sends, carries out commands, and sweeps
    /// open workflows on an interval, each on the tracker, until `shutdown`.
    async fn run(
        self: Arc<Self>,
        mut intake: mpsc::Receiver<i64>,
        mut commands: mpsc::Receiver<handle::Command>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) {
        self.sweep().await;
        let mut sweep = tokio::time::interval(self.sweep_interval);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // With no intake (no mailbox configured) the engine still sweeps: approvals given from
        // the CLI, timeouts, and alerts that `sentri replay` stored.
        let mut intake_open = true;
        let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = heartbeat.tick() => self.heartbeat().await,
                received = intake.recv(), if intake_open => match received {
                    Some(raw_alert_id) => {
                        let engine = Arc::clone(&self);
                        tracker.spawn(async move { engine.ingest(raw_alert_id).await });
                    }
                    None => intake_open = false,
                },
                Some(command) = commands.recv() => {
                    let engine = Arc::clone(&self);
                    tracker.spawn(async move { engine.carry_out(command).await });
                }
                _ = sweep.tick() => {
                    let engine = Arc::clone(&self);
                    tracker.spawn(async move { engine.sweep().await });
                }
            }
        }
        self.connections.close_all().await;
    }

    /// Takes in one stored message and, if it opened a workflow (or completed an approval),
    /// drives it. A message already being taken in elsewhere (the intake and a sweep at once)
    /// is waited for, never triaged twice at the same time; taken in again afterwards, it is
    /// found already triaged. So when this returns, the message has been dealt with.
    pub async fn ingest(&self, raw_alert_id: i64) {
        let _taking = loop {
            if let Some(claim) = Claim::take(&self.taking_in, raw_alert_id) {
                break claim;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        };
        let _ = self.events.send(EngineEvent::AlertStored { raw_alert_id: RawAlertId(raw_alert_id) });
        let (policies, config) = (self.policies.snapshot(), Arc::clone(&self.config));
        let taken = {
            let _triaging = self.triaging.lock().await;
            self.blocking(move |store| Ok(steps::take_in(store, raw_alert_id, &policies, &config, &config.approvals)))
                .await
        };
        match taken {
            Ok(Ok(Taken::Triaged(Triage::Split { parts }))) => {
                for (child, part) in parts {
                    self.triaged(child, part).await;
                }
            }
            Ok(Ok(Taken::Triaged(triage))) => self.triaged(raw_alert_id, triage).await,
            Ok(Ok(Taken::Reply(handled))) => {
                info!(raw_alert_id, workflow_id = ?handled.workflow_id, outcome = ?handled.outcome, "approval reply handled");
                if let (approval::DecisionOutcome::Decided { state }, Some(workflow_id)) =
                    (&handled.outcome, &handled.workflow_id)
                {
                    self.announce(workflow_id, *state);
                    self.drive(workflow_id).await;
                }
            }
            Ok(Err(error)) => warn!(raw_alert_id, %error, "not taken in; the message stays stored and pending"),
            Err(error) => warn!(raw_alert_id, %error, "not taken in; the message stays stored and pending"),
        }
    }

    /// After triage: a new workflow is driven, an unmatched alert offered to the model to learn.
    async fn triaged(&self, raw_alert_id: i64, triage: Triage) {
        match triage {
            Triage::Created { workflow_id, alert_type, database } => {
                info!(%workflow_id, %alert_type, %database, "workflow opened");
                self.drive(&workflow_id).await;
            }
            Triage::Unmatched => {
                info!(raw_alert_id, "no policy matched");
                if let Some(workflow_id) = self.learn_unmatched(raw_alert_id).await {
                    self.drive(&workflow_id).await;
                }
            }
            other => info!(raw_alert_id, outcome = ?other, "alert triaged"),
        }
    }

    /// Takes in the alerts stored but not yet triaged (by a crash, or by `sentri replay` in
    /// another process), prunes the bodies of mail past its retention, then drives every workflow the engine owes a step, read through the
    /// state index. One sweep at a time.
    pub async fn sweep(&self) {
        let Ok(_sweeping) = self.sweeping.try_lock() else { return };
        if let Ok(pending) = self.blocking(|store| store.pending_raw_alerts()).await {
            for raw in pending {
                self.ingest(raw.id).await;
            }
        }
        if let Some(age) = self.config.monitoring.raw_mail_retention {
            match self.blocking(move |store| store.prune_raw_mail(age)).await {
                Ok(0) => {}
                Ok(pruned) => info!(pruned, "bodies of old handled mail pruned (monitoring.raw_mail_retention_days)"),
                Err(error) => warn!(%error, "could not prune old mail bodies; retried on the next sweep"),
            }
        }
        let ids = self.blocking(|store| store.workflow_ids_in(&drive::ENGINE_DRIVEN)).await;
        if let Ok(ids) = ids {
            for id in ids {
                self.drive(&id).await;
            }
        }
        if let Ok(true) = self.blocking(|store| store.anchor_due(ANCHOR_EVERY)).await {
            match self.blocking(|store| store.publish_audit_anchor()).await {
                Ok(anchor) => info!("audit anchor (daily, queued to the notification channels): {anchor}"),
                Err(error) => warn!(%error, "could not publish the daily audit anchor; retried at the next sweep"),
            }
        }
    }

    /// Writes the audit chain's head, signed, to the log, so that a copy lives outside the
    /// store (see `store::audit::anchor`). A failure is logged: it must not stop the engine.
    async fn log_anchor(&self, occasion: &'static str) {
        match self.blocking(|store| store.audit_anchor()).await {
            Ok(anchor) => info!(occasion, "audit anchor: {anchor}"),
            Err(error) => warn!(occasion, %error, "could not take an audit anchor"),
        }
    }

    /// Advances one workflow as far as it can go now. Only one driver per workflow at a time.
    pub async fn drive(&self, workflow_id: &str) {
        let Some(_driving) = Claim::take(&self.driving, workflow_id.to_owned()) else { return };
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
    }

    /// A transition, committed with its audit row (and, for an ending or an escalation, its
    /// notifications), then announced.
    async fn move_to(
        &self,
        workflow: &WorkflowRow,
        to: WorkflowState,
        actor: &str,
        reason: &str,
    ) -> Result<WorkflowRow, EngineError> {
        self.move_with_detail(workflow, to, actor, reason, serde_json::json!({})).await
    }

    /// [`Engine::move_to`] with evidence for the transition's audit row (what was refused and
    /// why), so it is kept in the hash chain with the move itself.
    async fn move_with_detail(
        &self,
        workflow: &WorkflowRow,
        to: WorkflowState,
        actor: &str,
        reason: &str,
        detail: serde_json::Value,
    ) -> Result<WorkflowRow, EngineError> {
        let (id, from, actor, reason) = (workflow.id.clone(), workflow.state, actor.to_owned(), reason.to_owned());
        let moved =
            self.blocking(move |store| store.transition_with_detail(&id, from, to, &actor, &reason, detail)).await?;
        info!(workflow_id = %moved.id, from = %from, to = %to, "workflow moved");
        self.announce(&moved.id, to);
        Ok(moved)
    }

    fn announce(&self, workflow_id: &str, state: WorkflowState) {
        let _ = self.events.send(EngineEvent::WorkflowChanged { workflow_id: WorkflowId::from(workflow_id), state });
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

/// A claim on one key of a set (a workflow being driven, a message being taken in), released
/// when dropped, whatever path the holder leaves by.
struct Claim<'a, K: std::hash::Hash + Eq + Clone> {
    set: &'a Mutex<HashSet<K>>,
    key: K,
}

impl<'a, K: std::hash::Hash + Eq + Clone> Claim<'a, K> {
    /// The claim, or `None` when someone holds it already.
    fn take(set: &'a Mutex<HashSet<K>>, key: K) -> Option<Claim<'a, K>> {
        let mut held = set.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.insert(key.clone()).then(|| Claim { set, key })
    }
}

impl<K: std::hash::Hash + Eq + Clone> Drop for Claim<'_, K> {
    fn drop(&mut self) {
        let mut held = self.set.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(&self.key);
    }
}

/// Reloads the pack when its files change; `None` (with a warning) when watching cannot start.
fn watch_policies(policies: &LivePolicies) -> Option<crate::policy::watch::WatchGuard> {
    let loaded = policies.snapshot();
    for problem in &loaded.problems {
        warn!("{problem}");
    }
    info!(alerts = loaded.alerts.len(), checks = loaded.checks.len(), "policies loaded");
    match policies.watch(|set| info!(alerts = set.alerts.len(), problems = set.problems.len(), "policies reloaded")) {
        Ok(guard) => Some(guard),
        Err(error) => {
            warn!(%error, "policy files are not watched: edits take effect at the next start");
            None
        }
    }
}

/// Starts the notifier, woken by every engine event (a state change may have queued mail).
/// Starts the check scheduler on the engine's tracker: every check of the (live) pack on every
/// configured database of its engine, through the engine's own connection slots.
fn start_checks(tracker: &TaskTracker, settings: &EngineSettings, engine: &Arc<Engine>, shutdown: CancellationToken) {
    let databases = settings.config.databases.iter().map(|db| (db.name.clone(), db.engine)).collect();
    let scheduler = Scheduler::new(
        Arc::clone(&settings.store),
        settings.policies.clone(),
        databases,
        Arc::clone(engine),
        SchedulerSettings {
            max_concurrent: settings.config.checks.max_concurrent,
            per_database: settings.config.checks.per_database,
            ..SchedulerSettings::default()
        },
    );
    tracker.spawn(scheduler.run(tracker.clone(), shutdown));
}

/// The scheduler reaches databases through the engine's slots: one connection per database,
/// its backoff shared with the workflows.
impl TargetSource for Engine {
    fn target(
        &self,
        database: &str,
    ) -> impl std::future::Future<Output = Result<Arc<crate::targets::Target>, crate::targets::TargetError>> + Send
    {
        self.connections.target(database)
    }

    /// A run's findings become `check:<name>` workflows (or fold into open ones), each driven
    /// as far as it goes, as an email's alert would be.
    async fn found(&self, check: &crate::policy::CheckPolicy, findings: &[crate::checks::Finding]) {
        let databases = crate::pipeline::matcher::KnownDatabase::from_config(&self.config);
        let window =
            crate::pipeline::triage::TriageRules::from_brain(&self.policies.snapshot().brain).correlation_window;
        let taken = {
            let _triaging = self.triaging.lock().await;
            let (check, findings) = (check.clone(), findings.to_vec());
            self.blocking(move |store| {
                Ok(crate::pipeline::findings::take_findings(store, &check, &findings, &databases, window))
            })
            .await
        };
        for triage in taken.unwrap_or_default() {
            match triage {
                Triage::Created { workflow_id, alert_type, database } => {
                    info!(%workflow_id, %alert_type, %database, "workflow opened by a check");
                    self.drive(&workflow_id).await;
                }
                other => debug!(outcome = ?other, "a finding folded"),
            }
        }
    }
}

fn start_notifier(tracker: &TaskTracker, config: &Config, engine: &Arc<Engine>, shutdown: CancellationToken) {
    let notifier = Notifier::new(Arc::clone(&engine.store), config, NotifierSettings::default());
    for problem in notifier.setup_problems() {
        warn!("notifications: {problem}");
    }
    let channels = notifier.channels();
    info!(
        email_recipients = channels.email.len(),
        slack = channels.slack.is_some(),
        webhooks = channels.webhooks.len(),
        pagerduty = channels.pagerduty.len(),
        "notifier started"
    );
    tracker.spawn(notifier::wake_on_events(engine.subscribe(), notifier.waker(), shutdown.clone()));
    tracker.spawn(notifier.run(shutdown));
}

/// Starts the mailbox intake when sentri.yaml names an IMAP server.
fn start_mailbox(
    tracker: &TaskTracker,
    config: &Config,
    store: Arc<Store>,
    notify: mpsc::Sender<i64>,
    status: Arc<imap::ImapStatus>,
    shutdown: CancellationToken,
) {
    let settings = match ImapSettings::from_config(&config.email, &config.monitoring) {
        Ok(settings) => settings,
        Err(error) => {
            tracing::error!(%error, "mailbox intake cannot start");
            status.record_unstartable(error.to_string());
            return;
        }
    };
    tracker.spawn(async move {
        if let Err(error) = imap::run_reporting(settings, store, notify, status, shutdown).await {
            tracing::error!(%error, "mailbox intake stopped");
        }
    });
}
