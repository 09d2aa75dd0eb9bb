//! Item 5, replica start: a replica allows nothing before its change feed has connected and
//! the policy was (re)loaded with it, however current the grants it could read are. Tested on
//! the decision point a replica builds, before and after the feed's first `Restored`, and on a
//! whole server whose LISTEN connection a proxy holds back while its pool reads freely.
use std::sync::Arc;

use elevator::clock::{Clock, ManualClock};
use elevator::decision::{CacheOptions, CheckQuery, Decider};
use elevator::domain::DecisionReason;
use elevator::policy::Policy;
use elevator::store::memory::MemoryStore;
use elevator::store::{Change, Snapshots, StoreEvent, Writes};

use super::{fatmas_grant, fatmas_question};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decider_allows_nothing_until_its_feed_connected_and_reloaded_the_policy() {
    let clock = Arc::new(ManualClock::starting_now());
    let store = Arc::new(MemoryStore::new());
    store
        .append(Change {
            grants: vec![fatmas_grant(clock.now())],
            ..Default::default()
        })
        .await
        .unwrap();
    let decider = Decider::new(
        Policy::demo(),
        store.clone(),
        clock.clone(),
        CacheOptions::default(),
    );
    let query = fatmas_question();
    // Whether asked without a revision or with one it could read through: no allow.
    for min_revision in [0, 1, u64::MAX] {
        let decision = decider
            .check(&CheckQuery {
                min_revision,
                ..query
            })
            .await;
        assert!(!decision.allowed, "allowed before the feed connected");
        assert_eq!(decision.reason, DecisionReason::InternalError);
    }
    // A feed that was lost before it ever connected changes nothing.
    decider.observe(&StoreEvent::Lost).await;
    assert!(!decider.check(&query).await.allowed);

    let revision = store.revision().await.unwrap();
    decider.observe(&StoreEvent::Restored { revision }).await;
    assert!(
        decider.check(&query).await.allowed,
        "allowed once listening"
    );
    // Losing the feed later does not bring the start-up gate back: Checks read through.
    decider.observe(&StoreEvent::Lost).await;
    assert!(decider.check(&query).await.allowed);
}

/// A TCP proxy to PostgreSQL that holds back every connection whose startup message names an
/// `elevator-listener-*` application (a replica's LISTEN connection) until released, and
/// passes everything else through.
struct ListenerGate {
    address: std::net::SocketAddr,
    released: Arc<tokio::sync::Notify>,
    open: Arc<std::sync::atomic::AtomicBool>,
}

impl ListenerGate {
    async fn start(upstream: std::net::SocketAddr) -> ListenerGate {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let released = Arc::new(tokio::sync::Notify::new());
        let open = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (gate_released, gate_open) = (released.clone(), open.clone());
        tokio::spawn(async move {
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                let (released, open) = (gate_released.clone(), gate_open.clone());
                tokio::spawn(async move {
                    // The startup message: a 4-byte length (itself included), then the rest.
                    let mut length = [0u8; 4];
                    if client.read_exact(&mut length).await.is_err() {
                        return;
                    }
                    let mut startup =
                        vec![0u8; (u32::from_be_bytes(length) as usize).saturating_sub(4)];
                    if client.read_exact(&mut startup).await.is_err() {
                        return;
                    }
                    let is_listener = startup
                        .windows(b"elevator-listener".len())
                        .any(|window| window == b"elevator-listener");
                    while is_listener && !open.load(std::sync::atomic::Ordering::SeqCst) {
                        released.notified().await;
                    }
                    let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await else {
                        return;
                    };
                    if server.write_all(&length).await.is_err()
                        || server.write_all(&startup).await.is_err()
                    {
                        return;
                    }
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
            }
        });
        ListenerGate {
            address,
            released,
            open,
        }
    }

    fn release(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
        self.released.notify_waiters();
    }
}

/// The same at the level of a whole server: replica B starts while its LISTEN connection is
/// held back (its pool reads PostgreSQL fine, so it could load fatma's active grant), and
/// answers no Check with an allow until the feed connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_whose_feed_has_not_connected_allows_nothing() {
    use crate::harness::*;
    let a = spawn_app(Backend::Postgres).await;
    let elevation = a.request_fatma().await;
    a.ali_approves(&elevation.id).await;
    assert!(a.check_fatma("s1").await.allowed, "A allows the grant");

    let url = a.database_url.clone().unwrap();
    let host_and_port = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let upstream: std::net::SocketAddr = tokio::net::lookup_host(host_and_port.as_str())
        .await
        .unwrap()
        .next()
        .unwrap();
    let gate = ListenerGate::start(upstream).await;
    let through_gate = url.replacen(&host_and_port, &gate.address.to_string(), 1);
    let b = spawn_app_with(
        Backend::Postgres,
        AppOptions {
            database_url: Some(through_gate),
            clock: Some(a.clock.clone()),
            ..Default::default()
        },
    )
    .await;
    assert!(
        !b.app.decider().freshness().has_listened(),
        "the gate held B's LISTEN connection back"
    );
    for _ in 0..20 {
        let decision = b.check_fatma("s1").await;
        assert!(
            !decision.allowed,
            "B allowed before its feed connected: {decision:?}"
        );
    }

    gate.release();
    let started = std::time::Instant::now();
    while !b.check_fatma("s1").await.allowed {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "B never allowed after its feed connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eprintln!(
        "replica start: denied while the feed was held back, allowed {:?} after it was let through",
        started.elapsed()
    );
}
