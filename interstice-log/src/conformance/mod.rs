//! The conformance suite: one set of tests every [`LogStore`] backend runs
//! against itself.
//!
//! A backend's test file implements [`Harness`] (how to open its log and
//! how to reach the stored bytes, so the suite can tear and flip them) and
//! calls every `pub async fn` here with a fresh harness, as `object_store`
//! does with its integration tests. Backend differences are arguments, not
//! copies of the suite. [`concurrent_appenders`] needs a multi-threaded
//! runtime to mean anything.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

mod pipelining;
mod retention;
pub mod snapshots;

pub use pipelining::*;
pub use retention::*;

use crate::{
    Commit, CommitBatch, Damage, Error, Invocation, LogOptions, LogStore, LogStoreExt, Mutation,
    MutationKind, RecoveryMode, RecoveryReport,
};

/// Defines one `#[tokio::test]` per conformance test in the calling test
/// file, each on a fresh harness made by `$make(test_name)`, so every
/// backend runs the whole suite and a test added here reaches them all.
/// `conformance_tests!(logic: $make)` runs only the cases that need no
/// stored bytes to damage (for a store that keeps none, like
/// `MemoryLogStore`).
///
/// ```ignore
/// interstice_log::conformance_tests!(|_name: &str| Fs::new());
/// ```
///
/// The calling crate needs `tokio` (with `macros` and the multi-threaded
/// runtime) as a dev-dependency.
#[macro_export]
macro_rules! conformance_tests {
    ($make:expr) => {
        $crate::conformance_tests!(@each $make;
            round_trip,
            offsets_are_dense,
            read_from_the_middle,
            reopen_sees_everything,
            torn_tail_at_every_position,
            bit_flips_are_detected_and_located,
            mid_log_damage_stops_open,
            verify_clean_log,
            truncate_then_append,
            concurrent_appenders,
            oversized_append_is_refused,
            retention_removes_whole_segments_before_the_offset,
            retention_bounds,
            an_empty_log_starts_where_it_is_told,
            leftovers_of_an_interrupted_retention_are_ignored,
            a_read_only_store_refuses_retention,
            appends_under_way_are_acknowledged_in_order,
            an_append_starts_where_the_last_started_one_ends,
            a_hole_left_by_a_crash_is_the_end_of_the_log,
        );
    };
    (logic: $make:expr) => {
        $crate::conformance_tests!(@each $make;
            round_trip,
            offsets_are_dense,
            read_from_the_middle,
            reopen_sees_everything,
            verify_clean_log,
            truncate_then_append,
            concurrent_appenders,
            oversized_append_is_refused,
            retention_removes_whole_segments_before_the_offset,
            retention_bounds,
            an_empty_log_starts_where_it_is_told,
            appends_under_way_are_acknowledged_in_order,
            an_append_starts_where_the_last_started_one_ends,
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let harness = ($make)(stringify!($name));
            $crate::conformance::$name(&harness).await;
        }
    )*};
}

/// What the suite needs from a backend under test.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The store type.
    type Store: LogStore + 'static;

    /// Opens the one log this harness tests (creating it when asked),
    /// returning the store and what recovery did. The suite drops every
    /// store before opening the next.
    async fn open(&self, opts: LogOptions) -> Result<(Self::Store, RecoveryReport), Error>;

    /// Names of the stored segments (files, objects), in log order.
    async fn segments(&self) -> Vec<String>;

    /// The stored bytes of a segment, as stored: frames, then possibly
    /// zero bytes of free space (`docs/log-format.md`).
    async fn read_segment(&self, name: &str) -> Vec<u8>;

    /// Replaces the stored bytes of a segment, to simulate damage.
    async fn write_segment(&self, name: &str, bytes: Vec<u8>);

    /// Removes a stored segment, as a write that never landed would leave
    /// it missing.
    async fn remove_segment(&self, name: &str);

    /// Whether a crash can tear one of the store's writes (a file write
    /// can; an object put cannot): a torn write is a tail to cut, so damage
    /// must lie in an earlier write to be corruption.
    fn writes_can_tear(&self) -> bool;

    /// Whether the store keeps frames as bytes in segments, and moves what
    /// it cuts into quarantine (every real backend does; an in-memory
    /// double keeps commits, so the suite skips those checks for it).
    fn stores_segments(&self) -> bool {
        true
    }
}

/// Where the valid frame of commit `offset` lies in a stored segment.
pub fn frame_at(segment: &[u8], offset: u64) -> std::ops::Range<usize> {
    let buf = bytes::Bytes::copy_from_slice(segment);
    let at = crate::scan::find_frame(&buf, offset, u32::MAX as u64)
        .unwrap_or_else(|| panic!("commit {offset} is not stored in the segment"));
    at..at + crate::codec::frame_len(&buf, at, u32::MAX as u64).expect("a valid frame")
}

/// Options for a fresh test log: created if missing, never synced (the
/// suite checks logic, not the medium), small segments.
pub fn test_options() -> LogOptions {
    LogOptions::default()
        .create(true)
        .durability(crate::Durability::None)
        .segment_size(4096)
}

/// Prints what a reliability test injected and counted, and records it
/// under `TARGET_TMPDIR/reliability/<test>.txt` (pass the test crate's
/// `env!("CARGO_TARGET_TMPDIR")`), where `scripts/test.sh` collects every
/// such line at the end of the run. Recording is best effort.
pub fn report_counts(target_tmpdir: &str, test: &str, line: &str) {
    println!("{test}: {line}");
    let dir = std::path::Path::new(target_tmpdir).join("reliability");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join(format!("{test}.txt")), format!("{test}: {line}\n"));
    }
}

/// A deterministic commit whose content depends on `offset` and `tag`.
pub fn sample_commit(offset: u64, tag: &str) -> Commit {
    Commit {
        offset,
        timestamp: 1_700_000_000_000_000 + offset,
        cause: offset.checked_sub(1).filter(|o| o % 3 == 0),
        invocation: Invocation {
            module: "conformance".into(),
            reducer: format!("r{}", offset % 5),
            args: Bytes::from(tag.as_bytes().to_vec()),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: (0..(offset % 4))
            .map(|i| Mutation {
                kind: [
                    MutationKind::Insert,
                    MutationKind::Update,
                    MutationKind::Delete,
                ][i as usize % 3],
                module_id: 1,
                table_id: i as u32,
                schema_hash: 0x5eed ^ i,
                row: Bytes::from(format!("{tag}:{offset}:{i}").into_bytes()),
            })
            .collect(),
    }
}

/// One batch of `commits` (consecutive offsets, at least one).
pub fn batch_of(commits: &[Commit]) -> CommitBatch {
    let mut batch = CommitBatch::new(commits[0].offset);
    for c in commits {
        batch.push(c).expect("sample commits encode");
    }
    batch
}

/// Appends `n` sample commits from the store's next offset in batches of
/// `per_batch`, returning them.
pub async fn append_samples<S: LogStore + ?Sized>(
    store: &S,
    n: u64,
    per_batch: u64,
) -> Vec<Commit> {
    let start = store.next_offset().await.expect("next offset");
    let all: Vec<Commit> = (start..start + n).map(|o| sample_commit(o, "s")).collect();
    for chunk in all.chunks(per_batch.max(1) as usize) {
        store.append(&batch_of(chunk)).await.expect("append");
    }
    all
}

async fn reopen<H: Harness>(h: &H, opts: LogOptions) -> (H::Store, RecoveryReport) {
    h.open(opts).await.expect("reopen")
}

/// Appended batches read back identically, from offset 0 and in order.
pub async fn round_trip<H: Harness>(h: &H) {
    let (store, report) = h.open(test_options()).await.expect("open");
    assert_eq!(report.last_offset, None);
    assert_eq!(store.last_offset().await.unwrap(), None);
    assert!(store.read_all(0).await.unwrap().is_empty());
    let mut expected = Vec::new();
    for per_batch in [1, 3, 16] {
        expected.extend(append_samples(&store, 20, per_batch).await);
    }
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    assert_eq!(store.last_offset().await.unwrap(), Some(59));
}

/// Offsets are dense from 0; a batch at any other offset is refused and
/// leaves nothing behind; reads outside the log are errors.
pub async fn offsets_are_dense<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    for wrong in [1, 5] {
        let err = store
            .append(&batch_of(&[sample_commit(wrong, "x")]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::OffsetConflict { expected: 0, found } if found == wrong),
            "{err}"
        );
    }
    append_samples(&store, 5, 2).await;
    let err = store
        .append(&batch_of(&[sample_commit(3, "x")]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::OffsetConflict {
                expected: 5,
                found: 3
            }
        ),
        "{err}"
    );
    let offsets: Vec<u64> = store
        .read_all(0)
        .await
        .unwrap()
        .iter()
        .map(|c| c.offset)
        .collect();
    assert_eq!(offsets, (0..5).collect::<Vec<_>>());
    assert!(store.read_all(5).await.unwrap().is_empty());
    let err = store
        .read_from(6)
        .await
        .err()
        .expect("reading past the end fails");
    assert!(
        matches!(
            err,
            Error::OffsetOutOfRange {
                requested: 6,
                next: 5,
                ..
            }
        ),
        "{err}"
    );
}

/// Reading from any offset yields exactly the suffix, across segments.
pub async fn read_from_the_middle<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let all = append_samples(&store, 120, 7).await;
    if h.stores_segments() {
        assert!(h.segments().await.len() > 2, "test needs several segments");
    }
    for from in [0, 1, 6, 7, 50, 119, 120] {
        assert_eq!(
            store.read_all(from).await.unwrap(),
            all[from as usize..],
            "from {from}"
        );
    }
}

/// Everything acknowledged is there after a reopen, and appends continue.
pub async fn reopen_sees_everything<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let mut all = append_samples(&store, 90, 4).await;
    drop(store);
    let (store, report) = reopen(h, test_options()).await;
    assert_eq!(report.invalid_tail, None);
    assert!(report.quarantined.is_empty());
    assert_eq!(store.read_all(0).await.unwrap(), all);
    all.extend(append_samples(&store, 10, 3).await);
    drop(store);
    let (store, _) = reopen(h, test_options()).await;
    assert_eq!(store.read_all(0).await.unwrap(), all);
    assert_eq!(store.next_offset().await.unwrap(), 100);
}

/// A torn last frame, cut at every byte position (the file ending there, as
/// after a crash): `strict` refuses naming the position, `truncate-tail`
/// cuts back to the last whole commit and quarantines exactly the cut
/// bytes, and appends continue.
pub async fn torn_tail_at_every_position<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let all = append_samples(&store, 6, 2).await;
    let last = all.last().unwrap().clone();
    store
        .append(&batch_of(&[sample_commit(6, "last-frame")]))
        .await
        .unwrap();
    drop(store);
    let segment = h.segments().await.pop().expect("a segment");
    let original = h.read_segment(&segment).await;
    // The last frame; a backend may keep zeroed free space after it.
    let std::ops::Range {
        start: frame_start,
        end: frame_end,
    } = frame_at(&original, 6);
    assert!(crate::scan::is_free_space(&original[frame_end..]));

    for cut in frame_start..frame_end {
        h.write_segment(&segment, original[..cut].to_vec()).await;
        let torn = cut - frame_start;
        if torn > 0 {
            let err = h
                .open(test_options().recovery(RecoveryMode::Strict))
                .await
                .unwrap_err();
            match &err {
                Error::InvalidTail(bad) => {
                    assert_eq!(
                        (bad.segment.as_str(), bad.position),
                        (segment.as_str(), frame_start as u64),
                        "cut {cut}"
                    );
                    assert_eq!(bad.offset, Some(6));
                }
                other => panic!("cut at {cut}: strict open gave {other}"),
            }
        }
        let (store, report) = reopen(h, test_options()).await;
        assert_eq!(
            store.last_offset().await.unwrap(),
            Some(last.offset),
            "cut at {cut}"
        );
        assert_eq!(store.read_all(0).await.unwrap(), all, "cut at {cut}");
        let quarantined: u64 = report.quarantined.iter().map(|q| q.len).sum();
        assert_eq!(quarantined, torn as u64, "cut at {cut}");
        assert_eq!(report.invalid_tail.is_some(), torn > 0, "cut at {cut}");
        // The log continues where the whole commits end.
        store
            .append(&batch_of(&[sample_commit(6, "again")]))
            .await
            .unwrap();
        drop(store);
        let (store, _) = reopen(h, test_options()).await;
        assert_eq!(
            store.read_all(6).await.unwrap(),
            vec![sample_commit(6, "again")]
        );
        drop(store);
    }
    h.write_segment(&segment, original).await;
}

/// A single flipped bit anywhere in the last two segments is found by
/// `verify`, at the frame (or header) that holds it. A writer cuts it when
/// it is a tail, refuses to open when valid commits follow it in the last
/// segment, and otherwise stops reading at it.
pub async fn bit_flips_are_detected_and_located<H: Harness>(h: &H) {
    let (store, _) = h
        .open(test_options().segment_size(600))
        .await
        .expect("open");
    append_samples(&store, 24, 2).await;
    drop(store);
    let names = h.segments().await;
    assert!(names.len() >= 3, "test needs several segments");
    let ro = || test_options().read_only(true).create(false);
    for name in &names[names.len() - 2..] {
        let original = h.read_segment(name).await;
        // Every 13th bit: all fields of several frames, in bounded time.
        for bit in (0..original.len() * 8).step_by(13) {
            let mut damaged = original.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            h.write_segment(name, damaged.clone()).await;
            let (store, _) = h
                .open(ro())
                .await
                .unwrap_or_else(|e| panic!("bit {bit}: read-only open: {e}"));
            let report = store.verify().await.unwrap();
            let byte = (bit / 8) as u64;
            let hit = report
                .bad
                .iter()
                .find(|b| &b.segment == name)
                .unwrap_or_else(|| panic!("bit {bit} of {name} not detected: {report:?}"));
            assert!(
                hit.position <= byte,
                "bit {bit}: damage reported at {}",
                hit.position
            );
            if let Some((stored, computed)) = hit.checksums() {
                assert_ne!(stored, computed);
            }
            drop(store);
            // A writer either cuts a damaged last frame (a tail) or refuses.
            match h.open(test_options()).await {
                Err(Error::Corrupt(bad)) => assert_eq!(&bad.segment, name, "bit {bit}"),
                // A tail is cut; damage in an earlier segment is found by
                // the first read (opening scans only the tail).
                Ok((store, report)) => match report.invalid_tail {
                    Some(tail) => {
                        assert_eq!(&tail.segment, name);
                        assert!(store.verify().await.unwrap().is_clean());
                    }
                    None => match store.read_all(0).await {
                        Err(Error::Corrupt(bad)) => assert_eq!(&bad.segment, name, "bit {bit}"),
                        other => panic!("bit {bit}: damaged log read as {other:?}"),
                    },
                },
                Err(other) => panic!("bit {bit}: open gave {other}"),
            }
            h.write_segment(name, original.clone()).await;
        }
    }
}

/// Damage in the middle of the last segment stops a writable open in
/// `truncate-tail` and `strict`, with its position, and leaves the bytes;
/// `skip-to` past it serves the log from there.
pub async fn mid_log_damage_stops_open<H: Harness>(h: &H) {
    let synced = || test_options().durability(crate::Durability::Sync);
    let (store, _) = h.open(synced().segment_size(1 << 20)).await.expect("open");
    // Every backend keeps these in one (the last) segment, where opening
    // looks for damage: one batch where a write is atomic, and where a
    // write can tear, two synced ones, so that the damage (in the first)
    // cannot be a torn last write.
    let per_batch = if h.writes_can_tear() { 5 } else { 10 };
    let all = append_samples(&store, 10, per_batch).await;
    drop(store);
    let name = h.segments().await.pop().unwrap();
    let original = h.read_segment(&name).await;
    let at = frame_at(&original, 4).start;
    let mut damaged = original.clone();
    damaged[at + 20] ^= 0xff;
    h.write_segment(&name, damaged.clone()).await;
    for mode in [RecoveryMode::TruncateTail, RecoveryMode::Strict] {
        match h.open(test_options().recovery(mode)).await {
            Err(Error::Corrupt(bad)) => {
                assert_eq!((bad.position, bad.offset), (at as u64, Some(4)), "{mode}");
                assert!(matches!(bad.damage, Damage::Frame(_)));
            }
            Err(other) => panic!("{mode}: {other}"),
            Ok(_) => panic!("{mode}: opened a corrupt log"),
        }
        assert_eq!(
            h.read_segment(&name).await,
            damaged,
            "{mode} changed the log"
        );
    }
    // A read-only open serves up to the damage and then reports it.
    let (store, report) = h.open(test_options().read_only(true)).await.unwrap();
    assert!(report.corruption.is_some());
    let mut got = Vec::new();
    let mut stream = store.read_from(0).await.unwrap();
    let err = loop {
        use futures::StreamExt;
        match stream.next().await {
            Some(Ok(c)) => got.push(c),
            Some(Err(e)) => break e,
            None => panic!("read past the damage without an error"),
        }
    };
    assert_eq!(got, all[..4]);
    assert!(
        matches!(err, Error::Corrupt(ref b) if b.position == at as u64),
        "{err}"
    );
    drop((stream, store));

    let (store, report) = h
        .open(test_options().recovery(RecoveryMode::SkipTo(5)))
        .await
        .unwrap();
    assert_eq!(report.first_offset, 5);
    assert_eq!(store.read_all(5).await.unwrap(), all[5..]);
    assert!(matches!(
        store.read_from(2).await.err(),
        Some(Error::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        store.verify().await.unwrap().bad.len(),
        1,
        "verify still sees the damage"
    );
}

/// `verify` on a clean log reports no damage and counts every commit.
pub async fn verify_clean_log<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let report = store.verify().await.unwrap();
    assert!(report.is_clean() && report.commits == 0);
    append_samples(&store, 75, 5).await;
    let report = store.verify().await.unwrap();
    assert!(report.is_clean(), "{:?}", report.bad);
    assert_eq!((report.commits, report.last_offset), (75, Some(74)));
    assert_eq!(report.segments as usize, h.segments().await.len());
}

/// Truncation removes the suffix (into quarantine), and the log continues
/// at the right offset, also after a reopen and across segments.
pub async fn truncate_then_append<H: Harness>(h: &H) {
    let (store, _) = h.open(test_options()).await.expect("open");
    let all = append_samples(&store, 100, 3).await;
    let segments_before = h.segments().await.len();
    let report = store.truncate(100).await.unwrap();
    assert_eq!(report.removed, 0);
    assert!(matches!(
        store.truncate(101).await,
        Err(Error::OffsetOutOfRange { .. })
    ));

    let report = store.truncate(40).await.unwrap();
    assert_eq!(report.removed, 60);
    if h.stores_segments() {
        assert!(!report.quarantined.is_empty());
        assert!(h.segments().await.len() < segments_before);
    }
    assert_eq!(store.last_offset().await.unwrap(), Some(39));
    assert_eq!(store.read_all(0).await.unwrap(), all[..40]);
    let err = store
        .append(&batch_of(&[sample_commit(41, "x")]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::OffsetConflict { expected: 40, .. }));
    let mut expected = all[..40].to_vec();
    expected.extend(append_samples(&store, 5, 2).await);
    drop(store);
    let (store, report) = reopen(h, test_options()).await;
    assert_eq!(report.invalid_tail, None);
    assert_eq!(store.read_all(0).await.unwrap(), expected);
    store.truncate(0).await.unwrap();
    assert_eq!(store.last_offset().await.unwrap(), None);
    let fresh = append_samples(&store, 3, 1).await;
    assert_eq!(store.read_all(0).await.unwrap(), fresh);
}

/// Tasks appending at once, each retrying on a conflict, lose nothing,
/// duplicate nothing and never interleave frames.
pub async fn concurrent_appenders<H: Harness>(h: &H) {
    const TASKS: usize = 8;
    const PER_TASK: usize = 40;
    let (store, _) = h.open(test_options()).await.expect("open");
    let store = Arc::new(store);
    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut seq = 0;
            while seq < PER_TASK {
                let n = 1 + (task + seq) % 3;
                let next = store.next_offset().await.unwrap();
                let commits: Vec<Commit> = (0..n.min(PER_TASK - seq))
                    .map(|i| sample_commit(next + i as u64, &format!("t{task}-{}", seq + i)))
                    .collect();
                match store.append(&batch_of(&commits)).await {
                    Ok(()) => seq += commits.len(),
                    Err(Error::OffsetConflict { .. }) => tokio::task::yield_now().await,
                    Err(e) => panic!("task {task}: {e}"),
                }
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let commits = store.read_all(0).await.unwrap();
    assert_eq!(commits.len(), TASKS * PER_TASK);
    let mut seen: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, c) in commits.iter().enumerate() {
        assert_eq!(c.offset, i as u64);
        let tag = std::str::from_utf8(&c.invocation.args).unwrap();
        let (task, seq) = tag[1..].split_once('-').unwrap();
        seen.entry(task.parse().unwrap())
            .or_default()
            .push(seq.parse().unwrap());
    }
    for task in 0..TASKS {
        assert_eq!(
            seen[&task],
            (0..PER_TASK).collect::<Vec<_>>(),
            "task {task}"
        );
    }
    assert!(store.verify().await.unwrap().is_clean());
}

/// A commit larger than the maximum frame is refused before anything is
/// written; the log stays usable.
pub async fn oversized_append_is_refused<H: Harness>(h: &H) {
    let (store, _) = h
        .open(test_options().max_frame_size(1024))
        .await
        .expect("open");
    append_samples(&store, 2, 1).await;
    let mut big = sample_commit(2, "big");
    big.mutations.push(Mutation {
        kind: MutationKind::Insert,
        module_id: 1,
        table_id: 1,
        schema_hash: 1,
        row: Bytes::from(vec![7u8; 2000]),
    });
    let batch = batch_of(&[sample_commit(2, "ok")]);
    let mut two = batch.clone();
    big.offset = 3;
    two.push(&big).unwrap();
    let err = store.append(&two).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::FrameTooLarge {
                offset: 3,
                max: 1024,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        store.last_offset().await.unwrap(),
        Some(1),
        "nothing of the batch was written"
    );
    store.append(&batch).await.unwrap();
    assert_eq!(store.read_all(2).await.unwrap().len(), 1);
}
