//! The Interstice runtime.
//!
//! It keeps every published module's tables in memory ([`db`]), runs
//! reducers as transactions, makes each commit durable through a
//! [`interstice_log::LogStore`] before acknowledging it, and rebuilds all
//! state from the log alone with the [`ReplayEngine`]. It knows the
//! `LogStore` trait only, never a backend.

pub mod cycles;
pub mod db;
pub mod debugger;
pub mod dry_run;
mod durability;
mod error;
pub mod graph;
pub mod history;
mod host;
mod index;
pub mod inspect;
pub mod json;
pub mod migrate;
pub mod observe;
mod parallel;
pub mod query;
mod replay;
pub mod replay_check;
pub mod requests;
pub mod retention;
mod runtime;
pub mod snapshot;
pub mod snapshot_check;
mod spans;
pub mod subscriptions;
pub mod table;
pub mod timers;
pub mod trace;

pub use durability::{BATCH_SIZE_BOUNDS, DurableCommits, LogStats};
pub use error::{
    CallError, CallErrorKind, LimitKind, PublishError, ReplayError, SnapshotLoadError, Stopped,
    TableError,
};
pub use host::{Inspected, Limits, WasmHost, declared_writes};
pub use observe::{ReducerSample, ScheduleSample, TableSample};
pub use replay::{ReplayEngine, ReplayOptions, ReplayReport, Replayed, SkippedSnapshot};
pub use runtime::{
    Follow, INIT_REDUCER, ModuleSummary, OpenError, PUBLISH_INVOCATION, Published, Receipt,
    Runtime, RuntimeConfig, SnapshotPolicy, UNPUBLISH_INVOCATION, Unpublished,
};
pub use timers::ScheduledRow;
