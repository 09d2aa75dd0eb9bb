//! Grants: what an approved elevation (or a delegation) creates. A grant counts for a Check only
//! while `not_before <= now < not_after`, it is not revoked, and (when session-bound) the session
//! matches; the decision layer checks all of that on every call.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::elevation::ElevationId;
use super::names::{RoleName, SessionId, Subject};
use super::scope::Scope;

/// A grant's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GrantId(pub Uuid);

impl GrantId {
    /// A new, time-ordered id.
    pub fn generate() -> Self {
        GrantId(Uuid::now_v7())
    }

    /// Parses the textual form.
    pub fn parse(text: &str) -> Result<Self, super::InvalidValue> {
        Uuid::parse_str(text)
            .map(GrantId)
            .map_err(|_| super::InvalidValue(format!("{text:?} is not a grant id (a UUID)")))
    }
}

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One hop of a delegation trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationHop {
    /// Who passed the role on.
    pub delegator: Subject,
    /// Who received it.
    pub delegatee: Subject,
    /// The scope passed on.
    pub scope: Scope,
    /// The delegator's reason.
    pub reason: String,
    /// Who approved the delegation, if it needed approval.
    pub approvers: Vec<Subject>,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The grant it created.
    pub grant_id: GrantId,
}

/// How and why a grant was ended early.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    /// When.
    pub at: DateTime<Utc>,
    /// By whom (a subject, or `system` for session ends reported by the identity provider).
    pub by: String,
    /// Why.
    pub reason: String,
}

/// Whether a grant counts at a given moment, ignoring session, scope and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantStatus {
    /// In its access window and not revoked.
    Active,
    /// Its access window has not started.
    Scheduled,
    /// Its access window has ended.
    Expired,
    /// Revoked before its window ended.
    Revoked,
}

/// A role on a scope for a time, held by a subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Identifier.
    pub id: GrantId,
    /// Holder.
    pub subject: Subject,
    /// The session the grant is bound to; `None` when the eligibility entry does not bind.
    pub session: Option<SessionId>,
    /// The role granted.
    pub role: RoleName,
    /// The scope granted.
    pub scope: Scope,
    /// Start of the access window.
    pub not_before: DateTime<Utc>,
    /// End of the access window (exclusive).
    pub not_after: DateTime<Utc>,
    /// The elevation that created it, if any.
    pub elevation_id: Option<ElevationId>,
    /// The grant it was delegated from, if any.
    pub parent_grant_id: Option<GrantId>,
    /// Every delegation hop from the root grant to this one.
    pub delegation_trail: Vec<DelegationHop>,
    /// Set when the grant was revoked.
    pub revocation: Option<Revocation>,
}

impl Grant {
    /// The status at `now`.
    pub fn status(&self, now: DateTime<Utc>) -> GrantStatus {
        if self.revocation.is_some() {
            GrantStatus::Revoked
        } else if now >= self.not_after {
            GrantStatus::Expired
        } else if now < self.not_before {
            GrantStatus::Scheduled
        } else {
            GrantStatus::Active
        }
    }

    /// Whether the grant has ended (expired or revoked) at `now`.
    pub fn has_ended(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.status(now),
            GrantStatus::Expired | GrantStatus::Revoked
        )
    }

    /// The nearest delegator, if the grant came through a delegation.
    pub fn delegated_by(&self) -> Option<&Subject> {
        self.delegation_trail.last().map(|hop| &hop.delegator)
    }

    /// This grant, revoked.
    pub fn revoked(&self, revocation: Revocation) -> Grant {
        Grant {
            revocation: Some(revocation),
            ..self.clone()
        }
    }
}
