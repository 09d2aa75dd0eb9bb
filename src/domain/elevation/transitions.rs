//! The moves of the state machine after voting: approval without steps, activation (of a new
//! grant, of an extension, of a delegation), denial before activation, start, cancellation,
//! time-out, expiry and revocation. Each is a pure function from the current elevation to the
//! next one, or a [`TransitionError`] saying why not.

use chrono::{DateTime, Utc};

use super::error::{rfc3339, wrong_state};
use super::{Elevation, ElevationState, TransitionError};
use crate::domain::grant::Grant;
use crate::domain::ids::GrantId;

impl Elevation {
    /// A pending elevation whose policy names no approval step is approved by policy at once.
    pub fn approve_without_steps(&self, now: DateTime<Utc>) -> Result<Elevation, TransitionError> {
        if self.state() != ElevationState::Pending || !self.steps.is_empty() {
            return Err(wrong_state("approve without steps", self));
        }
        Ok(self.moved_to(
            ElevationState::Approved,
            "no approval step in policy".into(),
            now,
        ))
    }

    /// An approved elevation that may not become active after all (policy or the world changed
    /// while approvals were pending) is denied, for `reason`. Written in the same commit as the
    /// approval, so the store sees `PENDING -> DENIED`.
    pub fn deny_before_activation(
        &self,
        reason: String,
        now: DateTime<Utc>,
    ) -> Result<Elevation, TransitionError> {
        if self.state() != ElevationState::Approved {
            return Err(wrong_state("deny before activation", self));
        }
        Ok(self.moved_to(ElevationState::Denied, reason, now))
    }

    /// Moves an approved elevation on: creates its grant, whose window starts at `now` or at the
    /// requested start, whichever is later. The elevation becomes `ACTIVE`, or `SCHEDULED` when
    /// the window starts later (the grant then exists but does not count yet).
    pub fn activate(&self, now: DateTime<Utc>) -> Result<(Elevation, Grant), TransitionError> {
        if self.state() != ElevationState::Approved {
            return Err(wrong_state("activate", self));
        }
        let not_before = self.not_before.map_or(now, |start| start.max(now));
        let grant = Grant {
            id: GrantId::generate(),
            subject: self.requester.clone(),
            session: self.session.clone(),
            role: self.role.clone(),
            scope: self.scope.clone(),
            not_before,
            not_after: not_before + self.duration,
            elevation_id: Some(self.id),
            parent_grant_id: None,
            delegation_trail: Vec::new(),
            revocation: None,
            awaiting_acceptance: false,
            break_glass: false,
        };
        let next = if not_before > now {
            let reason = format!("scheduled to start at {}", rfc3339(not_before));
            self.activated(&grant, ElevationState::Scheduled, reason, now)
        } else {
            let reason = format!("active until {}", rfc3339(grant.not_after));
            self.activated(&grant, ElevationState::Active, reason, now)
        };
        Ok((next, grant))
    }

    /// The end `grant` would have once this extension is activated: its own end, moved by the
    /// length asked for.
    pub fn extended_end(&self, grant: &Grant) -> DateTime<Utc> {
        grant.not_after + self.duration
    }

    /// Activates an approved extension: the grant it extends keeps its id and start, and its
    /// end moves by the length asked for (no gap, no second grant). Returns the active
    /// elevation and the extended grant.
    pub fn activate_extension(
        &self,
        grant: &Grant,
        now: DateTime<Utc>,
    ) -> Result<(Elevation, Grant), TransitionError> {
        if self.state() != ElevationState::Approved || self.extends_grant != Some(grant.id) {
            return Err(wrong_state("activate the extension", self));
        }
        let mut extended = grant.clone();
        extended.not_after = self.extended_end(grant);
        let reason = format!(
            "extends grant {} until {}",
            extended.id,
            rfc3339(extended.not_after)
        );
        let active = self.activated(&extended, ElevationState::Active, reason, now);
        Ok((active, extended))
    }

    /// Activates an approved delegation with the delegated `grant` the use case built for its
    /// delegatee.
    pub fn activate_delegation(
        &self,
        grant: &Grant,
        now: DateTime<Utc>,
    ) -> Result<Elevation, TransitionError> {
        let Some(terms) = &self.delegation else {
            return Err(wrong_state("activate as a delegation", self));
        };
        if self.state() != ElevationState::Approved {
            return Err(wrong_state("activate the delegation", self));
        }
        let reason = format!(
            "delegated to {} until {}",
            terms.delegatee,
            rfc3339(grant.not_after)
        );
        Ok(self.activated(grant, ElevationState::Active, reason, now))
    }

    /// The one way an approved elevation takes up its grant: the grant's id recorded, the state
    /// `ACTIVE` or `SCHEDULED`.
    fn activated(
        &self,
        grant: &Grant,
        state: ElevationState,
        reason: String,
        now: DateTime<Utc>,
    ) -> Elevation {
        let mut next = self.moved_to(state, reason, now);
        next.grant_id = Some(grant.id);
        next
    }

    /// A scheduled elevation whose start has come becomes active.
    pub fn start_scheduled(&self, grant: &Grant, now: DateTime<Utc>) -> Option<Elevation> {
        if self.state() != ElevationState::Scheduled || now < grant.not_before {
            return None;
        }
        let reason = format!("active until {}", rfc3339(grant.not_after));
        Some(self.moved_to(ElevationState::Active, reason, now))
    }

    /// Withdraws an elevation that is not active yet.
    pub fn cancel(&self, reason: &str, now: DateTime<Utc>) -> Result<Elevation, TransitionError> {
        if !self.state().can_move_to(ElevationState::Cancelled) {
            return Err(wrong_state("cancel", self));
        }
        let reason = if reason.is_empty() {
            "cancelled by the requester".into()
        } else {
            format!("cancelled: {reason}")
        };
        Ok(self.moved_to(ElevationState::Cancelled, reason, now))
    }

    /// A pending elevation whose approval window has passed times out.
    pub fn time_out(&self, now: DateTime<Utc>) -> Option<Elevation> {
        if self.state() != ElevationState::Pending || now < self.request_expires_at {
            return None;
        }
        let reason = "nobody decided within the approval window".into();
        Some(self.moved_to(ElevationState::TimedOut, reason, now))
    }

    /// An active elevation whose grant has reached its end expires.
    pub fn expire(&self, grant: &Grant, now: DateTime<Utc>) -> Option<Elevation> {
        if !matches!(
            self.state(),
            ElevationState::Active | ElevationState::Scheduled
        ) || now < grant.not_after
        {
            return None;
        }
        let reason = format!("expired at {}", rfc3339(grant.not_after));
        Some(self.moved_to(ElevationState::Expired, reason, now))
    }

    /// The elevation of a grant that was revoked.
    pub fn revoke(&self, reason: &str, now: DateTime<Utc>) -> Result<Elevation, TransitionError> {
        if !self.state().can_move_to(ElevationState::Revoked) {
            return Err(wrong_state("revoke", self));
        }
        Ok(self.moved_to(ElevationState::Revoked, format!("revoked: {reason}"), now))
    }
}
