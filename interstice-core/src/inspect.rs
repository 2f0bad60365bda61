//! Reading a log as people and tools want to see it: every commit with its
//! reducer arguments and rows decoded by the schema that was in force when
//! it was written (the log carries its module records). No WebAssembly
//! runs; tables are not rebuilt.

use std::collections::HashMap;

use interstice_abi::writes::ModuleWrites;
use interstice_abi::{ModuleSchema, Type, Value, decode_value};
use interstice_log::{Commit, ModuleRecord, MutationKind};

/// Decodes commits in log order, following module records.
#[derive(Debug, Default)]
pub struct Decoder {
    modules: HashMap<u32, ModuleSchema>,
    /// What the modules it started with declare they write (none when a
    /// declaration does not read): a snapshot's modules, whose records the
    /// log no longer holds. Module records decoded later are not read for
    /// it; `graph` reads those itself.
    writes: HashMap<u32, ModuleWrites>,
}

/// A commit, decoded.
#[derive(Clone, Debug)]
pub struct DecodedCommit {
    /// The commit as logged.
    pub commit: Commit,
    /// The reducer's arguments (a struct of its parameters), or why they
    /// cannot be decoded; `None` for a publish.
    pub args: Option<Result<(Value, Type), String>>,
    /// Its mutations, in order.
    pub mutations: Vec<DecodedMutation>,
    /// For a call a schedule made: the schedule table's name (or `#id`
    /// when the log's schemas do not name it).
    pub schedule_table: Option<String>,
}

/// A mutation, decoded.
#[derive(Clone, Debug)]
pub struct DecodedMutation {
    /// What it does.
    pub kind: MutationKind,
    /// The module owning the table (or published).
    pub module: String,
    /// The table (empty for a module record).
    pub table: String,
    /// The row and its type, or why it cannot be decoded. For a module
    /// record: its schema's version and hash, as a string.
    pub row: Result<(Value, Type), String>,
}

impl Decoder {
    /// A decoder at the start of a log.
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder that knows the modules of `db` (a snapshot's state): for
    /// a log whose beginning, and its module records, retention removed.
    pub fn with_modules(db: &crate::db::Database) -> Self {
        Self {
            modules: db.modules().map(|m| (m.id, m.schema.clone())).collect(),
            writes: db
                .modules()
                .map(|m| (m.id, writes_of(&m.wasm, &m.schema)))
                .collect(),
        }
    }

    /// What module `id`, one of the modules it started with
    /// ([`Decoder::with_modules`]), declares its reducers write.
    pub fn writes(&self, id: u32) -> ModuleWrites {
        self.writes.get(&id).cloned().unwrap_or_default()
    }

    /// The schema of module `id` as of the commits decoded so far.
    pub fn module(&self, id: u32) -> Option<&ModuleSchema> {
        self.modules.get(&id)
    }

    /// Every module it knows, by id.
    pub fn modules(&self) -> impl Iterator<Item = (u32, &ModuleSchema)> {
        self.modules.iter().map(|(id, m)| (*id, m))
    }

    /// Decodes the next commit (commits must come in log order, from the
    /// start, so module records are seen before the rows they describe).
    pub fn decode(&mut self, commit: Commit) -> DecodedCommit {
        let mut mutations = Vec::with_capacity(commit.mutations.len());
        for m in &commit.mutations {
            if m.kind == MutationKind::Module {
                let record = ModuleRecord::decode(&m.row).map_err(|e| e.to_string());
                if let Ok(r) = record.as_ref()
                    && r.is_removal()
                {
                    self.modules.remove(&m.module_id);
                    mutations.push(DecodedMutation {
                        kind: m.kind,
                        module: r.name.clone(),
                        table: String::new(),
                        row: Ok((Value::String("unpublished".into()), Type::String)),
                    });
                    continue;
                }
                let decoded = record.and_then(|r| {
                    interstice_abi::decode_schema(&r.schema).map_err(|e| e.to_string())
                });
                let (module, row) = match decoded {
                    Ok(schema) => {
                        let name = schema.name.clone();
                        let summary = format!(
                            "version {}, schema hash {:#018x}",
                            schema.version, m.schema_hash
                        );
                        self.modules.insert(m.module_id, schema);
                        (name, Ok((Value::String(summary), Type::String)))
                    }
                    Err(e) => (
                        format!("#{}", m.module_id),
                        Err(format!("bad module record: {e}")),
                    ),
                };
                mutations.push(DecodedMutation {
                    kind: m.kind,
                    module,
                    table: String::new(),
                    row,
                });
                continue;
            }
            let schema = self.modules.get(&m.module_id);
            let table = schema.and_then(|s| s.tables.get((m.table_id as usize).wrapping_sub(1)));
            let row = match table {
                None => Err(format!("no table {} in module {}", m.table_id, m.module_id)),
                Some(t) => {
                    let ty = t.row_type();
                    decode_value(&ty, &m.row)
                        .map(|v| (v, ty))
                        .map_err(|e| e.to_string())
                }
            };
            mutations.push(DecodedMutation {
                kind: m.kind,
                module: schema.map_or_else(|| format!("#{}", m.module_id), |s| s.name.clone()),
                table: table.map_or_else(|| format!("#{}", m.table_id), |t| t.name.clone()),
                row,
            });
        }
        let args = self.args(&commit);
        let schedule_table = commit.invocation.scheduled.map(|run| {
            let schema = self
                .modules
                .values()
                .find(|s| s.name == commit.invocation.module);
            schema
                .and_then(|s| s.tables.get((run.table_id as usize).wrapping_sub(1)))
                .map_or_else(|| format!("#{}", run.table_id), |t| t.name.clone())
        });
        DecodedCommit {
            commit,
            args,
            mutations,
            schedule_table,
        }
    }

    fn args(&self, commit: &Commit) -> Option<Result<(Value, Type), String>> {
        let inv = &commit.invocation;
        // `@publish`, `@take-over`: the runtime's and the log's own
        // records, not reducer calls.
        if inv.reducer.starts_with('@') {
            return None;
        }
        let schema = self.modules.values().find(|s| s.name == inv.module);
        let reducer = schema.and_then(|s| s.reducers.iter().find(|r| r.name == inv.reducer));
        Some(match reducer {
            None => Err(format!(
                "no reducer {}.{} in the log's schemas",
                inv.module, inv.reducer
            )),
            Some(r) => {
                let ty = r.args_type();
                decode_value(&ty, &inv.args)
                    .map(|v| (v, ty))
                    .map_err(|e| e.to_string())
            }
        })
    }
}

/// What a logged module declares it writes; nothing when that does not
/// read (publishing checked it, so only a damaged record gets here).
fn writes_of(wasm: &[u8], schema: &ModuleSchema) -> ModuleWrites {
    crate::declared_writes(wasm, schema).unwrap_or_default()
}
