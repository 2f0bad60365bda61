//! The transaction log of Interstice.
//!
//! Every committed transaction of the runtime becomes one [`Commit`] in a
//! log: offset-addressed, checksummed, and durable before the caller is told
//! it committed. This crate defines what a log holds ([`Commit`],
//! [`Mutation`], [`ModuleRecord`]), how it is encoded ([`codec`], specified
//! in `docs/log-format.md`), and the [`LogStore`] trait that the runtime and
//! the ReplayEngine depend on. Backends (`interstice-backend-fs`,
//! `interstice-backend-s3`) implement the trait, share [`scan`] for reading
//! and verifying segments, and prove themselves against the
//! [`conformance`] suite (feature `conformance`).

mod batch;
pub mod codec;
mod entry;
mod error;
mod options;
mod report;
pub mod scan;
mod store;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use batch::CommitBatch;
pub use entry::{Commit, Invocation, ModuleRecord, Mutation, MutationKind};
pub use error::Error;
pub use options::{Durability, LogOptions, ParseOptionError, RecoveryMode};
pub use report::{BadFrame, Damage, Quarantined, RecoveryReport, TruncateReport, VerifyReport};
pub use store::{CommitStream, LogStore, LogStoreExt};
