//! The per-reducer and per-table figures the node's metrics export
//! (`Runtime::call_metrics`, `Runtime::table_sizes`), after known calls
//! on the real `hello` and `caller` modules: exact counts.

use std::sync::Arc;

use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::LogOptions;
use interstice_testkit::built::wasm;

fn name_arg(name: &str) -> Vec<u8> {
    encode_value(&Value::Struct(vec![Value::String(name.into())])).unwrap()
}

async fn runtime(dir: &std::path::Path, config: RuntimeConfig) -> Runtime {
    let store = FsLogStore::open(dir, LogOptions::default().create(true)).unwrap();
    let (rt, _) = Runtime::open(Arc::new(store), config).await.unwrap();
    rt.publish(&wasm("hello")).await.unwrap();
    rt.publish(&wasm("caller")).await.unwrap();
    rt
}

/// The counters behind the node's metrics, after known calls: exact.
#[tokio::test]
async fn the_reducer_counters_count_every_call_and_error() {
    let tmp = tempfile::tempdir().unwrap();
    let rt = runtime(&tmp.path().join("log"), RuntimeConfig::default()).await;
    for name in ["ada", "bob", "cy"] {
        rt.call("caller", "greet", &name_arg(name)).await.unwrap();
    }
    rt.call("caller", "greet_then_fail", &name_arg("dee"))
        .await
        .unwrap_err();
    rt.call("caller", "call_private", &[]).await.unwrap_err();
    rt.settle().await;
    let samples = rt.call_metrics();
    let get = |m: &str, r: &str| {
        samples
            .iter()
            .find(|s| s.module == m && s.reducer == r)
            .unwrap_or_else(|| panic!("no counters for {m}.{r}: {samples:#?}"))
    };
    let greet = get("caller", "greet");
    assert_eq!((greet.calls, greet.rows_written), (3, 6));
    assert!(greet.errors.is_empty());
    assert_eq!(greet.duration.count(), 3);
    assert!(greet.fuel > 0 && greet.commit_bytes > 0);
    let hello = get("hello", "hello");
    // The call inside greet_then_fail wrote its row before its caller failed.
    assert_eq!((hello.calls, hello.rows_written), (4, 4), "{hello:?}");
    let fail = get("caller", "greet_then_fail");
    assert_eq!(fail.errors, vec![("reducer_failed", 1)]);
    assert_eq!(fail.rows_written, 0);
    let private = get("caller", "call_private");
    assert_eq!(private.errors, vec![("capability_violation", 1)]);
    // Three greetings, each seen by the subscription.
    assert_eq!(get("hello", "on_greeting").calls, 3);
    let tables = rt.table_sizes();
    let greetings = tables
        .iter()
        .find(|t| t.module == "hello" && t.table == "greetings")
        .unwrap();
    assert_eq!(greetings.rows, 3);
    assert!(greetings.bytes > 3 * "ada".len() as u64);
    let calls = tables.iter().find(|t| t.table == "calls").unwrap();
    assert_eq!(calls.rows, 3);
    rt.shutdown().await;
}

/// With observation off (what the overhead bench compares against),
/// nothing is counted.
#[tokio::test]
async fn calls_are_not_counted_when_observation_is_off() {
    let tmp = tempfile::tempdir().unwrap();
    let config = RuntimeConfig {
        observe_calls: false,
        ..RuntimeConfig::default()
    };
    let rt = runtime(&tmp.path().join("log"), config).await;
    rt.call("caller", "greet", &name_arg("ada")).await.unwrap();
    rt.settle().await;
    assert!(rt.call_metrics().iter().all(|s| s.calls == 0));
    assert_eq!(rt.table_sizes().iter().map(|t| t.rows).sum::<u64>(), 2);
    rt.shutdown().await;
}
