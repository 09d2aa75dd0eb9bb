//! The PEP-facing HTTP port (`http_listen`): the OpenID AuthZEN Authorization API 1.0 over
//! HTTP/1.1 and h2, plain or TLS like the gRPC port.
//!
//! | path | file |
//! | --- | --- |
//! | `POST /access/v1/evaluation` | `evaluation.rs` |
//! | `POST /access/v1/evaluations` | `evaluations.rs` |
//! | `POST /access/v1/search/subject`, `/resource`, `/action` | `search/` |
//! | `POST /access/v1/requests`, `GET /access/v1/requests/{task}`, `POST …/{task}/cancel` | `access_request/` |
//! | `GET /.well-known/authzen-configuration` | `discovery.rs` |
//! | `GET /.well-known/jwks.json`, `/.well-known/oauth-authorization-server` | `oauth_metadata.rs` |
//! | `POST /oauth2/token` (RFC 8693 token exchange) | `token_exchange.rs` |
//! | `POST /oauth2/introspect` (RFC 7662) | `introspection.rs` |
//!
//! Handlers are thin: the router (`router.rs`) gives each request its request id, checks the
//! method, the content type and the body size, and knows the caller (`caller.rs`: a bearer
//! token, or a PEP's client certificate, exactly as for gRPC Check); the handler parses the
//! JSON once into edge values (`json.rs`), asks the use case, and writes the decision
//! (`answer.rs`). Every error becomes its HTTP answer through one `From<ServiceError>`
//! (`problem.rs`), so handlers use `?`. Connections, TLS and shutdown are in `listener.rs`.

mod access_request;
mod answer;
mod caller;
mod config;
mod discovery;
mod evaluation;
mod evaluations;
mod introspection;
mod json;
mod listener;
mod oauth_form;
mod oauth_metadata;
mod problem;
mod router;
mod search;
mod token_config;
mod token_exchange;

pub use config::AuthzenConfig;
pub use listener::serve;
pub use router::HttpEdge;
pub use token_config::TokenConfig;

/// Largest request body, in bytes; a larger one is answered `413 Payload Too Large` before it
/// is read further. A batch of [`MAX_EVALUATIONS`] questions with a few properties each fits
/// in a tenth of it.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// Most questions in one `evaluations` batch (as for gRPC `BatchCheck`).
pub const MAX_EVALUATIONS: usize = 100;
