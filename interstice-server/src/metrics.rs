//! The node's metrics, in Prometheus' text format (`GET /metrics`).
//!
//! Calls are counted and timed here, as the HTTP layer sees them; the log's
//! figures (commits, appends, batch sizes, store errors, durable offset)
//! are read from the runtime at each scrape.

use std::time::{Duration, Instant};

use interstice_core::{BATCH_SIZE_BOUNDS, Runtime};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
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
        registry.register_collector(Box::new(LogCollector {
            runtime,
            replay,
            started: Instant::now(),
        }));
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

/// Reads the runtime's log counters at each scrape.
#[derive(Debug)]
struct LogCollector {
    runtime: Runtime,
    replay: ReplaySummary,
    started: Instant,
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

impl Collector for LogCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.runtime.log_stats();
        counter(&mut e, "commits", "Commits made durable", s.commits)?;
        counter(
            &mut e,
            "appends",
            "Appends to the log store (batches)",
            s.appends,
        )?;
        counter(
            &mut e,
            "store_errors",
            "Appends that failed (the first stops the node)",
            s.append_errors,
        )?;
        let c = ConstCounter::new(s.append_micros as f64 / 1e6);
        let help = "Time spent in successful appends";
        c.encode(e.encode_descriptor("append_seconds", help, None, c.metric_type())?)?;
        gauge(
            &mut e,
            "durable_offset",
            "Every commit before this offset is durable",
            s.durable_upto as i64,
        )?;
        gauge(
            &mut e,
            "replay_seconds",
            "Time the replay at start took",
            self.replay.duration.as_secs_f64(),
        )?;
        gauge(
            &mut e,
            "replayed_commits",
            "Commits replayed at start",
            self.replay.commits as i64,
        )?;
        gauge(
            &mut e,
            "uptime_seconds",
            "Time since the node started serving",
            self.started.elapsed().as_secs_f64(),
        )?;
        let buckets: Vec<(f64, u64)> = BATCH_SIZE_BOUNDS
            .iter()
            .map(|&b| b as f64)
            .chain([f64::INFINITY])
            .zip(s.batch_sizes.iter().copied())
            .collect();
        let mut m = e.encode_descriptor(
            "batch_size",
            "Commits per append",
            None,
            MetricType::Histogram,
        )?;
        // The sum is exact: every appended commit was in one batch.
        m.encode_histogram::<NoLabelSet>(s.commits as f64, s.appends, &buckets, None)
    }
}
