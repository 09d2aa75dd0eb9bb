//! A change's notification arrives late: the replica that made the write (or any replica on a
//! loaded machine) can read the subject again before the feed delivers the write's
//! notification. The entry it loaded already holds the change, so the late notification must
//! leave it cached: dropping it costs a reload, and while PostgreSQL is down it leaves the
//! outage grace nothing to answer from (`postgres_killed` failed that way under a full suite's
//! load). An entry loaded before a notified change is still dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::TimeDelta;
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::{Grant, GrantId, RoleName, Scope, SessionId, Subject, SubjectRef};
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Snapshots, StoreEvent, Writes};

fn fatmas_grant(clock: &ManualClock) -> Grant {
    let now = clock.now();
    Grant {
        id: GrantId::generate(),
        subject: Subject::parse("fatma").unwrap(),
        session: Some(SessionId::parse("s1").unwrap()),
        role: RoleName::parse("admin_approver").unwrap(),
        scope: Scope::parse("Org:Procurement").unwrap(),
        not_before: now,
        not_after: now + TimeDelta::hours(2),
        elevation_id: None,
        parent_grant_id: None,
        delegation_trail: Vec::new(),
        revocation: None,
        awaiting_acceptance: false,
        break_glass: false,
    }
}

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
    let query = CheckQuery {
        subject: SubjectRef::parse("fatma").expect("a valid subject"),
        session: Some("s1"),
        permission: "purchase_orders.approve",
        resource: "Org:Procurement/PO:4711",
        token: None,
        min_revision: 0,
    };

    // This replica writes Fatma's grant and forgets her at once, as after a local commit.
    let subjects = [Subject::parse("fatma").unwrap()];
    let granted = store
        .append(Change {
            grants: vec![fatmas_grant(&clock)],
            ..Default::default()
        })
        .await
        .unwrap()
        .revision;
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
    let revised = store
        .append(Change {
            grants: vec![fatmas_grant(&clock)],
            ..Default::default()
        })
        .await
        .unwrap()
        .revision;
    decider.observe(&notification_of(revised, "fatma")).await;
    assert!(decider.check(&query).await.allowed);
    assert_eq!(
        grant_loads(&decider),
        2,
        "an entry loaded before the notified change answered"
    );
}
