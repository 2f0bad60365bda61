//! Schema evolution without migrations: a module's new version renames a
//! column and a table, adds a column with a default, drops a column at a
//! new table version and drops a table; the rows carry over at publish,
//! and a restart (replay of the log, no WebAssembly) gives the same state.
//! What the module did not say how to do is refused, and nothing changes.

use std::sync::Arc;

use interstice_abi::{ModuleSchema, Value};
use interstice_core::{PublishError, Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_testkit::calls::arg;
use interstice_testkit::evolving::{self, v1, v2, v3};
use interstice_testkit::schemas::dump;

async fn open(store: &MemoryLogStore) -> Runtime {
    Runtime::open(Arc::new(store.clone()), RuntimeConfig::default())
        .await
        .unwrap()
        .0
}

fn module(schema: &ModuleSchema) -> Vec<u8> {
    evolving::wasm(schema)
}

fn u(n: u64) -> Value {
    Value::U64(n)
}

async fn state(rt: &Runtime) -> Vec<(String, Vec<Vec<Value>>)> {
    rt.read(dump).await.unwrap()
}

#[tokio::test]
async fn rows_carry_over_renames_defaults_and_drops_and_replay_agrees() {
    let store = MemoryLogStore::new();
    let rt = open(&store).await;
    rt.publish(&module(&v1())).await.unwrap();
    for n in [3, 7] {
        rt.call("counter", "add", &arg(n)).await.unwrap();
    }
    rt.call("counter", "scan_stats", &[]).await.unwrap();
    rt.settle().await;
    let seen = state(&rt).await[1].1.clone();
    assert_eq!(seen.len(), 3, "scan_stats wrote three rows");

    let published = rt.publish(&module(&v2())).await.unwrap();
    let changes = published.diff.to_string();
    for expected in [
        "column `n` renamed to `count`",
        "column `label: String` added, existing rows take its default",
        "table `seen` renamed to `observed`",
    ] {
        assert!(changes.contains(expected), "{changes}");
    }
    let none = || Value::String("none".into());
    let v2_state = vec![
        (
            "counter.counters".to_owned(),
            vec![vec![u(1), u(3), none()], vec![u(2), u(7), none()]],
        ),
        ("counter.observed".to_owned(), seen.clone()),
    ];
    assert_eq!(state(&rt).await, v2_state);
    let names = rt
        .read(|db| {
            let m = db.module_by_name("counter").unwrap();
            m.schema.tables[0]
                .columns
                .iter()
                .map(|c| c.name.clone())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
    assert_eq!(names, ["id", "count", "label"]);
    // The index follows its column through the rename.
    let by_count = rt
        .read(|db| {
            let m = db.module_by_name("counter").unwrap();
            let (_, t) = m.table_by_name("counters").unwrap();
            t.schema().indexes[0].columns.clone()
        })
        .await
        .unwrap();
    assert_eq!(by_count, [1]);

    rt.publish(&module(&v3())).await.unwrap();
    let v3_state = vec![(
        "counter.counters".to_owned(),
        vec![vec![u(1), u(3)], vec![u(2), u(7)]],
    )];
    assert_eq!(state(&rt).await, v3_state);
    rt.shutdown().await;

    // Replay rebuilds the same state from the log alone.
    let rt = open(&store).await;
    assert_eq!(state(&rt).await, v3_state);
    let version = rt
        .read(|db| db.module_by_name("counter").unwrap().schema.tables[0].version)
        .await
        .unwrap();
    assert_eq!(version, 2);
    // The table takes new rows in its new shape.
    rt.call("counter", "add", &arg(9)).await.unwrap();
    rt.settle().await;
    assert_eq!(state(&rt).await[0].1.len(), 3);
}

#[tokio::test]
async fn what_the_module_does_not_say_how_to_do_is_refused() {
    let store = MemoryLogStore::new();
    let rt = open(&store).await;
    rt.publish(&module(&v1())).await.unwrap();
    rt.call("counter", "add", &arg(3)).await.unwrap();
    rt.settle().await;
    let before = state(&rt).await;
    let commits = store.commits().len();

    // A column dropped without raising the table's version.
    let mut dropped = v1();
    dropped.tables[1].columns.pop();
    // A column renamed without saying so, and a table gone undeclared.
    let mut renamed = v1();
    renamed.tables[0].columns[1].name = "count".into();
    let mut gone = v1();
    gone.tables.truncate(1);
    for (schema, expected) in [
        (
            dropped,
            "column `n` dropped (raise the table's version to drop it)",
        ),
        (renamed, "column `n` dropped"),
        (
            gone,
            "table `seen` removed (to drop it, declare it dropped)",
        ),
    ] {
        let err = rt.publish(&module(&schema)).await.unwrap_err();
        assert!(matches!(err, PublishError::Incompatible { .. }), "{err}");
        assert!(err.to_string().contains(expected), "{err}");
    }
    assert_eq!(state(&rt).await, before, "nothing changed");
    assert_eq!(store.commits().len(), commits, "nothing logged");
}
