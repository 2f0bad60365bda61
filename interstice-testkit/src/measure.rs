//! What the benchmarks share: how long a row runs, what a row measured
//! (throughput and latency percentiles), and the process setting a
//! database deployment would make.

use std::time::Duration;

/// Seconds per row: `INTERSTICE_BENCH_SECS`, else `default`.
pub fn secs(default: f64) -> Duration {
    Duration::from_secs_f64(
        std::env::var("INTERSTICE_BENCH_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default),
    )
}

/// One row of a benchmark's table: what ran, with how many callers, how
/// many operations in how long, and each operation's latency when they
/// were timed one by one.
#[derive(Clone, Debug, Default)]
pub struct Measured {
    /// What the row measures.
    pub what: String,
    /// Concurrent callers.
    pub callers: usize,
    /// Operations completed.
    pub ops: u64,
    /// Wall time of the whole row.
    pub elapsed: Duration,
    /// Each operation's latency (empty when not timed one by one).
    pub latencies: Vec<Duration>,
}

impl Measured {
    /// Operations per second.
    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p` quantile of the latencies; zero when none were timed.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        percentile(&self.latencies, p)
    }
}

/// Prints `rows` as a Markdown table, each beside the first (the
/// baseline, named `baseline` in the last column's heading): what, with
/// how many callers, `unit`s per second, p50 and p99 latency. Returns
/// each row's ratio to the baseline.
pub fn print_latency_table(rows: &[&Measured], unit: &str, baseline: &str) -> Vec<f64> {
    let base = rows.first().map_or(1.0, |r| r.per_sec());
    let w = rows.iter().map(|r| r.what.len()).max().unwrap_or(4).max(4);
    let rate = format!("{unit}/s");
    let vs = format!("vs {baseline}");
    println!();
    println!(
        "| {:<w$} | {:>7} | {:>10} | {:>8} | {:>8} | {:>10} |",
        "what", "callers", rate, "p50 ms", "p99 ms", vs
    );
    println!(
        "|{:-<w2$}|{:->9}|{:->12}|{:->10}|{:->10}|{:->12}|",
        "",
        "",
        "",
        "",
        "",
        "",
        w2 = w + 2
    );
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    rows.iter()
        .map(|r| {
            let ratio = r.per_sec() / base;
            println!(
                "| {:<w$} | {:>7} | {:>10.0} | {:>8.2} | {:>8.2} | {:>9.2}x |",
                r.what,
                r.callers,
                r.per_sec(),
                ms(r.percentile(0.5)),
                ms(r.percentile(0.99)),
                ratio
            );
            ratio
        })
        .collect()
}

/// The `p` quantile (0.5 for the median) of `samples`, which must not be
/// empty.
pub fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    sorted[((sorted.len() as f64 - 1.0) * p) as usize]
}

/// Turns transparent huge pages off for this process, as database
/// deployments do (Redis, MongoDB and PostgreSQL guides all say so): with
/// them on, the allocator's growth faults clear 2 MiB at a time on the
/// committing thread, which was 12% of the 64-caller profile. See
/// docs/operations.md.
pub fn no_transparent_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory.
    let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    if rc != 0 {
        eprintln!(
            "note: could not turn transparent huge pages off: {}",
            std::io::Error::last_os_error()
        );
    }
}
