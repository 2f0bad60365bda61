//! `S3LogStore`: the `LogStore` on S3-compatible object storage.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::{StreamExt, stream};
use interstice_log::codec::{SEGMENT_HEADER_LEN, SegmentHeader};
use interstice_log::scan::{SegmentFrames, scan_segment};
use interstice_log::{
    BadFrame, CommitBatch, CommitStream, Error, LogOptions, LogStore, PrefixReport, RecoveryReport,
    TruncateReport, VerifyReport,
};
use tokio::sync::Mutex;

use crate::config::S3Config;
use crate::objects::{Objects, Segment};
use crate::reader::Reader;
use crate::recovery::{recover, remove_leftovers};

/// A transaction log stored as objects under `s3://bucket/prefix`.
///
/// Each append is one object, written create-only: when another writer
/// already wrote that offset this store gets [`Error::Fenced`] and stops
/// writing. Appends from one store are serialized (one request in flight);
/// the runtime's group commit makes each one a batch. See `docs/s3.md`.
#[derive(Clone, Debug)]
pub struct S3LogStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    objects: Objects,
    opts: LogOptions,
    fetch_concurrency: usize,
    report: RecoveryReport,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    segments: Vec<Segment>,
    first_offset: u64,
    next_offset: u64,
    /// Set once another writer was seen: this store writes no more.
    fenced: Option<String>,
    /// An append whose outcome could not be learned (the server went away
    /// before answering and before it could be asked): resolved by reading
    /// the key back before anything else is appended.
    unresolved: Option<(Segment, Bytes, u64)>,
}

impl S3LogStore {
    /// Opens (with `opts.create`, creates) the log `config` names, running
    /// recovery. A writable open first checks that the server enforces
    /// create-only puts, and refuses (naming the problem) when it does not,
    /// unless `config.single_writer` is set.
    pub async fn open(config: S3Config, opts: LogOptions) -> Result<Self, Error> {
        opts.validate()?;
        let client = config.client()?;
        let objects = Objects::new(
            client,
            &config.prefix,
            config.location(),
            config.endpoint_name(),
        );
        if !objects.has_marker().await? {
            if !opts.create || opts.read_only {
                return Err(Error::NotFound {
                    location: config.location(),
                });
            }
            objects.create_marker().await?;
        }
        if !opts.read_only && !objects.probe_create_only().await? {
            if !config.single_writer {
                return Err(Error::InvalidOptions(format!(
                    "the S3 server behind {} ignores create-only puts (If-None-Match): two writers could overwrite each other's commits, and nothing would notice. Open it with the single-writer option only if you guarantee that no other process writes this log (docs/s3.md)",
                    config.location()
                )));
            }
            tracing::warn!(
                log = %config.location(),
                "the S3 server does not enforce create-only puts; writing under the operator's single-writer guarantee"
            );
        }
        let recovered = recover(&objects, &opts).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                objects,
                fetch_concurrency: config.fetch_concurrency.unwrap_or(8).max(1),
                opts,
                report: recovered.report,
                state: Mutex::new(State {
                    segments: recovered.segments,
                    first_offset: recovered.first_offset,
                    next_offset: recovered.next_offset,
                    fenced: None,
                    unresolved: None,
                }),
            }),
        })
    }

    /// What opening found and did.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    /// `s3://bucket/prefix`.
    pub fn location(&self) -> &str {
        &self.inner.objects.location
    }

    pub(crate) fn objects(&self) -> &Objects {
        &self.inner.objects
    }

    pub(crate) fn max_frame_size(&self) -> u64 {
        self.inner.opts.max_frame_size
    }

    pub(crate) fn check_writable(&self) -> Result<(), Error> {
        if self.inner.opts.read_only {
            return Err(Error::ReadOnly {
                location: self.location().to_owned(),
            });
        }
        Ok(())
    }

    /// After compaction: `run` is now served from `merged`.
    pub(crate) async fn replace_segments(&self, run: &[Segment], merged: Segment) {
        let mut state = self.inner.state.lock().await;
        let first = run[0].first_offset;
        let last = run[run.len() - 1].first_offset;
        if let Some(i) = state.segments.iter().position(|s| s.first_offset == first) {
            let j = state
                .segments
                .iter()
                .rposition(|s| s.first_offset == last)
                .unwrap_or(i);
            state.segments.splice(i..=j, [merged]);
        }
    }

    fn fenced(&self, detail: String) -> Error {
        Error::Fenced {
            location: self.location().to_owned(),
            detail,
        }
    }

    /// Settles an append whose outcome was unknown: its key read back, or
    /// its bytes put again when the key holds nothing yet (the lost PUT
    /// could still land), so that the commits are then certainly in the
    /// log or certainly another writer's.
    async fn resolve(&self, state: &mut State) -> Result<(), Error> {
        let Some((seg, body, next)) = state.unresolved.clone() else {
            return Ok(());
        };
        let ours = self
            .settle(&seg, &body)
            .await
            .map_err(|why| Error::OutcomeUnknown {
                first: seg.first_offset,
                last: next - 1,
                detail: format!(
                    "an earlier append to {} is still unsettled: {why}",
                    self.location()
                ),
            })?;
        state.unresolved = None;
        if !ours {
            return Err(self.fence(state, &seg));
        }
        state.segments.push(seg);
        state.next_offset = next;
        Ok(())
    }

    /// After a PUT of `body` under `seg`'s key failed without an answer:
    /// whether the key holds these bytes (`true`) or another writer's,
    /// made certain by putting the same bytes again (create-only) when it
    /// holds nothing yet, since the failed PUT may still land. `Err` says
    /// why the outcome is still not known.
    async fn settle(&self, seg: &Segment, body: &Bytes) -> Result<bool, String> {
        match self.read_back(seg, body).await {
            Ok(Stored::Absent) => {}
            Ok(s) => return Ok(matches!(s, Stored::Ours)),
            Err(e) => return Err(format!("reading the key back failed too ({e})")),
        }
        match self.inner.objects.create(&seg.name, body.clone()).await {
            Ok(true) => Ok(true),
            Ok(false) => match self.read_back(seg, body).await {
                Ok(s) => Ok(matches!(s, Stored::Ours)),
                Err(e) => Err(format!("reading the key back failed ({e})")),
            },
            Err(e) => Err(format!(
                "the key held nothing yet and putting the commits again failed too ({e})"
            )),
        }
    }

    /// Whose bytes the key of `seg` holds.
    async fn read_back(&self, seg: &Segment, body: &Bytes) -> Result<Stored, Error> {
        Ok(match self.inner.objects.get(&seg.name).await? {
            Some(stored) if stored == *body => Stored::Ours,
            Some(_) => Stored::Theirs,
            None => Stored::Absent,
        })
    }

    /// Another writer stored `seg`'s offset: this store writes no more.
    fn fence(&self, state: &mut State, seg: &Segment) -> Error {
        let detail = format!(
            "offset {} was written by another writer (object {})",
            seg.first_offset, seg.name
        );
        tracing::error!(log = %self.location(), "fenced: {detail}");
        state.fenced = Some(detail.clone());
        self.fenced(detail)
    }
}

/// What an append's key holds when it is read back.
enum Stored {
    /// This append's bytes: it succeeded.
    Ours,
    /// Someone else's: another writer.
    Theirs,
    /// Nothing: it was not stored.
    Absent,
}

/// Segment header and the batch's frames: the object's bytes.
fn object_bytes(batch: &CommitBatch, max_frame_size: u64) -> Bytes {
    let header = SegmentHeader::new(batch.first_offset(), max_frame_size).encode();
    let mut body = BytesMut::with_capacity(header.len() + batch.bytes().len());
    body.extend_from_slice(&header);
    body.extend_from_slice(batch.bytes());
    body.freeze()
}

#[async_trait]
impl LogStore for S3LogStore {
    async fn append(&self, batch: &CommitBatch) -> Result<(), Error> {
        let inner = &self.inner;
        if inner.opts.read_only {
            return Err(Error::ReadOnly {
                location: self.location().to_owned(),
            });
        }
        let mut state = inner.state.lock().await;
        if let Some(detail) = &state.fenced {
            return Err(self.fenced(detail.clone()));
        }
        self.resolve(&mut state).await?;
        batch.check(state.next_offset, inner.opts.max_frame_size)?;
        let seg = Segment::new(batch.first_offset());
        let body = object_bytes(batch, inner.opts.max_frame_size);
        let stored = match inner.objects.create(&seg.name, body.clone()).await {
            Ok(true) => Stored::Ours,
            // Taken: by an attempt of ours whose answer was lost and
            // retried, or by another writer.
            Ok(false) => match self.read_back(&seg, &body).await? {
                Stored::Absent => Stored::Theirs,
                s => s,
            },
            // The request may or may not have been applied, and may still
            // be applied later: only storing the same bytes under the key
            // now settles it.
            Err(e) => match self.settle(&seg, &body).await {
                Ok(true) => Stored::Ours,
                Ok(false) => Stored::Theirs,
                Err(why) => {
                    state.unresolved = Some((seg, body, batch.next_offset()));
                    return Err(Error::OutcomeUnknown {
                        first: batch.first_offset(),
                        last: batch.next_offset() - 1,
                        detail: format!(
                            "cannot append to {}: {e}; {why} (the store checks the key before its next append)",
                            self.location()
                        ),
                    });
                }
            },
        };
        if let Stored::Theirs = stored {
            return Err(self.fence(&mut state, &seg));
        }
        state.segments.push(seg);
        state.next_offset = batch.next_offset();
        Ok(())
    }

    async fn read_from(&self, from: u64) -> Result<CommitStream, Error> {
        let (segments, first, next) = {
            let s = self.inner.state.lock().await;
            (s.segments.clone(), s.first_offset, s.next_offset)
        };
        Error::check_offset(from, first, next)?;
        Ok(Reader::stream(
            self.inner.objects.clone(),
            segments,
            from,
            next,
            self.inner.opts.max_frame_size,
            self.inner.fetch_concurrency,
        ))
    }

    async fn last_offset(&self) -> Result<Option<u64>, Error> {
        let s = self.inner.state.lock().await;
        Ok(s.next_offset
            .checked_sub(1)
            .filter(|&o| o >= s.first_offset))
    }

    async fn first_offset(&self) -> Result<u64, Error> {
        Ok(self.inner.state.lock().await.first_offset)
    }

    async fn remove_before(&self, before: u64) -> Result<PrefixReport, Error> {
        self.check_writable()?;
        let objects = &self.inner.objects;
        let mut state = self.inner.state.lock().await;
        if let Some(detail) = &state.fenced {
            return Err(self.fenced(detail.clone()));
        }
        let empty = state.next_offset == state.first_offset;
        let first = if empty && before >= state.first_offset {
            before
        } else {
            Error::check_offset(before, state.first_offset, state.next_offset)?;
            // Whole segments before `before`; the last always stays.
            let n = state
                .segments
                .windows(2)
                .take_while(|w| w[1].first_offset <= before)
                .count();
            if n == 0 {
                return Ok(PrefixReport {
                    first_offset: state.first_offset,
                    ..PrefixReport::default()
                });
            }
            state.segments[n].first_offset
        };
        // The marker first: a crash after it leaves objects that every
        // reader ignores and the next writer deletes.
        objects.write_start(first).await?;
        state.first_offset = first;
        if empty {
            state.next_offset = first;
        }
        let removed = remove_leftovers(objects, first).await?;
        state.segments.retain(|s| s.first_offset >= first);
        Ok(PrefixReport {
            first_offset: first,
            bytes: removed.iter().map(|s| s.size).sum(),
            removed: removed.into_iter().map(|s| s.name).collect(),
        })
    }

    async fn verify(&self) -> Result<VerifyReport, Error> {
        let objects = &self.inner.objects;
        let max = self.inner.opts.max_frame_size;
        let segments = objects.list_segments().await?;
        let mut report = VerifyReport {
            segments: segments.len() as u64,
            ..VerifyReport::default()
        };
        let mut fetched = stream::iter(segments)
            .map(|seg| async move {
                let bytes = objects.fetch(&seg.name).await;
                (seg, bytes)
            })
            .buffered(self.inner.fetch_concurrency);
        let mut expected: Option<u64> = None;
        // Where a hole began: stubs with no commits (a lost merged segment)
        // extend it, and it is reported once, before the next segment that
        // has commits.
        let mut hole: Option<u64> = None;
        while let Some((seg, bytes)) = fetched.next().await {
            let bytes = bytes?;
            report.bytes += bytes.len() as u64;
            if let Some(e) = expected
                && seg.first_offset != e
            {
                hole.get_or_insert(e);
            }
            let scan = scan_segment(&seg.name, &bytes, seg.first_offset, max);
            if scan.commits > 0
                && let Some(from) = hole.take()
            {
                report
                    .bad
                    .push(BadFrame::missing(&seg.name, from, seg.first_offset));
            }
            report.commits += scan.commits;
            if scan.last_offset.is_some() {
                report.last_offset = scan.last_offset;
            }
            expected = Some(scan.last_offset.map_or(seg.first_offset, |o| o + 1));
            report.bad.extend(scan.bad);
        }
        if let Some(from) = hole {
            let end = expected.unwrap_or(from);
            report
                .bad
                .push(BadFrame::missing("(end of log)", from, end.max(from + 1)));
        }
        Ok(report)
    }

    async fn truncate(&self, from: u64) -> Result<TruncateReport, Error> {
        let inner = &self.inner;
        if inner.opts.read_only {
            return Err(Error::ReadOnly {
                location: self.location().to_owned(),
            });
        }
        let mut state = inner.state.lock().await;
        self.resolve(&mut state).await?;
        let mut report = TruncateReport::start(from, state.first_offset, state.next_offset)?;
        if report.removed == 0 {
            return Ok(report);
        }
        // Every object from `from` on (stubs too, which would block the
        // appends of their offsets), from the end, so a failure part-way
        // leaves a shorter log.
        let objects = &inner.objects;
        let all = objects.list_all().await?;
        for seg in all.iter().rev().filter(|s| s.first_offset >= from) {
            if seg.size as usize > SEGMENT_HEADER_LEN {
                let bytes = objects.fetch(&seg.name).await?;
                report
                    .quarantined
                    .push(objects.quarantine(&seg.name, 0, bytes).await?);
            }
            objects.delete(&seg.name).await?;
        }
        state.segments.retain(|s| s.first_offset < from);
        // The segment holding `from`: keep the frames before it.
        if let Some(seg) = state.segments.pop() {
            let bytes = objects.fetch(&seg.name).await?;
            let mut frames = SegmentFrames::at(
                &seg.name,
                bytes.clone(),
                seg.start_pos,
                seg.start_offset,
                inner.opts.max_frame_size,
            );
            while frames.next_offset() < from {
                match frames.next() {
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e),
                    None => break,
                }
            }
            let pos = frames.position();
            let mut kept = seg.clone();
            if pos < bytes.len() {
                report.quarantined.push(
                    objects
                        .quarantine(&seg.name, pos as u64, bytes.slice(pos..))
                        .await?,
                );
                match seg.last_offset {
                    None => objects.overwrite(&seg.name, bytes.slice(..pos)).await?,
                    Some(_) => {
                        // A compacted segment is named by its range.
                        kept = Segment {
                            start_pos: seg.start_pos,
                            start_offset: seg.start_offset,
                            ..Segment::compacted(seg.first_offset, from - 1)
                        };
                        objects.overwrite(&kept.name, bytes.slice(..pos)).await?;
                        objects.delete(&seg.name).await?;
                    }
                }
            }
            state.segments.push(kept);
        }
        state.next_offset = from;
        Ok(report)
    }
}
