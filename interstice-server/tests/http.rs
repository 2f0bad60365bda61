//! The node over real HTTP on 127.0.0.1: each test starts a [`Node`] on a
//! free port over a disk log (or a memory log that can be made to fail)
//! and talks to it with an HTTP client, as any client would.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::Served;
use futures::StreamExt;
use interstice_backend_fs::FsLogStore;
use interstice_log::LogOptions;
use interstice_log::memory::MemoryLogStore;
use interstice_server::NodeConfig;
use interstice_testkit::built::wasm;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Reads Server-Sent Events: `(event, data)` pairs.
struct Events {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buf: String,
}

impl Events {
    async fn open(served: &Served, path: &str) -> Self {
        let r = served
            .client
            .get(format!("{}{path}", served.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        Self {
            stream: r.bytes_stream().boxed(),
            buf: String::new(),
        }
    }

    /// The next event, skipping keep-alive comments; `None` at the end.
    async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut event = String::new();
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = e.to_owned();
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if event.is_empty() {
                    continue;
                }
                return Some((event, serde_json::from_str(&data).unwrap()));
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("no event within 10 s")?
                .unwrap();
            self.buf.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_call_query_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    let published = node.publish("hello").await;
    assert_eq!(published["module"], "hello");
    assert_eq!(published["first_version"], true);

    let (status, body) = node.call("hello.hello", json!(["ada"])).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let offset = body["offset"].as_u64().expect("a commit offset");
    assert_eq!(body["logs"][0]["message"], "greeting 1 stored");
    // By name works as well as by position.
    let (status, _) = node.call("hello.hello", json!({"name": "bob"})).await;
    assert_eq!(status, StatusCode::OK);

    let rows = node.rows("/v1/modules/hello/tables/greetings").await;
    assert_eq!(
        rows,
        vec![
            json!({"id": 1, "greeting": "Hello, ada!"}),
            json!({"id": 2, "greeting": "Hello, bob!"})
        ]
    );
    let rows = node
        .rows("/v1/modules/hello/tables/greetings?where=id=2")
        .await;
    assert_eq!(rows, vec![json!({"id": 2, "greeting": "Hello, bob!"})]);
    let (_, body) = node.get("/v1/modules/hello/tables/greetings?limit=1").await;
    assert_eq!(body["rows"].as_array().unwrap().len(), 1);
    assert_eq!(body["more"], true);

    let (status, schema) = node.get("/v1/modules/hello").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["name"], "hello");
    let (_, status) = node.get("/v1/status").await;
    assert_eq!(status["status"], "serving");
    assert!(status["last_durable_offset"].as_u64().unwrap() > offset);
    let last = status["last_durable_offset"].clone();
    node.stop().await;

    // A new node on the same log replays to the same state.
    let node = Served::on_disk(dir.path()).await;
    let rows = node.rows("/v1/modules/hello/tables/greetings").await;
    assert_eq!(rows.len(), 2);
    // Everything durable before the stop was replayed (hello's
    // subscription may have committed once more meanwhile).
    let (_, status) = node.get("/v1/status").await;
    let last = last.as_u64().unwrap();
    assert!(status["last_durable_offset"].as_u64().unwrap() >= last);
    assert!(status["replay"]["commits"].as_u64().unwrap() > last);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_start_with_a_snapshot_and_follow_the_filter() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("test_persistence").await;
    let open = |id: u64, owner: &str, balance: i64| {
        node.call("test_persistence.open", json!([id, owner, balance]))
    };
    assert_eq!(open(1, "ada", 100).await.0, StatusCode::OK);

    let mut all = Events::open(&node, "/v1/modules/test_persistence/tables/accounts/events").await;
    let mut rich = Events::open(
        &node,
        "/v1/modules/test_persistence/tables/accounts/events?where=balance=100",
    )
    .await;
    let (event, snapshot) = all.next().await.unwrap();
    assert_eq!(event, "snapshot");
    assert_eq!(snapshot["rows"].as_array().unwrap().len(), 1);
    let (_, snapshot) = rich.next().await.unwrap();
    assert_eq!(snapshot["rows"][0]["owner"], "ada");

    assert_eq!(open(2, "bob", 90).await.0, StatusCode::OK);
    let (status, body) = node
        .call("test_persistence.transfer", json!([1, 2, 10]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every change, in order.
    let (event, data) = all.next().await.unwrap();
    assert_eq!((event.as_str(), &data["row"]["id"]), ("insert", &json!(2)));
    let (event, data) = all.next().await.unwrap();
    assert_eq!(event, "update");
    let (event, data2) = all.next().await.unwrap();
    assert_eq!(event, "update");
    let mut balances =
        [&data["row"], &data2["row"]].map(|r| (r["id"].clone(), r["balance"].clone()));
    balances.sort_by_key(|(id, _)| id.as_u64());
    assert_eq!(balances, [(json!(1), json!(90)), (json!(2), json!(100))]);

    // With a filter: ada's account leaves it (a delete), bob's enters it
    // (an insert); bob's opening at 90 was never seen.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let (event, data) = rich.next().await.unwrap();
        seen.push((event, data["row"]["owner"].as_str().unwrap().to_owned()));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("delete".into(), "ada".into()),
            ("insert".into(), "bob".into())
        ]
    );
    let metrics = node.metrics().await;
    assert!(metrics.contains("interstice_subscribers 2"), "{metrics}");

    // Shutting down ends the streams with a `close` event.
    let stopping = tokio::spawn(node.stop());
    let (event, _) = all.next().await.unwrap();
    assert_eq!(event, "close");
    assert!(all.next().await.is_none());
    drop(rich);
    stopping.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_4xx_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path(), LogOptions::default().create(true)).unwrap();
    let config = NodeConfig {
        max_request_bytes: 1024,
        ..NodeConfig::default()
    };
    let node = Served::start(Arc::new(store), config).await;
    node.publish("test_persistence").await;
    let code = |body: &Value| body["error"]["code"].as_str().unwrap().to_owned();
    let message = |body: &Value| body["error"]["message"].as_str().unwrap().to_owned();

    let (status, body) = node.call("nope.open", json!([])).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "no_such_module".into())
    );
    assert!(message(&body).contains("test_persistence"), "{body}");
    let (status, body) = node.call("test_persistence.nope", json!([])).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "no_such_reducer".into())
    );
    assert!(message(&body).contains("transfer"), "{body}");
    let (status, body) = node
        .call("test_persistence.open", json!(["one", "ada", 1]))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "bad_arguments".into())
    );
    assert!(message(&body).contains("open(id: u64"), "{body}");
    let (status, body) = node
        .post("/v1/modules/test_persistence/reducers/open", "[1, \"ada\"")
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "malformed_json".into())
    );
    let (status, body) = node
        .post(
            "/v1/modules/test_persistence/reducers/open",
            vec![b' '; 4096],
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large".into())
    );
    // The reducer's own refusal, and a constraint.
    let (status, body) = node
        .call("test_persistence.transfer", json!([1, 2, 5]))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "reducer_failed".into())
    );

    let (status, body) = node.post("/v1/modules", b"not wasm".to_vec()).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "invalid_module".into())
    );
    // A module whose subscription may write the table it watches.
    let mut looper = interstice_testkit::wasm_modules::counter_schema();
    looper.name = "looper".into();
    looper.subscriptions[0].module = "looper".into();
    let looper = interstice_testkit::wasm_modules::module(
        &looper,
        interstice_testkit::wasm_modules::COUNTER_FUNCS,
    );
    let (status, body) = node.post("/v1/modules", looper).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::CONFLICT, "subscription_cycle".into())
    );
    assert!(
        message(&body)
            .contains("looper.counters.insert → looper.on_counter → looper.counters.insert"),
        "{body}"
    );
    let (status, body) = node
        .get("/v1/modules/test_persistence/tables/accounts?where=colour=red")
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "bad_filter".into())
    );
    assert!(
        message(&body).contains("columns: id, owner, balance, tags"),
        "{body}"
    );
    let (status, body) = node
        .get("/v1/modules/test_persistence/tables/accounts?limit=lots")
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::BAD_REQUEST, "bad_query".into())
    );
    let (status, body) = node.get("/v1/modules/test_persistence/tables/nope").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "no_such_table".into())
    );
    let (status, body) = node.get("/v2/everything").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "no_such_route".into())
    );
    let (status, body) = node.post("/v1/status", "").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed".into())
    );

    // None of it committed anything.
    let (_, status) = node.get("/v1/status").await;
    assert_eq!(
        status["last_durable_offset"], 0,
        "only the publish: {status}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_of_every_request() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsLogStore::open(dir.path(), LogOptions::default().create(true)).unwrap();
    let config = NodeConfig {
        token: Some("s3cret".into()),
        ..NodeConfig::default()
    };
    let node = Served::start(Arc::new(store), config).await;
    for path in ["/v1/status", "/metrics", "/v1/modules"] {
        let (status, body) = node.get(path).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
    let url = format!("{}/v1/status", node.url);
    let wrong = node
        .client
        .get(&url)
        .bearer_auth("s3cre")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let right = node
        .client
        .get(&url)
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), StatusCode::OK);
    // Nothing is published without it.
    let (status, _) = node.post("/v1/modules", wasm("hello")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_gets_503_and_nothing_undurable_is_shown() {
    let store = Arc::new(MemoryLogStore::new());
    let node = Served::start(store.clone(), NodeConfig::default()).await;
    node.publish("test_persistence").await;
    let (status, _) = node
        .call("test_persistence.open", json!([1, "ada", 100]))
        .await;
    assert_eq!(status, StatusCode::OK);
    store.fail_after(0);
    let (status, body) = node
        .call("test_persistence.open", json!([2, "bob", 100]))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable");
    // The failed commit is in memory but not durable: reads refuse.
    let (status, _) = node
        .get("/v1/modules/test_persistence/tables/accounts")
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (_, status) = node.get("/v1/status").await;
    assert_eq!(status["status"], "stopped");
    let metrics = node.metrics().await;
    assert!(
        metrics.contains("interstice_store_errors_total 1"),
        "{metrics}"
    );
    assert_eq!(store.commits().len(), 2, "the publish and the first open");
    node.stop().await;
}

/// `Idempotency-Key`: a retry of a call answers with the first commit
/// (`replayed`, and the `Idempotent-Replayed` header) and runs nothing;
/// the key on another call is refused; a bad key is a bad request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_makes_a_retry_answer_with_the_first_commit() {
    let store = Arc::new(MemoryLogStore::new());
    let node = Served::start(store.clone(), NodeConfig::default()).await;
    node.publish("test_persistence").await;
    let call = |key: &str, args: Value| {
        node.client
            .post(format!(
                "{}/v1/modules/test_persistence/reducers/open",
                node.url
            ))
            .header("content-type", "application/json")
            .header("idempotency-key", key.to_owned())
            .body(args.to_string())
            .send()
    };
    let first = call("open-1", json!([1, "ada", 100])).await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["replayed"], false);
    let logged = store.commits().len();

    let again = call("open-1", json!([1, "ada", 100])).await.unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(
        (&again["offset"], &again["replayed"]),
        (&first["offset"], &json!(true))
    );
    assert_eq!(store.commits().len(), logged, "nothing ran again");

    let other = call("open-1", json!([2, "bob", 100])).await.unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["error"]["code"], "request_id_reused", "{other}");

    let bad = call(&"k".repeat(300), json!([3, "cy", 1])).await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let bad: Value = bad.json().await.unwrap();
    assert_eq!(bad["error"]["code"], "bad_request_id", "{bad}");
    assert_eq!(store.commits().len(), logged);
    node.stop().await;
}

/// A commit the log could not say it stored is `outcome_unknown`, not
/// `store_unavailable`: it may be in the log (here it is). The calls the
/// stopped node refuses afterwards committed nothing and say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_outcome_is_its_own_503() {
    let store = Arc::new(MemoryLogStore::new());
    let node = Served::start(store.clone(), NodeConfig::default()).await;
    node.publish("test_persistence").await;
    store.unknown_after(0);
    let (status, body) = node
        .call("test_persistence.open", json!([1, "ada", 100]))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "outcome_unknown", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("may or may not be in the log"),
        "{body}"
    );
    assert_eq!(store.commits().len(), 2, "the commit was kept after all");
    let (status, body) = node
        .call("test_persistence.open", json!([2, "bob", 100]))
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "store_unavailable", "{body}");
    assert_eq!(store.commits().len(), 2);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_calls_in_flight_and_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("test_persistence").await;
    let url = node.url.clone();
    let client = node.client.clone();
    // 32 callers, each opening accounts until the node goes away.
    let callers: Vec<_> = (0..32u64)
        .map(|c| {
            let (url, client) = (url.clone(), client.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0.. {
                    let id = c * 1_000_000 + i;
                    let sent = client
                        .post(format!("{url}/v1/modules/test_persistence/reducers/open"))
                        .json(&json!([id, "x", 1]))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == StatusCode::OK => acknowledged.push(id),
                        _ => break,
                    }
                }
                acknowledged
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    node.stop().await;
    let mut acknowledged = Vec::new();
    for c in callers {
        acknowledged.extend(c.await.unwrap());
    }
    assert!(
        acknowledged.len() > 32,
        "the load ran: {}",
        acknowledged.len()
    );

    // Every acknowledged call is in the log.
    let node = Served::on_disk(dir.path()).await;
    let rows = node
        .rows("/v1/modules/test_persistence/tables/accounts?limit=100000")
        .await;
    let stored: std::collections::BTreeSet<u64> =
        rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    node.stop().await;
}

/// `POST /v1/modules` swaps `ledger` through its versions: a subscriber to
/// the table is told when a version changes it, a migration's outcome is
/// in the answer, and a failing migration is a 422 that changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_swaps_versions_runs_migrations_and_tells_subscribers() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("ledger_v1").await;
    for owner in ["Ada Lovelace", " "] {
        let (status, body) = node.call("ledger.open", json!([owner, 10])).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let mut events = Events::open(&node, "/v1/modules/ledger/tables/accounts/events").await;
    assert_eq!(events.next().await.unwrap().0, "snapshot");

    let published = node.publish("ledger_v2").await;
    assert_eq!(published["migrations"], json!([]));
    let (event, data) = events.next().await.unwrap();
    assert_eq!(event, "close");
    assert!(
        data["message"]
            .as_str()
            .unwrap()
            .starts_with("module republished with this table changed"),
        "{data}"
    );

    // Account 2 has no owner to split: the migration refuses it.
    let (status, body) = node.post("/v1/modules", wasm("ledger_v3")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["code"], "migration_failed");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("account 2 has no owner to split"),
        "{message}"
    );
    let rows = node.rows("/v1/modules/ledger/tables/accounts").await;
    assert_eq!(rows.len(), 2, "nothing changed");

    node.stop().await;

    // A ledger whose accounts all have owners migrates.
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("ledger_v1").await;
    node.call("ledger.open", json!(["Grace Brewster Hopper", 10]))
        .await;
    node.publish("ledger_v2").await;
    let published = node.publish("ledger_v3").await;
    let migration = &published["migrations"][0];
    assert_eq!(migration["reducer"], "split_owner");
    assert_eq!(migration["table"], "wallets");
    assert_eq!(
        (&migration["rows_before"], &migration["mutations"]),
        (&json!(1), &json!(1))
    );
    let rows = node.rows("/v1/modules/ledger/tables/wallets").await;
    assert_eq!(rows[0]["first_name"], "Grace");
    assert_eq!(rows[0]["last_name"], "Brewster Hopper");

    // Unpublished: its rows go, its name is free.
    let delete = |path: &str| node.client.delete(format!("{}{path}", node.url)).send();
    let r = delete("/v1/modules/nobody").await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mut events = Events::open(&node, "/v1/modules/ledger/tables/wallets/events").await;
    assert_eq!(events.next().await.unwrap().0, "snapshot");
    let r = delete("/v1/modules/ledger").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["tables"], json!([{"table": "wallets", "rows": 1}]));
    let (event, data) = events.next().await.unwrap();
    assert_eq!(event, "close");
    assert!(
        data["message"]
            .as_str()
            .unwrap()
            .starts_with("module unpublished at offset"),
        "{data}"
    );
    let (status, body) = node.get("/v1/modules/ledger").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    node.stop().await;
}

/// `GET .../tables/{table}?at=N` reads the table as it was just after
/// commit N; an offset the log does not hold (yet) is a 404.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_is_read_as_of_a_past_offset() {
    let dir = tempfile::tempdir().unwrap();
    let node = Served::on_disk(dir.path()).await;
    node.publish("test_persistence").await;
    let (_, first) = node
        .call("test_persistence.open", json!([1, "ada", 100]))
        .await;
    let (_, _) = node
        .call("test_persistence.open", json!([2, "bob", 50]))
        .await;
    let (status, body) = node
        .call("test_persistence.transfer", json!([1, 2, 30]))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let at = first["offset"].as_u64().unwrap();
    let rows = node
        .rows(&format!(
            "/v1/modules/test_persistence/tables/accounts?at={at}"
        ))
        .await;
    assert_eq!(
        rows,
        [json!({"id": 1, "owner": "ada", "balance": 100, "tags": ["new"]})]
    );
    let rows = node
        .rows(&format!(
            "/v1/modules/test_persistence/tables/accounts?at={}&where=id=2",
            body["offset"]
        ))
        .await;
    assert_eq!(rows[0]["balance"], 80);
    let (status, body) = node
        .get("/v1/modules/test_persistence/tables/accounts?at=999")
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "no_such_offset");
    let (status, _) = node
        .get("/v1/modules/test_persistence/tables/accounts?at=x")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let rows = node
        .rows("/v1/modules/test_persistence/tables/accounts?skip=1&limit=5")
        .await;
    assert_eq!(rows.len(), 1, "paged past account 1");
    assert_eq!(rows[0]["id"], 2);

    // The timeline and diffs the console shows.
    let (status, log) = node.get("/v1/log?from=1&limit=2").await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let commits = log["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0]["reducer"], "open");
    assert_eq!(
        commits[0]["args"],
        json!({"id": 1, "owner": "ada", "balance": 100})
    );
    assert_eq!(commits[1]["rows"], 2);
    let (_, diff) = node
        .get("/v1/diff?from=2&to=3&table=test_persistence.accounts")
        .await;
    let rows = &diff["tables"][0]["rows"];
    assert_eq!(rows[0]["change"], "update");
    assert_eq!(
        (&rows[0]["old"]["balance"], &rows[0]["row"]["balance"]),
        (&json!(100), &json!(70))
    );
    let (status, body) = node.get("/v1/diff?to=3").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = node.get("/v1/log?from=1&limit=5000").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let svg = node
        .client
        .get(format!("{}/v1/graph", node.url))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().contains("accounts"));
    let page = node
        .client
        .get(format!("{}/", node.url))
        .send()
        .await
        .unwrap();
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'none'")
    );
    assert!(page.text().await.unwrap().contains("/console.js"));
    node.stop().await;
}
