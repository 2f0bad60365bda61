//! Running a new version's migration reducers: inside the transaction
//! that installs the version, after its module record, each reading the
//! published rows of its table (`table@version`, [`Retired`]) and writing
//! them in the new shape. Their writes are ordinary mutations in the same
//! commit, so replay needs no WebAssembly; `replay-check` and
//! `publish --dry-run` run them the same way, through one function.

use std::collections::HashMap;
use std::sync::Arc;

use crate::WasmHost;
use crate::db::{Database, Retired, WriteSet};
use crate::error::{CallError, CallErrorKind};
use crate::host::state::{CallContext, Logged};
use crate::host::{CompiledModule, Env, Invocation};

/// One migration that ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationRun {
    /// Its reducer.
    pub reducer: String,
    /// The table it rewrote (its new name).
    pub table: String,
    /// The version it rewrote the rows from.
    pub from: u32,
    /// The published rows it read from.
    pub rows_before: u64,
    /// The mutations it made.
    pub mutations: u64,
    /// How long it ran, in microseconds.
    pub micros: u64,
}

/// A migration that failed, and which.
#[derive(Debug)]
pub struct MigrationFailure {
    /// The reducer.
    pub reducer: String,
    /// Its table.
    pub table: String,
    /// The version it migrates from.
    pub from: u32,
    /// Why it failed.
    pub error: CallError,
}

/// What running a version's migrations gave back: the database and write
/// set they owned (the caller commits or rolls back), the migrations that
/// ran, the messages they logged, and the first failure.
pub(crate) struct Migrated {
    pub db: Database,
    pub ws: WriteSet,
    pub runs: Vec<MigrationRun>,
    pub logs: Vec<Logged>,
    pub result: Result<(), MigrationFailure>,
}

/// Runs the migrations `retired` holds, in order, for `module` (the new
/// version, already installed in `db` by `ws`). Each is a reducer call
/// with the commit's context: `ctx`'s timestamp, and the random generator
/// going on from one migration to the next, so a re-run draws the same
/// numbers. The retired tables are readable while they run and gone
/// afterwards, whatever the outcome.
pub(crate) fn run(
    env: &Env,
    mut db: Database,
    mut ws: WriteSet,
    module: &Arc<CompiledModule>,
    mut retired: Retired,
    mut ctx: CallContext,
    fuel: u64,
) -> Migrated {
    let plan: Vec<_> = retired.rows().map(|(m, rows)| (m.clone(), rows)).collect();
    db.attach_retired(module.id, &mut retired);
    let mut runs = Vec::with_capacity(plan.len());
    let mut logs = Vec::new();
    let mut result = Ok(());
    for (m, rows_before) in plan {
        let fail = |kind| MigrationFailure {
            reducer: m.reducer.clone(),
            table: m.table.clone(),
            from: m.from,
            error: CallError::new(&*module.schema.name, &*m.reducer, kind),
        };
        // The schema was validated: each migration names a reducer.
        let Some(entry) = module.reducer(&m.reducer).cloned() else {
            result = Err(fail(CallErrorKind::NoSuchReducer));
            break;
        };
        let before = ws.mutations().len();
        let call = Invocation {
            module,
            reducer: &entry,
            args: &[],
            ctx,
            fuel,
            depth: 0,
        };
        let out = crate::host::run(env.clone(), db, ws, call, None);
        (db, ws) = (out.db, out.ws);
        ctx.rng = out.rng;
        logs.extend(out.logs);
        if let Err(error) = out.result {
            result = Err(MigrationFailure {
                error,
                ..fail(CallErrorKind::NoSuchReducer)
            });
            break;
        }
        runs.push(MigrationRun {
            reducer: m.reducer.clone(),
            table: m.table.clone(),
            from: m.from,
            rows_before,
            mutations: (ws.mutations().len() - before) as u64,
            micros: out.micros,
        });
    }
    db.detach_retired(module.id);
    Migrated {
        db,
        ws,
        runs,
        logs,
        result,
    }
}

/// [`run`] outside a runtime (a dry run, a re-check): with `host`'s limits,
/// `modules` (the other modules, for cross-module calls) and `module` among
/// them, and the context of a commit at `offset` and `timestamp`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_with_host(
    host: &WasmHost,
    mut modules: HashMap<u32, Arc<CompiledModule>>,
    module: &Arc<CompiledModule>,
    db: Database,
    ws: WriteSet,
    retired: Retired,
    offset: u64,
    timestamp: u64,
) -> Migrated {
    modules.insert(module.id, module.clone());
    let ctx = CallContext {
        timestamp,
        rng: crate::runtime::seed(offset, timestamp),
        scheduled: None,
    };
    let env = host.env(Arc::new(modules));
    run(&env, db, ws, module, retired, ctx, host.limits().fuel)
}
