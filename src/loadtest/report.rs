//! What a load run measured: counts, errors by gRPC status, and latency percentiles from an
//! HDR histogram (microseconds, 3 significant digits), as text or JSON.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies of one kind of operation.
pub(super) struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // 1 µs to 60 s at 3 significant digits.
        Latencies(Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds"))
    }
}

impl Latencies {
    /// Records one latency.
    pub(super) fn record(&mut self, latency: Duration) {
        let micros = (latency.as_micros() as u64).clamp(1, 60_000_000);
        self.0.saturating_record(micros);
    }

    /// Adds `other`'s latencies.
    pub(super) fn merge(&mut self, other: &Latencies) {
        self.0.add(&other.0).expect("histograms of equal bounds");
    }

    /// How many were recorded.
    pub(super) fn count(&self) -> u64 {
        self.0.len()
    }

    fn percentiles(&self) -> Percentiles {
        let at = |quantile: f64| self.0.value_at_quantile(quantile);
        Percentiles {
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: self.0.max(),
            mean: self.0.mean().round() as u64,
        }
    }
}

/// What one worker counted.
#[derive(Default)]
pub(super) struct Tally {
    /// Check (or other read) latencies.
    pub(super) reads: Latencies,
    /// Write latencies (request and approve), in mixed runs.
    pub(super) writes: Latencies,
    /// Checks answered allowed.
    pub(super) allowed: u64,
    /// Checks answered denied.
    pub(super) denied: u64,
    /// Failed calls by gRPC status code name.
    pub(super) errors: BTreeMap<String, u64>,
}

impl Tally {
    /// Adds `other`.
    pub(super) fn merge(&mut self, other: &Tally) {
        self.reads.merge(&other.reads);
        self.writes.merge(&other.writes);
        self.allowed += other.allowed;
        self.denied += other.denied;
        for (code, count) in &other.errors {
            *self.errors.entry(code.clone()).or_default() += count;
        }
    }

    /// Counts a failed call.
    pub(super) fn error(&mut self, code: tonic::Code) {
        *self.errors.entry(format!("{code:?}")).or_default() += 1;
    }
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
    /// Mean.
    pub mean: u64,
}

/// One kind of operation's results.
#[derive(Debug, Clone, Serialize)]
pub struct Operations {
    /// Completed without error.
    pub ok: u64,
    /// Per second over the measured window.
    pub throughput: f64,
    /// Latency, microseconds.
    pub latency_us: Percentiles,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What was driven.
    pub mode: String,
    /// Where.
    pub target: String,
    /// `closed` (N in flight) or `open` (a fixed rate).
    pub pacing: String,
    /// The rate asked for, per second, in an open loop.
    pub rate: Option<f64>,
    /// Requests in flight (closed loop) or workers (open loop).
    pub concurrency: usize,
    /// HTTP/2 connections.
    pub connections: usize,
    /// The measured window, seconds.
    pub seconds: f64,
    /// Reads (Checks, or the raw call).
    pub reads: Operations,
    /// Writes, in mixed runs.
    pub writes: Option<Operations>,
    /// Checks allowed.
    pub allowed: u64,
    /// Checks denied.
    pub denied: u64,
    /// Failed calls by gRPC status; never counted as latency.
    pub errors: BTreeMap<String, u64>,
}

impl Report {
    /// A report of `tally` over `window`.
    pub(super) fn new(
        header: ReportHeader,
        tally: &Tally,
        window: Duration,
        with_writes: bool,
    ) -> Report {
        let seconds = window.as_secs_f64().max(f64::EPSILON);
        let operations = |latencies: &Latencies| Operations {
            ok: latencies.count(),
            throughput: latencies.count() as f64 / seconds,
            latency_us: latencies.percentiles(),
        };
        Report {
            mode: header.mode,
            target: header.target,
            pacing: header.pacing,
            rate: header.rate,
            concurrency: header.concurrency,
            connections: header.connections,
            seconds,
            reads: operations(&tally.reads),
            writes: with_writes.then(|| operations(&tally.writes)),
            allowed: tally.allowed,
            denied: tally.denied,
            errors: tally.errors.clone(),
        }
    }

    /// Human-readable text.
    pub(super) fn text(&self) -> String {
        let ms = |micros: u64| format!("{:.3}ms", micros as f64 / 1000.0);
        let line = |name: &str, ops: &Operations| {
            let p = &ops.latency_us;
            format!(
                "{name:<7} {} ok ({:.0}/s)   p50 {}  p90 {}  p99 {}  p99.9 {}  max {}\n",
                ops.ok,
                ops.throughput,
                ms(p.p50),
                ms(p.p90),
                ms(p.p99),
                ms(p.p999),
                ms(p.max)
            )
        };
        let pacing = match self.rate {
            Some(rate) => format!("open loop at {rate:.0}/s, {} workers", self.concurrency),
            None => format!("closed loop, {} in flight", self.concurrency),
        };
        let mut text = format!(
            "{} against {}: {pacing} over {} connection(s), {:.1}s measured\n",
            self.mode, self.target, self.connections, self.seconds
        );
        text.push_str(&line("reads", &self.reads));
        if let Some(writes) = &self.writes {
            text.push_str(&line("writes", writes));
        }
        if self.allowed + self.denied > 0 {
            text.push_str(&format!(
                "checks  {} allowed, {} denied\n",
                self.allowed, self.denied
            ));
        }
        if self.errors.is_empty() {
            text.push_str("errors  none\n");
        } else {
            let listed: Vec<String> = self
                .errors
                .iter()
                .map(|(code, count)| format!("{code} {count}"))
                .collect();
            text.push_str(&format!("errors  {}\n", listed.join(", ")));
        }
        text
    }
}

/// How the run was set up, for the report.
pub(super) struct ReportHeader {
    /// Mode name.
    pub(super) mode: String,
    /// Target address.
    pub(super) target: String,
    /// `closed` or `open`.
    pub(super) pacing: String,
    /// Open-loop rate.
    pub(super) rate: Option<f64>,
    /// In flight or workers.
    pub(super) concurrency: usize,
    /// Connections.
    pub(super) connections: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_recorded_latencies_and_errors_stay_apart() {
        let mut tally = Tally::default();
        for micros in 1..=1000u64 {
            tally.reads.record(Duration::from_micros(micros));
        }
        tally.error(tonic::Code::Unavailable);
        tally.allowed = 990;
        tally.denied = 10;
        let report = Report::new(
            ReportHeader {
                mode: "check".into(),
                target: "127.0.0.1:50051".into(),
                pacing: "closed".into(),
                rate: None,
                concurrency: 8,
                connections: 1,
            },
            &tally,
            Duration::from_secs(2),
            false,
        );
        assert_eq!(report.reads.ok, 1000);
        assert_eq!(report.reads.throughput, 500.0);
        assert_eq!(report.reads.latency_us.p50, 500);
        assert_eq!(report.reads.latency_us.p99, 990);
        assert_eq!(report.reads.latency_us.max, 1000);
        assert_eq!(report.errors["Unavailable"], 1);
        let text = report.text();
        assert!(text.contains("p99 0.990ms"), "{text}");
        assert!(text.contains("errors  Unavailable 1"), "{text}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["reads"]["latency_us"]["p999"], 999);
    }
}
