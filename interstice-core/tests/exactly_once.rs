//! Exactly-once calls (issue 17, item 2): a call with a request id is
//! logged with it, and a retry with the same id, on the same runtime or
//! one that opened the log later, runs nothing and answers with the first
//! commit.

use std::sync::Arc;
use std::time::Duration;

use interstice_abi::Value;
use interstice_core::{CallErrorKind, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::calls::arg;
use interstice_testkit::wasm_modules::counter_alone;

async fn open(store: &MemoryLogStore, config: RuntimeConfig) -> Runtime {
    let (rt, _) = Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap();
    rt
}

/// A runtime on `store` with the counter module published.
async fn with_counter(store: &MemoryLogStore, config: RuntimeConfig) -> Runtime {
    let rt = open(store, config).await;
    rt.publish(&counter_alone()).await.unwrap();
    rt
}

async fn counters(rt: &Runtime) -> Vec<Vec<Value>> {
    rt.read(|db| {
        let m = db.module_by_name("counter").unwrap();
        let (_, t) = m.table_by_name("counters").unwrap();
        t.iter().map(|r| r.values().to_vec()).collect()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn a_retry_runs_nothing_and_answers_with_the_first_commit() {
    let store = MemoryLogStore::new();
    let rt = with_counter(&store, RuntimeConfig::default()).await;
    let first = rt
        .call_once("counter", "add", &arg(7), "order-1")
        .await
        .unwrap();
    assert!(!first.replayed);
    let logged = store.commits().len();
    assert_eq!(
        store
            .commits()
            .last()
            .unwrap()
            .invocation
            .request_id
            .as_deref(),
        Some("order-1")
    );
    let again = rt
        .call_once("counter", "add", &arg(7), "order-1")
        .await
        .unwrap();
    assert!(again.replayed);
    assert_eq!(again.offset, first.offset);
    assert_eq!(store.commits().len(), logged, "nothing ran again");
    assert_eq!(counters(&rt).await.len(), 1);

    // The same id for another call is refused, naming the commit.
    let err = rt
        .call_once("counter", "add", &arg(8), "order-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, CallErrorKind::RequestIdReused { offset, .. } if Some(offset) == first.offset),
        "{err}"
    );
    // Another id runs.
    let other = rt
        .call_once("counter", "add", &arg(8), "order-2")
        .await
        .unwrap();
    assert!(!other.replayed);
    assert_eq!(counters(&rt).await.len(), 2);
}

#[tokio::test]
async fn a_runtime_that_opens_the_log_later_knows_the_ids() {
    let store = MemoryLogStore::new();
    let rt = with_counter(&store, RuntimeConfig::default()).await;
    let first = rt
        .call_once("counter", "add", &arg(7), "order-1")
        .await
        .unwrap();
    // A call that changed nothing is logged too, so its retry is answered.
    let noop = rt
        .call_once("counter", "noop", &[], "ping-1")
        .await
        .unwrap();
    assert!(noop.offset.is_some());
    rt.shutdown().await;
    drop(rt);

    let rt = open(&store, RuntimeConfig::default()).await;
    let logged = store.commits().len();
    let again = rt
        .call_once("counter", "add", &arg(7), "order-1")
        .await
        .unwrap();
    assert_eq!((again.replayed, again.offset), (true, first.offset));
    let again = rt
        .call_once("counter", "noop", &[], "ping-1")
        .await
        .unwrap();
    assert_eq!((again.replayed, again.offset), (true, noop.offset));
    assert_eq!(store.commits().len(), logged);
    assert_eq!(counters(&rt).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_retries_commit_once() {
    let store = MemoryLogStore::new();
    let rt = with_counter(&store, RuntimeConfig::default()).await;
    // Slow appends: the retries arrive while the first is not durable.
    store.set_delay(Duration::from_millis(20));
    let tries: Vec<_> = (0..16)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move { rt.call_once("counter", "add", &arg(5), "once").await })
        })
        .collect();
    let mut offsets = Vec::new();
    let mut fresh = 0;
    for t in tries {
        let r = t.await.unwrap().unwrap();
        fresh += usize::from(!r.replayed);
        offsets.push(r.offset.unwrap());
    }
    assert_eq!(fresh, 1);
    offsets.dedup();
    assert_eq!(offsets.len(), 1, "every retry names the one commit");
    let with_id = store
        .commits()
        .iter()
        .filter(|c| c.invocation.request_id.as_deref() == Some("once"))
        .count();
    assert_eq!(with_id, 1);
}

#[tokio::test]
async fn failed_calls_and_forgotten_ids_run_again() {
    let store = MemoryLogStore::new();
    let config = || RuntimeConfig {
        request_ids_for: Duration::ZERO,
        ..RuntimeConfig::default()
    };
    let rt = open(&store, config()).await;
    rt.publish(&counter_alone()).await.unwrap();
    // A failed call committed nothing, so its id is free.
    assert!(
        rt.call_once("counter", "fail_after_insert", &arg(1), "f")
            .await
            .is_err()
    );
    let ran = rt.call_once("counter", "add", &arg(1), "f").await.unwrap();
    assert!(!ran.replayed);
    // With a window of zero, an id is forgotten at once: the retry runs.
    let again = rt.call_once("counter", "add", &arg(2), "f").await.unwrap();
    assert!(!again.replayed);
    assert_ne!(again.offset, ran.offset);
    // Bad ids are refused before anything runs.
    for bad in ["", "a\nb"] {
        let err = rt
            .call_once("counter", "add", &arg(3), bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err.kind, CallErrorKind::BadArguments { .. }),
            "{err}"
        );
    }
    assert_eq!(counters(&rt).await.len(), 2);
}

/// The ids live in snapshots too: a runtime that opens from a snapshot,
/// the log before it removed by retention, still answers a retry.
#[tokio::test]
async fn ids_survive_a_snapshot_and_the_removal_of_the_log_before_it() {
    use interstice_core::retention::{Retention, retain};
    use interstice_core::snapshot::take;
    use interstice_log::memory::MemorySnapshotStore;
    use interstice_log::{LogStore, LogStoreExt};

    let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
    let config = || RuntimeConfig {
        snapshots: Some(Arc::new(snapshots.clone())),
        ..RuntimeConfig::default()
    };
    let rt = open(&store, config()).await;
    rt.publish(&counter_alone()).await.unwrap();
    let first = rt
        .call_once("counter", "add", &arg(7), "order-1")
        .await
        .unwrap();
    rt.call("counter", "add", &arg(8)).await.unwrap();
    rt.shutdown().await;
    drop(rt);
    take(&store, Arc::new(snapshots.clone())).await.unwrap();
    let keep = Retention {
        keep_snapshots: Some(1),
        history: None,
    };
    retain(&store, &snapshots, &keep, u64::MAX).await.unwrap();
    assert!(store.first_offset().await.unwrap() > first.offset.unwrap());

    let rt = open(&store, config()).await;
    let next = store.next_offset().await.unwrap();
    let again = rt
        .call_once("counter", "add", &arg(7), "order-1")
        .await
        .unwrap();
    assert_eq!((again.replayed, again.offset), (true, first.offset));
    assert_eq!(store.next_offset().await.unwrap(), next);
    assert_eq!(counters(&rt).await.len(), 2);
}
