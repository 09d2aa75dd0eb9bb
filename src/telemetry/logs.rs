//! The log layer of `elevator serve`, on standard output, filtered by `RUST_LOG` (default
//! `info`). Two formats (`log.format`):
//!
//! - `text`, for people: one line per event, coloured only when standard output is a terminal
//!   (and `NO_COLOR` is unset), so a file, a pipe or `kubectl logs` never carries ANSI escapes;
//! - `json`, for log shippers: one JSON object per line, the event's fields flattened beside
//!   `timestamp`, `level`, `target` and `message`, and `span` holding the fields of the RPC it
//!   happened in (`rpc.service`, `rpc.method`, `request_id`, ...).
//!
//! Text takes events only, so span callsites stay disabled and the hot path pays one cached
//! interest check per span (without an exporter). JSON also enables the one span per RPC that
//! the gRPC edge opens (see [`crate::api::context`]), so each line says which call it belongs
//! to; the spans inside a call stay disabled.

use std::io::IsTerminal;

use serde::{Deserialize, Serialize};
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::filter::{EnvFilter, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Filter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The name and target prefix of the span the gRPC edge opens for every call.
const RPC_SPAN_NAME: &str = "grpc";
const RPC_SPAN_TARGET: &str = "elevator::api";

/// Which callsites the log layer takes: events, and in JSON mode the per-RPC span too.
struct LogCallsites {
    rpc_spans: bool,
}

impl LogCallsites {
    fn takes(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event()
            || (self.rpc_spans
                && metadata.name() == RPC_SPAN_NAME
                && metadata.target().starts_with(RPC_SPAN_TARGET))
    }
}

impl<S> Filter<S> for LogCallsites {
    fn enabled(&self, metadata: &Metadata<'_>, _: &Context<'_, S>) -> bool {
        self.takes(metadata)
    }

    fn callsite_enabled(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.takes(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }
}

/// Whether text logs on standard output may carry colour.
fn colour_on_stdout() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The `RUST_LOG` filter, `info` when unset or unreadable.
fn env_filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"))
}

/// The log layer in `format`, writing to `writer`, with colour when `ansi` (text only).
pub(crate) fn layer<S, W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(ansi)
            .with_filter(filter.and(LogCallsites { rpc_spans: false }))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .with_writer(writer)
            .with_filter(filter.and(LogCallsites { rpc_spans: true }))
            .boxed(),
    }
}

/// The log layer `elevator serve` runs with: standard output, `RUST_LOG`, colour on a terminal.
pub(crate) fn stdout_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    layer(format, env_filter(), std::io::stdout, colour_on_stdout())
}

/// A subscriber with only the log layer.
pub(crate) fn logs_only(format: LogFormat) -> impl Subscriber + Send + Sync {
    use tracing_subscriber::layer::SubscriberExt;
    Registry::default().with(stdout_layer(format))
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// A writer into a shared buffer.
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Buffer {
        type Writer = Buffer;

        fn make_writer(&'w self) -> Buffer {
            self.clone()
        }
    }

    /// What `format` writes for one event inside an RPC span and one outside any span.
    fn logged(format: LogFormat, ansi: bool) -> String {
        let buffer = Buffer::default();
        let layer = layer(format, EnvFilter::new("info"), buffer.clone(), ansi);
        let subscriber = Registry::default().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let rpc = tracing::info_span!(
                target: "elevator::api::context",
                "grpc",
                rpc.service = "elevator.v1.PolicyService",
                rpc.method = "PutPolicy",
                request_id = "req-1",
            );
            rpc.in_scope(|| {
                // A span inside the call is not logged, but its events are.
                let inner = tracing::info_span!("put_policy", hidden = "inner");
                inner.in_scope(|| tracing::info!(version = 2, "policy put\nthrough the API"));
            });
            tracing::warn!("outside any call");
        });
        String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn json_lines_are_one_object_each_with_the_rpc_spans_fields() {
        let text = logged(LogFormat::Json, true);
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is one JSON object"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["message"], "policy put\nthrough the API");
        assert_eq!(lines[0]["version"], 2);
        assert_eq!(lines[0]["span"]["name"], "grpc");
        assert_eq!(lines[0]["span"]["rpc.method"], "PutPolicy");
        assert_eq!(lines[0]["span"]["request_id"], "req-1");
        assert!(!text.contains("inner"), "{text}");
        assert!(lines[0]["timestamp"].is_string());
        assert_eq!(lines[1]["message"], "outside any call");
        assert!(lines[1].get("span").is_none(), "{text}");
        assert!(!text.contains('\u{1b}'), "{text:?}");
    }

    #[test]
    fn text_lines_carry_colour_only_when_asked() {
        assert!(!logged(LogFormat::Text, false).contains('\u{1b}'));
        assert!(logged(LogFormat::Text, true).contains('\u{1b}'));
    }

    #[test]
    fn log_format_reads_text_or_json_and_nothing_else() {
        let read = |text: &str| serde_yaml::from_str::<LogFormat>(text);
        assert_eq!(read("text").unwrap(), LogFormat::Text);
        assert_eq!(read("json").unwrap(), LogFormat::Json);
        assert!(read("JSON-lines").is_err());
    }
}
