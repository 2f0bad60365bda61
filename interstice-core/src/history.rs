//! Reading the past: the state as of any offset the log still holds, and
//! the rows that changed between two offsets. Both are replays (from the
//! newest snapshot at or before the point, when snapshots are given), so
//! they read the log and never write it.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use interstice_abi::{ColumnSchema, Value};
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{LogStore, MutationKind};

use crate::db::Database;
use crate::debugger::{Step, apply_tracked, step};
use crate::error::ReplayError;
use crate::inspect::Decoder;
use crate::replay::apply_commit;
use crate::{ReplayEngine, ReplayOptions};

/// The state just after commit `offset` (every commit up to and including
/// it applied), from the newest usable snapshot at or before it when
/// `snapshots` is given, else from the log's start.
pub async fn state_at(
    store: &dyn LogStore,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    offset: u64,
) -> Result<Database, ReplayError> {
    let last = store.last_offset().await?;
    if last.is_none_or(|last| offset > last) {
        return Err(ReplayError::Beyond { offset, last });
    }
    let opts = ReplayOptions {
        to: Some(offset),
        snapshots,
        ..ReplayOptions::default()
    };
    Ok(ReplayEngine::replay_with(store, &opts).await?.db)
}

/// Up to `limit` commits from offset `from`, as the debugger lists them
/// (decoded with the schemas in force then: the state before `from` is
/// replayed first).
pub async fn timeline(
    store: &dyn LogStore,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    from: u64,
    limit: usize,
) -> Result<Vec<Step>, ReplayError> {
    let mut state = match from.checked_sub(1) {
        None => Database::new(),
        Some(before) => state_at(store, snapshots, before).await?,
    };
    let mut decoder = Decoder::with_modules(&state);
    let mut out = Vec::new();
    let mut commits = store.read_from(from).await?;
    while out.len() < limit {
        let Some(commit) = commits.try_next().await? else {
            break;
        };
        let changes = apply_tracked(&mut state, &commit)?;
        out.push(step(decoder.decode(commit), &changes));
    }
    Ok(out)
}

/// How one row differs between two offsets.
#[derive(Clone, Debug, PartialEq)]
pub enum RowDiff {
    /// It was not there at the first offset and is at the second.
    Inserted(Vec<Value>),
    /// It was there at both, with other values.
    Updated {
        /// At the first offset.
        old: Vec<Value>,
        /// At the second.
        new: Vec<Value>,
    },
    /// It was there at the first offset and is not at the second.
    Deleted(Vec<Value>),
}

/// The rows of one table that differ between two offsets, by primary key.
#[derive(Clone, Debug, PartialEq)]
pub struct TableDiff {
    /// `module.table`, as the table is named at the second offset (or at
    /// the first, for a table gone by then).
    pub table: String,
    /// The table's columns (at the second offset when it has the table).
    pub columns: Vec<ColumnSchema>,
    /// Each changed row, in primary-key order.
    pub rows: Vec<RowDiff>,
}

/// What changed from `from` to `to`: the net effect of the commits after
/// `from` up to and including `to` on every row they touched (a row
/// inserted and deleted in between is no change), per table, tables in
/// name order. `table` (`module.table`) keeps one table.
pub async fn diff(
    store: &dyn LogStore,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    from: u64,
    to: u64,
    table: Option<&str>,
) -> Result<Vec<TableDiff>, ReplayError> {
    if to < from {
        return Err(ReplayError::BadRange { from, to });
    }
    let before = state_at(store, snapshots, from).await?;
    let mut after = before.clone();
    // The rows touched, by table id and primary key bytes as the table
    // keys them: (module, table) -> encoded rows seen.
    let mut touched: BTreeMap<(u32, u32), Vec<Bytes>> = BTreeMap::new();
    let mut commits = store.read_from(from + 1).await?;
    while let Some(commit) = commits.try_next().await? {
        if commit.offset > to {
            break;
        }
        apply_commit(&mut after, &commit)?;
        for m in &commit.mutations {
            if m.kind != MutationKind::Module {
                touched
                    .entry((m.module_id, m.table_id))
                    .or_default()
                    .push(m.row.clone());
            }
        }
    }
    let mut out = Vec::new();
    for ((module_id, table_id), rows) in touched {
        let Some(diff) = table_diff(&before, &after, module_id, table_id, &rows) else {
            continue;
        };
        if table.is_none_or(|t| t == diff.table) && !diff.rows.is_empty() {
            out.push(diff);
        }
    }
    out.sort_by(|a, b| a.table.cmp(&b.table));
    Ok(out)
}

/// One table's changed rows: each row a mutation named, looked up by its
/// primary key in both states. The key is decoded with the schema of the
/// state that has the table (the second, when both do).
fn table_diff(
    before: &Database,
    after: &Database,
    module_id: u32,
    table_id: u32,
    rows: &[Bytes],
) -> Option<TableDiff> {
    let old = named(before, module_id, table_id);
    let new = named(after, module_id, table_id);
    let (name, shape) = new.clone().or_else(|| old.clone())?;
    let columns = shape.schema().columns.clone();
    let pk = shape.schema().primary_key as usize;
    let mut keys = BTreeMap::new();
    for bytes in rows {
        // A mutation logged under another version of the table may not
        // decode with this one: try the other state's.
        let Some(values) = shape
            .decode_row(bytes)
            .ok()
            .or_else(|| old.as_ref().and_then(|(_, t)| t.decode_row(bytes).ok()))
        else {
            continue;
        };
        keys.insert(values[pk].clone(), ());
    }
    let mut diffs = Vec::new();
    for key in keys.into_keys() {
        let was = old
            .as_ref()
            .and_then(|(_, t)| t.get(&key))
            .map(|r| r.values());
        let is = new
            .as_ref()
            .and_then(|(_, t)| t.get(&key))
            .map(|r| r.values());
        match (was, is) {
            (None, Some(row)) => diffs.push(RowDiff::Inserted(row)),
            (Some(row), None) => diffs.push(RowDiff::Deleted(row)),
            (Some(old), Some(new)) if old != new => diffs.push(RowDiff::Updated { old, new }),
            _ => {}
        }
    }
    Some(TableDiff {
        table: name,
        columns,
        rows: diffs,
    })
}

/// Table `table_id` of module `module_id` in `db`, named `module.table`.
fn named(db: &Database, module_id: u32, table_id: u32) -> Option<(String, &crate::table::Table)> {
    let m = db.module(module_id)?;
    let t = m.table(table_id)?;
    Some((format!("{}.{}", m.schema.name, t.schema().name), t))
}
