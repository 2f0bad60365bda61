//! The runtime's two workers: the executor, which runs queued calls one
//! after another on a thread of its own, and the subscription task, which
//! hands scheduled subscriptions to the executor once their cause is
//! durable.

use tokio::sync::mpsc;

use super::{Inner, Job, Request, Runtime};
use crate::durability::Durable;

/// Runs scheduled subscriptions in order, each after its cause is durable.
pub(super) async fn subscription_worker(
    inner: std::sync::Weak<Inner>,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    while let Some(job) = rx.recv().await {
        let s = match job {
            Job::Settle(tx) => {
                let _ = tx.send(rx.is_empty());
                continue;
            }
            Job::Run(s) => s,
        };
        let Some(inner) = inner.upgrade() else { return };
        let mut durable = inner.pipeline.durable();
        let ready = durable
            .wait_for(|d| match d {
                Durable::Upto(n) => *n > s.cause,
                Durable::Failed => true,
            })
            .await
            .is_ok_and(|d| matches!(*d, Durable::Upto(_)));
        if !ready {
            return;
        }
        let rt = Runtime { inner };
        if let Err(e) = rt
            .call_inner(&s.module, &s.reducer, &s.args, Some(&s), false)
            .await
        {
            tracing::error!(module = %s.module, reducer = %s.reducer, cause = s.cause, "subscription could not run: {e}");
        }
    }
}

/// Runs requests one after another: callers never contend for a lock, and
/// each is woken once, when its commit is durable.
pub(super) async fn executor(
    inner: std::sync::Weak<Inner>,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    while let Some(request) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let rt = Runtime { inner };
        let mut exec = rt.inner.lock_exec();
        match request {
            Request::Call(call) => rt.execute(&mut exec, call),
            Request::Install {
                schema,
                schema_bytes,
                module,
                wasm,
                reply,
            } => rt.install(&mut exec, schema, schema_bytes, &module, &wasm, reply),
        }
    }
}
