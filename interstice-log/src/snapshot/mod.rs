//! Snapshots: the whole state as of one commit, so that opening a log
//! replays only what came after it.
//!
//! The log stays the source of truth; a snapshot is a cache of the state at
//! offset N that can be thrown away and rebuilt from the log. This module
//! is its byte format (`docs/snapshot-format.md` documents every byte):
//! [`SnapshotWriter`] encodes a state as a stream of [`Record`]s, in blocks
//! that each carry a CRC-32, behind a header and a trailer;
//! [`SnapshotReader`] checks the header and trailer (a snapshot without its
//! trailer is incomplete), then each block as it reaches it, so damage is
//! located (block and byte), not just detected. Where snapshots are kept is
//! a [`SnapshotStore`].
//!
//! What the records mean (tables of which module, rows in which encoding)
//! is the runtime's business: this crate only keeps them whole and in order.

mod read;
mod store;
mod write;

use bytes::Bytes;

pub use read::SnapshotReader;
pub use store::{SnapshotStore, parse_snapshot_name, snapshot_name};
pub use write::SnapshotWriter;

use crate::ModuleRecord;

/// The four bytes every snapshot starts with.
pub const SNAPSHOT_MAGIC: [u8; 4] = *b"ISNP";
/// The four bytes its trailer starts with.
pub const TRAILER_MAGIC: [u8; 4] = *b"ISNT";
/// The snapshot format version this code writes. It reads every version
/// from 1 to this one (version 1 has no [`Record::Request`], versions 1
/// and 2 no [`Record::Timer`]).
pub const SNAPSHOT_VERSION: u8 = 3;
/// Length of the header.
pub const HEADER_LEN: usize = 4 + 1 + 3 + 8 + 8 + 8 + 4;
/// Length of the trailer.
pub const TRAILER_LEN: usize = 4 + 4 + 8 + 8 + 4;
/// Length of a block's header (payload length and checksum).
pub const BLOCK_HEADER_LEN: usize = 4 + 4;
/// A block is closed once its payload reaches this many bytes (a record is
/// never split, so a block holding one large record is larger).
pub const BLOCK_TARGET: usize = 1 << 20;

/// What a snapshot's header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// The last commit the state includes.
    pub offset: u64,
    /// That commit's timestamp: a log cut and written again after the
    /// snapshot was taken has a different commit there, and the snapshot
    /// is not used.
    pub timestamp: u64,
    /// The runtime clock: the latest commit timestamp at or before
    /// `offset`, so that time never goes backwards across a restart.
    pub clock: u64,
}

/// A subscribed reducer call that a commit at or before the snapshot's
/// offset triggered and whose follow-up commit is not yet in the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingCall {
    /// Offset of the commit that triggered it.
    pub cause: u64,
    /// The subscribing module.
    pub module: String,
    /// Its reducer.
    pub reducer: String,
    /// The encoded arguments.
    pub args: Bytes,
    /// Subscription steps that led here (1 for a direct trigger).
    pub depth: u32,
    /// The chain of reducers that led here.
    pub path: Vec<String>,
}

/// One item of a snapshot's state, in the order they are written: every
/// module, then every table of each module followed by its rows, then the
/// pending calls, then the request ids, then the timers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// A module as last published.
    Module {
        /// Its id in the log.
        module_id: u32,
        /// Its schema's hash.
        schema_hash: u64,
        /// Its name, schema and WebAssembly binary.
        record: ModuleRecord,
    },
    /// A table; its `rows` rows follow it.
    Table {
        /// The module it belongs to.
        module_id: u32,
        /// Its id in the module.
        table_id: u32,
        /// The hash of its schema.
        schema_hash: u64,
        /// Its next auto-increment value.
        next_auto_inc: u128,
        /// How many [`Record::Row`]s follow.
        rows: u64,
    },
    /// One row of the table before it, in that table's row encoding, in
    /// primary-key order.
    Row(Bytes),
    /// A subscription follow-up still to run.
    Pending(PendingCall),
    /// A request id a commit at or before the snapshot's offset carries,
    /// remembered for exactly-once calls (version 2).
    Request {
        /// The id.
        id: String,
        /// The commit that carries it.
        offset: u64,
        /// That commit's timestamp.
        timestamp: u64,
        /// The fingerprint of its call (module, reducer, arguments).
        fingerprint: u64,
    },
    /// When a row of a schedule table that repeats (an interval) is next
    /// due: derived from the log (the commit that inserted the row, its
    /// runs), so it cannot be rebuilt from the rows alone (version 3).
    Timer {
        /// The schedule table's module.
        module_id: u32,
        /// The schedule table.
        table_id: u32,
        /// The row's primary key, in its canonical encoding.
        key: Bytes,
        /// When it is next due, in microseconds since the Unix epoch.
        due: u64,
    },
}

/// Record kinds, as stored.
mod kind {
    pub const MODULE: u8 = 1;
    pub const TABLE: u8 = 2;
    pub const ROW: u8 = 3;
    pub const PENDING: u8 = 4;
    pub const REQUEST: u8 = 5;
    pub const TIMER: u8 = 6;
}

/// Why bytes are not a sound snapshot, and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{problem} (at byte {position}{})", block.map_or(String::new(), |b| format!(", block {b}")))]
pub struct SnapshotError {
    /// Byte position of the damage (of the block that holds it, for a
    /// checksum mismatch).
    pub position: u64,
    /// The block, counting from 0, when the damage is in one.
    pub block: Option<u32>,
    /// What is wrong.
    pub problem: SnapshotProblem,
}

/// What is wrong with a snapshot.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotProblem {
    /// Too short for a header and a trailer, or the trailer is missing:
    /// the snapshot was never completed.
    #[error("incomplete snapshot: {0}")]
    Incomplete(String),
    /// The header is not a snapshot header (magic or checksum).
    #[error("bad header: {0}")]
    BadHeader(String),
    /// Written by a format version this code does not read.
    #[error(
        "snapshot format version {0}, which this build does not read (it reads 1 to {SNAPSHOT_VERSION})"
    )]
    UnsupportedVersion(u8),
    /// A block's checksum does not match its bytes.
    #[error("checksum mismatch: stored {expected:#010x}, computed {found:#010x}")]
    Checksum {
        /// The stored CRC-32.
        expected: u32,
        /// The CRC-32 of the bytes as read.
        found: u32,
    },
    /// The checksums match but the contents break a rule of the format.
    #[error("malformed: {0}")]
    Malformed(String),
}

impl SnapshotError {
    fn new(position: usize, block: Option<u32>, problem: SnapshotProblem) -> Self {
        Self {
            position: position as u64,
            block,
            problem,
        }
    }
}

/// The CRC-32 of a block: over its index, its length and its payload, so
/// that a block moved or repeated is damage too.
fn block_crc(index: u32, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&index.to_le_bytes());
    h.update(&(payload.len() as u32).to_le_bytes());
    h.update(payload);
    h.finalize()
}

#[cfg(test)]
mod tests;
