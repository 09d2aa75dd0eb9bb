//! What the in-process benchmarks share: an active grant as a test store holds it, and a
//! decider over a memory store holding given grants, its feed connected so the cache is used.

use std::sync::Arc;

use chrono::TimeDelta;
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, Decider};
use elevator::domain::{Grant, GrantId, RoleName, Scope, SessionId, Subject};
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Snapshots, StoreEvent, Writes};

/// A grant of `role` on `scope` to `subject`, active for two hours from the clock's now, bound
/// to `session` when one is given.
pub(crate) fn active_grant(
    clock: &ManualClock,
    subject: &str,
    role: &str,
    scope: &str,
    session: Option<&str>,
) -> Grant {
    let now = clock.now();
    Grant {
        id: GrantId::generate(),
        subject: Subject::parse(subject).unwrap(),
        session: session.map(|session| SessionId::parse(session).unwrap()),
        role: RoleName::parse(role).unwrap(),
        scope: Scope::parse(scope).unwrap(),
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

/// A decider under `policy` over a memory store holding the grants `grants` makes with the
/// decider's clock, past its start-up (the feed is taken as connected, so Checks use the cache).
pub(crate) fn decider_holding(
    runtime: &tokio::runtime::Runtime,
    policy: Policy,
    grants: impl FnOnce(&ManualClock) -> Vec<Grant>,
) -> Decider {
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    runtime.block_on(async {
        store
            .append(Change {
                grants: grants(&clock),
                ..Default::default()
            })
            .await
            .unwrap();
        let decider = Decider::new(
            policy,
            store.clone(),
            clock.clone(),
            CacheOptions::default(),
        );
        let revision = store.revision().await.unwrap();
        decider.observe(&StoreEvent::Restored { revision }).await;
        decider
    })
}
