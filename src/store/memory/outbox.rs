//! The in-memory store's webhook outbox: claims, outcomes and the count still to deliver.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::store::{DeliveryOutcome, Outbox, PendingDelivery, StoreError, with_revision};

#[async_trait]
impl Outbox for MemoryStore {
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease: chrono::TimeDelta,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let mut state = self.lock();
        let mut claimed = Vec::new();
        for (index, row) in state.outbox.iter_mut().enumerate() {
            if claimed.len() == limit {
                break;
            }
            let due = !row.finished
                && row.next_attempt_at <= now
                && row.locked_until.is_none_or(|until| until <= now);
            if due {
                row.locked_until = Some(now + lease);
                claimed.push(PendingDelivery {
                    id: self.delivery_ids.id(index),
                    url: row.message.url.clone(),
                    event_kind: row.message.event_kind.clone(),
                    payload: with_revision(row.message.payload.clone(), row.revision),
                    attempts: row.attempts,
                });
            }
        }
        Ok(claimed)
    }

    async fn finish_delivery(
        &self,
        id: i64,
        outcome: DeliveryOutcome,
        _now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let row = self
            .delivery_ids
            .index(id)
            .and_then(|index| state.outbox.get_mut(index))
            .ok_or_else(|| StoreError::NotFound {
                what: "delivery",
                id: id.to_string(),
            })?;
        row.attempts += 1;
        row.locked_until = None;
        match outcome {
            DeliveryOutcome::Delivered => row.finished = true,
            DeliveryOutcome::Failed { retry_at, .. } => match retry_at {
                Some(at) => row.next_attempt_at = at,
                None => row.finished = true,
            },
        }
        Ok(())
    }

    async fn pending_deliveries(&self) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .outbox
            .iter()
            .filter(|row| !row.finished)
            .count() as u64)
    }
}
