//! Item 8, soak: mixed Checks and writes on two replicas over one PostgreSQL (a cluster this
//! test owns), with a restart of each replica and of PostgreSQL during the run. Afterwards no
//! acknowledged write is lost, no Check decided wrongly (an allow of a revoked grant, or a deny
//! of an active one for any reason but a failure), and the process's memory stayed flat.
//! Ten minutes with `ELEVATOR_LONG_FAULTS=1` (`benches/soak.sh`); 15 seconds otherwise.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use elevator::proto::v1 as pb;
use rand::Rng;
use tokio::sync::{Mutex, RwLock};

use super::memory_curve::MemoryCurve;
use super::{OwnedPostgres, long_run, time_until};
use crate::harness::*;

const SUBJECTS: usize = 40;

/// A grant as its acknowledged writes left it.
#[derive(Debug, Clone)]
struct Known {
    grant_id: String,
    subject: String,
    revoked: bool,
    revision: u64,
    generation: u64,
    /// A write for it is in flight, or failed and may or may not have committed. Not checked
    /// until the write answered or the database was read again.
    uncertain: bool,
}

/// Acknowledged writes: the grant, and whether the write revoked it.
type Acknowledged = Mutex<Vec<(String, bool)>>;

#[derive(Default)]
struct Tally {
    checks: AtomicU64,
    failed_checks: AtomicU64,
    wrong_decisions: AtomicU64,
    acknowledged_writes: AtomicU64,
    refused_writes: AtomicU64,
}

type Replicas = Arc<RwLock<[Arc<TestApp>; 2]>>;

/// The most live heap a call may leave behind after warm-up, by the fitted slope.
const MAX_LIVE_BYTES_PER_CALL: f64 = 64.0;

/// Growth after warm-up that is not a leak: buffers, pools and caches still reaching their
/// working size. Measured at 0.7 to 0.9 MiB in the 15-second run, in release (300,000 calls)
/// and in a debug build on a loaded machine (3,500 calls) alike.
const SETTLING_BYTES: f64 = 4.0 * 1048576.0;

/// How often memory is sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// Calls made so far, answered or not.
fn calls(tally: &Tally) -> u64 {
    [
        &tally.checks,
        &tally.failed_checks,
        &tally.acknowledged_writes,
        &tally.refused_writes,
    ]
    .iter()
    .map(|count| count.load(Ordering::Relaxed))
    .sum()
}

/// A subject's token, minted once and reused for the run as a real client reuses its token
/// (a new token per call would fill the verified-token cache and read as a leak).
fn token_for(app: &TestApp, subject: &str) -> String {
    static TOKENS: std::sync::OnceLock<std::sync::Mutex<HashMap<String, String>>> =
        std::sync::OnceLock::new();
    let mut tokens = TOKENS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    tokens
        .entry(subject.to_owned())
        .or_insert_with(|| match subject {
            "ali" => app.ali(),
            "gateway" => app.pep(),
            _ => app.token(
                subject,
                &["procurement-staff"],
                &[],
                Some("ali"),
                Some("s1"),
            ),
        })
        .clone()
}

/// What the database says of `subject`'s latest grant, after a write whose outcome is unknown.
async fn reconcile(app: &TestApp, subject: &str, generation: u64) -> Option<Option<Known>> {
    let url = app.database_url.as_deref()?;
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    let revision: i64 = client
        .query_one("SELECT revision FROM elevator_head", &[])
        .await
        .ok()?
        .get(0);
    let latest = client
        .query_opt(
            "SELECT id::text, revoked_at IS NOT NULL FROM grants WHERE subject = $1 \
             ORDER BY (revoked_at IS NULL) DESC, not_before DESC LIMIT 1",
            &[&subject],
        )
        .await
        .ok()?;
    Some(latest.map(|row| Known {
        grant_id: row.get(0),
        subject: subject.to_owned(),
        revoked: row.get(1),
        revision: revision as u64,
        generation: generation + 1,
        uncertain: false,
    }))
}

/// One write: a new grant for a subject without one, or a revoke of a held one.
async fn write_once(
    app: &TestApp,
    known: &Mutex<HashMap<String, Known>>,
    acknowledged: &Acknowledged,
    tally: &Tally,
) {
    let subject = format!("soak{}", rand::rng().random_range(0..SUBJECTS));
    let held = known.lock().await.get(&subject).cloned();
    if let Some(uncertain) = held.as_ref().filter(|grant| grant.uncertain) {
        match reconcile(app, &subject, uncertain.generation).await {
            Some(Some(now)) => {
                known.lock().await.insert(subject, now);
            }
            Some(None) => {
                known.lock().await.remove(&subject);
            }
            None => {}
        }
        return;
    }
    // In flight: a Check racing with this write cannot know which side of it it saw.
    if let Some(grant) = known.lock().await.get_mut(&subject) {
        grant.uncertain = true;
        grant.generation += 1;
    }
    let held = held.map(|grant| Known {
        generation: grant.generation + 1,
        ..grant
    });
    let outcome: Result<Known, tonic::Status> = async {
        match held {
            Some(grant) if !grant.revoked => {
                let revision = app
                    .elevations()
                    .revoke_grant(authed(
                        &token_for(app, &subject),
                        pb::RevokeGrantRequest {
                            grant_id: grant.grant_id.clone(),
                            reason: "soak".into(),
                        },
                    ))
                    .await?
                    .into_inner()
                    .revision;
                Ok(Known {
                    revoked: true,
                    revision,
                    generation: grant.generation + 1,
                    uncertain: false,
                    ..grant
                })
            }
            previous => {
                let elevation = app
                    .elevations()
                    .request_elevation(authed(
                        &token_for(app, &subject),
                        elevation_request("admin_approver", "Org:Procurement", 7200, "soak"),
                    ))
                    .await?
                    .into_inner()
                    .elevation
                    .unwrap();
                let approved = app
                    .approvals()
                    .approve(authed(
                        &token_for(app, "ali"),
                        pb::ApproveRequest {
                            elevation_id: elevation.id,
                            comment: "ok".into(),
                            idempotency_key: String::new(),
                        },
                    ))
                    .await?
                    .into_inner();
                Ok(Known {
                    grant_id: approved.grant.unwrap().id,
                    subject: subject.clone(),
                    revoked: false,
                    revision: approved.revision,
                    generation: previous.map_or(0, |grant| grant.generation + 1),
                    uncertain: false,
                })
            }
        }
    }
    .await;
    match outcome {
        Ok(now) => {
            tally.acknowledged_writes.fetch_add(1, Ordering::Relaxed);
            acknowledged
                .lock()
                .await
                .push((now.grant_id.clone(), now.revoked));
            known.lock().await.insert(subject, now);
        }
        Err(_) => {
            tally.refused_writes.fetch_add(1, Ordering::Relaxed);
            let mut known = known.lock().await;
            let entry = known.entry(subject.clone()).or_insert_with(|| Known {
                grant_id: String::new(),
                subject,
                revoked: true,
                revision: 0,
                generation: 0,
                uncertain: true,
            });
            entry.uncertain = true;
            entry.generation += 1;
        }
    }
}

/// One Check of a known grant at its last acknowledged revision, judged against what is known.
async fn check_once(app: &TestApp, known: &Mutex<HashMap<String, Known>>, tally: &Tally) {
    let subject = format!("soak{}", rand::rng().random_range(0..SUBJECTS));
    let Some(expected) = known
        .lock()
        .await
        .get(&subject)
        .filter(|grant| !grant.uncertain)
        .cloned()
    else {
        return;
    };
    let decision = app
        .checks()
        .check(authed(
            &token_for(app, "gateway"),
            pb::CheckRequest {
                subject: expected.subject.clone(),
                session_id: "s1".into(),
                permission: "purchase_orders.approve".into(),
                resource: "Org:Procurement/PO:1".into(),
                min_revision: expected.revision,
                ..Default::default()
            },
        ))
        .await;
    let Ok(decision) = decision else {
        tally.failed_checks.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let decision = decision.into_inner();
    tally.checks.fetch_add(1, Ordering::Relaxed);
    if reason(&decision) == pb::DecisionReason::InternalError {
        tally.failed_checks.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if decision.allowed != expected.revoked {
        return;
    }
    // A write that moved on meanwhile explains the difference.
    let still = known
        .lock()
        .await
        .get(&subject)
        .map(|grant| grant.generation);
    if still == Some(expected.generation) {
        eprintln!("soak: wrong decision for {expected:?}: {decision:?}");
        tally.wrong_decisions.fetch_add(1, Ordering::Relaxed);
    }
}

/// A soak replica: ended grants are kept loaded (to explain denials) for a minute rather than
/// an hour, so that what a subject's cache entry holds is bounded by the recent write rate
/// and memory can be expected to stay flat over the run.
async fn spawn_soak_replica(database_url: String, beside: Option<&TestApp>) -> TestApp {
    spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url: Some(database_url),
            clock: beside.map(|app| app.clock.clone()),
            configure: Some(Box::new(|config| {
                config.cache.ended_grant_lookback_seconds = 60;
            })),
            ..Default::default()
        },
    )
    .await
}

/// How long the soak runs: `ELEVATOR_SOAK_SECONDS` when set (`benches/soak.sh --minutes`),
/// else ten minutes with `ELEVATOR_LONG_FAULTS=1` and 15 seconds without.
fn soak_duration() -> Duration {
    let seconds = std::env::var("ELEVATOR_SOAK_SECONDS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(if long_run() { 600 } else { 15 });
    Duration::from_secs(seconds)
}

/// Checks every acknowledged write against the database and forgets the checked ones:
/// how many were lost, or `None` when PostgreSQL did not answer (nothing is forgotten).
async fn verify_acknowledged(url: &str, acknowledged: &Acknowledged) -> Option<usize> {
    let pending: Vec<(String, bool)> = acknowledged.lock().await.clone();
    if pending.is_empty() {
        return Some(0);
    }
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(connection);
    let ids: Vec<uuid::Uuid> = pending.iter().map(|(id, _)| id.parse().unwrap()).collect();
    let rows = client
        .query(
            "SELECT id, revoked_at IS NOT NULL FROM grants WHERE id = ANY($1)",
            &[&ids],
        )
        .await
        .ok()?;
    let stored: HashMap<uuid::Uuid, bool> = rows
        .iter()
        .map(|row| (row.get::<_, uuid::Uuid>(0), row.get::<_, bool>(1)))
        .collect();
    // A grant acknowledged as made exists; one acknowledged as revoked is revoked.
    let lost = pending
        .iter()
        .zip(&ids)
        .filter(|((_, revoked), id)| {
            stored
                .get(id)
                .is_none_or(|stored_revoked| *revoked && !stored_revoked)
        })
        .count();
    acknowledged.lock().await.drain(..pending.len());
    Some(lost)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_two_replicas_through_restarts_of_each_and_of_postgres() {
    let run_for = soak_duration();
    let cluster = OwnedPostgres::start();
    let first = spawn_soak_replica(cluster.fresh_database().await, None).await;
    let second = spawn_soak_replica(first.database_url.clone().unwrap(), Some(&first)).await;
    let replicas: Replicas = Arc::new(RwLock::new([Arc::new(first), Arc::new(second)]));
    let known = Arc::new(Mutex::new(HashMap::<String, Known>::new()));
    let acknowledged: Arc<Acknowledged> = Arc::new(Mutex::new(Vec::new()));
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));

    let mut workers = Vec::new();
    for worker in 0..4 {
        let (replicas, known, acknowledged, tally, stop) = (
            replicas.clone(),
            known.clone(),
            acknowledged.clone(),
            tally.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut round = 0usize;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let app = replicas.read().await[(worker + round) % 2].clone();
                if worker == 0 {
                    write_once(&app, &known, &acknowledged, &tally).await;
                } else {
                    check_once(&app, &known, &tally).await;
                }
            }
        }));
    }

    let started = Instant::now();
    // Warm-up: a fifth of the run. A restart settles in a twentieth (replica: its pool, caches
    // and token cache fill; PostgreSQL: the pools reconnect).
    let warm_up = run_for / 5;
    let mut memory = MemoryCurve::new(
        (run_for.as_millis() / SAMPLE_EVERY.as_millis()) as usize + 64,
        warm_up,
        run_for / 20,
    );
    let mut restarted = [false; 3];
    let mut lost = 0;
    let mut last_verified = Instant::now();
    while started.elapsed() < run_for {
        tokio::time::sleep(SAMPLE_EVERY).await;
        memory.sample(started.elapsed(), calls(&tally));
        // Verify what was acknowledged so far and forget it, so that the test's own record
        // does not grow with the run (PostgreSQL down: try again later).
        if last_verified.elapsed() > Duration::from_secs(20) {
            let url = replicas.read().await[0].database_url.clone().unwrap();
            if let Some(found_lost) = verify_acknowledged(&url, &acknowledged).await {
                lost += found_lost;
                last_verified = Instant::now();
            }
        }
        let progress = started.elapsed().as_secs_f64() / run_for.as_secs_f64();
        for (index, at) in [0.25, 0.5, 0.75].into_iter().enumerate() {
            if progress < at || restarted[index] {
                continue;
            }
            restarted[index] = true;
            if index < 2 {
                // Restart replica `index`: a new process on the same database and clock.
                let old = replicas.read().await[index].clone();
                let fresh = Arc::new(
                    spawn_soak_replica(old.database_url.clone().unwrap(), Some(&old)).await,
                );
                replicas.write().await[index] = fresh;
                drop(old);
                eprintln!("soak: replica {index} restarted at {:?}", started.elapsed());
            } else {
                cluster.kill();
                tokio::time::sleep(Duration::from_millis(500)).await;
                cluster.start_server();
                let app = replicas.read().await[0].clone();
                time_until(Duration::from_secs(20), || {
                    app.app.decider().freshness().is_listening()
                })
                .await
                .expect("listening again after PostgreSQL restarted");
                eprintln!("soak: PostgreSQL restarted at {:?}", started.elapsed());
            }
            memory.restarted(started.elapsed());
        }
    }
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }

    // Every acknowledged write is in the database, as acknowledged.
    let url = replicas.read().await[0].database_url.clone().unwrap();
    lost += verify_acknowledged(&url, &acknowledged)
        .await
        .expect("PostgreSQL answers after the run");
    let live = memory.fit(|sample| sample.live);
    let resident = memory.fit(|sample| sample.resident);
    let per_call = memory.live_bytes_per_call();
    if let Some(path) = std::env::var_os("ELEVATOR_SOAK_CSV") {
        memory
            .write_csv(path.as_ref())
            .expect("write the memory curve");
    }
    eprintln!(
        "soak {:?}: {} checks ({} failed closed during restarts), {} wrong decisions, {} acknowledged writes ({} refused), {} lost; over {} samples after {:?} of warm-up and between restarts, live heap {:.1} MiB on average, {:+.2}% per 10 minutes ({:+.2} bytes per call), resident memory {:.1} MiB on average, {:+.2}% per 10 minutes",
        run_for,
        tally.checks.load(Ordering::Relaxed),
        tally.failed_checks.load(Ordering::Relaxed),
        tally.wrong_decisions.load(Ordering::Relaxed),
        tally.acknowledged_writes.load(Ordering::Relaxed),
        tally.refused_writes.load(Ordering::Relaxed),
        lost,
        memory.counted(),
        warm_up,
        live.mean / 1048576.0,
        live.share_per_ten_minutes() * 100.0,
        per_call,
        resident.mean / 1048576.0,
        resident.share_per_ten_minutes() * 100.0,
    );
    assert_eq!(lost, 0, "acknowledged writes lost");
    assert_eq!(tally.wrong_decisions.load(Ordering::Relaxed), 0);
    assert!(tally.acknowledged_writes.load(Ordering::Relaxed) > 0);
    // The server reports the same count on its admin port.
    let admin = replicas.read().await[0].admin_address;
    let metrics = crate::http::send(admin.port(), "GET", "/metrics", &[]).await;
    let reported: f64 = metrics
        .body
        .lines()
        .find_map(|line| line.strip_prefix("elevator_heap_live_bytes "))
        .unwrap_or_else(|| panic!("no elevator_heap_live_bytes in\n{}", metrics.body))
        .parse()
        .expect("a number of bytes");
    let counted = elevator::telemetry::heap::live_bytes().expect("the test binary counts") as f64;
    assert!(
        (reported - counted).abs() < counted / 2.0,
        "/metrics says {reported} live bytes, the allocator {counted}"
    );
    // Any run, the 15-second one included: what the calls left live after warm-up, by the
    // fitted slope, within a fixed allowance for settling plus a little per call. With many
    // calls this is a per-call bound that holds however fast the machine is; with few (a debug
    // build on a busy machine) only a gross leak can show in 15 seconds, and only that fails.
    let calls_counted = memory.calls_counted();
    let growth = per_call * calls_counted;
    assert!(
        growth < SETTLING_BYTES + MAX_LIVE_BYTES_PER_CALL * calls_counted,
        "live heap grew by {per_call:.1} bytes per call over {calls_counted} calls after warm-up"
    );
    if run_for >= Duration::from_secs(300) {
        assert!(
            live.share_per_ten_minutes() < 0.01,
            "live heap grew {:+.2}% per 10 minutes after warm-up",
            live.share_per_ten_minutes() * 100.0
        );
    }
}
