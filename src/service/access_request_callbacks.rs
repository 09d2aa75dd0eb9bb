//! Callbacks of the AuthZEN Access Request profile (issue 15): a PEP's `callback.endpoint`,
//! checked at submission (its form, and every address its host resolves to, against the
//! deployment's [`CallbackRules`]), and the post announcing a task's end, queued in the webhook
//! outbox in the same transaction as the elevation write that ends the task. The outbox signs
//! it (HMAC-SHA256 with the webhook secret, the profile's pre-shared-key option), retries it,
//! and checks the addresses again when it connects (`src/webhooks/callback.rs`).
//!
//! The post is notification only, as the profile's examples are: `{"state", "task": {"id",
//! "status", "status_endpoint"}}`; the PEP reads the status endpoint for the `result` it
//! enforces. A task completed synchronously (the `201` answer carries its result) is not
//! posted.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::access_requests::TaskStatus;
use super::{Elevator, ServiceError};
use crate::domain::TransitionError;
use crate::domain::{
    AccessRequestRecord, CALLBACK_EVENT, CallbackRules, ElevationId, TaskCallback,
};
use crate::store::{Change, Decide, ElevationContext, OutboxMessage, StoreError};

/// How long resolving a callback host at submission may take.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest `callback.state`, in bytes.
pub const MAX_CALLBACK_STATE_BYTES: usize = 1024;

/// The statuses a callback may ask to hear of (`callback.events`).
pub const CALLBACK_EVENTS: [&str; 6] = [
    "approved",
    "denied",
    "expired",
    "cancelled",
    "failed",
    "partial",
];

/// A `callback` as the PEP submitted it (its members' types already checked at the edge).
#[derive(Debug, Clone)]
pub struct SubmittedCallback {
    /// `callback.endpoint`.
    pub endpoint: String,
    /// `callback.state`.
    pub state: Option<String>,
    /// `callback.events`.
    pub events: Vec<String>,
    /// Where this decision point's tasks live (`{base}/access/v1/requests`), for the post's
    /// `task.status_endpoint`.
    pub tasks_url: String,
}

/// A task with a callback whose item is being written: what is needed to tell, from the
/// change, whether the write ends the task.
pub(super) struct CallbackWatch {
    record: AccessRequestRecord,
    callback: TaskCallback,
    /// The statuses of the task's other items, as read before the write.
    others: Vec<TaskStatus>,
}

impl Elevator {
    /// Resolves callbacks for the profile by `rules` (default: https only, no internal targets).
    pub fn with_callback_rules(mut self, rules: CallbackRules) -> Self {
        self.callback_rules = rules;
        self
    }

    /// The callback of a submission for task `task_id`, checked: an https URL (or http where
    /// allowed) whose host resolves to public addresses only, unless allow-listed.
    pub(super) async fn checked_callback(
        &self,
        submitted: &SubmittedCallback,
        task_id: &str,
    ) -> Result<TaskCallback, ServiceError> {
        let refused = |why: String| ServiceError::invalid("callback.endpoint", why);
        let target = self
            .callback_rules
            .target(&submitted.endpoint)
            .map_err(refused)?;
        let resolved = tokio::time::timeout(
            RESOLVE_TIMEOUT,
            tokio::net::lookup_host((target.host.as_str(), target.port)),
        )
        .await
        .map_err(|_| refused("resolving its host took too long".into()))?
        .map_err(|_| refused("its host does not resolve".into()))?;
        let addresses: Vec<_> = resolved.collect();
        self.callback_rules
            .check_addresses(&target, &addresses)
            .map_err(refused)?;
        Ok(TaskCallback {
            endpoint: submitted.endpoint.clone(),
            state: submitted.state.clone(),
            events: submitted.events.clone(),
            status_endpoint: format!("{}/{task_id}", submitted.tasks_url),
        })
    }

    /// The tasks with a callback that elevation `id` is an item of, as they stand before a
    /// write to it (none for an elevation that did not come through the profile).
    pub(super) async fn callback_watches(
        &self,
        id: ElevationId,
    ) -> Result<Vec<CallbackWatch>, StoreError> {
        let records = self.store.access_requests_for_elevations(&[id]).await?;
        let mut watches = Vec::new();
        for record in records {
            let Some(callback) = record.callback.clone() else {
                continue;
            };
            let mut others = Vec::with_capacity(record.items.len());
            for item in &record.items {
                others.push(match item.elevation_id {
                    Some(other) if other == id => continue,
                    Some(other) => self
                        .store
                        .get_elevation(other)
                        .await?
                        .map_or(TaskStatus::Denied, |e| TaskStatus::of(e.state())),
                    // Refused by policy at submission.
                    None => TaskStatus::Denied,
                });
            }
            watches.push(CallbackWatch {
                record,
                callback,
                others,
            });
        }
        Ok(watches)
    }
}

/// `decide`, adding to its change the callback post of every task in `watches` the change
/// ends (see [`Elevator::commit_to_elevation`]).
pub(super) fn announcing_task_ends<'a>(
    watches: &'a [CallbackWatch],
    id: ElevationId,
    now: DateTime<Utc>,
    decide: Decide<'a, ElevationContext>,
) -> impl Fn(ElevationContext) -> Result<Change, TransitionError> + Send + Sync + 'a {
    move |context: ElevationContext| {
        let was = TaskStatus::of(context.elevation.state());
        decide(context).map(|mut change| {
            for watch in watches {
                if let Some(message) = task_end(watch, id, was, &change, now) {
                    change.outbox.push(message);
                }
            }
            change
        })
    }
}

/// The callback post when `change` ends the task `watch` follows: item `id` leaves pending,
/// and with it the whole task, to a status the callback asked to hear of.
fn task_end(
    watch: &CallbackWatch,
    id: ElevationId,
    was: TaskStatus,
    change: &Change,
    now: DateTime<Utc>,
) -> Option<OutboxMessage> {
    let written = change.elevations.iter().find(|e| e.id == id)?;
    let status = TaskStatus::of(written.state());
    if was != TaskStatus::Pending || status == TaskStatus::Pending {
        return None;
    }
    let mut statuses = watch.others.clone();
    statuses.push(status);
    let task_status = TaskStatus::aggregate(&statuses);
    let name = task_status.as_str();
    if task_status == TaskStatus::Pending
        || (!watch.callback.events.is_empty() && !watch.callback.events.iter().any(|e| e == name))
    {
        return None;
    }
    let mut payload = json!({
        "task": {
            "id": watch.record.task_id,
            "status": name,
            "status_endpoint": watch.callback.status_endpoint,
        }
    });
    if let Some(state) = &watch.callback.state {
        payload["state"] = json!(state);
    }
    Some(OutboxMessage {
        url: watch.callback.endpoint.clone(),
        event_kind: CALLBACK_EVENT.to_owned(),
        payload,
        created_at: now,
    })
}
