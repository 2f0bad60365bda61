//! The table engine on a million rows, as a new user fills it: module
//! `inventory` (`modules/inventory`: `items(id u64 pk auto_inc, bucket u32
//! indexed, name String, qty i64)`) filled through the runtime with calls
//! of 10,000 rows, then the log replayed without WASM.
//!
//! Prints, in one run: executing the calls (durability `none`) in rows/s;
//! replaying their log in rows/s and MB/s, and how much faster than
//! executing; resident memory per row after the replay; a point lookup by
//! primary key and by the secondary index; a range scan of 10,000 rows.
//! `cargo bench -p interstice-core --bench replay`;
//! `INTERSTICE_BENCH_ROWS` sets the rows (default 1,000,000; the issue's
//! 10M variant is `INTERSTICE_BENCH_ROWS=10000000`);
//! `INTERSTICE_BENCH_LOG_DIR` keeps the log there (filled once), to time
//! the CLI on it. Needs the modules built (`scripts/build-modules.sh`).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::db::Database;
use interstice_core::{ReplayEngine, Runtime, RuntimeConfig};
use interstice_log::{Durability, LogOptions, LogStore};
use interstice_testkit::built;

/// Set in the child process that fills the log: where.
const FILL_DIR: &str = "INTERSTICE_BENCH_FILL_DIR";

/// Rows each `fill` call inserts.
const PER_CALL: u32 = 10_000;

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("Linux /proc");
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("statm's second field is resident pages");
    // SAFETY: sysconf takes a constant and touches no memory.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    pages * page
}

fn store(dir: &Path) -> Arc<dyn LogStore> {
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::None);
    Arc::new(FsLogStore::open(dir, opts).expect("open the bench log"))
}

/// Fills `rows` items through the runtime; the time the calls took.
async fn fill(dir: &Path, rows: u64) -> Duration {
    let (rt, _) = Runtime::open(store(dir), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&built::wasm("inventory")).await.unwrap();
    let start = Instant::now();
    let mut first = 0;
    while first < rows {
        let count = PER_CALL.min((rows - first) as u32);
        let args = Value::Struct(vec![Value::U64(first), Value::U32(count)]);
        rt.call("inventory", "fill", &encode_value(&args).unwrap())
            .await
            .unwrap();
        first += u64::from(count);
    }
    let elapsed = start.elapsed();
    rt.shutdown().await;
    elapsed
}

/// Bytes of the log's segment files.
fn log_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Nanoseconds per call of `f` over `n` calls.
fn ns_per_op(n: u64, mut f: impl FnMut(u64)) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        f(i);
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// A stride through `0..rows` that visits keys in no useful order.
fn scattered(i: u64, rows: u64) -> u64 {
    (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 11) % rows
}

struct Lookups {
    by_pk_ns: f64,
    by_index_ns: f64,
    scan_10k: Duration,
}

fn lookups(db: &Database, rows: u64) -> Lookups {
    let m = db.find_module("inventory").unwrap();
    let (_, items) = m.find_table("items").unwrap();
    let by_bucket = items.index_id("by_bucket").unwrap();
    let n = 200_000;
    let mut found = 0u64;
    let by_pk_ns = ns_per_op(n, |i| {
        let id = Value::U64(scattered(i, rows) + 1);
        found += u64::from(items.get(&id).is_some());
    });
    assert_eq!(found, n, "every key looked up is there");
    let by_index_ns = ns_per_op(n, |i| {
        let key = [Value::U32((scattered(i, rows) % 1000) as u32)];
        let hit = items
            .index_range(by_bucket, Bound::Included(&key), Bound::Included(&key))
            .next();
        found += u64::from(hit.is_some());
    });
    let start = Instant::now();
    let from = Value::U64(rows / 2);
    let scanned = items
        .range(Bound::Included(&from), Bound::Unbounded)
        .take(10_000)
        .count();
    let scan_10k = start.elapsed();
    assert_eq!(scanned, 10_000.min(rows as usize - rows as usize / 2 + 1));
    Lookups {
        by_pk_ns,
        by_index_ns,
        scan_10k,
    }
}

/// How many times each open is timed: the table shows the median, as
/// these machines are shared and one run can be twice another.
const OPENS: usize = 5;

/// The median of `n` runs of `run`, which times itself.
fn median_of(n: usize, mut run: impl FnMut() -> Duration) -> Duration {
    let mut times: Vec<Duration> = (0..n).map(|_| run()).collect();
    times.sort();
    times[n / 2]
}

/// What the snapshot part of the bench measured.
struct SnapshotNumbers {
    write_mb_s: f64,
    write_rows_s: f64,
    bytes: u64,
    /// Rebuilding the state from a snapshot at 99% of the log and the
    /// commits after it.
    open: Duration,
    /// `Runtime::open` from that snapshot: the start of every command.
    runtime_open: Duration,
}

/// Writes a snapshot of the state as of the next-to-last call (99% of the
/// rows) into the log's `snapshots/`, timing it, then times opening from
/// it; checks the state is the full replay's.
fn snapshot_numbers(
    rt: &tokio::runtime::Runtime,
    store: &Arc<dyn LogStore>,
    dir: &Path,
    rows: u64,
) -> SnapshotNumbers {
    use interstice_backend_fs::FsSnapshotStore;
    use interstice_core::ReplayOptions;
    use interstice_core::snapshot::{encode, take};
    use interstice_log::snapshot::{SnapshotHeader, SnapshotStore};

    let last = rt.block_on(store.last_offset()).unwrap().unwrap();
    let at = last - 1;
    let snapshots: Arc<dyn SnapshotStore> = Arc::new(FsSnapshotStore::new(dir));
    for o in rt.block_on(snapshots.list()).unwrap() {
        rt.block_on(snapshots.remove(o)).unwrap();
    }
    let state = rt
        .block_on(ReplayEngine::replay(&**store, 0, Some(at)))
        .unwrap();
    let snap_rows: u64 = state
        .db
        .modules()
        .flat_map(|m| &m.tables)
        .map(|t| t.len() as u64)
        .sum();
    let header = SnapshotHeader {
        offset: at,
        timestamp: state.last_timestamp,
        clock: state.clock,
    };
    let start = Instant::now();
    let bytes = encode(
        &state.db,
        header,
        &state.pending,
        &state.requests,
        &state.timers,
    );
    let size = bytes.len() as u64;
    rt.block_on(snapshots.put(at, bytes)).unwrap();
    let write = start.elapsed();
    drop(state);

    let opts = ReplayOptions {
        snapshots: Some(snapshots.clone()),
        ..ReplayOptions::default()
    };
    let open = median_of(OPENS, || {
        let start = Instant::now();
        let opened = rt
            .block_on(ReplayEngine::replay_with(&**store, &opts))
            .unwrap();
        let took = start.elapsed();
        assert_eq!(opened.report.snapshot, Some(at));
        let total: u64 = opened
            .db
            .modules()
            .flat_map(|m| &m.tables)
            .map(|t| t.len() as u64)
            .sum();
        assert_eq!(total, rows, "the snapshot and the suffix give every row");
        took
    });
    let runtime_open = median_of(OPENS, || {
        let config = RuntimeConfig {
            snapshots: Some(snapshots.clone()),
            ..RuntimeConfig::default()
        };
        let start = Instant::now();
        let (runtime, _) = rt.block_on(Runtime::open(store.clone(), config)).unwrap();
        let took = start.elapsed();
        rt.block_on(runtime.shutdown());
        took
    });
    // Leave a snapshot at the end too, for timing the CLI on a kept log.
    rt.block_on(take(&**store, snapshots)).unwrap();
    SnapshotNumbers {
        write_mb_s: size as f64 / 1e6 / write.as_secs_f64(),
        write_rows_s: snap_rows as f64 / write.as_secs_f64(),
        bytes: size,
        open,
        runtime_open,
    }
}

/// Runs the fill in a child process, so that what it allocated is not in
/// this one's memory when the replay's is measured; the time the calls
/// took.
fn fill_in_child(dir: &Path, rows: u64) -> Duration {
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .env(FILL_DIR, dir)
        .env("INTERSTICE_BENCH_ROWS", rows.to_string())
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "the fill failed: {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let secs: f64 = String::from_utf8_lossy(&child.stdout)
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .expect("the fill prints its seconds");
    Duration::from_secs_f64(secs)
}

fn main() {
    let rows: u64 = std::env::var("INTERSTICE_BENCH_ROWS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // `INTERSTICE_BENCH_LOG_DIR` keeps the log there (for timing the CLI
    // on it), filling it only if it is not there yet.
    let kept = std::env::var_os("INTERSTICE_BENCH_LOG_DIR").map(std::path::PathBuf::from);
    let dir = kept.clone().unwrap_or_else(|| tmp.path().join("inventory"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    // The fill runs in a child process, so that what it allocated is not
    // in this one's memory when the replay's is measured.
    if let Ok(dir) = std::env::var(FILL_DIR) {
        let executed = rt.block_on(fill(Path::new(&dir), rows));
        println!("{}", executed.as_secs_f64());
        return;
    }
    let refill = kept.is_none() || !dir.exists();
    let executed = if refill {
        fill_in_child(&dir, rows)
    } else {
        Duration::ZERO
    };
    let bytes = log_bytes(&dir);
    let store = store(&dir);
    let before = rss();
    let start = Instant::now();
    let replayed = rt.block_on(ReplayEngine::replay(&*store, 0, None)).unwrap();
    let replay = start.elapsed();
    let after = rss();
    let l = lookups(&replayed.db, rows);

    drop(replayed);
    let snap = snapshot_numbers(&rt, &store, &dir, rows);

    let per_sec = |d: Duration| rows as f64 / d.as_secs_f64();
    let (exec_rate, replay_rate) = (per_sec(executed), per_sec(replay));
    let bytes_per_row = after.saturating_sub(before) as f64 / rows as f64;
    println!(
        "replay bench: {rows} rows of inventory.items in calls of {PER_CALL}, log {:.1} MB, dir {}",
        bytes as f64 / 1e6,
        dir.display()
    );
    println!();
    println!("| {:<44} | {:>16} |", "what", "measured");
    println!("|{:-<46}|{:->18}|", "", "");
    let line = |what: &str, value: String| println!("| {what:<44} | {value:>16} |");
    let exec = if executed.is_zero() {
        "(log kept)".to_owned()
    } else {
        format!("{exec_rate:.0} rows/s")
    };
    line("execute the calls (runtime, durability none)", exec);
    line("replay the log", format!("{:.0} rows/s", replay_rate));
    line(
        "replay the log, bytes",
        format!("{:.1} MB/s", bytes as f64 / 1e6 / replay.as_secs_f64()),
    );
    line(
        "replay vs executing",
        format!("{:.1}x", replay_rate / exec_rate),
    );
    line(
        "resident memory after replay",
        format!("{bytes_per_row:.0} B/row"),
    );
    line("point lookup, primary key", format!("{:.0} ns", l.by_pk_ns));
    line(
        "point lookup, secondary index",
        format!("{:.0} ns", l.by_index_ns),
    );
    line(
        "range scan of 10,000 rows",
        format!("{:.2} ms", l.scan_10k.as_secs_f64() * 1e3),
    );
    line(
        "write a snapshot (encode + fsync'd file)",
        format!("{:.0} MB/s", snap.write_mb_s),
    );
    line(
        "write a snapshot, rows",
        format!("{:.0} rows/s", snap.write_rows_s),
    );
    line(
        "snapshot size",
        format!("{:.1} MB", snap.bytes as f64 / 1e6),
    );
    line(
        "open: full replay",
        format!("{:.3} s", replay.as_secs_f64()),
    );
    line(
        "open: snapshot at 99% + the rest (median)",
        format!("{:.3} s", snap.open.as_secs_f64()),
    );
    line(
        "runtime open from the snapshot (median)",
        format!("{:.3} s", snap.runtime_open.as_secs_f64()),
    );
    println!();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "target: open with a snapshot <= 0.3 s: {:.3} s -> {}",
        snap.open.as_secs_f64(),
        verdict(snap.open.as_secs_f64() <= 0.3)
    );
    println!(
        "target: replay >= 2M rows/s: {:.2}M -> {}",
        replay_rate / 1e6,
        verdict(replay_rate >= 2e6)
    );
    println!(
        "target: replay >= 10x executing: {:.1}x -> {}",
        replay_rate / exec_rate,
        verdict(replay_rate >= 10.0 * exec_rate)
    );
    println!(
        "target: <= 150 bytes a row after replay: {bytes_per_row:.0} -> {}",
        verdict(bytes_per_row <= 150.0)
    );
}
