//! Keeping the stored directory's snapshot current on this replica. A directory write, on any
//! replica, is announced on the change feed; each replica then reloads the whole directory from
//! the store and puts it in force at once ([`Decider::replace_stored_directory`]).
//!
//! A reload, not an incremental apply: the snapshot is an immutable, validated [`Directory`]
//! (every alias resolved, no clash), rebuilt whole in one store read. Reloads coalesce: a
//! snapshot remembers the revision it was read at, and an announcement at or below it is
//! already reflected, so a burst of writes that arrives while one reload runs costs one more
//! reload, not one per write. Only one reload runs at a time. BENCHMARKS.md ("Directory
//! reload") has what a reload of 100,000 entities costs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::Decider;
use crate::domain::{Directory, Revision};

/// The revision the directory snapshot in force was read at, and the lock that lets one
/// reload run at a time.
#[derive(Default)]
pub(crate) struct StoredDirectoryReload {
    /// One more than the revision of the snapshot in force (0: none read yet).
    loaded_after: AtomicU64,
    running: tokio::sync::Mutex<()>,
}

impl Decider {
    /// Reloads the stored directory unless the snapshot in force already reflects `revision`.
    /// A failed load or a stored directory that does not validate keeps the snapshot in force
    /// (and says so in the log); the next announcement or reconnect tries again.
    pub async fn reload_stored_directory(&self, revision: Revision) {
        let reload = &self.stored_directory_reload;
        let reflected =
            |reload: &StoredDirectoryReload| reload.loaded_after.load(Ordering::Acquire) > revision;
        if reflected(reload) {
            return;
        }
        let _running = reload.running.lock().await;
        if reflected(reload) {
            return;
        }
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
