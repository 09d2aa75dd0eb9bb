//! A real HTTP client for the AuthZEN port: hyper's connection-level client over TCP (or TLS
//! with the test CA), speaking HTTP/1.1 or h2 as asked, one connection per request, so each
//! test says exactly which protocol it uses.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

use crate::harness::TestApp;

/// Which HTTP a request goes over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// HTTP/1.1.
    Http1,
    /// h2 (prior knowledge in plaintext, ALPN over TLS).
    Http2,
}

/// An answer as received.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The HTTP version it came over.
    pub version: http::Version,
}

impl Reply {
    /// The body as JSON (panics with the body when it is not).
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// The first value of header `name`, or "".
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
    }
}

/// Sends `request` over `stream` with `protocol`.
async fn exchange<S>(stream: S, protocol: Protocol, request: Request<Full<Bytes>>) -> Reply
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    let response = match protocol {
        Protocol::Http1 => {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("HTTP/1.1 handshake");
            tokio::spawn(connection);
            sender
                .send_request(request)
                .await
                .expect("HTTP/1.1 request")
        }
        Protocol::Http2 => {
            let (mut sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .expect("h2 handshake");
            tokio::spawn(connection);
            sender.send_request(request).await.expect("h2 request")
        }
    };
    let (parts, body) = response.into_parts();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.expect("the whole body").to_bytes(),
        version: parts.version,
    }
}

/// Sends `request` to `address` in plaintext.
pub(crate) async fn send(
    address: SocketAddr,
    protocol: Protocol,
    request: Request<Full<Bytes>>,
) -> Reply {
    let stream = TcpStream::connect(address).await.expect("connect");
    stream.set_nodelay(true).unwrap();
    exchange(stream, protocol, request).await
}

/// Sends `request` to `address` over TLS with `config` (whose ALPN picks the protocol).
pub(crate) async fn send_tls(
    address: SocketAddr,
    config: tokio_rustls::rustls::ClientConfig,
    request: Request<Full<Bytes>>,
) -> Reply {
    let stream = TcpStream::connect(address).await.expect("connect");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let stream = connector
        .connect(name, stream)
        .await
        .expect("TLS handshake");
    let protocol = match stream.get_ref().1.alpn_protocol() {
        Some(b"h2") => Protocol::Http2,
        _ => Protocol::Http1,
    };
    exchange(stream, protocol, request).await
}

/// A request to `path` with a JSON `body`, `Authorization: Bearer token` when given, and
/// `headers`.
pub(crate) fn request(
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Request<Full<Bytes>> {
    let mut builder = Request::builder()
        .method(method)
        .uri(format!("http://localhost{path}"));
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(body.into())).unwrap()
}

/// POSTs `body` (as `application/json`) to `path` on `app`'s HTTP port as its PEP, over
/// HTTP/1.1.
pub(crate) async fn post(app: &TestApp, path: &str, body: &serde_json::Value) -> Reply {
    post_as(app, Protocol::Http1, path, Some(&app.pep()), body).await
}

/// POSTs `body` as JSON to `path` with `token` over `protocol`.
pub(crate) async fn post_as(
    app: &TestApp,
    protocol: Protocol,
    path: &str,
    token: Option<&str>,
    body: &serde_json::Value,
) -> Reply {
    let request = request(
        "POST",
        path,
        token,
        &[("content-type", "application/json")],
        body.to_string(),
    );
    send(app.http_address, protocol, request).await
}
