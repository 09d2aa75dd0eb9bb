//! What time does to reviews, in the sweep: undecided items past their deadline get the
//! campaign's default (keep, remove, or one escalation), and campaigns with a schedule
//! (`every:`) start when their time has come.

use chrono::{DateTime, Utc};

use super::reviews::item_event;
use super::{Elevator, ServiceError};
use crate::domain::review::DEADLINE_ACTOR;
use crate::domain::{AuditAction, ReviewItem, TransitionError};
use crate::store::Change;

/// Items given their default per sweep, at most.
const DUE_ITEMS_PER_SWEEP: usize = 500;
/// The actor recorded for campaigns the schedule starts.
const SCHEDULE_ACTOR: &str = "system:review-schedule";

impl Elevator {
    /// Applies deadlines and schedules; returns how many items and campaigns moved.
    pub(super) async fn sweep_reviews(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let mut moved = 0;
        for id in self
            .store
            .due_review_items(now, DUE_ITEMS_PER_SWEEP)
            .await?
        {
            match self.apply_deadline(id, now).await {
                Ok(()) => moved += 1,
                Err(error) => {
                    tracing::warn!(item = %id, %error, "sweep could not apply a review deadline")
                }
            }
        }
        moved += self.start_scheduled_campaigns(now).await?;
        Ok(moved)
    }

    async fn apply_deadline(
        &self,
        id: crate::domain::ReviewItemId,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let Some(item) = self.store.get_review_item(id).await? else {
            return Ok(());
        };
        let Some(campaign) = self.store.get_campaign(item.campaign_id).await? else {
            return Ok(());
        };
        let policy_version = self.decider.policy().version();
        let decide = |item: ReviewItem| -> Result<(ReviewItem, Change), TransitionError> {
            let Some(next) = item.at_deadline(&campaign.on_deadline, now) else {
                // Decided meanwhile, or its deadline moved: nothing to do.
                return Ok((item, Change::default()));
            };
            let action = if next.decision.is_some() {
                AuditAction::ReviewItemDecided
            } else {
                AuditAction::ReviewItemEscalated
            };
            let event = item_event(action, DEADLINE_ACTOR, &next, policy_version, now);
            let change = self.ready_to_commit(Change {
                events: vec![event],
                ..Change::default()
            });
            Ok((next, change))
        };
        let (item, committed) = self.store.update_review_item(id, &decide).await?;
        self.after_commit(&committed).await;
        if !committed.change.is_empty() {
            self.finish_decision(item).await?;
        }
        Ok(())
    }

    /// Starts every scheduled campaign whose last start lies `every` or more behind `now`
    /// (or that never started).
    async fn start_scheduled_campaigns(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let policy = self.decider.policy();
        let mut started = 0;
        for definition in &policy.reviews().campaigns {
            let Some(every) = definition.every else {
                continue;
            };
            let latest = self.store.latest_campaign_named(&definition.name).await?;
            if latest.is_some_and(|campaign| campaign.started_at + every > now) {
                continue;
            }
            match self
                .start_campaign_as(SCHEDULE_ACTOR, &definition.name)
                .await
            {
                Ok(_) => started += 1,
                Err(error) => {
                    tracing::warn!(campaign = %definition.name, %error, "a scheduled campaign did not start")
                }
            }
        }
        Ok(started)
    }
}
