//! The durability pipeline: group commit.
//!
//! The runtime hands each commit over in offset order; one task appends
//! whatever has queued up since the previous append as one batch (one
//! write and one sync, or one object), then tells every waiting caller.
//! While an append is in flight the next batch fills, so concurrent callers
//! share syncs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use interstice_log::{Commit, CommitBatch, Error as LogError, LogStore};
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Called once the commit is durable, or with the store's error.
pub(crate) type Done = Box<dyn FnOnce(Result<(), Arc<LogError>>) + Send>;

struct Pending {
    commit: Commit,
    done: Done,
}

/// What the pipeline task receives.
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

/// The pipeline's task: gathers a batch, appends it, tells its callers;
/// after a failed append, fails everything after it.
async fn run(
    store: Arc<dyn LogStore>,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    out: Outputs,
    max_batch: usize,
) {
    let mut failed: Option<Arc<LogError>> = None;
    let mut closing = None;
    let mut last_append = Duration::ZERO;
    while closing.is_none() {
        let first = match rx.recv().await {
            None => break,
            Some(Msg::Close(reply)) => {
                closing = Some(reply);
                break;
            }
            Some(Msg::Commit(p)) => p,
        };
        let linger = last_append >= LINGER_WHEN_APPENDS_TAKE;
        let pending = gather(first, &mut rx, max_batch, linger, &mut closing).await;
        if let Some(err) = &failed {
            // Nothing after a failed append may become durable out of
            // order. These commits were never written: they are certainly
            // not in the log, whatever became of the failed one.
            let stopped = Arc::new(LogError::Poisoned {
                reason: err.to_string(),
            });
            for p in pending {
                (p.done)(Err(stopped.clone()));
            }
            continue;
        }
        let started = Instant::now();
        let result = append(&*store, pending, &out).await;
        last_append = started.elapsed();
        if let Err(e) = result {
            failed = Some(e);
        }
    }
    drop(store);
    if let Some(reply) = closing {
        let _ = reply.send(());
    }
}

/// Gathers a batch after `first`. Callers woken by the previous batch are
/// still running their next calls. When appends are slow (`linger`: a
/// PUT, a slow disk), yield to them while that brings more commits, so one
/// append carries them all instead of the first one or two. When appends
/// are fast, the yields would only take CPU from them. A close request
/// ends the batch and is left in `closing`.
async fn gather(
    first: Pending,
    rx: &mut mpsc::UnboundedReceiver<Msg>,
    max_batch: usize,
    linger: bool,
    closing: &mut Option<oneshot::Sender<()>>,
) -> Vec<Pending> {
    let mut pending = vec![first];
    let mut lingered = 0;
    let mut idle = 0;
    loop {
        let before = pending.len();
        while pending.len() < max_batch {
            match rx.try_recv() {
                Ok(Msg::Commit(p)) => pending.push(p),
                Ok(Msg::Close(reply)) => {
                    *closing = Some(reply);
                    break;
                }
                Err(_) => break,
            }
        }
        idle = if pending.len() > before { 0 } else { idle + 1 };
        if closing.is_some()
            || pending.len() >= max_batch
            || !linger
            || idle > IDLE_YIELDS
            || lingered == MAX_LINGER
        {
            return pending;
        }
        lingered += 1;
        tokio::task::yield_now().await;
    }
}

/// Appends one batch and tells its callers the outcome: on success also
/// the durability watchers and the followers.
async fn append(
    store: &dyn LogStore,
    pending: Vec<Pending>,
    out: &Outputs,
) -> Result<(), Arc<LogError>> {
    let started = Instant::now();
    let mut batch = CommitBatch::new(pending[0].commit.offset);
    let encoded = pending
        .iter()
        .try_for_each(|p| batch.push(&p.commit).map(drop));
    let result = match encoded {
        Ok(()) => store.append(&batch).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        tracing::error!(
            "appending commits {}..{} failed: {e}",
            batch.first_offset(),
            batch.next_offset()
        );
        let e = Arc::new(e);
        for p in pending {
            (p.done)(Err(e.clone()));
        }
        out.stats.append_errors.fetch_add(1, Relaxed);
        out.durable.send_replace(Durable::Failed);
        return Err(e);
    }
    out.stats.appended(
        pending.len(),
        batch.bytes().len(),
        started.elapsed(),
        batch.next_offset(),
    );
    out.durable.send_replace(Durable::Upto(batch.next_offset()));
    // Followers get the commits only when someone listens.
    let keep = out.feed.receiver_count() > 0;
    let mut commits = Vec::new();
    for p in pending {
        (p.done)(Ok(()));
        if keep {
            commits.push(p.commit);
        }
    }
    if keep {
        let _ = out.feed.send(Arc::new(commits));
    }
    Ok(())
}
