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
use interstice_log::scan::{SegmentFrames, SegmentScan, find_frame, scan_from, scan_segment};
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
        }
    }

    /// Whether a writer with `max_frame_size` may append to this segment.
    pub fn accepts(&self, max_frame_size: u64) -> bool {
        self.header.is_some_and(|h| h.accepts(max_frame_size))
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
    let segs = listing.segments;
    let max = opts.max_frame_size;
    let mut metas: Vec<SegmentMeta> = Vec::with_capacity(segs.len());
    for (first_offset, name) in &segs {
        let len = vfs
            .len(&dir.join(name))
            .map_err(|e| Error::io("stat segment", dir.join(name).display(), e))?;
        metas.push(SegmentMeta {
            first_offset: *first_offset,
            name: name.clone(),
            start_pos: SEGMENT_HEADER_LEN as u64,
            start_offset: *first_offset,
            len,
            header: None,
        });
    }

    // Where to start scanning, and from which frame.
    let (start, skip) = match opts.recovery {
        RecoveryMode::SkipTo(n) => {
            let Some(i) = metas.iter().rposition(|m| m.first_offset <= n) else {
                return Err(Error::InvalidOptions(format!(
                    "skip-to:{n}: the log has no segment holding commit {n}"
                )));
            };
            (i, Some(n))
        }
        _ if metas.is_empty() => {
            return Ok(Recovered {
                segments: metas,
                first_offset: 0,
                next_offset: 0,
                report,
            });
        }
        _ => {
            if metas[0].first_offset != 0 {
                return Err(Error::Corrupt(Box::new(BadFrame {
                    segment: metas[0].name.clone(),
                    position: 0,
                    offset: Some(0),
                    len: 0,
                    damage: Damage::Missing {
                        from: 0,
                        to: metas[0].first_offset,
                    },
                })));
            }
            // The last segment with a sound header; later ones are tail.
            let sound = metas
                .iter()
                .rposition(|m| header_ok(vfs, dir, m))
                .unwrap_or(0);
            (sound, None)
        }
    };

    let mut scanned = Vec::new();
    #[allow(clippy::needless_range_loop)] // `metas` is updated inside
    for index in start..metas.len() {
        let m = metas[index].clone();
        let buf = Bytes::from(read_prefix(vfs, &dir.join(&m.name), None)?);
        let scan = match skip {
            Some(n) if index == start => {
                let pos = find_frame(&buf, n, max).ok_or_else(|| {
                    Error::InvalidOptions(format!(
                        "skip-to:{n}: no valid commit {n} in segment {}",
                        m.name
                    ))
                })?;
                metas[index].start_pos = pos as u64;
                metas[index].start_offset = n;
                scan_from(&m.name, &buf, pos, n, max)
            }
            _ => scan_segment(&m.name, &buf, m.first_offset, max),
        };
        metas[index].header = scan.header.clone().ok();
        scanned.push(Scanned { index, scan, buf });
    }
    check_continuity(&scanned, &metas)?;
    if !opts.read_only
        && let Some(bad) = scanned.iter().find_map(|s| s.scan.unknown_version())
    {
        return Err(Error::UnsupportedVersion(Box::new(bad.clone())));
    }

    // The first damage, and whether anything valid follows it.
    let mut cut_from = None;
    if let Some(k) = scanned.iter().position(|s| !s.scan.bad.is_empty()) {
        let first = scanned[k].scan.bad[0].clone();
        let valid_after = scanned[k].scan.valid_after_damage
            || scanned[k + 1..].iter().any(|s| s.scan.commits > 0);
        let torn_write = valid_after && is_torn_write(&scanned[k..], &first);
        if valid_after && !torn_write {
            let serve = opts.read_only || opts.repair;
            if !serve || opts.recovery == RecoveryMode::Strict {
                return Err(Error::Corrupt(Box::new(first)));
            }
            // Inspection or repair: serve everything as stored; reads stop
            // at the damage.
            tracing::warn!(log = %dir.display(), "corrupt log (opened to inspect or repair): {first}");
            report.corruption = Some(first);
            let last = scanned
                .last()
                .expect("damage was found in a scanned segment");
            let next_offset = last
                .scan
                .last_offset
                .map_or(metas[last.index].start_offset, |o| o + 1);
            for s in &scanned {
                metas[s.index].len = s.file_len();
            }
            let first_served = if skip.is_some() { start } else { 0 };
            let first_offset = skip.unwrap_or(0);
            report.first_offset = first_offset;
            report.last_offset = next_offset.checked_sub(1).filter(|&o| o >= first_offset);
            let segments = metas.into_iter().skip(first_served).collect();
            return Ok(Recovered {
                segments,
                first_offset,
                next_offset,
                report,
            });
        }
        let tail_len: u64 = scanned[k].file_len() - scanned[k].scan.valid_end
            + scanned[k + 1..].iter().map(|s| s.file_len()).sum::<u64>();
        let tail = BadFrame {
            len: tail_len,
            ..first
        };
        if opts.recovery == RecoveryMode::Strict {
            return Err(Error::InvalidTail(Box::new(tail)));
        }
        report.invalid_tail = Some(tail);
        cut_from = Some(k);
    }

    if let Some(k) = cut_from {
        cut_tail(vfs, dir, opts, &scanned[k..], &metas, &mut report)?;
    }

    // Served lengths end at the cut, whether or not the bytes moved.
    let mut keep = vec![true; metas.len()];
    for (j, s) in scanned.iter().enumerate() {
        let cut_away = cut_from.is_some_and(|k| j > k) || s.scan.valid_end == 0;
        keep[s.index] = !cut_away;
        metas[s.index].len = s.scan.valid_end;
    }
    let next_offset = scanned.iter().rev().find(|s| keep[s.index]).map_or(0, |s| {
        s.scan
            .prefix_last
            .map_or(metas[s.index].start_offset, |o| o + 1)
    });
    // With skip-to, nothing before the skip segment is served.
    let first_served = if skip.is_some() { start } else { 0 };
    let served: Vec<SegmentMeta> = metas
        .into_iter()
        .zip(keep)
        .skip(first_served)
        .filter_map(|(m, k)| k.then_some(m))
        .collect();
    let first_offset = skip.unwrap_or(0);
    report.first_offset = first_offset;
    report.last_offset = next_offset.checked_sub(1).filter(|&o| o >= first_offset);
    Ok(Recovered {
        segments: served,
        first_offset,
        next_offset,
        report,
    })
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
            return Err(Error::Corrupt(Box::new(BadFrame {
                segment: metas[b.index].name.clone(),
                position: 0,
                offset: Some(expected),
                len: 0,
                damage: Damage::Missing {
                    from: expected,
                    to: found,
                },
            })));
        }
    }
    Ok(())
}
