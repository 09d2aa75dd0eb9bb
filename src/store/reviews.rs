//! The part of the storage contract that keeps access review campaigns: a campaign written
//! with its items, and each item decided under its own lock together with the audit events of
//! the decision, so that of two concurrent decisions one wins and the other sees it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Change, Committed, StoreError};
use crate::domain::{Campaign, CampaignId, ReviewItem, ReviewItemId, TransitionError};

/// A pure decision over an item as read under its lock: the item as it is to be written, and
/// the change (audit events, outbox) committed with it; or why not.
pub type ReviewDecide<'a> =
    &'a (dyn Fn(ReviewItem) -> Result<(ReviewItem, Change), TransitionError> + Send + Sync);

/// Most items one campaign may hold (a campaign larger than this is narrowed by role first).
pub const MAX_CAMPAIGN_ITEMS: usize = 10_000;

/// Access review campaigns and their items.
#[async_trait]
pub trait Reviews: Send + Sync {
    /// Writes a new campaign with its items and the change that announces it, at once.
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        items: &[ReviewItem],
        change: Change,
    ) -> Result<Committed, StoreError>;

    /// Decides and applies a change to one item, under its lock; a refusal writes nothing.
    async fn update_review_item(
        &self,
        id: ReviewItemId,
        decide: ReviewDecide<'_>,
    ) -> Result<(ReviewItem, Committed), StoreError>;

    /// One campaign.
    async fn get_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError>;

    /// Campaigns, newest first, at most `limit`.
    async fn list_campaigns(&self, limit: usize) -> Result<Vec<Campaign>, StoreError>;

    /// The newest campaign started under `name`.
    async fn latest_campaign_named(&self, name: &str) -> Result<Option<Campaign>, StoreError>;

    /// One item.
    async fn get_review_item(&self, id: ReviewItemId) -> Result<Option<ReviewItem>, StoreError>;

    /// The items of one campaign, or of every campaign, in creation order; only undecided
    /// ones when `open_only`.
    async fn list_review_items(
        &self,
        campaign: Option<CampaignId>,
        open_only: bool,
    ) -> Result<Vec<ReviewItem>, StoreError>;

    /// Undecided items, and how many of them are past their deadline at `now` (the gauges).
    async fn count_open_review_items(&self, now: DateTime<Utc>) -> Result<(u64, u64), StoreError>;

    /// Undecided items whose deadline has passed at `now`, at most `limit`.
    async fn due_review_items(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ReviewItemId>, StoreError>;
}
