//! A commit whose write got no answer: `interstice call` exits with its
//! own status (3), whether it opened the log itself or called a node, and
//! says the commit may or may not be in the log (issue 17, item 1); the
//! node, stopped by it, says so when it exits instead of claiming every
//! commit is durable (item 8).

mod common;

use std::process::{Command, Output};

use common::{OnS3, Serving, s3_log_name, text, wasm};
use interstice_testkit::s3::{CUT_LOG_PUTS, MOTO, PASS, Proxy};

/// `interstice ARGS` against moto through `proxy`.
async fn on_moto(proxy: &Proxy, args: &[&str]) -> Output {
    OnS3::via(&proxy.endpoint, MOTO).cli(args).await
}

/// `interstice serve LOG` on moto through the proxy at `endpoint`.
async fn serve(log: String, endpoint: String) -> Serving {
    OnS3::via(&endpoint, MOTO).serve(&log, &[]).await
}

fn log_name(test: &str) -> String {
    s3_log_name(test)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_write_got_no_answer_exits_with_status_3() {
    let proxy = Proxy::start(MOTO).await;
    let log = log_name("outcome-cli");
    let out = on_moto(&proxy, &["publish", &log, &wasm("test_persistence")]).await;
    assert!(out.status.success(), "{}", text(&out));

    proxy.set(CUT_LOG_PUTS);
    let out = on_moto(
        &proxy,
        &["call", &log, "test_persistence.open", "[1, \"ada\", 100]"],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        text(&out).contains("may or may not be in the log"),
        "{}",
        text(&out)
    );

    // A failure whose outcome is known keeps status 1.
    proxy.set(PASS);
    let out = on_moto(&proxy, &["call", &log, "test_persistence.nope", "[]"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_write_got_no_answer_answers_outcome_unknown() {
    let proxy = Proxy::start(MOTO).await;
    let log = log_name("outcome-node");
    let out = on_moto(&proxy, &["publish", &log, &wasm("test_persistence")]).await;
    assert!(out.status.success(), "{}", text(&out));
    let node = serve(log, proxy.endpoint.clone()).await;

    proxy.set(CUT_LOG_PUTS);
    let out = on_moto(
        &proxy,
        &[
            "call",
            "--node",
            &node.url,
            "test_persistence.open",
            "[1, \"ada\", 100]",
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(text(&out).contains("503"), "{}", text(&out));
    proxy.set(PASS);
    let (clean, stderr) = tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();
    // It says why it stopped, not that every commit is durable.
    assert!(!clean, "{stderr}");
    assert!(stderr.contains("stopped after a failure"), "{stderr}");
    assert!(stderr.contains("may or may not be in the log"), "{stderr}");
    assert!(
        !stderr.contains("every acknowledged commit is durable"),
        "{stderr}"
    );
}

/// The reason for request ids: the answer to a transfer is lost after its
/// PUT was stored, the node stops (outcome unknown), and a client that
/// retries the same request on the restarted node gets the first commit:
/// the transfer applied once (issue 17, item 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_with_the_same_request_id_after_a_lost_answer_applies_once() {
    use interstice_testkit::s3::LOSE_ANSWERS;

    let proxy = Proxy::start(MOTO).await;
    let log = log_name("retry-node");
    let ok = |out: &Output| assert!(out.status.success(), "{}", text(out));
    ok(&on_moto(&proxy, &["publish", &log, &wasm("test_persistence")]).await);
    ok(&on_moto(
        &proxy,
        &["call", &log, "test_persistence.open", "[1, \"ada\", 100]"],
    )
    .await);
    ok(&on_moto(
        &proxy,
        &["call", &log, "test_persistence.open", "[2, \"bob\", 100]"],
    )
    .await);
    let node = serve(log.clone(), proxy.endpoint.clone()).await;
    let transfer = |url: String| {
        let args = [
            "call".to_owned(),
            "--node".into(),
            url,
            "--request-id".into(),
            "transfer-7".into(),
            "test_persistence.transfer".into(),
            "[1, 2, 30]".into(),
        ];
        tokio::task::spawn_blocking(move || {
            Command::new(env!("CARGO_BIN_EXE_interstice"))
                .args(&args)
                .env_remove("INTERSTICE_TOKEN")
                .output()
                .unwrap()
        })
    };

    proxy.set(LOSE_ANSWERS);
    let out = transfer(node.url.clone()).await.unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    proxy.set(PASS);
    tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();

    let node = serve(log.clone(), proxy.endpoint.clone()).await;
    let out = transfer(node.url.clone()).await.unwrap();
    ok(&out);
    assert!(
        text(&out).contains("already committed at offset"),
        "{}",
        text(&out)
    );
    // And again: still the one transfer.
    ok(&transfer(node.url.clone()).await.unwrap());
    let url = node.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_interstice"))
            .args([
                "query",
                "--node",
                &url,
                "test_persistence.accounts",
                "--format",
                "json",
            ])
            .env_remove("INTERSTICE_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    ok(&out);
    // One JSON object a line.
    let balances: Vec<i64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["balance"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(balances, [70, 130], "{}", text(&out));
    tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();
}
