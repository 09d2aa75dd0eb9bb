//! The LISTEN side of change notification. One dedicated connection per replica listens on
//! `elevator_changes`; each committed write's notification becomes a
//! [`StoreEvent::Changed`]. When the connection breaks or stalls, the replica announces
//! [`StoreEvent::Lost`] (caches are dropped and decisions read through) and reconnects; once
//! listening again it announces [`StoreEvent::Restored`] with the revision it resumed at.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::DateTime;
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::{AsyncMessage, NoTls};

use super::queries;
use crate::domain::Subject;
use crate::store::StoreEvent;

/// How often the listener proves its connection alive, and how long the proof may take: a
/// stalled connection is detected within the sum.
const PROBE_INTERVAL: Duration = Duration::from_millis(500);
const PROBE_TIMEOUT: Duration = Duration::from_millis(1500);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

#[derive(Deserialize)]
struct Payload {
    r: u64,
    p: bool,
    a: bool,
    s: Vec<String>,
    /// The database's clock when the write committed, in seconds since the epoch.
    #[serde(default)]
    t: Option<f64>,
}

/// Listens until the task is aborted.
pub async fn run(
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
    let revision: i64 = client
        .query_one(queries::CURRENT_REVISION, &[])
        .await?
        .get(0);
    listening.store(true, Ordering::Release);
    let _ = events.send(StoreEvent::Restored {
        revision: revision as u64,
    });
    tracing::info!(revision, "listening for changes");

    let mut probe = tokio::time::interval(PROBE_INTERVAL);
    loop {
        tokio::select! {
            notification = notifications.recv() => {
                let Some(notification) = notification else {
                    return Ok(());
                };
                if !forward(notification.payload(), events) {
                    tracing::warn!(payload = notification.payload(), "unreadable change notification; resynchronising");
                    return Ok(());
                }
            }
            _ = probe.tick() => {
                match tokio::time::timeout(PROBE_TIMEOUT, client.simple_query("SELECT 1")).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(error)) => return Err(error),
                    Err(_) => {
                        tracing::warn!("change listener connection stalled");
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// Turns a notification into a store event; false when the payload is unreadable.
fn forward(payload: &str, events: &broadcast::Sender<StoreEvent>) -> bool {
    let Ok(payload) = serde_json::from_str::<Payload>(payload) else {
        return false;
    };
    let _ = events.send(StoreEvent::Changed {
        revision: payload.r,
        subjects: payload
            .s
            .iter()
            .filter_map(|subject| Subject::parse(subject).ok())
            .collect(),
        everyone: payload.a,
        policy_changed: payload.p,
        committed_at: payload
            .t
            .and_then(|seconds| DateTime::from_timestamp_micros((seconds * 1_000_000.0) as i64)),
    });
    true
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
