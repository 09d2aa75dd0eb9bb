//! Domain values into proto messages, through plain functions: what the handlers answer.

use chrono::{DateTime, TimeDelta, Utc};

use crate::domain::Revision;
use crate::domain::{
    ApprovalStep, Checkpoint, Decision, DecisionReason, DelegationHop, Elevation, ElevationState,
    Grant, GrantSource, GrantStatus, SessionBinding, StoredAuditEvent, Verdict,
};
use crate::proto::v1 as pb;
use crate::service::{
    ApprovalBatch, CheckSimulation, ElevationOutcome, Page, RequestAssessment, RuleOutcome,
    UpdateKind,
};

/// A timestamp.
pub fn timestamp(value: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: value.timestamp(),
        nanos: value.timestamp_subsec_nanos() as i32,
    }
}

/// A duration.
pub fn duration(value: TimeDelta) -> prost_types::Duration {
    prost_types::Duration {
        seconds: value.num_seconds(),
        nanos: value.subsec_nanos(),
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
pub(crate) fn simulation(assessment: &RequestAssessment) -> pb::SimulateElevationResponse {
    pb::SimulateElevationResponse {
        eligible: assessment.refusal.is_none(),
        refusal_code: assessment
            .refusal
            .as_ref()
            .map(|r| r.code().to_owned())
            .unwrap_or_default(),
        refusal: text_or_empty(assessment.refusal.as_ref()),
        rules: rule_results(&assessment.rules),
        steps: assessment
            .steps
            .iter()
            .map(|step| approval_step(step, 0))
            .collect(),
        manager: text_or_empty(assessment.manager.as_ref()),
        sod_conflict: text_or_empty(assessment.separation.as_ref()),
        not_before: Some(timestamp(assessment.not_before)),
        not_after: Some(timestamp(assessment.not_after)),
        request_expires_at: Some(timestamp(assessment.request_expires_at)),
        policy_version: assessment.policy.version(),
        session_id: text_or_empty(assessment.session.as_ref()),
    }
}

/// A decision with its explanation.
pub(crate) fn check_simulation(
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

/// An optional value as proto carries it: its text, or empty for none.
fn text_or_empty<T: ToString>(value: Option<&T>) -> String {
    value.map(ToString::to_string).unwrap_or_default()
}

fn strings<T: ToString>(values: &[T]) -> Vec<String> {
    values.iter().map(ToString::to_string).collect()
}

/// An elevation.
pub(crate) fn elevation(elevation: &Elevation) -> pb::Elevation {
    pb::Elevation {
        id: elevation.id.to_string(),
        requester: elevation.requester.to_string(),
        session_id: text_or_empty(elevation.session.as_ref()),
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
pub(crate) fn session_binding(binding: SessionBinding) -> pb::SessionBinding {
    match binding {
        SessionBinding::Bound => pb::SessionBinding::Bound,
        SessionBinding::AwaitingAcceptance => pb::SessionBinding::AwaitingAcceptance,
        SessionBinding::Unbound => pb::SessionBinding::Unbound,
    }
}

/// A grant, with its status at `now`.
pub(crate) fn grant(grant: &Grant, now: DateTime<Utc>) -> pb::Grant {
    let status = match grant.status(now) {
        GrantStatus::Active => pb::GrantStatus::Active,
        GrantStatus::Scheduled => pb::GrantStatus::Scheduled,
        GrantStatus::Expired => pb::GrantStatus::Expired,
        GrantStatus::Revoked => pb::GrantStatus::Revoked,
    };
    pb::Grant {
        id: grant.id.to_string(),
        subject: grant.subject.to_string(),
        session_id: text_or_empty(grant.session.as_ref()),
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
        source: grant_source(grant.source()) as i32,
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

/// A reply to a write on an elevation that answers with the elevation after it, the grant it
/// created if any, and the committed revision (Delegate, ExtendElevation, RequestElevation,
/// Approve): one message type each, the same three fields.
pub(crate) trait ElevationReply {
    fn from_parts(
        elevation: Option<pb::Elevation>,
        grant: Option<pb::Grant>,
        revision: Revision,
    ) -> Self;
}

macro_rules! elevation_replies {
    ($($reply:ident),+) => {
        $(impl ElevationReply for pb::$reply {
            fn from_parts(
                elevation: Option<pb::Elevation>,
                grant: Option<pb::Grant>,
                revision: Revision,
            ) -> Self {
                pb::$reply { elevation, grant, revision }
            }
        })+
    };
}

elevation_replies!(
    DelegateResponse,
    ExtendElevationResponse,
    RequestElevationResponse,
    ApproveResponse
);

/// The reply to a write on an elevation, the grant's status as of `now`.
pub(crate) fn elevation_reply<R: ElevationReply>(
    outcome: &ElevationOutcome,
    now: DateTime<Utc>,
) -> R {
    R::from_parts(
        Some(elevation(&outcome.elevation)),
        outcome.grant.as_ref().map(|g| grant(g, now)),
        outcome.revision,
    )
}

/// A page as every List reply carries it: its items converted by `item`, and the token of
/// the next page (empty on the last).
pub(crate) fn page<T, P>(page: Page<T>, item: impl Fn(&T) -> P) -> (Vec<P>, String) {
    (
        page.items.iter().map(item).collect(),
        page.next_page_token.unwrap_or_default(),
    )
}

/// One revision's approval updates.
pub(crate) fn approval_batch(batch: &ApprovalBatch) -> pb::WatchApprovalsResponse {
    pb::WatchApprovalsResponse {
        revision: batch.revision,
        updates: batch
            .updates
            .iter()
            .map(|update| pb::ApprovalUpdate {
                kind: match update.kind {
                    UpdateKind::AwaitingYou => pb::ApprovalUpdateKind::AwaitingYou,
                    UpdateKind::YourElevation => pb::ApprovalUpdateKind::YourElevation,
                    UpdateKind::BreakGlassUsed => pb::ApprovalUpdateKind::BreakGlassUsed,
                    UpdateKind::BreakGlassFlagged => pb::ApprovalUpdateKind::BreakGlassFlagged,
                } as i32,
                action: update.action.as_str().to_owned(),
                elevation: Some(elevation(&update.elevation)),
            })
            .collect(),
    }
}

/// An audit event.
pub(crate) fn audit_event(stored: &StoredAuditEvent) -> pb::AuditEvent {
    let event = &stored.event;
    pb::AuditEvent {
        seq: stored.seq,
        revision: stored.revision,
        at: Some(timestamp(event.at)),
        actor: event.actor.clone(),
        action: event.action.as_str().to_owned(),
        subject: text_or_empty(event.subject.as_ref()),
        role: text_or_empty(event.role.as_ref()),
        scope: text_or_empty(event.scope.as_ref()),
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
pub(crate) fn signed_head(checkpoint: &Checkpoint) -> pb::SignedAuditHead {
    pb::SignedAuditHead {
        seq: checkpoint.seq,
        hash: checkpoint.hash.to_vec(),
        revision: checkpoint.revision,
        signed_at: Some(timestamp(checkpoint.signed_at)),
        public_key: checkpoint.public_key.to_vec(),
        signature: checkpoint.signature.clone(),
    }
}

/// A decision reason.
pub(crate) fn decision_reason(reason: DecisionReason) -> pb::DecisionReason {
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
pub(crate) fn check_response(decision: &Decision) -> pb::CheckResponse {
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
            .map(|g| {
                // Every allow names its grant: written out without the formatting machinery.
                g.id.0
                    .hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer())
                    .to_owned()
            })
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
        grant_source: decision
            .grant
            .as_ref()
            .map_or(pb::GrantSource::Unspecified, |g| grant_source(g.source()))
            as i32,
        access_request: None,
    }
}

/// Where a grant came from, in the proto's terms.
pub(crate) fn grant_source(source: GrantSource) -> pb::GrantSource {
    match source {
        GrantSource::Elevation => pb::GrantSource::Elevation,
        GrantSource::Delegation => pb::GrantSource::Delegation,
        GrantSource::BreakGlass => pb::GrantSource::BreakGlass,
    }
}
