//! Compaction: merging runs of small batch objects into larger segments,
//! so a replay fetches a few large objects instead of one per batch.
//!
//! Order of work, each step safe to interrupt:
//! 0. Take the compaction lease, and finish what an interrupted
//!    compaction left (batch objects a merged segment covers, checked to
//!    be copies, become stubs).
//! 1. Read the run's objects and check every frame and that they continue
//!    each other (a run stops before a hole or a damaged object, which is
//!    left alone, and reported).
//! 2. Write the merged segment `<first>-<last>.seg`, create-only. From now
//!    on readers read it, and the run's objects only as copies of it.
//! 3. Overwrite each batch object of the run with a stub: its segment
//!    header alone. A stub keeps its key taken, so a stale writer's
//!    create-only append of that offset still fails (fencing keeps
//!    working), and it costs 20 bytes.
//!
//! A reader that planned the old objects and finds a stub re-lists and
//! continues from the merged segment. The last segment of the log is never
//! compacted: it is where recovery looks.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt, stream};
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::scan::{SegmentFrames, frame_limit};
use interstice_log::{BadFrame, Error};

use crate::lease::{Held, now_ms};
use crate::objects::{Objects, Segment};
use crate::plan::is_stub;
use crate::store::S3LogStore;

/// What [`S3LogStore::compact`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CompactReport {
    /// Batch objects merged (now stubs).
    pub merged_objects: u64,
    /// The segments written, by name.
    pub written: Vec<String>,
    /// Commits copied.
    pub commits: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Batch objects an earlier, interrupted compaction had already copied
    /// into a merged segment, checked and turned into stubs now.
    pub finished: u64,
    /// Stubs deleted: older than the grace period, inside a merged
    /// segment's range.
    pub stubs_collected: u64,
    /// What was left alone, and why: a hole (commits missing between two
    /// objects: the runs on either side are merged), a damaged object, or
    /// one that is not a copy of the merged segment that covers it.
    /// `check-log` says more.
    pub skipped: Vec<String>,
}

/// How long the compaction lease lasts; it is renewed at half-time.
const LEASE: Duration = Duration::from_secs(600);

/// How old a stub must be before compaction deletes it, by default: far
/// longer than any request a writer that was replaced can still have in
/// flight (a writer that lost its lease stops at its next heartbeat).
pub const STUB_GRACE: Duration = Duration::from_secs(3600);

impl S3LogStore {
    /// Merges runs of consecutive batch objects (at least two, at most
    /// `target_bytes` together) into single segments, without losing a
    /// commit or disturbing readers and the writer running at the same
    /// time. Returns what it did; running it again finds nothing to do.
    ///
    /// It holds the log's compaction lease while it runs: a second
    /// compaction at the same time fails with [`Error::InUse`] (were it to
    /// run anyway, readers would still read one history: overlapping
    /// segments are copies, `docs/s3.md`).
    pub async fn compact(&self, target_bytes: u64) -> Result<CompactReport, Error> {
        self.compact_with(target_bytes, STUB_GRACE).await
    }

    /// [`S3LogStore::compact`], deleting afterwards the stubs inside a
    /// merged segment's range that are older than `stub_grace` (a listing
    /// then holds little more than the merged segments; readers never
    /// need stubs).
    pub async fn compact_with(
        &self,
        target_bytes: u64,
        stub_grace: Duration,
    ) -> Result<CompactReport, Error> {
        self.check_writable()?;
        let objects = self.objects();
        let mut lease = Held::take(objects, "compaction", LEASE, "another compaction runs").await?;
        let result = match self.compact_leased(target_bytes, &mut lease).await {
            Ok(mut report) => collect_stubs(objects, stub_grace, &mut report)
                .await
                .map(|()| report),
            Err(e) => Err(e),
        };
        let released = lease.release().await;
        let report = result?;
        released?;
        Ok(report)
    }

    async fn compact_leased(
        &self,
        target_bytes: u64,
        lease: &mut Held,
    ) -> Result<CompactReport, Error> {
        let objects = self.objects();
        let max = self.max_frame_size();
        let planned = objects.list_segments().await?;
        let mut report = CompactReport::default();
        finish_covered(objects, &planned, max, &mut report).await?;
        // Everything but the last segment; only whole batch objects that no
        // merged segment covers.
        let candidates: Vec<Segment> = planned[..planned.len().saturating_sub(1)]
            .iter()
            .filter(|s| !covered(&planned, s))
            .cloned()
            .collect();
        for run in runs(&candidates, target_bytes) {
            let mut rest = &run[..];
            while rest.len() >= 2 {
                lease.renew_if_due().await?;
                let m = merge(objects, rest, max).await?;
                if let Some((merged, body, commits)) = m.merged {
                    let used = &rest[..m.used];
                    self.store_merged(used, &merged, body.clone(), max).await?;
                    report.merged_objects += used.len() as u64;
                    report.commits += commits;
                    report.bytes += body.len() as u64;
                    report.written.push(merged.name);
                }
                report.skipped.extend(m.stopped);
                rest = &rest[(m.used + m.skip).clamp(1, rest.len())..];
            }
        }
        Ok(report)
    }

    /// Steps 2 and 3: the merged segment of `run`, then stubs for `run`.
    async fn store_merged(
        &self,
        run: &[Segment],
        merged: &Segment,
        body: Bytes,
        max: u64,
    ) -> Result<(), Error> {
        let objects = self.objects();
        let stored = objects.create(&merged.name, body.clone()).await?;
        if !stored && objects.fetch(&merged.name).await? != body {
            return Err(Error::Backend {
                message: format!(
                    "{}/log/{} exists with other contents; compaction stopped",
                    objects.location, merged.name
                ),
                source: None,
            });
        }
        for seg in run {
            objects.overwrite(&seg.name, stub(seg, max)).await?;
        }
        self.replace_segments(run, merged.clone()).await;
        Ok(())
    }
}

/// Deletes the stubs inside a merged segment's range written more than
/// `grace` ago. A stub keeps its key from a writer that still believes
/// that offset is next; after the grace period there is none (a replaced
/// writer is fenced at its next heartbeat), and deleting a stub changes
/// nothing a reader sees (they do not read stubs).
async fn collect_stubs(
    objects: &Objects,
    grace: Duration,
    report: &mut CompactReport,
) -> Result<(), Error> {
    let all = objects.list_all().await?;
    let before = now_ms().saturating_sub(grace.as_millis() as u64);
    let merged: Vec<&Segment> = all.iter().filter(|s| s.last_offset.is_some()).collect();
    let old_stubs = all.iter().filter(|s| {
        is_stub(s)
            && s.modified_ms <= before
            && merged
                .iter()
                .any(|m| m.first_offset < s.first_offset && m.last_offset >= Some(s.first_offset))
    });
    let names: Vec<String> = old_stubs.map(|s| s.name.clone()).collect();
    let deleted: Vec<()> = stream::iter(names)
        .map(|name| async move { objects.delete(&name).await })
        .buffer_unordered(16)
        .try_collect()
        .await?;
    report.stubs_collected += deleted.len() as u64;
    Ok(())
}

/// A batch object's stub: its segment header alone.
fn stub(seg: &Segment, max: u64) -> Bytes {
    let header = SegmentHeader::new(seg.first_offset, max);
    let stub = Bytes::copy_from_slice(&header.encode());
    debug_assert_eq!(stub.len(), SEGMENT_HEADER_LEN);
    stub
}

/// Whether `s` is a batch object inside a merged segment's range.
fn covered(planned: &[Segment], s: &Segment) -> bool {
    s.last_offset.is_none()
        && planned.iter().any(|m| {
            m.last_offset
                .is_some_and(|last| (m.first_offset..=last).contains(&s.first_offset))
        })
}

/// Finishes what an interrupted compaction left: batch objects a merged
/// segment covers, still whole, become stubs once each of their frames is
/// found to be a copy of the merged segment's.
async fn finish_covered(
    objects: &Objects,
    planned: &[Segment],
    max: u64,
    report: &mut CompactReport,
) -> Result<(), Error> {
    for m in planned.iter().filter(|m| m.last_offset.is_some()) {
        let inside: Vec<&Segment> = planned
            .iter()
            .filter(|s| !is_stub(s) && covered(std::slice::from_ref(m), s))
            .collect();
        if inside.is_empty() {
            continue;
        }
        let frames = frames_of(m, objects.fetch(&m.name).await?, max);
        for seg in inside {
            let bytes = objects.fetch(&seg.name).await?;
            let copy = match frames {
                Ok(ref merged) => is_copy(seg, bytes, merged, max),
                Err(_) => false,
            };
            if copy {
                objects.overwrite(&seg.name, stub(seg, max)).await?;
                report.finished += 1;
            } else {
                report.skipped.push(format!(
                    "{}: inside {} but not a copy of it",
                    seg.name, m.name
                ));
            }
        }
    }
    Ok(())
}

/// The frames of segment `seg` (whose bytes are `bytes`) by offset.
fn frames_of(seg: &Segment, bytes: Bytes, max: u64) -> Result<Vec<(u64, Bytes)>, Error> {
    let mut frames = SegmentFrames::new(&seg.name, bytes.clone(), seg.first_offset, max)?;
    let mut out = Vec::new();
    loop {
        let at = frames.position();
        match frames.next() {
            None => return Ok(out),
            Some(Ok(c)) => out.push((c.offset, bytes.slice(at..frames.position()))),
            Some(Err(e)) => return Err(e),
        }
    }
}

/// Whether every frame of `seg` is the same as `merged`'s for its offset.
fn is_copy(seg: &Segment, bytes: Bytes, merged: &[(u64, Bytes)], max: u64) -> bool {
    let Ok(frames) = frames_of(seg, bytes, max) else {
        return false;
    };
    let first = merged.first().map_or(0, |(o, _)| *o);
    frames.iter().all(|(o, f)| {
        o.checked_sub(first)
            .and_then(|i| merged.get(i as usize))
            .is_some_and(|(_, m)| m == f)
    })
}

/// Consecutive batch objects, grouped up to `target` bytes, two or more.
fn runs(segs: &[Segment], target: u64) -> Vec<Vec<Segment>> {
    let mut out = Vec::new();
    let mut run: Vec<Segment> = Vec::new();
    let mut size = 0;
    let flush = |run: &mut Vec<Segment>, out: &mut Vec<Vec<Segment>>| {
        if run.len() >= 2 {
            out.push(std::mem::take(run));
        } else {
            run.clear();
        }
    };
    for s in segs {
        let mergeable = s.last_offset.is_none() && s.start_pos == SEGMENT_HEADER_LEN;
        let body = s.size.saturating_sub(SEGMENT_HEADER_LEN as u64);
        if !mergeable || (!run.is_empty() && size + body > target) {
            flush(&mut run, &mut out);
            size = 0;
        }
        if mergeable {
            run.push(s.clone());
            size += body;
        }
    }
    flush(&mut run, &mut out);
    out
}

/// What merging the front of a run gave.
struct Merge {
    /// The merged segment, its bytes and commit count, when two or more
    /// objects continue each other.
    merged: Option<(Segment, Bytes, u64)>,
    /// Objects of the run it took (merged, or too few to merge).
    used: usize,
    /// Objects after those to leave alone (a damaged one).
    skip: usize,
    /// Why it stopped before the run's end, for the report.
    stopped: Option<String>,
}

/// Merges the longest front of `run` whose objects are intact and
/// continue each other: it stops before a hole (the rest of the run is
/// merged on its own) or a damaged object (which is left alone).
async fn merge(objects: &Objects, run: &[Segment], max: u64) -> Result<Merge, Error> {
    let fetched: Vec<Bytes> = stream::iter(run)
        .map(|s| objects.fetch(&s.name))
        .buffered(8)
        .try_collect()
        .await?;
    let first = run[0].first_offset;
    let mut parts: Vec<Bytes> = Vec::new();
    let mut expected = first;
    let mut commits = 0;
    let mut stop = None;
    for (seg, bytes) in run.iter().zip(&fetched) {
        if seg.first_offset != expected {
            let hole = BadFrame::missing(&seg.name, expected, seg.first_offset);
            stop = Some((0, format!("a hole: {hole}")));
            break;
        }
        match frames_of(seg, bytes.clone(), max) {
            Ok(frames) if !frames.is_empty() => {
                commits += frames.len() as u64;
                expected += frames.len() as u64;
                parts.push(bytes.clone());
            }
            Ok(_) => {
                stop = Some((1, format!("{}: holds no commit (a stub)", seg.name)));
                break;
            }
            Err(e) => {
                stop = Some((1, format!("{}: {e}", seg.name)));
                break;
            }
        }
    }
    let used = parts.len();
    let (skip, stopped) = match stop {
        Some((skip, why)) => (skip, Some(why)),
        None => (0, None),
    };
    if used < 2 {
        // Nothing to merge; step past what was looked at.
        return Ok(Merge {
            merged: None,
            used,
            skip,
            stopped,
        });
    }
    // The merged segment takes the largest frame limit of its sources, so
    // every frame it holds stays within its header's.
    let limit = parts
        .iter()
        .map(|b| frame_limit(b, max))
        .max()
        .unwrap_or(max);
    let mut body = BytesMut::new();
    body.extend_from_slice(&SegmentHeader::new(first, limit).encode());
    for p in &parts {
        body.extend_from_slice(&p[SEGMENT_HEADER_LEN..]);
    }
    Ok(Merge {
        merged: Some((
            Segment::compacted(first, expected - 1),
            body.freeze(),
            commits,
        )),
        used,
        skip,
        stopped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(first: u64, body: u64) -> Segment {
        Segment {
            size: SEGMENT_HEADER_LEN as u64 + body,
            ..Segment::new(first)
        }
    }

    #[test]
    fn runs_stop_at_the_target_and_at_merged_segments() {
        let segs = vec![
            sized(0, 40),
            sized(1, 40),
            sized(2, 40),
            Segment::compacted(3, 5),
            sized(6, 40),
            sized(7, 40),
        ];
        let firsts: Vec<Vec<u64>> = runs(&segs, 100)
            .iter()
            .map(|r| r.iter().map(|s| s.first_offset).collect())
            .collect();
        // 0 and 1 fit in 100 bytes, 2 alone is no run; 6 and 7 after the
        // merged segment.
        assert_eq!(firsts, [vec![0, 1], vec![6, 7]]);
    }
}
