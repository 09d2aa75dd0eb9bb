//! Grants: what an approved elevation (or a delegation) creates. A grant counts for a Check only
//! while `not_before <= now < not_after`, it is not revoked, and (when session-bound) the session
//! matches; the decision layer checks all of that on every call. A delegated grant from a
//! session-bound delegation entry allows nothing until its delegatee takes it up in one of their
//! login sessions ([`Grant::accepted`]); from then on it is bound to that session.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ElevationId, GrantId};
use super::names::{RoleName, SessionId, Subject};
use super::scope::Scope;

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
    /// A delegation its delegatee has not yet taken up in a session: it allows nothing. Always
    /// `false` once `session` is set.
    #[serde(default)]
    pub awaiting_acceptance: bool,
    /// Activated by breaking glass (no approval; a review is owed afterwards): its source, as
    /// Check, the audit log and the console show it.
    #[serde(default)]
    pub break_glass: bool,
}

/// Where a grant came from, as Check, the audit log and the console show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSource {
    /// An elevation approved through its chain (or by policy).
    Elevation,
    /// A delegation from another holder.
    Delegation,
    /// Break-glass: activated at once by its user, reviewed afterwards.
    BreakGlass,
}

impl GrantSource {
    /// The stable name: `elevation`, `delegation`, `break_glass`.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantSource::Elevation => "elevation",
            GrantSource::Delegation => "delegation",
            GrantSource::BreakGlass => "break_glass",
        }
    }
}

/// How a grant relates to login sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionBinding {
    /// Bound to `session`; it counts only there and ends with it.
    Bound,
    /// A delegation not yet taken up in a session: it counts nowhere.
    AwaitingAcceptance,
    /// Policy leaves it unbound: it counts in any session of its holder.
    Unbound,
}

/// Why a delegated grant cannot be taken up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AcceptRefusal {
    /// The caller is not the grant's holder.
    #[error("only the delegatee of grant {0} may accept it")]
    NotDelegatee(GrantId),
    /// The grant did not come through a delegation.
    #[error("grant {0} is not a delegation; there is nothing to accept")]
    NotADelegation(GrantId),
    /// It was already taken up in a session.
    #[error("grant {id} was already accepted in session {session}")]
    AlreadyAccepted {
        /// The grant.
        id: GrantId,
        /// The session it is bound to.
        session: SessionId,
    },
    /// Policy leaves it unbound; it counts without being accepted.
    #[error("grant {0} is not session-bound (policy says so); it needs no accepting")]
    NotSessionBound(GrantId),
    /// It was revoked or reached its end.
    #[error("grant {id} is {state}; only a live delegation can be accepted")]
    Ended {
        /// The grant.
        id: GrantId,
        /// `REVOKED` or `EXPIRED`.
        state: &'static str,
    },
}

impl AcceptRefusal {
    /// The machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            AcceptRefusal::NotDelegatee(_) => "NOT_DELEGATEE",
            AcceptRefusal::NotADelegation(_) => "NOT_A_DELEGATION",
            AcceptRefusal::AlreadyAccepted { .. } => "ALREADY_ACCEPTED",
            AcceptRefusal::NotSessionBound(_) => "NOT_SESSION_BOUND",
            AcceptRefusal::Ended { .. } => "DELEGATION_ENDED",
        }
    }
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

    /// How the grant relates to login sessions.
    pub fn binding(&self) -> SessionBinding {
        if self.session.is_some() {
            SessionBinding::Bound
        } else if self.awaiting_acceptance {
            SessionBinding::AwaitingAcceptance
        } else {
            SessionBinding::Unbound
        }
    }

    /// This delegated grant, taken up by `caller` in `session` at `now`: bound to that session
    /// from then on. Only its delegatee may take it up, once, while it is live.
    pub fn accepted(
        &self,
        caller: &Subject,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> Result<Grant, AcceptRefusal> {
        if &self.subject != caller {
            return Err(AcceptRefusal::NotDelegatee(self.id));
        }
        if self.delegation_trail.is_empty() {
            return Err(AcceptRefusal::NotADelegation(self.id));
        }
        let state = match self.status(now) {
            GrantStatus::Revoked => Some("REVOKED"),
            GrantStatus::Expired => Some("EXPIRED"),
            GrantStatus::Active | GrantStatus::Scheduled => None,
        };
        if let Some(state) = state {
            return Err(AcceptRefusal::Ended { id: self.id, state });
        }
        match (&self.session, self.awaiting_acceptance) {
            (Some(bound), _) => Err(AcceptRefusal::AlreadyAccepted {
                id: self.id,
                session: bound.clone(),
            }),
            (None, false) => Err(AcceptRefusal::NotSessionBound(self.id)),
            (None, true) => Ok(Grant {
                session: Some(session.clone()),
                awaiting_acceptance: false,
                ..self.clone()
            }),
        }
    }

    /// Where it came from.
    pub fn source(&self) -> GrantSource {
        if self.break_glass {
            GrantSource::BreakGlass
        } else if self.parent_grant_id.is_some() || !self.delegation_trail.is_empty() {
            GrantSource::Delegation
        } else {
            GrantSource::Elevation
        }
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
    /// Whether the delegatee must take it up in a session (policy's `session_binding`).
    pub session_bound: bool,
}

impl Grant {
    /// The delegatee's grant, carrying the parent's trail plus this hop. A session-bound one
    /// starts awaiting acceptance: bound to no session yet, it allows nothing until its
    /// delegatee takes it up in one. The delegator's own session binding reaches it through the
    /// cascade (ending the parent ends it).
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
            awaiting_acceptance: terms.session_bound,
            break_glass: false,
        }
    }
}
