//! Delegation: a subject passes a role it holds (an active grant, or a standing role of its
//! token) on a scope to another subject, never more scope and never longer than it holds, for
//! roles policy marks delegable, up to the policy's depth, through the policy's approval chain
//! if it names one. A delegation is an elevation whose requester is the delegator and whose
//! grant goes to the delegatee, so it is approved, audited, replayed and swept like any other.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{
    ElevationOutcome, Elevator, MAX_IDEMPOTENCY_KEY_BYTES, MAX_REASON_BYTES, ServiceError,
    check_text,
};
use crate::domain::ElevationRequest;
use crate::domain::{
    AttenuationBreach, AuditAction, AuditEvent, DelegationTerms, Elevation, Grant, GrantId,
    Identity, RequestedDuration, RequesterSnapshot, RoleName, Scope, StandingRole, Subject,
    format_duration,
};
use crate::policy::{DelegationEntry, Holding, NotDelegable, Policy};
use crate::store::DelegationFilter;

/// A delegation, as the delegator asked for it.
#[derive(Debug, Clone)]
pub struct NewDelegation {
    /// Who receives the role.
    pub delegatee: Subject,
    /// The role.
    pub role: RoleName,
    /// The scope passed on.
    pub scope: Scope,
    /// How long.
    pub duration: RequestedDuration,
    /// Why.
    pub reason: String,
    /// The delegator's grant to delegate from; found among its grants when absent.
    pub source_grant: Option<GrantId>,
    /// Makes a repeated request return the first delegation.
    pub idempotency_key: Option<String>,
}

/// Which delegations to list.
#[derive(Debug, Clone, Copy)]
pub enum DelegationView {
    /// Those the subject gave.
    Given,
    /// Those the subject received.
    Received,
    /// Those delegated from one grant, at any depth.
    FromGrant(GrantId),
}

/// Where the delegated role comes from.
enum DelegationSource {
    Grant(Grant),
    Standing(StandingRole),
}

impl DelegationSource {
    fn depth(&self) -> usize {
        match self {
            DelegationSource::Grant(grant) => grant.delegation_trail.len(),
            DelegationSource::Standing(_) => 0,
        }
    }
}

/// The approval window of delegations that need approval.
const DELEGATION_REQUEST_TTL: TimeDelta = TimeDelta::hours(1);

impl Elevator {
    /// Delegates a role the caller holds: loads where it comes from and what the delegatee
    /// holds, plans the delegation without I/O, then writes it.
    #[tracing::instrument(skip_all)]
    pub async fn delegate(
        &self,
        caller: &Identity,
        request: NewDelegation,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_delegation_input(caller, &request)?;
        let now = self.clock.now();
        let policy = self.decider.policy();
        let entry = policy
            .delegation_for(&request.role, &request.scope)
            .map_err(|refusal| not_delegable(&request, refusal))?;
        let source = self.delegation_source(caller, &request, now).await?;
        let delegatee_grants = self
            .store
            .list_grants(&request.delegatee, false, now)
            .await?;
        let planned = plan_delegation(&DelegationFacts {
            caller,
            request: &request,
            policy: &policy,
            entry,
            source: &source,
            delegatee_grants: &delegatee_grants,
            now,
        })?;
        let same_request = |existing: &Elevation| {
            existing
                .delegation
                .as_ref()
                .is_some_and(|terms| terms.delegatee == request.delegatee)
                && existing.role == request.role
                && existing.scope == request.scope
                && existing.duration == request.duration.get()
        };
        self.submit(caller, planned.elevation, planned.event, same_request)
            .await
    }

    /// The grant (or standing role) the caller delegates from: the one named, or the caller's
    /// live grant of the role covering the scope that lasts longest, or a standing role.
    async fn delegation_source(
        &self,
        caller: &Identity,
        request: &NewDelegation,
        now: DateTime<Utc>,
    ) -> Result<DelegationSource, ServiceError> {
        if let Some(id) = request.source_grant {
            return self.named_source(caller, request, id, now).await;
        }
        let held: Vec<Grant> = self
            .store
            .list_grants(&caller.subject, false, now)
            .await?
            .into_iter()
            .filter(|grant| usable_for_delegation(grant, caller, request, now))
            .collect();
        if let Some(grant) = held
            .iter()
            .filter(|grant| grant.scope.contains(&request.scope))
            .max_by_key(|grant| grant.not_after)
        {
            return Ok(DelegationSource::Grant(grant.clone()));
        }
        let standing: Vec<&StandingRole> = caller
            .standing_roles
            .iter()
            .filter(|standing| standing.role == request.role)
            .collect();
        if let Some(covering) = standing
            .iter()
            .find(|standing| standing.covers(request.scope.as_str()))
        {
            return Ok(DelegationSource::Standing((*covering).clone()));
        }
        // The role is held, on a scope inside the one asked for: the delegation would pass on
        // more than is held, which is a different refusal from holding nothing there.
        let narrower = held
            .iter()
            .map(|grant| &grant.scope)
            .chain(
                standing
                    .iter()
                    .filter_map(|standing| standing.scope.as_ref()),
            )
            .find(|scope| request.scope.contains(scope));
        if let Some(held_scope) = narrower {
            return Err(attenuation_error(AttenuationBreach::Scope {
                held: held_scope.clone(),
            }));
        }
        Err(ServiceError::denied(
            "NOT_HELD",
            format!(
                "you hold no active {} covering {} in this session, so you cannot delegate it",
                request.role, request.scope
            ),
        ))
    }

    /// The grant the caller named to delegate from, if it holds it and may delegate it.
    async fn named_source(
        &self,
        caller: &Identity,
        request: &NewDelegation,
        id: GrantId,
        now: DateTime<Utc>,
    ) -> Result<DelegationSource, ServiceError> {
        let grant = self
            .store
            .get_grant(id)
            .await?
            .filter(|grant| grant.subject == caller.subject)
            .ok_or_else(|| ServiceError::NotFound {
                what: "grant",
                id: id.to_string(),
            })?;
        if grant.awaiting_acceptance {
            return Err(ServiceError::denied(
                "DELEGATION_NOT_ACCEPTED",
                format!("accept grant {id} in this session before delegating it further"),
            ));
        }
        if !usable_for_delegation(&grant, caller, request, now) {
            return Err(ServiceError::denied(
                "NOT_HELD",
                format!(
                    "grant {id} is not an active {} grant of this session, so it cannot be delegated",
                    request.role
                ),
            ));
        }
        Ok(DelegationSource::Grant(grant))
    }

    /// Delegated grants: those the caller (or, for admins, `subject`) gave or received, or
    /// those delegated from a grant the caller holds.
    #[tracing::instrument(skip_all)]
    pub async fn list_delegations(
        &self,
        caller: &Identity,
        view: DelegationView,
        subject: Option<Subject>,
        include_ended: bool,
    ) -> Result<Vec<Grant>, ServiceError> {
        let subject = subject.unwrap_or_else(|| caller.subject.clone());
        self.may_act_for(caller, &subject, "listing another subject's delegations")?;
        let filter = match view {
            DelegationView::Given => DelegationFilter::GivenBy(subject),
            DelegationView::Received => DelegationFilter::GivenTo(subject),
            DelegationView::FromGrant(id) => {
                let root = self.store.get_grant(id).await?;
                let visible = root.as_ref().is_some_and(|root| {
                    root.subject == caller.subject
                        || root
                            .delegation_trail
                            .iter()
                            .any(|hop| hop.delegator == caller.subject)
                        || self.is_admin(caller)
                });
                if !visible {
                    return Err(ServiceError::NotFound {
                        what: "grant",
                        id: id.to_string(),
                    });
                }
                DelegationFilter::From(id)
            }
        };
        Ok(self
            .store
            .list_delegations(&filter, include_ended, self.clock.now())
            .await?)
    }
}

/// Whether `grant` counts as held for delegating `request`: only where a Check would count
/// it, live, in the caller's session (or unbound), and, for a delegation received, taken up.
fn usable_for_delegation(
    grant: &Grant,
    caller: &Identity,
    request: &NewDelegation,
    now: DateTime<Utc>,
) -> bool {
    grant.subject == caller.subject
        && grant.role == request.role
        && !grant.has_ended(now)
        && now >= grant.not_before
        && !grant.awaiting_acceptance
        && grant
            .session
            .as_ref()
            .is_none_or(|bound| Some(bound) == caller.session.as_ref())
}

fn not_delegable(request: &NewDelegation, refusal: NotDelegable) -> ServiceError {
    match refusal {
        NotDelegable::Role => ServiceError::denied(
            "NOT_DELEGABLE",
            format!("policy does not let {} be delegated", request.role),
        ),
        NotDelegable::Scope { allowed } => ServiceError::denied(
            "SCOPE_NOT_DELEGABLE",
            format!(
                "{} may be delegated only on {}; {} is outside them",
                request.role,
                allowed.join(", "),
                request.scope
            ),
        ),
    }
}

fn attenuation_error(breach: AttenuationBreach) -> ServiceError {
    match breach {
        AttenuationBreach::Scope { .. } => {
            ServiceError::denied("SCOPE_EXCEEDS_DELEGATOR", breach.to_string())
        }
        AttenuationBreach::Time { .. } => {
            ServiceError::denied("OUTLASTS_DELEGATOR", breach.to_string())
        }
    }
}

/// What a delegation is planned from: the request and everything loaded for it.
struct DelegationFacts<'a> {
    caller: &'a Identity,
    request: &'a NewDelegation,
    policy: &'a Policy,
    entry: &'a DelegationEntry,
    source: &'a DelegationSource,
    delegatee_grants: &'a [Grant],
    now: DateTime<Utc>,
}

/// A delegation policy accepts: the pending elevation to write, with its audit event.
struct PlannedDelegation {
    elevation: Elevation,
    event: AuditEvent,
}

/// The checks of a delegation's input that need nothing loaded.
fn check_delegation_input(caller: &Identity, request: &NewDelegation) -> Result<(), ServiceError> {
    check_text("reason", &request.reason, MAX_REASON_BYTES)?;
    if request.reason.trim().is_empty() {
        return Err(ServiceError::invalid(
            "reason",
            "say why the role is delegated",
        ));
    }
    if let Some(key) = &request.idempotency_key {
        check_text("idempotency_key", key, MAX_IDEMPOTENCY_KEY_BYTES)?;
    }
    if request.delegatee == caller.subject {
        return Err(ServiceError::invalid(
            "delegatee",
            "a role cannot be delegated to oneself",
        ));
    }
    Ok(())
}

/// What policy decides of a loaded delegation, without I/O: the pending elevation that asks
/// for it, or the first refusal.
fn plan_delegation(facts: &DelegationFacts<'_>) -> Result<PlannedDelegation, ServiceError> {
    let (request, source, entry) = (facts.request, facts.source, facts.entry);
    let not_after_cap = delegation_cap(facts)?;
    let holdings = facts
        .delegatee_grants
        .iter()
        .map(|grant| Holding::Grant(grant.id, &grant.role));
    if let Some(conflict) = facts.policy.separation_conflict(&request.role, holdings) {
        return Err(ServiceError::denied(
            "SOD_CONFLICT",
            format!("the delegatee {}: {conflict}", request.delegatee),
        ));
    }
    let (parent_grant, mut excluded_approvers) = match source {
        DelegationSource::Grant(grant) => (
            Some(grant.id),
            grant
                .delegation_trail
                .iter()
                .map(|hop| hop.delegator.clone())
                .collect(),
        ),
        DelegationSource::Standing(_) => (None, Vec::new()),
    };
    excluded_approvers.push(request.delegatee.clone());
    excluded_approvers.sort();
    excluded_approvers.dedup();
    let elevation = Elevation::requested(ElevationRequest {
        requester: facts.caller.subject.clone(),
        session: None,
        role: request.role.clone(),
        scope: request.scope.clone(),
        duration: request.duration.get(),
        reason: request.reason.clone(),
        ticket: None,
        requested_at: facts.now,
        request_expires_at: facts.now + DELEGATION_REQUEST_TTL,
        not_before: None,
        steps: entry.steps.clone(),
        requester_claims: RequesterSnapshot::of(facts.caller),
        policy_version: facts.policy.version(),
        idempotency_key: request.idempotency_key.clone(),
        extends_grant: None,
        delegation: Some(DelegationTerms {
            delegatee: request.delegatee.clone(),
            parent_grant,
            not_after_cap,
        }),
        excluded_approvers,
    });
    let event = AuditEvent::for_elevation(
        AuditAction::ElevationRequested,
        facts.caller.subject.as_str(),
        &elevation,
        facts.policy.version(),
        facts.now,
    )
    .with_reason(&request.reason)
    .with_details(json!({
        "delegation": true,
        "delegatee": request.delegatee.as_str(),
        "parent_grant": parent_grant.map(|id| id.to_string()),
        "duration": format_duration(request.duration.get()),
        "depth": source.depth() + 1,
        "source": match source {
            DelegationSource::Grant(grant) => format!("grant {}", grant.id),
            DelegationSource::Standing(standing) => format!("standing role {}", standing.role),
        },
        "steps": entry.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
    }));
    Ok(PlannedDelegation { elevation, event })
}

/// The latest the delegated grant may end, after the policy's depth and length limits: the
/// parent grant's end (the delegation must stay within it), or for a standing role the
/// policy's `max_duration` from now.
fn delegation_cap(facts: &DelegationFacts<'_>) -> Result<DateTime<Utc>, ServiceError> {
    let (request, source, entry, now) = (facts.request, facts.source, facts.entry, facts.now);
    if source.depth() + 1 > entry.max_depth as usize {
        return Err(ServiceError::denied(
            "DEPTH_EXCEEDED",
            format!(
                "{} may be delegated at most {} time(s) along one chain; this would be delegation {}",
                request.role,
                entry.max_depth,
                source.depth() + 1
            ),
        ));
    }
    if let Some(maximum) = entry.max_duration
        && request.duration.get() > maximum
    {
        return Err(ServiceError::invalid(
            "duration",
            format!(
                "a delegation of {} may last at most {}",
                request.role,
                format_duration(maximum)
            ),
        ));
    }
    let not_after = now + request.duration.get();
    match source {
        DelegationSource::Grant(grant) => {
            grant
                .attenuates_to(&request.scope, not_after)
                .map_err(attenuation_error)?;
            Ok(grant.not_after)
        }
        DelegationSource::Standing(_) => {
            // A standing role has no end of its own, so only the policy can bound what is
            // passed on, from the moment it was asked for; without `max_duration` the
            // delegation is refused, never capped by a default nobody wrote down.
            let Some(cap) = entry.max_duration else {
                return Err(ServiceError::precondition(
                    "MAX_DURATION_REQUIRED",
                    format!(
                        "{} is held as a standing role, and delegation[{}] sets no max_duration to bound a delegation of it; an administrator must set one",
                        request.role, entry.index
                    ),
                ));
            };
            Ok(now + cap)
        }
    }
}
