//! Backup and restore: copying a log and its snapshots from one pair of
//! stores to another (any backend to any backend), consistently while the
//! source is being written, and incrementally on later runs.
//!
//! A backup is itself a log with snapshots: it starts at a snapshot of the
//! source (or at offset 0), holds every commit after it, and opens like
//! any log. Restoring is a backup in the other direction, into an empty
//! log.

use bytes::Bytes;
use futures::TryStreamExt;

use crate::snapshot::{SnapshotReader, SnapshotStore};
use crate::{CommitBatch, Error, LogStore};

/// Bytes of commits per append to the destination.
const BATCH_BYTES: usize = 4 << 20;

/// What a backup run copied.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// The snapshot the copy started from, when it was a new copy.
    pub started_at: Option<u64>,
    /// Commits copied.
    pub commits: u64,
    /// Bytes of commit frames copied.
    pub bytes: u64,
    /// Snapshots copied, by offset.
    pub snapshots: Vec<u64>,
    /// The destination's last offset afterwards: the state it opens to.
    pub last_offset: Option<u64>,
    /// Source snapshots passed over as a starting point, and why.
    pub skipped: Vec<(u64, String)>,
}

/// Why a backup stopped. What was copied before it stays copied and
/// consistent: the destination is a valid log up to its last offset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// A store failed.
    #[error(transparent)]
    Store(#[from] Error),
    /// The source no longer has the commits the destination continues
    /// from (retention removed them since the last run).
    #[error(
        "the backup ends at offset {backup_next} but the source now starts at {source_first}: make a new backup into an empty destination"
    )]
    Gap {
        /// The destination's next offset.
        backup_next: u64,
        /// The source's first offset.
        source_first: u64,
    },
    /// The destination's last commit is not the source's commit at that
    /// offset: they are different histories.
    #[error(
        "the destination's commit {offset} differs from the source's: it is a backup of another log, or the source was cut and written again"
    )]
    Diverged {
        /// The offset that differs.
        offset: u64,
    },
    /// The source starts after 0 and has no sound snapshot to start from.
    #[error(
        "the source starts at offset {source_first} and has no sound snapshot from which to copy it"
    )]
    NoSnapshot {
        /// The source's first offset.
        source_first: u64,
    },
}

/// Copies `source` (and its snapshots) into `dest` (and its snapshots):
/// into an empty destination, the newest sound snapshot the source log
/// continues and every commit after it; into a destination that holds an
/// earlier run's copy, only what is new. The source may be written
/// meanwhile: the copy ends at its last durable commit when the run began.
pub async fn backup(
    source: &dyn LogStore,
    source_snapshots: &dyn SnapshotStore,
    dest: &dyn LogStore,
    dest_snapshots: &dyn SnapshotStore,
) -> Result<BackupReport, BackupError> {
    let mut report = BackupReport::default();
    let Some(last) = source.last_offset().await? else {
        report.last_offset = dest.last_offset().await?;
        return Ok(report);
    };
    let source_first = source.first_offset().await?;
    let from = match dest.last_offset().await? {
        None => {
            let start =
                start_snapshot(source, source_snapshots, source_first, last, &mut report).await?;
            if let Some((offset, bytes)) = start {
                dest_snapshots.put(offset, bytes).await?;
                dest.remove_before(offset).await?;
                report.started_at = Some(offset);
                report.snapshots.push(offset);
                offset
            } else {
                0
            }
        }
        Some(dest_last) => {
            if dest_last + 1 < source_first {
                return Err(BackupError::Gap {
                    backup_next: dest_last + 1,
                    source_first,
                });
            }
            let theirs = dest.read_from(dest_last).await?.try_next().await?;
            let ours = source.read_from(dest_last).await?.try_next().await?;
            if theirs.is_none() || theirs != ours {
                return Err(BackupError::Diverged { offset: dest_last });
            }
            dest_last + 1
        }
    };
    copy_commits(source, dest, from, last, &mut report).await?;
    copy_newer_snapshots(source_snapshots, dest, dest_snapshots, &mut report).await?;
    report.last_offset = dest.last_offset().await?;
    Ok(report)
}

/// The newest snapshot at or before `last` that verifies and whose commit
/// the source still holds; `None` to copy from offset 0.
async fn start_snapshot(
    source: &dyn LogStore,
    snapshots: &dyn SnapshotStore,
    first: u64,
    last: u64,
    report: &mut BackupReport,
) -> Result<Option<(u64, Bytes)>, BackupError> {
    for offset in snapshots.list().await?.into_iter().rev() {
        if offset > last || offset < first {
            continue;
        }
        let bytes = snapshots.get(offset).await?;
        let header = match SnapshotReader::new(bytes.clone()).and_then(|r| {
            r.verify()?;
            Ok(r.header())
        }) {
            Ok(h) if h.offset == offset => h,
            Ok(h) => {
                let reason = format!("it says it was taken at offset {}", h.offset);
                report.skipped.push((offset, reason));
                continue;
            }
            Err(e) => {
                report.skipped.push((offset, e.to_string()));
                continue;
            }
        };
        let commit = source.read_from(offset).await?.try_next().await?;
        if commit.is_some_and(|c| c.timestamp == header.timestamp) {
            return Ok(Some((offset, bytes)));
        }
        let reason = "the log's commit at its offset is not the one it was taken after".into();
        report.skipped.push((offset, reason));
    }
    if first == 0 {
        return Ok(None);
    }
    Err(BackupError::NoSnapshot {
        source_first: first,
    })
}

/// Appends the source's commits `from..=last` to `dest`, in batches.
async fn copy_commits(
    source: &dyn LogStore,
    dest: &dyn LogStore,
    from: u64,
    last: u64,
    report: &mut BackupReport,
) -> Result<(), BackupError> {
    if from > last {
        return Ok(());
    }
    let mut commits = source.read_from(from).await?;
    let mut batch = CommitBatch::new(from);
    while let Some(c) = commits.try_next().await? {
        if c.offset > last {
            break;
        }
        batch.push(&c)?;
        if batch.bytes().len() >= BATCH_BYTES {
            let next = CommitBatch::new(batch.next_offset());
            flush(dest, std::mem::replace(&mut batch, next), report).await?;
        }
    }
    flush(dest, batch, report).await
}

async fn flush(
    dest: &dyn LogStore,
    batch: CommitBatch,
    report: &mut BackupReport,
) -> Result<(), BackupError> {
    if batch.is_empty() {
        return Ok(());
    }
    dest.append(&batch).await?;
    report.commits += batch.next_offset() - batch.first_offset();
    report.bytes += batch.bytes().len() as u64;
    Ok(())
}

/// Copies the source's snapshots newer than the destination's newest that
/// the destination's log continues (those at or after its first offset).
async fn copy_newer_snapshots(
    source: &dyn SnapshotStore,
    dest: &dyn LogStore,
    dest_snapshots: &dyn SnapshotStore,
    report: &mut BackupReport,
) -> Result<(), BackupError> {
    let newest = dest_snapshots.list().await?.last().copied();
    let (first, last) = (dest.first_offset().await?, dest.last_offset().await?);
    for offset in source.list().await? {
        let wanted = newest.is_none_or(|n| offset > n)
            && offset >= first
            && last.is_some_and(|l| offset <= l);
        if wanted {
            dest_snapshots
                .put(offset, source.get(offset).await?)
                .await?;
            report.snapshots.push(offset);
        }
    }
    Ok(())
}
