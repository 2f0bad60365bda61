//! What the runtime counts about its reducer calls, for metrics: per
//! module and reducer, calls, errors by code, a duration histogram, rows
//! read and written, commit bytes and fuel; per schedule table, the calls
//! its rows made, how late they ran, and how many failed.
//!
//! Counting costs a few relaxed atomic adds per call; each reducer's
//! counters are found once, when its module is loaded, and kept with it.
//! Labels are module and reducer names only (never arguments), so the
//! number of series is bounded by the modules installed. The node's
//! `/metrics` reads them with [`crate::Runtime::call_metrics`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

/// Upper bounds of the duration histograms' buckets, in microseconds:
/// 50 µs doubling to about 3.3 s; a last bucket counts longer ones.
pub const DURATION_BOUNDS_MICROS: [u64; 17] = {
    let mut b = [0; 17];
    let mut i = 0;
    while i < b.len() {
        b[i] = 50 << i;
        i += 1;
    }
    b
};

/// A histogram of durations with [`DURATION_BOUNDS_MICROS`] as its
/// buckets, updated with relaxed atomics.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; DURATION_BOUNDS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Counts one duration of `micros` microseconds.
    pub fn observe(&self, micros: u64) {
        let bucket = DURATION_BOUNDS_MICROS.partition_point(|&b| b < micros);
        self.buckets[bucket].fetch_add(1, Relaxed);
        self.sum_micros.fetch_add(micros, Relaxed);
    }

    /// Its counts now.
    pub fn sample(&self) -> HistogramSample {
        HistogramSample {
            counts: self.buckets.iter().map(|b| b.load(Relaxed)).collect(),
            sum_micros: self.sum_micros.load(Relaxed),
        }
    }
}

/// A [`Histogram`]'s counts at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HistogramSample {
    /// `counts[i]`: durations of at most `DURATION_BOUNDS_MICROS[i]` µs
    /// (and more than the bound before); the last entry counts longer
    /// ones. Not cumulative.
    pub counts: Vec<u64>,
    /// Sum of the durations, in microseconds.
    pub sum_micros: u64,
}

impl HistogramSample {
    /// Durations counted.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// One reducer's counters.
#[derive(Debug, Default)]
pub(crate) struct ReducerStats {
    calls: AtomicU64,
    rows_read: AtomicU64,
    rows_written: AtomicU64,
    commit_bytes: AtomicU64,
    fuel: AtomicU64,
    duration: Histogram,
    /// Failed calls by error code: few codes, and only failures take the
    /// lock.
    errors: Mutex<BTreeMap<&'static str, u64>>,
}

/// What one call did, as the metrics and the call's span report it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Figures {
    /// Time the reducer ran (nested calls included), in microseconds.
    pub micros: u64,
    /// Fuel it used (nested calls included).
    pub fuel: u64,
    /// Rows it read (`get` hits and rows a scan returned).
    pub rows_read: u64,
    /// Rows it wrote (mutations it left in the write set).
    pub rows_written: u64,
    /// Bytes of its commit's frame (0 when nothing was committed).
    pub bytes: u64,
}

impl ReducerStats {
    /// Counts a call that did `figures` and ended with `error` (an error
    /// code, see [`crate::CallError::code`]) or committed.
    pub(crate) fn record(&self, figures: &Figures, error: Option<&'static str>) {
        self.calls.fetch_add(1, Relaxed);
        self.rows_read.fetch_add(figures.rows_read, Relaxed);
        self.rows_written.fetch_add(figures.rows_written, Relaxed);
        self.commit_bytes.fetch_add(figures.bytes, Relaxed);
        self.fuel.fetch_add(figures.fuel, Relaxed);
        self.duration.observe(figures.micros);
        if let Some(code) = error {
            let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
            *errors.entry(code).or_default() += 1;
        }
    }
}

/// Every reducer's counters, by module and reducer name. A module's new
/// version keeps its reducers' counters.
#[derive(Debug, Default)]
pub(crate) struct CallMetrics {
    reducers: Mutex<BTreeMap<(String, String), Arc<ReducerStats>>>,
}

impl CallMetrics {
    /// The counters of `module.reducer`, created at first use.
    pub(crate) fn reducer(&self, module: &str, reducer: &str) -> Arc<ReducerStats> {
        let mut reducers = self.reducers.lock().unwrap_or_else(|p| p.into_inner());
        reducers
            .entry((module.to_owned(), reducer.to_owned()))
            .or_default()
            .clone()
    }

    /// Every reducer's counters now, in module and reducer order.
    pub(crate) fn samples(&self) -> Vec<ReducerSample> {
        let reducers = self.reducers.lock().unwrap_or_else(|p| p.into_inner());
        reducers
            .iter()
            .map(|((module, reducer), s)| ReducerSample {
                module: module.clone(),
                reducer: reducer.clone(),
                calls: s.calls.load(Relaxed),
                errors: s
                    .errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .map(|(code, n)| (*code, *n))
                    .collect(),
                rows_read: s.rows_read.load(Relaxed),
                rows_written: s.rows_written.load(Relaxed),
                commit_bytes: s.commit_bytes.load(Relaxed),
                fuel: s.fuel.load(Relaxed),
                duration: s.duration.sample(),
            })
            .collect()
    }
}

/// One reducer's counters at one moment (see [`crate::Runtime::call_metrics`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReducerSample {
    /// The module.
    pub module: String,
    /// The reducer.
    pub reducer: String,
    /// Calls run (top-level, subscription and cross-module), failed or not.
    pub calls: u64,
    /// Failed calls, by error code ([`crate::CallError::code`]).
    pub errors: Vec<(&'static str, u64)>,
    /// Rows read.
    pub rows_read: u64,
    /// Rows written (a cross-module call's count even when its caller
    /// fails later and they are undone).
    pub rows_written: u64,
    /// Bytes of the commits its top-level calls made.
    pub commit_bytes: u64,
    /// Fuel used.
    pub fuel: u64,
    /// How long its calls ran.
    pub duration: HistogramSample,
}

/// One schedule table's counters: calls its rows made, failed ones, and
/// how late they ran.
#[derive(Debug, Default)]
pub(crate) struct ScheduleStats {
    runs: AtomicU64,
    failures: AtomicU64,
    lateness: Histogram,
}

impl ScheduleStats {
    /// Counts a scheduled call that ran `late_micros` after it was due.
    pub(crate) fn record(&self, late_micros: u64, failed: bool) {
        self.runs.fetch_add(1, Relaxed);
        if failed {
            self.failures.fetch_add(1, Relaxed);
        }
        self.lateness.observe(late_micros);
    }
}

/// Every schedule table's counters, by module and table name.
#[derive(Debug, Default)]
pub(crate) struct ScheduleMetrics {
    tables: Mutex<BTreeMap<(String, String), Arc<ScheduleStats>>>,
}

impl ScheduleMetrics {
    /// The counters of `module.table`, created at first use.
    pub(crate) fn table(&self, module: &str, table: &str) -> Arc<ScheduleStats> {
        let mut tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = tables.get(&(module.to_owned(), table.to_owned())) {
            return s.clone();
        }
        let s = Arc::<ScheduleStats>::default();
        tables.insert((module.to_owned(), table.to_owned()), s.clone());
        s
    }

    /// Every schedule table's counters now, in module and table order.
    pub(crate) fn samples(&self) -> Vec<ScheduleSample> {
        let tables = self.tables.lock().unwrap_or_else(|p| p.into_inner());
        tables
            .iter()
            .map(|((module, table), s)| ScheduleSample {
                module: module.clone(),
                table: table.clone(),
                runs: s.runs.load(Relaxed),
                failures: s.failures.load(Relaxed),
                lateness: s.lateness.sample(),
                waiting: 0,
            })
            .collect()
    }
}

/// One schedule table's counters at one moment (see
/// [`crate::Runtime::schedule_metrics`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleSample {
    /// The module.
    pub module: String,
    /// The schedule table.
    pub table: String,
    /// Calls its rows made since the runtime started, failed or not.
    pub runs: u64,
    /// Those whose reducer failed (their commit holds only what the
    /// runtime does for a run: a one-shot row's deletion).
    pub failures: u64,
    /// How long after its due time each call ran (its commit's timestamp
    /// minus the time it was due), in microseconds.
    pub lateness: HistogramSample,
    /// Rows waiting for their call now.
    pub waiting: u64,
}

/// One table's size at one moment (see [`crate::Runtime::table_sizes`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSample {
    /// The module owning it.
    pub module: String,
    /// The table.
    pub table: String,
    /// Rows in it.
    pub rows: u64,
    /// Approximate bytes: its rows' keys and encodings, without index
    /// entries or allocator overhead.
    pub bytes: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_lands_in_the_first_bucket_that_holds_it() {
        let h = Histogram::default();
        for micros in [0, 50, 51, 100, 3_276_800, 3_276_801, u64::MAX / 2] {
            h.observe(micros);
        }
        let s = h.sample();
        assert_eq!(s.counts[0], 2, "0 and 50 µs");
        assert_eq!(s.counts[1], 2, "51 and 100 µs");
        assert_eq!(s.counts[16], 1, "3.2768 s");
        assert_eq!(s.counts[17], 2, "longer");
        assert_eq!(s.count(), 7);
    }

    #[test]
    fn a_reducer_keeps_its_counters_and_errors_by_code() {
        let m = CallMetrics::default();
        let f = Figures {
            micros: 70,
            fuel: 10,
            rows_read: 2,
            rows_written: 1,
            bytes: 90,
        };
        m.reducer("bank", "transfer").record(&f, None);
        m.reducer("bank", "transfer")
            .record(&f, Some("reducer_failed"));
        m.reducer("bank", "open")
            .record(&f, Some("table_constraint"));
        let s = m.samples();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].reducer.as_str(), s[0].calls), ("open", 1));
        let t = &s[1];
        assert_eq!(
            (t.calls, t.rows_read, t.fuel, t.commit_bytes),
            (2, 4, 20, 180)
        );
        assert_eq!(t.errors, vec![("reducer_failed", 1)]);
        assert_eq!(t.duration.sum_micros, 140);
    }
}
