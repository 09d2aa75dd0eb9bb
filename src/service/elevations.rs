//! Requesting and extending elevations, and the assessment both share with the simulator:
//! everything policy decides about a request before anything is written, in the order a real
//! request meets it (eligibility, limits, required fields, session, rules, separation of
//! duties). The first refusal is what a real request answers.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use super::{
    ElevationOutcome, Elevator, MAX_IDEMPOTENCY_KEY_BYTES, MAX_REASON_BYTES, MAX_SCHEDULE_AHEAD,
    MAX_TICKET_BYTES, NewElevation, PAST_START_TOLERANCE, Page, ServiceError, check_text,
    page_size, page_token,
};
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::{
    ApprovalStep, AuditAction, AuditEvent, Elevation, ElevationId, ElevationState, Grant,
    GroupName, Identity, RequestedDuration, RequesterSnapshot, Revocation, RoleName, Scope,
    SessionId, StandingRole, Subject, TransitionError, format_duration,
};
use crate::policy::rules::{self, RequestFacts, RuleInput, RuleOutcome, TokenFacts};
use crate::policy::{Eligibility, Holding, Ineligible, Policy, SeparationConflict};
use crate::store::{Change, Created, ElevationContext, ElevationFilter};

/// Someone an admin simulates a request for.
#[derive(Debug, Clone)]
pub struct SimulatedRequester {
    /// The subject.
    pub subject: Subject,
    /// Its groups.
    pub groups: Vec<GroupName>,
    /// Its manager.
    pub manager: Option<Subject>,
    /// Its session.
    pub session: Option<SessionId>,
}

/// What policy says of a request.
#[derive(Debug)]
pub struct RequestAssessment {
    /// The policy version assessed under.
    pub policy: Arc<Policy>,
    /// The first reason a real request would be refused; `None` when it would be accepted.
    pub refusal: Option<ServiceError>,
    /// Every request rule with its result.
    pub rules: Vec<RuleOutcome>,
    /// A separation-of-duties conflict, if any.
    pub separation: Option<SeparationConflict>,
    /// The approval chain that would apply.
    pub steps: Vec<ApprovalStep>,
    /// The requester's manager (who approves steps marked `manager_of_requester`).
    pub manager: Option<Subject>,
    /// The session the grant would be bound to.
    pub session: Option<SessionId>,
    /// The access window if approved at the assessed time.
    pub not_before: DateTime<Utc>,
    /// Its end.
    pub not_after: DateTime<Utc>,
    /// The end of the approval window.
    pub request_expires_at: DateTime<Utc>,
    entry: Option<usize>,
}

impl RequestAssessment {
    fn entry(&self) -> Option<&Eligibility> {
        self.entry.map(|index| &self.policy.eligibility()[index])
    }
}

fn ineligible_error(
    policy: &Policy,
    role: &RoleName,
    scope: &Scope,
    ineligible: Ineligible,
) -> ServiceError {
    match ineligible {
        Ineligible::UnknownRole => {
            let mut known: Vec<&str> = policy.roles().map(|r| r.name.as_str()).collect();
            known.sort();
            ServiceError::invalid(
                "role",
                format!(
                    "role {role:?} is not defined in policy; defined roles: {}",
                    known.join(", ")
                ),
            )
        }
        Ineligible::NotEligible => ServiceError::denied(
            "NOT_ELIGIBLE",
            format!("no eligibility entry lets you request {role}"),
        ),
        Ineligible::ScopeNotEligible { allowed } => ServiceError::denied(
            "SCOPE_NOT_ELIGIBLE",
            format!(
                "you may request {role} only on {}; {scope} is outside them",
                allowed.join(", ")
            ),
        ),
    }
}

/// What the requester holds, for separation of duties: its live grants (but `except`), its
/// standing roles, and for static sets the roles it is eligible for.
pub(super) fn holdings<'a>(
    policy: &'a Policy,
    subject: &'a Subject,
    groups: &'a [GroupName],
    grants: &'a [Grant],
    standing: &'a [StandingRole],
    now: DateTime<Utc>,
    except: Option<crate::domain::GrantId>,
) -> impl Iterator<Item = Holding<'a>> + 'a {
    let live = grants
        .iter()
        .filter(move |grant| !grant.has_ended(now) && Some(grant.id) != except)
        .map(|grant| Holding::Grant(grant.id, &grant.role));
    let standing = standing.iter().map(|role| Holding::Standing(&role.role));
    let eligible = policy
        .eligible_roles(subject, groups)
        .into_iter()
        .map(Holding::Eligible);
    live.chain(standing).chain(eligible)
}

impl Elevator {
    /// Assesses `request` by `requester` as at `at`, under `risk` when given (otherwise the
    /// stored signals), as an extension of `extending` when given. Changes nothing.
    pub(super) async fn assess(
        &self,
        requester: &Identity,
        request: &NewElevation,
        at: DateTime<Utc>,
        risk: Option<RiskPicture>,
        extending: Option<&Grant>,
    ) -> Result<RequestAssessment, ServiceError> {
        check_text("reason", &request.reason, MAX_REASON_BYTES)?;
        if let Some(ticket) = &request.ticket {
            check_text("ticket", ticket, MAX_TICKET_BYTES)?;
        }
        if let Some(key) = &request.idempotency_key {
            check_text("idempotency_key", key, MAX_IDEMPOTENCY_KEY_BYTES)?;
        }
        let policy = self.decider.policy();
        let mut assessment = RequestAssessment {
            policy: policy.clone(),
            refusal: None,
            rules: Vec::new(),
            separation: None,
            steps: Vec::new(),
            manager: requester.manager.clone(),
            session: None,
            not_before: at,
            not_after: at,
            request_expires_at: at,
            entry: None,
        };
        let entry = match policy.eligibility_for(requester, &request.role, &request.scope) {
            Ok(entry) => entry,
            Err(ineligible) => {
                assessment.refusal = Some(ineligible_error(
                    &policy,
                    &request.role,
                    &request.scope,
                    ineligible,
                ));
                return Ok(assessment);
            }
        };
        assessment.entry = Some(entry.index);
        assessment.steps = entry.steps.clone();
        assessment.request_expires_at = at + entry.request_ttl;
        let mut refuse = |error: ServiceError| {
            assessment.refusal.get_or_insert(error);
        };

        match extending {
            Some(grant) => {
                assessment.not_before = grant.not_before;
                assessment.not_after = grant.not_after + request.duration.get();
            }
            None => {
                assessment.not_before = request.not_before.map_or(at, |start| start.max(at));
                assessment.not_after = assessment.not_before + request.duration.get();
            }
        }
        let window_from_now = assessment.not_after - assessment.not_before.max(at);
        if window_from_now > entry.max_duration {
            let what = if extending.is_some() {
                "the extended grant would last"
            } else {
                "the access window is"
            };
            refuse(ServiceError::invalid(
                "duration",
                format!(
                    "{what} {}, more than the maximum of {} for {} on this scope",
                    format_duration(window_from_now),
                    format_duration(entry.max_duration),
                    request.role
                ),
            ));
        }
        if let Some(minimum) = entry.min_duration
            && request.duration.get() < minimum
            && extending.is_none()
        {
            refuse(ServiceError::invalid(
                "duration",
                format!(
                    "must be at least {} for {}",
                    format_duration(minimum),
                    request.role
                ),
            ));
        }
        if entry.require_reason && request.reason.trim().is_empty() {
            refuse(ServiceError::invalid(
                "reason",
                "policy requires a reason for this role",
            ));
        }
        if entry.require_ticket
            && request
                .ticket
                .as_deref()
                .is_none_or(|t| t.trim().is_empty())
        {
            refuse(ServiceError::invalid(
                "ticket",
                "policy requires a ticket for this role",
            ));
        }
        if entry.session_bound {
            match &requester.session {
                Some(session) => assessment.session = Some(session.clone()),
                None => refuse(ServiceError::precondition(
                    "SESSION_REQUIRED",
                    "this role is bound to a login session, but the token has no sid claim",
                )),
            }
        }
        if let Some(start) = request.not_before
            && start < at - PAST_START_TOLERANCE
        {
            refuse(ServiceError::invalid(
                "not_before",
                format!(
                    "lies in the past; leave it out to start once approved (a start up to {} ago counts as now)",
                    format_duration(PAST_START_TOLERANCE)
                ),
            ));
        }
        if let Some(start) = request.not_before
            && start > at + MAX_SCHEDULE_AHEAD
        {
            refuse(ServiceError::invalid(
                "not_before",
                format!(
                    "may lie at most {} ahead",
                    format_duration(MAX_SCHEDULE_AHEAD)
                ),
            ));
        }

        let request_rules: Vec<&Arc<rules::Rule>> = policy
            .request_rules()
            .iter()
            .chain(entry.request_rules.iter())
            .collect();
        if !request_rules.is_empty() {
            let risk = match risk {
                Some(risk) => risk,
                None if request_rules.iter().any(|rule| rule.reads_risk()) => {
                    let stored = self
                        .decider
                        .subject_risk(requester.subject.as_str(), 0)
                        .await?;
                    risk_picture(
                        &stored.signals,
                        requester.session.as_ref().map(|s| s.as_str()),
                        at,
                    )
                }
                None => RiskPicture::default(),
            };
            let input = RuleInput {
                token: TokenFacts {
                    sub: requester.subject.as_str(),
                    sid: requester.session.as_ref().map(|s| s.as_str()),
                    groups: requester.groups.iter().map(|g| g.as_str()).collect(),
                    delegated_by: None,
                    amr: requester.amr.iter().map(String::as_str).collect(),
                },
                request: Some(RequestFacts {
                    role: request.role.as_str(),
                    scope: request.scope.as_str(),
                    duration: request.duration.get(),
                    reason: &request.reason,
                    ticket: request.ticket.as_deref().unwrap_or_default(),
                }),
                grant: None,
                risk: &risk,
                now: at,
                time: TimeDelta::zero(),
            };
            let mut outcomes = Vec::new();
            if let rules::RuleVerdict::Refused {
                rule,
                by_risk,
                error,
            } = rules::judge(request_rules, &input, Some(&mut outcomes))
            {
                let (code, why) = if by_risk {
                    ("RISK_DENIED", "the current risk signals")
                } else {
                    ("RULE_DENIED", "a policy rule")
                };
                let error = error
                    .map(|e| format!(" (evaluation failed: {e})"))
                    .unwrap_or_default();
                refuse(ServiceError::denied(
                    code,
                    format!("refused by {why}: `{rule}`{error}"),
                ));
            }
            assessment.rules = outcomes;
        }

        if !policy.separations().is_empty() {
            let grants = self
                .store
                .list_grants(&requester.subject, false, at)
                .await?;
            let conflict = policy.separation_conflict(
                &request.role,
                holdings(
                    &policy,
                    &requester.subject,
                    &requester.groups,
                    &grants,
                    &requester.standing_roles,
                    at,
                    extending.map(|grant| grant.id),
                ),
            );
            if let Some(conflict) = &conflict {
                refuse(ServiceError::denied("SOD_CONFLICT", conflict.to_string()));
            }
            assessment.separation = conflict;
        }
        Ok(assessment)
    }

    /// Asks for a role on a scope for a time.
    #[tracing::instrument(skip_all)]
    pub async fn request_elevation(
        &self,
        caller: &Identity,
        request: NewElevation,
    ) -> Result<ElevationOutcome, ServiceError> {
        let now = self.clock.now();
        let assessment = self.assess(caller, &request, now, None, None).await?;
        self.create(caller, request, assessment, now, None).await
    }

    /// Asks to lengthen the grant of an active elevation by `extension`. Once approved (through
    /// the same chain), the grant's `not_after` moves: no gap, no second grant.
    #[tracing::instrument(skip_all)]
    pub async fn extend_elevation(
        &self,
        caller: &Identity,
        id: ElevationId,
        extension: RequestedDuration,
        reason: String,
        idempotency_key: Option<String>,
    ) -> Result<ElevationOutcome, ServiceError> {
        let now = self.clock.now();
        let original = self.get_elevation(caller, id).await?;
        if original.requester != caller.subject {
            return Err(ServiceError::denied(
                "NOT_ALLOWED",
                "only the requester may extend an elevation",
            ));
        }
        let grant = match (original.state, original.grant_id) {
            (ElevationState::Active | ElevationState::Scheduled, Some(grant_id)) => self
                .store
                .get_grant(grant_id)
                .await?
                .filter(|grant| !grant.has_ended(now)),
            _ => None,
        };
        let Some(grant) = grant else {
            return Err(TransitionError::WrongState {
                action: "extend",
                what: format!("elevation {id}"),
                state: original.state.to_string(),
            }
            .into());
        };
        let request = NewElevation {
            role: original.role.clone(),
            scope: original.scope.clone(),
            duration: extension,
            reason,
            ticket: original.ticket.clone(),
            idempotency_key,
            not_before: None,
        };
        let assessment = self
            .assess(caller, &request, now, None, Some(&grant))
            .await?;
        self.create(caller, request, assessment, now, Some(&grant))
            .await
    }

    /// Writes an accepted request as a pending elevation; a chain without steps is approved by
    /// policy at once, under the elevation's lock like any approval.
    async fn create(
        &self,
        caller: &Identity,
        request: NewElevation,
        assessment: RequestAssessment,
        now: DateTime<Utc>,
        extending: Option<&Grant>,
    ) -> Result<ElevationOutcome, ServiceError> {
        if let Some(refusal) = assessment.refusal {
            return Err(refusal);
        }
        let entry = assessment
            .entry()
            .expect("an accepted request has its eligibility entry");
        let policy_version = assessment.policy.version();
        let elevation = Elevation {
            id: ElevationId::generate(),
            requester: caller.subject.clone(),
            session: match extending {
                Some(grant) => grant.session.clone(),
                None => assessment.session.clone(),
            },
            role: request.role.clone(),
            scope: request.scope.clone(),
            duration: request.duration.get(),
            reason: request.reason.clone(),
            ticket: request.ticket.clone().filter(|t| !t.is_empty()),
            state: ElevationState::Pending,
            state_reason: "waiting for approval".into(),
            created_at: now,
            updated_at: now,
            request_expires_at: assessment.request_expires_at,
            not_before: request.not_before.filter(|start| *start > now),
            steps: entry.steps.clone(),
            votes: Vec::new(),
            requester_claims: RequesterSnapshot {
                groups: caller.groups.clone(),
                manager: caller.manager.clone(),
                roles: caller.roles.clone(),
            },
            policy_version,
            grant_id: None,
            idempotency_key: request.idempotency_key.clone(),
            extends_grant: extending.map(|grant| grant.id),
            delegation: None,
            excluded_approvers: self.delegators_of(caller, &request.role, now).await?,
        };
        let event = AuditEvent::for_elevation(
            AuditAction::ElevationRequested,
            caller.subject.as_str(),
            &elevation,
            policy_version,
            now,
        )
        .with_reason(&elevation.reason)
        .with_details(json!({
            "duration": format_duration(elevation.duration),
            "eligibility": entry.index,
            "steps": elevation.steps.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "extends_grant": elevation.extends_grant.map(|id| id.to_string()),
            "rules": assessment.rules.iter().map(|r| json!({"rule": r.rule, "held": r.held})).collect::<Vec<_>>(),
        }));
        let needs_no_approval = elevation.steps.is_empty();
        let change = Change {
            elevations: vec![elevation],
            events: vec![event],
            ..Default::default()
        };
        let idempotency = request
            .idempotency_key
            .clone()
            .map(|key| (caller.subject.clone(), key));
        match self
            .store
            .create_elevation(self.announce(change), idempotency)
            .await?
        {
            Created::New(committed) => {
                self.after_commit(&committed).await;
                let created = committed.change.elevations[0].clone();
                if needs_no_approval
                    || created
                        .steps
                        .first()
                        .is_some_and(|step| step.auto_approve.is_some())
                {
                    return self.advance_by_policy(created.id).await;
                }
                Ok(ElevationOutcome {
                    elevation: created,
                    grant: None,
                    revision: committed.revision,
                })
            }
            Created::Existing(existing) => {
                if existing.role != request.role
                    || existing.scope != request.scope
                    || existing.duration != request.duration.get()
                    || existing.extends_grant != extending.map(|grant| grant.id)
                {
                    return Err(ServiceError::precondition(
                        "IDEMPOTENCY_KEY_REUSED",
                        "this idempotency key was used for a different request",
                    ));
                }
                let grant = match existing.grant_id {
                    Some(id) => self.store.get_grant(id).await?,
                    None => None,
                };
                Ok(ElevationOutcome {
                    elevation: *existing,
                    grant,
                    revision: self.decider.freshness().known(),
                })
            }
        }
    }

    /// Who delegated `role` to the requester along the chains of its live grants: they may not
    /// approve its elevations of that role.
    async fn delegators_of(
        &self,
        requester: &Identity,
        role: &RoleName,
        now: DateTime<Utc>,
    ) -> Result<Vec<Subject>, ServiceError> {
        let mut delegators: Vec<Subject> = self
            .store
            .list_grants(&requester.subject, false, now)
            .await?
            .into_iter()
            .filter(|grant| &grant.role == role)
            .flat_map(|grant| grant.delegation_trail.into_iter().map(|hop| hop.delegator))
            .collect();
        delegators.sort();
        delegators.dedup();
        Ok(delegators)
    }

    /// Assesses a request without making it: as the caller, or (admins) as someone else, at a
    /// chosen time and under a chosen risk.
    #[tracing::instrument(skip_all)]
    pub async fn simulate_elevation(
        &self,
        caller: &Identity,
        requester: Option<SimulatedRequester>,
        request: NewElevation,
        at: Option<DateTime<Utc>>,
        risk: Option<RiskPicture>,
    ) -> Result<RequestAssessment, ServiceError> {
        let simulated;
        let requester = match requester {
            Some(other) if other.subject != caller.subject || other.groups != caller.groups => {
                self.require_role(
                    caller,
                    &self.roles.admin,
                    "simulating someone else's request",
                )?;
                simulated = Identity {
                    subject: other.subject,
                    session: other.session,
                    groups: other.groups,
                    roles: Vec::new(),
                    standing_roles: Vec::new(),
                    manager: other.manager,
                    amr: Vec::new(),
                    expires_at: caller.expires_at,
                    issuer: None,
                };
                &simulated
            }
            _ => caller,
        };
        let at = at.unwrap_or_else(|| self.clock.now());
        self.assess(requester, &request, at, risk, None).await
    }

    /// One elevation, for its requester, an approver in its chain, or an admin.
    #[tracing::instrument(skip_all)]
    pub async fn get_elevation(
        &self,
        caller: &Identity,
        id: ElevationId,
    ) -> Result<Elevation, ServiceError> {
        let elevation =
            self.store
                .get_elevation(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?;
        if elevation.requester == caller.subject
            || self.is_admin(caller)
            || elevation.is_approver(caller)
        {
            return Ok(elevation);
        }
        // Do not confirm that someone else's elevation exists.
        Err(ServiceError::NotFound {
            what: "elevation",
            id: id.to_string(),
        })
    }

    /// Elevations, newest first: the caller's own, or anyone's for an admin.
    #[tracing::instrument(skip_all)]
    pub async fn list_elevations(
        &self,
        caller: &Identity,
        requester: Option<Subject>,
        state: Option<ElevationState>,
        role: Option<RoleName>,
        page_size_requested: u32,
        token: &str,
    ) -> Result<Page<Elevation>, ServiceError> {
        let requester = match requester {
            Some(requester) if requester != caller.subject && !self.is_admin(caller) => {
                return Err(ServiceError::denied(
                    "ROLE_REQUIRED",
                    format!(
                        "listing another subject's elevations needs the {:?} role",
                        self.roles.admin
                    ),
                ));
            }
            Some(requester) => Some(requester),
            None if self.is_admin(caller) => None,
            None => Some(caller.subject.clone()),
        };
        let limit = page_size(page_size_requested);
        let items = self
            .store
            .list_elevations(&ElevationFilter {
                requester,
                state,
                role,
                before: page_token(token)?,
                limit,
            })
            .await?;
        let next_page_token = (items.len() == limit)
            .then(|| items.last().map(|e| e.id.to_string()))
            .flatten();
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// Withdraws an elevation that is not active yet (its requester, or an admin).
    #[tracing::instrument(skip_all)]
    pub async fn cancel_elevation(
        &self,
        caller: &Identity,
        id: ElevationId,
        reason: &str,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_text("reason", reason, MAX_REASON_BYTES)?;
        let now = self.clock.now();
        let admin = self.is_admin(caller);
        let policy_version = self.decider.policy().version();
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let elevation = &context.elevation;
            if elevation.requester != caller.subject && !admin {
                return Err(TransitionError::NotAllowed(
                    "only the requester or an admin may cancel an elevation".into(),
                ));
            }
            let cancelled = elevation.cancel(reason, now)?;
            let mut change = Change::default();
            change.events.push(
                AuditEvent::for_elevation(
                    AuditAction::ElevationCancelled,
                    caller.subject.as_str(),
                    &cancelled,
                    policy_version,
                    now,
                )
                .with_reason(reason),
            );
            // A scheduled elevation already has its (not yet started) grant: end it too.
            if let Some(grant) = context.grant.filter(|g| g.revocation.is_none()) {
                change.grants.push(grant.revoked(Revocation {
                    at: now,
                    by: caller.subject.to_string(),
                    reason: format!("elevation cancelled: {reason}"),
                }));
            }
            change.elevations.push(cancelled);
            Ok(change)
        };
        let committed = self
            .store
            .update_elevation(id, now, &self.announced(&decide))
            .await?;
        self.after_commit(&committed).await;
        Ok(ElevationOutcome {
            elevation: committed.change.elevations[0].clone(),
            grant: None,
            revision: committed.revision,
        })
    }
}
