//! A run of encoded commits handed to [`crate::LogStore::append`] at once.

use std::borrow::Cow;

use crate::codec::{encode_frame, set_durable_before};
use crate::{Commit, Error};

/// Consecutive commits, already encoded, starting at a known offset.
///
/// The durability pipeline encodes commits outside any store lock and hands
/// the whole batch to one `append` (group commit): one write and one sync,
/// or one object, per batch.
#[derive(Clone, Debug, Default)]
pub struct CommitBatch {
    first_offset: u64,
    bytes: Vec<u8>,
    /// End of each frame in `bytes`.
    ends: Vec<usize>,
}

impl CommitBatch {
    /// An empty batch whose first commit will have `first_offset`.
    pub fn new(first_offset: u64) -> Self {
        Self {
            first_offset,
            bytes: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Encodes `commit` onto the batch and returns its frame length. Its
    /// frame says every commit before the batch's first is durable (true of
    /// a store that syncs each batch before taking the next; a store that
    /// does not writes [`CommitBatch::bytes_durable_before`]).
    ///
    /// Fails with [`Error::InvalidCommit`] when `commit.offset` is not
    /// [`CommitBatch::next_offset`] or a field does not fit the format; the
    /// batch is unchanged then.
    pub fn push(&mut self, commit: &Commit) -> Result<usize, Error> {
        if commit.offset != self.next_offset() {
            return Err(Error::InvalidCommit {
                offset: commit.offset,
                reason: format!("batch expects offset {} next", self.next_offset()),
            });
        }
        let len = encode_frame(commit, self.first_offset, &mut self.bytes)?;
        self.ends.push(self.bytes.len());
        Ok(len)
    }

    /// Offset of the batch's first commit.
    pub fn first_offset(&self) -> u64 {
        self.first_offset
    }

    /// Offset the next pushed commit must have.
    pub fn next_offset(&self) -> u64 {
        self.first_offset + self.ends.len() as u64
    }

    /// Offset of the last commit, if any.
    pub fn last_offset(&self) -> Option<u64> {
        (!self.ends.is_empty()).then(|| self.next_offset() - 1)
    }

    /// Number of commits.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// True when no commit was pushed.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The encoded frames, back to back.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The encoded frames with `durable_before` set to `offset` in each:
    /// what a store writes when not every commit before the batch is
    /// durable yet (`batch:<ms>` and `none` durability on disk), so that
    /// recovery knows a torn write may reach back to `offset`. Borrowed
    /// when `offset` is the batch's first offset, as encoded.
    pub fn bytes_durable_before(&self, offset: u64) -> Cow<'_, [u8]> {
        if offset == self.first_offset {
            return Cow::Borrowed(&self.bytes);
        }
        debug_assert!(offset < self.first_offset);
        let mut bytes = self.bytes.clone();
        let mut start = 0;
        for &end in &self.ends {
            set_durable_before(&mut bytes[start..end], offset);
            start = end;
        }
        Cow::Owned(bytes)
    }

    /// Each commit's offset and frame bytes.
    pub fn frames(&self) -> impl Iterator<Item = (u64, &[u8])> {
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        starts
            .zip(self.ends.iter().copied())
            .enumerate()
            .map(|(i, (s, e))| (self.first_offset + i as u64, &self.bytes[s..e]))
    }

    /// Checks the batch is one a store with `max_frame_size` accepts at
    /// `next_offset`: not empty, starting there, no frame over the maximum.
    /// Every backend calls this first in `append`.
    pub fn check(&self, next_offset: u64, max_frame_size: u64) -> Result<(), Error> {
        if self.first_offset != next_offset {
            return Err(Error::OffsetConflict {
                expected: next_offset,
                found: self.first_offset,
            });
        }
        if self.is_empty() {
            return Err(Error::InvalidCommit {
                offset: self.first_offset,
                reason: "empty batch".into(),
            });
        }
        for (offset, frame) in self.frames() {
            if frame.len() as u64 > max_frame_size {
                return Err(Error::FrameTooLarge {
                    offset,
                    size: frame.len() as u64,
                    max: max_frame_size,
                });
            }
        }
        Ok(())
    }
}
