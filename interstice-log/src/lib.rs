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
//!
//! ```
//! use bytes::Bytes;
//! use interstice_log::{codec, Commit, CommitBatch, Invocation, Mutation, MutationKind};
//!
//! // The durability pipeline encodes commits into a batch...
//! let mut batch = CommitBatch::new(0);
//! batch.push(&Commit {
//!     offset: 0,
//!     timestamp: 1_700_000_000_000_000,
//!     cause: None,
//!     invocation: Invocation {
//!         module: "hello".into(),
//!         reducer: "hello".into(),
//!         args: Bytes::new(),
//!         request_id: None,
//!         timing: None,
//!         scheduled: None,
//!     },
//!     mutations: vec![Mutation {
//!         kind: MutationKind::Insert,
//!         module_id: 1,
//!         table_id: 1,
//!         schema_hash: 7,
//!         row: Bytes::from_static(b"Hello, world!"),
//!     }],
//! })?;
//! // ...and a reader decodes and verifies each frame.
//! let bytes = Bytes::copy_from_slice(batch.bytes());
//! let (commit, len) = codec::decode_frame(&bytes, 0, u64::MAX)?;
//! assert_eq!((commit.offset, len), (0, bytes.len()));
//! assert_eq!(&commit.mutations[0].row[..], b"Hello, world!");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod backup;
mod batch;
pub mod codec;
mod entry;
pub mod epochs;
mod error;
mod options;
mod report;
pub mod scan;
pub mod snapshot;
mod store;

#[cfg(feature = "conformance")]
pub mod conformance;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "mock")]
pub mod mock;

pub use batch::CommitBatch;
pub use entry::{
    CallTiming, Commit, Invocation, ModuleRecord, Mutation, MutationKind, NestedCall, ScheduledRun,
    TAKE_OVER_INVOCATION,
};
pub use error::Error;
pub use options::{Durability, LogOptions, ParseOptionError, RecoveryMode};
pub use report::{
    BadFrame, Damage, PrefixReport, Quarantined, RecoveryReport, TruncateReport, VerifyReport,
};
pub use store::{CommitStream, LogStore, LogStoreExt, PendingAppend};
