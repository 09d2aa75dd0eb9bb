//! A change's notification arrives late: the replica that made the write (or any replica on a
//! loaded machine) can read the subject again before the feed delivers the write's
//! notification. The entry it loaded already holds the change, so the late notification must
//! leave it cached: dropping it costs a reload, and while PostgreSQL is down it leaves the
//! outage grace nothing to answer from (`postgres_killed` failed that way under a full suite's
//! load). An entry loaded before a notified change is still dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, Decider};
use elevator::domain::Subject;
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Snapshots, StoreEvent, Writes};

use super::{fatmas_grant, fatmas_question};

fn notification_of(revision: u64, subject: &str) -> StoreEvent {
    StoreEvent::Changed {
        revision,
        subjects: vec![Subject::parse(subject).unwrap()],
        everyone: false,
        policy_changed: false,
        directory_changed: false,
        directory_keys: Vec::new(),
        committed_at: None,
    }
}

/// Writes a new grant of Fatma's to `store`; its revision.
async fn grant_to_fatma(store: &MemoryStore, clock: &ManualClock) -> u64 {
    let change = Change {
        grants: vec![fatmas_grant(clock.now())],
        ..Default::default()
    };
    store.append(change).await.unwrap().revision
}

/// How many times the decider loaded grants from the store.
fn grant_loads(decider: &Decider) -> u64 {
    decider.cache_reports()[0]
        .stats
        .loads
        .load(Ordering::Relaxed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_notification_of_a_change_already_loaded_keeps_the_entry_and_an_older_one_drops_it()
{
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    let decider = Decider::new(
        Policy::demo(),
        store.clone(),
        clock.clone(),
        CacheOptions::default(),
    );
    let listening_at = store.revision().await.unwrap();
    decider
        .observe(&StoreEvent::Restored {
            revision: listening_at,
        })
        .await;
    let query = fatmas_question();

    // This replica writes Fatma's grant and forgets her at once, as after a local commit.
    let subjects = [Subject::parse("fatma").unwrap()];
    let granted = grant_to_fatma(&store, &clock).await;
    decider.forget(&subjects, granted).await;
    assert!(decider.check(&query).await.allowed, "the new grant allows");
    assert_eq!(grant_loads(&decider), 1);

    // The feed delivers the same write after the Check read it back: nothing to reload.
    decider.observe(&notification_of(granted, "fatma")).await;
    assert!(decider.check(&query).await.allowed);
    assert_eq!(
        grant_loads(&decider),
        1,
        "a notification of a revision the cached entry already holds dropped the entry"
    );

    // A later write to Fatma (a second grant, through another replica) is announced: the entry
    // loaded before it is dropped and the next Check loads what the write left.
    let revised = grant_to_fatma(&store, &clock).await;
    decider.observe(&notification_of(revised, "fatma")).await;
    assert!(decider.check(&query).await.allowed);
    assert_eq!(
        grant_loads(&decider),
        2,
        "an entry loaded before the notified change answered"
    );
}
