//! `GET /.well-known/authzen-configuration`: the decision point's metadata, listing exactly
//! the endpoints this port serves, each as the configured `authzen.policy_decision_point`
//! followed by its path. Without that setting the identifier is the port's scheme and the
//! host the PEP asked for. Metadata is public (a PEP reads it before it authenticates) and
//! says nothing about policy.

use http::{Request, StatusCode, header};
use serde_json::{Map, Value as Json, json};

use super::problem::HttpError;
use super::router::{Connection, HttpEdge, Route};

/// Longest `Host` taken to form the identifier.
const MAX_HOST_BYTES: usize = 255;

/// The metadata parameter naming each served route's URL.
fn parameter(route: Route) -> Option<&'static str> {
    match route {
        Route::Evaluation => Some("access_evaluation_endpoint"),
        Route::Evaluations => Some("access_evaluations_endpoint"),
        Route::SearchSubject => Some("search_subject_endpoint"),
        Route::SearchResource => Some("search_resource_endpoint"),
        Route::SearchAction => Some("search_action_endpoint"),
        Route::Discovery
        | Route::Jwks
        | Route::AuthorizationServerMetadata
        | Route::Token
        | Route::Introspection => None,
    }
}

/// The metadata document.
pub(super) fn metadata<B>(
    edge: &HttpEdge,
    request: &Request<B>,
    connection: &Connection,
) -> Result<Json, HttpError> {
    let identifier = identifier(edge, request, connection)?;
    let mut document = Map::new();
    document.insert("policy_decision_point".into(), json!(identifier));
    for route in Route::ALL {
        if let Some(name) = parameter(route) {
            document.insert(name.into(), json!(format!("{identifier}{}", route.path())));
        }
    }
    super::access_request::metadata(&identifier, &mut document);
    Ok(Json::Object(document))
}

/// The decision point's identifier: the configured `authzen.policy_decision_point`, else the
/// port's scheme and the host the PEP asked for. Endpoint URLs are it followed by their path.
pub(super) fn identifier<B>(
    edge: &HttpEdge,
    request: &Request<B>,
    connection: &Connection,
) -> Result<String, HttpError> {
    Ok(match &edge.authzen.policy_decision_point {
        Some(configured) => configured.clone(),
        None => {
            let scheme = if connection.secure { "https" } else { "http" };
            format!("{scheme}://{}", requested_host(request)?)
        }
    })
}

/// The host (and port) the PEP asked for: the `Host` header, or the h2 `:authority`.
fn requested_host<B>(request: &Request<B>) -> Result<String, HttpError> {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let plausible = !host.is_empty()
        && host.len() <= MAX_HOST_BYTES
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !plausible {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_HOST",
            "the request names no usable host: send a Host header, or configure authzen.policy_decision_point",
        ));
    }
    Ok(host)
}
