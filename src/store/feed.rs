//! The change feed: what replicas learn about each other's writes.

use chrono::{DateTime, Utc};

use crate::domain::{EntityKey, Revision, Subject};

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
        /// The canonical keys of the directory entities the write put or deleted, so that a
        /// replica reads only those; empty when the directory changed in more places than a
        /// notification can list (then the whole directory is reloaded).
        directory_keys: Vec<EntityKey>,
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
