//! The server's metrics, as OpenTelemetry instruments on a meter provider of its own (two
//! servers in one process, as in the tests, never mix), read on demand and rendered as
//! Prometheus text for the admin port's `/metrics`.
//!
//! The Check path records into bound instruments (attributes resolved once, at start-up), so
//! a decision pays two relaxed atomic updates and one histogram bucket. Everything else the
//! metrics show is observed when scraped: cache sizes and counters, the change feed, the
//! pool, the queues.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundCounter, BoundHistogram, Meter, MeterProvider};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Temporality,
};

use super::prometheus;
use crate::decision::log::DecisionLog;
use crate::decision::{CacheStats, Decider};
use crate::domain::{Decision, DecisionReason};
use crate::store::Store;

/// Check latency buckets, in seconds: a cached decision takes about a microsecond, a load
/// from PostgreSQL about a millisecond.
const CHECK_SECONDS: &[f64] = &[
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Invalidation lag buckets, in seconds.
const LAG_SECONDS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A [`ManualReader`] the meter provider and `/metrics` share.
#[derive(Debug, Clone)]
pub(crate) struct SharedReader(Arc<ManualReader>);

impl SharedReader {
    /// Shares `reader`.
    pub(crate) fn new(reader: ManualReader) -> Self {
        SharedReader(Arc::new(reader))
    }

    /// Collects every instrument now and renders Prometheus text.
    pub(crate) fn render(&self) -> String {
        let mut collected = ResourceMetrics::default();
        if let Err(error) = self.0.collect(&mut collected) {
            tracing::warn!(%error, "collecting metrics failed");
        }
        prometheus::encode(&collected)
    }
}

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

/// Picks one counter of a cache's stats.
type CacheCounter = fn(&CacheStats) -> &AtomicU64;

/// What background work reports for the gauges it refreshes.
#[derive(Debug, Default)]
pub(crate) struct Backlogs {
    /// Elevations waiting for approval.
    pub(crate) pending_approvals: AtomicU64,
    /// Webhook deliveries not yet made.
    pub(crate) webhook_outbox: AtomicU64,
    /// Break-glass uses unreviewed past their deadline.
    pub(crate) overdue_break_glass_reviews: AtomicU64,
    /// Access review items not yet decided.
    pub(crate) review_items_open: AtomicU64,
    /// Access review items past their deadline and not yet decided.
    pub(crate) review_items_overdue: AtomicU64,
}

/// The instruments of one server.
pub struct Metrics {
    provider: SdkMeterProvider,
    reader: SharedReader,
    meter: Meter,
    check_seconds: BoundHistogram<f64>,
    decisions: Vec<BoundCounter<u64>>,
    invalidations: BoundCounter<u64>,
    invalidation_lag: BoundHistogram<f64>,
    webhook_deliveries: [BoundCounter<u64>; 3],
    /// Break-glass uses, then reviews by verdict (confirmed, flagged).
    break_glass: [BoundCounter<u64>; 3],
    backlogs: Arc<Backlogs>,
}

/// How a webhook delivery attempt ended.
#[derive(Debug, Clone, Copy)]
pub(crate) enum DeliveryResult {
    /// Posted and acknowledged.
    Delivered,
    /// Failed; it will be tried again.
    Retrying,
    /// Failed for the last time.
    GivenUp,
}

impl Metrics {
    /// Instruments on a fresh meter provider.
    pub fn new() -> Arc<Metrics> {
        let reader = SharedReader::new(ManualReader::builder().build());
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .build();
        let meter = provider.meter("elevator");
        let CheckInstruments {
            check_seconds,
            decisions,
        } = CheckInstruments::new(&meter);
        let invalidations = meter
            .u64_counter("elevator_invalidations")
            .with_description(
                "Changes received from the change feed (this and other replicas' writes).",
            )
            .build()
            .bind(&[]);
        let invalidation_lag = meter
            .f64_histogram("elevator_invalidation_lag_seconds")
            .with_description("From a write's commit (database clock) to its arrival on the change feed, in seconds.")
            .with_boundaries(LAG_SECONDS.to_vec())
            .build()
            .bind(&[]);
        let deliveries = meter
            .u64_counter("elevator_webhook_deliveries")
            .with_description("Webhook delivery attempts, by outcome.")
            .build();
        let webhook_deliveries = ["delivered", "retrying", "given_up"]
            .map(|outcome| deliveries.bind(&[KeyValue::new("outcome", outcome)]));
        let break_glass = break_glass_counters(&meter);
        register_process_gauges(&meter);
        let backlogs = Arc::new(Backlogs::default());
        register_backlog_gauges(&meter, &backlogs);
        Arc::new(Metrics {
            provider,
            reader,
            meter,
            check_seconds,
            decisions,
            invalidations,
            invalidation_lag,
            webhook_deliveries,
            break_glass,
            backlogs,
        })
    }

    /// Records one Check.
    pub(crate) fn record_check(&self, decision: &Decision, took: Duration) {
        self.check_seconds.record(took.as_secs_f64());
        self.decisions[decision.reason as usize].add(1);
    }

    /// Records a change arriving on the feed, `lag` after it committed.
    pub(crate) fn record_invalidation(&self, lag: Option<Duration>) {
        self.invalidations.add(1);
        if let Some(lag) = lag {
            self.invalidation_lag.record(lag.as_secs_f64());
        }
    }

    /// Records a webhook delivery attempt.
    pub(crate) fn record_delivery(&self, result: DeliveryResult) {
        self.webhook_deliveries[result as usize].add(1);
    }

    /// Records a use of break-glass.
    pub(crate) fn record_break_glass_use(&self) {
        self.break_glass[0].add(1);
    }

    /// Records a review of a break-glass use: confirmed, or flagged.
    pub(crate) fn record_break_glass_review(&self, flagged: bool) {
        self.break_glass[if flagged { 2 } else { 1 }].add(1);
    }

    /// The gauges background work refreshes.
    pub(crate) fn backlogs(&self) -> &Backlogs {
        &self.backlogs
    }

    /// Observes the decider's caches and change feed, the store's pool, and the decision log,
    /// whenever the metrics are read. Holds them weakly: a stopped server is not kept alive.
    pub fn observe(
        &self,
        decider: &Arc<Decider>,
        store: &Arc<dyn Store>,
        decision_log: Option<&Arc<DecisionLog>>,
    ) {
        observe_caches(&self.meter, decider);
        observe_change_feed(&self.meter, decider);
        observe_pool(&self.meter, store);
        if let Some(log) = decision_log {
            observe_decision_log(&self.meter, log);
        }
    }

    /// Prometheus text of every instrument, read now.
    pub fn render(&self) -> String {
        self.reader.render()
    }
}

impl Drop for Metrics {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// The instruments every Check records into, bound once so a decision resolves no attributes.
struct CheckInstruments {
    check_seconds: BoundHistogram<f64>,
    /// One counter per [`DecisionReason`], indexed by the reason's discriminant.
    decisions: Vec<BoundCounter<u64>>,
}

impl CheckInstruments {
    fn new(meter: &Meter) -> CheckInstruments {
        let check_seconds = meter
            .f64_histogram("elevator_check_duration_seconds")
            .with_description(
                "How long Check took to decide, in seconds (CheckService and Envoy ext_authz).",
            )
            .with_boundaries(CHECK_SECONDS.to_vec())
            .build()
            .bind(&[]);
        let decisions_counter = meter
            .u64_counter("elevator_check_decisions")
            .with_description("Check decisions, by reason (allowed, no_grant, expired, ...).")
            .build();
        let decisions = DecisionReason::ALL
            .iter()
            .map(|reason| decisions_counter.bind(&[KeyValue::new("reason", reason.as_str())]))
            .collect();
        CheckInstruments {
            check_seconds,
            decisions,
        }
    }
}

/// The break-glass counters: uses, and reviews by verdict.
fn break_glass_counters(meter: &Meter) -> [BoundCounter<u64>; 3] {
    let uses = meter
        .u64_counter("elevator_break_glass_uses")
        .with_description("Break-glass uses: grants activated at once, without approval.")
        .build()
        .bind(&[]);
    let reviews = meter
        .u64_counter("elevator_break_glass_reviews")
        .with_description("Reviews of break-glass uses, by verdict (confirmed, flagged).")
        .build();
    [
        uses,
        reviews.bind(&[KeyValue::new("verdict", "confirmed")]),
        reviews.bind(&[KeyValue::new("verdict", "flagged")]),
    ]
}

/// Gauges about the process itself: which build runs, and its memory.
fn register_process_gauges(meter: &Meter) {
    let _build_info = meter
        .u64_observable_gauge("elevator_build_info")
        .with_description("Always 1; the labels say which build is running.")
        .with_callback(|observer| {
            observer.observe(1, &[KeyValue::new("version", env!("CARGO_PKG_VERSION"))])
        })
        .build();
    let _heap = meter
        .u64_observable_gauge("elevator_heap_live_bytes")
        .with_description("Bytes allocated and not yet freed, counted by the global allocator (absent when it does not count).")
        .with_callback(|observer| {
            if let Some(bytes) = super::heap::live_bytes() {
                observer.observe(bytes, &[]);
            }
        })
        .build();
    let _resident = meter
        .u64_observable_gauge("elevator_resident_memory_bytes")
        .with_description("The process's resident memory (VmRSS), in bytes.")
        .with_callback(|observer| {
            if let Some(bytes) = super::heap::resident_bytes() {
                observer.observe(bytes, &[]);
            }
        })
        .build();
}

/// A gauge `name` that reports `read` of `observed` while it lives; held weakly, so the gauge
/// keeps nothing alive and reports nothing once it is gone.
fn weak_gauge<T: ?Sized + Send + Sync + 'static>(
    meter: &Meter,
    name: &'static str,
    description: &'static str,
    observed: &Arc<T>,
    read: fn(&T) -> u64,
) {
    let weak = Arc::downgrade(observed);
    let _ = meter
        .u64_observable_gauge(name)
        .with_description(description)
        .with_callback(move |observer| {
            if let Some(observed) = weak.upgrade() {
                observer.observe(read(&observed), &[]);
            }
        })
        .build();
}

/// Gauges that show what background work last counted in `backlogs` (held weakly).
fn register_backlog_gauges(meter: &Meter, backlogs: &Arc<Backlogs>) {
    weak_gauge(
        meter,
        "elevator_pending_approvals",
        "Elevations waiting for approval (refreshed every second).",
        backlogs,
        |backlogs| backlogs.pending_approvals.load(Ordering::Relaxed),
    );
    weak_gauge(
        meter,
        "elevator_webhook_outbox",
        "Webhook deliveries waiting to be made (refreshed every second).",
        backlogs,
        |backlogs| backlogs.webhook_outbox.load(Ordering::Relaxed),
    );
    weak_gauge(
        meter,
        "elevator_break_glass_overdue_reviews",
        "Break-glass uses unreviewed past their review deadline (refreshed every second).",
        backlogs,
        |backlogs| backlogs.overdue_break_glass_reviews.load(Ordering::Relaxed),
    );
    weak_gauge(
        meter,
        "elevator_review_items_open",
        "Access review items not yet decided (refreshed every second).",
        backlogs,
        |backlogs| backlogs.review_items_open.load(Ordering::Relaxed),
    );
    weak_gauge(
        meter,
        "elevator_review_items_overdue",
        "Access review items past their deadline, waiting for the sweeper's default (refreshed every second).",
        backlogs,
        |backlogs| backlogs.review_items_overdue.load(Ordering::Relaxed),
    );
}

/// The decision caches' counters and sizes, labelled by cache.
fn observe_caches(meter: &Meter, decider: &Arc<Decider>) {
    let cache_counters: [(&str, &str, CacheCounter); 4] = [
        (
            "elevator_cache_hits",
            "Lookups answered from the cache.",
            |s| &s.hits,
        ),
        (
            "elevator_cache_misses",
            "Lookups the cache did not hold (or held stale).",
            |s| &s.misses,
        ),
        (
            "elevator_cache_loads",
            "Loads from the store into the cache.",
            |s| &s.loads,
        ),
        (
            "elevator_cache_read_throughs",
            "Lookups that bypassed the cache because it could not be trusted.",
            |s| &s.read_throughs,
        ),
    ];
    for (name, description, counter) in cache_counters {
        let weak = Arc::downgrade(decider);
        let _ = meter
            .u64_observable_counter(name)
            .with_description(description)
            .with_callback(move |observer| {
                let Some(decider) = weak.upgrade() else {
                    return;
                };
                for cache in decider.cache_reports() {
                    let value = counter(cache.stats).load(Ordering::Relaxed);
                    observer.observe(value, &[KeyValue::new("cache", cache.name)]);
                }
            })
            .build();
    }
    let weak = Arc::downgrade(decider);
    let _ = meter
        .u64_observable_gauge("elevator_cache_entries")
        .with_description("Subjects cached now.")
        .with_callback(move |observer| {
            if let Some(decider) = weak.upgrade() {
                for cache in decider.cache_reports() {
                    observer.observe(cache.entries, &[KeyValue::new("cache", cache.name)]);
                }
            }
        })
        .build();
}

/// Whether the change feed is connected (and the caches trusted), and how the stored
/// directory was kept current.
fn observe_change_feed(meter: &Meter, decider: &Arc<Decider>) {
    weak_gauge(
        meter,
        "elevator_change_feed_listening",
        "1 while the change feed is connected and caches are trusted, 0 while checks read through.",
        decider,
        |decider| u64::from(decider.freshness().is_listening()),
    );
    let weak = Arc::downgrade(decider);
    let _ = meter
        .u64_observable_counter("elevator_directory_refreshes")
        .with_description(
            "Refreshes of the stored directory: whole reloads, and incremental ones reading only the entities a write named.",
        )
        .with_callback(move |observer| {
            if let Some(decider) = weak.upgrade() {
                let refreshes = decider.directory_refreshes();
                observer.observe(refreshes.full, &[KeyValue::new("kind", "full")]);
                observer.observe(refreshes.incremental, &[KeyValue::new("kind", "incremental")]);
            }
        })
        .build();
}

/// The PostgreSQL pool's connections (nothing for a store without a pool).
fn observe_pool(meter: &Meter, store: &Arc<dyn Store>) {
    let weak = Arc::downgrade(store);
    let _ = meter
        .u64_observable_gauge("elevator_db_pool_connections")
        .with_description("PostgreSQL pool connections: open, idle and the maximum.")
        .with_callback(move |observer| {
            let Some(status) = weak.upgrade().and_then(|store| store.pool_status()) else {
                return;
            };
            for (state, value) in [
                ("open", status.open),
                ("idle", status.idle),
                ("max", status.max),
            ] {
                observer.observe(value as u64, &[KeyValue::new("state", state)]);
            }
        })
        .build();
}

/// The decision log's queue depth and the decisions it dropped.
fn observe_decision_log(meter: &Meter, log: &Arc<DecisionLog>) {
    weak_gauge(
        meter,
        "elevator_decision_log_queue_depth",
        "Decisions waiting to be written to the decision log.",
        log,
        |log| log.depth() as u64,
    );
    let weak = Arc::downgrade(log);
    let _ = meter
        .u64_observable_counter("elevator_decision_log_dropped")
        .with_description("Decisions dropped because the decision log's queue was full.")
        .with_callback(move |observer| {
            if let Some(log) = weak.upgrade() {
                observer.observe(log.dropped(), &[]);
            }
        })
        .build();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_count_by_reason_and_fill_the_histogram() {
        let metrics = Metrics::new();
        let deny = Decision::deny(DecisionReason::Revoked, 3);
        metrics.record_check(&deny, Duration::from_micros(3));
        metrics.record_check(&deny, Duration::from_millis(2));
        metrics.record_delivery(DeliveryResult::GivenUp);
        metrics
            .backlogs()
            .pending_approvals
            .store(4, Ordering::Relaxed);
        let text = metrics.render();
        assert!(
            text.contains("elevator_check_decisions_total{reason=\"revoked\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("elevator_check_decisions_total{reason=\"allowed\"} 0\n"),
            "{text}"
        );
        assert!(
            text.contains("elevator_check_duration_seconds_bucket{le=\"0.000005\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("elevator_check_duration_seconds_count 2\n"),
            "{text}"
        );
        assert!(
            text.contains("elevator_webhook_deliveries_total{outcome=\"given_up\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("elevator_pending_approvals 4\n"), "{text}");
        assert!(text.contains("elevator_build_info{version=\""), "{text}");
    }
}
