//! The S3 backend of the Interstice transaction log.
//!
//! [`S3LogStore`] implements `interstice_log::LogStore` on any
//! S3-compatible object store (AWS S3, MinIO, Garage, ...) through the
//! `object_store` crate. Every appended batch becomes one object named by
//! its first offset and holding the same bytes a disk segment would (a
//! segment header, then frames), written create-only so two writers can
//! never both store an offset: the second is fenced. Opening probes whether
//! the server really enforces create-only puts. The protocol, and what an
//! operator must know, is in `docs/s3.md`; the runtime sees only the
//! `LogStore` trait.

mod append;
mod compact;
mod config;
mod epochs;
mod holes;
mod lease;
mod objects;
mod plan;
mod reader;
mod recovery;
mod snapshots;
mod store;
mod survey;
mod tail;
mod verify;
mod writer_lease;

pub use compact::CompactReport;
pub use config::{DEFAULT_INFLIGHT, S3Config, WriterLease};
pub use lease::LeaseInfo;
pub use snapshots::S3SnapshotStore;
pub use store::S3LogStore;
