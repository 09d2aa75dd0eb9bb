//! Elevations and their state machine:
//! `PENDING -> APPROVED -> ACTIVE -> EXPIRED | REVOKED`, `PENDING -> DENIED | CANCELLED |
//! TIMED_OUT`, and `APPROVED -> SCHEDULED -> ACTIVE` when the requested start lies ahead.
//!
//! Every transition is a pure function from the current elevation to the next one (or a
//! [`TransitionError`] saying why not); the store applies the result atomically, under a lock
//! on the row, so two replicas racing cannot both win.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::grant::Grant;
use super::identity::Identity;
use super::ids::{ElevationId, GrantId};
use super::names::{GroupName, RoleName, SessionId, Subject};
use super::scope::Scope;

/// Where an elevation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ElevationState {
    /// Waiting for approvals.
    Pending,
    /// Every step met; about to become active or scheduled (never stored by itself).
    Approved,
    /// Approved; its grant starts later.
    Scheduled,
    /// Its grant counts.
    Active,
    /// Its grant reached `not_after`.
    Expired,
    /// Its grant was revoked.
    Revoked,
    /// An approver denied it.
    Denied,
    /// The requester withdrew it.
    Cancelled,
    /// Nobody decided within the approval window.
    TimedOut,
}

impl ElevationState {
    /// Every state, in life-cycle order.
    pub const ALL: [ElevationState; 9] = [
        ElevationState::Pending,
        ElevationState::Approved,
        ElevationState::Scheduled,
        ElevationState::Active,
        ElevationState::Expired,
        ElevationState::Revoked,
        ElevationState::Denied,
        ElevationState::Cancelled,
        ElevationState::TimedOut,
    ];

    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            ElevationState::Pending => "PENDING",
            ElevationState::Approved => "APPROVED",
            ElevationState::Scheduled => "SCHEDULED",
            ElevationState::Active => "ACTIVE",
            ElevationState::Expired => "EXPIRED",
            ElevationState::Revoked => "REVOKED",
            ElevationState::Denied => "DENIED",
            ElevationState::Cancelled => "CANCELLED",
            ElevationState::TimedOut => "TIMED_OUT",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|state| state.as_str() == text)
    }

    /// Whether nothing can happen to the elevation any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ElevationState::Expired
                | ElevationState::Revoked
                | ElevationState::Denied
                | ElevationState::Cancelled
                | ElevationState::TimedOut
        )
    }

    /// The transitions the state machine allows.
    pub fn can_move_to(self, next: ElevationState) -> bool {
        use ElevationState::*;
        matches!(
            (self, next),
            (Pending, Approved | Denied | Cancelled | TimedOut)
                | (Approved, Active | Scheduled)
                | (Scheduled, Active | Cancelled | Revoked)
                | (Active, Expired | Revoked)
        )
    }

    /// Whether one committed write may take an elevation from this state to `next`: staying,
    /// one transition, or two through the transient `APPROVED` (a final approval activates).
    pub fn may_become_in_one_write(self, next: ElevationState) -> bool {
        self == next
            || self.can_move_to(next)
            || (self.can_move_to(ElevationState::Approved)
                && ElevationState::Approved.can_move_to(next))
    }
}

impl std::fmt::Display for ElevationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may approve a step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApproverSpec {
    /// Members of any of these groups.
    pub groups: Vec<GroupName>,
    /// These subjects.
    pub users: Vec<Subject>,
    /// The requester's manager, from the requester's `manager` claim.
    pub manager_of_requester: bool,
    /// Holders of any of these roles as standing roles in their own token. A role held through
    /// an elevated or delegated grant never counts: approvals cannot be bootstrapped.
    #[serde(default)]
    pub roles: Vec<RoleName>,
}

impl ApproverSpec {
    /// Whether `approver` may approve, on `scope`, for a requester described by `requester`.
    pub fn admits(
        &self,
        approver: &Identity,
        requester: &RequesterSnapshot,
        scope: &Scope,
    ) -> bool {
        self.users.contains(&approver.subject)
            || self.groups.iter().any(|group| approver.in_group(group))
            || (self.manager_of_requester && requester.manager.as_ref() == Some(&approver.subject))
            || self.roles.iter().any(|role| {
                approver
                    .standing_roles
                    .iter()
                    .any(|standing| &standing.role == role && standing.covers(scope.as_str()))
            })
    }
}

/// One step of an approval chain, as captured from policy when the request was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalStep {
    /// The step's name (e.g. `manager`).
    pub name: String,
    /// Who may approve.
    pub approvers: ApproverSpec,
    /// How many distinct approvals meet the step.
    pub quorum: u32,
    /// How many denials end the elevation.
    pub deny_threshold: u32,
    /// A rule (`auto_approve if <expr>`, as written in policy) that meets the step by policy
    /// when it holds as the step opens.
    #[serde(default)]
    pub auto_approve: Option<String>,
}

/// An approver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Agree.
    Approve,
    /// Refuse.
    Deny,
}

impl Verdict {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        }
    }
}

/// One verdict on one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    /// Who gave it (verified).
    pub approver: Subject,
    /// The step it counted for.
    pub step: u32,
    /// The answer.
    pub verdict: Verdict,
    /// The approver's comment (for an automatic approval: the rule that fired).
    pub comment: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Given by policy (an `auto_approve` rule), not a person; meets the step by itself.
    #[serde(default)]
    pub automatic: bool,
    /// The idempotency key the vote came with: a retry with the same key is answered as the
    /// first call was; any other repeat is told it counted nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// The subject votes recorded for policy's automatic approvals carry.
pub const POLICY_APPROVER: &str = "policy";

/// What the requester's token said when the request was made; approvers are matched against it
/// (the manager) while the requester is not around.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequesterSnapshot {
    /// The requester's groups.
    pub groups: Vec<GroupName>,
    /// The requester's manager.
    pub manager: Option<Subject>,
    /// The requester's token roles (standing roles among them), for separation-of-duties
    /// checks at activation.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// One request for a role on a scope for a limited time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Elevation {
    /// Identifier.
    pub id: ElevationId,
    /// Who asked.
    pub requester: Subject,
    /// The session the grant will be bound to; `None` for entries with `session_binding: none`.
    pub session: Option<SessionId>,
    /// The role asked for.
    pub role: RoleName,
    /// The scope asked for.
    pub scope: Scope,
    /// The access window's length, counted from activation.
    #[serde(with = "duration_millis")]
    pub duration: TimeDelta,
    /// Why.
    pub reason: String,
    /// A ticket reference.
    pub ticket: Option<String>,
    /// Where it stands.
    pub state: ElevationState,
    /// Why it stands there, for people.
    pub state_reason: String,
    /// When it was requested.
    pub created_at: DateTime<Utc>,
    /// When the state last changed.
    pub updated_at: DateTime<Utc>,
    /// End of the approval window.
    pub request_expires_at: DateTime<Utc>,
    /// The requested start of the access window, if any.
    pub not_before: Option<DateTime<Utc>>,
    /// The approval chain, captured from policy at request time.
    pub steps: Vec<ApprovalStep>,
    /// Every verdict, in order.
    pub votes: Vec<Vote>,
    /// The requester's claims at request time.
    pub requester_claims: RequesterSnapshot,
    /// The policy version the request was evaluated under.
    pub policy_version: u64,
    /// The grant it created, once approved.
    pub grant_id: Option<GrantId>,
    /// The requester's idempotency key, if one was given.
    pub idempotency_key: Option<String>,
    /// For an extension request: the grant whose window it lengthens.
    #[serde(default)]
    pub extends_grant: Option<GrantId>,
    /// For a delegation that needs approval: what is delegated to whom.
    #[serde(default)]
    pub delegation: Option<DelegationTerms>,
    /// Subjects who may not approve this elevation besides the requester: those who delegated
    /// the role along the chain, and the delegatee of a delegation.
    #[serde(default)]
    pub excluded_approvers: Vec<Subject>,
}

/// What a delegation passes on, kept with its elevation while approvals are pending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationTerms {
    /// Who receives the role.
    pub delegatee: Subject,
    /// The delegator's grant the role comes from; `None` for a standing role.
    pub parent_grant: Option<GrantId>,
    /// The latest the delegated grant may end (the parent's end, or the policy's cap for a
    /// standing role), as known at request time; re-read from the parent at activation.
    pub not_after_cap: DateTime<Utc>,
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The elevation (or grant) is not in a state that allows the action.
    #[error("cannot {action}: {what} is {state}")]
    WrongState {
        /// What was attempted.
        action: &'static str,
        /// What it was attempted on.
        what: String,
        /// The state it is in.
        state: String,
    },
    /// The requester tried to approve their own elevation.
    #[error("the requester of an elevation can never approve it")]
    SelfApproval,
    /// The caller is not an approver of the current step.
    #[error("{subject} is not an approver of step {step:?} of this elevation")]
    NotAnApprover {
        /// The caller.
        subject: Subject,
        /// The step's name.
        step: String,
    },
    /// The caller already voted the other way; a vote cannot be changed.
    #[error("{subject} already voted {verdict} on this elevation; a vote cannot be changed")]
    AlreadyVoted {
        /// The caller.
        subject: Subject,
        /// The earlier verdict.
        verdict: &'static str,
    },
    /// The caller already gave this verdict (without the same idempotency key): the repeat
    /// counts nothing, and says so, so that nobody believes they decided a later step.
    #[error(
        "{subject} already voted {verdict} on step {step:?} of this elevation at {at}; this call counted nothing. The elevation is {now_at}"
    )]
    AlreadyCounted {
        /// The caller.
        subject: Subject,
        /// The verdict, repeated.
        verdict: &'static str,
        /// The step the earlier vote counted for.
        step: String,
        /// When the earlier vote was given (RFC 3339).
        at: String,
        /// Where the elevation stands now, e.g. `PENDING at step "security"`.
        now_at: String,
    },
    /// The caller delegated the role along this chain, or receives it: not independent.
    #[error("{subject} delegated the role along this chain or receives it, and may not approve it")]
    NotIndependent {
        /// The caller.
        subject: Subject,
    },
    /// The caller may not act on this object.
    #[error("{0}")]
    NotAllowed(String),
    /// A delegated grant cannot be taken up.
    #[error(transparent)]
    NotAccepted(#[from] super::grant::AcceptRefusal),
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn wrong_state(action: &'static str, elevation: &Elevation) -> TransitionError {
    TransitionError::WrongState {
        action,
        what: format!("elevation {}", elevation.id),
        state: elevation.state.to_string(),
    }
}

impl Elevation {
    /// How many distinct approvals step `step` has.
    pub fn approvals_at(&self, step: usize) -> u32 {
        self.count_votes(step, Verdict::Approve)
    }

    /// How many denials step `step` has.
    pub fn denials_at(&self, step: usize) -> u32 {
        self.count_votes(step, Verdict::Deny)
    }

    fn count_votes(&self, step: usize, verdict: Verdict) -> u32 {
        // One vote per approver is enforced when votes are recorded, so counting votes counts
        // distinct people.
        self.votes
            .iter()
            .filter(|vote| vote.step as usize == step && vote.verdict == verdict)
            .count() as u32
    }

    /// Whether step `step` is met: its quorum of distinct approvals, or policy's automatic
    /// approval.
    pub fn step_met(&self, step: usize) -> bool {
        self.approvals_at(step) >= self.steps[step].quorum
            || self
                .votes
                .iter()
                .any(|vote| vote.automatic && vote.step as usize == step)
    }

    /// The first step not met, while the elevation is pending.
    pub fn current_step(&self) -> Option<usize> {
        if self.state != ElevationState::Pending {
            return None;
        }
        (0..self.steps.len()).find(|&step| !self.step_met(step))
    }

    /// Whether `who` may never approve this elevation: the requester, the delegatee of a
    /// delegation, and whoever delegated the role along its chain.
    fn is_interested(&self, who: &Subject) -> bool {
        *who == self.requester
            || self.excluded_approvers.contains(who)
            || self
                .delegation
                .as_ref()
                .is_some_and(|terms| terms.delegatee == *who)
    }

    /// Whether `who` could vote on the current step now (used for inboxes and visibility).
    pub fn awaits(&self, who: &Identity) -> bool {
        if self.is_interested(&who.subject) {
            return false;
        }
        if self.votes.iter().any(|vote| vote.approver == who.subject) {
            return false;
        }
        self.current_step().is_some_and(|step| {
            self.steps[step]
                .approvers
                .admits(who, &self.requester_claims, &self.scope)
        })
    }

    /// The refusal of a repeated vote, saying where the elevation stands now.
    fn already_counted(&self, earlier: &Vote) -> TransitionError {
        let now_at = match self.current_step() {
            Some(step) => format!("{} at step {:?}", self.state, self.steps[step].name),
            None => self.state.to_string(),
        };
        TransitionError::AlreadyCounted {
            subject: earlier.approver.clone(),
            verdict: earlier.verdict.as_str(),
            step: self
                .steps
                .get(earlier.step as usize)
                .map(|step| step.name.clone())
                .unwrap_or_default(),
            at: earlier
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            now_at,
        }
    }

    /// Whether `who` is named anywhere in the chain (may see the elevation).
    pub fn is_approver(&self, who: &Identity) -> bool {
        self.steps.iter().any(|step| {
            step.approvers
                .admits(who, &self.requester_claims, &self.scope)
        })
    }

    /// Records `who`'s verdict on the current step. Returns `None` when the vote is a retry of
    /// one already recorded with the same `idempotency_key` (it changes nothing); a repeat
    /// without it is refused as [`TransitionError::AlreadyCounted`]. The result may be
    /// `PENDING` (more votes needed), `APPROVED` (the last step is met) or `DENIED`.
    pub fn vote(
        &self,
        who: &Identity,
        verdict: Verdict,
        comment: &str,
        idempotency_key: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<Elevation>, TransitionError> {
        if who.subject == self.requester {
            return Err(TransitionError::SelfApproval);
        }
        if self.is_interested(&who.subject) {
            return Err(TransitionError::NotIndependent {
                subject: who.subject.clone(),
            });
        }
        if let Some(earlier) = self.votes.iter().find(|vote| vote.approver == who.subject) {
            if earlier.verdict == verdict {
                if idempotency_key.is_some()
                    && earlier.idempotency_key.as_deref() == idempotency_key
                {
                    return Ok(None);
                }
                return Err(self.already_counted(earlier));
            }
            return Err(TransitionError::AlreadyVoted {
                subject: who.subject.clone(),
                verdict: earlier.verdict.as_str(),
            });
        }
        let action = match verdict {
            Verdict::Approve => "approve",
            Verdict::Deny => "deny",
        };
        if self.state != ElevationState::Pending {
            return Err(wrong_state(action, self));
        }
        // The approval window closed: the elevation has timed out, whether or not the sweep
        // has recorded it yet.
        if now >= self.request_expires_at {
            return Err(TransitionError::WrongState {
                action,
                what: format!("elevation {}", self.id),
                state: format!(
                    "{} (timed out at {})",
                    ElevationState::TimedOut,
                    self.request_expires_at.to_rfc3339()
                ),
            });
        }
        let Some(step) = self.current_step() else {
            return Err(wrong_state(action, self));
        };
        let step_definition = &self.steps[step];
        if !step_definition
            .approvers
            .admits(who, &self.requester_claims, &self.scope)
        {
            return Err(TransitionError::NotAnApprover {
                subject: who.subject.clone(),
                step: step_definition.name.clone(),
            });
        }

        let mut next = self.clone();
        next.votes.push(Vote {
            approver: who.subject.clone(),
            step: step as u32,
            verdict,
            comment: comment.to_owned(),
            at: now,
            automatic: false,
            idempotency_key: idempotency_key.map(str::to_owned),
        });
        next.updated_at = now;
        match verdict {
            Verdict::Deny if next.denials_at(step) >= step_definition.deny_threshold => {
                next.state = ElevationState::Denied;
                next.state_reason = if comment.is_empty() {
                    format!("denied by {} at step {}", who.subject, step_definition.name)
                } else {
                    format!(
                        "denied by {} at step {}: {comment}",
                        who.subject, step_definition.name
                    )
                };
            }
            Verdict::Approve => next.approve_if_every_step_is_met(),
            _ => {}
        }
        Ok(Some(next))
    }

    fn approve_if_every_step_is_met(&mut self) {
        if self.state == ElevationState::Pending && self.current_step().is_none() {
            self.state = ElevationState::Approved;
            self.state_reason = format!("approved by {}", self.approvers().join(", "));
        }
    }

    /// Meets the current step by policy (its `auto_approve` rule held), recording the rule.
    pub fn approve_automatically(
        &self,
        rule: &str,
        now: DateTime<Utc>,
    ) -> Result<Elevation, TransitionError> {
        let Some(step) = self.current_step() else {
            return Err(wrong_state("auto-approve", self));
        };
        let mut next = self.clone();
        next.votes.push(Vote {
            approver: Subject::parse(POLICY_APPROVER).expect("a valid subject"),
            step: step as u32,
            verdict: Verdict::Approve,
            comment: rule.to_owned(),
            at: now,
            automatic: true,
            idempotency_key: None,
        });
        next.updated_at = now;
        next.approve_if_every_step_is_met();
        Ok(next)
    }

    /// The subjects who approved, in order.
    pub fn approvers(&self) -> Vec<String> {
        self.votes
            .iter()
            .filter(|vote| vote.verdict == Verdict::Approve)
            .map(|vote| vote.approver.to_string())
            .collect()
    }

    /// Moves an approved elevation on: creates its grant, whose window starts at `now` or at the
    /// requested start, whichever is later. The elevation becomes `ACTIVE`, or `SCHEDULED` when
    /// the window starts later (the grant then exists but does not count yet).
    pub fn activate(&self, now: DateTime<Utc>) -> Result<(Elevation, Grant), TransitionError> {
        if self.state != ElevationState::Approved {
            return Err(wrong_state("activate", self));
        }
        let not_before = self.not_before.map_or(now, |start| start.max(now));
        let grant = Grant {
            id: GrantId::generate(),
            subject: self.requester.clone(),
            session: self.session.clone(),
            role: self.role.clone(),
            scope: self.scope.clone(),
            not_before,
            not_after: not_before + self.duration,
            elevation_id: Some(self.id),
            parent_grant_id: None,
            delegation_trail: Vec::new(),
            revocation: None,
            awaiting_acceptance: false,
        };
        let mut next = self.clone();
        next.grant_id = Some(grant.id);
        next.updated_at = now;
        if not_before > now {
            next.state = ElevationState::Scheduled;
            next.state_reason = format!("scheduled to start at {}", rfc3339(not_before));
        } else {
            next.state = ElevationState::Active;
            next.state_reason = format!("active until {}", rfc3339(grant.not_after));
        }
        Ok((next, grant))
    }

    /// A scheduled elevation whose start has come becomes active.
    pub fn start_scheduled(&self, grant: &Grant, now: DateTime<Utc>) -> Option<Elevation> {
        if self.state != ElevationState::Scheduled || now < grant.not_before {
            return None;
        }
        let mut next = self.clone();
        next.state = ElevationState::Active;
        next.state_reason = format!("active until {}", rfc3339(grant.not_after));
        next.updated_at = now;
        Some(next)
    }

    /// Withdraws an elevation that is not active yet.
    pub fn cancel(&self, reason: &str, now: DateTime<Utc>) -> Result<Elevation, TransitionError> {
        if !self.state.can_move_to(ElevationState::Cancelled) {
            return Err(wrong_state("cancel", self));
        }
        let mut next = self.clone();
        next.state = ElevationState::Cancelled;
        next.state_reason = if reason.is_empty() {
            "cancelled by the requester".into()
        } else {
            format!("cancelled: {reason}")
        };
        next.updated_at = now;
        Ok(next)
    }

    /// A pending elevation whose approval window has passed times out.
    pub fn time_out(&self, now: DateTime<Utc>) -> Option<Elevation> {
        if self.state != ElevationState::Pending || now < self.request_expires_at {
            return None;
        }
        let mut next = self.clone();
        next.state = ElevationState::TimedOut;
        next.state_reason = "nobody decided within the approval window".into();
        next.updated_at = now;
        Some(next)
    }

    /// An active elevation whose grant has reached its end expires.
    pub fn expire(&self, grant: &Grant, now: DateTime<Utc>) -> Option<Elevation> {
        if !matches!(
            self.state,
            ElevationState::Active | ElevationState::Scheduled
        ) || now < grant.not_after
        {
            return None;
        }
        let mut next = self.clone();
        next.state = ElevationState::Expired;
        next.state_reason = format!("expired at {}", rfc3339(grant.not_after));
        next.updated_at = now;
        Some(next)
    }

    /// The elevation of a grant that was revoked.
    pub fn revoke(&self, reason: &str, now: DateTime<Utc>) -> Result<Elevation, TransitionError> {
        if !self.state.can_move_to(ElevationState::Revoked) {
            return Err(wrong_state("revoke", self));
        }
        let mut next = self.clone();
        next.state = ElevationState::Revoked;
        next.state_reason = format!("revoked: {reason}");
        next.updated_at = now;
        Ok(next)
    }
}

mod duration_millis {
    use chrono::TimeDelta;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &TimeDelta, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(value.num_milliseconds())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<TimeDelta, D::Error> {
        let millis = i64::deserialize(deserializer)?;
        TimeDelta::try_milliseconds(millis)
            .ok_or_else(|| serde::de::Error::custom("duration out of range"))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn identity(subject: &str, groups: &[&str]) -> Identity {
        Identity {
            subject: Subject::parse(subject).unwrap(),
            session: Some(SessionId::parse("s1").unwrap()),
            groups: groups
                .iter()
                .map(|g| GroupName::parse(g).unwrap())
                .collect(),
            roles: vec![],
            standing_roles: vec![],
            manager: None,
            amr: vec![],
            expires_at: Utc::now() + TimeDelta::hours(1),
            issuer: None,
        }
    }

    pub fn pending_elevation(steps: Vec<ApprovalStep>) -> Elevation {
        let now = Utc::now();
        Elevation {
            id: ElevationId::generate(),
            requester: Subject::parse("fatma").unwrap(),
            session: Some(SessionId::parse("s1").unwrap()),
            role: RoleName::parse("admin_approver").unwrap(),
            scope: Scope::parse("Org:Procurement").unwrap(),
            duration: TimeDelta::hours(2),
            reason: "Q4 close".into(),
            ticket: None,
            state: ElevationState::Pending,
            state_reason: String::new(),
            created_at: now,
            updated_at: now,
            request_expires_at: now + TimeDelta::hours(1),
            not_before: None,
            steps,
            votes: vec![],
            requester_claims: RequesterSnapshot {
                manager: Some(Subject::parse("ali").unwrap()),
                ..Default::default()
            },
            policy_version: 1,
            grant_id: None,
            idempotency_key: None,
            extends_grant: None,
            delegation: None,
            excluded_approvers: vec![],
        }
    }

    fn manager_step() -> ApprovalStep {
        ApprovalStep {
            name: "manager".into(),
            approvers: ApproverSpec {
                manager_of_requester: true,
                ..Default::default()
            },
            quorum: 1,
            deny_threshold: 1,
            auto_approve: None,
        }
    }

    fn group_step(quorum: u32) -> ApprovalStep {
        ApprovalStep {
            name: "risk".into(),
            approvers: ApproverSpec {
                groups: vec![GroupName::parse("risk-officers").unwrap()],
                ..Default::default()
            },
            quorum,
            deny_threshold: 1,
            auto_approve: None,
        }
    }

    #[test]
    fn the_manager_approves_and_the_elevation_activates_with_a_session_bound_grant() {
        let elevation = pending_elevation(vec![manager_step()]);
        let now = Utc::now();
        let approved = elevation
            .vote(&identity("ali", &[]), Verdict::Approve, "ok", None, now)
            .unwrap()
            .unwrap();
        assert_eq!(approved.state, ElevationState::Approved);
        let (active, grant) = approved.activate(now).unwrap();
        assert_eq!(active.state, ElevationState::Active);
        assert_eq!(grant.not_after - grant.not_before, TimeDelta::hours(2));
        assert_eq!(grant.session, elevation.session);
        assert_eq!(active.grant_id, Some(grant.id));
    }

    #[test]
    fn the_requester_never_approves() {
        let mut elevation = pending_elevation(vec![manager_step()]);
        // Even when the requester is named as their own manager.
        elevation.requester_claims.manager = Some(elevation.requester.clone());
        let error = elevation
            .vote(
                &identity("fatma", &[]),
                Verdict::Approve,
                "",
                None,
                Utc::now(),
            )
            .unwrap_err();
        assert_eq!(error, TransitionError::SelfApproval);
    }

    #[test]
    fn someone_outside_the_step_cannot_approve() {
        let elevation = pending_elevation(vec![manager_step()]);
        let error = elevation
            .vote(
                &identity("mallory", &["managers"]),
                Verdict::Approve,
                "",
                None,
                Utc::now(),
            )
            .unwrap_err();
        assert!(matches!(error, TransitionError::NotAnApprover { .. }));
    }

    #[test]
    fn a_retried_vote_changes_nothing_a_repeated_one_says_so_and_a_changed_one_is_refused() {
        let elevation = pending_elevation(vec![group_step(2)]);
        let officer = identity("rita", &["risk-officers"]);
        let once = elevation
            .vote(&officer, Verdict::Approve, "", Some("k1"), Utc::now())
            .unwrap()
            .unwrap();
        assert_eq!(once.state, ElevationState::Pending);
        assert_eq!(
            once.vote(&officer, Verdict::Approve, "", Some("k1"), Utc::now())
                .unwrap(),
            None
        );
        for key in [None, Some("k2")] {
            let repeated = once
                .vote(&officer, Verdict::Approve, "", key, Utc::now())
                .unwrap_err();
            assert!(
                matches!(&repeated, TransitionError::AlreadyCounted { step, .. } if step == "risk"),
                "{repeated:?}"
            );
            assert!(
                repeated.to_string().contains("counted nothing"),
                "{repeated}"
            );
        }
        assert!(matches!(
            once.vote(&officer, Verdict::Deny, "", None, Utc::now()),
            Err(TransitionError::AlreadyVoted { .. })
        ));
    }

    #[test]
    fn steps_open_in_order_and_quorum_counts_distinct_people() {
        let elevation = pending_elevation(vec![manager_step(), group_step(2)]);
        let now = Utc::now();
        let rita = identity("rita", &["risk-officers"]);
        assert!(matches!(
            elevation.vote(&rita, Verdict::Approve, "", None, now),
            Err(TransitionError::NotAnApprover { .. })
        ));
        let after_manager = elevation
            .vote(&identity("ali", &[]), Verdict::Approve, "", None, now)
            .unwrap()
            .unwrap();
        assert_eq!(after_manager.current_step(), Some(1));
        let after_rita = after_manager
            .vote(&rita, Verdict::Approve, "", None, now)
            .unwrap()
            .unwrap();
        assert_eq!(after_rita.state, ElevationState::Pending);
        let done = after_rita
            .vote(
                &identity("rob", &["risk-officers"]),
                Verdict::Approve,
                "",
                None,
                now,
            )
            .unwrap()
            .unwrap();
        assert_eq!(done.state, ElevationState::Approved);
    }

    #[test]
    fn one_denial_denies_by_default() {
        let elevation = pending_elevation(vec![manager_step()]);
        let denied = elevation
            .vote(
                &identity("ali", &[]),
                Verdict::Deny,
                "not now",
                None,
                Utc::now(),
            )
            .unwrap()
            .unwrap();
        assert_eq!(denied.state, ElevationState::Denied);
        assert!(denied.state_reason.contains("not now"));
        assert!(matches!(
            denied.cancel("", Utc::now()),
            Err(TransitionError::WrongState { .. })
        ));
    }

    #[test]
    fn a_future_start_schedules_the_grant() {
        let mut elevation = pending_elevation(vec![]);
        let now = Utc::now();
        elevation.state = ElevationState::Approved;
        elevation.not_before = Some(now + TimeDelta::hours(3));
        let (scheduled, grant) = elevation.activate(now).unwrap();
        assert_eq!(scheduled.state, ElevationState::Scheduled);
        assert_eq!(grant.not_before, now + TimeDelta::hours(3));
        assert!(scheduled.start_scheduled(&grant, now).is_none());
        let active = scheduled
            .start_scheduled(&grant, now + TimeDelta::hours(3))
            .unwrap();
        assert_eq!(active.state, ElevationState::Active);
    }

    #[test]
    fn pending_elevations_time_out_after_their_window() {
        let elevation = pending_elevation(vec![manager_step()]);
        assert!(elevation.time_out(elevation.created_at).is_none());
        let timed_out = elevation.time_out(elevation.request_expires_at).unwrap();
        assert_eq!(timed_out.state, ElevationState::TimedOut);
    }

    #[test]
    fn only_listed_transitions_exist() {
        use ElevationState::*;
        assert!(Pending.can_move_to(Approved));
        assert!(!Pending.can_move_to(Active));
        assert!(!Denied.can_move_to(Active));
        assert!(!Expired.can_move_to(Revoked));
        for state in ElevationState::ALL {
            assert_eq!(ElevationState::parse(state.as_str()), Some(state));
            if state.is_final() {
                assert!(
                    ElevationState::ALL
                        .iter()
                        .all(|next| !state.can_move_to(*next))
                );
            }
        }
    }
}
