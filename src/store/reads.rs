//! What reads ask for and get back: listing filters, snapshots with their revision, and the
//! paging rule both stores apply to the audit log.

use chrono::{DateTime, Utc};

use super::StoredAuditEvent;
use crate::domain::{ElevationId, ElevationState, GrantId, Revision, RoleName, Subject};

/// Which delegated grants to list.
#[derive(Debug, Clone)]
pub enum DelegationFilter {
    /// Those this subject delegated.
    GivenBy(Subject),
    /// Those delegated to this subject.
    GivenTo(Subject),
    /// Those delegated from this grant, at any depth.
    From(GrantId),
}

/// Values read in one snapshot, with the revision that snapshot reflects.
#[derive(Debug, Clone)]
pub struct Snapshot<T> {
    /// The values.
    pub value: T,
    /// Every write up to this revision is reflected in `value`.
    pub revision: Revision,
}

/// Filters for listing elevations; results are newest first.
#[derive(Debug, Clone, Default)]
pub struct ElevationFilter {
    /// Only this requester's.
    pub requester: Option<Subject>,
    /// Only in this state.
    pub state: Option<ElevationState>,
    /// Only for this role.
    pub role: Option<RoleName>,
    /// Only those older than this id (the page token).
    pub before: Option<ElevationId>,
    /// At most this many.
    pub limit: usize,
}

/// Filters for listing audit events; results are oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only events about this subject.
    pub subject: Option<Subject>,
    /// Only events by this actor.
    pub actor: Option<String>,
    /// Only events by this actor or about this subject (an "involving me" view).
    pub involving: Option<Subject>,
    /// Only this action.
    pub action: Option<crate::domain::AuditAction>,
    /// Only events about one of these elevations or grants (either matches).
    pub elevations: Vec<ElevationId>,
    /// See `elevations`.
    pub grants: Vec<GrantId>,
    /// Only events at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Only events before this time.
    pub to: Option<DateTime<Utc>>,
    /// Only events after this sequence number (the page token).
    pub after_seq: u64,
    /// At most this many.
    pub limit: usize,
}

/// A connection pool's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStatus {
    /// Connections open now.
    pub open: usize,
    /// Open connections not in use.
    pub idle: usize,
    /// The most it opens.
    pub max: usize,
}

/// Trims `events` (fetched with one more than `limit`) to at most `limit`, never cutting a
/// revision in two: a reader that resumes after the last revision it saw misses nothing.
pub(crate) fn whole_revisions(
    mut events: Vec<StoredAuditEvent>,
    limit: usize,
) -> Vec<StoredAuditEvent> {
    if events.len() <= limit {
        return events;
    }
    events.truncate(limit);
    let last = events.last().map(|event| event.revision);
    let first = events.first().map(|event| event.revision);
    if last != first {
        events.retain(|event| Some(event.revision) != last);
    }
    events
}
