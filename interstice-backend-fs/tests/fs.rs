//! Behaviour of the disk backend beyond the shared conformance suite:
//! segment files and rotation, the writer lock, bad directories,
//! quarantine files, durability levels.

use std::path::Path;
use std::time::Duration;

use interstice_backend_fs::FsLogStore;
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::conformance::{append_samples, test_options};
use interstice_log::{Durability, Error, LogOptions, LogStore, LogStoreExt};

fn segment_files(dir: &Path) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                e.metadata().unwrap().len(),
            )
        })
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn segments_rotate_at_the_configured_size_and_are_named_by_first_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, test_options().segment_size(1024)).unwrap();
    let all = append_samples(&store, 200, 1).await;
    let files = segment_files(&dir);
    assert!(files.len() > 5, "{files:?}");
    for (name, len) in &files {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let header = SegmentHeader::decode(&bytes.into()).unwrap();
        assert_eq!(*name, format!("{:020}.log", header.first_offset));
        // A segment exceeds the size by at most one (single-commit) batch.
        assert!(*len <= 1024 + 200, "{name} is {len} bytes");
    }
    drop(store);
    let store = FsLogStore::open(&dir, test_options().segment_size(1024)).unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), all);
    // Appends continue in the last segment after a reopen (unless it is
    // too full for the next commit).
    let (last, last_len) = files.last().unwrap().clone();
    // What the last segment holds (its file may be longer: zeros written
    // ahead of the appends).
    let held = |name: &str| {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let first = SegmentHeader::decode(&bytes.clone().into())
            .unwrap()
            .first_offset;
        interstice_log::scan::scan_segment(name, &bytes.into(), first, 1 << 20).prefix_last
    };
    let before = held(&last);
    append_samples(&store, 1, 1).await;
    let after = segment_files(&dir);
    if after.len() == files.len() {
        assert_eq!(
            held(&last),
            before.map(|o| o + 1),
            "{last} did not take the commit"
        );
    } else {
        let next = interstice_log::conformance::sample_commit(all.len() as u64, "s");
        let mut frame = Vec::new();
        interstice_log::codec::encode_frame(&next, 0, &mut frame).unwrap();
        assert!(last_len + frame.len() as u64 > 1024, "{last} had room");
    }
}

#[tokio::test]
async fn a_second_writer_is_told_who_holds_the_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let writer = FsLogStore::open(&dir, test_options()).unwrap();
    append_samples(&writer, 3, 1).await;
    let err = FsLogStore::open(&dir, test_options()).unwrap_err();
    assert!(
        matches!(err, Error::Locked { pid: Some(p), .. } if p == std::process::id()),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("locked by pid {}", std::process::id())),
        "{err}"
    );
    // Readers do not need the lock.
    let reader = FsLogStore::open(&dir, LogOptions::default().read_only(true)).unwrap();
    assert_eq!(reader.read_all(0).await.unwrap().len(), 3);
    let err = reader
        .append_commit(&interstice_log::conformance::sample_commit(3, "r"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ReadOnly { .. }), "{err}");
    assert!(matches!(
        reader.truncate(0).await,
        Err(Error::ReadOnly { .. })
    ));
    drop(writer);
    let writer = FsLogStore::open(&dir, test_options()).unwrap();
    assert_eq!(writer.next_offset().await.unwrap(), 3);
}

#[test]
fn a_missing_directory_is_an_error_unless_asked_to_create() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b/log");
    let err = FsLogStore::open(&dir, LogOptions::default()).unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    assert!(!dir.exists(), "a failed open created the directory");
    FsLogStore::open(&dir, LogOptions::default().create(true)).unwrap();
    assert!(dir.join("LOCK").exists());
}

#[test]
fn a_path_that_is_a_file_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"not a log").unwrap();
    for path in [file.clone(), file.join("log")] {
        let err = FsLogStore::open(&path, LogOptions::default().create(true)).unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Io { .. }), "{msg}");
        assert!(
            msg.contains("plain") && msg.to_lowercase().contains("not a directory"),
            "{msg}"
        );
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"not a log");
}

#[test]
fn a_directory_that_cannot_be_written_is_an_error() {
    // sysfs refuses new files even to root, so this holds in CI too.
    let dir = Path::new("/sys/kernel");
    assert!(dir.is_dir(), "this test needs sysfs mounted at /sys");
    let err = FsLogStore::open(dir, LogOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            Error::Io {
                op: "create lock file",
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("/sys/kernel/LOCK"), "{msg}");
    let err = FsLogStore::open(
        dir.join("interstice-log"),
        LogOptions::default().create(true),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Io {
                op: "create log directory",
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn a_torn_tail_is_kept_in_quarantine_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, test_options()).unwrap();
    let all = append_samples(&store, 5, 1).await;
    drop(store);
    let (name, _) = segment_files(&dir).pop().unwrap();
    // A torn frame right after the last whole one, then the zeroed space
    // the writer had allocated ahead.
    let garbage = b"ITXF\x01\x00half a frame".to_vec();
    let mut bytes = std::fs::read(dir.join(&name)).unwrap();
    let len =
        interstice_log::scan::scan_segment(&name, &bytes.clone().into(), 0, 1 << 20).valid_end;
    bytes[len as usize..len as usize + garbage.len()].copy_from_slice(&garbage);
    std::fs::write(dir.join(&name), &bytes).unwrap();
    let cut = bytes.len() as u64 - len;

    let store = FsLogStore::open(&dir, test_options()).unwrap();
    let report = store.recovery_report();
    let tail = report.invalid_tail.as_ref().unwrap();
    assert_eq!((tail.position, tail.offset, tail.len), (len, Some(5), cut));
    assert_eq!(report.quarantined.len(), 1);
    let q = &report.quarantined[0];
    let kept = std::fs::read(&q.location).unwrap();
    assert_eq!(&kept[..garbage.len()], &garbage[..]);
    assert!(interstice_log::scan::is_free_space(&kept[garbage.len()..]));
    assert!(Path::new(&q.location).starts_with(dir.join("quarantine")));
    assert_eq!(std::fs::metadata(dir.join(&name)).unwrap().len(), len);
    assert_eq!(store.read_all(0).await.unwrap(), all);
}

#[tokio::test]
async fn an_interrupted_segment_creation_is_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let store = FsLogStore::open(&dir, test_options()).unwrap();
    append_samples(&store, 2, 1).await;
    drop(store);
    std::fs::write(dir.join("00000000000000000002.log.tmp"), b"ISEG").unwrap();
    let store = FsLogStore::open(&dir, test_options()).unwrap();
    assert_eq!(store.recovery_report().quarantined.len(), 1);
    assert!(!dir.join("00000000000000000002.log.tmp").exists());
    append_samples(&store, 1, 1).await;
    assert_eq!(store.read_all(0).await.unwrap().len(), 3);
}

// `sync` appends take a different path on each runtime flavour.
#[tokio::test(flavor = "current_thread")]
async fn every_durability_level_keeps_commits_on_a_current_thread_runtime() {
    every_durability_level_keeps_acknowledged_commits_across_reopen().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_durability_level_keeps_commits_on_a_multi_thread_runtime() {
    every_durability_level_keeps_acknowledged_commits_across_reopen().await;
}

async fn every_durability_level_keeps_acknowledged_commits_across_reopen() {
    for durability in [
        Durability::Sync,
        Durability::Batch(Duration::from_millis(5)),
        Durability::None,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("log");
        let opts = test_options().durability(durability);
        let store = FsLogStore::open(&dir, opts.clone()).unwrap();
        let all = append_samples(&store, 50, 4).await;
        if let Durability::Batch(_) = durability {
            // Give the background syncer a round.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        drop(store);
        let store = FsLogStore::open(&dir, opts).unwrap();
        assert_eq!(store.read_all(0).await.unwrap(), all, "{durability}");
    }
}

#[test]
fn options_that_cannot_work_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for opts in [
        LogOptions::default()
            .create(true)
            .segment_size(SEGMENT_HEADER_LEN as u64),
        LogOptions::default().create(true).max_frame_size(10),
    ] {
        let err = FsLogStore::open(tmp.path(), opts).unwrap_err();
        assert!(matches!(err, Error::InvalidOptions(_)), "{err}");
    }
}
