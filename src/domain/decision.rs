//! What a Check answers: allowed or not, a machine-readable reason, the grant that decided it
//! and the revision the answer reflects.

use super::grant_terms::GrantRef;

/// Why a decision came out the way it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DecisionReason {
    /// A grant or standing role allows it.
    Allowed,
    /// Nothing carries the permission.
    NoGrant,
    /// A grant carries the permission but its scope does not cover the resource.
    ScopeMismatch,
    /// The grant that would allow it expired.
    Expired,
    /// The grant that would allow it was revoked.
    Revoked,
    /// The grant that would allow it has not started.
    NotYetActive,
    /// The grant that would allow it belongs to another session.
    OtherSession,
    /// The grant that would allow it is a delegation its delegatee has not yet taken up in a
    /// session.
    DelegationNotAccepted,
    /// A separation-of-duties set forbids it.
    SodConflict,
    /// A rule denies it.
    RuleDenied,
    /// A risk signal suspends the grant.
    RiskSuspended,
    /// The decision failed; an error is a deny.
    InternalError,
}

impl DecisionReason {
    /// Every reason, in declaration order (`reason as usize` indexes it).
    pub(crate) const ALL: [DecisionReason; 12] = [
        DecisionReason::Allowed,
        DecisionReason::NoGrant,
        DecisionReason::ScopeMismatch,
        DecisionReason::Expired,
        DecisionReason::Revoked,
        DecisionReason::NotYetActive,
        DecisionReason::OtherSession,
        DecisionReason::DelegationNotAccepted,
        DecisionReason::SodConflict,
        DecisionReason::RuleDenied,
        DecisionReason::RiskSuspended,
        DecisionReason::InternalError,
    ];

    /// The stable code, e.g. `other_session`.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionReason::Allowed => "allowed",
            DecisionReason::NoGrant => "no_grant",
            DecisionReason::ScopeMismatch => "scope_mismatch",
            DecisionReason::Expired => "expired",
            DecisionReason::Revoked => "revoked",
            DecisionReason::NotYetActive => "not_yet_active",
            DecisionReason::OtherSession => "other_session",
            DecisionReason::DelegationNotAccepted => "delegation_not_accepted",
            DecisionReason::SodConflict => "sod_conflict",
            DecisionReason::RuleDenied => "rule_denied",
            DecisionReason::RiskSuspended => "risk_suspended",
            DecisionReason::InternalError => "internal_error",
        }
    }

    /// How close a denied grant came to allowing: when several grants deny, the answer names the
    /// closest (a grant of another session says more than one with the wrong scope).
    /// The declaration order above is that ranking.
    pub(crate) fn closeness(self) -> u8 {
        self as u8
    }
}

/// One decision.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Whether it is allowed.
    pub allowed: bool,
    /// Why.
    pub reason: DecisionReason,
    /// The grant that allowed it, or the one that came closest.
    pub grant: Option<GrantRef>,
    /// The standing role that allowed it, when no grant did.
    pub standing_role: Option<String>,
    /// The rule (or separation-of-duties set) that denied it, when one did.
    pub rule: Option<String>,
    /// The revision the decision reflects.
    pub revision: u64,
}

impl Decision {
    /// A deny for `reason` with no grant.
    pub fn deny(reason: DecisionReason, revision: u64) -> Self {
        Decision {
            allowed: false,
            reason,
            grant: None,
            standing_role: None,
            rule: None,
            revision,
        }
    }

    /// The role that allowed it (or came closest).
    pub fn role(&self) -> Option<&str> {
        self.grant
            .as_ref()
            .map(|grant| grant.role.as_str())
            .or(self.standing_role.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_at_its_index() {
        for (index, reason) in DecisionReason::ALL.iter().enumerate() {
            assert_eq!(*reason as usize, index);
        }
        // A new variant must be added to ALL: the last one is the last declared.
        assert_eq!(
            DecisionReason::ALL.last(),
            Some(&DecisionReason::InternalError)
        );
    }
}
