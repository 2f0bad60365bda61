//! Retention: how much of a log's history to keep once snapshots cover it,
//! so that disk use is bounded by the state and the history window, not
//! by the age of the log.
//!
//! A pass keeps the newest snapshots, removes the log's whole segments
//! before the oldest of them (never a commit that no sound snapshot
//! covers, and never one inside the history window), then removes the
//! older snapshots, which the log can no longer continue.

use std::time::Duration;

use futures::TryStreamExt;
use interstice_log::snapshot::{SnapshotReader, SnapshotStore};
use interstice_log::{Error as LogError, LogStore};

/// How much history a log keeps. The default keeps everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// Keep the newest this many snapshots (at least 1); the log keeps
    /// every commit from the oldest of them on. `None`: remove nothing.
    pub keep_snapshots: Option<usize>,
    /// Keep at least this much history in the log, whatever the snapshots
    /// allow: for reading the log back (`log-inspect`, `replay
    /// --to-offset`) over that window.
    pub history: Option<History>,
}

/// A history window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum History {
    /// The last this many commits.
    Commits(u64),
    /// The commits of the last this long.
    Age(Duration),
}

impl std::str::FromStr for History {
    type Err = String;

    /// `100000` (commits) or a duration: `36h`, `7days`, `90min`.
    fn from_str(s: &str) -> Result<Self, String> {
        if let Ok(n) = s.parse::<u64>() {
            return Ok(Self::Commits(n));
        }
        humantime::parse_duration(s).map(Self::Age).map_err(|e| {
            format!("`{s}` is neither a number of commits nor a duration (36h, 7days): {e}")
        })
    }
}

/// What a retention pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// The log's first offset afterwards.
    pub first_offset: u64,
    /// Log segments removed.
    pub segments_removed: usize,
    /// Their bytes (where the store knows them).
    pub bytes_removed: u64,
    /// Snapshots removed, by offset.
    pub snapshots_removed: Vec<u64>,
}

/// Why a retention pass stopped before removing anything more.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetentionError {
    /// A store failed.
    #[error("retention: {0}")]
    Store(#[from] LogError),
    /// The snapshot the log would be cut at does not verify: nothing is
    /// removed until a sound one is taken.
    #[error(
        "retention: the snapshot at offset {offset} is not sound, so the log before it is kept: {reason}"
    )]
    Unsound {
        /// Its offset.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
}

/// Applies `retention` to a log and its snapshots. The log is cut only at
/// a snapshot that verifies (every block's checksum, header and trailer),
/// and only after it is stored (the snapshot store's put is durable).
pub async fn retain(
    store: &dyn LogStore,
    snapshots: &dyn SnapshotStore,
    retention: &Retention,
    now_micros: u64,
) -> Result<RetentionReport, RetentionError> {
    let mut report = RetentionReport {
        first_offset: store.first_offset().await?,
        ..RetentionReport::default()
    };
    let Some(keep) = retention.keep_snapshots.map(|k| k.max(1)) else {
        return Ok(report);
    };
    let offsets = snapshots.list().await?;
    let Some(&oldest_kept) = offsets.iter().rev().nth(keep - 1).or(offsets.first()) else {
        return Ok(report);
    };
    let bytes = snapshots.get(oldest_kept).await?;
    let sound = SnapshotReader::new(bytes).and_then(|r| {
        r.verify()?;
        Ok(r.header().offset)
    });
    match sound {
        Ok(o) if o == oldest_kept => {}
        Ok(o) => {
            let reason = format!("it says it was taken at offset {o}");
            return Err(RetentionError::Unsound {
                offset: oldest_kept,
                reason,
            });
        }
        Err(e) => {
            let reason = e.to_string();
            return Err(RetentionError::Unsound {
                offset: oldest_kept,
                reason,
            });
        }
    }
    let cut = match retention.history {
        None => oldest_kept,
        Some(h) => oldest_kept.min(window_start(store, h, now_micros, oldest_kept).await?),
    };
    if cut > report.first_offset {
        let removed = store.remove_before(cut).await?;
        report.first_offset = removed.first_offset;
        report.segments_removed = removed.removed.len();
        report.bytes_removed = removed.bytes;
    }
    // The snapshots beyond the number to keep: the older ones.
    for &offset in offsets.iter().filter(|&&o| o < oldest_kept) {
        snapshots.remove(offset).await?;
        report.snapshots_removed.push(offset);
    }
    Ok(report)
}

/// The first offset inside the history window (at most `limit`): the log
/// is read from its start up to the first commit young enough, or to
/// `limit`, whichever comes first.
async fn window_start(
    store: &dyn LogStore,
    history: History,
    now_micros: u64,
    limit: u64,
) -> Result<u64, LogError> {
    let Some(last) = store.last_offset().await? else {
        return store.first_offset().await;
    };
    match history {
        History::Commits(n) => Ok((last + 1).saturating_sub(n)),
        History::Age(age) => {
            let since = now_micros.saturating_sub(age.as_micros() as u64);
            let mut commits = store.read_from(store.first_offset().await?).await?;
            while let Some(c) = commits.try_next().await? {
                if c.timestamp >= since || c.offset >= limit {
                    return Ok(c.offset);
                }
            }
            Ok(last + 1)
        }
    }
}
