//! The JSON shapes of the protocol's messages, for `--output json`, `audit export` and the
//! signed audit head kept between `audit head` and `audit verify --head`.

use serde_json::{Value, json};

use super::names::{binding_name, grant_status_name, hex, span, state_name, time, unhex};
use crate::proto::v1 as pb;

pub(super) fn hop_json(hop: &pb::DelegationHop) -> Value {
    json!({
        "delegator": hop.delegator,
        "delegatee": hop.delegatee,
        "scope": hop.scope,
        "reason": hop.reason,
        "approvers": hop.approvers,
        "at": time(hop.at.as_ref()),
        "grant_id": hop.grant_id,
    })
}

/// An audit event as one JSON line (for `audit export`).
pub(crate) fn audit_event_json(event: &pb::AuditEvent) -> String {
    let details: Value = serde_json::from_str(&event.details_json).unwrap_or(Value::Null);
    json!({
        "seq": event.seq,
        "revision": event.revision,
        "at": event.at.as_ref().and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "role": event.role,
        "scope": event.scope,
        "elevation_id": event.elevation_id,
        "grant_id": event.grant_id,
        "reason": event.reason,
        "ticket": event.ticket,
        "details": details,
        "policy_version": event.policy_version,
        "request_id": event.request_id,
        "trace_id": event.trace_id,
        "prev_hash": hex(&event.prev_hash),
        "hash": hex(&event.hash),
    })
    .to_string()
}

/// A signed head as JSON, to keep elsewhere and pass back to `audit verify --head`.
pub(crate) fn signed_head_json(head: &pb::SignedAuditHead) -> String {
    let signed_at = head
        .signed_at
        .as_ref()
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true));
    serde_json::to_string_pretty(&json!({
        "seq": head.seq,
        "hash": hex(&head.hash),
        "revision": head.revision,
        "signed_at": signed_at,
        "public_key": hex(&head.public_key),
        "signature": hex(&head.signature),
    }))
    .unwrap_or_default()
}

/// Reads a signed head saved by [`signed_head_json`].
pub(crate) fn signed_head_from_json(text: &str) -> Result<pb::SignedAuditHead, String> {
    let value: Value =
        serde_json::from_str(text).map_err(|error| format!("the head is not JSON: {error}"))?;
    let field = |name: &str| {
        value
            .get(name)
            .ok_or_else(|| format!("the head has no {name}"))
    };
    let bytes = |name: &str| -> Result<Vec<u8>, String> {
        field(name)?
            .as_str()
            .and_then(unhex)
            .ok_or_else(|| format!("the head's {name} is not hex"))
    };
    let signed_at = field("signed_at")?
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .ok_or("the head's signed_at is not an RFC 3339 time")?;
    Ok(pb::SignedAuditHead {
        seq: field("seq")?
            .as_u64()
            .ok_or("the head's seq is not a number")?,
        hash: bytes("hash")?,
        revision: field("revision")?
            .as_u64()
            .ok_or("the head's revision is not a number")?,
        signed_at: Some(prost_types::Timestamp {
            seconds: signed_at.timestamp(),
            nanos: signed_at.timestamp_subsec_nanos() as i32,
        }),
        public_key: bytes("public_key")?,
        signature: bytes("signature")?,
    })
}

pub(super) fn rule_json(rule: &pb::RuleResult) -> Value {
    json!({ "rule": rule.rule, "held": rule.held, "error": rule.error })
}

pub(super) fn elevation_json(elevation: &pb::Elevation) -> Value {
    json!({
        "id": elevation.id,
        "state": state_name(elevation.state),
        "state_reason": elevation.state_reason,
        "requester": elevation.requester,
        "session_id": elevation.session_id,
        "role": elevation.role,
        "scope": elevation.scope,
        "duration": span(elevation.duration.as_ref()),
        "reason": elevation.reason,
        "ticket": elevation.ticket,
        "created_at": time(elevation.created_at.as_ref()),
        "updated_at": time(elevation.updated_at.as_ref()),
        "request_expires_at": time(elevation.request_expires_at.as_ref()),
        "grant_id": elevation.grant_id,
        "policy_version": elevation.policy_version,
        "steps": elevation.steps.iter().map(|step| json!({
            "name": step.name,
            "quorum": step.quorum,
            "approvals": step.approvals,
            "met": step.met,
            "approver_groups": step.approver_groups,
            "approver_users": step.approver_users,
            "manager_of_requester": step.manager_of_requester,
        })).collect::<Vec<_>>(),
        "votes": elevation.votes.iter().map(|vote| json!({
            "approver": vote.approver,
            "step": vote.step,
            "verdict": pb::Verdict::try_from(vote.verdict).map(|v| v.as_str_name().trim_start_matches("VERDICT_").to_lowercase()).unwrap_or_default(),
            "comment": vote.comment,
            "at": time(vote.at.as_ref()),
        })).collect::<Vec<_>>(),
    })
}

pub(super) fn grant_json(grant: &pb::Grant) -> Value {
    json!({
        "id": grant.id,
        "subject": grant.subject,
        "session_id": grant.session_id,
        "session_binding": binding_name(grant.session_binding),
        "role": grant.role,
        "scope": grant.scope,
        "status": grant_status_name(grant.status),
        "not_before": time(grant.not_before.as_ref()),
        "not_after": time(grant.not_after.as_ref()),
        "elevation_id": grant.elevation_id,
        "parent_grant_id": grant.parent_grant_id,
        "delegation_trail": grant.delegation_trail.iter().map(hop_json).collect::<Vec<_>>(),
        "revoked_at": time(grant.revoked_at.as_ref()),
        "revoked_by": grant.revoked_by,
        "revoke_reason": grant.revoke_reason,
    })
}
