//! The one error type of the log and its backends.

use std::io;

use crate::report::BadFrame;

/// Everything that can go wrong reading or writing a log.
///
/// Backends convert their private errors into these variants; callers
/// match on the situation, not on the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There is no log at the location (and the options did not ask to
    /// create one).
    #[error("no log at {location} (create it first, or check the path)")]
    NotFound {
        /// Where the log was looked for.
        location: String,
    },
    /// The object-store bucket the location names does not exist (or this
    /// endpoint does not serve it).
    #[error(
        "no bucket `{bucket}` at {endpoint} (create the bucket, or check its name and the endpoint)"
    )]
    NoBucket {
        /// The bucket's name.
        bucket: String,
        /// The server asked.
        endpoint: String,
    },
    /// A snapshot store has no snapshot at the offset asked for.
    #[error("no snapshot at offset {offset} in {location}")]
    NoSnapshot {
        /// Where the snapshots are.
        location: String,
        /// The offset asked for.
        offset: u64,
    },
    /// Another process holds the log's writer lock.
    #[error("log at {location} is locked by {}", pid.map_or("another process".to_string(), |p| format!("pid {p}")))]
    Locked {
        /// The log's location.
        location: String,
        /// The lock holder's process id, when it recorded one.
        pid: Option<u32>,
    },
    /// Someone else holds a lease on the log (S3: a running writer's
    /// heartbeat, or a compaction): what was asked would interfere.
    #[error("{location} is in use: {detail}")]
    InUse {
        /// The log's location.
        location: String,
        /// Who holds it, until when, and what to do instead.
        detail: String,
    },
    /// Another writer owns the log (S3 fencing), so this store stopped
    /// writing.
    #[error("log at {location} is owned by another writer: {detail}")]
    Fenced {
        /// The log's location.
        location: String,
        /// What showed the conflict.
        detail: String,
    },
    /// A batch does not start at the log's next offset: another append got
    /// there first, or the batch was built against a stale offset.
    #[error("batch starts at offset {found} but the log's next offset is {expected}")]
    OffsetConflict {
        /// The log's next offset.
        expected: u64,
        /// The batch's first offset.
        found: u64,
    },
    /// A commit is larger than the store's maximum frame size.
    #[error("commit {offset} encodes to {size} bytes, over the maximum frame size of {max}")]
    FrameTooLarge {
        /// Offset of the oversized commit.
        offset: u64,
        /// Its encoded size.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// A commit cannot be encoded (a field does not fit its length prefix,
    /// or its offset is not the batch's next one).
    #[error("invalid commit {offset}: {reason}")]
    InvalidCommit {
        /// The commit's offset.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// Damage followed by valid data, or a bad frame met while reading:
    /// corruption that needs a person (`check-log`, then repair).
    #[error("corrupt log: {0}")]
    Corrupt(Box<BadFrame>),
    /// A segment or frame was written by a format version this code does
    /// not read (a newer writer): never cut as a tail, never guessed at.
    #[error(
        "the log was written by a newer format than this build reads (upgrade interstice): {0}"
    )]
    UnsupportedVersion(Box<BadFrame>),
    /// An append failed and the store could not undo what it may have
    /// written: commits `first..=last` may or may not be in the log. The
    /// store stops writing; reopening the log tells which.
    #[error(
        "commits {first}..={last} may or may not be in the log (reopen it to find out): {detail}"
    )]
    OutcomeUnknown {
        /// The batch's first offset.
        first: u64,
        /// The batch's last offset.
        last: u64,
        /// What failed.
        detail: String,
    },
    /// `strict` recovery found an invalid tail (a torn write or damage).
    #[error("invalid tail (strict recovery refuses to cut it): {0}")]
    InvalidTail(Box<BadFrame>),
    /// A read or skip asked for an offset the log does not have.
    #[error("offset {requested} is outside the log (commits {first}..{next})")]
    OffsetOutOfRange {
        /// The offset asked for.
        requested: u64,
        /// The first offset the store serves.
        first: u64,
        /// The log's next offset.
        next: u64,
    },
    /// Commits a stream was reading were removed by retention
    /// ([`crate::LogStore::remove_before`]) meanwhile.
    #[error("commits from offset {from} of {location} were removed by retention while being read")]
    Removed {
        /// The first offset the stream could not read.
        from: u64,
        /// The log's location.
        location: String,
    },
    /// The store was opened read-only.
    #[error("log at {location} is open read-only")]
    ReadOnly {
        /// The log's location.
        location: String,
    },
    /// An earlier write or sync failed in a way that leaves the store's
    /// state in doubt; it refuses writes until reopened (which recovers).
    #[error("log store stopped after an earlier failure ({reason}); reopen the log to recover")]
    Poisoned {
        /// The failure that stopped it.
        reason: String,
    },
    /// Options that cannot work (e.g. a segment smaller than its header).
    #[error("invalid log options: {0}")]
    InvalidOptions(String),
    /// An I/O operation failed.
    #[error("{op} {location}: {source}")]
    Io {
        /// What was being done ("write", "fsync", ...).
        op: &'static str,
        /// On what.
        location: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A backend-specific failure with no better variant (e.g. an S3 error).
    #[error("{message}")]
    Backend {
        /// What failed, in words.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl Error {
    /// `Ok` when `offset` is one the log can be read or cut from: in
    /// `first..=next` (the store's first served offset, and its next
    /// offset), else [`Error::OffsetOutOfRange`]. The `read_from` and
    /// `truncate` contract of every store.
    pub fn check_offset(offset: u64, first: u64, next: u64) -> Result<(), Self> {
        if offset < first || offset > next {
            return Err(Self::OffsetOutOfRange {
                requested: offset,
                first,
                next,
            });
        }
        Ok(())
    }

    /// Wraps an I/O error with what was being done and where.
    pub fn io(op: &'static str, location: impl std::fmt::Display, source: io::Error) -> Self {
        Self::Io {
            op,
            location: location.to_string(),
            source,
        }
    }
}
