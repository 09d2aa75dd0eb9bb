//! Requests into domain values: every field validated and, when wrong, named (`checks[3].subject`
//! style names are the caller's to add). Each proto request becomes one domain value through
//! `TryFrom`, or one function per field kind.

use chrono::{DateTime, Utc};

use crate::domain::risk::RiskPicture;
use crate::domain::{
    AuditAction, CheckQuery, Checkpoint, ElevationId, ElevationState, GrantId, GroupName,
    InvalidValue, Permission, RequestedDuration, RoleName, Scope, SessionId, Subject, SubjectRef,
};
use crate::proto::v1 as pb;
use crate::service::{
    AuditQuery, DelegationView, NewDelegation, NewElevation, NewRiskSignal, ServiceError,
    SimulatedRequester,
};

fn field<T>(name: &str, result: Result<T, InvalidValue>) -> Result<T, ServiceError> {
    result.map_err(|error| ServiceError::invalid(name, error.0))
}

/// A required, validated name.
pub(crate) fn required<T>(
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
pub(crate) fn optional<T>(
    name: &str,
    value: &str,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, ServiceError> {
    if value.is_empty() {
        return Ok(None);
    }
    field(name, parse(value)).map(Some)
}

/// An optional text field as proto carries it: empty means none.
pub(crate) fn non_empty<S: AsRef<str>>(value: S) -> Option<S> {
    (!value.as_ref().is_empty()).then_some(value)
}

/// An elevation id.
pub(crate) fn elevation_id(name: &str, value: &str) -> Result<ElevationId, ServiceError> {
    required(name, value, ElevationId::parse)
}

/// A grant id.
pub(crate) fn grant_id(name: &str, value: &str) -> Result<GrantId, ServiceError> {
    required(name, value, GrantId::parse)
}

/// An optional timestamp.
pub(crate) fn optional_timestamp(
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

/// A required duration a caller asks for, validated once here (see [`RequestedDuration`]).
pub(crate) fn required_duration(
    name: &str,
    value: Option<&prost_types::Duration>,
) -> Result<RequestedDuration, ServiceError> {
    let value = value.ok_or_else(|| ServiceError::invalid(name, "is required (e.g. 3600s)"))?;
    field(
        name,
        RequestedDuration::from_parts(value.seconds, value.nanos),
    )
}

/// A Check question, validated once and borrowed from the request (no allocation): the hot
/// path's one parse. The end-user token it may carry is verified by the handler and attached
/// as [`CheckQuery::token`].
impl<'a> TryFrom<&'a pb::CheckRequest> for CheckQuery<'a> {
    type Error = ServiceError;

    fn try_from(request: &'a pb::CheckRequest) -> Result<Self, ServiceError> {
        if request.subject.is_empty() {
            return Err(ServiceError::invalid("subject", "is required"));
        }
        let subject = field("subject", SubjectRef::parse(&request.subject))?;
        let session = non_empty(request.session_id.as_str());
        if let Some(session) = session {
            field("session_id", SessionId::validate(session))?;
        }
        if request.permission.is_empty() {
            return Err(ServiceError::invalid("permission", "is required"));
        }
        field("permission", Permission::validate(&request.permission))?;
        field("resource", Scope::validate(&request.resource))?;
        super::access::no_access_fields(request)?;
        Ok(CheckQuery {
            subject,
            session,
            permission: &request.permission,
            resource: &request.resource,
            token: None,
            min_revision: request.min_revision,
        })
    }
}

impl TryFrom<pb::RequestElevationRequest> for NewElevation {
    type Error = ServiceError;

    fn try_from(request: pb::RequestElevationRequest) -> Result<Self, ServiceError> {
        Ok(NewElevation {
            role: required("role", &request.role, RoleName::parse)?,
            scope: required("scope", &request.scope, Scope::parse)?,
            duration: required_duration("duration", request.duration.as_ref())?,
            reason: request.reason,
            ticket: non_empty(request.ticket),
            idempotency_key: non_empty(request.idempotency_key),
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
            idempotency_key: non_empty(request.idempotency_key),
        })
    }
}

/// Which delegations to list.
pub(crate) fn delegation_view(view: i32, grant_id: &str) -> Result<DelegationView, ServiceError> {
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
pub(crate) fn state_filter(value: i32) -> Result<Option<ElevationState>, ServiceError> {
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

/// A hypothetical risk picture.
pub(crate) fn risk_override(
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
pub(crate) fn simulated_requester(
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

/// A signed chain head a client sends back.
pub(crate) fn checkpoint(head: &pb::SignedAuditHead) -> Result<Checkpoint, ServiceError> {
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
pub(crate) fn audit_query(
    request: &pb::ListAuditEventsRequest,
) -> Result<AuditQuery, ServiceError> {
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
