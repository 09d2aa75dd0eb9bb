//! The server's background tasks: the change feed into the decider, readiness and the gauges
//! the database feeds, audit checkpoints and the expiry sweep. Each runs until it is aborted,
//! which [`Background`] does when the server is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tonic_health::server::HealthReporter;

use crate::admin::{READINESS_SERVICE, Readiness};
use crate::clock::SharedClock;
use crate::decision::Decider;
use crate::service::Elevator;
use crate::store::{Store, StoreEvent};
use crate::telemetry::metrics::Metrics;

/// Background tasks, stopped when the server is dropped.
#[derive(Default)]
pub(super) struct Background(Vec<JoinHandle<()>>);

impl Background {
    /// Keeps `task` until the server is dropped.
    pub(super) fn push(&mut self, task: JoinHandle<()>) {
        self.0.push(task);
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Keeps readiness (and its gRPC health service) and the gauges that need the database
/// current, every second: three small queries on partial indexes.
pub(super) fn spawn_refresher(
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    health: HealthReporter,
    clock: SharedClock,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_ready = None;
        loop {
            ticks.tick().await;
            refresh_from_store(store.as_ref(), &metrics, &readiness, clock.now()).await;
            match store.overdue_break_glass(clock.now()).await {
                Ok(count) => (metrics.backlogs())
                    .overdue_break_glass_reviews
                    .store(count, Ordering::Relaxed),
                Err(error) => tracing::warn!(%error, "cannot count overdue break-glass reviews"),
            }
            let ready = readiness.report().ready;
            if last_ready != Some(ready) && !readiness.is_shutting_down() {
                let status = if ready {
                    tonic_health::ServingStatus::Serving
                } else {
                    tonic_health::ServingStatus::NotServing
                };
                health.set_service_status(READINESS_SERVICE, status).await;
                last_ready = Some(ready);
            }
        }
    })
}

/// One look at the database: whether its schema is current (readiness), and the backlogs
/// the gauges show.
async fn refresh_from_store(
    store: &dyn Store,
    metrics: &Metrics,
    readiness: &Readiness,
    now: chrono::DateTime<chrono::Utc>,
) {
    match store.missing_migrations().await {
        Ok(missing) => {
            if !missing.is_empty() {
                tracing::warn!(
                    ?missing,
                    "the database schema lacks migrations this build needs"
                );
            }
            readiness.set_schema_current(missing.is_empty());
        }
        Err(error) => tracing::warn!(%error, "cannot check the database schema"),
    }
    let backlogs = metrics.backlogs();
    match store.pending_elevations().await {
        Ok(count) => backlogs.pending_approvals.store(count, Ordering::Relaxed),
        Err(error) => tracing::warn!(%error, "cannot count pending approvals"),
    }
    match store.pending_deliveries().await {
        Ok(count) => backlogs.webhook_outbox.store(count, Ordering::Relaxed),
        Err(error) => tracing::warn!(%error, "cannot count the webhook outbox"),
    }
    match store.count_open_review_items(now).await {
        Ok((open, overdue)) => {
            backlogs.review_items_open.store(open, Ordering::Relaxed);
            backlogs
                .review_items_overdue
                .store(overdue, Ordering::Relaxed);
        }
        Err(error) => tracing::warn!(%error, "cannot count open review items"),
    }
}

/// How long start-up waits for the change feed's first connection. Until it connects the
/// decider allows nothing, so a replica that served before it would only deny.
const FIRST_LISTEN_WAIT: Duration = Duration::from_secs(10);

/// Feeds the store's change events into the decider. The memory store is always "listening";
/// a PostgreSQL store may have connected its listener before we subscribed, so its current
/// state is observed once first. Returns once the feed connected (or after
/// [`FIRST_LISTEN_WAIT`]; Checks deny until it does).
pub(super) async fn spawn_change_feed(
    store: Arc<dyn Store>,
    decider: Arc<Decider>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<JoinHandle<()>> {
    let mut events = store.subscribe();
    if store.is_listening() {
        let revision = store.revision().await?;
        decider.observe(&StoreEvent::Restored { revision }).await;
    }
    let feeding = tokio::spawn({
        let decider = decider.clone();
        async move {
            loop {
                match events.recv().await {
                    Ok(event) => {
                        if let StoreEvent::Changed { committed_at, .. } = &event {
                            let lag = committed_at.and_then(|committed| {
                                (chrono::Utc::now() - committed).to_std().ok()
                            });
                            metrics.record_invalidation(lag);
                        }
                        decider.observe(&event).await;
                    }
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "change feed lagged; resynchronising");
                        resynchronise(store.as_ref(), &decider).await;
                    }
                    Err(RecvError::Closed) => return,
                }
            }
        }
    });
    let waiting_since = std::time::Instant::now();
    while !decider.freshness().has_listened() {
        if waiting_since.elapsed() >= FIRST_LISTEN_WAIT {
            tracing::warn!("the change feed has not connected yet; Checks deny until it does");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(feeding)
}

/// After missing events: the decider drops what it cached, and trusts its caches again from
/// the store's current revision if the feed is still connected.
async fn resynchronise(store: &dyn Store, decider: &Decider) {
    decider.observe(&StoreEvent::Lost).await;
    if store.is_listening() {
        match store.revision().await {
            Ok(revision) => decider.observe(&StoreEvent::Restored { revision }).await,
            Err(error) => tracing::warn!(%error, "cannot read the revision"),
        }
    }
}

/// Signs and keeps the audit chain head now and then, so a copy exported elsewhere can later
/// prove the log was not rewritten.
pub(super) fn spawn_checkpoints(app: Arc<Elevator>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = app.checkpoint().await {
                tracing::warn!(%error, "could not sign the audit chain head");
            }
        }
    })
}

/// Sweeps every `interval`, the first time one interval after start (a server sweeping the
/// moment it starts would race whoever drives time by hand, as tests do).
pub(super) fn spawn_sweeper(app: Arc<Elevator>, interval: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = app.sweep().await {
                tracing::warn!(%error, "expiry sweep failed");
            }
        }
    })
}
