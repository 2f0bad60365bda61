//! Scheduled reducers, with `modules/reminders`: a one-shot row runs once
//! at its time and is deleted by the commit that runs it; an interval row
//! runs until it is deleted; a deleted row never runs; rows missed while
//! the runtime was down run once each after it opens, in time order, an
//! interval once for all the ticks it missed; a failing reducer spends
//! its run; the commits say which row ran, when it was due and when it
//! ran; a restart, a snapshot and `replay_check` agree with all of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use interstice_abi::Value;
use interstice_core::replay_check::replay_check;
use interstice_core::{CallErrorKind, Limits, ReplayEngine, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_log::{Commit, MutationKind};
use interstice_testkit::bank::args;
use interstice_testkit::built::wasm;

const MS: u64 = 1_000;

async fn open_with(store: &MemoryLogStore, run_schedules: bool) -> Runtime {
    let config = RuntimeConfig {
        run_schedules,
        ..RuntimeConfig::default()
    };
    Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap()
        .0
}

/// A runtime with `modules/reminders` published.
async fn reminders(store: &MemoryLogStore) -> Runtime {
    let rt = open_with(store, true).await;
    rt.publish(&wasm("reminders")).await.unwrap();
    rt
}

fn s(text: &str) -> Value {
    Value::String(text.into())
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

async fn call(rt: &Runtime, reducer: &str, values: Vec<Value>) {
    rt.call("reminders", reducer, &args(values)).await.unwrap();
}

/// A row of `fired`: (reminder, text, due, ran).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Fired {
    reminder: u64,
    text: String,
    due: u64,
    ran: u64,
}

fn fired_in(db: &interstice_core::db::Database) -> Vec<Fired> {
    let (_, t) = db
        .module_by_name("reminders")
        .unwrap()
        .table_by_name("fired")
        .unwrap();
    t.iter()
        .map(|r| match r.values().as_slice() {
            [
                _,
                Value::U64(reminder),
                Value::String(text),
                Value::U64(due),
                Value::U64(ran),
            ] => Fired {
                reminder: *reminder,
                text: text.clone(),
                due: *due,
                ran: *ran,
            },
            other => panic!("a fired row: {other:?}"),
        })
        .collect()
}

async fn fired(rt: &Runtime) -> Vec<Fired> {
    rt.read(fired_in).await.unwrap()
}

/// The ids of the rows of `reminders`.
async fn waiting(rt: &Runtime) -> Vec<u64> {
    rt.read(|db| {
        let (_, t) = db
            .module_by_name("reminders")
            .unwrap()
            .table_by_name("reminders")
            .unwrap();
        t.iter()
            .map(|r| match r.values()[0] {
                Value::U64(id) => id,
                ref v => panic!("an id: {v:?}"),
            })
            .collect()
    })
    .await
    .unwrap()
}

/// Waits (up to 20 s, for a loaded machine) until `done` holds of the
/// fired rows; returns them.
async fn until(rt: &Runtime, what: &str, done: impl Fn(&[Fired]) -> bool) -> Vec<Fired> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let f = fired(rt).await;
        if done(&f) {
            return f;
        }
        assert!(Instant::now() < deadline, "waited 20 s for {what}: {f:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The commits a schedule made.
fn scheduled_commits(store: &MemoryLogStore) -> Vec<Commit> {
    store
        .commits()
        .into_iter()
        .filter(|c| c.invocation.scheduled.is_some())
        .collect()
}

async fn check_replay(store: &MemoryLogStore) {
    let report = replay_check(store, None, Limits::default()).await.unwrap();
    assert!(report.divergence.is_none(), "{:?}", report.divergence);
    assert!(report.executed > 0);
}

#[tokio::test]
async fn a_one_shot_runs_once_at_its_time_and_its_commit_deletes_it() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    let at = now_micros() + 300 * MS;
    call(&rt, "remind_at", vec![s("tea"), Value::U64(at)]).await;
    assert_eq!(waiting(&rt).await, [1]);
    assert!(fired(&rt).await.is_empty(), "not before its time");
    let rows = rt.scheduled_rows();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].due, rows[0].every), (at, None));
    assert_eq!(rows[0].reducer, "remind");

    let f = until(&rt, "the reminder", |f| !f.is_empty()).await;
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].reminder, f[0].text.as_str(), f[0].due),
        (1, "tea", at)
    );
    assert!(f[0].ran >= at, "ran at {} before its time {at}", f[0].ran);
    assert!(waiting(&rt).await.is_empty(), "the run deleted its row");
    assert!(rt.scheduled_rows().is_empty());

    // One commit ran it: the row's deletion, then what the reducer wrote;
    // the schedule section names the table and the time it was due.
    let runs = scheduled_commits(&store);
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.invocation.reducer, "remind");
    assert_eq!(run.invocation.scheduled.unwrap().due, at);
    assert_eq!(run.timestamp, f[0].ran);
    assert_eq!(run.cause, None);
    let kinds: Vec<_> = run.mutations.iter().map(|m| m.kind).collect();
    assert_eq!(kinds, [MutationKind::Delete, MutationKind::Insert]);

    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fired(&rt).await.len(), 1, "once");
    // Traces name its caller.
    let filter = interstice_core::trace::TraceFilter::default();
    let chains = rt.trace(run.offset..run.offset + 1, &filter).await.unwrap();
    assert_eq!(chains.len(), 1);
    assert_eq!(
        (chains[0].caller, chains[0].reducer.as_str()),
        ("schedule", "remind")
    );
    let state = rt.read(interstice_testkit::schemas::dump).await.unwrap();
    rt.shutdown().await;

    // A restart knows it ran: nothing is scheduled, nothing runs again.
    let replayed = ReplayEngine::replay(&store, 0, None).await.unwrap();
    assert!(replayed.timers.is_empty());
    assert_eq!(interstice_testkit::schemas::dump(&replayed.db), state);
    let rt = open_with(&store, true).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fired(&rt).await.len(), 1);
    rt.shutdown().await;
    check_replay(&store).await;
}

#[tokio::test]
async fn an_interval_runs_on_its_ticks_until_its_row_is_deleted() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    call(&rt, "every", vec![s("tick"), Value::U64(40 * MS)]).await;
    let f = until(&rt, "three ticks", |f| f.len() >= 3).await;
    // Each run is due one interval (or, when it ran late, a whole number
    // of them) after the one before.
    for w in f.windows(2) {
        let gap = w[1].due - w[0].due;
        assert!(gap >= 40 * MS && gap % (40 * MS) == 0, "{w:?}");
        assert!(w[1].due > w[0].ran, "a tick after the last run: {w:?}");
    }
    assert_eq!(waiting(&rt).await, [1], "an interval row stays");

    call(&rt, "cancel", vec![Value::U64(1)]).await;
    let n = fired(&rt).await.len();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(fired(&rt).await.len(), n, "no run after the delete");
    assert!(rt.scheduled_rows().is_empty());
    let runs = scheduled_commits(&store);
    assert_eq!(runs.len(), n);
    assert!(
        runs.iter().all(|c| c.mutations.len() == 1),
        "only the fired row"
    );
    rt.shutdown().await;
    check_replay(&store).await;
}

#[tokio::test]
async fn a_row_deleted_before_its_time_never_runs() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    call(&rt, "remind_in", vec![s("never"), Value::U64(200 * MS)]).await;
    call(&rt, "remind_in", vec![s("kept"), Value::U64(250 * MS)]).await;
    call(&rt, "cancel", vec![Value::U64(1)]).await;
    let f = until(&rt, "the kept reminder", |f| !f.is_empty()).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let f2 = fired(&rt).await;
    assert_eq!(f2, f);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].text, "kept");
    rt.shutdown().await;
}

#[tokio::test]
async fn rows_missed_while_down_run_once_each_after_opening_in_time_order() {
    let store = MemoryLogStore::new();
    // Scheduled on a runtime that runs none (a CLI command), then down.
    let rt = open_with(&store, false).await;
    rt.publish(&wasm("reminders")).await.unwrap();
    let now = now_micros();
    call(
        &rt,
        "remind_at",
        vec![s("second"), Value::U64(now + 80 * MS)],
    )
    .await;
    call(
        &rt,
        "remind_at",
        vec![s("first"), Value::U64(now + 40 * MS)],
    )
    .await;
    call(&rt, "every", vec![s("tick"), Value::U64(200 * MS)]).await;
    let inserted = store.commits().last().unwrap().timestamp;
    rt.shutdown().await;
    // Five ticks of the interval pass, and both one-shots' times.
    tokio::time::sleep(Duration::from_millis(1_100)).await;

    let rt = open_with(&store, true).await;
    let f = until(&rt, "the missed calls and one tick more", |f| f.len() >= 4).await;
    // In time order: the one-shots by their times, then the interval's
    // first tick, once for every tick missed.
    let texts: Vec<_> = f.iter().map(|f| f.text.as_str()).collect();
    assert_eq!(texts[..3], ["first", "second", "tick"]);
    assert_eq!(f[2].due, inserted + 200 * MS, "the first tick");
    let next = &f[3];
    assert_eq!(next.text, "tick");
    assert!(next.due > f[2].ran, "no run for a tick missed: {f:?}");
    assert_eq!((next.due - f[2].due) % (200 * MS), 0, "on the grid: {f:?}");
    assert!(next.due - f[2].due > 200 * MS, "ticks were skipped: {f:?}");
    rt.shutdown().await;
    check_replay(&store).await;
}

#[tokio::test]
async fn a_failing_scheduled_reducer_spends_its_run() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    call(&rt, "remind_in", vec![s("fail once"), Value::U64(10 * MS)]).await;
    call(&rt, "every", vec![s("fail often"), Value::U64(30 * MS)]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let sample = loop {
        let m = rt.schedule_metrics();
        if let Some(s) = m.iter().find(|s| s.failures >= 3) {
            break s.clone();
        }
        assert!(Instant::now() < deadline, "no failures counted: {m:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(
        (sample.module.as_str(), sample.table.as_str()),
        ("reminders", "reminders")
    );
    assert_eq!(sample.runs, sample.failures, "every run failed");
    assert_eq!(sample.lateness.count(), sample.runs);
    assert!(
        fired(&rt).await.is_empty(),
        "the reducer's writes are undone"
    );
    // The one-shot row is gone (its run is spent, not retried); the
    // interval row stays and runs at its next tick.
    assert_eq!(waiting(&rt).await, [2]);
    let metrics = rt.call_metrics();
    let remind = metrics.iter().find(|r| r.reducer == "remind").unwrap();
    assert!(
        remind
            .errors
            .iter()
            .any(|(code, n)| *code == "reducer_failed" && *n >= 3)
    );

    call(&rt, "cancel", vec![Value::U64(2)]).await;
    rt.shutdown().await;
    let runs = scheduled_commits(&store);
    assert_eq!(runs[0].mutations.len(), 1, "the one-shot's deletion alone");
    assert_eq!(runs[0].mutations[0].kind, MutationKind::Delete);
    assert!(
        runs[1..].iter().all(|c| c.mutations.is_empty()),
        "interval runs hold nothing"
    );
    check_replay(&store).await;
}

#[tokio::test]
async fn a_private_scheduled_reducer_is_not_called_directly() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    let row = args(vec![
        Value::U64(1),
        s("x"),
        Value::Enum(0, Box::new(Value::U64(1))),
    ]);
    let err = rt.call("reminders", "remind", &row).await.unwrap_err();
    assert!(
        matches!(err.kind, CallErrorKind::Capability { .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("schedule table `reminders`"),
        "{err}"
    );
    rt.shutdown().await;
}

#[tokio::test]
async fn a_snapshot_keeps_when_each_interval_row_is_next_due() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    call(&rt, "every", vec![s("slow"), Value::U64(60_000 * MS)]).await;
    call(&rt, "every", vec![s("fast"), Value::U64(30 * MS)]).await;
    call(&rt, "remind_in", vec![s("later"), Value::U64(60_000 * MS)]).await;
    until(&rt, "two fast ticks", |f| f.len() >= 2).await;
    rt.shutdown().await;

    let replayed = ReplayEngine::replay(&store, 0, None).await.unwrap();
    let timers: Vec<_> = replayed
        .timers
        .iter()
        .map(|(r, t)| (r.clone(), t))
        .collect();
    assert_eq!(timers.len(), 3);
    let header = interstice_log::snapshot::SnapshotHeader {
        offset: replayed.report.last_offset.unwrap(),
        timestamp: replayed.last_timestamp,
        clock: replayed.clock,
    };
    let bytes = interstice_core::snapshot::encode(
        &replayed.db,
        header,
        &replayed.pending,
        &replayed.requests,
        &replayed.timers,
    );
    let loaded = interstice_core::snapshot::load(bytes).unwrap();
    let back: Vec<_> = loaded.timers.iter().map(|(r, t)| (r.clone(), t)).collect();
    assert_eq!(back, timers);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_rows_due_at_once_drain_while_client_calls_go_on() {
    let store = MemoryLogStore::new();
    let rt = reminders(&store).await;
    let at = now_micros() + 300 * MS;
    for _ in 0..10 {
        call(
            &rt,
            "remind_many",
            vec![s("burst"), Value::U32(1_000), Value::U64(at)],
        )
        .await;
    }
    assert_eq!(rt.scheduled_rows().len(), 10_000);
    // A client keeps calling while the burst drains.
    let client = {
        let rt = rt.clone();
        tokio::spawn(async move {
            let mut offsets = Vec::new();
            while rt.scheduled_rows().len() == 10_000 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            for i in 0..50u64 {
                let far = Value::U64(3_600_000 * MS);
                let args = args(vec![s(&format!("client {i}")), far]);
                let receipt = rt.call("reminders", "remind_in", &args).await.unwrap();
                offsets.push(receipt.offset.unwrap());
            }
            offsets
        })
    };
    let f = until(&rt, "the burst", |f| f.len() == 10_000).await;
    let offsets = client.await.unwrap();
    let mut ids: Vec<u64> = f.iter().map(|f| f.reminder).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 10_000, "each row ran once");
    assert!(f.iter().all(|f| f.due == at));
    // The client's calls were not held up behind the whole burst: they
    // committed among its runs.
    let last_run = scheduled_commits(&store).last().unwrap().offset;
    assert!(
        offsets.iter().any(|&o| o < last_run),
        "every client call waited for the whole burst: {offsets:?}, last run {last_run}"
    );
    rt.shutdown().await;
}
