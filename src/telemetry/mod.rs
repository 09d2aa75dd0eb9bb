//! Telemetry. Traces: every RPC, use case and store transaction is a `tracing` span; `elevator
//! serve` exports them through OpenTelemetry OTLP (gRPC) when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, honouring the standard `OTEL_*` variables
//! (service name, resource attributes, sampler, batch settings, headers, timeout). W3C trace
//! context from the caller's `traceparent` becomes the parent of the RPC span. Logs: [`logs`]
//! (text or JSON lines); without an exporter, span callsites are disabled but for the one span
//! per RPC that JSON logs carry.
//!
//! Metrics: [`metrics`], per server, rendered by [`prometheus`] for the admin port; live heap
//! and resident memory from [`heap`].

pub mod heap;
pub mod logs;
pub mod metrics;
pub(crate) mod prometheus;

pub use logs::LogFormat;

use std::sync::Arc;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{Layer, Registry};

/// Whether the standard variables ask for trace export.
pub(crate) fn otlp_requested(env: impl Fn(&str) -> Option<String>) -> bool {
    let disabled = env("OTEL_SDK_DISABLED").is_some_and(|value| value.eq_ignore_ascii_case("true"))
        || env("OTEL_TRACES_EXPORTER").is_some_and(|value| value == "none");
    let endpoint = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| env(name).is_some_and(|value| !value.is_empty()));
    endpoint && !disabled
}

/// The process-wide tracing set-up of `elevator serve`; [`TracingGuard::shutdown`] flushes
/// what is still batched.
pub(crate) struct TracingGuard {
    provider: Option<SdkTracerProvider>,
}

impl TracingGuard {
    /// Exports what is batched and stops. Blocks: call it off the async workers.
    pub(crate) fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: flushing traces failed: {error}");
        }
    }
}

/// The subscriber `elevator serve` runs with when nothing asks for trace export, in text (the
/// benchmarks measure the hot path under it).
pub fn logs_only() -> impl tracing::Subscriber + Send + Sync {
    logs::logs_only(LogFormat::Text)
}

/// Installs the global subscriber: logs in `format` (filtered by `RUST_LOG`, default `info`)
/// and, when requested, OTLP trace export. Must run inside the Tokio runtime that will outlive
/// serving.
pub(crate) fn init_tracing(format: LogFormat) -> anyhow::Result<TracingGuard> {
    if !otlp_requested(|name| std::env::var(name).ok()) {
        logs::logs_only(format).try_init()?;
        return Ok(TracingGuard { provider: None });
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .build()?;
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("elevator");
    }
    let provider = SdkTracerProvider::builder()
        .with_resource(resource.build())
        .with_batch_exporter(OnRuntime {
            exporter: Arc::new(exporter),
            runtime: tokio::runtime::Handle::current(),
        })
        .build();
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("elevator"))
        .with_filter(
            Targets::new()
                .with_target("elevator", tracing::Level::INFO)
                .with_default(tracing::Level::WARN),
        );
    Registry::default()
        .with(logs::stdout_layer(format))
        .with(traces)
        .try_init()?;
    tracing::info!("exporting traces through OTLP");
    Ok(TracingGuard {
        provider: Some(provider),
    })
}

/// Runs the OTLP exporter's calls on the server's runtime: the SDK's batch processor exports
/// from its own thread, where tonic would find no reactor.
#[derive(Debug)]
struct OnRuntime {
    exporter: Arc<opentelemetry_otlp::SpanExporter>,
    runtime: tokio::runtime::Handle,
}

impl SpanExporter for OnRuntime {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let exporter = self.exporter.clone();
        let exported = self
            .runtime
            .spawn(async move { exporter.export(batch).await });
        async move {
            exported
                .await
                .unwrap_or_else(|error| Err(OTelSdkError::InternalFailure(error.to_string())))
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called once, while the provider is built and nothing else holds the exporter.
        if let Some(exporter) = Arc::get_mut(&mut self.exporter) {
            exporter.set_resource(resource);
        }
    }
}

/// Reads W3C trace context from request headers.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Makes the caller's `traceparent` (if any) the parent of `span`. Free when `span` is
/// disabled, as it is without an exporter.
pub(crate) fn continue_trace(span: &Span, headers: &http::HeaderMap) {
    if span.is_disabled() || !headers.contains_key("traceparent") {
        return;
    }
    let parent = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(parent);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_needs_an_endpoint_and_no_opt_out() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
            }
        };
        assert!(!otlp_requested(env(&[])));
        assert!(otlp_requested(env(&[(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://collector:4317"
        )])));
        assert!(otlp_requested(env(&[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://collector:4317"
        )])));
        assert!(!otlp_requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_SDK_DISABLED", "true"),
        ])));
        assert!(!otlp_requested(env(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])));
    }
}
