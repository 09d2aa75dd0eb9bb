//! The records of the AuthZEN Access Request and Approval profile (issue 15), as kept beside
//! the elevations they lead to: a requestable denial bound by its `evaluation_id`, and an
//! access request (the profile's task) naming, item by item, the elevation each became and the
//! approval id a PEP presents when it evaluates again. Elevations are not changed: these
//! records point at them, and the task's status is read from their state.
//!
//! The bound question (`subject`, `resource`, `action` and the authorization-relevant
//! `context` members) is kept as the JSON the PEP sent, because the profile compares it
//! structurally, member by member, exactly as sent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::ElevationId;
use super::names::{RoleName, Subject};
use super::scope::Scope;

/// A requestable denial: what a PEP was denied, which eligibility entry lets the subject ask
/// for a role that would allow it, and until when a request may be bound to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestableDenial {
    /// The evaluation's id (`context.evaluation_id`): opaque and unguessable.
    pub evaluation_id: String,
    /// The enforcement point that asked (its verified subject).
    pub pep: Subject,
    /// The denied question: `{"subject", "resource", "action", "context"}`, the context
    /// holding only the authorization-relevant members.
    pub bound: serde_json::Value,
    /// The role that would allow it.
    pub role: RoleName,
    /// The scope a grant would cover (the resource's own).
    pub scope: Scope,
    /// The eligibility entry's template name (`eligibility/<index>/<role>`).
    pub template: String,
    /// When the evaluation was decided.
    pub evaluated_at: DateTime<Utc>,
    /// Until when a request may be bound to it.
    pub expires_at: DateTime<Utc>,
}

/// One `(resource, action)` of an access request and the elevation it became.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRequestItem {
    /// The approval id a PEP presents at re-evaluation once the elevation is approved
    /// (`apr_…`, unguessable).
    pub approval_id: String,
    /// The elevation it became; `None` when policy refused it at submission.
    pub elevation_id: Option<ElevationId>,
    /// Why policy refused it at submission, when it did.
    #[serde(default)]
    pub refusal: Option<String>,
    /// The denied evaluation it was bound to, when bound by id.
    #[serde(default)]
    pub evaluation_id: Option<String>,
    /// The approved question (as in [`RequestableDenial::bound`]): the default approval scope.
    pub bound: serde_json::Value,
}

/// An access request as submitted through the profile: the profile's task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessRequestRecord {
    /// The task id (`arq_…`, unguessable).
    pub task_id: String,
    /// Whose access it asks for: the subject, whose elevations the items became.
    pub requester: Subject,
    /// The enforcement point that submitted it (its verified subject).
    pub submitted_by: Subject,
    /// The submission's `Idempotency-Key`, when it sent one.
    pub idempotency_key: Option<String>,
    /// The submission body as read (for comparing a retry with the same key).
    pub body: serde_json::Value,
    /// The submission's `client` object (id, name, actor chain, source), kept for audit.
    pub client: serde_json::Value,
    /// Whether the submission carried `items[]` (a bundled request).
    pub bundled: bool,
    /// Its items, in submission order.
    pub items: Vec<AccessRequestItem>,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// Where to post when the task ends, when the PEP asked for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback: Option<TaskCallback>,
}

/// A PEP's `callback`: where the task's end is posted (through the webhook outbox), with the
/// opaque `state` it gets back and the statuses it wants to hear of (all when empty).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskCallback {
    /// `callback.endpoint`, checked at submission (and again at delivery).
    pub endpoint: String,
    /// `callback.state`, returned unmodified.
    #[serde(default)]
    pub state: Option<String>,
    /// `callback.events`: the terminal statuses to post (all when empty).
    #[serde(default)]
    pub events: Vec<String>,
    /// The task's status endpoint, as the PEP was given it.
    pub status_endpoint: String,
}

impl AccessRequestRecord {
    /// The item whose approval id is `approval_id`.
    pub fn item_by_approval(&self, approval_id: &str) -> Option<&AccessRequestItem> {
        self.items
            .iter()
            .find(|item| item.approval_id == approval_id)
    }
}
