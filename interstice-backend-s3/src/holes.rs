//! The leftovers of a pipelined writer's crash (`docs/s3.md`, "Pipelined
//! appends"): a writer with up to `w` appends in flight may die with a
//! later object stored and an earlier one not. Such objects were never
//! acknowledged (acknowledgements go in offset order), and the log is the
//! contiguous prefix: opening sets them aside. Only the last `w` objects
//! can lie behind such a hole; a hole anywhere else is corruption, found
//! by the first read that reaches it.
//!
//! Opening copies them to quarantine but does not delete them: the writer
//! that left them may still be alive (a take-over, or a second writer
//! racing it), and if the object that fills the hole lands, it
//! acknowledges them. Once the opening writer's own first object is
//! stored at the hole, the old writer can acknowledge nothing after it
//! (its `PUT` of that offset fails, and it is fenced), so the new writer
//! deletes them then (`append.rs`).

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt, stream};
use interstice_log::scan::scan_segment;
use interstice_log::{BadFrame, Error, LogOptions, Quarantined, RecoveryMode};

use crate::objects::{Objects, Segment};

/// Objects fetched at once while looking for a hole.
const FETCHES: usize = 8;

/// Looks for a hole between consecutive objects among the last `window`
/// objects of `segs` (and the one before them), from `first_index` on. The
/// objects behind the first hole are removed from `segs` and returned;
/// a writable open also copies each to quarantine (`kept`). `strict`
/// recovery refuses ([`Error::InvalidTail`]) instead.
pub(crate) async fn set_aside(
    obj: &Objects,
    segs: &mut Vec<Segment>,
    first_index: usize,
    window: u64,
    opts: &LogOptions,
    kept: &mut Vec<Quarantined>,
) -> Result<Vec<Segment>, Error> {
    let (max_frame, writable) = (opts.max_frame_size, !opts.read_only);
    let served = segs.len().saturating_sub(first_index);
    if window <= 1 || served < 2 {
        return Ok(Vec::new());
    }
    let from = segs
        .len()
        .saturating_sub(window as usize + 1)
        .max(first_index);
    let ends: Vec<Option<u64>> = stream::iter(segs[from..segs.len() - 1].to_vec())
        .map(|seg| {
            let obj = obj.clone();
            async move { end_of(&obj, &seg, max_frame).await }
        })
        .buffered(FETCHES)
        .try_collect()
        .await?;
    let hole = ends
        .iter()
        .zip(&segs[from + 1..])
        .position(|(end, next)| end.is_some_and(|e| e < next.first_offset));
    let Some(i) = hole else {
        return Ok(Vec::new());
    };
    let end = ends[i].expect("a hole has an end");
    let next = &segs[from + i + 1];
    if opts.recovery == RecoveryMode::Strict {
        let missing = BadFrame::missing(&next.name, end, next.first_offset);
        return Err(Error::InvalidTail(Box::new(missing)));
    }
    let behind = segs.split_off(from + i + 1);
    tracing::warn!(
        log = %obj.location,
        "{} object(s) from offset {} lie behind a hole at {end}: the unacknowledged appends of a writer that stopped; {}",
        behind.len(),
        behind[0].first_offset,
        if writable { "copied to quarantine, deleted once this writer appends" } else { "left out (read-only)" }
    );
    if writable {
        for seg in &behind {
            let bytes: Bytes = obj.fetch(&seg.name).await?;
            kept.push(obj.quarantine(&seg.name, 0, bytes).await?);
        }
    }
    Ok(behind)
}

/// The offset after `seg`'s last valid commit (`None` when it holds none,
/// or is damaged where a hole would be: the usual checks decide then).
async fn end_of(obj: &Objects, seg: &Segment, max_frame: u64) -> Result<Option<u64>, Error> {
    if let Some(last) = seg.last_offset {
        return Ok(Some(last + 1));
    }
    let bytes = obj.fetch(&seg.name).await?;
    let scan = scan_segment(&seg.name, &bytes, seg.first_offset, max_frame);
    Ok(match scan.first_damage() {
        Some(_) => None,
        None => scan.last_offset.map(|l| l + 1),
    })
}
