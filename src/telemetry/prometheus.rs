//! Prometheus text exposition (format 0.0.4) of what an OpenTelemetry reader collected.
//! Monotonic sums become counters (`_total`), other sums and gauges become gauges, explicit
//! histograms become cumulative `_bucket`/`_sum`/`_count` series. Names are expected to be
//! Prometheus-shaped already (`elevator_check_duration_seconds`); anything else is replaced
//! by `_`.

use std::fmt::Write;

use opentelemetry::KeyValue;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};

/// The content type of [`encode`]'s output.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Renders every metric in `metrics`.
pub(crate) fn encode(metrics: &ResourceMetrics) -> String {
    let mut out = String::new();
    for scope in metrics.scope_metrics() {
        for metric in scope.metrics() {
            match metric.data() {
                AggregatedMetrics::F64(data) => encode_metric(&mut out, metric, data),
                AggregatedMetrics::U64(data) => encode_metric(&mut out, metric, data),
                AggregatedMetrics::I64(data) => encode_metric(&mut out, metric, data),
            }
        }
    }
    out
}

/// A sample value as Prometheus writes it.
trait SampleValue: Copy {
    fn render(self) -> String;
}

impl SampleValue for f64 {
    fn render(self) -> String {
        if self.is_nan() {
            "NaN".into()
        } else if self.is_infinite() {
            if self > 0.0 { "+Inf" } else { "-Inf" }.into()
        } else {
            self.to_string()
        }
    }
}

impl SampleValue for u64 {
    fn render(self) -> String {
        self.to_string()
    }
}

impl SampleValue for i64 {
    fn render(self) -> String {
        self.to_string()
    }
}

fn encode_metric<T: SampleValue>(out: &mut String, metric: &Metric, data: &MetricData<T>) {
    let name = sanitize(metric.name());
    match data {
        MetricData::Gauge(gauge) => {
            header(out, &name, metric.description(), "gauge");
            for point in gauge.data_points() {
                sample(out, &name, point.attributes(), None, point.value().render());
            }
        }
        MetricData::Sum(sum) => {
            let (series, kind) = if sum.is_monotonic() {
                (
                    if name.ends_with("_total") {
                        name.clone()
                    } else {
                        format!("{name}_total")
                    },
                    "counter",
                )
            } else {
                (name.clone(), "gauge")
            };
            header(out, &series, metric.description(), kind);
            for point in sum.data_points() {
                sample(
                    out,
                    &series,
                    point.attributes(),
                    None,
                    point.value().render(),
                );
            }
        }
        MetricData::Histogram(histogram) => {
            header(out, &name, metric.description(), "histogram");
            for point in histogram.data_points() {
                let mut cumulative = 0u64;
                let bounds: Vec<f64> = point.bounds().collect();
                for (index, count) in point.bucket_counts().enumerate() {
                    cumulative += count;
                    let le = bounds.get(index).map_or("+Inf".into(), |b| b.render());
                    sample(
                        out,
                        &format!("{name}_bucket"),
                        point.attributes(),
                        Some(("le", &le)),
                        cumulative.to_string(),
                    );
                }
                sample(
                    out,
                    &format!("{name}_sum"),
                    point.attributes(),
                    None,
                    point.sum().render(),
                );
                sample(
                    out,
                    &format!("{name}_count"),
                    point.attributes(),
                    None,
                    point.count().to_string(),
                );
            }
        }
        // Not used by elevator: exponential histograms have no text form.
        MetricData::ExponentialHistogram(_) => {}
    }
}

fn header(out: &mut String, name: &str, description: &str, kind: &str) {
    let help = description.replace('\\', "\\\\").replace('\n', "\\n");
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample<'a>(
    out: &mut String,
    name: &str,
    attributes: impl Iterator<Item = &'a KeyValue>,
    extra: Option<(&str, &str)>,
    value: String,
) {
    let mut labels: Vec<(String, String)> = attributes
        .map(|kv| (sanitize(kv.key.as_str()), kv.value.as_str().into_owned()))
        .collect();
    labels.sort();
    if let Some((key, value)) = extra {
        labels.push((key.to_owned(), value.to_owned()));
    }
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (key, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let escaped = value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            let _ = write!(out, "{key}=\"{escaped}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// A Prometheus metric or label name: letters, digits and `_` (and `:` for metrics), not
/// starting with a digit.
fn sanitize(name: &str) -> String {
    let mut sanitized: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if sanitized.starts_with(|c: char| c.is_ascii_digit()) {
        sanitized.insert(0, '_');
    }
    sanitized
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::metrics::MeterProvider;
    use opentelemetry_sdk::metrics::{ManualReader, SdkMeterProvider};

    use crate::telemetry::metrics::SharedReader;

    #[test]
    fn counters_gauges_and_histograms_render_as_prometheus_text() {
        let reader = SharedReader::new(ManualReader::builder().build());
        let provider = SdkMeterProvider::builder()
            .with_reader(reader.clone())
            .build();
        let meter = provider.meter("test");
        let counter = meter
            .u64_counter("demo_decisions")
            .with_description("decisions")
            .build();
        counter.add(2, &[KeyValue::new("reason", "no_grant")]);
        counter.add(1, &[KeyValue::new("reason", "say \"hi\"\n")]);
        let histogram = meter
            .f64_histogram("demo_duration_seconds")
            .with_description("how long")
            .with_boundaries(vec![0.001, 0.01])
            .build();
        for value in [0.0005, 0.005, 0.5] {
            histogram.record(value, &[]);
        }
        let _gauge = meter
            .i64_observable_gauge("demo_listening")
            .with_description("feed up")
            .with_callback(|observer| observer.observe(1, &[]))
            .build();

        let text = reader.render();
        assert!(
            text.contains("# TYPE demo_decisions_total counter\n"),
            "{text}"
        );
        assert!(
            text.contains("demo_decisions_total{reason=\"no_grant\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("demo_decisions_total{reason=\"say \\\"hi\\\"\\n\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE demo_duration_seconds histogram\n"),
            "{text}"
        );
        assert!(
            text.contains("demo_duration_seconds_bucket{le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("demo_duration_seconds_bucket{le=\"0.01\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("demo_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("demo_duration_seconds_count 3\n"), "{text}");
        assert!(text.contains("demo_duration_seconds_sum 0.5055"), "{text}");
        assert!(
            text.contains("# TYPE demo_listening gauge\ndemo_listening 1\n"),
            "{text}"
        );
    }

    #[test]
    fn names_are_made_prometheus_safe() {
        assert_eq!(sanitize("db.pool-size"), "db_pool_size");
        assert_eq!(sanitize("9lives"), "_9lives");
    }
}
