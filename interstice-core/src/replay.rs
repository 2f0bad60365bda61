//! The ReplayEngine: rebuilds every table from the log, without running any
//! WebAssembly.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use interstice_abi::ModuleSchema;
use interstice_log::snapshot::{SnapshotHeader, SnapshotStore};
use interstice_log::{
    Commit, CommitStream, Error as LogError, LogStore, ModuleRecord, Mutation, MutationKind,
};

use crate::db::{Database, TxnError};
use crate::error::ReplayError;
use crate::requests::{RequestIds, Seen, fingerprint};
use crate::snapshot::{self, SnapshotState};
use crate::subscriptions::{Scheduled, triggered};
use crate::timers::Timers;

/// What a replay did, for people (`interstice replay` prints it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayReport {
    /// Commits applied.
    pub commits: u64,
    /// Mutations applied (rows inserted, updated, deleted; module records).
    pub mutations: u64,
    /// Bytes of rows and records applied.
    pub bytes: u64,
    /// Last offset applied (or the snapshot's, when no commit followed it).
    pub last_offset: Option<u64>,
    /// Wall time.
    pub elapsed: Duration,
    /// The offset of the snapshot the replay started from, if one was used.
    pub snapshot: Option<u64>,
    /// Snapshots that were not usable, newest first, and why.
    pub skipped: Vec<SkippedSnapshot>,
}

/// A snapshot a replay passed over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSnapshot {
    /// Its offset.
    pub offset: u64,
    /// Why it was not used.
    pub reason: String,
}

impl std::fmt::Display for SkippedSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "snapshot {}: {}", self.offset, self.reason)
    }
}

impl ReplayReport {
    /// Mutations applied per second.
    pub fn rows_per_sec(&self) -> f64 {
        self.mutations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Row bytes applied per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The state a log describes.
#[derive(Debug)]
pub struct Replayed {
    /// Every module and table, as of the last commit.
    pub db: Database,
    /// What the replay did.
    pub report: ReplayReport,
    /// Subscribed reducer calls that a logged commit triggered but whose
    /// follow-up commit is not in the log (a crash came between), in the
    /// order they were triggered. The runtime runs each once.
    pub pending: Vec<Scheduled>,
    /// The latest commit timestamp replayed (0 when none): the runtime's
    /// clock resumes after it, so `now()` never goes backwards across a
    /// restart, even if the wall clock does.
    pub clock: u64,
    /// The timestamp of the last commit applied (of the snapshot's commit
    /// when none followed it), 0 when none.
    pub last_timestamp: u64,
    /// The header of the snapshot the replay started from, if any.
    pub snapshot: Option<SnapshotHeader>,
    /// The request ids the replayed commits (and the snapshot) carry, for
    /// exactly-once calls.
    pub requests: RequestIds,
    /// When each row of every schedule table is due: the runtime runs
    /// those due (and those missed while nothing ran) once each.
    pub timers: Timers,
}

/// Where a replay starts, where it stops, and what it may start from.
#[derive(Clone, Debug, Default)]
pub struct ReplayOptions {
    /// First offset to replay: 0, or a `skip-to` offset (state before it
    /// is not rebuilt, and no snapshot is used).
    pub from: u64,
    /// Last offset to apply (the whole log when `None`).
    pub to: Option<u64>,
    /// Snapshots to start from: the newest sound one at or before `to`
    /// whose commit the log still holds.
    pub snapshots: Option<Arc<dyn SnapshotStore>>,
    /// Refuse a snapshot that cannot be used instead of passing over it
    /// to an older one (`--recovery strict`).
    pub strict: bool,
}

/// Rebuilds state from a [`LogStore`] alone: checks every checksum (the
/// store does) and every schema hash, applies each commit whole, and never
/// instantiates or calls a module.
pub struct ReplayEngine;

impl ReplayEngine {
    /// Replays `store` from offset `from` up to and including `to` (the
    /// whole log when `None`), without snapshots.
    pub async fn replay(
        store: &dyn LogStore,
        from: u64,
        to: Option<u64>,
    ) -> Result<Replayed, ReplayError> {
        let opts = ReplayOptions {
            from,
            to,
            ..ReplayOptions::default()
        };
        Self::replay_with(store, &opts).await
    }

    /// Rebuilds the state as `opts` says: from the newest usable snapshot
    /// and the commits after it, or from the log alone. A snapshot that is
    /// damaged, contradicts itself, or was taken after a commit the log no
    /// longer holds is passed over (named in [`ReplayReport::skipped`],
    /// and logged as a warning), or refused when `opts.strict`.
    pub async fn replay_with(
        store: &dyn LogStore,
        opts: &ReplayOptions,
    ) -> Result<Replayed, ReplayError> {
        let started = Instant::now();
        let mut skipped = Vec::new();
        let start = match (&opts.snapshots, opts.from) {
            (Some(snapshots), 0) => {
                start_from_snapshot(store, &**snapshots, opts, &mut skipped).await?
            }
            _ => None,
        };
        let (mut replayer, mut commits) = match start {
            Some(started) => started,
            None => {
                let first = store.first_offset().await?;
                if opts.from < first {
                    return Err(ReplayError::NoStart {
                        first,
                        skipped: skipped.iter().map(ToString::to_string).collect(),
                    });
                }
                (Replayer::default(), store.read_from(opts.from).await?)
            }
        };
        while let Some(commit) = commits.try_next().await? {
            if opts.to.is_some_and(|to| commit.offset > to) {
                break;
            }
            replayer.apply(&commit)?;
        }
        let mut replayed = replayer.finish();
        replayed.report.elapsed = started.elapsed();
        replayed.report.skipped = skipped;
        Ok(replayed)
    }
}

/// The state of a replay in progress.
#[derive(Default)]
struct Replayer {
    db: Database,
    report: ReplayReport,
    pending: VecDeque<Scheduled>,
    clock: u64,
    last_timestamp: u64,
    snapshot: Option<SnapshotHeader>,
    requests: RequestIds,
    timers: Timers,
}

impl Replayer {
    /// The state a snapshot holds, to apply the commits after it.
    fn from_snapshot(state: SnapshotState) -> Self {
        Self {
            db: state.db,
            report: ReplayReport {
                last_offset: Some(state.header.offset),
                snapshot: Some(state.header.offset),
                ..ReplayReport::default()
            },
            pending: state.pending.into(),
            clock: state.header.clock,
            last_timestamp: state.header.timestamp,
            snapshot: Some(state.header),
            requests: state.requests,
            timers: state.timers,
        }
    }

    fn apply(&mut self, commit: &Commit) -> Result<(), ReplayError> {
        apply_commit(&mut self.db, commit)?;
        self.timers.observe(&self.db, commit);
        // A logged follow-up settles the oldest matching scheduled call,
        // and what it triggers in turn is one subscription step deeper.
        let mut settled = None;
        if let Some(cause) = commit.cause {
            let inv = &commit.invocation;
            if let Some(i) = self.pending.iter().position(|s| {
                s.cause == cause && s.module == inv.module && s.reducer == inv.reducer
            }) {
                settled = self.pending.remove(i);
            }
        }
        self.pending.extend(triggered(
            &self.db,
            commit.offset,
            &commit.mutations,
            settled.as_ref(),
        ));
        let report = &mut self.report;
        report.commits += 1;
        report.mutations += commit.mutations.len() as u64;
        report.bytes += commit
            .mutations
            .iter()
            .map(|m| m.row.len() as u64)
            .sum::<u64>();
        report.last_offset = Some(commit.offset);
        self.clock = self.clock.max(commit.timestamp);
        self.last_timestamp = commit.timestamp;
        let inv = &commit.invocation;
        if let Some(id) = &inv.request_id {
            let seen = Seen {
                offset: commit.offset,
                timestamp: commit.timestamp,
                fingerprint: fingerprint(&inv.module, &inv.reducer, &inv.args),
            };
            self.requests.record(id, seen);
        }
        let kept_for = crate::requests::KEPT_FOR.as_micros() as u64;
        self.requests
            .expire(commit.timestamp.saturating_sub(kept_for));
        Ok(())
    }

    fn finish(self) -> Replayed {
        Replayed {
            db: self.db,
            report: self.report,
            pending: self.pending.into(),
            clock: self.clock,
            last_timestamp: self.last_timestamp,
            snapshot: self.snapshot,
            requests: self.requests,
            timers: self.timers,
        }
    }
}

/// How many times an open lists the snapshots again when a retention pass
/// running at the same time removed the one it chose (or the log before
/// it): each time, a newer snapshot is there.
const OVERTAKEN_RETRIES: usize = 8;

/// The newest usable snapshot at or before `opts.to` (and the log's end),
/// loaded, with the log positioned after it; `None` when there is none.
async fn start_from_snapshot(
    store: &dyn LogStore,
    snapshots: &dyn SnapshotStore,
    opts: &ReplayOptions,
    skipped: &mut Vec<SkippedSnapshot>,
) -> Result<Option<(Replayer, CommitStream)>, ReplayError> {
    for _ in 0..OVERTAKEN_RETRIES {
        skipped.clear();
        let Some(last) = store.last_offset().await? else {
            return Ok(None);
        };
        let limit = opts.to.map_or(last, |to| to.min(last));
        let offsets = snapshots.list().await?;
        for &offset in offsets.iter().filter(|&&o| o > last) {
            let reason = format!("taken after the log's last commit, {last} (the log was cut)");
            let skip = SkippedSnapshot { offset, reason };
            tracing::warn!(snapshots = %snapshots.location(), "{skip}");
            skipped.push(skip);
        }
        let mut overtaken = false;
        for offset in offsets.into_iter().rev().filter(|&o| o <= limit) {
            match try_snapshot(store, snapshots, offset).await? {
                Tried::Usable(replayer, commits) => return Ok(Some((*replayer, commits))),
                Tried::Unusable(reason) => {
                    let skip = SkippedSnapshot { offset, reason };
                    if opts.strict {
                        return Err(ReplayError::BadSnapshot(skip));
                    }
                    tracing::warn!(snapshots = %snapshots.location(), "{skip}; using an older one");
                    skipped.push(skip);
                }
                Tried::Overtaken(reason) => {
                    let skip = SkippedSnapshot { offset, reason };
                    if newer_than(store, snapshots, offset, opts.to).await? {
                        tracing::debug!("{skip}; a newer snapshot is there now");
                        overtaken = true;
                        break;
                    }
                    tracing::warn!(snapshots = %snapshots.location(), "{skip}; using an older one");
                    skipped.push(skip);
                }
            }
        }
        if !overtaken {
            return Ok(None);
        }
    }
    Ok(None)
}

/// Whether a snapshot newer than `offset`, within the log (and at or
/// before `to`), is there now.
async fn newer_than(
    store: &dyn LogStore,
    snapshots: &dyn SnapshotStore,
    offset: u64,
    to: Option<u64>,
) -> Result<bool, ReplayError> {
    let last = store.last_offset().await?.unwrap_or(0);
    let limit = to.map_or(last, |to| to.min(last));
    let offsets = snapshots.list().await?;
    Ok(offsets.iter().any(|&o| o > offset && o <= limit))
}

/// What trying one snapshot found.
enum Tried {
    /// Loaded, the log positioned after it.
    Usable(Box<Replayer>, CommitStream),
    /// Damaged, or not of this log: an older one may do.
    Unusable(String),
    /// Gone since it was listed, or the log before it is: retention
    /// removes them after taking a newer snapshot (or a pass that removed
    /// the log did not get to remove the snapshot).
    Overtaken(String),
}

/// Loads the snapshot at `offset` and checks that the log still holds the
/// commit it was taken after.
async fn try_snapshot(
    store: &dyn LogStore,
    snapshots: &dyn SnapshotStore,
    offset: u64,
) -> Result<Tried, ReplayError> {
    let bytes = match snapshots.get(offset).await {
        Ok(bytes) => bytes,
        Err(LogError::NoSnapshot { .. }) => {
            return Ok(Tried::Overtaken("removed since it was listed".into()));
        }
        Err(e) => return Err(e.into()),
    };
    let state = match snapshot::load(bytes) {
        Ok(state) => state,
        Err(e) => return Ok(Tried::Unusable(e.to_string())),
    };
    if state.header.offset != offset {
        return Ok(Tried::Unusable(format!(
            "it says it was taken at offset {}",
            state.header.offset
        )));
    }
    let mut commits = match store.read_from(offset).await {
        Ok(commits) => commits,
        Err(LogError::OffsetOutOfRange { first, .. }) => {
            let reason = format!("the log starts at offset {first}, after it");
            return Ok(Tried::Overtaken(reason));
        }
        Err(e) => return Err(e.into()),
    };
    match commits.try_next().await? {
        Some(c) if c.timestamp == state.header.timestamp => Ok(Tried::Usable(
            Box::new(Replayer::from_snapshot(state)),
            commits,
        )),
        _ => Ok(Tried::Unusable(format!(
            "the log's commit {offset} is not the one it was taken after (the log was cut and written again)"
        ))),
    }
}

/// Applies one logged commit. A commit that does not apply (the log
/// contradicts itself) fails the whole replay, so nothing is undone here:
/// rows go straight into their tables, checked and keyed from their
/// encoding without being decoded.
pub(crate) fn apply_commit(db: &mut Database, commit: &Commit) -> Result<(), ReplayError> {
    for m in &commit.mutations {
        apply_mutation(db, commit.offset, m)?;
    }
    Ok(())
}

/// Applies one mutation of commit `offset` (see [`apply_commit`]).
pub(crate) fn apply_mutation(
    db: &mut Database,
    offset: u64,
    m: &Mutation,
) -> Result<(), ReplayError> {
    if m.kind == MutationKind::Module {
        return install(db, offset, m);
    }
    let module = db.module(m.module_id).ok_or(ReplayError::UnknownModule {
        offset,
        module_id: m.module_id,
    })?;
    let name = module.schema.name.clone();
    let table = db
        .table_mut(m.module_id, m.table_id)
        .ok_or_else(|| ReplayError::UnknownTable {
            offset,
            module: name.clone(),
            table_id: m.table_id,
        })?;
    if table.hash() != m.schema_hash {
        return Err(ReplayError::SchemaMismatch {
            offset,
            module: name,
            table: table.schema().name.clone(),
            expected: table.hash(),
            found: m.schema_hash,
        });
    }
    table
        .apply_encoded(m.kind, &m.row)
        .map_err(|source| ReplayError::Apply { offset, source })
}

/// Installs the module a logged module record describes.
fn install(db: &mut Database, offset: u64, m: &Mutation) -> Result<(), ReplayError> {
    let bad = |reason: String| ReplayError::BadModuleRecord { offset, reason };
    let record = ModuleRecord::decode(&m.row).map_err(|e| bad(e.to_string()))?;
    if record.is_removal() {
        let mut txn = db.begin();
        txn.remove_module(m.module_id)
            .map_err(|_| ReplayError::UnknownModule {
                offset,
                module_id: m.module_id,
            })?;
        txn.commit();
        return Ok(());
    }
    let schema: ModuleSchema =
        interstice_abi::decode_schema(&record.schema).map_err(|e| bad(e.to_string()))?;
    if schema.hash() != m.schema_hash {
        return Err(bad(format!(
            "schema of `{}` hashes to {:#018x}, the record says {:#018x}",
            schema.name,
            schema.hash(),
            m.schema_hash
        )));
    }
    if schema.name != record.name {
        return Err(bad(format!(
            "record names `{}` but its schema `{}`",
            record.name, schema.name
        )));
    }
    let mut txn = db.begin();
    txn.install_module(m.module_id, schema, record.schema, record.wasm)
        .map_err(|source| match source {
            TxnError::Table(source) => ReplayError::Apply { offset, source },
            TxnError::NoSuchTable(e) => ReplayError::UnknownTable {
                offset,
                module: e.module_id.to_string(),
                table_id: e.table_id,
            },
        })?;
    txn.commit();
    Ok(())
}
