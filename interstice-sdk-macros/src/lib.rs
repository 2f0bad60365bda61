//! The procedural macros of `interstice-sdk`; use them through that crate
//! (`interstice_sdk::{table, reducer, IntersticeType}`), whose docs
//! describe what they generate. Every error points at the offending
//! tokens and says what to write instead.

use proc_macro::TokenStream;
use syn::{DeriveInput, ItemFn, ItemStruct, parse_macro_input};

mod derive;
mod reducer;
mod table;
mod writes;

/// Implements `IntersticeType` for a struct or enum: its schema type and
/// its encoding.
#[proc_macro_derive(IntersticeType)]
pub fn derive_interstice_type(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    derive::expand(input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes a struct a table: `#[table(name = "users", public)]`, fields
/// marked `#[primary_key]` (one), `#[auto_inc]`, `#[unique]`, `#[index]`;
/// composite indexes as `index(name = "by_a_b", columns(a, b))` or
/// `unique(...)` in the attribute. How it evolves: `version = N` and
/// `renamed_from = "old"` in the attribute, `#[default(expr)]` and
/// `#[renamed_from("old")]` on fields (docs/migrations.md).
#[proc_macro_attribute]
pub fn table(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemStruct);
    table::expand(attr.into(), item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes a function a reducer: `#[reducer]`, `#[reducer(public)]`,
/// `#[reducer(read_only)]`, `#[reducer(on = "module.table.insert")]`,
/// and what it may write: `#[reducer(writes(users), inserts(log))]`
/// (`writes` is insert, update and delete; `writes()` is nothing).
#[proc_macro_attribute]
pub fn reducer(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemFn);
    reducer::expand(attr.into(), item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Makes a function the migration of a table from an earlier version:
/// `#[migration(table = "accounts", from = 2)]` on `fn(ctx: &mut
/// ReducerContext) -> Result<(), E>`. It runs once, in the transaction that
/// publishes the version declaring it, when the published table is at
/// version `from`: the new table starts empty, the old rows are read with
/// `ctx.old::<OldRow>()` (a `#[table_version(accounts, 2)]` struct), and
/// what it writes is logged like any reducer's writes. It is a private
/// reducer nobody can call. Takes `writes(...)` like `#[reducer]`.
#[proc_macro_attribute]
pub fn migration(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemFn);
    reducer::expand_migration(attr.into(), item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares the rows of a table at an earlier version, for its migration
/// to read: `#[table_version(accounts, 2)]` on a struct with the columns
/// the published table has at that version (in order, with its
/// `#[primary_key]`). The struct is not a table of this version: a
/// migration reads it with `ctx.old::<AccountV2>()`. Publishing checks
/// the columns against the published table's.
#[proc_macro_attribute]
pub fn table_version(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemStruct);
    table::expand_old(attr.into(), item)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
