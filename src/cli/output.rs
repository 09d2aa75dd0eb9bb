//! Printing results as text for people or JSON for scripts.

use serde_json::{Value, json};
use tonic_types::StatusExt;

use super::OutputFormat;
use crate::policy::PolicyProblem;
use crate::proto::v1 as pb;

fn time(value: Option<&prost_types::Timestamp>) -> String {
    value
        .and_then(|t| chrono::DateTime::from_timestamp(t.seconds, t.nanos.max(0) as u32))
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

fn span(value: Option<&prost_types::Duration>) -> String {
    value
        .and_then(|d| chrono::TimeDelta::try_seconds(d.seconds))
        .map(crate::domain::format_duration)
        .unwrap_or_default()
}

fn state_name(state: i32) -> String {
    pb::ElevationState::try_from(state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("ELEVATION_STATE_")
                .to_owned()
        })
        .unwrap_or_else(|_| state.to_string())
}

fn grant_status_name(status: i32) -> String {
    pb::GrantStatus::try_from(status)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("GRANT_STATUS_")
                .to_owned()
        })
        .unwrap_or_else(|_| status.to_string())
}

/// `bound`, `awaiting_acceptance`, `unbound` (empty when unspecified).
fn binding_name(binding: i32) -> String {
    pb::SessionBinding::try_from(binding)
        .ok()
        .filter(|b| *b != pb::SessionBinding::Unspecified)
        .map(|b| {
            b.as_str_name()
                .trim_start_matches("SESSION_BINDING_")
                .to_lowercase()
        })
        .unwrap_or_default()
}

fn reason_name(reason: i32) -> String {
    pb::DecisionReason::try_from(reason)
        .map(|r| {
            r.as_str_name()
                .trim_start_matches("DECISION_REASON_")
                .to_lowercase()
        })
        .unwrap_or_else(|_| reason.to_string())
}

fn hop_json(hop: &pb::DelegationHop) -> Value {
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect()
}

/// An audit event as one JSON line (for `audit export`).
pub fn audit_event_json(event: &pb::AuditEvent) -> String {
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
pub fn signed_head_json(head: &pb::SignedAuditHead) -> String {
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
pub fn signed_head_from_json(text: &str) -> Result<pb::SignedAuditHead, String> {
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

fn rule_json(rule: &pb::RuleResult) -> Value {
    json!({ "rule": rule.rule, "held": rule.held, "error": rule.error })
}

fn rule_verdict(rule: &pb::RuleResult) -> String {
    if rule.error.is_empty() {
        rule.held.to_string()
    } else {
        format!("error: {}", rule.error)
    }
}

fn audit_event_text(event: &pb::AuditEvent) {
    let mut line = format!(
        "{:>6}  {}  {:<20} by {}",
        event.seq,
        time(event.at.as_ref()),
        event.action,
        event.actor
    );
    if !event.subject.is_empty() {
        line.push_str(&format!("  subject {}", event.subject));
    }
    if !event.role.is_empty() {
        line.push_str(&format!("  {} on {}", event.role, event.scope));
    }
    if !event.reason.is_empty() {
        line.push_str(&format!("  \"{}\"", event.reason));
    }
    println!("{line}");
}

fn elevation_json(elevation: &pb::Elevation) -> Value {
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

fn grant_json(grant: &pb::Grant) -> Value {
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

/// What to do about a refusal whose message alone could be misread.
fn hint(reason: &str) -> Option<&'static str> {
    match reason {
        "ALREADY_APPROVED" | "ALREADY_DENIED" => Some(
            "your earlier vote stands and this one was not counted; `elevator show <id>` shows the step the elevation waits at",
        ),
        _ => None,
    }
}

/// A status as one line: code, reason code, message, and any field violations.
pub fn describe_status(status: &tonic::Status) -> String {
    let details = status.get_error_details();
    let mut text = format!("{:?}", status.code());
    if let Some(info) = details.error_info() {
        text.push_str(&format!(" ({})", info.reason));
    }
    text.push_str(&format!(": {}", status.message()));
    if let Some(hint) = details.error_info().and_then(|info| hint(&info.reason)) {
        text.push_str(&format!("\n  {hint}"));
    }
    if let Some(bad_request) = details.bad_request() {
        for violation in &bad_request.field_violations {
            text.push_str(&format!(
                "\n  {}: {}",
                violation.field, violation.description
            ));
        }
    }
    text
}

/// Prints in one format.
pub struct Printer {
    format: OutputFormat,
}

impl Printer {
    /// A printer for `format`.
    pub fn new(format: OutputFormat) -> Self {
        Printer { format }
    }

    fn json(&self, value: Value) {
        println!(
            "{}",
            serde_json::to_string_pretty(&value).unwrap_or_default()
        );
    }

    fn elevation_text(elevation: &pb::Elevation) {
        println!(
            "elevation {}  {}",
            elevation.id,
            state_name(elevation.state)
        );
        let session = if elevation.session_id.is_empty() {
            String::new()
        } else {
            format!(" (session {})", elevation.session_id)
        };
        println!("  requester  {}{session}", elevation.requester);
        println!(
            "  asks for   {} on {} for {}",
            elevation.role,
            elevation.scope,
            span(elevation.duration.as_ref())
        );
        if !elevation.reason.is_empty() {
            println!("  reason     {}", elevation.reason);
        }
        if !elevation.ticket.is_empty() {
            println!("  ticket     {}", elevation.ticket);
        }
        for step in &elevation.steps {
            println!(
                "  step       {}: {}/{} approvals{}",
                step.name,
                step.approvals,
                step.quorum,
                if step.met { " (met)" } else { "" }
            );
        }
        for vote in &elevation.votes {
            let verdict = pb::Verdict::try_from(vote.verdict)
                .map(|v| {
                    v.as_str_name()
                        .trim_start_matches("VERDICT_")
                        .to_lowercase()
                })
                .unwrap_or_default();
            println!(
                "  vote       {} {verdict} at {} {}",
                vote.approver,
                time(vote.at.as_ref()),
                vote.comment
            );
        }
        println!("  status     {}", elevation.state_reason);
        if elevation.state == pb::ElevationState::Pending as i32 {
            println!(
                "  decide by  {}",
                time(elevation.request_expires_at.as_ref())
            );
        }
        if !elevation.grant_id.is_empty() {
            println!("  grant      {}", elevation.grant_id);
        }
    }

    fn grant_text(grant: &pb::Grant) {
        let session = match pb::SessionBinding::try_from(grant.session_binding) {
            Ok(pb::SessionBinding::AwaitingAcceptance) => {
                format!("- (not accepted: elevator accept-delegation {})", grant.id)
            }
            Ok(pb::SessionBinding::Unbound) => "none (unbound by policy)".to_owned(),
            _ if grant.session_id.is_empty() => "-".to_owned(),
            _ => grant.session_id.clone(),
        };
        println!(
            "{}  {:<8} {} on {}  session {}  {} .. {}",
            grant.id,
            grant_status_name(grant.status),
            grant.role,
            grant.scope,
            session,
            time(grant.not_before.as_ref()),
            time(grant.not_after.as_ref()),
        );
    }

    /// An elevation (and the grant it created).
    pub fn elevation_with_grant(
        &self,
        elevation: Option<&pb::Elevation>,
        grant: Option<&pb::Grant>,
        revision: u64,
    ) {
        let Some(elevation) = elevation else { return };
        match self.format {
            OutputFormat::Json => self.json(json!({
                "elevation": elevation_json(elevation),
                "grant": grant.map(grant_json),
                "revision": revision,
            })),
            OutputFormat::Text => {
                Self::elevation_text(elevation);
                if let Some(grant) = grant {
                    print!("  created    ");
                    Self::grant_text(grant);
                }
            }
        }
    }

    /// A list of elevations.
    pub fn elevations(&self, elevations: &[pb::Elevation]) {
        match self.format {
            OutputFormat::Json => self.json(Value::Array(
                elevations.iter().map(elevation_json).collect(),
            )),
            OutputFormat::Text if elevations.is_empty() => println!("no elevations"),
            OutputFormat::Text => {
                for elevation in elevations {
                    println!(
                        "{}  {:<9} {} asks for {} on {} for {}: {}",
                        elevation.id,
                        state_name(elevation.state),
                        elevation.requester,
                        elevation.role,
                        elevation.scope,
                        span(elevation.duration.as_ref()),
                        elevation.reason
                    );
                }
            }
        }
    }

    /// A list of grants.
    pub fn grants(&self, grants: &[pb::Grant]) {
        match self.format {
            OutputFormat::Json => self.json(Value::Array(grants.iter().map(grant_json).collect())),
            OutputFormat::Text if grants.is_empty() => println!("no grants"),
            OutputFormat::Text => grants.iter().for_each(Self::grant_text),
        }
    }

    /// Delegated grants, each with its trail.
    pub fn delegations(&self, grants: &[pb::Grant]) {
        match self.format {
            OutputFormat::Json => self.json(Value::Array(grants.iter().map(grant_json).collect())),
            OutputFormat::Text if grants.is_empty() => println!("no delegations"),
            OutputFormat::Text => {
                for grant in grants {
                    Self::grant_text(grant);
                    for hop in &grant.delegation_trail {
                        println!(
                            "    {} -> {} on {} at {}: {}",
                            hop.delegator,
                            hop.delegatee,
                            hop.scope,
                            time(hop.at.as_ref()),
                            hop.reason
                        );
                    }
                }
            }
        }
    }

    /// A revoked grant.
    pub fn revoked(&self, grant: Option<&pb::Grant>, revision: u64) {
        let Some(grant) = grant else { return };
        match self.format {
            OutputFormat::Json => {
                self.json(json!({ "grant": grant_json(grant), "revision": revision }))
            }
            OutputFormat::Text => {
                println!("revoked grant {} at revision {revision}", grant.id);
            }
        }
    }

    /// A delegation taken up in the caller's session.
    pub fn accepted(&self, grant: Option<&pb::Grant>, revision: u64) {
        let Some(grant) = grant else { return };
        match self.format {
            OutputFormat::Json => {
                self.json(json!({ "grant": grant_json(grant), "revision": revision }))
            }
            OutputFormat::Text => {
                println!(
                    "accepted grant {} in session {} at revision {revision}",
                    grant.id, grant.session_id
                );
            }
        }
    }

    /// The end of a session.
    pub fn session_ended(&self, response: &pb::EndSessionResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "revoked_grant_ids": response.revoked_grant_ids,
                "revision": response.revision,
            })),
            OutputFormat::Text => println!(
                "session ended: {} grant(s) revoked at revision {}",
                response.revoked_grant_ids.len(),
                response.revision
            ),
        }
    }

    /// A decision.
    pub fn decision(&self, response: &pb::CheckResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "allowed": response.allowed,
                "reason": reason_name(response.reason),
                "grant_id": response.grant_id,
                "role": response.role,
                "grant_session_binding": binding_name(response.grant_session_binding),
                "delegation_trail": response.delegation_trail.iter().map(hop_json).collect::<Vec<_>>(),
                "revision": response.revision,
                "message": response.message,
            })),
            OutputFormat::Text => {
                let verdict = if response.allowed { "allowed" } else { "denied" };
                println!(
                    "{verdict}: {} (revision {})",
                    reason_name(response.reason),
                    response.revision
                );
                if !response.grant_id.is_empty() {
                    let unbound = if response.grant_session_binding
                        == pb::SessionBinding::Unbound as i32
                    {
                        ", not session-bound by policy"
                    } else {
                        ""
                    };
                    println!(
                        "  grant {} ({}{unbound})",
                        response.grant_id, response.role
                    );
                }
            }
        }
    }

    /// What a request would meet.
    pub fn request_simulation(&self, response: &pb::SimulateElevationResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "eligible": response.eligible,
                "refusal_code": response.refusal_code,
                "refusal": response.refusal,
                "rules": response.rules.iter().map(rule_json).collect::<Vec<_>>(),
                "steps": response.steps.iter().map(|step| json!({
                    "name": step.name,
                    "quorum": step.quorum,
                    "approver_groups": step.approver_groups,
                    "approver_users": step.approver_users,
                    "manager_of_requester": step.manager_of_requester,
                })).collect::<Vec<_>>(),
                "manager": response.manager,
                "sod_conflict": response.sod_conflict,
                "session_id": response.session_id,
                "not_before": time(response.not_before.as_ref()),
                "not_after": time(response.not_after.as_ref()),
                "request_expires_at": time(response.request_expires_at.as_ref()),
                "policy_version": response.policy_version,
            })),
            OutputFormat::Text => {
                if response.eligible {
                    println!("eligible (policy version {})", response.policy_version);
                } else {
                    println!("refused: {} ({})", response.refusal, response.refusal_code);
                }
                for rule in &response.rules {
                    println!("  rule   {}  -> {}", rule.rule, rule_verdict(rule));
                }
                for step in &response.steps {
                    let mut who: Vec<String> = step
                        .approver_groups
                        .iter()
                        .map(|g| format!("group {g}"))
                        .collect();
                    who.extend(step.approver_users.iter().cloned());
                    if step.manager_of_requester {
                        who.push(if response.manager.is_empty() {
                            "the requester's manager (none known)".into()
                        } else {
                            format!("manager {}", response.manager)
                        });
                    }
                    println!(
                        "  step   {}: {} of {}",
                        step.name,
                        step.quorum,
                        who.join(", ")
                    );
                }
                if !response.sod_conflict.is_empty() {
                    println!("  sod    {}", response.sod_conflict);
                }
                println!(
                    "  window {} .. {} (decide by {})",
                    time(response.not_before.as_ref()),
                    time(response.not_after.as_ref()),
                    time(response.request_expires_at.as_ref())
                );
            }
        }
    }

    /// A decision and how every grant fared.
    pub fn check_simulation(&self, response: &pb::SimulateCheckResponse) {
        let Some(decision) = &response.decision else {
            return;
        };
        match self.format {
            OutputFormat::Json => self.json(json!({
                "allowed": decision.allowed,
                "reason": reason_name(decision.reason),
                "grant_id": decision.grant_id,
                "message": decision.message,
                "grants": response.grants.iter().map(|explained| json!({
                    "grant": explained.grant.as_ref().map(grant_json),
                    "carries_permission": explained.carries_permission,
                    "reason": reason_name(explained.reason),
                    "rule": explained.rule,
                    "rules": explained.rules.iter().map(rule_json).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })),
            OutputFormat::Text => {
                self.decision(decision);
                for explained in &response.grants {
                    let Some(grant) = &explained.grant else {
                        continue;
                    };
                    let why = if explained.carries_permission {
                        reason_name(explained.reason)
                    } else {
                        "role lacks the permission".into()
                    };
                    println!("  {} {} on {}: {why}", grant.id, grant.role, grant.scope);
                    if !explained.rule.is_empty() {
                        println!("      decided by {}", explained.rule);
                    }
                    for rule in &explained.rules {
                        println!("      rule {} -> {}", rule.rule, rule_verdict(rule));
                    }
                }
            }
        }
    }

    /// Audit events.
    pub fn audit_events(&self, events: &[pb::AuditEvent]) {
        match self.format {
            OutputFormat::Json => {
                let values: Vec<Value> = events
                    .iter()
                    .map(|event| {
                        serde_json::from_str(&audit_event_json(event)).unwrap_or(Value::Null)
                    })
                    .collect();
                self.json(Value::Array(values));
            }
            OutputFormat::Text if events.is_empty() => println!("no events"),
            OutputFormat::Text => events.iter().for_each(audit_event_text),
        }
    }

    /// A chain verification.
    pub fn verification(&self, verdict: &pb::VerifyAuditChainResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "intact": verdict.intact,
                "verified_seq": verdict.verified_seq,
                "verified_hash": hex(&verdict.verified_hash),
                "broken_seq": verdict.broken_seq,
                "problem": verdict.problem,
                "events_checked": verdict.events_checked,
            })),
            OutputFormat::Text if verdict.intact => println!(
                "intact: {} events verified; head {} {}",
                verdict.events_checked,
                verdict.verified_seq,
                hex(&verdict.verified_hash)
            ),
            OutputFormat::Text => println!(
                "BROKEN at event {}: {} ({} events verified before it)",
                verdict.broken_seq, verdict.problem, verdict.events_checked
            ),
        }
    }

    /// A grant's story.
    pub fn grant_trail(&self, trail: &pb::GetGrantTrailResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "grants": trail.grants.iter().map(grant_json).collect::<Vec<_>>(),
                "events": trail.events.iter()
                    .map(|event| serde_json::from_str::<Value>(&audit_event_json(event)).unwrap_or(Value::Null))
                    .collect::<Vec<_>>(),
            })),
            OutputFormat::Text => {
                for grant in &trail.grants {
                    Self::grant_text(grant);
                }
                trail.events.iter().for_each(audit_event_text);
            }
        }
    }

    /// The policy in force.
    pub fn policy(&self, response: &pb::GetPolicyResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "version": response.version,
                "updated_at": time(response.updated_at.as_ref()),
                "updated_by": response.updated_by,
                "source": response.source,
            })),
            OutputFormat::Text => {
                println!(
                    "# policy version {} (put by {} at {})",
                    response.version,
                    response.updated_by,
                    time(response.updated_at.as_ref())
                );
                print!("{}", response.source);
            }
        }
    }

    /// A replaced policy.
    pub fn policy_put(&self, response: &pb::PutPolicyResponse) {
        match self.format {
            OutputFormat::Json => {
                self.json(json!({ "version": response.version, "revision": response.revision }))
            }
            OutputFormat::Text => println!(
                "policy version {} in force (revision {})",
                response.version, response.revision
            ),
        }
    }

    /// A valid document.
    pub fn policy_valid(&self, file: &std::path::Path) {
        match self.format {
            OutputFormat::Json => self.json(json!({ "valid": true, "problems": [] })),
            OutputFormat::Text => println!("{}: valid", file.display()),
        }
    }

    /// An invalid document.
    pub fn policy_problems(&self, file: &std::path::Path, problems: &[PolicyProblem]) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "valid": false,
                "problems": problems.iter().map(|p| json!({
                    "path": p.path, "message": p.message, "line": p.line, "column": p.column,
                })).collect::<Vec<_>>(),
            })),
            OutputFormat::Text => {
                for problem in problems {
                    println!("{}: {problem}", file.display());
                }
            }
        }
    }

    /// A stored risk signal.
    pub fn risk_reported(&self, response: &pb::ReportRiskSignalResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "signal_id": response.signal_id,
                "expires_at": time(response.expires_at.as_ref()),
                "revision": response.revision,
            })),
            OutputFormat::Text => println!(
                "risk signal {} holds until {} (revision {})",
                response.signal_id,
                time(response.expires_at.as_ref()),
                response.revision
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::{ErrorDetails, StatusExt};

    #[test]
    fn a_repeated_approval_is_described_with_what_it_did_not_do() {
        let mut details = ErrorDetails::new();
        details.set_error_info(
            "ALREADY_APPROVED",
            "elevator",
            std::collections::HashMap::new(),
        );
        let status = tonic::Status::with_error_details(
            tonic::Code::FailedPrecondition,
            "ali already voted approve on step \"manager\" of this elevation at 2026-01-01T00:00:00Z; this call counted nothing. The elevation is PENDING at step \"risk_officer\"",
            details,
        );
        let text = describe_status(&status);
        assert!(
            text.starts_with("FailedPrecondition (ALREADY_APPROVED): ali already voted approve"),
            "{text}"
        );
        assert!(text.contains("was not counted"), "{text}");
    }
}
