//! The CLI as a new user met it (issue 13, items 11–15): nothing created by
//! a command that fails on its input, each thing said once, no colour codes
//! in a pipe, a row limit, and the size a log really uses.

mod common;

use std::path::PathBuf;

use common::{interstice, text, wasm};

fn log_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("log");
    (t, p)
}

fn ok(args: &[&str]) -> String {
    let out = interstice(args, None);
    assert!(out.status.success(), "interstice {args:?}:\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn publishing_a_bad_module_creates_no_log() {
    let (t, dir) = log_dir();
    let bad = t.path().join("not-a-module.wasm");
    std::fs::write(&bad, b"not wasm at all").unwrap();
    let out = interstice(
        &["publish", dir.to_str().unwrap(), bad.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("not a valid WebAssembly module"),
        "{}",
        text(&out)
    );
    assert!(
        !dir.exists(),
        "a failed publish left {} behind",
        dir.display()
    );
}

#[test]
fn an_error_line_says_each_thing_once() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    let out = interstice(&["call", log, "hello.hello", "[1]"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("expected String, found 1").count(), 1, "{err}");
    // A store error with an OS error as its source.
    let file = dir.join("LOCK");
    let out = interstice(&["query", file.to_str().unwrap(), "hello.greetings"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    for line in err.lines() {
        let parts: Vec<&str> = line.split(": ").collect();
        for (i, p) in parts.iter().enumerate() {
            assert!(
                !parts[i + 1..].contains(p) || p.len() < 8,
                "`{p}` said twice in: {line}"
            );
        }
    }
}

#[test]
fn diagnostics_in_a_pipe_have_no_colour_codes() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    ok(&["call", log, "hello.hello", r#"["ada"]"#]);
    // Garbage after the last frame: a torn tail, which a read-only query
    // reports with a warning (on stderr, a pipe here).
    let segment = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    let end = bytes.len() - bytes.iter().rev().take_while(|&&b| b == 0).count();
    bytes[end + 1] = 0x5a;
    std::fs::write(&segment, &bytes).unwrap();
    let out = interstice(&["query", log, "hello.greetings"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid tail"), "{err}");
    assert!(!err.contains('\x1b'), "colour codes in a pipe: {err:?}");
}

#[test]
fn query_takes_a_limit_and_check_log_counts_the_bytes_in_use() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    for name in ["a", "b", "c"] {
        ok(&["call", log, "hello.hello", &format!(r#"["{name}"]"#)]);
    }
    let out = interstice(
        &[
            "query",
            log,
            "hello.greetings",
            "--limit",
            "2",
            "--format",
            "json",
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("only the first 2 rows"));

    // The segment file is zero-filled ahead (1 MiB); the commits use far less.
    let report = ok(&["check-log", log]);
    let bytes: u64 = report
        .split(" bytes")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no byte count in {report}"));
    let module = std::fs::metadata(wasm("hello")).unwrap().len();
    assert!(bytes > module && bytes < module + 4096, "{report}");
}

#[test]
fn an_s3_log_without_credentials_says_where_it_looked() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_interstice"))
        .args(["query", "s3://bucket/log", "hello.greetings"])
        .args([
            "--s3-endpoint",
            "http://127.0.0.1:9",
            "--s3-region",
            "garage",
        ])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env_remove("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .env_remove("AWS_SKIP_SIGNATURE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no S3 credentials for s3://bucket/log"),
        "{err}"
    );
    assert!(err.contains("--s3-instance-credentials"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}
