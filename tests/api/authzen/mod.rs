//! AuthZEN 1.0 over the PEP-facing HTTP port, through a real HTTP client: the transport rules
//! (status codes, content types, request ids, limits, authentication), both HTTP versions and
//! TLS, batch semantics and discovery.

mod batch;
mod certification;
mod client;
mod discovery;
mod search;
mod tls;
mod transport;
