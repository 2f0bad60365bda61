//! The `SnapshotStore` trait: where snapshots are kept, beside the log.

use async_trait::async_trait;
use bytes::Bytes;

use crate::Error;

const SNAPSHOT_EXT: &str = ".snap";

/// The name of the snapshot of the state as of `offset`: the offset
/// zero-padded to 20 digits, so that names sort in offset order (as
/// segments' do), then `.snap`.
pub fn snapshot_name(offset: u64) -> String {
    format!("{offset:020}{SNAPSHOT_EXT}")
}

/// The offset a snapshot name stands for, if it is one.
pub fn parse_snapshot_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SNAPSHOT_EXT)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Storage for snapshots, by the offset they are taken at.
///
/// Implementations sit beside a log store on the same backend (a
/// `snapshots/` directory of a log directory, a `snapshots/` prefix of an
/// S3 log) and pass the snapshot cases of the conformance suite. A store
/// keeps bytes; it does not read them ([`crate::snapshot::SnapshotReader`]
/// does).
///
/// # Contract
/// - [`SnapshotStore::put`] is atomic: whatever happens during it (a crash,
///   an error, a dropped future), [`SnapshotStore::list`] afterwards shows
///   either no snapshot at that offset or the whole one, never a part; and
///   on `Ok` the snapshot is durable.
/// - A snapshot once listed stays readable until
///   [`SnapshotStore::remove`] removes it.
/// - Methods take `&self` and may be called from many tasks at once, and
///   by several processes on the same location.
#[async_trait]
pub trait SnapshotStore: Send + Sync + std::fmt::Debug {
    /// Stores the snapshot taken at `offset`, replacing any there is.
    async fn put(&self, offset: u64, bytes: Bytes) -> Result<(), Error>;

    /// The offsets of the stored snapshots, in ascending order.
    async fn list(&self) -> Result<Vec<u64>, Error>;

    /// The bytes of the snapshot at `offset`; [`Error::NoSnapshot`] when
    /// there is none.
    async fn get(&self, offset: u64) -> Result<Bytes, Error>;

    /// Removes the snapshot at `offset`, durably; removing one that is not
    /// there is not an error.
    async fn remove(&self, offset: u64) -> Result<(), Error>;

    /// Where the snapshots are, for messages.
    fn location(&self) -> String;
}
