//! Streaming commits out of segment objects, in order, with a bounded
//! number of objects fetched ahead.
//!
//! A reader tolerates compaction running at the same time: when an object
//! it planned to read is gone, or has become a stub, or does not continue
//! where the previous one ended, it lists the log again and carries on
//! from the next offset it needs. Only when the listing still has a hole
//! does it report corruption (`Damage::Missing`).

use std::collections::VecDeque;
use std::ops::Range;

use bytes::Bytes;
use futures::stream;
use interstice_log::codec::SEGMENT_HEADER_LEN;
use interstice_log::epochs::EpochCheck;
use interstice_log::scan::SegmentFrames;
use interstice_log::{BadFrame, Commit, CommitStream, Error};
use tokio::task::JoinHandle;

use crate::objects::{Objects, Segment};
use crate::plan::{Served, start_at};

/// An object being fetched: its bytes, or `None` when it is gone.
type Fetch = JoinHandle<Result<Option<Bytes>, Error>>;

/// How often one read may list the log again before giving up.
const MAX_REPLANS: u32 = 8;

pub(crate) struct Reader {
    objects: Objects,
    max_frame: u64,
    concurrency: usize,
    /// The next offset to yield.
    expected: u64,
    /// Where the read ends (exclusive).
    end: u64,
    plan: VecDeque<Segment>,
    inflight: VecDeque<(Segment, Fetch)>,
    ready: VecDeque<Commit>,
    /// An error to report once the commits before it are out.
    failed: Option<Error>,
    /// Every commit's writer epoch is checked (`docs/s3.md`).
    epochs: EpochCheck,
    /// Frames served that an object still to be read may overlap.
    served: Served,
    /// Listings made for the hole at `replanned_at`.
    replans: u32,
    replanned_at: Option<u64>,
    done: bool,
}

enum Step {
    /// Commits decoded (maybe none).
    Read,
    /// The plan no longer matches the stored objects.
    Replan(BadFrame),
}

impl Reader {
    /// The commits `range` of the log whose segments are `segments`, each
    /// checked by `epochs`.
    pub fn stream(
        objects: Objects,
        segments: Vec<Segment>,
        range: Range<u64>,
        epochs: EpochCheck,
        max_frame: u64,
        concurrency: usize,
    ) -> CommitStream {
        let Range { start: from, end } = range;
        let start = start_at(&segments, from).unwrap_or(0);
        let reader = Reader {
            objects,
            max_frame,
            concurrency,
            expected: from,
            end,
            plan: segments.into_iter().skip(start).collect(),
            inflight: VecDeque::new(),
            ready: VecDeque::new(),
            failed: None,
            epochs,
            served: Served::default(),
            replans: 0,
            replanned_at: None,
            done: false,
        };
        Box::pin(stream::unfold(reader, |mut r| async move {
            let item = r.next().await?;
            Some((item, r))
        }))
    }

    async fn next(&mut self) -> Option<Result<Commit, Error>> {
        loop {
            if let Some(c) = self.ready.pop_front() {
                return Some(Ok(c));
            }
            if let Some(e) = self.failed.take() {
                self.done = true;
                self.abort();
                return Some(Err(e));
            }
            if self.done || self.expected >= self.end {
                self.abort();
                return None;
            }
            match self.step().await {
                Ok(Step::Read) => {}
                Ok(Step::Replan(why)) => {
                    if let Err(e) = self.replan(why).await {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
                Err(e) => {
                    self.done = true;
                    self.abort();
                    return Some(Err(e));
                }
            }
        }
    }

    async fn step(&mut self) -> Result<Step, Error> {
        while self.inflight.len() < self.concurrency {
            let Some(seg) = self.plan.pop_front() else {
                break;
            };
            let objects = self.objects.clone();
            let name = seg.name.clone();
            let handle = tokio::spawn(async move { objects.get(&name).await });
            self.inflight.push_back((seg, handle));
        }
        let Some((seg, handle)) = self.inflight.pop_front() else {
            return Ok(Step::Replan(self.missing(None)));
        };
        let bytes = handle.await.map_err(|e| Error::Backend {
            message: format!("reading {}: {e}", self.objects.location),
            source: None,
        })??;
        let Some(bytes) = bytes else {
            return Ok(Step::Replan(self.missing(Some(&seg))));
        };
        if seg.start_offset > self.expected {
            return Ok(Step::Replan(self.missing(Some(&seg))));
        }
        let mut frames = if seg.start_pos == SEGMENT_HEADER_LEN {
            SegmentFrames::new(&seg.name, bytes.clone(), seg.first_offset, self.max_frame)?
        } else {
            SegmentFrames::at(
                &seg.name,
                bytes.clone(),
                seg.start_pos,
                seg.start_offset,
                self.max_frame,
            )
        };
        let before = self.expected;
        loop {
            let at = frames.position();
            let c = match frames.next() {
                None => break,
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    self.failed = Some(e);
                    return Ok(Step::Read);
                }
            };
            let frame = bytes.slice(at..frames.position());
            if c.offset < self.expected {
                // Served already (or before this read): an overlapping
                // object must hold a copy.
                if let Err(bad) = self.served.check(&seg.name, at, c.offset, &frame) {
                    self.failed = Some(Error::Corrupt(bad));
                    return Ok(Step::Read);
                }
                continue;
            }
            if c.offset >= self.end {
                break;
            }
            if let Err(damage) = self.epochs.check(c.offset, frames.epoch()) {
                self.failed = Some(Error::Corrupt(Box::new(BadFrame {
                    segment: seg.name.clone(),
                    position: at as u64,
                    offset: Some(c.offset),
                    len: (frames.position() - at) as u64,
                    damage,
                })));
                return Ok(Step::Read);
            }
            self.served.push(c.offset, frame, &seg.name);
            self.expected = c.offset + 1;
            self.ready.push_back(c);
        }
        let next_start = self
            .inflight
            .front()
            .map(|(s, _)| s.start_offset)
            .or_else(|| self.plan.front().map(|s| s.start_offset));
        self.served
            .forget_before(next_start.unwrap_or(self.expected).min(self.expected));
        // An object that was to serve the next commit and held none (a
        // batch object that became a stub under us), or one that ended
        // before the next object begins: the listing changed.
        let more = self.expected < self.end;
        if more && self.expected == before && seg.start_offset >= before {
            return Ok(Step::Replan(self.missing(Some(&seg))));
        }
        if more && next_start.is_some_and(|n| n > self.expected) {
            return Ok(Step::Replan(self.missing(Some(&seg))));
        }
        Ok(Step::Read)
    }

    /// The hole after `seg` (the segment that did not continue), named
    /// by `seg` for [`Reader::replan`]; [`hole`] names it for people.
    fn missing(&self, seg: Option<&Segment>) -> BadFrame {
        let to = self
            .inflight
            .front()
            .map(|(s, _)| s.start_offset)
            .or_else(|| self.plan.front().map(|s| s.start_offset))
            .unwrap_or(self.end);
        let segment = seg.map_or_else(|| "(end of listing)".to_owned(), |s| s.name.clone());
        BadFrame::missing(segment, self.expected, to)
    }

    /// Lists the log again and plans the rest of the read from
    /// `expected`; a hole that is still there is corruption.
    async fn replan(&mut self, why: BadFrame) -> Result<(), Error> {
        self.abort();
        // The budget is per hole: a long read beside a compaction may meet
        // many stubs, each once.
        if self.replanned_at != Some(self.expected) {
            self.replanned_at = Some(self.expected);
            self.replans = 0;
        }
        self.replans += 1;
        if self.replans > MAX_REPLANS {
            let listed = self.objects.list_segments().await?;
            let next = listed.partition_point(|s| s.first_offset <= self.expected);
            return Err(hole(&listed, next, self.expected, self.end));
        }
        let listed = self.objects.list_segments().await?;
        let Some(start) = start_at(&listed, self.expected) else {
            return Err(hole(&listed, 0, self.expected, self.end));
        };
        let reaches = listed[start]
            .last_offset
            .is_none_or(|last| last >= self.expected);
        // Still the segment that failed to continue: the hole is real.
        let same_hole = self.replans > 1 && why.segment == listed[start].name;
        if !reaches || same_hole {
            return Err(hole(&listed, start + 1, self.expected, self.end));
        }
        self.plan = listed.into_iter().skip(start).collect();
        Ok(())
    }

    fn abort(&mut self) {
        for (_, h) in self.inflight.drain(..) {
            h.abort();
        }
    }
}

/// The hole at `expected`, as people read it: named by the first segment
/// after it that holds a commit (`listed[next..]`; stubs are skipped), as
/// the disk backend and `verify` name it.
fn hole(listed: &[Segment], next: usize, expected: u64, end: u64) -> Error {
    let after = listed[next.min(listed.len())..]
        .iter()
        .find(|s| s.size as usize > SEGMENT_HEADER_LEN || s.last_offset.is_some());
    let bad = match after {
        Some(s) => BadFrame::missing(&s.name, expected, s.start_offset),
        None => BadFrame::missing("(end of log)", expected, end.max(expected + 1)),
    };
    Error::Corrupt(Box::new(bad))
}
