//! The PostgreSQL store's webhook outbox: claims (each a lease on the row), outcomes and the
//! count still to deliver.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PostgresStore;
use super::queries;
use super::transaction::cached;
use crate::store::{DeliveryOutcome, Outbox, PendingDelivery, StoreError, with_revision};

#[async_trait]
impl Outbox for PostgresStore {
    #[tracing::instrument(name = "postgres.claim_deliveries", skip_all, fields(db.system = "postgresql"))]
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                &cached!(client, queries::CLAIM_DELIVERIES),
                &[&now, &(now + lease), &(limit as i64)],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                let revision: i64 = row.get(5);
                let attempts: i32 = row.get(4);
                PendingDelivery {
                    id: row.get(0),
                    url: row.get(1),
                    event_kind: row.get(2),
                    payload: with_revision(row.get(3), revision as u64),
                    attempts: attempts.max(0) as u32,
                }
            })
            .collect())
    }

    #[tracing::instrument(name = "postgres.finish_delivery", skip_all, fields(db.system = "postgresql"))]
    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let client = self.client().await?;
        match outcome {
            DeliveryOutcome::Delivered => {
                client
                    .execute(&cached!(client, queries::DELIVERED), &[&id, &now])
                    .await
            }
            DeliveryOutcome::Failed { error, retry_at } => {
                client
                    .execute(
                        &cached!(client, queries::DELIVERY_FAILED),
                        &[&id, &error, &retry_at, &now],
                    )
                    .await
            }
        }?;
        Ok(())
    }

    #[tracing::instrument(name = "postgres.pending_deliveries", skip_all, fields(db.system = "postgresql"))]
    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        self.single_number(queries::PENDING_DELIVERIES).await
    }
}
