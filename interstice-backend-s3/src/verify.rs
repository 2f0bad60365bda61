//! `verify` on S3: every object the planner reads ([`crate::plan`]), every
//! frame checked, overlapping objects compared frame for frame, writer
//! epochs checked, and each hole reported once.

use bytes::Bytes;
use futures::{StreamExt, stream};
use interstice_log::codec::SEGMENT_HEADER_LEN;
use interstice_log::epochs::EpochCheck;
use interstice_log::scan::{SegmentFrames, frame_limit, scan_segment};
use interstice_log::{BadFrame, Error, VerifyReport};

use crate::objects::{Objects, Segment};
use crate::plan::Served;

/// Lists the log afresh and checks all of it.
pub(crate) async fn verify(
    objects: &Objects,
    max: u64,
    concurrency: usize,
) -> Result<VerifyReport, Error> {
    let segments = objects.list_segments().await?;
    let mut check = Check {
        report: VerifyReport {
            segments: segments.len() as u64,
            ..VerifyReport::default()
        },
        epochs: EpochCheck::new(objects.list_epochs().await?.starts()),
        served: Served::default(),
        expected: None,
        hole: None,
    };
    let firsts: Vec<u64> = segments.iter().map(|s| s.first_offset).collect();
    let mut fetched = stream::iter(segments)
        .map(|seg| async move {
            let bytes = objects.fetch(&seg.name).await;
            (seg, bytes)
        })
        .buffered(concurrency);
    let mut i = 0;
    while let Some((seg, bytes)) = fetched.next().await {
        i += 1;
        check.segment(&seg, bytes?, max);
        let next = firsts.get(i).copied().unwrap_or(u64::MAX);
        let expected = check.expected.unwrap_or(0);
        check.served.forget_before(next.min(expected));
    }
    let mut report = check.report;
    if let Some(from) = check.hole {
        let end = check.expected.unwrap_or(from);
        report
            .bad
            .push(BadFrame::missing("(end of log)", from, end.max(from + 1)));
    }
    Ok(report)
}

struct Check {
    report: VerifyReport,
    epochs: EpochCheck,
    served: Served,
    /// The next offset the log must continue with.
    expected: Option<u64>,
    /// Where a hole began: stubs with no commits (a lost merged segment)
    /// extend it, and it is reported once, before the next commit found.
    hole: Option<u64>,
}

impl Check {
    fn segment(&mut self, seg: &Segment, bytes: Bytes, max: u64) {
        self.report.bytes += bytes.len() as u64;
        if let Some(e) = self.expected
            && seg.first_offset > e
        {
            self.hole.get_or_insert(e);
        }
        let scan = scan_segment(&seg.name, &bytes, seg.first_offset, max);
        let end = (scan.valid_end as usize).min(bytes.len());
        let mut in_prefix = 0;
        // One line for an object that is not a copy, at its first frame
        // that differs.
        let mut differs = false;
        if end > SEGMENT_HEADER_LEN {
            let limit = frame_limit(&bytes, max);
            let prefix = bytes.slice(..end);
            let mut frames = SegmentFrames::at(
                &seg.name,
                prefix.clone(),
                SEGMENT_HEADER_LEN,
                seg.first_offset,
                limit,
            );
            loop {
                let at = frames.position();
                let Some(Ok(c)) = frames.next() else {
                    break;
                };
                in_prefix += 1;
                let frame = prefix.slice(at..frames.position());
                self.frame(seg, at, c.offset, frame, frames.epoch(), &mut differs);
            }
        }
        // Valid frames after damage (reported by the scan) still count,
        // and the log goes on after them.
        self.report.commits += scan.commits - in_prefix;
        if let Some(last) = scan.last_offset
            && self.expected.is_none_or(|e| last >= e)
        {
            self.expected = Some(last + 1);
            self.report.last_offset = Some(last);
        }
        if self.expected.is_none() {
            self.expected = Some(seg.first_offset);
        }
        self.report.bad.extend(scan.bad);
    }

    /// The valid frame at byte `at` of `seg`, carrying commit `offset`.
    /// `differs` says an earlier frame of `seg` differed from its copy.
    fn frame(
        &mut self,
        seg: &Segment,
        at: usize,
        offset: u64,
        frame: Bytes,
        epoch: u64,
        differs: &mut bool,
    ) {
        if self.expected.is_some_and(|e| offset < e) {
            if !*differs && let Err(bad) = self.served.check(&seg.name, at, offset, &frame) {
                self.report.bad.push(*bad);
                *differs = true;
            }
            return;
        }
        if let Some(from) = self.hole.take() {
            self.report
                .bad
                .push(BadFrame::missing(&seg.name, from, offset));
        }
        if let Err(damage) = self.epochs.check(offset, epoch) {
            self.report.bad.push(BadFrame {
                segment: seg.name.clone(),
                position: at as u64,
                offset: Some(offset),
                len: frame.len() as u64,
                damage,
            });
        }
        self.served.push(offset, frame, &seg.name);
        self.expected = Some(offset + 1);
        self.report.commits += 1;
        self.report.last_offset = Some(offset);
    }
}
