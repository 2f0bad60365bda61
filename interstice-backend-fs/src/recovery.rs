//! Opening a log directory: find the segments, check the tail, and cut a
//! torn tail (into quarantine) according to the recovery mode.
//!
//! Only the tail is scanned here: crash damage can only be in the last
//! segment, because a new segment is created only after the previous one
//! is synced. Earlier segments are verified as they are read (and by
//! `verify`), so mid-log damage still stops a replay, with its position.
//!
//! A torn write is damage in bytes that were never synced. Each frame says
//! which commits were durable when it was written (`durable_before`), so
//! damage followed by valid frames is a torn write only if no later frame
//! vouches for the damaged commit having been durable: at `sync` that
//! confines a tear to the last write, which was never acknowledged.
//! Anything else is corruption, refused with its location.

use std::path::Path;

use bytes::Bytes;
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::scan::{
    FrameMark, SegmentFrames, SegmentScan, scan_from, scan_segment, skip_to_frame, skip_to_segment,
};
use interstice_log::{BadFrame, Damage, Error, LogOptions, RecoveryMode, RecoveryReport};

use crate::layout::{self, read_prefix};
use crate::vfs::Vfs;

/// A segment the store serves reads from.
#[derive(Clone, Debug)]
pub(crate) struct SegmentMeta {
    /// Offset in the segment's name (its header's first offset).
    pub first_offset: u64,
    /// File name.
    pub name: String,
    /// Position of the first frame served (after the header, or the
    /// `skip-to` frame).
    pub start_pos: u64,
    /// Offset of the frame at `start_pos`.
    pub start_offset: u64,
    /// Valid (acknowledged) bytes; reads never look past them.
    pub len: u64,
    /// The segment's header, when recovery read a sound one.
    pub header: Option<SegmentHeader>,
    /// Frames about every megabyte (of those recovery scanned or this
    /// store appended): where a read from a later commit starts.
    pub marks: Vec<FrameMark>,
}

impl SegmentMeta {
    /// A segment just created with `header`.
    pub fn new(first_offset: u64, header: SegmentHeader) -> Self {
        Self {
            first_offset,
            name: layout::segment_name(first_offset),
            start_pos: SEGMENT_HEADER_LEN as u64,
            start_offset: first_offset,
            len: SEGMENT_HEADER_LEN as u64,
            header: Some(header),
            marks: Vec::new(),
        }
    }

    /// Whether a writer with `max_frame_size` may append to this segment.
    pub fn accepts(&self, max_frame_size: u64) -> bool {
        self.header.is_some_and(|h| h.accepts(max_frame_size))
    }

    /// The mark a read of commit `from` starts at, when one is past the
    /// first served frame.
    pub fn mark_before(&self, from: u64) -> Option<FrameMark> {
        interstice_log::scan::mark_before(&self.marks, from)
            .filter(|m| m.position > self.start_pos && m.offset > self.start_offset)
    }

    /// The largest frame this segment may hold: what its header records,
    /// else `configured`.
    pub fn frame_limit(&self, configured: u64) -> u64 {
        self.header
            .map_or(configured, |h| h.frame_limit(configured))
    }

    /// Decodes the served frames of this segment from its valid bytes:
    /// from the header on, or from the `skip-to` frame.
    pub fn frames(&self, buf: Bytes, max_frame: u64) -> Result<SegmentFrames, Error> {
        if self.start_pos == SEGMENT_HEADER_LEN as u64 {
            SegmentFrames::new(&self.name, buf, self.first_offset, max_frame)
        } else {
            Ok(SegmentFrames::at(
                &self.name,
                buf,
                self.start_pos as usize,
                self.start_offset,
                max_frame,
            ))
        }
    }
}

/// The state of a log after recovery.
pub(crate) struct Recovered {
    pub segments: Vec<SegmentMeta>,
    pub first_offset: u64,
    pub next_offset: u64,
    pub report: RecoveryReport,
}

struct Scanned {
    index: usize,
    scan: SegmentScan,
    /// The segment's bytes as read, so cutting a tail needs no second read.
    buf: Bytes,
}

impl Scanned {
    fn file_len(&self) -> u64 {
        self.buf.len() as u64
    }
}

/// What the first damage found means for the open.
enum Verdict {
    /// No damage.
    Clean,
    /// Corruption, opened to inspect or repair: serve every byte as
    /// stored; reads stop at the damage.
    AsStored,
    /// An invalid tail that starts in `scanned[k]`: cut it.
    CutFrom(usize),
}

/// Opens the log in `dir`: scans from the last sound segment (or the
/// `skip-to` one), judges the first damage, cuts an invalid tail.
pub(crate) fn recover(vfs: &dyn Vfs, dir: &Path, opts: &LogOptions) -> Result<Recovered, Error> {
    let listing = layout::list(vfs, dir)?;
    let mut report = RecoveryReport::new(opts.recovery);
    if !opts.read_only {
        for tmp in &listing.temporaries {
            // An interrupted segment creation: it never held a commit.
            report
                .quarantined
                .push(layout::quarantine_file(vfs, dir, tmp)?);
        }
    }
    let base = layout::read_start(vfs, dir)?;
    let segments = drop_before(vfs, dir, opts, base, listing.segments)?;
    let mut metas = stat_segments(vfs, dir, &segments)?;
    let Some((start, skip)) = scan_start(vfs, dir, opts, base, &metas)? else {
        return Ok(Recovered::serve(metas, Vec::new(), 0, base, base, report));
    };
    let scanned = scan_segments(vfs, dir, opts, &mut metas, start, skip)?;
    check_continuity(&scanned, &metas)?;
    if !opts.read_only
        && let Some(bad) = scanned.iter().find_map(|s| s.scan.unknown_version())
    {
        return Err(Error::UnsupportedVersion(Box::new(bad.clone())));
    }
    let verdict = judge(&scanned, dir, opts, &mut report)?;
    if let Verdict::CutFrom(k) = verdict {
        cut_tail(vfs, dir, opts, &scanned[k..], &metas, &mut report)?;
    }
    let (keep, next_offset) = served_lengths(&mut metas, &scanned, &verdict);
    // With skip-to, nothing before the skip segment is served.
    let first_served = if skip.is_some() { start } else { 0 };
    Ok(Recovered::serve(
        metas,
        keep,
        first_served,
        skip.unwrap_or(base),
        next_offset,
        report,
    ))
}

/// The segments from the log's first offset `base` on. Those wholly before
/// it are leftovers of a retention pass cut short (the start marker is
/// written first): a writer removes them now, a reader ignores them.
fn drop_before(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LogOptions,
    base: u64,
    segments: Vec<(u64, String)>,
) -> Result<Vec<(u64, String)>, Error> {
    let (before, kept): (Vec<_>, Vec<_>) = segments.into_iter().partition(|(o, _)| *o < base);
    if !opts.read_only && !before.is_empty() {
        for (_, name) in &before {
            layout::remove_segment(vfs, dir, name)?;
        }
        layout::sync_dir(vfs, dir)?;
    }
    Ok(kept)
}

impl Recovered {
    /// The log serving `metas[first_served..]` (those `keep` marks; all
    /// when `keep` is empty) from `first_offset` up to `next_offset`.
    fn serve(
        metas: Vec<SegmentMeta>,
        keep: Vec<bool>,
        first_served: usize,
        first_offset: u64,
        next_offset: u64,
        mut report: RecoveryReport,
    ) -> Self {
        let segments = metas
            .into_iter()
            .enumerate()
            .skip(first_served)
            .filter_map(|(i, m)| keep.get(i).copied().unwrap_or(true).then_some(m))
            .collect();
        report.serving(first_offset, next_offset);
        Self {
            segments,
            first_offset,
            next_offset,
            report,
        }
    }
}

/// Every segment file, with its length on disk.
fn stat_segments(
    vfs: &dyn Vfs,
    dir: &Path,
    segs: &[(u64, String)],
) -> Result<Vec<SegmentMeta>, Error> {
    segs.iter()
        .map(|(first_offset, name)| {
            let path = dir.join(name);
            let len = vfs
                .len(&path)
                .map_err(|e| Error::io("stat segment", path.display(), e))?;
            Ok(SegmentMeta {
                first_offset: *first_offset,
                name: name.clone(),
                start_pos: SEGMENT_HEADER_LEN as u64,
                start_offset: *first_offset,
                len,
                header: None,
                marks: Vec::new(),
            })
        })
        .collect()
}

/// Where to start scanning (a segment index), and the `skip-to` offset if
/// any; `None` for an empty log. The log starts at `base`.
fn scan_start(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LogOptions,
    base: u64,
    metas: &[SegmentMeta],
) -> Result<Option<(usize, Option<u64>)>, Error> {
    if let RecoveryMode::SkipTo(n) = opts.recovery {
        if n < base {
            let next = metas.first().map_or(base, |_| u64::MAX);
            return Err(Error::OffsetOutOfRange {
                requested: n,
                first: base,
                next,
            });
        }
        let i = skip_to_segment(n, metas.iter().map(|m| m.first_offset))?;
        return Ok(Some((i, Some(n))));
    }
    let Some(first) = metas.first() else {
        return Ok(None);
    };
    if first.first_offset != base {
        let missing = BadFrame::missing(&first.name, base, first.first_offset);
        return Err(Error::Corrupt(Box::new(missing)));
    }
    // The last segment with a sound header; later ones are tail.
    let sound = metas
        .iter()
        .rposition(|m| header_ok(vfs, dir, m))
        .unwrap_or(0);
    Ok(Some((sound, None)))
}

/// Reads and scans `metas[start..]`, the first from the `skip` frame if
/// any; records each segment's header (and the skip position).
fn scan_segments(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LogOptions,
    metas: &mut [SegmentMeta],
    start: usize,
    skip: Option<u64>,
) -> Result<Vec<Scanned>, Error> {
    let max = opts.max_frame_size;
    let mut scanned = Vec::new();
    for (index, m) in metas.iter_mut().enumerate().skip(start) {
        let buf = Bytes::from(read_prefix(vfs, &dir.join(&m.name), None)?);
        let scan = match skip {
            Some(n) if index == start => {
                let pos = skip_to_frame(n, &m.name, &buf, max)?;
                m.start_pos = pos as u64;
                m.start_offset = n;
                scan_from(&m.name, &buf, pos, n, max)
            }
            _ => scan_segment(&m.name, &buf, m.first_offset, max),
        };
        m.header = scan.header.clone().ok();
        m.marks = scan.marks.clone();
        scanned.push(Scanned { index, scan, buf });
    }
    Ok(scanned)
}

/// What the first damage in `scanned` is: a tail to cut, corruption
/// (refused, or served as stored to inspect or repair), or nothing.
fn judge(
    scanned: &[Scanned],
    dir: &Path,
    opts: &LogOptions,
    report: &mut RecoveryReport,
) -> Result<Verdict, Error> {
    let Some(k) = scanned.iter().position(|s| !s.scan.bad.is_empty()) else {
        return Ok(Verdict::Clean);
    };
    let strict = opts.recovery == RecoveryMode::Strict;
    let first = scanned[k].scan.bad[0].clone();
    let valid_after =
        scanned[k].scan.valid_after_damage || scanned[k + 1..].iter().any(|s| s.scan.commits > 0);
    if valid_after && !is_torn_write(&scanned[k..], &first) {
        if !(opts.read_only || opts.repair) || strict {
            return Err(Error::Corrupt(Box::new(first)));
        }
        tracing::warn!(log = %dir.display(), "corrupt log (opened to inspect or repair): {first}");
        report.corruption = Some(first);
        return Ok(Verdict::AsStored);
    }
    let tail_len: u64 = scanned[k].file_len() - scanned[k].scan.valid_end
        + scanned[k + 1..].iter().map(|s| s.file_len()).sum::<u64>();
    let tail = BadFrame {
        len: tail_len,
        ..first
    };
    if strict {
        return Err(Error::InvalidTail(Box::new(tail)));
    }
    report.invalid_tail = Some(tail);
    Ok(Verdict::CutFrom(k))
}

/// Sets the length each scanned segment serves; which segments are served,
/// and the next offset.
fn served_lengths(
    metas: &mut [SegmentMeta],
    scanned: &[Scanned],
    verdict: &Verdict,
) -> (Vec<bool>, u64) {
    let mut keep = vec![true; metas.len()];
    if let Verdict::AsStored = verdict {
        for s in scanned {
            metas[s.index].len = s.file_len();
        }
        let last = scanned
            .last()
            .expect("damage was found in a scanned segment");
        let next = last
            .scan
            .last_offset
            .map_or(metas[last.index].start_offset, |o| o + 1);
        return (keep, next);
    }
    // Served lengths end at the cut, whether or not the bytes moved.
    for (j, s) in scanned.iter().enumerate() {
        let cut_away = matches!(verdict, Verdict::CutFrom(k) if j > *k) || s.scan.valid_end == 0;
        keep[s.index] = !cut_away;
        metas[s.index].len = s.scan.valid_end;
    }
    let next = scanned.iter().rev().find(|s| keep[s.index]).map_or(0, |s| {
        s.scan
            .prefix_last
            .map_or(metas[s.index].start_offset, |o| o + 1)
    });
    (keep, next)
}

/// Moves the invalid tail that starts in `scanned[0]` into quarantine: the
/// later segments whole (last first, so a crash part-way leaves a prefix),
/// then the damaged part of the first, which is cut and synced. A read-only
/// open only warns.
fn cut_tail(
    vfs: &dyn Vfs,
    dir: &Path,
    opts: &LogOptions,
    scanned: &[Scanned],
    metas: &[SegmentMeta],
    report: &mut RecoveryReport,
) -> Result<(), Error> {
    let tail = report.invalid_tail.clone().expect("set before cutting");
    if opts.read_only {
        tracing::warn!(log = %dir.display(), "invalid tail of the log ignored (read-only, nothing cut): {tail}");
        return Ok(());
    }
    for s in scanned[1..].iter().rev() {
        let q = layout::quarantine_file(vfs, dir, &metas[s.index].name)?;
        report.quarantined.push(q);
    }
    let s = &scanned[0];
    let name = &metas[s.index].name;
    if s.scan.valid_end == 0 {
        report
            .quarantined
            .push(layout::quarantine_file(vfs, dir, name)?);
    } else if s.scan.valid_end < s.file_len() {
        let path = dir.join(name);
        let q = layout::quarantine_bytes(
            vfs,
            dir,
            name,
            s.scan.valid_end,
            &s.buf[s.scan.valid_end as usize..],
        )?;
        report.quarantined.push(q);
        let file = layout::open_segment_rw(vfs, &path)?;
        file.set_len(s.scan.valid_end)
            .and_then(|()| file.sync_all())
            .map_err(|e| Error::io("cut torn tail of", path.display(), e))?;
    }
    layout::sync_dir(vfs, dir)?;
    for q in &report.quarantined {
        tracing::warn!(log = %dir.display(), "cut invalid tail of the log: {tail}; {q}");
    }
    Ok(())
}

/// Whether damage `bad`, the first in `scanned[0]`, followed by valid
/// frames, is a write that a power loss tore: bytes never synced. It is
/// when the valid frames are all in the same segment and none of them says
/// the damaged commit was durable when it was written. A later segment is
/// created only after this one was synced, and a segment's header is
/// synced before its first frame is written, so damage before either is
/// never a tear.
fn is_torn_write(scanned: &[Scanned], bad: &BadFrame) -> bool {
    if matches!(bad.damage, Damage::Header(_) | Damage::NameMismatch { .. })
        || scanned[1..].iter().any(|s| s.scan.commits > 0)
    {
        return false;
    }
    match (bad.offset, scanned[0].scan.durable_after_damage) {
        (Some(damaged), Some(durable)) => durable <= damaged,
        _ => false,
    }
}

fn header_ok(vfs: &dyn Vfs, dir: &Path, m: &SegmentMeta) -> bool {
    read_prefix(vfs, &dir.join(&m.name), Some(SEGMENT_HEADER_LEN as u64))
        .ok()
        .and_then(|b| SegmentHeader::decode(&Bytes::from(b)).ok())
        .is_some_and(|h| h.first_offset == m.first_offset)
}

/// Consecutive scanned segments must continue each other's offsets.
fn check_continuity(scanned: &[Scanned], metas: &[SegmentMeta]) -> Result<(), Error> {
    for pair in scanned.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if !a.scan.bad.is_empty() || b.scan.header.is_err() {
            continue;
        }
        let expected = a
            .scan
            .prefix_last
            .map_or(metas[a.index].start_offset, |o| o + 1);
        let found = metas[b.index].first_offset;
        if found != expected && b.scan.commits > 0 {
            let missing = BadFrame::missing(&metas[b.index].name, expected, found);
            return Err(Error::Corrupt(Box::new(missing)));
        }
    }
    Ok(())
}
