//! Two of the runtime's tasks: the executor, which runs queued calls one
//! after another, and the subscription worker, which runs scheduled
//! subscriptions once their cause is durable. (The timer, which asks the
//! executor to run schedule rows as they come due, is in `schedules`.)

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
            .dispatch(&s.module, &s.reducer, &s.args, None, Some(&s), true)
            .await
        {
            tracing::error!(module = %s.module, reducer = %s.reducer, cause = s.cause, "subscription could not run: {e}");
        }
    }
}

/// Runs requests one after another: callers never contend for a lock, and
/// each is woken once, when its commit is durable. A call made with
/// [`Runtime::call_queued`] (a server's) runs in `block_in_place` on a
/// multi-threaded runtime: a long reducer (up to its fuel) then moves the
/// worker's other tasks to another thread instead of holding them up.
/// Other calls run as they are: that hand-off would cost the in-process
/// callers' group commit its batches.
pub(super) async fn executor(
    inner: std::sync::Weak<Inner>,
    mut rx: mpsc::UnboundedReceiver<Request>,
) {
    let multi_thread = matches!(
        tokio::runtime::Handle::current().runtime_flavor(),
        tokio::runtime::RuntimeFlavor::MultiThread
    );
    while let Some(request) = rx.recv().await {
        let Some(inner) = inner.upgrade() else { return };
        let rt = Runtime { inner };
        // A scheduled call is as long as its reducer makes it: handed off
        // like a server's call.
        let offload = multi_thread
            && match &request {
                Request::Call(c) => c.offload,
                Request::Due { .. } => true,
                Request::Install { .. } | Request::Uninstall { .. } => false,
            };
        let run = || match request {
            Request::Call(call) => rt.execute(&mut rt.inner.lock_exec(), call),
            Request::Install {
                module,
                wasm,
                reply,
            } => rt.install(&mut rt.inner.lock_exec(), module, &wasm, reply),
            Request::Uninstall { module, reply } => {
                rt.uninstall(&mut rt.inner.lock_exec(), &module, reply)
            }
            Request::Due { reply, slot } => {
                let ran = rt.run_due(&mut rt.inner.lock_exec(), slot);
                let _ = reply.send(ran);
            }
        };
        if offload {
            tokio::task::block_in_place(run);
        } else {
            run();
        }
    }
}
