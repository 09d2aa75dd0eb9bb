//! The change feed: what replicas learn about each other's writes.

use chrono::{DateTime, Utc};

use crate::domain::{Revision, Subject};

/// What replicas learn about each other's writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreEvent {
    /// A write committed.
    Changed {
        /// Its revision.
        revision: Revision,
        /// Subjects whose grants or risk signals changed.
        subjects: Vec<Subject>,
        /// Too many subjects changed to list: treat every cached subject as changed.
        everyone: bool,
        /// Whether the policy changed.
        policy_changed: bool,
        /// Whether the stored directory changed.
        directory_changed: bool,
        /// When it committed, by the store's clock (for the invalidation-lag metric).
        committed_at: Option<DateTime<Utc>>,
    },
    /// The change feed broke: anything cached may be stale until [`StoreEvent::Restored`].
    Lost,
    /// The change feed works again; nothing after `revision` was missed.
    Restored {
        /// The revision when listening resumed.
        revision: Revision,
    },
}
