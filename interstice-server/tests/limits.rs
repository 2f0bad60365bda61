//! The node's limits (issue 13, item 10): a client that goes past one gets
//! a clear error, and the node goes on serving the others. Real HTTP on
//! 127.0.0.1.

use interstice_testkit::built;

use std::sync::Arc;
use std::time::Duration;

use built::wasm;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_server::{Node, NodeConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn serve(config: NodeConfig) -> std::net::SocketAddr {
    let store = Arc::new(MemoryLogStore::new());
    let (runtime, _) = Runtime::open(store, RuntimeConfig::default())
        .await
        .unwrap();
    runtime.publish(&wasm("hello")).await.unwrap();
    runtime.publish(&wasm("test_persistence")).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Node::new(runtime, config).serve(listener, std::future::pending()));
    addr
}

/// Sends a GET on an open connection (kept alive) and reads the head of
/// the answer.
async fn get(conn: &mut TcpStream, addr: std::net::SocketAddr, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nhost: {addr}\r\n\r\n");
    conn.write_all(request.as_bytes()).await.unwrap();
    read_some(conn).await
}

async fn read_some(conn: &mut TcpStream) -> String {
    let mut buf = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_connection_over_the_limit_gets_503_and_the_others_go_on() {
    let addr = serve(NodeConfig {
        max_connections: 2,
        ..NodeConfig::default()
    })
    .await;
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut second = TcpStream::connect(addr).await.unwrap();
    assert!(
        get(&mut first, addr, "/v1/status")
            .await
            .starts_with("HTTP/1.1 200")
    );
    assert!(
        get(&mut second, addr, "/v1/status")
            .await
            .starts_with("HTTP/1.1 200")
    );
    let mut third = TcpStream::connect(addr).await.unwrap();
    let answer = read_some(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("too_many_connections"), "{answer}");
    assert!(answer.contains("at most 2 connections"), "{answer}");
    // The two admitted go on being served; a closed one frees its place.
    assert!(
        get(&mut first, addr, "/v1/modules")
            .await
            .starts_with("HTTP/1.1 200")
    );
    drop(second);
    let mut again = None;
    for _ in 0..50 {
        let mut conn = TcpStream::connect(addr).await.unwrap();
        let answer = get(&mut conn, addr, "/v1/status").await;
        if answer.starts_with("HTTP/1.1 200") {
            again = Some(conn);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        again.is_some(),
        "the closed connection's place was not freed"
    );
}

#[tokio::test]
async fn subscribers_over_the_limits_get_503_and_calls_go_on() {
    let addr = serve(NodeConfig {
        max_subscribers: 2,
        max_subscribers_per_table: 1,
        ..NodeConfig::default()
    })
    .await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");
    let greetings = url("/v1/modules/hello/tables/greetings/events");
    let first = client.get(&greetings).send().await.unwrap();
    assert_eq!(first.status(), 200);
    // Same table: over the per-table limit.
    let r = client.get(&greetings).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_subscribers");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("1 on this table")
    );
    // Another table: fine, and then the total is reached.
    let accounts = client
        .get(url("/v1/modules/test_persistence/tables/accounts/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(accounts.status(), 200);
    let r = client
        .get(url("/v1/modules/test_persistence/tables/transfers/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2 in all"),
        "{body}"
    );
    // Calls and reads go on.
    let r = client
        .post(url("/v1/modules/hello/reducers/hello"))
        .json(&serde_json::json!(["ada"]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop((first, accounts));
}

use interstice_testkit::wasm_modules;

/// A node serving the WAT `counter` module, whose `spin` loops until its
/// fuel (2e9, a second or more) runs out; the runtime, to watch it.
async fn spinning_node(config: NodeConfig) -> (Runtime, std::net::SocketAddr) {
    let store = Arc::new(MemoryLogStore::new());
    let runtime_config = RuntimeConfig {
        limits: interstice_core::Limits {
            fuel: 2_000_000_000,
            ..Default::default()
        },
        ..RuntimeConfig::default()
    };
    let (runtime, _) = Runtime::open(store, runtime_config).await.unwrap();
    runtime.publish(&wasm_modules::counter()).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let node = Node::new(runtime.clone(), config);
    tokio::spawn(node.serve(listener, std::future::pending()));
    (runtime, addr)
}

/// `/v1/status` reads counters and the module catalog without the
/// runtime's lock, so it answers while a long call holds it (item 10). The
/// call runs on a thread of its own, so that only the lock is shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_answers_while_a_long_call_holds_the_runtime() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (runtime, addr) = spinning_node(NodeConfig::default()).await;
    // `spin` loops until its fuel runs out (a second or more).
    let done = Arc::new(AtomicBool::new(false));
    let before = runtime.instantiations();
    let spin = {
        let (runtime, done) = (runtime.clone(), done.clone());
        let handle = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || {
            let result = handle.block_on(runtime.call("counter", "spin", &[]));
            done.store(true, Ordering::SeqCst);
            result
        })
    };
    // Its instance exists: it holds the runtime now.
    while runtime.instantiations() == before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let status = reqwest::get(format!("http://{addr}/v1/status"))
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let running = !done.load(Ordering::SeqCst);
    let err = spin.await.unwrap().unwrap_err();
    assert!(err.to_string().contains("fuel"), "{err}");
    assert!(running, "status waited for the call to finish");
}

/// A long call made over HTTP runs on the runtime's executor thread, not on
/// the async worker that took the request: new connections and other
/// requests are served meanwhile (before, the worker ran the reducer and
/// the tasks queued behind it, the accept loop among them, waited).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_call_over_http_does_not_hold_up_other_requests() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (runtime, addr) = spinning_node(NodeConfig {
        admin_token: Some("admin".into()),
        ..NodeConfig::default()
    })
    .await;
    let done = Arc::new(AtomicBool::new(false));
    let before = runtime.instantiations();
    let spin = {
        let done = done.clone();
        tokio::spawn(async move {
            let r = reqwest::Client::new()
                .post(format!("http://{addr}/v1/modules/counter/reducers/spin"))
                .bearer_auth("admin")
                .json(&serde_json::json!([]))
                .send()
                .await
                .unwrap();
            done.store(true, Ordering::SeqCst);
            r.status()
        })
    };
    while runtime.instantiations() == before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // A new connection, and a read of the schema, while it runs.
    let status = reqwest::get(format!("http://{addr}/v1/status"))
        .await
        .unwrap();
    assert_eq!(status.status(), 200);
    let running = !done.load(Ordering::SeqCst);
    assert_eq!(spin.await.unwrap(), 422, "the spin ran out of fuel");
    assert!(running, "the node stopped answering while a call ran");
}
