//! Keeps the model in step with the store: one cheap change marker per tick, and only when it
//! moved, the rows that changed. The store is the truth — engine events only make the next
//! look come sooner — so a console attached to a daemon in another process and one running the
//! engine in-process refresh the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sentri::domain::WorkflowId;
use sentri::policy::PolicySet;
use sentri::store::{AuditFilter, ChangeMarker, Store, StoreError};

use super::app::App;
use super::fleet::{self, ConfiguredDatabase};
use super::model::{DatabaseStatus, WorkflowDetail};

/// How many of the newest alerts the Alerts pane holds.
pub const ALERT_TAIL: usize = 500;
/// How many of the newest audit rows the Audit pane holds.
pub const AUDIT_TAIL: usize = 500;
/// How far before the newest change already seen the next read starts. A writer takes its
/// timestamp before it waits for SQLite's write lock (at most the store's 5 s busy timeout), so
/// a change can commit after a newer one and carry an older time; rows are merged by id, so
/// reading some twice costs nothing.
const LOOKBACK: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);
/// The chain is verified again at most this often (it reads the whole trail)...
const VERIFY_EVERY: Duration = Duration::from_secs(2);
/// ...and never more than one part in this many of the time, so a long trail cannot make the
/// console sluggish.
const VERIFY_SHARE: u32 = 20;

/// What has been loaded so far.
pub struct Refresher {
    store: Arc<Store>,
    marker: Option<ChangeMarker>,
    verified_up_to: Option<i64>,
    last_verify: Option<Instant>,
    verify_took: Duration,
    detail_of: Option<(WorkflowId, Option<ChangeMarker>)>,
    /// What the Databases view is about: the configured databases and the pack's checks.
    fleet: Option<(Vec<ConfiguredDatabase>, PolicySet)>,
    fleet_at: Option<Instant>,
}

/// The Databases view is read again at most this often: each read walks every check's series.
const FLEET_EVERY: Duration = Duration::from_secs(5);

impl Refresher {
    /// Nothing loaded yet: the first [`Refresher::refresh`] loads everything.
    pub fn new(store: Arc<Store>) -> Refresher {
        Refresher {
            store,
            marker: None,
            verified_up_to: None,
            last_verify: None,
            verify_took: Duration::ZERO,
            detail_of: None,
            fleet: None,
            fleet_at: None,
        }
    }

    /// Also keeps the Databases view of `databases` over `pack`'s checks.
    pub fn with_fleet(mut self, databases: Vec<ConfiguredDatabase>, pack: PolicySet) -> Refresher {
        self.fleet = Some((databases, pack));
        self
    }

    /// Reads the Databases view again, while it is showing, when it is due or at once with
    /// `now` (it was just opened).
    pub fn refresh_fleet(&mut self, app: &mut App, now: bool) -> Result<bool, StoreError> {
        let Some((databases, pack)) = &self.fleet else { return Ok(false) };
        if !app.databases_open() {
            return Ok(false);
        }
        let due = now || self.fleet_at.is_none_or(|at| at.elapsed() >= FLEET_EVERY);
        if !due {
            return Ok(false);
        }
        self.fleet_at = Some(Instant::now());
        let fleet = fleet::load(&self.store, pack, databases, &app.model.workflows)?;
        let changed = fleet != app.model.fleet;
        app.model.fleet = fleet;
        Ok(changed)
    }

    /// Brings `app` up to date; returns whether anything it shows changed.
    pub fn refresh(&mut self, app: &mut App) -> Result<bool, StoreError> {
        let marker = self.store.change_marker()?;
        let moved = self.marker.as_ref() != Some(&marker);
        if moved {
            let since = app.model.last_workflow_change().map(|at| at.checked_sub(LOOKBACK).unwrap_or(at));
            let rows = self.store.workflows_changed_since(since)?;
            app.model.upsert_workflows(rows);
            if self.marker.as_ref().map(|m| (m.last_raw_alert_id, m.handled_raw_alerts))
                != Some((marker.last_raw_alert_id, marker.handled_raw_alerts))
            {
                app.model.alerts = self.store.list_raw_alerts(false, Some(ALERT_TAIL))?;
            }
            if self.marker.as_ref().map(|m| m.last_audit_id) != Some(marker.last_audit_id) {
                app.model.audit =
                    self.store.list_audit(&AuditFilter { last: Some(AUDIT_TAIL), ..AuditFilter::default() })?;
            }
            self.refresh_databases(app);
            self.marker = Some(marker.clone());
        }
        let mut changed = moved;
        let pause = VERIFY_EVERY.max(self.verify_took * VERIFY_SHARE);
        let due = self.last_verify.is_none_or(|at| at.elapsed() >= pause);
        if self.verified_up_to != Some(marker.last_audit_id) && due {
            let started = Instant::now();
            app.model.chain = Some(self.store.verify_audit()?);
            self.verify_took = started.elapsed();
            self.verified_up_to = Some(marker.last_audit_id);
            self.last_verify = Some(Instant::now());
            changed = true;
        }
        if moved {
            app.recompute();
        }
        changed |= self.refresh_detail(app)?;
        changed |= self.refresh_fleet(app, false)?;
        Ok(changed)
    }

    /// The selected workflow's transitions and audit rows, loaded when the selection or the
    /// store changed.
    pub fn refresh_detail(&mut self, app: &mut App) -> Result<bool, StoreError> {
        let selected = app.selected_workflow().map(|w| w.id.clone());
        let key = selected.clone().map(|id| (id, self.marker.clone()));
        if key == self.detail_of {
            return Ok(false);
        }
        app.model.detail = match &selected {
            None => None,
            Some(id) => Some(WorkflowDetail {
                workflow_id: id.clone(),
                transitions: self.store.workflow_transitions(id)?,
                audit: self
                    .store
                    .list_audit(&AuditFilter { workflow_id: Some(id.to_string()), ..AuditFilter::default() })?,
            }),
        };
        self.detail_of = key;
        Ok(true)
    }

    /// A database counts as reachable once Sentri read its profile (it answered).
    fn refresh_databases(&self, app: &mut App) {
        let names: Vec<String> = app.model.status.databases.iter().map(|d| d.name.clone()).collect();
        app.model.status.databases = names
            .into_iter()
            .map(|name| {
                let reachable = match self.store.profile(&name) {
                    Ok(Some(_)) => Some(true),
                    _ => None,
                };
                DatabaseStatus { name, reachable }
            })
            .collect();
    }
}
