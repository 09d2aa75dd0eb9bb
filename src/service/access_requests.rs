//! The AuthZEN Access Request and Approval profile's use cases (issue 15): submitting an access
//! request bound to a requestable denial, reading and cancelling its task. Each item of a
//! request becomes an elevation through [`Elevator::request_elevation`], the use case gRPC
//! `RequestElevation` calls (eligibility, limits, rules, separation of duties, the approval
//! chain): there is no second workflow. The task's status is read from those elevations.
//!
//! The denial side (which denials are requestable, and what an approval presented at
//! re-evaluation is worth) is in `access_request_denials.rs`.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::access_request_callbacks::SubmittedCallback;
use super::access_request_denials::question_matches;
use super::{Elevator, NewElevation, ServiceError};
use crate::domain::{
    AccessRequestItem, AccessRequestRecord, Elevation, ElevationState, Grant, Identity,
    RequestableDenial, RequestedDuration, SessionId, Subject,
};

/// How late after a denial's `expires_at` a submission is still taken (clock skew between the
/// PEP, the decision point and its replicas; the profile suggests 30 seconds).
pub const CLOCK_SKEW_TOLERANCE: TimeDelta = TimeDelta::seconds(30);

/// Most items in one access request.
pub const MAX_ACCESS_REQUEST_ITEMS: usize = 20;

/// How long a task stays readable after its last item's approval window or access window ended.
const TASK_RETENTION: TimeDelta = TimeDelta::hours(24);

/// The binding material a submission carries for one item (the profile's `denial` object).
#[derive(Debug, Clone, Default)]
pub struct DenialBinding {
    /// `denial.evaluation_id`: resolved against the denials this decision point kept.
    pub evaluation_id: Option<String>,
    /// `denial.binding_token`.
    pub binding_token: Option<String>,
}

/// One `(resource, action)` a submission asks for.
#[derive(Debug, Clone)]
pub struct SubmittedItem {
    /// The question as `{"subject", "resource", "action", "context"}`, as the PEP sent it
    /// (`subject.properties.act` and the profile's own context members left out).
    pub question: Json,
    /// Its binding (the item's own `denial`, else the top-level one).
    pub denial: Option<DenialBinding>,
    /// `requested_access.requested_until` for it.
    pub requested_until: Option<DateTime<Utc>>,
}

/// An access request as the PEP submitted it, read at the edge.
#[derive(Debug, Clone)]
pub struct AccessRequestSubmission {
    /// `subject.type`.
    pub subject_type: String,
    /// `subject.id`: whose elevations the items become.
    pub subject_id: String,
    /// The subject's session (`context.session_id`), when the PEP knows it.
    pub session: Option<SessionId>,
    /// The items, in order (one for a plain submission).
    pub items: Vec<SubmittedItem>,
    /// Whether the submission carried `items[]`.
    pub bundled: bool,
    /// The justification (`context.business_justification`).
    pub reason: String,
    /// A ticket reference (`context.ticket`).
    pub ticket: Option<String>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The whole body, for comparing a retry.
    pub body: Json,
    /// The `client` object, kept for audit (never authorization input).
    pub client: Json,
    /// The `callback`, when the PEP wants the task's end posted to it.
    pub callback: Option<SubmittedCallback>,
}

/// A task's status in the profile's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskStatus {
    /// Awaiting approval.
    Pending,
    /// Approved (what it allowed may since have ended: re-evaluation says so).
    Approved,
    /// Denied by an approver, or refused by policy at submission.
    Denied,
    /// The approval window closed first.
    Expired,
    /// Cancelled.
    Cancelled,
    /// Items ended differently (bundled requests only).
    Partial,
}

impl TaskStatus {
    /// The profile's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Approved => "approved",
            TaskStatus::Denied => "denied",
            TaskStatus::Expired => "expired",
            TaskStatus::Cancelled => "cancelled",
            TaskStatus::Partial => "partial",
        }
    }

    /// The status of an item whose elevation is in `state`: once approved, an elevation stays
    /// an approved task whatever happens to its grant later.
    pub(super) fn of(state: ElevationState) -> TaskStatus {
        match state {
            ElevationState::Pending => TaskStatus::Pending,
            ElevationState::Approved
            | ElevationState::Scheduled
            | ElevationState::Active
            | ElevationState::Expired
            | ElevationState::Revoked => TaskStatus::Approved,
            ElevationState::Denied => TaskStatus::Denied,
            ElevationState::Cancelled => TaskStatus::Cancelled,
            ElevationState::TimedOut => TaskStatus::Expired,
        }
    }

    /// The aggregate of items' statuses, as the profile computes it.
    pub fn aggregate(statuses: &[TaskStatus]) -> TaskStatus {
        if statuses.contains(&TaskStatus::Pending) || statuses.is_empty() {
            return TaskStatus::Pending;
        }
        let first = statuses[0];
        if statuses.iter().all(|status| *status == first) {
            first
        } else {
            TaskStatus::Partial
        }
    }
}

/// One item of a task as it stands.
#[derive(Debug, Clone)]
pub struct TaskItem {
    /// The item as kept.
    pub item: AccessRequestItem,
    /// Its status.
    pub status: TaskStatus,
    /// Its elevation, when it became one.
    pub elevation: Option<Elevation>,
    /// The elevation's grant, once approved.
    pub grant: Option<Grant>,
}

impl TaskItem {
    /// When access ends (or would end): the grant's end, else approval time plus duration.
    pub fn approved_until(&self) -> Option<DateTime<Utc>> {
        if self.status != TaskStatus::Approved {
            return None;
        }
        match (&self.grant, &self.elevation) {
            (Some(grant), _) => Some(grant.not_after),
            (None, Some(elevation)) => Some(elevation.updated_at + elevation.duration),
            _ => None,
        }
    }

    /// When it was approved.
    pub fn approved_at(&self) -> Option<DateTime<Utc>> {
        if self.status != TaskStatus::Approved {
            return None;
        }
        let elevation = self.elevation.as_ref()?;
        let last_vote = elevation.votes.iter().map(|vote| vote.at).max();
        let started = self.grant.as_ref().map(|grant| grant.not_before);
        last_vote.or(started).or(Some(elevation.updated_at))
    }
}

/// A task as it stands: the record, each item, the aggregate status and until when it is kept.
#[derive(Debug, Clone)]
pub struct AccessRequestTask {
    /// The record.
    pub record: AccessRequestRecord,
    /// Each item.
    pub items: Vec<TaskItem>,
    /// The aggregate status.
    pub status: TaskStatus,
    /// Until when the handle is valid.
    pub expires_at: DateTime<Utc>,
    /// Whether a submission with the same idempotency key answered it again.
    pub repeated: bool,
}

/// A refusal with one of the profile's problem types, carried as a failed precondition whose
/// code the edge maps to the type.
pub(crate) fn profile_refusal(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::precondition(code, message)
}

impl Elevator {
    /// Submits an access request: every item bound to a requestable denial this decision
    /// point kept, each becoming an elevation of the subject through the same use case as
    /// `RequestElevation`. A retry with the same idempotency key and body answers the same task.
    #[tracing::instrument(skip_all)]
    pub async fn submit_access_request(
        &self,
        caller: &Identity,
        submission: AccessRequestSubmission,
    ) -> Result<AccessRequestTask, ServiceError> {
        let requester = self.profile_requester(
            caller,
            &submission.subject_type,
            &submission.subject_id,
            submission.session.clone(),
        )?;
        if let Some(key) = &submission.idempotency_key
            && let Some(earlier) = self
                .store
                .access_request_by_key(caller.subject.as_str(), key)
                .await?
        {
            return self.repeated(earlier, &submission.body).await;
        }
        if submission.items.is_empty() || submission.items.len() > MAX_ACCESS_REQUEST_ITEMS {
            return Err(ServiceError::invalid(
                "items",
                format!("must hold 1 to {MAX_ACCESS_REQUEST_ITEMS} items"),
            ));
        }
        let now = self.clock.now();
        let mut denials = Vec::with_capacity(submission.items.len());
        for (index, item) in submission.items.iter().enumerate() {
            denials.push(self.bound_denial(caller, item, index, now).await?);
        }
        let task_id = format!("arq_{}", uuid::Uuid::new_v4().simple());
        let callback = match &submission.callback {
            Some(submitted) => Some(self.checked_callback(submitted, &task_id).await?),
            None => None,
        };
        let mut items = Vec::with_capacity(denials.len());
        for (index, (item, denial)) in submission.items.iter().zip(&denials).enumerate() {
            let key = elevation_key(
                caller,
                submission.idempotency_key.as_deref(),
                &task_id,
                index,
            );
            let request = self.elevation_for(&submission, item, denial, key, now)?;
            let outcome = self.request_elevation(&requester, request).await;
            let (elevation_id, refusal) = match outcome {
                Ok(outcome) => (Some(outcome.elevation.id), None),
                Err(error) if !submission.bundled => return Err(error),
                Err(error) => (None, Some(error.to_string())),
            };
            items.push(AccessRequestItem {
                approval_id: format!("apr_{}", uuid::Uuid::new_v4().simple()),
                elevation_id,
                refusal,
                evaluation_id: Some(denial.evaluation_id.clone()),
                bound: denial.bound.clone(),
            });
        }
        let record = AccessRequestRecord {
            task_id,
            requester: requester.subject.clone(),
            submitted_by: caller.subject.clone(),
            idempotency_key: submission.idempotency_key.clone(),
            body: submission.body.clone(),
            client: submission.client.clone(),
            bundled: submission.bundled,
            items,
            created_at: now,
            callback,
        };
        let kept = self.store.create_access_request(&record).await?;
        if kept.task_id != record.task_id {
            // A concurrent retry with the same key won: answer its task.
            return self.repeated(kept, &submission.body).await;
        }
        self.task_of(kept, now, false).await
    }

    /// The task an earlier submission with the same key made, when the body is the same.
    async fn repeated(
        &self,
        earlier: AccessRequestRecord,
        body: &Json,
    ) -> Result<AccessRequestTask, ServiceError> {
        if earlier.body != *body {
            return Err(profile_refusal(
                "DUPLICATE_REQUEST",
                "this Idempotency-Key was used for a different submission: use a new key",
            ));
        }
        self.task_of(earlier, self.clock.now(), true).await
    }

    /// The elevation request for one item: the role and scope of its denial, the access window
    /// up to `requested_until` (else the entry's longest), the justification and ticket.
    fn elevation_for(
        &self,
        submission: &AccessRequestSubmission,
        item: &SubmittedItem,
        denial: &RequestableDenial,
        idempotency_key: String,
        now: DateTime<Utc>,
    ) -> Result<NewElevation, ServiceError> {
        let policy = self.decider.policy();
        let longest = policy
            .eligibility()
            .iter()
            .find(|entry| entry.role == denial.role && entry.covers(&denial.scope))
            .map_or(TimeDelta::hours(1), |entry| entry.max_duration);
        let wanted = match item.requested_until {
            Some(until) if until <= now => {
                return Err(ServiceError::invalid(
                    "requested_access.requested_until",
                    "lies in the past: ask for a time ahead",
                ));
            }
            Some(until) => until - now,
            None => longest,
        };
        let wanted = wanted.min(longest);
        let duration = RequestedDuration::from_parts(wanted.num_seconds(), 0)
            .map_err(|error| ServiceError::invalid("requested_access.requested_until", error.0))?;
        Ok(NewElevation {
            role: denial.role.clone(),
            scope: denial.scope.clone(),
            duration,
            reason: submission.reason.clone(),
            ticket: submission.ticket.clone(),
            idempotency_key: Some(idempotency_key),
            not_before: None,
        })
    }

    /// The denial an item is bound to, checked: resolvable, issued to this caller (or about
    /// it), fresh, not used by an earlier request, and about exactly this question.
    async fn bound_denial(
        &self,
        caller: &Identity,
        item: &SubmittedItem,
        index: usize,
        now: DateTime<Utc>,
    ) -> Result<RequestableDenial, ServiceError> {
        let unbound = |why: &str| {
            profile_refusal(
                "INVALID_DENIAL_BINDING",
                format!("item {index}: {why}; evaluate again and submit what the new denial says"),
            )
        };
        let Some(binding) = &item.denial else {
            return Err(unbound(
                "it carries no denial binding (denial.evaluation_id)",
            ));
        };
        let Some(evaluation_id) = &binding.evaluation_id else {
            return Err(unbound(
                "this decision point binds requests by denial.evaluation_id, which is missing",
            ));
        };
        let Some(denial) = self.store.get_denial(evaluation_id).await? else {
            return Err(unbound("denial.evaluation_id names no requestable denial"));
        };
        let about_caller = item.question["subject"]["id"].as_str() == Some(caller.subject.as_str());
        if denial.pep != caller.subject && !about_caller {
            return Err(unbound(
                "the denial was issued to another enforcement point",
            ));
        }
        if now > denial.expires_at + CLOCK_SKEW_TOLERANCE {
            return Err(profile_refusal(
                "EXPIRED_DENIAL",
                format!("item {index}: the requestable denial expired; evaluate again"),
            ));
        }
        if !question_matches(&denial.bound, &item.question) {
            return Err(unbound(
                "the subject, resource, action or context differs from the denied evaluation",
            ));
        }
        if self
            .store
            .access_request_by_evaluation(evaluation_id)
            .await?
            .is_some()
        {
            return Err(unbound(
                "the denial was already used by another access request",
            ));
        }
        Ok(denial)
    }

    /// Who asks, as the use case sees it: the caller itself when it is the subject; otherwise
    /// an enforcement point (the PEP role) speaking for the subject, who is then known by what
    /// the directory says of it (groups, standing roles, `manager` property) and nothing else.
    pub(crate) fn profile_requester(
        &self,
        caller: &Identity,
        subject_type: &str,
        subject_id: &str,
        session: Option<SessionId>,
    ) -> Result<Identity, ServiceError> {
        if caller.subject.as_str() == subject_id {
            let mut requester = caller.clone();
            requester.session = session.or(requester.session);
            return Ok(requester);
        }
        self.require_role(
            caller,
            &self.roles.pep,
            "Submitting an access request for a subject",
        )?;
        let subject = Subject::parse(subject_id)
            .map_err(|error| ServiceError::invalid("subject.id", error.0))?;
        let directory = self.decider.directory();
        let entity = directory.find(subject_type, subject_id);
        let manager = entity.and_then(|entity| match entity.properties.get("manager") {
            Some(crate::domain::Value::String(text)) => Subject::parse(text).ok(),
            _ => None,
        });
        Ok(Identity {
            subject,
            session,
            groups: entity.map(|e| e.groups.clone()).unwrap_or_default(),
            roles: entity
                .map(|e| e.roles.iter().map(standing_role_text).collect())
                .unwrap_or_default(),
            standing_roles: entity.map(|e| e.roles.clone()).unwrap_or_default(),
            manager,
            amr: Vec::new(),
            expires_at: caller.expires_at,
            issuer: None,
        })
    }

    /// The task `task_id`, for the enforcement point that submitted it, its subject, or an admin.
    #[tracing::instrument(skip_all)]
    pub async fn access_request_task(
        &self,
        caller: &Identity,
        task_id: &str,
    ) -> Result<AccessRequestTask, ServiceError> {
        let record = self.readable_task(caller, task_id).await?;
        let now = self.clock.now();
        let task = self.task_of(record, now, false).await?;
        if now > task.expires_at {
            return Err(profile_refusal(
                "TASK_EXPIRED",
                "this access request's task has expired",
            ));
        }
        Ok(task)
    }

    /// Cancels every pending item of task `task_id` (the submitting enforcement point, the
    /// subject, or an admin); a task with nothing pending is refused.
    #[tracing::instrument(skip_all)]
    pub async fn cancel_access_request(
        &self,
        caller: &Identity,
        task_id: &str,
        reason: &str,
    ) -> Result<AccessRequestTask, ServiceError> {
        let record = self.readable_task(caller, task_id).await?;
        let now = self.clock.now();
        let task = self.task_of(record.clone(), now, false).await?;
        let pending: Vec<_> = task
            .items
            .iter()
            .filter(|item| item.status == TaskStatus::Pending)
            .filter_map(|item| item.elevation.as_ref().map(|e| e.id))
            .collect();
        if pending.is_empty() {
            return Err(profile_refusal(
                "INVALID_TASK_STATE",
                format!(
                    "the task is {}: only a pending task can be cancelled",
                    task.status.as_str()
                ),
            ));
        }
        // The subject's own cancellation, on behalf of the enforcement point it trusted.
        let requester = Identity {
            subject: record.requester.clone(),
            session: None,
            groups: Vec::new(),
            roles: Vec::new(),
            standing_roles: Vec::new(),
            manager: None,
            amr: Vec::new(),
            expires_at: caller.expires_at,
            issuer: None,
        };
        let reason = if reason.is_empty() {
            "cancelled through the access request endpoint"
        } else {
            reason
        };
        for id in pending {
            self.cancel_elevation(&requester, id, reason).await?;
        }
        self.task_of(record, self.clock.now(), false).await
    }

    /// The record of `task_id` when `caller` may see it; otherwise "unknown", whether or not
    /// it exists (a task id is not a bearer credential).
    async fn readable_task(
        &self,
        caller: &Identity,
        task_id: &str,
    ) -> Result<AccessRequestRecord, ServiceError> {
        let unknown = || profile_refusal("UNKNOWN_TASK", "no such access request task");
        let record = self
            .store
            .get_access_request(task_id)
            .await?
            .ok_or_else(unknown)?;
        let may = record.submitted_by == caller.subject
            || record.requester == caller.subject
            || self.is_admin(caller);
        if may { Ok(record) } else { Err(unknown()) }
    }

    /// The task of `record` as its elevations stand at `now`.
    pub(crate) async fn task_of(
        &self,
        record: AccessRequestRecord,
        now: DateTime<Utc>,
        repeated: bool,
    ) -> Result<AccessRequestTask, ServiceError> {
        let mut items = Vec::with_capacity(record.items.len());
        let mut kept_until = record.created_at;
        for item in &record.items {
            let elevation = match item.elevation_id {
                Some(id) => self.store.get_elevation(id).await?,
                None => None,
            };
            let grant = match elevation.as_ref().and_then(|e| e.grant_id) {
                Some(id) => self.store.get_grant(id).await?,
                None => None,
            };
            let status = elevation
                .as_ref()
                .map_or(TaskStatus::Denied, |e| TaskStatus::of(e.state()));
            if let Some(elevation) = &elevation {
                kept_until = kept_until.max(elevation.request_expires_at);
            }
            let task_item = TaskItem {
                item: item.clone(),
                status,
                elevation,
                grant,
            };
            if let Some(until) = task_item.approved_until() {
                kept_until = kept_until.max(until);
            }
            items.push(task_item);
        }
        let statuses: Vec<TaskStatus> = items.iter().map(|item| item.status).collect();
        let status = TaskStatus::aggregate(&statuses);
        let expires_at = if status == TaskStatus::Pending {
            kept_until
        } else {
            kept_until.max(now.min(kept_until + TASK_RETENTION)) + TASK_RETENTION
        };
        Ok(AccessRequestTask {
            record,
            items,
            status,
            expires_at,
            repeated,
        })
    }
}

/// The elevation's idempotency key for item `index`: derived from the submission's key (so a
/// retry that races the first submission makes no second elevation), else from the new task.
fn elevation_key(caller: &Identity, key: Option<&str>, task_id: &str, index: usize) -> String {
    match key {
        Some(key) => {
            let digest = Sha256::digest(format!("{}\u{0}{key}", caller.subject).as_bytes());
            let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
            format!("arq:{hex}:{index}")
        }
        None => format!("arq:{task_id}:{index}"),
    }
}

/// A standing role as a token's `roles` entry writes it.
fn standing_role_text(role: &crate::domain::StandingRole) -> String {
    match &role.scope {
        Some(scope) => format!("{}@{}", role.role, scope),
        None => role.role.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::access_request_denials::question_matches;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bundle_is_pending_while_anything_is_and_partial_when_items_end_differently() {
        use TaskStatus::*;
        assert_eq!(TaskStatus::aggregate(&[Approved, Pending]), Pending);
        assert_eq!(TaskStatus::aggregate(&[Approved, Approved]), Approved);
        assert_eq!(TaskStatus::aggregate(&[Approved, Denied]), Partial);
        assert_eq!(TaskStatus::aggregate(&[Cancelled]), Cancelled);
    }

    #[test]
    fn a_question_matches_only_its_bound_tuple_and_relevant_context() {
        let bound = json!({"subject": {"type": "user", "id": "jerry"},
            "resource": {"type": "todo", "id": "1"}, "action": {"name": "can_create_todo"},
            "context": {"tenant": "smiths"}});
        let mut asked = bound.clone();
        asked["context"]["business_justification"] = json!("need it");
        assert!(question_matches(&bound, &asked));
        let mut other = asked.clone();
        other["resource"]["id"] = json!("2");
        assert!(!question_matches(&bound, &other));
        let mut other = asked.clone();
        other["context"]["tenant"] = json!("citadel");
        assert!(!question_matches(&bound, &other));
        let mut other = asked;
        other["subject"]["properties"] = json!({"x": 1});
        assert!(!question_matches(&bound, &other));
    }
}
