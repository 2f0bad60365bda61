//! The database: every published module with its tables, and transactions
//! over it that either commit whole or roll back without a trace.

use std::collections::{BTreeMap, HashMap};

use bytes::Bytes;
use interstice_abi::{MigrationSchema, ModuleSchema, NotFound, Value};
use interstice_log::{ModuleRecord, Mutation, MutationKind};

use crate::error::TableError;
use crate::table::{Row, Table};

/// A published module as the database keeps it.
#[derive(Clone, Debug)]
pub struct ModuleState {
    /// Id used in the log (assigned at first publish, never reused).
    pub id: u32,
    /// The current schema.
    pub schema: ModuleSchema,
    /// Its hash (what the module record mutation carries).
    pub schema_hash: u64,
    /// The current WebAssembly binary.
    pub wasm: Bytes,
    /// Tables; table id = position + 1.
    pub tables: Vec<Table>,
}

impl ModuleState {
    /// The table with id `table_id`.
    pub fn table(&self, table_id: u32) -> Option<&Table> {
        table_id
            .checked_sub(1)
            .and_then(|i| self.tables.get(i as usize))
    }

    /// The table named `name` and its id.
    pub fn table_by_name(&self, name: &str) -> Option<(u32, &Table)> {
        self.tables
            .iter()
            .position(|t| t.schema().name == name)
            .map(|i| (i as u32 + 1, &self.tables[i]))
    }

    /// The table named `name` and its id, or an error listing the tables
    /// there are.
    pub fn find_table(&self, name: &str) -> Result<(u32, &Table), NotFound> {
        let (id, _) = self.schema.find_table(name)?;
        Ok((id, &self.tables[id as usize - 1]))
    }
}

/// All modules and their tables: the state a log replays to.
#[derive(Clone, Debug, Default)]
pub struct Database {
    modules: BTreeMap<u32, ModuleState>,
    names: HashMap<String, u32>,
}

impl Database {
    /// An empty database.
    pub fn new() -> Self {
        Self::default()
    }

    /// The module with id `id`.
    pub fn module(&self, id: u32) -> Option<&ModuleState> {
        self.modules.get(&id)
    }

    /// The module named `name`, or an error listing the modules there are.
    pub fn find_module(&self, name: &str) -> Result<&ModuleState, NotFound> {
        self.module_by_name(name).ok_or_else(|| NotFound::Module {
            name: name.to_owned(),
            known: self.modules().map(|m| m.schema.name.clone()).collect(),
        })
    }

    /// The module named `name`.
    pub fn module_by_name(&self, name: &str) -> Option<&ModuleState> {
        self.names.get(name).and_then(|id| self.modules.get(id))
    }

    /// Every module, by id.
    pub fn modules(&self) -> impl Iterator<Item = &ModuleState> {
        self.modules.values()
    }

    /// The id the next newly published module gets.
    pub fn next_module_id(&self) -> u32 {
        self.modules.keys().next_back().map_or(1, |id| id + 1)
    }

    /// A table.
    pub fn table(&self, module_id: u32, table_id: u32) -> Option<&Table> {
        self.modules.get(&module_id)?.table(table_id)
    }

    /// The table a mutation names, or which one is missing.
    fn existing_table(&mut self, module_id: u32, table_id: u32) -> Result<&mut Table, NoSuchTable> {
        self.table_mut(module_id, table_id).ok_or(NoSuchTable {
            module_id,
            table_id,
        })
    }

    pub(crate) fn table_mut(&mut self, module_id: u32, table_id: u32) -> Option<&mut Table> {
        let m = self.modules.get_mut(&module_id)?;
        table_id
            .checked_sub(1)
            .and_then(|i| m.tables.get_mut(i as usize))
    }

    /// Adds a module with empty tables, outside any transaction: for
    /// loading a snapshot, whose records say what to put in them.
    pub(crate) fn restore_module(&mut self, id: u32, schema: ModuleSchema, wasm: Bytes) {
        let tables = schema.tables.iter().cloned().map(Table::new).collect();
        self.names.insert(schema.name.clone(), id);
        self.modules.insert(
            id,
            ModuleState {
                id,
                schema_hash: schema.hash(),
                schema,
                wasm,
                tables,
            },
        );
    }

    /// Puts the tables a new version's migrations read after module `id`'s
    /// own, each named `table@version` ([`Retired`]), for the migrations
    /// to read while they run.
    pub(crate) fn attach_retired(&mut self, id: u32, retired: &mut Retired) {
        if let Some(m) = self.modules.get_mut(&id) {
            m.tables.extend(retired.tables.drain(..).map(|(_, t)| t));
        }
    }

    /// Drops the tables [`Database::attach_retired`] put in module `id`.
    pub(crate) fn detach_retired(&mut self, id: u32) {
        if let Some(m) = self.modules.get_mut(&id) {
            m.tables.truncate(m.schema.tables.len());
        }
    }

    /// Starts a transaction. Dropping it without [`Txn::commit`] rolls it back.
    pub fn begin(&mut self) -> Txn<'_> {
        Txn {
            db: self,
            ws: WriteSet::default(),
        }
    }
}

/// How to take back one change.
#[derive(Debug)]
enum Undo {
    Inserted {
        module: u32,
        table: u32,
        pk: Value,
        auto_inc: u128,
    },
    Updated {
        module: u32,
        table: u32,
        old: Row,
    },
    Deleted {
        module: u32,
        table: u32,
        old: Row,
    },
    Module {
        id: u32,
        previous: Option<Box<ModuleState>>,
    },
}

/// The published tables a new version's migrations rewrite, set aside by
/// [`Txn::install_module`] (the new tables start empty, and each
/// migration fills its own): each old table renamed `table@version`
/// (the new table's name, the published version), private, with the
/// migration that reads it, in the new version's table order. Replay drops
/// them (the rows the migrations wrote follow in the log); a publish
/// attaches them while its migrations run.
#[derive(Debug, Default)]
pub struct Retired {
    tables: Vec<(MigrationSchema, Table)>,
}

impl Retired {
    /// Whether no migration runs.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The migrations to run, in order.
    pub fn migrations(&self) -> impl Iterator<Item = &MigrationSchema> {
        self.tables.iter().map(|(m, _)| m)
    }

    /// The rows each migration will read.
    pub fn rows(&self) -> impl Iterator<Item = (&MigrationSchema, u64)> {
        self.tables.iter().map(|(m, t)| (m, t.len() as u64))
    }
}

/// The name a published table has while a migration reads it.
pub fn retired_name(table: &str, version: u32) -> String {
    format!("{table}@{version}")
}

/// A table that a mutation names but the database does not have.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no table {table_id} in module {module_id}")]
pub struct NoSuchTable {
    /// The module id.
    pub module_id: u32,
    /// The table id.
    pub table_id: u32,
}

/// What a transaction operation can fail with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxnError {
    /// The table does not exist.
    #[error(transparent)]
    NoSuchTable(#[from] NoSuchTable),
    /// The table refused the change.
    #[error(transparent)]
    Table(#[from] TableError),
}

/// The changes of a transaction in progress, kept apart from the database
/// so that a running reducer can own both.
///
/// Changes apply to the tables at once (so reads see the transaction's own
/// writes through every index) and are recorded twice: as log mutations
/// for the commit, and as undo entries. [`WriteSet::rollback`] undoes them
/// in reverse order; [`WriteSet::commit`] keeps them.
#[derive(Debug, Default)]
pub(crate) struct WriteSet {
    undo: Vec<Undo>,
    mutations: Vec<Mutation>,
    /// Sum of the mutations' row bytes.
    bytes: usize,
}

/// A point in a [`WriteSet`] to roll back to (a failed nested call).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Savepoint {
    undo: usize,
    mutations: usize,
}

impl WriteSet {
    /// The mutations so far.
    pub fn mutations(&self) -> &[Mutation] {
        &self.mutations
    }

    /// Total bytes of rows written so far.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Bytes the mutations so far take in a log frame's payload.
    pub fn payload_len(&self) -> u64 {
        (self.bytes + self.mutations.len() * interstice_log::codec::MUTATION_OVERHEAD) as u64
    }

    fn record(&mut self, kind: MutationKind, module: u32, table: u32, hash: u64, row: &Row) {
        self.bytes += row.bytes().len();
        self.mutations.push(Mutation {
            kind,
            module_id: module,
            table_id: table,
            schema_hash: hash,
            row: row.bytes().clone(),
        });
    }

    /// Inserts a row; returns it as stored (with its auto-increment key).
    pub fn insert(
        &mut self,
        db: &mut Database,
        module: u32,
        table: u32,
        values: Vec<Value>,
    ) -> Result<Row, TxnError> {
        let t = db.existing_table(module, table)?;
        let auto_inc = t.auto_inc();
        let row = t.insert(values)?;
        let (hash, pk) = (
            t.hash(),
            row.values()[t.schema().primary_key as usize].clone(),
        );
        self.undo.push(Undo::Inserted {
            module,
            table,
            pk,
            auto_inc,
        });
        self.record(MutationKind::Insert, module, table, hash, &row);
        Ok(row)
    }

    /// Replaces the row with the same primary key; returns the new row.
    pub fn update(
        &mut self,
        db: &mut Database,
        module: u32,
        table: u32,
        values: Vec<Value>,
    ) -> Result<Row, TxnError> {
        let t = db.existing_table(module, table)?;
        let (old, new) = t.update(values)?;
        let hash = t.hash();
        self.undo.push(Undo::Updated { module, table, old });
        self.record(MutationKind::Update, module, table, hash, &new);
        Ok(new)
    }

    /// Deletes the row with primary key `pk`; returns it.
    pub fn delete(
        &mut self,
        db: &mut Database,
        module: u32,
        table: u32,
        pk: &Value,
    ) -> Result<Row, TxnError> {
        let t = db.existing_table(module, table)?;
        let old = t.delete(pk)?;
        let hash = t.hash();
        self.record(MutationKind::Delete, module, table, hash, &old);
        self.undo.push(Undo::Deleted {
            module,
            table,
            old: old.clone(),
        });
        Ok(old)
    }

    /// Installs a module (first publish) or moves it to a new, compatible
    /// schema, and records the module record. The caller has validated the
    /// schema and checked compatibility. A table whose migration runs starts
    /// empty; its published rows are returned, [`Retired`].
    pub fn install_module(
        &mut self,
        db: &mut Database,
        id: u32,
        schema: ModuleSchema,
        schema_bytes: Bytes,
        wasm: Bytes,
    ) -> Result<Retired, TxnError> {
        let hash = schema.hash();
        let record = ModuleRecord {
            name: schema.name.clone(),
            schema: schema_bytes,
            wasm: wasm.clone(),
        };
        let previous = db.modules.get(&id).cloned();
        let mut retired = Retired::default();
        let tables = match &previous {
            None => schema.tables.iter().cloned().map(Table::new).collect(),
            Some(prev) => {
                // Each table carries over from the one it continues (by
                // name or rename); a table no longer listed is dropped.
                let mut tables = Vec::with_capacity(schema.tables.len());
                for ts in &schema.tables {
                    let old = interstice_abi::compat::table_origin(&prev.schema, ts)
                        .and_then(|o| prev.table_by_name(&o.name))
                        .map(|(_, t)| t);
                    let migration = old.and_then(|old| {
                        interstice_abi::compat::migration(&schema, old.schema(), ts)
                    });
                    match (old, migration) {
                        (Some(old), Some(m)) => {
                            let mut fresh = Table::new(ts.clone());
                            if ts.auto_inc && old.schema().auto_inc {
                                fresh.set_auto_inc(old.auto_inc());
                            }
                            tables.push(fresh);
                            let name = retired_name(&ts.name, m.from);
                            retired.tables.push((m.clone(), old.clone().retire(name)));
                        }
                        (Some(old), None) if old.schema() == ts => tables.push(old.clone()),
                        (Some(old), None) => {
                            let mut t = old.clone();
                            t.migrate(ts.clone())?;
                            tables.push(t);
                        }
                        (None, _) => tables.push(Table::new(ts.clone())),
                    }
                }
                tables
            }
        };
        if let Some(prev) = &previous {
            db.names.remove(&prev.schema.name);
        }
        db.names.insert(schema.name.clone(), id);
        db.modules.insert(
            id,
            ModuleState {
                id,
                schema,
                schema_hash: hash,
                wasm,
                tables,
            },
        );
        self.undo.push(Undo::Module {
            id,
            previous: previous.map(Box::new),
        });
        let m = Mutation::module(id, hash, &record);
        self.bytes += m.row.len();
        self.mutations.push(m);
        Ok(retired)
    }

    /// Unpublishes module `id`: it and its tables leave the database, and
    /// the removal record ([`ModuleRecord::removal`]) is the mutation. The
    /// caller has checked that nothing depends on it.
    pub fn remove_module(&mut self, db: &mut Database, id: u32) -> Result<(), TxnError> {
        let Some(previous) = db.modules.remove(&id) else {
            return Err(NoSuchTable {
                module_id: id,
                table_id: 0,
            }
            .into());
        };
        db.names.remove(&previous.schema.name);
        let m = Mutation::module(id, 0, &ModuleRecord::removal(previous.schema.name.clone()));
        self.bytes += m.row.len();
        self.mutations.push(m);
        self.undo.push(Undo::Module {
            id,
            previous: Some(Box::new(previous)),
        });
        Ok(())
    }

    /// The current point, to roll back to later.
    pub fn savepoint(&self) -> Savepoint {
        Savepoint {
            undo: self.undo.len(),
            mutations: self.mutations.len(),
        }
    }

    /// Undoes every change made after `sp`.
    pub fn rollback_to(&mut self, db: &mut Database, sp: Savepoint) {
        while self.undo.len() > sp.undo {
            let u = self.undo.pop().expect("checked");
            undo(db, u);
        }
        self.mutations.truncate(sp.mutations);
        self.bytes = self.mutations.iter().map(|m| m.row.len()).sum();
    }

    /// Keeps every change and returns the commit's mutations.
    pub fn commit(self) -> Vec<Mutation> {
        self.mutations
    }

    /// Undoes every change.
    pub fn rollback(mut self, db: &mut Database) {
        self.rollback_to(
            db,
            Savepoint {
                undo: 0,
                mutations: 0,
            },
        );
    }
}

/// Re-applies a state that held before, so it cannot fail.
fn undo(db: &mut Database, u: Undo) {
    match u {
        Undo::Inserted {
            module,
            table,
            pk,
            auto_inc,
        } => {
            let t = db.table_mut(module, table).expect("undo: table exists");
            t.delete(&pk).expect("undo: inserted row exists");
            t.set_auto_inc(auto_inc);
        }
        Undo::Updated { module, table, old } => {
            let t = db.table_mut(module, table).expect("undo: table exists");
            t.update(old.values().to_vec())
                .expect("undo: updated row exists");
        }
        Undo::Deleted { module, table, old } => {
            let t = db.table_mut(module, table).expect("undo: table exists");
            t.insert(old.values().to_vec())
                .expect("undo: deleted row fits back");
        }
        Undo::Module { id, previous } => {
            if let Some(m) = db.modules.remove(&id) {
                db.names.remove(&m.schema.name);
            }
            if let Some(prev) = previous {
                db.names.insert(prev.schema.name.clone(), id);
                db.modules.insert(id, *prev);
            }
        }
    }
}

/// A transaction on a [`Database`], for code that holds the database for
/// the whole transaction (replay, tests): changes apply at once (reads see
/// them through every index) and are recorded as the commit's mutations.
/// Dropping it without [`Txn::commit`] rolls it back.
#[derive(Debug)]
pub struct Txn<'a> {
    db: &'a mut Database,
    ws: WriteSet,
}

impl Txn<'_> {
    /// The database as the transaction sees it (its own writes included).
    pub fn db(&self) -> &Database {
        self.db
    }

    /// The mutations so far.
    pub fn mutations(&self) -> &[Mutation] {
        self.ws.mutations()
    }

    /// Inserts a row; returns it as stored (with its auto-increment key).
    pub fn insert(&mut self, module: u32, table: u32, values: Vec<Value>) -> Result<Row, TxnError> {
        self.ws.insert(self.db, module, table, values)
    }

    /// Replaces the row with the same primary key; returns the new row.
    pub fn update(&mut self, module: u32, table: u32, values: Vec<Value>) -> Result<Row, TxnError> {
        self.ws.update(self.db, module, table, values)
    }

    /// Deletes the row with primary key `pk`; returns it.
    pub fn delete(&mut self, module: u32, table: u32, pk: &Value) -> Result<Row, TxnError> {
        self.ws.delete(self.db, module, table, pk)
    }

    /// Installs a module (first publish) or moves it to a new, compatible
    /// schema, and records the module record. The caller has validated the
    /// schema and checked compatibility. Tables whose migration runs start
    /// empty; their published rows are returned, [`Retired`].
    pub fn install_module(
        &mut self,
        id: u32,
        schema: ModuleSchema,
        schema_bytes: Bytes,
        wasm: Bytes,
    ) -> Result<Retired, TxnError> {
        self.ws
            .install_module(self.db, id, schema, schema_bytes, wasm)
    }

    /// Unpublishes module `id`: it and its tables leave the database, and
    /// the removal record ([`ModuleRecord::removal`]) is the mutation.
    pub fn remove_module(&mut self, id: u32) -> Result<(), TxnError> {
        self.ws.remove_module(self.db, id)
    }

    /// Keeps every change and returns the commit's mutations.
    pub fn commit(mut self) -> Vec<Mutation> {
        std::mem::take(&mut self.ws).commit()
    }

    /// Undoes every change (also what dropping does).
    pub fn rollback(self) {}
}

impl Drop for Txn<'_> {
    fn drop(&mut self) {
        std::mem::take(&mut self.ws).rollback(self.db);
    }
}
