//! The background snapshotter: takes a snapshot whenever the policy says
//! one is due, from the durable log (never from the executor's state), so
//! a call never waits for it.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use interstice_log::LogStore;
use interstice_log::snapshot::SnapshotStore;

use super::Inner;
use crate::snapshot::take;

/// When the runtime takes snapshots on its own: as soon as any limit that
/// is set has been reached since the last one. All unset: never.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotPolicy {
    /// After this many commits.
    pub every_commits: Option<u64>,
    /// After this many bytes of log.
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
    /// durable in `elapsed` since the last one.
    pub fn due(&self, commits: u64, bytes: u64, elapsed: Duration) -> bool {
        commits > 0
            && (self.every_commits.is_some_and(|n| commits >= n)
                || self.every_bytes.is_some_and(|n| bytes >= n)
                || self.every.is_some_and(|t| elapsed >= t))
    }
}

/// How long to wait after a failed snapshot before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Where the log stood at the last snapshot.
struct Mark {
    commits: u64,
    bytes: u64,
    at: Instant,
}

/// Runs until the runtime is gone: waits for durable commits, and takes a
/// snapshot whenever `policy` says one is due.
pub(super) async fn snapshotter(
    inner: Weak<Inner>,
    store: Arc<dyn LogStore>,
    snapshots: Arc<dyn SnapshotStore>,
    policy: SnapshotPolicy,
) {
    let Some(mut durable) = inner.upgrade().map(|i| i.pipeline.durable()) else {
        return;
    };
    let mark_now = |inner: &Inner| {
        let stats = inner.pipeline.stats(0);
        Mark {
            commits: stats.commits,
            bytes: stats.bytes,
            at: Instant::now(),
        }
    };
    let Some(mut mark) = inner.upgrade().map(|i| mark_now(&i)) else {
        return;
    };
    let tick = policy.every.unwrap_or(Duration::from_secs(3600));
    loop {
        tokio::select! {
            changed = durable.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(tick) => {}
        }
        let Some(runtime) = inner.upgrade() else {
            return;
        };
        if runtime.stopped.is_set() {
            return;
        }
        let stats = runtime.pipeline.stats(0);
        let (commits, bytes) = (stats.commits - mark.commits, stats.bytes - mark.bytes);
        if !policy.due(commits, bytes, mark.at.elapsed()) {
            continue;
        }
        let next = mark_now(&runtime);
        drop(runtime);
        match take(&*store, snapshots.clone()).await {
            Ok(taken) => {
                if let Some(t) = taken {
                    tracing::info!(
                        offset = t.offset,
                        bytes = t.bytes,
                        rows = t.rows,
                        "snapshot taken"
                    );
                }
                mark = next;
            }
            Err(e) => {
                tracing::warn!("{e}; trying again in {RETRY_AFTER:?}");
                tokio::time::sleep(RETRY_AFTER).await;
            }
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
