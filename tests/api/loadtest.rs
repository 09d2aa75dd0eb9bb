//! `elevator loadtest` against a test server: it seeds its scenario, measures closed and open
//! loops, counts allowed and denied answers, keeps errors out of the latencies, drives Envoy's
//! protocol, writes, the health check, and times revocations between two replicas.

use std::path::PathBuf;

use clap::Parser;
use elevator::clock::Clock;
use elevator::domain::Subject;
use elevator::loadtest::{LoadtestArgs, measure};

use crate::harness::*;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: LoadtestArgs,
}

/// The arguments `elevator loadtest <flags>` would get, tokens minted with `secret_file`.
fn args(app: &TestApp, secret_file: &std::path::Path, flags: &[&str]) -> LoadtestArgs {
    let target = format!("http://{}", app.address);
    let secret = secret_file.display().to_string();
    let mut argv = vec!["loadtest", "--quiet", "--secret-file", &secret];
    for (flag, default) in [
        ("--duration", "1s"),
        ("--warmup", "200ms"),
        ("--concurrency", "8"),
    ] {
        if !flags.contains(&flag) {
            argv.extend([flag, default]);
        }
    }
    argv.extend_from_slice(flags);
    let mut args = Cli::parse_from(argv).args;
    args.target = target;
    args
}

/// Active grants of the first `subjects` load subjects.
async fn active_grants(app: &TestApp, subjects: usize) -> usize {
    let mut count = 0;
    for index in 0..subjects {
        let subject = Subject::parse(&format!("load-{index}")).unwrap();
        count += app
            .store
            .list_grants(&subject, false, app.clock.now())
            .await
            .unwrap()
            .len();
    }
    count
}

fn secret_file(contents: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "elevator-loadtest-secret-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, contents).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_closed_loop_counts_allows_denies_and_misses() {
    let app = spawn_app(Backend::Postgres).await;
    let secret = secret_file(TEST_SECRET);
    let report = measure(&args(
        &app,
        &secret,
        &[
            "--seed-grants",
            "--subjects",
            "4",
            "--grants-per-subject",
            "3",
            "--deny-share",
            "0.3",
            "--miss-share",
            "0.1",
        ],
    ))
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert!(report.reads.ok > 50, "{report:?}");
    assert_eq!(report.allowed + report.denied, report.reads.ok);
    assert!(report.allowed > 0 && report.denied > 0, "{report:?}");
    assert!(report.reads.latency_us.p50 <= report.reads.latency_us.p99);
    assert!(report.reads.latency_us.p99 <= report.reads.latency_us.max);
    // Seeding requested and approved every grant the workload asks about.
    assert_eq!(active_grants(&app, 4).await, 12);

    // Seeding again finds them held and adds nothing.
    measure(&args(
        &app,
        &secret,
        &[
            "--seed-grants",
            "--subjects",
            "4",
            "--grants-per-subject",
            "3",
            "--duration",
            "100ms",
        ],
    ))
    .await
    .unwrap();
    assert_eq!(active_grants(&app, 4).await, 12);
    let _ = std::fs::remove_file(secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_loop_sends_at_the_rate_asked() {
    let app = spawn_app(Backend::Memory).await;
    let secret = secret_file(TEST_SECRET);
    let report = measure(&args(
        &app,
        &secret,
        &[
            "--rate",
            "300",
            "--subjects",
            "2",
            "--grants-per-subject",
            "1",
        ],
    ))
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.pacing, "open");
    // 300/s over a one-second window: the count is set by the schedule, not by the server.
    assert!((270..=330).contains(&report.reads.ok), "{report:?}");
    // Nothing was seeded: every Check is denied.
    assert_eq!(report.denied, report.reads.ok);
    let _ = std::fs::remove_file(secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_apart_from_latency() {
    let app = spawn_app(Backend::Memory).await;
    let wrong = secret_file("not the server's secret");
    let report = measure(&args(&app, &wrong, &[])).await.unwrap();
    assert_eq!(report.reads.ok, 0, "{report:?}");
    assert!(report.errors["Unauthenticated"] > 0, "{report:?}");
    assert_eq!(report.reads.latency_us.max, 0);
    let _ = std::fs::remove_file(wrong);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envoy_mixed_and_health_runs_measure_their_own_calls() {
    let app = spawn_app(Backend::Memory).await;
    let secret = secret_file(TEST_SECRET);
    let seeded = [
        "--seed-grants",
        "--subjects",
        "2",
        "--grants-per-subject",
        "2",
    ];

    let mut flags = seeded.to_vec();
    flags.extend(["--mode", "envoy"]);
    let envoy = measure(&args(&app, &secret, &flags)).await.unwrap();
    assert!(envoy.errors.is_empty(), "{envoy:?}");
    assert!(envoy.allowed > 0, "{envoy:?}");

    let mut flags = seeded.to_vec();
    flags.extend(["--mode", "mixed", "--write-share", "0.2"]);
    let mixed = measure(&args(&app, &secret, &flags)).await.unwrap();
    assert!(mixed.errors.is_empty(), "{mixed:?}");
    let writes = mixed.writes.as_ref().expect("writes are reported");
    assert!(writes.ok > 0, "{mixed:?}");
    assert!(mixed.reads.ok > writes.ok, "{mixed:?}");
    let pending = app.store.pending_elevations().await.unwrap();
    assert_eq!(pending, 0, "every write was approved");

    let health = measure(&args(&app, &secret, &["--mode", "health"]))
        .await
        .unwrap();
    assert!(health.errors.is_empty(), "{health:?}");
    assert!(health.reads.ok > 0);
    assert_eq!(health.allowed + health.denied, 0);
    let _ = std::fs::remove_file(secret);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_are_timed_from_one_replica_to_another() {
    let a = spawn_app(Backend::Postgres).await;
    let b = spawn_replica(&a, None).await;
    let secret = secret_file(TEST_SECRET);
    let observer = format!("http://{}", b.address);
    let report = measure(&args(
        &a,
        &secret,
        &[
            "--mode",
            "invalidation",
            "--observer",
            &observer,
            "--samples",
            "5",
        ],
    ))
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{report:?}");
    assert_eq!(report.reads.ok, 5);
    let _ = std::fs::remove_file(secret);
}
