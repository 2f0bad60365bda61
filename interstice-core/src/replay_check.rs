//! Checking that a log's reducers are deterministic: re-execute every
//! logged invocation, twice, with the module binaries the log recorded, on
//! the state just before it, and compare the mutations produced with the
//! logged ones and with each other.
//!
//! The state between commits is rebuilt from the logged mutations (as the
//! ReplayEngine does), so one divergence does not cascade; each
//! re-execution is rolled back before the logged commit is applied. The
//! call context is the logged one: the commit's timestamp, and the random
//! generator seeded from its offset and timestamp. A publish whose
//! migrations ran is re-executed too: the version installed again, its
//! migrations run again ([`crate::migrate`]).

use std::collections::HashMap;
use std::sync::Arc;

use futures::TryStreamExt;
use interstice_abi::ModuleSchema;
use interstice_log::snapshot::SnapshotStore;
use interstice_log::{Commit, LogStore, ModuleRecord, Mutation, MutationKind};

use crate::db::{Database, WriteSet};
use crate::error::ReplayError;
use crate::host::state::CallContext;
use crate::host::{CompiledModule, Invocation, run};
use crate::replay::apply_commit;
use crate::runtime::seed;
use crate::{Limits, PUBLISH_INVOCATION, PublishError, WasmHost};

/// The first place a re-execution did not reproduce the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The commit.
    pub offset: u64,
    /// Its module and reducer.
    pub module: String,
    /// The reducer.
    pub reducer: String,
    /// What differs: the logged and the produced mutation.
    pub detail: String,
}

/// What [`replay_check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The first commit checked: 0, or (on a log whose beginning
    /// retention removed) the one after the oldest usable snapshot.
    pub from: u64,
    /// Commits read.
    pub commits: u64,
    /// Invocations re-executed (each twice).
    pub executed: u64,
    /// The first divergence, if any (the check stops there).
    pub divergence: Option<Divergence>,
}

/// Re-executes every invocation of the log in `store` twice (see the
/// module docs). Fails only when the log cannot be read or replayed.
///
/// On a log whose beginning retention removed, the check starts from the
/// oldest snapshot in `snapshots` that loads and whose commit the log
/// holds ([`CheckReport::from`]).
pub async fn replay_check(
    store: &dyn LogStore,
    snapshots: Option<&dyn SnapshotStore>,
    limits: Limits,
) -> Result<CheckReport, ReplayError> {
    let host = WasmHost::new(limits);
    let mut report = CheckReport::default();
    let first = store.first_offset().await?;
    let (mut db, from) = match snapshots {
        _ if first == 0 => (Database::new(), 0),
        Some(snapshots) => oldest_usable(store, snapshots, first).await?,
        None => {
            let skipped = Vec::new();
            return Err(ReplayError::NoStart { first, skipped });
        }
    };
    report.from = from;
    let bad = |e: crate::PublishError| ReplayError::BadModuleRecord {
        offset: from,
        reason: e.to_string(),
    };
    let mut modules: Arc<HashMap<u32, Arc<CompiledModule>>> =
        Arc::new(host.load_all(&db).map_err(bad)?);
    let mut commits = store.read_from(from).await?;
    while let Some(commit) = commits.try_next().await? {
        report.commits += 1;
        // Names beginning with `@` are records (a publish, a take-over),
        // not reducer calls: nothing to execute but a publish's migrations.
        let rerun = rerun(&host, &modules, &mut db, &commit)?;
        // A publish's mutations are shown with the version it installs.
        let publish = commit.invocation.reducer == PUBLISH_INVOCATION;
        if publish {
            apply_commit(&mut db, &commit)?;
        }
        if let Some((first, second)) = rerun {
            report.executed += 1;
            let divergence = compare(&db, &commit, &first, "logged", "re-executed")
                .or_else(|| compare_runs(&db, &first, &second));
            if let Some(detail) = divergence {
                report.divergence = Some(Divergence {
                    offset: commit.offset,
                    module: commit.invocation.module.clone(),
                    reducer: commit.invocation.reducer.clone(),
                    detail,
                });
                return Ok(report);
            }
        }
        if !publish {
            apply_commit(&mut db, &commit)?;
        }
        for m in commit
            .mutations
            .iter()
            .filter(|m| m.kind == MutationKind::Module)
        {
            let bad = |reason: String| ReplayError::BadModuleRecord {
                offset: commit.offset,
                reason,
            };
            let record = ModuleRecord::decode(&m.row).map_err(|e| bad(e.to_string()))?;
            if record.is_removal() {
                Arc::make_mut(&mut modules).remove(&m.module_id);
                continue;
            }
            let schema: ModuleSchema =
                interstice_abi::decode_schema(&record.schema).map_err(|e| bad(e.to_string()))?;
            let linked = host
                .load(m.module_id, schema, &record.wasm)
                .map_err(|e| bad(e.to_string()))?;
            Arc::make_mut(&mut modules).insert(m.module_id, Arc::new(linked));
        }
    }
    Ok(report)
}

/// The commit's invocation run twice again on `db` (the state just
/// before it; left as it was), or a publish's migrations: the two
/// results, or `None` for a record with nothing to run.
fn rerun(
    host: &WasmHost,
    modules: &Arc<HashMap<u32, Arc<CompiledModule>>>,
    db: &mut Database,
    commit: &Commit,
) -> Result<Option<Runs>, ReplayError> {
    Ok(if commit.invocation.reducer == PUBLISH_INVOCATION {
        migrate_again(host, modules, db, commit)?.map(|first| {
            let second = migrate_again(host, modules, db, commit)
                .ok()
                .flatten()
                .unwrap_or_else(|| Err("the second run ran no migration".into()));
            (first, second)
        })
    } else if !commit.invocation.reducer.starts_with('@') {
        let first = execute(host, modules, db, commit);
        let second = execute(host, modules, db, commit);
        Some((first, second))
    } else {
        None
    })
}

/// Two re-executions' mutations (or failures).
type Runs = (Result<Vec<Mutation>, String>, Result<Vec<Mutation>, String>);

/// Re-executes one commit twice on `before`, the state just before it,
/// with the module binaries that state holds, as [`replay_check`] does for
/// every commit: `None` when both runs reproduce the logged mutations (or
/// there is nothing to run), else what differs. For a debugger's "check
/// this commit".
pub fn check_commit(
    host: &WasmHost,
    before: &Database,
    commit: &Commit,
) -> Result<Option<String>, ReplayError> {
    let bad = |e: crate::PublishError| ReplayError::BadModuleRecord {
        offset: commit.offset,
        reason: e.to_string(),
    };
    let modules = Arc::new(host.load_all(before).map_err(bad)?);
    let mut db = before.clone();
    let Some((first, second)) = rerun(host, &modules, &mut db, commit)? else {
        return Ok(None);
    };
    // A publish's mutations are shown with the version it installs.
    if commit.invocation.reducer == PUBLISH_INVOCATION {
        apply_commit(&mut db, commit)?;
    }
    Ok(compare(&db, commit, &first, "logged", "re-executed")
        .or_else(|| compare_runs(&db, &first, &second)))
}

/// The state of the oldest snapshot at or after `first` that loads and
/// whose commit the log holds, and the offset after it.
pub(crate) async fn oldest_usable(
    store: &dyn LogStore,
    snapshots: &dyn SnapshotStore,
    first: u64,
) -> Result<(Database, u64), ReplayError> {
    let mut skipped = Vec::new();
    for offset in snapshots.list().await?.into_iter().filter(|&o| o >= first) {
        let state = match crate::snapshot::load(snapshots.get(offset).await?) {
            Ok(state) => state,
            Err(e) => {
                skipped.push(format!("snapshot {offset}: {e}"));
                continue;
            }
        };
        let commit = store.read_from(offset).await?.try_next().await?;
        if commit.is_some_and(|c| c.timestamp == state.header.timestamp) {
            return Ok((state.db, offset + 1));
        }
        skipped.push(format!(
            "snapshot {offset}: not taken after this log's commit {offset}"
        ));
    }
    Err(ReplayError::NoStart { first, skipped })
}

/// Runs the commit's invocation on `db` and undoes it; its mutations, or
/// the error it failed with.
fn execute(
    host: &WasmHost,
    modules: &Arc<HashMap<u32, Arc<CompiledModule>>>,
    db: &mut Database,
    commit: &Commit,
) -> Result<Vec<Mutation>, String> {
    let inv = &commit.invocation;
    let compiled = modules
        .values()
        .find(|m| m.schema.name == inv.module)
        .cloned()
        .ok_or_else(|| format!("module `{}` is not in the log", inv.module))?;
    let reducer = compiled
        .reducer(&inv.reducer)
        .cloned()
        .ok_or_else(|| format!("module `{}` has no reducer `{}`", inv.module, inv.reducer))?;
    let call = Invocation {
        module: &compiled,
        reducer: &reducer,
        args: &inv.args,
        ctx: CallContext {
            timestamp: commit.timestamp,
            rng: seed(commit.offset, commit.timestamp),
            scheduled: commit.invocation.scheduled.map(|s| s.due),
        },
        fuel: host.limits().fuel,
        depth: 0,
    };
    let env = host.env(modules.clone());
    let ws = scheduled_start(db, compiled.id, commit)?;
    let out = run(env, std::mem::take(db), ws, call, None);
    *db = out.db;
    let produced = out.ws.mutations().to_vec();
    out.ws.rollback(db);
    match out.result {
        Ok(()) => Ok(produced),
        // A failed scheduled call commits what its run does without the
        // reducer: a one-shot row's deletion.
        Err(_) if inv.scheduled.is_some() => {
            let ws = scheduled_start(db, compiled.id, commit)?;
            let spent = ws.mutations().to_vec();
            ws.rollback(db);
            Ok(spent)
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The write set a commit's call starts with: for a scheduled call of a
/// row that runs once, the row's deletion (made on `db`).
fn scheduled_start(db: &mut Database, module_id: u32, commit: &Commit) -> Result<WriteSet, String> {
    let mut ws = WriteSet::default();
    let inv = &commit.invocation;
    let Some(run) = inv.scheduled else {
        return Ok(ws);
    };
    let table = db
        .table(module_id, run.table_id)
        .ok_or_else(|| format!("module `{}` has no table {}", inv.module, run.table_id))?;
    if let Some(key) = crate::timers::one_shot_key(table, &inv.args) {
        ws.delete(db, module_id, run.table_id, &key)
            .map_err(|e| format!("the scheduled row is not there to run: {e}"))?;
    }
    Ok(ws)
}

/// Installs the version a publish commit logged on `db` again and runs its
/// migrations, then undoes it all: the mutations produced (the module
/// record and the migrations' writes), or the failure; `None` when no
/// migration runs (nothing to compare beyond the record). An unreadable
/// record is the log's fault, an error.
fn migrate_again(
    host: &WasmHost,
    modules: &Arc<HashMap<u32, Arc<CompiledModule>>>,
    db: &mut Database,
    commit: &Commit,
) -> Result<Option<Result<Vec<Mutation>, String>>, ReplayError> {
    let Some(m) = commit
        .mutations
        .iter()
        .find(|m| m.kind == MutationKind::Module)
    else {
        return Ok(None);
    };
    let bad = |reason: String| ReplayError::BadModuleRecord {
        offset: commit.offset,
        reason,
    };
    let record = ModuleRecord::decode(&m.row).map_err(|e| bad(e.to_string()))?;
    if record.is_removal() {
        return Ok(None);
    }
    let schema = interstice_abi::decode_schema(&record.schema).map_err(|e| bad(e.to_string()))?;
    if schema.migrations.is_empty() {
        return Ok(None);
    }
    let mut ws = WriteSet::default();
    let retired = ws
        .install_module(
            db,
            m.module_id,
            schema.clone(),
            record.schema.clone(),
            record.wasm.clone(),
        )
        .map_err(|e| bad(e.to_string()))?;
    if retired.is_empty() {
        ws.rollback(db);
        return Ok(None);
    }
    let linked = match host.load(m.module_id, schema, &record.wasm) {
        Ok(linked) => Arc::new(linked),
        Err(e) => {
            ws.rollback(db);
            return Err(bad(e.to_string()));
        }
    };
    let out = crate::migrate::run_with_host(
        host,
        (**modules).clone(),
        &linked,
        std::mem::take(db),
        ws,
        retired,
        commit.offset,
        commit.timestamp,
    );
    *db = out.db;
    let produced = out.ws.mutations().to_vec();
    out.ws.rollback(db);
    Ok(Some(out.result.map(|()| produced).map_err(|f| {
        PublishError::Migration(Box::new(f)).to_string()
    })))
}

/// How a mutation reads in a report: kind, place, and its row decoded.
fn show(db: &Database, m: &Mutation) -> String {
    let place = db.module(m.module_id).map_or_else(
        || format!("module {} table {}", m.module_id, m.table_id),
        |s| {
            let table = s
                .schema
                .tables
                .get((m.table_id as usize).wrapping_sub(1))
                .map_or("?", |t| t.name.as_str());
            format!("{}.{table}", s.schema.name)
        },
    );
    let row = db
        .table(m.module_id, m.table_id)
        .and_then(|t| t.decode_row(&m.row).ok())
        .map_or_else(
            || format!("{} bytes", m.row.len()),
            |v| {
                let cells: Vec<String> = v.iter().map(ToString::to_string).collect();
                format!("({})", cells.join(", "))
            },
        );
    format!("{:?} {place} {row}", m.kind)
}

/// The logged mutations against a re-execution's.
fn compare(
    db: &Database,
    commit: &Commit,
    produced: &Result<Vec<Mutation>, String>,
    a: &str,
    b: &str,
) -> Option<String> {
    let logged = &commit.mutations;
    let produced = match produced {
        Ok(p) => p,
        // A subscription that failed is logged as a commit with no
        // mutations (it settles its cause).
        Err(_) if commit.cause.is_some() && logged.is_empty() => return None,
        Err(e) => return Some(format!("{a}: {} mutations; {b}: failed: {e}", logged.len())),
    };
    first_difference(db, (a, logged), (b, produced))
}

/// Where two mutation lists first differ, named `a` and `b`.
fn first_difference(
    db: &Database,
    (a, xs): (&str, &[Mutation]),
    (b, ys): (&str, &[Mutation]),
) -> Option<String> {
    if let Some((i, (x, y))) = xs.iter().zip(ys).enumerate().find(|(_, (x, y))| x != y) {
        return Some(format!(
            "mutation {i}: {a} {}; {b} {}",
            show(db, x),
            show(db, y)
        ));
    }
    (xs.len() != ys.len()).then(|| format!("{a}: {} mutations; {b}: {}", xs.len(), ys.len()))
}

/// Two re-executions against each other.
fn compare_runs(
    db: &Database,
    first: &Result<Vec<Mutation>, String>,
    second: &Result<Vec<Mutation>, String>,
) -> Option<String> {
    match (first, second) {
        (Ok(a), Ok(b)) => first_difference(db, ("first run", a), ("second run", b)),
        (Err(x), Err(y)) if x == y => None,
        (x, y) => Some(format!("first run: {x:?}; second run: {y:?}")),
    }
}
