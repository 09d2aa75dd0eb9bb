//! The connections of the HTTP port: accepted, TLS done when it is configured (ALPN `h2` and
//! `http/1.1`; each handshake on its own task with a deadline), the PEP a client certificate
//! names found once per connection, then HTTP/1.1 or h2 (with or without TLS; h2 in plaintext
//! by prior knowledge). At shutdown the port stops accepting and each connection finishes the
//! requests it has and closes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::router::{Connection, HttpEdge};
use crate::tls::{PepCertificates, ServerTls};

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an HTTP/1.1 client may take to send a request's headers, so that a connection
/// trickling bytes (slowloris) does not hold a task for ever.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest header list an h2 request may send: room for a bearer token at its limit
/// ([`crate::auth::MAX_TOKEN_BYTES`]) several times over.
const MAX_HEADER_LIST_BYTES: u32 = 64 * 1024;

/// Serves the HTTP port on `listener` until `stopping` turns true: then no new connections
/// are accepted and open ones close once their requests are answered.
pub async fn serve(
    listener: TcpListener,
    edge: Arc<HttpEdge>,
    tls: Option<Arc<ServerTls>>,
    peps: Option<Arc<PepCertificates>>,
    mut stopping: watch::Receiver<bool>,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    tracing::warn!(%error, "http port: accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stopping) => return,
        };
        let _ = stream.set_nodelay(true);
        let (edge, tls, peps, stopping) =
            (edge.clone(), tls.clone(), peps.clone(), stopping.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, edge, Connection::default(), stopping).await,
                Some(tls) => serve_tls(stream, &tls, peps.as_deref(), edge, stopping).await,
            }
        });
    }
}

/// The TLS handshake, then the connection, known by its client certificate when it has one
/// a configured PEP name is valid for.
async fn serve_tls(
    stream: TcpStream,
    tls: &ServerTls,
    peps: Option<&PepCertificates>,
    edge: Arc<HttpEdge>,
    stopping: watch::Receiver<bool>,
) {
    let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, tls.http_acceptor().accept(stream));
    let stream = match handshake.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%error, "http port: tls handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!("http port: tls handshake timed out");
            return;
        }
    };
    let certificate = peps.and_then(|peps| {
        let leaf = stream.get_ref().1.peer_certificates()?.first()?;
        peps.identify(leaf)
    });
    let connection = Connection {
        certificate,
        secure: true,
    };
    serve_connection(stream, edge, connection, stopping).await;
}

/// HTTP/1.1 or h2 on one connection, until the client closes it or shutdown ends it.
async fn serve_connection<S>(
    stream: S,
    edge: Arc<HttpEdge>,
    connection: Connection,
    mut stopping: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let connection = Arc::new(connection);
    let service = service_fn(move |request: Request<Incoming>| {
        let (edge, connection) = (edge.clone(), connection.clone());
        async move { Ok::<_, Infallible>(edge.answer(request, &connection).await) }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(MAX_HEADER_LIST_BYTES);
    let serving = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(serving);
    tokio::select! {
        served = serving.as_mut() => {
            if let Err(error) = served {
                tracing::debug!(%error, "http port: connection ended with an error");
            }
            return;
        }
        () = stopped(&mut stopping) => {}
    }
    serving.as_mut().graceful_shutdown();
    let _ = serving.await;
}

/// Completes when shutdown begins (or the server is gone).
async fn stopped(stopping: &mut watch::Receiver<bool>) {
    let _ = stopping.wait_for(|stopping| *stopping).await;
}
