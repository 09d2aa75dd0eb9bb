//! Keeping the stored directory's snapshot current on this replica. A directory write, on any
//! replica, is announced on the change feed with the canonical keys of the entities it put or
//! deleted; each replica then reads only those entities from the store and puts a snapshot
//! with them changed in force at once ([`Decider::replace_stored_directory`]).
//!
//! The snapshot is an immutable, validated [`Directory`] (every alias resolved, no clash):
//! a change builds the next one from the one in force and the entities read. That is only
//! right when the snapshot in force reflects every write before the announced one, which the
//! revision it remembers says; otherwise (the feed was lost, or a Check demands a revision the
//! feed has not brought yet), when the announcement names no keys (too many to list), or when
//! the changed entities clash with the snapshot (read later than the snapshot), the whole
//! directory is reloaded in one store read, as before there were keys. Refreshes coalesce: an
//! announcement at or below the snapshot's revision is already reflected, and only one refresh
//! runs at a time. Both kinds are counted ([`DirectoryRefreshes`]). BENCHMARKS.md ("The stored
//! directory at 100,000 entities") has what each costs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::Decider;
use crate::domain::{Directory, EntityKey, Revision};

/// The revision the directory snapshot in force was read at, and the lock that lets one
/// reload run at a time.
#[derive(Default)]
pub(crate) struct StoredDirectoryReload {
    /// One more than the revision of the snapshot in force (0: none read yet).
    loaded_after: AtomicU64,
    running: tokio::sync::Mutex<()>,
    full_reloads: AtomicU64,
    incremental_refreshes: AtomicU64,
}

/// How often this replica refreshed its stored directory, by kind (metrics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectoryRefreshes {
    /// Reloads of the whole directory.
    pub full: u64,
    /// Refreshes that read only the entities a write named.
    pub incremental: u64,
}

impl Decider {
    /// Reloads the stored directory unless the snapshot in force already reflects `revision`.
    /// A failed load or a stored directory that does not validate keeps the snapshot in force
    /// (and says so in the log); the next announcement or reconnect tries again.
    pub async fn reload_stored_directory(&self, revision: Revision) {
        self.refresh_stored_directory(revision, &[]).await;
    }

    /// Brings the stored directory in force up to the write at `revision`, which put or
    /// deleted the entities with the canonical keys `keys` (empty: unknown, reload whole).
    pub async fn refresh_stored_directory(&self, revision: Revision, keys: &[EntityKey]) {
        let reload = &self.stored_directory_reload;
        let loaded_after = || reload.loaded_after.load(Ordering::Acquire);
        if loaded_after() > revision {
            return;
        }
        let _running = reload.running.lock().await;
        if loaded_after() > revision {
            return;
        }
        // `loaded_after == revision`: the snapshot reflects every write before this one.
        if !keys.is_empty() && loaded_after() == revision {
            match self.changed_directory(keys).await {
                Ok(directory) => {
                    self.replace_stored_directory(directory);
                    reload.loaded_after.store(revision + 1, Ordering::Release);
                    reload.incremental_refreshes.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(reason) => {
                    tracing::debug!(reason, revision, "reloading the whole stored directory")
                }
            }
        }
        self.reload_whole_stored_directory().await;
    }

    /// The snapshot in force with the entities under `keys` as the store holds them now.
    async fn changed_directory(&self, keys: &[EntityKey]) -> Result<Directory, String> {
        let current = (self.store.entities_with_keys(keys).await)
            .map_err(|error| format!("could not read the changed entities: {error}"))?;
        (self.stored_directory.load().with_changes(keys, current)).map_err(|problems| {
            format!(
                "{} name clash(es) in the changed snapshot",
                problems.0.len()
            )
        })
    }

    /// Reads the whole stored directory and puts it in force (the caller holds `running`).
    async fn reload_whole_stored_directory(&self) {
        let reload = &self.stored_directory_reload;
        let started = Instant::now();
        let snapshot = match self.store.load_directory().await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                tracing::warn!(%error, "could not reload the stored directory; keeping the one in force");
                return;
            }
        };
        let entities = snapshot.value.len();
        match Directory::new(snapshot.value) {
            Ok(directory) => {
                self.replace_stored_directory(directory);
                reload
                    .loaded_after
                    .store(snapshot.revision + 1, Ordering::Release);
                reload.full_reloads.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(
                    entities,
                    revision = snapshot.revision,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    "stored directory reloaded"
                );
            }
            Err(problems) => tracing::error!(
                clashes = problems.0.len(),
                "the stored directory does not validate; keeping the one in force"
            ),
        }
    }

    /// How often this replica refreshed its stored directory, whole and by keys.
    pub fn directory_refreshes(&self) -> DirectoryRefreshes {
        let reload = &self.stored_directory_reload;
        DirectoryRefreshes {
            full: reload.full_reloads.load(Ordering::Relaxed),
            incremental: reload.incremental_refreshes.load(Ordering::Relaxed),
        }
    }

    /// Makes the stored directory in force reflect at least `revision` before a decision that
    /// demands it (a Check's `min_revision`): usually it does already, since the change feed
    /// keeps it current; when the feed has not caught up yet, it is reloaded now.
    pub(crate) async fn stored_directory_at_least(&self, revision: Revision) {
        if revision > 0 {
            self.reload_stored_directory(revision).await;
        }
    }

    /// Notes that the write at `revision`, announced on the feed, left the directory alone:
    /// the snapshot in force (if one was read since the feed was last lost) is current there.
    /// Announcements come in revision order, each directory write's reload finished first.
    pub(super) fn stored_directory_unchanged_at(&self, revision: Revision) {
        let _ = self.stored_directory_reload.loaded_after.fetch_update(
            Ordering::AcqRel,
            Ordering::Acquire,
            |loaded_after| (loaded_after != 0).then_some(loaded_after.max(revision + 1)),
        );
    }

    /// Forgets which revision the snapshot in force reflects, so that the next reload reads
    /// the store whatever it is asked for (the change feed was lost: announcements may have
    /// been missed).
    pub(super) fn stored_directory_may_be_stale(&self) {
        self.stored_directory_reload
            .loaded_after
            .store(0, Ordering::Release);
    }
}
