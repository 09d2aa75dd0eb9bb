//! The request a use case serves: its id and trace, set by the API edge for the duration of
//! the call (a task-local, so that every use case need not carry it) and stamped on every audit
//! event the call's writes append. Work the server does by itself (the sweep) has none.

use std::future::Future;

/// Where a call came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The request id: the caller's `x-request-id`, or one the server gave.
    pub request_id: String,
    /// The W3C trace id from the caller's `traceparent`, if any.
    pub trace_id: Option<String>,
}

tokio::task_local! {
    static REQUEST: RequestContext;
}

/// Runs `work` as serving `context`.
pub async fn serving<F: Future>(context: RequestContext, work: F) -> F::Output {
    REQUEST.scope(context, work).await
}

/// The request being served, if any.
pub fn current() -> Option<RequestContext> {
    REQUEST.try_with(Clone::clone).ok()
}
