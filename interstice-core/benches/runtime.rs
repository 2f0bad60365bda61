//! Runtime throughput, beside SQLite on the same directory.
//!
//! Prints, in one run: no-op reducer calls/s (nothing to commit), beside a
//! bare wasmtime instantiate-and-call of the same module; 1-row
//! insert transactions/s with durability `none`, and with `sync` on the
//! disk backend at 1, 8 and 64 concurrent callers; and SQLite (WAL,
//! `synchronous=FULL`, one row per transaction); and the 64-caller `sync`
//! row again while snapshots are taken back to back. Run with
//! `cargo bench -p interstice-core`; `INTERSTICE_BENCH_SECS` sets seconds
//! per row (default 2).

// The allocator a server binary would ship with: glibc malloc was 12% of
// the 64-caller profile.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use interstice_testkit::measure::{self, Measured};
use interstice_testkit::wasm_modules;

use std::sync::Arc;
use std::time::{Duration, Instant};

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::{FsLogStore, FsSnapshotStore};
use interstice_core::retention::Retention;
use interstice_core::{Runtime, RuntimeConfig, SnapshotPolicy};
use interstice_log::{Durability, LogOptions};

async fn runtime(dir: &std::path::Path, durability: Durability) -> Runtime {
    runtime_with(dir, durability, RuntimeConfig::default()).await
}

async fn runtime_with(
    dir: &std::path::Path,
    durability: Durability,
    config: RuntimeConfig,
) -> Runtime {
    let store = FsLogStore::open(
        dir,
        LogOptions::default().create(true).durability(durability),
    )
    .unwrap();
    let (rt, _) = Runtime::open(Arc::new(store), config).await.unwrap();
    rt.publish(&wasm_modules::counter_alone()).await.unwrap();
    rt
}

async fn calls(rt: &Runtime, reducer: &str, callers: usize, secs: Duration) -> (u64, Duration) {
    let start = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let rt = rt.clone();
            let reducer = reducer.to_owned();
            tokio::spawn(async move {
                let mut n = 0u64;
                while start.elapsed() < secs {
                    let args = if reducer == "add" {
                        encode_value(&Value::Struct(vec![Value::U64(c as u64 * 1_000_000 + n)]))
                            .unwrap()
                    } else {
                        Vec::new()
                    };
                    rt.call("counter", &reducer, &args).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    (total, start.elapsed())
}

fn sqlite(dir: &std::path::Path, secs: Duration) -> Measured {
    let conn = rusqlite::Connection::open(dir.join("bench.sqlite")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute(
        "CREATE TABLE counters (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL)",
        [],
    )
    .unwrap();
    conn.execute("CREATE INDEX by_n ON counters (n)", [])
        .unwrap();
    let mut stmt = conn
        .prepare("INSERT INTO counters (n) VALUES (?1)")
        .unwrap();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < secs {
        // Autocommit: one transaction, one WAL sync, per row.
        stmt.execute([n as i64]).unwrap();
        n += 1;
    }
    Measured {
        what: "SQLite WAL synchronous=FULL insert".into(),
        callers: 1,
        ops: n,
        elapsed: start.elapsed(),
        ..Default::default()
    }
}

/// The floor under a reducer call: a bare wasmtime instantiation of the
/// same module from an `InstancePre` (pooled, copy-on-write memory, as the
/// host configures it) and a call of its no-op export, with nothing of
/// the runtime around it.
fn bare_wasmtime(secs: Duration) -> Measured {
    let mut config = wasmtime::Config::new();
    config.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(
        wasmtime::PoolingAllocationConfig::default(),
    ));
    config.memory_init_cow(true);
    let engine = wasmtime::Engine::new(&config).unwrap();
    let module = wasmtime::Module::new(&engine, wasm_modules::counter_alone()).unwrap();
    let mut linker = wasmtime::Linker::<()>::new(&engine);
    linker.define_unknown_imports_as_traps(&module).unwrap();
    let pre = linker.instantiate_pre(&module).unwrap();
    let start = Instant::now();
    let mut ops = 0;
    while start.elapsed() < secs {
        let mut store = wasmtime::Store::new(&engine, ());
        let instance = pre.instantiate(&mut store).unwrap();
        let noop = instance
            .get_typed_func::<(i32, i32), i64>(&mut store, "__interstice_reducer__noop")
            .unwrap();
        noop.call(&mut store, (0, 0)).unwrap();
        ops += 1;
    }
    Measured {
        what: "bare wasmtime instantiate + no-op call".into(),
        callers: 1,
        ops,
        elapsed: start.elapsed(),
        ..Default::default()
    }
}

/// The 64-caller `sync` row while snapshots are taken every `every`
/// commits (1: back to back, a new one as soon as a commit is not in one),
/// built beside the calls from the durable log, two kept.
async fn while_snapshotting(dir: &std::path::Path, secs: Duration, every: u64) -> Measured {
    let config = RuntimeConfig {
        snapshots: Some(Arc::new(FsSnapshotStore::new(dir))),
        snapshot_policy: SnapshotPolicy {
            every_commits: Some(every),
            ..SnapshotPolicy::default()
        },
        retention: Retention {
            keep_snapshots: Some(2),
            history: None,
        },
        ..RuntimeConfig::default()
    };
    let r = runtime_with(dir, Durability::Sync, config).await;
    let (ops, elapsed) = calls(&r, "add", 64, secs).await;
    // How far the snapshots kept up: the newest one's offset.
    let newest = std::fs::read_dir(dir.join("snapshots"))
        .into_iter()
        .flatten()
        .filter_map(|e| {
            interstice_log::snapshot::parse_snapshot_name(&e.ok()?.file_name().to_string_lossy())
        })
        .max();
    println!("(snapshots every {every} commits: newest at offset {newest:?} of {ops} calls)");
    let what = match every {
        1 => "1-row insert tx, sync, snapshotting".into(),
        n => format!("same, a snapshot every {n} commits"),
    };
    Measured {
        what,
        callers: 64,
        ops,
        elapsed,
        ..Default::default()
    }
}

fn main() {
    measure::no_transparent_huge_pages();
    let secs = measure::secs(2.0);
    // `INTERSTICE_BENCH_ONLY=noop|bare|none1|sync1|sync8|sync64|sync64snap|sync64snap10k`
    // runs one row
    // (for profiling) and skips the comparison.
    let only = std::env::var("INTERSTICE_BENCH_ONLY").ok();
    let wants = |row: &str| only.as_deref().is_none_or(|o| o == row);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut rows = Vec::new();
    rt.block_on(async {
        let r = runtime(&tmp.path().join("none"), Durability::None).await;
        if wants("noop") {
            let (ops, elapsed) = calls(&r, "noop", 1, secs).await;
            rows.push(Measured {
                what: "no-op reducer call".into(),
                callers: 1,
                ops,
                elapsed,
                ..Default::default()
            });
        }
        if wants("bare") {
            rows.push(bare_wasmtime(secs));
        }
        if wants("none1") {
            let (ops, elapsed) = calls(&r, "add", 1, secs).await;
            rows.push(Measured {
                what: "1-row insert tx, durability none".into(),
                callers: 1,
                ops,
                elapsed,
                ..Default::default()
            });
        }
        for callers in [1, 8, 64] {
            if !wants(&format!("sync{callers}")) {
                continue;
            }
            let r = runtime(
                &tmp.path().join(format!("sync-{callers}")),
                Durability::Sync,
            )
            .await;
            let (ops, elapsed) = calls(&r, "add", callers, secs).await;
            rows.push(Measured {
                what: "1-row insert tx, durability sync".into(),
                callers,
                ops,
                elapsed,
                ..Default::default()
            });
        }
        if wants("sync64snap") {
            let dir = tmp.path().join("sync-64-snapshots");
            rows.push(while_snapshotting(&dir, secs, 1).await);
        }
        if wants("sync64snap10k") {
            let dir = tmp.path().join("sync-64-snapshots-10k");
            rows.push(while_snapshotting(&dir, secs, 10_000).await);
        }
    });
    if only.is_some() {
        for r in &rows {
            println!(
                "{} ({} callers): {:.0} ops/s, {:.2} us/op",
                r.what,
                r.callers,
                r.per_sec(),
                1e6 / r.per_sec()
            );
        }
        return;
    }
    rows.push(sqlite(tmp.path(), secs));
    report(&rows, secs, tmp.path());
}

/// Prints the table of `rows` (the last is SQLite's) and the targets.
fn report(rows: &[Measured], secs: Duration, dir: &std::path::Path) {
    let sqlite_rate = rows.last().unwrap().per_sec();

    println!("runtime bench: {secs:?} per row, dir {}", dir.display());
    println!();
    println!(
        "| {:<38} | {:>7} | {:>12} | {:>10} | {:>10} |",
        "what", "callers", "ops/s", "us/op", "vs SQLite"
    );
    println!(
        "|{:-<40}|{:->9}|{:->14}|{:->12}|{:->12}|",
        "", "", "", "", ""
    );
    for r in rows {
        println!(
            "| {:<38} | {:>7} | {:>12.0} | {:>10.2} | {:>9.1}x |",
            r.what,
            r.callers,
            r.per_sec(),
            1e6 / r.per_sec(),
            r.per_sec() / sqlite_rate
        );
    }
    let noop_us = 1e6 / rows[0].per_sec();
    let rate = |what: &str| {
        rows.iter()
            .find(|r| r.what.starts_with(what))
            .unwrap()
            .per_sec()
    };
    let bare_us = 1e6 / rate("bare wasmtime");
    let insert_us = 1e6 / rate("1-row insert tx, durability none");
    let sync64 = rows
        .iter()
        .find(|r| r.what.ends_with("sync") && r.callers == 64)
        .unwrap()
        .per_sec();
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!();
    println!(
        "target: no-op call overhead < 2 us: {noop_us:.2} us -> {}",
        verdict(noop_us < 2.0)
    );
    println!(
        "target: no-op call <= 3x bare wasmtime: {:.1}x -> {}",
        noop_us / bare_us,
        verdict(noop_us <= 3.0 * bare_us)
    );
    println!(
        "target: 1-row insert at none <= 2x a no-op call: {:.1}x -> {}",
        insert_us / noop_us,
        verdict(insert_us <= 2.0 * noop_us)
    );
    println!(
        "target: 64 callers with sync >= 30x SQLite: {:.1}x -> {}",
        sync64 / sqlite_rate,
        verdict(sync64 >= 30.0 * sqlite_rate)
    );
    let with_snapshots = rate("1-row insert tx, sync, snapshotting");
    println!(
        "target: 64 callers with sync at most 10% slower while snapshots run back to back: {:.1}% -> {}",
        100.0 * (1.0 - with_snapshots / sync64),
        verdict(with_snapshots >= 0.9 * sync64)
    );
    let every_10k = rate("same, a snapshot every 10000");
    println!(
        "  (with a snapshot every 10,000 commits: {:.1}% slower)",
        100.0 * (1.0 - every_10k / sync64),
    );
}
