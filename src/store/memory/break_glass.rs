//! The in-memory store's break-glass uses: kept by id in the one state, reviewed under the one
//! lock.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::MemoryStore;
use crate::domain::{
    BreakGlassCheck, BreakGlassId, BreakGlassUse, GrantId, MAX_BREAK_GLASS_CHECKS,
};
use crate::store::{
    BreakGlassFilter, BreakGlassUses, Committed, Decide, StoreError, decide_change,
};

#[async_trait]
impl BreakGlassUses for MemoryStore {
    async fn get_break_glass(&self, id: BreakGlassId) -> Result<Option<BreakGlassUse>, StoreError> {
        Ok(self.lock().break_glass.get(&id).cloned())
    }

    async fn list_break_glass(
        &self,
        filter: &BreakGlassFilter,
    ) -> Result<Vec<BreakGlassUse>, StoreError> {
        let state = self.lock();
        Ok(state
            .break_glass
            .values()
            .rev()
            .filter(|used| filter.before.is_none_or(|before| used.id < before))
            .filter(|used| filter.subject.as_ref().is_none_or(|s| &used.subject == s))
            .filter(|used| !filter.unreviewed || used.review.is_none())
            .filter(|used| filter.overdue_at.is_none_or(|at| used.is_overdue(at)))
            .take(filter.limit)
            .cloned()
            .collect())
    }

    async fn overdue_break_glass(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let state = self.lock();
        Ok(state
            .break_glass
            .values()
            .filter(|used| used.is_overdue(now))
            .count() as u64)
    }

    async fn record_break_glass_check(&self, check: &BreakGlassCheck) -> Result<(), StoreError> {
        let mut state = self.lock();
        let kept = state.break_glass_checks.entry(check.grant_id).or_default();
        if kept.len() < MAX_BREAK_GLASS_CHECKS {
            kept.push(check.clone());
        }
        Ok(())
    }

    async fn break_glass_checks(&self, grant: GrantId) -> Result<Vec<BreakGlassCheck>, StoreError> {
        Ok(self
            .lock()
            .break_glass_checks
            .get(&grant)
            .cloned()
            .unwrap_or_default())
    }

    async fn update_break_glass(
        &self,
        id: BreakGlassId,
        decide: Decide<'_, BreakGlassUse>,
    ) -> Result<Committed, StoreError> {
        self.commit_with(|state| {
            let used = state
                .break_glass
                .get(&id)
                .cloned()
                .ok_or_else(|| StoreError::NotFound {
                    what: "break-glass use",
                    id: id.to_string(),
                })?;
            let change = decide_change(decide, used)?;
            Ok(state.apply(change))
        })
    }
}
