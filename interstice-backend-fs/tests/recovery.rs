//! Regression tests for recovery and failure handling on disk, each named
//! after the hole a storage review found (issue 13, items 1–4):
//!
//! - recovery cut synced, acknowledged commits as a "torn write" when a
//!   zero sector sat in damaged bytes;
//! - a background sync at `batch:<ms>` raced a segment rotation and left a
//!   hole;
//! - a newer format version was cut as a torn tail, and so were frames
//!   larger than a reopened store's smaller frame limit;
//! - a failed write or sync could leave the batch readable after reopen
//!   although the caller was told it failed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use interstice_backend_fs::FsLogStore;
use interstice_backend_fs::sim::SimFs;
use interstice_log::codec::SegmentHeader;
use interstice_log::conformance::{frame_at, sample_commit};
use interstice_log::{
    Commit, CommitBatch, Damage, Durability, Error, LogOptions, LogStore, LogStoreExt,
};

fn synced() -> LogOptions {
    LogOptions::default()
        .create(true)
        .durability(Durability::Sync)
}

/// Appends each commit as its own batch (each one acknowledged).
async fn append_each(store: &FsLogStore, commits: &[Commit]) {
    for c in commits {
        let mut batch = CommitBatch::new(c.offset);
        batch.push(c).unwrap();
        store.append(&batch).await.unwrap();
    }
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

fn quarantined(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("quarantine")).map_or(0, |d| d.count())
}

/// A commit whose arguments hold `x` and then 2,048 NUL bytes: four
/// aligned zero sectors, as a blob column may hold.
fn nul_commit(offset: u64) -> Commit {
    let tag = format!("x{}", "\0".repeat(2048));
    sample_commit(offset, &tag)
}

#[tokio::test]
async fn a_flipped_bit_before_zero_sectors_is_corruption_not_a_torn_write() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, synced()).unwrap();
    let mut all = vec![sample_commit(0, "a"), nul_commit(1)];
    all.extend((2..7).map(|o| sample_commit(o, "after")));
    append_each(&store, &all).await;
    drop(store);

    // One bit flipped in the `x` just before the NUL run of commit 1.
    let seg = segment_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    let frame = frame_at(&bytes, 1);
    let x = frame.start
        + bytes[frame.clone()]
            .iter()
            .position(|&b| b == b'x')
            .unwrap();
    bytes[x] ^= 0x01;
    std::fs::write(&seg, &bytes).unwrap();

    // Five acknowledged commits follow it: it is corruption, refused with
    // its place, and nothing is cut.
    match FsLogStore::open(&dir, synced()) {
        Err(Error::Corrupt(bad)) => {
            assert_eq!((bad.position, bad.offset), (frame.start as u64, Some(1)));
        }
        Err(other) => panic!("open gave {other}"),
        Ok(s) => panic!(
            "opened, cutting {:?}",
            s.recovery_report()
                .invalid_tail
                .as_ref()
                .map(|t| t.to_string())
        ),
    }
    assert_eq!(std::fs::read(&seg).unwrap(), bytes, "the bytes changed");
    assert_eq!(quarantined(&dir), 0);
    // Opened to inspect, it serves what precedes the damage.
    let ro = FsLogStore::open(&dir, synced().read_only(true)).unwrap();
    assert!(ro.recovery_report().corruption.is_some());
    let mut got = Vec::new();
    let mut stream = ro.read_from(0).await.unwrap();
    use futures::StreamExt;
    while let Some(Ok(c)) = stream.next().await {
        got.push(c);
    }
    assert_eq!(got, all[..1]);
}

#[tokio::test]
async fn losing_the_first_sector_of_the_last_segment_is_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, synced()).unwrap();
    let all: Vec<Commit> = (0..6).map(|o| sample_commit(o, &"b".repeat(300))).collect();
    append_each(&store, &all).await;
    drop(store);
    let seg = segment_files(&dir).pop().unwrap();
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[..512].fill(0);
    std::fs::write(&seg, &bytes).unwrap();
    match FsLogStore::open(&dir, synced()) {
        Err(Error::Corrupt(bad)) => assert!(matches!(bad.damage, Damage::Header(_)), "{bad}"),
        Err(other) => panic!("open gave {other}"),
        Ok(_) => panic!("opened a log whose synced header and commits are damaged"),
    }
    assert_eq!(segment_files(&dir), [seg], "the segment was moved");
    assert_eq!(quarantined(&dir), 0);
}

#[tokio::test]
async fn a_background_sync_racing_a_rotation_leaves_no_hole() {
    const DIR: &str = "/sim/log";
    let fs = SimFs::new();
    let all: Vec<Commit> = (0..3).map(|o| sample_commit(o, "c")).collect();
    // Commits 0 and 1 fill the first segment; commit 2 starts the next.
    let mut first_two = CommitBatch::new(0);
    first_two.push(&all[0]).unwrap();
    first_two.push(&all[1]).unwrap();
    let segment_size = (interstice_log::codec::SEGMENT_HEADER_LEN + first_two.bytes().len()) as u64;
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::Batch(Duration::from_millis(1)))
        .segment_size(segment_size);
    let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, opts.clone()).unwrap();
    append_each(&store, &all[..1]).await;
    // The background sync of commit 1 starts, and is still running...
    fs.hold_next_sync();
    append_each(&store, &all[1..2]).await;
    fs.wait_until_held();
    // ...when commit 2 starts a new segment, and the power goes.
    append_each(&store, &all[2..]).await;
    fs.power_loss(None);
    fs.release_sync();
    drop(store);

    let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, opts).unwrap();
    let got = store
        .read_all(0)
        .await
        .unwrap_or_else(|e| panic!("the log has a hole: {e}"));
    assert!(
        got.len() >= 2,
        "commit 1, written before the rotation, was lost"
    );
    assert_eq!(got, all[..got.len()]);
}

#[tokio::test]
async fn a_segment_of_a_newer_format_is_refused_not_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, synced()).unwrap();
    let all: Vec<Commit> = (0..3).map(|o| sample_commit(o, "d")).collect();
    append_each(&store, &all).await;
    drop(store);
    // A newer writer's segment after them: a version past this build's,
    // checksum valid.
    let newer_version = interstice_log::codec::FORMAT_VERSION + 1;
    let mut header = SegmentHeader::new(3, 1 << 20).encode();
    header[4] = newer_version;
    let crc = crc32fast::hash(&header[..16]);
    header[16..].copy_from_slice(&crc.to_le_bytes());
    let newer = dir.join(format!("{:020}.log", 3));
    let mut bytes = header.to_vec();
    bytes.extend_from_slice(b"ITXF");
    bytes.push(newer_version);
    bytes.extend_from_slice(b" a frame this build cannot read");
    std::fs::write(&newer, &bytes).unwrap();

    match FsLogStore::open(&dir, synced()) {
        Err(e @ Error::UnsupportedVersion(_)) => {
            assert!(
                e.to_string().contains(&format!("version {newer_version}")),
                "{e}"
            );
        }
        Err(other) => panic!("open gave {other}"),
        Ok(_) => panic!("opened (and cut) a newer writer's segment"),
    }
    assert_eq!(std::fs::read(&newer).unwrap(), bytes);
    assert_eq!(quarantined(&dir), 0);
}

#[tokio::test]
async fn a_smaller_frame_limit_on_reopen_still_reads_large_frames() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let big = |o| sample_commit(o, &"e".repeat(600 << 10));
    let store = FsLogStore::open(&dir, synced().max_frame_size(1 << 20)).unwrap();
    append_each(&store, &[big(0), sample_commit(1, "small")]).await;
    drop(store);

    // Reopened with a 64 KiB limit: the 600 KiB frame is still valid (the
    // segment says how large its frames may be), and appends go on.
    let small = synced().max_frame_size(64 << 10);
    let store = FsLogStore::open(&dir, small.clone()).unwrap();
    assert!(store.recovery_report().invalid_tail.is_none());
    append_each(&store, &[sample_commit(2, "small")]).await;
    assert_eq!(store.read_all(0).await.unwrap().len(), 3);
    assert!(store.verify().await.unwrap().is_clean());
    drop(store);

    // Reopened with a larger limit than the segment's: the writer starts a
    // new segment for frames its old one may not hold.
    let store = FsLogStore::open(&dir, synced().max_frame_size(2 << 20)).unwrap();
    // (Commit 3 carries its tag four times: 1.5 MiB.)
    let huge = sample_commit(3, &"f".repeat(384 << 10));
    append_each(&store, std::slice::from_ref(&huge)).await;
    drop(store);
    assert_eq!(segment_files(&dir).len(), 2);
    let store = FsLogStore::open(&dir, small).unwrap();
    let got = store.read_all(0).await.unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3], huge);
}

/// A failed append is one of two things: nothing (the caller may say "not
/// committed"), or an outcome the store says it does not know.
#[tokio::test]
async fn a_failed_write_or_sync_leaves_nothing_readable_or_says_it_cannot_tell() {
    const DIR: &str = "/sim/log";
    for (case, fail) in [
        ("write fails", &["write"][..]),
        ("fdatasync fails", &["sync_data"]),
        ("fdatasync and the cut fail", &["sync_data", "set_len"]),
    ] {
        let fs = SimFs::new();
        let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, synced()).unwrap();
        append_each(&store, &[sample_commit(0, "g")]).await;
        for kind in fail {
            fs.fail_next(kind);
        }
        let mut batch = CommitBatch::new(1);
        batch.push(&sample_commit(1, "g")).unwrap();
        let err = store.append(&batch).await.unwrap_err();
        // The store stops writing until it is reopened.
        let mut next = CommitBatch::new(1);
        next.push(&sample_commit(1, "h")).unwrap();
        assert!(
            matches!(store.append(&next).await, Err(Error::Poisoned { .. })),
            "{case}"
        );
        drop(store);
        let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, synced()).unwrap();
        let got = store.read_all(0).await.unwrap();
        match err {
            Error::OutcomeUnknown {
                first: 1, last: 1, ..
            } => {
                assert_eq!(fail.len(), 2, "{case}: the cut worked, yet {err}");
            }
            Error::Io { .. } => {
                assert_eq!(
                    got,
                    [sample_commit(0, "g")],
                    "{case}: a failed commit is in the log"
                );
            }
            other => panic!("{case}: {other}"),
        }
        drop(store);
        // Either way, a power loss after it leaves a log that opens.
        fs.power_loss(None);
        FsLogStore::open_on(Arc::new(fs), DIR, synced()).unwrap();
    }
}

/// At `batch:<ms>`, a failed background sync stops the store: later appends
/// are refused, and after a power loss the log opens with a prefix.
#[tokio::test]
async fn a_failed_background_sync_stops_the_store() {
    const DIR: &str = "/sim/log";
    let fs = SimFs::new();
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::Batch(Duration::from_millis(1)));
    let store = FsLogStore::open_on(Arc::new(fs.clone()), DIR, opts.clone()).unwrap();
    let all: Vec<Commit> = (0..40).map(|o| sample_commit(o, "i")).collect();
    append_each(&store, &all[..1]).await;
    fs.fail_next("sync_data");
    let mut acked = 1;
    let err = loop {
        let mut batch = CommitBatch::new(acked as u64);
        batch.push(&all[acked]).unwrap();
        match store.append(&batch).await {
            Ok(()) => acked += 1,
            Err(e) => break e,
        }
        assert!(acked < all.len(), "the failed sync never stopped the store");
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    drop(store);
    fs.power_loss(Some(7));
    let store = FsLogStore::open_on(Arc::new(fs), DIR, opts).unwrap();
    let got = store.read_all(0).await.unwrap();
    assert_eq!(got, all[..got.len()]);
    assert!(got.len() <= acked);
}
