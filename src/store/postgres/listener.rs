//! The LISTEN side of change notification. One dedicated connection per replica listens on
//! `elevator_changes`; each committed write's notification becomes a
//! [`StoreEvent::Changed`]. When the connection breaks or stalls, the replica announces
//! [`StoreEvent::Lost`] (caches are dropped and decisions read through) and reconnects; once
//! listening again it announces [`StoreEvent::Restored`] with the revision it resumed at.
//!
//! Every [`PROBE_INTERVAL`] the listener reads the head revision on its own connection. That
//! catches two kinds of stall: a connection that does not answer within [`PROBE_TIMEOUT`], and
//! one that answers but stopped delivering notifications (the head stayed ahead of the last
//! revision the feed announced for [`NOTIFICATION_DEADLINE`]; every revision bump notifies in
//! the same transaction, so a healthy feed catches up within milliseconds). Either way a stall
//! is detected within 2 s: [`STALL_DETECTION_BOUND`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::DateTime;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};

use super::queries;
use crate::domain::{EntityId, EntityKey, EntityType, Subject};
use crate::store::StoreEvent;

/// How often the listener proves its connection alive, and how long the proof may take: a
/// stalled connection is detected within the sum.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long the head revision may stay ahead of the feed before the feed counts as stalled.
const NOTIFICATION_DEADLINE: Duration = Duration::from_millis(1000);
/// The longest a stalled feed goes unnoticed: a probe starts within [`PROBE_INTERVAL`] and
/// fails within [`PROBE_TIMEOUT`] (or sees the feed behind for [`NOTIFICATION_DEADLINE`]).
pub const STALL_DETECTION_BOUND: Duration = Duration::from_millis(2000);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
struct Payload {
    r: u64,
    p: bool,
    a: bool,
    s: Vec<String>,
    /// Whether the directory changed (absent from notifications of older builds).
    #[serde(default)]
    d: bool,
    /// The directory keys written, as `type/id` (empty: anywhere; absent from older builds).
    #[serde(default)]
    k: Vec<String>,
    /// The database's clock when the write committed, in seconds since the epoch.
    #[serde(default)]
    t: Option<f64>,
}

/// Listens until the task is aborted.
pub(super) async fn run(
    config: tokio_postgres::Config,
    first_backoff: Duration,
    events: broadcast::Sender<StoreEvent>,
    listening: Arc<AtomicBool>,
) {
    let mut backoff = first_backoff;
    loop {
        let outcome = listen_once(&config, &events, &listening).await;
        let was_listening = listening.swap(false, Ordering::AcqRel);
        if was_listening {
            let _ = events.send(StoreEvent::Lost);
            backoff = first_backoff;
        }
        match outcome {
            Ok(()) => tracing::warn!("change listener connection closed; reconnecting"),
            Err(error) => tracing::warn!(%error, "change listener failed; reconnecting"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

async fn listen_once(
    config: &tokio_postgres::Config,
    events: &broadcast::Sender<StoreEvent>,
    listening: &AtomicBool,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(NoTls).await?;
    let (notifications_tx, mut notifications) = mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if notifications_tx.send(notification).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "change listener connection error");
                    return;
                }
            }
        }
    });
    let _abort_driver = AbortOnDrop(driver);

    client.batch_execute(queries::LISTEN).await?;
    let head_revision = client.prepare(queries::CURRENT_REVISION).await?;
    let revision: i64 = client.query_one(&head_revision, &[]).await?.get(0);
    listening.store(true, Ordering::Release);
    let _ = events.send(StoreEvent::Restored {
        revision: revision as u64,
    });
    tracing::info!(revision, "listening for changes");

    let mut announced = revision as u64;
    // A head revision the feed had not announced when a probe read it, and when.
    let mut behind: Option<(u64, Instant)> = None;
    let mut probe = tokio::time::interval(PROBE_INTERVAL);
    loop {
        tokio::select! {
            notification = notifications.recv() => {
                let Some(notification) = notification else {
                    return Ok(());
                };
                let Some(revision) = forward(notification.payload(), events) else {
                    tracing::warn!(payload = notification.payload(), "unreadable change notification; resynchronising");
                    return Ok(());
                };
                announced = announced.max(revision);
            }
            _ = probe.tick() => {
                let head: i64 = match tokio::time::timeout(PROBE_TIMEOUT, client.query_one(&head_revision, &[])).await {
                    Ok(Ok(row)) => row.get(0),
                    Ok(Err(error)) => return Err(error),
                    Err(_) => {
                        tracing::warn!("change listener connection stalled");
                        return Ok(());
                    }
                };
                behind = match behind {
                    Some((head_seen, since)) if announced < head_seen => {
                        if since.elapsed() >= NOTIFICATION_DEADLINE {
                            tracing::warn!(head_seen, announced, "change feed stopped delivering; resynchronising");
                            return Ok(());
                        }
                        Some((head_seen, since))
                    }
                    _ if head as u64 > announced => Some((head as u64, Instant::now())),
                    _ => None,
                };
            }
        }
    }
}

/// Turns a notification into a store event; returns its revision, or `None` when the payload
/// is unreadable.
fn forward(payload: &str, events: &broadcast::Sender<StoreEvent>) -> Option<u64> {
    let Ok(payload) = serde_json::from_str::<Payload>(payload) else {
        return None;
    };
    let revision = payload.r;
    let _ = events.send(StoreEvent::Changed {
        revision: payload.r,
        subjects: payload
            .s
            .iter()
            .filter_map(|subject| Subject::parse(subject).ok())
            .collect(),
        everyone: payload.a,
        policy_changed: payload.p,
        directory_changed: payload.d,
        directory_keys: directory_keys(&payload.k),
        committed_at: payload
            .t
            .and_then(|seconds| DateTime::from_timestamp_micros((seconds * 1_000_000.0) as i64)),
    });
    Some(revision)
}

/// The directory keys a notification names; none (reload everything) if one does not parse.
fn directory_keys(keys: &[String]) -> Vec<EntityKey> {
    let parse = |key: &String| {
        let (entity_type, id) = key.split_once('/')?;
        Some(EntityKey {
            entity_type: EntityType::parse(entity_type).ok()?,
            id: EntityId::parse(id).ok()?,
        })
    };
    keys.iter()
        .map(parse)
        .collect::<Option<_>>()
        .unwrap_or_default()
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
