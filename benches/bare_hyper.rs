//! The floor for the AuthZEN evaluation over HTTP (issue 18, target 4): a bare hyper 1
//! HTTP/1.1 server that answers every request with the same small JSON body
//! (`{"decision":true}`), reading and discarding the request body first. Whatever elevator's
//! AuthZEN endpoint costs beyond this is elevator's doing.
//!
//! Same allocator (mimalloc) and runtime as the `elevator` binary, `TCP_NODELAY` on.
//!
//! ```text
//! cargo bench --bench bare_hyper --no-run     # prints the binary's path
//! target/release/deps/bare_hyper-<hash> 127.0.0.1:50062    # or BARE_HYPER_LISTEN=...
//! ```
//!
//! It serves until killed.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};

/// As in the `elevator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where to listen when neither the first argument nor `BARE_HYPER_LISTEN` says.
const DEFAULT_LISTEN: &str = "127.0.0.1:50062";

/// The answer to every request.
const DECISION: &[u8] = br#"{"decision":true}"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` runs every bench target with `--bench`: this one is started by hand.
    let listen = std::env::args()
        .skip(1)
        .find(|argument| !argument.starts_with("--"))
        .or_else(|| std::env::var("BARE_HYPER_LISTEN").ok());
    let Some(listen) = listen else {
        eprintln!(
            "bare_hyper serves until killed; give it an address (or BARE_HYPER_LISTEN), e.g. {DEFAULT_LISTEN}"
        );
        return Ok(());
    };
    let address: SocketAddr = listen
        .parse()
        .map_err(|error| format!("{listen:?} is not an address like {DEFAULT_LISTEN}: {error}"))?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve(address))
}

async fn answer(
    request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the question as a real endpoint must, then give the fixed answer.
    let _question = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(DECISION)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn serve(address: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!("bare hyper JSON server on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new().serve_connection(
                hyper_util::rt::TokioIo::new(stream),
                hyper::service::service_fn(answer),
            );
            if let Err(error) = connection.await {
                eprintln!("connection ended: {error}");
            }
        });
    }
}
