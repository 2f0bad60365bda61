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
