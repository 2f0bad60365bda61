//! End to end on real modules: the crates under `modules/`, written with
//! `interstice-sdk` and built to wasm32 by `scripts/build-modules.sh`
//! (which `scripts/test.sh` runs first), on the disk log.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::db::Database;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{LogOptions, LogStoreExt};

/// The built `modules/<name>` crate.
fn wasm(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../modules/target/wasm32-unknown-unknown/release")
        .join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build the modules with scripts/build-modules.sh (scripts/test.sh does it first)",
            path.display()
        )
    })
}

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
    assert_eq!(receipt.logs, [(2, "greeting 1 stored".to_owned())]);
    rt.settle().await;
    let before = rt.read(dump).await;
    assert_eq!(
        before,
        [(
            "hello.greetings".to_owned(),
            vec![vec![Value::U64(1), s("Hello, world!")]]
        )]
    );
    drop(rt);
    // The publish, the call, and the subscription's own (empty) commit.
    assert_eq!(commits(&dir).await, 3);

    let rt = open(&dir).await;
    rt.settle().await;
    assert_eq!(rt.read(dump).await, before);
    assert_eq!(rt.instantiations(), 0, "nothing ran again on restart");
    drop(rt);
    assert_eq!(
        commits(&dir).await,
        3,
        "the subscription did not fire again"
    );
}
