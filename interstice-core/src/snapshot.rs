//! Snapshots of the database: the state as of one commit, written in the
//! format of `interstice_log::snapshot` and loaded back without replaying
//! the commits before it.
//!
//! Tables are written in primary-key order, each row in its canonical
//! encoding, and loaded with [`crate::table::Table`]'s bulk path (B-trees
//! built in one pass), so a load costs about what checking and keying
//! each row costs.

use std::sync::Arc;

use bytes::Bytes;
use interstice_abi::ModuleSchema;
use interstice_log::snapshot::{
    Record, SnapshotHeader, SnapshotReader, SnapshotStore, SnapshotWriter,
};
use interstice_log::{LogStore, ModuleRecord};

use crate::db::Database;
use crate::error::{SnapshotLoadError, SnapshotTakeError};
use crate::replay::{ReplayEngine, ReplayOptions};
use crate::requests::{RequestIds, Seen};
use crate::subscriptions::Scheduled;
use crate::table::Staged;
use crate::timers::{RowId, Timers};

/// The state a snapshot holds.
#[derive(Debug)]
pub struct SnapshotState {
    /// Every module and table.
    pub db: Database,
    /// The offset, timestamp and clock it was taken at.
    pub header: SnapshotHeader,
    /// Subscription calls due and not yet in the log, in order.
    pub pending: Vec<Scheduled>,
    /// The request ids remembered for exactly-once calls.
    pub requests: RequestIds,
    /// When each schedule row is due.
    pub timers: Timers,
}

/// Encodes `db`, the state as of `header.offset`, with the subscription
/// calls still due then, the request ids remembered and the schedule rows'
/// timers (those of interval rows: a `Time` row says its own).
pub fn encode(
    db: &Database,
    header: SnapshotHeader,
    pending: &[Scheduled],
    requests: &RequestIds,
    timers: &Timers,
) -> Bytes {
    let mut w = SnapshotWriter::new(header);
    for m in db.modules() {
        let record = ModuleRecord {
            name: m.schema.name.clone(),
            schema: interstice_abi::encode_schema(&m.schema)
                .expect("a schema always encodes")
                .into(),
            wasm: m.wasm.clone(),
        };
        w.module(m.id, m.schema_hash, &record);
    }
    for m in db.modules() {
        for (i, table) in m.tables.iter().enumerate() {
            let rows = table.len() as u64;
            w.table(m.id, i as u32 + 1, table.hash(), table.auto_inc(), rows);
            for row in table.iter() {
                w.row(row.bytes());
            }
        }
    }
    for s in pending {
        w.pending(&s.into());
    }
    for (id, seen) in requests.iter() {
        w.request(id, seen.offset, seen.timestamp, seen.fingerprint);
    }
    let mut intervals: Vec<_> = timers.iter().filter(|(_, t)| t.every.is_some()).collect();
    intervals.sort_by(|a, b| a.0.cmp(b.0));
    for (row, timer) in intervals {
        let key = interstice_abi::encode_value(&row.key).expect("a key always encodes");
        w.timer(row.module_id, row.table_id, &key, timer.due);
    }
    w.finish()
}

/// Loads a snapshot: checks every block, every schema against its hash,
/// every row against its table's type and order.
pub fn load(bytes: Bytes) -> Result<SnapshotState, SnapshotLoadError> {
    let reader = SnapshotReader::new(bytes)?;
    let mut loader = Loader {
        db: Database::new(),
        pending: Vec::new(),
        requests: RequestIds::default(),
        timers: Default::default(),
        table: None,
        seen: Default::default(),
    };
    for record in reader.records() {
        loader.take(record?)?;
    }
    loader.flush()?;
    let header = reader.header();
    let timers = Timers::rebuild(&loader.db, &loader.timers, header.clock);
    Ok(SnapshotState {
        db: loader.db,
        header,
        pending: loader.pending,
        requests: loader.requests,
        timers,
    })
}

fn inconsistent(reason: String) -> SnapshotLoadError {
    SnapshotLoadError::Inconsistent(reason)
}

/// Builds the database record by record.
struct Loader {
    db: Database,
    pending: Vec<Scheduled>,
    requests: RequestIds,
    /// When each interval schedule row is next due.
    timers: std::collections::BTreeMap<RowId, u64>,
    /// The table whose rows are being staged: module, table, auto-inc,
    /// and the rows so far.
    table: Option<(u32, u32, u128, Staged)>,
    /// Tables whose record was read.
    seen: std::collections::BTreeSet<(u32, u32)>,
}

impl Loader {
    fn take(&mut self, record: Record) -> Result<(), SnapshotLoadError> {
        match record {
            Record::Row(row) => {
                let (module, table, _, staged) = self
                    .table
                    .as_mut()
                    .expect("the reader checks rows follow a table");
                let t = self
                    .db
                    .table(*module, *table)
                    .expect("checked at its record");
                t.stage(staged, &row)
                    .map_err(|e| inconsistent(e.to_string()))?;
            }
            Record::Module {
                module_id,
                schema_hash,
                record,
            } => {
                self.flush()?;
                self.module(module_id, schema_hash, record)?;
            }
            Record::Table {
                module_id,
                table_id,
                schema_hash,
                next_auto_inc,
                rows,
            } => {
                self.flush()?;
                if !self.seen.insert((module_id, table_id)) {
                    return Err(inconsistent(format!(
                        "table {table_id} of module {module_id} twice"
                    )));
                }
                let table = self.db.table(module_id, table_id).ok_or_else(|| {
                    inconsistent(format!(
                        "table {table_id} of module {module_id}, which has none"
                    ))
                })?;
                if table.hash() != schema_hash {
                    return Err(inconsistent(format!(
                        "table `{}` has schema hash {:#018x}, its record says {schema_hash:#018x}",
                        table.schema().name,
                        table.hash()
                    )));
                }
                let staged = table.staging(rows as usize);
                self.table = Some((module_id, table_id, next_auto_inc, staged));
            }
            Record::Pending(p) => {
                self.flush()?;
                self.pending.push(p.into());
            }
            Record::Request {
                id,
                offset,
                timestamp,
                fingerprint,
            } => {
                self.flush()?;
                let seen = Seen {
                    offset,
                    timestamp,
                    fingerprint,
                };
                self.requests.record(&id, seen);
            }
            Record::Timer {
                module_id,
                table_id,
                key,
                due,
            } => {
                self.flush()?;
                let table = self.db.table(module_id, table_id).ok_or_else(|| {
                    inconsistent(format!(
                        "a timer of table {table_id} of module {module_id}, which has none"
                    ))
                })?;
                let key =
                    interstice_abi::decode_value(&table.schema().primary_key_column().ty, &key)
                        .map_err(|e| {
                            inconsistent(format!(
                                "a timer of table `{}` has a key that does not decode: {e}",
                                table.schema().name
                            ))
                        })?;
                let row = RowId {
                    module_id,
                    table_id,
                    key,
                };
                self.timers.insert(row, due);
            }
        }
        Ok(())
    }

    fn module(
        &mut self,
        id: u32,
        hash: u64,
        record: ModuleRecord,
    ) -> Result<(), SnapshotLoadError> {
        let schema: ModuleSchema = interstice_abi::decode_schema(&record.schema)
            .map_err(|e| inconsistent(format!("schema of module `{}`: {e}", record.name)))?;
        if schema.hash() != hash || schema.name != record.name {
            return Err(inconsistent(format!(
                "module `{}` (id {id}): its schema (`{}`, hash {:#018x}) is not the one recorded ({hash:#018x})",
                record.name,
                schema.name,
                schema.hash()
            )));
        }
        if self.db.module(id).is_some() || self.db.module_by_name(&schema.name).is_some() {
            return Err(inconsistent(format!(
                "module `{}` (id {id}) twice",
                schema.name
            )));
        }
        self.db.restore_module(id, schema, record.wasm);
        Ok(())
    }

    /// Loads the staged rows into their table.
    fn flush(&mut self) -> Result<(), SnapshotLoadError> {
        let Some((module, table, auto_inc, staged)) = self.table.take() else {
            return Ok(());
        };
        let t = self
            .db
            .table_mut(module, table)
            .expect("checked when its record was read");
        t.load(staged).map_err(|e| inconsistent(e.to_string()))?;
        t.set_auto_inc(auto_inc);
        Ok(())
    }
}

/// A snapshot written by [`take`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Taken {
    /// The offset it was taken at (the log's last durable commit then).
    pub offset: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Rows it holds, over every table.
    pub rows: u64,
    /// The snapshot it was built from, if any.
    pub base: Option<u64>,
    /// Commits applied to that base.
    pub commits: u64,
}

/// Takes a snapshot of the log's durable state into `snapshots`: the newest
/// usable snapshot plus the commits after it, replayed (a follower of the
/// log, never a runtime's live state, so no call waits for it). `None`
/// when there is nothing new to take: an empty log, or a newest snapshot
/// already at the log's last commit.
pub async fn take(
    store: &dyn LogStore,
    snapshots: Arc<dyn SnapshotStore>,
) -> Result<Option<Taken>, SnapshotTakeError> {
    let opts = ReplayOptions {
        snapshots: Some(snapshots.clone()),
        ..ReplayOptions::default()
    };
    let replayed = ReplayEngine::replay_with(store, &opts).await?;
    let Some(offset) = replayed.report.last_offset else {
        return Ok(None);
    };
    if replayed.report.snapshot == Some(offset) {
        return Ok(None);
    }
    let header = SnapshotHeader {
        offset,
        timestamp: replayed.last_timestamp,
        clock: replayed.clock,
    };
    let rows = replayed
        .db
        .modules()
        .flat_map(|m| &m.tables)
        .map(|t| t.len() as u64)
        .sum();
    // Encoding is plain CPU work: off the async workers.
    let bytes = tokio::task::spawn_blocking(move || {
        encode(
            &replayed.db,
            header,
            &replayed.pending,
            &replayed.requests,
            &replayed.timers,
        )
    })
    .await
    .map_err(|e| SnapshotTakeError::Task(e.to_string()))?;
    let size = bytes.len() as u64;
    snapshots.put(offset, bytes).await?;
    Ok(Some(Taken {
        offset,
        bytes: size,
        rows,
        base: replayed.report.snapshot,
        commits: replayed.report.commits,
    }))
}
