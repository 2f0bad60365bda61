//! What callers and readers may observe when things go wrong: a panic in
//! the runtime, a commit too large for the log, reads racing a sync, and a
//! clock that goes back across a restart (issue 13, items 5–8). Each test
//! is named after the hole it closes.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{
    CallErrorKind, LimitKind, Limits, PublishError, Runtime, RuntimeConfig, Stopped,
};
use interstice_log::LogOptions;
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::built::wasm;
use interstice_testkit::calls::arg;
use interstice_testkit::wasm_modules::{counter_alone, other};

fn name(s: &str) -> Vec<u8> {
    encode_value(&Value::Struct(vec![Value::String(s.into())])).unwrap()
}

async fn counter_on(store: &MemoryLogStore) -> Runtime {
    let (rt, _) = Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap();
    rt
}

async fn counters(rt: &Runtime) -> Result<Vec<Vec<Value>>, Stopped> {
    rt.read(|db| {
        let m = db.module_by_name("counter").unwrap();
        let (_, t) = m.table_by_name("counters").unwrap();
        t.iter().map(|r| r.values().to_vec()).collect()
    })
    .await
}

#[tokio::test]
async fn a_panic_during_a_call_stops_the_runtime_instead_of_serving_an_empty_database() {
    let store = MemoryLogStore::new();
    let rt = counter_on(&store).await;
    rt.publish(&counter_alone()).await.unwrap();
    rt.call("counter", "add", &arg(1)).await.unwrap();

    rt.panic_in_next_call();
    let err = rt.call("counter", "add", &arg(2)).await.unwrap_err();
    assert!(
        matches!(&err.kind, CallErrorKind::Stopped { reason } if reason.contains("injected panic")),
        "{err}"
    );
    // Nothing serves the lost state: reads, calls and publishes refuse.
    assert!(matches!(counters(&rt).await, Err(Stopped { .. })));
    assert!(rt.call("counter", "add", &arg(3)).await.is_err());
    assert!(rt.publish(&other("other", false)).await.is_err());
    assert!(rt.stopped().unwrap().contains("internal error"));
    // The log is intact: a restart has the state before the panic.
    drop(rt);
    let rt = counter_on(&store).await;
    assert_eq!(counters(&rt).await.unwrap().len(), 1);
    let id = rt
        .read(|db| db.module_by_name("counter").unwrap().id)
        .await
        .unwrap();
    let published = rt.publish(&other("other", false)).await.unwrap();
    assert_ne!(published.module_id, id);
}

#[tokio::test]
async fn a_commit_too_large_for_the_log_fails_alone() {
    let tmp = tempfile::tempdir().unwrap();
    // The log takes frames of up to 1 MiB, and the runtime knows it.
    let store = FsLogStore::open(
        tmp.path().join("log"),
        LogOptions::default().create(true).max_frame_size(1 << 20),
    )
    .unwrap();
    let config = RuntimeConfig {
        limits: Limits {
            max_row_size: 4 << 20,
            max_commit_size: 1 << 20,
            ..Limits::default()
        },
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store), config).await.unwrap();
    rt.publish(&wasm("hello")).await.unwrap();
    // 600 KB in the arguments and again in the row: 1.2 MB.
    let err = rt
        .call("hello", "hello", &name(&"x".repeat(600_000)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err.kind,
            CallErrorKind::Limit {
                limit: LimitKind::CommitSize,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("maximum 1048576"), "{err}");
    // The runtime goes on: the next call commits, and nothing of the
    // refused one is in the state.
    assert!(rt.stopped().is_none());
    rt.call("hello", "hello", &name("ada")).await.unwrap();
    let greetings = rt
        .read(|db| {
            let (_, t) = db
                .module_by_name("hello")
                .unwrap()
                .table_by_name("greetings")
                .unwrap();
            t.len()
        })
        .await
        .unwrap();
    assert_eq!(greetings, 1);
}

#[tokio::test]
async fn a_module_too_large_for_the_log_is_refused_alone() {
    let store = MemoryLogStore::new();
    let config = RuntimeConfig {
        limits: Limits {
            max_commit_size: 16 << 10,
            ..Limits::default()
        },
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap();
    let err = rt.publish(&wasm("hello")).await.unwrap_err();
    assert!(
        matches!(err, PublishError::TooLarge { max: 16384, .. }),
        "{err}"
    );
    assert!(store.commits().is_empty());
    rt.publish(&counter_alone()).await.unwrap();
    rt.call("counter", "add", &arg(1)).await.unwrap();
}

#[tokio::test]
async fn reads_never_show_a_commit_that_is_not_durable() {
    let store = MemoryLogStore::new();
    let rt = counter_on(&store).await;
    rt.publish(&counter_alone()).await.unwrap();
    store.set_delay(Duration::from_millis(300));
    let caller = {
        let rt = rt.clone();
        tokio::spawn(async move { rt.call("counter", "add", &arg(7)).await })
    };
    // The call has run and waits for its sync; a read now must not show
    // its row before the log holds it.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let rows = counters(&rt).await.unwrap();
    let logged = store.commits().len();
    assert!(
        rows.is_empty() || logged == 2,
        "a read showed {rows:?} while the log held {logged} commits"
    );
    caller.await.unwrap().unwrap();
    assert_eq!(counters(&rt).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_clock_never_goes_back_across_a_restart() {
    let store = MemoryLogStore::new();
    let rt = counter_on(&store).await;
    rt.publish(&counter_alone()).await.unwrap();
    rt.call("counter", "add", &arg(1)).await.unwrap();
    rt.shutdown().await;
    drop(rt);
    // The last commit was stamped an hour ahead of this machine's clock
    // (a clock that has since stepped back).
    let ahead = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
        + 3_600_000_000;
    let mut commits = store.commits();
    commits.last_mut().unwrap().timestamp = ahead;
    store.set_commits(commits);

    let rt = counter_on(&store).await;
    rt.call("counter", "add", &arg(2)).await.unwrap();
    let last = store.commits().last().unwrap().timestamp;
    assert!(
        last > ahead,
        "timestamp {last} is before the logged {ahead}"
    );
}

#[tokio::test]
async fn pending_bytes_bound_the_calls_waiting_to_be_durable() {
    let store = MemoryLogStore::new();
    let config = RuntimeConfig {
        max_pending_bytes: 1000,
        ..RuntimeConfig::default()
    };
    let (rt, _) = Runtime::open(Arc::new(store.clone()), config)
        .await
        .unwrap();
    rt.publish(&wasm("hello")).await.unwrap();
    // Larger than the whole budget: it can never fit, so it fails at once.
    let err = rt
        .call("hello", "hello", &name(&"x".repeat(2000)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err.kind,
            CallErrorKind::Limit {
                limit: LimitKind::PendingBytes,
                ..
            }
        ),
        "{err}"
    );
    // Four calls of 400 bytes with a slow store: at most two wait at once,
    // the others queue behind them, and all commit.
    store.set_delay(Duration::from_millis(20));
    let calls: Vec<_> = (0..4)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move {
                rt.call("hello", "hello", &name(&format!("{i:0>390}")))
                    .await
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    assert!(rt.stopped().is_none());
    assert_eq!(store.commits().len(), 5);
}

/// Only the calls of the batch whose write had no answer hear that their
/// outcome is unknown; the calls queued behind it were never written and
/// hear the runtime stopped. Every failed call that is not "unknown"
/// committed nothing; the "unknown" ones here were kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_batch_whose_write_was_lost_is_an_unknown_outcome() {
    let store = MemoryLogStore::new();
    let rt = counter_on(&store).await;
    rt.publish(&counter_alone()).await.unwrap();
    store.set_delay(Duration::from_millis(50));
    store.unknown_after(0);
    let calls: Vec<_> = (0..16u64)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move { (i, rt.call("counter", "add", &arg(100 + i)).await) })
        })
        .collect();
    let (mut unknown, mut refused) = (Vec::new(), Vec::new());
    for c in calls {
        let (i, result) = c.await.unwrap();
        let err = result.expect_err("the runtime stops at the first append");
        if err.outcome_unknown() {
            unknown.push(100 + i);
        } else {
            refused.push(100 + i);
        }
    }
    assert!(!unknown.is_empty());
    let mut kept: Vec<Vec<u8>> = store
        .commits()
        .iter()
        .filter(|c| c.invocation.reducer == "add")
        .map(|c| c.invocation.args.to_vec())
        .collect();
    kept.sort();
    let mut expected: Vec<Vec<u8>> = unknown.iter().map(|&n| arg(n)).collect();
    expected.sort();
    assert_eq!(kept, expected, "exactly the unknown ones are in the log");
    assert!(refused.iter().all(|&n| !kept.contains(&arg(n))));
}
