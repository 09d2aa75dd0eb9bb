//! The in-memory store's operations: due elevations, the sweep lease (always its own: one
//! process is the only replica) and the pending count.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{Elevation, ElevationId, ElevationState};
use crate::store::{Lease, Operations, StoreError};

#[async_trait]
impl Operations for MemoryStore {
    async fn due_elevations(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ElevationId>, StoreError> {
        let state = self.lock();
        let grant_of = |elevation: &Elevation| {
            elevation
                .grant_id
                .and_then(|grant_id| state.grants.get(&grant_id))
        };
        Ok(state
            .elevations
            .values()
            .filter(|elevation| match elevation.state() {
                ElevationState::Pending => now >= elevation.request_expires_at,
                ElevationState::Scheduled => grant_of(elevation)
                    .is_some_and(|grant| now >= grant.not_before || grant.revocation.is_some()),
                ElevationState::Active => grant_of(elevation)
                    .is_some_and(|grant| now >= grant.not_after || grant.revocation.is_some()),
                _ => false,
            })
            .map(|elevation| elevation.id)
            .take(limit)
            .collect())
    }
    async fn pending_elevations(&self) -> Result<u64, StoreError> {
        Ok(self
            .lock()
            .elevations
            .values()
            .filter(|elevation| elevation.state() == ElevationState::Pending)
            .count() as u64)
    }

    async fn sweep_lease(&self) -> Result<Option<Lease>, StoreError> {
        // One process is the only replica.
        Ok(Some(Lease::new(())))
    }
}
