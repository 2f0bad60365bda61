//! The snapshot-store cases of the conformance suite: what every
//! [`SnapshotStore`] must do, whatever it keeps snapshots in.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::Error;
use crate::snapshot::SnapshotStore;

/// Defines one `#[tokio::test]` per snapshot-store case, each on a fresh
/// harness made by `$make(test_name)`.
///
/// ```ignore
/// interstice_log::snapshot_conformance_tests!(|_name: &str| FsSnapshots::new());
/// ```
#[macro_export]
macro_rules! snapshot_conformance_tests {
    ($make:expr) => {
        $crate::snapshot_conformance_tests!(@each $make;
            snapshots_round_trip,
            put_replaces_a_snapshot,
            missing_snapshots,
            removed_snapshots_are_gone,
            a_new_handle_sees_the_same_snapshots,
            concurrent_puts_all_land,
            large_snapshots_round_trip,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let harness = ($make)(stringify!($name));
            $crate::conformance::snapshots::$name(&harness).await;
        }
    )*};
}

/// What the snapshot cases need from a backend under test.
#[async_trait]
pub trait SnapshotHarness: Send + Sync {
    /// A handle on the one snapshot location this harness tests (empty at
    /// first); each call is a new handle on the same location, as a new
    /// process would open it.
    async fn open(&self) -> Arc<dyn SnapshotStore>;
}

fn bytes(tag: &str, len: usize) -> Bytes {
    tag.bytes().cycle().take(len).collect::<Vec<u8>>().into()
}

/// Snapshots put at any offsets are listed in ascending order and read
/// back as put.
pub async fn snapshots_round_trip<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    assert_eq!(s.list().await.unwrap(), Vec::<u64>::new());
    for offset in [40, 7, u64::MAX, 0] {
        s.put(offset, bytes(&offset.to_string(), 100))
            .await
            .unwrap();
    }
    assert_eq!(s.list().await.unwrap(), vec![0, 7, 40, u64::MAX]);
    for offset in [0, 7, 40, u64::MAX] {
        assert_eq!(
            s.get(offset).await.unwrap(),
            bytes(&offset.to_string(), 100)
        );
    }
}

/// A second put at the same offset replaces the first.
pub async fn put_replaces_a_snapshot<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    s.put(5, bytes("first", 50)).await.unwrap();
    s.put(5, bytes("second", 70)).await.unwrap();
    assert_eq!(s.list().await.unwrap(), vec![5]);
    assert_eq!(s.get(5).await.unwrap(), bytes("second", 70));
}

/// Reading a snapshot that is not there is `NoSnapshot`; removing one is
/// not an error.
pub async fn missing_snapshots<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    match s.get(3).await {
        Err(Error::NoSnapshot { location, offset }) => {
            assert_eq!(offset, 3);
            assert!(!location.is_empty());
        }
        other => panic!("expected NoSnapshot, got {other:?}"),
    }
    s.remove(3).await.unwrap();
}

/// A removed snapshot is neither listed nor readable; the others stay.
pub async fn removed_snapshots_are_gone<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    for offset in [1, 2, 3] {
        s.put(offset, bytes("x", 10)).await.unwrap();
    }
    s.remove(2).await.unwrap();
    assert_eq!(s.list().await.unwrap(), vec![1, 3]);
    assert!(matches!(s.get(2).await, Err(Error::NoSnapshot { .. })));
    assert_eq!(s.get(3).await.unwrap(), bytes("x", 10));
}

/// What one handle stored, another handle on the same location sees.
pub async fn a_new_handle_sees_the_same_snapshots<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    s.put(10, bytes("ten", 30)).await.unwrap();
    drop(s);
    let again = h.open().await;
    assert_eq!(again.list().await.unwrap(), vec![10]);
    assert_eq!(again.get(10).await.unwrap(), bytes("ten", 30));
}

/// Puts at different offsets from many tasks at once all land whole.
pub async fn concurrent_puts_all_land<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.put(i * 3, bytes(&format!("t{i}"), 1000)).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(
        s.list().await.unwrap(),
        (0..8).map(|i| i * 3).collect::<Vec<_>>()
    );
    for i in 0..8u64 {
        assert_eq!(s.get(i * 3).await.unwrap(), bytes(&format!("t{i}"), 1000));
    }
}

/// A snapshot of several MiB (many blocks) round-trips byte for byte.
pub async fn large_snapshots_round_trip<H: SnapshotHarness>(h: &H) {
    let s = h.open().await;
    let big = bytes("0123456789abcdef", 9 << 20);
    s.put(1, big.clone()).await.unwrap();
    assert_eq!(s.get(1).await.unwrap(), big);
}
