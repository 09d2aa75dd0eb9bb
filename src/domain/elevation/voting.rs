//! Voting on an elevation's approval chain: which step is open, who may decide it, recording
//! a verdict (or policy's automatic approval), and the approval once every step is met.

use chrono::{DateTime, Utc};

use super::chain::POLICY_APPROVER;
use super::error::wrong_state;
use super::{Elevation, ElevationState, TransitionError, Verdict, Vote};
use crate::domain::identity::Identity;
use crate::domain::names::Subject;

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
        if self.state() != ElevationState::Pending {
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
            Some(step) => format!("{} at step {:?}", self.state(), self.steps[step].name),
            None => self.state().to_string(),
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
        if self.is_retry_of_vote(&who.subject, verdict, idempotency_key)? {
            return Ok(None);
        }
        let step = self.step_open_to(who, verdict, now)?;
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
        let step_definition = &self.steps[step];
        match verdict {
            Verdict::Deny if next.denials_at(step) >= step_definition.deny_threshold => {
                next.status.state = ElevationState::Denied;
                next.status.state_reason = if comment.is_empty() {
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

    /// Whether `voter`'s vote is a retry of the one it already gave with the same idempotency
    /// key (`true`: nothing to record); an interested voter, a repeat without that key, and a
    /// changed vote are refused.
    fn is_retry_of_vote(
        &self,
        voter: &Subject,
        verdict: Verdict,
        idempotency_key: Option<&str>,
    ) -> Result<bool, TransitionError> {
        if *voter == self.requester {
            return Err(TransitionError::SelfApproval);
        }
        if self.is_interested(voter) {
            return Err(TransitionError::NotIndependent {
                subject: voter.clone(),
            });
        }
        let Some(earlier) = self.votes.iter().find(|vote| vote.approver == *voter) else {
            return Ok(false);
        };
        if earlier.verdict != verdict {
            return Err(TransitionError::AlreadyVoted {
                subject: voter.clone(),
                verdict: earlier.verdict.as_str(),
            });
        }
        if idempotency_key.is_some() && earlier.idempotency_key.as_deref() == idempotency_key {
            return Ok(true);
        }
        Err(self.already_counted(earlier))
    }

    /// The step `who` may now give `verdict` on: the elevation is pending, its approval window
    /// open, and `who` an approver of the current step.
    fn step_open_to(
        &self,
        who: &Identity,
        verdict: Verdict,
        now: DateTime<Utc>,
    ) -> Result<usize, TransitionError> {
        let action = verdict.as_str();
        if self.state() != ElevationState::Pending {
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
        Ok(step)
    }

    fn approve_if_every_step_is_met(&mut self) {
        if self.state() == ElevationState::Pending && self.current_step().is_none() {
            self.status.state = ElevationState::Approved;
            self.status.state_reason = format!("approved by {}", self.approvers().join(", "));
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
        let policy = Subject::parse(POLICY_APPROVER)
            .map_err(|_| TransitionError::NotAllowed("no subject for policy's approvals".into()))?;
        let mut next = self.clone();
        next.votes.push(Vote {
            approver: policy,
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
}
