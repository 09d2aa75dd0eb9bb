//! Item 2, expiry under load: a hot key checked continuously on two replicas while the shared
//! injected clock walks across its grant's `not_after` is never allowed at or after it; and a
//! cached entry read continuously for ten times its life is reloaded each life (reads never
//! extend it: no time-to-idle).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use elevator::clock::Clock;
use elevator::proto::v1 as pb;

use super::scaled;
use crate::harness::*;

#[derive(Debug, Default)]
struct HotKeyCounts {
    checks: AtomicU64,
    allowed_before: AtomicU64,
    denied_after: AtomicU64,
    allowed_after: AtomicU64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hot_key_on_two_replicas_is_never_allowed_past_its_not_after() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let elevation = a.request_fatma().await;
    let approved = a.ali_approves(&elevation.id).await;
    let grant = approved.grant.unwrap();
    let not_after: DateTime<Utc> = {
        let at = grant.not_after.unwrap();
        DateTime::from_timestamp(at.seconds, at.nanos as u32).unwrap()
    };
    // Both replicas learnt the grant.
    for app in [&a, &b] {
        let seen = app
            .check(
                "fatma",
                "s1",
                "purchase_orders.approve",
                "Org:Procurement/PO:4711",
                approved.revision,
            )
            .await;
        assert!(seen.allowed);
    }
    let walk = scaled(1_000, 10_000) as i64;
    a.clock.set(not_after - TimeDelta::milliseconds(walk / 2));

    let counts = Arc::new(HotKeyCounts::default());
    let clock = a.clock.clone();
    let mut workers = Vec::new();
    for app in [&a, &b, &a, &b] {
        let mut checks = app.checks();
        let pep = app.pep();
        let counts = counts.clone();
        let clock = clock.clone();
        workers.push(tokio::spawn(async move {
            loop {
                // Read before asking: the server's clock can only be later than this.
                let asked_at = clock.now();
                if asked_at >= not_after + TimeDelta::milliseconds(200) {
                    return;
                }
                let decision = checks
                    .check(authed(
                        &pep,
                        pb::CheckRequest {
                            subject: "fatma".into(),
                            session_id: "s1".into(),
                            permission: "purchase_orders.approve".into(),
                            resource: "Org:Procurement/PO:4711".into(),
                            ..Default::default()
                        },
                    ))
                    .await
                    .expect("check")
                    .into_inner();
                counts.checks.fetch_add(1, Ordering::Relaxed);
                let counter = match (asked_at >= not_after, decision.allowed) {
                    (false, true) => &counts.allowed_before,
                    (false, false) => continue,
                    (true, false) => &counts.denied_after,
                    (true, true) => &counts.allowed_after,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // The clock walks a millisecond per real millisecond across not_after.
    let started = Instant::now();
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    while clock.now() < not_after + TimeDelta::milliseconds(250) {
        ticks.tick().await;
        clock.advance(TimeDelta::milliseconds(1));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed();
    let checks = counts.checks.load(Ordering::Relaxed);
    eprintln!(
        "expiry under load: {checks} checks on two replicas in {elapsed:?} ({:.0}/s), {} allowed before not_after, {} denied after, {} allowed after",
        checks as f64 / elapsed.as_secs_f64(),
        counts.allowed_before.load(Ordering::Relaxed),
        counts.denied_after.load(Ordering::Relaxed),
        counts.allowed_after.load(Ordering::Relaxed),
    );
    assert_eq!(counts.allowed_after.load(Ordering::Relaxed), 0);
    assert!(counts.allowed_before.load(Ordering::Relaxed) > 0);
    assert!(counts.denied_after.load(Ordering::Relaxed) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_cached_entry_continuously_never_extends_its_life() {
    let app = spawn_app(Backend::Memory).await;
    let elevation = app.request_fatma().await;
    let grant = app.ali_approves(&elevation.id).await.grant.unwrap();
    let not_after = {
        let at = grant.not_after.unwrap();
        DateTime::from_timestamp(at.seconds, at.nanos as u32).unwrap()
    };
    // The clock stands 200 ms before the grant ends, so an entry loaded now lives 200 ms (its
    // life ends at the grant's boundary), while the grant stays valid by the frozen clock.
    let life = Duration::from_millis(200);
    app.clock
        .set(not_after - TimeDelta::from_std(life).unwrap());
    let decider = app.app.decider();
    let loads = || {
        decider.cache_reports()[0]
            .stats
            .loads
            .load(Ordering::Relaxed)
    };
    let loads_before = loads();
    let started = Instant::now();
    let mut reads = 0u64;
    while started.elapsed() < life * 10 {
        assert!(app.check_fatma("s1").await.allowed);
        reads += 1;
    }
    let reloads = loads() - loads_before;
    eprintln!(
        "entry life {life:?}: {reads} reads over {:?} caused {reloads} loads",
        started.elapsed()
    );
    // With a read extending the life, the first load would have served every read.
    assert!(
        reloads >= 5,
        "{reloads} loads for ten lives of continuous reads: reads extended the entry"
    );
}
