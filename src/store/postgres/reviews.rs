//! The PostgreSQL store's review campaigns and items: each kept whole as JSON beside the columns
//! it is selected by; an item is decided under its row lock in the same transaction as the
//! decision's audit events (see [`super::transaction::apply`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::PostgresStore;
use super::transaction::{apply, cached, in_transaction};
use crate::domain::{Campaign, CampaignId, ReviewItem, ReviewItemId};
use crate::store::{Change, Committed, ReviewDecide, Reviews, StoreError};

const INSERT_CAMPAIGN: &str =
    "INSERT INTO review_campaigns (id, name, started_at, body) VALUES ($1, $2, $3, $4)";
const INSERT_ITEM: &str = "INSERT INTO review_items (id, campaign_id, deadline, decided, body) \
     VALUES ($1, $2, $3, $4, $5)";
const ITEM_FOR_UPDATE: &str = "SELECT body FROM review_items WHERE id = $1 FOR UPDATE";
const UPDATE_ITEM: &str =
    "UPDATE review_items SET deadline = $2, decided = $3, body = $4 WHERE id = $1";
const CAMPAIGN: &str = "SELECT body FROM review_campaigns WHERE id = $1";
const CAMPAIGNS: &str =
    "SELECT body FROM review_campaigns ORDER BY started_at DESC, id DESC LIMIT $1";
const LATEST_NAMED: &str =
    "SELECT body FROM review_campaigns WHERE name = $1 ORDER BY started_at DESC LIMIT 1";
const ITEM: &str = "SELECT body FROM review_items WHERE id = $1";
const ITEMS: &str = "SELECT body FROM review_items \
     WHERE ($1::uuid IS NULL OR campaign_id = $1) AND (NOT $2 OR NOT decided) ORDER BY id";
const OPEN_COUNTS: &str = "SELECT count(*), count(*) FILTER (WHERE deadline <= $1) \
     FROM review_items WHERE NOT decided";
const DUE_ITEMS: &str = "SELECT id FROM review_items WHERE NOT decided AND deadline <= $1 \
     ORDER BY deadline LIMIT $2";

fn body<T: DeserializeOwned>(row: &Row) -> Result<T, StoreError> {
    let Json(value): Json<serde_json::Value> = row.try_get(0)?;
    serde_json::from_value(value)
        .map_err(|error| StoreError::Corrupt(format!("a stored review row does not read: {error}")))
}

fn json<T: Serialize>(value: &T) -> Result<Json<serde_json::Value>, StoreError> {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|error| StoreError::Internal(format!("a review row does not write: {error}")))
}

#[async_trait]
impl Reviews for PostgresStore {
    async fn create_campaign(
        &self,
        campaign: &Campaign,
        items: &[ReviewItem],
        change: Change,
    ) -> Result<Committed, StoreError> {
        let campaign_body = json(campaign)?;
        let item_bodies = items
            .iter()
            .map(|item| json(item).map(|body| (item, body)))
            .collect::<Result<Vec<_>, _>>()?;
        in_transaction!(self, |tx| {
            tx.execute(
                &cached!(tx, INSERT_CAMPAIGN),
                &[
                    &campaign.id.0,
                    &campaign.name,
                    &campaign.started_at,
                    &campaign_body,
                ],
            )
            .await?;
            let insert = cached!(tx, INSERT_ITEM);
            for (item, item_body) in &item_bodies {
                tx.execute(
                    &insert,
                    &[
                        &item.id.0,
                        &item.campaign_id.0,
                        &item.deadline,
                        &item.decision.is_some(),
                        item_body,
                    ],
                )
                .await?;
            }
            apply(&tx, change.clone()).await
        })
    }

    async fn update_review_item(
        &self,
        id: ReviewItemId,
        decide: ReviewDecide<'_>,
    ) -> Result<(ReviewItem, Committed), StoreError> {
        in_transaction!(self, |tx| {
            let row = tx
                .query_opt(&cached!(tx, ITEM_FOR_UPDATE), &[&id.0])
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "review item",
                    id: id.to_string(),
                })?;
            let (item, change) = decide(body(&row)?).map_err(StoreError::Rejected)?;
            tx.execute(
                &cached!(tx, UPDATE_ITEM),
                &[
                    &id.0,
                    &item.deadline,
                    &item.decision.is_some(),
                    &json(&item)?,
                ],
            )
            .await?;
            let committed = apply(&tx, change).await?;
            Ok((item, committed))
        })
    }

    async fn get_campaign(&self, id: CampaignId) -> Result<Option<Campaign>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&cached!(client, CAMPAIGN), &[&id.0])
            .await?;
        row.as_ref().map(body).transpose()
    }

    async fn list_campaigns(&self, limit: usize) -> Result<Vec<Campaign>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&cached!(client, CAMPAIGNS), &[&(limit as i64)])
            .await?;
        rows.iter().map(body).collect()
    }

    async fn latest_campaign_named(&self, name: &str) -> Result<Option<Campaign>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(&cached!(client, LATEST_NAMED), &[&name])
            .await?;
        row.as_ref().map(body).transpose()
    }

    async fn get_review_item(&self, id: ReviewItemId) -> Result<Option<ReviewItem>, StoreError> {
        let client = self.client().await?;
        let row = client.query_opt(&cached!(client, ITEM), &[&id.0]).await?;
        row.as_ref().map(body).transpose()
    }

    async fn list_review_items(
        &self,
        campaign: Option<CampaignId>,
        open_only: bool,
    ) -> Result<Vec<ReviewItem>, StoreError> {
        let client = self.client().await?;
        let campaign: Option<Uuid> = campaign.map(|id| id.0);
        let rows = client
            .query(&cached!(client, ITEMS), &[&campaign, &open_only])
            .await?;
        rows.iter().map(body).collect()
    }

    async fn count_open_review_items(&self, now: DateTime<Utc>) -> Result<(u64, u64), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(&cached!(client, OPEN_COUNTS), &[&now])
            .await?;
        let (open, overdue): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        Ok((open.max(0) as u64, overdue.max(0) as u64))
    }

    async fn due_review_items(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ReviewItemId>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(&cached!(client, DUE_ITEMS), &[&now, &(limit as i64)])
            .await?;
        rows.iter()
            .map(|row| Ok(ReviewItemId(row.try_get(0)?)))
            .collect()
    }
}
