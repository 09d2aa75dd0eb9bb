//! The assessment of a request, shared by a real request and the simulator: everything policy
//! decides about it before anything is written, in the order a real request meets it
//! (eligibility, limits, required fields, session, rules, separation of duties). The first
//! refusal is what a real request answers.
//!
//! It runs in two halves: [`Elevator::assess`] loads what policy needs (the policy in force,
//! the requester's risk when a rule reads it, its grants when separation of duties applies),
//! and [`plan`] decides, without I/O, whether the request is accepted or refused.

use std::sync::Arc;

use chrono::{DateTime, TimeDelta, Utc};

use super::{
    Elevator, MAX_IDEMPOTENCY_KEY_BYTES, MAX_REASON_BYTES, MAX_SCHEDULE_AHEAD, MAX_TICKET_BYTES,
    NewElevation, PAST_START_TOLERANCE, ServiceError, check_text,
};
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::{
    ApprovalStep, Grant, GrantId, GroupName, Identity, RoleName, Scope, SessionId, StandingRole,
    Subject, format_duration,
};
use crate::policy::rules::{self, RequestFacts, Rule, RuleInput, RuleOutcome, TokenFacts};
use crate::policy::{Eligibility, Holding, Ineligible, Policy, SeparationConflict};

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

/// What policy says of a request, as the simulator reports it.
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
}

/// A request policy accepts, with the eligibility entry that lets it.
#[derive(Debug)]
pub(super) struct Accepted {
    /// The assessment, with no refusal in it.
    pub(super) assessment: RequestAssessment,
    /// The position of the entry in `assessment.policy`'s eligibility list.
    entry: usize,
}

impl Accepted {
    /// The eligibility entry that accepted the request.
    pub(super) fn entry(&self) -> &Eligibility {
        // `entry` is the position of an entry of this very policy, taken when it was assessed.
        &self.assessment.policy.eligibility()[self.entry]
    }
}

/// A request policy refuses: the first reason, and the assessment that found it.
#[derive(Debug)]
pub(super) struct Refused {
    /// What the request is answered.
    pub(super) reason: ServiceError,
    /// The rest of what policy says of it, for the simulator (boxed: a refusal travels as an
    /// `Err`, which should stay small).
    assessment: Box<RequestAssessment>,
}

impl Refused {
    /// The assessment, with its refusal, as the simulator reports it.
    fn into_report(self) -> RequestAssessment {
        RequestAssessment {
            refusal: Some(self.reason),
            ..*self.assessment
        }
    }
}

/// What [`plan`] decides from: the request and everything loaded for it.
struct Loaded<'a> {
    requester: &'a Identity,
    request: &'a NewElevation,
    at: DateTime<Utc>,
    extending: Option<&'a Grant>,
    policy: Arc<Policy>,
    /// The requester's risk, when a request rule reads it.
    risk: RiskPicture,
    /// The requester's grants, when policy has separation-of-duties sets.
    grants: Vec<Grant>,
}

impl Elevator {
    /// Assesses `request` by `requester` as at `at`, under `risk` when given (otherwise the
    /// stored signals), as an extension of `extending` when given. Changes nothing. Malformed
    /// input and store failures are errors; what policy says is the inner result.
    pub(super) async fn assess(
        &self,
        requester: &Identity,
        request: &NewElevation,
        at: DateTime<Utc>,
        risk: Option<RiskPicture>,
        extending: Option<&Grant>,
    ) -> Result<Result<Accepted, Refused>, ServiceError> {
        check_text("reason", &request.reason, MAX_REASON_BYTES)?;
        if let Some(ticket) = &request.ticket {
            check_text("ticket", ticket, MAX_TICKET_BYTES)?;
        }
        if let Some(key) = &request.idempotency_key {
            check_text("idempotency_key", key, MAX_IDEMPOTENCY_KEY_BYTES)?;
        }
        let policy = self.decider.policy();
        let mut loaded = Loaded {
            requester,
            request,
            at,
            extending,
            policy: policy.clone(),
            risk: risk.clone().unwrap_or_default(),
            grants: Vec::new(),
        };
        // An ineligible request is refused before anything else is loaded for it.
        if let Ok(entry) = policy.eligibility_for(requester, &request.role, &request.scope) {
            let reads_risk = request_rules(&policy, entry).any(|rule| rule.reads_risk());
            if risk.is_none() && reads_risk {
                let stored = self
                    .decider
                    .subject_risk(requester.subject.as_str(), 0)
                    .await?;
                loaded.risk = risk_picture(
                    &stored.signals,
                    requester.session.as_ref().map(|s| s.as_str()),
                    at,
                );
            }
            if !policy.separations().is_empty() {
                loaded.grants = self
                    .store
                    .list_grants(&requester.subject, false, at)
                    .await?;
            }
        }
        Ok(plan(&loaded))
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
        Ok(
            match self.assess(requester, &request, at, risk, None).await? {
                Ok(accepted) => accepted.assessment,
                Err(refused) => refused.into_report(),
            },
        )
    }
}

/// The request rules that apply to a request under `entry`: the policy's, then the entry's.
fn request_rules<'p>(
    policy: &'p Policy,
    entry: &'p Eligibility,
) -> impl Iterator<Item = &'p Arc<Rule>> + 'p {
    policy
        .request_rules()
        .iter()
        .chain(entry.request_rules.iter())
}

/// What policy decides of a loaded request, without I/O: accepted with its entry, or refused
/// for the first reason found (the assessment still records everything else found).
fn plan(loaded: &Loaded<'_>) -> Result<Accepted, Refused> {
    let policy = &loaded.policy;
    let request = loaded.request;
    let mut assessment = RequestAssessment {
        policy: policy.clone(),
        refusal: None,
        rules: Vec::new(),
        separation: None,
        steps: Vec::new(),
        manager: loaded.requester.manager.clone(),
        session: None,
        not_before: loaded.at,
        not_after: loaded.at,
        request_expires_at: loaded.at,
    };
    let entry = match policy.eligibility_for(loaded.requester, &request.role, &request.scope) {
        Ok(entry) => entry,
        Err(ineligible) => {
            let reason = ineligible_error(policy, &request.role, &request.scope, ineligible);
            return Err(Refused {
                reason,
                assessment: Box::new(assessment),
            });
        }
    };
    assessment.steps = entry.steps.clone();
    assessment.request_expires_at = loaded.at + entry.request_ttl;
    let mut refusals = plan_window(loaded, entry, &mut assessment);
    refusals.extend(plan_fields(loaded, entry, &mut assessment));
    refusals.extend(judge_rules(loaded, entry, &mut assessment));
    refusals.extend(separation(loaded, &mut assessment));
    match refusals.into_iter().next() {
        Some(reason) => Err(Refused {
            reason,
            assessment: Box::new(assessment),
        }),
        None => Ok(Accepted {
            assessment,
            entry: entry.index,
        }),
    }
}

/// The access window, and what policy's limits say of it.
fn plan_window(
    loaded: &Loaded<'_>,
    entry: &Eligibility,
    assessment: &mut RequestAssessment,
) -> Vec<ServiceError> {
    let (at, request) = (loaded.at, loaded.request);
    let mut refusals = Vec::new();
    match loaded.extending {
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
        let what = if loaded.extending.is_some() {
            "the extended grant would last"
        } else {
            "the access window is"
        };
        refusals.push(ServiceError::invalid(
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
        && loaded.extending.is_none()
    {
        refusals.push(ServiceError::invalid(
            "duration",
            format!(
                "must be at least {} for {}",
                format_duration(minimum),
                request.role
            ),
        ));
    }
    refusals
}

/// The fields policy requires (reason, ticket, a session), and the requested start.
fn plan_fields(
    loaded: &Loaded<'_>,
    entry: &Eligibility,
    assessment: &mut RequestAssessment,
) -> Vec<ServiceError> {
    let (at, request) = (loaded.at, loaded.request);
    let mut refusals = Vec::new();
    if entry.require_reason && request.reason.trim().is_empty() {
        refusals.push(ServiceError::invalid(
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
        refusals.push(ServiceError::invalid(
            "ticket",
            "policy requires a ticket for this role",
        ));
    }
    if entry.session_bound {
        match &loaded.requester.session {
            Some(session) => assessment.session = Some(session.clone()),
            None => refusals.push(ServiceError::precondition(
                "SESSION_REQUIRED",
                "this role is bound to a login session, but the token has no sid claim",
            )),
        }
    }
    if let Some(start) = request.not_before
        && start < at - PAST_START_TOLERANCE
    {
        refusals.push(ServiceError::invalid(
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
        refusals.push(ServiceError::invalid(
            "not_before",
            format!(
                "may lie at most {} ahead",
                format_duration(MAX_SCHEDULE_AHEAD)
            ),
        ));
    }
    refusals
}

/// The request rules, each recorded with its result; the first that refuses, if any.
fn judge_rules(
    loaded: &Loaded<'_>,
    entry: &Eligibility,
    assessment: &mut RequestAssessment,
) -> Option<ServiceError> {
    let rules: Vec<&Arc<Rule>> = request_rules(&loaded.policy, entry).collect();
    if rules.is_empty() {
        return None;
    }
    let (requester, request) = (loaded.requester, loaded.request);
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
        risk: &loaded.risk,
        now: loaded.at,
        time: TimeDelta::zero(),
        access: None,
    };
    let mut outcomes = Vec::new();
    let verdict = rules::judge(rules, &input, Some(&mut outcomes));
    assessment.rules = outcomes;
    let rules::RuleVerdict::Refused {
        rule,
        by_risk,
        error,
    } = verdict
    else {
        return None;
    };
    let (code, why) = if by_risk {
        ("RISK_DENIED", "the current risk signals")
    } else {
        ("RULE_DENIED", "a policy rule")
    };
    let error = error
        .map(|e| format!(" (evaluation failed: {e})"))
        .unwrap_or_default();
    Some(ServiceError::denied(
        code,
        format!("refused by {why}: `{rule}`{error}"),
    ))
}

/// A separation-of-duties conflict with what the requester holds (an extension's own grant
/// aside).
fn separation(loaded: &Loaded<'_>, assessment: &mut RequestAssessment) -> Option<ServiceError> {
    let policy = &loaded.policy;
    if policy.separations().is_empty() {
        return None;
    }
    let requester = loaded.requester;
    let conflict = policy.separation_conflict(
        &loaded.request.role,
        holdings(
            policy,
            &requester.subject,
            &requester.groups,
            &loaded.grants,
            &requester.standing_roles,
            loaded.at,
            loaded.extending.map(|grant| grant.id),
        ),
    );
    let refusal = conflict
        .as_ref()
        .map(|conflict| ServiceError::denied("SOD_CONFLICT", conflict.to_string()));
    assessment.separation = conflict;
    refusal
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
    except: Option<GrantId>,
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
