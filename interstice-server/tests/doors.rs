//! The node's doors (issue 13, items 9 and 18): what a web page in a
//! browser on the same machine cannot do, who may publish, and who may
//! call a private reducer. Real HTTP on 127.0.0.1.

use interstice_testkit::built;

use std::sync::Arc;

use built::wasm;
use interstice_core::{Runtime, RuntimeConfig};
use interstice_log::memory::MemoryLogStore;
use interstice_server::{Node, NodeConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Served {
    url: String,
    addr: std::net::SocketAddr,
    client: reqwest::Client,
}

async fn serve(config: NodeConfig) -> Served {
    let store = Arc::new(MemoryLogStore::new());
    let (runtime, _) = Runtime::open(store, RuntimeConfig::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(Node::new(runtime, config).serve(listener, std::future::pending()));
    Served {
        url: format!("http://{addr}"),
        addr,
        client: reqwest::Client::new(),
    }
}

impl Served {
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut r = self.client.post(format!("{}{path}", self.url)).body(body);
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

const WASM: (&str, &str) = ("content-type", "application/wasm");
const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test]
async fn a_web_page_cannot_publish_or_call() {
    let node = serve(NodeConfig::default()).await;
    let hello = wasm("hello");
    // What any page can send without asking: a text/plain POST, from its
    // own origin.
    let evil = [
        ("content-type", "text/plain"),
        ("origin", "http://evil.example"),
    ];
    let (status, body) = node.post("/v1/modules", &evil, hello.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "bad_origin");
    let (status, body) = node
        .post(
            "/v1/modules",
            &[("content-type", "text/plain")],
            hello.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    // DNS rebinding: the page's own name, resolving to 127.0.0.1.
    let port = node.addr.port();
    let rebound = format!("evil.example:{port}");
    let (status, body) = node
        .post("/v1/modules", &[WASM, ("host", &rebound)], hello.clone())
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "bad_host");
    let r = node
        .client
        .get(format!("{}/v1/modules", node.url))
        .header("host", &rebound)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN, "reads are refused too");

    // The node's own tools get in: no Origin, or its own.
    let own = format!("http://127.0.0.1:{port}");
    let (status, body) = node
        .post("/v1/modules", &[WASM, ("origin", &own)], hello)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let call = "/v1/modules/hello/reducers/hello";
    let args = br#"["ada"]"#.to_vec();
    let (status, body) = node
        .post(call, &[("content-type", "text/plain")], args.clone())
        .await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = node.post(call, &[], args.clone()).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    let (status, body) = node
        .post(
            call,
            &[JSON, ("origin", "http://evil.example")],
            args.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = node.post(call, &[JSON], args).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["offset"], 1, "{body}: nothing refused committed");
}

#[tokio::test]
async fn publishing_and_private_reducers_need_the_admin_token() {
    let node = serve(NodeConfig {
        token: Some("caller".into()),
        admin_token: Some("admin".into()),
        ..NodeConfig::default()
    })
    .await;
    let caller = ("authorization", "Bearer caller");
    let admin = ("authorization", "Bearer admin");
    let (status, body) = node
        .post("/v1/modules", &[WASM, caller], wasm("hello"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "admin_only");
    let (status, body) = node
        .post("/v1/modules", &[WASM, admin], wasm("hello"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A public reducer: either token. A private one (`on_greeting`, a
    // subscription): the admin's only.
    let hello = "/v1/modules/hello/reducers/hello";
    for who in [caller, admin] {
        let (status, body) = node.post(hello, &[JSON, who], br#"["ada"]"#.to_vec()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let private = "/v1/modules/hello/reducers/on_greeting";
    let row = json!([{"id": 1, "greeting": "hi"}])
        .to_string()
        .into_bytes();
    let (status, body) = node.post(private, &[JSON, caller], row.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "private_reducer");
    let (status, body) = node.post(private, &[JSON, admin], row).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No token at all: refused before anything else.
    let (status, _) = node.post(hello, &[JSON], br#"["x"]"#.to_vec()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_an_admin_token_no_client_calls_a_private_reducer() {
    let node = serve(NodeConfig::default()).await;
    let (status, _) = node.post("/v1/modules", &[WASM], wasm("hello")).await;
    assert_eq!(status, StatusCode::CREATED);
    let row = json!([{"id": 1, "greeting": "hi"}])
        .to_string()
        .into_bytes();
    let (status, body) = node
        .post("/v1/modules/hello/reducers/on_greeting", &[JSON], row)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
}
