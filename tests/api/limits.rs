//! Admission limits: message sizes, the per-caller write rate, the in-flight limit, and
//! deadlines honoured through to PostgreSQL. Each refusal has its status and changes nothing.

use std::time::Duration;

use tonic::Code;

use crate::harness::*;
use elevator::proto::v1 as pb;

fn fatma_request(reason: String) -> pb::RequestElevationRequest {
    elevation_request("admin_approver", "Org:Procurement", 3600, &reason)
}

#[tokio::test]
async fn oversized_messages_are_refused_before_decoding_and_policies_still_fit() {
    let app = spawn_app(Backend::Memory).await;
    let revision = app.store.revision().await.unwrap();
    let error = app
        .elevations()
        .request_elevation(authed(&app.fatma(), fatma_request("x".repeat(100 * 1024))))
        .await
        .expect_err("a 100 KiB request");
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    assert_eq!(error_reason(&error), "MESSAGE_TOO_LARGE");
    assert_eq!(app.store.revision().await.unwrap(), revision);

    // A policy document may be larger than other messages (up to its own 1 MiB limit).
    let padded = format!(
        "{}\n# {}\n",
        elevator::policy::DEMO_POLICY,
        "p".repeat(200 * 1024)
    );
    let validated = app
        .policies()
        .validate_policy(authed(
            &app.admin(),
            pb::ValidatePolicyRequest { source: padded },
        ))
        .await
        .expect("a 200 KiB policy is within its limit")
        .into_inner();
    assert!(validated.valid, "{validated:?}");
}

#[tokio::test]
async fn a_caller_past_its_write_rate_is_refused_and_others_are_not() {
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(|config| {
                config.limits.writes_per_minute_per_caller = 1;
                config.limits.write_burst_per_caller = 2;
            })),
            ..Default::default()
        },
    )
    .await;
    let first = app.request_fatma().await;
    app.request_fatma().await;
    let revision = app.store.revision().await.unwrap();
    let error = app
        .elevations()
        .request_elevation(authed(&app.fatma(), fatma_request("third".into())))
        .await
        .expect_err("a third write within the minute");
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    assert_eq!(error_reason(&error), "WRITE_RATE");
    assert_eq!(app.store.revision().await.unwrap(), revision);

    // Reads are not rate limited, and another caller has its own budget.
    app.elevations()
        .list_elevations(authed(&app.fatma(), pb::ListElevationsRequest::default()))
        .await
        .expect("fatma may still read");
    app.ali_approves(&first.id).await;
}

/// Holds PostgreSQL's head row, so that every write blocks until [`HeadLock::release`].
struct HeadLock {
    client: tokio_postgres::Client,
}

impl HeadLock {
    async fn take(url: &str) -> HeadLock {
        let client = connect(url).await;
        client
            .batch_execute("BEGIN; SELECT * FROM elevator_head FOR UPDATE")
            .await
            .expect("lock the head row");
        HeadLock { client }
    }

    /// Waits until some other session waits on a lock in this database. The bound is generous:
    /// on a loaded two-core machine the blocked write can take seconds to reach PostgreSQL.
    async fn wait_for_a_waiter(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while tokio::time::Instant::now() < deadline {
            // This session is inside the transaction that holds the row, and PostgreSQL keeps
            // one snapshot of pg_stat_activity per transaction: without clearing it, every poll
            // would see the sessions as they were at the first, and a write that arrived later
            // would never be seen.
            self.client
                .batch_execute("SELECT pg_stat_clear_snapshot()")
                .await
                .unwrap();
            let row = self
                .client
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity \
                     WHERE wait_event_type = 'Lock' AND datname = current_database()",
                    &[],
                )
                .await
                .unwrap();
            if row.get::<_, i64>(0) > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no write came to wait on the head row");
    }

    async fn release(self) {
        self.client.batch_execute("ROLLBACK").await.unwrap();
    }
}

#[tokio::test]
async fn calls_past_the_in_flight_limit_are_refused_at_once() {
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            configure: Some(Box::new(|config| config.limits.max_concurrent_calls = 1)),
            ..Default::default()
        },
    )
    .await;
    let lock = HeadLock::take(app.database_url.as_deref().unwrap()).await;
    let mut elevations = app.elevations();
    let fatma = app.fatma();
    let blocked = tokio::spawn(async move {
        elevations
            .request_elevation(authed(&fatma, fatma_request("held".into())))
            .await
    });
    lock.wait_for_a_waiter().await;

    let error = app
        .checks()
        .check(authed(
            &app.pep(),
            pb::CheckRequest {
                subject: "fatma".into(),
                session_id: "s1".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/PO:4711".into(),
                ..Default::default()
            },
        ))
        .await
        .expect_err("a second call while one is in flight");
    assert_eq!(error.code(), Code::ResourceExhausted, "{error:?}");
    assert!(error.message().contains("limit of 1 calls"), "{error:?}");

    lock.release().await;
    blocked
        .await
        .unwrap()
        .expect("the call in flight completes once the row is free");
    app.check_fatma("s1").await;
}

#[tokio::test]
async fn a_write_past_its_deadline_is_abandoned_and_changes_nothing() {
    let app = spawn_app(Backend::Postgres).await;
    let revision = app.store.revision().await.unwrap();
    let lock = HeadLock::take(app.database_url.as_deref().unwrap()).await;
    let mut request = authed(&app.fatma(), fatma_request("in a hurry".into()));
    request.set_timeout(Duration::from_millis(300));
    let error = app
        .elevations()
        .request_elevation(request)
        .await
        .expect_err("the write cannot finish while the head row is held");
    assert!(
        matches!(error.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{error:?}"
    );
    lock.release().await;

    // Had the server carried on past the deadline, the write would commit now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.store.revision().await.unwrap(), revision);
    let listed = app
        .elevations()
        .list_elevations(authed(&app.fatma(), pb::ListElevationsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.elevations.is_empty(), "{listed:?}");
}
