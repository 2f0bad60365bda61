//! Opening an S3 log: find its segments, and deal with a damaged tail the
//! way the disk backend does (`docs/operations.md`).
//!
//! Objects are written whole, so a crash cannot tear one; damage comes
//! from elsewhere (a bad copy, a bug, a person). Opening reads only the last
//! segment, as the disk backend scans only its last file: damage earlier
//! in the log is found by the first read and by `verify`.

use bytes::Bytes;
use interstice_log::scan::{SegmentScan, scan_from, scan_segment, skip_to_frame, skip_to_segment};
use interstice_log::{BadFrame, Error, LogOptions, RecoveryMode, RecoveryReport};

use crate::objects::{Objects, Segment};

/// A recovered log, ready to serve.
pub(crate) struct Recovered {
    /// The segments served, in order.
    pub segments: Vec<Segment>,
    /// First offset served.
    pub first_offset: u64,
    /// Next offset to append.
    pub next_offset: u64,
    pub report: RecoveryReport,
}

/// Opens the S3 log: finds where it starts (`skip-to` or offset 0) and
/// recovers its tail.
pub(crate) async fn recover(obj: &Objects, opts: &LogOptions) -> Result<Recovered, Error> {
    let base = obj.read_start().await?;
    if !opts.read_only {
        remove_leftovers(obj, base).await?;
    }
    let mut segs = obj.list_segments().await?;
    let (first_index, skip) = start(obj, opts, base, &mut segs).await?;
    let first_offset = skip.unwrap_or(base);
    let mut tail = Tail {
        obj,
        opts,
        report: RecoveryReport::new(opts.recovery),
        cut_once: false,
    };
    let next_offset = tail.recover(&mut segs, first_index, skip, base).await?;
    let mut report = tail.report;
    report.serving(first_offset, next_offset);
    Ok(Recovered {
        segments: segs.split_off(first_index.min(segs.len())),
        first_offset,
        next_offset,
        report,
    })
}

/// The index of the first segment served, and the `skip-to` offset if
/// any (its segment then starts serving at that commit).
async fn start(
    obj: &Objects,
    opts: &LogOptions,
    base: u64,
    segs: &mut [Segment],
) -> Result<(usize, Option<u64>), Error> {
    if let RecoveryMode::SkipTo(n) = opts.recovery {
        if n < base {
            return Err(Error::OffsetOutOfRange {
                requested: n,
                first: base,
                next: segs.last().map_or(base, |_| u64::MAX),
            });
        }
        let i = skip_to_segment(n, segs.iter().map(|s| s.first_offset))?;
        let buf = obj.fetch(&segs[i].name).await?;
        let pos = skip_to_frame(n, &segs[i].name, &buf, opts.max_frame_size)?;
        segs[i].start_pos = pos;
        segs[i].start_offset = n;
        return Ok((i, Some(n)));
    }
    if let Some(s) = segs.first().filter(|s| s.first_offset != base) {
        let missing = BadFrame::missing(&s.name, base, s.first_offset);
        return Err(Error::Corrupt(Box::new(missing)));
    }
    Ok((0, None))
}

/// Deletes the objects before the log's first offset `base`: what a
/// retention pass cut short left (it writes the start marker first).
pub(crate) async fn remove_leftovers(obj: &Objects, base: u64) -> Result<Vec<Segment>, Error> {
    let leftovers: Vec<Segment> = obj
        .list_all()
        .await?
        .into_iter()
        .filter(|s| s.first_offset < base)
        .collect();
    for s in &leftovers {
        obj.delete(&s.name).await?;
    }
    Ok(leftovers)
}

/// Recovering the tail: the last segment, or the one before it once a
/// segment that holds no valid commit has been set aside.
struct Tail<'a> {
    obj: &'a Objects,
    opts: &'a LogOptions,
    report: RecoveryReport,
    /// Whether a damaged tail was cut already: damage in the segment
    /// before it is then corruption, not a tail.
    cut_once: bool,
}

impl Tail<'_> {
    /// Scans the last segment until one ends cleanly; returns the next
    /// offset (`skip`, or the log's first offset `base`, when no segment
    /// is left).
    async fn recover(
        &mut self,
        segs: &mut Vec<Segment>,
        first_index: usize,
        skip: Option<u64>,
        base: u64,
    ) -> Result<u64, Error> {
        let (opts, max) = (self.opts, self.opts.max_frame_size);
        while segs.len() > first_index {
            let last = segs.last().expect("non-empty").clone();
            let skipping = skip.is_some() && segs.len() - 1 == first_index;
            let buf: Bytes = self.obj.fetch(&last.name).await?;
            let scan = if skipping {
                scan_from(&last.name, &buf, last.start_pos, last.start_offset, max)
            } else {
                scan_segment(&last.name, &buf, last.first_offset, max)
            };
            if !opts.read_only
                && let Some(bad) = scan.unknown_version()
            {
                return Err(Error::UnsupportedVersion(Box::new(bad.clone())));
            }
            let next = match scan.first_damage().cloned() {
                Some(first) => self.damaged(&last, buf, &scan, first).await?,
                // A header and nothing else (what a cut left): holds no
                // commit, and would block the append of its offset.
                None if scan.commits == 0 && !opts.read_only && !skipping => None,
                None => Some(scan.prefix_last.map_or(last.start_offset, |o| o + 1)),
            };
            match next {
                Some(next) => return Ok(next),
                None => {
                    self.obj.delete(&last.name).await?;
                    segs.pop();
                }
            }
        }
        Ok(skip.unwrap_or(base))
    }

    /// The last segment is damaged at `first`: refuse it, serve it as
    /// stored, or cut its tail. `Some(next offset)` when the log ends in
    /// it; `None` when nothing valid is left in it (the caller deletes it
    /// and the segment before becomes the tail).
    async fn damaged(
        &mut self,
        last: &Segment,
        buf: Bytes,
        scan: &SegmentScan,
        first: BadFrame,
    ) -> Result<Option<u64>, Error> {
        let (obj, opts) = (self.obj, self.opts);
        let strict = opts.recovery == RecoveryMode::Strict;
        if scan.valid_after_damage || self.cut_once {
            if !(opts.read_only || opts.repair) || strict {
                return Err(Error::Corrupt(Box::new(first)));
            }
            tracing::warn!(log = %obj.location, "corrupt log (opened to inspect or repair): {first}");
            self.report.corruption = Some(first);
            return Ok(Some(scan.last_offset.map_or(last.start_offset, |o| o + 1)));
        }
        let valid_end = scan.valid_end as usize;
        let tail = BadFrame {
            len: (buf.len() - valid_end) as u64,
            ..first
        };
        if strict {
            return Err(Error::InvalidTail(Box::new(tail)));
        }
        self.report.invalid_tail = Some(tail.clone());
        let next = scan.prefix_last.map_or(last.start_offset, |o| o + 1);
        if opts.read_only {
            tracing::warn!(log = %obj.location, "invalid tail of the log ignored (read-only, nothing cut): {tail}");
            return Ok(Some(next));
        }
        let q = obj
            .quarantine(&last.name, valid_end as u64, buf.slice(valid_end..))
            .await?;
        tracing::warn!(log = %obj.location, "cut invalid tail of the log: {tail}; {q}");
        self.report.quarantined.push(q);
        self.cut_once = true;
        if scan.prefix_last.is_some() {
            obj.overwrite(&last.name, buf.slice(..valid_end)).await?;
            return Ok(Some(next));
        }
        Ok(None)
    }
}
