//! Following a log that another process writes: what appeared since a
//! read-only store last looked ([`interstice_log::LogStore::refresh`]).

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use interstice_log::epochs::EpochStarts;
use interstice_log::scan::{SegmentFrames, scan_segment};
use interstice_log::{BadFrame, Error};

use crate::objects::{Objects, Segment, backend, segments_of};
use crate::plan::{is_stub, plan};

/// The log as it has grown: segments to read after those known, the next
/// offset, and the writer epochs as they are now.
pub(crate) struct Grown {
    pub segments: Vec<Segment>,
    pub next: u64,
    pub starts: EpochStarts,
}

/// Lists the segment objects after `last` (the last one known; from the
/// start when none) and takes those that continue the log at `next`, up to
/// a gap (an object not stored yet: the writer's appends may still be in
/// flight, several at once, so a later one can be stored before an
/// earlier one). A batch object's name says where it begins, not where it
/// ends: each one taken is fetched to learn that (a read checks every
/// frame and every boundary again anyway). Damage in one is corruption
/// (objects are written whole).
///
/// The writer epochs are listed again only when the last object taken
/// carries an epoch newer than any in `starts` (a new writer took over):
/// one request less per look while the writer stays the same.
pub(crate) async fn grown(
    objects: &Objects,
    last: Option<&Segment>,
    next: u64,
    max_frame: u64,
    starts: &EpochStarts,
) -> Result<Grown, Error> {
    let dir = objects.key("log");
    let listed: Vec<_> = match last {
        Some(seg) => {
            let after = objects.segment_key(&seg.name);
            objects
                .client
                .list_with_offset(Some(&dir), &after)
                .try_collect()
                .await
        }
        None => objects.client.list(Some(&dir)).try_collect().await,
    }
    .map_err(|e| backend(format!("cannot list {}/log", objects.location), e))?;
    let mut grown = Grown {
        segments: Vec::new(),
        next,
        starts: starts.clone(),
    };
    let candidates = plan(segments_of(&listed))
        .into_iter()
        .filter(|seg| !is_stub(seg) && seg.last_offset.is_none_or(|l| l >= next));
    let mut fetched = stream::iter(candidates)
        .map(|seg| {
            let objects = objects.clone();
            async move {
                let bytes = match seg.last_offset {
                    Some(_) => None,
                    None => objects.get(&seg.name).await?,
                };
                Ok::<_, Error>((seg, bytes))
            }
        })
        .buffered(FETCHES);
    // The newest writer epoch among the objects taken.
    let mut newest = 0;
    while let Some((seg, bytes)) = fetched.try_next().await? {
        if seg.first_offset > grown.next {
            break;
        }
        if let Some(l) = seg.last_offset {
            grown.next = l + 1;
            grown.segments.push(seg);
            continue;
        }
        if seg.first_offset < grown.next {
            // A copy of commits already known.
            continue;
        }
        // Gone meanwhile (compacted): the next look finds what holds it.
        let Some(bytes) = bytes else { break };
        let scan = scan_segment(&seg.name, &bytes, seg.first_offset, max_frame);
        if let Some(bad) = scan.first_damage() {
            return Err(Error::Corrupt(Box::new(BadFrame::clone(bad))));
        }
        // A header alone: nothing in it yet to serve.
        let Some(l) = scan.last_offset else { break };
        let (oldest, epoch) = epochs(&seg, bytes.clone(), max_frame)?;
        if oldest < newest {
            // A replaced writer's leftover that the new writer has not
            // cleared yet (`docs/s3.md`, "Pipelined appends"): not the log.
            break;
        }
        newest = newest.max(epoch);
        grown.next = l + 1;
        // The read that serves these commits wants the same bytes.
        objects.remember(&seg.name, bytes);
        grown.segments.push(seg);
    }
    if newest > starts.newest() {
        grown.starts = objects.list_epochs().await?.starts();
    }
    Ok(grown)
}

/// The oldest and newest writer epochs of `seg`'s frames.
fn epochs(seg: &Segment, bytes: Bytes, max_frame: u64) -> Result<(u64, u64), Error> {
    let mut frames = SegmentFrames::new(&seg.name, bytes, seg.first_offset, max_frame)?;
    let (mut oldest, mut newest) = (u64::MAX, 0);
    while let Some(Ok(_)) = frames.next() {
        oldest = oldest.min(frames.epoch());
        newest = newest.max(frames.epoch());
    }
    Ok((oldest, newest))
}

/// Objects fetched at once.
const FETCHES: usize = 8;
