//! The runtime: publishes modules, runs reducer calls as transactions,
//! makes every commit durable before acknowledging it, runs
//! subscriptions after their cause is durable, and runs scheduled calls
//! when their rows come due ([`crate::timers`]).
//!
//! # Consistency when the log fails
//! A transaction's changes apply to the in-memory tables when it commits,
//! before its commit is durable, so the next transaction can run while the
//! previous one is being synced (that is what lets group commit share one
//! sync between many callers). If an append fails, the runtime **stops**:
//! every caller whose commit was in that batch or later gets the error, and
//! every later call fails with [`CallErrorKind::Stopped`]. Nothing that is not
//! durable is ever acknowledged; restarting replays the log, which holds
//! exactly the acknowledged state. The in-memory tables are not rolled
//! back, so reads refuse once the runtime has stopped, and
//! [`Runtime::read`] returns only state whose every commit is durable.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use interstice_abi::decode_value;
use interstice_log::codec::frame_size;
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{Commit, Invocation as LogInvocation, LogStore, LogStoreExt};
use tokio::sync::{mpsc, oneshot};

use crate::db::{Database, WriteSet};
use crate::durability::{Durable, DurableCommits, LogStats, Pipeline};
use crate::error::{
    CallError, CallErrorKind, LimitKind, PublishError, ReplayError, SnapshotTakeError, Stopped,
};
use crate::host::state::CallContext;
use crate::host::{CompiledModule, Invocation, Limits, ReducerEntry, WasmHost, run};
use crate::observe::{Figures, ReducerSample, TableSample};
use crate::replay::{ReplayEngine, ReplayOptions, ReplayReport};
use crate::requests::{RequestIds, Seen, check_id, fingerprint};
use crate::retention::Retention;
use crate::snapshot::Taken;
use crate::spans::{self, CalledBy, Observed};
use crate::subscriptions::{Scheduled, triggered};
use crate::timers::Timers;

mod follower;
pub(crate) mod publish;
mod unpublish;
pub use publish::INIT_REDUCER;
pub use unpublish::Unpublished;
mod schedules;
mod snapshotter;
mod workers;

use schedules::DueCall;

pub use snapshotter::SnapshotPolicy;
use snapshotter::Snapshotter;

use workers::{executor, subscription_worker};

/// The reducer name logged for a publish (not a valid reducer name, so it
/// cannot clash with one).
pub const PUBLISH_INVOCATION: &str = "@publish";

/// The reducer name logged for an unpublish.
pub const UNPUBLISH_INVOCATION: &str = "@unpublish";

/// How the runtime runs.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    /// Limits on every reducer call.
    pub limits: Limits,
    /// Longest chain of subscriptions triggering subscriptions; a longer
    /// chain is a cycle, reported with its path and cut.
    pub max_subscription_depth: u32,
    /// Most commits in one append.
    pub max_batch: usize,
    /// First offset to replay: 0, or the first offset a `skip-to` store
    /// serves (state written before it is not rebuilt).
    pub replay_from: u64,
    /// Where snapshots are kept: opening starts from the newest usable
    /// one, and the snapshot policy writes new ones there.
    pub snapshots: Option<Arc<dyn SnapshotStore>>,
    /// Refuse to open when a snapshot cannot be used, instead of starting
    /// from an older one (`--recovery strict`).
    pub strict_snapshots: bool,
    /// When to take snapshots in the background (into `snapshots`).
    pub snapshot_policy: SnapshotPolicy,
    /// How much history to keep once snapshots cover it: applied after
    /// each snapshot the policy takes.
    pub retention: Retention,
    /// Most calls executed but not yet durable. Further calls wait for a
    /// slot, so a slow store slows callers down instead of letting
    /// commits pile up in memory. A slot is freed when its commit is
    /// durable (or failed), even if the caller stopped waiting.
    pub max_pending: usize,
    /// Most argument bytes of calls executed but not yet durable: like
    /// `max_pending`, in bytes, so that a few huge calls cannot fill memory
    /// either. A call larger than the whole budget fails at once
    /// (`limit_exceeded`, `pending bytes`).
    pub max_pending_bytes: usize,
    /// How long a request id is remembered after its commit: a retry with
    /// the same id within it is answered with that commit instead of
    /// running again (see [`crate::requests`]). At most (and by default)
    /// [`crate::requests::KEPT_FOR`], 24 hours: what a restart can know.
    pub request_ids_for: std::time::Duration,
    /// Follow a log that another process writes, from a read-only store:
    /// look for new commits this often ([`LogStore::refresh`]), apply them
    /// as a replay does (running no WebAssembly), and serve reads; calls
    /// and publishes are refused ([`CallErrorKind::Follower`]). `None`:
    /// this runtime writes the log.
    pub follow: Option<std::time::Duration>,
    /// Count every call in its reducer's metrics and trace it in a span
    /// (`docs/observability.md`, [`Runtime::call_metrics`]). On by default; off
    /// only to measure what that costs.
    pub observe_calls: bool,
    /// Run scheduled reducers when their rows come due (in time order,
    /// those missed while nothing ran first). On by default; off for a
    /// short-lived command that leaves them to the node. A follower never
    /// runs them, whatever this says.
    pub run_schedules: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            max_subscription_depth: 16,
            max_batch: 4096,
            replay_from: 0,
            snapshots: None,
            strict_snapshots: false,
            snapshot_policy: SnapshotPolicy::default(),
            retention: Retention::default(),
            max_pending: 65_536,
            max_pending_bytes: 256 << 20,
            request_ids_for: std::time::Duration::from_secs(24 * 3600),
            follow: None,
            observe_calls: true,
            run_schedules: true,
        }
    }
}

/// A committed call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Offset of the commit, or `None` when the call changed nothing (and
    /// so logged nothing).
    pub offset: Option<u64>,
    /// What the reducer logged, as `(level, message)`.
    pub logs: Vec<(interstice_abi::wasm::LogLevel, String)>,
    /// Whether this answers a retry: the call's request id was committed
    /// before, at `offset`, and nothing ran (`logs` is then empty).
    pub replayed: bool,
}

/// A module installed in the runtime, in brief (see [`Runtime::modules`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModuleSummary {
    /// Its id in the log.
    pub id: u32,
    /// Its name.
    pub name: String,
    /// Its schema's version.
    pub version: interstice_abi::Version,
}

/// A published module.
#[derive(Clone, Debug)]
pub struct Published {
    /// Its id in the log.
    pub module_id: u32,
    /// Offset of the module record's commit.
    pub offset: u64,
    /// Changes from the previous version (empty on first publish).
    pub diff: interstice_abi::compat::SchemaDiff,
    /// Whether the log had no version of this module before.
    pub first_version: bool,
    /// The migrations that ran in the publish's commit, in order.
    pub migrations: Vec<crate::migrate::MigrationRun>,
}

/// State read at one point of the log, and the commits after it: what a
/// client subscription starts from. See [`Runtime::follow`].
#[derive(Debug)]
pub struct Follow<R> {
    /// What the reader returned.
    pub value: R,
    /// The first offset not reflected in `value`.
    pub from: u64,
    /// Every commit that becomes durable from now on, by batch.
    pub commits: tokio::sync::broadcast::Receiver<DurableCommits>,
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The log could not be replayed.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The store could not say where the log ends.
    #[error("cannot read the end of the log: {0}")]
    Log(#[from] interstice_log::Error),
    /// A logged module no longer compiles or links.
    #[error("logged module `{module}` cannot be loaded: {source}")]
    Module {
        /// The module.
        module: String,
        /// Why.
        #[source]
        source: PublishError,
    },
}

struct Exec {
    db: Database,
    store_cache: crate::host::StoreCache,
    modules: Arc<HashMap<u32, Arc<CompiledModule>>>,
    next_offset: u64,
    clock: u64,
    /// The request ids of recent commits, for exactly-once calls.
    requests: RequestIds,
    /// When each schedule row is due, kept current by every commit.
    timers: Timers,
    /// Told when the first due time changes, so the timer task wakes.
    timers_changed: tokio::sync::watch::Sender<()>,
}

impl Exec {
    /// The time of the next transaction: now, but after the last one's.
    fn next_timestamp(&self) -> u64 {
        now_micros().max(self.clock + 1)
    }

    /// The compiled module named `name`.
    fn module(&self, name: &str) -> Option<&Arc<CompiledModule>> {
        self.modules.values().find(|m| m.schema.name == name)
    }

    /// Makes the next commit, at the next offset, and moves the offset and
    /// the clock past it.
    fn seal(
        &mut self,
        timestamp: u64,
        cause: Option<u64>,
        invocation: LogInvocation,
        mutations: Vec<interstice_log::Mutation>,
    ) -> Commit {
        if let Some(id) = &invocation.request_id {
            let seen = Seen {
                offset: self.next_offset,
                timestamp,
                fingerprint: fingerprint(&invocation.module, &invocation.reducer, &invocation.args),
            };
            self.requests.record(id, seen);
        }
        let commit = Commit {
            offset: self.next_offset,
            timestamp,
            cause,
            invocation,
            mutations,
        };
        self.next_offset += 1;
        self.clock = timestamp;
        let first = self.timers.first().map(|(_, t)| t.due);
        self.timers.observe(&self.db, &commit);
        if self.timers.first().map(|(_, t)| t.due) != first {
            self.timers_changed.send_replace(());
        }
        commit
    }
}

struct Inner {
    host: WasmHost,
    config: RuntimeConfig,
    /// The log, for reads of its history ([`Runtime::trace`]); let go at
    /// shutdown, so that nothing of the runtime holds the log afterwards
    /// (a disk log's lock is released).
    store: StdMutex<Option<Arc<dyn LogStore>>>,
    /// The state, owned by the executor task, which runs one request at a
    /// time; `read` borrows it between requests.
    exec: StdMutex<Exec>,
    requests: mpsc::UnboundedSender<Request>,
    pipeline: Pipeline,
    stopped: Arc<StopFlag>,
    subscriptions: mpsc::UnboundedSender<Job>,
    /// One permit per call between starting and being durable.
    slots: Arc<tokio::sync::Semaphore>,
    /// One permit per byte of arguments between starting and being
    /// durable ([`RuntimeConfig::max_pending_bytes`]).
    pending_bytes: Arc<tokio::sync::Semaphore>,
    /// Takes snapshots on the configured policy, if any.
    snapshotter: Option<Arc<Snapshotter>>,
    /// The modules installed, as the executor last set them: read without
    /// the executor lock ([`Runtime::modules`]).
    catalog: StdMutex<Arc<HashMap<u32, Arc<CompiledModule>>>>,
    /// A follower's lag: how old the last commit it applied was when it
    /// applied it, in microseconds.
    follow_lag_micros: std::sync::atomic::AtomicU64,
    /// Every schedule table's counters: runs, failures, lateness.
    schedule_metrics: crate::observe::ScheduleMetrics,
    /// Set by [`Runtime::panic_in_next_call`].
    #[cfg(feature = "fault-injection")]
    panic_next_call: std::sync::atomic::AtomicBool,
}

/// Work for the executor task.
enum Request {
    Call(QueuedCall),
    Install {
        module: crate::host::Inspected,
        wasm: Vec<u8>,
        reply: oneshot::Sender<Result<Published, PublishError>>,
    },
    Uninstall {
        module: String,
        reply: oneshot::Sender<Result<unpublish::Unpublished, PublishError>>,
    },
    /// Run the schedule row due first, if it is due; the reply says
    /// whether one ran.
    Due {
        reply: oneshot::Sender<bool>,
        slot: Slot,
    },
}

/// A call to run: which reducer, its encoded arguments, and, for a
/// subscription's follow-up, the commit that caused it, or for a
/// schedule's call, the row that came due.
#[derive(Clone, Copy)]
struct Call<'a> {
    module: &'a str,
    reducer: &'a str,
    args: &'a [u8],
    /// The caller's request id, for exactly-once calls.
    request_id: Option<&'a str>,
    cause: Option<&'a Scheduled>,
    scheduled: Option<&'a DueCall>,
}

/// A call waiting for the executor.
struct QueuedCall {
    module: String,
    reducer: String,
    args: Vec<u8>,
    request_id: Option<String>,
    cause: Option<Scheduled>,
    reply: oneshot::Sender<Result<Receipt, CallError>>,
    slot: Slot,
    /// Run with the worker's other tasks handed off (`call_queued`).
    offload: bool,
}

/// A call's place among those not yet durable (its slot and its bytes);
/// freed when dropped.
type Slot = Option<(
    tokio::sync::OwnedSemaphorePermit,
    tokio::sync::OwnedSemaphorePermit,
)>;

/// `n` permits of `semaphore`, at once when they are free.
async fn acquire(
    semaphore: &Arc<tokio::sync::Semaphore>,
    n: usize,
) -> Result<tokio::sync::OwnedSemaphorePermit, tokio::sync::AcquireError> {
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    match semaphore.clone().try_acquire_many_owned(n) {
        Ok(permit) => Ok(permit),
        Err(_) => semaphore.clone().acquire_many_owned(n).await,
    }
}

/// Work for the subscription worker.
enum Job {
    Run(Scheduled),
    /// Answers whether nothing was queued behind it.
    Settle(tokio::sync::oneshot::Sender<bool>),
}

/// The Interstice runtime over one log. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").finish_non_exhaustive()
    }
}

/// The module and reducer a call names, if its arguments fit the
/// reducer's parameters. A `direct` call (a client's) may not name a
/// migration, nor a private reducer that a schedule calls.
fn resolve(
    exec: &Exec,
    module: &str,
    reducer: &str,
    args: &[u8],
    direct: bool,
) -> Result<(Arc<CompiledModule>, Arc<ReducerEntry>), CallError> {
    let error = |kind| CallError::new(module, reducer, kind);
    let compiled = exec
        .module(module)
        .cloned()
        .ok_or_else(|| error(CallErrorKind::NoSuchModule))?;
    let entry = compiled
        .reducer(reducer)
        .cloned()
        .ok_or_else(|| error(CallErrorKind::NoSuchReducer))?;
    if let Some(m) = compiled
        .schema
        .migrations
        .iter()
        .find(|m| m.reducer == reducer)
    {
        let detail = format!(
            "`{module}.{reducer}` is the migration of `{}` from version {}: it runs once, when the version declaring it is published, and is never called",
            m.table, m.from
        );
        return Err(error(CallErrorKind::Capability { detail }));
    }
    if direct && let Some(detail) = schedules::private_schedule(&compiled.schema, reducer) {
        return Err(error(CallErrorKind::Capability { detail }));
    }
    if let Err(e) = decode_value(&entry.args_type, args) {
        let reason = e.to_string();
        return Err(error(CallErrorKind::BadArguments { reason }));
    }
    Ok((compiled, entry))
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The seed of a transaction's random generator.
pub(crate) fn seed(offset: u64, timestamp: u64) -> u64 {
    offset.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ timestamp
}

impl Runtime {
    /// Starts a runtime on `store`: rebuilds the state (from the newest
    /// usable snapshot in [`RuntimeConfig::snapshots`] and the log after
    /// it, or from the whole log; running no WebAssembly), loads the logged
    /// modules, then runs once every subscription a crash left unrun. With
    /// a [`RuntimeConfig::snapshot_policy`], a background task takes
    /// snapshots as it says.
    pub async fn open(
        store: Arc<dyn LogStore>,
        config: RuntimeConfig,
    ) -> Result<(Self, ReplayReport), OpenError> {
        let replayed = ReplayEngine::replay_with(
            &*store,
            &ReplayOptions {
                from: config.replay_from,
                to: None,
                snapshots: config.snapshots.clone(),
                strict: config.strict_snapshots,
            },
        )
        .await?;
        let host = WasmHost::new(config.limits).observing(config.observe_calls);
        let mut modules = HashMap::new();
        for m in replayed.db.modules() {
            let err = |source| OpenError::Module {
                module: m.schema.name.clone(),
                source,
            };
            let linked = host.load(m.id, m.schema.clone(), &m.wasm).map_err(err)?;
            modules.insert(m.id, Arc::new(linked));
        }
        // The store knows where the log ends even when nothing was replayed.
        let next = store.next_offset().await?;
        let clock = replayed.clock;
        let snapshotter = match &config.snapshots {
            Some(snapshots) if !config.snapshot_policy.is_off() && config.follow.is_none() => {
                let newest = replayed.snapshot.map(|h| (h.offset, h.timestamp));
                Some(Arc::new(Snapshotter::new(
                    store.clone(),
                    snapshots.clone(),
                    config.snapshot_policy.clone(),
                    config.retention.clone(),
                    newest,
                )))
            }
            _ => None,
        };
        let modules = Arc::new(modules);
        let (tx, rx) = mpsc::unbounded_channel();
        let mut requests = replayed.requests;
        requests.expire(now_micros().saturating_sub(request_window(&config)));
        let (queue, request_rx) = mpsc::unbounded_channel();
        let (timers_changed, timers_seen) = tokio::sync::watch::channel(());
        let inner = Arc::new(Inner {
            host,
            store: StdMutex::new(Some(store.clone())),
            requests: queue,
            exec: StdMutex::new(Exec {
                db: replayed.db,
                store_cache: Default::default(),
                modules: modules.clone(),
                next_offset: next,
                clock,
                requests,
                timers: replayed.timers,
                timers_changed,
            }),
            pipeline: match config.follow {
                Some(_) => Pipeline::external(next),
                None => Pipeline::start(store.clone(), next, config.max_batch),
            },
            slots: Arc::new(tokio::sync::Semaphore::new(config.max_pending.max(1))),
            pending_bytes: Arc::new(tokio::sync::Semaphore::new(
                config.max_pending_bytes.clamp(1, u32::MAX as usize),
            )),
            catalog: StdMutex::new(modules),
            follow_lag_micros: Default::default(),
            schedule_metrics: Default::default(),
            snapshotter,
            config,
            stopped: Arc::default(),
            subscriptions: tx,
            #[cfg(feature = "fault-injection")]
            panic_next_call: Default::default(),
        });
        // Chains longer than the limit were cut before the crash too. A
        // follower runs none: they are the writer's to run.
        for s in replayed.pending {
            if s.depth <= inner.config.max_subscription_depth && inner.config.follow.is_none() {
                let _ = inner.subscriptions.send(Job::Run(s));
            }
        }
        if let Some(every) = inner.config.follow {
            follower::spawn(Arc::downgrade(&inner), store.clone(), every);
        }
        if let Some(s) = &inner.snapshotter {
            snapshotter::spawn(Arc::downgrade(&inner), s.clone());
        }
        tokio::spawn(subscription_worker(Arc::downgrade(&inner), rx));
        tokio::spawn(executor(Arc::downgrade(&inner), request_rx));
        // Only the writer runs schedules: a follower's are the writer's.
        if inner.config.run_schedules && inner.config.follow.is_none() {
            tokio::spawn(schedules::timer(Arc::downgrade(&inner), timers_seen));
        }
        let r = &replayed.report;
        tracing::info!(
            commits = r.commits,
            mutations = r.mutations,
            last_offset = r.last_offset,
            snapshot = r.snapshot,
            duration_ms = r.elapsed.as_millis() as u64,
            "log replayed"
        );
        Ok((Self { inner }, replayed.report))
    }

    /// The modules installed (a publish still being synced included), read
    /// without waiting for a call in progress: what a status report shows.
    pub fn modules(&self) -> Vec<ModuleSummary> {
        let catalog = self.catalog();
        let mut modules: Vec<ModuleSummary> = catalog
            .values()
            .map(|m| ModuleSummary {
                id: m.id,
                name: m.schema.name.clone(),
                version: m.schema.version,
            })
            .collect();
        modules.sort_by_key(|m| m.id);
        modules
    }

    /// How many module instances have been created (replay creates none).
    pub fn instantiations(&self) -> u64 {
        self.inner.host.instantiations()
    }

    /// Runs `f` on the durable state: every commit `f` sees is durable by
    /// the time its result is returned (the read waits for the commits
    /// executed before it, at most one sync). A reader never sees a commit
    /// that a crash could remove. Fails once the runtime has
    /// [stopped](Runtime::stopped).
    pub async fn read<R>(&self, f: impl FnOnce(&Database) -> R) -> Result<R, Stopped> {
        let (value, upto) = {
            let exec = self.inner.lock_exec();
            self.check_running()?;
            (f(&exec.db), exec.next_offset)
        };
        self.wait_durable(upto).await?;
        Ok(value)
    }

    /// Runs `f` on the state as executed so far, which may hold commits not
    /// yet durable: for lookups that only shape a later call (the schema to
    /// encode its arguments with), whose own commit follows those in the
    /// log and is acknowledged only once they are durable too. Never for
    /// showing rows to anyone: that is [`Runtime::read`]. Fails once the
    /// runtime has stopped.
    pub fn read_executed<R>(&self, f: impl FnOnce(&Database) -> R) -> Result<R, Stopped> {
        let exec = self.inner.lock_exec();
        self.check_running()?;
        Ok(f(&exec.db))
    }

    /// Reads the durable state with `f` and starts following the log from
    /// exactly there: [`Follow::commits`] receives every commit from
    /// [`Follow::from`] on once it is durable (and may also receive a few
    /// earlier ones, which the follower skips). Like [`Runtime::read`], it
    /// returns once every commit the read saw is durable, and fails once
    /// the runtime has stopped.
    pub async fn follow<R>(&self, f: impl FnOnce(&Database) -> R) -> Result<Follow<R>, Stopped> {
        let follow = {
            let exec = self.inner.lock_exec();
            self.check_running()?;
            Follow {
                value: f(&exec.db),
                from: exec.next_offset,
                commits: self.inner.pipeline.follow(),
            }
        };
        self.wait_durable(follow.from).await?;
        Ok(follow)
    }

    /// Waits until every commit before `offset` is durable. Fails when an
    /// append failed first (the runtime has stopped).
    pub async fn wait_durable(&self, offset: u64) -> Result<(), Stopped> {
        let mut durable = self.inner.pipeline.durable();
        let reached = durable
            .wait_for(|d| match d {
                Durable::Upto(n) => *n >= offset,
                Durable::Failed => true,
            })
            .await
            .is_ok_and(|d| matches!(*d, Durable::Upto(_)));
        if reached { Ok(()) } else { Err(self.gone()) }
    }

    /// For a follower ([`RuntimeConfig::follow`]): how old the last commit
    /// it applied was when it applied it. `None` on the writer.
    pub fn follow_lag(&self) -> Option<std::time::Duration> {
        self.inner.config.follow.map(|_| {
            let micros = self
                .inner
                .follow_lag_micros
                .load(std::sync::atomic::Ordering::Relaxed);
            std::time::Duration::from_micros(micros)
        })
    }

    /// The durability pipeline's counters (commits, appends, batch sizes,
    /// failures, how far the log is durable).
    pub fn log_stats(&self) -> LogStats {
        let free = self.inner.slots.available_permits();
        let pending = self.inner.config.max_pending.max(1).saturating_sub(free);
        self.inner.pipeline.stats(pending as u64)
    }

    /// Every reducer's counters since the runtime started: calls, errors
    /// by code, durations, rows, fuel ([`crate::observe`]).
    pub fn call_metrics(&self) -> Vec<ReducerSample> {
        self.inner.host.metrics().samples()
    }

    /// The call chains of the commits `range` of the log that are durable
    /// ([`crate::trace`]): read from the log store, so that they carry
    /// each call's timing; `range` is clamped to what the log holds.
    pub async fn trace(
        &self,
        range: std::ops::Range<u64>,
        filter: &crate::trace::TraceFilter,
    ) -> Result<Vec<crate::trace::TracedCall>, crate::trace::TraceError> {
        let store = self
            .inner
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| self.gone())?;
        let durable = self.log_stats().durable_upto;
        Ok(crate::trace::read_chains(&*store, range, Some(durable), filter).await?)
    }

    /// The state just after commit `offset`, which must be durable: a
    /// replay of the log up to it (from the newest snapshot before it),
    /// apart from the live state. It costs a replay; nothing is cached.
    pub async fn state_at(&self, offset: u64) -> Result<Database, ReplayError> {
        let store = self.history_store()?;
        let durable = self.log_stats().durable_upto;
        if offset >= durable {
            return Err(ReplayError::Beyond {
                offset,
                last: durable.checked_sub(1),
            });
        }
        let snapshots = self.inner.config.snapshots.clone();
        crate::history::state_at(&*store, snapshots, offset).await
    }

    /// Up to `limit` durable commits from `from`, as the debugger lists
    /// them ([`crate::history::timeline`]).
    pub async fn timeline(
        &self,
        from: u64,
        limit: usize,
    ) -> Result<Vec<crate::debugger::Step>, ReplayError> {
        let store = self.history_store()?;
        let durable = self.log_stats().durable_upto;
        let limit = limit.min(durable.saturating_sub(from) as usize);
        let snapshots = self.inner.config.snapshots.clone();
        crate::history::timeline(&*store, snapshots, from, limit).await
    }

    /// The rows that changed between two durable offsets
    /// ([`crate::history::diff`]).
    pub async fn diff(
        &self,
        from: u64,
        to: u64,
        table: Option<&str>,
    ) -> Result<Vec<crate::history::TableDiff>, ReplayError> {
        let store = self.history_store()?;
        let durable = self.log_stats().durable_upto;
        if to >= durable {
            let last = durable.checked_sub(1);
            return Err(ReplayError::Beyond { offset: to, last });
        }
        let snapshots = self.inner.config.snapshots.clone();
        crate::history::diff(&*store, snapshots, from, to, table).await
    }

    /// The published modules as a graph: tables, reducers, subscriptions,
    /// calls and declared writes, cycles marked.
    pub fn graph(&self) -> crate::graph::Graph {
        let catalog = self.catalog();
        let mut modules: Vec<_> = catalog.values().collect();
        modules.sort_by_key(|m| m.id);
        let declared: Vec<crate::cycles::Declared<'_>> = modules
            .iter()
            .map(|m| crate::cycles::Declared {
                schema: &m.schema,
                writes: &m.writes,
            })
            .collect();
        crate::graph::Graph::from_modules(&declared)
    }

    /// The modules installed, as the executor last set them.
    fn catalog(&self) -> Arc<HashMap<u32, Arc<CompiledModule>>> {
        self.inner
            .catalog
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The log, for reads of its history.
    fn history_store(&self) -> Result<Arc<dyn LogStore>, ReplayError> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
            .ok_or_else(|| ReplayError::Stopped(self.gone().reason))
    }

    /// Every table's rows and approximate bytes, as executed so far (taken
    /// between two calls, without waiting for durability); empty once the
    /// runtime has stopped.
    pub fn table_sizes(&self) -> Vec<TableSample> {
        self.read_executed(|db| {
            db.modules()
                .flat_map(|m| {
                    m.tables.iter().map(|t| TableSample {
                        module: m.schema.name.clone(),
                        table: t.schema().name.clone(),
                        rows: t.len() as u64,
                        bytes: t.bytes(),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
    }

    /// Why the runtime stopped, if it did (a log failure or a shutdown).
    /// After a log failure the in-memory state may hold commits that will
    /// never be durable; reads meant for others should be refused.
    pub fn stopped(&self) -> Option<String> {
        self.check_running().err().map(|e| e.to_string())
    }

    /// Why the runtime stopped, when it stopped on a failure (a log that
    /// failed or was taken over, an internal error) rather than by
    /// [`Runtime::shutdown`]: what a node reports when it exits.
    pub fn failure(&self) -> Option<String> {
        let stopped = &self.inner.stopped;
        if stopped.failed.load(std::sync::atomic::Ordering::Acquire) {
            stopped.reason()
        } else {
            None
        }
    }

    /// Stops the runtime cleanly: refuses new calls and publishes (they
    /// get [`CallErrorKind::Stopped`]), waits until every commit already made
    /// is durable and a snapshot being taken is written (and its retention
    /// pass done), and releases the log store (and so its lock, for a
    /// disk log). Subscriptions not yet run stay pending in the log and
    /// run at the next start. Other clones of this runtime stop too.
    pub async fn shutdown(&self) {
        {
            // Under the executor lock, so no call is between executing and
            // handing its commit to the pipeline.
            let _exec = self.inner.lock_exec();
            self.inner.stopped.set("the runtime was shut down".into());
        }
        self.inner.pipeline.close().await;
        if let Some(s) = &self.inner.snapshotter {
            s.stop().await;
        }
        self.inner
            .store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }

    /// Takes a snapshot now if the snapshot policy says one is due (the
    /// background task would take it soon): what a short-lived command
    /// calls before it exits. `None` when none is due, or there is no
    /// policy.
    pub async fn snapshot_if_due(&self) -> Result<Option<Taken>, SnapshotTakeError> {
        match &self.inner.snapshotter {
            Some(s) => s.take_if_due(&self.inner.pipeline.stats(0)).await,
            None => Ok(None),
        }
    }

    /// Waits until every subscription scheduled so far (and every one those
    /// scheduled in turn) has run.
    pub async fn settle(&self) {
        loop {
            let (tx, rx) = tokio::sync::oneshot::channel();
            if self.inner.subscriptions.send(Job::Settle(tx)).is_err() {
                return;
            }
            // Ok(true): the queue was empty behind the marker.
            match rx.await {
                Ok(true) | Err(_) => return,
                Ok(false) => continue,
            }
        }
    }

    fn check_running(&self) -> Result<(), Stopped> {
        if !self
            .inner
            .stopped
            .flag
            .load(std::sync::atomic::Ordering::Acquire)
        {
            return Ok(());
        }
        Err(Stopped {
            reason: self.inner.stopped.reason().unwrap_or_default(),
        })
    }

    /// Calls `module.reducer` with encoded `args` (the reducer's
    /// parameters as a struct). Returns once the commit is durable.
    pub async fn call(
        &self,
        module: &str,
        reducer: &str,
        args: &[u8],
    ) -> Result<Receipt, CallError> {
        self.dispatch(module, reducer, args, None, None, true).await
    }

    /// Calls like [`Runtime::call`], once per `request_id`: the id goes
    /// into the log with the commit, and a retry with the same id (within
    /// [`RuntimeConfig::request_ids_for`], on this runtime or any that
    /// opens the log later) runs nothing and answers with the first
    /// commit's offset, once it is durable ([`Receipt::replayed`]). The
    /// same id with another reducer or other arguments is refused
    /// ([`CallErrorKind::RequestIdReused`]). A call that failed committed
    /// nothing, so its retry runs.
    pub async fn call_once(
        &self,
        module: &str,
        reducer: &str,
        args: &[u8],
        request_id: &str,
    ) -> Result<Receipt, CallError> {
        self.dispatch(module, reducer, args, Some(request_id), None, true)
            .await
    }

    /// Calls like [`Runtime::call`], but the reducer always runs in the
    /// runtime's executor, never on the calling task. What a server uses:
    /// the executor runs reducers with the worker's other tasks handed to
    /// another thread (`block_in_place`), so a long reducer cannot hold up
    /// the tasks of the worker a request came in on (accepting
    /// connections, answering status). With a `request_id`, once per id,
    /// as [`Runtime::call_once`].
    pub async fn call_queued(
        &self,
        module: &str,
        reducer: &str,
        args: &[u8],
        request_id: Option<&str>,
    ) -> Result<Receipt, CallError> {
        self.dispatch(module, reducer, args, request_id, None, false)
            .await
    }

    /// Waits for room among the calls not yet durable, then runs the call:
    /// here when `inline` and nobody else is executing (the fast path),
    /// else in the executor.
    async fn dispatch(
        &self,
        module: &str,
        reducer: &str,
        args: &[u8],
        request_id: Option<&str>,
        cause: Option<&Scheduled>,
        inline: bool,
    ) -> Result<Receipt, CallError> {
        let receipt = self
            .dispatch_once(module, reducer, args, request_id, cause, inline)
            .await?;
        // A retry's commit may be in the pipeline still.
        if let (true, Some(offset)) = (receipt.replayed, receipt.offset) {
            self.wait_durable(offset + 1)
                .await
                .map_err(|stopped| stopped.during(module, reducer))?;
        }
        Ok(receipt)
    }

    /// [`Runtime::dispatch`] without the wait for a retry's commit.
    async fn dispatch_once(
        &self,
        module: &str,
        reducer: &str,
        args: &[u8],
        request_id: Option<&str>,
        cause: Option<&Scheduled>,
        inline: bool,
    ) -> Result<Receipt, CallError> {
        let gone = || self.gone().during(module, reducer);
        self.check_running()
            .map_err(|stopped| stopped.during(module, reducer))?;
        if self.inner.config.follow.is_some() {
            return Err(CallError::new(module, reducer, CallErrorKind::Follower));
        }
        // Backpressure: wait while too many calls, or too many bytes of
        // them, are not yet durable.
        let max_bytes = self.inner.config.max_pending_bytes;
        if args.len() > max_bytes {
            let detail = format!(
                "{} bytes of arguments, maximum {max_bytes} for all calls waiting to be durable",
                args.len()
            );
            let kind = CallErrorKind::limit(LimitKind::PendingBytes, detail);
            return Err(CallError::new(module, reducer, kind));
        }
        let slot = acquire(&self.inner.slots, 1).await.map_err(|_| gone())?;
        let bytes = acquire(&self.inner.pending_bytes, args.len().max(1))
            .await
            .map_err(|_| gone())?;
        let slot = (slot, bytes);
        // Fast path: nobody else is executing, so run here and skip the hop
        // to the executor task. Otherwise queue behind the others.
        let (reply, rx) = oneshot::channel();
        let here = || {
            if inline {
                self.inner.exec.try_lock().ok()
            } else {
                None
            }
        };
        match here() {
            Some(mut exec) => {
                let call = Call {
                    module,
                    reducer,
                    args,
                    request_id,
                    cause,
                    scheduled: None,
                };
                match self.execute_guarded(&mut exec, call)? {
                    (receipt, None) => return Ok(receipt),
                    (receipt, Some(commit)) => self.submit(commit, receipt, reply, Some(slot)),
                }
            }
            None => {
                let request = Request::Call(QueuedCall {
                    module: module.to_owned(),
                    reducer: reducer.to_owned(),
                    args: args.to_vec(),
                    request_id: request_id.map(str::to_owned),
                    cause: cause.cloned(),
                    reply,
                    slot: Some(slot),
                    offload: !inline,
                });
                if self.inner.requests.send(request).is_err() {
                    return Err(gone());
                }
            }
        }
        rx.await.unwrap_or_else(|_| Err(gone()))
    }

    fn gone(&self) -> Stopped {
        Stopped {
            reason: self
                .inner
                .stopped
                .reason()
                .unwrap_or_else(|| "the runtime shut down".into()),
        }
    }

    /// Runs a call and hands its commit to the pipeline, which replies
    /// once it is durable; errors and empty calls reply at once.
    fn execute(&self, exec: &mut Exec, call: QueuedCall) {
        let QueuedCall {
            module,
            reducer,
            args,
            request_id,
            cause,
            reply,
            slot,
            offload: _,
        } = call;
        let call = Call {
            module: &module,
            reducer: &reducer,
            args: &args,
            request_id: request_id.as_deref(),
            cause: cause.as_ref(),
            scheduled: None,
        };
        match self.execute_guarded(exec, call) {
            Err(e) => drop(reply.send(Err(e))),
            Ok((receipt, None)) => drop(reply.send(Ok(receipt))),
            Ok((receipt, Some(commit))) => self.submit(commit, receipt, reply, slot),
        }
    }

    /// Hands a commit to the pipeline; `reply` gets `value` once it is
    /// durable, or the store's error (which stops the runtime). `slot` is
    /// freed then too.
    fn submit<T, E>(
        &self,
        commit: Commit,
        value: T,
        reply: oneshot::Sender<Result<T, E>>,
        slot: Slot,
    ) where
        T: Send + 'static,
        E: From<CallError> + Send + 'static,
    {
        let stopped = self.inner.stopped.clone();
        let (module, reducer) = (
            commit.invocation.module.clone(),
            commit.invocation.reducer.clone(),
        );
        let done: crate::durability::Done = Box::new(move |result| {
            drop(slot);
            let _ = reply.send(result.map(|()| value).map_err(|e| {
                stop(&stopped, e.to_string());
                CallError::new(module, reducer, CallErrorKind::Log(e)).into()
            }));
        });
        self.inner.pipeline.submit(commit, done);
    }

    /// [`Runtime::run_call`], with a panic (a bug in the host, never
    /// the guest's: guest faults are traps) caught: the state it was
    /// changing may be gone, so the runtime stops, saying why, and no later
    /// call or read can observe that state. The log is intact; a restart
    /// replays it.
    fn execute_guarded(
        &self,
        exec: &mut Exec,
        call: Call<'_>,
    ) -> Result<(Receipt, Option<Commit>), CallError> {
        let (module, reducer) = (call.module, call.reducer);
        let run = std::panic::AssertUnwindSafe(|| self.run_call(exec, call));
        std::panic::catch_unwind(run).unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            let reason = format!("internal error while running {module}.{reducer}: {what}");
            stop(&self.inner.stopped, reason.clone());
            Err(Stopped { reason }.during(module, reducer))
        })
    }

    /// Makes the next reducer call panic inside the runtime, after its
    /// reducer ran and before its state is put back: a test hook, to check
    /// that a panic is never observable as state.
    #[cfg(feature = "fault-injection")]
    pub fn panic_in_next_call(&self) {
        self.inner
            .panic_next_call
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Runs one call on the executor's state: its commit, if it changed
    /// anything (or settles a subscription's cause); on failure the state
    /// is as before. Traced in a span of its own ([`crate::spans`]) and
    /// counted in the reducer's metrics.
    fn run_call(
        &self,
        exec: &mut Exec,
        call: Call<'_>,
    ) -> Result<(Receipt, Option<Commit>), CallError> {
        let Call {
            module,
            reducer,
            args,
            request_id,
            cause,
            scheduled,
        } = call;
        // Checked again under the executor lock: `shutdown` may have run
        // since the caller's first check.
        self.check_running()
            .map_err(|stopped| stopped.during(module, reducer))?;
        if let Some(id) = request_id
            && let Some(receipt) = self.retried(exec, module, reducer, args, id)?
        {
            return Ok((receipt, None));
        }
        let by = match (cause, scheduled) {
            (Some(s), _) => CalledBy::Subscription {
                trigger: s.trigger(),
                cause: s.cause,
            },
            (None, Some(d)) => CalledBy::Schedule {
                table: &d.table,
                due: d.due,
            },
            (None, None) => CalledBy::Client,
        };
        let observed = Observed::start(self.inner.host.observes(), module, reducer, by);
        let _in_span = observed.enter();
        let direct = cause.is_none() && scheduled.is_none();
        let (compiled, entry) = resolve(exec, module, reducer, args, direct)
            .inspect_err(|e| observed.refused(e.code()))?;
        let timestamp = exec.next_timestamp();
        let ctx = CallContext {
            timestamp,
            rng: seed(exec.next_offset, timestamp),
            scheduled: scheduled.map(|d| d.due),
        };
        let call = Invocation {
            module: &compiled,
            reducer: &entry,
            args,
            ctx,
            fuel: self.inner.config.limits.fuel,
            depth: 0,
        };
        let env = self.inner.host.env(exec.modules.clone());
        // A one-shot row is gone before its call runs: "ran" and "removed"
        // commit together.
        let ws = match scheduled {
            Some(d) => d.start(&mut exec.db, compiled.id),
            None => WriteSet::default(),
        };
        let db = std::mem::take(&mut exec.db);
        let started = now_micros();
        let out = run(env, db, ws, call, Some(&mut exec.store_cache));
        #[cfg(feature = "fault-injection")]
        if self
            .inner
            .panic_next_call
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("injected panic (fault-injection) while running {module}.{reducer}");
        }
        exec.db = out.db;
        let mut figures = Figures {
            micros: out.micros,
            fuel: out.fuel_used,
            rows_read: out.rows_read,
            ..Figures::default()
        };
        let timing = call_timing(started, out.started, out.micros, &out.calls);
        let result = out.result.and_then(|()| {
            let size = frame_size(
                module.len(),
                reducer.len(),
                args.len(),
                request_id.map_or(0, str::len),
                Some(&timing),
                scheduled.is_some(),
                out.ws.payload_len(),
            );
            figures.bytes = size;
            self.check_commit_size(size, || (module.to_owned(), reducer.to_owned()))
        });
        let mut failed = false;
        let mutations = match result {
            Ok(()) => out.ws.commit(),
            Err(e) => {
                out.ws.rollback(&mut exec.db);
                figures.bytes = 0;
                failed = true;
                observed.end(&entry.stats, &figures, None, Err(e.code()));
                spans::trace_logs(&out.logs, None);
                // A failed subscription still settles its cause in the log,
                // and a failed scheduled call still records its run.
                if let Some(d) = scheduled {
                    tracing::warn!(module, reducer, table = %d.table, due = d.due, "scheduled call failed: {e}");
                    d.failed(&mut exec.db, compiled.id)
                } else if cause.is_some() {
                    tracing::warn!(module, reducer, "subscription failed: {e}");
                    Vec::new()
                } else {
                    return Err(e);
                }
            }
        };
        if let Some(d) = scheduled {
            let late = timestamp.saturating_sub(d.due);
            let stats = self.inner.schedule_metrics.table(module, &d.table);
            stats.record(late, failed);
        }
        let logs = out.logs;
        // A call with a request id is logged even when it changed nothing,
        // so that its retry is answered, not run; a scheduled call is
        // logged always, so that its run is known.
        if mutations.is_empty() && direct && request_id.is_none() {
            figures.bytes = 0;
            observed.end(&entry.stats, &figures, None, Ok("unchanged"));
            spans::trace_logs(&logs, None);
            let receipt = Receipt {
                offset: None,
                logs: logs.into_iter().map(|l| (l.level, l.message)).collect(),
                replayed: false,
            };
            return Ok((receipt, None));
        }
        figures.rows_written = mutations.len() as u64;
        let invocation = LogInvocation {
            module: module.to_owned(),
            reducer: reducer.to_owned(),
            args: Bytes::copy_from_slice(args),
            request_id: request_id.map(str::to_owned),
            timing: Some(timing),
            scheduled: scheduled.map(|d| interstice_log::ScheduledRun {
                table_id: d.table_id,
                due: d.due,
            }),
        };
        let commit = exec.seal(timestamp, cause.map(|c| c.cause), invocation, mutations);
        // A failed subscription's settling commit was counted as failed.
        if !failed {
            observed.end(&entry.stats, &figures, Some(commit.offset), Ok("committed"));
        }
        spans::trace_logs(&logs, Some(commit.offset));
        self.schedule(&exec.db, commit.offset, &commit.mutations, cause);
        let receipt = Receipt {
            offset: Some(commit.offset),
            logs: logs.into_iter().map(|l| (l.level, l.message)).collect(),
            replayed: false,
        };
        Ok((receipt, Some(commit)))
    }

    /// For a call with request id `id`: the answer when the id was
    /// committed before (the same call), the refusal when a different
    /// call has it, `None` when it is new. Old ids are forgotten here.
    fn retried(
        &self,
        exec: &mut Exec,
        module: &str,
        reducer: &str,
        args: &[u8],
        id: &str,
    ) -> Result<Option<Receipt>, CallError> {
        let err = |kind| CallError::new(module, reducer, kind);
        check_id(id).map_err(|reason| err(CallErrorKind::BadArguments { reason }))?;
        let window = request_window(&self.inner.config);
        exec.requests.expire(now_micros().saturating_sub(window));
        let Some(seen) = exec.requests.get(id) else {
            return Ok(None);
        };
        if seen.fingerprint != fingerprint(module, reducer, args) {
            let id = id.to_owned();
            return Err(err(CallErrorKind::RequestIdReused {
                id,
                offset: seen.offset,
            }));
        }
        Ok(Some(Receipt {
            offset: Some(seen.offset),
            logs: Vec::new(),
            replayed: true,
        }))
    }

    /// `Ok` when a commit of `size` encoded bytes is within
    /// [`Limits::max_commit_size`], else the limit error for the call
    /// `names` gives.
    fn check_commit_size(
        &self,
        size: u64,
        names: impl FnOnce() -> (String, String),
    ) -> Result<(), CallError> {
        let max = self.inner.config.limits.max_commit_size;
        if size <= max {
            return Ok(());
        }
        let (module, reducer) = names();
        let detail = format!("the commit encodes to {size} bytes, maximum {max}");
        let kind = CallErrorKind::limit(LimitKind::CommitSize, detail);
        Err(CallError::new(module, reducer, kind))
    }

    fn schedule(
        &self,
        db: &Database,
        offset: u64,
        mutations: &[interstice_log::Mutation],
        parent: Option<&Scheduled>,
    ) {
        for s in triggered(db, offset, mutations, parent) {
            tracing::debug!(
                target: "interstice::subscription",
                cause = offset,
                trigger = s.trigger(),
                module = %s.module,
                reducer = %s.reducer,
                depth = s.depth,
                "subscription triggered"
            );
            if s.depth > self.inner.config.max_subscription_depth {
                tracing::error!(
                    "subscription cycle cut after {} steps: {}",
                    self.inner.config.max_subscription_depth,
                    s.path.join(" => ")
                );
                continue;
            }
            let _ = self.inner.subscriptions.send(Job::Run(s));
        }
    }
}

/// How a call that started at `started` (wall clock, µs) ran, for its
/// commit: its duration and its cross-module calls, timed from its start.
fn call_timing(
    started: u64,
    began: std::time::Instant,
    took: u64,
    calls: &[crate::host::state::Timed],
) -> interstice_log::CallTiming {
    let micros = |m: u64| u32::try_from(m).unwrap_or(u32::MAX);
    let calls = calls
        .iter()
        .map(|c| interstice_log::NestedCall {
            parent: c.parent.and_then(|p| u16::try_from(p).ok()),
            module: c.module.to_string(),
            reducer: c.reducer.to_string(),
            start: micros(c.start.saturating_duration_since(began).as_micros() as u64),
            micros: micros(c.micros),
            failed: c.failed,
        })
        .collect();
    interstice_log::CallTiming {
        started,
        micros: micros(took),
        calls,
        omitted: 0,
    }
}

/// How long, in µs, request ids are answered: the configured window, at
/// most what replays and snapshots keep ([`crate::requests::KEPT_FOR`]).
fn request_window(config: &RuntimeConfig) -> u64 {
    config
        .request_ids_for
        .min(crate::requests::KEPT_FOR)
        .as_micros() as u64
}

/// Whether (and why) the runtime stopped after a log failure. The flag is
/// checked on every call; the reason only when it is set.
#[derive(Default)]
struct StopFlag {
    flag: std::sync::atomic::AtomicBool,
    reason: StdMutex<Option<String>>,
    /// Whether it stopped on a failure rather than a shutdown.
    failed: std::sync::atomic::AtomicBool,
}

impl StopFlag {
    /// Stops the runtime for `reason` unless it already stopped (the first
    /// reason is kept); whether this call stopped it.
    fn set(&self, reason: String) -> bool {
        let mut slot = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_some() {
            return false;
        }
        *slot = Some(reason);
        self.flag.store(true, std::sync::atomic::Ordering::Release);
        true
    }

    fn is_set(&self) -> bool {
        self.flag.load(std::sync::atomic::Ordering::Acquire)
    }

    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// Stops the runtime after a failure, saying why.
fn stop(stopped: &StopFlag, reason: String) {
    let said = reason.clone();
    if stopped.set(reason) {
        stopped
            .failed
            .store(true, std::sync::atomic::Ordering::Release);
        tracing::error!("runtime stopped: {said}");
    }
}

impl Inner {
    fn lock_exec(&self) -> std::sync::MutexGuard<'_, Exec> {
        // A panic in a reducer run cannot leave the database half changed
        // (the write set undoes itself), so the state stays usable.
        self.exec.lock().unwrap_or_else(|p| p.into_inner())
    }
}
