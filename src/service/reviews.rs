//! Access review campaigns: start one (an admin, or the schedule), list campaigns and items
//! (a whole campaign for admins and auditors, "my reviews" for a reviewer), decide an item
//! (keep or remove, once, before its deadline, never one's own access), and export a
//! campaign's result as signed evidence. A removal is carried out by
//! [`Elevator::carry_out_removal`] through the normal use cases.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{Elevator, MAX_REASON_BYTES, ServiceError, check_text};
use crate::domain::{
    AuditAction, AuditEvent, Campaign, CampaignId, DeadlineRule, Identity, ReviewChoice,
    ReviewEvidence, ReviewItem, ReviewItemId, ReviewVerdict, TransitionError,
};
use crate::store::Change;

/// Most campaigns one listing returns.
const MAX_CAMPAIGNS_LISTED: usize = 200;

/// A campaign with how far its review has come.
#[derive(Debug, Clone)]
pub struct CampaignProgress {
    /// The campaign.
    pub campaign: Campaign,
    /// Its items.
    pub items: usize,
    /// Items decided.
    pub decided: usize,
    /// Items decided remove.
    pub removed: usize,
    /// Undecided items past their deadline (the sweeper applies the default).
    pub overdue: usize,
}

/// Which items a listing shows.
#[derive(Debug, Clone, Copy)]
pub enum ItemSelection {
    /// The undecided items the caller may decide (any campaign).
    Mine,
    /// Every item of one campaign (admins and auditors).
    Campaign(CampaignId),
}

/// The audit event of `item`'s decision (or escalation) by `actor`.
pub(super) fn item_event(
    action: AuditAction,
    actor: &str,
    item: &ReviewItem,
    policy_version: u64,
    at: DateTime<Utc>,
) -> AuditEvent {
    let target = &item.target;
    let mut event = AuditEvent::new(action, actor, policy_version, at)
        .with_details(json!({
            "campaign_id": item.campaign_id.to_string(),
            "item_id": item.id.to_string(),
            "kind": target.kind.as_str(),
            "verdict": item.decision.as_ref().map(|d| d.verdict.as_str()),
            "by_default": item.decision.as_ref().is_some_and(|d| d.by_default),
            "reviewers": item.reviewers.iter().map(|r| r.label()).collect::<Vec<_>>(),
            "evidence": item.evidence,
        }))
        .with_reason(
            item.decision
                .as_ref()
                .map(|d| d.comment.clone())
                .unwrap_or_default(),
        );
    event.subject = Some(target.subject.clone());
    event.role = Some(target.role.clone());
    event.scope = target.scope.clone();
    event.grant_id = target.grant_id;
    event
}

fn progress(campaign: Campaign, items: &[ReviewItem], now: DateTime<Utc>) -> CampaignProgress {
    let decided = items.iter().filter(|item| item.decision.is_some()).count();
    let removed = (items.iter())
        .filter(|item| (item.decision.as_ref()).is_some_and(|d| d.verdict == ReviewVerdict::Remove))
        .count();
    let overdue = (items.iter())
        .filter(|item| item.decision.is_none() && item.deadline <= now)
        .count();
    CampaignProgress {
        campaign,
        items: items.len(),
        decided,
        removed,
        overdue,
    }
}

impl Elevator {
    fn require_review_reader(&self, caller: &Identity, what: &str) -> Result<(), ServiceError> {
        if caller.has_role(&self.roles.auditor) || self.is_admin(caller) {
            return Ok(());
        }
        Err(ServiceError::denied(
            "ROLE_REQUIRED",
            format!(
                "{what} needs the {:?} or {:?} role in the caller's token",
                self.roles.admin, self.roles.auditor
            ),
        ))
    }

    /// Starts a campaign from the policy's definition `name` (admins).
    #[tracing::instrument(skip_all)]
    pub async fn start_campaign(
        &self,
        caller: &Identity,
        name: &str,
    ) -> Result<CampaignProgress, ServiceError> {
        self.require_role(caller, &self.roles.admin, "StartCampaign")?;
        self.start_campaign_as(caller.subject.as_str(), name).await
    }

    /// Starts a campaign from the definition `name`, recorded as started by `actor`.
    pub(super) async fn start_campaign_as(
        &self,
        actor: &str,
        name: &str,
    ) -> Result<CampaignProgress, ServiceError> {
        let policy = self.decider.policy();
        let Some(definition) = policy.reviews().campaign(name) else {
            return Err(ServiceError::invalid(
                "name",
                format!(
                    "{} names no campaign in the policy's reviews.campaigns",
                    crate::domain::shown(name)
                ),
            ));
        };
        let now = self.clock.now();
        let campaign = Campaign {
            id: CampaignId::generate(),
            name: definition.name.clone(),
            started_by: actor.to_owned(),
            started_at: now,
            deadline: now + definition.deadline,
            on_deadline: DeadlineRule {
                default: definition.on_deadline,
                escalation_seconds: definition.escalation_window.num_seconds(),
            },
            covers: definition.covers.clone(),
            roles: definition.roles.clone(),
            period_start: now - definition.history,
            policy_version: policy.version(),
        };
        let items = self.campaign_items(&campaign, definition, &policy).await?;
        let event = AuditEvent::new(
            AuditAction::ReviewCampaignStarted,
            actor,
            policy.version(),
            now,
        )
        .with_details(json!({
            "campaign_id": campaign.id.to_string(),
            "name": campaign.name,
            "items": items.len(),
            "deadline": campaign.deadline.to_rfc3339(),
            "on_deadline": campaign.on_deadline.default.as_str(),
        }));
        let change = self.ready_to_commit(Change {
            events: vec![event],
            ..Change::default()
        });
        let committed = self
            .store
            .create_campaign(&campaign, &items, change)
            .await?;
        self.after_commit(&committed).await;
        Ok(progress(campaign, &items, now))
    }

    /// Campaigns, newest first, with their progress (admins and auditors).
    #[tracing::instrument(skip_all)]
    pub async fn list_campaigns(
        &self,
        caller: &Identity,
    ) -> Result<Vec<CampaignProgress>, ServiceError> {
        self.require_review_reader(caller, "ListCampaigns")?;
        let now = self.clock.now();
        let mut listed = Vec::new();
        for campaign in self.store.list_campaigns(MAX_CAMPAIGNS_LISTED).await? {
            let items = self
                .store
                .list_review_items(Some(campaign.id), false)
                .await?;
            listed.push(progress(campaign, &items, now));
        }
        Ok(listed)
    }

    /// Review items: the caller's open ones, or a whole campaign's (admins and auditors).
    #[tracing::instrument(skip_all)]
    pub async fn list_review_items(
        &self,
        caller: &Identity,
        selection: ItemSelection,
    ) -> Result<Vec<ReviewItem>, ServiceError> {
        match selection {
            ItemSelection::Mine => Ok(self
                .store
                .list_review_items(None, true)
                .await?
                .into_iter()
                .filter(|item| item.may_review(caller).is_ok())
                .collect()),
            ItemSelection::Campaign(id) => {
                self.require_review_reader(caller, "ListReviewItems of a whole campaign")?;
                if self.store.get_campaign(id).await?.is_none() {
                    return Err(ServiceError::NotFound {
                        what: "campaign",
                        id: id.to_string(),
                    });
                }
                Ok(self.store.list_review_items(Some(id), false).await?)
            }
        }
    }

    /// Decides item `id`: keep, or remove (carried out at once through the normal use case).
    /// Refused, changing nothing, when the caller is the item's subject or not one of its
    /// reviewers, when it was decided already, or when its deadline has passed.
    #[tracing::instrument(skip_all)]
    pub async fn decide_review_item(
        &self,
        caller: &Identity,
        id: ReviewItemId,
        verdict: ReviewVerdict,
        comment: &str,
    ) -> Result<ReviewItem, ServiceError> {
        check_text("comment", comment, MAX_REASON_BYTES)?;
        if verdict == ReviewVerdict::Remove && comment.trim().is_empty() {
            return Err(ServiceError::invalid(
                "comment",
                "say why the access should go",
            ));
        }
        let now = self.clock.now();
        let policy_version = self.decider.policy().version();
        let choice = ReviewChoice {
            reviewer: caller,
            verdict,
            comment,
            at: now,
        };
        let decide = |item: ReviewItem| -> Result<(ReviewItem, Change), TransitionError> {
            let decided = item.decide(&choice)?;
            let event = item_event(
                AuditAction::ReviewItemDecided,
                caller.subject.as_str(),
                &decided,
                policy_version,
                now,
            );
            let change = self.ready_to_commit(Change {
                events: vec![event],
                ..Change::default()
            });
            Ok((decided, change))
        };
        let (item, committed) = self.store.update_review_item(id, &decide).await?;
        self.after_commit(&committed).await;
        self.finish_decision(item).await
    }

    /// Carries out a removal decided on `item` and records what it did on the item.
    pub(super) async fn finish_decision(
        &self,
        item: ReviewItem,
    ) -> Result<ReviewItem, ServiceError> {
        let Some(decision) = &item.decision else {
            return Ok(item);
        };
        if decision.verdict != ReviewVerdict::Remove {
            return Ok(item);
        }
        let outcome = self.carry_out_removal(&item, &decision.by).await;
        let record = |stored: ReviewItem| -> Result<(ReviewItem, Change), TransitionError> {
            Ok((stored.with_outcome(outcome.clone()), Change::default()))
        };
        let (item, _) = self.store.update_review_item(item.id, &record).await?;
        Ok(item)
    }

    /// A campaign's result as signed evidence (admins and auditors): the campaign, every item,
    /// the CSV's digest and the signed audit chain head it was taken at, signed with the audit
    /// chain's key.
    #[tracing::instrument(skip_all)]
    pub async fn export_campaign(
        &self,
        caller: &Identity,
        id: CampaignId,
    ) -> Result<ReviewEvidence, ServiceError> {
        self.require_review_reader(caller, "ExportCampaign")?;
        let campaign =
            self.store
                .get_campaign(id)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "campaign",
                    id: id.to_string(),
                })?;
        let items = self.store.list_review_items(Some(id), false).await?;
        let head = self.checkpoint().await?;
        let evidence = ReviewEvidence::build(&campaign, &items, &head, |message| {
            self.signer.sign_bytes(message)
        });
        let now = self.clock.now();
        let event = AuditEvent::new(
            AuditAction::ReviewEvidenceExported,
            caller.subject.as_str(),
            self.decider.policy().version(),
            now,
        )
        .with_details(json!({
            "campaign_id": id.to_string(),
            "items": items.len(),
            "head_seq": head.seq,
        }));
        let committed = self
            .store
            .append(self.ready_to_commit(Change {
                events: vec![event],
                ..Change::default()
            }))
            .await?;
        self.after_commit(&committed).await;
        Ok(evidence)
    }

    /// Open and overdue review items, for the metrics.
    pub async fn review_item_counts(&self) -> Result<(u64, u64), ServiceError> {
        let now = self.clock.now();
        let open = self.store.list_review_items(None, true).await?;
        let overdue = open.iter().filter(|item| item.deadline <= now).count();
        Ok((open.len() as u64, overdue as u64))
    }
}
