//! Item 3, listener loss beyond a killed connection (that one, `pg_terminate_backend`, is in
//! `replicas.rs`): a LISTEN connection whose backend is frozen (`SIGSTOP`: the socket stays
//! open, nothing answers, nothing is delivered), and one that answers but stops delivering
//! notifications. Each is detected within 2 s, the caches are dropped and Checks read through
//! until a full resync, and nothing revoked meanwhile is allowed.

use std::time::{Duration, Instant};

use elevator::proto::v1 as pb;
use elevator::store::postgres::STALL_DETECTION_BOUND;

use super::{OwnedPostgres, signal_backend, time_until};
use crate::harness::*;
use crate::replicas::listener_pid;

/// Scheduling slack on a loaded two-core machine, on top of the detection bound.
const SLACK: Duration = Duration::from_millis(500);

async fn grant_cached_on_both(a: &TestApp, b: &TestApp) -> String {
    let elevation = a.request_fatma().await;
    let approved = a.ali_approves(&elevation.id).await;
    let seen = b
        .check(
            "fatma",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            approved.revision,
        )
        .await;
    assert!(seen.allowed);
    assert!(b.check_fatma("s1").await.allowed, "B caches the grant");
    approved.grant.unwrap().id
}

async fn revoke(a: &TestApp, grant_id: &str) {
    a.elevations()
        .revoke_grant(authed(
            &a.fatma(),
            pb::RevokeGrantRequest {
                grant_id: grant_id.into(),
                reason: "revoked while B was deaf".into(),
            },
        ))
        .await
        .expect("revoke through A");
}

fn read_throughs(app: &TestApp) -> u64 {
    app.app.decider().cache_reports()[0]
        .stats
        .read_throughs
        .load(std::sync::atomic::Ordering::Relaxed)
}

/// B keeps denying fatma for `window`, and is listening again by its end.
async fn b_denies_until_it_listens_again(b: &TestApp, window: Duration) {
    let until = Instant::now() + window;
    let mut relistened = false;
    let mut checks = 0;
    while Instant::now() < until {
        let decision = b.check_fatma("s1").await;
        assert!(
            !decision.allowed,
            "B allowed a grant revoked while its feed was stalled"
        );
        checks += 1;
        relistened |= b.app.decider().freshness().is_listening();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(relistened, "B resynchronised its feed");
    eprintln!("  {checks} checks on B while it recovered, all denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_listen_connection_is_detected_and_nothing_revoked_meanwhile_is_allowed() {
    let cluster = OwnedPostgres::start();
    let a = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url: Some(cluster.fresh_database().await),
            ..Default::default()
        },
    )
    .await;
    let b = spawn_replica(&a, None).await;
    let grant_id = grant_cached_on_both(&a, &b).await;
    let pid = listener_pid(&b).await.expect("B's listener is connected");
    let read_throughs_before = read_throughs(&b);

    signal_backend(pid, "STOP");
    let frozen = Instant::now();
    // Revoked right after the freeze: B can only learn it by reading through.
    revoke(&a, &grant_id).await;
    time_until(STALL_DETECTION_BOUND * 2, || {
        !b.app.decider().freshness().is_listening()
    })
    .await
    .expect("B noticed its frozen listener");
    let detected = frozen.elapsed();
    eprintln!("frozen LISTEN backend: B detected the stall after {detected:?}");
    assert!(
        detected <= STALL_DETECTION_BOUND + SLACK,
        "detected after {detected:?}"
    );
    b_denies_until_it_listens_again(&b, Duration::from_secs(2)).await;
    assert!(
        read_throughs(&b) > read_throughs_before,
        "B read through while its feed was down"
    );
    let listeners = sql(
        b.database_url.as_deref().unwrap(),
        &format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = \
             'elevator-listener-{}' AND pid <> {pid}",
            b.instance_id
        ),
    )
    .await;
    let new_listeners = listeners.iter().find_map(|message| match message {
        tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
        _ => None,
    });
    assert_eq!(
        new_listeners.as_deref(),
        Some("1"),
        "B listens on a new connection"
    );
    signal_backend(pid, "CONT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_that_answers_but_stops_delivering_is_detected_by_the_head_revision() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let grant_id = grant_cached_on_both(&a, &b).await;
    // A revoke whose notification is lost: committed with its revision, never announced.
    sql(
        a.database_url.as_deref().unwrap(),
        &format!(
            "BEGIN; \
             UPDATE elevator_head SET revision = revision + 1; \
             UPDATE grants SET revoked_at = now(), revoked_by = 'fatma', revoke_reason = 'lost', \
                 revision = (SELECT revision FROM elevator_head) WHERE id = '{grant_id}'; \
             COMMIT"
        ),
    )
    .await;
    let committed = Instant::now();
    let detected = time_until(STALL_DETECTION_BOUND * 2, || {
        !b.app.decider().freshness().is_listening()
    })
    .await
    .expect("B noticed its feed fell behind the head revision");
    eprintln!("silent feed: B detected it after {detected:?}");
    assert!(detected <= STALL_DETECTION_BOUND + SLACK);
    // From the bound on, B never allows the revoked grant.
    let bound_passes = committed + STALL_DETECTION_BOUND;
    let now = Instant::now();
    if bound_passes > now {
        tokio::time::sleep(bound_passes - now).await;
    }
    b_denies_until_it_listens_again(&b, Duration::from_secs(1)).await;
}
