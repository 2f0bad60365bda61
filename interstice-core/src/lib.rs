//! The Interstice runtime.
//!
//! It keeps every published module's tables in memory ([`db`]), runs
//! reducers as transactions, makes each commit durable through a
//! [`interstice_log::LogStore`] before acknowledging it, and rebuilds all
//! state from the log alone with the [`ReplayEngine`]. It knows the
//! `LogStore` trait only, never a backend.

pub mod db;
mod error;
mod replay;
pub mod subscriptions;
pub mod table;

pub use error::{ReplayError, TableError};
pub use replay::{ReplayEngine, ReplayReport, Replayed};
