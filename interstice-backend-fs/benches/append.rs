//! Append throughput of the disk backend, beside the physical limit.
//!
//! Prints, for 64-byte rows, commits/s at each durability level and batch
//! sizes 1, 16 and 256, next to a raw `write` + `fdatasync` loop on the same
//! directory in the same run. Run with `cargo bench -p interstice-backend-fs`.
//! Set `INTERSTICE_BENCH_SECS` to change the time per row (default 2).

use interstice_testkit::measure::{self, Measured};

use std::fs::OpenOptions;
use std::io::Write;
use std::time::{Duration, Instant};

use bytes::Bytes;
use interstice_backend_fs::FsLogStore;
use interstice_log::{
    Commit, CommitBatch, Durability, Invocation, LogOptions, LogStore, Mutation, MutationKind,
};

fn commit(offset: u64) -> Commit {
    Commit {
        offset,
        timestamp: offset,
        cause: None,
        invocation: Invocation {
            module: "bench".into(),
            reducer: "insert".into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: vec![Mutation {
            kind: MutationKind::Insert,
            module_id: 1,
            table_id: 1,
            schema_hash: 42,
            row: Bytes::from(vec![0xab; 64]),
        }],
    }
}

fn frame_len() -> usize {
    let mut buf = Vec::new();
    interstice_log::codec::encode_frame(&commit(0), 0, &mut buf).unwrap()
}

/// A row of the table: commits appended `batch` at a time.
struct Batched {
    batch: usize,
    run: Measured,
}

impl Batched {
    fn new(what: String, batch: usize, commits: u64, elapsed: Duration) -> Self {
        let run = Measured {
            what,
            callers: 1,
            ops: commits,
            elapsed,
            latencies: Vec::new(),
        };
        Self { batch, run }
    }

    fn commits_per_sec(&self) -> f64 {
        self.run.per_sec()
    }

    fn us_per_batch(&self) -> f64 {
        self.run.elapsed.as_secs_f64() * 1e6 / (self.run.ops as f64 / self.batch as f64)
    }
}

/// `write` + `fdatasync` of one frame-sized record per iteration.
fn raw_fsync(dir: &std::path::Path, secs: Duration) -> Batched {
    let path = dir.join("raw");
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let record = vec![0x5a; frame_len()];
    let start = Instant::now();
    let mut n = 0;
    while start.elapsed() < secs {
        f.write_all(&record).unwrap();
        f.sync_data().unwrap();
        n += 1;
    }
    let row = Batched::new("raw write+fdatasync".into(), 1, n, start.elapsed());
    std::fs::remove_file(path).unwrap();
    row
}

async fn store_run(
    dir: &std::path::Path,
    durability: Durability,
    batch: usize,
    secs: Duration,
) -> Batched {
    let log = dir.join(format!("log-{durability}-{batch}").replace(':', "_"));
    let opts = LogOptions::default().create(true).durability(durability);
    let store = FsLogStore::open(&log, opts).unwrap();
    let start = Instant::now();
    let mut next = 0u64;
    while start.elapsed() < secs {
        // Encoding is part of the cost: the pipeline does it per batch.
        let mut b = CommitBatch::new(next);
        for o in next..next + batch as u64 {
            b.push(&commit(o)).unwrap();
        }
        store.append(&b).await.unwrap();
        next += batch as u64;
    }
    let elapsed = start.elapsed();
    drop(store);
    std::fs::remove_dir_all(&log).unwrap();
    Batched::new(format!("FsLogStore {durability}"), batch, next, elapsed)
}

fn main() {
    let secs = measure::secs(2.0);
    // The target dir is on the project's disk (not a tmpfs), like a real log.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    println!(
        "append bench: one commit = one 64-byte row ({} byte frame), {secs:?} per row, dir {}",
        frame_len(),
        tmp.path().display()
    );

    let raw = raw_fsync(tmp.path(), secs);
    let mut rows = Vec::new();
    for durability in [
        Durability::Sync,
        Durability::Batch(Duration::from_millis(10)),
        Durability::None,
    ] {
        for batch in [1, 16, 256] {
            rows.push(rt.block_on(store_run(tmp.path(), durability, batch, secs)));
        }
    }

    println!();
    println!(
        "| {:<26} | {:>5} | {:>12} | {:>12} | {:>14} |",
        "what", "batch", "commits/s", "us/batch", "vs raw fsync"
    );
    println!(
        "|{:-<28}|{:->7}|{:->14}|{:->14}|{:->16}|",
        "", "", "", "", ""
    );
    for r in std::iter::once(&raw).chain(&rows) {
        println!(
            "| {:<26} | {:>5} | {:>12.0} | {:>12.1} | {:>13.2}x |",
            r.run.what,
            r.batch,
            r.commits_per_sec(),
            r.us_per_batch(),
            r.commits_per_sec() / raw.commits_per_sec()
        );
    }

    let find = |name: &str, batch| {
        rows.iter()
            .find(|r| r.run.what.ends_with(name) && r.batch == batch)
            .unwrap()
    };
    let sync1 = find(" sync", 1);
    let sync256 = find(" sync", 256);
    let none_best = [1, 16, 256]
        .map(|b| find(" none", b).commits_per_sec())
        .into_iter()
        .fold(0.0, f64::max);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!();
    let ratio = sync1.commits_per_sec() / raw.commits_per_sec();
    println!(
        "target: sync batch 1 within 20% of raw fdatasync: {:.0}% of raw -> {}",
        ratio * 100.0,
        verdict(ratio >= 0.8)
    );
    let fsyncs = sync256.us_per_batch() / raw.us_per_batch();
    let speedup = sync256.commits_per_sec() / sync1.commits_per_sec();
    println!(
        "target: sync batch 256 costs <= 2 raw fsyncs ({fsyncs:.2}) and >= 128x batch 1 ({speedup:.0}x) -> {}",
        verdict(fsyncs <= 2.0 && speedup >= 128.0)
    );
    println!(
        "target: none >= 1M commits/s: best {:.2}M/s -> {}",
        none_best / 1e6,
        verdict(none_best >= 1e6)
    );
}
