//! The ReplayEngine: rebuilds every table from the log, without running any
//! WebAssembly.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use interstice_abi::ModuleSchema;
use interstice_log::{Commit, LogStore, ModuleRecord, Mutation, MutationKind};

use crate::db::{Database, TxnError};
use crate::error::ReplayError;
use crate::subscriptions::{Scheduled, triggered};

/// What a replay did, for people (`interstice replay` prints it).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplayReport {
    /// Commits applied.
    pub commits: u64,
    /// Mutations applied (rows inserted, updated, deleted; module records).
    pub mutations: u64,
    /// Bytes of rows and records applied.
    pub bytes: u64,
    /// Last offset applied.
    pub last_offset: Option<u64>,
    /// Wall time.
    pub elapsed: Duration,
}

impl ReplayReport {
    /// Mutations applied per second.
    pub fn rows_per_sec(&self) -> f64 {
        self.mutations as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Row bytes applied per second.
    pub fn bytes_per_sec(&self) -> f64 {
        self.bytes as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The state a log describes.
#[derive(Debug)]
pub struct Replayed {
    /// Every module and table, as of the last commit.
    pub db: Database,
    /// What the replay did.
    pub report: ReplayReport,
    /// Subscribed reducer calls that a logged commit triggered but whose
    /// follow-up commit is not in the log (a crash came between), in the
    /// order they were triggered. The runtime runs each once.
    pub pending: Vec<Scheduled>,
    /// The latest commit timestamp replayed (0 when none): the runtime's
    /// clock resumes after it, so `now()` never goes backwards across a
    /// restart, even if the wall clock does.
    pub clock: u64,
}

/// Rebuilds state from a [`LogStore`] alone: checks every checksum (the
/// store does) and every schema hash, applies each commit whole, and never
/// instantiates or calls a module.
pub struct ReplayEngine;

impl ReplayEngine {
    /// Replays `store` from its first offset up to and including `to` (the
    /// whole log when `None`).
    pub async fn replay(
        store: &dyn LogStore,
        from: u64,
        to: Option<u64>,
    ) -> Result<Replayed, ReplayError> {
        let started = Instant::now();
        let mut db = Database::new();
        let mut report = ReplayReport::default();
        let mut clock = 0;
        let mut pending: VecDeque<Scheduled> = VecDeque::new();
        let mut commits = store.read_from(from).await?;
        while let Some(commit) = commits.try_next().await? {
            if to.is_some_and(|to| commit.offset > to) {
                break;
            }
            apply_commit(&mut db, &commit)?;
            // A logged follow-up settles the oldest matching scheduled call,
            // and what it triggers in turn is one subscription step deeper.
            let mut settled = None;
            if let Some(cause) = commit.cause {
                let inv = &commit.invocation;
                if let Some(i) = pending.iter().position(|s| {
                    s.cause == cause && s.module == inv.module && s.reducer == inv.reducer
                }) {
                    settled = pending.remove(i);
                }
            }
            pending.extend(triggered(
                &db,
                commit.offset,
                &commit.mutations,
                settled.as_ref(),
            ));
            report.commits += 1;
            report.mutations += commit.mutations.len() as u64;
            report.bytes += commit
                .mutations
                .iter()
                .map(|m| m.row.len() as u64)
                .sum::<u64>();
            report.last_offset = Some(commit.offset);
            clock = clock.max(commit.timestamp);
        }
        report.elapsed = started.elapsed();
        Ok(Replayed {
            db,
            report,
            pending: pending.into(),
            clock,
        })
    }
}

/// Applies one logged commit. A commit that does not apply (the log
/// contradicts itself) fails the whole replay, so nothing is undone here:
/// rows go straight into their tables, checked and keyed from their
/// encoding without being decoded.
pub(crate) fn apply_commit(db: &mut Database, commit: &Commit) -> Result<(), ReplayError> {
    let offset = commit.offset;
    for m in &commit.mutations {
        if m.kind == MutationKind::Module {
            install(db, offset, m)?;
            continue;
        }
        let module = db.module(m.module_id).ok_or(ReplayError::UnknownModule {
            offset,
            module_id: m.module_id,
        })?;
        let name = module.schema.name.clone();
        let table =
            db.table_mut(m.module_id, m.table_id)
                .ok_or_else(|| ReplayError::UnknownTable {
                    offset,
                    module: name.clone(),
                    table_id: m.table_id,
                })?;
        if table.hash() != m.schema_hash {
            return Err(ReplayError::SchemaMismatch {
                offset,
                module: name,
                table: table.schema().name.clone(),
                expected: table.hash(),
                found: m.schema_hash,
            });
        }
        table
            .apply_encoded(m.kind, &m.row)
            .map_err(|source| ReplayError::Apply { offset, source })?;
    }
    Ok(())
}

/// Installs the module a logged module record describes.
fn install(db: &mut Database, offset: u64, m: &Mutation) -> Result<(), ReplayError> {
    let bad = |reason: String| ReplayError::BadModuleRecord { offset, reason };
    let record = ModuleRecord::decode(&m.row).map_err(|e| bad(e.to_string()))?;
    let schema: ModuleSchema =
        interstice_abi::decode(&record.schema).map_err(|e| bad(e.to_string()))?;
    if schema.hash() != m.schema_hash {
        return Err(bad(format!(
            "schema of `{}` hashes to {:#018x}, the record says {:#018x}",
            schema.name,
            schema.hash(),
            m.schema_hash
        )));
    }
    if schema.name != record.name {
        return Err(bad(format!(
            "record names `{}` but its schema `{}`",
            record.name, schema.name
        )));
    }
    let mut txn = db.begin();
    txn.install_module(m.module_id, schema, record.schema, record.wasm)
        .map_err(|source| match source {
            TxnError::Table(source) => ReplayError::Apply { offset, source },
            TxnError::NoSuchTable(e) => ReplayError::UnknownTable {
                offset,
                module: e.module_id.to_string(),
                table_id: e.table_id,
            },
        })?;
    txn.commit();
    Ok(())
}
