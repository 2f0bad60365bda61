//! The local-disk backend of Interstice's transaction log.
//!
//! [`FsLogStore`] implements `interstice_log::LogStore` on a directory of
//! append-only segment files (the format of `docs/log-format.md`). It is
//! what `interstice` uses for a `file://` or plain-path log: `fdatasync`
//! before acknowledging at the `sync` level, atomic segment creation with
//! directory fsyncs, a lock file against a second writer, and tail recovery
//! that quarantines cut bytes instead of deleting them. It passes the
//! `interstice-log` conformance suite.
//!
//! ```
//! use interstice_backend_fs::FsLogStore;
//! use interstice_log::{Commit, LogOptions, LogStoreExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), interstice_log::Error> {
//! # let tmp = tempfile::tempdir().unwrap();
//! # let dir = tmp.path().join("log");
//! let store = FsLogStore::open(&dir, LogOptions::default().create(true))?;
//! let commit = Commit { offset: store.next_offset().await?, timestamp: 1, cause: None,
//!                       invocation: Default::default(), mutations: vec![] };
//! store.append_commit(&commit).await?; // durable (fdatasync) when this returns
//! drop(store);
//!
//! let store = FsLogStore::open(&dir, LogOptions::default())?; // a restart
//! assert_eq!(store.read_all(0).await?, vec![commit]);
//! # Ok(())
//! # }
//! ```

mod layout;
mod lock;
mod recovery;
pub mod sim;
mod snapshots;
mod store;
pub mod vfs;

pub use snapshots::{FsSnapshotStore, SNAPSHOT_DIR};
pub use store::FsLogStore;
