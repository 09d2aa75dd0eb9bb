//! The in-memory store's writes: each decides and applies its change under the one lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{Elevation, ElevationId, GrantId, SessionId, Subject};
use crate::store::{
    Change, Committed, Created, Decide, ElevationContext, GrantContext, PolicyVersion, StoreError,
    Writes, decide_change, decide_checked,
};

#[async_trait]
impl Writes for MemoryStore {
    async fn create_elevation(
        &self,
        change: Change,
        idempotency: Option<(Subject, String)>,
    ) -> Result<Created, StoreError> {
        let mut existing = None;
        let committed = self.commit_with(|state| {
            if let Some(key) = &idempotency
                && let Some(id) = state.idempotency_keys.get(key)
            {
                existing = state.elevations.get(id).cloned();
                return Ok(state.apply(Change::default()));
            }
            Ok(state.apply(change))
        })?;
        Ok(match existing {
            Some(elevation) => Created::Existing(Box::new(elevation)),
            None => Created::New(Box::new(committed)),
        })
    }

    async fn update_elevation(
        &self,
        id: ElevationId,
        now: DateTime<Utc>,
        decide: Decide<'_, ElevationContext>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let context = state
                .elevation_context(id, now)
                .ok_or_else(|| StoreError::NotFound {
                    what: "elevation",
                    id: id.to_string(),
                })?;
            let before = [context.elevation.clone()];
            let change = decide_checked(decide, context, &before)?;
            Ok(state.apply(change))
        })
    }

    async fn update_grant(
        &self,
        id: GrantId,
        decide: Decide<'_, GrantContext>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let grant = state.grants.get(&id).ok_or_else(|| StoreError::NotFound {
                what: "grant",
                id: id.to_string(),
            })?;
            let context = state.grant_context(grant);
            let before: Vec<Elevation> = context.elevation.iter().cloned().collect();
            let change = decide_checked(decide, context, &before)?;
            Ok(state.apply(change))
        })
    }

    async fn update_session(
        &self,
        subject: &Subject,
        session: &SessionId,
        now: DateTime<Utc>,
        decide: Decide<'_, Vec<GrantContext>>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let contexts: Vec<GrantContext> = state
                .subject_grants(subject.as_str())
                .filter(|grant| grant.session.as_ref() == Some(session) && !grant.has_ended(now))
                .map(|grant| state.grant_context(grant))
                .collect();
            let before: Vec<Elevation> = contexts
                .iter()
                .filter_map(|context| context.elevation.clone())
                .collect();
            let change = decide_checked(decide, contexts, &before)?;
            Ok(state.apply(change))
        })
    }

    async fn update_policy(
        &self,
        decide: Decide<'_, Option<PolicyVersion>>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let change = decide_change(decide, state.policies.last().cloned())?;
            Ok(state.apply(change))
        })
    }

    async fn append(&self, change: Change) -> Result<Committed, StoreError> {
        self.commit_with(|state| Ok(state.apply(change)))
    }
}
