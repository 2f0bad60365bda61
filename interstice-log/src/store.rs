//! The `LogStore` trait: what the runtime and the ReplayEngine need from
//! wherever the log lives.

use async_trait::async_trait;
use futures::TryStreamExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;

use crate::report::{PrefixReport, TruncateReport, VerifyReport};
use crate::{Commit, CommitBatch, Error};

/// A stream of verified commits in offset order.
pub type CommitStream = BoxStream<'static, Result<Commit, Error>>;

/// An append under way ([`LogStore::start_append`]): resolves with the
/// append's outcome, as [`LogStore::append`] would return it.
pub type PendingAppend = BoxFuture<'static, Result<(), Error>>;

/// Durable, append-only storage for a log of commits.
///
/// Implementations: `interstice-backend-fs` (segment files) and
/// `interstice-backend-s3` (objects). Every implementation must pass the
/// conformance suite (`interstice_log::conformance`, feature
/// `conformance`).
///
/// # Contract shared by every method
/// - A store is opened by its backend with [`crate::LogOptions`]; opening
///   runs recovery (see [`crate::RecoveryMode`]) so that afterwards the log
///   is a dense sequence of valid commits `first..=last`.
/// - Errors are [`Error`] variants that name the situation; a backend never
///   reports success for a write whose outcome it does not know.
/// - Methods take `&self` and may be called from many tasks at once.
#[async_trait]
pub trait LogStore: Send + Sync + std::fmt::Debug {
    /// Appends `batch`, whose first offset must be the log's next offset.
    ///
    /// # Contract
    /// - On `Ok`, every commit of the batch is durable at the store's
    ///   [`crate::Durability`] level and visible to later reads.
    /// - The batch is atomic with respect to other appends: concurrent
    ///   appends never interleave frames, and exactly one of two appends
    ///   built for the same offset succeeds; the other gets
    ///   [`Error::OffsetConflict`] (or [`Error::Fenced`] when another
    ///   *process* wrote it) and nothing of it is stored.
    /// - A frame over the maximum frame size fails with
    ///   [`Error::FrameTooLarge`] before anything is written.
    /// - On any other error nothing of the batch is in the log, and a later
    ///   open never reads it: a store whose write or sync failed takes back
    ///   what it may have written before answering. When it cannot (the
    ///   undo fails too), it answers [`Error::OutcomeUnknown`] instead: the
    ///   batch may or may not be in the log. A store that cannot know
    ///   whether a write it gave up on may still land (an object store
    ///   whose request timed out) answers [`Error::OutcomeUnknown`] too.
    ///   After a failed write or sync the store returns [`Error::Poisoned`]
    ///   to every later append, or settles the unknown batch first (so it
    ///   is then certainly in the log or certainly not); reopening
    ///   recovers.
    /// - Cancellation: dropping the future does not cancel an append that
    ///   has started; it completes or fails as a whole, and
    ///   [`LogStore::last_offset`] tells which.
    async fn append(&self, batch: &CommitBatch) -> Result<(), Error>;

    /// How many appends this store may have under way at once through
    /// [`LogStore::start_append`]: 1 (the default) for a store that
    /// appends one batch at a time.
    fn max_in_flight(&self) -> usize {
        1
    }

    /// Starts appending `batch` and returns once its place in the log is
    /// taken; the returned future resolves when it is durable or failed.
    /// This is how a writer keeps up to [`LogStore::max_in_flight`]
    /// appends under way (S3: several objects written at once).
    ///
    /// # Contract
    /// - `batch` starts where the previous started append ends, whether
    ///   that one is acknowledged yet or not; otherwise
    ///   [`Error::OffsetConflict`], and nothing is written.
    /// - Appends are acknowledged strictly in offset order: a pending
    ///   append resolves `Ok` only after every earlier one did, and `Ok`
    ///   means what it means for [`LogStore::append`] (durable, visible
    ///   to later reads).
    /// - When one fails, every later one started before the failure was
    ///   known fails too, never better than it: after an
    ///   [`Error::OutcomeUnknown`] the later ones are unknown as well (if
    ///   the earlier batch lands, they may be in the log behind it); after
    ///   [`Error::Fenced`] they are fenced. Appends started after that fail
    ///   without writing (or settle the unknown ones first, as `append`
    ///   does).
    /// - After a crash, the log is the contiguous prefix of what was
    ///   written: a batch stored behind one that never was is not in the
    ///   log, and the next open sets it aside (quarantine). Only the last
    ///   `max_in_flight` appends can leave such a hole; one anywhere else
    ///   is corruption.
    /// - Dropping the returned future does not cancel the append.
    ///
    /// The default appends the whole batch before returning.
    async fn start_append(&self, batch: &CommitBatch) -> Result<PendingAppend, Error> {
        let result = self.append(batch).await;
        Ok(Box::pin(std::future::ready(result)))
    }

    /// Streams the commits with offset `from` and later, each verified
    /// (checksum and offset), up to the last commit durable when the call
    /// was made.
    ///
    /// # Contract
    /// - `from` may be anything from the first offset served (0, or the
    ///   `skip-to` offset) to the next offset (an empty stream); anything
    ///   else fails with [`Error::OffsetOutOfRange`]. Below the first
    ///   served offset, `from` is an error too: a `skip-to` log does not
    ///   pretend to have its start.
    /// - A bad frame ends the stream with [`Error::Corrupt`] naming its
    ///   segment and position; no commit after it is yielded.
    /// - Dropping the stream stops reading; it holds no lock.
    async fn read_from(&self, from: u64) -> Result<CommitStream, Error>;

    /// The offset of the last durable commit, or `None` for an empty log.
    async fn last_offset(&self) -> Result<Option<u64>, Error>;

    /// The first offset the store serves: 0, the `skip-to` offset, or
    /// where [`LogStore::remove_before`] left the start of the log.
    async fn first_offset(&self) -> Result<u64, Error>;

    /// Removes the commits before `before` that fill whole segments (files,
    /// objects): the retention of a log whose older commits a snapshot
    /// covers. Returns the new first offset, at most `before`.
    ///
    /// # Contract
    /// - Never removes a commit at or after `before`, nor the segment
    ///   appends go to; removes nothing when no whole segment lies before
    ///   `before`.
    /// - `before` beyond the next offset fails with
    ///   [`Error::OffsetOutOfRange`], except on a log with no commits at
    ///   all: it then starts at `before`, and the next append must start
    ///   there (a log restored from a snapshot at `before - 1`).
    /// - Durable on return. A crash part-way leaves a readable log whose
    ///   first offset is the old one or the new one; so do concurrent
    ///   [`LogStore::first_offset`] calls and opens by other processes. A
    ///   stream reading the removed commits at the time may end with
    ///   [`Error::Removed`].
    /// - A store opened read-only fails with [`Error::ReadOnly`].
    async fn remove_before(&self, before: u64) -> Result<PrefixReport, Error>;

    /// Reads every stored byte of the log, including any part recovery set
    /// aside in a read-only open, and reports every bad frame. It fails only
    /// when the storage cannot be read at all; damage goes in the report.
    async fn verify(&self) -> Result<VerifyReport, Error>;

    /// Removes every commit with offset `from` or later, keeping their bytes
    /// in quarantine (never deleting them). Afterwards the next append must
    /// start at `from`.
    ///
    /// # Contract
    /// - `from` beyond the next offset fails with [`Error::OffsetOutOfRange`];
    ///   `from` equal to it is a no-op.
    /// - Durable on return: a crash afterwards does not bring the removed
    ///   commits back.
    /// - Meant for repair: streams open at the time may end with an error.
    async fn truncate(&self, from: u64) -> Result<TruncateReport, Error>;

    /// Learns of the commits other processes appended since this store
    /// opened or last refreshed, and returns the next offset: what a
    /// read-only store following another process's writes calls before
    /// reading on (`read_from` serves up to where the store last looked).
    /// The default, for a store that only sees its own appends (or one
    /// open for writing), learns nothing.
    async fn refresh(&self) -> Result<u64, Error> {
        match self.last_offset().await? {
            Some(last) => Ok(last + 1),
            None => self.first_offset().await,
        }
    }

    /// Gives up what the store holds for writing, once the writer is done
    /// with it (S3: the writer lease, so that the next writer need not
    /// wait for it to expire). Reads keep working. The default holds
    /// nothing.
    async fn release(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Conveniences on top of [`LogStore`], for every store.
#[async_trait]
pub trait LogStoreExt: LogStore {
    /// The offset the next append must start at: after the last commit,
    /// or the first offset of a log with none.
    async fn next_offset(&self) -> Result<u64, Error> {
        match self.last_offset().await? {
            Some(last) => Ok(last + 1),
            None => self.first_offset().await,
        }
    }

    /// Every commit from `from` on, collected. For tests and small logs.
    async fn read_all(&self, from: u64) -> Result<Vec<Commit>, Error> {
        self.read_from(from).await?.try_collect().await
    }

    /// Appends one commit as a batch of one.
    async fn append_commit(&self, commit: &Commit) -> Result<(), Error> {
        let mut batch = CommitBatch::new(commit.offset);
        batch.push(commit)?;
        self.append(&batch).await
    }
}

impl<T: LogStore + ?Sized> LogStoreExt for T {}
