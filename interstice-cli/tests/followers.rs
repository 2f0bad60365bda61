//! Read replicas and fail-over on S3 (issue 17), with real processes on
//! moto and on Garage: one writer and two followers (`serve --follow`)
//! under 16 callers; the followers converge to the writer's state and
//! refuse calls, naming the writer; the writer is killed mid-load, a new
//! one takes the log over, clients retry what they heard nothing definite
//! about with the same request ids, and every acknowledged call is there
//! exactly once.

mod common;

use std::process::Output;
use std::time::{Duration, Instant};

use common::{OnS3, Serving, s3_log_name, text, wasm};
use interstice_testkit::s3::{GARAGE, MOTO, Server};

fn interstice(server: Server, args: &[String]) -> Output {
    OnS3::server(server).run(args)
}

async fn run(server: Server, args: &[&str]) -> Output {
    OnS3::server(server).cli(args).await
}

async fn serve(server: Server, log: &str, extra: &[&str]) -> Serving {
    OnS3::server(server).serve(log, extra).await
}

fn ok(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
}

/// The accounts a node serves, as JSON.
async fn accounts(server: Server, url: &str) -> String {
    let out = run(
        server,
        &[
            "query",
            "--node",
            url,
            "test_persistence.accounts",
            "--format",
            "json",
            "--limit",
            "10000",
        ],
    )
    .await;
    ok(&out);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Waits until `follower` serves what `expected` holds.
async fn converges(server: Server, follower: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rows = accounts(server, follower).await;
        if rows == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the follower did not converge:\n{rows}\nexpected:\n{expected}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Opens accounts `ids` through the node at `url`, 16 callers at once,
/// each call with request id `open-<id>`; the ids whose call was
/// acknowledged.
async fn open_accounts(server: Server, url: &str, ids: impl IntoIterator<Item = u32>) -> Vec<u32> {
    let ids: Vec<u32> = ids.into_iter().collect();
    let mut acked = Vec::new();
    for chunk in ids.chunks(16) {
        let calls: Vec<_> = chunk
            .iter()
            .map(|&id| {
                let args = vec![
                    "call".to_owned(),
                    "--node".into(),
                    url.to_owned(),
                    "--request-id".into(),
                    format!("open-{id}"),
                    "test_persistence.open".into(),
                    format!("[{id}, \"acct{id}\", 10]"),
                ];
                tokio::task::spawn_blocking(move || (id, interstice(server, &args)))
            })
            .collect();
        for c in calls {
            let (id, out) = c.await.unwrap();
            if out.status.success() {
                acked.push(id);
            }
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_moto_followers_converge_refuse_calls_and_survive_a_fail_over() {
    followers_and_fail_over(MOTO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_garage_followers_converge_refuse_calls_and_survive_a_fail_over() {
    followers_and_fail_over(GARAGE).await;
}

async fn followers_and_fail_over(server: Server) {
    server.require();
    let log = s3_log_name("followers");
    let s = server;
    ok(&run(s, &["publish", &log, &wasm("test_persistence")]).await);
    let writer = serve(s, &log, &[]).await;
    let f1 = serve(s, &log, &["--follow", "--follow-every", "50ms"]).await;
    let f2 = serve(s, &log, &["--follow", "--follow-every", "50ms"]).await;

    let acked = open_accounts(s, &writer.url, 1..49).await;
    assert_eq!(
        acked.len(),
        48,
        "every call to a live writer is acknowledged"
    );
    let expected = accounts(s, &writer.url).await;
    converges(s, &f1.url, &expected).await;
    converges(s, &f2.url, &expected).await;

    // A follower refuses calls, and says where to send them.
    let refused = [
        "call",
        "--node",
        &f1.url,
        "test_persistence.open",
        "[99, \"x\", 1]",
    ];
    let out = run(s, &refused).await;
    assert!(!out.status.success(), "{}", text(&out));
    let msg = text(&out);
    assert!(msg.contains("421") && msg.contains("read-only"), "{msg}");
    assert!(msg.contains(&writer.url), "{msg}");

    // The writer dies mid-load: some calls of the batch are acknowledged,
    // some are not.
    let url = writer.url.clone();
    let load = tokio::spawn(async move { open_accounts(s, &url, 100..132).await });
    // Killed once a few of them are in.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !accounts(s, &writer.url).await.contains("acct104") {
        assert!(Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::task::spawn_blocking(move || writer.kill())
        .await
        .unwrap();
    let acked_then = load.await.unwrap();

    // A new writer takes the log over and goes on. Clients retry the
    // calls they heard nothing definite about, with the same request ids:
    // each applies once, whether its first attempt landed or not.
    let promoted = serve(s, &log, &["--take-over"]).await;
    let unsure: Vec<u32> = (100..132).filter(|id| !acked_then.contains(id)).collect();
    eprintln!(
        "{}: {} of 32 calls unsure when the writer died",
        s.name,
        unsure.len()
    );
    let retried = open_accounts(s, &promoted.url, unsure.clone()).await;
    assert_eq!(retried, unsure, "every retry is acknowledged");
    let acked_after = open_accounts(s, &promoted.url, 200..216).await;
    assert_eq!(acked_after.len(), 16);
    let expected = accounts(s, &promoted.url).await;
    converges(s, &f1.url, &expected).await;
    converges(s, &f2.url, &expected).await;

    // The followers' refusals now name the new writer.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let refused = [
            "call",
            "--node",
            &f2.url,
            "test_persistence.open",
            "[99, \"x\", 1]",
        ];
        let msg = text(&run(s, &refused).await);
        if msg.contains(&promoted.url) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still names the old writer: {msg}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Every acknowledged call is there exactly once.
    let rows: Vec<serde_json::Value> = expected
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<u64> = rows
        .iter()
        .map(|r| r["id"].as_u64().expect("an id"))
        .collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "an account twice: {ids:?}");
    let all_acked = acked
        .iter()
        .chain(&acked_then)
        .chain(&retried)
        .chain(&acked_after);
    for id in all_acked {
        assert!(
            ids.contains(&u64::from(*id)),
            "acknowledged account {id} lost"
        );
    }
    assert_eq!(ids.len(), 48 + 32 + 16, "{ids:?}");

    for node in [promoted, f1, f2] {
        let (clean, stderr) = tokio::task::spawn_blocking(move || node.terminate())
            .await
            .unwrap();
        assert!(clean, "{stderr}");
    }
}
