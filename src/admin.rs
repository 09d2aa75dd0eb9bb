//! The admin HTTP port, apart from gRPC so that probes and scrapes never queue behind (or get
//! exposed with) the API: `/metrics` (Prometheus text), `/healthz` (the process is alive) and
//! `/readyz` (it should get traffic: policy loaded, schema current, change feed connected, not
//! shutting down). gRPC health says the same: the empty service name for liveness,
//! [`READINESS_SERVICE`] for readiness. The web console ([`crate::console`]) is served here
//! too, under `/console`, when it is enabled.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::net::TcpListener;

use crate::console::Console;
use crate::service::Elevator;
use crate::telemetry::metrics::Metrics;
use crate::telemetry::prometheus;
use crate::tls::ServerTls;

/// The gRPC health service name that follows readiness.
pub const READINESS_SERVICE: &str = "readiness";

/// What readiness depends on. The server keeps it current.
pub struct Readiness {
    app: Arc<Elevator>,
    schema_current: AtomicBool,
    shutting_down: AtomicBool,
}

/// Readiness, explained (the `/readyz` body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadinessReport {
    /// Whether traffic should come here.
    pub ready: bool,
    /// The policy version in force (0: none).
    pub policy_version: u64,
    /// Every migration this build knows is applied.
    pub migrations_applied: bool,
    /// The change feed is connected, so cached decisions are trusted.
    pub change_feed_listening: bool,
    /// Shutdown has begun.
    pub shutting_down: bool,
}

impl Readiness {
    /// Readiness of a server serving `app`, whose schema was current at start-up.
    pub fn new(app: Arc<Elevator>) -> Self {
        Readiness {
            app,
            schema_current: AtomicBool::new(true),
            shutting_down: AtomicBool::new(false),
        }
    }

    /// Records whether the schema is (still) current.
    pub fn set_schema_current(&self, current: bool) {
        self.schema_current.store(current, Ordering::Relaxed);
    }

    /// Records that shutdown began: readiness is lost for good.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Relaxed);
    }

    /// Whether shutdown began.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }

    /// The state now.
    pub fn report(&self) -> ReadinessReport {
        let policy_version = self.app.policy_version();
        let migrations_applied = self.schema_current.load(Ordering::Relaxed);
        let change_feed_listening = self.app.change_feed_listening();
        let shutting_down = self.is_shutting_down();
        ReadinessReport {
            ready: policy_version > 0
                && migrations_applied
                && change_feed_listening
                && !shutting_down,
            policy_version,
            migrations_applied,
            change_feed_listening,
            shutting_down,
        }
    }
}

/// Serves the admin port (TLS and the console, when given) until the task is aborted.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    readiness: Arc<Readiness>,
    tls: Option<Arc<ServerTls>>,
    console: Option<Arc<Console>>,
) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                let _ = stream.set_nodelay(true);
                stream
            }
            Err(error) => {
                tracing::warn!(%error, "admin port: accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let (metrics, readiness, console) = (metrics.clone(), readiness.clone(), console.clone());
        let acceptor = tls.as_ref().map(|tls| tls.admin_acceptor());
        let secure = acceptor.is_some();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (metrics, readiness, console) =
                    (metrics.clone(), readiness.clone(), console.clone());
                async move {
                    if let Some(console) = console.filter(|_| Console::serves(request.uri().path()))
                    {
                        let mut page = console.handle(request).await;
                        if secure {
                            mark_cookies_secure(&mut page);
                        }
                        return Ok::<_, Infallible>(page);
                    }
                    Ok(answer(
                        request.method(),
                        request.uri().path(),
                        &metrics,
                        &readiness,
                    ))
                }
            });
            let Some(acceptor) = acceptor else {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
                return;
            };
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
            let Ok(Ok(stream)) = handshake.await else {
                tracing::debug!("admin port: tls handshake failed");
                return;
            };
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Over TLS, the console's cookies are never sent back over plaintext.
fn mark_cookies_secure<B>(response: &mut Response<B>) {
    let headers = response.headers_mut();
    let cookies: Vec<String> = headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(|cookie| format!("{cookie}; Secure"))
        .collect();
    headers.remove(http::header::SET_COOKIE);
    for cookie in cookies {
        if let Ok(value) = cookie.parse() {
            headers.append(http::header::SET_COOKIE, value);
        }
    }
}

fn answer(
    method: &Method,
    path: &str,
    metrics: &Metrics,
    readiness: &Readiness,
) -> Response<Full<Bytes>> {
    let respond = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(Full::new(Bytes::from(body)))
            .expect("a well-formed response")
    };
    if !matches!(*method, Method::GET | Method::HEAD) {
        return respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "only GET\n".into(),
        );
    }
    match path {
        "/metrics" => respond(StatusCode::OK, prometheus::CONTENT_TYPE, metrics.render()),
        "/healthz" => respond(StatusCode::OK, "text/plain", "ok\n".into()),
        "/readyz" => {
            let report = readiness.report();
            let status = if report.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::to_string(&report).unwrap_or_default();
            respond(status, "application/json", body + "\n")
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics, /healthz or /readyz\n".into(),
        ),
    }
}
