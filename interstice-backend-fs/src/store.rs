//! `FsLogStore`: the `LogStore` on a local directory of segment files.

use std::any::Any;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::scan::{SegmentFrames, add_mark, scan_segment};
use interstice_log::{
    BadFrame, CommitBatch, CommitStream, Damage, Durability, Error, LogOptions, LogStore,
    PrefixReport, RecoveryReport, TruncateReport, VerifyReport,
};

use crate::layout::{self, read_prefix};
use crate::recovery::{SegmentMeta, recover};
use crate::vfs::{RealFs, Vfs, VfsFile};

/// How far ahead of the write position a segment is zero-filled.
const PREALLOC_CHUNK: u64 = 1 << 20;

/// A log stored as append-only segment files in one directory.
///
/// One process writes a directory at a time (a lock file enforces it);
/// any number of read-only stores may read it. Appends go to the last
/// segment with a single positioned write per batch, then (at
/// [`Durability::Sync`]) one `fdatasync`; a new segment starts once the
/// last one reaches the configured size, and only after the old one is
/// synced, so crash damage is always confined to the last segment.
///
/// Cloning is cheap: clones share the same open log.
#[derive(Clone, Debug)]
pub struct FsLogStore {
    inner: Arc<Inner>,
}

struct Inner {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    opts: LogOptions,
    report: RecoveryReport,
    state: Mutex<State>,
    _lock: Option<Box<dyn Any + Send + Sync>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inner")
            .field("vfs", &self.vfs)
            .field("dir", &self.dir)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
struct State {
    segments: Vec<SegmentMeta>,
    first_offset: u64,
    next_offset: u64,
    /// The last segment, open for writing (None when read-only or empty).
    active: Option<Arc<dyn VfsFile>>,
    /// Whether appends may go to the last segment: its header is this
    /// version's, with a frame limit at least the configured one.
    active_accepts: bool,
    /// Length of the active segment file: the bytes from its valid end up
    /// to here are zeros written ahead of time (see [`PREALLOC_CHUNK`]).
    zeroed_to: u64,
    /// Whether to keep zero-filling ahead (off after it failed once).
    prealloc: bool,
    /// Every commit before this offset is durable: synced, or in a segment
    /// synced before the active one was created. Frames carry it as their
    /// `durable_before`, so that recovery knows how far back a torn write
    /// can reach; below `next_offset`, the active segment holds unsynced
    /// writes (batch and none durability).
    durable_before: u64,
    /// Bumped when the log is cut, so that a background sync begun before
    /// the cut does not vouch for commits written after it.
    generation: u64,
    /// Why the store stopped accepting writes.
    poisoned: Option<String>,
}

impl FsLogStore {
    /// Opens (or, with [`LogOptions::create`], creates) the log in `dir`,
    /// running recovery according to [`LogOptions::recovery`].
    ///
    /// Fails with [`Error::NotFound`] when `dir` does not exist and
    /// `create` is off, [`Error::Locked`] when another process writes the
    /// log, [`Error::Io`] when the directory cannot be created, read or
    /// written, and [`Error::Corrupt`] / [`Error::InvalidTail`] as the
    /// recovery mode says.
    pub fn open(dir: impl AsRef<Path>, opts: LogOptions) -> Result<Self, Error> {
        Self::open_on(Arc::new(RealFs), dir, opts)
    }

    /// Opens the log in `dir` on another file system: a
    /// [`SimFs`](crate::sim::SimFs), to test what survives a power loss.
    pub fn open_on(
        vfs: Arc<dyn Vfs>,
        dir: impl AsRef<Path>,
        opts: LogOptions,
    ) -> Result<Self, Error> {
        opts.validate()?;
        let dir = dir.as_ref().to_path_buf();
        match vfs.is_dir(&dir) {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::io(
                    "open log directory",
                    dir.display(),
                    std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !opts.create || opts.read_only {
                    return Err(Error::NotFound {
                        location: dir.display().to_string(),
                    });
                }
                // Every directory made here must be durable in its parent,
                // or a power loss could take the log (and its synced
                // commits) with it.
                let made: Vec<PathBuf> = dir
                    .ancestors()
                    .take_while(|a| !a.as_os_str().is_empty() && !vfs.exists(a))
                    .map(Path::to_path_buf)
                    .collect();
                vfs.create_dir_all(&dir)
                    .map_err(|e| Error::io("create log directory", dir.display(), e))?;
                for d in made.iter().rev() {
                    let parent = match d.parent() {
                        Some(p) if !p.as_os_str().is_empty() => p,
                        _ => Path::new("."),
                    };
                    layout::sync_dir(&*vfs, parent)?;
                }
            }
            Err(e) => return Err(Error::io("open log directory", dir.display(), e)),
        }
        let lock = if opts.read_only {
            None
        } else {
            Some(vfs.lock(&dir)?)
        };
        let recovered = recover(&*vfs, &dir, &opts)?;
        let active = match (opts.read_only, recovered.segments.last()) {
            (false, Some(last)) => Some(layout::open_segment_rw(&*vfs, &dir.join(&last.name))?),
            _ => None,
        };
        let state = State {
            active_accepts: recovered
                .segments
                .last()
                .is_some_and(|m| m.accepts(opts.max_frame_size)),
            segments: recovered.segments,
            first_offset: recovered.first_offset,
            next_offset: recovered.next_offset,
            zeroed_to: active.as_ref().and_then(|f| f.size().ok()).unwrap_or(0),
            prealloc: true,
            active,
            // What recovery read is what the disk holds: durable.
            durable_before: recovered.next_offset,
            generation: 0,
            poisoned: None,
        };
        let inner = Arc::new(Inner {
            vfs,
            dir,
            opts,
            report: recovered.report,
            state: Mutex::new(state),
            _lock: lock,
        });
        if let (Durability::Batch(every), false) = (inner.opts.durability, inner.opts.read_only) {
            spawn_syncer(Arc::downgrade(&inner), every);
        }
        Ok(Self { inner })
    }

    /// What recovery found and did when the log was opened.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    /// The log's directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the files torn (they
        // are only ever appended to), so the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    /// The whole append, under the state lock.
    fn append_locked(&self, batch: &CommitBatch) -> Result<(), Error> {
        let (first_offset, count) = (batch.first_offset(), batch.len() as u64);
        let mut st = self.state();
        if let Some(reason) = &st.poisoned {
            return Err(Error::Poisoned {
                reason: reason.clone(),
            });
        }
        if self.opts.read_only {
            return Err(Error::ReadOnly {
                location: self.location(),
            });
        }
        if first_offset != st.next_offset {
            return Err(Error::OffsetConflict {
                expected: st.next_offset,
                found: first_offset,
            });
        }
        let bytes = batch.bytes_durable_before(st.durable_before);
        let needs_segment = match st.segments.last() {
            None => true,
            Some(last) => {
                let header = SEGMENT_HEADER_LEN as u64;
                !st.active_accepts
                    || (last.len > header && last.len + bytes.len() as u64 > self.opts.segment_size)
            }
        };
        let bytes = if needs_segment {
            self.rotate(&mut st, first_offset)?;
            // Everything before the new segment is durable now.
            batch.bytes_durable_before(st.durable_before)
        } else {
            bytes
        };
        let at = st.segments.last().expect("a segment exists").len;
        self.zero_ahead(&mut st, at + bytes.len() as u64);
        let file = st
            .active
            .clone()
            .expect("writable store has an active segment");
        let result = file
            .write_all_at(&bytes, at)
            .map_err(|e| ("write", e))
            .and_then(|()| match self.opts.durability {
                Durability::Sync => file.sync_data().map_err(|e| ("fdatasync", e)),
                _ => Ok(()),
            });
        if let Err((op, e)) = result {
            return Err(self.fail_append(&mut st, &*file, at, batch, op, e));
        }
        let last = st.segments.last_mut().expect("a segment exists");
        last.len += bytes.len() as u64;
        add_mark(&mut last.marks, last.start_pos, first_offset, at);
        st.next_offset += count;
        if self.opts.durability == Durability::Sync {
            st.durable_before = st.next_offset;
        }
        Ok(())
    }

    /// After a failed write or sync of `batch` at `at`: the bytes may be
    /// partly or wholly on disk, where a later open would read them as
    /// commits although the caller hears they failed. Cut them off and make
    /// the cut durable; if that fails too, the commits' fate is unknown
    /// until the log is reopened, and the error says so. The store stops
    /// writing either way (after a failed fsync the kernel may have dropped
    /// the pages, so nothing is certain until reopen).
    fn fail_append(
        &self,
        st: &mut State,
        file: &dyn VfsFile,
        at: u64,
        batch: &CommitBatch,
        op: &'static str,
        e: std::io::Error,
    ) -> Error {
        let name = st.segments.last().expect("a segment exists").name.clone();
        let path = self.dir.join(&name);
        st.poisoned = Some(format!("{op} of segment {name} failed: {e}"));
        st.zeroed_to = at;
        match file.set_len(at).and_then(|()| file.sync_all()) {
            Ok(()) => Error::io(op, path.display(), e),
            Err(cut) => Error::OutcomeUnknown {
                first: batch.first_offset(),
                last: batch.next_offset() - 1,
                detail: format!(
                    "{op} of {} failed ({e}), and cutting the batch off failed too ({cut})",
                    path.display()
                ),
            },
        }
    }

    /// Starts a new segment at `first_offset`, syncing the old one first,
    /// at every durability level (`none` included): a power loss can then
    /// damage only the last segment, never leave a hole before it.
    fn rotate(&self, st: &mut State, first_offset: u64) -> Result<(), Error> {
        if let Some(old) = &st.active
            && st.durable_before < st.next_offset
            && let Err(e) = old.sync_data()
        {
            st.poisoned = Some(format!("fdatasync before rotation failed: {e}"));
            return Err(Error::io("fdatasync", self.location(), e));
        }
        st.durable_before = st.next_offset;
        // A last segment this writer may not append to (an older version's,
        // or a smaller frame limit's) that holds no commit yet has the new
        // segment's name: it moves to quarantine first.
        if st
            .segments
            .last()
            .is_some_and(|m| m.first_offset == first_offset)
        {
            let m = st.segments.pop().expect("checked");
            st.active = None;
            let q = layout::quarantine_file(&*self.vfs, &self.dir, &m.name)?;
            tracing::info!(log = %self.dir.display(), "replaced an empty segment of an older format: {q}");
        }
        let header = SegmentHeader::new(first_offset, self.opts.max_frame_size);
        let file = layout::create_segment(&*self.vfs, &self.dir, header)?;
        st.segments.push(SegmentMeta::new(first_offset, header));
        st.active = Some(file);
        st.active_accepts = true;
        st.zeroed_to = SEGMENT_HEADER_LEN as u64;
        st.prealloc = true;
        Ok(())
    }

    /// Writes zeros ahead of the write position so that appends overwrite
    /// allocated blocks instead of growing the file: `fdatasync` then has
    /// no file size or block allocation to write back, which makes it
    /// about a third faster here. Zeros after the last frame are free
    /// space to readers and recovery. Best effort: if it fails (a full
    /// disk, a file size limit) the store appends without it.
    fn zero_ahead(&self, st: &mut State, end: u64) {
        if !st.prealloc || end <= st.zeroed_to {
            return;
        }
        let target = end.max((st.zeroed_to + PREALLOC_CHUNK).min(self.opts.segment_size));
        let file = st
            .active
            .as_ref()
            .expect("writable store has an active segment");
        static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
        let mut at = st.zeroed_to;
        while at < target {
            let n = ((target - at) as usize).min(ZEROS.len());
            if let Err(e) = file.write_all_at(&ZEROS[..n], at) {
                tracing::warn!(log = %self.dir.display(), "appending without preallocation: {e}");
                st.prealloc = false;
                st.zeroed_to = file.size().unwrap_or(at);
                return;
            }
            at += n as u64;
        }
        st.zeroed_to = target;
    }

    /// Syncs unsynced writes (batch durability); poisons on failure. The
    /// sync runs outside the lock; only once it succeeded do the commits it
    /// covered count as durable (a rotation meanwhile syncs for itself).
    fn sync_if_dirty(&self) {
        let (file, target, generation) = {
            let st = self.state();
            if st.durable_before >= st.next_offset || st.poisoned.is_some() {
                return;
            }
            match st.active.clone() {
                Some(f) => (f, st.next_offset, st.generation),
                None => return,
            }
        };
        let result = file.sync_data();
        let mut st = self.state();
        match result {
            Ok(()) if st.generation == generation => {
                st.durable_before = st.durable_before.max(target);
            }
            Ok(()) => {}
            Err(e) => {
                tracing::error!(log = %self.dir.display(), "background fdatasync failed: {e}");
                st.poisoned = Some(format!("background fdatasync failed: {e}"));
            }
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.opts.durability != Durability::None {
            self.sync_if_dirty();
        }
    }
}

/// Syncs a batch-durability store every `every` until it is dropped.
fn spawn_syncer(inner: Weak<Inner>, every: Duration) {
    std::thread::Builder::new()
        .name("interstice-fs-sync".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                match inner.upgrade() {
                    Some(inner) => inner.sync_if_dirty(),
                    None => return,
                }
            }
        })
        .expect("spawn the log sync thread");
}

fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Backend {
        message: format!("log I/O task failed: {e}"),
        source: Some(Box::new(e)),
    }
}

#[async_trait]
impl LogStore for FsLogStore {
    async fn append(&self, batch: &CommitBatch) -> Result<(), Error> {
        // Size checks need no lock; the offset is checked under it.
        batch.check(batch.first_offset(), self.inner.opts.max_frame_size)?;
        match self.inner.opts.durability {
            // fdatasync blocks for a while: tell the runtime, so it moves
            // other tasks off this worker (`block_in_place`), or, on a
            // current-thread runtime, run it on the blocking pool. Either
            // way the append finishes even if this future is dropped.
            Durability::Sync => {
                let flavor = tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor());
                if matches!(flavor, Ok(tokio::runtime::RuntimeFlavor::MultiThread)) {
                    tokio::task::block_in_place(|| self.inner.append_locked(batch))
                } else {
                    let inner = self.inner.clone();
                    let batch = batch.clone();
                    tokio::task::spawn_blocking(move || inner.append_locked(&batch))
                        .await
                        .map_err(join_error)?
                }
            }
            // A write to the page cache is as quick as a lock: do it here.
            _ => self.inner.append_locked(batch),
        }
    }

    async fn read_from(&self, from: u64) -> Result<CommitStream, Error> {
        let (segments, first, next) = {
            let st = self.inner.state();
            (st.segments.clone(), st.first_offset, st.next_offset)
        };
        Error::check_offset(from, first, next)?;
        let start = segments
            .iter()
            .rposition(|m| m.start_offset <= from)
            .unwrap_or(0);
        let reader = Reader {
            vfs: self.inner.vfs.clone(),
            dir: self.inner.dir.clone(),
            segments: segments.into_iter().skip(start).collect(),
            current: None,
            from,
            expected: None,
            end: next,
            max_frame: self.inner.opts.max_frame_size,
        };
        Ok(futures::stream::try_unfold(reader, Reader::next).boxed())
    }

    async fn last_offset(&self) -> Result<Option<u64>, Error> {
        let st = self.inner.state();
        Ok(st
            .next_offset
            .checked_sub(1)
            .filter(|&o| o >= st.first_offset))
    }

    async fn first_offset(&self) -> Result<u64, Error> {
        Ok(self.inner.state().first_offset)
    }

    async fn remove_before(&self, before: u64) -> Result<PrefixReport, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || remove_before_locked(&inner, before))
            .await
            .map_err(join_error)?
    }

    async fn verify(&self) -> Result<VerifyReport, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || verify_dir(&inner))
            .await
            .map_err(join_error)?
    }

    async fn truncate(&self, from: u64) -> Result<TruncateReport, Error> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || truncate_locked(&inner, from))
            .await
            .map_err(join_error)?
    }
}

/// The state of a `read_from` stream.
struct Reader {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
    segments: VecDeque<SegmentMeta>,
    current: Option<SegmentFrames>,
    from: u64,
    /// The offset the next frame must carry (None before the first).
    expected: Option<u64>,
    /// The log's next offset when the read started: where the stream ends.
    end: u64,
    max_frame: u64,
}

impl Reader {
    async fn next(mut self) -> Result<Option<(interstice_log::Commit, Self)>, Error> {
        loop {
            if self.expected.is_some_and(|e| e >= self.end) || self.from >= self.end {
                return Ok(None);
            }
            if let Some(frames) = &mut self.current {
                match frames.next() {
                    Some(Ok(commit)) => {
                        self.expected = Some(commit.offset + 1);
                        if commit.offset >= self.from {
                            return Ok(Some((commit, self)));
                        }
                        continue;
                    }
                    Some(Err(e)) => return Err(e),
                    None => self.current = None,
                }
            }
            let expected = self.expected;
            let Some(seg) = self.segments.pop_front() else {
                let at = expected.unwrap_or(self.from);
                return Err(missing("(end of log)", at, self.end));
            };
            if let Some(e) = expected.filter(|&e| e != seg.start_offset) {
                return Err(missing(&seg.name, e, seg.start_offset));
            }
            // The first segment read starts at the last mark before
            // `from`, if any, reading only the bytes from there.
            let mark = expected
                .is_none()
                .then(|| seg.mark_before(self.from))
                .flatten();
            let at = mark.map_or(0, |m| m.position);
            let want = seg.len - at;
            let path = self.dir.join(&seg.name);
            let vfs = self.vfs.clone();
            let read = tokio::task::spawn_blocking(move || match mark {
                Some(_) => vfs.read_at(&path, at, want),
                None => vfs.read(&path, Some(want)),
            })
            .await
            .map_err(join_error)?;
            let buf = match read {
                Ok(buf) => buf,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(Error::Removed {
                        from: seg.start_offset,
                        location: self.dir.display().to_string(),
                    });
                }
                Err(e) => {
                    return Err(Error::io(
                        "read segment",
                        self.dir.join(&seg.name).display(),
                        e,
                    ));
                }
            };
            if (buf.len() as u64) < want {
                return Err(Error::Corrupt(Box::new(BadFrame {
                    segment: seg.name.clone(),
                    position: at + buf.len() as u64,
                    offset: None,
                    len: want - buf.len() as u64,
                    damage: Damage::Frame(interstice_log::codec::FrameError::Truncated {
                        needed: seg.len,
                        available: at + buf.len() as u64,
                    }),
                })));
            }
            let buf = Bytes::from(buf);
            self.current = Some(match mark {
                Some(m) => SegmentFrames::from_mark(
                    &seg.name,
                    buf,
                    at as usize,
                    m.offset,
                    seg.frame_limit(self.max_frame),
                ),
                None => seg.frames(buf, self.max_frame)?,
            });
            self.expected = Some(mark.map_or(seg.start_offset, |m| m.offset));
        }
    }
}

fn missing(segment: &str, from: u64, to: u64) -> Error {
    Error::Corrupt(Box::new(BadFrame::missing(segment, from, to)))
}

/// Scans every segment file in the directory, as stored.
fn verify_dir(inner: &Inner) -> Result<VerifyReport, Error> {
    let (active_name, active_len) = {
        let st = inner.state();
        match (inner.opts.read_only, st.segments.last()) {
            (false, Some(m)) => (Some(m.name.clone()), m.len),
            _ => (None, 0),
        }
    };
    let listing = layout::list(&*inner.vfs, &inner.dir)?;
    let mut report = VerifyReport::default();
    // Segments before the start marker are leftovers of retention.
    let mut expected = layout::read_start(&*inner.vfs, &inner.dir)?;
    let from = expected;
    for (first_offset, name) in listing.segments.iter().filter(|(o, _)| *o >= from) {
        // The writer's active segment may hold a write in progress past the
        // acknowledged length: look only at what was acknowledged.
        let len = (active_name.as_deref() == Some(name.as_str())).then_some(active_len);
        let buf = Bytes::from(read_prefix(&*inner.vfs, &inner.dir.join(name), len)?);
        if *first_offset > expected {
            report
                .bad
                .push(BadFrame::missing(name, expected, *first_offset));
        }
        let scan = scan_segment(name, &buf, *first_offset, inner.opts.max_frame_size);
        report.segments += 1;
        report.bytes += scan.used;
        report.commits += scan.commits;
        if scan.last_offset.is_some() {
            report.last_offset = scan.last_offset;
        }
        expected = scan.last_offset.map_or(*first_offset, |o| o + 1);
        report.bad.extend(scan.bad);
    }
    Ok(report)
}

/// Retention: moves the start marker to the first segment kept, then
/// removes the segments before it (a crash in between leaves leftovers
/// that the next open removes).
fn remove_before_locked(inner: &Inner, before: u64) -> Result<PrefixReport, Error> {
    let mut st = inner.state();
    if inner.opts.read_only {
        return Err(Error::ReadOnly {
            location: inner.location(),
        });
    }
    if let Some(reason) = &st.poisoned {
        return Err(Error::Poisoned {
            reason: reason.clone(),
        });
    }
    let empty = st.next_offset == st.first_offset;
    if empty && before >= st.first_offset {
        // Nothing stored: the log starts at `before` (segments hold no
        // commit, and are removed with the rest).
        layout::write_start(&*inner.vfs, &inner.dir, before)?;
        let mut report = PrefixReport {
            first_offset: before,
            ..PrefixReport::default()
        };
        for m in std::mem::take(&mut st.segments) {
            layout::remove_segment(&*inner.vfs, &inner.dir, &m.name)?;
            report.removed.push(m.name);
        }
        layout::sync_dir(&*inner.vfs, &inner.dir)?;
        st.active = None;
        st.active_accepts = false;
        (st.first_offset, st.next_offset, st.durable_before) = (before, before, before);
        return Ok(report);
    }
    Error::check_offset(before, st.first_offset, st.next_offset)?;
    // Whole segments before `before`: each one whose successor starts at
    // or before it. The last segment always stays.
    let n = st
        .segments
        .windows(2)
        .take_while(|w| w[1].first_offset <= before)
        .count();
    let mut report = PrefixReport {
        first_offset: st.first_offset,
        ..PrefixReport::default()
    };
    if n == 0 {
        return Ok(report);
    }
    let first = st.segments[n].first_offset;
    layout::write_start(&*inner.vfs, &inner.dir, first)?;
    st.first_offset = first;
    for m in st.segments.drain(..n).collect::<Vec<_>>() {
        layout::remove_segment(&*inner.vfs, &inner.dir, &m.name)?;
        report.bytes += m.len;
        report.removed.push(m.name);
    }
    layout::sync_dir(&*inner.vfs, &inner.dir)?;
    report.first_offset = first;
    Ok(report)
}

fn truncate_locked(inner: &Inner, from: u64) -> Result<TruncateReport, Error> {
    let mut st = inner.state();
    if let Some(reason) = &st.poisoned {
        return Err(Error::Poisoned {
            reason: reason.clone(),
        });
    }
    if inner.opts.read_only {
        return Err(Error::ReadOnly {
            location: inner.location(),
        });
    }
    let mut report = TruncateReport::start(from, st.first_offset, st.next_offset)?;
    if report.removed == 0 {
        return Ok(report);
    }
    // Whole segments at or after `from`, last first: a crash part-way
    // leaves a shorter log, never one with a hole.
    let header = SEGMENT_HEADER_LEN as u64;
    // (A skip-to segment keeps its bytes before the served start: it is cut
    // below, never moved whole.)
    while st
        .segments
        .last()
        .is_some_and(|m| m.start_offset >= from && m.start_pos == header)
    {
        let m = st.segments.pop().expect("checked");
        st.active = None;
        report
            .quarantined
            .push(layout::quarantine_file(&*inner.vfs, &inner.dir, &m.name)?);
    }
    if let Some(last) = st.segments.last().cloned() {
        let path = inner.dir.join(&last.name);
        let buf = Bytes::from(read_prefix(&*inner.vfs, &path, Some(last.len))?);
        let mut frames = last.frames(buf.clone(), inner.opts.max_frame_size)?;
        while frames.next_offset() < from {
            match frames.next() {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        let cut = frames.position() as u64;
        if cut < last.len {
            let q = layout::quarantine_bytes(
                &*inner.vfs,
                &inner.dir,
                &last.name,
                cut,
                &buf[cut as usize..],
            )?;
            report.quarantined.push(q);
            let file = layout::open_segment_rw(&*inner.vfs, &path)?;
            file.set_len(cut)
                .and_then(|()| file.sync_all())
                .map_err(|e| Error::io("truncate segment", path.display(), e))?;
            st.active = Some(file);
            st.zeroed_to = cut;
        } else if st.active.is_none() {
            let file = layout::open_segment_rw(&*inner.vfs, &path)?;
            st.zeroed_to = file.size().unwrap_or(cut);
            st.active = Some(file);
        }
        let last = st.segments.last_mut().expect("exists");
        last.len = cut;
        last.marks.retain(|m| m.position < cut);
    }
    st.active_accepts = st
        .segments
        .last()
        .is_some_and(|m| m.accepts(inner.opts.max_frame_size));
    layout::sync_dir(&*inner.vfs, &inner.dir)?;
    st.next_offset = from;
    st.durable_before = from;
    st.generation += 1;
    Ok(report)
}
