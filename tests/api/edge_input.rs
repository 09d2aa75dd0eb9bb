//! Bad input at the edge: durations below a second, starts in the past, and values too long to
//! quote back. Each is refused with INVALID_ARGUMENT and its `ErrorInfo`, changes nothing, and
//! gets the same answer from the memory store and PostgreSQL; no bad value reaches a store
//! constraint (which would answer INTERNAL).

use std::sync::Arc;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tonic::Code;
use tonic_types::StatusExt;

use crate::delegation::{delegation, fatma_holds_the_root};
use crate::harness::*;
use crate::on_both_backends;
use crate::workflows::WORKFLOW_POLICY;
use elevator::clock::ManualClock;
use elevator::proto::v1 as pb;

fn span(seconds: i64, nanos: i32) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos })
}

/// The status code and `ErrorInfo` reason of an answer (`OK` for a success).
fn answer<T>(result: &Result<T, tonic::Status>) -> (Code, String) {
    match result {
        Ok(_) => (Code::Ok, String::new()),
        Err(status) => (status.code(), error_reason(status)),
    }
}

fn bad_field(status: &tonic::Status) -> String {
    status
        .get_error_details()
        .bad_request()
        .and_then(|bad| bad.field_violations.first())
        .map(|violation| violation.field.clone())
        .unwrap_or_default()
}

/// A server on `backend` with the workflow policy (delegable admin_approver) where fatma holds
/// an active admin_approver grant; returns it with the grant's elevation id.
async fn app_with_a_grant(backend: Backend, clock: Arc<ManualClock>) -> (TestApp, String) {
    let app = spawn_app_with(
        backend,
        AppOptions {
            policy: Some(WORKFLOW_POLICY.into()),
            clock: Some(clock),
            ..Default::default()
        },
    )
    .await;
    let grant = fatma_holds_the_root(&app).await;
    (app, grant.elevation_id)
}

/// Every write RPC that takes a duration or a timestamp, called with `duration` (and
/// `not_before` where there is one); the answers, in order.
async fn write_with(
    app: &TestApp,
    elevation_id: &str,
    duration: Option<prost_types::Duration>,
    not_before: Option<prost_types::Timestamp>,
) -> Vec<(Code, String)> {
    let mut request = elevation_request("admin_approver", "Org:Procurement/Dept:A", 0, "close");
    request.duration = duration;
    request.not_before = not_before;
    let requested = app
        .elevations()
        .request_elevation(authed(&app.fatma(), request))
        .await;
    let extended = app
        .elevations()
        .extend_elevation(authed(
            &app.fatma(),
            pb::ExtendElevationRequest {
                id: elevation_id.into(),
                extension: duration,
                reason: "more time".into(),
                ..Default::default()
            },
        ))
        .await;
    let mut delegated = delegation("bob", "Org:Procurement/Dept:A", 1);
    delegated.duration = duration;
    let delegated = app
        .elevations()
        .delegate(authed(&app.fatma(), delegated))
        .await;
    let risk_engine = app.token("risk-engine", &[], &["elevator:risk"], None, None);
    let reported = app
        .checks()
        .report_risk_signal(authed(
            &risk_engine,
            pb::ReportRiskSignalRequest {
                subject: "carol".into(),
                score: 10,
                ttl: duration,
                ..Default::default()
            },
        ))
        .await;
    vec![
        answer(&requested),
        answer(&extended),
        answer(&delegated),
        answer(&reported),
    ]
}

async fn sub_second_durations_are_refused_on_every_write_rpc(backend: Backend) {
    let (app, elevation_id) =
        app_with_a_grant(backend, Arc::new(ManualClock::starting_now())).await;
    let revision = app.store.revision().await.unwrap();
    for (seconds, nanos) in [(0, 1), (0, 999_999), (1, 500_000_000), (0, 0), (-1, 0)] {
        let answers = write_with(&app, &elevation_id, span(seconds, nanos), None).await;
        for (rpc, (code, reason)) in ["request", "extend", "delegate", "risk"]
            .iter()
            .zip(answers)
        {
            assert_eq!(
                (code, reason.as_str()),
                (Code::InvalidArgument, "INVALID_ARGUMENT"),
                "{rpc} with {seconds}s {nanos}ns"
            );
        }
    }
    let refused = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            pb::RequestElevationRequest {
                duration: span(0, 1),
                ..elevation_request("admin_approver", "Org:Procurement", 0, "close")
            },
        ))
        .await
        .expect_err("one nanosecond");
    assert_eq!(bad_field(&refused), "duration");
    assert!(
        refused.message().contains("whole seconds"),
        "{}",
        refused.message()
    );
    assert_eq!(app.store.revision().await.unwrap(), revision);
}
on_both_backends!(
    sub_second_durations_are_refused_alike_on_both_stores,
    sub_second_durations_are_refused_on_every_write_rpc
);

async fn a_start_in_the_past_is_refused_unless_within_a_minute_of_now(backend: Backend) {
    let app = spawn_app(backend).await;
    let revision = app.store.revision().await.unwrap();
    let now = elevator::clock::Clock::now(&*app.clock);
    for (seconds, what) in [(0, "1970-01-01"), (now.timestamp() - 3600, "an hour ago")] {
        let refused = app
            .elevations()
            .request_elevation(authed(
                &app.fatma(),
                pb::RequestElevationRequest {
                    not_before: Some(prost_types::Timestamp { seconds, nanos: 0 }),
                    ..elevation_request("admin_approver", "Org:Procurement", 3600, "close")
                },
            ))
            .await
            .expect_err(what);
        assert_eq!(refused.code(), Code::InvalidArgument, "{what}: {refused:?}");
        assert_eq!(error_reason(&refused), "INVALID_ARGUMENT");
        assert_eq!(bad_field(&refused), "not_before");
        assert!(refused.message().contains("past"), "{}", refused.message());
    }
    assert_eq!(app.store.revision().await.unwrap(), revision);

    // Half a minute ago is a clock's drift: taken as now.
    let elevation = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            pb::RequestElevationRequest {
                not_before: Some(prost_types::Timestamp {
                    seconds: now.timestamp() - 30,
                    nanos: 0,
                }),
                ..elevation_request("admin_approver", "Org:Procurement", 3600, "close")
            },
        ))
        .await
        .expect("30 s ago counts as now")
        .into_inner()
        .elevation
        .unwrap();
    assert_eq!(elevation.not_before, None, "{elevation:?}");
}
on_both_backends!(
    a_start_in_the_past_is_refused_with_its_field,
    a_start_in_the_past_is_refused_unless_within_a_minute_of_now
);

#[tokio::test]
async fn an_overlong_value_is_quoted_back_by_a_short_prefix_and_its_length() {
    let app = spawn_app(Backend::Memory).await;
    let long = "a".repeat(60_000);
    let refused = app
        .elevations()
        .get_elevation(authed(
            &app.fatma(),
            pb::GetElevationRequest { id: long.clone() },
        ))
        .await
        .expect_err("not an id");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(error_reason(&refused), "INVALID_ARGUMENT");
    assert!(
        refused.message().contains("(60000 bytes)"),
        "{}",
        refused.message()
    );
    assert!(refused.message().len() < 200, "{}", refused.message());
    assert!(
        refused.details().len() < 1024,
        "details of {} bytes",
        refused.details().len()
    );

    // Every other kind of quoted value is bounded the same way.
    let audit = pb::ListAuditEventsRequest {
        action: long.clone(),
        ..Default::default()
    };
    let refused = pb::audit_service_client::AuditServiceClient::new(
        tonic::transport::Channel::from_shared(format!("http://{}", app.address))
            .unwrap()
            .connect_lazy(),
    )
    .list_audit_events(authed(&app.admin(), audit))
    .await
    .expect_err("not an audit action");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().len() < 200, "{}", refused.message());
    let scope = format!("Org:{}", "b".repeat(1000));
    let refused = app
        .elevations()
        .request_elevation(authed(
            &app.fatma(),
            elevation_request("admin_approver", &format!("{scope} x"), 3600, "r"),
        ))
        .await
        .expect_err("a scope with a space");
    assert!(refused.message().len() < 400, "{}", refused.message());
}

fn durations() -> impl Strategy<Value = Option<prost_types::Duration>> {
    let seconds = prop_oneof![
        3 => -3i64..3,
        1 => 7200i64..40_000_000,
        1 => any::<i64>(),
    ];
    let nanos = prop_oneof![
        3 => Just(0i32),
        2 => 0i32..1_000_000_000,
        1 => any::<i32>(),
    ];
    prop_oneof![
        1 => Just(None),
        // Under a millisecond (the store's unit), and under a second.
        2 => (1i32..1_000_000).prop_map(|nanos| span(0, nanos)),
        2 => (0i64..2, 1i32..1_000_000_000).prop_map(|(seconds, nanos)| span(seconds, nanos)),
        3 => (1i64..7200).prop_map(|seconds| span(seconds, 0)),
        4 => (seconds, nanos).prop_map(|(seconds, nanos)| span(seconds, nanos)),
    ]
}

fn timestamps(now: i64) -> impl Strategy<Value = Option<prost_types::Timestamp>> {
    let seconds = prop_oneof![
        3 => (now - 7200)..(now + 40 * 86_400),
        1 => (now - 120)..(now + 120),
        1 => any::<i64>(),
        1 => -100i64..100,
    ];
    let nanos = prop_oneof![3 => Just(0i32), 1 => any::<i32>()];
    prop_oneof![
        2 => Just(None),
        5 => (seconds, nanos).prop_map(|(seconds, nanos)| Some(prost_types::Timestamp { seconds, nanos })),
    ]
}

/// Arbitrary `google.protobuf.Duration` and `Timestamp` values, sent to every write RPC that
/// takes one, get the same answer (code and reason) from both stores, and never INTERNAL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arbitrary_durations_and_timestamps_get_the_same_answer_from_both_stores() {
    let clock = Arc::new(ManualClock::starting_now());
    let (memory, memory_elevation) = app_with_a_grant(Backend::Memory, clock.clone()).await;
    let (postgres, postgres_elevation) = app_with_a_grant(Backend::Postgres, clock.clone()).await;
    let now = elevator::clock::Clock::now(&*clock).timestamp();
    let handle = tokio::runtime::Handle::current();
    let mut runner = TestRunner::new(Config {
        cases: 40,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = tokio::task::block_in_place(|| {
        runner.run(&(durations(), timestamps(now)), |(duration, not_before)| {
            let (on_memory, on_postgres) = handle.block_on(async {
                (
                    write_with(&memory, &memory_elevation, duration, not_before).await,
                    write_with(&postgres, &postgres_elevation, duration, not_before).await,
                )
            });
            prop_assert_eq!(&on_memory, &on_postgres);
            prop_assert!(
                on_memory.iter().all(|(code, _)| *code != Code::Internal),
                "{:?}",
                on_memory
            );
            Ok(())
        })
    });
    outcome.unwrap();
}

/// The stock Python grpcio client (16 KiB metadata limit) reads the refusal of a 60,000-byte
/// id as what it is, INVALID_ARGUMENT, instead of failing on the size of the status
/// (RESOURCE_EXHAUSTED). The request is built by hand, so no generated stubs are needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stock_grpcio_client_reads_the_refusal_of_an_overlong_id() {
    const SCRIPT: &str = r#"
import sys, grpc
target, token = sys.argv[1], sys.argv[2]
id = b"a" * 60000
def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80]); n >>= 7
    return out + bytes([n])
request = b"\x0a" + varint(len(id)) + id
call = grpc.insecure_channel(target).unary_unary("/elevator.v1.ElevationService/GetElevation")
try:
    call(request, metadata=[("authorization", "Bearer " + token)], timeout=10)
    print("OK")
except grpc.RpcError as error:
    details = dict(error.trailing_metadata() or ()).get("grpc-status-details-bin", b"")
    print(error.code().name, len(error.details() or ""), len(details))
"#;
    let app = spawn_app(Backend::Memory).await;
    let (target, token) = (app.address.to_string(), app.fatma());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
            .args(["-c", SCRIPT, &target, &token])
            .output()
            .expect("python3 with grpcio (pip install grpcio)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fields.first(), Some(&"INVALID_ARGUMENT"), "{stdout}");
    let message_bytes: usize = fields[1].parse().unwrap();
    let details_bytes: usize = fields[2].parse().unwrap();
    assert!(message_bytes < 200 && details_bytes < 1024, "{stdout}");
}
