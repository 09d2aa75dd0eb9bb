//! What time alone moves on: pending elevations past their approval window time out,
//! scheduled ones whose start came become active, active ones whose grant ended (or was
//! revoked with its session) are recorded as such.

use chrono::{DateTime, Utc};

use super::{Elevator, ServiceError};
use crate::domain::audit::SYSTEM_ACTOR;
use crate::domain::{AuditAction, AuditEvent, ElevationState, TransitionError};
use crate::store::{Change, ElevationContext};

impl Elevator {
    /// Moves on what time has moved: pending elevations past their approval window time out,
    /// scheduled ones whose start came become active, active ones whose grant ended expire.
    /// Runs on one replica at a time (the store's sweep lease; a replica that dies loses it), and
    /// even without the lease it would be safe: each elevation is decided under its lock, and a
    /// second sweep of the same elevation finds nothing to do. Returns how many moved.
    #[tracing::instrument(skip_all)]
    pub async fn sweep(&self) -> Result<usize, ServiceError> {
        let Some(lease) = self.store.sweep_lease().await? else {
            // Another replica is sweeping.
            return Ok(0);
        };
        let moved = self.sweep_holding_the_lease().await;
        lease.release().await;
        moved
    }

    async fn sweep_holding_the_lease(&self) -> Result<usize, ServiceError> {
        let now = self.clock.now();
        let policy_version = self.decider.policy().version();
        let due = self.store.due_elevations(now, 500).await?;
        let mut moved = 0;
        for id in due {
            let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
                Ok(time_passes(&context, now, policy_version))
            };
            match self.commit_to_elevation(id, now, &decide).await {
                Ok(committed) => {
                    if !committed.change.is_empty() {
                        moved += 1;
                    }
                }
                Err(error) => {
                    tracing::warn!(elevation = %id, %error, "sweep could not move an elevation")
                }
            }
        }
        moved += self.sweep_reviews(now).await?;
        Ok(moved)
    }
}

/// What time alone does to an elevation at `now`.
fn time_passes(context: &ElevationContext, now: DateTime<Utc>, policy_version: u64) -> Change {
    let elevation = &context.elevation;
    let mut change = Change::default();
    if let Some(timed_out) = elevation.time_out(now) {
        change.events.push(AuditEvent::for_elevation(
            AuditAction::ElevationTimedOut,
            SYSTEM_ACTOR,
            &timed_out,
            policy_version,
            now,
        ));
        change.elevations.push(timed_out);
        return change;
    }
    let Some(grant) = &context.grant else {
        return change;
    };
    // The grant was revoked through another elevation that shares it (an extension) or with
    // its session: the elevation follows.
    if let Some(revocation) = &grant.revocation
        && matches!(
            elevation.state(),
            ElevationState::Active | ElevationState::Scheduled
        )
        && let Ok(revoked) = elevation.revoke(&revocation.reason, now)
    {
        change.events.push(
            AuditEvent::for_elevation(
                AuditAction::GrantRevoked,
                SYSTEM_ACTOR,
                &revoked,
                policy_version,
                now,
            )
            .with_reason(&revocation.reason),
        );
        change.elevations.push(revoked);
    } else if let Some(expired) = elevation.expire(grant, now) {
        change.events.push(AuditEvent::for_elevation(
            AuditAction::GrantExpired,
            SYSTEM_ACTOR,
            &expired,
            policy_version,
            now,
        ));
        change.elevations.push(expired);
    } else if let Some(started) = elevation.start_scheduled(grant, now) {
        change.events.push(AuditEvent::for_elevation(
            AuditAction::GrantActivated,
            SYSTEM_ACTOR,
            &started,
            policy_version,
            now,
        ));
        change.elevations.push(started);
    }
    change
}
