//! What verification and recovery found: reports meant for people.

use std::fmt;

use crate::RecoveryMode;
use crate::codec::FrameError;

/// One damaged stretch of a segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadFrame {
    /// The segment's name (file or object name).
    pub segment: String,
    /// Byte position of the damage within the segment.
    pub position: u64,
    /// The commit offset expected at that position, when known.
    pub offset: Option<u64>,
    /// Bytes from `position` to the next valid frame or the segment's end.
    pub len: u64,
    /// What is wrong.
    pub damage: Damage,
}

/// Why a stretch of bytes is not a valid part of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Damage {
    /// The bytes do not hold a valid frame (checksum, magic, length...).
    Frame(FrameError),
    /// The segment header is invalid.
    Header(FrameError),
    /// A valid frame carries an offset other than the next one.
    UnexpectedOffset {
        /// The offset that should come next.
        expected: u64,
        /// The offset the frame carries.
        found: u64,
    },
    /// The segment's name and header disagree about its first offset.
    NameMismatch {
        /// Offset in the segment's header.
        header: u64,
    },
    /// Commits are missing between two segments (a lost file or object).
    Missing {
        /// The first missing offset.
        from: u64,
        /// The offset the next segment starts with.
        to: u64,
    },
    /// A valid frame written by a writer epoch older than one that had
    /// already begun before its offset: a late write from a writer that
    /// had been replaced (see [`crate::epochs`]).
    StaleEpoch {
        /// The epoch the frame carries.
        epoch: u64,
        /// The newer epoch that rules its offset.
        required: u64,
        /// Where that epoch began (or the commit before, written by it).
        since: u64,
    },
    /// A valid frame of a segment that overlaps another (a copy made by
    /// compaction) differs from the frame the other holds for that commit.
    Overlap {
        /// The segment whose frame was read first.
        other: String,
    },
}

impl BadFrame {
    /// Commits `from..to` are missing before segment `segment` (a lost file
    /// or object): the damage is at the segment's start.
    pub fn missing(segment: impl Into<String>, from: u64, to: u64) -> Self {
        Self {
            segment: segment.into(),
            position: 0,
            offset: Some(from),
            len: 0,
            damage: Damage::Missing { from, to },
        }
    }

    /// The stored and computed checksums, when the damage is a mismatch.
    pub fn checksums(&self) -> Option<(u32, u32)> {
        match &self.damage {
            Damage::Frame(FrameError::ChecksumMismatch { expected, found })
            | Damage::Header(FrameError::ChecksumMismatch { expected, found }) => {
                Some((*expected, *found))
            }
            _ => None,
        }
    }
}

impl fmt::Display for BadFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hole has no bytes: it is named by the segment after it.
        if let Damage::Missing { .. } = self.damage {
            return write!(f, "{} (before segment {})", self.damage, self.segment);
        }
        write!(f, "segment {} byte {}", self.segment, self.position)?;
        if let Some(offset) = self.offset {
            write!(f, " (commit {offset})")?;
        }
        write!(f, ": {} ({} bytes)", self.damage, self.len)
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Frame(e) => write!(f, "bad frame: {e}"),
            Self::Header(e) => write!(f, "bad segment header: {e}"),
            Self::UnexpectedOffset { expected, found } => {
                write!(f, "frame has offset {found}, expected {expected}")
            }
            Self::NameMismatch { header } => {
                write!(
                    f,
                    "segment name disagrees with its header (first offset {header})"
                )
            }
            Self::Missing { from, to } if to.saturating_sub(*from) == 1 => {
                write!(f, "commit {from} is missing")
            }
            Self::Missing { from, to } => {
                write!(f, "commits {from}..={} are missing", to.saturating_sub(1))
            }
            Self::StaleEpoch {
                epoch,
                required,
                since,
            } => write!(
                f,
                "written by writer epoch {epoch} after epoch {required} had begun (at commit {since}): a late write from a replaced writer, over or after commits the log's writer acknowledged"
            ),
            Self::Overlap { other } => write!(
                f,
                "differs from the same commit in segment {other} (a segment that overlaps another must be a copy of it)"
            ),
        }
    }
}

/// The result of [`crate::LogStore::verify`]: every bad frame in the log.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segments examined.
    pub segments: u64,
    /// Valid commits found.
    pub commits: u64,
    /// Bytes the log's segments use: headers, frames and damage (not the
    /// zeroed space a disk writer allocates ahead of its writes).
    pub bytes: u64,
    /// Offset of the last valid commit.
    pub last_offset: Option<u64>,
    /// Every damaged stretch, in log order.
    pub bad: Vec<BadFrame>,
}

impl VerifyReport {
    /// True when nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.bad.is_empty()
    }
}

/// Bytes moved out of the log into a quarantine file by recovery or
/// truncation. Nothing is deleted: the bytes stay in `location`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quarantined {
    /// The segment the bytes came from.
    pub segment: String,
    /// Their position in it.
    pub position: u64,
    /// How many bytes.
    pub len: u64,
    /// Where they are kept now.
    pub location: String,
}

impl fmt::Display for Quarantined {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes from segment {} byte {} kept in {}",
            self.len, self.segment, self.position, self.location
        )
    }
}

/// What opening a log found and did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The mode it opened with.
    pub mode: RecoveryMode,
    /// The invalid tail, if one was found (cut unless read-only).
    pub invalid_tail: Option<BadFrame>,
    /// Damage followed by valid commits. A writable open fails on it; a
    /// read-only open reports it here and serves the log as stored, so
    /// reads stop at the damage with [`crate::Error::Corrupt`].
    pub corruption: Option<BadFrame>,
    /// Bytes moved to quarantine.
    pub quarantined: Vec<Quarantined>,
    /// First offset served (non-zero after `skip-to`).
    pub first_offset: u64,
    /// Last valid commit.
    pub last_offset: Option<u64>,
}

impl RecoveryReport {
    /// The report of an open in `mode` before recovery has found anything.
    pub fn new(mode: RecoveryMode) -> Self {
        Self {
            mode,
            invalid_tail: None,
            corruption: None,
            quarantined: Vec::new(),
            first_offset: 0,
            last_offset: None,
        }
    }

    /// Records that the recovered log serves `first_offset..next_offset`.
    pub fn serving(&mut self, first_offset: u64, next_offset: u64) {
        self.first_offset = first_offset;
        self.last_offset = next_offset.checked_sub(1).filter(|&o| o >= first_offset);
    }
}

/// What [`crate::LogStore::truncate`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TruncateReport {
    /// Commits removed from the log.
    pub removed: u64,
    /// Where their bytes are kept.
    pub quarantined: Vec<Quarantined>,
}

impl TruncateReport {
    /// Checks a truncation `from` of a log serving `first..next` (the
    /// `LogStore::truncate` contract: `from` in `first..=next`, else
    /// [`crate::Error::OffsetOutOfRange`]) and starts its report:
    /// `removed` is `next - from`, 0 meaning there is nothing to do.
    pub fn start(from: u64, first: u64, next: u64) -> Result<Self, crate::Error> {
        crate::Error::check_offset(from, first, next)?;
        Ok(Self {
            removed: next - from,
            quarantined: Vec::new(),
        })
    }
}

/// What [`crate::LogStore::remove_before`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixReport {
    /// The log's first offset now.
    pub first_offset: u64,
    /// Segments (files, objects) removed, in log order.
    pub removed: Vec<String>,
    /// Their bytes.
    pub bytes: u64,
}
