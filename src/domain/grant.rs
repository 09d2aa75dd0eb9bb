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
        Uuid::parse_str(text).map(GrantId).map_err(|_| {
            super::InvalidValue(format!("{} is not a grant id (a UUID)", super::shown(text)))
        })
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

    /// Whether a grant of this one's role on `scope` until `not_after` would stay within it:
    /// the scope inside this grant's scope, the end no later than this grant's end.
    pub fn attenuates_to(
        &self,
        scope: &Scope,
        not_after: DateTime<Utc>,
    ) -> Result<(), AttenuationBreach> {
        if !self.scope.contains(scope) {
            return Err(AttenuationBreach::Scope {
                held: self.scope.clone(),
            });
        }
        if not_after > self.not_after {
            return Err(AttenuationBreach::Time {
                held_until: self.not_after,
            });
        }
        Ok(())
    }
}

/// Why a delegation would pass on more than its delegator holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttenuationBreach {
    /// The scope is not inside the delegator's.
    #[error("the scope is not within the delegator's scope {held}")]
    Scope {
        /// What the delegator holds.
        held: Scope,
    },
    /// It would last longer than the delegator's grant.
    #[error("it would outlast the delegator's grant, which ends at {held_until}")]
    Time {
        /// When the delegator's grant ends.
        held_until: DateTime<Utc>,
    },
}

/// A delegation's terms, from which [`Grant::delegated`] builds the delegatee's grant.
#[derive(Debug, Clone)]
pub struct Delegation<'a> {
    /// The grant the role comes from (`None`: a standing role of the delegator).
    pub parent: Option<&'a Grant>,
    /// Who passes it on.
    pub delegator: &'a Subject,
    /// Who receives it.
    pub delegatee: &'a Subject,
    /// The role.
    pub role: &'a RoleName,
    /// The scope passed on.
    pub scope: &'a Scope,
    /// The window.
    pub not_before: DateTime<Utc>,
    /// Its end.
    pub not_after: DateTime<Utc>,
    /// Why.
    pub reason: &'a str,
    /// Who approved it.
    pub approvers: Vec<Subject>,
    /// The elevation that carried it through approval, if one did.
    pub elevation_id: Option<ElevationId>,
}

impl Grant {
    /// The delegatee's grant: not bound to a session (the delegator's session binding reaches
    /// it through the cascade), carrying the parent's trail plus this hop.
    pub fn delegated(terms: Delegation<'_>) -> Grant {
        let id = GrantId::generate();
        let mut delegation_trail = terms
            .parent
            .map(|parent| parent.delegation_trail.clone())
            .unwrap_or_default();
        delegation_trail.push(DelegationHop {
            delegator: terms.delegator.clone(),
            delegatee: terms.delegatee.clone(),
            scope: terms.scope.clone(),
            reason: terms.reason.to_owned(),
            approvers: terms.approvers,
            at: terms.not_before,
            grant_id: id,
        });
        Grant {
            id,
            subject: terms.delegatee.clone(),
            session: None,
            role: terms.role.clone(),
            scope: terms.scope.clone(),
            not_before: terms.not_before,
            not_after: terms.not_after,
            elevation_id: terms.elevation_id,
            parent_grant_id: terms.parent.map(|parent| parent.id),
            delegation_trail,
            revocation: None,
        }
    }
}
