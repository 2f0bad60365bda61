//! `S3LogStore`: the `LogStore` on S3-compatible object storage.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use bytes::Bytes;
use interstice_log::codec::SEGMENT_HEADER_LEN;
use interstice_log::epochs::{EpochCheck, EpochStarts};
use interstice_log::scan::SegmentFrames;
use interstice_log::{
    Commit, CommitBatch, CommitStream, Error, Invocation, LogOptions, LogStore, PendingAppend,
    PrefixReport, RecoveryReport, TAKE_OVER_INVOCATION, TruncateReport, VerifyReport,
};
use tokio::sync::{Mutex, MutexGuard, watch};

use crate::append::Unsettled;
use crate::config::DEFAULT_INFLIGHT;
use crate::config::{S3Config, WriterLease};
use crate::lease::holder_id;
use crate::objects::{Objects, Segment};
use crate::reader::Reader;
use crate::recovery::{recover, remove_leftovers};
use crate::writer_lease::{self, Holding};

/// A transaction log stored as objects under `s3://bucket/prefix`.
///
/// Each append is one object, written create-only: when another writer
/// already wrote that offset this store gets [`Error::Fenced`] and stops
/// writing. Up to [`S3Config::inflight`] appends are in flight at once,
/// acknowledged in offset order (see `append.rs` and `docs/s3.md`); the
/// runtime's group commit makes each one a batch.
#[derive(Clone, Debug)]
pub struct S3LogStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    objects: Objects,
    opts: LogOptions,
    fetch_concurrency: usize,
    /// Appends in flight at most.
    inflight: usize,
    /// Every append before this offset is decided (acknowledged or
    /// failed): an append in flight waits for it to reach its own first
    /// offset before it is decided in turn.
    turn: watch::Sender<u64>,
    report: RecoveryReport,
    /// The writer lease, while this store holds it.
    holding: Mutex<Option<Holding>>,
    /// Set when another process took the writer lease from this store: it
    /// writes no more.
    lease_lost: Arc<OnceLock<String>>,
    state: Mutex<State>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub segments: Vec<Segment>,
    pub first_offset: u64,
    /// After the last acknowledged commit.
    pub next_offset: u64,
    /// After the last commit of the appends started (acknowledged or
    /// not): where the next one must start.
    pub reserved: u64,
    /// Appends started and not decided yet.
    pub in_flight: usize,
    /// Set once another writer was seen: this store writes no more.
    pub fenced: Option<String>,
    /// Appends whose outcome could not be learned (the server went away
    /// before answering and before it could be asked, or one before them
    /// did), in offset order: settled by reading their keys back before
    /// anything else is appended.
    pub unresolved: Vec<Unsettled>,
    /// This writer's epoch (0 when opened read-only).
    pub epoch: u64,
    /// Where each writer epoch began, as listed at open, plus this one's
    /// once it appended: what reads check commits against.
    pub starts: EpochStarts,
    /// This epoch's first commit, once appended, while its start is not
    /// recorded yet (recording failed: it is tried again before the next
    /// append).
    pub unrecorded_start: Option<u64>,
    /// Whether this epoch appended anything yet.
    pub appended: bool,
    /// Objects recovery set aside (copied to quarantine) but left in
    /// place: deleted after this writer's first append (`holes.rs`).
    pub leftovers: Vec<Segment>,
}

impl S3LogStore {
    /// Opens (with `opts.create`, creates) the log `config` names, running
    /// recovery. A writable open first checks that the server enforces
    /// create-only puts, and refuses (naming the problem) when it does not,
    /// unless `config.single_writer` is set; it refuses while another
    /// process holds the writer lease ([`Error::InUse`]) unless
    /// `config.writer_lease` or `config.take_over` say otherwise; it then
    /// takes a new writer epoch. With `take_over` it also appends a
    /// take-over commit (see [`TAKE_OVER_INVOCATION`]), so the writer it
    /// replaces is fenced at its next append.
    pub async fn open(config: S3Config, opts: LogOptions) -> Result<Self, Error> {
        opts.validate()?;
        let mut attempt = 0;
        loop {
            let store = Self::open_once(&config, opts.clone()).await?;
            if opts.read_only || !config.take_over {
                return Ok(store);
            }
            match store.append_take_over().await {
                Ok(()) => return Ok(store),
                // The writer it replaces got the offset first: read what
                // it wrote, and try again at the new end.
                Err(Error::Fenced { .. }) if attempt < 5 => attempt += 1,
                Err(e) => return Err(e),
            }
        }
    }

    async fn open_once(config: &S3Config, opts: LogOptions) -> Result<Self, Error> {
        let client = config.client()?;
        let objects = Objects::new(
            client,
            &config.prefix,
            config.location(),
            config.endpoint_name(),
        );
        // One listing tells nearly everything opening needs.
        let mut survey = objects.survey().await?;
        if !survey.marker {
            if !opts.create || opts.read_only {
                return Err(Error::NotFound {
                    location: config.location(),
                });
            }
            objects.create_marker().await?;
        }
        let create_only = !opts.read_only && objects.probe_create_only().await?;
        if !opts.read_only && !create_only {
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
        // Before recovery, which may cut a tail: that is writing too.
        if !opts.read_only
            && !config.take_over
            && config.writer_lease != WriterLease::Ignore
            && survey.writer_lease
            && writer_lease::check(&objects).await?
        {
            survey = objects.survey().await?;
        }
        let listed = survey.epochs;
        let starts = listed.starts();
        let window = listed.last_window();
        let recovered = recover(
            &objects,
            &opts,
            &starts,
            window,
            create_only,
            survey.segments,
            survey.start,
        )
        .await?;
        let lease_lost = Arc::new(OnceLock::new());
        let (epoch, holding) = if opts.read_only {
            (0, None)
        } else {
            let (seen, first) = (recovered.last_epoch, recovered.first_offset);
            let epoch = objects.take_epoch(&listed, seen, first).await?;
            tracing::debug!(log = %config.location(), epoch, "took writer epoch");
            let node = match &config.writer_lease {
                WriterLease::Hold { node } => Some(node.clone()),
                _ if config.take_over => Some(None),
                _ => None,
            };
            let holding = match node {
                // The check above found no live holder, or this is a
                // take-over.
                Some(node) => Some(Holding::take(&objects, epoch, node, lease_lost.clone()).await?),
                None => None,
            };
            (epoch, holding)
        };
        Ok(Self {
            inner: Arc::new(Inner {
                objects,
                fetch_concurrency: config.fetch_concurrency.unwrap_or(8).max(1),
                inflight: config.inflight.unwrap_or(DEFAULT_INFLIGHT).max(1),
                turn: watch::Sender::new(recovered.next_offset),
                opts,
                report: recovered.report,
                holding: Mutex::new(holding),
                lease_lost,
                state: Mutex::new(State {
                    segments: recovered.segments,
                    first_offset: recovered.first_offset,
                    next_offset: recovered.next_offset,
                    reserved: recovered.next_offset,
                    in_flight: 0,
                    fenced: None,
                    unresolved: Vec::new(),
                    epoch,
                    starts,
                    unrecorded_start: None,
                    appended: false,
                    leftovers: recovered.leftovers,
                }),
            }),
        })
    }

    /// Appends the take-over commit at the log's end.
    async fn append_take_over(&self) -> Result<(), Error> {
        let next = self.inner.state.lock().await.next_offset;
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let commit = Commit {
            offset: next,
            timestamp: micros,
            cause: None,
            invocation: Invocation {
                module: String::new(),
                reducer: TAKE_OVER_INVOCATION.into(),
                args: Bytes::from(holder_id()),
                request_id: None,
                timing: None,
                scheduled: None,
            },
            mutations: Vec::new(),
        };
        let mut batch = CommitBatch::new(next);
        batch.push(&commit)?;
        self.append(&batch).await?;
        tracing::warn!(log = %self.location(), offset = next, "took the log over: the previous writer is fenced at its next append");
        Ok(())
    }

    /// What opening found and did.
    pub fn recovery_report(&self) -> &RecoveryReport {
        &self.inner.report
    }

    /// This writer's epoch: taken at open, stamped into every commit it
    /// appends (`None` when opened read-only). See `docs/s3.md`.
    pub async fn epoch(&self) -> Option<u64> {
        let e = self.inner.state.lock().await.epoch;
        (e > 0).then_some(e)
    }

    /// The writer lease as it stands now: who writes the log, and where
    /// it answers calls (`None` when no writer holds one).
    pub async fn writer(&self) -> Result<Option<crate::LeaseInfo>, Error> {
        self.inner.objects.read_lease("writer").await
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

    pub(crate) async fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().await
    }

    /// Watches how far appends are decided.
    pub(crate) fn turn(&self) -> watch::Receiver<u64> {
        self.inner.turn.subscribe()
    }

    /// Every append before `upto` is decided.
    pub(crate) fn pass_turn(&self, upto: u64) {
        self.inner.turn.send_replace(upto);
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

    /// [`Error::Fenced`] once another writer was seen, or took the writer
    /// lease.
    pub(crate) fn check_not_fenced(&self, state: &State) -> Result<(), Error> {
        match (&state.fenced, self.inner.lease_lost.get()) {
            (Some(detail), _) | (None, Some(detail)) => Err(self.fenced(detail.clone())),
            (None, None) => Ok(()),
        }
    }

    pub(crate) fn fenced(&self, detail: String) -> Error {
        Error::Fenced {
            location: self.location().to_owned(),
            detail,
        }
    }
}

#[async_trait]
impl LogStore for S3LogStore {
    async fn append(&self, batch: &CommitBatch) -> Result<(), Error> {
        self.start(batch).await?.await
    }

    fn max_in_flight(&self) -> usize {
        self.inner.inflight
    }

    async fn start_append(&self, batch: &CommitBatch) -> Result<PendingAppend, Error> {
        self.start(batch).await
    }

    async fn read_from(&self, from: u64) -> Result<CommitStream, Error> {
        let (segments, first, next, starts) = {
            let s = self.inner.state.lock().await;
            (
                s.segments.clone(),
                s.first_offset,
                s.next_offset,
                s.starts.clone(),
            )
        };
        Error::check_offset(from, first, next)?;
        Ok(Reader::stream(
            self.inner.objects.clone(),
            segments,
            from..next,
            EpochCheck::new(starts),
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
        self.check_not_fenced(&state)?;
        // Nothing appended, nor under way.
        let empty = state.reserved == state.first_offset;
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
            state.reserved = first;
            self.pass_turn(first);
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
        let inner = &self.inner;
        crate::verify::verify(
            &inner.objects,
            inner.opts.max_frame_size,
            inner.fetch_concurrency,
        )
        .await
    }

    async fn truncate(&self, from: u64) -> Result<TruncateReport, Error> {
        let inner = &self.inner;
        if inner.opts.read_only {
            return Err(Error::ReadOnly {
                location: self.location().to_owned(),
            });
        }
        let mut state = self.settled().await;
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
        state.reserved = from;
        self.pass_turn(from);
        Ok(report)
    }

    /// A read-only store lists the objects after the last one it knows
    /// and takes those that continue the log (up to a gap: an append may
    /// be in flight), fetching the last to learn where it ends; it re-reads
    /// the writer epochs when that one carries a new epoch. A writable
    /// store learns nothing: it is the writer.
    async fn refresh(&self) -> Result<u64, Error> {
        let inner = &self.inner;
        let (last, next, starts) = {
            let s = inner.state.lock().await;
            if !inner.opts.read_only {
                return Ok(s.next_offset);
            }
            (s.segments.last().cloned(), s.next_offset, s.starts.clone())
        };
        let (max, objects) = (inner.opts.max_frame_size, &inner.objects);
        let grown = crate::tail::grown(objects, last.as_ref(), next, max, &starts).await?;
        let mut s = inner.state.lock().await;
        // Another refresh may have got there first.
        if s.next_offset == next {
            s.segments.extend(grown.segments);
            s.next_offset = grown.next;
            s.starts = grown.starts;
        }
        Ok(s.next_offset)
    }

    async fn release(&self) -> Result<(), Error> {
        let holding = self.inner.holding.lock().await.take();
        match holding {
            Some(h) => h.release(&self.inner.objects).await,
            None => Ok(()),
        }
    }
}
