//! Two replicas over one PostgreSQL: a write through one is seen by the other through the
//! change feed, and a replica that loses its feed never answers from a stale cache.

use std::time::{Duration, Instant};

use crate::harness::*;
use elevator::proto::v1 as pb;

async fn revoke_through(app: &TestApp, grant_id: &str) -> u64 {
    app.elevations()
        .revoke_grant(authed(
            &app.fatma(),
            pb::RevokeGrantRequest {
                grant_id: grant_id.into(),
                reason: "done".into(),
            },
        ))
        .await
        .unwrap()
        .into_inner()
        .revision
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_through_one_replica_denies_on_the_other_within_a_second() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let elevation = a.request_fatma().await;
    let approved = a.ali_approves(&elevation.id).await;
    let grant = approved.grant.unwrap();

    // B learns of the grant through the feed and caches it.
    let seen = b
        .check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            approved.revision,
        )
        .await;
    assert!(seen.allowed, "{seen:?}");
    assert!(b.check_fatma("s1").await.allowed);

    let revoked_at = revoke_through(&a, &grant.id).await;
    let started = Instant::now();
    loop {
        let decision = b.check_fatma("s1").await;
        if !decision.allowed {
            assert_eq!(reason(&decision), pb::DecisionReason::Revoked);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "replica B still allowed a revoked grant after one second"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Asking for the revoke's revision never sees the old state.
    let fresh = b
        .check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            revoked_at,
        )
        .await;
    assert!(!fresh.allowed);
    assert!(fresh.revision >= revoked_at);
}

pub(crate) async fn listener_pid(app: &TestApp) -> Option<i32> {
    let rows = sql(
        app.database_url.as_deref().unwrap(),
        &format!(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'elevator-listener-{}'",
            app.instance_id
        ),
    )
    .await;
    rows.iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).and_then(|pid| pid.parse().ok()),
        _ => None,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_loses_its_feed_never_allows_what_was_revoked_meanwhile() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let elevation = a.request_fatma().await;
    let approved = a.ali_approves(&elevation.id).await;
    let grant = approved.grant.unwrap();
    assert!(
        b.check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            approved.revision
        )
        .await
        .allowed
    );
    assert!(b.check_fatma("s1").await.allowed, "B caches the grant");

    let pid = listener_pid(&b)
        .await
        .expect("B's listener connection is visible");
    let read_throughs_before = b.app.decider().cache_reports()[0]
        .stats
        .read_throughs
        .load(std::sync::atomic::Ordering::Relaxed);
    sql(
        a.database_url.as_deref().unwrap(),
        &format!("SELECT pg_terminate_backend({pid})"),
    )
    .await;
    // B notices the loss (the server tells the client it terminated the connection)...
    let started = Instant::now();
    while b.app.decider().freshness().is_listening() {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "B did not notice the lost feed"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    eprintln!(
        "pg_terminate_backend on the LISTEN connection: B noticed after {:?}",
        started.elapsed()
    );
    // ...and a revoke committed while B is not listening is never missed: B reads through
    // until it listens again, then drops everything it cached before.
    revoke_through(&a, &grant.id).await;
    let until = Instant::now() + Duration::from_secs(2);
    let mut relistened = false;
    while Instant::now() < until {
        let decision = b.check_fatma("s1").await;
        assert!(
            !decision.allowed,
            "B allowed a grant revoked while its feed was down"
        );
        relistened |= b.app.decider().freshness().is_listening();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(relistened, "B reconnected its feed");
    assert!(listener_pid(&b).await.is_some_and(|new_pid| new_pid != pid));
    // The caches were dropped: B's Checks went to the store while it was not listening.
    let read_throughs_after = b.app.decider().cache_reports()[0]
        .stats
        .read_throughs
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(read_throughs_after > read_throughs_before, "B read through");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_put_through_one_replica_takes_effect_on_the_other() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    assert_eq!(b.app.decider().policy().version(), 1);
    let narrowed = elevator::policy::DEMO_POLICY.replace("max_duration: 2h", "max_duration: 1h");
    let put = a
        .policies()
        .put_policy(authed(
            &a.admin(),
            pb::PutPolicyRequest {
                source: narrowed,
                expected_version: 0,
            },
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(put.version, 2);
    let started = Instant::now();
    while b.app.decider().policy().version() != 2 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "B did not pick up the new policy"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let refused = b
        .elevations()
        .request_elevation(authed(
            &b.fatma(),
            elevation_request("admin_approver", "Org:Procurement", 7200, "Q4 close"),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);

    // A replica started later with the same policy file does not roll the policy back...
    let c = spawn_replica(&a, None).await;
    assert_eq!(c.app.decider().policy().version(), 2);
    // ...but one deployed with a changed file puts it in force everywhere.
    let changed = elevator::policy::DEMO_POLICY.replace("max_duration: 8h", "max_duration: 4h");
    let d = spawn_replica(&a, Some(changed)).await;
    assert_eq!(d.app.decider().policy().version(), 3);
    let started = Instant::now();
    while b.app.decider().policy().version() != 3 {
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "B did not pick up the deployed policy"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweep_runs_once_across_replicas_and_survives_one_dying() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    for _ in 0..3 {
        a.request_fatma().await;
    }
    a.clock.advance(chrono::TimeDelta::hours(1));

    // Both sweep at once: every elevation times out exactly once.
    let (moved_a, moved_b) = tokio::join!(a.app.sweep(), b.app.sweep());
    assert_eq!(moved_a.unwrap() + moved_b.unwrap(), 3);
    let timed_out = a
        .audit_actions()
        .await
        .iter()
        .filter(|action| *action == "elevation.timed_out")
        .count();
    assert_eq!(timed_out, 3);

    // While A holds the lease B does nothing; when A's lease goes (A dies), B takes over.
    a.request_fatma().await;
    a.clock.advance(chrono::TimeDelta::hours(1));
    let lease = a
        .store
        .sweep_lease()
        .await
        .unwrap()
        .expect("A takes the lease");
    assert_eq!(b.app.sweep().await.unwrap(), 0);
    drop(lease);
    let started = Instant::now();
    loop {
        if b.app.sweep().await.unwrap() == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "B never took over the sweep"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
