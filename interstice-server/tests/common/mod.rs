//! What the node's tests share: a node serving on a free loopback port,
//! and requests to it.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use interstice_backend_fs::FsLogStore;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::{LogOptions, LogStore};
use interstice_server::{Node, NodeConfig, ReplaySummary};
use interstice_testkit::built::wasm;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::oneshot;

/// A node serving on a free loopback port.
pub struct Served {
    pub url: String,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<std::io::Result<()>>,
    pub client: reqwest::Client,
}

impl Served {
    pub async fn start(store: Arc<dyn LogStore>, mut config: NodeConfig) -> Self {
        let (runtime, report) = Runtime::open(store, RuntimeConfig::default())
            .await
            .unwrap();
        config.replay = ReplaySummary {
            commits: report.commits,
            duration: report.elapsed,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let node = Node::new(runtime, config);
        let done = tokio::spawn(node.serve(listener, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            stop,
            done,
            client: reqwest::Client::new(),
        }
    }

    pub async fn on_disk(dir: &Path) -> Self {
        let store = FsLogStore::open(dir, LogOptions::default().create(true)).unwrap();
        Self::start(Arc::new(store), NodeConfig::default()).await
    }

    /// Shuts down gracefully and waits until the log is released.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap().unwrap();
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> (StatusCode, Value) {
        // Modules go as WebAssembly, everything else as JSON.
        let kind = if path == "/v1/modules" {
            "application/wasm"
        } else {
            "application/json"
        };
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", kind)
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.url);
        let r = self.client.get(url).send().await.unwrap();
        r.text().await.unwrap()
    }

    pub async fn publish(&self, name: &str) -> Value {
        let (status, body) = self.post("/v1/modules", wasm(name)).await;
        assert!(status.is_success(), "{status} {body}");
        body
    }

    pub async fn call(&self, target: &str, args: Value) -> (StatusCode, Value) {
        let (m, r) = target.split_once('.').unwrap();
        self.post(&format!("/v1/modules/{m}/reducers/{r}"), args.to_string())
            .await
    }

    pub async fn rows(&self, path: &str) -> Vec<Value> {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["rows"].as_array().unwrap().clone()
    }
}
