//! Objects whose commits overlap: a copy (what compaction writes) is
//! read as one history; anything else is refused, by the reader and by
//! `verify` alike (they share one planner).

use interstice_testkit::s3;

use interstice_backend_s3::S3LogStore;
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::conformance::{Harness, append_samples, sample_commit};
use interstice_log::{CommitBatch, Damage, Error, LogOptions, LogStore, LogStoreExt};
use s3::{MOTO, S3};

fn name(first: u64) -> String {
    format!("{first:020}.seg")
}

fn merged_name(first: u64, last: u64) -> String {
    format!("{first:020}-{last:020}.seg")
}

/// A log of `n` commits in batches of `per`, and a read-only store on it.
async fn log(test: &str, n: u64, per: u64) -> (S3, Vec<interstice_log::Commit>) {
    let h = S3::new(MOTO, test);
    let w = S3LogStore::open(h.config.clone(), LogOptions::default().create(true))
        .await
        .unwrap();
    let all = append_samples(&w, n, per).await;
    (h, all)
}

async fn reader(h: &S3) -> S3LogStore {
    S3LogStore::open(h.config.clone(), LogOptions::default().read_only(true))
        .await
        .unwrap()
}

/// The bytes of a segment starting at `first` holding the frames of the
/// one-commit objects `first..=last`, as compaction writes it.
async fn merged(h: &S3, first: u64, last: u64) -> Vec<u8> {
    let mut out = SegmentHeader::new(first, 1 << 20).encode().to_vec();
    for o in first..=last {
        out.extend_from_slice(&h.read_segment(&name(o)).await[SEGMENT_HEADER_LEN..]);
    }
    out
}

#[tokio::test]
async fn a_garbage_object_inside_a_batch_is_refused_by_every_reader() {
    let (h, _) = log("garbage-overlap", 6, 3).await;
    // Inside the range 0.seg covers (commits 0..=2).
    h.write_segment(&name(1), b"not a segment at all, just junk".to_vec())
        .await;
    let r = reader(&h).await;
    let err = r.read_all(0).await.unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(bad) if bad.segment == name(1)),
        "a reader skipped it: {err}"
    );
    let report = r.verify().await.unwrap();
    assert_eq!(report.bad.len(), 1, "{:?}", report.bad);
    assert_eq!(report.bad[0].segment, name(1));
    assert!(
        matches!(report.bad[0].damage, Damage::Header(_)),
        "{:?}",
        report.bad
    );
    assert_eq!(report.last_offset, Some(5));
}

#[tokio::test]
async fn an_object_overlapping_with_other_commits_is_refused() {
    let (h, _) = log("other-overlap", 6, 3).await;
    // Valid frames for commits 1 and 2, but not the ones 0.seg holds.
    let mut b = CommitBatch::new(1);
    b.push(&sample_commit(1, "other")).unwrap();
    b.push(&sample_commit(2, "other")).unwrap();
    let mut bytes = SegmentHeader::new(1, 1 << 20).encode().to_vec();
    bytes.extend_from_slice(b.bytes());
    h.write_segment(&name(1), bytes).await;

    let r = reader(&h).await;
    let err = r.read_all(0).await.unwrap_err();
    assert!(
        matches!(&err, Error::Corrupt(bad) if bad.segment == name(1) && bad.offset == Some(1) && matches!(&bad.damage, Damage::Overlap { other } if *other == name(0))),
        "{err}"
    );
    let report = r.verify().await.unwrap();
    assert_eq!(report.bad.len(), 1, "{:?}", report.bad);
    assert!(matches!(report.bad[0].damage, Damage::Overlap { .. }));
}

#[tokio::test]
async fn a_copy_that_overlaps_is_read_once() {
    // What an interrupted compaction leaves: the merged segment, and the
    // batch objects it was copied from, not yet stubs.
    let (h, all) = log("copy-overlap", 6, 1).await;
    h.write_segment(&merged_name(0, 4), merged(&h, 0, 4).await)
        .await;
    let r = reader(&h).await;
    assert_eq!(r.read_all(0).await.unwrap(), all);
    assert_eq!(r.read_all(3).await.unwrap(), all[3..]);
    let report = r.verify().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.bad);
    assert_eq!(report.commits, 6);
}

/// Two compactions with different targets, at once: one merged 0..=4,
/// the other 3..=8, and every batch object became a stub.
#[tokio::test]
async fn merged_segments_that_overlap_each_other_read_whole() {
    let (h, all) = log("merged-overlap", 10, 1).await;
    h.write_segment(&merged_name(0, 4), merged(&h, 0, 4).await)
        .await;
    h.write_segment(&merged_name(3, 8), merged(&h, 3, 8).await)
        .await;
    for o in 0..=8 {
        let stub = SegmentHeader::new(o, 1 << 20).encode().to_vec();
        h.write_segment(&name(o), stub).await;
    }
    let r = reader(&h).await;
    assert_eq!(r.read_all(0).await.unwrap(), all);
    assert_eq!(r.read_all(6).await.unwrap(), all[6..]);
    let report = r.verify().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.bad);
    assert_eq!(report.commits, 10);
}
