//! `interstice trace`: the call chains of a session, from the log and from
//! a node, read back as a viewer reads them (a strict trace-event reader)
//! and as nested JSON. The session: a chat with a mention (a client call
//! and the subscription it triggers), and `caller.greet` (a client call,
//! the cross-module call to `hello.hello` inside it, and the subscription
//! on `hello.greetings` that the greeting triggers).

mod common;

use common::{Serving, interstice, text, wasm};
use interstice_testkit::trace_events;
use serde_json::Value;

fn ok(args: &[&str]) -> String {
    let out = interstice(args, None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A log holding the session; the offset of `caller.greet`'s commit.
fn session(log: &str) -> u64 {
    for m in ["hello", "caller", "chat"] {
        ok(&["publish", log, &wasm(m)]);
    }
    ok(&["call", log, "chat.register", r#"["ada"]"#]);
    ok(&["call", log, "chat.register", r#"["bob"]"#]);
    ok(&["call", log, "chat.send", r#"["bob", "general", "hi @ada"]"#]);
    let out = ok(&["call", log, "caller.greet", r#"["cy"]"#]);
    out.lines()
        .find_map(|l| l.strip_prefix("committed at offset "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .parse()
        .unwrap()
}

/// Checks the Chrome trace of the session as a viewer draws it.
fn check_chrome(trace: &str, greet_offset: u64) {
    let t = trace_events::parse(trace).unwrap();
    // caller.greet, with hello.hello nested in it.
    let greet = t.named("caller.greet");
    assert_eq!(greet.len(), 1, "{:#?}", t.slices);
    let greet = greet[0];
    assert_eq!(t.slices[greet].args["offset"], greet_offset);
    assert_eq!(t.slices[greet].cat, "client");
    let inside = t.children(greet);
    assert_eq!(inside.len(), 1);
    assert_eq!(t.slices[inside[0]].name, "hello.hello");
    assert_eq!(t.slices[inside[0]].cat, "reducer");
    // The greeting's subscription, an arrow away from it.
    let sub = t.named("hello.on_greeting");
    let from_greet: Vec<usize> = t
        .flows
        .iter()
        .filter(|(from, _)| *from == greet)
        .map(|(_, to)| *to)
        .collect();
    assert_eq!(from_greet.len(), 1, "{:?}", t.flows);
    assert!(sub.contains(&from_greet[0]));
    assert_eq!(t.slices[from_greet[0]].cat, "subscription");
    assert_eq!(t.slices[from_greet[0]].args["cause"], greet_offset);
    // The message, and the mention it triggered.
    let send = t.named("chat.send")[0];
    let mention = t.named("chat.find_mentions")[0];
    assert!(t.flows.contains(&(send, mention)), "{:?}", t.flows);
    assert!(t.names.iter().any(|n| n == "reducer calls"));
}

#[test]
fn a_session_traces_as_call_chains() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let greet = session(log);

    let file = dir.path().join("trace.json");
    ok(&["trace", log, "-o", file.to_str().unwrap()]);
    check_chrome(&std::fs::read_to_string(&file).unwrap(), greet);

    // As JSON: the chain of greet, with its call and its subscription.
    let json: Value = serde_json::from_str(&ok(&["trace", log, "--format", "json"])).unwrap();
    let chains = json["chains"].as_array().unwrap();
    let chain = chains
        .iter()
        .find(|c| c["reducer"] == "greet")
        .expect("greet's chain");
    assert_eq!(chain["caller"], "client");
    assert_eq!(chain["timed"], true);
    assert_eq!(chain["rows_written"], 2);
    assert_eq!(chain["calls"][0]["module"], "hello");
    assert_eq!(chain["calls"][0]["caller"], "reducer");
    assert!(chain["calls"][0]["started_us"].as_u64() >= chain["started_us"].as_u64());
    let triggered = chain["triggered"].as_array().unwrap();
    assert_eq!(triggered.len(), 1);
    assert_eq!(triggered[0]["reducer"], "on_greeting");
    assert_eq!(triggered[0]["cause"], greet);

    // Filters keep whole chains: the greeting's, by a reducer inside it.
    let json: Value = serde_json::from_str(&ok(&[
        "trace",
        log,
        "--format",
        "json",
        "--module",
        "hello",
        "--reducer",
        "hello",
    ]))
    .unwrap();
    let only: Vec<&Value> = json["chains"].as_array().unwrap().iter().collect();
    assert_eq!(only.len(), 1, "{json}");
    assert_eq!(only[0]["reducer"], "greet");
    // A range that starts after greet: its subscription is a root, and
    // says where it came from.
    let from = (greet + 1).to_string();
    let json: Value =
        serde_json::from_str(&ok(&["trace", log, "--format", "json", "--from", &from])).unwrap();
    assert_eq!(json["chains"][0]["reducer"], "on_greeting");
    assert_eq!(json["chains"][0]["cause"], greet);

    // The same from a node serving the log.
    let node = Serving::start(log, &[], None);
    let out = ok(&["trace", "--node", &node.url]);
    check_chrome(&out, greet);
    let (clean, _) = node.terminate();
    assert!(clean);
}

#[test]
fn bad_trace_requests_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    let out = interstice(&["trace", "--format", "svg", log], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("chrome"), "{}", text(&out));
    let out = interstice(&["trace"], None);
    assert_eq!(out.status.code(), Some(2));
    // No log there: said so, and none is created.
    let out = interstice(&["trace", log], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("no log at"), "{}", text(&out));
    assert!(!std::path::Path::new(log).exists());
}

/// On an `s3://` log (Garage): the same chain, and the graph's counts.
#[test]
fn traces_and_graphs_read_s3_logs_too() {
    use common::{OnS3, s3_log_name};
    let on = OnS3::server(interstice_testkit::s3::GARAGE);
    let log = s3_log_name("trace-s3");
    let run = |args: &[&str]| {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let out = on.run(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    for m in ["hello", "caller"] {
        run(&["publish", &log, &wasm(m)]);
    }
    run(&["call", &log, "caller.greet", r#"["ada"]"#]);
    let json: Value = serde_json::from_str(&run(&["trace", &log, "--format", "json"])).unwrap();
    let chain = json["chains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["reducer"] == "greet")
        .expect("greet's chain")
        .clone();
    assert_eq!(chain["calls"][0]["reducer"], "hello");
    assert_eq!(chain["triggered"][0]["reducer"], "on_greeting");
    let dot = run(&["graph", &log, "--format", "dot"]);
    assert!(
        dot.contains(r#""reducer:caller.greet" -> "reducer:hello.hello" [label="calls ×1""#),
        "{dot}"
    );
}
