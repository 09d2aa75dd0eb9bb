//! The in-memory store's review campaigns and items, under the store's one lock like every
//! other write, so an item's decision and its audit events commit together.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{Campaign, CampaignId, ReviewItem, ReviewItemId};
use crate::store::{Change, Committed, ReviewDecide, Reviews, StoreError};

/// The campaigns and items kept.
#[derive(Default)]
pub(super) struct StoredReviews {
    campaigns: BTreeMap<CampaignId, Campaign>,
    items: BTreeMap<ReviewItemId, ReviewItem>,
}

#[async_trait]
impl Reviews for MemoryStore {
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        items: &[ReviewItem],
        change: Change,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            if state.reviews.campaigns.contains_key(&campaign.id) {
                return Err(StoreError::Conflict(format!(
                    "campaign {} exists already",
                    campaign.id
                )));
            }
            state
                .reviews
                .campaigns
                .insert(campaign.id, campaign.clone());
            for item in items {
                state.reviews.items.insert(item.id, item.clone());
            }
            Ok(state.apply(change))
        })
    }

    async fn update_review_item(
        &self,
        id: ReviewItemId,
        decide: ReviewDecide<'_>,
    ) -> Result<(ReviewItem, Committed), StoreError> {
        let mut written = None;
        let committed = self.commit_with(|state| {
            let item =
                state
                    .reviews
                    .items
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| StoreError::NotFound {
                        what: "review item",
                        id: id.to_string(),
                    })?;
            let (item, change) = decide(item).map_err(StoreError::Rejected)?;
            state.reviews.items.insert(id, item.clone());
            written = Some(item);
            Ok(state.apply(change))
        })?;
        let item = written.ok_or_else(|| StoreError::Internal("no item written".into()))?;
        Ok((item, committed))
    }

    async fn get_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError> {
        Ok(self.lock().reviews.campaigns.get(&id).cloned())
    }

    async fn list_campaigns(&self, limit: usize) -> Result<Vec<Campaign>, StoreError> {
        Ok(self
            .lock()
            .reviews
            .campaigns
            .values()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }

    async fn latest_campaign_named(&self, name: &str) -> Result<Option<Campaign>, StoreError> {
        Ok(self
            .lock()
            .reviews
            .campaigns
            .values()
            .filter(|campaign| campaign.name == name)
            .max_by_key(|campaign| campaign.started_at)
            .cloned())
    }

    async fn get_review_item(&self, id: ReviewItemId) -> Result<Option<ReviewItem>, StoreError> {
        Ok(self.lock().reviews.items.get(&id).cloned())
    }

    async fn list_review_items(
        &self,
        campaign: Option<CampaignId>,
        open_only: bool,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        Ok(self
            .lock()
            .reviews
            .items
            .values()
            .filter(|item| campaign.is_none_or(|id| item.campaign_id == id))
            .filter(|item| !open_only || item.decision.is_none())
            .cloned()
            .collect())
    }

    async fn count_open_review_items(&self, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let state = self.lock();
        let open = state
            .reviews
            .items
            .values()
            .filter(|item| item.decision.is_none());
        let (mut count, mut overdue) = (0, 0);
        for item in open {
            count += 1;
            overdue += u64::from(item.deadline <= now);
        }
        Ok((count, overdue))
    }

    async fn due_review_items(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ReviewItemId>, StoreError> {
        Ok(self
            .lock()
            .reviews
            .items
            .values()
            .filter(|item| item.decision.is_none() && item.deadline <= now)
            .take(limit)
            .map(|item| item.id)
            .collect())
    }
}
