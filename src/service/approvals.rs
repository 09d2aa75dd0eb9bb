//! Approvals: the inbox, approve and deny, and what completing a chain does (activation, or
//! the extension of a grant), re-checked under the requester's lock because the world may have
//! changed while approvals were pending.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::elevations::holdings;
use super::{
    ElevationOutcome, Elevator, MAX_PAGE_SIZE, MAX_REASON_BYTES, Page, ServiceError, check_text,
    page_size, page_token,
};
use crate::domain::audit::SYSTEM_ACTOR;
use crate::domain::{
    AuditAction, AuditEvent, Elevation, ElevationId, ElevationState, Identity, StandingRole,
    TransitionError, Verdict,
};
use crate::policy::Policy;
use crate::store::{Change, ElevationContext, ElevationFilter};

impl Elevator {
    /// Elevations whose current step the caller may decide, newest first.
    pub async fn list_pending_approvals(
        &self,
        caller: &Identity,
        page_size_requested: u32,
        token: &str,
    ) -> Result<Page<Elevation>, ServiceError> {
        let limit = page_size(page_size_requested);
        let mut before = page_token(token)?;
        let mut items = Vec::new();
        // Scan pending elevations in batches until the page is full or none are left.
        for _ in 0..20 {
            let batch = self
                .store
                .list_elevations(&ElevationFilter {
                    state: Some(ElevationState::Pending),
                    before,
                    limit: MAX_PAGE_SIZE,
                    ..Default::default()
                })
                .await?;
            let exhausted = batch.len() < MAX_PAGE_SIZE;
            before = batch.last().map(|e| e.id);
            for elevation in batch {
                if elevation.awaits(caller) {
                    items.push(elevation);
                    if items.len() == limit {
                        let next_page_token = items.last().map(|e| e.id.to_string());
                        return Ok(Page {
                            items,
                            next_page_token,
                        });
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(Page {
            items,
            next_page_token: None,
        })
    }

    /// Records the caller's verdict on the current step; the final approval creates the grant.
    pub async fn decide(
        &self,
        caller: &Identity,
        id: ElevationId,
        verdict: Verdict,
        comment: &str,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_text("comment", comment, MAX_REASON_BYTES)?;
        let now = self.clock.now();
        let policy = self.decider.policy();
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let before = &context.elevation;
            let step = before.current_step();
            let Some(voted) = before.vote(caller, verdict, comment, now)? else {
                return Ok(Change::default());
            };
            let step_name = step
                .map(|s| before.steps[s].name.clone())
                .unwrap_or_default();
            let vote_action = match verdict {
                Verdict::Approve => AuditAction::ApprovalApproved,
                Verdict::Deny => AuditAction::ApprovalDenied,
            };
            let mut change = Change::default();
            change.events.push(
                AuditEvent::for_elevation(
                    vote_action,
                    caller.subject.as_str(),
                    &voted,
                    policy.version(),
                    now,
                )
                .with_reason(comment)
                .with_details(json!({ "step": step_name })),
            );
            match voted.state {
                ElevationState::Denied => {
                    change.events.push(
                        AuditEvent::for_elevation(
                            AuditAction::ElevationDenied,
                            caller.subject.as_str(),
                            &voted,
                            policy.version(),
                            now,
                        )
                        .with_reason(&voted.state_reason),
                    );
                    change.elevations.push(voted);
                }
                ElevationState::Approved => {
                    change.events.push(
                        AuditEvent::for_elevation(
                            AuditAction::ElevationApproved,
                            caller.subject.as_str(),
                            &voted,
                            policy.version(),
                            now,
                        )
                        .with_details(json!({ "approvers": voted.approvers() })),
                    );
                    change.merge(complete_approval(&voted, &context, &policy, now)?);
                }
                _ => change.elevations.push(voted),
            }
            Ok(change)
        };
        let committed = self.store.update_elevation(id, now, &decide).await?;
        self.after_commit(&committed).await;
        let elevation = match committed.change.elevations.first() {
            Some(elevation) => elevation.clone(),
            // A replay changed nothing: answer with the elevation as it stands.
            None => self.get_elevation(caller, id).await?,
        };
        Ok(ElevationOutcome {
            elevation,
            grant: committed.change.grants.first().cloned(),
            revision: committed.revision,
        })
    }

    /// Approves a pending elevation on policy's behalf (a chain without steps), under its lock.
    pub(super) async fn approve_by_policy(
        &self,
        id: ElevationId,
        why: &str,
    ) -> Result<ElevationOutcome, ServiceError> {
        let now = self.clock.now();
        let policy = self.decider.policy();
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let pending = &context.elevation;
            if pending.state != ElevationState::Pending {
                return Ok(Change::default());
            }
            let mut approved = pending.clone();
            approved.state = ElevationState::Approved;
            approved.state_reason = why.to_owned();
            approved.updated_at = now;
            let mut change = Change::default();
            change.events.push(
                AuditEvent::for_elevation(
                    AuditAction::ElevationApproved,
                    SYSTEM_ACTOR,
                    &approved,
                    policy.version(),
                    now,
                )
                .with_reason(why),
            );
            change.merge(complete_approval(&approved, &context, &policy, now)?);
            Ok(change)
        };
        let committed = self.store.update_elevation(id, now, &decide).await?;
        self.after_commit(&committed).await;
        let elevation = match committed.change.elevations.first() {
            Some(elevation) => elevation.clone(),
            None => self
                .store
                .get_elevation(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?,
        };
        Ok(ElevationOutcome {
            elevation,
            grant: committed.change.grants.first().cloned(),
            revision: committed.revision,
        })
    }
}

/// An approved elevation that may not become active after all: denied, with the reason.
fn denial(approved: &Elevation, reason: String, policy: &Policy, now: DateTime<Utc>) -> Change {
    let mut denied = approved.clone();
    denied.state = ElevationState::Denied;
    denied.state_reason = reason;
    denied.updated_at = now;
    let event = AuditEvent::for_elevation(
        AuditAction::ElevationDenied,
        SYSTEM_ACTOR,
        &denied,
        policy.version(),
        now,
    )
    .with_reason(&denied.state_reason);
    Change {
        elevations: vec![denied],
        events: vec![event],
        ..Default::default()
    }
}

/// What completing an approval chain does, decided under the elevation's and the requester's
/// locks: the requester must still be eligible under the policy in force and must not break a
/// separation-of-duties set with what it holds now; then the grant is created (or, for an
/// extension, the existing grant's window is moved). Otherwise the elevation is denied.
pub(super) fn complete_approval(
    approved: &Elevation,
    context: &ElevationContext,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Change, TransitionError> {
    let claims = &approved.requester_claims;
    let Some(entry) = policy.eligibility().iter().find(|entry| {
        entry.role == approved.role
            && entry.admits_subject(&approved.requester, &claims.groups)
            && entry.covers(&approved.scope)
    }) else {
        return Ok(denial(
            approved,
            format!(
                "no longer eligible under policy version {} when approved",
                policy.version()
            ),
            policy,
            now,
        ));
    };

    let standing: Vec<StandingRole> = claims
        .roles
        .iter()
        .filter_map(|role| StandingRole::parse(role))
        .collect();
    let held = holdings(
        policy,
        &approved.requester,
        &claims.groups,
        &context.requester_grants,
        &standing,
        now,
        approved.extends_grant,
    );
    if let Some(conflict) = policy.separation_conflict(&approved.role, held) {
        return Ok(denial(approved, conflict.to_string(), policy, now));
    }

    if let Some(extended_id) = approved.extends_grant {
        let Some(grant) = context
            .requester_grants
            .iter()
            .find(|grant| grant.id == extended_id && !grant.has_ended(now))
        else {
            return Ok(denial(
                approved,
                "the grant ended before the extension was approved".into(),
                policy,
                now,
            ));
        };
        let not_after = grant.not_after + approved.duration;
        if not_after - grant.not_before.max(now) > entry.max_duration {
            return Ok(denial(
                approved,
                format!(
                    "the extension would outlast max_duration {}",
                    crate::domain::format_duration(entry.max_duration)
                ),
                policy,
                now,
            ));
        }
        let mut extended = grant.clone();
        extended.not_after = not_after;
        let mut active = approved.clone();
        active.state = ElevationState::Active;
        active.grant_id = Some(extended.id);
        active.state_reason = format!(
            "extends grant {} until {}",
            extended.id,
            not_after.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        active.updated_at = now;
        let event = AuditEvent::for_grant(
            AuditAction::GrantExtended,
            SYSTEM_ACTOR,
            &extended,
            policy.version(),
            now,
        )
        .with_details(json!({
            "extension": approved.id,
            "previous_not_after": grant.not_after,
            "not_after": not_after,
            "approvers": approved.approvers(),
        }));
        return Ok(Change {
            elevations: vec![active],
            grants: vec![extended],
            events: vec![event],
            ..Default::default()
        });
    }

    if approved.duration > entry.max_duration {
        return Ok(denial(
            approved,
            format!(
                "the duration exceeds max_duration under policy version {}",
                policy.version()
            ),
            policy,
            now,
        ));
    }
    let (activated, grant) = approved.activate(now)?;
    let action = if activated.state == ElevationState::Scheduled {
        AuditAction::GrantScheduled
    } else {
        AuditAction::GrantActivated
    };
    let event = AuditEvent::for_grant(action, SYSTEM_ACTOR, &grant, policy.version(), now)
        .with_details(json!({
            "not_before": grant.not_before,
            "not_after": grant.not_after,
            "session": grant.session.as_ref().map(|s| s.as_str()),
            "approvers": activated.approvers(),
        }));
    Ok(Change {
        elevations: vec![activated],
        grants: vec![grant],
        events: vec![event],
        ..Default::default()
    })
}
