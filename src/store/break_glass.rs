//! The break-glass part of the storage contract: each use of break-glass with the review it
//! owes, written with the grant it activated (through [`super::Change`]) and reviewed under the
//! use's row lock, so that of two concurrent reviews exactly one wins.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Committed, Decide, StoreError};
use crate::domain::{BreakGlassCheck, BreakGlassId, BreakGlassUse, GrantId, Subject};

/// Which break-glass uses a listing returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct BreakGlassFilter {
    /// Only this user's uses.
    pub subject: Option<Subject>,
    /// Only uses not reviewed yet.
    pub unreviewed: bool,
    /// Only uses unreviewed past their review deadline at this moment.
    pub overdue_at: Option<DateTime<Utc>>,
    /// Only uses older than this one (the page token).
    pub before: Option<BreakGlassId>,
    /// At most this many.
    pub limit: usize,
}

/// Break-glass uses as they stand.
#[async_trait]
pub trait BreakGlassUses: Send + Sync {
    /// One use.
    async fn get_break_glass(&self, id: BreakGlassId) -> Result<Option<BreakGlassUse>, StoreError>;

    /// Uses matching `filter`, newest first.
    async fn list_break_glass(
        &self,
        filter: &BreakGlassFilter,
    ) -> Result<Vec<BreakGlassUse>, StoreError>;

    /// How many uses are unreviewed past their deadline at `now`.
    async fn overdue_break_glass(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Keeps a Check a break-glass grant allowed, unless [`crate::domain::MAX_BREAK_GLASS_CHECKS`]
    /// are kept for the grant already (then nothing is written).
    async fn record_break_glass_check(&self, check: &BreakGlassCheck) -> Result<(), StoreError>;

    /// The Checks kept for a grant, oldest first.
    async fn break_glass_checks(&self, grant: GrantId) -> Result<Vec<BreakGlassCheck>, StoreError>;

    /// Decides and applies a change to one use (its review), under its lock.
    async fn update_break_glass(
        &self,
        id: BreakGlassId,
        decide: Decide<'_, BreakGlassUse>,
    ) -> Result<Committed, StoreError>;
}
