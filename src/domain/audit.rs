//! Audit events: one is appended, in the same transaction, for every change. The store assigns
//! each its sequence number and revision.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{ElevationId, GrantId};
use super::names::{RoleName, Subject};
use super::scope::Scope;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AuditAction {
    /// An elevation was requested.
    #[serde(rename = "elevation.requested")]
    ElevationRequested,
    /// An approver approved a step.
    #[serde(rename = "approval.approved")]
    ApprovalApproved,
    /// An approver denied a step.
    #[serde(rename = "approval.denied")]
    ApprovalDenied,
    /// Policy met a step by itself (an `auto_approve` rule held).
    #[serde(rename = "approval.auto_approved")]
    ApprovalAutoApproved,
    /// Every step was met.
    #[serde(rename = "elevation.approved")]
    ElevationApproved,
    /// The elevation was denied.
    #[serde(rename = "elevation.denied")]
    ElevationDenied,
    /// The requester withdrew it.
    #[serde(rename = "elevation.cancelled")]
    ElevationCancelled,
    /// Nobody decided in time.
    #[serde(rename = "elevation.timed_out")]
    ElevationTimedOut,
    /// A grant started counting.
    #[serde(rename = "grant.activated")]
    GrantActivated,
    /// A role was delegated: the delegatee's grant was created.
    #[serde(rename = "grant.delegated")]
    GrantDelegated,
    /// A delegatee took up a delegated grant in one of its sessions.
    #[serde(rename = "delegation.accepted")]
    DelegationAccepted,
    /// A grant was created to start later.
    #[serde(rename = "grant.scheduled")]
    GrantScheduled,
    /// A grant's window was lengthened by an approved extension.
    #[serde(rename = "grant.extended")]
    GrantExtended,
    /// A grant reached its end.
    #[serde(rename = "grant.expired")]
    GrantExpired,
    /// A grant was revoked.
    #[serde(rename = "grant.revoked")]
    GrantRevoked,
    /// A login session ended and its grants with it.
    #[serde(rename = "session.ended")]
    SessionEnded,
    /// The policy was replaced.
    #[serde(rename = "policy.changed")]
    PolicyChanged,
    /// A risk signal was reported.
    #[serde(rename = "risk.reported")]
    RiskReported,
    /// A directory entity was created or replaced.
    #[serde(rename = "directory.entity_put")]
    DirectoryEntityPut,
    /// A directory entity was deleted.
    #[serde(rename = "directory.entity_deleted")]
    DirectoryEntityDeleted,
    /// Directory entities were imported in bulk.
    #[serde(rename = "directory.imported")]
    DirectoryImported,
    /// Someone broke glass: an emergency grant was activated at once, without approval.
    #[serde(rename = "break_glass.used")]
    BreakGlassUsed,
    /// A reviewer confirmed a break-glass use.
    #[serde(rename = "break_glass.confirmed")]
    BreakGlassConfirmed,
    /// A reviewer flagged a break-glass use: an alert.
    #[serde(rename = "break_glass.flagged")]
    BreakGlassFlagged,
    /// An access review campaign was started.
    #[serde(rename = "review.campaign_started")]
    ReviewCampaignStarted,
    /// A review item was decided (by a reviewer, or by the deadline's default).
    #[serde(rename = "review.item_decided")]
    ReviewItemDecided,
    /// A review item missed its deadline and went to the escalation reviewers.
    #[serde(rename = "review.item_escalated")]
    ReviewItemEscalated,
    /// A campaign's result was exported as signed evidence.
    #[serde(rename = "review.evidence_exported")]
    ReviewEvidenceExported,
    /// A token carrying a grant was minted by token exchange.
    #[serde(rename = "token.minted")]
    TokenMinted,
}

impl AuditAction {
    /// Every action.
    pub(crate) const ALL: [AuditAction; 29] = [
        AuditAction::ElevationRequested,
        AuditAction::ApprovalApproved,
        AuditAction::ApprovalDenied,
        AuditAction::ApprovalAutoApproved,
        AuditAction::ElevationApproved,
        AuditAction::ElevationDenied,
        AuditAction::ElevationCancelled,
        AuditAction::ElevationTimedOut,
        AuditAction::GrantActivated,
        AuditAction::GrantDelegated,
        AuditAction::DelegationAccepted,
        AuditAction::GrantScheduled,
        AuditAction::GrantExtended,
        AuditAction::GrantExpired,
        AuditAction::GrantRevoked,
        AuditAction::SessionEnded,
        AuditAction::PolicyChanged,
        AuditAction::RiskReported,
        AuditAction::DirectoryEntityPut,
        AuditAction::DirectoryEntityDeleted,
        AuditAction::DirectoryImported,
        AuditAction::BreakGlassUsed,
        AuditAction::BreakGlassConfirmed,
        AuditAction::BreakGlassFlagged,
        AuditAction::ReviewCampaignStarted,
        AuditAction::ReviewItemDecided,
        AuditAction::ReviewItemEscalated,
        AuditAction::ReviewEvidenceExported,
        AuditAction::TokenMinted,
    ];

    /// The stored name, e.g. `grant.revoked`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ElevationRequested => "elevation.requested",
            AuditAction::ApprovalApproved => "approval.approved",
            AuditAction::ApprovalDenied => "approval.denied",
            AuditAction::ApprovalAutoApproved => "approval.auto_approved",
            AuditAction::ElevationApproved => "elevation.approved",
            AuditAction::ElevationDenied => "elevation.denied",
            AuditAction::ElevationCancelled => "elevation.cancelled",
            AuditAction::ElevationTimedOut => "elevation.timed_out",
            AuditAction::GrantActivated => "grant.activated",
            AuditAction::GrantDelegated => "grant.delegated",
            AuditAction::DelegationAccepted => "delegation.accepted",
            AuditAction::GrantScheduled => "grant.scheduled",
            AuditAction::GrantExtended => "grant.extended",
            AuditAction::GrantExpired => "grant.expired",
            AuditAction::GrantRevoked => "grant.revoked",
            AuditAction::SessionEnded => "session.ended",
            AuditAction::PolicyChanged => "policy.changed",
            AuditAction::RiskReported => "risk.reported",
            AuditAction::DirectoryEntityPut => "directory.entity_put",
            AuditAction::DirectoryEntityDeleted => "directory.entity_deleted",
            AuditAction::DirectoryImported => "directory.imported",
            AuditAction::BreakGlassUsed => "break_glass.used",
            AuditAction::BreakGlassConfirmed => "break_glass.confirmed",
            AuditAction::BreakGlassFlagged => "break_glass.flagged",
            AuditAction::ReviewCampaignStarted => "review.campaign_started",
            AuditAction::ReviewItemDecided => "review.item_decided",
            AuditAction::ReviewItemEscalated => "review.item_escalated",
            AuditAction::ReviewEvidenceExported => "review.evidence_exported",
            AuditAction::TokenMinted => "token.minted",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|action| action.as_str() == text)
    }
}

/// One audit event, before the store numbers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// What happened.
    pub action: AuditAction,
    /// Who did it: a verified subject, or `system` for the expiry sweeper.
    pub actor: String,
    /// Whom it concerns.
    pub subject: Option<Subject>,
    /// The role concerned.
    pub role: Option<RoleName>,
    /// The scope concerned.
    pub scope: Option<Scope>,
    /// The elevation concerned.
    pub elevation_id: Option<ElevationId>,
    /// The grant concerned.
    pub grant_id: Option<GrantId>,
    /// The reason given, or the comment.
    pub reason: String,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// Anything else worth keeping (approvers, trail, score...).
    pub details: serde_json::Value,
    /// The policy version in force.
    pub policy_version: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// The id of the request that caused it (the `x-request-id` it came with, or one given).
    #[serde(default)]
    pub request_id: Option<String>,
    /// The W3C trace it belongs to, when the request carried one.
    #[serde(default)]
    pub trace_id: Option<String>,
}

/// The hash before the first event of the chain.
pub(crate) const GENESIS_HASH: [u8; 32] = [0; 32];

/// Writes `value` as JSON with every object's keys sorted, whatever order it was built or read
/// back in (PostgreSQL's jsonb reorders keys).
pub(crate) fn write_canonical(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String((*key).clone()).to_string());
                out.push(':');
                write_canonical(&map[*key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The canonical encoding of an event at its place in the chain: every field, in a fixed order,
/// with times to the microsecond and the previous event's hash.
pub(crate) fn canonical_encoding(
    seq: u64,
    revision: u64,
    prev_hash: &[u8; 32],
    event: &AuditEvent,
) -> String {
    let value = serde_json::json!({
        "seq": seq,
        "revision": revision,
        "prev_hash": hex(prev_hash),
        "at": event.at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "actor": event.actor,
        "action": event.action.as_str(),
        "subject": event.subject.as_ref().map(|s| s.as_str()),
        "role": event.role.as_ref().map(|r| r.as_str()),
        "scope": event.scope.as_ref().map(|s| s.as_str()),
        "elevation_id": event.elevation_id.map(|id| id.to_string()),
        "grant_id": event.grant_id.map(|id| id.to_string()),
        "reason": event.reason,
        "ticket": event.ticket,
        "details": event.details,
        "policy_version": event.policy_version,
        "request_id": event.request_id,
        "trace_id": event.trace_id,
    });
    let mut out = String::new();
    write_canonical(&value, &mut out);
    out
}

/// The chain hash of an event: SHA-256 of its canonical encoding.
pub(crate) fn chain_hash(
    seq: u64,
    revision: u64,
    prev_hash: &[u8; 32],
    event: &AuditEvent,
) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(canonical_encoding(seq, revision, prev_hash, event).as_bytes()).into()
}

/// The actor recorded for changes the server makes by itself (expiry, time-outs).
pub(crate) const SYSTEM_ACTOR: &str = "system";

impl AuditEvent {
    /// A blank event of `action` by `actor` at `at`; callers fill in what applies.
    pub fn new(
        action: AuditAction,
        actor: impl Into<String>,
        policy_version: u64,
        at: DateTime<Utc>,
    ) -> Self {
        AuditEvent {
            action,
            actor: actor.into(),
            subject: None,
            role: None,
            scope: None,
            elevation_id: None,
            grant_id: None,
            reason: String::new(),
            ticket: None,
            details: serde_json::Value::Null,
            policy_version,
            at,
            request_id: None,
            trace_id: None,
        }
    }

    /// An event about `elevation`, copying its subject, role, scope, ticket and ids.
    pub fn for_elevation(
        action: AuditAction,
        actor: impl Into<String>,
        elevation: &super::Elevation,
        policy_version: u64,
        at: DateTime<Utc>,
    ) -> Self {
        AuditEvent {
            subject: Some(elevation.requester.clone()),
            role: Some(elevation.role.clone()),
            scope: Some(elevation.scope.clone()),
            elevation_id: Some(elevation.id),
            grant_id: elevation.grant_id,
            ticket: elevation.ticket.clone(),
            ..AuditEvent::new(action, actor, policy_version, at)
        }
    }

    /// An event about `grant`.
    pub fn for_grant(
        action: AuditAction,
        actor: impl Into<String>,
        grant: &super::Grant,
        policy_version: u64,
        at: DateTime<Utc>,
    ) -> Self {
        AuditEvent {
            subject: Some(grant.subject.clone()),
            role: Some(grant.role.clone()),
            scope: Some(grant.scope.clone()),
            elevation_id: grant.elevation_id,
            grant_id: Some(grant.id),
            ..AuditEvent::new(action, actor, policy_version, at)
        }
    }

    /// Sets the reason.
    pub(crate) fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = reason.into();
        self
    }

    /// Sets the details.
    pub(crate) fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_match_serde() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).unwrap(),
                serde_json::Value::String(action.as_str().into())
            );
        }
    }
}
