//! What this replica knows about how current its caches are.
//!
//! * `known`: every write up to this revision has been seen through the change feed (writes
//!   commit in revision order and notifications arrive in commit order).
//! * `marks`: for 4096 shards of subjects, the latest revision that changed a subject of that
//!   shard. A cache entry loaded at revision L is stale when a shard mark or the floor is above
//!   L; this also catches a load that raced with an invalidation and put an old value back.
//! * `floor`: after the feed was lost and restored, everything loaded before the restore is
//!   stale.
//! * `listening`: whether the feed is connected; without it nothing cached may be trusted.
//! * `has_listened`: whether the feed was ever connected (and the policy reloaded with it); a
//!   replica that never listened allows nothing.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

const SHARDS: usize = 4096;

/// The freshness bookkeeping of one replica.
pub struct Freshness {
    known: AtomicU64,
    floor: AtomicU64,
    listening: AtomicBool,
    has_listened: AtomicBool,
    marks: Box<[AtomicU64]>,
}

impl Default for Freshness {
    fn default() -> Self {
        Freshness {
            known: AtomicU64::new(0),
            floor: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            has_listened: AtomicBool::new(false),
            marks: (0..SHARDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// FNV-1a: a few nanoseconds for a user id, with keys not chosen by an attacker who gains
/// anything from collisions (a collision only costs an extra reload).
fn shard_of(subject: &str) -> usize {
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for byte in bytes {
                self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
            }
        }
    }
    let mut hasher = Fnv(0xcbf2_9ce4_8422_2325);
    subject.hash(&mut hasher);
    (hasher.finish() as usize) & (SHARDS - 1)
}

impl Freshness {
    /// The revision up to which every write has been seen.
    pub fn known(&self) -> u64 {
        self.known.load(Ordering::Acquire)
    }

    /// Whether the change feed is connected.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// Whether the change feed was ever connected: until then the replica has not proved it
    /// sees other replicas' writes (nor reloaded the policy with the feed), and allows nothing.
    pub fn has_listened(&self) -> bool {
        self.has_listened.load(Ordering::Acquire)
    }

    /// Whether an entry for `subject` loaded at `loaded_revision` can be trusted now.
    pub fn is_fresh(&self, subject: &str, loaded_revision: u64) -> bool {
        loaded_revision >= self.floor.load(Ordering::Acquire)
            && loaded_revision >= self.marks[shard_of(subject)].load(Ordering::Acquire)
    }

    /// Records that `subject` changed at `revision`.
    pub fn mark_changed(&self, subject: &str, revision: u64) {
        self.marks[shard_of(subject)].fetch_max(revision, Ordering::AcqRel);
    }

    /// Records that everything changed at `revision`.
    pub fn mark_everything_changed(&self, revision: u64) {
        self.floor.fetch_max(revision, Ordering::AcqRel);
    }

    /// Advances the seen revision (from the change feed only).
    pub fn advance_known(&self, revision: u64) {
        self.known.fetch_max(revision, Ordering::AcqRel);
    }

    /// The change feed broke.
    pub fn lose_feed(&self) {
        self.listening.store(false, Ordering::Release);
    }

    /// The change feed is back at `revision`: nothing loaded before it is trusted.
    pub fn restore_feed(&self, revision: u64) {
        self.floor.fetch_max(revision, Ordering::AcqRel);
        self.known.fetch_max(revision, Ordering::AcqRel);
        self.listening.store(true, Ordering::Release);
        self.has_listened.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_go_stale_when_their_subject_or_everything_changes() {
        let freshness = Freshness::default();
        freshness.restore_feed(5);
        assert!(freshness.is_fresh("fatma", 5));
        assert!(!freshness.is_fresh("fatma", 4));
        freshness.mark_changed("fatma", 9);
        assert!(!freshness.is_fresh("fatma", 8));
        assert!(freshness.is_fresh("fatma", 9));
        freshness.mark_everything_changed(12);
        assert!(!freshness.is_fresh("ali", 11));
    }
}
