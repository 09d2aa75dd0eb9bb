//! Item 4, PostgreSQL killed (`pg_ctl stop -m immediate`, on a cluster this test owns) at each
//! step of request -> approve -> activate, then restarted. Afterwards an invariant query finds
//! no grant without an approved elevation and its audit row, and no half-done transition; an
//! acknowledged write survived; writes during the outage answer `UNAVAILABLE`; Check answers
//! from entries younger than `cache.outage_grace_ms` (by the injected clock), then fails
//! closed.

use std::time::Duration;

use chrono::TimeDelta;
use elevator::clock::Clock;
use elevator::proto::v1 as pb;
use tonic::Code;

use super::{OwnedPostgres, time_until};
use crate::harness::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Request,
    Approve,
    Activate,
}

const OUTAGE_GRACE: TimeDelta = TimeDelta::seconds(30);

fn omar(app: &TestApp) -> String {
    app.token("omar", &["procurement-staff"], &[], Some("ali"), Some("s7"))
}

fn omars_request(app: &TestApp) -> pb::RequestElevationRequest {
    let start = app.clock.now() + TimeDelta::minutes(10);
    pb::RequestElevationRequest {
        role: "admin_approver".into(),
        scope: "Org:Procurement".into(),
        duration: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        reason: "scheduled".into(),
        not_before: Some(prost_types::Timestamp {
            seconds: start.timestamp(),
            nanos: 0,
        }),
        ..Default::default()
    }
}

async fn request(app: &TestApp) -> Result<String, tonic::Status> {
    app.elevations()
        .request_elevation(authed(&omar(app), omars_request(app)))
        .await
        .map(|response| response.into_inner().elevation.unwrap().id)
}

async fn approve(app: &TestApp, elevation_id: &str) -> Result<(), tonic::Status> {
    app.approvals()
        .approve(authed(
            &app.ali(),
            pb::ApproveRequest {
                elevation_id: elevation_id.into(),
                comment: "ok".into(),
                idempotency_key: String::new(),
            },
        ))
        .await
        .map(|_| ())
}

async fn activate(app: &TestApp) -> Result<usize, tonic::Status> {
    app.app
        .sweep()
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))
}

async fn count(url: &str, query: &str) -> i64 {
    let client = connect(url).await;
    client.query_one(query, &[]).await.expect(query).get(0)
}

/// The invariants after a crash: every grant has an approved elevation and its audit row,
/// every approved-or-later elevation has its grant, every elevation its request row, and the
/// head agrees with the audit log (no revision or sequence number without its events).
async fn broken_invariants(url: &str) -> Vec<String> {
    let checks = [
        (
            "grants without an approved elevation",
            "SELECT count(*) FROM grants g LEFT JOIN elevations e ON e.id = g.elevation_id \
             WHERE g.elevation_id IS NOT NULL AND (e.id IS NULL OR e.state NOT IN \
             ('APPROVED', 'SCHEDULED', 'ACTIVE', 'EXPIRED', 'REVOKED'))",
        ),
        (
            "grants without their approval's audit row",
            "SELECT count(*) FROM grants g WHERE g.elevation_id IS NOT NULL AND NOT EXISTS \
             (SELECT 1 FROM audit_events a WHERE a.elevation_id = g.elevation_id \
              AND a.action IN ('elevation.approved', 'approval.auto_approved'))",
        ),
        (
            "approved elevations without a grant",
            "SELECT count(*) FROM elevations e WHERE e.state IN \
             ('APPROVED', 'SCHEDULED', 'ACTIVE', 'EXPIRED', 'REVOKED') \
             AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.elevation_id = e.id)",
        ),
        (
            "elevations without their request's audit row",
            "SELECT count(*) FROM elevations e WHERE NOT EXISTS (SELECT 1 FROM audit_events a \
             WHERE a.elevation_id = e.id AND a.action = 'elevation.requested')",
        ),
        (
            "active elevations without their activation's audit row",
            "SELECT count(*) FROM elevations e WHERE e.state = 'ACTIVE' AND NOT EXISTS \
             (SELECT 1 FROM audit_events a WHERE a.elevation_id = e.id \
              AND a.action IN ('grant.activated', 'elevation.approved'))",
        ),
        (
            "audit sequence numbers not gapless up to the head",
            "SELECT (SELECT audit_seq FROM elevator_head) - count(*) + \
             (count(*) - coalesce(max(seq), 0)) FROM audit_events",
        ),
        (
            "head revisions without audit events",
            "SELECT (SELECT revision FROM elevator_head) - coalesce(max(revision), 0) \
             FROM audit_events",
        ),
    ];
    let mut broken = Vec::new();
    for (what, query) in checks {
        let found = count(url, query).await;
        if found != 0 {
            broken.push(format!("{what}: {found}"));
        }
    }
    broken
}

async fn kill_during(step: Step, cluster: &OwnedPostgres) {
    let url = cluster.fresh_database().await;
    let app = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url: Some(url.clone()),
            configure: Some(Box::new(|config| {
                config.cache.outage_grace_ms = OUTAGE_GRACE.num_milliseconds() as u64;
                config.database.connect_timeout_ms = 1000;
            })),
            ..Default::default()
        },
    )
    .await;
    let mut elevation_id = None;
    if step != Step::Request {
        elevation_id = Some(request(&app).await.expect("omar's request"));
    }
    if step == Step::Activate {
        approve(&app, elevation_id.as_deref().unwrap())
            .await
            .expect("ali approves");
        app.clock.advance(TimeDelta::minutes(11));
    }

    // Fatma's grant, cached before the outage: the outage grace may answer for it.
    let fatmas = app.request_fatma().await;
    app.ali_approves(&fatmas.id).await;
    assert!(app.check_fatma("s1").await.allowed);

    // The step races with the kill.
    let write = async {
        match step {
            Step::Request => request(&app).await.map(Some),
            Step::Approve => approve(&app, elevation_id.as_deref().unwrap())
                .await
                .map(|()| None),
            Step::Activate => activate(&app).await.map(|_| None),
        }
    };
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1)).await;
        cluster.kill();
    };
    let (outcome, ()) = tokio::join!(write, kill);
    eprintln!(
        "killed during {step:?}: the write answered {:?}",
        outcome.as_ref().map_err(|status| status.code())
    );
    if let Ok(Some(id)) = &outcome {
        elevation_id = Some(id.clone());
    }

    // The outage: writes answer UNAVAILABLE...
    time_until(Duration::from_secs(5), || {
        !app.app.decider().freshness().is_listening()
    })
    .await
    .expect("the replica noticed the outage");
    let refused = request(&app)
        .await
        .expect_err("a write with PostgreSQL down");
    assert_eq!(refused.code(), Code::Unavailable, "{refused:?}");
    // ...Check answers from the entry loaded within the grace...
    let during = app.check_fatma("s1").await;
    let stats = &app.app.decider().cache_reports()[0].stats;
    assert!(
        during.allowed,
        "a fresh cached entry answers: {during:?}; listening {}, {} cached, {} read-throughs, {} outage answers",
        app.app.decider().freshness().is_listening(),
        app.app.decider().cached_subjects(),
        stats
            .read_throughs
            .load(std::sync::atomic::Ordering::Relaxed),
        stats
            .outage_answers
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    let unknown = app
        .check(
            "nobody",
            "s1",
            "purchase_orders.approve",
            "Org:Procurement/PO:4711",
            0,
        )
        .await;
    assert!(!unknown.allowed);
    // ...and once the entry is older than the grace, fails closed.
    app.clock.advance(OUTAGE_GRACE + TimeDelta::seconds(1));
    let after = app.check_fatma("s1").await;
    assert!(
        !after.allowed,
        "an entry past the grace answered: {after:?}"
    );
    assert_eq!(reason(&after), pb::DecisionReason::InternalError);

    cluster.start_server();
    let recovered = time_until(Duration::from_secs(20), || {
        app.app.decider().freshness().is_listening()
    })
    .await
    .expect("the replica listens again after the restart");
    eprintln!("  listening again {recovered:?} after the restart");

    // An acknowledged write survived; an unacknowledged one may be retried (or had committed).
    match (step, &outcome) {
        (Step::Request, Ok(_)) => {
            let id = elevation_id.as_deref().unwrap();
            let found = count(
                &url,
                &format!("SELECT count(*) FROM elevations WHERE id = '{id}'"),
            )
            .await;
            assert_eq!(found, 1, "an acknowledged request was lost");
        }
        (Step::Approve, Ok(_)) => {
            let id = elevation_id.as_deref().unwrap();
            let found = count(
                &url,
                &format!("SELECT count(*) FROM grants WHERE elevation_id = '{id}'"),
            )
            .await;
            assert_eq!(found, 1, "an acknowledged approval was lost");
        }
        (Step::Request, Err(_)) => {
            elevation_id = Some(request(&app).await.expect("the request, retried"));
        }
        (Step::Approve, Err(_)) => {
            let retried = approve(&app, elevation_id.as_deref().unwrap()).await;
            let settled = match &retried {
                Ok(()) => true,
                Err(status) => matches!(
                    status.code(),
                    Code::FailedPrecondition | Code::Aborted | Code::AlreadyExists
                ),
            };
            assert!(settled, "retrying the approval: {retried:?}");
        }
        (Step::Activate, _) => {}
    }
    if step == Step::Activate {
        // The sweep's transition either committed or is done now.
        activate(&app).await.expect("the sweep after the restart");
        let id = elevation_id.as_deref().unwrap();
        let active = count(
            &url,
            &format!("SELECT count(*) FROM elevations WHERE id = '{id}' AND state = 'ACTIVE'"),
        )
        .await;
        assert_eq!(active, 1, "the scheduled elevation is active");
    }
    let broken = broken_invariants(&url).await;
    assert!(
        broken.is_empty(),
        "after a kill during {step:?}: {broken:?}"
    );
    eprintln!("  invariants hold after the kill during {step:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_at_each_step_leaves_nothing_half_done() {
    let cluster = OwnedPostgres::start();
    for step in [Step::Request, Step::Approve, Step::Activate] {
        kill_during(step, &cluster).await;
    }
}
