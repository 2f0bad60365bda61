//! Reads from a commit deep inside a large segment start at the frame
//! mark before it (one about every megabyte) and read only the bytes from
//! there: the marks come from appends and from the scan at open, and a
//! read from a mark gives exactly what a read from the start gives.

use std::path::Path;

use bytes::Bytes;
use futures::TryStreamExt;
use interstice_backend_fs::FsLogStore;
use interstice_log::conformance::{batch_of, sample_commit, test_options};
use interstice_log::scan::{FrameMark, MARK_SPACING, scan_segment};
use interstice_log::{Commit, Error, LogOptions, LogStore, LogStoreExt};

const SEGMENT: &str = "00000000000000000000.log";

fn options() -> LogOptions {
    test_options().segment_size(64 << 20)
}

/// About `mb` megabytes of commits of 64 KiB each, in one segment.
async fn big_log(store: &FsLogStore, mb: u64) -> Vec<Commit> {
    let tag = "x".repeat(64 << 10);
    let all: Vec<Commit> = (0..mb * 16).map(|o| sample_commit(o, &tag)).collect();
    for chunk in all.chunks(3) {
        store.append(&batch_of(chunk)).await.unwrap();
    }
    all
}

/// The marks a scan of the segment finds, as recovery would.
fn marks(dir: &Path) -> Vec<FrameMark> {
    let buf = Bytes::from(std::fs::read(dir.join(SEGMENT)).unwrap());
    scan_segment(SEGMENT, &buf, 0, u64::MAX).marks
}

async fn read_from(store: &FsLogStore, from: u64) -> Result<Vec<Commit>, Error> {
    store.read_from(from).await?.try_collect().await
}

async fn check_reads(store: &FsLogStore, all: &[Commit]) {
    for from in [0, 1, 15, 16, 17, 40, 63, all.len() as u64 - 1] {
        let got = read_from(store, from).await.unwrap();
        assert_eq!(got, all[from as usize..], "from {from}");
    }
}

#[tokio::test]
async fn reads_from_any_commit_match_a_read_from_the_start() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, options()).unwrap();
    let all = big_log(&store, 6).await;
    let found = marks(&dir);
    assert!(found.len() >= 4, "{found:?}");
    for pair in found.windows(2) {
        assert!(pair[1].position - pair[0].position >= MARK_SPACING);
    }
    // Marks made by the appends, then by the scan at open.
    check_reads(&store, &all).await;
    drop(store);
    let store = FsLogStore::open(&dir, options()).unwrap();
    check_reads(&store, &all).await;
    // Appends after the reopen add marks to the ones the scan found.
    let tag = "y".repeat(64 << 10);
    let more: Vec<Commit> = (all.len() as u64..all.len() as u64 + 40)
        .map(|o| sample_commit(o, &tag))
        .collect();
    store.append(&batch_of(&more)).await.unwrap();
    let got = read_from(&store, all.len() as u64 + 20).await.unwrap();
    assert_eq!(got, more[20..]);
    assert_eq!(store.read_all(0).await.unwrap().len(), all.len() + 40);
}

#[tokio::test]
async fn a_read_from_a_mark_skips_the_bytes_before_it_and_names_damage_after_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, options()).unwrap();
    let all = big_log(&store, 4).await;
    // Reopened, the store's marks are those its scan found.
    drop(store);
    let store = FsLogStore::open(&dir, options()).unwrap();
    let found = marks(&dir);
    let (first, second) = (found[0], found[1]);
    let path = dir.join(SEGMENT);
    let mut bytes = std::fs::read(&path).unwrap();
    // Damage a frame before the first mark: a read from past the mark
    // never reads it, a read from the start stops at it.
    bytes[first.position as usize - 100] ^= 0x40;
    // And the frame at the second mark, whose position errors must name
    // within the whole segment.
    bytes[second.position as usize + 30] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    let mut commits = store.read_from(first.offset).await.unwrap();
    for want in &all[first.offset as usize..second.offset as usize] {
        assert_eq!(commits.try_next().await.unwrap().as_ref(), Some(want));
    }

    let Err(Error::Corrupt(bad)) = read_from(&store, second.offset).await else {
        panic!("the damaged frame at the second mark is reported");
    };
    assert_eq!(bad.position, second.position);
    assert_eq!(bad.offset, Some(second.offset));

    let Err(Error::Corrupt(bad)) = read_from(&store, 0).await else {
        panic!("a read from the start meets the first damage");
    };
    assert!(bad.position < first.position, "{bad}");
}
