//! What every request on the HTTP port goes through before its handler: a request id (the
//! PEP's `X-Request-ID`, echoed, or a new one), a span, the in-flight limit, the route and its
//! method, the caller, the content type and the body size. Answers are JSON; errors are
//! problem documents (`problem.rs`).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::sync::Semaphore;
use tracing::Instrument;

use super::config::AuthzenConfig;
use super::problem::HttpError;
use super::token_config::TokenConfig;
use super::{MAX_BODY_BYTES, access_request, caller, discovery, oauth_metadata};
use crate::auth::{Authenticator, SigningKeyRing};
use crate::domain::Identity;
use crate::service::Elevator;
use crate::service::context::{RequestContext, serving};

/// Longest request id taken from a PEP; a longer (or unprintable) one is replaced.
const MAX_REQUEST_ID_BYTES: usize = 128;

/// The paths served, each with what serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Route {
    /// `POST /access/v1/evaluation`.
    Evaluation,
    /// `POST /access/v1/evaluations`.
    Evaluations,
    /// `POST /access/v1/search/subject`.
    SearchSubject,
    /// `POST /access/v1/search/resource`.
    SearchResource,
    /// `POST /access/v1/search/action`.
    SearchAction,
    /// `GET /.well-known/authzen-configuration`.
    Discovery,
    /// `GET /.well-known/jwks.json`: elevator's public signing keys.
    Jwks,
    /// `GET /.well-known/oauth-authorization-server`: the token issuer's metadata.
    AuthorizationServerMetadata,
    /// `POST /oauth2/token`: token exchange.
    Token,
    /// `POST /oauth2/introspect`: token introspection.
    Introspection,
}

impl Route {
    /// Every route, for discovery.
    pub(super) const ALL: [Route; 10] = [
        Route::Evaluation,
        Route::Evaluations,
        Route::SearchSubject,
        Route::SearchResource,
        Route::SearchAction,
        Route::Discovery,
        Route::Jwks,
        Route::AuthorizationServerMetadata,
        Route::Token,
        Route::Introspection,
    ];

    /// The path.
    pub(super) fn path(self) -> &'static str {
        match self {
            Route::Evaluation => "/access/v1/evaluation",
            Route::Evaluations => "/access/v1/evaluations",
            Route::SearchSubject => "/access/v1/search/subject",
            Route::SearchResource => "/access/v1/search/resource",
            Route::SearchAction => "/access/v1/search/action",
            Route::Discovery => "/.well-known/authzen-configuration",
            Route::Jwks => "/.well-known/jwks.json",
            Route::AuthorizationServerMetadata => "/.well-known/oauth-authorization-server",
            Route::Token => "/oauth2/token",
            Route::Introspection => "/oauth2/introspect",
        }
    }

    fn method(self) -> Method {
        match self {
            Route::Discovery | Route::Jwks | Route::AuthorizationServerMetadata => Method::GET,
            _ => Method::POST,
        }
    }

    fn of(path: &str) -> Option<Route> {
        Route::ALL.into_iter().find(|route| route.path() == path)
    }
}

/// What is known about the connection a request came on.
#[derive(Debug, Clone, Default)]
pub(crate) struct Connection {
    /// The PEP its verified client certificate names, over mutual TLS.
    pub(crate) certificate: Option<Arc<Identity>>,
    /// Whether it is TLS.
    pub(crate) secure: bool,
}

/// The HTTP port's handlers and what they share.
pub struct HttpEdge {
    pub(super) app: Arc<Elevator>,
    pub(super) auth: Arc<Authenticator>,
    pub(super) authzen: AuthzenConfig,
    in_flight: Arc<Semaphore>,
    /// The keys elevator signs its tokens with.
    pub(super) key_ring: Arc<SigningKeyRing>,
    /// The token settings.
    pub(super) tokens: TokenConfig,
}

impl HttpEdge {
    /// Handlers over `app`, authenticating with `auth`; at most `max_concurrent_calls`
    /// requests are worked on at once (past it, `503`); tokens are signed with `key_ring`.
    pub fn new(
        app: Arc<Elevator>,
        auth: Arc<Authenticator>,
        authzen: AuthzenConfig,
        max_concurrent_calls: usize,
        key_ring: Arc<SigningKeyRing>,
        tokens: TokenConfig,
    ) -> Self {
        HttpEdge {
            app,
            auth,
            authzen,
            in_flight: Arc::new(Semaphore::new(max_concurrent_calls.max(1))),
            key_ring,
            tokens,
        }
    }

    /// Answers one request, in its own span and request context.
    pub(crate) async fn answer(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Response<Full<Bytes>> {
        let request_id = caller_request_id(request.headers()).unwrap_or_else(new_request_id);
        let span = tracing::info_span!(
            "http",
            otel.kind = "server",
            http.request.method = %request.method(),
            url.path = %crate::domain::shown(request.uri().path()),
            request_id = %request_id,
            http.response.status_code = tracing::field::Empty,
        );
        let context = RequestContext {
            request_id: request_id.clone(),
            trace_id: None,
        };
        let answered = serving(context, self.route(request, connection))
            .instrument(span.clone())
            .await;
        let mut response = match answered {
            Ok(response) => response,
            Err(error) => problem(&error),
        };
        span.record("http.response.status_code", response.status().as_u16());
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert("x-request-id", value);
        }
        response
    }

    async fn route(
        &self,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Result<Response<Full<Bytes>>, HttpError> {
        if access_request::serves(request.uri().path()) {
            let _permit = self.permit()?;
            return self.access_request(request, connection).await;
        }
        let Some(route) = Route::of(request.uri().path()) else {
            return Err(HttpError::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                "no such path: see /.well-known/authzen-configuration for what is served",
            ));
        };
        let allowed = route.method();
        let method = request.method();
        if *method != allowed && !(allowed == Method::GET && *method == Method::HEAD) {
            let mut refused = problem(&HttpError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                format!("{} takes {allowed}", route.path()),
            ));
            if let Ok(value) = HeaderValue::from_str(allowed.as_str()) {
                refused.headers_mut().insert(header::ALLOW, value);
            }
            return Ok(refused);
        }
        let _permit = self.permit()?;
        let answer = match route {
            Route::Discovery => discovery::metadata(self, &request, connection)?,
            Route::Jwks => {
                let mut answer = json_response(StatusCode::OK, &oauth_metadata::jwks(self));
                answer.headers_mut().insert(
                    header::CACHE_CONTROL,
                    HeaderValue::from_str(&format!(
                        "public, max-age={}",
                        oauth_metadata::JWKS_MAX_AGE_SECONDS
                    ))
                    .expect("a number makes a valid header value"),
                );
                return Ok(answer);
            }
            Route::AuthorizationServerMetadata => oauth_metadata::authorization_server(self),
            Route::Token => return Ok(self.token_exchange(request, connection).await),
            Route::Introspection => return Ok(self.introspection(request, connection).await),
            _ => self.question(route, request, connection).await?,
        };
        Ok(json_response(StatusCode::OK, &answer))
    }

    /// A place among the requests worked on at once, or `503` when there is none.
    fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, HttpError> {
        self.in_flight.try_acquire().map_err(|_| {
            HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "IN_FLIGHT_LIMIT",
                "this replica is at its limit of requests in flight: retry shortly or elsewhere",
            )
        })
    }

    /// A question to the decision point: the caller, the body, then the handler.
    async fn question(
        &self,
        route: Route,
        request: Request<Incoming>,
        connection: &Connection,
    ) -> Result<serde_json::Value, HttpError> {
        let caller = caller::enforcement_point(
            &self.auth,
            request.headers(),
            connection.certificate.as_ref(),
            &self.app.roles().pep,
        )
        .await?;
        json_content_type(request.headers())?;
        // Where the access request profile's URLs point (none when the host is unusable).
        let base = discovery::identifier(self, &request, connection).ok();
        let body = read_body(request).await?;
        match route {
            Route::Evaluations => self.evaluations(&caller, &body, base.as_deref()).await,
            Route::SearchSubject => self.search_subject(&caller, &body).await,
            Route::SearchResource => self.search_resource(&caller, &body).await,
            Route::SearchAction => self.search_action(&caller, &body).await,
            // Metadata is answered before the caller is known and never gets here.
            Route::Evaluation
            | Route::Discovery
            | Route::Jwks
            | Route::AuthorizationServerMetadata
            | Route::Token
            | Route::Introspection => self.evaluation(&caller, &body, base.as_deref()).await,
        }
    }
}

/// Refuses a body that is not declared `application/json` (parameters such as
/// `charset=utf-8` are fine).
pub(super) fn json_content_type(headers: &HeaderMap) -> Result<(), HttpError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = declared.split(';').next().unwrap_or("").trim();
    if media_type.eq_ignore_ascii_case("application/json") {
        return Ok(());
    }
    Err(HttpError::new(
        StatusCode::BAD_REQUEST,
        "INVALID_CONTENT_TYPE",
        "send the request body as JSON with Content-Type: application/json",
    ))
}

/// The body, at most [`MAX_BODY_BYTES`]; a larger one (declared or sent) is a `413`.
pub(super) async fn read_body(request: Request<Incoming>) -> Result<Bytes, HttpError> {
    let too_large = || {
        HttpError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "BODY_TOO_LARGE",
            format!("the request body is larger than {MAX_BODY_BYTES} bytes: split the batch"),
        )
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            "BODY_UNREADABLE",
            "the request body could not be read to its end",
        )),
    }
}

/// `body` as a JSON answer with `status`.
pub(super) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<Full<Bytes>> {
    response(status, "application/json", body)
}

/// The answer to an error: its problem document, and for a `401` the scheme to use.
fn problem(error: &HttpError) -> Response<Full<Bytes>> {
    let mut answer = response(error.status, "application/problem+json", &error.document());
    if error.status == StatusCode::UNAUTHORIZED {
        answer.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"elevator\""),
        );
    }
    answer
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: &serde_json::Value,
) -> Response<Full<Bytes>> {
    let mut answer = Response::new(Full::new(Bytes::from(body.to_string())));
    *answer.status_mut() = status;
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    answer
}

/// The PEP's request id when it is printable ASCII of a sane length.
fn caller_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("x-request-id")?.to_str().ok()?;
    let acceptable = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_BYTES
        && value.bytes().all(|b| b.is_ascii_graphic());
    acceptable.then(|| value.to_owned())
}

/// A fresh request id, time-ordered.
fn new_request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_bodies_are_taken() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().unwrap());
            json_content_type(&headers)
        };
        assert!(with("application/json").is_ok());
        assert!(with("Application/JSON; charset=utf-8").is_ok());
        assert!(with("text/plain").is_err());
        assert!(with("application/jsonx").is_err());
        assert!(json_content_type(&HeaderMap::new()).is_err());
    }

    #[test]
    fn request_ids_are_taken_only_when_sane() {
        let mut headers = HeaderMap::new();
        headers.insert("x-request-id", "bfe9eb29-ab87".parse().unwrap());
        assert_eq!(
            caller_request_id(&headers).as_deref(),
            Some("bfe9eb29-ab87")
        );
        headers.insert("x-request-id", "x".repeat(200).parse().unwrap());
        assert_eq!(caller_request_id(&headers), None);
        assert_ne!(new_request_id(), new_request_id());
    }
}
