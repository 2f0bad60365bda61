//! Backup and restore: a copy taken while 16 callers write opens to
//! exactly the state at its offset; later runs copy only what is new; a
//! restore is a backup the other way.

use std::sync::Arc;

use interstice_backend_fs::{FsLogStore, FsSnapshotStore};
use interstice_core::snapshot::take;
use interstice_core::{ReplayEngine, ReplayOptions, Runtime, RuntimeConfig};
use interstice_log::backup::{BackupError, backup};
use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{Durability, LogOptions, LogStore, LogStoreExt};
use interstice_testkit::calls::arg;
use interstice_testkit::schemas::dump;
use interstice_testkit::wasm_modules::counter;

fn open(dir: &std::path::Path) -> (Arc<dyn LogStore>, Arc<dyn SnapshotStore>) {
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::None)
        .segment_size(16 << 10);
    (
        Arc::new(FsLogStore::open(dir, opts).unwrap()),
        Arc::new(FsSnapshotStore::new(dir)),
    )
}

/// The state a log (and its snapshots) opens to, as rows.
async fn state(
    store: &dyn LogStore,
    snapshots: Arc<dyn SnapshotStore>,
    to: Option<u64>,
) -> Vec<(String, Vec<Vec<interstice_abi::Value>>)> {
    let opts = ReplayOptions {
        to,
        snapshots: Some(snapshots),
        ..ReplayOptions::default()
    };
    dump(&ReplayEngine::replay_with(store, &opts).await.unwrap().db)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_16_callers_write_restores_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let (source, source_snaps) = open(&tmp.path().join("source"));
    let (rt, _) = Runtime::open(source.clone(), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&counter()).await.unwrap();
    let callers: Vec<_> = (0..16u64)
        .map(|c| {
            let rt = rt.clone();
            tokio::spawn(async move {
                for i in 0..60 {
                    rt.call("counter", "add", &arg(c * 1000 + i)).await.unwrap();
                }
            })
        })
        .collect();
    // While they write: a snapshot, then a backup, then another backup.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    take(&*source, source_snaps.clone()).await.unwrap();
    let (dest, dest_snaps) = open(&tmp.path().join("backup"));
    let first = backup(&*source, &*source_snaps, &*dest, &*dest_snaps)
        .await
        .unwrap();
    assert!(first.started_at.is_some(), "started from the snapshot");
    let first_last = first.last_offset.unwrap();
    assert_eq!(
        state(&*dest, dest_snaps.clone(), None).await,
        state(&*source, source_snaps.clone(), Some(first_last)).await,
        "the copy opens to the source's state at its offset"
    );
    for c in callers {
        c.await.unwrap();
    }
    rt.settle().await;
    take(&*source, source_snaps.clone()).await.unwrap();

    // Later run: only what is new, the new snapshot included.
    let second = backup(&*source, &*source_snaps, &*dest, &*dest_snaps)
        .await
        .unwrap();
    assert_eq!(second.started_at, None);
    let last = source.last_offset().await.unwrap().unwrap();
    assert_eq!(second.last_offset, Some(last));
    assert_eq!(second.commits, last - first_last);
    assert_eq!(second.snapshots.len(), 1);
    let live = rt.read(dump).await.unwrap();
    rt.shutdown().await;

    // Restore: the backup copied into an empty log opens to the live state.
    let (restored, restored_snaps) = open(&tmp.path().join("restored"));
    backup(&*dest, &*dest_snaps, &*restored, &*restored_snaps)
        .await
        .unwrap();
    assert_eq!(state(&*restored, restored_snaps.clone(), None).await, live);
    // And a runtime goes on from there.
    let config = RuntimeConfig {
        snapshots: Some(restored_snaps),
        ..RuntimeConfig::default()
    };
    let (rt, report) = Runtime::open(restored.clone(), config).await.unwrap();
    assert!(report.snapshot.is_some());
    let receipt = rt.call("counter", "add", &arg(1)).await.unwrap();
    assert_eq!(receipt.offset, Some(last + 1));
    rt.shutdown().await;
}

#[tokio::test]
async fn a_backup_that_cannot_continue_says_why() {
    let all = interstice_testkit::schemas::town_history(40);
    let source = MemoryLogStore::new();
    let source_snaps = MemorySnapshotStore::new();
    for c in &all[..21] {
        source.append_commit(c).await.unwrap();
    }
    let (dest, dest_snaps) = (MemoryLogStore::new(), MemorySnapshotStore::new());
    let r = backup(&source, &source_snaps, &dest, &dest_snaps)
        .await
        .unwrap();
    assert_eq!(
        (r.started_at, r.commits, r.last_offset),
        (None, 21, Some(20))
    );

    // The source moves on and drops its start past the backup's end.
    for c in &all[21..] {
        source.append_commit(c).await.unwrap();
    }
    take(&source, Arc::new(source_snaps.clone())).await.unwrap();
    source.remove_before(40).await.unwrap();
    let err = backup(&source, &source_snaps, &dest, &dest_snaps)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            BackupError::Gap {
                backup_next: 21,
                source_first: 40
            }
        ),
        "{err}"
    );
    // A fresh backup starts from the snapshot.
    let (fresh, fresh_snaps) = (MemoryLogStore::new(), MemorySnapshotStore::new());
    let r = backup(&source, &source_snaps, &fresh, &fresh_snaps)
        .await
        .unwrap();
    assert_eq!((r.started_at, r.last_offset), (Some(40), Some(40)));

    // Another log's copy is refused.
    let other = MemoryLogStore::new();
    for c in interstice_testkit::schemas::town_history(45) {
        let mut c = c;
        c.timestamp += 1;
        other.append_commit(&c).await.unwrap();
    }
    let err = backup(&other, &MemorySnapshotStore::new(), &fresh, &fresh_snaps)
        .await
        .unwrap_err();
    assert!(matches!(err, BackupError::Diverged { offset: 40 }), "{err}");
}
