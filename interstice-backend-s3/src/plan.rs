//! Which objects a read goes through, and what it does where two of them
//! hold the same commits: one planner for the reader, `verify` (and so
//! `check-log`) and recovery, so they cannot disagree.
//!
//! Objects may overlap. A merged segment covers the batch objects it was
//! copied from until compaction turns them into stubs (and forever, if it
//! was interrupted before that); two compactions with different targets
//! can leave merged segments that overlap each other. Every object that
//! holds commits is read, in order of its first offset: frames at offsets
//! the read has already served must be byte-for-byte copies of the frames
//! served (anything else is [`Damage::Overlap`]), and the frames after
//! them are served. Stubs (a header and nothing else, as listed) hold no
//! commit and are not fetched.

use std::collections::VecDeque;

use bytes::Bytes;
use interstice_log::codec::SEGMENT_HEADER_LEN;
use interstice_log::{BadFrame, Damage};

use crate::objects::Segment;

/// The objects to read, in order: by first offset, at one offset the
/// widest merged segment first; stubs are left out, except the first and
/// the last object (where the log starts is checked against the first;
/// recovery decides what a header-only tail is).
pub(crate) fn plan(mut all: Vec<Segment>) -> Vec<Segment> {
    all.sort_by(|a, b| {
        (a.first_offset, std::cmp::Reverse(a.last_offset))
            .cmp(&(b.first_offset, std::cmp::Reverse(b.last_offset)))
    });
    let last = all.len().saturating_sub(1);
    all.into_iter()
        .enumerate()
        .filter(|(i, s)| *i == 0 || *i == last || !is_stub(s))
        .map(|(_, s)| s)
        .collect()
}

/// Where in `plan` a read of commit `offset` starts: at the first object
/// that may hold it (a merged segment that covers it, or the last object
/// that begins at or before it, whose extent its name does not say).
pub(crate) fn start_at(plan: &[Segment], offset: u64) -> Option<usize> {
    let last_before = plan.iter().rposition(|s| s.start_offset <= offset)?;
    let covering = plan
        .iter()
        .position(|s| s.start_offset <= offset && s.last_offset.is_some_and(|l| l >= offset));
    Some(covering.map_or(last_before, |c| c.min(last_before)))
}

/// Whether the listing says `s` is a header and nothing else. (An object
/// this process wrote is not listed: its size is 0, and it holds frames.)
pub(crate) fn is_stub(s: &Segment) -> bool {
    s.size == SEGMENT_HEADER_LEN as u64
}

/// The frames a read served, kept as long as an object still to be read
/// may overlap them.
#[derive(Debug, Default)]
pub(crate) struct Served {
    /// `(offset, frame, segment that served it)`, by offset.
    frames: VecDeque<(u64, Bytes, String)>,
}

impl Served {
    /// Remembers the frame served for commit `offset`, from `segment`.
    pub fn push(&mut self, offset: u64, frame: Bytes, segment: &str) {
        self.frames.push_back((offset, frame, segment.to_owned()));
    }

    /// Forgets the frames before `offset`: no object still to be read
    /// starts before it.
    pub fn forget_before(&mut self, offset: u64) {
        while self.frames.front().is_some_and(|(o, ..)| *o < offset) {
            self.frames.pop_front();
        }
    }

    /// Checks that `frame`, commit `offset` of segment `segment` at byte
    /// `position`, is a copy of the frame served for that offset (when the
    /// read served it: a read that started later cannot tell).
    pub fn check(
        &self,
        segment: &str,
        position: usize,
        offset: u64,
        frame: &[u8],
    ) -> Result<(), Box<BadFrame>> {
        let first = self.frames.front().map_or(u64::MAX, |(o, ..)| *o);
        let Some((_, served, from)) = offset
            .checked_sub(first)
            .and_then(|i| self.frames.get(i as usize))
        else {
            return Ok(());
        };
        if served[..] == *frame {
            return Ok(());
        }
        Err(Box::new(BadFrame {
            segment: segment.to_owned(),
            position: position as u64,
            offset: Some(offset),
            len: frame.len() as u64,
            damage: Damage::Overlap {
                other: from.clone(),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::segment_name;

    fn sized(s: Segment, size: u64) -> Segment {
        Segment { size, ..s }
    }

    #[test]
    fn every_object_with_commits_is_read_and_stubs_are_not() {
        let stub = |o| sized(Segment::new(o), SEGMENT_HEADER_LEN as u64);
        let all = vec![
            stub(0),
            sized(Segment::new(1), 90),
            stub(2),
            sized(Segment::compacted(2, 7), 500),
            sized(Segment::compacted(5, 9), 500),
            sized(Segment::new(5), 90),
            stub(8),
            stub(10),
        ];
        let names: Vec<_> = plan(all).into_iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                // The first object stays, stub or not.
                segment_name(0),
                segment_name(1),
                Segment::compacted(2, 7).name,
                Segment::compacted(5, 9).name,
                segment_name(5),
                // The last object stays, stub or not.
                segment_name(10),
            ]
        );
    }

    #[test]
    fn a_read_starts_at_the_first_object_that_may_hold_its_commit() {
        let plan = vec![
            Segment::new(0),
            Segment::compacted(2, 9),
            Segment::new(5),
            Segment::new(10),
        ];
        assert_eq!(start_at(&plan, 0), Some(0));
        assert_eq!(start_at(&plan, 1), Some(0));
        // 5 is a batch object inside the merged segment: the merged one
        // holds 7 for certain.
        assert_eq!(start_at(&plan, 7), Some(1));
        assert_eq!(start_at(&plan, 12), Some(3));
        assert_eq!(start_at(&plan[1..], 1), None);
    }

    #[test]
    fn an_overlapping_frame_must_be_a_copy() {
        let mut served = Served::default();
        served.push(4, Bytes::from_static(b"four"), "a.seg");
        served.push(5, Bytes::from_static(b"five"), "a.seg");
        served.check("b.seg", 20, 5, b"five").unwrap();
        let bad = served.check("b.seg", 20, 4, b"FOUR").unwrap_err();
        assert_eq!(
            bad.damage,
            Damage::Overlap {
                other: "a.seg".into()
            }
        );
        // Not served by this read: nothing to compare.
        served.check("b.seg", 20, 3, b"x").unwrap();
        served.forget_before(5);
        served.check("b.seg", 20, 4, b"x").unwrap();
    }
}
