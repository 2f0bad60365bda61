//! Write Interstice modules in Rust.
//!
//! A module is a `cdylib` crate built for `wasm32-unknown-unknown`. It
//! declares tables with [`#[table]`](table), reducers with
//! [`#[reducer]`](reducer), and the modules it calls with [`dependency!`];
//! the macros generate the schema the runtime reads at publish, the typed
//! handles reducers use, and the exports the runtime calls. Authors never
//! see a pointer or an untyped value: rows and arguments are Rust types
//! ([`IntersticeType`]), encoded as `docs/abi.md` specifies.
//!
//! ```ignore
//! use interstice_sdk::prelude::*;
//!
//! #[table(name = "greetings", public)]
//! pub struct Greeting {
//!     #[primary_key]
//!     #[auto_inc]
//!     pub id: u64,
//!     pub greeting: String,
//! }
//!
//! #[reducer]
//! pub fn hello(ctx: &mut ReducerContext, name: String) -> Result<(), Error> {
//!     let greeting = format!("Hello, {name}!");
//!     ctx.db().greetings().insert(Greeting { id: 0, greeting })?;
//!     Ok(())
//! }
//! ```
//!
//! The module's name and version are its crate's. See `docs/modules.md`.

pub mod codec;
mod context;
mod error;
#[doc(hidden)]
pub mod registry;
pub mod sys;
mod table;

pub use codec::{DecodeError, IntersticeType, ScheduleAt, Timestamp};
pub use context::{Context, Db, Level, ReadOnlyContext, ReducerContext};
pub use error::Error;
pub use interstice_abi as abi;
pub use interstice_sdk_macros::{IntersticeType, migration, reducer, table, table_version};
pub use table::{Index, Iter, ReadOnly, ReadWrite, Table, TableHandle, UniqueIndex};

/// What a module usually needs: `use interstice_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::{
        Context, Error, Index, IntersticeType, Level, ReadOnlyContext, ReducerContext, ScheduleAt,
        Table, Timestamp, UniqueIndex, dependency, migration, reducer, table, table_version,
    };
}

/// Declares a module this one calls, with the public reducers it uses,
/// and generates a typed function per reducer: a misspelt call is a
/// compile error. The dependency goes into the schema (the runtime refuses
/// to publish this module until `module` is published at a compatible
/// version, and refuses calls to undeclared modules).
///
/// ```ignore
/// interstice_sdk::dependency! {
///     pub mod hello >= "0.1.0" {
///         fn hello(name: String);
///     }
/// }
///
/// #[reducer]
/// fn greet_twice(ctx: &mut ReducerContext, name: String) -> Result<(), Error> {
///     hello::hello(ctx, name.clone())?;
///     hello::hello(ctx, name)
/// }
/// ```
#[macro_export]
macro_rules! dependency {
    (
        $(#[$attr:meta])*
        $vis:vis mod $module:ident >= $version:literal {
            $( $(#[$rattr:meta])* fn $reducer:ident ( $($arg:ident : $ty:ty),* $(,)? ); )*
        }
    ) => {
        $(#[$attr])*
        $vis mod $module {
            #[allow(unused_imports)]
            use super::*;

            /// The module's name.
            pub const MODULE: &str = ::core::stringify!($module);

            $(
                $(#[$rattr])*
                pub fn $reducer(
                    ctx: &mut $crate::ReducerContext,
                    $($arg: $ty),*
                ) -> ::core::result::Result<(), $crate::Error> {
                    #[allow(unused_mut)]
                    let mut args = ::std::vec::Vec::new();
                    $( $crate::IntersticeType::encode(&$arg, &mut args); )*
                    ctx.call_encoded(MODULE, ::core::stringify!($reducer), &args)
                }
            )*
        }

        $crate::__private::inventory::submit! {
            $crate::registry::DependencyDef {
                module: ::core::stringify!($module),
                min_version: $version,
            }
        }
    };
}

/// Declares tables an earlier version of the module had and this one
/// drops on purpose: publishing deletes their rows (the log keeps their
/// history). A table that disappears without being declared here is
/// refused as a breaking change.
///
/// ```ignore
/// interstice_sdk::dropped_tables!(sessions, old_audit);
/// ```
#[macro_export]
macro_rules! dropped_tables {
    ($($table:ident),+ $(,)?) => {
        $(
            $crate::__private::inventory::submit! {
                $crate::registry::DroppedTableDef {
                    name: ::core::stringify!($table),
                }
            }
        )+
    };
}

/// What the macros' expansions use; not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use inventory;

    pub use crate::table::HandleCache;

    /// What a reducer may return: `()` or `Result<(), E>` with `E:
    /// Display`.
    #[diagnostic::on_unimplemented(
        message = "a reducer returns `()` or `Result<(), E>` where `E: Display`, not `{Self}`",
        label = "this return type"
    )]
    pub trait ReducerResult {
        /// The reducer's error message, if it failed.
        fn into_result(self) -> Result<(), String>;
    }

    impl ReducerResult for () {
        fn into_result(self) -> Result<(), String> {
            Ok(())
        }
    }

    impl<E: std::fmt::Display> ReducerResult for Result<(), E> {
        fn into_result(self) -> Result<(), String> {
            self.map_err(|e| e.to_string())
        }
    }

    /// Takes the argument buffer the host wrote, runs the reducer body,
    /// and packs its outcome: `0`, or a leaked error message.
    pub fn run_reducer(ptr: i32, len: i32, body: impl FnOnce(&[u8]) -> Result<(), String>) -> i64 {
        // A panic aborts (traps) the instance; say why first, so the
        // caller's error carries the message and location.
        #[cfg(target_arch = "wasm32")]
        std::panic::set_hook(Box::new(|info| {
            crate::sys::log(crate::Level::Error, &info.to_string().replace('\n', " "));
        }));
        let packed = interstice_abi::wasm::pack(ptr as u32, len as u32);
        let args = crate::sys::take_buffer(packed);
        match body(&args) {
            Ok(()) => interstice_abi::wasm::OK,
            Err(message) => crate::sys::give(message.into_bytes()),
        }
    }

    /// Decodes one argument, naming it on failure.
    pub fn arg<T: crate::IntersticeType>(
        input: &mut &[u8],
        reducer: &str,
        name: &str,
    ) -> Result<T, String> {
        T::decode(input).map_err(|e| format!("reducer `{reducer}`, argument `{name}`: {e}"))
    }

    /// Checks that the arguments were used up.
    pub fn done(input: &[u8], reducer: &str) -> Result<(), String> {
        if input.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "reducer `{reducer}`: {} bytes after the last argument",
                input.len()
            ))
        }
    }
}
