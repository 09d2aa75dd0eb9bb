//! The review every break-glass use owes: listing uses (the caller's own, those waiting for the
//! caller's review, or all of them for admins and auditors), the evidence a reviewer decides on
//! (who, when, why, the incident, every Check the grant allowed, every write the user made while
//! it was active), and the review itself: confirm or flag, once, by a named reviewer who is not
//! the user, under the use's row lock. A flag is an alert: it is announced to the policy's
//! webhooks, the entry's security contacts, and the watch streams of reviewers and approvers.
//! Allowed Checks of break-glass grants are kept as they happen ([`Elevator::witness`]).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::break_glass::with_security_contacts;
use super::{Elevator, MAX_PAGE_SIZE, MAX_REASON_BYTES, Page, ServiceError, check_text, page_size};
use crate::decision::CheckQuery;
use crate::domain::{
    AuditAction, AuditEvent, BreakGlassCheck, BreakGlassId, BreakGlassUse, BreakGlassVerdict,
    Decision, DecisionReason, Grant, Identity, MAX_BREAK_GLASS_CHECKS, ReviewState, Revision,
    StoredAuditEvent,
};
use crate::store::{AuditFilter, BreakGlassFilter, Change};

/// The most audit events of the user shown as evidence of one use.
const MAX_EVIDENCE_WRITES: usize = 1000;

/// Which uses a listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakGlassListing {
    /// The caller's own uses.
    Mine,
    /// Unreviewed uses the caller may review.
    ToReview,
    /// Every use (admins and auditors).
    All,
}

/// A use as people see it: the record, where its review stands now, and its grant.
#[derive(Debug, Clone)]
pub struct BreakGlassView {
    /// The use.
    pub used: BreakGlassUse,
    /// Where its review stands.
    pub state: ReviewState,
    /// Its grant as it stands (ended early by a session end or a revocation).
    pub grant: Option<Grant>,
}

/// What a reviewer decides on.
#[derive(Debug, Clone)]
pub struct BreakGlassEvidence {
    /// The use.
    pub view: BreakGlassView,
    /// Every Check the grant allowed, oldest first (at most [`MAX_BREAK_GLASS_CHECKS`]).
    pub checks: Vec<BreakGlassCheck>,
    /// Whether the cap on kept Checks was reached (later allowed Checks are not listed).
    pub checks_capped: bool,
    /// Every audit event the user caused while the grant was active, oldest first.
    pub writes: Vec<StoredAuditEvent>,
}

impl Elevator {
    /// Break-glass uses, newest first, as `listing` says.
    #[tracing::instrument(skip_all)]
    pub async fn list_break_glass(
        &self,
        caller: &Identity,
        listing: BreakGlassListing,
        page_size_requested: u32,
        token: &str,
    ) -> Result<Page<BreakGlassView>, ServiceError> {
        let before = match token {
            "" => None,
            text => Some(BreakGlassId::parse(text).map_err(|_| {
                ServiceError::invalid("page_token", "not a token returned by this listing")
            })?),
        };
        let limit = page_size(page_size_requested);
        let mut filter = BreakGlassFilter {
            subject: None,
            unreviewed: false,
            overdue_at: None,
            before,
            limit,
        };
        match listing {
            BreakGlassListing::Mine => filter.subject = Some(caller.subject.clone()),
            // Read a whole page's worth and keep those the caller reviews.
            BreakGlassListing::ToReview => {
                filter.unreviewed = true;
                filter.limit = MAX_PAGE_SIZE;
            }
            BreakGlassListing::All => self.require_overseer(caller)?,
        }
        let found = self.store.list_break_glass(&filter).await?;
        let read_all = found.len() < filter.limit;
        let last_read = found.last().map(|used| used.id);
        let mut items = Vec::new();
        for used in found {
            if listing == BreakGlassListing::ToReview && !used.may_review(caller) {
                continue;
            }
            items.push(self.view(used).await?);
            if items.len() == limit {
                break;
            }
        }
        let next_page_token = match (items.len() == limit, read_all) {
            (true, _) => items.last().map(|view| view.used.id.to_string()),
            (false, false) => last_read.map(|id| id.to_string()),
            (false, true) => None,
        };
        Ok(Page {
            items,
            next_page_token,
        })
    }

    /// One use, for its user, its reviewers, admins and auditors.
    #[tracing::instrument(skip_all)]
    pub async fn get_break_glass(
        &self,
        caller: &Identity,
        id: BreakGlassId,
    ) -> Result<BreakGlassView, ServiceError> {
        let used = self.visible_use(caller, id).await?;
        self.view(used).await
    }

    /// A use with its evidence: the Checks its grant allowed and the user's writes while it was
    /// active.
    #[tracing::instrument(skip_all)]
    pub async fn break_glass_evidence(
        &self,
        caller: &Identity,
        id: BreakGlassId,
    ) -> Result<BreakGlassEvidence, ServiceError> {
        let used = self.visible_use(caller, id).await?;
        let view = self.view(used).await?;
        let checks = self.store.break_glass_checks(view.used.grant_id).await?;
        let active_until = active_until(&view);
        let writes = self
            .store
            .list_audit(&AuditFilter {
                actor: Some(view.used.subject.to_string()),
                from: Some(view.used.used_at),
                to: Some(active_until),
                limit: MAX_EVIDENCE_WRITES,
                ..AuditFilter::default()
            })
            .await?;
        Ok(BreakGlassEvidence {
            checks_capped: checks.len() >= MAX_BREAK_GLASS_CHECKS,
            checks,
            writes,
            view,
        })
    }

    /// Confirms or flags a use, once, as one of its reviewers (never its user). Of two
    /// concurrent reviews, one wins; the other is refused and changes nothing.
    #[tracing::instrument(skip_all)]
    pub async fn review_break_glass(
        &self,
        caller: &Identity,
        id: BreakGlassId,
        verdict: BreakGlassVerdict,
        comment: &str,
    ) -> Result<(BreakGlassView, Revision), ServiceError> {
        check_text("comment", comment, MAX_REASON_BYTES)?;
        if verdict == BreakGlassVerdict::Flagged && comment.trim().is_empty() {
            return Err(ServiceError::invalid(
                "comment",
                "say why the use is flagged: the alert carries it",
            ));
        }
        // Someone who may not see the use learns nothing about it.
        self.visible_use(caller, id).await?;
        let now = self.clock.now();
        let policy = self.decider.policy();
        let decide = |used: BreakGlassUse| {
            let reviewed = used.reviewed(caller, verdict, comment, now)?;
            let action = match verdict {
                BreakGlassVerdict::Confirmed => AuditAction::BreakGlassConfirmed,
                BreakGlassVerdict::Flagged => AuditAction::BreakGlassFlagged,
            };
            let event = review_event(action, caller, &reviewed, policy.version(), now);
            let change = self.ready_to_commit(Change {
                events: vec![event],
                break_glass: vec![reviewed],
                ..Change::default()
            });
            Ok(match policy.break_glass_entry(&used.entry) {
                Some(entry) if verdict == BreakGlassVerdict::Flagged => {
                    with_security_contacts(change, entry, action)
                }
                _ => change,
            })
        };
        let committed = self.store.update_break_glass(id, &decide).await?;
        self.after_commit(&committed).await;
        self.metrics
            .record_break_glass_review(verdict == BreakGlassVerdict::Flagged);
        let reviewed = committed
            .change
            .break_glass
            .first()
            .cloned()
            .ok_or_else(|| ServiceError::Internal("a review wrote no break-glass use".into()))?;
        Ok((self.view(reviewed).await?, committed.revision))
    }

    /// Keeps an allowed Check of a break-glass grant as evidence for its review. Evidence that
    /// cannot be kept turns the allow into a deny: an emergency grant is never used unseen.
    pub(super) async fn witness(&self, query: &CheckQuery<'_>, decision: Decision) -> Decision {
        let Some(grant) = decision.grant.as_ref().filter(|_| decision.allowed) else {
            return decision;
        };
        if !grant.break_glass {
            return decision;
        }
        let check = BreakGlassCheck {
            grant_id: grant.id,
            at: self.clock.now(),
            session: query.session.map(str::to_owned),
            permission: query.permission.to_owned(),
            resource: query.resource.to_owned(),
            request_id: super::context::current().map(|request| request.request_id),
        };
        match self.store.record_break_glass_check(&check).await {
            Ok(()) => decision,
            Err(error) => {
                tracing::error!(%error, grant = %check.grant_id, "cannot keep break-glass evidence");
                Decision::deny(DecisionReason::InternalError, decision.revision)
            }
        }
    }

    /// The use `id`, when the caller may see it: its user, a reviewer, an admin or an auditor.
    async fn visible_use(
        &self,
        caller: &Identity,
        id: BreakGlassId,
    ) -> Result<BreakGlassUse, ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: "break-glass use",
            id: id.to_string(),
        };
        let used = self
            .store
            .get_break_glass(id)
            .await?
            .ok_or_else(not_found)?;
        let sees = used.subject == caller.subject
            || used.reviewers.include(caller)
            || self.is_admin(caller)
            || caller.has_role(&self.roles.auditor);
        if sees { Ok(used) } else { Err(not_found()) }
    }

    /// Listing every use needs the admin or auditor role.
    fn require_overseer(&self, caller: &Identity) -> Result<(), ServiceError> {
        if self.is_admin(caller) || caller.has_role(&self.roles.auditor) {
            return Ok(());
        }
        Err(ServiceError::denied(
            "ROLE_REQUIRED",
            format!(
                "listing every break-glass use needs the {:?} or {:?} role",
                self.roles.admin, self.roles.auditor
            ),
        ))
    }

    async fn view(&self, used: BreakGlassUse) -> Result<BreakGlassView, ServiceError> {
        let grant = self.store.get_grant(used.grant_id).await?;
        Ok(BreakGlassView {
            state: used.review_state(self.clock.now()),
            used,
            grant,
        })
    }
}

/// When the grant stopped counting: its revocation (a session end), or its end.
fn active_until(view: &BreakGlassView) -> DateTime<Utc> {
    let ends_at = view
        .grant
        .as_ref()
        .map_or(view.used.ends_at, |g| g.not_after);
    match view.grant.as_ref().and_then(|g| g.revocation.as_ref()) {
        Some(revocation) => revocation.at.min(ends_at),
        None => ends_at,
    }
}

/// The audit event of a review.
fn review_event(
    action: AuditAction,
    caller: &Identity,
    reviewed: &BreakGlassUse,
    policy_version: u64,
    now: DateTime<Utc>,
) -> AuditEvent {
    let mut event = AuditEvent::new(action, caller.subject.as_str(), policy_version, now)
        .with_reason(
            reviewed
                .review
                .as_ref()
                .map(|review| review.comment.clone())
                .unwrap_or_default(),
        )
        .with_details(json!({
            "break_glass_id": reviewed.id.to_string(),
            "entry": reviewed.entry,
            "used_at": reviewed.used_at.to_rfc3339(),
            "late": now >= reviewed.review_due_at,
        }));
    event.subject = Some(reviewed.subject.clone());
    event.role = Some(reviewed.role.clone());
    event.scope = Some(reviewed.scope.clone());
    event.elevation_id = Some(reviewed.elevation_id);
    event.grant_id = Some(reviewed.grant_id);
    event.ticket = Some(reviewed.incident.clone());
    event
}
