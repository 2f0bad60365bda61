//! Opening an S3 log: find its segments, and deal with a damaged tail the
//! way the disk backend does (`docs/operations.md`).
//!
//! Objects are written whole, so a crash cannot tear one; damage comes
//! from elsewhere (a bad copy, a bug, a person). Opening reads only the last
//! segment, as the disk backend scans only its last file: damage earlier
//! in the log is found by the first read and by `verify`.

use bytes::Bytes;
use interstice_log::scan::{find_frame, scan_from, scan_segment};
use interstice_log::{BadFrame, Damage, Error, LogOptions, RecoveryMode, RecoveryReport};

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

pub(crate) async fn recover(obj: &Objects, opts: &LogOptions) -> Result<Recovered, Error> {
    let mut segs = obj.list_segments().await?;
    let mut report = RecoveryReport::new(opts.recovery);
    let max = opts.max_frame_size;
    let strict = opts.recovery == RecoveryMode::Strict;
    let (first_index, skip) = match opts.recovery {
        RecoveryMode::SkipTo(n) => {
            let i = segs
                .iter()
                .rposition(|s| s.first_offset <= n)
                .ok_or_else(|| {
                    Error::InvalidOptions(format!(
                        "skip-to:{n}: the log has no segment holding commit {n}"
                    ))
                })?;
            let buf = obj.fetch(&segs[i].name).await?;
            let pos = find_frame(&buf, n, max).ok_or_else(|| {
                Error::InvalidOptions(format!(
                    "skip-to:{n}: no valid commit {n} in segment {}",
                    segs[i].name
                ))
            })?;
            segs[i].start_pos = pos;
            segs[i].start_offset = n;
            (i, Some(n))
        }
        _ => {
            if let Some(s) = segs.first().filter(|s| s.first_offset != 0) {
                return Err(Error::Corrupt(Box::new(BadFrame {
                    segment: s.name.clone(),
                    position: 0,
                    offset: Some(0),
                    len: 0,
                    damage: Damage::Missing {
                        from: 0,
                        to: s.first_offset,
                    },
                })));
            }
            (0, None)
        }
    };
    let first_offset = skip.unwrap_or(0);

    // The tail: the last segment, or the one before it once a segment that
    // holds no valid commit has been set aside.
    let mut next_offset = first_offset;
    let mut cut_once = false;
    while segs.len() > first_index {
        let last = segs.last().expect("non-empty").clone();
        let buf: Bytes = obj.fetch(&last.name).await?;
        let scan = if skip.is_some() && segs.len() - 1 == first_index {
            scan_from(&last.name, &buf, last.start_pos, last.start_offset, max)
        } else {
            scan_segment(&last.name, &buf, last.first_offset, max)
        };
        if !opts.read_only
            && let Some(bad) = scan.unknown_version()
        {
            return Err(Error::UnsupportedVersion(Box::new(bad.clone())));
        }
        let Some(first) = scan.first_damage().cloned() else {
            if scan.commits == 0
                && !opts.read_only
                && (skip.is_none() || segs.len() - 1 > first_index)
            {
                // A header and nothing else (what a cut left): holds no
                // commit, and would block the append of its offset.
                obj.delete(&last.name).await?;
                segs.pop();
                continue;
            }
            next_offset = scan.prefix_last.map_or(last.start_offset, |o| o + 1);
            break;
        };
        if scan.valid_after_damage || cut_once {
            if !(opts.read_only || opts.repair) || strict {
                return Err(Error::Corrupt(Box::new(first)));
            }
            tracing::warn!(log = %obj.location, "corrupt log (opened to inspect or repair): {first}");
            report.corruption = Some(first);
            next_offset = scan.last_offset.map_or(last.start_offset, |o| o + 1);
            break;
        }
        let valid_end = scan.valid_end as usize;
        let tail = BadFrame {
            len: (buf.len() - valid_end) as u64,
            ..first
        };
        if strict {
            return Err(Error::InvalidTail(Box::new(tail)));
        }
        report.invalid_tail = Some(tail.clone());
        next_offset = scan.prefix_last.map_or(last.start_offset, |o| o + 1);
        if opts.read_only {
            tracing::warn!(log = %obj.location, "invalid tail of the log ignored (read-only, nothing cut): {tail}");
            break;
        }
        let q = obj
            .quarantine(&last.name, valid_end as u64, buf.slice(valid_end..))
            .await?;
        tracing::warn!(log = %obj.location, "cut invalid tail of the log: {tail}; {q}");
        report.quarantined.push(q);
        cut_once = true;
        if scan.prefix_last.is_some() {
            obj.overwrite(&last.name, buf.slice(..valid_end)).await?;
            break;
        }
        // Nothing valid left in it: the previous segment is the tail now.
        obj.delete(&last.name).await?;
        segs.pop();
        next_offset = first_offset;
    }
    report.first_offset = first_offset;
    report.last_offset = next_offset.checked_sub(1).filter(|&o| o >= first_offset);
    Ok(Recovered {
        segments: segs.split_off(first_index.min(segs.len())),
        first_offset,
        next_offset,
        report,
    })
}
