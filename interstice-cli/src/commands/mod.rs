//! One module per command; each is glue over the library crates.

pub mod backup;
pub mod call;
pub mod check;
pub mod compact;
pub mod diff;
pub mod dump;
pub mod inspect;
pub mod publish;
pub mod query;
pub mod remote;
pub mod replay;
pub mod replay_check;
pub mod schema;
pub mod serve;
pub mod validate;

use anyhow::{Result, bail};
use interstice_core::db::{Database, ModuleState};

/// Splits `module.name`.
pub fn split_target<'a>(target: &'a str, what: &str) -> Result<(&'a str, &'a str)> {
    match target.split_once('.') {
        Some((m, n)) if !m.is_empty() && !n.is_empty() => Ok((m, n)),
        _ => bail!("`{target}` is not MODULE.{what}"),
    }
}

/// The published module `name`, or an error listing the modules there are.
pub fn module<'a>(db: &'a Database, name: &str) -> Result<&'a ModuleState> {
    Ok(db.find_module(name)?)
}
