//! Compaction: merging runs of small batch objects into larger segments,
//! so a replay fetches a few large objects instead of one per batch.
//!
//! Order of work, each step safe to interrupt:
//! 1. Read the run's objects and check every frame and that they continue
//!    each other (damaged data is left alone, and reported).
//! 2. Write the merged segment `<first>-<last>.seg`, create-only. From now
//!    on it hides the run from every new listing.
//! 3. Overwrite each batch object of the run with a stub: its segment
//!    header alone. A stub keeps its key taken, so a stale writer's
//!    create-only append of that offset still fails (fencing keeps
//!    working), and it costs 20 bytes.
//!
//! A reader that planned the old objects and finds a stub re-lists and
//! continues from the merged segment. The last segment of the log is never
//! compacted: it is where recovery looks.

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt, stream};
use interstice_log::Error;
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::scan::{SegmentFrames, frame_limit};

use crate::objects::{Objects, Segment};
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
    /// Runs left alone because a frame did not check out (`verify` says
    /// where).
    pub skipped: Vec<String>,
}

impl S3LogStore {
    /// Merges runs of consecutive batch objects (at least two, at most
    /// `target_bytes` together) into single segments, without losing a
    /// commit or disturbing readers and the writer running at the same
    /// time. Returns what it did; running it again finds nothing to do.
    pub async fn compact(&self, target_bytes: u64) -> Result<CompactReport, Error> {
        self.check_writable()?;
        let objects = self.objects();
        let max = self.max_frame_size();
        let planned = objects.list_segments().await?;
        let mut report = CompactReport::default();
        // Everything but the last segment; only whole batch objects.
        let candidates = &planned[..planned.len().saturating_sub(1)];
        for run in runs(candidates, target_bytes) {
            match merge(objects, &run, max).await? {
                None => {
                    report
                        .skipped
                        .push(format!("{}..{}", run[0].name, run[run.len() - 1].name))
                }
                Some((merged, body, commits)) => {
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
                    for seg in &run {
                        let header = SegmentHeader::new(seg.first_offset, max);
                        let stub = Bytes::copy_from_slice(&header.encode());
                        debug_assert_eq!(stub.len(), SEGMENT_HEADER_LEN);
                        objects.overwrite(&seg.name, stub).await?;
                    }
                    self.replace_segments(&run, merged.clone()).await;
                    report.merged_objects += run.len() as u64;
                    report.commits += commits;
                    report.bytes += body.len() as u64;
                    report.written.push(merged.name);
                }
            }
        }
        Ok(report)
    }
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

/// The merged segment of `run` and its bytes, or `None` when a frame does
/// not check out or the objects do not continue each other.
async fn merge(
    objects: &Objects,
    run: &[Segment],
    max: u64,
) -> Result<Option<(Segment, Bytes, u64)>, Error> {
    let fetched: Vec<Bytes> = stream::iter(run)
        .map(|s| objects.fetch(&s.name))
        .buffered(8)
        .try_collect()
        .await?;
    let first = run[0].first_offset;
    // The merged segment takes the largest frame limit of its sources, so
    // every frame it holds stays within its header's.
    let limit = fetched
        .iter()
        .map(|b| frame_limit(b, max))
        .max()
        .unwrap_or(max);
    let mut body = BytesMut::new();
    body.extend_from_slice(&SegmentHeader::new(first, limit).encode());
    let mut expected = first;
    let mut commits = 0;
    for (seg, bytes) in run.iter().zip(fetched) {
        if seg.first_offset != expected {
            return Ok(None);
        }
        let Ok(frames) = SegmentFrames::new(&seg.name, bytes.clone(), seg.first_offset, max) else {
            return Ok(None);
        };
        for item in frames {
            match item {
                Ok(c) => {
                    expected = c.offset + 1;
                    commits += 1;
                }
                Err(_) => return Ok(None),
            }
        }
        body.extend_from_slice(&bytes[SEGMENT_HEADER_LEN..]);
    }
    if commits == 0 {
        return Ok(None);
    }
    Ok(Some((
        Segment::compacted(first, expected - 1),
        body.freeze(),
        commits,
    )))
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
