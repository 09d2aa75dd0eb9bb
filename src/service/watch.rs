//! Watching approvals: a stream, built on the audit log, of each elevation that now waits for
//! the caller (as an approver) and each decision on the caller's own elevations. Every batch
//! carries the revision it reflects; a client that reconnects with the last revision it saw
//! misses nothing and sees nothing twice, because batches never split a revision.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

use super::{Elevator, ServiceError};
use crate::domain::{AuditAction, BreakGlassId, Elevation, ElevationId, Identity, Revision};
use crate::store::{StoreEvent, StoredAuditEvent};

/// How many audit events one read of the log takes.
const TAIL_PAGE: usize = 1000;
/// How long a quiet stream waits before reading the log again (in case a notification was
/// missed).
const QUIET_POLL: Duration = Duration::from_secs(1);
/// Batches buffered for a slow client before the stream waits for it.
const STREAM_BUFFER: usize = 32;

/// Why an elevation is in a watcher's stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    /// It now waits for the watcher's vote.
    AwaitingYou,
    /// It is the watcher's own (requested, or delegated to it), and something was decided.
    YourElevation,
    /// Someone broke glass on a role the watcher approves, or reviews under the entry used.
    BreakGlassUsed,
    /// A break-glass use the watcher approves or reviews was flagged: an alert.
    BreakGlassFlagged,
}

/// One elevation in a batch.
#[derive(Debug, Clone)]
pub struct ApprovalUpdate {
    /// Why it is here.
    pub kind: UpdateKind,
    /// The last audit action that concerned it in this revision.
    pub action: AuditAction,
    /// The elevation as it stands now.
    pub elevation: Elevation,
}

/// Everything one revision changed for a watcher.
#[derive(Debug, Clone)]
pub struct ApprovalBatch {
    /// The revision.
    pub revision: Revision,
    /// The updates (empty for the first batch, which only says where the stream starts).
    pub updates: Vec<ApprovalUpdate>,
}

fn decides_for_requester(action: AuditAction) -> bool {
    !matches!(
        action,
        AuditAction::ElevationRequested
            | AuditAction::PolicyChanged
            | AuditAction::RiskReported
            | AuditAction::SessionEnded
    )
}

fn may_open_a_step(action: AuditAction) -> bool {
    matches!(
        action,
        AuditAction::ElevationRequested
            | AuditAction::ApprovalApproved
            | AuditAction::ApprovalAutoApproved
    )
}

impl Elevator {
    /// Streams approval updates for `caller`, starting after `after_revision` (0: from now).
    /// The stream ends when the caller's token expires or the receiver is dropped.
    pub fn watch_approvals(
        self: &Arc<Self>,
        caller: Arc<Identity>,
        after_revision: Revision,
    ) -> mpsc::Receiver<Result<ApprovalBatch, ServiceError>> {
        let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
        let app = self.clone();
        tokio::spawn(async move {
            if let Err(error) = app.feed_approvals(&caller, after_revision, &sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        receiver
    }

    async fn feed_approvals(
        &self,
        caller: &Identity,
        after_revision: Revision,
        sender: &mpsc::Sender<Result<ApprovalBatch, ServiceError>>,
    ) -> Result<(), ServiceError> {
        let mut changes = self.store.subscribe();
        let mut cursor = match after_revision {
            0 => self.store.revision().await?,
            revision => revision,
        };
        let hello = ApprovalBatch {
            revision: cursor,
            updates: Vec::new(),
        };
        if sender.send(Ok(hello)).await.is_err() {
            return Ok(());
        }
        loop {
            if self.clock.now() >= caller.expires_at {
                return Err(ServiceError::Unauthenticated(
                    crate::auth::AuthError::Expired(caller.expires_at),
                ));
            }
            let events = self
                .store
                .audit_events_after_revision(cursor, TAIL_PAGE)
                .await?;
            let read_everything = events.len() < TAIL_PAGE;
            for revision in revisions(&events) {
                let updates = self.approval_updates(caller, revision).await?;
                cursor = revision[0].revision;
                if updates.is_empty() {
                    continue;
                }
                let batch = ApprovalBatch {
                    revision: cursor,
                    updates,
                };
                if sender.send(Ok(batch)).await.is_err() {
                    return Ok(());
                }
            }
            if read_everything && !wait_for_changes(&mut changes, sender).await {
                return Ok(());
            }
        }
    }

    /// What one revision's events mean for `caller`.
    async fn approval_updates(
        &self,
        caller: &Identity,
        events: &[StoredAuditEvent],
    ) -> Result<Vec<ApprovalUpdate>, ServiceError> {
        let mut last_action: Vec<(ElevationId, AuditAction)> = Vec::new();
        let mut alerts: Vec<(ElevationId, UpdateKind, Option<BreakGlassId>)> = Vec::new();
        for stored in events {
            let Some(id) = stored.event.elevation_id else {
                continue;
            };
            if let Some(kind) = break_glass_alert(stored.event.action) {
                alerts.push((id, kind, break_glass_id(&stored.event.details)));
            }
            match last_action.iter_mut().find(|(seen, _)| *seen == id) {
                Some(entry) => entry.1 = stored.event.action,
                None => last_action.push((id, stored.event.action)),
            }
        }
        let mut updates = self.break_glass_alerts(caller, alerts).await?;
        for (id, action) in last_action {
            if break_glass_alert(action).is_some() && updates.iter().any(|u| u.elevation.id == id) {
                continue;
            }
            let Some(elevation) = self.store.get_elevation(id).await? else {
                continue;
            };
            let own = elevation.requester == caller.subject
                || elevation
                    .delegation
                    .as_ref()
                    .is_some_and(|terms| terms.delegatee == caller.subject);
            let kind = if own && decides_for_requester(action) {
                UpdateKind::YourElevation
            } else if may_open_a_step(action) && elevation.awaits(caller) {
                UpdateKind::AwaitingYou
            } else {
                continue;
            };
            updates.push(ApprovalUpdate {
                kind,
                action,
                elevation,
            });
        }
        Ok(updates)
    }
}

impl Elevator {
    /// The break-glass alerts of one revision `caller` is told of: uses and flags on a role the
    /// caller approves (an eligibility entry for it on the scope names the caller in a step),
    /// or under an entry the caller reviews. Never the user's own.
    async fn break_glass_alerts(
        &self,
        caller: &Identity,
        alerts: Vec<(ElevationId, UpdateKind, Option<BreakGlassId>)>,
    ) -> Result<Vec<ApprovalUpdate>, ServiceError> {
        let mut updates = Vec::new();
        let policy = self.decider.policy();
        for (id, kind, used) in alerts {
            let Some(elevation) = self.store.get_elevation(id).await? else {
                continue;
            };
            if elevation.requester == caller.subject {
                continue;
            }
            let reviews = match used {
                Some(used) => self
                    .store
                    .get_break_glass(used)
                    .await?
                    .is_some_and(|used| used.reviewers.include(caller)),
                None => false,
            };
            let approves = policy
                .eligibility()
                .iter()
                .filter(|entry| entry.role == elevation.role && entry.covers(&elevation.scope))
                .flat_map(|entry| entry.steps.iter())
                .any(|step| {
                    step.approvers
                        .admits(caller, &elevation.requester_claims, &elevation.scope)
                });
            if reviews || approves {
                let action = match kind {
                    UpdateKind::BreakGlassFlagged => AuditAction::BreakGlassFlagged,
                    _ => AuditAction::BreakGlassUsed,
                };
                updates.push(ApprovalUpdate {
                    kind,
                    action,
                    elevation,
                });
            }
        }
        Ok(updates)
    }
}

/// The alert a break-glass audit action raises, if it is one.
fn break_glass_alert(action: AuditAction) -> Option<UpdateKind> {
    match action {
        AuditAction::BreakGlassUsed => Some(UpdateKind::BreakGlassUsed),
        AuditAction::BreakGlassFlagged => Some(UpdateKind::BreakGlassFlagged),
        _ => None,
    }
}

/// The break-glass use an event's details name.
fn break_glass_id(details: &serde_json::Value) -> Option<BreakGlassId> {
    let text = details.get("break_glass_id")?.as_str()?;
    BreakGlassId::parse(text).ok()
}

/// Splits events (ordered by sequence) into runs of one revision each.
pub(super) fn revisions(events: &[StoredAuditEvent]) -> impl Iterator<Item = &[StoredAuditEvent]> {
    events.chunk_by(|a, b| a.revision == b.revision)
}

/// Waits until something was committed, a quiet interval passed, or the client went away
/// (then false).
pub(super) async fn wait_for_changes<T>(
    changes: &mut broadcast::Receiver<StoreEvent>,
    sender: &mpsc::Sender<T>,
) -> bool {
    tokio::select! {
        received = changes.recv() => !matches!(received, Err(broadcast::error::RecvError::Closed)),
        _ = tokio::time::sleep(QUIET_POLL) => true,
        _ = sender.closed() => false,
    }
}
