//! `interstice serve` as a process, driven by `interstice call|query
//! --node` over 127.0.0.1: a second node on the same log is refused, a
//! token is enforced, SIGTERM stops it cleanly and releases the log.

mod common;

use common::{Serving, interstice, text, wasm};

#[test]
fn a_node_serves_call_and_query_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let out = interstice(&["publish", &log, &wasm("hello")], None);
    assert!(out.status.success(), "{}", text(&out));

    let node = Serving::start(&log, &[], None);
    let out = interstice(
        &["call", "--node", &node.url, "hello.hello", "[\"ada\"]"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("committed at offset"), "{}", text(&out));
    let out = interstice(&["query", "--node", &node.url, "hello.greetings"], None);
    assert!(text(&out).contains("Hello, ada!"), "{}", text(&out));
    let out = interstice(
        &[
            "query",
            "--node",
            &node.url,
            "hello.greetings",
            "--where",
            "id=1",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        r#"{"id":1,"greeting":"Hello, ada!"}"#
    );
    // The node names the problem; the CLI passes it on.
    let out = interstice(&["call", "--node", &node.url, "hello.nope"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("404"), "{}", text(&out));
    assert!(
        text(&out).contains("has no reducer `nope`"),
        "{}",
        text(&out)
    );
    let out = interstice(
        &["call", "--node", &node.url, &log, "hello.hello", "[]"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("not a log"), "{}", text(&out));

    // A second node on the same log is refused while the first runs.
    let out = interstice(&["serve", &log, "--listen", "127.0.0.1:0"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("cannot open the log"), "{}", text(&out));

    let (clean, stderr) = node.terminate();
    assert!(clean, "exit status after SIGTERM: {stderr}");
    assert!(stderr.contains("stopped"), "{stderr}");
    // The log is released and holds the call.
    let out = interstice(&["query", &log, "hello.greetings"], None);
    assert!(text(&out).contains("Hello, ada!"), "{}", text(&out));
}

#[test]
fn a_token_is_enforced_and_remote_listening_is_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    interstice(&["publish", &log, &wasm("hello")], None);
    let node = Serving::start(&log, &[], Some("s3cret"));
    let out = interstice(
        &["call", "--node", &node.url, "hello.hello", "[\"x\"]"],
        None,
    );
    assert!(!out.status.success());
    assert!(text(&out).contains("401"), "{}", text(&out));
    let out = interstice(
        &["call", "--node", &node.url, "hello.hello", "[\"x\"]"],
        Some("s3cret"),
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(node.terminate().0);

    let out = interstice(&["serve", &log, "--listen", "0.0.0.0:0"], None);
    assert!(!out.status.success());
    assert!(text(&out).contains("--allow-remote"), "{}", text(&out));
    let node = Serving::start(&log, &["--listen", "0.0.0.0:0", "--allow-remote"], None);
    let (clean, stderr) = node.terminate();
    assert!(clean);
    assert!(stderr.contains("no authentication"), "{stderr}");
}

/// A call whose commit is larger than the node's commit size limit fails
/// alone with `limit_exceeded`, and the node goes on serving (issue 13,
/// item 6: it used to answer `store_unavailable` and stop for everyone).
#[test]
fn a_commit_over_the_size_limit_fails_alone_through_the_node() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let out = interstice(&["publish", &log, &wasm("hello")], None);
    assert!(out.status.success(), "{}", text(&out));
    let node = Serving::start(&log, &["--max-commit-size", "150000"], None);
    let big = format!("[\"{}\"]", "x".repeat(100_000));
    let out = interstice(&["call", "--node", &node.url, "hello.hello", &big], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("limit_exceeded") || text(&out).contains("commit size"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("maximum 150000"), "{}", text(&out));
    let out = interstice(
        &["call", "--node", &node.url, "hello.hello", "[\"ada\"]"],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = interstice(&["query", "--node", &node.url, "hello.greetings"], None);
    assert!(text(&out).contains("Hello, ada!"), "{}", text(&out));
    assert!(!text(&out).contains("xxxx"), "{}", text(&out));
}
