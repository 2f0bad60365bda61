//! The context a reducer runs in: its tables, its clock and randomness,
//! logging, and calls to other modules.

use std::marker::PhantomData;

use crate::codec::Timestamp;
use crate::error::Error;
use crate::sys;
use crate::table::{ReadOnly, ReadWrite};
/// Log levels (the ABI's [`interstice_abi::wasm::LogLevel`]).
pub use interstice_abi::wasm::LogLevel as Level;

/// A reducer's view of the world. `M` is [`ReadWrite`] or [`ReadOnly`]:
/// a read-only reducer's tables have no mutation methods.
pub struct Context<M> {
    module: &'static str,
    _mode: PhantomData<M>,
}

/// The context of an ordinary reducer.
pub type ReducerContext = Context<ReadWrite>;

/// The context of a `#[reducer(read_only)]` reducer.
pub type ReadOnlyContext = Context<ReadOnly>;

/// The tables of this module, as accessor methods that `#[table]` adds
/// (`ctx.db().users()`); their traits must be in scope.
pub struct Db<M> {
    _mode: PhantomData<M>,
}

impl<M> Context<M> {
    #[doc(hidden)]
    pub fn new(module: &'static str) -> Self {
        Self {
            module,
            _mode: PhantomData,
        }
    }

    /// This module's tables.
    pub fn db(&self) -> Db<M> {
        Db { _mode: PhantomData }
    }

    /// The transaction's time (the same for every call in it, and recorded
    /// in its commit).
    pub fn now(&self) -> Timestamp {
        Timestamp(sys::now())
    }

    /// A random number from the transaction's deterministic generator.
    pub fn random(&self) -> u64 {
        sys::random()
    }

    /// For a call a schedule made (a row of a `#[table(scheduled(...))]`
    /// table came due), when the row was due: [`Context::now`] minus it is
    /// how late the call ran. `None` when a client, a subscription or
    /// another module's reducer called it.
    pub fn scheduled(&self) -> Option<Timestamp> {
        sys::scheduled().map(Timestamp)
    }

    /// Logs an informational message.
    pub fn log(&self, msg: impl AsRef<str>) {
        sys::log(Level::Info, msg.as_ref())
    }

    /// Logs at a level.
    pub fn log_at(&self, level: Level, msg: impl AsRef<str>) {
        sys::log(level, msg.as_ref())
    }

    /// This module's name.
    pub fn module(&self) -> &'static str {
        self.module
    }
}

impl Context<ReadWrite> {
    /// The published rows a migration rewrites, in their old shape `T` (a
    /// `#[table_version(table, N)]` struct): readable only while the
    /// migration of that table from version `N` runs.
    pub fn old<T: crate::Table>(&self) -> crate::TableHandle<T, ReadOnly> {
        crate::TableHandle::new()
    }

    /// Calls `module.reducer` (public, and `module` a declared dependency)
    /// inside this transaction, with its arguments already encoded. Use the
    /// typed functions `dependency!` generates instead.
    #[doc(hidden)]
    pub fn call_encoded(&mut self, module: &str, reducer: &str, args: &[u8]) -> Result<(), Error> {
        sys::call(module, reducer, args).map_err(|message| Error::Call {
            reducer: format!("{module}.{reducer}"),
            message,
        })
    }
}

impl<M> Db<M> {
    #[doc(hidden)]
    pub fn new() -> Self {
        Self { _mode: PhantomData }
    }
}
