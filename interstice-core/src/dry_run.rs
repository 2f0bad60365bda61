//! `interstice publish --dry-run`: what publishing a module would do to a
//! log's current state — the checks publishing makes, the changes, the
//! migrations (run for real, on the caller's copy of the state), and the
//! rows each table would hold and how long it all takes — without writing
//! anything.

use std::time::Instant;

use bytes::Bytes;
use interstice_abi::compat::SchemaDiff;

use std::sync::Arc;

use crate::WasmHost;
use crate::cycles::Declared;
use crate::db::{Database, WriteSet};
use crate::error::PublishError;
use crate::host::Inspected;
use crate::migrate::MigrationRun;
use crate::runtime::publish::{against, check_capabilities, check_cycles};

/// What a publish would do.
#[derive(Debug)]
pub struct DryRun {
    /// The module.
    pub module: String,
    /// Whether it would be the module's first version.
    pub first_version: bool,
    /// The changes from the published version, none breaking.
    pub diff: SchemaDiff,
    /// Each table of the new version: its name, the rows the table it
    /// continues holds now (`None` for a new table), and the rows it would
    /// hold.
    pub tables: Vec<(String, Option<u64>, u64)>,
    /// The published version's tables it would drop, with their rows.
    pub dropped: Vec<(String, u64)>,
    /// The migrations that ran, in order.
    pub migrations: Vec<MigrationRun>,
    /// The messages the migrations logged.
    pub logs: Vec<String>,
    /// How long installing it (migrations included) took here, in
    /// microseconds.
    pub micros: u64,
}

/// Publishes `module` (with its `wasm`) into `db` as the runtime would,
/// migrations included (run by `host`, at the current time, with
/// `host`'s limits), on the caller's copy of the state: `db` afterwards
/// holds the new version and is for nothing else (`db` is a replay's, not
/// a runtime's). A migration that fails is
/// [`PublishError::Migration`], as publishing would be.
pub fn publish(
    host: &WasmHost,
    db: &mut Database,
    module: Inspected,
    wasm: &[u8],
) -> Result<DryRun, PublishError> {
    let Inspected {
        module: compiled,
        schema,
        schema_bytes,
        writes,
    } = module;
    let existing = db.module_by_name(&schema.name);
    let first_version = existing.is_none();
    let before: Vec<(String, u64)> = existing
        .map(|m| {
            m.tables
                .iter()
                .map(|t| (t.schema().name.clone(), t.len() as u64))
                .collect()
        })
        .unwrap_or_default();
    let old_schema = existing.map(|m| m.schema.clone());
    let id = existing.map_or_else(|| db.next_module_id(), |m| m.id);
    let (schema, schema_bytes, diff) = against(existing, schema, schema_bytes)?;
    check_capabilities(db, &schema)?;
    let published: Vec<(
        interstice_abi::ModuleSchema,
        interstice_abi::writes::ModuleWrites,
    )> = db
        .modules()
        .map(|m| {
            let writes = crate::declared_writes(&m.wasm, &m.schema).unwrap_or_default();
            (m.schema.clone(), writes)
        })
        .collect();
    let declared: Vec<Declared<'_>> = published
        .iter()
        .map(|(schema, writes)| Declared { schema, writes })
        .collect();
    check_cycles(&declared, &schema, &writes)?;
    let linked = Arc::new(host.link(id, schema.clone(), writes, &compiled)?);

    let started = Instant::now();
    let mut ws = WriteSet::default();
    let retired = ws
        .install_module(
            db,
            id,
            schema.clone(),
            Bytes::from(schema_bytes),
            Bytes::copy_from_slice(wasm),
        )
        .map_err(|e| PublishError::describe(format!("cannot install: {e}")))?;
    let (mut migrations, mut logs) = (Vec::new(), Vec::new());
    if !retired.is_empty() {
        let modules = host.load_all(db)?;
        let now = crate::runtime::now_micros();
        let out = crate::migrate::run_with_host(
            host,
            modules,
            &linked,
            std::mem::take(db),
            ws,
            retired,
            0,
            now,
        );
        *db = out.db;
        logs = out.logs.into_iter().map(|l| l.message).collect();
        if let Err(failure) = out.result {
            return Err(PublishError::Migration(Box::new(failure)));
        }
        migrations = out.runs;
    }
    let micros = started.elapsed().as_micros() as u64;

    let installed = db.module(id).expect("just installed");
    let tables = installed
        .tables
        .iter()
        .map(|t| {
            let ts = t.schema();
            let was = old_schema
                .as_ref()
                .and_then(|old| interstice_abi::compat::table_origin(old, ts))
                .and_then(|o| before.iter().find(|(n, _)| *n == o.name))
                .map(|(_, rows)| *rows);
            (ts.name.clone(), was, t.len() as u64)
        })
        .collect::<Vec<_>>();
    let dropped = before
        .into_iter()
        .filter(|(name, _)| {
            old_schema.as_ref().is_some_and(|old| {
                !schema.tables.iter().any(|t| {
                    interstice_abi::compat::table_origin(old, t).is_some_and(|o| &o.name == name)
                })
            })
        })
        .collect();
    Ok(DryRun {
        module: schema.name.clone(),
        first_version,
        diff,
        tables,
        dropped,
        migrations,
        logs,
        micros,
    })
}
