//! The denial side of the AuthZEN Access Request and Approval profile (issue 15): whether a
//! denial is requestable (policy lets the subject ask for a role that carries the permission
//! on the resource's scope), kept so a request can be bound to it by `evaluation_id`; and what
//! an approval a PEP presents at re-evaluation (`context.approval`) is worth. The approval is
//! never a bearer grant: the decision stays the decider's, over the grants the approval made.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value as Json;

use super::access_requests::TaskStatus;
use super::{Elevator, ServiceError};
use crate::domain::{AccessQuery, Decision, DecisionReason, Identity, RequestableDenial};
use crate::policy::Eligibility;

/// How long a requestable denial can be bound to (`context.access_request.expires_at`).
pub const DENIAL_LIFETIME: TimeDelta = TimeDelta::minutes(10);

/// What a requestable denial offers: the kept denial and what its eligibility entry requires
/// of a request (for `display` and the request schema).
#[derive(Debug, Clone)]
pub struct DenialOffer {
    /// The kept denial.
    pub denial: RequestableDenial,
    /// The entry that makes it requestable.
    pub entry: Eligibility,
}

/// What an approval presented at re-evaluation is worth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalStanding {
    /// It is this subject's, for exactly this question, and its grant is in force until then.
    Valid {
        /// When the grant ends.
        approved_until: DateTime<Utc>,
    },
    /// Unknown, not approved, or another subject's: it counts for nothing.
    Unverifiable,
    /// Genuine, but for another resource, action or context.
    OutOfScope,
    /// Its grant ended (expired, revoked, its elevation cancelled).
    Expired,
    /// Approved, but its grant has not started yet.
    GrantPending {
        /// Seconds until it starts.
        retry_after: i64,
    },
}

impl ApprovalStanding {
    /// The profile's re-evaluation denial reason for a denied decision with this approval.
    pub fn denial_reason(&self) -> &'static str {
        match self {
            ApprovalStanding::Valid { .. } => "policy_denied",
            ApprovalStanding::Unverifiable => "approval_unverifiable",
            ApprovalStanding::OutOfScope => "out_of_scope",
            ApprovalStanding::Expired => "approval_expired",
            ApprovalStanding::GrantPending { .. } => "grant_pending",
        }
    }
}

/// Whether a denial for `reason` could be lifted by an elevation (a rule, a separation of
/// duties set or a risk signal would deny the elevated grant too).
fn lifted_by_elevation(reason: DecisionReason) -> bool {
    matches!(
        reason,
        DecisionReason::NoGrant
            | DecisionReason::ScopeMismatch
            | DecisionReason::Expired
            | DecisionReason::Revoked
            | DecisionReason::OtherSession
    )
}

impl Elevator {
    /// When `decision` denies `query` and policy lets its subject request a role that carries
    /// the permission on the resource's scope: the denial, kept under a new `evaluation_id`
    /// with `question` (the PEP's JSON: subject, resource, action and the authorization-
    /// relevant context) so a request can be bound to it. Otherwise `None`.
    #[tracing::instrument(skip_all)]
    pub async fn requestable_denial(
        &self,
        caller: &Identity,
        query: &AccessQuery<'_>,
        decision: &Decision,
        question: Json,
    ) -> Result<Option<DenialOffer>, ServiceError> {
        if decision.allowed || !lifted_by_elevation(decision.reason) {
            return Ok(None);
        }
        let Ok(requester) = self.profile_requester(
            caller,
            query.subject.entity_type(),
            query.subject.id(),
            query.session.clone(),
        ) else {
            return Ok(None);
        };
        let Ok(resolved) = self.decider.resolve_access(query) else {
            return Ok(None);
        };
        let policy = self.decider.policy();
        let carrying = policy.roles_with_permission(query.action.name());
        let entry = policy.eligibility().iter().find(|entry| {
            carrying.contains(&entry.role)
                && entry.admits(&requester)
                && entry.covers(resolved.scope())
        });
        let Some(entry) = entry else {
            return Ok(None);
        };
        let now = self.clock.now();
        let denial = RequestableDenial {
            evaluation_id: format!("eval_{}", uuid::Uuid::new_v4().simple()),
            pep: caller.subject.clone(),
            bound: question,
            role: entry.role.clone(),
            scope: resolved.scope().clone(),
            template: format!("eligibility/{}/{}", entry.index, entry.role),
            evaluated_at: now,
            expires_at: now + DENIAL_LIFETIME,
        };
        self.store.save_denial(&denial, now).await?;
        Ok(Some(DenialOffer {
            denial,
            entry: entry.clone(),
        }))
    }

    /// Eligibility entry `index` of the policy in force (for its request schema).
    pub fn eligibility_entry(&self, index: usize) -> Option<Eligibility> {
        self.decider.policy().eligibility().get(index).cloned()
    }

    /// What approval `approval_id`, presented with `question` (as in
    /// [`Elevator::requestable_denial`]), is worth now.
    #[tracing::instrument(skip_all)]
    pub async fn approval_standing(
        &self,
        approval_id: &str,
        question: &Json,
    ) -> Result<ApprovalStanding, ServiceError> {
        let Some(record) = self.store.access_request_by_approval(approval_id).await? else {
            return Ok(ApprovalStanding::Unverifiable);
        };
        let now = self.clock.now();
        let task = self.task_of(record, now, false).await?;
        let Some(item) = task
            .items
            .iter()
            .find(|item| item.item.approval_id == approval_id)
        else {
            return Ok(ApprovalStanding::Unverifiable);
        };
        if item.status != TaskStatus::Approved
            || item.item.bound.get("subject") != question.get("subject")
        {
            return Ok(ApprovalStanding::Unverifiable);
        }
        if !question_matches(&item.item.bound, question) {
            return Ok(ApprovalStanding::OutOfScope);
        }
        let Some(grant) = &item.grant else {
            // Approved, the grant not written yet (a start ahead is written as scheduled).
            return Ok(ApprovalStanding::GrantPending { retry_after: 5 });
        };
        if grant.has_ended(now) {
            return Ok(ApprovalStanding::Expired);
        }
        if grant.not_before > now {
            return Ok(ApprovalStanding::GrantPending {
                retry_after: (grant.not_before - now).num_seconds().max(1),
            });
        }
        Ok(ApprovalStanding::Valid {
            approved_until: grant.not_after,
        })
    }
}

/// Whether a submitted (or re-evaluated) question is the bound one: subject, resource and
/// action equal member by member, and each authorization-relevant context member the denial
/// recorded equal too (members the submission adds are augmentations, not compared).
pub(crate) fn question_matches(bound: &Json, asked: &Json) -> bool {
    let same = |member: &str| bound.get(member) == asked.get(member);
    if !(same("subject") && same("resource") && same("action")) {
        return false;
    }
    let Some(bound_context) = bound.get("context").and_then(Json::as_object) else {
        return true;
    };
    let asked_context = asked.get("context").and_then(Json::as_object);
    bound_context
        .iter()
        .all(|(name, value)| asked_context.and_then(|context| context.get(name)) == Some(value))
}
