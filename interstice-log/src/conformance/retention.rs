//! The retention cases of the conformance suite: what
//! [`LogStore::remove_before`] must and must not remove.

use super::{Harness, append_samples, test_options};
use crate::{Error, LogStore, LogStoreExt};

/// Only whole segments before the offset go; everything from it on reads
/// back unchanged, before and after a reopen, and appends continue.
pub async fn retention_removes_whole_segments_before_the_offset<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let all = append_samples(&store, 120, 3).await;
    let segments_before = h.segments().await;
    let report = store.remove_before(70).await.unwrap();
    let first = report.first_offset;
    assert!(first <= 70, "first offset {first} is past 70");
    assert_eq!(store.first_offset().await.unwrap(), first);
    assert_eq!(store.read_all(first).await.unwrap(), all[first as usize..]);
    if first > 0 {
        let err = store.read_from(first - 1).await.err().expect("removed");
        assert!(
            matches!(err, Error::OffsetOutOfRange { first: f, .. } if f == first),
            "{err}"
        );
    }
    if h.stores_segments() {
        assert!(first > 0, "120 commits fill several segments before 70");
        let left = h.segments().await;
        assert_eq!(
            left.len() + report.removed.len(),
            segments_before.len(),
            "removed {:?}, left {left:?}",
            report.removed
        );
        assert!(report.removed.iter().all(|r| !left.contains(r)));
    }
    drop(store);
    let (store, report) = h.open(test_options()).await.expect("reopen");
    assert!(report.quarantined.is_empty(), "{report:?}");
    assert_eq!(store.first_offset().await.unwrap(), first);
    assert_eq!(store.read_all(first).await.unwrap(), all[first as usize..]);
    let more = append_samples(&store, 5, 2).await;
    assert_eq!(more[0].offset, 120);
    assert_eq!(store.last_offset().await.unwrap(), Some(124));
}

/// Out-of-range offsets are refused; the first offset or one before it is
/// a no-op; the segment appends go to is never removed.
pub async fn retention_bounds<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let all = append_samples(&store, 20, 4).await;
    let err = store.remove_before(21).await.unwrap_err();
    assert!(
        matches!(err, Error::OffsetOutOfRange { requested: 21, .. }),
        "{err}"
    );
    assert_eq!(store.remove_before(0).await.unwrap().first_offset, 0);
    assert!(store.remove_before(0).await.unwrap().removed.is_empty());
    // Up to the end: whatever it removes, the last commit stays readable
    // and appends continue.
    let first = store.remove_before(20).await.unwrap().first_offset;
    assert_eq!(store.read_all(first).await.unwrap(), all[first as usize..]);
    append_samples(&store, 1, 1).await;
    assert_eq!(store.last_offset().await.unwrap(), Some(20));
    // Truncating below the first offset is out of range; above it works.
    if first > 0 {
        let err = store.truncate(first - 1).await.unwrap_err();
        assert!(matches!(err, Error::OffsetOutOfRange { .. }), "{err}");
    }
    store.truncate(20).await.unwrap();
    assert_eq!(store.next_offset().await.unwrap(), 20);
}

/// A log with no commits can start at any offset (a restore from a
/// snapshot): the next append goes there, and a reopen keeps it.
pub async fn an_empty_log_starts_where_it_is_told<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let report = store.remove_before(1000).await.unwrap();
    assert_eq!(report.first_offset, 1000);
    assert_eq!(store.first_offset().await.unwrap(), 1000);
    assert_eq!(store.last_offset().await.unwrap(), None);
    assert_eq!(store.next_offset().await.unwrap(), 1000);
    assert!(store.read_all(1000).await.unwrap().is_empty());
    let appended = append_samples(&store, 10, 3).await;
    assert_eq!(appended[0].offset, 1000);
    drop(store);
    let (store, _) = h.open(test_options()).await.expect("reopen");
    assert_eq!(store.first_offset().await.unwrap(), 1000);
    assert_eq!(store.read_all(1000).await.unwrap(), appended);
}

/// A retention pass cut short after its start marker: the segments it did
/// not get to remove are ignored by readers and removed by the next
/// writer's open. (Needs stored segments to put back.)
pub async fn leftovers_of_an_interrupted_retention_are_ignored<H: Harness>(h: &H) {
    if !h.stores_segments() {
        return;
    }
    let (store, _) = h.open(test_options()).await.expect("open");
    let all = append_samples(&store, 60, 3).await;
    let names = h.segments().await;
    let kept: Vec<Vec<u8>> = {
        let mut v = Vec::new();
        for n in &names {
            v.push(h.read_segment(n).await);
        }
        v
    };
    let report = store.remove_before(40).await.unwrap();
    assert!(!report.removed.is_empty());
    drop(store);
    // The crash: the removed segments are back.
    for (n, bytes) in names.iter().zip(kept) {
        if report.removed.contains(n) {
            h.write_segment(n, bytes).await;
        }
    }
    let first = report.first_offset;
    let ro = test_options().read_only(true).create(false);
    let (reader, _) = h.open(ro).await.expect("read-only open");
    assert_eq!(reader.first_offset().await.unwrap(), first);
    assert_eq!(reader.read_all(first).await.unwrap(), all[first as usize..]);
    drop(reader);
    let (store, _) = h.open(test_options()).await.expect("reopen");
    assert_eq!(store.first_offset().await.unwrap(), first);
    let left = h.segments().await;
    assert!(
        report.removed.iter().all(|r| !left.contains(r)),
        "leftovers {left:?}"
    );
    assert_eq!(store.read_all(first).await.unwrap(), all[first as usize..]);
}

/// A read-only store refuses to remove anything.
pub async fn a_read_only_store_refuses_retention<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    append_samples(&store, 10, 2).await;
    drop(store);
    let ro = test_options().read_only(true).create(false);
    let (reader, _) = h.open(ro).await.expect("read-only open");
    let err = reader.remove_before(5).await.unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
}
