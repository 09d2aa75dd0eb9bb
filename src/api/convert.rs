//! Proto <-> domain conversion, only here at the edge. Requests become domain values through
//! `TryFrom` (validating every field and naming it when it is wrong); domain values become
//! proto messages through plain functions.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::AuditAction;
use crate::domain::risk::RiskPicture;
use crate::domain::{
    ApprovalStep, Decision, DecisionReason, DelegationHop, Elevation, ElevationId, ElevationState,
    Grant, GrantId, GrantStatus, GroupName, InvalidValue, RequestedDuration, RoleName, Scope,
    SessionBinding, SessionId, Subject, Verdict,
};
use crate::domain::{Checkpoint, StoredAuditEvent};
use crate::proto::v1 as pb;
use crate::service::{
    ApprovalBatch, AuditQuery, CheckSimulation, DelegationView, NewDelegation, NewElevation,
    NewRiskSignal, RequestAssessment, RuleOutcome, ServiceError, SimulatedRequester, UpdateKind,
};

fn field<T>(name: &str, result: Result<T, InvalidValue>) -> Result<T, ServiceError> {
    result.map_err(|error| ServiceError::invalid(name, error.0))
}

/// A required, validated name.
pub fn required<T>(
    name: &str,
    value: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<T, ServiceError> {
    if value.is_empty() {
        return Err(ServiceError::invalid(name, "is required"));
    }
    field(name, parse(value))
}

/// An optional (empty means absent), validated name.
pub fn optional<T>(
    name: &str,
    value: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, ServiceError> {
    if value.is_empty() {
        return Ok(None);
    }
    field(name, parse(value)).map(Some)
}

/// An elevation id.
pub fn elevation_id(name: &str, value: &str) -> Result<ElevationId, ServiceError> {
    required(name, value, ElevationId::parse)
}

/// A grant id.
pub fn grant_id(name: &str, value: &str) -> Result<GrantId, ServiceError> {
    required(name, value, GrantId::parse)
}

/// A timestamp.
pub fn timestamp(value: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: value.timestamp(),
        nanos: value.timestamp_subsec_nanos() as i32,
    }
}

/// An optional timestamp.
pub fn optional_timestamp(
    name: &str,
    value: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, ServiceError> {
    value.map(|value| from_timestamp(name, value)).transpose()
}

fn from_timestamp(
    name: &str,
    value: &prost_types::Timestamp,
) -> Result<DateTime<Utc>, ServiceError> {
    if !(0..1_000_000_000).contains(&value.nanos) {
        return Err(ServiceError::invalid(name, "nanos must be within 0..1e9"));
    }
    DateTime::from_timestamp(value.seconds, value.nanos as u32)
        .ok_or_else(|| ServiceError::invalid(name, "out of range"))
}

/// A duration.
pub fn duration(value: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: value.num_seconds(),
        nanos: value.subsec_nanos(),
    }
}

/// A required duration a caller asks for, validated once here (see [`RequestedDuration`]).
pub fn required_duration(
    name: &str,
    value: Option<&prost_types::Duration>,
) -> Result<RequestedDuration, ServiceError> {
    let value = value.ok_or_else(|| ServiceError::invalid(name, "is required (e.g. 3600s)"))?;
    field(
        name,
        RequestedDuration::from_parts(value.seconds, value.nanos),
    )
}

impl TryFrom<pb::RequestElevationRequest> for NewElevation {
    type Error = ServiceError;

    fn try_from(request: pb::RequestElevationRequest) -> Result<Self, ServiceError> {
        Ok(NewElevation {
            role: required("role", &request.role, RoleName::parse)?,
            scope: required("scope", &request.scope, Scope::parse)?,
            duration: required_duration("duration", request.duration.as_ref())?,
            reason: request.reason,
            ticket: (!request.ticket.is_empty()).then_some(request.ticket),
            idempotency_key: (!request.idempotency_key.is_empty())
                .then_some(request.idempotency_key),
            not_before: request
                .not_before
                .as_ref()
                .map(|start| from_timestamp("not_before", start))
                .transpose()?,
        })
    }
}

impl TryFrom<pb::DelegateRequest> for NewDelegation {
    type Error = ServiceError;

    fn try_from(request: pb::DelegateRequest) -> Result<Self, ServiceError> {
        Ok(NewDelegation {
            delegatee: required("delegatee", &request.delegatee, Subject::parse)?,
            role: required("role", &request.role, RoleName::parse)?,
            scope: required("scope", &request.scope, Scope::parse)?,
            duration: required_duration("duration", request.duration.as_ref())?,
            reason: request.reason,
            source_grant: optional("source_grant_id", &request.source_grant_id, GrantId::parse)?,
            idempotency_key: (!request.idempotency_key.is_empty())
                .then_some(request.idempotency_key),
        })
    }
}

/// Which delegations to list.
pub fn delegation_view(view: i32, grant_id: &str) -> Result<DelegationView, ServiceError> {
    match pb::DelegationView::try_from(view) {
        Ok(pb::DelegationView::Given) => Ok(DelegationView::Given),
        Ok(pb::DelegationView::Received) => Ok(DelegationView::Received),
        Ok(pb::DelegationView::FromGrant) => Ok(DelegationView::FromGrant(self::grant_id(
            "grant_id", grant_id,
        )?)),
        _ => Err(ServiceError::invalid(
            "view",
            "say GIVEN, RECEIVED or FROM_GRANT",
        )),
    }
}

impl TryFrom<pb::ReportRiskSignalRequest> for NewRiskSignal {
    type Error = ServiceError;

    fn try_from(request: pb::ReportRiskSignalRequest) -> Result<Self, ServiceError> {
        Ok(NewRiskSignal {
            subject: required("subject", &request.subject, Subject::parse)?,
            session: optional("session_id", &request.session_id, SessionId::parse)?,
            score: request.score,
            flags: request.flags,
            source: request.source,
            ttl: required_duration("ttl", request.ttl.as_ref())?,
        })
    }
}

/// An elevation state filter (UNSPECIFIED means any).
pub fn state_filter(value: i32) -> Result<Option<ElevationState>, ServiceError> {
    match pb::ElevationState::try_from(value) {
        Ok(pb::ElevationState::Unspecified) => Ok(None),
        Ok(state) => Ok(Some(elevation_state_from(state))),
        Err(_) => Err(ServiceError::invalid(
            "state",
            format!("{value} is not an ElevationState"),
        )),
    }
}

fn elevation_state_from(state: pb::ElevationState) -> ElevationState {
    match state {
        pb::ElevationState::Unspecified | pb::ElevationState::Pending => ElevationState::Pending,
        pb::ElevationState::Approved => ElevationState::Approved,
        pb::ElevationState::Scheduled => ElevationState::Scheduled,
        pb::ElevationState::Active => ElevationState::Active,
        pb::ElevationState::Expired => ElevationState::Expired,
        pb::ElevationState::Revoked => ElevationState::Revoked,
        pb::ElevationState::Denied => ElevationState::Denied,
        pb::ElevationState::Cancelled => ElevationState::Cancelled,
        pb::ElevationState::TimedOut => ElevationState::TimedOut,
    }
}

fn elevation_state(state: ElevationState) -> pb::ElevationState {
    match state {
        ElevationState::Pending => pb::ElevationState::Pending,
        ElevationState::Approved => pb::ElevationState::Approved,
        ElevationState::Scheduled => pb::ElevationState::Scheduled,
        ElevationState::Active => pb::ElevationState::Active,
        ElevationState::Expired => pb::ElevationState::Expired,
        ElevationState::Revoked => pb::ElevationState::Revoked,
        ElevationState::Denied => pb::ElevationState::Denied,
        ElevationState::Cancelled => pb::ElevationState::Cancelled,
        ElevationState::TimedOut => pb::ElevationState::TimedOut,
    }
}

/// A hypothetical risk picture.
pub fn risk_override(
    value: Option<&pb::RiskOverride>,
) -> Result<Option<RiskPicture>, ServiceError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.score > 100 {
        return Err(ServiceError::invalid(
            "risk.score",
            "must be between 0 and 100",
        ));
    }
    let mut flags = value.flags.clone();
    flags.sort();
    flags.dedup();
    Ok(Some(RiskPicture {
        score: value.score,
        flags,
    }))
}

/// Someone to simulate a request for.
pub fn simulated_requester(
    value: pb::SimulatedRequester,
) -> Result<SimulatedRequester, ServiceError> {
    Ok(SimulatedRequester {
        subject: required("requester.subject", &value.subject, Subject::parse)?,
        groups: value
            .groups
            .iter()
            .map(|group| field("requester.groups", GroupName::parse(group)))
            .collect::<Result<_, _>>()?,
        manager: optional("requester.manager", &value.manager, Subject::parse)?,
        session: optional("requester.session_id", &value.session_id, SessionId::parse)?,
    })
}

fn rule_results(outcomes: &[RuleOutcome]) -> Vec<pb::RuleResult> {
    outcomes
        .iter()
        .map(|outcome| pb::RuleResult {
            rule: outcome.rule.clone(),
            held: outcome.held.unwrap_or(false),
            error: outcome.error.clone().unwrap_or_default(),
        })
        .collect()
}

fn approval_step(step: &ApprovalStep, approvals: u32) -> pb::ApprovalStep {
    pb::ApprovalStep {
        name: step.name.clone(),
        quorum: step.quorum,
        deny_threshold: step.deny_threshold,
        approver_groups: strings(&step.approvers.groups),
        approver_users: strings(&step.approvers.users),
        manager_of_requester: step.approvers.manager_of_requester,
        approvals,
        met: approvals >= step.quorum,
    }
}

/// What RequestElevation would do.
pub fn simulation(assessment: &RequestAssessment) -> pb::SimulateElevationResponse {
    pb::SimulateElevationResponse {
        eligible: assessment.refusal.is_none(),
        refusal_code: assessment
            .refusal
            .as_ref()
            .map(|r| r.code().to_owned())
            .unwrap_or_default(),
        refusal: assessment
            .refusal
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        rules: rule_results(&assessment.rules),
        steps: assessment
            .steps
            .iter()
            .map(|step| approval_step(step, 0))
            .collect(),
        manager: assessment
            .manager
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        sod_conflict: assessment
            .separation
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        not_before: Some(timestamp(assessment.not_before)),
        not_after: Some(timestamp(assessment.not_after)),
        request_expires_at: Some(timestamp(assessment.request_expires_at)),
        policy_version: assessment.policy.version(),
        session_id: assessment
            .session
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
    }
}

/// A decision with its explanation.
pub fn check_simulation(
    simulation: &CheckSimulation,
    now: DateTime<Utc>,
) -> pb::SimulateCheckResponse {
    pb::SimulateCheckResponse {
        decision: Some(check_response(&simulation.decision)),
        grants: simulation
            .grants
            .iter()
            .map(|trace| pb::GrantExplanation {
                grant: Some(grant(&trace.grant, now)),
                carries_permission: trace.carries_permission,
                reason: decision_reason(trace.reason) as i32,
                rule: trace.rule.clone().unwrap_or_default(),
                rules: rule_results(&trace.rules),
            })
            .collect(),
    }
}

fn strings<T: ToString>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// An elevation.
pub fn elevation(elevation: &Elevation) -> pb::Elevation {
    pb::Elevation {
        id: elevation.id.to_string(),
        requester: elevation.requester.to_string(),
        session_id: elevation
            .session
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        role: elevation.role.to_string(),
        scope: elevation.scope.to_string(),
        duration: Some(duration(elevation.duration)),
        reason: elevation.reason.clone(),
        ticket: elevation.ticket.clone().unwrap_or_default(),
        state: elevation_state(elevation.state()) as i32,
        created_at: Some(timestamp(elevation.created_at)),
        request_expires_at: Some(timestamp(elevation.request_expires_at)),
        steps: elevation
            .steps
            .iter()
            .enumerate()
            .map(|(index, step)| approval_step(step, elevation.approvals_at(index)))
            .collect(),
        votes: elevation
            .votes
            .iter()
            .map(|vote| pb::Vote {
                approver: vote.approver.to_string(),
                step: vote.step,
                verdict: match vote.verdict {
                    Verdict::Approve => pb::Verdict::Approve,
                    Verdict::Deny => pb::Verdict::Deny,
                } as i32,
                comment: vote.comment.clone(),
                at: Some(timestamp(vote.at)),
            })
            .collect(),
        grant_id: elevation
            .grant_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        updated_at: Some(timestamp(elevation.updated_at)),
        state_reason: elevation.state_reason().to_owned(),
        policy_version: elevation.policy_version,
        not_before: elevation.not_before.map(timestamp),
    }
}

fn hop(hop: &DelegationHop) -> pb::DelegationHop {
    pb::DelegationHop {
        delegator: hop.delegator.to_string(),
        delegatee: hop.delegatee.to_string(),
        scope: hop.scope.to_string(),
        reason: hop.reason.clone(),
        approvers: strings(&hop.approvers),
        at: Some(timestamp(hop.at)),
        grant_id: hop.grant_id.to_string(),
    }
}

/// How a grant relates to sessions, on the wire.
pub fn session_binding(binding: SessionBinding) -> pb::SessionBinding {
    match binding {
        SessionBinding::Bound => pb::SessionBinding::Bound,
        SessionBinding::AwaitingAcceptance => pb::SessionBinding::AwaitingAcceptance,
        SessionBinding::Unbound => pb::SessionBinding::Unbound,
    }
}

/// A grant, with its status at `now`.
pub fn grant(grant: &Grant, now: DateTime<Utc>) -> pb::Grant {
    let status = match grant.status(now) {
        GrantStatus::Active => pb::GrantStatus::Active,
        GrantStatus::Scheduled => pb::GrantStatus::Scheduled,
        GrantStatus::Expired => pb::GrantStatus::Expired,
        GrantStatus::Revoked => pb::GrantStatus::Revoked,
    };
    pb::Grant {
        id: grant.id.to_string(),
        subject: grant.subject.to_string(),
        session_id: grant
            .session
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        role: grant.role.to_string(),
        scope: grant.scope.to_string(),
        not_before: Some(timestamp(grant.not_before)),
        not_after: Some(timestamp(grant.not_after)),
        elevation_id: grant
            .elevation_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        parent_grant_id: grant
            .parent_grant_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        delegation_trail: grant.delegation_trail.iter().map(hop).collect(),
        status: status as i32,
        session_binding: session_binding(grant.binding()) as i32,
        revoked_at: grant.revocation.as_ref().map(|r| timestamp(r.at)),
        revoked_by: grant
            .revocation
            .as_ref()
            .map(|r| r.by.clone())
            .unwrap_or_default(),
        revoke_reason: grant
            .revocation
            .as_ref()
            .map(|r| r.reason.clone())
            .unwrap_or_default(),
    }
}

/// One revision's approval updates.
pub fn approval_batch(batch: &ApprovalBatch) -> pb::WatchApprovalsResponse {
    pb::WatchApprovalsResponse {
        revision: batch.revision,
        updates: batch
            .updates
            .iter()
            .map(|update| pb::ApprovalUpdate {
                kind: match update.kind {
                    UpdateKind::AwaitingYou => pb::ApprovalUpdateKind::AwaitingYou,
                    UpdateKind::YourElevation => pb::ApprovalUpdateKind::YourElevation,
                } as i32,
                action: update.action.as_str().to_owned(),
                elevation: Some(elevation(&update.elevation)),
            })
            .collect(),
    }
}

/// An audit event.
pub fn audit_event(stored: &StoredAuditEvent) -> pb::AuditEvent {
    let event = &stored.event;
    pb::AuditEvent {
        seq: stored.seq,
        revision: stored.revision,
        at: Some(timestamp(event.at)),
        actor: event.actor.clone(),
        action: event.action.as_str().to_owned(),
        subject: event
            .subject
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        role: event
            .role
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        scope: event
            .scope
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default(),
        elevation_id: event
            .elevation_id
            .map(|id| id.to_string())
            .unwrap_or_default(),
        grant_id: event.grant_id.map(|id| id.to_string()).unwrap_or_default(),
        reason: event.reason.clone(),
        ticket: event.ticket.clone().unwrap_or_default(),
        details_json: event.details.to_string(),
        policy_version: event.policy_version,
        request_id: event.request_id.clone().unwrap_or_default(),
        trace_id: event.trace_id.clone().unwrap_or_default(),
        prev_hash: stored.prev_hash.to_vec(),
        hash: stored.hash.to_vec(),
    }
}

/// A signed chain head.
pub fn signed_head(checkpoint: &Checkpoint) -> pb::SignedAuditHead {
    pb::SignedAuditHead {
        seq: checkpoint.seq,
        hash: checkpoint.hash.to_vec(),
        revision: checkpoint.revision,
        signed_at: Some(timestamp(checkpoint.signed_at)),
        public_key: checkpoint.public_key.to_vec(),
        signature: checkpoint.signature.clone(),
    }
}

/// A signed chain head a client sends back.
pub fn checkpoint(head: &pb::SignedAuditHead) -> Result<Checkpoint, ServiceError> {
    let bytes32 = |field: &str, value: &[u8]| -> Result<[u8; 32], ServiceError> {
        value
            .try_into()
            .map_err(|_| ServiceError::invalid(field, "must be 32 bytes"))
    };
    Ok(Checkpoint {
        seq: head.seq,
        hash: bytes32("expected_head.hash", &head.hash)?,
        revision: head.revision,
        signed_at: head
            .signed_at
            .as_ref()
            .map(|at| from_timestamp("expected_head.signed_at", at))
            .transpose()?
            .ok_or_else(|| ServiceError::invalid("expected_head.signed_at", "is required"))?,
        public_key: bytes32("expected_head.public_key", &head.public_key)?,
        signature: head.signature.clone(),
    })
}

/// Audit filters from a listing request.
pub fn audit_query(request: &pb::ListAuditEventsRequest) -> Result<AuditQuery, ServiceError> {
    Ok(AuditQuery {
        subject: optional("subject", &request.subject, Subject::parse)?,
        actor: (!request.actor.is_empty()).then(|| request.actor.clone()),
        action: match request.action.as_str() {
            "" => None,
            action => Some(AuditAction::parse(action).ok_or_else(|| {
                ServiceError::invalid(
                    "action",
                    format!("{} is not an audit action", crate::domain::shown(action)),
                )
            })?),
        },
        elevation: optional("elevation_id", &request.elevation_id, ElevationId::parse)?,
        grant: optional("grant_id", &request.grant_id, GrantId::parse)?,
        from: optional_timestamp("from", request.from.as_ref())?,
        to: optional_timestamp("to", request.to.as_ref())?,
    })
}

/// A decision reason.
pub fn decision_reason(reason: DecisionReason) -> pb::DecisionReason {
    match reason {
        DecisionReason::Allowed => pb::DecisionReason::Allowed,
        DecisionReason::NoGrant => pb::DecisionReason::NoGrant,
        DecisionReason::ScopeMismatch => pb::DecisionReason::ScopeMismatch,
        DecisionReason::Expired => pb::DecisionReason::Expired,
        DecisionReason::Revoked => pb::DecisionReason::Revoked,
        DecisionReason::NotYetActive => pb::DecisionReason::NotYetActive,
        DecisionReason::OtherSession => pb::DecisionReason::OtherSession,
        DecisionReason::DelegationNotAccepted => pb::DecisionReason::DelegationNotAccepted,
        DecisionReason::SodConflict => pb::DecisionReason::SodConflict,
        DecisionReason::RuleDenied => pb::DecisionReason::RuleDenied,
        DecisionReason::RiskSuspended => pb::DecisionReason::RiskSuspended,
        DecisionReason::InternalError => pb::DecisionReason::InternalError,
    }
}

/// A decision.
pub fn check_response(decision: &Decision) -> pb::CheckResponse {
    // An allow is explained by its grant and role; only a deny needs words (and an allow, the
    // hot answer, is not worth formatting a sentence for).
    let message = match (&decision.grant, decision.allowed) {
        (_, true) => String::new(),
        (_, false) if decision.rule.is_some() => format!(
            "denied: {} by `{}`",
            decision.reason.as_str(),
            decision.rule.as_deref().unwrap_or_default()
        ),
        (Some(grant), false) => {
            format!("denied: {} (grant {})", decision.reason.as_str(), grant.id)
        }
        (None, false) => format!("denied: {}", decision.reason.as_str()),
    };
    pb::CheckResponse {
        allowed: decision.allowed,
        reason: decision_reason(decision.reason) as i32,
        grant_id: decision
            .grant
            .as_ref()
            .map(|g| g.id.to_string())
            .unwrap_or_default(),
        role: decision.role().unwrap_or_default().to_owned(),
        delegation_trail: decision
            .grant
            .as_ref()
            .map(|g| g.delegation_trail.iter().map(hop).collect())
            .unwrap_or_default(),
        revision: decision.revision,
        message,
        grant_session_binding: decision
            .grant
            .as_ref()
            .map_or(pb::SessionBinding::Unspecified, |g| {
                session_binding(g.binding())
            }) as i32,
    }
}
