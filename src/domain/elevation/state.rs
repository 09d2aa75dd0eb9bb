//! Where an elevation stands, and which moves between those states the state machine allows.

use serde::{Deserialize, Serialize};

/// Where an elevation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElevationState {
    /// Waiting for approvals.
    Pending,
    /// Every step met; about to become active or scheduled (never stored by itself).
    Approved,
    /// Approved; its grant starts later.
    Scheduled,
    /// Its grant counts.
    Active,
    /// Its grant reached `not_after`.
    Expired,
    /// Its grant was revoked.
    Revoked,
    /// An approver denied it.
    Denied,
    /// The requester withdrew it.
    Cancelled,
    /// Nobody decided within the approval window.
    TimedOut,
}

impl ElevationState {
    /// Every state, in life-cycle order.
    pub const ALL: [ElevationState; 9] = [
        ElevationState::Pending,
        ElevationState::Approved,
        ElevationState::Scheduled,
        ElevationState::Active,
        ElevationState::Expired,
        ElevationState::Revoked,
        ElevationState::Denied,
        ElevationState::Cancelled,
        ElevationState::TimedOut,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ElevationState::Pending => "PENDING",
            ElevationState::Approved => "APPROVED",
            ElevationState::Scheduled => "SCHEDULED",
            ElevationState::Active => "ACTIVE",
            ElevationState::Expired => "EXPIRED",
            ElevationState::Revoked => "REVOKED",
            ElevationState::Denied => "DENIED",
            ElevationState::Cancelled => "CANCELLED",
            ElevationState::TimedOut => "TIMED_OUT",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether nothing can happen to the elevation any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ElevationState::Expired
                | ElevationState::Revoked
                | ElevationState::Denied
                | ElevationState::Cancelled
                | ElevationState::TimedOut
        )
    }

    /// The transitions the state machine allows.
    pub fn can_move_to(self, next: ElevationState) -> bool {
        use ElevationState::*;
        matches!(
            (self, next),
            (Pending, Approved | Denied | Cancelled | TimedOut)
                | (Approved, Active | Scheduled)
                | (Scheduled, Active | Cancelled | Revoked)
                | (Active, Expired | Revoked)
        )
    }

    /// Whether one committed write may take an elevation from this state to `next`: staying,
    /// one transition, or two through the transient `APPROVED` (a final approval activates).
    pub fn may_become_in_one_write(self, next: ElevationState) -> bool {
        self == next
            || self.can_move_to(next)
            || (self.can_move_to(ElevationState::Approved)
                && ElevationState::Approved.can_move_to(next))
    }
}

impl std::fmt::Display for ElevationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
