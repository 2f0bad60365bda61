//! Sustained load: 64 concurrent callers on a disk log with `sync`
//! durability, and on a store made slow on purpose. Every acknowledged
//! call is in the log exactly once, the log's offsets are dense, and the
//! calls waiting for durability never exceed `max_pending`, so a slow store
//! slows callers down instead of filling memory.

use std::sync::Arc;
use std::time::Duration;

use interstice_backend_fs::FsLogStore;
use interstice_core::{BATCH_SIZE_BOUNDS, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_log::{Durability, LogOptions, LogStore};
use interstice_testkit::calls::{check_log, load};
use interstice_testkit::wasm_modules::counter_alone;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_callers_on_a_disk_log() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::Sync);
    let store: Arc<dyn LogStore> = Arc::new(FsLogStore::open(tmp.path(), opts.clone()).unwrap());
    let config = RuntimeConfig {
        max_pending: 64,
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(store, config).await.unwrap();
    rt.publish(&counter_alone()).await.unwrap();
    // `INTERSTICE_LOAD_CALLS` calls per caller (150 by default).
    let calls = std::env::var("INTERSTICE_LOAD_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(150);
    let (acked, most) = load(&rt, 64, calls).await;
    let stats = rt.log_stats();
    let line = format!(
        "64 callers on a disk log (sync): {} calls in {} appends, each once at dense offsets; \
         at most {most} pending",
        acked.len(),
        stats.appends
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), "load-disk", &line);
    assert!(most <= 64, "{most} calls pending at once");
    rt.shutdown().await;
    drop(rt);
    let store = Arc::new(FsLogStore::open(tmp.path(), opts).unwrap());
    assert_eq!(acked.len() as u64, 64 * calls);
    check_log(store, &acked, 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_makes_callers_wait_instead_of_buffering() {
    let store = MemoryLogStore::new();
    let config = RuntimeConfig {
        max_pending: 8,
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap();
    rt.publish(&counter_alone()).await.unwrap();
    store.set_delay(Duration::from_millis(2));
    let (acked, most) = load(&rt, 64, 10).await;
    let stats = rt.log_stats();
    let line = format!(
        "64 callers on a store taking 2 ms per append: {} calls, at most {most} pending (limit 8)",
        acked.len()
    );
    interstice_log::conformance::report_counts(
        env!("CARGO_TARGET_TMPDIR"),
        "load-slow-store",
        &line,
    );
    assert!(most <= 8, "{most} calls pending with a limit of 8");
    // No append carried more than the limit either.
    let above: u64 = BATCH_SIZE_BOUNDS
        .iter()
        .zip(&stats.batch_sizes)
        .filter(|(bound, _)| **bound > 8)
        .map(|(_, n)| n)
        .sum::<u64>()
        + stats.batch_sizes.last().unwrap();
    assert_eq!(above, 0, "batches over 8 commits: {:?}", stats.batch_sizes);
    assert_eq!(rt.log_stats().pending, 0, "nothing left pending");
    rt.shutdown().await;
    drop(rt);
    assert_eq!(acked.len(), 640);
    check_log(Arc::new(store), &acked, 0).await;
}
