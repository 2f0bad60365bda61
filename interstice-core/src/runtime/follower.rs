//! A follower: a runtime on a log that another process writes. It looks
//! for new commits every so often ([`LogStore::refresh`]), applies them as
//! a replay does (running no WebAssembly; a logged module is compiled so
//! its schema and reducers are known), and reports them durable, so reads,
//! subscriptions and `wait_durable` work as on the writer.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use interstice_log::{Commit, LogStore, ModuleRecord, MutationKind};

use super::{Inner, now_micros};
use crate::replay::apply_commit;

/// Longest wait between looks after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Follows `store` every `every` until the runtime is gone or stopped.
pub(super) fn spawn(inner: Weak<Inner>, store: Arc<dyn LogStore>, every: Duration) {
    tokio::spawn(async move {
        let mut wait = every;
        loop {
            tokio::time::sleep(wait).await;
            let Some(inner) = inner.upgrade() else {
                return;
            };
            if inner.stopped.reason().is_some() {
                return;
            }
            wait = match step(&inner, &*store).await {
                Ok(()) => every,
                Err(e) => {
                    tracing::warn!("following the log: {e} (trying again in {:?})", wait * 2);
                    (wait * 2).min(MAX_BACKOFF.max(every))
                }
            };
        }
    });
}

/// One look: what the log gained since the last, applied.
async fn step(inner: &Inner, store: &dyn LogStore) -> Result<(), String> {
    let started = Instant::now();
    let end = store.refresh().await.map_err(|e| e.to_string())?;
    let from = inner.lock_exec().next_offset;
    if end <= from {
        return Ok(());
    }
    let commits: Vec<Commit> = store
        .read_from(from)
        .await
        .map_err(|e| e.to_string())?
        .try_take_while(|c| std::future::ready(Ok(c.offset < end)))
        .try_collect()
        .await
        .map_err(|e| e.to_string())?;
    let bytes = apply(inner, &commits)?;
    if let Some(last) = commits.last() {
        let lag = now_micros().saturating_sub(last.timestamp);
        inner
            .follow_lag_micros
            .store(lag, std::sync::atomic::Ordering::Relaxed);
    }
    inner.pipeline.delivered(commits, bytes, started.elapsed());
    Ok(())
}

/// Applies `commits` to the state and installs the modules they log;
/// returns their size (roughly: the bytes of their rows and arguments).
fn apply(inner: &Inner, commits: &[Commit]) -> Result<usize, String> {
    let mut exec = inner.lock_exec();
    let mut bytes = 0;
    for c in commits {
        apply_commit(&mut exec.db, c).map_err(|e| e.to_string())?;
        // Kept for what it shows (`Runtime::timers`): a follower runs none.
        let exec = &mut *exec;
        exec.timers.observe(&exec.db, c);
        for m in c
            .mutations
            .iter()
            .filter(|m| m.kind == MutationKind::Module)
        {
            let record = ModuleRecord::decode(&m.row).map_err(|e| e.to_string())?;
            let mut modules = (*exec.modules).clone();
            if record.is_removal() {
                modules.remove(&m.module_id);
                exec.modules = Arc::new(modules);
                *inner.catalog.lock().unwrap_or_else(|p| p.into_inner()) = exec.modules.clone();
                continue;
            }
            let schema = exec
                .db
                .module(m.module_id)
                .map(|module| module.schema.clone())
                .ok_or_else(|| format!("module {} was not installed", record.name))?;
            let linked = inner
                .host
                .load(m.module_id, schema, &record.wasm)
                .map_err(|e| e.to_string())?;
            modules.insert(m.module_id, Arc::new(linked));
            exec.modules = Arc::new(modules);
            *inner.catalog.lock().unwrap_or_else(|p| p.into_inner()) = exec.modules.clone();
        }
        bytes += c.invocation.args.len() + c.mutations.iter().map(|m| m.row.len()).sum::<usize>();
        exec.next_offset = c.offset + 1;
        exec.clock = exec.clock.max(c.timestamp);
    }
    Ok(bytes)
}
