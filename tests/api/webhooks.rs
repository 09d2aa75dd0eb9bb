//! Webhooks, against a local HTTP receiver: signed JSON posts for the events policy names,
//! retried while the receiver fails, and never lost across a server restart between the
//! commit and the delivery.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::harness::*;
use crate::on_both_backends;

/// One post the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map_or("", |(_, value)| value.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A minimal HTTP/1.1 receiver that records posts and answers 200, or 503 while failing.
struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    failing: Arc<AtomicBool>,
}

async fn start_receiver() -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/elevator", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let failing = Arc::new(AtomicBool::new(false));
    let (store, fail) = (received.clone(), failing.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (store, fail) = (store.clone(), fail.clone());
            tokio::spawn(async move {
                loop {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    let head_end = loop {
                        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            break end + 4;
                        }
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|line| line.split_once(':'))
                        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
                        .and_then(|(_, value)| value.parse().ok())
                        .unwrap_or(0);
                    while buffer.len() < head_end + length {
                        match socket.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                        }
                    }
                    let body = buffer[head_end..head_end + length].to_vec();
                    let answer: &[u8] = if fail.load(Ordering::SeqCst) {
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
                    } else {
                        store.lock().unwrap().push(Received { headers, body });
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
                    };
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Receiver {
        url,
        received,
        failing,
    }
}

impl Receiver {
    async fn wait_for(
        &self,
        count: usize,
        clock_step: Option<(&TestApp, TimeDelta)>,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let received = self.received.lock().unwrap().clone();
            if received.len() >= count {
                return received;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "got {} of {count} posts",
                received.len()
            );
            if let Some((app, step)) = clock_step {
                app.clock.advance(step);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

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
    let receiver = start_receiver().await;
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
    assert_eq!(app.store.pending_deliveries().await.unwrap(), 0);
}
on_both_backends!(webhook_posts, policy_named_events_are_posted_signed);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_retry_and_survive_a_restart_between_commit_and_delivery() {
    let receiver = start_receiver().await;
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
    assert_eq!(second.store.pending_deliveries().await.unwrap(), 0);
}
