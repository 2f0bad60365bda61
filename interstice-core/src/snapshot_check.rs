//! Checking snapshots against the log: each one must be exactly the state
//! a replay produces at its offset (from the snapshot before it, or from
//! the start of the log). `interstice check-log --snapshots` prints this.

use std::sync::Arc;

use interstice_log::snapshot::SnapshotStore;
use interstice_log::{Error as LogError, LogStore};

use crate::error::ReplayError;
use crate::replay::{ReplayEngine, ReplayOptions};
use crate::snapshot::{self, SnapshotState};

/// What checking one snapshot found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotCheck {
    /// Its offset.
    pub offset: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// `Ok` with what it was compared with, or what is wrong.
    pub verdict: Result<Compared, String>,
}

/// What a sound snapshot was compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Compared {
    /// The state a replay produced: from the snapshot at this offset, or
    /// from the start of the log (`None`). They are identical.
    Replay(Option<u64>),
    /// Nothing: the log starts after the previous sound state, so there
    /// is no replay to compare with (its blocks and records verified).
    NothingToCompare,
}

/// Checks every snapshot of `snapshots` in offset order: its bytes, then
/// the state it holds against the state rebuilt from the previous sound
/// snapshot (or the start of the log) plus the commits up to its offset,
/// compared in their canonical encoding.
pub async fn check_snapshots(
    store: &dyn LogStore,
    snapshots: Arc<dyn SnapshotStore>,
) -> Result<Vec<SnapshotCheck>, ReplayError> {
    let mut out = Vec::new();
    let first = store.first_offset().await?;
    let last = store.last_offset().await?;
    // The previous sound snapshot, as a store holding just it.
    let mut base: Option<(u64, bytes::Bytes)> = None;
    for offset in snapshots.list().await? {
        let bytes = snapshots.get(offset).await?;
        let size = bytes.len() as u64;
        let verdict = match snapshot::load(bytes.clone()) {
            Err(e) => Err(e.to_string()),
            Ok(state) if state.header.offset != offset => Err(format!(
                "it says it was taken at offset {}",
                state.header.offset
            )),
            Ok(_) if last.is_none_or(|l| offset > l) => {
                Err("taken after the log's last commit (the log was cut)".into())
            }
            Ok(state) => compare(store, base.clone(), first, &state).await?,
        };
        if verdict.is_ok() {
            base = Some((offset, bytes));
        }
        out.push(SnapshotCheck {
            offset,
            bytes: size,
            verdict,
        });
    }
    Ok(out)
}

/// Replays up to the snapshot's offset from `base` (or the log's start)
/// and compares the result with `state`.
async fn compare(
    store: &dyn LogStore,
    base: Option<(u64, bytes::Bytes)>,
    first: u64,
    state: &SnapshotState,
) -> Result<Result<Compared, String>, ReplayError> {
    let offset = state.header.offset;
    let from = base.as_ref().map(|(o, _)| *o);
    if from.is_none() && first > 0 {
        return Ok(Ok(Compared::NothingToCompare));
    }
    let opts = ReplayOptions {
        to: Some(offset),
        snapshots: Some(Arc::new(OneSnapshot(base))),
        strict: true,
        ..ReplayOptions::default()
    };
    let replayed = ReplayEngine::replay_with(store, &opts).await?;
    let header = interstice_log::snapshot::SnapshotHeader {
        offset,
        timestamp: replayed.last_timestamp,
        clock: replayed.clock,
    };
    let ours = snapshot::encode(
        &replayed.db,
        header,
        &replayed.pending,
        &replayed.requests,
        &replayed.timers,
    );
    let theirs = snapshot::encode(
        &state.db,
        state.header,
        &state.pending,
        &state.requests,
        &state.timers,
    );
    if ours == theirs {
        Ok(Ok(Compared::Replay(from)))
    } else {
        Ok(Err(format!(
            "its state differs from a replay to offset {offset} from {}",
            from.map_or("the start of the log".into(), |o| format!(
                "the snapshot at {o}"
            ))
        )))
    }
}

/// A snapshot store holding at most one snapshot: the base a check
/// replays from.
#[derive(Debug)]
struct OneSnapshot(Option<(u64, bytes::Bytes)>);

#[async_trait::async_trait]
impl SnapshotStore for OneSnapshot {
    async fn put(&self, _: u64, _: bytes::Bytes) -> Result<(), LogError> {
        Err(LogError::ReadOnly {
            location: self.location(),
        })
    }

    async fn list(&self) -> Result<Vec<u64>, LogError> {
        Ok(self.0.iter().map(|(o, _)| *o).collect())
    }

    async fn get(&self, offset: u64) -> Result<bytes::Bytes, LogError> {
        match &self.0 {
            Some((o, bytes)) if *o == offset => Ok(bytes.clone()),
            _ => Err(LogError::NoSnapshot {
                location: self.location(),
                offset,
            }),
        }
    }

    async fn remove(&self, _: u64) -> Result<(), LogError> {
        Err(LogError::ReadOnly {
            location: self.location(),
        })
    }

    fn location(&self) -> String {
        "the snapshot checked before".into()
    }
}
