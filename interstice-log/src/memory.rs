//! `MemoryLogStore` (feature `memory`): a [`LogStore`] in memory that can
//! fail or stall on purpose. Clones share one log, so dropping a runtime
//! and opening another on a clone is a restart.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::scan::SegmentFrames;
use crate::{
    Commit, CommitBatch, CommitStream, Error, LogStore, PrefixReport, TruncateReport, VerifyReport,
};

#[derive(Debug)]
struct State {
    /// The offset of `commits[0]`: 0, or where retention left the start.
    first: u64,
    commits: Vec<Commit>,
    appends: u64,
    fail_after: Option<u64>,
    /// Set by [`MemoryLogStore::unknown_after`]: the failure keeps the
    /// batch and answers that its outcome is unknown, once.
    unknown: bool,
    delay: Duration,
    max_frame_size: u64,
}

impl Default for State {
    fn default() -> Self {
        Self {
            first: 0,
            commits: Vec::new(),
            appends: 0,
            fail_after: None,
            unknown: false,
            delay: Duration::ZERO,
            max_frame_size: crate::LogOptions::DEFAULT_MAX_FRAME_SIZE,
        }
    }
}

impl State {
    fn next(&self) -> u64 {
        self.first + self.commits.len() as u64
    }
}

/// An in-memory log with fault injection.
#[derive(Clone, Debug, Default)]
pub struct MemoryLogStore {
    state: Arc<Mutex<State>>,
}

impl MemoryLogStore {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lets `n` more appends succeed, then fails every later one with an
    /// I/O error (like a full disk).
    pub fn fail_after(&self, n: u64) {
        self.state().fail_after = Some(n);
    }

    /// Lets `n` more appends succeed; the next one keeps its batch but
    /// answers [`Error::OutcomeUnknown`] (a write whose answer was lost);
    /// later ones succeed again.
    pub fn unknown_after(&self, n: u64) {
        let mut st = self.state();
        st.fail_after = Some(n);
        st.unknown = true;
    }

    /// Refuses frames larger than `max` bytes, as a store opened with
    /// [`crate::LogOptions::max_frame_size`] does (the default is the
    /// default option's).
    pub fn set_max_frame_size(&self, max: u64) {
        self.state().max_frame_size = max;
    }

    /// Makes every append take `delay` (like a slow sync).
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    /// How many appends succeeded.
    pub fn appends(&self) -> u64 {
        self.state().appends
    }

    /// Every stored commit.
    pub fn commits(&self) -> Vec<Commit> {
        self.state().commits.clone()
    }

    /// Replaces the stored commits (to tamper with a log in tests).
    pub fn set_commits(&self, commits: Vec<Commit>) {
        self.state().commits = commits;
    }
}

#[async_trait]
impl LogStore for MemoryLogStore {
    async fn append(&self, batch: &CommitBatch) -> Result<(), Error> {
        let delay = self.state().delay;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        let mut st = self.state();
        batch.check(st.next(), st.max_frame_size)?;
        let mut unknown = false;
        match st.fail_after {
            Some(0) if st.unknown => {
                (st.fail_after, st.unknown, unknown) = (None, false, true);
            }
            Some(0) => {
                return Err(Error::io(
                    "append",
                    "memory log",
                    std::io::Error::other("injected failure"),
                ));
            }
            Some(left) => st.fail_after = Some(left - 1),
            None => {}
        }
        let bytes = Bytes::copy_from_slice(batch.bytes());
        let frames = SegmentFrames::at("memory", bytes, 0, batch.first_offset(), u64::MAX);
        for commit in frames {
            st.commits.push(commit.expect("a batch holds valid frames"));
        }
        st.appends += 1;
        if unknown {
            return Err(Error::OutcomeUnknown {
                first: batch.first_offset(),
                last: batch.next_offset() - 1,
                detail: "injected: the answer was lost".into(),
            });
        }
        Ok(())
    }

    async fn read_from(&self, from: u64) -> Result<CommitStream, Error> {
        let (first, commits) = {
            let st = self.state();
            Error::check_offset(from, st.first, st.next())?;
            (st.first, st.commits.clone())
        };
        let skip = (from - first) as usize;
        Ok(futures::stream::iter(commits.into_iter().skip(skip).map(Ok)).boxed())
    }

    async fn last_offset(&self) -> Result<Option<u64>, Error> {
        let st = self.state();
        Ok(st.next().checked_sub(1).filter(|&o| o >= st.first))
    }

    async fn first_offset(&self) -> Result<u64, Error> {
        Ok(self.state().first)
    }

    async fn remove_before(&self, before: u64) -> Result<PrefixReport, Error> {
        let mut st = self.state();
        let next = st.next();
        if st.commits.is_empty() && before >= st.first {
            st.first = before;
        } else {
            Error::check_offset(before, st.first, next)?;
            let n = (before.max(st.first) - st.first) as usize;
            st.commits.drain(..n);
            st.first = before.max(st.first);
        }
        Ok(PrefixReport {
            first_offset: st.first,
            ..PrefixReport::default()
        })
    }

    async fn verify(&self) -> Result<VerifyReport, Error> {
        let st = self.state();
        Ok(VerifyReport {
            segments: 1,
            commits: st.commits.len() as u64,
            bytes: 0,
            last_offset: st.next().checked_sub(1).filter(|&o| o >= st.first),
            bad: Vec::new(),
        })
    }

    async fn truncate(&self, from: u64) -> Result<TruncateReport, Error> {
        let mut st = self.state();
        let report = TruncateReport::start(from, st.first, st.next())?;
        let keep = (from - st.first) as usize;
        st.commits.truncate(keep);
        Ok(report)
    }
}

/// Snapshots in memory: a [`crate::snapshot::SnapshotStore`] for runtime
/// tests. Clones share the same snapshots.
#[derive(Clone, Debug, Default)]
pub struct MemorySnapshotStore {
    snapshots: Arc<Mutex<std::collections::BTreeMap<u64, Bytes>>>,
}

impl MemorySnapshotStore {
    /// No snapshots.
    pub fn new() -> Self {
        Self::default()
    }

    fn snapshots(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeMap<u64, Bytes>> {
        self.snapshots.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl crate::snapshot::SnapshotStore for MemorySnapshotStore {
    async fn put(&self, offset: u64, bytes: Bytes) -> Result<(), Error> {
        self.snapshots().insert(offset, bytes);
        Ok(())
    }

    async fn list(&self) -> Result<Vec<u64>, Error> {
        Ok(self.snapshots().keys().copied().collect())
    }

    async fn get(&self, offset: u64) -> Result<Bytes, Error> {
        self.snapshots()
            .get(&offset)
            .cloned()
            .ok_or_else(|| Error::NoSnapshot {
                location: "memory".into(),
                offset,
            })
    }

    async fn remove(&self, offset: u64) -> Result<(), Error> {
        self.snapshots().remove(&offset);
        Ok(())
    }

    fn location(&self) -> String {
        "memory".into()
    }
}
