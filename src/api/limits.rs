//! Admission at the edge: how many calls this replica works on at once, and how fast one
//! caller may write. Both refuse at once with `RESOURCE_EXHAUSTED` instead of queueing, so an
//! overloaded replica sheds load it cannot serve and a client (or its load balancer) backs off
//! or goes elsewhere. Check is never rate limited per caller, since one enforcement point asks
//! for everyone behind it; it counts against the in-flight limit like every call.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{Request, Response};
use serde::{Deserialize, Serialize};
use tower::{Layer, Service};

use crate::service::ServiceError;

/// Largest message most services accept: every request but a policy fits in a few KiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Largest `PutPolicy` / `ValidatePolicy` message: a policy document of
/// [`crate::service::MAX_POLICY_BYTES`] and its framing.
pub(crate) const MAX_POLICY_MESSAGE_BYTES: usize = crate::service::MAX_POLICY_BYTES + 64 * 1024;
/// Largest header list (HTTP/2 `SETTINGS_MAX_HEADER_LIST_SIZE`) a call may send, so that a
/// bearer token far over [`crate::auth::MAX_TOKEN_BYTES`] still reaches authentication and is
/// refused there with `UNAUTHENTICATED` / `TOKEN_TOO_LARGE`. Past it, h2 itself refuses the
/// stream (HTTP 431 and `RST_STREAM`), and past four times it (or more CONTINUATION frames than
/// such a list needs) closes the whole connection with `GOAWAY`: see the README's limits.
pub const MAX_HEADER_LIST_BYTES: u32 = 128 * 1024;
/// Largest Envoy `CheckRequest`: Envoy forwards every request header (up to its own 60 KiB
/// default limit) and the route's metadata.
pub(crate) const MAX_EXT_AUTHZ_MESSAGE_BYTES: usize = 256 * 1024;

/// Admission settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Calls this replica works on at once; past it, calls are refused with
    /// `RESOURCE_EXHAUSTED`.
    pub max_concurrent_calls: usize,
    /// Sustained write calls (request, approve, deny, cancel, extend, revoke, delegate, end
    /// session, risk report, policy change) one caller may make per minute.
    pub writes_per_minute_per_caller: u32,
    /// Write calls one caller may make in a burst above that rate.
    pub write_burst_per_caller: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_concurrent_calls: 10_000,
            writes_per_minute_per_caller: 600,
            write_burst_per_caller: 60,
        }
    }
}

impl LimitsConfig {
    /// Refuses settings that would refuse every call.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_concurrent_calls == 0 {
            return Err("limits.max_concurrent_calls must be at least 1".into());
        }
        if self.writes_per_minute_per_caller == 0 || self.write_burst_per_caller == 0 {
            return Err(
                "limits.writes_per_minute_per_caller and limits.write_burst_per_caller must be at least 1"
                    .into(),
            );
        }
        Ok(())
    }
}

/// The most the per-caller write buckets hold, in bytes (the caller's name plus the cache's
/// bookkeeping per bucket): about 70,000 callers writing within one refill time.
pub(crate) const WRITE_BUCKETS_BYTES: u64 = 32 * 1024 * 1024;

/// A bucket's bookkeeping beside its caller's name: the bucket, its lock and reference count,
/// and the cache's entry (see `auth::weight`), rounded up.
const BUCKET_BYTES: usize = 448;

/// A token bucket: `tokens` refill at the configured rate up to the burst.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
}

/// Per-caller write rate limiting. Buckets of callers idle for a while are forgotten (a full
/// bucket is the same as none). At most [`WRITE_BUCKETS_BYTES`] of buckets are kept: past that
/// the least used go first, and a caller whose bucket went starts again from a full one.
pub(crate) struct WriteRate {
    per_second: f64,
    burst: f64,
    buckets: moka::sync::Cache<String, Arc<Mutex<Bucket>>>,
}

impl WriteRate {
    /// Limits from `config`.
    pub(crate) fn new(config: &LimitsConfig) -> Self {
        let per_second = f64::from(config.writes_per_minute_per_caller) / 60.0;
        let burst = f64::from(config.write_burst_per_caller);
        // After this long idle a bucket is full again, so dropping it changes nothing.
        let refill_time = Duration::from_secs_f64(burst / per_second).max(Duration::from_secs(1));
        WriteRate {
            per_second,
            burst,
            buckets: moka::sync::Cache::builder()
                .max_capacity(WRITE_BUCKETS_BYTES)
                .weigher(|caller: &String, _| {
                    u32::try_from(caller.len() + BUCKET_BYTES).unwrap_or(u32::MAX)
                })
                .time_to_idle(refill_time)
                .build(),
        }
    }

    /// Takes one write from `caller`'s bucket, or says when to retry.
    pub(crate) fn admit(&self, caller: &str) -> Result<(), ServiceError> {
        let bucket = self.buckets.get_with_by_ref(caller, || {
            Arc::new(Mutex::new(Bucket {
                tokens: self.burst,
                refilled_at: Instant::now(),
            }))
        });
        let mut bucket = bucket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        let refill = now.duration_since(bucket.refilled_at).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let retry_after = (1.0 - bucket.tokens) / self.per_second;
        Err(ServiceError::ResourceExhausted {
            code: "WRITE_RATE",
            message: format!(
                "{caller} is writing faster than {:.0} calls per minute; retry in {:.1}s",
                self.per_second * 60.0,
                retry_after
            ),
        })
    }
}

/// Refuses calls past the replica's in-flight limit.
#[derive(Clone)]
pub struct InFlightLimitLayer {
    in_flight: Arc<InFlightCalls>,
    limit: usize,
}

/// How many calls are in flight: a counter, not a semaphore, since a call past the limit is
/// refused rather than queued (a semaphore's release took its waiters' lock on every call).
#[derive(Debug, Default)]
struct InFlightCalls(AtomicUsize);

impl InFlightCalls {
    /// A place for one more call, unless `limit` are in flight.
    fn admit(self: &Arc<Self>, limit: usize) -> Option<InFlightPermit> {
        let before = self.0.fetch_add(1, Ordering::AcqRel);
        if before >= limit {
            self.0.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(InFlightPermit(self.clone()))
    }
}

/// One admitted call's place, given back when dropped.
pub struct InFlightPermit(Arc<InFlightCalls>);

impl Drop for InFlightPermit {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl InFlightLimitLayer {
    /// At most `limit` calls in flight.
    pub fn new(limit: usize) -> Self {
        InFlightLimitLayer {
            in_flight: Arc::default(),
            limit,
        }
    }
}

impl<S> Layer<S> for InFlightLimitLayer {
    type Service = InFlightLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlightLimit {
            inner,
            in_flight: self.in_flight.clone(),
            limit: self.limit,
        }
    }
}

/// The service [`InFlightLimitLayer`] wraps. A call holds its permit until its response (for
/// a stream, its first message) is ready.
#[derive(Clone)]
pub struct InFlightLimit<S> {
    inner: S,
    in_flight: Arc<InFlightCalls>,
    limit: usize,
}

impl<S, B, R> Service<Request<B>> for InFlightLimit<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Unpin,
    R: Default + Unpin,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Admitted<S::Future, S::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let Some(permit) = self.in_flight.admit(self.limit) else {
            tracing::warn!(limit = self.limit, "call refused: too many calls in flight");
            let status = tonic::Status::resource_exhausted(format!(
                "this replica is working on its limit of {} calls; retry shortly or on another replica",
                self.limit
            ));
            return Admitted::Refused(Some(status.into_http()));
        };
        Admitted::Admitted {
            response: self.inner.call(request),
            permit: Some(permit),
        }
    }
}

/// The response of a call [`InFlightLimit`] admitted, holding its permit until it is ready;
/// or the refusal of one it did not. Not boxed: every call passes here.
pub enum Admitted<F, T> {
    /// Admitted: the inner service's response, and the permit it holds.
    Admitted {
        /// The inner service's response.
        response: F,
        /// Released when the response is ready.
        permit: Option<InFlightPermit>,
    },
    /// Refused: the answer saying so, until it is taken.
    Refused(Option<T>),
}

impl<F, T, E> Future for Admitted<F, T>
where
    F: Future<Output = Result<T, E>> + Unpin,
    T: Unpin,
{
    type Output = Result<T, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            Admitted::Admitted { response, permit } => {
                let ready = std::task::ready!(Pin::new(response).poll(cx));
                permit.take();
                Poll::Ready(ready)
            }
            Admitted::Refused(refusal) => match refusal.take() {
                Some(refusal) => Poll::Ready(Ok(refusal)),
                None => Poll::Pending,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_its_burst_then_is_refused_and_others_are_not() {
        let rate = WriteRate::new(&LimitsConfig {
            writes_per_minute_per_caller: 1,
            write_burst_per_caller: 3,
            ..LimitsConfig::default()
        });
        for _ in 0..3 {
            rate.admit("fatma").expect("within the burst");
        }
        let refused = rate.admit("fatma").expect_err("past the burst");
        assert_eq!(refused.code(), "WRITE_RATE");
        assert!(refused.to_string().contains("retry in"), "{refused}");
        rate.admit("ali")
            .expect("another caller has its own bucket");
    }

    #[test]
    fn the_in_flight_count_admits_up_to_its_limit_and_frees_a_place_when_a_call_ends() {
        let in_flight = Arc::new(InFlightCalls::default());
        let first = in_flight.admit(2).expect("the first of two");
        let second = in_flight.admit(2).expect("the second of two");
        assert!(in_flight.admit(2).is_none(), "a third is refused");
        assert!(in_flight.admit(2).is_none(), "a refusal takes no place");
        drop(first);
        let third = in_flight
            .admit(2)
            .expect("a place freed by a call that ended");
        drop((second, third));
        assert_eq!(in_flight.0.load(Ordering::Acquire), 0);
    }

    #[test]
    fn settings_that_refuse_everything_are_rejected() {
        let zero = LimitsConfig {
            max_concurrent_calls: 0,
            ..LimitsConfig::default()
        };
        assert!(zero.validate().is_err());
        assert!(LimitsConfig::default().validate().is_ok());
    }
}
