//! Writer epochs: telling a commit the log's writer acknowledged from a
//! late write by a writer it had replaced.
//!
//! A store with epochs (S3) gives each writer a new epoch number when it
//! opens, stamps it into every frame the writer writes, and records where
//! each epoch began writing (its first offset). Two rules follow, and
//! every reader checks them:
//!
//! 1. Along the log, epochs never go backwards.
//! 2. A commit at or after the offset where epoch `e` began carries an
//!    epoch of at least `e`.
//!
//! A PUT that the previous writer sent before it died, and that the server
//! stored only after the next writer had begun, breaks one of them: it is
//! reported as [`Damage::StaleEpoch`], never read as part of the history.

use bytes::Bytes;

use crate::report::{BadFrame, Damage};
use crate::scan::SegmentFrames;

/// Where each writer epoch began: the epochs a log's writers took, and the
/// first offset each of them wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EpochStarts {
    /// `(start offset, epoch)`, by start offset, each epoch raised to the
    /// highest of those starting at or before it: the epoch a commit at
    /// that offset must at least carry.
    floors: Vec<(u64, u64)>,
}

impl EpochStarts {
    /// The starts `(epoch, first offset)`, in any order.
    pub fn new(starts: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut s = Self::default();
        for (epoch, start) in starts {
            s.insert(epoch, start);
        }
        s
    }

    /// Records that `epoch` began writing at offset `start`.
    pub fn insert(&mut self, epoch: u64, start: u64) {
        let at = self.floors.partition_point(|&(s, _)| s <= start);
        self.floors.insert(at, (start, epoch));
        let mut floor = 0;
        for f in &mut self.floors {
            floor = floor.max(f.1);
            f.1 = floor;
        }
    }

    /// The newest epoch whose start is recorded (0 when none).
    pub fn newest(&self) -> u64 {
        self.floors.last().map_or(0, |&(_, e)| e)
    }

    /// True when no start is recorded.
    pub fn is_empty(&self) -> bool {
        self.floors.is_empty()
    }

    /// The epoch a commit at `offset` must at least carry, and the offset
    /// at which that epoch began; `None` when no epoch began at or before
    /// it.
    pub fn floor(&self, offset: u64) -> Option<(u64, u64)> {
        let at = self.floors.partition_point(|&(s, _)| s <= offset);
        let (_, epoch) = *self.floors.get(at.checked_sub(1)?)?;
        // Where that epoch began: the first start that raised the floor
        // to it.
        let since = self.floors[..at]
            .iter()
            .find(|&&(_, e)| e == epoch)
            .map_or(0, |&(s, _)| s);
        Some((epoch, since))
    }
}

/// Checks the commits of a read, in log order, against the two rules.
#[derive(Clone, Debug)]
pub struct EpochCheck {
    starts: EpochStarts,
    /// The previous commit checked: its offset and epoch.
    previous: Option<(u64, u64)>,
}

impl EpochCheck {
    /// A check of a read that starts now (nothing before it is known).
    pub fn new(starts: EpochStarts) -> Self {
        Self {
            starts,
            previous: None,
        }
    }

    /// Checks the commit at `offset`, written by `epoch` (0 for a frame
    /// without one).
    pub fn check(&mut self, offset: u64, epoch: u64) -> Result<(), Damage> {
        if let Some((required, since)) = self.starts.floor(offset)
            && epoch < required
        {
            return Err(Damage::StaleEpoch {
                epoch,
                required,
                since,
            });
        }
        if let Some((at, before)) = self.previous
            && epoch < before
        {
            return Err(Damage::StaleEpoch {
                epoch,
                required: before,
                since: at,
            });
        }
        self.previous = Some((offset, epoch));
        Ok(())
    }

    /// The epoch of the last commit checked.
    pub fn last_epoch(&self) -> Option<u64> {
        self.previous.map(|(_, e)| e)
    }
}

/// Checks the frames of segment `name` from byte `pos` (where a frame
/// carrying `offset` starts) up to byte `end` (the end of its valid
/// prefix, as a [`crate::scan::SegmentScan`] found it), in order; the
/// first commit that breaks a rule is returned as damage. `max_frame` is
/// the segment's frame limit.
pub fn check_segment(
    check: &mut EpochCheck,
    name: &str,
    buf: &Bytes,
    pos: usize,
    offset: u64,
    end: usize,
    max_frame: u64,
) -> Option<BadFrame> {
    let end = end.min(buf.len());
    if pos >= end {
        return None;
    }
    let mut frames = SegmentFrames::at(name, buf.slice(..end), pos, offset, max_frame);
    loop {
        let at = frames.position();
        let commit = frames.next()?.ok()?;
        if let Err(damage) = check.check(commit.offset, frames.epoch()) {
            return Some(BadFrame {
                segment: name.to_owned(),
                position: at as u64,
                offset: Some(commit.offset),
                len: (frames.position() - at) as u64,
                damage,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_newest_epoch_begun_at_or_before_an_offset() {
        let s = EpochStarts::new([(2, 10), (1, 0), (3, 25)]);
        assert_eq!(s.floor(0), Some((1, 0)));
        assert_eq!(s.floor(9), Some((1, 0)));
        assert_eq!(s.floor(10), Some((2, 10)));
        assert_eq!(s.floor(30), Some((3, 25)));
        assert_eq!(EpochStarts::default().floor(5), None);
        // An epoch that began earlier than an older one (a truncation let
        // it write there) still rules from where it began.
        let s = EpochStarts::new([(1, 0), (2, 10), (3, 5)]);
        assert_eq!(s.floor(7), Some((3, 5)));
        assert_eq!(s.floor(12), Some((3, 5)));
    }

    #[test]
    fn a_commit_from_a_replaced_writer_is_stale() {
        let s = EpochStarts::new([(1, 0), (2, 10)]);
        let mut c = EpochCheck::new(s.clone());
        for o in 0..10 {
            c.check(o, 1).unwrap();
        }
        // Rule 2: epoch 2 began at 10.
        let d = c.check(10, 1).unwrap_err();
        assert_eq!(
            d,
            Damage::StaleEpoch {
                epoch: 1,
                required: 2,
                since: 10
            }
        );
        // Rule 1: backwards after a newer epoch, even with no start known.
        let none = EpochStarts::default();
        let mut c = EpochCheck::new(none);
        c.check(0, 0).unwrap();
        c.check(1, 4).unwrap();
        c.check(2, 4).unwrap();
        assert_eq!(
            c.check(3, 3).unwrap_err(),
            Damage::StaleEpoch {
                epoch: 3,
                required: 4,
                since: 2
            }
        );
    }
}
