//! A tower layer that gives every gRPC call its request context: the caller's `x-request-id`
//! (or a new one) and the trace id of its W3C `traceparent`, for audit events; the request id
//! is echoed in the response. It also opens the call's span, continuing the caller's trace.

use std::task::{Context, Poll};

use futures_util::future::BoxFuture;
use http::{HeaderName, HeaderValue, Request, Response};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::service::context::{RequestContext, serving};

/// Longest request id taken from a caller.
const MAX_REQUEST_ID_BYTES: usize = 128;

/// The request id header, named once rather than parsed from a string on every call.
static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// The W3C trace context header.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// Adds the request context to every call.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestContextLayer;

impl<S> Layer<S> for RequestContextLayer {
    type Service = WithRequestContext<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithRequestContext { inner }
    }
}

/// The service [`RequestContextLayer`] wraps.
#[derive(Debug, Clone)]
pub struct WithRequestContext<S> {
    inner: S,
}

/// The caller's `x-request-id` header when it is printable ASCII of a sane length.
fn caller_request_id(headers: &http::HeaderMap) -> Option<&HeaderValue> {
    let value = headers.get(&REQUEST_ID)?;
    let bytes = value.as_bytes();
    let acceptable = !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_BYTES
        && bytes.iter().all(u8::is_ascii_graphic);
    acceptable.then_some(value)
}

/// A fresh request id: a UUIDv7 whose random part comes from the thread's generator, not
/// from a `getrandom` system call per call (which cost a few percent of a Check), written
/// out without the formatting machinery.
fn new_request_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let mut text = uuid::Uuid::encode_buffer();
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random())
        .into_uuid()
        .hyphenated()
        .encode_lower(&mut text)
        .to_owned()
}

/// The call's request id, and the header value that echoes it: the caller's own header when
/// it sent a sane one (shared, not copied), otherwise a fresh id.
fn request_id(headers: &http::HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(value) = caller_request_id(headers)
        && let Ok(text) = value.to_str()
    {
        return (text.to_owned(), Some(value.clone()));
    }
    let fresh = new_request_id();
    let echoed = HeaderValue::from_str(&fresh).ok();
    (fresh, echoed)
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if well formed.
fn trace_id(headers: &http::HeaderMap) -> Option<String> {
    let value = headers.get(&TRACEPARENT)?.to_str().ok()?;
    let mut parts = value.split('-');
    let (_version, trace, _parent, _flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let valid = trace.len() == 32
        && trace
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && trace.bytes().any(|b| b != b'0');
    valid.then(|| trace.to_owned())
}

impl<S, B, R> Service<Request<B>> for WithRequestContext<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (request_id, echoed) = request_id(request.headers());
        let context = RequestContext {
            request_id,
            trace_id: trace_id(request.headers()),
        };
        // The span's fields are worked out only when the span is recorded: without a
        // subscriber that wants it (no exporter), splitting the path for it was about a third
        // of this layer's own cost.
        let span = tracing::info_span!(
            "grpc",
            otel.name = tracing::field::Empty,
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = tracing::field::Empty,
            rpc.method = tracing::field::Empty,
            request_id = tracing::field::Empty,
        );
        if !span.is_disabled() {
            let path = request.uri().path().trim_start_matches('/');
            let (service, method) = path.split_once('/').unwrap_or(("", path));
            span.record("otel.name", path);
            span.record("rpc.service", service);
            span.record("rpc.method", method);
            span.record("request_id", context.request_id.as_str());
        }
        crate::telemetry::continue_trace(&span, request.headers());
        // The inner call only builds its future: the handler runs when it is polled, in the
        // request context and the span. (No clone of the inner service per call.)
        let response = self.inner.call(request);
        Box::pin(
            async move {
                let mut response = serving(context, response).await?;
                if let Some(mut echoed) = echoed {
                    // Never indexed by HPACK: a request id is new on every response, so
                    // entering it in the connection's header table only evicted other entries,
                    // and each lookup compared it with every request id still held there.
                    echoed.set_sensitive(true);
                    response.headers_mut().insert(&REQUEST_ID, echoed);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_come_only_from_well_formed_traceparents() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            trace_id(&headers).as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        headers.insert(
            "traceparent",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(trace_id(&headers), None);
        headers.insert("traceparent", "garbage".parse().unwrap());
        assert_eq!(trace_id(&headers), None);
    }

    #[test]
    fn fresh_request_ids_are_distinct_time_ordered_uuids() {
        let first = new_request_id();
        let second = new_request_id();
        assert_ne!(first, second);
        let parsed = uuid::Uuid::parse_str(&first).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
    }

    #[test]
    fn request_ids_are_taken_only_when_sane() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-request-id", "abc-123".parse().unwrap());
        assert_eq!(request_id(&headers).0, "abc-123");
        assert_eq!(request_id(&headers).1.unwrap(), "abc-123");
        headers.insert("x-request-id", "x".repeat(200).parse().unwrap());
        assert_eq!(caller_request_id(&headers), None);
        let (fresh, echoed) = request_id(&headers);
        assert_ne!(fresh, "x".repeat(200));
        assert_eq!(echoed.unwrap(), fresh.as_str());
    }
}
