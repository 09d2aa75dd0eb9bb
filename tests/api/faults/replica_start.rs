//! Item 5, replica start: a replica allows nothing before its change feed has connected and
//! the policy was (re)loaded with it, however current the grants it could read are. Tested on
//! the decision point a replica builds, before and after the feed's first `Restored` (a whole
//! server builds this decider and feeds it the same events; see `server.rs`).

use std::sync::Arc;

use chrono::TimeDelta;
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::{DecisionReason, Grant, GrantId, RoleName, Scope, SessionId, Subject};
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Store, StoreEvent};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decider_allows_nothing_until_its_feed_connected_and_reloaded_the_policy() {
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    let now = clock.now();
    store
        .append(Change {
            grants: vec![Grant {
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
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let decider = Decider::new(
        Policy::demo(),
        store.clone(),
        clock.clone(),
        CacheOptions::default(),
    );
    let query = CheckQuery {
        subject: "fatma",
        session: Some("s1"),
        permission: "purchase_orders.approve",
        resource: "Org:Procurement/PO:4711",
        token: None,
        min_revision: 0,
    };
    // Whether asked without a revision or with one it could read through: no allow.
    for min_revision in [0, 1, u64::MAX] {
        let decision = decider
            .check(&CheckQuery {
                min_revision,
                ..query
            })
            .await;
        assert!(!decision.allowed, "allowed before the feed connected");
        assert_eq!(decision.reason, DecisionReason::InternalError);
    }
    // A feed that was lost before it ever connected changes nothing.
    decider.observe(&StoreEvent::Lost).await;
    assert!(!decider.check(&query).await.allowed);

    let revision = store.revision().await.unwrap();
    decider.observe(&StoreEvent::Restored { revision }).await;
    assert!(
        decider.check(&query).await.allowed,
        "allowed once listening"
    );
    // Losing the feed later does not bring the start-up gate back: Checks read through.
    decider.observe(&StoreEvent::Lost).await;
    assert!(decider.check(&query).await.allowed);
}
