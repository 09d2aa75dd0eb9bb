//! The floor of `benches/compare.sh`: a bare tonic server of the same tonic version as
//! elevator's, serving only `grpc.health.v1.Health/Check` (tonic-health), with nothing around
//! it. Whatever elevator's own calls cost beyond this one's is elevator's doing.
//!
//! The comparison is kept fair: the same allocator as the `elevator` binary (mimalloc), the
//! same HTTP/2 settings elevator's gRPC port has (`SETTINGS_MAX_HEADER_LIST_SIZE`, everything
//! else tonic's defaults), and the same accepted-connection options (`TCP_NODELAY`, keepalive),
//! on a multi-threaded Tokio runtime as elevator's.
//!
//! ```text
//! cargo bench --bench bare_tonic --no-run     # prints the binary's path
//! target/release/deps/bare_tonic-<hash> 127.0.0.1:50061    # or BARE_TONIC_LISTEN=...
//! ```
//!
//! It serves until killed (or interrupted).

use std::net::SocketAddr;
use std::time::Duration;

/// As in the `elevator` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Where to listen when neither the first argument nor `BARE_TONIC_LISTEN` says.
const DEFAULT_LISTEN: &str = "127.0.0.1:50061";

/// elevator's `MAX_HEADER_LIST_BYTES` (src/api/limits.rs), advertised the same way.
const MAX_HEADER_LIST_BYTES: u32 = 128 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` runs every bench target with `--bench`: this one is started by hand.
    let listen = std::env::args()
        .skip(1)
        .find(|argument| !argument.starts_with("--"))
        .or_else(|| std::env::var("BARE_TONIC_LISTEN").ok());
    let Some(listen) = listen else {
        eprintln!(
            "bare_tonic serves until killed; give it an address (or BARE_TONIC_LISTEN), e.g. {DEFAULT_LISTEN}"
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

async fn serve(address: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = tokio::net::TcpListener::bind(address).await?;
    eprintln!("bare tonic health server on {}", listener.local_addr()?);
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(Duration::from_secs(60)));
    tonic::transport::Server::builder()
        .http2_max_header_list_size(MAX_HEADER_LIST_BYTES)
        .add_service(health)
        // With a shutdown signal, as elevator serves (tonic then watches each connection for it).
        .serve_with_incoming_shutdown(incoming, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
