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
use elevator::domain::{Grant, GrantId, Identity, RoleName, Scope, SessionId, Subject};
use elevator::policy::Policy;
use elevator::service::{AuditSigner, Elevator, ServiceRoles};
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Store, StoreEvent};
use elevator::telemetry::metrics::Metrics;

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

/// A decider over a memory store holding `grants_held` grants of `fatma`, the allowing one
/// (on Org:Procurement) last, under `policy`; the cache is warm.
fn warm_decider(runtime: &tokio::runtime::Runtime, grants_held: usize, policy: Policy) -> Decider {
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    runtime.block_on(async {
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

const QUERY: CheckQuery<'static> = CheckQuery {
    subject: "fatma",
    session: Some("s1"),
    permission: "purchase_orders.approve",
    resource: "Org:Procurement/PO:4711",
    token: None,
    min_revision: 0,
};

fn cache_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("decision/cache_hit");
    for grants_held in [1usize, 10, 100] {
        let decider = warm_decider(&runtime, grants_held, Policy::demo());
        assert!(runtime.block_on(decider.check(&QUERY)).allowed);
        group.bench_with_input(
            BenchmarkId::from_parameter(grants_held),
            &grants_held,
            |b, _| {
                b.to_async(&runtime)
                    .iter(|| async { black_box(decider.check(black_box(&QUERY)).await) });
            },
        );
    }
    group.finish();
}

/// The same Check when the allowing grant must also pass one rule (the seed's shape: a token
/// field and the time since activation), 10 grants held.
fn cache_hit_with_rule(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let source = elevator::policy::DEMO_POLICY.replace(
        "    require: [reason]\n\n  - role: po_creator",
        "    require: [reason]\n    grant_rules: [\"allow if token.sub == 'fatma' && context.time < 2h\"]\n\n  - role: po_creator",
    );
    let policy = Policy::parse(&source, 2).expect("the benchmark policy is valid");
    assert!(policy.has_grant_rules("admin_approver"));
    let decider = warm_decider(&runtime, 10, policy);
    assert!(runtime.block_on(decider.check(&QUERY)).allowed);
    c.bench_function("decision/cache_hit_one_rule/10", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(decider.check(black_box(&QUERY)).await) });
    });
}

/// What the Check use case adds around the decider on the same cache hit (1 grant): the PEP
/// role check, the latency histogram and decision counter, and the `check` span, first with no
/// subscriber, then under `elevator serve`'s own subscriber when no exporter is configured.
fn use_case_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let decider = Arc::new(warm_decider(&runtime, 1, Policy::demo()));
    let clock = Arc::new(ManualClock::starting_now());
    let app = Elevator::new(
        Arc::new(MemoryStore::new()),
        decider.clone(),
        clock.clone(),
        ServiceRoles::default(),
        AuditSigner::from_seed([7; 32]),
        Metrics::new(),
    );
    let gateway = Identity {
        subject: Subject::parse("gateway").unwrap(),
        session: None,
        groups: Vec::new(),
        roles: vec![ServiceRoles::default().pep],
        standing_roles: Vec::new(),
        manager: None,
        amr: Vec::new(),
        expires_at: clock.now() + TimeDelta::hours(1),
        issuer: None,
    };
    assert!(
        runtime
            .block_on(app.check(&gateway, &QUERY))
            .unwrap()
            .allowed
    );
    let mut group = c.benchmark_group("decision/use_case");
    group.bench_function("decider_only", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(decider.check(black_box(&QUERY)).await) });
    });
    group.bench_function("check_no_subscriber", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(app.check(&gateway, black_box(&QUERY)).await) });
    });
    let serving = tracing::Dispatch::new(elevator::telemetry::logs_only());
    tracing::dispatcher::with_default(&serving, || {
        group.bench_function("check_serve_subscriber", |b| {
            b.to_async(&runtime)
                .iter(|| async { black_box(app.check(&gateway, black_box(&QUERY)).await) });
        });
    });
    group.finish();
}

criterion_group!(benches, cache_hit, cache_hit_with_rule, use_case_overhead);
criterion_main!(benches);
