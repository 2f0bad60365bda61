//! Per reducer and per table figures, read from the runtime at each
//! scrape: calls, errors by code, durations, rows read and written, fuel,
//! commit bytes; rows and approximate bytes of every table; per schedule
//! table, calls run, failures, lateness and rows waiting.

use interstice_core::{ReducerSample, Runtime, ScheduleSample, TableSample};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

use super::duration_histogram;

/// Reads the runtime's reducer and table figures at each scrape.
#[derive(Debug)]
pub(super) struct RuntimeCollector {
    pub runtime: Runtime,
}

type Labels<'a> = Vec<(&'static str, &'a str)>;

/// One counter family: `value` of each labelled series.
fn counters<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels<'a>, u64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

/// One gauge family: `value` of each labelled series.
fn gauges<'a>(
    e: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (Labels<'a>, i64)>,
) -> Result<(), std::fmt::Error> {
    let mut m = e.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(value).encode(m.encode_family(&labels)?)?;
    }
    Ok(())
}

fn reducer_labels(r: &ReducerSample) -> Labels<'_> {
    vec![("module", &r.module), ("reducer", &r.reducer)]
}

fn table_labels(t: &TableSample) -> Labels<'_> {
    vec![("module", &t.module), ("table", &t.table)]
}

fn schedule_labels(s: &ScheduleSample) -> Labels<'_> {
    vec![("module", &s.module), ("table", &s.table)]
}

/// The schedule tables' families: calls their rows made, failures, how
/// late the calls ran, and the rows waiting.
fn schedules(e: &mut DescriptorEncoder, runtime: &Runtime) -> Result<(), std::fmt::Error> {
    let samples = runtime.schedule_metrics();
    let labels = schedule_labels;
    counters(
        e,
        "scheduled_calls",
        "Calls schedule rows made (each its own commit), failed or not",
        samples.iter().map(|s| (labels(s), s.runs)),
    )?;
    counters(
        e,
        "scheduled_call_failures",
        "Scheduled calls whose reducer failed (their run is spent: a one-shot row is deleted)",
        samples.iter().map(|s| (labels(s), s.failures)),
    )?;
    let mut m = e.encode_descriptor(
        "scheduled_call_lateness_seconds",
        "How long after its row was due each scheduled call ran",
        None,
        MetricType::Histogram,
    )?;
    for s in &samples {
        duration_histogram(&mut m.encode_family(&labels(s))?, &s.lateness)?;
    }
    gauges(
        e,
        "scheduled_rows",
        "Rows of each schedule table waiting for their call",
        samples.iter().map(|s| (labels(s), s.waiting as i64)),
    )
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let reducers = self.runtime.call_metrics();
        let labels = reducer_labels;
        let per_reducer =
            |f: fn(&ReducerSample) -> u64| reducers.iter().map(move |r| (labels(r), f(r)));
        counters(
            &mut e,
            "reducer_calls",
            "Reducer calls run (client, subscription and cross-module), failed or not",
            per_reducer(|r| r.calls),
        )?;
        let errors = reducers.iter().flat_map(|r| {
            r.errors.iter().map(move |(code, n)| {
                let mut l = labels(r);
                l.push(("code", code));
                (l, *n)
            })
        });
        counters(
            &mut e,
            "reducer_errors",
            "Reducer calls that failed, by error code",
            errors,
        )?;
        counters(
            &mut e,
            "reducer_rows_read",
            "Rows reducers read",
            per_reducer(|r| r.rows_read),
        )?;
        counters(
            &mut e,
            "reducer_rows_written",
            "Rows reducers wrote (a cross-module call's count even when its caller fails later)",
            per_reducer(|r| r.rows_written),
        )?;
        counters(
            &mut e,
            "reducer_fuel",
            "Fuel reducers used",
            per_reducer(|r| r.fuel),
        )?;
        counters(
            &mut e,
            "reducer_commit_bytes",
            "Bytes of the commits reducer calls made",
            per_reducer(|r| r.commit_bytes),
        )?;
        let mut m = e.encode_descriptor(
            "reducer_duration_seconds",
            "Time reducer calls ran (nested calls included)",
            None,
            MetricType::Histogram,
        )?;
        for r in &reducers {
            duration_histogram(&mut m.encode_family(&labels(r))?, &r.duration)?;
        }
        let tables = self.runtime.table_sizes();
        let labels = table_labels;
        gauges(
            &mut e,
            "table_rows",
            "Rows in each table",
            tables.iter().map(|t| (labels(t), t.rows as i64)),
        )?;
        gauges(
            &mut e,
            "table_bytes",
            "Approximate bytes of each table's rows (keys and encodings, not indexes)",
            tables.iter().map(|t| (labels(t), t.bytes as i64)),
        )?;
        schedules(&mut e, &self.runtime)
    }
}
