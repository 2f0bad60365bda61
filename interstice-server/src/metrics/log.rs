//! The log's figures, read from the runtime at each scrape: commits,
//! appends, batch sizes and append latency, store errors, the durable
//! offset, the replay at start, and a follower's lag.

use std::time::Instant;

use interstice_core::{BATCH_SIZE_BOUNDS, Runtime};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::EncodeMetric;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;

use super::{ReplaySummary, counter, duration_histogram, gauge};

/// Reads the runtime's log counters at each scrape.
#[derive(Debug)]
pub(super) struct LogCollector {
    pub runtime: Runtime,
    pub replay: ReplaySummary,
    pub started: Instant,
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
        if let Some(lag) = self.runtime.follow_lag() {
            gauge(
                &mut e,
                "follow_lag_seconds",
                "A follower's lag: how old the last commit it applied was when it applied it",
                lag.as_secs_f64(),
            )?;
        }
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
        m.encode_histogram::<NoLabelSet>(s.commits as f64, s.appends, &buckets, None)?;
        let mut m = e.encode_descriptor(
            "append_duration_seconds",
            "Time from starting an append to the store acknowledging it",
            None,
            MetricType::Histogram,
        )?;
        duration_histogram(&mut m, &s.append_latency)
    }
}
