//! The elevation record: one request for a role on a scope for a limited time, what it asked
//! for, where it stands, and how a new one starts out (`PENDING`).

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{ApprovalStep, ElevationState, RequesterSnapshot, Vote};
use crate::domain::ids::{ElevationId, GrantId};
use crate::domain::names::{RoleName, SessionId, Subject};
use crate::domain::scope::Scope;

/// One request for a role on a scope for a limited time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elevation {
    /// Identifier.
    pub id: ElevationId,
    /// Who asked.
    pub requester: Subject,
    /// The session the grant will be bound to; `None` for entries with `session_binding: none`.
    pub session: Option<SessionId>,
    /// The role asked for.
    pub role: RoleName,
    /// The scope asked for.
    pub scope: Scope,
    /// The access window's length, counted from activation.
    #[serde(with = "duration_millis")]
    pub duration: TimeDelta,
    /// Why.
    pub reason: String,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// Where it stands and why: moved only by the transitions of this module.
    #[serde(flatten)]
    pub status: ElevationStatus,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When the state last changed.
    pub updated_at: DateTime<Utc>,
    /// End of the approval window.
    pub request_expires_at: DateTime<Utc>,
    /// The requested start of the access window, if any.
    pub not_before: Option<DateTime<Utc>>,
    /// The approval chain, captured from policy at request time.
    pub steps: Vec<ApprovalStep>,
    /// Every verdict, in order.
    pub votes: Vec<Vote>,
    /// The requester's claims at request time.
    pub requester_claims: RequesterSnapshot,
    /// The policy version the request was evaluated under.
    pub policy_version: u64,
    /// The grant it created, once approved.
    pub grant_id: Option<GrantId>,
    /// The requester's idempotency key, if one was given.
    pub idempotency_key: Option<String>,
    /// For an extension request: the grant whose window it lengthens.
    #[serde(default)]
    pub extends_grant: Option<GrantId>,
    /// For a delegation that needs approval: what is delegated to whom.
    #[serde(default)]
    pub delegation: Option<DelegationTerms>,
    /// Subjects who may not approve this elevation besides the requester: those who delegated
    /// the role along the chain, and the delegatee of a delegation.
    #[serde(default)]
    pub excluded_approvers: Vec<Subject>,
}

/// Where an elevation stands, and why, for people. Only the transitions of
/// [`Elevation`] move it; [`ElevationStatus::restored`] exists for a store reading back what
/// it wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElevationStatus {
    pub(super) state: ElevationState,
    pub(super) state_reason: String,
}

impl ElevationStatus {
    /// A status as it was stored: for a store rebuilding a row it wrote (and for fixtures that
    /// stand in for one). It checks nothing; the store checks each write against the state
    /// machine ([`ElevationState::may_become_in_one_write`]).
    pub fn restored(state: ElevationState, state_reason: String) -> Self {
        ElevationStatus {
            state,
            state_reason,
        }
    }
}

/// A new request for a role, as the use case assembled it; [`Elevation::requested`] makes it
/// a `PENDING` elevation.
#[derive(Debug, Clone)]
pub struct ElevationRequest {
    /// Who asks (for a delegation: the delegator).
    pub requester: Subject,
    /// The session the grant will be bound to.
    pub session: Option<SessionId>,
    /// The role asked for.
    pub role: RoleName,
    /// The scope asked for.
    pub scope: Scope,
    /// The access window's length.
    pub duration: TimeDelta,
    /// Why.
    pub reason: String,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// When it is asked.
    pub requested_at: DateTime<Utc>,
    /// End of the approval window.
    pub request_expires_at: DateTime<Utc>,
    /// The requested start of the access window, if any.
    pub not_before: Option<DateTime<Utc>>,
    /// The approval chain from policy.
    pub steps: Vec<ApprovalStep>,
    /// The requester's claims now.
    pub requester_claims: RequesterSnapshot,
    /// The policy version the request was assessed under.
    pub policy_version: u64,
    /// The requester's idempotency key, if one was given.
    pub idempotency_key: Option<String>,
    /// For an extension: the grant whose window it lengthens.
    pub extends_grant: Option<GrantId>,
    /// For a delegation: what is delegated to whom.
    pub delegation: Option<DelegationTerms>,
    /// Subjects who may not approve it besides the requester.
    pub excluded_approvers: Vec<Subject>,
}

impl Elevation {
    /// A new elevation, `PENDING` and waiting for approval, with a fresh id.
    pub fn requested(request: ElevationRequest) -> Elevation {
        Elevation {
            id: ElevationId::generate(),
            requester: request.requester,
            session: request.session,
            role: request.role,
            scope: request.scope,
            duration: request.duration,
            reason: request.reason,
            ticket: request.ticket,
            status: ElevationStatus {
                state: ElevationState::Pending,
                state_reason: "waiting for approval".into(),
            },
            created_at: request.requested_at,
            updated_at: request.requested_at,
            request_expires_at: request.request_expires_at,
            not_before: request.not_before,
            steps: request.steps,
            votes: Vec::new(),
            requester_claims: request.requester_claims,
            policy_version: request.policy_version,
            grant_id: None,
            idempotency_key: request.idempotency_key,
            extends_grant: request.extends_grant,
            delegation: request.delegation,
            excluded_approvers: request.excluded_approvers,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> ElevationState {
        self.status.state
    }

    /// Why it stands there, for people.
    pub fn state_reason(&self) -> &str {
        &self.status.state_reason
    }

    /// The elevation moved to `state` for `reason` at `now`: the one way every transition
    /// changes the status, once it has checked that the move is allowed.
    pub(super) fn moved_to(
        &self,
        state: ElevationState,
        reason: String,
        now: DateTime<Utc>,
    ) -> Elevation {
        let mut next = self.clone();
        next.status = ElevationStatus {
            state,
            state_reason: reason,
        };
        next.updated_at = now;
        next
    }
}

/// What a delegation passes on, kept with its elevation while approvals are pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationTerms {
    /// Who receives the role.
    pub delegatee: Subject,
    /// The delegator's grant the role comes from; `None` for a standing role.
    pub parent_grant: Option<GrantId>,
    /// The latest the delegated grant may end (the parent's end, or the policy's cap for a
    /// standing role), as known at request time; re-read from the parent at activation.
    pub not_after_cap: DateTime<Utc>,
}

/// `TimeDelta` as whole milliseconds, the way it is stored.
mod duration_millis {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        value: &TimeDelta,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.num_milliseconds())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<TimeDelta, D::Error> {
        let millis = i64::deserialize(deserializer)?;
        TimeDelta::try_milliseconds(millis)
            .ok_or_else(|| serde::de::Error::custom("duration out of range"))
    }
}
