//! Retention: the log keeps what its newest snapshots and the history
//! window need, never a commit less; a steady update workload stays within
//! a bounded disk footprint.

use std::sync::Arc;
use std::time::Duration;

use interstice_core::retention::{History, Retention, RetentionError, retain};
use interstice_core::snapshot::take;
use interstice_core::{ReplayEngine, ReplayOptions};
use interstice_log::memory::{MemoryLogStore, MemorySnapshotStore};
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{LogStore, LogStoreExt};
use interstice_testkit::schemas::dump;

/// A log of `town` commits (publish, then inserts) in memory.
async fn town_log(n: u64) -> MemoryLogStore {
    let store = MemoryLogStore::new();
    for c in interstice_testkit::schemas::town_history(n) {
        store.append_commit(&c).await.unwrap();
    }
    store
}

fn keep(k: usize) -> Retention {
    Retention {
        keep_snapshots: Some(k),
        history: None,
    }
}

/// Takes a snapshot of `store` at its end.
async fn snap(store: &MemoryLogStore, snapshots: &MemorySnapshotStore) -> u64 {
    take(store, Arc::new(snapshots.clone()))
        .await
        .unwrap()
        .unwrap()
        .offset
}

const NOW: u64 = 1_700_000_000_000_000 + 10_000 * 1_000_000;

#[tokio::test]
async fn retention_keeps_what_the_newest_snapshots_need() {
    let all = interstice_testkit::schemas::town_history(300);
    let store = MemoryLogStore::new();
    let snapshots = MemorySnapshotStore::new();
    let mut taken = Vec::new();
    for chunk in all.chunks(70) {
        for c in chunk {
            store.append_commit(c).await.unwrap();
        }
        taken.push(snap(&store, &snapshots).await);
    }
    let full = ReplayEngine::replay(&town_log(300).await, 0, None)
        .await
        .unwrap();

    let report = retain(&store, &snapshots, &keep(2), NOW).await.unwrap();
    let oldest_kept = taken[taken.len() - 2];
    assert_eq!(report.first_offset, oldest_kept);
    assert_eq!(snapshots.list().await.unwrap(), taken[taken.len() - 2..]);
    assert_eq!(report.snapshots_removed, taken[..taken.len() - 2]);
    // The commit the oldest kept snapshot was taken after is still there.
    assert_eq!(
        store.read_all(oldest_kept).await.unwrap()[0],
        all[oldest_kept as usize]
    );

    // Opening still gives the whole state, from either kept snapshot.
    let opts = ReplayOptions {
        snapshots: Some(Arc::new(snapshots.clone())),
        ..ReplayOptions::default()
    };
    let replayed = ReplayEngine::replay_with(&store, &opts).await.unwrap();
    assert_eq!(dump(&replayed.db), dump(&full.db));
    snapshots.remove(*taken.last().unwrap()).await.unwrap();
    let replayed = ReplayEngine::replay_with(&store, &opts).await.unwrap();
    assert_eq!(replayed.report.snapshot, Some(oldest_kept));
    assert_eq!(dump(&replayed.db), dump(&full.db));

    // With every snapshot gone, opening says where the log starts.
    let mut kept = Vec::new();
    for o in snapshots.list().await.unwrap() {
        kept.push((o, snapshots.get(o).await.unwrap()));
        snapshots.remove(o).await.unwrap();
    }
    let err = ReplayEngine::replay_with(&store, &opts).await.unwrap_err();
    assert!(
        matches!(err, interstice_core::ReplayError::NoStart { first, .. } if first == oldest_kept),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("starts at offset {oldest_kept}")),
        "{err}"
    );
    for (o, bytes) in kept {
        snapshots.put(o, bytes).await.unwrap();
    }

    // A second pass with nothing new removes nothing.
    let again = retain(&store, &snapshots, &keep(2), NOW).await.unwrap();
    assert_eq!(
        (again.segments_removed, again.snapshots_removed.len()),
        (0, 0)
    );
}

#[tokio::test]
async fn the_log_is_never_cut_at_an_unsound_snapshot() {
    let store = town_log(100).await;
    let snapshots = MemorySnapshotStore::new();
    snap(&store, &snapshots).await;
    let mut bad = snapshots.get(100).await.unwrap().to_vec();
    bad[100] ^= 1;
    snapshots.put(100, bad.into()).await.unwrap();
    let err = retain(&store, &snapshots, &keep(1), NOW).await.unwrap_err();
    assert!(
        matches!(err, RetentionError::Unsound { offset: 100, .. }),
        "{err}"
    );
    assert_eq!(store.first_offset().await.unwrap(), 0);
    assert_eq!(store.read_all(0).await.unwrap().len(), 101);
    assert_eq!(snapshots.list().await.unwrap(), [100]);
}

#[tokio::test]
async fn the_history_window_is_kept_whatever_the_snapshots_allow() {
    let store = town_log(200).await;
    let snapshots = MemorySnapshotStore::new();
    snap(&store, &snapshots).await;
    // The last 50 commits.
    let by_count = Retention {
        keep_snapshots: Some(1),
        history: Some(History::Commits(50)),
    };
    let r = retain(&store, &snapshots, &by_count, NOW).await.unwrap();
    assert_eq!(r.first_offset, 151);
    // The commits of the last 30 seconds (one a second, the last at 200 s).
    let (store, snapshots) = (town_log(200).await, MemorySnapshotStore::new());
    let now = 1_700_000_000_000_000 + 200 * 1_000_000;
    snap(&store, &snapshots).await;
    let by_age = Retention {
        keep_snapshots: Some(1),
        history: Some(History::Age(Duration::from_secs(30))),
    };
    let r = retain(&store, &snapshots, &by_age, now).await.unwrap();
    assert_eq!(r.first_offset, 170);
    // No retention asked: nothing goes.
    let store = town_log(50).await;
    let r = retain(&store, &snapshots, &Retention::default(), now)
        .await
        .unwrap();
    assert_eq!(r.first_offset, 0);
}

#[test]
fn history_parses_commits_or_durations() {
    assert_eq!("5000".parse::<History>(), Ok(History::Commits(5000)));
    assert_eq!(
        "36h".parse::<History>(),
        Ok(History::Age(Duration::from_secs(36 * 3600)))
    );
    assert!("soon".parse::<History>().unwrap_err().contains("soon"));
}

/// A steady update workload: 1,000 items, then rounds of 1,000 updates
/// each, on disk, with a snapshot every 500 commits and two kept. Disk use
/// does not grow with history: it stays within the state (two snapshots)
/// plus the commits since the older snapshot plus the segment being
/// written, far below what the log alone would take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_steady_update_workload_stays_within_a_bounded_footprint() {
    use interstice_backend_fs::{FsLogStore, FsSnapshotStore};
    use interstice_core::{Runtime, RuntimeConfig, SnapshotPolicy};
    use interstice_log::{Durability, LogOptions};

    const SEGMENT: u64 = 64 << 10;
    const ROUNDS: u64 = 12;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::None)
        .segment_size(SEGMENT);
    let store: Arc<dyn LogStore> = Arc::new(FsLogStore::open(&dir, opts).unwrap());
    let snapshots = Arc::new(FsSnapshotStore::new(&dir));
    let config = RuntimeConfig {
        snapshots: Some(snapshots.clone()),
        snapshot_policy: SnapshotPolicy {
            every_commits: Some(500),
            ..SnapshotPolicy::default()
        },
        retention: keep(2),
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(store.clone(), config).await.unwrap();
    rt.publish(&interstice_testkit::built::wasm("inventory"))
        .await
        .unwrap();
    let call = |reducer: &'static str, args: Vec<interstice_abi::Value>| {
        let rt = rt.clone();
        async move {
            let args = interstice_abi::encode_value(&interstice_abi::Value::Struct(args)).unwrap();
            rt.call("inventory", reducer, &args).await.unwrap();
        }
    };
    use interstice_abi::Value::{I64, U32, U64};
    call("fill", vec![U64(0), U32(1000)]).await;
    let mut sizes = Vec::new();
    let mut frame_bytes = 0;
    for round in 0..ROUNDS {
        let before = rt.log_stats().bytes;
        for i in 0..1000u64 {
            call("restock", vec![U64(i + 1), I64((round * 1000 + i) as i64)]).await;
        }
        frame_bytes = frame_bytes.max((rt.log_stats().bytes - before) / 1000);
        // Let the snapshotter catch up (it runs beside the calls).
        let last = store.last_offset().await.unwrap().unwrap();
        for _ in 0..500 {
            let newest = snapshots.list().await.unwrap().last().copied().unwrap_or(0);
            if newest + 500 > last {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // A snapshot is listed before its retention pass has removed what
        // it covers: wait for that pass (this waits on the snapshotter's
        // lock), so that each round is measured at rest.
        rt.snapshot_if_due().await.unwrap();
        sizes.push(du(&dir));
    }
    rt.shutdown().await;
    let snapshot_bytes = snapshots
        .list()
        .await
        .unwrap()
        .iter()
        .map(|&o| {
            std::fs::metadata(
                dir.join("snapshots")
                    .join(interstice_log::snapshot::snapshot_name(o)),
            )
            .unwrap()
            .len()
        })
        .max()
        .unwrap();
    // Two snapshots, the commits since the older one (at most two
    // intervals and the one being taken), and the segment being written.
    let bound = 2 * snapshot_bytes + 3 * 500 * frame_bytes + 2 * SEGMENT;
    let without = ROUNDS * 1000 * frame_bytes;
    println!(
        "disk after each round: {sizes:?}; bound {bound}; the log alone without retention would be {without}"
    );
    assert!(
        sizes.iter().skip(2).all(|&s| s <= bound),
        "disk use {sizes:?} exceeds {bound}"
    );
    let early = sizes[..3].iter().max().unwrap();
    assert!(
        sizes.iter().all(|s| *s <= early + SEGMENT),
        "disk use grows with history: {sizes:?}"
    );
    assert!(
        2 * sizes.iter().max().unwrap() < without,
        "the test shows nothing"
    );
    assert!(store.first_offset().await.unwrap() > 5000);
}

/// Bytes of the files under `dir`.
fn du(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() { du(&e.path()) } else { m.len() }
        })
        .sum()
}

/// `check-log --snapshots`: each snapshot is compared with a replay to its
/// offset from the one before it.
mod checking {
    use interstice_core::snapshot::encode;
    use interstice_core::snapshot_check::{Compared, check_snapshots};
    use interstice_log::snapshot::SnapshotHeader;

    use super::*;

    #[tokio::test]
    async fn every_snapshot_matches_a_replay_or_is_named() {
        let all = interstice_testkit::schemas::town_history(89);
        let store = MemoryLogStore::new();
        let snapshots = MemorySnapshotStore::new();
        for chunk in all.chunks(30) {
            for c in chunk {
                store.append_commit(c).await.unwrap();
            }
            snap(&store, &snapshots).await;
        }
        let offsets = snapshots.list().await.unwrap();
        assert_eq!(offsets, [29, 59, 89]);
        let checks = check_snapshots(&store, Arc::new(snapshots.clone()))
            .await
            .unwrap();
        let verdicts: Vec<_> = checks.iter().map(|c| c.verdict.clone()).collect();
        assert_eq!(
            verdicts,
            [
                Ok(Compared::Replay(None)),
                Ok(Compared::Replay(Some(29))),
                Ok(Compared::Replay(Some(59)))
            ]
        );

        // A sound snapshot of the wrong state: the state at 29 labelled 59.
        let at_29 = ReplayEngine::replay(&store, 0, Some(29)).await.unwrap();
        let wrong = encode(
            &at_29.db,
            SnapshotHeader {
                offset: 59,
                timestamp: all[59].timestamp,
                clock: all[59].timestamp,
            },
            &at_29.pending,
            &at_29.requests,
            &at_29.timers,
        );
        snapshots.put(59, wrong).await.unwrap();
        // And damage in the newest.
        let mut bad = snapshots.get(89).await.unwrap().to_vec();
        bad[40] ^= 4;
        snapshots.put(89, bad.into()).await.unwrap();
        let checks = check_snapshots(&store, Arc::new(snapshots.clone()))
            .await
            .unwrap();
        assert_eq!(checks[0].verdict, Ok(Compared::Replay(None)));
        let differs = checks[1].verdict.clone().unwrap_err();
        assert!(
            differs.contains("differs from a replay to offset 59"),
            "{differs}"
        );
        let damaged = checks[2].verdict.clone().unwrap_err();
        assert!(damaged.contains("checksum"), "{damaged}");
    }
}
