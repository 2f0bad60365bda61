//! Unpublishing: refused while another module depends on the module or
//! subscribes to its tables; otherwise the module and its tables leave
//! the state in one commit, calls to it fail, a restart agrees, the log
//! keeps the history, and the name may be published again from scratch.

use std::sync::Arc;

use interstice_abi::Value;
use interstice_core::{CallErrorKind, PublishError, ReplayEngine, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::bank::args;
use interstice_testkit::built::wasm;
use interstice_testkit::schemas::dump;

async fn open(store: &MemoryLogStore) -> Runtime {
    Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn a_module_nobody_uses_is_unpublished_and_its_history_stays() {
    let store = MemoryLogStore::new();
    let rt = open(&store).await;
    rt.publish(&wasm("hello")).await.unwrap();
    rt.publish(&wasm("caller")).await.unwrap();
    rt.call("hello", "hello", &args(vec![Value::String("ada".into())]))
        .await
        .unwrap();
    rt.settle().await;

    let err = rt.unpublish("hello").await.unwrap_err();
    assert!(matches!(err, PublishError::InUse { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        "`hello` cannot be unpublished while other modules use it: `caller` depends on it"
    );
    let err = rt.unpublish("nobody").await.unwrap_err();
    assert!(matches!(err, PublishError::NoSuchModule(_)), "{err}");

    let removed = rt.unpublish("caller").await.unwrap();
    assert_eq!(removed.module_id, 2);
    let removed = rt.unpublish("hello").await.unwrap();
    assert_eq!(removed.tables, [("greetings".to_owned(), 1)]);
    let commit = store.commits().last().unwrap().clone();
    assert_eq!(
        (commit.offset, commit.invocation.reducer.as_str()),
        (removed.offset, interstice_core::UNPUBLISH_INVOCATION)
    );
    assert!(rt.read(dump).await.unwrap().is_empty());
    let call = rt
        .call("hello", "hello", &args(vec![Value::String("bob".into())]))
        .await
        .unwrap_err();
    assert!(matches!(call.kind, CallErrorKind::NoSuchModule), "{call}");
    rt.shutdown().await;

    // A restart agrees; the greeting stays in the log's history.
    let replayed = ReplayEngine::replay(&store, 0, None).await.unwrap();
    assert!(dump(&replayed.db).is_empty());
    let greeted = store
        .commits()
        .iter()
        .any(|c| c.invocation.reducer == "hello" && !c.mutations.is_empty());
    assert!(greeted);

    // Published again, the module starts from nothing.
    let rt = open(&store).await;
    let again = rt.publish(&wasm("hello")).await.unwrap();
    assert!(again.first_version);
    let greetings = rt.read(dump).await.unwrap();
    assert_eq!(greetings, [("hello.greetings".to_owned(), vec![])]);
    rt.shutdown().await;
    let replayed = ReplayEngine::replay(&store, 0, None).await.unwrap();
    assert_eq!(dump(&replayed.db), greetings);
}

#[tokio::test]
async fn a_module_whose_table_another_subscribes_to_stays() {
    use interstice_abi::{ParamSchema, ReducerSchema, SubscriptionSchema, TableEvent, Visibility};
    use interstice_testkit::evolving::v1;
    use interstice_testkit::wasm_modules::{COUNTER_FUNCS, module};

    let store = MemoryLogStore::new();
    let rt = open(&store).await;
    let counter = v1();
    rt.publish(&module(&counter, COUNTER_FUNCS)).await.unwrap();
    let mut watcher = counter.clone();
    watcher.name = "watcher".into();
    watcher.tables.clear();
    watcher.reducers = vec![ReducerSchema {
        name: "on_counter".into(),
        params: vec![ParamSchema {
            name: "row".into(),
            ty: counter.tables[0].row_type(),
        }],
        visibility: Visibility::Private,
        read_only: false,
    }];
    watcher.subscriptions = vec![SubscriptionSchema {
        reducer: "on_counter".into(),
        module: "counter".into(),
        table: "counters".into(),
        event: TableEvent::Insert,
    }];
    let funcs = r#"
  (func (export "__interstice_reducer__on_counter") (param $p i32) (param $l i32) (result i64)
    (i64.const 0))"#;
    rt.publish(&module(&watcher, funcs)).await.unwrap();

    let err = rt.unpublish("counter").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "`counter` cannot be unpublished while other modules use it: `watcher.on_counter` subscribes to `counter.counters.insert`"
    );
    rt.unpublish("watcher").await.unwrap();
    rt.unpublish("counter").await.unwrap();
    assert!(rt.read(dump).await.unwrap().is_empty());
    rt.shutdown().await;
}
