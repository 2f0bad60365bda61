//! Opening an S3 log: find its segments, and deal with a damaged tail the
//! way the disk backend does (`docs/operations.md`).
//!
//! Objects are written whole, so a crash cannot tear one; damage comes
//! from elsewhere (a bad copy, a bug, a person). Opening reads only the last
//! segment, as the disk backend scans only its last file: damage earlier
//! in the log is found by the first read and by `verify`.

use bytes::Bytes;
use interstice_log::codec::SEGMENT_HEADER_LEN;
use interstice_log::epochs::{EpochCheck, EpochStarts, check_segment};
use interstice_log::scan::{
    SegmentScan, frame_limit, scan_from, scan_segment, skip_to_frame, skip_to_segment,
};
use interstice_log::{BadFrame, Damage, Error, LogOptions, RecoveryMode, RecoveryReport};

use crate::holes::set_aside;
use crate::objects::{Objects, Segment};
use crate::plan::plan;

/// A recovered log, ready to serve.
pub(crate) struct Recovered {
    /// The segments served, in order.
    pub segments: Vec<Segment>,
    /// First offset served.
    pub first_offset: u64,
    /// Next offset to append.
    pub next_offset: u64,
    /// The writer epoch of the last commit (0 when none carries one).
    pub last_epoch: u64,
    /// Objects set aside, not deleted: never acknowledged, left by a
    /// writer that may still be running (`holes.rs`). The writer deletes
    /// them once its own first object is stored.
    pub leftovers: Vec<Segment>,
    pub report: RecoveryReport,
}

/// Opens the S3 log: finds where it starts (`skip-to` or offset 0) and
/// recovers its tail.
/// `segments` are every segment object listed (stubs included),
/// `has_start` says whether the listing found a start marker, and
/// `window` is how many appends the last writer kept in flight (objects
/// behind a hole among that many at the end are its crash's leftovers),
/// and `create_only` says whether the server enforces create-only puts
/// (then an object of a replaced writer at the end is a leftover, not a
/// commit it overwrote).
pub(crate) async fn recover(
    obj: &Objects,
    opts: &LogOptions,
    starts: &EpochStarts,
    window: u64,
    create_only: bool,
    segments: Vec<Segment>,
    has_start: bool,
) -> Result<Recovered, Error> {
    let base = if has_start {
        obj.read_start().await?
    } else {
        0
    };
    let (leftovers, listed): (Vec<Segment>, Vec<Segment>) =
        segments.into_iter().partition(|s| s.first_offset < base);
    if !opts.read_only {
        for s in &leftovers {
            obj.delete(&s.name).await?;
        }
    }
    let mut segs = plan(listed);
    let (first_index, skip) = start(obj, opts, base, &mut segs).await?;
    let first_offset = skip.unwrap_or(base);
    let mut report = RecoveryReport::new(opts.recovery);
    let leftovers = set_aside(
        obj,
        &mut segs,
        first_index,
        window,
        opts,
        &mut report.quarantined,
    )
    .await?;
    let mut tail = Tail {
        obj,
        opts,
        report,
        cut_once: false,
        starts,
        create_only,
        leftovers,
        last_epoch: 0,
    };
    let next_offset = tail.recover(&mut segs, first_index, skip, base).await?;
    let (last_epoch, leftovers) = (tail.last_epoch, tail.leftovers);
    let mut report = tail.report;
    report.serving(first_offset, next_offset);
    Ok(Recovered {
        segments: segs.split_off(first_index.min(segs.len())),
        first_offset,
        next_offset,
        last_epoch,
        leftovers,
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
    /// Where each writer epoch began.
    starts: &'a EpochStarts,
    /// Whether the server enforces create-only puts.
    create_only: bool,
    /// Objects set aside as a replaced writer's leftovers.
    leftovers: Vec<Segment>,
    /// The epoch of the last valid commit scanned.
    last_epoch: u64,
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
            if self.check_epochs(&last, &buf, &scan, skipping).await? {
                segs.pop();
                continue;
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

    /// Checks the writer epochs of the valid commits of segment `last`: a
    /// late write from a replaced writer is corruption, never a torn tail
    /// to cut (it may have replaced an acknowledged commit). Except where
    /// it cannot have: on a server that enforces create-only puts, a whole
    /// object of an older epoch at the end, after a newer epoch's start,
    /// was never acknowledged (its writer's `PUT` of that start failed,
    /// and acknowledgements go in offset order): it is moved to quarantine
    /// and `Ok(true)` returned (a read-only open, which cannot tell,
    /// leaves it out: it serves less, never more).
    async fn check_epochs(
        &mut self,
        last: &Segment,
        buf: &Bytes,
        scan: &SegmentScan,
        skipping: bool,
    ) -> Result<bool, Error> {
        let (pos, offset) = if skipping {
            (last.start_pos, last.start_offset)
        } else {
            (SEGMENT_HEADER_LEN, last.first_offset)
        };
        let end = (scan.valid_end as usize).max(pos);
        let mut check = EpochCheck::new(self.starts.clone());
        let max = frame_limit(buf, self.opts.max_frame_size);
        let stale = check_segment(&mut check, &last.name, buf, pos, offset, end, max);
        self.last_epoch = check.last_epoch().unwrap_or(0);
        let Some(bad) = stale else {
            return Ok(false);
        };
        let opts = self.opts;
        // At the newer epoch's very start it is an overwrite: that writer
        // stored its own first object there.
        let past_start =
            matches!(bad.damage, Damage::StaleEpoch { since, .. } if last.first_offset > since);
        let whole = bad.position == pos as u64 && !skipping && past_start;
        if whole && (self.create_only || opts.read_only) && opts.recovery != RecoveryMode::Strict {
            tracing::warn!(
                log = %self.obj.location,
                "object {} holds a replaced writer's unacknowledged commits ({}); {}",
                last.name,
                bad.damage,
                if opts.read_only { "left out (read-only)" } else { "moved to quarantine" }
            );
            // Its writer is fenced already (the newer one stored its own
            // start): deleting it takes nothing from a live writer, and
            // frees the key this writer appends to next.
            if !opts.read_only {
                let q = self.obj.quarantine(&last.name, 0, buf.clone()).await?;
                self.report.quarantined.push(q);
                self.obj.delete(&last.name).await?;
            }
            return Ok(true);
        }
        if !(opts.read_only || opts.repair) || opts.recovery == RecoveryMode::Strict {
            return Err(Error::Corrupt(Box::new(bad)));
        }
        tracing::warn!(log = %self.obj.location, "corrupt log (opened to inspect or repair): {bad}");
        self.report.corruption.get_or_insert(bad);
        Ok(false)
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
