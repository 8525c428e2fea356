//! [`EngineHandle`]: how the daemon's shell, the console, the demo and tests talk to a running
//! engine. Cheap to clone; each command carries its own reply channel and is carried out on the
//! engine's tracker, so a command in flight at shutdown gets the same deadline as a step.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::{Engine, EngineError, EngineEvent};
use crate::config::Config;
use crate::domain::{RawAlert, RawAlertId, WorkflowId, WorkflowState};
use crate::pipeline::approval::{self, DecisionOutcome, DecisionRequest};
use crate::policy::watch::WatchGuard;
use crate::store::Store;

/// A command to the engine, with where its answer goes.
pub(super) enum Command {
    /// Take in a stored message (as the mailbox intake does) and drive what it opened.
    Ingest { raw_alert_id: RawAlertId, reply: oneshot::Sender<()> },
    /// Store an email as a raw alert, then take it in: `sentri replay` into a running engine,
    /// the demo, tests.
    Feed { raw: Box<RawAlert>, reply: oneshot::Sender<Result<RawAlertId, EngineError>> },
    /// A person's decision on a workflow awaiting approval, judged by the approval rules.
    Decide { request: Box<DecisionRequest>, reply: oneshot::Sender<Result<DecisionOutcome, EngineError>> },
    /// A DBA fixed it by hand.
    Resolve {
        workflow_id: WorkflowId,
        by: String,
        reason: String,
        reply: oneshot::Sender<Result<ResolveOutcome, EngineError>>,
    },
    /// Look at one workflow now (after a change made elsewhere, e.g. a decision in the console).
    Drive { workflow_id: WorkflowId, reply: oneshot::Sender<()> },
    /// A sweep now, rather than at the next tick.
    Sweep { reply: oneshot::Sender<()> },
}

/// What a resolve did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveOutcome {
    /// The workflow is now RESOLVED.
    Resolved,
    /// It had already ended in `state`; nothing changed.
    AlreadyEnded { state: WorkflowState },
}

/// A running engine. Clones share it; [`EngineHandle::shutdown`] stops it for all of them.
#[derive(Clone)]
pub struct EngineHandle {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Arc<Engine>,
    commands: mpsc::Sender<Command>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
    deadline: Duration,
    _watch: Option<WatchGuard>,
}

impl EngineHandle {
    pub(super) fn new(
        engine: Arc<Engine>,
        commands: mpsc::Sender<Command>,
        shutdown: CancellationToken,
        tracker: TaskTracker,
        deadline: Duration,
        watch: Option<WatchGuard>,
    ) -> EngineHandle {
        EngineHandle { inner: Arc::new(Inner { engine, commands, shutdown, tracker, deadline, _watch: watch }) }
    }

    /// Events as they happen. A receiver that lags should reload from the store.
    pub fn subscribe(&self) -> broadcast::Receiver<EngineEvent> {
        self.inner.engine.subscribe()
    }

    /// The store the engine records everything in (the truth; events only say "look again").
    pub fn store(&self) -> &Arc<Store> {
        self.inner.engine.store()
    }

    /// The configuration the engine runs with.
    pub fn config(&self) -> &Arc<Config> {
        &self.inner.engine.config
    }

    /// The engine's heartbeat, intake status and in-process instruments.
    pub fn vitals(&self) -> &Arc<super::Vitals> {
        self.inner.engine.vitals()
    }

    /// Each configured database and whether its last connect succeeded (`None`: not tried).
    pub fn reachability(&self) -> Vec<(String, Option<bool>)> {
        self.inner.engine.reachability()
    }

    /// Takes in a message already stored, and returns once what it opened has moved as far as
    /// it can for now.
    pub async fn ingest(&self, raw_alert_id: RawAlertId) -> Result<(), EngineError> {
        self.ask(|reply| Command::Ingest { raw_alert_id, reply }).await
    }

    /// Stores `raw` and takes it in; returns the raw alert's id.
    pub async fn feed(&self, raw: RawAlert) -> Result<RawAlertId, EngineError> {
        self.ask(|reply| Command::Feed { raw: Box::new(raw), reply }).await?
    }

    /// Records a decision through the approval rules, then drives the workflow if it was
    /// decided.
    pub async fn decide(&self, request: DecisionRequest) -> Result<DecisionOutcome, EngineError> {
        self.ask(|reply| Command::Decide { request: Box::new(request), reply }).await?
    }

    /// Marks a workflow RESOLVED (a DBA fixed it by hand).
    pub async fn resolve(
        &self,
        workflow_id: &WorkflowId,
        by: &str,
        reason: &str,
    ) -> Result<ResolveOutcome, EngineError> {
        let (workflow_id, by, reason) = (workflow_id.clone(), by.to_owned(), reason.to_owned());
        self.ask(|reply| Command::Resolve { workflow_id, by, reason, reply }).await?
    }

    /// Drives one workflow now, and returns when it stands still.
    pub async fn drive(&self, workflow_id: &WorkflowId) -> Result<(), EngineError> {
        let workflow_id = workflow_id.clone();
        self.ask(|reply| Command::Drive { workflow_id, reply }).await
    }

    /// Sweeps now, and returns when the sweep is done.
    pub async fn sweep(&self) -> Result<(), EngineError> {
        self.ask(|reply| Command::Sweep { reply }).await
    }

    /// Whether shutdown has begun.
    pub fn is_stopping(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// Stops the engine: intake stops first, running steps reach their end, and what is still
    /// running after the deadline is left for recovery at the next start. Every clone sees it.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tracker.close();
        if tokio::time::timeout(self.inner.deadline, self.inner.tracker.wait()).await.is_err() {
            warn!(
                deadline_s = self.inner.deadline.as_secs(),
                "steps still running at the shutdown deadline; their workflows are recovered at the next start"
            );
        }
        info!("Sentri engine stopped");
    }

    /// A token cancelled when shutdown begins, for callers that tie their own work to it.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Result<T, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.inner.commands.send(command(reply)).await.map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)
    }
}

impl Engine {
    /// Carries out one command and answers it (an answer nobody waits for any more is dropped).
    pub(super) async fn carry_out(&self, command: Command) {
        match command {
            Command::Ingest { raw_alert_id, reply } => {
                self.ingest(raw_alert_id.0).await;
                let _ = reply.send(());
            }
            Command::Feed { raw, reply } => {
                let stored = self.blocking(move |store| store.insert_raw_alert(&raw)).await;
                let answer = match stored {
                    Ok((raw_alert_id, _)) => {
                        self.ingest(raw_alert_id).await;
                        Ok(RawAlertId(raw_alert_id))
                    }
                    Err(error) => Err(error),
                };
                let _ = reply.send(answer);
            }
            Command::Decide { request, reply } => {
                let config = Arc::clone(&self.config);
                let workflow_id = request.workflow_id.clone();
                let decided =
                    self.blocking(move |store| Ok(approval::decide(store, &config.approvals, &request))).await;
                let answer = match decided {
                    Ok(Ok(outcome)) => {
                        if let DecisionOutcome::Decided { state } = &outcome {
                            self.announce(&workflow_id, *state);
                            self.drive(&workflow_id).await;
                        }
                        Ok(outcome)
                    }
                    Ok(Err(error)) => Err(EngineError::Approval(error)),
                    Err(error) => Err(error),
                };
                let _ = reply.send(answer);
            }
            Command::Resolve { workflow_id, by, reason, reply } => {
                let _ = reply.send(self.resolve(&workflow_id, &by, &reason).await);
            }
            Command::Drive { workflow_id, reply } => {
                self.drive(&workflow_id).await;
                let _ = reply.send(());
            }
            Command::Sweep { reply } => {
                self.sweep().await;
                let _ = reply.send(());
            }
        }
    }

    async fn resolve(&self, workflow_id: &str, by: &str, reason: &str) -> Result<ResolveOutcome, EngineError> {
        let id = workflow_id.to_owned();
        let workflow = self.blocking(move |store| store.get_workflow(&id)).await?;
        if !workflow.state.can_transition(WorkflowState::Resolved) {
            return Ok(ResolveOutcome::AlreadyEnded { state: workflow.state });
        }
        self.move_to(&workflow, WorkflowState::Resolved, &format!("cli:{by}"), reason).await?;
        Ok(ResolveOutcome::Resolved)
    }
}
