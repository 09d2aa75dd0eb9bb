//! Operating it: `/metrics` moving with the traffic, `/healthz` and `/readyz` (and gRPC health)
//! following the change feed, `elevator serve` as a process losing no in-flight call on
//! SIGTERM while ending its streams, a trace reaching an OTLP collector from a caller's
//! `traceparent` down to the PostgreSQL transaction, and `elevator migrate` with
//! `serve --no-migrate`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elevator::auth::Claims;
use elevator::clock::ManualClock;
use elevator::proto::v1 as pb;
use elevator::proto::v1::approval_service_client::ApprovalServiceClient;
use elevator::proto::v1::check_service_client::CheckServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::transport::Channel;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::harness::*;
use crate::http::send;
use crate::replicas::listener_pid;

async fn get(address: std::net::SocketAddr, path: &str) -> crate::http::Answer {
    send(address.port(), "GET", path, &[]).await
}

/// The value of the one sample `series` (name and labels, exactly as rendered).
fn sample(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series} in\n{metrics}"))
        .parse()
        .unwrap()
}

async fn readiness_status(app: &TestApp) -> ServingStatus {
    let channel = Channel::from_shared(format!("http://{}", app.address))
        .unwrap()
        .connect_lazy();
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: elevator::admin::READINESS_SERVICE.into(),
        })
        .await
        .unwrap()
        .into_inner();
    ServingStatus::try_from(response.status).unwrap()
}

/// Polls `condition` every 20ms for up to 10s.
async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !condition().await {
        assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_show_the_counters_moving_and_the_histogram_filled() {
    let app = spawn_app(Backend::Postgres).await;
    let denied = app.check_fatma("s1").await;
    assert!(!denied.allowed);
    let elevation = app.request_fatma().await;
    eventually("the pending approval is counted", || async {
        get(app.admin_address, "/metrics")
            .await
            .body
            .contains("elevator_pending_approvals 1\n")
    })
    .await;
    app.ali_approves(&elevation.id).await;
    for _ in 0..3 {
        assert!(app.check_fatma("s1").await.allowed);
    }

    let answer = get(app.admin_address, "/metrics").await;
    assert_eq!(answer.status, 200);
    assert!(
        answer
            .headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("content-type") && v.starts_with("text/plain")),
        "{:?}",
        answer.headers
    );
    let metrics = answer.body;
    assert_eq!(
        sample(
            &metrics,
            "elevator_check_decisions_total{reason=\"no_grant\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &metrics,
            "elevator_check_decisions_total{reason=\"allowed\"}"
        ),
        3.0
    );
    assert_eq!(
        sample(&metrics, "elevator_check_duration_seconds_count"),
        4.0
    );
    assert_eq!(
        sample(
            &metrics,
            "elevator_check_duration_seconds_bucket{le=\"+Inf\"}"
        ),
        4.0
    );
    assert!(sample(&metrics, "elevator_check_duration_seconds_sum") > 0.0);
    // The first Check loaded fatma, the approval dropped her, one more load; the rest hit.
    assert!(sample(&metrics, "elevator_cache_loads_total{cache=\"grants\"}") >= 2.0);
    assert!(sample(&metrics, "elevator_cache_hits_total{cache=\"grants\"}") >= 1.0);
    assert!(sample(&metrics, "elevator_cache_entries{cache=\"grants\"}") >= 0.0);
    assert!(sample(&metrics, "elevator_invalidations_total") >= 2.0);
    assert!(sample(&metrics, "elevator_invalidation_lag_seconds_count") >= 2.0);
    assert_eq!(sample(&metrics, "elevator_change_feed_listening"), 1.0);
    assert_eq!(
        sample(&metrics, "elevator_db_pool_connections{state=\"max\"}"),
        24.0
    );
    assert!(sample(&metrics, "elevator_db_pool_connections{state=\"open\"}") >= 1.0);
    assert_eq!(
        sample(
            &metrics,
            &format!(
                "elevator_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    eventually("the approved elevation leaves the backlog", || async {
        get(app.admin_address, "/metrics")
            .await
            .body
            .contains("elevator_pending_approvals 0\n")
    })
    .await;

    assert_eq!(get(app.admin_address, "/healthz").await.status, 200);
    assert_eq!(get(app.admin_address, "/nothing").await.status, 404);
    let post = send(app.admin_address.port(), "POST", "/metrics", &[]).await;
    assert_eq!(post.status, 405);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_log_queue_is_measured_when_enabled() {
    let path = std::env::temp_dir().join(format!(
        "elevator-decisions-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let log_path = path.display().to_string();
    let app = spawn_app_with(
        Backend::Memory,
        AppOptions {
            configure: Some(Box::new(move |config| {
                config.decision_log.enabled = true;
                config.decision_log.path = Some(log_path);
            })),
            ..Default::default()
        },
    )
    .await;
    app.check_fatma("s1").await;
    let metrics = get(app.admin_address, "/metrics").await.body;
    assert!(sample(&metrics, "elevator_decision_log_queue_depth") <= 1.0);
    assert_eq!(sample(&metrics, "elevator_decision_log_dropped_total"), 0.0);
    // The memory store has no pool to report.
    assert!(
        !metrics.contains("elevator_db_pool_connections{"),
        "{metrics}"
    );
    app.stop().await;
    let _ = std::fs::remove_file(path);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_change_feed() {
    let app = spawn_app(Backend::Postgres).await;
    eventually("ready once the change feed listens", || async {
        get(app.admin_address, "/readyz").await.status == 200
    })
    .await;
    let ready = get(app.admin_address, "/readyz").await.json();
    assert_eq!(ready["ready"], true);
    assert_eq!(ready["migrations_applied"], true);
    assert_eq!(ready["change_feed_listening"], true);
    assert!(ready["policy_version"].as_u64().unwrap() >= 1);
    eventually("gRPC readiness says SERVING", || async {
        readiness_status(&app).await == ServingStatus::Serving
    })
    .await;

    // Cut the change feed and keep it from reconnecting: not ready, while alive.
    let url = app.database_url.clone().unwrap();
    let database = url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let admin = postgres_admin_url();
    let pid = listener_pid(&app).await.expect("the listener connection");
    sql(
        admin,
        &format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS false"),
    )
    .await;
    sql(admin, &format!("SELECT pg_terminate_backend({pid})")).await;
    eventually("unready without the change feed", || async {
        get(app.admin_address, "/readyz").await.status == 503
    })
    .await;
    let unready = get(app.admin_address, "/readyz").await.json();
    assert_eq!(unready["ready"], false);
    assert_eq!(unready["change_feed_listening"], false);
    assert_eq!(get(app.admin_address, "/healthz").await.status, 200);
    eventually("gRPC readiness says NOT_SERVING", || async {
        readiness_status(&app).await == ServingStatus::NotServing
    })
    .await;

    // Let it reconnect: ready again.
    sql(
        admin,
        &format!("ALTER DATABASE {database} WITH ALLOW_CONNECTIONS true"),
    )
    .await;
    eventually("ready again once the feed reconnects", || async {
        get(app.admin_address, "/readyz").await.status == 200
    })
    .await;
    eventually("gRPC readiness says SERVING again", || async {
        readiness_status(&app).await == ServingStatus::Serving
    })
    .await;
}

// ----- the binary ----------------------------------------------------------------------------

/// A free loopback address (a port the kernel just handed out and took back).
fn free_address() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// `elevator serve` as a child process, killed on drop.
struct Served {
    child: Child,
    dir: PathBuf,
    address: std::net::SocketAddr,
    admin: std::net::SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Served {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("serve.log")).unwrap_or_default()
    }

    fn terminate(&self) {
        crate::harness::send_sigterm(&self.child);
    }

    /// Waits for the process to exit; returns whether it exited successfully.
    async fn exited(&mut self, within: Duration) -> bool {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            assert!(
                started.elapsed() < within,
                "elevator did not exit within {within:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.address))
            .unwrap()
            .connect_lazy()
    }
}

fn token(claims: Claims) -> String {
    // The process runs on the system clock; a manual clock started now agrees with it.
    token_signed(TEST_SECRET.as_bytes(), &ManualClock::starting_now(), claims)
}

fn pep_token() -> String {
    token(Claims {
        sub: "gateway".into(),
        roles: vec!["elevator:check".into()],
        ..Default::default()
    })
}

/// Starts `elevator serve` on `database_url` with the demo policy, and waits until ready.
async fn serve(database_url: &str, args: &[&str], env: &[(&str, String)]) -> Served {
    let dir =
        std::env::temp_dir().join(format!("elevator-serve-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policy.yaml"), elevator::policy::DEMO_POLICY).unwrap();
    let log = std::fs::File::create(dir.join("serve.log")).unwrap();
    let (address, admin) = (free_address(), free_address());
    let mut command = Command::new(env!("CARGO_BIN_EXE_elevator"));
    command
        .arg("serve")
        .arg("--policy")
        .arg(dir.join("policy.yaml"))
        .args(["--database-url", database_url])
        .args(args)
        .env("ELEVATOR_LISTEN", address.to_string())
        .env("ELEVATOR_ADMIN_LISTEN", admin.to_string())
        .env("ELEVATOR_AUTH_HS256_SECRET", TEST_SECRET)
        .env("RUST_LOG", "info")
        .env_remove("ELEVATOR_CONFIG")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log);
    for (name, value) in env {
        command.env(name, value);
    }
    let mut served = Served {
        child: command.spawn().expect("start elevator serve"),
        dir,
        address,
        admin,
    };
    let started = Instant::now();
    loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            panic!("elevator serve exited with {status}:\n{}", served.log());
        }
        let ready = tokio::net::TcpStream::connect(served.admin).await.is_ok()
            && get(served.admin, "/readyz").await.status == 200;
        if ready {
            return served;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "elevator serve was not ready within 30s:\n{}",
            served.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn fatma_check() -> pb::CheckRequest {
    pb::CheckRequest {
        subject: "fatma".into(),
        session_id: "s1".into(),
        permission: "purchase_orders.approve".into(),
        resource: "Org:Procurement/PO:4711".into(),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_load_of_checks_loses_no_call_and_ends_streams() {
    let database_url = fresh_database().await;
    let decisions = std::env::temp_dir().join(format!(
        "elevator-decisions-{}.jsonl",
        uuid::Uuid::new_v4().simple()
    ));
    let mut served = serve(
        &database_url,
        &[],
        &[
            ("ELEVATOR_DECISION_LOG_ENABLED", "true".into()),
            ("ELEVATOR_DECISION_LOG_SAMPLE_ALLOWS", "1".into()),
            (
                "ELEVATOR_DECISION_LOG_PATH",
                decisions.display().to_string(),
            ),
            // Long enough that finishing early shows the streams did not hold shutdown up.
            ("ELEVATOR_SHUTDOWN_GRACE_MS", "60000".into()),
        ],
    )
    .await;
    let channel = served.channel();
    let pep = pep_token();

    // An approver watching: the stream must end, not hold shutdown for the grace period.
    let ali = token(Claims {
        sub: "ali".into(),
        groups: vec!["managers".into()],
        sid: Some("s9".into()),
        ..Default::default()
    });
    let mut watching = ApprovalServiceClient::new(channel.clone())
        .watch_approvals(authed(&ali, pb::WatchApprovalsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    watching.message().await.unwrap().expect("the first batch");

    // Eight callers asking as fast as they can until the server is gone.
    let answered = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let mut callers = Vec::new();
    for _ in 0..8 {
        let (channel, pep) = (channel.clone(), pep.clone());
        let (answered, failures) = (answered.clone(), failures.clone());
        callers.push(tokio::spawn(async move {
            let mut client = CheckServiceClient::new(channel);
            loop {
                match client.check(authed(&pep, fatma_check())).await {
                    Ok(_) => {
                        answered.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(status) => {
                        failures.lock().unwrap().push(status);
                        return;
                    }
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(answered.load(Ordering::SeqCst) > 0, "{}", served.log());
    served.terminate();

    let farewell = tokio::time::timeout(Duration::from_secs(30), watching.message())
        .await
        .expect("the stream ends at shutdown");
    let status = farewell.expect_err("the stream ends with a status");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(status.message().contains("shutting down"), "{status:?}");

    assert!(
        served.exited(Duration::from_secs(30)).await,
        "a clean exit:\n{}",
        served.log()
    );
    for caller in callers {
        caller.await.unwrap();
    }
    // Every Check the server decided was answered: the decision log (written out at
    // shutdown) holds exactly as many decisions as the callers received.
    let logged = std::fs::read_to_string(&decisions).unwrap_or_default();
    let _ = std::fs::remove_file(&decisions);
    assert_eq!(
        logged.lines().count() as u64,
        answered.load(Ordering::SeqCst),
        "decided but not answered (or answered but not decided); failures: {:?}",
        failures.lock().unwrap()
    );
    let log = served.log();
    assert!(log.contains("shutting down"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    assert!(!log.contains("grace period ended"), "{log}");
}

/// An OTLP trace collector that keeps what it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    let value = span
        .attributes
        .iter()
        .find(|kv| kv.key == key)?
        .value
        .as_ref()?;
    Some(match value.value.as_ref()? {
        AnyValue::StringValue(text) => text.clone(),
        AnyValue::BoolValue(flag) => flag.to_string(),
        AnyValue::IntValue(number) => number.to_string(),
        AnyValue::DoubleValue(number) => number.to_string(),
        other => format!("{other:?}"),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_is_traced_from_the_callers_traceparent_into_postgresql() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_address = listener.local_addr().unwrap();
    let serving = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let database_url = fresh_database().await;
    let mut served = serve(
        &database_url,
        &[],
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{collector_address}"),
            ),
            ("OTEL_SERVICE_NAME", "elevator-under-test".into()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100".into()),
        ],
    )
    .await;

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut request = authed(&pep_token(), fatma_check());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{caller_span}-01").parse().unwrap(),
    );
    let decision = CheckServiceClient::new(served.channel())
        .check(request)
        .await
        .unwrap()
        .into_inner();
    assert!(!decision.allowed);
    // Shutdown flushes what is batched.
    served.terminate();
    assert!(
        served.exited(Duration::from_secs(30)).await,
        "{}",
        served.log()
    );

    let spans = collector.spans.lock().unwrap().clone();
    serving.abort();
    let in_trace: Vec<&Span> = spans
        .iter()
        .filter(|span| hex(&span.trace_id) == trace_id)
        .collect();
    let named = |name: &str| {
        in_trace
            .iter()
            .find(|span| span.name == name)
            .copied()
            .unwrap_or_else(|| {
                panic!(
                    "no span {name} in the caller's trace; got {:?}",
                    spans
                        .iter()
                        .map(|s| (&s.name, hex(&s.trace_id)))
                        .collect::<Vec<_>>()
                )
            })
    };
    let rpc = named("elevator.v1.CheckService/Check");
    assert_eq!(
        hex(&rpc.parent_span_id),
        caller_span,
        "the RPC continues the caller's span"
    );
    assert_eq!(attribute(rpc, "rpc.system").as_deref(), Some("grpc"));
    let check = named("check");
    assert_eq!(check.parent_span_id, rpc.span_id);
    assert_eq!(attribute(check, "subject").as_deref(), Some("fatma"));
    assert_eq!(
        attribute(check, "permission").as_deref(),
        Some("purchase_orders.approve")
    );
    assert_eq!(
        attribute(check, "resource").as_deref(),
        Some("Org:Procurement/PO:4711")
    );
    assert_eq!(attribute(check, "allowed").as_deref(), Some("false"));
    assert_eq!(attribute(check, "reason").as_deref(), Some("no_grant"));
    let load = named("postgres.load_grants");
    assert_eq!(load.parent_span_id, check.span_id);
    assert_eq!(attribute(load, "db.system").as_deref(), Some("postgresql"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_runs_alone_and_serve_no_migrate_refuses_a_database_that_lacks_it() {
    let database_url = fresh_database().await;
    let elevator = env!("CARGO_BIN_EXE_elevator");
    let run = |args: &[&str]| {
        Command::new(elevator)
            .args(args)
            .env_remove("ELEVATOR_CONFIG")
            .env("ELEVATOR_AUTH_HS256_SECRET", TEST_SECRET)
            .env("ELEVATOR_ADMIN_LISTEN", free_address().to_string())
            .env("ELEVATOR_LISTEN", free_address().to_string())
            .output()
            .expect("run elevator")
    };
    let policy = std::env::temp_dir().join(format!(
        "elevator-policy-{}.yaml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&policy, elevator::policy::DEMO_POLICY).unwrap();
    let policy_arg = policy.display().to_string();

    // Not migrated: serve --no-migrate refuses, naming what is missing and what to run.
    let refused = run(&[
        "serve",
        "--no-migrate",
        "--database-url",
        &database_url,
        "--policy",
        &policy_arg,
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("elevator migrate"), "{stderr}");
    assert!(stderr.contains("0001"), "{stderr}");

    let migrated = run(&["migrate", "--database-url", &database_url]);
    assert!(migrated.status.success(), "{migrated:?}");
    let stdout = String::from_utf8_lossy(&migrated.stdout);
    assert!(stdout.starts_with("applied 0001"), "{stdout}");
    let again = run(&["migrate", "--database-url", &database_url]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("current"));

    // Migrated: serve --no-migrate comes up ready.
    let served = serve(&database_url, &["--no-migrate"], &[]).await;
    assert_eq!(
        get(served.admin, "/readyz").await.json()["migrations_applied"],
        true
    );
    drop(served);
    let _ = std::fs::remove_file(Path::new(&policy));
}
