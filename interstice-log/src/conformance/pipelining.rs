//! The cases of the conformance suite on appends under way at once
//! ([`LogStore::start_append`], [`LogStore::max_in_flight`]). A store that
//! keeps one append at a time passes them with the default
//! `start_append`; one that keeps several must acknowledge in order, and
//! after a crash treat the contiguous prefix as the log.

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::{Harness, append_samples, batch_of, sample_commit, test_options};
use crate::{Error, LogStore, LogStoreExt, RecoveryMode};

/// Appends started one after another, each before the previous one is
/// acknowledged, are acknowledged in offset order, and every one is in the
/// log, read back and after a reopen.
pub async fn appends_under_way_are_acknowledged_in_order<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    // The first append of a writer may go alone (S3 records where its
    // epoch begins): start the window after it.
    append_samples(&store, 1, 1).await;
    let window = store.max_in_flight().max(4);
    let mut expected = store.read_all(0).await.unwrap();
    let mut acks = FuturesUnordered::new();
    let mut offset = 1;
    for i in 0..window * 2 {
        let commits: Vec<_> = (0..1 + i % 3)
            .map(|k| sample_commit(offset + k as u64, &format!("w{i}-{k}")))
            .collect();
        offset += commits.len() as u64;
        let ack = store.start_append(&batch_of(&commits)).await.unwrap();
        let last = commits.last().unwrap().offset;
        acks.push(async move { (last, ack.await) });
        expected.extend(commits);
    }
    // In order: when an append is acknowledged, it and every commit
    // before it are readable (the store's end moves only in order).
    while let Some((last, result)) = acks.next().await {
        result.unwrap_or_else(|e| panic!("append ending at {last}: {e}"));
        assert!(
            store.last_offset().await.unwrap() >= Some(last),
            "acknowledged {last} before it is readable"
        );
    }
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    drop(store);
    let (store, report) = h.open(test_options()).await.expect("reopen");
    assert!(report.quarantined.is_empty(), "{report:?}");
    assert_eq!(store.read_all(0).await.unwrap(), expected);
}

/// A started append must begin where the last started one ends, even
/// before that one is acknowledged; a batch elsewhere is refused without
/// writing anything.
pub async fn an_append_starts_where_the_last_started_one_ends<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    append_samples(&store, 2, 1).await;
    let first = [sample_commit(2, "a"), sample_commit(3, "b")];
    let ack = store.start_append(&batch_of(&first)).await.unwrap();
    for wrong in [2, 5] {
        // Refused when it starts, or (a store that appends whole before
        // returning) by its outcome.
        let err = match store
            .start_append(&batch_of(&[sample_commit(wrong, "wrong")]))
            .await
        {
            Err(e) => e,
            Ok(ack) => ack
                .await
                .err()
                .unwrap_or_else(|| panic!("a batch at {wrong} was taken after one ending at 3")),
        };
        assert!(
            matches!(err, Error::OffsetConflict { expected: 4, found } if found == wrong),
            "{err}"
        );
    }
    let second = store
        .start_append(&batch_of(&[sample_commit(4, "c")]))
        .await
        .unwrap();
    ack.await.unwrap();
    second.await.unwrap();
    let tags: Vec<_> = store.read_all(2).await.unwrap();
    assert_eq!(tags.len(), 3);
    assert_eq!(store.last_offset().await.unwrap(), Some(4));
}

/// A store with several appends under way can crash with a later batch
/// stored and an earlier one not: that later batch was never
/// acknowledged, and opening ends the log at the hole, setting it aside
/// (quarantine); appends then go on from the hole. A store with one
/// append at a time cannot leave such a hole, so the case stops there.
/// Strict recovery refuses instead of setting anything aside.
pub async fn a_hole_left_by_a_crash_is_the_end_of_the_log<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let window = store.max_in_flight();
    if window < 3 {
        return;
    }
    let n = window as u64 + 6;
    let all = append_samples(&store, n, 1).await;
    drop(store);
    let segments = h.segments().await;
    assert_eq!(segments.len() as u64, n, "one object per batch");
    // The crash: the third-to-last batch never landed.
    let missing = &segments[segments.len() - 3];
    h.remove_segment(missing).await;
    let strict = h
        .open(test_options().recovery(RecoveryMode::Strict))
        .await
        .expect_err("strict recovery refuses a hole");
    assert!(matches!(strict, Error::InvalidTail(_)), "{strict}");
    let (store, report) = h.open(test_options()).await.expect("reopen");
    assert_eq!(report.quarantined.len(), 2, "{report:?}");
    let end = n as usize - 3;
    assert_eq!(store.last_offset().await.unwrap(), Some(end as u64 - 1));
    assert_eq!(store.read_all(0).await.unwrap(), all[..end]);
    let more = append_samples(&store, 3, 1).await;
    assert_eq!(more[0].offset, end as u64);
    drop(store);
    let (store, report) = h.open(test_options()).await.expect("reopen");
    assert!(report.quarantined.is_empty(), "{report:?}");
    let mut expected = all[..end].to_vec();
    expected.extend(more);
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    // A hole before the last `window` objects is no crash's: corruption,
    // found by reads.
    drop(store);
    h.remove_segment(&h.segments().await[1]).await;
    let (store, _) = h
        .open(test_options())
        .await
        .expect("opens: only the window is checked");
    let err = store.read_all(0).await.unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
    assert!(!store.verify().await.unwrap().is_clean());
}
