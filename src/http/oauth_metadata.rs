//! `GET /.well-known/jwks.json` (the public halves of elevator's signing keys, RFC 7517) and
//! `GET /.well-known/oauth-authorization-server` (the issuer's metadata, RFC 8414): where a
//! token verifier learns who signs elevator's tokens, with which keys, and where the token and
//! introspection endpoints are. Both are public, like the AuthZEN metadata: a verifier reads
//! them before it authenticates, and they say nothing about grants or policy.

use serde_json::{Value as Json, json};

use super::router::{HttpEdge, Route};
use super::token_exchange::TOKEN_EXCHANGE_GRANT;

/// How long a verifier may cache the key set, in seconds. A key added to the ring is
/// published at once; it should be listed before the signing key for at least this long
/// before it is moved last to sign (README, "Carry an elevation in a token").
pub(super) const JWKS_MAX_AGE_SECONDS: u32 = 300;

/// The JWKS document.
pub(super) fn jwks(edge: &HttpEdge) -> Json {
    edge.key_ring.jwks()
}

/// The authorization server metadata: the issuer and the URLs served under it.
pub(super) fn authorization_server(edge: &HttpEdge) -> Json {
    let issuer = edge.key_ring.issuer();
    // PEPs authenticate at the token and introspection endpoints as for AuthZEN: a client
    // certificate (`tls_client_auth`, RFC 8705) or a bearer token holding the PEP role, which
    // RFC 8414's registry has no name for.
    let client_authentication = json!(["tls_client_auth", "elevator_pep_bearer_token"]);
    json!({
        "issuer": issuer,
        "jwks_uri": format!("{issuer}{}", Route::Jwks.path()),
        "token_endpoint": format!("{issuer}{}", Route::Token.path()),
        "introspection_endpoint": format!("{issuer}{}", Route::Introspection.path()),
        "grant_types_supported": [TOKEN_EXCHANGE_GRANT],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": client_authentication,
        "introspection_endpoint_auth_methods_supported": client_authentication,
    })
}
