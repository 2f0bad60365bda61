//! A long history of updates to few rows: 1,000 items of `inventory`,
//! then a million commits each updating one of them
//! (`INTERSTICE_BENCH_COMMITS=10000000` for the ten million),
//! appended straight to a disk log.
//!
//! Prints, in one run: opening by full replay vs from a snapshot at 99%
//! plus the commits after it; and the disk bytes of that history without
//! retention vs with it (one snapshot kept, the log cut at it).
//! `cargo bench -p interstice-core --bench updates`. Needs the modules
//! built (`scripts/build-modules.sh`).

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use interstice_abi::{Value, encode_fields, encode_value};
use interstice_backend_fs::{FsLogStore, FsSnapshotStore};
use interstice_core::retention::{Retention, retain};
use interstice_core::snapshot::{encode, take};
use interstice_core::{ReplayEngine, ReplayOptions, Runtime, RuntimeConfig};
use interstice_log::snapshot::{SnapshotHeader, SnapshotStore};
use interstice_log::{
    Commit, CommitBatch, Durability, Invocation, LogOptions, LogStore, LogStoreExt, Mutation,
    MutationKind,
};
use interstice_testkit::built;

const ITEMS: u64 = 1000;

/// Bytes of the files under `dir`.
fn du(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => du(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

/// Publishes `inventory` and fills its items; the ids of its module and of
/// the items table's schema hash.
async fn setup(store: Arc<dyn LogStore>) -> (u32, u64) {
    let (rt, _) = Runtime::open(store, RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&built::wasm("inventory")).await.unwrap();
    let args = Value::Struct(vec![Value::U64(0), Value::U32(ITEMS as u32)]);
    rt.call("inventory", "fill", &encode_value(&args).unwrap())
        .await
        .unwrap();
    let ids = rt
        .read(|db| {
            let m = db.find_module("inventory").unwrap();
            (m.id, m.find_table("items").unwrap().1.hash())
        })
        .await
        .unwrap();
    rt.shutdown().await;
    ids
}

/// Appends `commits` updates, item `i % 1000` each, as `restock` would.
async fn updates(store: &dyn LogStore, (module_id, hash): (u32, u64), commits: u64) {
    let first = store.next_offset().await.unwrap();
    let mut batch = CommitBatch::new(first);
    for offset in first..first + commits {
        let n = offset % ITEMS;
        let qty = (offset % 1013) as i64;
        let row = encode_fields(&[
            Value::U64(n + 1),
            Value::U32(n as u32),
            Value::String(format!("item-{n}")),
            Value::I64(qty),
        ])
        .unwrap();
        let args = encode_value(&Value::Struct(vec![Value::U64(n + 1), Value::I64(qty)])).unwrap();
        batch
            .push(&Commit {
                offset,
                timestamp: 1_800_000_000_000_000 + offset,
                cause: None,
                invocation: Invocation {
                    module: "inventory".into(),
                    reducer: "restock".into(),
                    args: Bytes::from(args),
                    request_id: None,
                    timing: None,
                    scheduled: None,
                },
                mutations: vec![Mutation {
                    kind: MutationKind::Update,
                    module_id,
                    table_id: 1,
                    schema_hash: hash,
                    row: Bytes::from(row),
                }],
            })
            .unwrap();
        if batch.bytes().len() > 4 << 20 {
            store.append(&batch).await.unwrap();
            batch = CommitBatch::new(offset + 1);
        }
    }
    if !batch.is_empty() {
        store.append(&batch).await.unwrap();
    }
}

fn main() {
    let commits: u64 = std::env::var("INTERSTICE_BENCH_COMMITS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let dir = tmp.path().join("updates");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::None)
        .segment_size(8 << 20);
    let store: Arc<dyn LogStore> = Arc::new(FsLogStore::open(&dir, opts).unwrap());
    let snapshots: Arc<dyn SnapshotStore> = Arc::new(FsSnapshotStore::new(&dir));
    let ids = rt.block_on(setup(store.clone()));
    let start = Instant::now();
    rt.block_on(updates(&*store, ids, commits));
    let appended = start.elapsed();
    let last = rt.block_on(store.last_offset()).unwrap().unwrap();
    let history_bytes = du(&dir);

    let start = Instant::now();
    let full = rt.block_on(ReplayEngine::replay(&*store, 0, None)).unwrap();
    let full_open = start.elapsed();
    drop(full);

    // A snapshot at 99% of the history.
    let at = last - commits / 100;
    let state = rt
        .block_on(ReplayEngine::replay(&*store, 0, Some(at)))
        .unwrap();
    let header = SnapshotHeader {
        offset: at,
        timestamp: state.last_timestamp,
        clock: state.clock,
    };
    rt.block_on(snapshots.put(
        at,
        encode(
            &state.db,
            header,
            &state.pending,
            &state.requests,
            &state.timers,
        ),
    ))
    .unwrap();
    drop(state);
    let opts = ReplayOptions {
        snapshots: Some(snapshots.clone()),
        ..ReplayOptions::default()
    };
    let start = Instant::now();
    let opened = rt
        .block_on(ReplayEngine::replay_with(&*store, &opts))
        .unwrap();
    let snapshot_open = start.elapsed();
    assert_eq!(opened.report.snapshot, Some(at));
    drop(opened);

    // Retention: a snapshot at the end, one kept, the log cut at it.
    rt.block_on(take(&*store, snapshots.clone())).unwrap();
    let keep_one = Retention {
        keep_snapshots: Some(1),
        history: None,
    };
    let pass = rt
        .block_on(retain(&*store, &*snapshots, &keep_one, u64::MAX))
        .unwrap();
    let retained_bytes = du(&dir);

    println!(
        "updates bench: {ITEMS} items, {commits} update commits appended in {:.1} s, dir {}",
        appended.as_secs_f64(),
        dir.display()
    );
    println!();
    println!("| {:<48} | {:>14} |", "what", "measured");
    println!("|{:-<50}|{:->16}|", "", "");
    let line = |what: &str, value: String| println!("| {what:<48} | {value:>14} |");
    line(
        "open: full replay",
        format!("{:.3} s", full_open.as_secs_f64()),
    );
    line(
        "open: snapshot at 99% + replay of the last 1%",
        format!("{:.3} s", snapshot_open.as_secs_f64()),
    );
    line(
        "disk: the whole history",
        format!("{:.1} MB", history_bytes as f64 / 1e6),
    );
    line(
        "disk: with retention (1 snapshot kept)",
        format!("{:.2} MB", retained_bytes as f64 / 1e6),
    );
    line(
        "log segments removed by retention",
        format!("{}", pass.segments_removed),
    );
}
