//! Corruption sweeps over a real multi-segment disk log: flipped bytes and
//! bits at sampled positions of every segment (headers, lengths, payloads,
//! checksums), a zero-filled tail, a zeroed last frame, a truncated and a
//! missing middle segment. For each: `verify` locates the damage, `strict`
//! refuses with the position, `truncate-tail` recovers only when the damage
//! is in the last frame (losing that frame and nothing else), no valid
//! commit is ever altered, and nothing panics.

use std::path::{Path, PathBuf};

use interstice_backend_fs::FsLogStore;
use interstice_log::conformance::{append_samples, frame_at, test_options};
use interstice_log::{Commit, Damage, Error, LogOptions, LogStore, LogStoreExt, RecoveryMode};

fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// A log of 40 commits in several 900-byte segments, each synced (the
/// default durability, under which only the last write can be torn).
async fn sample_log(dir: &Path) -> Vec<Commit> {
    let opts = test_options()
        .segment_size(900)
        .durability(interstice_log::Durability::Sync);
    let store = FsLogStore::open(dir, opts).unwrap();
    let all = append_samples(&store, 40, 1).await;
    assert!(segments(dir).len() >= 4);
    all
}

fn strict() -> LogOptions {
    test_options().create(false).recovery(RecoveryMode::Strict)
}

fn read_only() -> LogOptions {
    test_options().create(false).read_only(true)
}

/// What one damaged log did, checked against what it must do. `tail` is
/// how many commits a cut must keep when the damage is at the tail (in the
/// last frame, or in the free space after it), `None` elsewhere.
async fn check_damage(dir: &Path, all: &[Commit], segment: &Path, pos: usize, tail: Option<usize>) {
    let name = segment.file_name().unwrap().to_string_lossy().into_owned();
    let what = format!("{name} byte {pos}");
    // verify finds it, at or before the damaged byte.
    let store = FsLogStore::open(dir, read_only()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let report = store.verify().await.unwrap();
    let hit = report
        .bad
        .iter()
        .find(|b| b.segment == name)
        .unwrap_or_else(|| panic!("{what}: not detected: {report:?}"));
    assert!(
        hit.position <= pos as u64,
        "{what}: reported at {}",
        hit.position
    );
    drop(store);

    let last_segment = segments(dir).last() == Some(&segment.to_path_buf());
    // strict never opens damage in the last segment, and never serves it.
    match FsLogStore::open(dir, strict()) {
        Err(Error::Corrupt(bad) | Error::InvalidTail(bad)) => {
            assert_eq!(bad.segment, name, "{what}");
            assert!(bad.position <= pos as u64, "{what}");
        }
        Err(other) => panic!("{what}: strict open gave {other}"),
        Ok(store) => {
            assert!(
                !last_segment,
                "{what}: strict opened a damaged last segment"
            );
            assert!(
                matches!(store.read_all(0).await, Err(Error::Corrupt(_))),
                "{what}: strict served a damaged log"
            );
        }
    }

    // truncate-tail: a damaged last frame is cut (only it); anything else
    // is refused or reported when read, and the bytes stay.
    let before = std::fs::read(segment).unwrap();
    match FsLogStore::open(dir, test_options().create(false)) {
        Ok(store) if store.recovery_report().invalid_tail.is_some() => {
            let keep = tail.unwrap_or_else(|| panic!("{what}: cut damage that is not at the tail"));
            let kept = store.read_all(0).await.unwrap();
            assert!(
                kept == all[..keep],
                "{what}: kept {} commits, not {keep}",
                kept.len()
            );
            assert!(store.verify().await.unwrap().is_clean(), "{what}");
        }
        Ok(store) => {
            assert!(
                tail.is_none() && !last_segment,
                "{what}: opened without a cut"
            );
            match store.read_all(0).await {
                Err(Error::Corrupt(bad)) => assert_eq!(bad.segment, name, "{what}"),
                other => panic!("{what}: read {other:?}"),
            }
            assert_eq!(
                std::fs::read(segment).unwrap(),
                before,
                "{what}: bytes changed"
            );
        }
        Err(Error::Corrupt(bad)) => {
            assert!(tail.is_none(), "{what}: refused damage at the tail");
            assert_eq!(bad.segment, name, "{what}");
            assert_eq!(
                std::fs::read(segment).unwrap(),
                before,
                "{what}: bytes changed"
            );
        }
        Err(other) => panic!("{what}: open gave {other}"),
    }
}

/// Restores every segment to its original bytes (a cut may have moved a
/// frame to quarantine).
fn restore(dir: &Path, originals: &[(PathBuf, Vec<u8>)]) {
    for (p, bytes) in originals {
        std::fs::write(p, bytes).unwrap();
    }
    let _ = std::fs::remove_dir_all(dir.join("quarantine"));
}

#[tokio::test]
async fn byte_and_bit_flips_across_every_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let all = sample_log(&dir).await;
    let originals: Vec<(PathBuf, Vec<u8>)> = segments(&dir)
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    let last = frame_at(&originals.last().unwrap().1, all.len() as u64 - 1);
    let (last_start, last_end) = (last.start, last.end);
    let mut cases = 0;
    for (i, (path, original)) in originals.iter().enumerate() {
        let is_last = i + 1 == originals.len();
        // Every header byte, then every 7th byte (frames' magic, lengths,
        // payloads and checksums all get hit).
        let positions = (0..20).chain((20..original.len()).step_by(7));
        for pos in positions {
            for flip in [0xffu8, 1 << (pos % 8)] {
                let mut damaged = original.clone();
                damaged[pos] ^= flip;
                std::fs::write(path, &damaged).unwrap();
                let tail = match pos {
                    _ if !is_last || pos < last_start => None,
                    _ if pos < last_end => Some(all.len() - 1),
                    _ => Some(all.len()),
                };
                check_damage(&dir, &all, path, pos, tail).await;
                restore(&dir, &originals);
                cases += 1;
            }
        }
    }
    let line = format!(
        "{cases} byte and bit flips over {} segments of a real log: each located by verify, \
         refused by strict, cut by truncate-tail only in the last frame",
        originals.len()
    );
    interstice_log::conformance::report_counts(env!("CARGO_TARGET_TMPDIR"), "corruption", &line);
    assert!(cases > 400);
}

#[tokio::test]
async fn a_zero_filled_tail_and_a_zeroed_last_frame() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let all = sample_log(&dir).await;
    let last = segments(&dir).pop().unwrap();
    let original = std::fs::read(&last).unwrap();

    // Zeros after the last frame (a file grown but never written) are free
    // space: even strict opens, and appends continue after the last commit.
    let mut grown = original.clone();
    grown.extend(std::iter::repeat_n(0u8, 4096));
    std::fs::write(&last, &grown).unwrap();
    let store = FsLogStore::open(&dir, strict()).unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), all);
    append_samples(&store, 1, 1).await;
    drop(store);
    assert_eq!(
        FsLogStore::open(&dir, strict())
            .unwrap()
            .read_all(0)
            .await
            .unwrap()
            .len(),
        41
    );

    // The last frame's bytes zeroed, its length kept (metadata reached the
    // disk, data did not): strict refuses there, truncate-tail cuts it.
    let frame = frame_at(&original, all.len() as u64 - 1);
    let start = frame.start;
    let mut zeroed = original.clone();
    zeroed[start..].fill(0);
    std::fs::write(&last, &zeroed).unwrap();
    // All-zero bytes after the last whole frame read as free space: the
    // lost frame is simply absent, at every level.
    let store = FsLogStore::open(&dir, strict()).unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), all[..39]);
    drop(store);
    // A partly zeroed frame (its start written, the rest not) is a torn tail.
    let mut half = original.clone();
    let mid = start + (frame.end - start) / 2;
    half[mid..].fill(0);
    std::fs::write(&last, &half).unwrap();
    match FsLogStore::open(&dir, strict()) {
        Err(Error::InvalidTail(bad)) => assert_eq!(bad.position, start as u64),
        other => panic!("strict open of a half-zeroed frame: {other:?}"),
    }
    let store = FsLogStore::open(&dir, test_options().create(false)).unwrap();
    assert_eq!(store.read_all(0).await.unwrap(), all[..39]);
}

#[tokio::test]
async fn a_truncated_middle_segment_is_corruption_not_a_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    let all = sample_log(&dir).await;
    let files = segments(&dir);
    let middle = &files[1];
    let bytes = std::fs::read(middle).unwrap();
    std::fs::write(middle, &bytes[..bytes.len() / 2]).unwrap();
    let name = middle.file_name().unwrap().to_string_lossy().into_owned();

    for opts in [strict(), test_options().create(false), read_only()] {
        // Opening looks at the tail only; reading must stop at the damage.
        let store = FsLogStore::open(&dir, opts.clone()).unwrap();
        match store.read_all(0).await {
            Err(Error::Corrupt(bad)) => assert_eq!(bad.segment, name),
            other => panic!("{opts:?}: read a truncated middle segment as {other:?}"),
        }
        let report = store.verify().await.unwrap();
        assert!(report.bad.iter().any(|b| b.segment == name), "{report:?}");
    }
    // Nothing after it was cut: the later segments are whole.
    let store = FsLogStore::open(&dir, read_only()).unwrap();
    let from = all.iter().position(|c| {
        format!("{:020}.log", c.offset) == files[2].file_name().unwrap().to_string_lossy()
    });
    let from = from.expect("segment 2 starts at a commit") as u64;
    assert_eq!(store.read_all(from).await.unwrap(), all[from as usize..]);
}

#[tokio::test]
async fn a_missing_middle_segment_is_reported_as_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    sample_log(&dir).await;
    let files = segments(&dir);
    std::fs::remove_file(&files[1]).unwrap();
    let first_missing: u64 = files[1]
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .parse()
        .unwrap();
    for opts in [strict(), test_options().create(false), read_only()] {
        let store = FsLogStore::open(&dir, opts.clone()).unwrap();
        match store.read_all(0).await {
            Err(Error::Corrupt(bad)) => {
                assert!(matches!(bad.damage, Damage::Missing { .. }), "{bad}");
                assert_eq!(bad.offset, Some(first_missing), "{bad}");
            }
            other => panic!("{opts:?}: read a log with a hole as {other:?}"),
        }
        assert!(!store.verify().await.unwrap().is_clean());
    }
}
