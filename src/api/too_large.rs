//! Oversized request messages, answered like every other error. tonic refuses a message over a
//! service's decoding limit itself, before any handler runs, with `OUT_OF_RANGE` "decoded
//! message length too large" and no details. This layer rewrites that answer into
//! `RESOURCE_EXHAUSTED` (what the gRPC status-code guide names for a message over the limit)
//! with an `ErrorInfo` whose reason is `MESSAGE_TOO_LARGE` and whose metadata carries the size
//! and the limit, and a message that says what to send instead.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{Request, Response};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};
use tower::{Layer, Service};

use super::status::ERROR_DOMAIN;

/// The start of tonic's own message for a message over the decoding limit.
const TONIC_TOO_LARGE: &str = "Error, decoded message length too large";

/// Rewrites tonic's refusal of an oversized message.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MessageTooLargeLayer;

impl<S> Layer<S> for MessageTooLargeLayer {
    type Service = MessageTooLarge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MessageTooLarge { inner }
    }
}

/// The service [`MessageTooLargeLayer`] wraps.
#[derive(Debug, Clone)]
pub(crate) struct MessageTooLarge<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for MessageTooLarge<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Unpin,
    R: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Answered<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        Answered {
            response: self.inner.call(request),
        }
    }
}

/// The response of the service [`MessageTooLarge`] wraps, its refusal of an oversized message
/// rewritten. Not boxed: every call passes here.
pub(crate) struct Answered<F> {
    response: F,
}

impl<F, R, E> Future for Answered<F>
where
    F: Future<Output = Result<Response<R>, E>> + Unpin,
    R: Default,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let response = std::task::ready!(Pin::new(&mut self.get_mut().response).poll(cx))?;
        // tonic answers a refused message "trailers-only": the status is in the headers. An
        // answer with a body has no `grpc-status` header, so most calls stop at one lookup.
        if !response.headers().contains_key("grpc-status") {
            return Poll::Ready(Ok(response));
        }
        let refused = Status::from_header_map(response.headers())
            .filter(|status| status.code() == Code::OutOfRange)
            .and_then(|status| sizes(status.message()));
        Poll::Ready(Ok(match refused {
            Some((size, limit)) => too_large(size, limit).into_http(),
            None => response,
        }))
    }
}

/// The size and the limit tonic's message names: "… found {size} bytes, the limit is: {limit}
/// bytes".
fn sizes(message: &str) -> Option<(u64, u64)> {
    let rest = message.strip_prefix(TONIC_TOO_LARGE)?;
    let mut numbers = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter(|part| !part.is_empty())
        .map(str::parse::<u64>);
    Some((numbers.next()?.ok()?, numbers.next()?.ok()?))
}

/// The status for a request message of `size` bytes over a `limit`.
pub(crate) fn too_large(size: u64, limit: u64) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(
        "MESSAGE_TOO_LARGE",
        ERROR_DOMAIN,
        HashMap::from([
            ("size_bytes".to_owned(), size.to_string()),
            ("limit_bytes".to_owned(), limit.to_string()),
        ]),
    );
    Status::with_error_details(
        Code::ResourceExhausted,
        format!(
            "the request message is {size} bytes; this service accepts at most {limit}: \
             shorten free text (reason, comment), send fewer questions per BatchCheck, or split the request"
        ),
        details,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonic_s_message_yields_the_size_and_the_limit_and_others_nothing() {
        assert_eq!(
            sizes(
                "Error, decoded message length too large: found 204812 bytes, the limit is: 65536 bytes"
            ),
            Some((204_812, 65_536))
        );
        assert_eq!(sizes("index out of range"), None);
    }
}
