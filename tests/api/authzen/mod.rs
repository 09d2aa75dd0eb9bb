//! AuthZEN 1.0 (issue 14). In-process: the interop scenarios' vectors (vendored under
//! `vectors/`, with their licence) and the examples that answer them, and what AuthZEN-shaped
//! questions mean in elevator's model. Over the PEP-facing HTTP port, through a real HTTP
//! client: the transport rules (status codes, content types, request ids, limits,
//! authentication), both HTTP versions and TLS, batch semantics, search, discovery, the
//! certification scenario and the same vectors as the interop runners send them.

mod equivalence;
mod examples;
mod model;
pub(crate) mod questions;

mod access_request;
mod access_request_batch;
mod access_request_callbacks;
mod access_request_check;
mod batch;
mod certification;
mod client;
mod discovery;
mod interop;
mod search;
mod tls;
mod transport;
