//! One writer per S3 log (issue 17, items 4 and 6): a serving node holds
//! the writer lease; a one-off command that would write the same log is
//! refused and pointed at the node, unless it takes the log over, which
//! fences the node; a node that died does not keep the log locked.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{OnS3, Serving, s3_log_name, text, wasm};
use interstice_testkit::s3::MOTO;

/// `interstice ARGS` on moto.
async fn on_moto(args: &[&str]) -> Output {
    OnS3::server(MOTO).cli(args).await
}

async fn serve(log: &str) -> Serving {
    OnS3::server(MOTO).serve(log, &[]).await
}

fn log_name(test: &str) -> String {
    s3_log_name(test)
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
}

/// The accounts, as `query --format json` prints them.
async fn accounts(log: &str) -> String {
    let out = on_moto(&[
        "query",
        log,
        "test_persistence.accounts",
        "--format",
        "json",
    ])
    .await;
    ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_off_write_beside_a_node_is_refused_until_it_takes_the_log_over() {
    let log = log_name("one-writer");
    ok(&on_moto(&["publish", &log, &wasm("test_persistence")]).await);
    let node = serve(&log).await;
    let open = |id: u32| format!("[{id}, \"acct{id}\", 100]");

    // Writing the log directly while the node serves it is refused, and
    // says where to send the call instead.
    let out = on_moto(&["call", &log, "test_persistence.open", &open(1)]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("in use"), "{msg}");
    assert!(msg.contains(&node.url) && msg.contains("--node"), "{msg}");
    assert!(msg.contains("--take-over"), "{msg}");

    // Reading the log directly neither waits nor disturbs the node (a
    // read-only open takes no epoch and no lease).
    let out = on_moto(&["query", &log, "test_persistence.accounts"]).await;
    ok(&out);

    // The node takes the call.
    let a = open(1);
    ok(&on_moto(&["call", "--node", &node.url, "test_persistence.open", &a]).await);

    // Meaning it: the one-off takes the log over and commits.
    ok(&on_moto(&[
        "call",
        &log,
        "test_persistence.open",
        &open(2),
        "--take-over",
    ])
    .await);
    // The node is fenced at its next write, and says so when it exits.
    let fenced = [
        "call",
        "--node",
        &node.url,
        "test_persistence.open",
        "[3, \"c\", 1]",
    ];
    let out = on_moto(&fenced).await;
    assert!(!out.status.success(), "{}", text(&out));
    let (clean, stderr) = tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();
    assert!(!clean, "{stderr}");
    assert!(stderr.contains("another writer"), "{stderr}");
    assert!(!stderr.contains("released"), "{stderr}");

    // The log holds both accounts once, and the take-over as a record.
    let rows = accounts(&log).await;
    assert!(rows.contains("acct1") && rows.contains("acct2"), "{rows}");
    assert!(!rows.contains("\"c\""), "{rows}");
    let out = on_moto(&["log-inspect", &log]).await;
    ok(&out);
    assert!(text(&out).contains("@take-over"), "{}", text(&out));
    // With the node gone, a one-off write just works.
    ok(&on_moto(&["call", &log, "test_persistence.open", &open(4)]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_died_does_not_keep_the_log_from_the_next_writer() {
    let log = log_name("dead-writer");
    ok(&on_moto(&["publish", &log, &wasm("test_persistence")]).await);
    let node = serve(&log).await;
    tokio::task::spawn_blocking(move || node.kill())
        .await
        .unwrap();
    // Its lease is still fresh, but nobody renews it: the next writer
    // waits one heartbeat to see that, not the lease's whole length.
    let started = Instant::now();
    ok(&on_moto(&["call", &log, "test_persistence.open", "[1, \"a\", 5]"]).await);
    assert!(
        started.elapsed() < Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    // A node started right after its predecessor died serves too.
    let node = serve(&log).await;
    let (clean, stderr) = tokio::task::spawn_blocking(move || node.terminate())
        .await
        .unwrap();
    assert!(clean, "{stderr}");
    // And released its lease: the next one-off does not wait.
    let started = Instant::now();
    ok(&on_moto(&["call", &log, "test_persistence.open", "[2, \"b\", 5]"]).await);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}
