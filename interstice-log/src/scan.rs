//! Walking the frames of one segment: shared by every backend for reads,
//! recovery and verification, so they agree on what "valid" means.

use bytes::Bytes;

use crate::codec::{
    FRAME_MAGIC, FrameError, SEGMENT_HEADER_LEN, SegmentHeader, decode_frame, durable_before, epoch,
};
use crate::report::{BadFrame, Damage};
use crate::{Commit, Error};

/// Everything a full pass over a segment found.
#[derive(Clone, Debug)]
pub struct SegmentScan {
    /// The header, or why it is invalid.
    pub header: Result<SegmentHeader, FrameError>,
    /// Valid frames found (before and after any damage).
    pub commits: u64,
    /// End of the valid prefix: the header and every frame before the first
    /// damage. 0 when the header itself is damaged.
    pub valid_end: u64,
    /// Offset of the last commit in the valid prefix.
    pub prefix_last: Option<u64>,
    /// Offset of the last valid commit anywhere in the segment.
    pub last_offset: Option<u64>,
    /// Bytes the segment uses: up to the end of its last frame or damage
    /// (the zeroed free space after it is not counted).
    pub used: u64,
    /// Every damaged stretch, in order.
    pub bad: Vec<BadFrame>,
    /// True when a valid frame follows the first damage: the damage is not
    /// a torn tail.
    pub valid_after_damage: bool,
    /// The highest `durable_before` among the valid frames after the first
    /// damage (a version 1 frame counts as its own offset): the writer had
    /// made every commit before it durable by the time it wrote them, so
    /// damage to a commit before it is not a torn write.
    pub durable_after_damage: Option<u64>,
    /// Frames of the valid prefix about every [`MARK_SPACING`] bytes, in
    /// order: where a read of a later commit can start instead of at the
    /// segment's first frame.
    pub marks: Vec<FrameMark>,
}

/// How far apart, in bytes, the frames a [`FrameMark`] records are.
pub const MARK_SPACING: u64 = 1 << 20;

/// Where a frame starts in its segment, and the commit it carries: a
/// place a read can start decoding from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameMark {
    /// The commit's offset.
    pub offset: u64,
    /// The frame's byte position in its segment.
    pub position: u64,
}

/// Adds a mark for the frame at `position` carrying `offset` to `marks`
/// when it is at least [`MARK_SPACING`] bytes after the last one (or
/// after `start`, the position of the segment's first frame).
pub fn add_mark(marks: &mut Vec<FrameMark>, start: u64, offset: u64, position: u64) {
    let last = marks.last().map_or(start, |m| m.position);
    if position >= last + MARK_SPACING {
        marks.push(FrameMark { offset, position });
    }
}

/// The mark to start a read of commit `from` at: the last one at or
/// before it.
pub fn mark_before(marks: &[FrameMark], from: u64) -> Option<FrameMark> {
    let i = marks.partition_point(|m| m.offset <= from);
    i.checked_sub(1).map(|i| marks[i])
}

impl SegmentScan {
    /// A scan that has found nothing yet, its valid prefix ending at
    /// `valid_end`.
    fn empty(header: Result<SegmentHeader, FrameError>, valid_end: u64) -> Self {
        Self {
            header,
            commits: 0,
            valid_end,
            prefix_last: None,
            last_offset: None,
            used: 0,
            bad: Vec::new(),
            valid_after_damage: false,
            durable_after_damage: None,
            marks: Vec::new(),
        }
    }

    /// The first damage, if any.
    pub fn first_damage(&self) -> Option<&BadFrame> {
        self.bad.first()
    }

    /// The segment's header, when it was written by a format version this
    /// code does not read: the segment is a newer writer's, never a tear,
    /// and never to be cut by this code. (Frames are of their segment's
    /// version or older, so a frame of an unknown version inside a known
    /// segment is damage.)
    pub fn unknown_version(&self) -> Option<&BadFrame> {
        self.bad
            .first()
            .filter(|b| matches!(b.damage, Damage::Header(FrameError::UnsupportedVersion(_))))
    }
}

/// The frame size limit for a segment whose bytes are `buf`: what its
/// header records (a version 2 header), else `configured`.
pub fn frame_limit(buf: &Bytes, configured: u64) -> u64 {
    SegmentHeader::decode(buf).map_or(configured, |h| h.frame_limit(configured))
}

/// Scans every byte of a segment named `name` whose name says it starts at
/// `name_offset`, resynchronising after damage to find later valid frames.
/// Frames are checked against the limit the header records (a version 2
/// header), or `max_frame`.
pub fn scan_segment(name: &str, buf: &Bytes, name_offset: u64, max_frame: u64) -> SegmentScan {
    let header = SegmentHeader::decode(buf);
    let max_frame = header
        .as_ref()
        .map_or(max_frame, |h| h.frame_limit(max_frame));
    let mut scan = SegmentScan::empty(header, 0);
    let bad = |position: usize, offset: Option<u64>, len: usize, damage: Damage| {
        bad_frame(name, position, offset, len, damage)
    };
    let mut expected = Some(name_offset);
    let pos;
    let in_prefix;
    match &scan.header {
        Ok(h) if h.first_offset == name_offset => {
            pos = SEGMENT_HEADER_LEN;
            in_prefix = true;
            scan.valid_end = pos as u64;
        }
        Ok(h) => {
            let damage = Damage::NameMismatch {
                header: h.first_offset,
            };
            scan.bad
                .push(bad(0, Some(name_offset), SEGMENT_HEADER_LEN, damage));
            pos = SEGMENT_HEADER_LEN;
            in_prefix = false;
            expected = None;
        }
        Err(e) => {
            let next = resync(buf, 1, name_offset, max_frame).unwrap_or(buf.len());
            scan.bad
                .push(bad(0, Some(name_offset), next, Damage::Header(e.clone())));
            pos = next;
            in_prefix = false;
            expected = None;
        }
    }
    scan.used = pos.min(buf.len()) as u64;
    scan_frames(
        &mut scan,
        name,
        buf,
        pos,
        expected,
        in_prefix,
        name_offset,
        max_frame,
    );
    scan
}

/// Like [`scan_segment`], but starts at the frame at `buf[pos]`, which must
/// carry `offset`, ignoring the header and everything before it (for
/// `skip-to` recovery).
pub fn scan_from(name: &str, buf: &Bytes, pos: usize, offset: u64, max_frame: u64) -> SegmentScan {
    let max_frame = frame_limit(buf, max_frame);
    let mut scan = SegmentScan::empty(SegmentHeader::decode(buf), pos as u64);
    scan.used = pos as u64;
    scan_frames(
        &mut scan,
        name,
        buf,
        pos,
        Some(offset),
        true,
        offset,
        max_frame,
    );
    scan
}

/// The segment a `skip-to:n` open starts in: the last one (of segments
/// whose first offsets are `firsts`, in order) that begins at or before
/// commit `n`.
pub fn skip_to_segment(
    n: u64,
    mut firsts: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator,
) -> Result<usize, Error> {
    firsts.rposition(|first| first <= n).ok_or_else(|| {
        Error::InvalidOptions(format!(
            "skip-to:{n}: the log has no segment holding commit {n}"
        ))
    })
}

/// The position of commit `n` in segment `name` (its bytes `buf`), where a
/// `skip-to:n` open starts serving.
pub fn skip_to_frame(n: u64, name: &str, buf: &Bytes, max_frame: u64) -> Result<usize, Error> {
    find_frame(buf, n, max_frame).ok_or_else(|| {
        Error::InvalidOptions(format!(
            "skip-to:{n}: no valid commit {n} in segment {name}"
        ))
    })
}

/// The position of the valid frame carrying `offset` in a segment, found
/// even past damage.
pub fn find_frame(buf: &Bytes, offset: u64, max_frame: u64) -> Option<usize> {
    let max_frame = frame_limit(buf, max_frame);
    let mut at = 0;
    while let Some(pos) = resync(buf, at, offset, max_frame) {
        match decode_frame(buf, pos, max_frame) {
            Ok((c, _)) if c.offset == offset => return Some(pos),
            _ => at = pos + 1,
        }
    }
    None
}

#[allow(clippy::too_many_arguments)]
fn scan_frames(
    scan: &mut SegmentScan,
    name: &str,
    buf: &Bytes,
    mut pos: usize,
    mut expected: Option<u64>,
    mut in_prefix: bool,
    floor: u64,
    max_frame: u64,
) {
    let bad = |position: usize, offset: Option<u64>, len: usize, damage: Damage| {
        bad_frame(name, position, offset, len, damage)
    };
    let start = pos as u64;
    while pos < buf.len() {
        match decode_frame(buf, pos, max_frame) {
            Ok((commit, len)) if expected.is_none_or(|e| commit.offset == e) => {
                scan.commits += 1;
                scan.last_offset = Some(commit.offset);
                if in_prefix {
                    add_mark(&mut scan.marks, start, commit.offset, pos as u64);
                    scan.prefix_last = Some(commit.offset);
                    scan.valid_end = (pos + len) as u64;
                } else {
                    scan.valid_after_damage = true;
                    let durable = durable_before(&buf[pos..pos + len]).unwrap_or(commit.offset);
                    scan.durable_after_damage = scan.durable_after_damage.max(Some(durable));
                }
                expected = Some(commit.offset + 1);
                pos += len;
                scan.used = pos as u64;
            }
            Ok((commit, len)) => {
                let want = expected.expect("checked above");
                let damage = Damage::UnexpectedOffset {
                    expected: want,
                    found: commit.offset,
                };
                scan.bad.push(bad(pos, Some(want), len, damage));
                in_prefix = false;
                expected = Some(want.max(commit.offset + 1));
                pos += len;
                scan.used = pos as u64;
            }
            Err(_) if is_free_space(&buf[pos..]) => break,
            Err(e) => {
                let min = expected
                    .or(scan.last_offset.map(|o| o + 1))
                    .unwrap_or(floor);
                let next = resync(buf, pos + 1, min, max_frame).unwrap_or(buf.len());
                scan.bad
                    .push(bad(pos, expected, next - pos, Damage::Frame(e)));
                in_prefix = false;
                expected = None;
                pos = next;
                scan.used = pos as u64;
            }
        }
    }
}

/// True when `rest` (what follows the last frame of a segment) is all zero
/// bytes: space the writer preallocated, or that a crash extended without
/// data. A frame starts with its magic, so zeros are never a frame, and an
/// acknowledged commit is never zeros.
pub fn is_free_space(rest: &[u8]) -> bool {
    rest.iter().all(|&b| b == 0)
}

fn bad_frame(
    segment: &str,
    position: usize,
    offset: Option<u64>,
    len: usize,
    damage: Damage,
) -> BadFrame {
    BadFrame {
        segment: segment.to_owned(),
        position: position as u64,
        offset,
        len: len as u64,
        damage,
    }
}

/// The position of the first valid frame at or after `from` whose offset is
/// at least `min_offset`.
fn resync(buf: &Bytes, from: usize, min_offset: u64, max_frame: u64) -> Option<usize> {
    let mut at = from;
    while at + FRAME_MAGIC.len() <= buf.len() {
        let hit = buf[at..]
            .windows(FRAME_MAGIC.len())
            .position(|w| w == FRAME_MAGIC)?;
        at += hit;
        if let Ok((commit, _)) = decode_frame(buf, at, max_frame)
            && commit.offset >= min_offset
        {
            return Some(at);
        }
        at += 1;
    }
    None
}

/// Decodes a segment's frames in order, verifying each, and stops with
/// [`Error::Corrupt`] at the first bad one.
pub struct SegmentFrames {
    name: String,
    buf: Bytes,
    /// The segment position of `buf[0]`.
    base: usize,
    pos: usize,
    expected: u64,
    max_frame: u64,
    failed: bool,
    /// The writer epoch of the frame last returned.
    epoch: u64,
}

impl SegmentFrames {
    /// Checks the header of segment `name` (whose name says it starts at
    /// `name_offset`) and prepares to decode its frames. `buf` holds the
    /// segment's valid bytes. Frames are checked against the limit the
    /// header records (a version 2 header), or `max_frame`.
    pub fn new(name: &str, buf: Bytes, name_offset: u64, max_frame: u64) -> Result<Self, Error> {
        let corrupt = |damage| {
            Error::Corrupt(Box::new(BadFrame {
                segment: name.to_owned(),
                position: 0,
                offset: Some(name_offset),
                len: SEGMENT_HEADER_LEN as u64,
                damage,
            }))
        };
        let max_frame = match SegmentHeader::decode(&buf) {
            Ok(h) if h.first_offset == name_offset => h.frame_limit(max_frame),
            Ok(h) => {
                return Err(corrupt(Damage::NameMismatch {
                    header: h.first_offset,
                }));
            }
            Err(e) => return Err(corrupt(Damage::Header(e))),
        };
        Ok(Self {
            name: name.to_owned(),
            buf,
            base: 0,
            pos: SEGMENT_HEADER_LEN,
            expected: name_offset,
            max_frame,
            failed: false,
            epoch: 0,
        })
    }

    /// Decodes frames from `buf[pos]` on, the first of which must carry
    /// `offset`, without checking the header (a `skip-to` start). When
    /// `buf` starts with a valid header, its frame limit applies.
    pub fn at(name: &str, buf: Bytes, pos: usize, offset: u64, max_frame: u64) -> Self {
        let max_frame = frame_limit(&buf, max_frame);
        Self {
            name: name.to_owned(),
            buf,
            base: 0,
            pos,
            expected: offset,
            max_frame,
            failed: false,
            epoch: 0,
        }
    }

    /// Decodes frames from `tail`, the bytes of segment `name` from
    /// position `base` on, where a frame carrying `offset` starts (a
    /// [`FrameMark`]); `max_frame` is the segment's frame limit. Errors
    /// name positions in the whole segment.
    pub fn from_mark(name: &str, tail: Bytes, base: usize, offset: u64, max_frame: u64) -> Self {
        Self {
            name: name.to_owned(),
            buf: tail,
            base,
            pos: 0,
            expected: offset,
            max_frame,
            failed: false,
            epoch: 0,
        }
    }

    /// Byte position of the next frame in the segment.
    pub fn position(&self) -> usize {
        self.base + self.pos
    }

    /// The offset the next frame must carry.
    pub fn next_offset(&self) -> u64 {
        self.expected
    }

    /// The writer epoch of the commit last returned (0 when its frame has
    /// none; see [`crate::epochs`]).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The segment's name, for reports.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Iterator for SegmentFrames {
    type Item = Result<Commit, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.buf.len() {
            return None;
        }
        let damage = match decode_frame(&self.buf, self.pos, self.max_frame) {
            Ok((commit, len)) if commit.offset == self.expected => {
                self.epoch = epoch(&self.buf[self.pos..self.pos + len]).unwrap_or(0);
                self.pos += len;
                self.expected += 1;
                return Some(Ok(commit));
            }
            Ok((commit, _)) => Damage::UnexpectedOffset {
                expected: self.expected,
                found: commit.offset,
            },
            Err(_) if is_free_space(&self.buf[self.pos..]) => {
                self.pos = self.buf.len();
                return None;
            }
            Err(e) => Damage::Frame(e),
        };
        self.failed = true;
        Some(Err(Error::Corrupt(Box::new(BadFrame {
            segment: self.name.clone(),
            position: (self.base + self.pos) as u64,
            offset: Some(self.expected),
            len: (self.buf.len() - self.pos) as u64,
            damage,
        }))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommitBatch, Invocation};

    fn segment(first: u64, n: u64) -> (Vec<u8>, Vec<usize>) {
        let mut out = SegmentHeader::new(first, 1 << 20).encode().to_vec();
        let mut starts = Vec::new();
        let mut batch = CommitBatch::new(first);
        for o in first..first + n {
            batch
                .push(&Commit {
                    offset: o,
                    timestamp: o,
                    cause: None,
                    invocation: Invocation {
                        module: "m".into(),
                        reducer: "r".into(),
                        args: Bytes::new(),
                        request_id: None,
                        timing: None,
                        scheduled: None,
                    },
                    mutations: vec![],
                })
                .unwrap();
        }
        for (_, f) in batch.frames() {
            starts.push(out.len());
            out.extend_from_slice(f);
        }
        (out, starts)
    }

    #[test]
    fn clean_segment() {
        let (buf, _) = segment(10, 5);
        let scan = scan_segment("s", &Bytes::from(buf.clone()), 10, 1 << 20);
        assert!(scan.bad.is_empty());
        assert_eq!(scan.commits, 5);
        assert_eq!(scan.prefix_last, Some(14));
        assert_eq!(scan.valid_end, buf.len() as u64);
    }

    #[test]
    fn damage_in_the_middle_is_followed_by_valid_frames() {
        let (mut buf, starts) = segment(0, 5);
        buf[starts[2] + 10] ^= 0x40;
        let scan = scan_segment("s", &Bytes::from(buf), 0, 1 << 20);
        assert_eq!(scan.bad.len(), 1);
        let bad = &scan.bad[0];
        assert_eq!((bad.position, bad.offset), (starts[2] as u64, Some(2)));
        assert_eq!(bad.len, (starts[3] - starts[2]) as u64);
        assert!(scan.valid_after_damage);
        assert_eq!(scan.prefix_last, Some(1));
        assert_eq!(scan.last_offset, Some(4));
    }

    #[test]
    fn torn_tail_has_nothing_after_it() {
        let (buf, starts) = segment(0, 3);
        let cut = starts[2] + 7;
        let scan = scan_segment("s", &Bytes::copy_from_slice(&buf[..cut]), 0, 1 << 20);
        assert_eq!(scan.bad.len(), 1);
        assert!(!scan.valid_after_damage);
        assert_eq!(scan.valid_end, starts[2] as u64);
    }

    #[test]
    fn reader_stops_at_the_first_bad_frame() {
        let (mut buf, starts) = segment(0, 4);
        buf[starts[1] + 20] ^= 1;
        let frames = SegmentFrames::new("s", Bytes::from(buf), 0, 1 << 20).unwrap();
        let items: Vec<_> = frames.collect();
        assert_eq!(items.len(), 2);
        assert!(items[0].is_ok());
        match &items[1] {
            Err(Error::Corrupt(b)) => {
                assert_eq!((b.position, b.offset), (starts[1] as u64, Some(1)))
            }
            other => panic!("{other:?}"),
        }
    }
}
