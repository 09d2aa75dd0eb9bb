//! Approvals: the inbox, approve and deny, and what policy approves by itself (a chain without
//! steps, `auto_approve` rules); a chain once met is completed by `completion.rs`.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::completion::complete_approval;
use super::{
    ElevationOutcome, Elevator, MAX_PAGE_SIZE, MAX_REASON_BYTES, Page, ServiceError, check_text,
    page_size, page_token,
};
use crate::domain::audit::SYSTEM_ACTOR;
use crate::domain::risk::{RiskPicture, risk_picture};
use crate::domain::{
    AuditAction, AuditEvent, Elevation, ElevationId, ElevationState, Identity, TransitionError,
    Verdict,
};
use crate::policy::Policy;
use crate::policy::rules::{Moment, RequestFacts, Rule, RuleInput, TokenFacts};
use crate::store::{Change, ElevationContext, ElevationFilter};

impl Elevator {
    /// Elevations whose current step the caller may decide, newest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_pending_approvals(
        &self,
        caller: &Identity,
        page_size_requested: u32,
        token: &str,
    ) -> Result<Page<Elevation>, ServiceError> {
        let limit = page_size(page_size_requested);
        let mut before = page_token(token)?;
        let mut items = Vec::new();
        // Scan pending elevations in batches until the page is full or none are left.
        for _ in 0..20 {
            let batch = self
                .store
                .list_elevations(&ElevationFilter {
                    state: Some(ElevationState::Pending),
                    before,
                    limit: MAX_PAGE_SIZE,
                    ..Default::default()
                })
                .await?;
            let exhausted = batch.len() < MAX_PAGE_SIZE;
            before = batch.last().map(|e| e.id);
            for elevation in batch {
                if elevation.awaits(caller) {
                    items.push(elevation);
                    if items.len() == limit {
                        let next_page_token = items.last().map(|e| e.id.to_string());
                        return Ok(Page {
                            items,
                            next_page_token,
                        });
                    }
                }
            }
            if exhausted {
                break;
            }
        }
        Ok(Page {
            items,
            next_page_token: None,
        })
    }

    /// Records the caller's verdict on the current step; steps that open then may be met by
    /// policy (`auto_approve`), and the final approval creates the grant. A vote the caller
    /// already gave (or an idempotency key already used) changes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn decide(
        &self,
        caller: &Identity,
        id: ElevationId,
        verdict: Verdict,
        comment: &str,
        idempotency_key: Option<&str>,
    ) -> Result<ElevationOutcome, ServiceError> {
        check_text("comment", comment, MAX_REASON_BYTES)?;
        if let Some(key) = idempotency_key {
            check_text("idempotency_key", key, super::MAX_IDEMPOTENCY_KEY_BYTES)?;
        }
        let now = self.clock.now();
        let policy = self.decider.policy();
        let risk = self.risk_for_automatic_steps(id, now).await?;
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let before = &context.elevation;
            let step = before.current_step();
            let Some(voted) = before.vote(caller, verdict, comment, idempotency_key, now)? else {
                return Ok(Change::default());
            };
            let step_name = step
                .map(|s| before.steps[s].name.clone())
                .unwrap_or_default();
            let vote_action = match verdict {
                Verdict::Approve => AuditAction::ApprovalApproved,
                Verdict::Deny => AuditAction::ApprovalDenied,
            };
            let mut change = Change::default();
            change.events.push(
                AuditEvent::for_elevation(
                    vote_action,
                    caller.subject.as_str(),
                    &voted,
                    policy.version(),
                    now,
                )
                .with_reason(comment)
                .with_details(json!({ "step": step_name, "idempotency_key": idempotency_key })),
            );
            follow_through(
                voted,
                &context,
                &policy,
                &risk,
                caller.subject.as_str(),
                now,
                &mut change,
            )?;
            Ok(change)
        };
        let committed = self.commit_to_elevation(id, now, &decide).await?;
        let elevation = match committed.change.elevations.first() {
            Some(elevation) => elevation.clone(),
            // A replay changed nothing: answer with the elevation as it stands.
            None => self.get_elevation(caller, id).await?,
        };
        Ok(ElevationOutcome {
            elevation,
            grant: committed.change.grants.first().cloned(),
            revision: committed.revision,
        })
    }

    /// Moves a new pending elevation on as far as policy alone allows, under its lock: a chain
    /// without steps is approved; a first step whose `auto_approve` rule holds is met.
    pub(super) async fn advance_by_policy(
        &self,
        id: ElevationId,
    ) -> Result<ElevationOutcome, ServiceError> {
        let now = self.clock.now();
        let policy = self.decider.policy();
        let risk = self.risk_for_automatic_steps(id, now).await?;
        let decide = |context: ElevationContext| -> Result<Change, TransitionError> {
            let pending = &context.elevation;
            if pending.state() != ElevationState::Pending {
                return Ok(Change::default());
            }
            let next = if pending.steps.is_empty() {
                pending.approve_without_steps(now)?
            } else {
                pending.clone()
            };
            let mut change = Change::default();
            follow_through(
                next,
                &context,
                &policy,
                &risk,
                SYSTEM_ACTOR,
                now,
                &mut change,
            )?;
            if change.events.is_empty() {
                // Nothing for policy to do: the elevation waits for people.
                return Ok(Change::default());
            }
            Ok(change)
        };
        let committed = self.commit_to_elevation(id, now, &decide).await?;
        let elevation = match committed.change.elevations.first() {
            Some(elevation) => elevation.clone(),
            None => self
                .store
                .get_elevation(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?,
        };
        Ok(ElevationOutcome {
            elevation,
            grant: committed.change.grants.first().cloned(),
            revision: committed.revision,
        })
    }

    /// The requester's risk as it stands now (signals for the requester and the elevation's
    /// session), for an approver deciding on `elevation`: the caller got the elevation from
    /// its inbox ([`Elevator::list_pending_approvals`]), which is what lets it see this.
    pub async fn requester_risk(&self, elevation: &Elevation) -> Result<RiskPicture, ServiceError> {
        self.requester_risk_at(elevation, self.clock.now()).await
    }

    async fn requester_risk_at(
        &self,
        elevation: &Elevation,
        now: DateTime<Utc>,
    ) -> Result<RiskPicture, ServiceError> {
        let signals = self
            .decider
            .subject_risk(elevation.requester.as_str(), 0)
            .await?;
        Ok(risk_picture(
            &signals.signals,
            elevation.session.as_ref().map(|session| session.as_str()),
            now,
        ))
    }

    /// The requester's risk, when an `auto_approve` rule of the elevation reads it.
    async fn risk_for_automatic_steps(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
    ) -> Result<RiskPicture, ServiceError> {
        let Some(elevation) = self.store.get_elevation(id).await? else {
            return Ok(RiskPicture::default());
        };
        let reads_risk = elevation
            .steps
            .iter()
            .filter_map(|step| step.auto_approve.as_deref())
            .filter_map(|rule| Rule::parse(rule, Moment::Request).ok())
            .any(|rule| rule.reads_risk());
        if !reads_risk {
            return Ok(RiskPicture::default());
        }
        self.requester_risk_at(&elevation, now).await
    }
}

/// Whether the `auto_approve` rule of the elevation's current step holds now.
fn automatic_approval(
    elevation: &Elevation,
    risk: &RiskPicture,
    now: DateTime<Utc>,
) -> Option<String> {
    let step = elevation.current_step()?;
    let text = elevation.steps[step].auto_approve.as_deref()?;
    // Policy validated the rule when it was loaded; one that no longer compiles never approves.
    let rule = Rule::parse(text, Moment::Request).ok()?;
    let claims = &elevation.requester_claims;
    let input = RuleInput {
        token: TokenFacts {
            sub: elevation.requester.as_str(),
            sid: elevation.session.as_ref().map(|s| s.as_str()),
            groups: claims.groups.iter().map(|g| g.as_str()).collect(),
            delegated_by: None,
            amr: Vec::new(),
        },
        request: Some(RequestFacts {
            role: elevation.role.as_str(),
            scope: elevation.scope.as_str(),
            duration: elevation.duration,
            reason: &elevation.reason,
            ticket: elevation.ticket.as_deref().unwrap_or_default(),
        }),
        grant: None,
        risk,
        now,
        time: chrono::TimeDelta::zero(),
        access: None,
    };
    (rule.holds(&input) == Ok(true)).then(|| text.to_owned())
}

/// What follows a change to a pending elevation: steps that open and whose `auto_approve` rule
/// holds are met by policy (audited with the rule that fired); then a denied elevation is
/// recorded, and an approved one completed.
fn follow_through(
    mut elevation: Elevation,
    context: &ElevationContext,
    policy: &Policy,
    risk: &RiskPicture,
    actor: &str,
    now: DateTime<Utc>,
    change: &mut Change,
) -> Result<(), TransitionError> {
    while elevation.state() == ElevationState::Pending {
        let Some(rule) = automatic_approval(&elevation, risk, now) else {
            break;
        };
        let step = elevation.current_step().unwrap_or_default();
        let step_name = elevation.steps[step].name.clone();
        elevation = elevation.approve_automatically(&rule, now)?;
        change.events.push(
            AuditEvent::for_elevation(
                AuditAction::ApprovalAutoApproved,
                SYSTEM_ACTOR,
                &elevation,
                policy.version(),
                now,
            )
            .with_reason(&rule)
            .with_details(json!({ "step": step_name, "rule": rule })),
        );
    }
    match elevation.state() {
        ElevationState::Denied => {
            change.events.push(
                AuditEvent::for_elevation(
                    AuditAction::ElevationDenied,
                    actor,
                    &elevation,
                    policy.version(),
                    now,
                )
                .with_reason(elevation.state_reason()),
            );
            change.elevations.push(elevation);
        }
        ElevationState::Approved => {
            change.events.push(
                AuditEvent::for_elevation(
                    AuditAction::ElevationApproved,
                    actor,
                    &elevation,
                    policy.version(),
                    now,
                )
                .with_reason(elevation.state_reason())
                .with_details(json!({ "approvers": elevation.approvers() })),
            );
            change.merge(complete_approval(&elevation, context, policy, now)?);
        }
        _ => {
            if elevation != context.elevation {
                change.elevations.push(elevation);
            }
        }
    }
    Ok(())
}
