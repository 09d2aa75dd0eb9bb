//! The decision hot path on a cache hit, in process: a Check for a subject holding 1, 10 and
//! 100 active grants of the asked role, the allowing grant scanned last (the worst case).
//!
//!     cargo bench --bench decision
//!
//! Results and the machine they were measured on are in BENCHMARKS.md.

use std::hint::black_box;
use std::sync::Arc;

use chrono::TimeDelta;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::{Grant, GrantId, RoleName, Scope, SessionId, Subject};
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Store, StoreEvent};

fn grant(subject: &str, scope: &str, clock: &ManualClock) -> Grant {
    let now = clock.now();
    Grant {
        id: GrantId::generate(),
        subject: Subject::parse(subject).unwrap(),
        session: Some(SessionId::parse("s1").unwrap()),
        role: RoleName::parse("admin_approver").unwrap(),
        scope: Scope::parse(scope).unwrap(),
        not_before: now,
        not_after: now + TimeDelta::hours(2),
        elevation_id: None,
        parent_grant_id: None,
        delegation_trail: Vec::new(),
        revocation: None,
    }
}

fn cache_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("decision/cache_hit");
    for grants_held in [1usize, 10, 100] {
        let clock = Arc::new(ManualClock::starting_now());
        let store = Arc::new(MemoryStore::new());
        let decider = runtime.block_on(async {
            let mut grants: Vec<Grant> = (1..grants_held)
                .map(|i| grant("fatma", &format!("Org:Department{i}"), &clock))
                .collect();
            grants.push(grant("fatma", "Org:Procurement", &clock));
            store
                .append(Change {
                    grants,
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
            let revision = store.revision().await.unwrap();
            decider.observe(&StoreEvent::Restored { revision }).await;
            decider
        });
        let query = CheckQuery {
            subject: "fatma",
            session: Some("s1"),
            permission: "purchase_orders.approve",
            resource: "Org:Procurement/PO:4711",
            token: None,
            min_revision: 0,
        };
        assert!(runtime.block_on(decider.check(&query)).allowed);
        group.bench_with_input(
            BenchmarkId::from_parameter(grants_held),
            &grants_held,
            |b, _| {
                b.to_async(&runtime)
                    .iter(|| async { black_box(decider.check(black_box(&query)).await) });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, cache_hit);
criterion_main!(benches);
