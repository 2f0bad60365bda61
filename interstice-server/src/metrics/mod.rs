//! The node's metrics, in Prometheus' text format (`GET /metrics`).
//!
//! Calls are counted and timed here, as the HTTP layer sees them; the
//! runtime's own figures (per reducer and per table: [`runtime`]; the
//! log's: [`log`]) are read from it at each scrape. Labels are module,
//! reducer, table and error code only, so the series are bounded by the
//! modules installed.

mod log;
mod runtime;

use std::time::{Duration, Instant};

use interstice_core::Runtime;
use interstice_core::observe::{DURATION_BOUNDS_MICROS, HistogramSample};
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The label on call counts: how the call ended.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

/// What the node measures.
pub struct Metrics {
    registry: Registry,
    calls: Family<Outcome, Counter>,
    call_seconds: Histogram,
    /// Client subscriptions open now.
    pub subscribers: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

/// How long starting took, for the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplaySummary {
    /// Commits replayed.
    pub commits: u64,
    /// Time the replay took.
    pub duration: Duration,
}

impl Metrics {
    /// Metrics for a node over `runtime`, which started after `replay`.
    pub fn new(runtime: Runtime, replay: ReplaySummary) -> Self {
        let mut registry = Registry::with_prefix("interstice");
        let calls = Family::<Outcome, Counter>::default();
        registry.register(
            "calls",
            "Reducer calls over HTTP, by outcome (committed, unchanged, or the error code)",
            calls.clone(),
        );
        // 50 us to about 3.3 s.
        let call_seconds = Histogram::new(exponential_buckets(50e-6, 2.0, 17));
        registry.register(
            "call_duration_seconds",
            "Time from receiving a call to answering it (after its commit is durable)",
            call_seconds.clone(),
        );
        let subscribers = Gauge::default();
        registry.register(
            "subscribers",
            "Client subscriptions open now",
            subscribers.clone(),
        );
        registry.register_collector(Box::new(log::LogCollector {
            runtime: runtime.clone(),
            replay,
            started: Instant::now(),
        }));
        registry.register_collector(Box::new(runtime::RuntimeCollector { runtime }));
        Self {
            registry,
            calls,
            call_seconds,
            subscribers,
        }
    }

    /// Counts a call that ended with `outcome` after `took`.
    pub fn call(&self, outcome: &'static str, took: Duration) {
        self.calls.get_or_create(&Outcome { outcome }).inc();
        self.call_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

fn counter(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: u64,
) -> Result<(), std::fmt::Error> {
    let c = ConstCounter::new(value);
    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)
}

fn gauge<N>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: N,
) -> Result<(), std::fmt::Error>
where
    ConstGauge<N>: EncodeMetric,
{
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

/// Encodes a duration histogram of the runtime's (buckets in
/// microseconds) in seconds.
fn duration_histogram(m: &mut MetricEncoder, h: &HistogramSample) -> Result<(), std::fmt::Error> {
    let buckets: Vec<(f64, u64)> = DURATION_BOUNDS_MICROS
        .iter()
        .map(|&b| b as f64 / 1e6)
        .chain([f64::INFINITY])
        .zip(h.counts.iter().copied())
        .collect();
    m.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
        h.sum_micros as f64 / 1e6,
        h.count(),
        &buckets,
        None,
    )
}
