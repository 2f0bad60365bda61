//! A node under load: 64 keep-alive HTTP connections calling a 1-row
//! insert reducer with `sync` durability on the disk backend, beside the
//! same calls made in-process (the runtime benchmark's 64-caller row), in
//! one run. Prints commits/s and p50/p99 latency, and whether the node
//! reaches half the in-process rate.
//!
//! `cargo bench -p interstice-server`; `INTERSTICE_BENCH_SECS` sets the
//! seconds per row (default 3). The load generator runs in this process on
//! its own thread (hyper's HTTP/1 client, one connection per caller), so
//! it shares the machine's cores with the node, as `wrk` would.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use interstice_testkit::measure::{self, Measured};
use interstice_testkit::wasm_modules;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use interstice_abi::{Value, encode_value};
use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{Durability, LogOptions};
use interstice_server::{Node, NodeConfig};

const CALLERS: usize = 64;

async fn runtime(dir: &std::path::Path) -> Runtime {
    let opts = LogOptions::default()
        .create(true)
        .durability(Durability::Sync);
    let store = FsLogStore::open(dir, opts).unwrap();
    let (rt, _) = Runtime::open(Arc::new(store), RuntimeConfig::default())
        .await
        .unwrap();
    rt.publish(&wasm_modules::counter_alone()).await.unwrap();
    rt
}

/// 64 in-process callers, each inserting its own keys.
async fn in_process(rt: &Runtime, secs: Duration) -> Measured {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|c| {
            let rt = rt.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while start.elapsed() < secs {
                    let key = (c * 1_000_000 + latencies.len()) as u64;
                    let args = encode_value(&Value::Struct(vec![Value::U64(key)])).unwrap();
                    let t = Instant::now();
                    rt.call("counter", "add", &args).await.unwrap();
                    latencies.push(t.elapsed());
                }
                latencies
            })
        })
        .collect();
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    Measured {
        what: "in-process Runtime::call".into(),
        callers: CALLERS,
        ops: latencies.len() as u64,
        latencies,
        elapsed: start.elapsed(),
    }
}

/// One keep-alive connection making calls one after another.
async fn connection(addr: SocketAddr, c: usize, start: Instant, secs: Duration) -> Vec<Duration> {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut latencies = Vec::new();
    while start.elapsed() < secs {
        let key = 500_000_000 + c * 1_000_000 + latencies.len();
        let request = Request::post("/v1/modules/counter/reducers/add")
            .header("host", addr.to_string())
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!("[{key}]"))))
            .unwrap();
        let t = Instant::now();
        let response = sender.send_request(request).await.unwrap();
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(status.is_success(), "{status}: {body:?}");
        latencies.push(t.elapsed());
    }
    latencies
}

/// 64 connections from a load-generator thread of their own.
fn over_http(addr: SocketAddr, secs: Duration) -> Measured {
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    client.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..CALLERS)
            .map(|c| tokio::spawn(connection(addr, c, start, secs)))
            .collect();
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await.unwrap());
        }
        Measured {
            what: "HTTP POST via interstice serve".into(),
            callers: CALLERS,
            ops: latencies.len() as u64,
            latencies,
            elapsed: start.elapsed(),
        }
    })
}

fn main() {
    measure::no_transparent_huge_pages();
    let secs = measure::secs(3.0);
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let server = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // `INTERSTICE_BENCH_ONLY=http` skips the in-process row (to profile).
    let only_http = std::env::var("INTERSTICE_BENCH_ONLY").is_ok_and(|o| o == "http");
    let local = server.block_on(async {
        let rt = runtime(&tmp.path().join("in-process")).await;
        let secs = if only_http {
            Duration::from_millis(100)
        } else {
            secs
        };
        let row = in_process(&rt, secs).await;
        rt.shutdown().await;
        row
    });
    let (addr, stop, done) = server.block_on(async {
        let rt = runtime(&tmp.path().join("http")).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let node = Node::new(rt, NodeConfig::default());
        let done = tokio::spawn(node.serve(listener, async move {
            let _ = stopped.await;
        }));
        (addr, stop, done)
    });
    let remote = std::thread::spawn(move || over_http(addr, secs))
        .join()
        .unwrap();
    let _ = stop.send(());
    server.block_on(done).unwrap().unwrap();

    println!("HTTP node bench: {CALLERS} callers, durability sync, disk log, {secs:?} per row");
    measure::print_latency_table(&[&local, &remote], "commits", "in-proc");
    let ratio = remote.per_sec() / local.per_sec();
    println!();
    println!(
        "target: HTTP >= 50% of in-process: {:.0}% -> {}",
        ratio * 100.0,
        if ratio >= 0.5 { "met" } else { "MISSED" }
    );
}
