//! A grant as a decision needs it: its terms (who may use which role on which scope, when, in
//! which session, whether revoked or delegated), without what only an explanation shows (the
//! elevation, the revocation's author and reason). A decider caches a million subjects' grants
//! in this form, so it is small and its strings are shared; the whole grant stays in the store.

use std::ops::Deref;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::grant::{DelegationHop, Grant, GrantSource, SessionBinding};
use super::ids::GrantId;
use super::names::{RoleName, SessionId, Subject};
use super::scope::Scope;

/// What a Check reads of a grant, and what a decision names of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantTerms {
    /// Identifier (the whole grant can be read from the store by it).
    pub id: GrantId,
    /// The role granted.
    pub role: RoleName,
    /// The scope granted.
    pub scope: Scope,
    /// The session the grant is bound to, if any.
    pub session: Option<SessionId>,
    /// Start of the access window.
    pub not_before: DateTime<Utc>,
    /// End of the access window (exclusive).
    pub not_after: DateTime<Utc>,
    /// Every delegation hop from the root grant to this one: an allowed Check answers with it.
    /// Empty (and not allocated) for a grant nobody delegated, which is most of them.
    pub delegation_trail: Box<[DelegationHop]>,
    /// Delegated from another grant (its own delegation rules apply).
    pub delegated: bool,
    /// Revoked: it allows nothing, whatever its window says.
    pub revoked: bool,
    /// A delegation its delegatee has not yet taken up in a session: it allows nothing.
    pub awaiting_acceptance: bool,
    /// Activated by breaking glass.
    pub break_glass: bool,
}

impl GrantTerms {
    /// Who passed the role on, for a delegated grant.
    pub fn delegated_by(&self) -> Option<&Subject> {
        self.delegation_trail.last().map(|hop| &hop.delegator)
    }

    /// Where the grant came from.
    pub fn source(&self) -> GrantSource {
        if self.break_glass {
            GrantSource::BreakGlass
        } else if self.delegated {
            GrantSource::Delegation
        } else {
            GrantSource::Elevation
        }
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
}

impl From<Grant> for GrantTerms {
    fn from(grant: Grant) -> Self {
        GrantTerms {
            id: grant.id,
            delegated: grant.parent_grant_id.is_some() || !grant.delegation_trail.is_empty(),
            revoked: grant.revocation.is_some(),
            awaiting_acceptance: grant.awaiting_acceptance,
            break_glass: grant.break_glass,
            role: grant.role,
            scope: grant.scope,
            session: grant.session,
            not_before: grant.not_before,
            not_after: grant.not_after,
            delegation_trail: grant.delegation_trail.into_boxed_slice(),
        }
    }
}

/// One grant of a subject's loaded grants, shared with them: what a decision carries of the
/// grant that decided it. Cloning it counts one reference; the grants are not copied.
#[derive(Debug, Clone)]
pub struct GrantRef {
    grants: Arc<[GrantTerms]>,
    index: usize,
}

impl GrantRef {
    /// The grant at `index` of `grants`, if there is one.
    pub fn new(grants: Arc<[GrantTerms]>, index: usize) -> Option<Self> {
        (index < grants.len()).then_some(GrantRef { grants, index })
    }
}

impl From<GrantTerms> for GrantRef {
    fn from(terms: GrantTerms) -> Self {
        GrantRef {
            grants: Arc::from([terms]),
            index: 0,
        }
    }
}

impl Deref for GrantRef {
    type Target = GrantTerms;

    fn deref(&self) -> &GrantTerms {
        &self.grants[self.index]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::grant::Revocation;

    #[test]
    fn the_terms_keep_what_a_check_reads_of_a_grant() {
        let now = Utc::now();
        let grant = Grant {
            id: GrantId::generate(),
            subject: Subject::parse("fatma").unwrap(),
            session: None,
            role: RoleName::parse("admin_approver").unwrap(),
            scope: Scope::parse("Org:Procurement").unwrap(),
            not_before: now,
            not_after: now + chrono::TimeDelta::hours(2),
            elevation_id: None,
            parent_grant_id: Some(GrantId::generate()),
            delegation_trail: Vec::new(),
            revocation: Some(Revocation {
                at: now,
                by: "ali".into(),
                reason: "left the team".into(),
            }),
            awaiting_acceptance: true,
            break_glass: false,
        };
        let terms = GrantTerms::from(grant.clone());
        assert_eq!(terms.id, grant.id);
        assert_eq!(terms.role, grant.role);
        assert_eq!(terms.scope, grant.scope);
        assert_eq!((terms.not_before, terms.not_after), (now, grant.not_after));
        assert!(terms.revoked && terms.delegated && terms.awaiting_acceptance);
        assert_eq!(terms.binding(), grant.binding());
        assert_eq!(terms.delegated_by(), None);
    }

    #[test]
    fn a_grant_ref_points_at_one_grant_of_the_set_or_at_none() {
        let now = Utc::now();
        let terms = |scope: &str| GrantTerms {
            id: GrantId::generate(),
            role: RoleName::parse("admin_approver").unwrap(),
            scope: Scope::parse(scope).unwrap(),
            session: None,
            not_before: now,
            not_after: now,
            delegation_trail: Box::default(),
            delegated: false,
            revoked: false,
            awaiting_acceptance: false,
            break_glass: false,
        };
        let grants: Arc<[GrantTerms]> = Arc::from([terms("Org:A"), terms("Org:B")]);
        let second = GrantRef::new(grants.clone(), 1).expect("in range");
        assert_eq!(second.scope.as_str(), "Org:B");
        assert!(GrantRef::new(grants, 2).is_none());
    }
}
