//! Row <-> domain conversion for the PostgreSQL store. Text columns are validated again on the
//! way in (a row that fails is reported as corrupt, never trusted).

use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};
use uuid::Uuid;

use crate::domain::ElevationStatus;
use crate::domain::{
    AuditAction, AuditEvent, Elevation, ElevationId, ElevationState, Grant, GrantId, InvalidValue,
    Revocation, RiskSignal, RoleName, Scope, SessionId, Subject,
};
use crate::store::{Checkpoint, OutboxMessage, PolicyVersion, StoreError, StoredAuditEvent};

fn corrupt(column: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("column {column}: {error}"))
}

fn get<'a, T: tokio_postgres::types::FromSql<'a>>(
    row: &'a Row,
    index: usize,
) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|error| corrupt(row.columns()[index].name(), error))
}

fn parsed<T>(
    row: &Row,
    index: usize,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<T, StoreError> {
    let text: &str = get(row, index)?;
    parse(text).map_err(|error| corrupt(row.columns()[index].name(), error))
}

fn parsed_optional<T>(
    row: &Row,
    index: usize,
    parse: fn(&str) -> Result<T, InvalidValue>,
) -> Result<Option<T>, StoreError> {
    let text: Option<&str> = get(row, index)?;
    text.map(|text| parse(text).map_err(|error| corrupt(row.columns()[index].name(), error)))
        .transpose()
}

/// Reads an elevation from columns `offset..` in `elevation_columns!()` order.
pub(super) fn elevation(row: &Row) -> Result<Elevation, StoreError> {
    let state_text: &str = get(row, 8)?;
    let duration_ms: i64 = get(row, 5)?;
    let Json(steps) = get(row, 14)?;
    let Json(votes) = get(row, 15)?;
    let Json(requester_claims) = get(row, 16)?;
    let policy_version: i64 = get(row, 17)?;
    Ok(Elevation {
        id: ElevationId(get(row, 0)?),
        requester: parsed(row, 1, Subject::parse)?,
        session: parsed_optional(row, 2, SessionId::parse)?,
        role: parsed(row, 3, RoleName::parse)?,
        scope: parsed(row, 4, Scope::parse)?,
        duration: TimeDelta::try_milliseconds(duration_ms)
            .ok_or_else(|| corrupt("duration_ms", "out of range"))?,
        reason: get(row, 6)?,
        ticket: get(row, 7)?,
        status: ElevationStatus::restored(
            ElevationState::parse(state_text)
                .ok_or_else(|| corrupt("state", format!("unknown state {state_text:?}")))?,
            get(row, 9)?,
        ),
        created_at: get(row, 10)?,
        updated_at: get(row, 11)?,
        request_expires_at: get(row, 12)?,
        not_before: get(row, 13)?,
        steps,
        votes,
        requester_claims,
        policy_version: policy_version as u64,
        grant_id: get::<Option<Uuid>>(row, 18)?.map(GrantId),
        idempotency_key: get(row, 19)?,
        extends_grant: get::<Option<Uuid>>(row, 20)?.map(GrantId),
        delegation: get::<Option<Json<_>>>(row, 21)?.map(|Json(terms)| terms),
        excluded_approvers: {
            let Json(excluded) = get(row, 22)?;
            excluded
        },
    })
}

/// Parameters for `UPSERT_ELEVATION`, the last one being the revision.
pub(super) struct ElevationParams {
    id: Uuid,
    requester: String,
    session_id: Option<String>,
    role: String,
    scope: String,
    duration_ms: i64,
    reason: String,
    ticket: Option<String>,
    state: &'static str,
    state_reason: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    request_expires_at: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
    steps: serde_json::Value,
    votes: serde_json::Value,
    requester_claims: serde_json::Value,
    policy_version: i64,
    grant_id: Option<Uuid>,
    idempotency_key: Option<String>,
    extends_grant: Option<Uuid>,
    delegation: Option<serde_json::Value>,
    excluded_approvers: serde_json::Value,
    revision: i64,
}

impl ElevationParams {
    /// The parameters for writing `elevation` at `revision`.
    pub(super) fn new(elevation: &Elevation, revision: u64) -> Result<Self, StoreError> {
        let json = |value: serde_json::Result<serde_json::Value>| {
            value.map_err(|error| StoreError::Internal(format!("encoding elevation: {error}")))
        };
        Ok(ElevationParams {
            id: elevation.id.0,
            requester: elevation.requester.to_string(),
            session_id: elevation.session.as_ref().map(ToString::to_string),
            role: elevation.role.to_string(),
            scope: elevation.scope.to_string(),
            duration_ms: elevation.duration.num_milliseconds(),
            reason: elevation.reason.clone(),
            ticket: elevation.ticket.clone(),
            state: elevation.state().as_str(),
            state_reason: elevation.state_reason().to_owned(),
            created_at: elevation.created_at,
            updated_at: elevation.updated_at,
            request_expires_at: elevation.request_expires_at,
            not_before: elevation.not_before,
            steps: json(serde_json::to_value(&elevation.steps))?,
            votes: json(serde_json::to_value(&elevation.votes))?,
            requester_claims: json(serde_json::to_value(&elevation.requester_claims))?,
            policy_version: elevation.policy_version as i64,
            grant_id: elevation.grant_id.map(|id| id.0),
            idempotency_key: elevation.idempotency_key.clone(),
            extends_grant: elevation.extends_grant.map(|id| id.0),
            delegation: elevation
                .delegation
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(|error| StoreError::Internal(format!("encoding elevation: {error}")))?,
            excluded_approvers: json(serde_json::to_value(&elevation.excluded_approvers))?,
            revision: revision as i64,
        })
    }

    /// As statement parameters.
    pub(super) fn as_params(&self) -> [&(dyn ToSql + Sync); 24] {
        [
            &self.id,
            &self.requester,
            &self.session_id,
            &self.role,
            &self.scope,
            &self.duration_ms,
            &self.reason,
            &self.ticket,
            &self.state,
            &self.state_reason,
            &self.created_at,
            &self.updated_at,
            &self.request_expires_at,
            &self.not_before,
            &self.steps,
            &self.votes,
            &self.requester_claims,
            &self.policy_version,
            &self.grant_id,
            &self.idempotency_key,
            &self.extends_grant,
            &self.delegation,
            &self.excluded_approvers,
            &self.revision,
        ]
    }
}

/// Reads a grant from columns `offset..offset + 16` in `grant_columns!()` order; `None` when
/// the columns are NULL (the outer join of a cache load that found no grant).
pub(super) fn grant_at(row: &Row, offset: usize) -> Result<Option<Grant>, StoreError> {
    let Some(id) = get::<Option<Uuid>>(row, offset)? else {
        return Ok(None);
    };
    let Json(delegation_trail) = get(row, offset + 9)?;
    let revoked_at: Option<DateTime<Utc>> = get(row, offset + 10)?;
    let revocation = match revoked_at {
        Some(at) => Some(Revocation {
            at,
            by: get::<Option<String>>(row, offset + 11)?.unwrap_or_default(),
            reason: get::<Option<String>>(row, offset + 12)?.unwrap_or_default(),
        }),
        None => None,
    };
    Ok(Some(Grant {
        id: GrantId(id),
        subject: parsed(row, offset + 1, Subject::parse)?,
        session: parsed_optional(row, offset + 2, SessionId::parse)?,
        role: parsed(row, offset + 3, RoleName::parse)?,
        scope: parsed(row, offset + 4, Scope::parse)?,
        not_before: get(row, offset + 5)?,
        not_after: get(row, offset + 6)?,
        elevation_id: get::<Option<Uuid>>(row, offset + 7)?.map(ElevationId),
        parent_grant_id: get::<Option<Uuid>>(row, offset + 8)?.map(GrantId),
        delegation_trail,
        revocation,
        awaiting_acceptance: get(row, offset + 14)?,
        break_glass: get(row, offset + 15)?,
    }))
}

/// Reads a grant from a row of `grant_columns!()`.
pub(super) fn grant(row: &Row) -> Result<Grant, StoreError> {
    grant_at(row, 0)?.ok_or_else(|| corrupt("id", "NULL grant id"))
}

/// Parameters for `UPSERT_GRANT`.
pub(super) struct GrantParams {
    id: Uuid,
    subject: String,
    session_id: Option<String>,
    role: String,
    scope: String,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    elevation_id: Option<Uuid>,
    parent_grant_id: Option<Uuid>,
    delegation_trail: serde_json::Value,
    revoked_at: Option<DateTime<Utc>>,
    revoked_by: Option<String>,
    revoke_reason: Option<String>,
    delegated_by: Option<String>,
    awaiting_acceptance: bool,
    break_glass: bool,
    revision: i64,
}

impl GrantParams {
    /// The parameters for writing `grant` at `revision`.
    pub(super) fn new(grant: &Grant, revision: u64) -> Result<Self, StoreError> {
        Ok(GrantParams {
            id: grant.id.0,
            subject: grant.subject.to_string(),
            session_id: grant.session.as_ref().map(ToString::to_string),
            role: grant.role.to_string(),
            scope: grant.scope.to_string(),
            not_before: grant.not_before,
            not_after: grant.not_after,
            elevation_id: grant.elevation_id.map(|id| id.0),
            parent_grant_id: grant.parent_grant_id.map(|id| id.0),
            delegation_trail: serde_json::to_value(&grant.delegation_trail)
                .map_err(|error| StoreError::Internal(format!("encoding grant: {error}")))?,
            revoked_at: grant.revocation.as_ref().map(|r| r.at),
            revoked_by: grant.revocation.as_ref().map(|r| r.by.clone()),
            revoke_reason: grant.revocation.as_ref().map(|r| r.reason.clone()),
            delegated_by: grant.delegated_by().map(ToString::to_string),
            awaiting_acceptance: grant.awaiting_acceptance,
            break_glass: grant.break_glass,
            revision: revision as i64,
        })
    }

    /// As statement parameters.
    pub(super) fn as_params(&self) -> [&(dyn ToSql + Sync); 17] {
        [
            &self.id,
            &self.subject,
            &self.session_id,
            &self.role,
            &self.scope,
            &self.not_before,
            &self.not_after,
            &self.elevation_id,
            &self.parent_grant_id,
            &self.delegation_trail,
            &self.revoked_at,
            &self.revoked_by,
            &self.revoke_reason,
            &self.delegated_by,
            &self.awaiting_acceptance,
            &self.break_glass,
            &self.revision,
        ]
    }
}

/// Reads a risk signal from columns `offset..offset + 8`; `None` for an empty outer join.
pub(super) fn risk_signal_at(row: &Row, offset: usize) -> Result<Option<RiskSignal>, StoreError> {
    let Some(id) = get::<Option<Uuid>>(row, offset)? else {
        return Ok(None);
    };
    let score: i32 = get(row, offset + 3)?;
    Ok(Some(RiskSignal {
        id,
        subject: parsed(row, offset + 1, Subject::parse)?,
        session: parsed_optional(row, offset + 2, SessionId::parse)?,
        score: score.clamp(0, 100) as u32,
        flags: get(row, offset + 4)?,
        source: get(row, offset + 5)?,
        reported_at: get(row, offset + 6)?,
        expires_at: get(row, offset + 7)?,
    }))
}

/// Reads a policy version.
pub(super) fn policy(row: &Row) -> Result<PolicyVersion, StoreError> {
    let version: i64 = get(row, 0)?;
    Ok(PolicyVersion {
        version: version as u64,
        source: get(row, 1)?,
        created_by: get(row, 2)?,
        created_at: get(row, 3)?,
    })
}

/// Reads an audit event.
pub(super) fn audit_event(row: &Row) -> Result<StoredAuditEvent, StoreError> {
    let seq: i64 = get(row, 0)?;
    let revision: i64 = get(row, 1)?;
    let action_text: &str = get(row, 4)?;
    let policy_version: i64 = get(row, 13)?;
    Ok(StoredAuditEvent {
        seq: seq as u64,
        revision: revision as u64,
        event: AuditEvent {
            at: get(row, 2)?,
            actor: get(row, 3)?,
            action: AuditAction::parse(action_text)
                .ok_or_else(|| corrupt("action", format!("unknown action {action_text:?}")))?,
            subject: parsed_optional(row, 5, Subject::parse)?,
            role: parsed_optional(row, 6, RoleName::parse)?,
            scope: parsed_optional(row, 7, Scope::parse)?,
            elevation_id: get::<Option<Uuid>>(row, 8)?.map(ElevationId),
            grant_id: get::<Option<Uuid>>(row, 9)?.map(GrantId),
            reason: get(row, 10)?,
            ticket: get(row, 11)?,
            details: get(row, 12)?,
            policy_version: policy_version as u64,
            request_id: get(row, 14)?,
            trace_id: get(row, 15)?,
        },
        prev_hash: hash_column(row, 16)?,
        hash: hash_column(row, 17)?,
    })
}

/// Reads a signed chain head.
pub(super) fn checkpoint(row: &Row) -> Result<Checkpoint, StoreError> {
    let seq: i64 = get(row, 0)?;
    let revision: i64 = get(row, 2)?;
    let public_key: &[u8] = get(row, 4)?;
    Ok(Checkpoint {
        seq: seq as u64,
        hash: hash_column(row, 1)?,
        revision: revision as u64,
        signed_at: get(row, 3)?,
        public_key: public_key
            .try_into()
            .map_err(|_| corrupt("public_key", "not a 32-byte Ed25519 key"))?,
        signature: get(row, 5)?,
    })
}

fn hash_column(row: &Row, index: usize) -> Result<[u8; 32], StoreError> {
    let bytes: &[u8] = get(row, index)?;
    bytes
        .try_into()
        .map_err(|_| corrupt(row.columns()[index].name(), "not a 32-byte SHA-256 hash"))
}

/// The parameters of one audit event's row, with its place in the chain.
pub(super) struct AuditEventParams<'e> {
    seq: i64,
    revision: i64,
    event: &'e AuditEvent,
    action: &'static str,
    subject: Option<&'e str>,
    role: Option<&'e str>,
    scope: Option<&'e str>,
    elevation_id: Option<Uuid>,
    grant_id: Option<Uuid>,
    policy_version: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl<'e> AuditEventParams<'e> {
    /// `event` as the `seq`th event, at `revision`, linked from `prev_hash` by `hash`.
    pub(super) fn new(
        event: &'e AuditEvent,
        seq: i64,
        revision: u64,
        prev_hash: [u8; 32],
        hash: [u8; 32],
    ) -> Self {
        AuditEventParams {
            seq,
            revision: revision as i64,
            event,
            action: event.action.as_str(),
            subject: event.subject.as_ref().map(|s| s.as_str()),
            role: event.role.as_ref().map(|r| r.as_str()),
            scope: event.scope.as_ref().map(|s| s.as_str()),
            elevation_id: event.elevation_id.map(|id| id.0),
            grant_id: event.grant_id.map(|id| id.0),
            policy_version: event.policy_version as i64,
            prev_hash: prev_hash.to_vec(),
            hash: hash.to_vec(),
        }
    }

    /// In the order of `INSERT_AUDIT_EVENT`.
    pub(super) fn as_params(&self) -> [&(dyn ToSql + Sync); 18] {
        [
            &self.seq,
            &self.revision,
            &self.event.at,
            &self.event.actor,
            &self.action,
            &self.subject,
            &self.role,
            &self.scope,
            &self.elevation_id,
            &self.grant_id,
            &self.event.reason,
            &self.event.ticket,
            &self.event.details,
            &self.policy_version,
            &self.event.request_id,
            &self.event.trace_id,
            &self.prev_hash,
            &self.hash,
        ]
    }
}

/// The parameters of one risk signal's row, in the order of `INSERT_RISK_SIGNAL`.
pub(super) struct RiskSignalParams<'s> {
    signal: &'s RiskSignal,
    subject: &'s str,
    session: Option<String>,
    score: i32,
    revision: i64,
}

impl<'s> RiskSignalParams<'s> {
    /// `signal` written at `revision`.
    pub(super) fn new(signal: &'s RiskSignal, revision: u64) -> Self {
        RiskSignalParams {
            signal,
            subject: signal.subject.as_str(),
            session: signal.session.as_ref().map(ToString::to_string),
            score: signal.score as i32,
            revision: revision as i64,
        }
    }

    /// As statement parameters.
    pub(super) fn as_params(&self) -> [&(dyn ToSql + Sync); 9] {
        [
            &self.signal.id,
            &self.subject,
            &self.session,
            &self.score,
            &self.signal.flags,
            &self.signal.source,
            &self.signal.reported_at,
            &self.signal.expires_at,
            &self.revision,
        ]
    }
}

/// The parameters of a policy version's row, in the order of `INSERT_POLICY`.
pub(super) struct PolicyParams<'p> {
    policy: &'p PolicyVersion,
    version: i64,
    revision: i64,
}

impl<'p> PolicyParams<'p> {
    /// `policy` written at `revision`.
    pub(super) fn new(policy: &'p PolicyVersion, revision: u64) -> Self {
        PolicyParams {
            policy,
            version: policy.version as i64,
            revision: revision as i64,
        }
    }

    /// As statement parameters.
    pub(super) fn as_params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.version,
            &self.policy.source,
            &self.policy.created_by,
            &self.policy.created_at,
            &self.revision,
        ]
    }
}

/// The parameters of one webhook delivery's row, in the order of `INSERT_OUTBOX`.
pub(super) struct OutboxParams<'m> {
    message: &'m OutboxMessage,
    revision: i64,
}

impl<'m> OutboxParams<'m> {
    /// `message` written at `revision`.
    pub(super) fn new(message: &'m OutboxMessage, revision: u64) -> Self {
        OutboxParams {
            message,
            revision: revision as i64,
        }
    }

    /// As statement parameters.
    pub(super) fn as_params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.message.url,
            &self.message.event_kind,
            &self.message.payload,
            &self.message.created_at,
            &self.revision,
        ]
    }
}
