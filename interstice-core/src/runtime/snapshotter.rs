//! Snapshots on a policy: taken from the durable log (never from the
//! executor's state), by a background task or when a short-lived command
//! asks before it exits, so a call never waits for one.

use std::sync::{Arc, Weak};
use std::time::Duration;

use interstice_log::LogStore;
use interstice_log::snapshot::SnapshotStore;

use super::{Inner, now_micros};
use crate::durability::LogStats;
use crate::error::SnapshotTakeError;
use crate::retention::{Retention, retain};
use crate::snapshot::{Taken, take};

/// When the runtime takes snapshots on its own: as soon as any limit that
/// is set has been reached since the newest snapshot. All unset: never.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// After this many commits.
    pub every_commits: Option<u64>,
    /// After this many bytes of log (written by this runtime).
    pub every_bytes: Option<u64>,
    /// After this much time, if anything was committed.
    pub every: Option<Duration>,
}

impl SnapshotPolicy {
    /// Whether the policy never takes a snapshot.
    pub fn is_off(&self) -> bool {
        self.every_commits.is_none() && self.every_bytes.is_none() && self.every.is_none()
    }

    /// Whether a snapshot is due, `commits` and `bytes` having been made
    /// durable in `elapsed` since the newest one.
    pub fn due(&self, commits: u64, bytes: u64, elapsed: Duration) -> bool {
        commits > 0
            && (self.every_commits.is_some_and(|n| commits >= n)
                || self.every_bytes.is_some_and(|n| bytes >= n)
                || self.every.is_some_and(|t| elapsed >= t))
    }
}

/// How long to wait after a failed snapshot before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// What the newest snapshot covers.
#[derive(Clone, Copy, Debug)]
struct Mark {
    /// The first offset it does not cover.
    covered: u64,
    /// The log-bytes counter ([`LogStats::bytes`]) when it was taken.
    bytes: u64,
    /// When (microseconds since the epoch): the time of its commit, or of
    /// opening when there is none.
    at_micros: u64,
}

/// A runtime's snapshot taking: the stores, the policy, and the newest
/// snapshot. One snapshot is taken at a time.
pub(super) struct Snapshotter {
    snapshots: Arc<dyn SnapshotStore>,
    policy: SnapshotPolicy,
    retention: Retention,
    /// Held while a snapshot is taken: one at a time.
    taking: tokio::sync::Mutex<Taking>,
}

/// What taking a snapshot needs, under its lock.
struct Taking {
    /// The log; `None` once stopped ([`Snapshotter::stop`]).
    store: Option<Arc<dyn LogStore>>,
    mark: Mark,
}

impl Snapshotter {
    /// For a runtime that opened from the snapshot at `snapshot` (taken
    /// after the commit at `snapshot_micros`), if any.
    pub(super) fn new(
        store: Arc<dyn LogStore>,
        snapshots: Arc<dyn SnapshotStore>,
        policy: SnapshotPolicy,
        retention: Retention,
        snapshot: Option<(u64, u64)>,
    ) -> Self {
        let mark = Mark {
            covered: snapshot.map_or(0, |(offset, _)| offset + 1),
            bytes: 0,
            at_micros: snapshot.map_or_else(now_micros, |(_, micros)| micros),
        };
        Self {
            snapshots,
            policy,
            retention,
            taking: tokio::sync::Mutex::new(Taking {
                store: Some(store),
                mark,
            }),
        }
    }

    /// Waits for a snapshot being taken (and its retention pass) to
    /// finish, takes no more, and lets go of the log: what a runtime's
    /// shutdown does, so that nothing of it touches the log's stores
    /// afterwards and a disk log's lock is released.
    pub(super) async fn stop(&self) {
        self.taking.lock().await.store = None;
    }

    /// Takes a snapshot if the policy says one is due, given the log's
    /// counters now, then applies the retention (whose failure only
    /// warns: the snapshot is taken, and the next pass tries again).
    pub(super) async fn take_if_due(
        &self,
        stats: &LogStats,
    ) -> Result<Option<Taken>, SnapshotTakeError> {
        let mut taking = self.taking.lock().await;
        let Taking { store, mark } = &mut *taking;
        let Some(store) = store else {
            return Ok(None);
        };
        let commits = stats.durable_upto.saturating_sub(mark.covered);
        let bytes = stats.bytes.saturating_sub(mark.bytes);
        let elapsed = Duration::from_micros(now_micros().saturating_sub(mark.at_micros));
        if !self.policy.due(commits, bytes, elapsed) {
            return Ok(None);
        }
        let taken = take(&**store, self.snapshots.clone()).await?;
        if let Some(t) = &taken {
            tracing::info!(
                offset = t.offset,
                bytes = t.bytes,
                rows = t.rows,
                "snapshot taken"
            );
            *mark = Mark {
                covered: t.offset + 1,
                bytes: stats.bytes,
                at_micros: now_micros(),
            };
            let pass = retain(&**store, &*self.snapshots, &self.retention, now_micros()).await;
            match pass {
                Ok(r) if r.segments_removed > 0 || !r.snapshots_removed.is_empty() => {
                    tracing::info!(
                        first_offset = r.first_offset,
                        segments = r.segments_removed,
                        bytes = r.bytes_removed,
                        snapshots = r.snapshots_removed.len(),
                        "retention removed history"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("{e}"),
            }
        }
        Ok(taken)
    }
}

/// Starts the background snapshotter on a thread of its own, at a lower
/// CPU priority than the calls (nice 10), so that building a snapshot
/// takes the time the executor does not need.
pub(super) fn spawn(inner: Weak<Inner>, snapshotter: Arc<Snapshotter>) {
    let started = std::thread::Builder::new()
        .name("interstice-snapshots".into())
        .spawn(move || {
            lower_priority();
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(run(inner, snapshotter)),
                Err(e) => tracing::error!("cannot start the snapshotter: {e}"),
            }
        });
    if let Err(e) = started {
        tracing::error!("cannot start the snapshotter: {e}");
    }
}

/// Lowers this thread's CPU priority (Linux: nice 10 for this thread
/// only); best effort.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority take plain integers and touch no
    // memory of ours.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

/// Runs until the runtime is gone or stopped: after each durable batch
/// (or the policy's interval), takes a snapshot if one is due.
async fn run(inner: Weak<Inner>, snapshotter: Arc<Snapshotter>) {
    let Some(mut durable) = inner.upgrade().map(|i| i.pipeline.durable()) else {
        return;
    };
    let tick = snapshotter
        .policy
        .every
        .unwrap_or(Duration::from_secs(3600));
    loop {
        tokio::select! {
            changed = durable.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(tick) => {}
        }
        let stats = match inner.upgrade() {
            Some(rt) if !rt.stopped.is_set() => rt.pipeline.stats(0),
            _ => return,
        };
        if let Err(e) = snapshotter.take_if_due(&stats).await {
            tracing::warn!("{e}; trying again in {RETRY_AFTER:?}");
            tokio::time::sleep(RETRY_AFTER).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_due_at_the_first_limit_reached() {
        let off = SnapshotPolicy::default();
        assert!(off.is_off());
        assert!(!off.due(1_000_000, 1 << 40, Duration::from_secs(1 << 20)));
        let p = SnapshotPolicy {
            every_commits: Some(100),
            every_bytes: Some(1 << 20),
            every: Some(Duration::from_secs(60)),
        };
        assert!(!p.due(99, 1000, Duration::from_secs(1)));
        assert!(p.due(100, 1000, Duration::from_secs(1)));
        assert!(p.due(1, 1 << 20, Duration::from_secs(1)));
        assert!(p.due(1, 0, Duration::from_secs(60)));
        assert!(!p.due(0, 0, Duration::from_secs(600)), "nothing new");
    }
}
