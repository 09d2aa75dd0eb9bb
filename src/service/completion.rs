//! What completing an approval chain does, decided under the elevation's and the requester's
//! (or delegator's) locks, because the world may have changed while approvals were pending:
//! the requester must still be eligible and free of separation-of-duties conflicts, then the
//! grant is created, extended, or delegated. An approval that can no longer take effect denies
//! the elevation, with the reason.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::assessment::holdings;
use crate::domain::audit::SYSTEM_ACTOR;
use crate::domain::{
    AuditAction, AuditEvent, Delegation, DelegationTerms, Elevation, ElevationState, Grant,
    GrantId, StandingRole, Subject, TransitionError, Verdict, format_duration,
};
use crate::policy::{DelegationEntry, Eligibility, Policy};
use crate::store::{Change, ElevationContext};

/// Why an approved elevation may not take effect after all (it is denied with this reason).
type Refusal = String;

/// The change that completes `approved`: its activation, or its denial when it may not take
/// effect any more.
pub(super) fn complete_approval(
    approved: &Elevation,
    context: &ElevationContext,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Change, TransitionError> {
    let planned = match &approved.delegation {
        Some(terms) => activate_delegation(approved, terms, context, policy, now)?,
        None => activate_elevation(approved, context, policy, now)?,
    };
    match planned {
        Ok(change) => Ok(change),
        Err(reason) => denial(approved, reason, policy, now),
    }
}

/// An approved elevation that may not become active after all: denied, with the reason.
fn denial(
    approved: &Elevation,
    reason: Refusal,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Change, TransitionError> {
    let denied = approved.deny_before_activation(reason, now)?;
    let event = AuditEvent::for_elevation(
        AuditAction::ElevationDenied,
        SYSTEM_ACTOR,
        &denied,
        policy.version(),
        now,
    )
    .with_reason(denied.state_reason());
    Ok(Change {
        elevations: vec![denied],
        events: vec![event],
        ..Default::default()
    })
}

/// Activates an approved request (or extension) whose requester is still allowed the role:
/// a new grant, or the extended one.
fn activate_elevation(
    approved: &Elevation,
    context: &ElevationContext,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Result<Change, Refusal>, TransitionError> {
    let entry = match still_allowed(approved, context, policy, now) {
        Ok(entry) => entry,
        Err(refusal) => return Ok(Err(refusal)),
    };
    if let Some(extended_id) = approved.extends_grant {
        return activate_extension(approved, extended_id, entry, context, policy, now);
    }
    if approved.duration > entry.max_duration {
        return Ok(Err(format!(
            "the duration exceeds max_duration under policy version {}",
            policy.version()
        )));
    }
    let (activated, grant) = approved.activate(now)?;
    let action = if activated.state() == ElevationState::Scheduled {
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
    Ok(Ok(Change {
        elevations: vec![activated],
        grants: vec![grant],
        events: vec![event],
        ..Default::default()
    }))
}

/// The eligibility entry that still lets the requester have the role under the policy in
/// force, provided it breaks no separation-of-duties set with what it holds now.
fn still_allowed<'p>(
    approved: &Elevation,
    context: &ElevationContext,
    policy: &'p Policy,
    now: DateTime<Utc>,
) -> Result<&'p Eligibility, Refusal> {
    let claims = &approved.requester_claims;
    let Some(entry) = policy.recorded_eligibility(
        &approved.requester,
        &claims.groups,
        &approved.role,
        &approved.scope,
    ) else {
        return Err(format!(
            "no longer eligible under policy version {} when approved",
            policy.version()
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
    match policy.separation_conflict(&approved.role, held) {
        Some(conflict) => Err(conflict.to_string()),
        None => Ok(entry),
    }
}

/// Moves the end of the grant an approved extension lengthens, if it is still live and the
/// result stays within the entry's `max_duration`.
fn activate_extension(
    approved: &Elevation,
    extended_id: GrantId,
    entry: &Eligibility,
    context: &ElevationContext,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Result<Change, Refusal>, TransitionError> {
    let Some(grant) = context
        .requester_grants
        .iter()
        .find(|grant| grant.id == extended_id && !grant.has_ended(now))
    else {
        return Ok(Err(
            "the grant ended before the extension was approved".into()
        ));
    };
    let not_after = approved.extended_end(grant);
    if not_after - grant.not_before.max(now) > entry.max_duration {
        return Ok(Err(format!(
            "the extension would outlast max_duration {}",
            format_duration(entry.max_duration)
        )));
    }
    let (active, extended) = approved.activate_extension(grant, now)?;
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
    Ok(Ok(Change {
        elevations: vec![active],
        grants: vec![extended],
        events: vec![event],
        ..Default::default()
    }))
}

/// Completes an approved delegation under the delegator's lock: policy must still let the
/// role be delegated there, the parent grant must still be live (a revocation and this
/// activation cannot interleave), and the delegated grant never outlasts it, whatever the
/// approvals cost in time.
fn activate_delegation(
    approved: &Elevation,
    terms: &DelegationTerms,
    context: &ElevationContext,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Result<Change, Refusal>, TransitionError> {
    let Ok(entry) = policy.delegation_for(&approved.role, &approved.scope) else {
        return Ok(Err(format!(
            "{} may no longer be delegated on {} under policy version {}",
            approved.role,
            approved.scope,
            policy.version()
        )));
    };
    let (parent, not_after) = match delegation_window(approved, terms, context, now) {
        Ok(window) => window,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let grant = delegated_grant(approved, terms, entry, parent, now, not_after);
    let active = approved.activate_delegation(&grant, now)?;
    let event = AuditEvent::for_grant(
        AuditAction::GrantDelegated,
        approved.requester.as_str(),
        &grant,
        policy.version(),
        now,
    )
    .with_reason(&approved.reason)
    .with_details(json!({
        "delegator": approved.requester.as_str(),
        "delegatee": terms.delegatee.as_str(),
        "parent_grant": terms.parent_grant.map(|id| id.to_string()),
        "not_after": not_after,
        "trail": grant.delegation_trail,
    }));
    Ok(Ok(Change {
        elevations: vec![active],
        grants: vec![grant],
        events: vec![event],
        ..Default::default()
    }))
}

/// The parent grant a delegation comes from (still live), and the end of the delegated
/// grant: the length asked for, cut at the parent's end (or the cap of a standing role).
fn delegation_window<'c>(
    approved: &Elevation,
    terms: &DelegationTerms,
    context: &'c ElevationContext,
    now: DateTime<Utc>,
) -> Result<(Option<&'c Grant>, DateTime<Utc>), Refusal> {
    let parent = match terms.parent_grant {
        Some(parent_id) => Some(
            context
                .requester_grants
                .iter()
                .find(|grant| grant.id == parent_id && !grant.has_ended(now))
                .ok_or("the delegator's grant ended before the delegation was approved")?,
        ),
        None => None,
    };
    let cap = parent.map_or(terms.not_after_cap, |parent| parent.not_after);
    let not_after = (now + approved.duration).min(cap);
    if not_after <= now {
        return Err("nothing of the delegator's window is left to delegate".into());
    }
    if let Some(parent) = parent
        && let Err(breach) = parent.attenuates_to(&approved.scope, not_after)
    {
        return Err(breach.to_string());
    }
    Ok((parent, not_after))
}

/// The delegatee's grant, from `now` to `not_after`, carrying the people who approved it.
fn delegated_grant(
    approved: &Elevation,
    terms: &DelegationTerms,
    entry: &DelegationEntry,
    parent: Option<&Grant>,
    now: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Grant {
    let approvers: Vec<Subject> = approved
        .votes
        .iter()
        .filter(|vote| vote.verdict == Verdict::Approve && !vote.automatic)
        .map(|vote| vote.approver.clone())
        .collect();
    Grant::delegated(Delegation {
        parent,
        delegator: &approved.requester,
        delegatee: &terms.delegatee,
        role: &approved.role,
        scope: &approved.scope,
        not_before: now,
        not_after,
        reason: &approved.reason,
        approvers,
        elevation_id: Some(approved.id),
        session_bound: entry.session_bound,
    })
}
