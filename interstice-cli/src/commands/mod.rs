//! One module per command; each is glue over the library crates.

pub mod backup;
pub mod call;
pub mod check;
pub mod compact;
pub mod debug;
pub mod diff;
pub mod dump;
pub mod generate;
pub mod graph;
pub mod history;
pub mod inspect;
pub mod publish;
pub mod query;
pub mod remote;
pub mod replay;
pub mod replay_check;
pub mod schedules;
pub mod schema;
pub mod serve;
pub mod trace;
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

/// Where reading `log` from its start begins, and a decoder that knows its
/// modules there: offset 0 with none, or (on a log whose beginning
/// retention removed) its first offset with the modules of its oldest
/// snapshot that loads. Says so on stderr.
pub async fn log_start(
    args: &crate::location::LogArgs,
    log: &str,
    store: &dyn interstice_log::LogStore,
) -> Result<(u64, interstice_core::inspect::Decoder)> {
    use interstice_core::inspect::Decoder;
    let first = store.first_offset().await?;
    let from = args.first_offset().max(first);
    if first == 0 {
        return Ok((from, Decoder::new()));
    }
    eprintln!("note: {log} starts at offset {first}: retention removed the commits before it");
    let snapshots = args.snapshot_store_always(log)?;
    for offset in snapshots.list().await?.into_iter().filter(|&o| o >= first) {
        if let Ok(state) = interstice_core::snapshot::load(snapshots.get(offset).await?) {
            eprintln!("note: rows are decoded with the schemas of the snapshot at offset {offset}");
            return Ok((from, Decoder::with_modules(&state.db)));
        }
    }
    eprintln!(
        "warning: no snapshot to take the schemas from: rows before a module record are not decoded"
    );
    Ok((from, Decoder::new()))
}
