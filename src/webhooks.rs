//! Webhook delivery. Every write that policy's webhooks announce commits its deliveries to an
//! outbox in the same transaction, so announcing never blocks a write and a restart loses
//! nothing. A worker on every replica claims due deliveries (each claim a lease: two replicas
//! never post the same delivery at once, and a dead worker's claims come back), posts them
//! signed with HMAC-SHA256, and records the outcome; failures retry with exponential backoff
//! until the attempts run out. Delivery is at least once: receivers dedupe on
//! `X-Elevator-Delivery`.
//!
//! Each post carries `X-Elevator-Event` (the audit action), `X-Elevator-Delivery` (a stable
//! id, never reused across restarts: see the stores' `claim_deliveries`),
//! `X-Elevator-Timestamp` (Unix seconds) and `X-Elevator-Signature: sha256=<hex>`, the
//! HMAC-SHA256 with the configured secret of `<timestamp>.<body>`.
//!
//! Access request callbacks (event `access_request.callback`) go through the same outbox, but
//! to a URL a PEP gave: they are posted through [`callback::CallbackConnector`], which checks
//! the addresses it connects to against the deployment's callback rules (and speaks https).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::TimeDelta;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;

mod callback;

use crate::clock::SharedClock;
use crate::domain::{CALLBACK_EVENT, CallbackRules};
use crate::store::{DeliveryOutcome, Outbox, PendingDelivery};
use crate::telemetry::metrics::{DeliveryResult, Metrics};

/// How long a claim lasts before another worker may take the delivery.
const CLAIM_LEASE: TimeDelta = TimeDelta::seconds(60);
/// Deliveries one worker claims at a time.
const CLAIM_BATCH: usize = 20;
/// The longest wait between attempts.
const MAX_BACKOFF_SECONDS: i64 = 3600;

/// How deliveries are made.
#[derive(Clone)]
pub(crate) struct WebhookOptions {
    /// The HMAC key; `None` means deliveries wait (unsigned posts are never sent).
    pub(crate) secret: Option<Vec<u8>>,
    /// How long one post may take.
    pub(crate) timeout: Duration,
    /// Attempts before a delivery is given up.
    pub(crate) max_attempts: u32,
    /// How often the outbox is read.
    pub(crate) poll_interval: Duration,
    /// Which access request callback targets may be posted to.
    pub(crate) callback_rules: CallbackRules,
}

/// The signature header value for `body` sent at `timestamp`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("sha256={hex}")
}

/// The wait before attempt `attempts + 1`: 1 s, 2 s, 4 s, ... up to an hour.
fn backoff(attempts: u32) -> TimeDelta {
    TimeDelta::seconds(
        1i64.checked_shl(attempts.min(30))
            .unwrap_or(MAX_BACKOFF_SECONDS)
            .min(MAX_BACKOFF_SECONDS),
    )
}

/// The delivery worker of one replica.
pub(crate) struct Deliverer {
    outbox: Arc<dyn Outbox>,
    clock: SharedClock,
    metrics: Arc<Metrics>,
    options: WebhookOptions,
    client: Client<HttpConnector, Full<Bytes>>,
    callbacks: callback::CallbackConnector,
}

impl Deliverer {
    /// A worker over `outbox` (any store: an `Arc<dyn Store>` coerces to it).
    pub(crate) fn new(
        outbox: Arc<dyn Outbox>,
        clock: SharedClock,
        metrics: Arc<Metrics>,
        options: WebhookOptions,
    ) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(options.timeout));
        connector.set_nodelay(true);
        Deliverer {
            outbox,
            clock,
            metrics,
            client: Client::builder(TokioExecutor::new()).build(connector),
            callbacks: callback::CallbackConnector::new(options.callback_rules.clone()),
            options,
        }
    }

    /// Delivers until the task is aborted.
    pub(crate) async fn run(self) {
        if self.options.secret.is_none() {
            tracing::warn!(
                "no webhook secret is configured: webhook deliveries wait in the outbox unsent"
            );
            return;
        }
        let mut ticks = tokio::time::interval(self.options.poll_interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(error) = self.deliver_due().await {
                tracing::warn!(%error, "webhook delivery round failed");
            }
        }
    }

    /// Claims and posts what is due now; returns how many were delivered.
    pub(crate) async fn deliver_due(&self) -> Result<usize, crate::store::StoreError> {
        let Some(secret) = &self.options.secret else {
            return Ok(0);
        };
        let now = self.clock.now();
        let claimed = self
            .outbox
            .claim_deliveries(now, CLAIM_LEASE, CLAIM_BATCH)
            .await?;
        let mut delivered = 0;
        for delivery in claimed {
            let posted = self.post(secret, &delivery).await;
            let outcome = match posted {
                Ok(()) => {
                    delivered += 1;
                    self.metrics.record_delivery(DeliveryResult::Delivered);
                    DeliveryOutcome::Delivered
                }
                Err(error) => {
                    let attempts = delivery.attempts + 1;
                    let retry_at = (attempts < self.options.max_attempts)
                        .then(|| self.clock.now() + backoff(delivery.attempts));
                    tracing::warn!(url = %delivery.url, attempts, %error, gave_up = retry_at.is_none(), "webhook delivery failed");
                    self.metrics.record_delivery(if retry_at.is_some() {
                        DeliveryResult::Retrying
                    } else {
                        DeliveryResult::GivenUp
                    });
                    DeliveryOutcome::Failed { error, retry_at }
                }
            };
            self.outbox
                .finish_delivery(delivery.id, outcome, self.clock.now())
                .await?;
        }
        Ok(delivered)
    }

    async fn post(&self, secret: &[u8], delivery: &PendingDelivery) -> Result<(), String> {
        let callback = delivery.event_kind == CALLBACK_EVENT;
        if !callback && !delivery.url.starts_with("http://") {
            return Err("only http:// webhook URLs can be delivered by this build".into());
        }
        let body = serde_json::to_vec(&delivery.payload).map_err(|error| error.to_string())?;
        let timestamp = self.clock.now().timestamp();
        let signed = hyper::Request::post(&delivery.url)
            .header("content-type", "application/json")
            .header(
                "user-agent",
                concat!("elevator/", env!("CARGO_PKG_VERSION")),
            )
            .header("x-elevator-event", &delivery.event_kind)
            .header("x-elevator-delivery", delivery.id.to_string())
            .header("x-elevator-timestamp", timestamp.to_string())
            .header("x-elevator-signature", signature(secret, timestamp, &body));
        let body = Full::new(Bytes::from(body));
        let posting = async {
            if callback {
                let mut connection = self.callbacks.connect(&delivery.url).await?;
                let request = signed
                    .uri(connection.path_and_query.as_str())
                    .header("host", connection.host.as_str())
                    .body(body)
                    .map_err(|error| format!("building the request: {error}"))?;
                let response = connection
                    .sender
                    .send_request(request)
                    .await
                    .map_err(|error| error.to_string())?;
                drained(response).await
            } else {
                let request = signed
                    .body(body)
                    .map_err(|error| format!("building the request: {error}"))?;
                let response = self
                    .client
                    .request(request)
                    .await
                    .map_err(|error| error.to_string())?;
                drained(response).await
            }
        };
        tokio::time::timeout(self.options.timeout, posting)
            .await
            .map_err(|_| "timed out".to_owned())?
    }
}

/// Whether the receiver accepted the post; the body is drained so the connection can be reused.
async fn drained(response: hyper::Response<hyper::body::Incoming>) -> Result<(), String> {
    let status = response.status();
    let _ = response.into_body().collect().await;
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_timestamp_and_body() {
        let one = signature(b"secret", 1700000000, b"{}");
        assert!(one.starts_with("sha256="));
        assert_eq!(one.len(), "sha256=".len() + 64);
        assert_ne!(one, signature(b"secret", 1700000001, b"{}"));
        assert_ne!(one, signature(b"other", 1700000000, b"{}"));
        assert_eq!(one, signature(b"secret", 1700000000, b"{}"));
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(0), TimeDelta::seconds(1));
        assert_eq!(backoff(3), TimeDelta::seconds(8));
        assert_eq!(backoff(40), TimeDelta::seconds(3600));
    }
}
