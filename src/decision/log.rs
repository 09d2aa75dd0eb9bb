//! The decision log: Check decisions (every deny, and a configured sample of allows) written
//! off the hot path through a bounded queue to a JSON-lines file (or standard output). When the
//! queue is full the decision is dropped and counted: logging never delays an answer.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::io::AsyncWriteExt;
use tokio::sync::{mpsc, oneshot};

use super::CheckQuery;
use crate::domain::Decision;

/// Where and what to log.
#[derive(Debug, Clone)]
pub struct DecisionLogOptions {
    /// The file to append to; `None` for standard output.
    pub path: Option<PathBuf>,
    /// The share of allows logged, from 0 (none) to 1 (all); denies are always logged.
    pub sample_allows: f64,
    /// Decisions waiting to be written before new ones are dropped.
    pub queue_size: usize,
}

/// One logged decision.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedDecision {
    /// When it was decided.
    pub at: DateTime<Utc>,
    /// The subject.
    pub subject: String,
    /// Its session.
    pub session: Option<String>,
    /// The permission asked for.
    pub permission: String,
    /// The resource.
    pub resource: String,
    /// The answer.
    pub allowed: bool,
    /// Why.
    pub reason: &'static str,
    /// The deciding grant.
    pub grant_id: Option<String>,
    /// The deciding role.
    pub role: Option<String>,
    /// The rule that denied, if one did.
    pub rule: Option<String>,
    /// The revision decided at.
    pub revision: u64,
    /// The request that asked.
    pub request_id: Option<String>,
}

/// The queue side of the decision log.
pub struct DecisionLog {
    sender: mpsc::Sender<LoggedDecision>,
    sample_allows: f64,
    dropped: AtomicU64,
    queued: AtomicU64,
}

impl DecisionLog {
    /// A log whose decisions wait in a queue of `options.queue_size` for `writer`.
    pub fn new(options: &DecisionLogOptions) -> (Arc<DecisionLog>, mpsc::Receiver<LoggedDecision>) {
        let (sender, receiver) = mpsc::channel(options.queue_size.max(1));
        let log = Arc::new(DecisionLog {
            sender,
            sample_allows: options.sample_allows.clamp(0.0, 1.0),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
        });
        (log, receiver)
    }

    /// Starts a log writing to `options.path` (or standard output).
    pub fn start(options: &DecisionLogOptions) -> (Arc<DecisionLog>, DecisionLogWriter) {
        let (log, receiver) = Self::new(options);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(write_lines(options.path.clone(), receiver, stopped));
        (log, DecisionLogWriter { stop, task })
    }

    /// Queues `decision` if it is to be logged; never waits. The caller passes the id of the
    /// request being served as `request_id`, called only when the decision is sampled so that
    /// unlogged allows never pay for it (the decision layer does not know about requests).
    pub fn record(
        &self,
        query: &CheckQuery<'_>,
        decision: &Decision,
        at: DateTime<Utc>,
        request_id: impl FnOnce() -> Option<String>,
    ) {
        let sampled = !decision.allowed
            || (self.sample_allows > 0.0 && rand::random::<f64>() < self.sample_allows);
        if !sampled {
            return;
        }
        let logged = LoggedDecision {
            at,
            subject: query.subject.as_str().to_owned(),
            session: query.session.map(str::to_owned),
            permission: query.permission.to_owned(),
            resource: query.resource.to_owned(),
            allowed: decision.allowed,
            reason: decision.reason.as_str(),
            grant_id: decision.grant.as_ref().map(|g| g.id.to_string()),
            role: decision.role().map(str::to_owned),
            rule: decision.rule.clone(),
            revision: decision.revision,
            request_id: request_id(),
        };
        match self.sender.try_send(logged) {
            Ok(()) => {
                self.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Decisions dropped because the queue was full (or the writer gone).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Decisions queued for writing.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Decisions waiting in the queue now.
    pub fn depth(&self) -> usize {
        self.sender.max_capacity() - self.sender.capacity()
    }
}

/// The task writing the log.
pub struct DecisionLogWriter {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl DecisionLogWriter {
    /// Stops taking decisions, writes every one already queued, and flushes. For shutdown,
    /// once no Check is in flight.
    pub async fn finish(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn write_lines(
    path: Option<PathBuf>,
    mut receiver: mpsc::Receiver<LoggedDecision>,
    mut stop: oneshot::Receiver<()>,
) {
    let mut sink: Box<dyn tokio::io::AsyncWrite + Unpin + Send> = match &path {
        Some(path) => match tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
        {
            Ok(file) => Box::new(file),
            Err(error) => {
                tracing::error!(path = %path.display(), %error, "cannot open the decision log; decisions are dropped");
                return;
            }
        },
        None => Box::new(tokio::io::stdout()),
    };
    let mut batch = Vec::new();
    loop {
        let received = tokio::select! {
            received = receiver.recv_many(&mut batch, 256) => received,
            _ = &mut stop, if !receiver.is_closed() => {
                // Refuse new decisions; what is queued is still received below.
                receiver.close();
                continue;
            }
        };
        if received == 0 {
            break;
        }
        let mut lines = String::new();
        for decision in batch.drain(..) {
            if let Ok(line) = serde_json::to_string(&decision) {
                lines.push_str(&line);
                lines.push('\n');
            }
        }
        if let Err(error) = sink.write_all(lines.as_bytes()).await {
            tracing::warn!(%error, "writing the decision log failed");
        }
        let _ = sink.flush().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DecisionReason;

    static QUERY: std::sync::LazyLock<CheckQuery<'static>> =
        std::sync::LazyLock::new(|| CheckQuery {
            subject: crate::domain::SubjectRef::parse("fatma").expect("a valid subject"),
            session: Some("s1"),
            permission: "purchase_orders.approve",
            resource: "Org:Procurement",
            token: None,
            min_revision: 0,
        });

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (log, _receiver) = DecisionLog::new(&DecisionLogOptions {
            path: None,
            sample_allows: 0.0,
            queue_size: 2,
        });
        let deny = Decision::deny(DecisionReason::NoGrant, 7);
        for _ in 0..5 {
            log.record(&QUERY, &deny, Utc::now(), || None);
        }
        assert_eq!(log.queued(), 2);
        assert_eq!(log.dropped(), 3);
        assert_eq!(log.depth(), 2);
    }

    #[test]
    fn allows_are_sampled_and_denies_always_kept() {
        let (none, _r1) = DecisionLog::new(&DecisionLogOptions {
            path: None,
            sample_allows: 0.0,
            queue_size: 100,
        });
        let (all, _r2) = DecisionLog::new(&DecisionLogOptions {
            path: None,
            sample_allows: 1.0,
            queue_size: 100,
        });
        let mut allow = Decision::deny(DecisionReason::Allowed, 1);
        allow.allowed = true;
        for _ in 0..10 {
            none.record(&QUERY, &allow, Utc::now(), || None);
            all.record(&QUERY, &allow, Utc::now(), || None);
        }
        assert_eq!(none.queued(), 0);
        assert_eq!(all.queued(), 10);
    }

    #[test]
    fn a_logged_decision_carries_the_request_id_its_caller_passed() {
        let (log, mut receiver) = DecisionLog::new(&DecisionLogOptions {
            path: None,
            sample_allows: 0.0,
            queue_size: 4,
        });
        let deny = Decision::deny(DecisionReason::NoGrant, 7);
        log.record(&QUERY, &deny, Utc::now(), || Some("req-42".to_owned()));
        let logged = receiver.try_recv().expect("the deny was queued");
        assert_eq!(logged.request_id.as_deref(), Some("req-42"));
    }
}
