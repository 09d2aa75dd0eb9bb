//! [`Printer`]: every result a subcommand prints, as text for people or JSON for scripts.

use serde_json::{Value, json};

use super::json::{audit_event_json, elevation_json, grant_json, hop_json, rule_json};
use super::names::{
    binding_name, grant_status_name, hex, reason_name, rule_verdict, span, state_name, time,
};
use crate::cli::args::OutputFormat;
use crate::policy::PolicyProblem;
use crate::proto::v1 as pb;

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

/// Prints in one format.
pub(crate) struct Printer {
    pub(super) format: OutputFormat,
}

impl Printer {
    /// A printer for `format`.
    pub(crate) fn new(format: OutputFormat) -> Self {
        Printer { format }
    }

    pub(super) fn json(&self, value: Value) {
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
    pub(crate) fn elevation_with_grant(
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
    pub(crate) fn elevations(&self, elevations: &[pb::Elevation]) {
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
    pub(crate) fn grants(&self, grants: &[pb::Grant]) {
        match self.format {
            OutputFormat::Json => self.json(Value::Array(grants.iter().map(grant_json).collect())),
            OutputFormat::Text if grants.is_empty() => println!("no grants"),
            OutputFormat::Text => grants.iter().for_each(Self::grant_text),
        }
    }

    /// Delegated grants, each with its trail.
    pub(crate) fn delegations(&self, grants: &[pb::Grant]) {
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
    pub(crate) fn revoked(&self, grant: Option<&pb::Grant>, revision: u64) {
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
    pub(crate) fn accepted(&self, grant: Option<&pb::Grant>, revision: u64) {
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
    pub(crate) fn session_ended(&self, response: &pb::EndSessionResponse) {
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
    pub(crate) fn decision(&self, response: &pb::CheckResponse) {
        match self.format {
            OutputFormat::Json => self.json(json!({
                "allowed": response.allowed,
                "reason": reason_name(response.reason),
                "grant_id": response.grant_id,
                "role": response.role,
                "grant_session_binding": binding_name(response.grant_session_binding),
                "grant_source": grant_source_name(response.grant_source),
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
                    let source = if response.grant_source == pb::GrantSource::BreakGlass as i32 {
                        ", source break_glass: reviewed afterwards"
                    } else {
                        ""
                    };
                    println!(
                        "  grant {} ({}{unbound}{source})",
                        response.grant_id, response.role
                    );
                }
            }
        }
    }

    /// What a request would meet.
    pub(crate) fn request_simulation(&self, response: &pb::SimulateElevationResponse) {
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
    pub(crate) fn check_simulation(&self, response: &pb::SimulateCheckResponse) {
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
    pub(crate) fn audit_events(&self, events: &[pb::AuditEvent]) {
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
    pub(crate) fn verification(&self, verdict: &pb::VerifyAuditChainResponse) {
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
    pub(crate) fn grant_trail(&self, trail: &pb::GetGrantTrailResponse) {
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
    pub(crate) fn policy(&self, response: &pb::GetPolicyResponse) {
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
    pub(crate) fn policy_put(&self, response: &pb::PutPolicyResponse) {
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
    pub(crate) fn policy_valid(&self, file: &std::path::Path) {
        match self.format {
            OutputFormat::Json => self.json(json!({ "valid": true, "problems": [] })),
            OutputFormat::Text => println!("{}: valid", file.display()),
        }
    }

    /// An invalid document.
    pub(crate) fn policy_problems(&self, file: &std::path::Path, problems: &[PolicyProblem]) {
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
    pub(crate) fn risk_reported(&self, response: &pb::ReportRiskSignalResponse) {
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

/// A grant's source as a word (`elevation`, `delegation`, `break_glass`); empty when unnamed.
fn grant_source_name(source: i32) -> String {
    pb::GrantSource::try_from(source)
        .ok()
        .filter(|source| *source != pb::GrantSource::Unspecified)
        .map(|source| {
            source
                .as_str_name()
                .trim_start_matches("GRANT_SOURCE_")
                .to_lowercase()
        })
        .unwrap_or_default()
}
