//! End to end on real modules: the crates under `modules/`, written with
//! `interstice-sdk` and built to wasm32 by `scripts/build-modules.sh`
//! (which `scripts/test.sh` runs first), on the disk log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use interstice_testkit::built::wasm;

use interstice_abi::wasm::LogLevel;
use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::db::Database;
use interstice_core::{CallErrorKind, PublishError, Runtime, RuntimeConfig};
use interstice_log::{LogOptions, LogStoreExt};

async fn open(dir: &Path) -> Runtime {
    let store = FsLogStore::open(dir, LogOptions::default().create(true)).unwrap();
    Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap()
        .0
}

fn args(values: Vec<Value>) -> Vec<u8> {
    encode_value(&Value::Struct(values)).unwrap()
}

fn s(v: &str) -> Value {
    Value::String(v.into())
}

/// Every table of every module, as `module.table` and its rows in key order.
fn dump(db: &Database) -> Vec<(String, Vec<Vec<Value>>)> {
    let mut out = Vec::new();
    for m in db.modules() {
        for t in &m.schema.tables {
            let (_, table) = m.table_by_name(&t.name).unwrap();
            let rows = table.iter().map(|r| r.values().to_vec()).collect();
            out.push((format!("{}.{}", m.schema.name, t.name), rows));
        }
    }
    out
}

async fn commits(dir: &Path) -> usize {
    let store = FsLogStore::open(dir, LogOptions::default().read_only(true)).unwrap();
    store.read_all(0).await.unwrap().len()
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("log");
    (t, dir)
}

#[tokio::test]
async fn hello_survives_restart_without_rerunning_the_reducer_or_the_subscription() {
    let (_t, dir) = tmp();
    let rt = open(&dir).await;
    let published = rt.publish(&wasm("hello")).await.unwrap();
    assert_eq!(published.offset, 0);
    let receipt = rt
        .call("hello", "hello", &args(vec![s("world")]))
        .await
        .unwrap();
    assert_eq!(receipt.offset, Some(1));
    assert_eq!(
        receipt.logs,
        [(LogLevel::Info, "greeting 1 stored".to_owned())]
    );
    rt.settle().await;
    let before = rt.read(dump).await.unwrap();
    assert_eq!(
        before,
        [(
            "hello.greetings".to_owned(),
            vec![vec![Value::U64(1), s("Hello, world!")]]
        )]
    );
    rt.shutdown().await;
    let err = rt
        .call("hello", "hello", &args(vec![s("late")]))
        .await
        .unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Stopped { .. }), "{err}");
    // The publish, the call, and the subscription's own (empty) commit.
    assert_eq!(commits(&dir).await, 3);

    let rt = open(&dir).await;
    rt.settle().await;
    assert_eq!(rt.read(dump).await.unwrap(), before);
    assert_eq!(rt.instantiations(), 0, "nothing ran again on restart");
    rt.shutdown().await;
    assert_eq!(
        commits(&dir).await,
        3,
        "the subscription did not fire again"
    );
}

fn u(n: u64) -> Value {
    Value::U64(n)
}

fn i(n: i64) -> Value {
    Value::I64(n)
}

#[tokio::test]
async fn test_persistence_state_after_restart_equals_state_before() {
    let (_t, dir) = tmp();
    let rt = open(&dir).await;
    rt.publish(&wasm("test_persistence")).await.unwrap();
    let calls: Vec<(&str, Vec<Value>)> = vec![
        ("open", vec![u(1), s("ada"), i(100)]),
        ("open", vec![u(2), s("bob"), i(50)]),
        ("open", vec![u(3), s("ada"), i(0)]),
        ("transfer", vec![u(1), u(2), i(30)]),
        ("transfer", vec![u(2), u(3), i(10)]),
        ("churn", vec![u(10)]),
        ("transfer", vec![u(1), u(3), i(5)]),
        ("close", vec![u(2)]),
        ("churn", vec![u(11)]),
        ("transfer", vec![u(3), u(1), i(1)]),
    ];
    for (reducer, a) in calls {
        rt.call("test_persistence", reducer, &args(a))
            .await
            .unwrap_or_else(|e| panic!("{reducer}: {e}"));
    }
    let before = rt.read(dump).await.unwrap();
    let names: Vec<_> = before.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "test_persistence.accounts",
            "test_persistence.audit",
            "test_persistence.transfers"
        ]
    );
    // churn touched every table: 4 accounts left (1, 3, 10, 11), every
    // one tagged with 11; 10 audit rows; one transfer left (3 -> 1): the
    // churns deleted the oldest two, closing account 2 the one from it.
    assert_eq!(before[0].1.len(), 4);
    assert!(
        before[0]
            .1
            .iter()
            .all(|r| matches!(&r[3], Value::Vec(tags) if tags.contains(&s("11"))))
    );
    assert_eq!(before[1].1.len(), 10);
    assert_eq!(before[2].1.len(), 1);
    rt.shutdown().await;

    let rt = open(&dir).await;
    assert_eq!(rt.read(dump).await.unwrap(), before);
    assert_eq!(rt.instantiations(), 0);
}

#[tokio::test]
async fn a_reducer_that_fails_or_traps_halfway_leaves_no_trace() {
    let (_t, dir) = tmp();
    let rt = open(&dir).await;
    rt.publish(&wasm("test_persistence")).await.unwrap();
    rt.call(
        "test_persistence",
        "open",
        &args(vec![u(1), s("ada"), i(10)]),
    )
    .await
    .unwrap();
    let before = rt.read(dump).await.unwrap();
    rt.shutdown().await;
    let logged = commits(&dir).await;
    let rt = open(&dir).await;

    // Debits account 1, then finds the balance short: an `Err` after a write.
    let err = rt
        .call(
            "test_persistence",
            "transfer",
            &args(vec![u(1), u(2), i(50)]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err.kind, CallErrorKind::Failed { message } if message == "account 1 has less than 50"),
        "{err}"
    );
    // Debits account 1, then finds no account 2.
    let err = rt
        .call(
            "test_persistence",
            "transfer",
            &args(vec![u(1), u(2), i(5)]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err.kind, CallErrorKind::Failed { message } if message == "no account 2"),
        "{err}"
    );
    // Inserts, then panics: a trap.
    let err = rt
        .call("test_persistence", "panic_after_write", &args(vec![u(7)]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err.kind, CallErrorKind::Trap { message }
            if message.starts_with("panicked at test_persistence/src/lib.rs")
            && message.contains("trapping after a write, on purpose")),
        "{err}"
    );
    // Arguments of the wrong shape never reach the reducer.
    let err = rt
        .call("test_persistence", "open", &args(vec![s("not a u64")]))
        .await
        .unwrap_err();
    assert!(
        matches!(err.kind, CallErrorKind::BadArguments { .. }),
        "{err}"
    );

    assert_eq!(rt.read(dump).await.unwrap(), before);
    rt.shutdown().await;
    assert_eq!(commits(&dir).await, logged, "nothing was logged");
}

#[tokio::test]
async fn a_cross_module_call_commits_both_modules_in_one_transaction() {
    let (_t, dir) = tmp();
    let rt = open(&dir).await;
    // The dependency must be there first.
    let err = rt.publish(&wasm("caller")).await.unwrap_err();
    assert!(matches!(err, PublishError::Capability(_)), "{err}");
    rt.publish(&wasm("hello")).await.unwrap();
    rt.publish(&wasm("caller")).await.unwrap();
    // Published, but not a dependency of `caller`.
    rt.publish(&wasm("test_persistence")).await.unwrap();
    rt.call(
        "test_persistence",
        "open",
        &args(vec![u(1), s("ada"), i(1)]),
    )
    .await
    .unwrap();

    let receipt = rt
        .call("caller", "greet", &args(vec![s("ada")]))
        .await
        .unwrap();
    let offset = receipt.offset.unwrap();
    rt.settle().await;
    let state = rt.read(dump).await.unwrap();
    assert_eq!(
        state[..2],
        [
            (
                "hello.greetings".to_owned(),
                vec![vec![u(1), s("Hello, ada!")]]
            ),
            ("caller.calls".to_owned(), vec![vec![u(1), s("ada")]]),
        ]
    );

    // Failing after the nested call undoes both modules' writes.
    let err = rt
        .call("caller", "greet_then_fail", &args(vec![s("bob")]))
        .await
        .unwrap_err();
    assert!(matches!(err.kind, CallErrorKind::Failed { .. }), "{err}");
    // A private reducer, and a module never declared as a dependency.
    for reducer in ["call_private", "call_undeclared"] {
        let err = rt.call("caller", reducer, &args(vec![])).await.unwrap_err();
        assert!(
            matches!(err.kind, CallErrorKind::Capability { .. }),
            "{reducer}: {err}"
        );
    }
    assert_eq!(rt.read(dump).await.unwrap(), state);
    rt.shutdown().await;

    let store = FsLogStore::open(&dir, LogOptions::default().read_only(true)).unwrap();
    let all = store.read_all(0).await.unwrap();
    let commit = all.iter().find(|c| c.offset == offset).unwrap();
    let mut modules: Vec<u32> = commit.mutations.iter().map(|m| m.module_id).collect();
    modules.dedup();
    assert_eq!(modules.len(), 2, "one commit holds both modules' rows");
}

#[tokio::test]
async fn chat_uses_indexes_subscriptions_and_a_read_only_reducer() {
    let (_t, dir) = tmp();
    let rt = open(&dir).await;
    rt.publish(&wasm("chat")).await.unwrap();
    let call = |reducer: &'static str, a: Vec<Value>| {
        let rt = rt.clone();
        async move { rt.call("chat", reducer, &args(a)).await }
    };
    call("register", vec![s("ada")]).await.unwrap();
    call("register", vec![s("bob")]).await.unwrap();
    let err = call("register", vec![s("ada")]).await.unwrap_err();
    assert!(err.to_string().contains("`ada` is taken"), "{err}");
    call("create_channel", vec![s("general"), Value::Option(None)])
        .await
        .unwrap();
    call("send", vec![s("ada"), s("general"), s("hi @bob!")])
        .await
        .unwrap();
    call(
        "send",
        vec![s("bob"), s("general"), s("hello @ada and @nobody")],
    )
    .await
    .unwrap();
    // Presence::Away { since, note }: variant 1 with a struct payload.
    let away = Value::Enum(
        1,
        Box::new(Value::Struct(vec![
            u(5),
            Value::Option(Some(Box::new(s("lunch")))),
        ])),
    );
    call("set_presence", vec![s("bob"), away.clone()])
        .await
        .unwrap();
    rt.settle().await;

    let state = rt.read(dump).await.unwrap();
    let table = |name: &str| state.iter().find(|(t, _)| t == name).unwrap().1.clone();
    // The subscription found @bob in message 1 and @ada in message 2.
    assert_eq!(
        table("chat.mentions"),
        [vec![u(1), u(2), u(1)], vec![u(2), u(1), u(2)]]
    );
    assert_eq!(table("chat.users")[1][2], away);

    let receipt = call("channel_stats", vec![s("general")]).await.unwrap();
    assert_eq!(receipt.offset, None, "a read-only reducer commits nothing");
    assert_eq!(
        receipt.logs,
        [(
            LogLevel::Info,
            "#general: 2 messages, latest: hello @ada and @nobody".to_owned()
        )]
    );
    rt.shutdown().await;
    let rt = open(&dir).await;
    assert_eq!(rt.read(dump).await.unwrap(), state);
}
