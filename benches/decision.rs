//! The decision hot path on a cache hit, in process: a Check for a subject holding 1, 10 and
//! 100 active grants of the asked role, the allowing grant scanned last (the worst case).
//!
//!     cargo bench --bench decision
//!
//! Results and the machine they were measured on are in BENCHMARKS.md.

/// The server's allocator, counted as the server counts it, so that memory and time are
/// measured as the server runs; the live count does not depend on what the allocator happens
/// to keep or give back (resident memory is reported beside it).
#[global_allocator]
static ALLOCATOR: elevator::telemetry::heap::Counting<mimalloc::MiMalloc> =
    elevator::telemetry::heap::Counting(mimalloc::MiMalloc);

mod support;

use std::hint::black_box;
use std::sync::Arc;

use chrono::TimeDelta;
use criterion::{BenchmarkId, Criterion, criterion_group};
use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::SubjectRef;
use elevator::domain::{Grant, Identity, Subject};
use elevator::policy::Policy;
use elevator::service::{AuditSigner, Elevator, ServiceRoles};
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Snapshots, StoreEvent, Writes};
use elevator::telemetry::metrics::Metrics;

/// Live heap bytes, as the server reports them.
fn live_bytes() -> u64 {
    elevator::telemetry::heap::live_bytes().unwrap_or(0)
}

/// An active `admin_approver` grant of `subject` on `scope`, bound to session `s1`.
fn grant(subject: &str, scope: &str, clock: &ManualClock) -> Grant {
    support::active_grant(clock, subject, "admin_approver", scope, Some("s1"))
}

/// A decider over a memory store holding `grants_held` grants of `fatma`, the allowing one
/// (on Org:Procurement) last, under `policy`; the cache is warm.
fn warm_decider(runtime: &tokio::runtime::Runtime, grants_held: usize, policy: Policy) -> Decider {
    support::decider_holding(runtime, policy, |clock| {
        let mut grants: Vec<Grant> = (1..grants_held)
            .map(|i| grant("fatma", &format!("Org:Department{i}"), clock))
            .collect();
        grants.push(grant("fatma", "Org:Procurement", clock));
        grants
    })
}

/// The question every benchmark asks; its subject validated once, as the edge does.
static QUERY: std::sync::LazyLock<CheckQuery<'static>> = std::sync::LazyLock::new(|| CheckQuery {
    subject: elevator::domain::SubjectRef::parse("fatma").expect("a valid subject"),
    session: Some("s1"),
    permission: "purchase_orders.approve",
    resource: "Org:Procurement/PO:4711",
    token: None,
    min_revision: 0,
});

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

/// moka's own lookup, in the same harness: the floor under every cached decision. The same
/// cache as the decider's (size-bounded, foldhash, `Subject` keys), one subject cached, its
/// value the size of a cached entry (a shared slice and three words) cloned out as a hit is.
fn moka_get(c: &mut Criterion) {
    type Entry = (Arc<[u64]>, u64, u64, u64);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cache: moka::future::Cache<Subject, Entry, foldhash::fast::RandomState> =
        moka::future::Cache::builder()
            .max_capacity(1_000_000)
            .build_with_hasher(foldhash::fast::RandomState::default());
    let entry: Entry = (Arc::from(vec![1u64; 10]), 1, 2, 3);
    runtime.block_on(cache.insert(Subject::parse("fatma").unwrap(), entry));
    c.bench_function("decision/moka_get", |b| {
        b.to_async(&runtime)
            .iter(|| async { black_box(cache.get(black_box(QUERY.subject.as_str())).await) });
    });
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

/// Subjects `load-0` .. `load-<n>`, each holding one grant, all loaded into the cache.
fn populated_decider(runtime: &tokio::runtime::Runtime, subjects: usize) -> (Decider, Vec<String>) {
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    let names: Vec<String> = (0..subjects).map(|i| format!("load-{i}")).collect();
    runtime.block_on(async {
        for chunk in names.chunks(10_000) {
            store
                .append(Change {
                    grants: chunk
                        .iter()
                        .map(|name| grant(name, "Org:Procurement", &clock))
                        .collect(),
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        let decider = Decider::new(
            Policy::demo(),
            store.clone(),
            clock.clone(),
            CacheOptions::default(),
        );
        let revision = store.revision().await.unwrap();
        decider.observe(&StoreEvent::Restored { revision }).await;
        (decider, names)
    })
}

fn question(subject: SubjectRef<'_>) -> CheckQuery<'_> {
    CheckQuery { subject, ..*QUERY }
}

/// A subject name validated, as the edge validates it once per Check.
fn subject(name: &str) -> SubjectRef<'_> {
    SubjectRef::parse(name).expect("a valid subject")
}

/// Warms every subject into the cache.
fn warm(runtime: &tokio::runtime::Runtime, decider: &Decider, names: &[String]) {
    runtime.block_on(async {
        for name in names {
            assert!(decider.check(&question(subject(name))).await.allowed);
        }
    });
}

/// The cached decision as the cache grows: each iteration asks about the next of the cached
/// subjects in a scattered order, so that lookups do not ride one hot cache line.
fn cached_subjects(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("decision/cached_subjects");
    for subjects in [1usize, 1_000, 1_000_000] {
        let (decider, names) = populated_decider(&runtime, subjects);
        warm(&runtime, &decider, &names);
        let order: Vec<usize> = (0..subjects).map(|i| (i * 7919) % subjects).collect();
        let validated: Vec<SubjectRef<'_>> = names.iter().map(|name| subject(name)).collect();
        let mut next = 0;
        let decider = &decider;
        group.bench_function(BenchmarkId::from_parameter(subjects), |b| {
            b.to_async(&runtime).iter(|| {
                let name = validated[order[next % subjects]];
                next += 1;
                async move { black_box(decider.check(black_box(&question(name))).await) }
            });
        });
    }
    group.finish();
}

/// What caching 1,000,000 subjects' active grants costs in resident memory: the process
/// before and after warming the cache (the store's own copy is in memory here, and is left out
/// by measuring the difference). Printed, not timed.
fn cache_memory() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let subjects = 1_000_000;
    let (decider, names) = populated_decider(&runtime, subjects);
    let (before, live_before) = (
        elevator::telemetry::heap::resident_bytes().unwrap_or(0),
        live_bytes(),
    );
    warm(&runtime, &decider, &names);
    let (after, live_after) = (
        elevator::telemetry::heap::resident_bytes().unwrap_or(0),
        live_bytes(),
    );
    let megabytes = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let cached = decider.cached_subjects().max(1);
    eprintln!(
        "decision/cache_memory: {cached} subjects with one active grant each cached: {:.0} MB \
         allocated for the cache ({:.0} bytes per subject); resident {:.0} MB -> {:.0} MB",
        megabytes(live_after.saturating_sub(live_before)),
        live_after.saturating_sub(live_before) as f64 / cached as f64,
        megabytes(before),
        megabytes(after),
    );

    // What the entries themselves take, without the cache around them: the same grants as
    // loaded from PostgreSQL (every string its own allocation, unlike the memory store's
    // shared ones above), indexed as the cache indexes them, held in a plain vector.
    let clock = ManualClock::starting_now();
    let before_entries = live_bytes();
    let entries: Vec<elevator::decision::SubjectGrants> = names
        .iter()
        .map(|name| {
            let loaded = grant(&name.clone(), &String::from("Org:Procurement"), &clock);
            elevator::decision::SubjectGrants::new(
                elevator::store::Snapshot {
                    value: vec![loaded],
                    revision: 1,
                },
                clock.now(),
                std::time::Duration::from_secs(300),
            )
        })
        .collect();
    let after_entries = live_bytes();
    eprintln!(
        "decision/cache_memory: the same entries outside the cache, strings unshared: {:.0} MB \
         allocated ({:.0} bytes per subject)",
        megabytes(after_entries.saturating_sub(before_entries)),
        after_entries.saturating_sub(before_entries) as f64 / subjects as f64,
    );
    black_box(entries);
}

/// One moka configuration to weigh: a name and a builder.
type MokaConfig = (&'static str, fn() -> moka::future::Cache<Subject, Arc<u64>>);

/// Entries expire by a lifetime fixed when they are created (the decider's `LifetimeExpiry`).
struct FixedLife;

impl moka::Expiry<Subject, Arc<u64>> for FixedLife {
    fn expire_after_create(
        &self,
        _key: &Subject,
        _value: &Arc<u64>,
        _created_at: std::time::Instant,
    ) -> Option<std::time::Duration> {
        Some(std::time::Duration::from_secs(300))
    }
}

/// What each moka feature costs per entry: a million entries (a subject key, its own string,
/// and an `Arc<u64>` value) inserted into caches that differ by one feature, allocated bytes
/// counted after moka has applied every write. Printed, not timed.
fn moka_features() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let entries = 1_000_000u64;
    let configs: [MokaConfig; 6] = [
        ("max_capacity (size-bounded, TinyLFU)", || {
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .build()
        }),
        ("max_capacity + time_to_live", || {
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(std::time::Duration::from_secs(300))
                .build()
        }),
        ("max_capacity + expire_after (per-entry expiry)", || {
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .expire_after(FixedLife)
                .build()
        }),
        ("max_capacity + expire_after + time_to_live", || {
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .expire_after(FixedLife)
                .time_to_live(std::time::Duration::from_secs(300))
                .build()
        }),
        ("max_capacity + eviction_listener", || {
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .eviction_listener(|_key, _value, _cause| {})
                .build()
        }),
        ("max_capacity + time_to_idle", || {
            moka::future::Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(std::time::Duration::from_secs(300))
                .build()
        }),
    ];
    let names: Vec<String> = (0..entries).map(|i| format!("load-{i}")).collect();
    // The keys and values alone, outside any cache.
    let before = live_bytes();
    let bare: Vec<(Subject, Arc<u64>)> = names
        .iter()
        .map(|name| (Subject::parse(name).unwrap(), Arc::new(0)))
        .collect();
    let bare_bytes = live_bytes().saturating_sub(before) as f64 / entries as f64;
    drop(bare);
    eprintln!(
        "decision/moka_features: keys and values alone (a key's Arc<str> and an Arc<u64>, in a \
         vector): {bare_bytes:.0} bytes per entry"
    );
    for (name, build) in configs {
        runtime.block_on(async {
            let before = live_bytes();
            let cache = build();
            for (i, key) in names.iter().enumerate() {
                cache
                    .insert(Subject::parse(key).unwrap(), Arc::new(i as u64))
                    .await;
            }
            cache.run_pending_tasks().await;
            let held = cache.entry_count().max(1);
            let per_entry = live_bytes().saturating_sub(before) as f64 / held as f64;
            eprintln!(
                "decision/moka_features: {name}: {held} entries, {per_entry:.0} bytes per entry \
                 ({:.0} of them moka's)",
                per_entry - bare_bytes
            );
        });
    }
}

criterion_group!(
    benches,
    moka_get,
    cache_hit,
    cache_hit_with_rule,
    use_case_overhead,
    cached_subjects
);

fn main() {
    // The memory figure is taken when asked for by name (`cargo bench --bench decision --
    // cache_memory`) or on a full run.
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if filter
        .as_deref()
        .is_none_or(|f| "decision/cache_memory".contains(f))
    {
        cache_memory();
    }
    if filter
        .as_deref()
        .is_some_and(|f| "decision/moka_features".contains(f))
    {
        moka_features();
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
