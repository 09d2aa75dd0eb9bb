//! The webhook outbox as the store keeps it: deliveries written with a change, claimed by a
//! worker, and finished.

use chrono::{DateTime, Utc};

use crate::domain::Revision;

/// A webhook delivery to make.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxMessage {
    /// Where to post.
    pub url: String,
    /// The audit action announced.
    pub event_kind: String,
    /// The body (the audit event); the store adds the revision.
    pub payload: serde_json::Value,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// A webhook delivery claimed by a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingDelivery {
    /// The outbox row.
    pub id: i64,
    /// Where to post.
    pub url: String,
    /// The audit action announced.
    pub event_kind: String,
    /// The body, with the revision of the change it announces.
    pub payload: serde_json::Value,
    /// Attempts made before this one.
    pub attempts: u32,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    /// The receiver accepted it.
    Delivered,
    /// It failed; try again at `retry_at`, or never when `None` (attempts exhausted).
    Failed {
        /// What went wrong.
        error: String,
        /// When to try again.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// A webhook body with the revision of the change it announces.
pub(crate) fn with_revision(
    mut payload: serde_json::Value,
    revision: Revision,
) -> serde_json::Value {
    if let Some(object) = payload.as_object_mut() {
        object.insert("revision".into(), revision.into());
    }
    payload
}
