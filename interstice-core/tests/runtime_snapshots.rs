//! The runtime with snapshots: opening starts from the newest one, the
//! background policy takes them without any call waiting, and the
//! subscription calls a snapshot says are due still run once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use interstice_abi::Value;
use interstice_core::{Runtime, RuntimeConfig, SnapshotPolicy};
use interstice_log::LogStore;
use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
use interstice_log::snapshot::SnapshotStore;
use interstice_testkit::calls::arg;
use interstice_testkit::schemas::dump;
use interstice_testkit::wasm_modules::counter;

fn config(snapshots: &MemorySnapshotStore, policy: SnapshotPolicy) -> RuntimeConfig {
    RuntimeConfig {
        snapshots: Some(Arc::new(snapshots.clone())),
        snapshot_policy: policy,
        ..RuntimeConfig::default()
    }
}

async fn open(store: &MemoryLogStore, config: RuntimeConfig) -> (Runtime, u64, Option<u64>) {
    let (rt, report) = Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap();
    (rt, report.commits, report.snapshot)
}

async fn state(rt: &Runtime) -> Vec<(String, Vec<Vec<Value>>)> {
    rt.read(dump).await.unwrap()
}

#[tokio::test]
async fn the_policy_takes_snapshots_and_opening_starts_from_the_newest() {
    let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
    let policy = SnapshotPolicy {
        every_commits: Some(10),
        ..SnapshotPolicy::default()
    };
    let (rt, _, _) = open(&store, config(&snapshots, policy)).await;
    rt.publish(&counter()).await.unwrap();
    for i in 0..30 {
        rt.call("counter", "add", &arg(i)).await.unwrap();
    }
    rt.settle().await;
    // The snapshotter runs beside the calls: wait for it to catch up to
    // within 10 commits of the end.
    let deadline = Instant::now() + Duration::from_secs(20);
    let last = store.last_offset().await.unwrap().unwrap();
    let newest = loop {
        let list = snapshots.list().await.unwrap();
        match list.last() {
            Some(&s) if s + 10 > last => break s,
            _ => assert!(
                Instant::now() < deadline,
                "snapshots {list:?}, log up to {last}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // How many it took depends on how far behind the calls it ran (it
    // runs at a lower priority); never two less than 10 commits apart.
    let list = snapshots.list().await.unwrap();
    assert!(
        list.windows(2).all(|w| w[1] - w[0] >= 10),
        "never before 10 new commits: {list:?}"
    );
    let before = state(&rt).await;
    rt.shutdown().await;

    let (rt, replayed, from) = open(&store, config(&snapshots, SnapshotPolicy::default())).await;
    assert_eq!(from, Some(newest));
    assert_eq!(replayed, last - newest, "only the commits after it");
    assert_eq!(state(&rt).await, before);
    assert_eq!(rt.instantiations(), 0);
    // And it goes on from there.
    let receipt = rt.call("counter", "add", &arg(99)).await.unwrap();
    assert_eq!(receipt.offset, Some(last + 1));
}

#[tokio::test]
async fn a_subscription_due_at_the_snapshot_runs_once_after_opening() {
    let (store, snapshots) = (MemoryLogStore::new(), MemorySnapshotStore::new());
    let (rt, _, _) = open(&store, RuntimeConfig::default()).await;
    rt.publish(&counter()).await.unwrap();
    rt.call("counter", "add", &arg(7)).await.unwrap();
    rt.settle().await;
    rt.shutdown().await;
    // A crash between the insert (1) and its subscription's commit (2).
    assert_eq!(store.commits().len(), 3);
    store.truncate(2).await.unwrap();
    interstice_core::snapshot::take(&store, Arc::new(snapshots.clone()))
        .await
        .unwrap()
        .unwrap();

    let (rt, _, from) = open(&store, config(&snapshots, SnapshotPolicy::default())).await;
    assert_eq!(from, Some(1));
    rt.settle().await;
    let seen = rt
        .read(|db| {
            let m = db.module_by_name("counter").unwrap();
            m.table_by_name("seen").unwrap().1.len()
        })
        .await
        .unwrap();
    assert_eq!(seen, 1, "the follow-up ran, once");
    let log = store.commits();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].cause, Some(1));
}

/// Shutting down waits for a snapshot being taken and its retention pass,
/// takes no more, and releases the log: a disk log opens again at once,
/// and nothing writes to it or its snapshots afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_the_snapshotter_and_releases_the_log() {
    use interstice_backend_fs::{FsLogStore, FsSnapshotStore};
    use interstice_core::retention::Retention;
    use interstice_log::conformance::test_options;

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, test_options()).unwrap();
    let config = RuntimeConfig {
        snapshots: Some(Arc::new(FsSnapshotStore::new(&dir))),
        snapshot_policy: SnapshotPolicy {
            every_commits: Some(1),
            ..SnapshotPolicy::default()
        },
        retention: Retention {
            keep_snapshots: Some(1),
            history: None,
        },
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store), config).await.unwrap();
    rt.publish(&counter()).await.unwrap();
    for i in 0..40 {
        rt.call("counter", "add", &arg(i)).await.unwrap();
    }
    rt.shutdown().await;
    // `rt` is still alive: the store must have been released all the same.
    let reopened = FsLogStore::open(&dir, test_options()).unwrap();
    let snapshots = FsSnapshotStore::new(&dir);
    let listed = snapshots.list().await.unwrap();
    let first = reopened.first_offset().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        snapshots.list().await.unwrap(),
        listed,
        "no snapshot after shutdown"
    );
    assert_eq!(reopened.first_offset().await.unwrap(), first);
    drop(rt);
}
