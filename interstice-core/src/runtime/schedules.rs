//! Running scheduled reducers: the timer task, which wakes when the first
//! schedule row comes due and asks the executor to run it, and the
//! executor's side, which runs the row's call as a transaction of its own.
//!
//! Exactly once: a call's run is in its commit (the schedule section of
//! its frame), and the timers follow the commits ([`crate::timers`]). A
//! one-shot row is deleted in the commit that runs it; an interval row's
//! next tick comes from its last logged run. A call whose commit never
//! became durable never happened: a restart finds its row due again and
//! runs it then. Calls missed while nothing ran (the node was down) run
//! once each after opening, in time order.

use std::sync::Weak;
use std::time::Duration;

use bytes::Bytes;
use interstice_abi::{ModuleSchema, Value};
use interstice_log::Mutation;
use tokio::sync::{oneshot, watch};

use super::{Call, CallError, Exec, Inner, Receipt, Request, Runtime, Slot, acquire, now_micros};
use crate::db::{Database, WriteSet};
use crate::observe::ScheduleSample;
use crate::timers::{RowId, ScheduledRow, Timer};

/// Longest the timer sleeps before it looks at the wall clock again (a
/// due time is wall-clock time, which may jump).
const MAX_SLEEP: Duration = Duration::from_secs(1);

/// A schedule row's call, as the executor runs it.
#[derive(Clone, Debug)]
pub(super) struct DueCall {
    /// The schedule table's id in its module.
    pub table_id: u32,
    /// Its name.
    pub table: String,
    /// When the row was due.
    pub due: u64,
    /// The row's primary key.
    pub key: Value,
    /// Whether the row runs once (and is deleted by its run).
    pub one_shot: bool,
}

impl DueCall {
    /// The write set the call starts with: a one-shot row's deletion.
    pub fn start(&self, db: &mut Database, module_id: u32) -> WriteSet {
        let mut ws = WriteSet::default();
        if self.one_shot
            && let Err(e) = ws.delete(db, module_id, self.table_id, &self.key)
        {
            // The row was read from the table under the same lock.
            tracing::error!(table = %self.table, "a due row could not be deleted: {e}");
        }
        ws
    }

    /// What the commit of a failed call holds: a one-shot row's deletion
    /// (its run is spent; it is not retried), nothing for an interval row
    /// (which runs again at its next tick).
    pub fn failed(&self, db: &mut Database, module_id: u32) -> Vec<Mutation> {
        self.start(db, module_id).commit()
    }
}

/// Why a client may not call `reducer` of `schema` directly: it is
/// private and a schedule calls it (`None` when it may).
pub(super) fn private_schedule(schema: &ModuleSchema, reducer: &str) -> Option<String> {
    let table = schema
        .tables
        .iter()
        .find(|t| t.schedule.as_ref().is_some_and(|s| s.reducer == reducer))?;
    let r = schema.reducer(reducer)?;
    (r.visibility != interstice_abi::Visibility::Public).then(|| {
        format!(
            "`{}.{reducer}` runs when a row of its schedule table `{}` comes due; it is private, so nothing else calls it (make it public to call it directly too)",
            schema.name, table.name
        )
    })
}

/// The call `row` makes (`timer` its timer): its module, reducer and
/// arguments (the row), when the module, table and row are there.
fn due_call(db: &Database, row: &RowId, timer: Timer) -> Option<(String, String, Bytes, DueCall)> {
    let m = db.module(row.module_id)?;
    let table = m.table(row.table_id)?;
    let schedule = table.schema().schedule.as_ref()?;
    let args = table.get(&row.key)?.bytes().to_vec();
    let call = DueCall {
        table_id: row.table_id,
        table: table.schema().name.clone(),
        due: timer.due,
        key: row.key.clone(),
        one_shot: timer.every.is_none(),
    };
    Some((
        m.schema.name.clone(),
        schedule.reducer.clone(),
        Bytes::from(args),
        call,
    ))
}

impl Runtime {
    /// Runs the schedule row due first, if it is due now, as a
    /// transaction of its own, and hands its commit to the pipeline (which
    /// frees `slot` once it is durable). Whether a row ran (or had to be
    /// dropped).
    pub(super) fn run_due(&self, exec: &mut Exec, slot: Slot) -> bool {
        let Some((row, timer)) = exec.timers.first() else {
            return false;
        };
        if timer.due > now_micros() {
            return false;
        }
        let row = row.clone();
        let Some((module, reducer, args, due)) = due_call(&exec.db, &row, timer) else {
            // The timers follow every commit, so this is a bug: drop the
            // timer rather than look at it forever.
            tracing::error!(?row, "a schedule timer without its row; dropped");
            exec.timers.cancel(&row);
            return true;
        };
        let call = Call {
            module: &module,
            reducer: &reducer,
            args: &args,
            request_id: None,
            cause: None,
            scheduled: Some(&due),
        };
        match self.execute_guarded(exec, call) {
            Ok((receipt, Some(commit))) => {
                let (reply, _) = oneshot::channel::<Result<Receipt, CallError>>();
                self.submit(commit, receipt, reply, slot);
            }
            Ok((_, None)) => {}
            Err(e) => {
                // Not the reducer failing (that commits): the runtime
                // stopped, or the call could not start. Not run again
                // until the next open, which finds the row due still.
                if self.stopped().is_none() {
                    tracing::error!(module, reducer, table = %due.table, "scheduled call could not run: {e}");
                    exec.timers.cancel(&row);
                }
            }
        }
        true
    }

    /// Every schedule row waiting for its call, due first first, as
    /// executed so far; empty once the runtime has stopped.
    pub fn scheduled_rows(&self) -> Vec<ScheduledRow> {
        let exec = self.inner.lock_exec();
        if self.check_running().is_err() {
            return Vec::new();
        }
        exec.timers.rows(&exec.db)
    }

    /// Every schedule table's counters since the runtime started (calls
    /// run, failures, lateness) and the rows waiting in it now: the tables
    /// that ran a call or have rows waiting, in module and table order.
    pub fn schedule_metrics(&self) -> Vec<ScheduleSample> {
        let mut samples = self.inner.schedule_metrics.samples();
        let waiting: Vec<((String, String), u64)> = {
            let exec = self.inner.lock_exec();
            let name = |(m, t): (u32, u32)| {
                let module = exec.db.module(m)?;
                let table = module.table(t)?;
                Some((module.schema.name.clone(), table.schema().name.clone()))
            };
            let counts = exec.timers.counts().into_iter();
            counts.filter_map(|(id, n)| Some((name(id)?, n))).collect()
        };
        for ((module, table), n) in waiting {
            match samples
                .iter_mut()
                .find(|s| s.module == module && s.table == table)
            {
                Some(s) => s.waiting = n,
                None => samples.push(ScheduleSample {
                    module,
                    table,
                    runs: 0,
                    failures: 0,
                    lateness: Default::default(),
                    waiting: n,
                }),
            }
        }
        samples.sort_by(|a, b| (&a.module, &a.table).cmp(&(&b.module, &b.table)));
        samples
    }
}

/// The timer: sleeps until the first schedule row is due (or the timers
/// change), then asks the executor to run due rows one at a time, so
/// that calls queued meanwhile take their turns between them. Ends when
/// the runtime is gone or stopped.
pub(super) async fn timer(inner: Weak<Inner>, mut changed: watch::Receiver<()>) {
    loop {
        let wait = {
            let Some(inner) = inner.upgrade() else { return };
            if inner.stopped.is_set() {
                return;
            }
            let first = inner.lock_exec().timers.first().map(|(_, t)| t.due);
            let now = now_micros();
            match first {
                Some(due) if due <= now => {
                    let Ok(slot) = acquire(&inner.slots, 1).await else {
                        return;
                    };
                    let Ok(bytes) = acquire(&inner.pending_bytes, 1).await else {
                        return;
                    };
                    let (reply, ran) = oneshot::channel();
                    let slot = Some((slot, bytes));
                    if inner.requests.send(Request::Due { reply, slot }).is_err() {
                        return;
                    }
                    drop(inner);
                    if ran.await.is_err() {
                        return;
                    }
                    continue;
                }
                Some(due) => Duration::from_micros(due - now).min(MAX_SLEEP),
                None => MAX_SLEEP,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            seen = changed.changed() => if seen.is_err() {
                return;
            },
        }
    }
}
