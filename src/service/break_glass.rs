//! Breaking glass: a user activates a grant at once, without approval, under a `break_glass`
//! policy entry that lets them (its `who` condition over token, risk and request), giving what
//! the entry requires (incident, reason). Risk and request rules still apply, as does
//! separation of duties: a deny rule refuses unless the entry explicitly overrides deny rules,
//! and then the audit names the rules overridden. A user with an unreviewed use past its
//! deadline cannot break glass again. The use is written in one commit: an active elevation
//! record, a session-bound grant whose source is break-glass, the use with the review it owes,
//! its audit events, and webhook deliveries to the policy's subscribers and the entry's
//! security contacts.
//!
//! The shape is the other use cases': load (policy, risk, grants, open reviews), plan in the
//! domain ([`plan_use`], no I/O), commit.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::assessment::holdings;
use super::{Elevator, MAX_REASON_BYTES, MAX_TICKET_BYTES, ServiceError, check_text};
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::{
    AuditAction, AuditEvent, BreakGlassId, BreakGlassUse, Elevation, ElevationRequest, Grant,
    Identity, RequestedDuration, RequesterSnapshot, Revision, RoleName, Scope, format_duration,
};
use crate::policy::rules::{self, RequestFacts, RuleInput, RuleVerdict, TokenFacts};
use crate::policy::{BreakGlassEntry, Policy};
use crate::store::{BreakGlassFilter, Change, Created, OutboxMessage};

/// A use of break-glass, as the caller asked for it (already well-formed).
#[derive(Debug, Clone)]
pub struct NewBreakGlass {
    /// The policy entry, by name.
    pub entry: String,
    /// The role.
    pub role: RoleName,
    /// The scope.
    pub scope: Scope,
    /// How long; the entry's longest window when not given.
    pub duration: Option<RequestedDuration>,
    /// Why.
    pub reason: String,
    /// The incident reference.
    pub incident: String,
}

/// What breaking glass wrote.
#[derive(Debug, Clone)]
pub struct BreakGlassOutcome {
    /// The use, with the review it owes.
    pub used: BreakGlassUse,
    /// The grant it activated.
    pub grant: Grant,
    /// The committed revision.
    pub revision: Revision,
}

/// What [`plan_use`] decides from.
struct UseContext<'a> {
    caller: &'a Identity,
    request: &'a NewBreakGlass,
    policy: &'a Policy,
    risk: RiskPicture,
    grants: Vec<Grant>,
    now: DateTime<Utc>,
}

impl Elevator {
    /// Breaks glass: activates the role on the scope for the caller's session at once, under
    /// the named entry, and opens the review the use owes.
    #[tracing::instrument(skip_all)]
    pub async fn break_glass(
        &self,
        caller: &Identity,
        request: NewBreakGlass,
    ) -> Result<BreakGlassOutcome, ServiceError> {
        check_text("reason", &request.reason, MAX_REASON_BYTES)?;
        check_text("incident", &request.incident, MAX_TICKET_BYTES)?;
        let now = self.clock.now();
        let policy = self.decider.policy();
        self.refuse_when_review_overdue(caller, now).await?;
        let risk = match caller.session.as_ref() {
            Some(session) => {
                let stored = self
                    .decider
                    .subject_risk(caller.subject.as_str(), 0)
                    .await?;
                risk_picture(&stored.signals, Some(session.as_str()), now)
            }
            None => RiskPicture::default(),
        };
        let grants = if policy.separations().is_empty() {
            Vec::new()
        } else {
            self.store.list_grants(&caller.subject, false, now).await?
        };
        let context = UseContext {
            caller,
            request: &request,
            policy: &policy,
            risk,
            grants,
            now,
        };
        let (entry, planned) = plan_use(&context)?;
        let change = self.announced_use(entry, &planned, policy.version(), now);
        let committed = match self.store.create_elevation(change, None).await? {
            Created::New(committed) => *committed,
            Created::Existing(_) => {
                return Err(ServiceError::Internal(
                    "a break-glass use without an idempotency key found an earlier one".into(),
                ));
            }
        };
        self.after_commit(&committed).await;
        self.metrics.record_break_glass_use();
        Ok(BreakGlassOutcome {
            used: planned.used,
            grant: planned.grant,
            revision: committed.revision,
        })
    }

    /// The break-glass entries of the policy in force that cover a role for `caller`'s use:
    /// what a console offers (whether their condition holds is only known when used).
    pub fn break_glass_entries(&self) -> Vec<BreakGlassEntry> {
        self.decider.policy().break_glass_entries().to_vec()
    }

    /// Refuses a user who has an unreviewed use past its review deadline, however many newer
    /// unreviewed uses they have.
    async fn refuse_when_review_overdue(
        &self,
        caller: &Identity,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let overdue = self
            .store
            .list_break_glass(&BreakGlassFilter {
                subject: Some(caller.subject.clone()),
                unreviewed: true,
                overdue_at: Some(now),
                before: None,
                limit: 1,
            })
            .await?;
        if let Some(overdue) = overdue.first() {
            return Err(ServiceError::precondition(
                "REVIEW_OVERDUE",
                format!(
                    "your break-glass use {} of {} (incident {}) is unreviewed past its deadline \
                     {}; it must be reviewed before you can break glass again",
                    overdue.id,
                    overdue.role,
                    crate::domain::shown(&overdue.incident),
                    overdue.review_due_at.to_rfc3339()
                ),
            ));
        }
        Ok(())
    }

    /// The change a planned use writes, ready to commit: the policy's webhook deliveries, and
    /// one to each of the entry's security contacts for the use itself.
    fn announced_use(
        &self,
        entry: &BreakGlassEntry,
        planned: &PlannedUse,
        policy_version: u64,
        now: DateTime<Utc>,
    ) -> Change {
        let used = &planned.used;
        let details = json!({
            "source": "break_glass",
            "break_glass_id": used.id.to_string(),
            "entry": used.entry,
            "incident": used.incident,
            "duration": format_duration(used.ends_at - used.used_at),
            "reviewers": used.reviewers,
            "review_due_at": used.review_due_at.to_rfc3339(),
            "overrode_deny_rules": !used.overridden_rules.is_empty(),
            "overridden_rules": used.overridden_rules,
        });
        let activated = AuditEvent::for_grant(
            AuditAction::GrantActivated,
            used.subject.as_str(),
            &planned.grant,
            policy_version,
            now,
        )
        .with_reason(&used.reason)
        .with_details(json!({"source": "break_glass", "break_glass_id": used.id.to_string()}));
        let mut announced = AuditEvent::for_elevation(
            AuditAction::BreakGlassUsed,
            used.subject.as_str(),
            &planned.elevation,
            policy_version,
            now,
        )
        .with_reason(&used.reason)
        .with_details(details);
        announced.ticket = Some(used.incident.clone());
        let change = self.ready_to_commit(Change {
            elevations: vec![planned.elevation.clone()],
            grants: vec![planned.grant.clone()],
            events: vec![activated, announced],
            break_glass: vec![used.clone()],
            ..Change::default()
        });
        with_security_contacts(change, entry, AuditAction::BreakGlassUsed)
    }
}

/// Adds a delivery of the change's `action` events to each of the entry's security contacts
/// that the policy's webhooks do not already announce it to.
pub(super) fn with_security_contacts(
    mut change: Change,
    entry: &BreakGlassEntry,
    action: AuditAction,
) -> Change {
    let kind = action.as_str();
    let mut deliveries = Vec::new();
    for event in change.events.iter().filter(|event| event.action == action) {
        for url in &entry.notify {
            let already = change
                .outbox
                .iter()
                .any(|message| &message.url == url && message.event_kind == kind);
            if !already {
                deliveries.push(OutboxMessage {
                    url: url.clone(),
                    event_kind: kind.to_owned(),
                    payload: serde_json::to_value(event).unwrap_or_default(),
                    created_at: event.at,
                });
            }
        }
    }
    change.outbox.extend(deliveries);
    change
}

/// What a use writes.
struct PlannedUse {
    elevation: Elevation,
    grant: Grant,
    used: BreakGlassUse,
}

/// Decides a use, without I/O: the entry, its condition, the fields, the window, the session,
/// the rules (overridden only when the entry says so), separation of duties.
fn plan_use<'p>(
    context: &UseContext<'p>,
) -> Result<(&'p BreakGlassEntry, PlannedUse), ServiceError> {
    let (caller, request, policy) = (context.caller, context.request, context.policy);
    let entry = policy.break_glass_entry(&request.entry).ok_or_else(|| {
        ServiceError::invalid(
            "entry",
            format!(
                "no break_glass entry in policy is called {}",
                crate::domain::shown(&request.entry)
            ),
        )
    })?;
    if !entry.covers(&request.role, &request.scope) {
        return Err(ServiceError::denied(
            "NOT_ELIGIBLE",
            format!(
                "break_glass entry {:?} does not cover {} on {}",
                entry.name, request.role, request.scope
            ),
        ));
    }
    let Some(session) = caller.session.clone() else {
        return Err(ServiceError::precondition(
            "SESSION_REQUIRED",
            "break-glass grants are bound to a login session; sign in with a token that has a \
             sid claim",
        ));
    };
    required_fields(entry, request)?;
    let duration = match request.duration {
        Some(asked) if asked.get() > entry.max_duration => {
            return Err(ServiceError::invalid(
                "duration",
                format!(
                    "break_glass entry {:?} allows at most {}",
                    entry.name,
                    format_duration(entry.max_duration)
                ),
            ));
        }
        Some(asked) => asked.get(),
        None => entry.max_duration,
    };
    let input = rule_input(context, duration);
    if let RuleVerdict::Refused { error, .. } = rules::judge([&entry.condition], &input, None) {
        let why = error
            .map(|e| format!(" (evaluation failed: {e})"))
            .unwrap_or_default();
        return Err(ServiceError::denied(
            "BREAK_GLASS_NOT_ALLOWED",
            format!(
                "break_glass entry {:?} does not let you break glass now: its condition `{}` \
                 does not hold{why}",
                entry.name,
                entry.condition.text()
            ),
        ));
    }
    let overridden_rules = judge_deny_rules(entry, policy, request, &input)?;
    separation(context)?;
    let planned = planned_use(context, entry, session, duration, overridden_rules)?;
    Ok((entry, planned))
}

/// The incident and reason the entry requires.
fn required_fields(entry: &BreakGlassEntry, request: &NewBreakGlass) -> Result<(), ServiceError> {
    if entry.require_incident && request.incident.trim().is_empty() {
        return Err(ServiceError::invalid(
            "incident",
            format!(
                "break_glass entry {:?} requires an incident reference",
                entry.name
            ),
        ));
    }
    if entry.require_reason && request.reason.trim().is_empty() {
        return Err(ServiceError::invalid(
            "reason",
            format!("break_glass entry {:?} requires a reason", entry.name),
        ));
    }
    Ok(())
}

/// What the rules see of a use: the caller's token, the request, the risk, the time.
fn rule_input<'a>(context: &'a UseContext<'a>, duration: TimeDelta) -> RuleInput<'a> {
    let (caller, request) = (context.caller, context.request);
    RuleInput {
        token: TokenFacts {
            sub: caller.subject.as_str(),
            sid: caller.session.as_ref().map(|s| s.as_str()),
            groups: caller.groups.iter().map(|g| g.as_str()).collect(),
            delegated_by: None,
            amr: caller.amr.iter().map(String::as_str).collect(),
        },
        request: Some(RequestFacts {
            role: request.role.as_str(),
            scope: request.scope.as_str(),
            duration,
            reason: &request.reason,
            ticket: &request.incident,
        }),
        grant: None,
        risk: &context.risk,
        now: context.now,
        time: TimeDelta::zero(),
        access: None,
    }
}

/// The request rules a normal request for the role on the scope would meet (the global ones
/// and those of every eligibility entry for the role covering the scope). A refusal refuses the
/// use, unless the entry overrides deny rules: then the rule that refused is returned, for the
/// audit.
fn judge_deny_rules(
    entry: &BreakGlassEntry,
    policy: &Policy,
    request: &NewBreakGlass,
    input: &RuleInput<'_>,
) -> Result<Vec<String>, ServiceError> {
    let rules = policy.request_rules().iter().chain(
        policy
            .eligibility()
            .iter()
            .filter(|eligibility| {
                eligibility.role == request.role && eligibility.covers(&request.scope)
            })
            .flat_map(|eligibility| eligibility.request_rules.iter()),
    );
    let deny_rules: Vec<&Arc<rules::Rule>> = rules
        .filter(|rule| rule.effect() == rules::Effect::Deny)
        .collect();
    let RuleVerdict::Refused {
        rule,
        by_risk,
        error,
    } = rules::judge(deny_rules, input, None)
    else {
        return Ok(Vec::new());
    };
    if entry.override_deny_rules {
        return Ok(vec![rule]);
    }
    let code = if by_risk {
        "RISK_DENIED"
    } else {
        "RULE_DENIED"
    };
    let why = error
        .map(|e| format!(" (evaluation failed: {e})"))
        .unwrap_or_default();
    Err(ServiceError::denied(
        code,
        format!(
            "refused by `{rule}`{why}; break-glass does not override deny rules unless its \
             entry says override_deny_rules: true"
        ),
    ))
}

/// Separation of duties applies to break-glass as to any grant.
fn separation(context: &UseContext<'_>) -> Result<(), ServiceError> {
    let (caller, policy) = (context.caller, context.policy);
    if policy.separations().is_empty() {
        return Ok(());
    }
    let conflict = policy.separation_conflict(
        &context.request.role,
        holdings(
            policy,
            &caller.subject,
            &caller.groups,
            &context.grants,
            &caller.standing_roles,
            context.now,
            None,
        ),
    );
    match conflict {
        Some(conflict) => Err(ServiceError::denied("SOD_CONFLICT", conflict.to_string())),
        None => Ok(()),
    }
}

/// The elevation record, the grant and the use, all starting at `now`.
fn planned_use(
    context: &UseContext<'_>,
    entry: &BreakGlassEntry,
    session: crate::domain::SessionId,
    duration: TimeDelta,
    overridden_rules: Vec<String>,
) -> Result<PlannedUse, ServiceError> {
    let (caller, request, now) = (context.caller, context.request, context.now);
    let requested = Elevation::requested(ElevationRequest {
        requester: caller.subject.clone(),
        session: Some(session.clone()),
        role: request.role.clone(),
        scope: request.scope.clone(),
        duration,
        reason: request.reason.clone(),
        ticket: Some(request.incident.clone()).filter(|incident| !incident.is_empty()),
        requested_at: now,
        request_expires_at: now,
        not_before: None,
        steps: Vec::new(),
        requester_claims: RequesterSnapshot::of(caller),
        policy_version: context.policy.version(),
        idempotency_key: None,
        extends_grant: None,
        delegation: None,
        excluded_approvers: Vec::new(),
    });
    let (elevation, mut grant) = requested.approve_without_steps(now)?.activate(now)?;
    grant.break_glass = true;
    let used = BreakGlassUse {
        id: BreakGlassId::generate(),
        entry: entry.name.clone(),
        subject: caller.subject.clone(),
        session,
        role: request.role.clone(),
        scope: request.scope.clone(),
        reason: request.reason.clone(),
        incident: request.incident.clone(),
        used_at: now,
        ends_at: grant.not_after,
        elevation_id: elevation.id,
        grant_id: grant.id,
        reviewers: entry.reviewers.clone(),
        review_due_at: now + entry.review_within,
        overridden_rules,
        policy_version: context.policy.version(),
        review: None,
    };
    Ok(PlannedUse {
        elevation,
        grant,
        used,
    })
}
