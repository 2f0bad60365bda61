//! Appends under way at once on S3 (`docs/s3.md`, "Pipelined appends"):
//! acknowledged in offset order only, an earlier unknown outcome makes
//! every later one unknown too, the store settles them all before it goes
//! on, and a crash leaves the contiguous prefix as the log.

use futures::future::join_all;
use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::conformance::{Harness, append_samples, sample_commit};
use interstice_log::{CommitBatch, Error, LogOptions, LogStore, LogStoreExt, codec};
use s3::{MOTO, PASS, Proxy, S3};

fn batch(offset: u64) -> CommitBatch {
    let mut b = CommitBatch::new(offset);
    b.push(&sample_commit(offset, "p")).unwrap();
    b
}

/// The key fragment of the object holding the batch that starts at
/// `offset`.
fn object_of(offset: u64) -> String {
    format!("/log/{offset:020}")
}

/// Starts one-commit appends at `offsets` (in order, each before the one
/// before is acknowledged) and waits for all of them.
async fn start_all(store: &S3LogStore, offsets: std::ops::Range<u64>) -> Vec<Result<(), Error>> {
    let mut acks = Vec::new();
    for o in offsets {
        acks.push(store.start_append(&batch(o)).await.unwrap());
    }
    join_all(acks).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_an_unknown_outcome_every_append_is_unknown_until_settled() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "pipelined-unknown").inflight(8);
    let store = S3LogStore::open(config, LogOptions::default().create(true))
        .await
        .unwrap();
    assert_eq!(store.max_in_flight(), 8);
    let mut expected = append_samples(&store, 2, 1).await;

    // The PUT of commit 3 is cut: neither it nor anything behind it can
    // be acknowledged, though 4 and 5 are stored.
    proxy.cut_puts_to(&object_of(3));
    let results = start_all(&store, 2..6).await;
    assert!(results[0].is_ok(), "{:?}", results[0]);
    for (r, offset) in results[1..].iter().zip(3..) {
        match r {
            Err(Error::OutcomeUnknown { first, .. }) if *first == offset => {}
            other => panic!("commit {offset}: {other:?}"),
        }
    }
    expected.push(sample_commit(2, "p"));
    assert_eq!(store.last_offset().await.unwrap(), Some(2));
    // Still cut: the next append cannot settle commit 3, so it is not
    // started.
    let err = store.append(&batch(6)).await.unwrap_err();
    assert!(
        matches!(err, Error::OutcomeUnknown { first: 3, .. }),
        "{err}"
    );
    assert_eq!(store.last_offset().await.unwrap(), Some(2));

    // Back: commit 3 is put again, 4 and 5 read back as this store's, and
    // the log goes on after them.
    proxy.set(PASS);
    store.append(&batch(6)).await.unwrap();
    expected.extend((3..7).map(|o| sample_commit(o, "p")));
    assert_eq!(store.read_all(0).await.unwrap(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_behind_an_unstored_append_leaves_the_prefix() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "pipelined-crash").inflight(8);
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut expected = append_samples(&store, 3, 1).await;
    proxy.cut_puts_to(&object_of(4));
    let results = start_all(&store, 3..8).await;
    assert!(results[0].is_ok());
    assert!(
        results[1..]
            .iter()
            .all(|r| matches!(r, Err(Error::OutcomeUnknown { .. })))
    );
    expected.push(sample_commit(3, "p"));
    // The process dies before it settles anything.
    drop(store);
    proxy.set(PASS);

    // 5, 6 and 7 are stored behind the hole at 4, and were never
    // acknowledged: the log ends at 3, and they go to quarantine.
    let store = S3LogStore::open(config.clone(), LogOptions::default())
        .await
        .unwrap();
    let report = store.recovery_report();
    assert_eq!(report.quarantined.len(), 3, "{report:?}");
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    store.append(&batch(4)).await.unwrap();
    expected.push(sample_commit(4, "p"));
    drop(store);
    let store = S3LogStore::open(config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    assert!(store.verify().await.unwrap().is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_a_live_pipelined_log_stops_at_a_hole() {
    let proxy = Proxy::start(MOTO).await;
    let config = proxy.config(MOTO, "pipelined-reader").inflight(8);
    let store = S3LogStore::open(config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let expected = append_samples(&store, 3, 1).await;
    proxy.cut_puts_to(&object_of(4));
    let results = start_all(&store, 3..7).await;
    assert!(results[0].is_ok());
    // A follower looking now sees 5 and 6 stored behind the hole at 4:
    // neither opening nor refreshing takes them.
    let direct = s3::MOTO.config("unused");
    let mut follower_config = config.clone();
    follower_config.endpoint = direct.endpoint;
    let follower = S3LogStore::open(follower_config, LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(follower.next_offset().await.unwrap(), 4);
    assert_eq!(follower.refresh().await.unwrap(), 4);
    assert_eq!(follower.read_all(0).await.unwrap().len(), 4);
    assert_eq!(follower.read_all(0).await.unwrap()[..3], expected[..]);
    // The writer settles 4 (and 5, 6 behind it): the follower then takes
    // them all.
    proxy.set(PASS);
    store.append(&batch(7)).await.unwrap();
    assert_eq!(follower.refresh().await.unwrap(), 8);
    assert_eq!(follower.read_all(0).await.unwrap().len(), 8);
}

/// The bytes a writer of `epoch` would store for a one-commit batch at
/// `offset`.
fn object_of_epoch(offset: u64, tag: &str, epoch: u64) -> Vec<u8> {
    let mut b = CommitBatch::new(offset);
    b.push(&sample_commit(offset, tag)).unwrap();
    let max = LogOptions::default().max_frame_size;
    let mut bytes = codec::SegmentHeader::new(offset, max).encode().to_vec();
    for (_, frame) in b.frames() {
        let at = bytes.len();
        bytes.extend_from_slice(frame);
        codec::set_epoch(&mut bytes[at..], epoch);
    }
    bytes
}

/// A writer that was replaced (fenced at the new writer's first offset)
/// may still have had later appends in flight; on a server that enforces
/// create-only puts they land only on keys nobody wrote yet, and were
/// never acknowledged. At the end of the log they are moved to
/// quarantine by the next open, not refused as a late overwrite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_writers_leftover_at_the_end_is_moved_aside() {
    let h = S3::new(MOTO, "pipelined-stale-tail");
    let a = S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut expected = append_samples(&a, 2, 1).await;
    let b = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    assert_eq!(b.epoch().await, Some(2));
    b.append(&batch(2)).await.unwrap();
    expected.push(sample_commit(2, "p"));
    drop((a, b));
    // A's in-flight append of 3 lands after B began at 2.
    h.write_segment(&format!("{:020}.seg", 3), object_of_epoch(3, "a", 1))
        .await;

    let reader = S3LogStore::open(h.config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(reader.read_all(0).await.unwrap(), expected, "left out");
    let c = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    assert_eq!(c.recovery_report().quarantined.len(), 1);
    assert_eq!(c.read_all(0).await.unwrap(), expected);
    c.append(&batch(3)).await.unwrap();
    expected.push(sample_commit(3, "p"));
    assert_eq!(c.read_all(0).await.unwrap(), expected);
    assert!(c.verify().await.unwrap().is_clean());

    // At the newer writer's very first offset it is an overwrite of an
    // acknowledged commit, not a leftover: refused, as before.
    drop(c);
    h.write_segment(&format!("{:020}.seg", 3), object_of_epoch(3, "x", 2))
        .await;
    let err = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Corrupt(_)), "{err}");
}

/// A late `PUT` of a replaced writer that lands ahead of the new writer,
/// on a key it has not written yet, is cleared from the key (its bytes
/// kept in quarantine) when the new writer gets there: it does not fence
/// the writer that replaced it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_put_of_a_replaced_writer_does_not_fence_the_new_one() {
    let h = S3::new(MOTO, "pipelined-late-put");
    let a = S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let mut expected = append_samples(&a, 2, 1).await;
    let b = S3LogStore::open(h.config.clone(), LogOptions::default())
        .await
        .unwrap();
    b.append(&batch(2)).await.unwrap();
    h.write_segment(&format!("{:020}.seg", 4), object_of_epoch(4, "a", 1))
        .await;
    b.append(&batch(3)).await.unwrap();
    b.append(&batch(4)).await.unwrap();
    expected.extend((2..5).map(|o| sample_commit(o, "p")));
    assert_eq!(b.read_all(0).await.unwrap(), expected);
    drop(b);
    let reopened = S3LogStore::open(h.config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap();
    assert_eq!(reopened.read_all(0).await.unwrap(), expected);
    assert!(reopened.verify().await.unwrap().is_clean());
}
