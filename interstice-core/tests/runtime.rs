//! The runtime end to end on WAT modules and an in-memory log that can
//! fail on purpose: publish, call, limits, capabilities, durability,
//! restart, subscriptions.

use std::sync::Arc;
use std::time::Duration;

use interstice_abi::Value;
use interstice_core::{CallErrorKind, LimitKind, PublishError, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::calls::arg;
use interstice_testkit::wasm_modules::{self as wat_modules, counter, counter_schema, other};

async fn open(store: &MemoryLogStore) -> Runtime {
    Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap()
        .0
}

async fn rows(rt: &Runtime, table: &str) -> Vec<Vec<Value>> {
    rt.read(|db| {
        let m = db.module_by_name("counter").unwrap();
        m.table_by_name(table)
            .unwrap()
            .1
            .iter()
            .map(|r| r.values().to_vec())
            .collect()
    })
    .await
    .unwrap()
}

async fn published() -> (MemoryLogStore, Runtime) {
    let store = MemoryLogStore::new();
    let rt = open(&store).await;
    rt.publish(&counter()).await.unwrap();
    (store, rt)
}

#[tokio::test]
async fn a_committed_call_survives_restart_without_rerunning_anything() {
    let (store, rt) = published().await;
    let receipt = rt.call("counter", "add", &arg(7)).await.unwrap();
    assert_eq!(receipt.offset, Some(1));
    rt.settle().await;
    assert_eq!(
        rows(&rt, "counters").await,
        [vec![Value::U64(1), Value::U64(7)]]
    );
    // The subscription copied the row into `seen`, as its own commit.
    assert_eq!(
        rows(&rt, "seen").await,
        [vec![Value::U64(1), Value::U64(7)]]
    );
    let log = store.commits();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[2].cause, log[2].invocation.reducer.as_str()),
        (Some(1), "on_counter")
    );
    drop(rt);

    let rt = open(&store).await;
    rt.settle().await;
    assert_eq!(
        rt.instantiations(),
        0,
        "replay and start-up ran no WebAssembly"
    );
    assert_eq!(
        rows(&rt, "counters").await,
        [vec![Value::U64(1), Value::U64(7)]]
    );
    assert_eq!(
        rows(&rt, "seen").await,
        [vec![Value::U64(1), Value::U64(7)]]
    );
    assert_eq!(store.commits().len(), 3, "nothing re-ran after restart");
    // Auto-increment continues after the replayed keys.
    rt.call("counter", "add", &arg(8)).await.unwrap();
    assert_eq!(
        rows(&rt, "counters").await[1],
        vec![Value::U64(2), Value::U64(8)]
    );
}

#[tokio::test]
async fn failed_calls_leave_no_trace_in_tables_or_log() {
    let (store, rt) = published().await;
    rt.call("counter", "add", &arg(1)).await.unwrap();
    rt.settle().await;
    let (before, log_len) = (rows(&rt, "counters").await, store.commits().len());

    let err = rt
        .call("counter", "fail_after_insert", &arg(2))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, CallErrorKind::Failed { ref message } if message == "nope"),
        "{err}"
    );
    let err = rt
        .call("counter", "trap_after_insert", &arg(3))
        .await
        .unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Trap { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("counter.trap_after_insert trapped"),
        "{err}"
    );
    let err = rt.call("counter", "dup", &[]).await.unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Table(_)), "{err}");
    assert!(
        err.to_string()
            .contains("unique index `primary key` already has key (1)"),
        "{err}"
    );

    assert_eq!(rows(&rt, "counters").await, before);
    assert_eq!(store.commits().len(), log_len);
}

#[tokio::test]
async fn limits_abort_the_call_and_the_runtime_keeps_serving() {
    let (store, rt) = published().await;
    let err = rt.call("counter", "spin", &[]).await.unwrap_err();
    assert!(
        matches!(
            err.kind,
            CallErrorKind::Limit {
                limit: LimitKind::Fuel,
                ..
            }
        ),
        "{err}"
    );
    let err = rt.call("counter", "grow", &[]).await.unwrap_err();
    assert!(
        matches!(
            err.kind,
            CallErrorKind::Limit {
                limit: LimitKind::Memory,
                ..
            }
        ),
        "{err}"
    );
    assert!(
        rt.call("counter", "add", &arg(1))
            .await
            .unwrap()
            .offset
            .is_some()
    );
    rt.settle().await;
    assert_eq!(store.commits().len(), 3);
}

#[tokio::test]
async fn bad_calls_are_refused_with_the_reason() {
    let (_store, rt) = published().await;
    let err = rt.call("nobody", "add", &arg(1)).await.unwrap_err();
    assert_eq!(err.to_string(), "no module `nobody`");
    let err = rt.call("counter", "sub", &arg(1)).await.unwrap_err();
    assert_eq!(err.to_string(), "module `counter` has no reducer `sub`");
    let err = rt.call("counter", "add", b"\xff\xff").await.unwrap_err();
    assert!(
        matches!(err.kind, CallErrorKind::BadArguments { .. }),
        "{err}"
    );
    // A call that changes nothing commits nothing.
    assert_eq!(rt.call("counter", "noop", &[]).await.unwrap().offset, None);
}

#[tokio::test]
async fn cross_module_calls_commit_in_the_callers_transaction() {
    let (store, rt) = published().await;
    rt.publish(&other("other", true)).await.unwrap();
    let before = store.commits().len();
    rt.call("other", "call_add", &arg(5)).await.unwrap();
    rt.settle().await;
    let log = store.commits();
    let commit = &log[before];
    assert_eq!(commit.invocation.module, "other");
    assert_eq!(
        commit.mutations.len(),
        1,
        "counter's insert is in other's commit"
    );
    assert_eq!(
        rows(&rt, "counters").await,
        [vec![Value::U64(1), Value::U64(5)]]
    );
}

#[tokio::test]
async fn a_failed_append_is_never_acknowledged_and_stops_the_runtime() {
    let (store, rt) = published().await;
    rt.call("counter", "add", &arg(1)).await.unwrap();
    rt.settle().await;
    store.fail_after(0);
    let err = rt.call("counter", "add", &arg(2)).await.unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Log(_)), "{err}");
    let err = rt.call("counter", "add", &arg(3)).await.unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Stopped { .. }), "{err}");
    assert!(err.to_string().contains("restart"), "{err}");
    drop(rt);

    // The log holds exactly what was acknowledged.
    store.fail_after(u64::MAX);
    let rt = open(&store).await;
    rt.settle().await;
    assert_eq!(
        rows(&rt, "counters").await,
        [vec![Value::U64(1), Value::U64(1)]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_appends() {
    let (store, rt) = published().await;
    rt.settle().await;
    store.set_delay(Duration::from_millis(20));
    let before = store.appends();
    let calls: Vec<_> = (0..32)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move { rt.call("counter", "add", &arg(i)).await })
        })
        .collect();
    for c in calls {
        c.await.unwrap().unwrap();
    }
    let appends = store.appends() - before;
    assert!(
        appends < 16,
        "32 callers took {appends} appends: no group commit"
    );
}

#[tokio::test]
async fn a_subscription_whose_follow_up_was_lost_runs_once_after_restart() {
    let (store, rt) = published().await;
    rt.call("counter", "add", &arg(4)).await.unwrap();
    rt.settle().await;
    drop(rt);
    // A crash between the commit and its subscription's commit.
    let mut log = store.commits();
    assert_eq!(log.pop().unwrap().cause, Some(1));
    store.set_commits(log);

    let rt = open(&store).await;
    rt.settle().await;
    assert_eq!(
        rows(&rt, "seen").await,
        [vec![Value::U64(1), Value::U64(4)]]
    );
    assert_eq!(store.commits().len(), 3);
    drop(rt);
    let rt = open(&store).await;
    rt.settle().await;
    assert_eq!(store.commits().len(), 3, "it ran exactly once");
}

#[tokio::test]
async fn random_and_now_are_recorded_so_replay_agrees() {
    let (store, rt) = published().await;
    for _ in 0..5 {
        rt.call("counter", "add_random", &[]).await.unwrap();
    }
    rt.settle().await;
    let live = rows(&rt, "counters").await;
    let distinct: std::collections::BTreeSet<_> = live.iter().map(|r| r[1].clone()).collect();
    assert!(
        distinct.len() > 1,
        "random() varies between transactions: {live:?}"
    );
    drop(rt);
    let rt = open(&store).await;
    assert_eq!(rows(&rt, "counters").await, live);
    let stamps: Vec<u64> = store.commits().iter().map(|c| c.timestamp).collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "logical time increases: {stamps:?}"
    );
}

#[tokio::test]
async fn publishing_checks_the_module() {
    let (_store, rt) = published().await;
    // An incompatible new version is refused with the diff.
    let mut schema = counter_schema();
    schema.tables[0].columns[1].ty = interstice_abi::Type::String;
    let err = rt
        .publish(&wat_modules::module(&schema, wat_modules::COUNTER_FUNCS))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::Incompatible { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("column `n` type changed from u64 to String"),
        "{err}"
    );
    // WASI imports are refused.
    let wasi = wat::parse_str(r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32))))"#).unwrap();
    let err = rt.publish(&wasi).await.unwrap_err();
    assert!(
        matches!(err, PublishError::BadImport { .. }) && err.to_string().contains("no WASI"),
        "{err}"
    );
    // A reducer without its export.
    let mut schema = counter_schema();
    schema.name = "broken".into();
    schema.subscriptions.clear();
    let err = rt
        .publish(&wat_modules::module(&schema, ""))
        .await
        .unwrap_err();
    assert!(matches!(err, PublishError::MissingExport { .. }), "{err}");
    assert!(
        err.to_string().contains("__interstice_reducer__add"),
        "{err}"
    );
    // Not WebAssembly at all.
    let err = rt.publish(b"hello").await.unwrap_err();
    assert!(matches!(err, PublishError::InvalidWasm { .. }), "{err}");
}

#[tokio::test]
async fn a_compatible_new_version_migrates_rows_and_survives_restart() {
    let (store, rt) = published().await;
    rt.call("counter", "add", &arg(3)).await.unwrap();
    rt.settle().await;
    let mut schema = counter_schema();
    schema.version.minor = 1;
    schema.tables[0].columns.push(interstice_abi::ColumnSchema {
        name: "note".into(),
        ty: interstice_abi::Type::Option(Box::new(interstice_abi::Type::String)),
        default: None,
        renamed_from: None,
    });
    // Listed first (the SDK sorts tables by name): the runtime still keeps
    // the published tables' ids and appends the new one.
    let extra = interstice_abi::TableSchema {
        name: "extra".into(),
        ..schema.tables[1].clone()
    };
    schema.tables.insert(0, extra);
    let published = rt
        .publish(&wat_modules::module_declaring(
            &schema,
            wat_modules::COUNTER_WRITES,
            wat_modules::COUNTER_FUNCS,
        ))
        .await
        .unwrap();
    assert!(!published.diff.is_breaking());
    assert_eq!(published.diff.changes.len(), 3, "{}", published.diff);
    let expected = vec![vec![Value::U64(1), Value::U64(3), Value::Option(None)]];
    assert_eq!(rows(&rt, "counters").await, expected);
    let order = |db: &interstice_core::db::Database| -> Vec<String> {
        let m = db.module_by_name("counter").unwrap();
        m.schema.tables.iter().map(|t| t.name.clone()).collect()
    };
    assert_eq!(rt.read(order).await.unwrap(), ["counters", "seen", "extra"]);
    drop(rt);
    let rt = open(&store).await;
    assert_eq!(rows(&rt, "counters").await, expected);
    assert_eq!(rt.read(order).await.unwrap(), ["counters", "seen", "extra"]);
    assert_eq!(
        rt.read(|db| db.module_by_name("counter").unwrap().schema.version.minor)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn guests_scan_by_primary_key_and_index_and_get_by_key() {
    let (_store, rt) = published().await;
    for n in [3, 7, 9] {
        rt.call("counter", "add", &arg(n)).await.unwrap();
    }
    rt.settle().await;
    rt.call("counter", "scan_stats", &[]).await.unwrap();
    let seen = rows(&rt, "seen").await;
    let stats: Vec<(u64, u64)> = seen
        .iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (Value::U64(id), Value::U64(n)) if *id >= 200 => Some((*id, *n)),
            _ => None,
        })
        .collect();
    assert_eq!(stats, [(200, 3), (201, 2), (202, 1)], "{seen:?}");
}

#[tokio::test]
async fn updates_and_deletes_through_host_calls_replay_after_restart() {
    let (store, rt) = published().await;
    rt.call("counter", "add", &arg(3)).await.unwrap();
    rt.call("counter", "add", &arg(4)).await.unwrap();
    rt.call("counter", "set_first_to_42", &[]).await.unwrap();
    assert_eq!(
        rows(&rt, "counters").await[0],
        vec![Value::U64(1), Value::U64(42)]
    );
    rt.call("counter", "delete_first", &[]).await.unwrap();
    rt.settle().await;
    let live = rows(&rt, "counters").await;
    assert_eq!(live, [vec![Value::U64(2), Value::U64(4)]]);
    drop(rt);
    let rt = open(&store).await;
    assert_eq!(rows(&rt, "counters").await, live);
}

#[tokio::test]
async fn insert_returns_the_assigned_key() {
    let (_store, rt) = published().await;
    rt.call("counter", "add", &arg(5)).await.unwrap();
    // The next keys are 2 and 3; the reducer traps if the host says otherwise.
    rt.call("counter", "add_two_expecting_keys", &arg(2))
        .await
        .unwrap();
    let err = rt
        .call("counter", "add_two_expecting_keys", &arg(9))
        .await
        .unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Trap { .. }), "{err}");
    rt.settle().await;
    assert_eq!(rows(&rt, "counters").await.len(), 3);
}
