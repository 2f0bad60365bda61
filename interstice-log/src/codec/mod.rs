//! The byte format of the log: segment headers and commit frames.
//!
//! Everything is little-endian. `docs/log-format.md` documents every byte;
//! this module is its only implementation. Decoding never panics and never
//! allocates from a length it has not checked against the bytes present and
//! the configured maximum frame size.

mod cursor;
mod frame;
mod segment;
mod start;
mod timing;

pub(crate) use cursor::Cursor;
pub use frame::{
    FRAME_MAGIC, FRAME_OVERHEAD, MUTATION_OVERHEAD, SCHEDULED_LEN, decode_frame, durable_before,
    encode_frame, epoch, frame_len, frame_size, set_durable_before, set_epoch,
};
pub use segment::{SEGMENT_HEADER_LEN, SEGMENT_MAGIC, SegmentHeader};
pub use start::{START_LEN, START_MAGIC, decode_start, encode_start};
pub use timing::MAX_TIMING_LEN;

/// The format version this code writes, in segment headers and frames.
pub const FORMAT_VERSION: u8 = 5;

/// The oldest format version this code reads: it reads every version from
/// this one to [`FORMAT_VERSION`].
pub const OLDEST_VERSION: u8 = 1;

/// Whether this code reads format `version`.
pub fn is_known_version(version: u8) -> bool {
    (OLDEST_VERSION..=FORMAT_VERSION).contains(&version)
}

/// Why bytes that should hold a frame (or a segment header) do not.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The bytes end before the frame does: a torn write, or a corrupt length.
    #[error("truncated: frame needs {needed} bytes, {available} present")]
    Truncated {
        /// Bytes the frame's own lengths call for (so far).
        needed: u64,
        /// Bytes present from the frame's start.
        available: u64,
    },
    /// The frame does not start with the frame magic.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The four bytes found instead.
        found: [u8; 4],
    },
    /// The frame was written by a format version this code does not read.
    #[error(
        "written by log format version {0}, which this build does not read (it reads versions {OLDEST_VERSION} to {FORMAT_VERSION})"
    )]
    UnsupportedVersion(u8),
    /// The frame sets flag bits this version does not define.
    #[error("unknown flags {0:#04x}")]
    UnknownFlags(u8),
    /// The frame's lengths add up to more than the maximum frame size.
    #[error("frame of {size} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Size the frame's lengths call for (so far).
        size: u64,
        /// The configured maximum frame size.
        max: u64,
    },
    /// The stored checksum does not match the bytes.
    #[error("checksum mismatch: stored {expected:#010x}, computed {found:#010x}")]
    ChecksumMismatch {
        /// The CRC32 stored in the frame.
        expected: u32,
        /// The CRC32 of the bytes as read.
        found: u32,
    },
    /// The checksum matches but the contents break a rule of the format.
    #[error("malformed: {reason}")]
    Malformed {
        /// What rule is broken.
        reason: String,
    },
}

impl FrameError {
    /// True when the bytes simply stop early, as a torn write leaves them.
    pub fn is_truncation(&self) -> bool {
        matches!(self, Self::Truncated { .. })
    }
}
