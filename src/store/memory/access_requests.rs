//! The in-memory store's requestable denials and access requests, under their own lock (they
//! are written apart from every other change, as in PostgreSQL, where they are plain rows).

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{AccessRequestRecord, ElevationId, RequestableDenial};
use crate::store::{AccessRequests, DENIAL_RETENTION_AFTER_EXPIRY, StoreError};

/// What the profile's tables hold.
#[derive(Default)]
pub(super) struct ProfileState {
    denials: HashMap<String, RequestableDenial>,
    /// Access requests in submission order.
    requests: Vec<AccessRequestRecord>,
}

impl MemoryStore {
    fn profile(&self) -> std::sync::MutexGuard<'_, ProfileState> {
        // Every write below is a single insert, complete before the lock is released.
        self.profile
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl AccessRequests for MemoryStore {
    async fn save_denial(
        &self,
        denial: &RequestableDenial,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut state = self.profile();
        state
            .denials
            .retain(|_, kept| kept.expires_at + DENIAL_RETENTION_AFTER_EXPIRY > now);
        if state.denials.contains_key(&denial.evaluation_id) {
            return Err(StoreError::Conflict(
                "an evaluation with this id is already kept".into(),
            ));
        }
        state
            .denials
            .insert(denial.evaluation_id.clone(), denial.clone());
        Ok(())
    }

    async fn get_denial(
        &self,
        evaluation_id: &str,
    ) -> Result<Option<RequestableDenial>, StoreError> {
        Ok(self.profile().denials.get(evaluation_id).cloned())
    }

    async fn create_access_request(
        &self,
        record: &AccessRequestRecord,
    ) -> Result<AccessRequestRecord, StoreError> {
        let mut state = self.profile();
        if let Some(key) = &record.idempotency_key {
            let earlier = state.requests.iter().find(|kept| {
                kept.submitted_by == record.submitted_by
                    && kept.idempotency_key.as_ref() == Some(key)
            });
            if let Some(earlier) = earlier {
                return Ok(earlier.clone());
            }
        }
        if state
            .requests
            .iter()
            .any(|kept| kept.task_id == record.task_id)
        {
            return Err(StoreError::Conflict(
                "an access request with this task id is already kept".into(),
            ));
        }
        state.requests.push(record.clone());
        Ok(record.clone())
    }

    async fn access_request_by_key(
        &self,
        submitted_by: &str,
        idempotency_key: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        Ok(self
            .profile()
            .requests
            .iter()
            .find(|kept| {
                kept.submitted_by.as_str() == submitted_by
                    && kept.idempotency_key.as_deref() == Some(idempotency_key)
            })
            .cloned())
    }

    async fn get_access_request(
        &self,
        task_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        Ok(self
            .profile()
            .requests
            .iter()
            .find(|kept| kept.task_id == task_id)
            .cloned())
    }

    async fn access_request_by_approval(
        &self,
        approval_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        Ok(self
            .profile()
            .requests
            .iter()
            .find(|kept| kept.item_by_approval(approval_id).is_some())
            .cloned())
    }

    async fn access_request_by_evaluation(
        &self,
        evaluation_id: &str,
    ) -> Result<Option<AccessRequestRecord>, StoreError> {
        Ok(self
            .profile()
            .requests
            .iter()
            .find(|kept| {
                kept.items
                    .iter()
                    .any(|item| item.evaluation_id.as_deref() == Some(evaluation_id))
            })
            .cloned())
    }

    async fn access_requests_for_elevations(
        &self,
        elevations: &[ElevationId],
    ) -> Result<Vec<AccessRequestRecord>, StoreError> {
        Ok(self
            .profile()
            .requests
            .iter()
            .filter(|kept| {
                kept.items
                    .iter()
                    .any(|item| item.elevation_id.is_some_and(|id| elevations.contains(&id)))
            })
            .cloned()
            .collect())
    }
}
