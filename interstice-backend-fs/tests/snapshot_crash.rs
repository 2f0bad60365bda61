//! A power cut at every file operation of writing a snapshot (on
//! [`SimFs`]): afterwards the snapshot store lists either no new snapshot
//! or the whole one, byte for byte, and an older snapshot is untouched.

use std::sync::Arc;

use bytes::Bytes;
use interstice_backend_fs::FsSnapshotStore;
use interstice_backend_fs::sim::SimFs;
use interstice_log::snapshot::SnapshotStore;

const DIR: &str = "/sim/log";

fn snapshot(tag: u8) -> Bytes {
    vec![tag; 10_000].into()
}

/// A file system with the log directory made and synced.
fn fresh() -> SimFs {
    let fs = SimFs::new();
    use interstice_backend_fs::vfs::Vfs;
    fs.create_dir_all(std::path::Path::new(DIR)).unwrap();
    fs.sync_dir(std::path::Path::new("/sim")).unwrap();
    fs.sync_dir(std::path::Path::new("/")).unwrap();
    fs
}

#[tokio::test]
async fn a_snapshot_put_is_all_or_nothing_at_every_power_cut() {
    // How many operations a put takes, when an older snapshot exists.
    let probe = fresh();
    let store = FsSnapshotStore::on(Arc::new(probe.clone()), DIR);
    store.put(1, snapshot(1)).await.unwrap();
    let before: u64 = probe.ops().values().sum();
    store.put(5, snapshot(5)).await.unwrap();
    let ops = probe.ops().values().sum::<u64>() - before;
    assert!(ops >= 4, "a put takes {ops} operations");

    for cut in 0..=ops {
        let fs = fresh();
        let store = FsSnapshotStore::on(Arc::new(fs.clone()), DIR);
        store.put(1, snapshot(1)).await.unwrap();
        fs.cut_power_after(cut);
        let acked = store.put(5, snapshot(5)).await.is_ok();
        let step = fs.died_at().unwrap_or("(none)");
        fs.power_loss(Some(cut + 1));
        let what = format!("power cut at operation {cut} ({step}) of a snapshot put");
        let store = FsSnapshotStore::on(Arc::new(fs.clone()), DIR);
        let listed = store.list().await.unwrap();
        assert!(
            listed == [1] || listed == [1, 5],
            "{what}: lists {listed:?}"
        );
        assert!(
            !acked || listed == [1, 5],
            "{what}: an acknowledged put was lost"
        );
        assert_eq!(store.get(1).await.unwrap(), snapshot(1), "{what}");
        if listed == [1, 5] {
            assert_eq!(store.get(5).await.unwrap(), snapshot(5), "{what}");
        }
        // A later put works, and leaves no temporary file behind.
        store.put(9, snapshot(9)).await.unwrap();
        use interstice_backend_fs::vfs::Vfs;
        let names = fs.list(std::path::Path::new("/sim/log/snapshots")).unwrap();
        assert!(
            names.iter().all(|n| n.ends_with(".snap")),
            "{what}: leftovers {names:?}"
        );
    }
}

/// A power cut at every file operation of removing a log's prefix: the
/// log opens afterwards, starting at the old first offset or the new one,
/// with every commit from there intact; a writer's open removes what the
/// pass left behind.
#[tokio::test]
async fn removing_a_prefix_survives_a_power_cut_at_every_step() {
    use interstice_backend_fs::FsLogStore;
    use interstice_log::conformance::append_samples;
    use interstice_log::{Durability, LogOptions, LogStore, LogStoreExt};

    let opts = || {
        LogOptions::default()
            .create(true)
            .durability(Durability::Sync)
            .segment_size(600)
    };
    let log = "/sim/log/l";
    let setup = || async {
        let fs = fresh();
        let store = FsLogStore::open_on(Arc::new(fs.clone()), log, opts()).unwrap();
        let all = append_samples(&store, 40, 2).await;
        (fs, store, all)
    };
    // How many operations the pass takes.
    let (probe, store, _) = setup().await;
    let before: u64 = probe.ops().values().sum();
    let report = store.remove_before(30).await.unwrap();
    let ops = probe.ops().values().sum::<u64>() - before;
    let new_first = report.first_offset;
    assert!(new_first > 0 && report.removed.len() > 1, "{report:?}");

    for cut in 0..=ops {
        let (fs, store, all) = setup().await;
        fs.cut_power_after(cut);
        let done = store.remove_before(30).await.is_ok();
        let step = fs.died_at().unwrap_or("(none)");
        drop(store);
        fs.power_loss(Some(cut + 7));
        let what = format!("power cut at operation {cut} ({step}) of removing a prefix");
        let ro = opts().read_only(true).create(false);
        let reader = FsLogStore::open_on(Arc::new(fs.clone()), log, ro).expect(&what);
        let first = reader.first_offset().await.unwrap();
        assert!(
            first == 0 || first == new_first,
            "{what}: starts at {first}"
        );
        assert!(
            !done || first == new_first,
            "{what}: a finished pass was undone"
        );
        assert_eq!(
            reader.read_all(first).await.unwrap(),
            all[first as usize..],
            "{what}"
        );
        drop(reader);
        let writer = FsLogStore::open_on(Arc::new(fs.clone()), log, opts()).expect(&what);
        assert_eq!(writer.first_offset().await.unwrap(), first, "{what}");
        assert_eq!(writer.next_offset().await.unwrap(), 40, "{what}");
        use interstice_backend_fs::vfs::Vfs;
        let stale: Vec<String> = fs
            .list(std::path::Path::new(log))
            .unwrap()
            .into_iter()
            .filter(|n| n.ends_with(".log") && n[..20].parse::<u64>().unwrap() < first)
            .collect();
        assert!(stale.is_empty(), "{what}: leftovers {stale:?}");
    }
    let line = format!(
        "power cut at each of the {ops} operations of removing a log prefix: the log opens at the old or the new start, nothing after it lost"
    );
    interstice_log::conformance::report_counts(
        env!("CARGO_TARGET_TMPDIR"),
        "power-loss-retention",
        &line,
    );
}
