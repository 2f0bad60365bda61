//! The durability pipeline: group commit.
//!
//! The runtime hands each commit over in offset order; one task appends
//! whatever has queued up since the previous append as one batch (one
//! write and one sync, or one object), then tells every waiting caller.
//! While an append is in flight the next batch fills, so concurrent callers
//! share syncs. A store that takes several appends at once (S3: objects
//! written concurrently) gets up to its `max_in_flight` batches under way;
//! callers are still told in offset order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use interstice_log::{Commit, CommitBatch, Error as LogError, LogStore, PendingAppend};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Called once the commit is durable, or with the store's error.
pub(crate) type Done = Box<dyn FnOnce(Result<(), Arc<LogError>>) + Send>;

struct Pending {
    commit: Commit,
    done: Done,
}

/// What the pipeline task receives. Nearly every message is a commit,
/// and the channel's slots are as large as its largest message anyway:
/// boxing the commit would only add an allocation per commit.
#[allow(clippy::large_enum_variant)]
enum Msg {
    Commit(Pending),
    /// Append what came before, release the store, then answer.
    Close(oneshot::Sender<()>),
}

/// Handle to the pipeline task.
pub(crate) struct Pipeline {
    tx: mpsc::UnboundedSender<Msg>,
    durable: watch::Receiver<Durable>,
    feed: broadcast::Sender<DurableCommits>,
    stats: Arc<Counters>,
    /// A follower's pipeline appends nothing: [`Pipeline::delivered`]
    /// reports what another process made durable.
    external: Option<watch::Sender<Durable>>,
}

/// Commits that just became durable, in offset order (one append's worth).
pub type DurableCommits = Arc<Vec<Commit>>;

/// How many appended batches each follower of the log may fall behind
/// before it is dropped (it then sees `Lagged`).
const FEED_CAPACITY: usize = 1024;

/// Upper bounds of the batch-size histogram's buckets (the last bucket
/// takes the rest).
pub const BATCH_SIZE_BOUNDS: [u64; 13] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];

/// What the pipeline counts, updated as appends finish.
#[derive(Default)]
pub(crate) struct Counters {
    commits: AtomicU64,
    bytes: AtomicU64,
    appends: AtomicU64,
    append_micros: AtomicU64,
    append_latency: crate::observe::Histogram,
    append_errors: AtomicU64,
    batch_sizes: [AtomicU64; BATCH_SIZE_BOUNDS.len() + 1],
    durable_upto: AtomicU64,
}

/// Where the pipeline task reports progress.
struct Outputs {
    durable: watch::Sender<Durable>,
    feed: broadcast::Sender<DurableCommits>,
    stats: Arc<Counters>,
}

/// The durability pipeline's counters since the runtime started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogStats {
    /// Commits made durable.
    pub commits: u64,
    /// Bytes of commit frames made durable.
    pub bytes: u64,
    /// Successful appends (batches).
    pub appends: u64,
    /// Time spent in successful appends, in microseconds.
    pub append_micros: u64,
    /// How long successful appends took, from the store's start to its
    /// acknowledgement.
    pub append_latency: crate::observe::HistogramSample,
    /// Appends that failed (the first stops the runtime).
    pub append_errors: u64,
    /// Batches per size bucket: `batch_sizes[i]` counts batches of at most
    /// `BATCH_SIZE_BOUNDS[i]` commits (and more than the bound before);
    /// the last entry counts larger ones.
    pub batch_sizes: Vec<u64>,
    /// Every commit before this offset is durable.
    pub durable_upto: u64,
    /// Calls executed and not yet durable (at most
    /// `RuntimeConfig::max_pending`).
    pub pending: u64,
}

impl Counters {
    fn appended(&self, commits: usize, bytes: usize, took: Duration, next: u64) {
        self.durable_upto.store(next, Relaxed);
        self.commits.fetch_add(commits as u64, Relaxed);
        self.bytes.fetch_add(bytes as u64, Relaxed);
        self.appends.fetch_add(1, Relaxed);
        self.append_micros
            .fetch_add(took.as_micros() as u64, Relaxed);
        self.append_latency.observe(took.as_micros() as u64);
        let bucket = BATCH_SIZE_BOUNDS.partition_point(|&b| b < commits as u64);
        self.batch_sizes[bucket].fetch_add(1, Relaxed);
    }
}

/// How far the log is durable, or why it stopped.
#[derive(Clone, Debug)]
pub(crate) enum Durable {
    /// Every commit up to this offset (exclusive) is durable.
    Upto(u64),
    /// An append failed: nothing after the last durable offset will be.
    Failed,
}

impl Pipeline {
    /// Starts the pipeline on `store`, whose next offset is `next`.
    pub(crate) fn start(store: Arc<dyn LogStore>, next: u64, max_batch: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (durable_tx, durable) = watch::channel(Durable::Upto(next));
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let stats = Arc::new(Counters::default());
        stats.durable_upto.store(next, Relaxed);
        let out = Outputs {
            durable: durable_tx,
            feed: feed.clone(),
            stats: stats.clone(),
        };
        tokio::spawn(run(store, rx, out, max_batch.max(1)));
        Self {
            tx,
            durable,
            feed,
            stats,
            external: None,
        }
    }

    /// A pipeline that appends nothing, for a follower: the log is written
    /// by another process, durable up to `next` so far, and what becomes
    /// durable later is handed to [`Pipeline::delivered`]. Submissions
    /// fail (a follower refuses calls before that).
    pub(crate) fn external(next: u64) -> Self {
        let (tx, _) = mpsc::unbounded_channel();
        let (durable_tx, durable) = watch::channel(Durable::Upto(next));
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let stats = Arc::new(Counters::default());
        stats.durable_upto.store(next, Relaxed);
        Self {
            tx,
            durable,
            feed,
            stats,
            external: Some(durable_tx),
        }
    }

    /// Reports `commits` (consecutive, next in the log, `bytes` of frames)
    /// durable, as an append of them would: to the durability watchers,
    /// the followers and the counters.
    pub(crate) fn delivered(&self, commits: Vec<Commit>, bytes: usize, took: Duration) {
        let (Some(durable), Some(last)) = (&self.external, commits.last()) else {
            return;
        };
        let next = last.offset + 1;
        self.stats.appended(commits.len(), bytes, took, next);
        durable.send_replace(Durable::Upto(next));
        if self.feed.receiver_count() > 0 {
            let _ = self.feed.send(Arc::new(commits));
        }
    }

    /// Receives every batch of commits that becomes durable from now on.
    pub(crate) fn follow(&self) -> broadcast::Receiver<DurableCommits> {
        self.feed.subscribe()
    }

    /// The counters so far, with `pending` (which the runtime counts).
    pub(crate) fn stats(&self, pending: u64) -> LogStats {
        let c = &self.stats;
        LogStats {
            commits: c.commits.load(Relaxed),
            bytes: c.bytes.load(Relaxed),
            appends: c.appends.load(Relaxed),
            append_micros: c.append_micros.load(Relaxed),
            append_latency: c.append_latency.sample(),
            append_errors: c.append_errors.load(Relaxed),
            batch_sizes: c.batch_sizes.iter().map(|b| b.load(Relaxed)).collect(),
            durable_upto: c.durable_upto.load(Relaxed),
            pending,
        }
    }

    /// Queues `commit` (the next offset) for appending; `done` runs when
    /// it is durable or failed.
    pub(crate) fn submit(&self, commit: Commit, done: Done) {
        if let Err(mpsc::error::SendError(Msg::Commit(p))) =
            self.tx.send(Msg::Commit(Pending { commit, done }))
        {
            let err = LogError::Backend {
                message: "the log pipeline has stopped".into(),
                source: None,
            };
            (p.done)(Err(Arc::new(err)));
        }
    }

    /// Appends every commit submitted before this call, then stops the
    /// task and drops the store (releasing its lock). Later submissions
    /// fail.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Close(tx)).is_ok() {
            let _ = rx.await;
        }
    }

    /// Watches durability progress.
    pub(crate) fn durable(&self) -> watch::Receiver<Durable> {
        self.durable.clone()
    }
}

/// Most yields spent gathering one batch.
const MAX_LINGER: u32 = 256;

/// Yields in a row that bring no commit before the batch goes.
const IDLE_YIELDS: u32 = 3;

/// Appends at least this slow make gathering batches worth some yields.
const LINGER_WHEN_APPENDS_TAKE: Duration = Duration::from_micros(300);

/// The pipeline's task: gathers a batch, starts appending it, and tells
/// each batch's callers once the store acknowledges it (in offset order),
/// with up to the store's [`LogStore::max_in_flight`] batches under way at
/// once; after a failed append, fails everything after it.
///
/// A batch goes at once when nothing is under way. While appends are under
/// way, another one starts only when the commits waiting would fill a
/// batch as large as the last one started: callers that wait for their
/// answers (the usual case) then share one append, as with one at a time,
/// instead of splitting into many small ones that cost the store more
/// work; commits arriving faster than one append at a time carries them
/// get appends of their own.
async fn run(
    store: Arc<dyn LogStore>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    out: Outputs,
    max_batch: usize,
) {
    let max_in_flight = store.max_in_flight().max(1);
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut failed: Option<Arc<LogError>> = None;
    let mut closing = None;
    let mut open = true;
    let mut last_append = Duration::ZERO;
    loop {
        let worth = match in_flight.back() {
            None => 1,
            Some(last) => last.pending.len().clamp(1, max_batch),
        };
        let go = !queue.is_empty()
            && in_flight.len() < max_in_flight
            && (queue.len() >= worth || closing.is_some() || !open);
        if go {
            if in_flight.is_empty() {
                let linger = last_append >= LINGER_WHEN_APPENDS_TAKE;
                gather(&mut queue, &mut rx, max_batch, linger, &mut closing).await;
            }
            let n = queue.len().min(max_batch);
            let pending: Vec<Pending> = queue.drain(..n).collect();
            if let Some(err) = &failed {
                // Nothing after a failed append may become durable out of
                // order. These commits were never written: they are
                // certainly not in the log, whatever became of the failed
                // one.
                let stopped = Arc::new(LogError::Poisoned {
                    reason: err.to_string(),
                });
                for p in pending {
                    (p.done)(Err(stopped.clone()));
                }
                continue;
            }
            match start(&*store, pending).await {
                Ok(f) => in_flight.push_back(f),
                Err((pending, e)) => fail(pending, e, &out, &mut failed),
            }
            continue;
        }
        let receiving = open && closing.is_none();
        let msg = match in_flight.front_mut() {
            None if !receiving => break,
            None => rx.recv().await,
            Some(oldest) if receiving => tokio::select! {
                biased;
                result = &mut oldest.ack => {
                    let done = in_flight.pop_front().expect("the oldest");
                    last_append = done.started.elapsed();
                    finish(done, result, &out, &mut failed);
                    continue;
                }
                msg = rx.recv() => msg,
            },
            Some(oldest) => {
                let result = (&mut oldest.ack).await;
                let done = in_flight.pop_front().expect("the oldest");
                last_append = done.started.elapsed();
                finish(done, result, &out, &mut failed);
                continue;
            }
        };
        match msg {
            // Every sender is gone: append what is queued, drain what is
            // under way, then stop.
            None => open = false,
            Some(Msg::Close(reply)) => closing = Some(reply),
            Some(Msg::Commit(p)) => {
                queue.push_back(p);
                take_queued(&mut queue, &mut rx, max_batch * max_in_flight, &mut closing);
            }
        }
    }
    // The writer is done (shut down, or every sender gone): give up what
    // the store holds for writing, such as an S3 writer lease.
    if let Err(e) = store.release().await {
        tracing::warn!("cannot release the log: {e}");
    }
    drop(store);
    if let Some(reply) = closing {
        let _ = reply.send(());
    }
}

/// Moves what the channel holds into `queue`, up to `limit` commits; a
/// close request stops it and is left in `closing`.
fn take_queued(
    queue: &mut VecDeque<Pending>,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    limit: usize,
    closing: &mut Option<oneshot::Sender<()>>,
) {
    while closing.is_none() && queue.len() < limit {
        match rx.try_recv() {
            Ok(Msg::Commit(p)) => queue.push_back(p),
            Ok(Msg::Close(reply)) => *closing = Some(reply),
            Err(_) => break,
        }
    }
}

/// A batch whose append is under way.
struct InFlight {
    ack: PendingAppend,
    pending: Vec<Pending>,
    next: u64,
    bytes: usize,
    started: Instant,
}

/// Fills `queue` towards a batch. Callers woken by the previous batch are
/// still running their next calls. When appends are slow (`linger`: a
/// PUT, a slow disk), yield to them while that brings more commits, so one
/// append carries them all instead of the first one or two. When appends
/// are fast, the yields would only take CPU from them. A close request
/// ends the batch and is left in `closing`.
async fn gather(
    queue: &mut VecDeque<Pending>,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    max_batch: usize,
    linger: bool,
    closing: &mut Option<oneshot::Sender<()>>,
) {
    let mut lingered = 0;
    let mut idle = 0;
    loop {
        let before = queue.len();
        take_queued(queue, rx, max_batch, closing);
        idle = if queue.len() > before { 0 } else { idle + 1 };
        if closing.is_some()
            || queue.len() >= max_batch
            || !linger
            || idle > IDLE_YIELDS
            || lingered == MAX_LINGER
        {
            return;
        }
        lingered += 1;
        tokio::task::yield_now().await;
    }
}

/// Encodes `pending` as one batch and starts appending it.
async fn start(
    store: &dyn LogStore,
    pending: Vec<Pending>,
) -> Result<InFlight, (Vec<Pending>, LogError)> {
    let started = Instant::now();
    let mut batch = CommitBatch::new(pending[0].commit.offset);
    let encoded = pending
        .iter()
        .try_for_each(|p| batch.push(&p.commit).map(drop));
    let ack = match encoded {
        Ok(()) => store.start_append(&batch).await,
        Err(e) => Err(e),
    };
    match ack {
        Ok(ack) => Ok(InFlight {
            ack,
            pending,
            next: batch.next_offset(),
            bytes: batch.bytes().len(),
            started,
        }),
        Err(e) => Err((pending, e)),
    }
}

/// Tells a batch's callers its append's outcome: on success also the
/// durability watchers and the followers. The first failure is kept in
/// `failed`.
fn finish(
    done: InFlight,
    result: Result<(), LogError>,
    out: &Outputs,
    failed: &mut Option<Arc<LogError>>,
) {
    if let Err(e) = result {
        return fail(done.pending, e, out, failed);
    }
    out.stats.appended(
        done.pending.len(),
        done.bytes,
        done.started.elapsed(),
        done.next,
    );
    out.durable.send_replace(Durable::Upto(done.next));
    // Followers get the commits only when someone listens.
    let keep = out.feed.receiver_count() > 0;
    let mut commits = Vec::new();
    for p in done.pending {
        (p.done)(Ok(()));
        if keep {
            commits.push(p.commit);
        }
    }
    if keep {
        let _ = out.feed.send(Arc::new(commits));
    }
}

/// Tells the callers of a batch whose append failed; the first failure is
/// kept in `failed`, and the log is durable no further.
fn fail(pending: Vec<Pending>, e: LogError, out: &Outputs, failed: &mut Option<Arc<LogError>>) {
    let first = pending[0].commit.offset;
    tracing::error!(
        "appending commits {first}..{} failed: {e}",
        first + pending.len() as u64
    );
    let e = Arc::new(e);
    for p in pending {
        (p.done)(Err(e.clone()));
    }
    out.stats.append_errors.fetch_add(1, Relaxed);
    out.durable.send_replace(Durable::Failed);
    failed.get_or_insert(e);
}
