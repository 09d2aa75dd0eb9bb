//! Webhooks, against a local HTTP receiver: signed JSON posts for the events policy names,
//! retried while the receiver fails, and never lost across a server restart between the
//! commit and the delivery.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use chrono::TimeDelta;

use crate::harness::*;
use crate::http::{Received, start_recorder};
use crate::on_both_backends;

fn policy_posting_to(url: &str) -> String {
    format!(
        "{}\nwebhooks:\n  - url: \"{url}\"\n    events: [elevation.requested, grant.activated, grant.revoked]\n",
        elevator::policy::DEMO_POLICY
    )
}

fn assert_signed(post: &Received) {
    let timestamp: i64 = post
        .header("x-elevator-timestamp")
        .parse()
        .expect("a timestamp");
    assert_eq!(
        post.header("x-elevator-signature"),
        elevator::webhooks::signature(TEST_WEBHOOK_SECRET.as_bytes(), timestamp, &post.body),
        "the signature covers the timestamp and the body"
    );
    assert_eq!(post.header("content-type"), "application/json");
}

async fn policy_named_events_are_posted_signed(backend: Backend) {
    let receiver = start_recorder().await;
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(policy_posting_to(&receiver.url)),
            ..Default::default()
        },
    )
    .await;
    let elevation = app.request_fatma().await;
    let approved = app.ali_approves(&elevation.id).await;
    let posts = receiver.wait_for(2, None).await;
    let kinds: Vec<&str> = posts
        .iter()
        .map(|post| post.header("x-elevator-event"))
        .collect();
    assert_eq!(kinds, ["elevation.requested", "grant.activated"]);
    for post in &posts {
        assert_signed(post);
        let body = post.json();
        assert_eq!(body["action"], post.header("x-elevator-event"));
        assert_eq!(body["subject"], "fatma");
        assert!(body["revision"].as_u64().unwrap() > 0);
    }
    assert_eq!(posts[1].json()["grant_id"], approved.grant.unwrap().id);
    // Approval steps are not among the events asked for.
    assert_eq!(receiver.received.lock().unwrap().len(), 2);
    app.wait_until_no_delivery_is_pending().await;
}
on_both_backends!(webhook_posts, policy_named_events_are_posted_signed);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_retry_and_survive_a_restart_between_commit_and_delivery() {
    let receiver = start_recorder().await;
    receiver.failing.store(true, Ordering::SeqCst);
    let policy = policy_posting_to(&receiver.url);
    let first = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            policy: Some(policy.clone()),
            ..Default::default()
        },
    )
    .await;

    // The write does not wait for the receiver: it commits, with its delivery in the outbox.
    first.request_fatma().await;
    let started = Instant::now();
    while first.audit_actions().await.len() < 2
        || first.store.pending_deliveries().await.unwrap() != 1
    {
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The receiver keeps failing; the first replica tries, then stops for good.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let database_url = first.database_url.clone();
    let clock = first.clock.clone();
    drop(first);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.received.lock().unwrap().is_empty());

    // Another server on the same database delivers it once the receiver is back.
    receiver.failing.store(false, Ordering::SeqCst);
    let second = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url,
            policy: Some(policy),
            clock: Some(clock),
            ..Default::default()
        },
    )
    .await;
    let posts = receiver
        .wait_for(1, Some((&second, TimeDelta::seconds(2))))
        .await;
    assert_eq!(posts[0].header("x-elevator-event"), "elevation.requested");
    assert_signed(&posts[0]);
    second.wait_until_no_delivery_is_pending().await;
}

/// One delivery written to `store`, claimed, and finished; its id.
async fn one_delivery_id(store: &elevator::store::memory::MemoryStore) -> i64 {
    use elevator::store::{Change, DeliveryOutcome, Outbox, OutboxMessage, Writes};
    let now = chrono::Utc::now();
    store
        .append(Change {
            outbox: vec![OutboxMessage {
                url: "http://127.0.0.1:9/hook".into(),
                event_kind: "elevation.requested".into(),
                payload: serde_json::json!({"action": "elevation.requested"}),
                created_at: now,
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries(now, TimeDelta::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1, "{claimed:?}");
    let id = claimed[0].id;
    store
        .finish_delivery(id, DeliveryOutcome::Delivered, now)
        .await
        .expect("the id it handed out finishes the delivery");
    assert_eq!(store.pending_deliveries().await.unwrap(), 0);
    id
}

#[tokio::test]
async fn dev_mode_delivery_ids_do_not_repeat_after_a_restart() {
    // Dev mode keeps its outbox in memory: a restart is a new store. A receiver that dedupes on
    // X-Elevator-Delivery must not see the first delivery after a restart as one it has seen.
    let mut seen = std::collections::BTreeSet::new();
    for _restart in 0..20 {
        let store = elevator::store::memory::MemoryStore::new();
        let first = one_delivery_id(&store).await;
        let second = one_delivery_id(&store).await;
        assert!(
            first > 0 && second > 0,
            "ids stay positive: {first}, {second}"
        );
        assert!(
            seen.insert(first),
            "delivery id {first} repeated after a restart"
        );
        assert!(
            seen.insert(second),
            "delivery id {second} repeated within a store"
        );
    }
    // An id from another store (another process) finishes nothing here.
    let store = elevator::store::memory::MemoryStore::new();
    let foreign = *seen.iter().next().unwrap();
    let outcome = elevator::store::DeliveryOutcome::Delivered;
    use elevator::store::Outbox;
    assert!(
        store
            .finish_delivery(foreign, outcome, chrono::Utc::now())
            .await
            .is_err()
    );
}
