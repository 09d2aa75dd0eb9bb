//! Requesting and extending elevations (assessed first, see `assessment.rs`), writing a new
//! pending elevation, and reading, listing and cancelling them.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::assessment::{Accepted, Refused};
use super::{
    ElevationOutcome, Elevator, MAX_REASON_BYTES, NewElevation, Page, ServiceError, check_text,
    page_size, page_token,
};
use crate::domain::ElevationRequest;
use crate::domain::{
    AuditAction, AuditEvent, Elevation, ElevationId, ElevationState, Grant, Identity,
    RequestedDuration, RequesterSnapshot, Revocation, RoleName, Subject, TransitionError,
    format_duration,
};
use crate::store::{Change, Committed, Created, ElevationContext, ElevationFilter};

impl Elevator {
    /// Asks for a role on a scope for a time.
    #[tracing::instrument(skip_all)]
    pub async fn request_elevation(
        &self,
        caller: &Identity,
        request: NewElevation,
    ) -> Result<ElevationOutcome, ServiceError> {
        let now = self.clock.now();
        if self.eligibility_withdrawn(&caller.subject, &request.role) {
            return Err(super::reviews_removal::refuse_withdrawn(
                caller,
                &request.role,
            ));
        }
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
        let grant = match (original.state(), original.grant_id) {
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
                state: original.state().to_string(),
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
        assessed: Result<Accepted, Refused>,
        now: DateTime<Utc>,
        extending: Option<&Grant>,
    ) -> Result<ElevationOutcome, ServiceError> {
        let accepted = assessed.map_err(|refused| refused.reason)?;
        let entry = accepted.entry();
        let assessment = &accepted.assessment;
        let policy_version = assessment.policy.version();
        let elevation = Elevation::requested(ElevationRequest {
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
            requested_at: now,
            request_expires_at: assessment.request_expires_at,
            not_before: request.not_before.filter(|start| *start > now),
            steps: entry.steps.clone(),
            requester_claims: RequesterSnapshot::of(caller),
            policy_version,
            idempotency_key: request.idempotency_key.clone(),
            extends_grant: extending.map(|grant| grant.id),
            delegation: None,
            excluded_approvers: self.delegators_of(caller, &request.role, now).await?,
        });
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
        let same_request = |existing: &Elevation| {
            existing.role == request.role
                && existing.scope == request.scope
                && existing.duration == request.duration.get()
                && existing.extends_grant == extending.map(|grant| grant.id)
        };
        self.submit(caller, elevation, event, same_request).await
    }

    /// Writes a new pending elevation with its audit event and moves it on as far as policy
    /// alone allows (a chain without steps, or a first step policy may approve). A request
    /// whose idempotency key was used before is answered with the elevation it made, provided
    /// `same_request` says the earlier request asked for the same thing.
    pub(super) async fn submit(
        &self,
        caller: &Identity,
        elevation: Elevation,
        event: AuditEvent,
        same_request: impl Fn(&Elevation) -> bool,
    ) -> Result<ElevationOutcome, ServiceError> {
        let advances_by_policy = elevation
            .steps
            .first()
            .is_none_or(|step| step.auto_approve.is_some());
        let idempotency = elevation
            .idempotency_key
            .clone()
            .map(|key| (caller.subject.clone(), key));
        let change = Change {
            elevations: vec![elevation],
            events: vec![event],
            ..Default::default()
        };
        match self
            .store
            .create_elevation(self.ready_to_commit(change), idempotency)
            .await?
        {
            Created::New(committed) => {
                self.after_commit(&committed).await;
                let created = written_elevation(&committed)?;
                if advances_by_policy {
                    return self.advance_by_policy(created.id).await;
                }
                Ok(ElevationOutcome {
                    elevation: created,
                    grant: None,
                    revision: committed.revision,
                })
            }
            Created::Existing(existing) => {
                if !same_request(&existing) {
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
            Some(requester) => {
                self.may_act_for(caller, &requester, "listing another subject's elevations")?;
                Some(requester)
            }
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
        let committed = self.commit_to_elevation(id, now, &decide).await?;
        Ok(ElevationOutcome {
            elevation: written_elevation(&committed)?,
            grant: None,
            revision: committed.revision,
        })
    }
}

/// The elevation a committed one-elevation change wrote; a change that wrote none is a bug in
/// the step that made it.
fn written_elevation(committed: &Committed) -> Result<Elevation, ServiceError> {
    committed
        .change
        .elevations
        .first()
        .cloned()
        .ok_or_else(|| ServiceError::Internal("a write of an elevation wrote none".into()))
}
