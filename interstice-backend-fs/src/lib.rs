//! The local-disk backend of Interstice's transaction log.
//!
//! [`FsLogStore`] implements `interstice_log::LogStore` on a directory of
//! append-only segment files (the format of `docs/log-format.md`). It is
//! what `interstice` uses for a `file://` or plain-path log: `fdatasync`
//! before acknowledging at the `sync` level, atomic segment creation with
//! directory fsyncs, a lock file against a second writer, and tail recovery
//! that quarantines cut bytes instead of deleting them. It passes the
//! `interstice-log` conformance suite.

mod layout;
mod lock;
mod recovery;
mod store;

pub use store::FsLogStore;
