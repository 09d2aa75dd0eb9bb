//! Plain HTTP/1.1 on loopback, for tests that sit on either side of elevator's HTTP
//! neighbours: a recorder that plays the webhook receiver or the upstream behind Envoy, and a
//! one-shot client that plays the browser in front of Envoy.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::harness::TestApp;

/// One request the recorder got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// `POST /path HTTP/1.1`.
    pub request_line: String,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// The first value of header `name`, or "" when absent.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.header_opt(name).unwrap_or("")
    }

    /// The first value of header `name`.
    pub(crate) fn header_opt(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// A minimal HTTP/1.1 server that records requests and answers 200, or 503 while failing.
pub(crate) struct Recorder {
    /// `http://127.0.0.1:<port>/hooks/elevator`.
    pub url: String,
    /// Its port.
    pub port: u16,
    /// What it got.
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Answer 503 (and record nothing) while set.
    pub failing: Arc<AtomicBool>,
}

/// Reads one request (head and `content-length` body) from `socket`; `None` at end of stream.
async fn read_request(socket: &mut TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let headers = parse_headers(&head);
    let length = content_length(&headers);
    while buffer.len() < head_end + length {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    Some(Received {
        request_line,
        headers,
        body: buffer[head_end..head_end + length].to_vec(),
    })
}

fn parse_headers(head: &str) -> Vec<(String, String)> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .map(|(key, value)| (key.trim().to_owned(), value.trim().to_owned()))
        .collect()
}

fn content_length(headers: &[(String, String)]) -> usize {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0)
}

/// Starts a recorder on a free loopback port.
pub(crate) async fn start_recorder() -> Recorder {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
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
                while let Some(request) = read_request(&mut socket).await {
                    let answer: &[u8] = if fail.load(Ordering::SeqCst) {
                        b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n"
                    } else {
                        store.lock().unwrap().push(request);
                        b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nupstream"
                    };
                    if socket.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Recorder {
        url: format!("http://127.0.0.1:{port}/hooks/elevator"),
        port,
        received,
        failing,
    }
}

impl Recorder {
    /// Everything recorded so far.
    pub(crate) fn all(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until `count` requests arrived, moving `app`'s clock by `step` between looks
    /// when given (so retries that wait on the clock come due).
    pub(crate) async fn wait_for(
        &self,
        count: usize,
        clock_step: Option<(&TestApp, TimeDelta)>,
    ) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let received = self.all();
            if received.len() >= count {
                return received;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "got {} of {count} requests",
                received.len()
            );
            if let Some((app, step)) = clock_step {
                app.clock.advance(step);
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// A response the client got.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// The status code.
    pub status: u16,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: String,
}

impl Answer {
    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("a JSON body, not {:?}: {error}", self.body))
    }
}

/// Sends one request to `127.0.0.1:port` on a fresh connection and reads the whole answer.
pub(crate) async fn send(port: u16, method: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut socket = TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap_or_else(|error| panic!("connect to 127.0.0.1:{port}: {error}"));
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nhost: app.local\r\nconnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("content-length: 0\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut raw))
        .await
        .expect("an answer within 10s")
        .expect("read the answer");
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line, not {head:?}"));
    let headers = parse_headers(head);
    let chunked = headers.iter().any(|(key, value)| {
        key.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked")
    });
    Answer {
        status,
        headers,
        body: if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    }
}

/// The payload of a `transfer-encoding: chunked` body.
fn dechunk(mut body: &str) -> String {
    let mut payload = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
        if size == 0 {
            break;
        }
        payload.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    payload
}
