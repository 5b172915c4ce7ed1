//! The service's Prometheus metrics, one set per process: captures accepted, captures
//! rejected by reason, the capture writer's batch sizes, replay attempt outcomes, and event
//! streams (opened, open now). Every role updates them through the functions below; the
//! server exposes them as Prometheus text on `--metrics-listen` only.
//!
//! They live in one process-wide registry rather than being handed through every
//! constructor: a process runs one service, and a metric is about the process.

use std::sync::LazyLock;

use prometheus_client::encoding::{text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

struct Metrics {
    registry: Registry,
    captures: Counter,
    rejects: Family<Reason, Counter>,
    batch_sizes: Histogram,
    replays: Family<Outcome, Counter>,
    streams_opened: Counter,
    streams_open: Gauge,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("hookvault");
    let captures = Counter::default();
    registry.register(
        "captures_accepted",
        "Captures stored and acknowledged to their sender",
        captures.clone(),
    );
    let rejects = Family::<Reason, Counter>::default();
    registry.register(
        "capture_rejects",
        "Capture requests answered without storing, by reason",
        rejects.clone(),
    );
    // 1, 2, 4, … 1024 captures per INSERT.
    let batch_sizes = Histogram::new(exponential_buckets(1.0, 2.0, 11));
    registry.register(
        "writer_batch_size",
        "Captures written per batched INSERT",
        batch_sizes.clone(),
    );
    let replays = Family::<Outcome, Counter>::default();
    registry.register(
        "replay_attempts",
        "Replay attempts by outcome (succeeded, failed, retrying), including hookvault listen results",
        replays.clone(),
    );
    let streams_opened = Counter::default();
    registry.register(
        "streams_opened",
        "Event streams opened (live lists and hookvault listen)",
        streams_opened.clone(),
    );
    let streams_open = Gauge::default();
    registry.register(
        "streams_open",
        "Event streams open now (live lists and hookvault listen)",
        streams_open.clone(),
    );
    Metrics {
        registry,
        captures,
        rejects,
        batch_sizes,
        replays,
        streams_opened,
        streams_open,
    }
});

/// A capture was stored and acknowledged.
pub fn capture_accepted() {
    METRICS.captures.inc();
}

/// A capture request was answered without storing it (`reason`: a fixed word such as
/// `unknown_endpoint`, `too_large`, `quota`, `unavailable`).
pub fn capture_rejected(reason: &'static str) {
    METRICS.rejects.get_or_create(&Reason { reason }).inc();
}

/// The writer inserted `n` captures in one statement.
pub fn writer_batch(n: usize) {
    METRICS.batch_sizes.observe(n as f64);
}

/// A replay attempt ended: `succeeded`, `failed` or `retrying`.
pub fn replay_attempt(outcome: &'static str) {
    METRICS.replays.get_or_create(&Outcome { outcome }).inc();
}

/// An event stream opened; the returned guard marks it closed when dropped.
pub fn stream_opened() -> StreamGuard {
    METRICS.streams_opened.inc();
    METRICS.streams_open.inc();
    StreamGuard(())
}

/// Counts an open stream until dropped.
#[derive(Debug)]
pub struct StreamGuard(());

impl Drop for StreamGuard {
    fn drop(&mut self) {
        METRICS.streams_open.dec();
    }
}

/// Every metric in the Prometheus text format (OpenMetrics).
pub fn render() -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = text::encode(&mut out, &METRICS.registry);
    out
}

/// The Content-Type of [`render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_exposition_with_their_labels() {
        capture_accepted();
        capture_rejected("too_large");
        writer_batch(3);
        replay_attempt("succeeded");
        let guard = stream_opened();
        let text = render();
        assert!(
            text.contains("hookvault_captures_accepted_total "),
            "{text}"
        );
        assert!(
            text.contains("hookvault_capture_rejects_total{reason=\"too_large\"} "),
            "{text}"
        );
        assert!(
            text.contains("hookvault_writer_batch_size_bucket{le=\"4.0\"} "),
            "{text}"
        );
        assert!(
            text.contains("hookvault_replay_attempts_total{outcome=\"succeeded\"} "),
            "{text}"
        );
        assert!(text.contains("hookvault_streams_open 1"), "{text}");
        drop(guard);
        assert!(render().contains("hookvault_streams_open 0"));
    }
}
