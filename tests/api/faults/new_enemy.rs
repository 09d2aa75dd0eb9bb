//! Item 1, the "new enemy": a grant revoked through replica A must not be allowed by replica B
//! later than the staleness bound, and never by a Check that carries the revoke's revision --
//! while a load of other Checks and writes runs on both replicas. A control run, checking
//! through a decision point on B's store that hears nothing of the change feed after it
//! connected, must fail, proving the test catches that bug.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::SubjectRef;
use elevator::policy::Policy;
use elevator::proto::v1 as pb;
use elevator::store::StoreEvent;
use elevator::store::postgres::STALL_DETECTION_BOUND;

use super::scaled;
use crate::harness::*;

/// How late a replica may still allow a grant revoked through another one: the change feed
/// delivers within milliseconds, and a feed that stops delivering is noticed (and the caches
/// dropped) within the stall-detection bound.
pub(super) const STALENESS_BOUND: Duration = STALL_DETECTION_BOUND;

/// What one run measured.
#[derive(Debug, Default)]
pub(super) struct EnemyFigures {
    pub iterations: usize,
    /// Unpinned Checks on B that allowed the revoked grant later than the bound.
    pub allows_after_bound: usize,
    /// Checks on B carrying the revoke's revision that allowed it.
    pub pinned_allows: usize,
    /// The slowest time from the revoke's answer to B's first deny.
    pub slowest_propagation: Duration,
    /// Checks and writes the background load completed meanwhile.
    pub load_operations: u64,
}

fn requester_token(app: &TestApp, subject: &str) -> String {
    app.token(
        subject,
        &["procurement-staff"],
        &[],
        Some("ali"),
        Some("s1"),
    )
}

async fn grant_for(a: &TestApp, subject: &str) -> (String, u64) {
    let elevation = a
        .elevations()
        .request_elevation(authed(
            &requester_token(a, subject),
            elevation_request("admin_approver", "Org:Procurement", 7200, "new enemy"),
        ))
        .await
        .expect("request")
        .into_inner()
        .elevation
        .unwrap();
    let approved = a.ali_approves(&elevation.id).await;
    (approved.grant.unwrap().id, approved.revision)
}

/// Where the Checks about the revoked grant are asked.
pub(super) enum CheckedThrough<'a> {
    /// Replica B's gRPC API.
    Replica(&'a TestApp),
    /// The control: a decision point over B's store that was told its change feed connected
    /// and then hears of no change (a replica that misses invalidations).
    DeafDecider(&'a Decider),
}

impl CheckedThrough<'_> {
    async fn allows(&self, subject: &str, min_revision: u64) -> bool {
        match self {
            CheckedThrough::Replica(app) => {
                app.check(
                    subject,
                    "s1",
                    "purchase_orders.approve",
                    "Org:Procurement/PO:4711",
                    min_revision,
                )
                .await
                .allowed
            }
            CheckedThrough::DeafDecider(decider) => {
                decider
                    .check(&CheckQuery {
                        subject: SubjectRef::parse(subject).expect("a valid subject"),
                        session: Some("s1"),
                        permission: "purchase_orders.approve",
                        resource: "Org:Procurement/PO:4711",
                        token: None,
                        min_revision,
                    })
                    .await
                    .allowed
            }
        }
    }
}

/// A decision point over `replica`'s store with no change-feed subscription: it is told once
/// that the feed connected (so it caches and allows) and never hears of a change after.
async fn deaf_decider(replica: &TestApp) -> Decider {
    let in_force = replica.app.decider().policy();
    let policy = Policy::parse(in_force.source(), in_force.version()).expect("the policy in force");
    let decider = Decider::new(
        policy,
        replica.store.clone(),
        replica.clock.clone(),
        CacheOptions::default(),
    );
    let revision = replica
        .store
        .revision()
        .await
        .expect("the store's revision");
    decider.observe(&StoreEvent::Restored { revision }).await;
    decider
}

/// Checks (and now and then a risk report) on both replicas until told to stop.
fn spawn_load(
    a: &TestApp,
    b: &TestApp,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (index, app) in [a, b].into_iter().enumerate() {
        let checks = app.checks();
        let elevations = app.elevations();
        let pep = app.pep();
        let fatma = app.fatma();
        let stop = stop.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let _ = checks
                    .clone()
                    .check(authed(
                        &pep,
                        pb::CheckRequest {
                            subject: format!("bystander{}", round % 50),
                            session_id: "s1".into(),
                            permission: "purchase_orders.approve".into(),
                            resource: "Org:Procurement/PO:1".into(),
                            ..Default::default()
                        },
                    ))
                    .await;
                if round % 20 == index as u64 {
                    // A write on each replica now and then: a request that stays pending.
                    let _ = elevations
                        .clone()
                        .request_elevation(authed(
                            &fatma,
                            elevation_request(
                                "po_creator",
                                "Org:Procurement",
                                3600,
                                "background load",
                            ),
                        ))
                        .await;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tasks
}

/// Revokes through A and checks through `checked` (B, or the control's deaf decision point
/// on B's store), `iterations` times, with a load running on A and B.
pub(super) async fn revoke_through_a_check_through_b(
    a: &TestApp,
    b: &TestApp,
    checked: CheckedThrough<'_>,
    iterations: usize,
) -> EnemyFigures {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let load = spawn_load(a, b, stop.clone(), done.clone());
    let mut figures = EnemyFigures {
        iterations,
        ..Default::default()
    };
    for iteration in 0..iterations {
        let subject = format!("enemy{iteration}");
        let (grant_id, granted_at) = grant_for(a, &subject).await;
        assert!(
            checked.allows(&subject, granted_at).await,
            "B sees the grant at its revision"
        );
        // B now caches the grant (a Check without a revision, answered from the cache).
        assert!(
            checked.allows(&subject, 0).await,
            "B allows the fresh grant"
        );

        let revoked_at = a
            .elevations()
            .revoke_grant(authed(
                &requester_token(a, &subject),
                pb::RevokeGrantRequest {
                    grant_id,
                    reason: "new enemy".into(),
                },
            ))
            .await
            .expect("revoke through A")
            .into_inner()
            .revision;
        let answered = Instant::now();
        // Unpinned Checks until B denies, or past the bound (a violation).
        loop {
            let allowed = checked.allows(&subject, 0).await;
            let elapsed = answered.elapsed();
            if !allowed {
                figures.slowest_propagation = figures.slowest_propagation.max(elapsed);
                break;
            }
            if elapsed > STALENESS_BOUND {
                figures.allows_after_bound += 1;
                figures.slowest_propagation = figures.slowest_propagation.max(elapsed);
                break;
            }
        }
        // A Check that carries the revoke's revision never sees the grant.
        if checked.allows(&subject, revoked_at).await {
            figures.pinned_allows += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in load {
        let _ = task.await;
    }
    figures.load_operations = done.load(Ordering::Relaxed);
    figures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_through_one_replica_is_never_allowed_late_by_the_other() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let started = Instant::now();
    let figures =
        revoke_through_a_check_through_b(&a, &b, CheckedThrough::Replica(&b), scaled(300, 10_000))
            .await;
    eprintln!(
        "new enemy: {} iterations in {:?}, {} allows after the {:?} bound, {} allows carrying the revoke's revision, slowest propagation {:?}, {} load operations",
        figures.iterations,
        started.elapsed(),
        figures.allows_after_bound,
        STALENESS_BOUND,
        figures.pinned_allows,
        figures.slowest_propagation,
        figures.load_operations
    );
    assert_eq!(figures.allows_after_bound, 0, "{figures:?}");
    assert_eq!(figures.pinned_allows, 0, "{figures:?}");
    assert!(figures.load_operations > 0, "the load ran");
}

/// The control: the same test against a decision point that ignores the change feed must fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_the_new_enemy_test_catches_a_replica_that_ignores_invalidations() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let deaf = deaf_decider(&b).await;
    let figures =
        revoke_through_a_check_through_b(&a, &b, CheckedThrough::DeafDecider(&deaf), 2).await;
    eprintln!("new enemy control (invalidation off): {figures:?}");
    assert_eq!(
        figures.allows_after_bound, 2,
        "with invalidation off every revoked grant must still be allowed past the bound: {figures:?}"
    );
}
