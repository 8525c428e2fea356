//! A demo session: a throwaway SENTRI_HOME with the embedded policy pack, a store, and the real
//! engine running in process ([`Engine::start`], with no mailbox, notifier or policy watcher)
//! over a configuration held in memory. Alerts go in the way the mailbox puts them in — stored
//! as raw alerts first, then taken in by the engine — and decisions go through the engine's
//! handle, judged by `pipeline::approval::decide` exactly as `sentri approve`'s are.
//!
//! Nothing here prints: the headless narration ([`super::narrate`]) and the console
//! ([`super::live`]) both take a session and show what happens in it. The home is removed when the session is
//! dropped.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sentri::config::Config;
use sentri::domain::WorkflowState;
use sentri::engine::{Engine, EngineHandle, EngineSettings};
use sentri::home::Home;
use sentri::intake::RawAlert;
use sentri::notify::report::Reporter;
use sentri::pipeline::approval::{DecisionOutcome, DecisionRequest};
use sentri::policy::watch::LivePolicies;
use sentri::store::alerts::RawAlertOutcome;
use sentri::store::approvals::Decision;
use sentri::store::workflows::WorkflowRow;
use sentri::store::{Clock, Store};
use sentri::targets::ConnectOptions;

/// How long one alert may take to reach a state the demo waits for.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// What a session starts from.
pub struct SessionOptions {
    /// The databases (and everything else) the engine is configured with.
    pub config: Config,
    /// The store's clock; `None` is the real one.
    pub clock: Option<Clock>,
    /// How often the engine looks at open workflows again (approvals given elsewhere).
    pub sweep_interval: Duration,
}

/// What became of one fed alert.
#[derive(Debug, Clone)]
pub enum Fed {
    /// It opened (or was folded into) this workflow, now in a state the demo waits for.
    Workflow(Box<WorkflowRow>),
    /// No policy recognised it.
    Unmatched,
    /// It was recognised as not an alert.
    Ignored,
}

/// A running demo: the engine, its store and its home.
pub struct DemoSession {
    _dir: tempfile::TempDir,
    pub home: Home,
    pub store: Arc<Store>,
    pub engine: EngineHandle,
    pub config: Arc<Config>,
}

impl DemoSession {
    /// Creates the home (policies from the embedded pack), opens the store and starts the
    /// engine. Must run inside a Tokio runtime.
    pub async fn start(options: SessionOptions) -> anyhow::Result<DemoSession> {
        let dir = tempfile::Builder::new().prefix("sentri-demo-").tempdir().context("creating the demo's home")?;
        let home = Home::at(dir.path().join("home"));
        let init_home = home.clone();
        tokio::task::spawn_blocking(move || init_home.init(false))
            .await?
            .with_context(|| format!("writing the policy pack into {}", home.root.display()))?;
        let database_file = home.database_file();
        let clock = options.clock;
        let store = tokio::task::spawn_blocking(move || match clock {
            Some(clock) => Store::open_with_clock(&database_file, clock),
            None => Store::open(&database_file),
        })
        .await?
        .context("opening the demo's store")?;
        let config = Arc::new(options.config);
        let policies = LivePolicies::load(&home.root);
        let store = Arc::new(store.with_reporter(Reporter::for_config(&config, policies.clone())));
        let engine = Engine::start(EngineSettings {
            store: Arc::clone(&store),
            policies,
            config: Arc::clone(&config),
            connect: ConnectOptions::default(),
            sweep_interval: options.sweep_interval,
            shutdown_deadline: Duration::from_secs(30),
            mailbox: false,
            notifier: false,
            watch_policies: false,
            checks: false,
        });
        Ok(DemoSession { _dir: dir, home, store, engine, config })
    }

    /// Stores an email as a raw alert and hands its id to the engine, as the mailbox intake
    /// does. Returns the raw alert's id.
    pub async fn feed(&self, email: &str) -> anyhow::Result<i64> {
        let received_at = sentri::store::timestamp_text(self.store.now());
        let raw = RawAlert::from_rfc822(email.as_bytes(), received_at);
        let (id, _) = self.blocking(move |store| Ok(store.insert_raw_alert(&raw)?)).await?;
        // Taken in on the engine's own tasks, as the mailbox's are; `settle` waits for it.
        let engine = self.engine.clone();
        tokio::spawn(async move { engine.ingest(sentri::domain::RawAlertId(id)).await });
        Ok(id)
    }

    /// Waits until the engine has triaged the raw alert and its workflow stands still: done,
    /// handed to a human, or waiting for an approval.
    pub async fn settle(&self, raw_alert_id: i64) -> anyhow::Result<Fed> {
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        let mut events = self.engine.subscribe();
        loop {
            let raw = self.blocking(move |store| Ok(store.get_raw_alert(raw_alert_id)?)).await?;
            match raw.outcome {
                Some(RawAlertOutcome::Unmatched) => return Ok(Fed::Unmatched),
                Some(RawAlertOutcome::Ignored | RawAlertOutcome::ApprovalReply { .. } | RawAlertOutcome::Split) => {
                    return Ok(Fed::Ignored);
                }
                Some(RawAlertOutcome::Workflow { workflow_id, .. } | RawAlertOutcome::Folded { workflow_id, .. }) => {
                    let workflow = self.workflow(&workflow_id).await?;
                    if at_rest(workflow.state) {
                        return Ok(Fed::Workflow(Box::new(workflow)));
                    }
                }
                None => {}
            }
            if tokio::time::Instant::now() > deadline {
                bail!("raw alert #{raw_alert_id} did not settle within {} s", SETTLE_LIMIT.as_secs());
            }
            // Any event may be the one; the store says which. The short timeout covers a
            // lagging receiver.
            let _ = tokio::time::timeout(Duration::from_millis(100), events.recv()).await;
        }
    }

    /// Records a decision on a workflow waiting for approval, bound to its plan hash, through
    /// `pipeline::approval::decide` as `sentri approve` does; then lets the engine take it from
    /// there.
    pub async fn decide(
        &self,
        workflow: &WorkflowRow,
        approver: &str,
        decision: Decision,
        reason: &str,
    ) -> anyhow::Result<WorkflowRow> {
        if workflow.state != WorkflowState::AwaitingApproval {
            bail!("workflow {} is {}, not AWAITING_APPROVAL", workflow.short_id(), workflow.state);
        }
        let Some(plan_hash) = workflow.plan_hash.clone() else {
            bail!("workflow {} has no plan to approve", workflow.short_id());
        };
        let request = DecisionRequest {
            workflow_id: workflow.id.clone(),
            plan_hash,
            approver: approver.to_owned(),
            decision,
            channel: "cli".to_owned(),
            reason: reason.to_owned(),
            token_hash: None,
            raw_alert_id: None,
        };
        let outcome = self.engine.decide(request).await.context("the engine did not take the decision")?;
        if let DecisionOutcome::Refused { rule } = outcome {
            bail!("the decision was refused: {rule}");
        }
        let decided = self.workflow(&workflow.id).await?;
        let id = decided.id.clone();
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        loop {
            let current = self.workflow(&id).await?;
            if at_rest(current.state) && current.state != WorkflowState::AwaitingApproval {
                return Ok(current);
            }
            if tokio::time::Instant::now() > deadline {
                bail!("workflow {} did not settle after the decision", current.short_id());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            self.engine.drive(&id).await.context("the engine stopped")?;
        }
    }

    /// One workflow as the store has it now.
    pub async fn workflow(&self, id: &str) -> anyhow::Result<WorkflowRow> {
        let id = id.to_owned();
        self.blocking(move |store| Ok(store.get_workflow(&id)?)).await
    }

    /// Stops the engine (it finishes the step it is in) and removes the home.
    pub async fn stop(self) {
        self.engine.shutdown().await;
    }

    /// Runs a store call on the blocking pool.
    pub async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let store = Arc::clone(&self.store);
        tokio::task::spawn_blocking(move || call(&store)).await?
    }
}

/// Whether a workflow stands still until a human (or nobody) acts.
pub fn at_rest(state: WorkflowState) -> bool {
    use WorkflowState::*;
    matches!(state, Completed | Resolved | VerificationFailed | Denied | Escalated | AwaitingApproval | RolledBack)
}
