//! The `interstice` binary end to end on the built example modules
//! (`scripts/build-modules.sh`; `scripts/test.sh` runs it first).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::wasm;

fn interstice(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_interstice"))
        .args(args)
        .env_remove("AWS_ENDPOINT_URL")
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = interstice(args);
    assert!(
        out.status.success(),
        "interstice {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str]) -> String {
    let out = interstice(args);
    assert!(!out.status.success(), "interstice {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout)
}

/// The disk log's (only) segment file.
fn segment_file(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap()
}

fn log_dir() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("log");
    (t, p)
}

#[test]
fn publish_call_query_replay_and_check() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    let out = ok(&["publish", log, &wasm("hello")]);
    assert!(out.contains("at offset 0"), "{out}");
    let out = ok(&["call", log, "hello.hello", r#"["world"]"#]);
    assert!(out.contains("[info] greeting 1 stored"), "{out}");
    assert!(out.contains("committed at offset 1 (durable)"), "{out}");
    ok(&["call", log, "hello.hello", r#"{"name": "ada"}"#]);

    let out = ok(&["query", log, "hello.greetings"]);
    assert!(out.contains("1   Hello, world!"), "{out}");
    assert!(out.contains("(2 rows)"), "{out}");
    let out = ok(&[
        "query",
        log,
        "hello.greetings",
        "--format",
        "json",
        "--where",
        "id=2",
    ]);
    assert_eq!(out, "{\"id\":2,\"greeting\":\"Hello, ada!\"}\n");
    let out = ok(&["query", log, "hello.greetings", "--format", "csv"]);
    assert_eq!(out, "id,greeting\n1,\"Hello, world!\"\n2,\"Hello, ada!\"\n");

    let out = ok(&["replay", log]);
    assert!(out.contains("module hello 0.1.0"), "{out}");
    assert!(out.contains("greetings"), "{out}");
    // The state as of the first call: one greeting.
    let out = ok(&["replay", log, "--to-offset", "2"]);
    assert!(out.contains("1 rows"), "{out}");

    let out = ok(&["check-log", log]);
    assert!(out.contains("every frame is valid"), "{out}");
    let out = ok(&["schema", &wasm("hello")]);
    assert!(
        out.contains("reducer hello(name: String) (public)"),
        "{out}"
    );
    let out = ok(&["schema", log, "--format", "json"]);
    assert!(out.contains("\"name\": \"greetings\""), "{out}");
}

#[test]
fn mistakes_get_messages_that_name_them() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    let err = fails(&["call", log, "hello.hello", "[1]"]);
    assert!(
        err.contains("cannot call hello.hello: arguments do not fit hello(name: String)"),
        "{err}"
    );
    assert!(err.contains("name: expected String, found 1"), "{err}");
    let err = fails(&["call", log, "hello.helo"]);
    assert!(
        err.contains("no reducer `helo`; it has: hello, on_greeting"),
        "{err}"
    );
    let err = fails(&["call", log, "nope.hello"]);
    assert!(
        err.contains("no module `nope`; the log has: hello"),
        "{err}"
    );
    let err = fails(&["call", log, "hello.hello", "[oops"]);
    assert!(err.contains("the arguments are not JSON"), "{err}");
    let err = fails(&["query", log, "hello.greetings", "--where", "nme=1"]);
    assert!(
        err.contains("no column `nme`; columns: id, greeting"),
        "{err}"
    );
    let err = fails(&["query", &format!("{log}-missing"), "hello.greetings"]);
    assert!(err.contains("no log at"), "{err}");
    let err = fails(&["publish", log, "Cargo.toml"]);
    assert!(
        err.contains("cannot read Cargo.toml") || err.contains("not"),
        "{err}"
    );
    let err = fails(&["query", log, "hello.greetings", "--format", "xml"]);
    assert!(err.contains("invalid value 'xml'"), "{err}");
}

#[test]
fn check_log_lists_bad_frames_and_exits_1() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    for name in ["a", "b", "c"] {
        ok(&["call", log, "hello.hello", &format!("[\"{name}\"]")]);
    }
    // Flip a byte inside the second call's frame (the row "Hello, b!").
    let seg = segment_file(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes
        .windows(9)
        .position(|w| w == b"Hello, b!")
        .expect("the row is stored");
    bytes[at] ^= 0x20;
    std::fs::write(&seg, bytes).unwrap();
    let out = fails(&["check-log", log]);
    assert!(out.contains("bad frame: segment"), "{out}");
    assert!(out.contains("checksum stored 0x"), "{out}");
    // A node refuses to start on it (damage followed by valid commits).
    let err = fails(&["query", log, "hello.greetings"]);
    assert!(err.contains("corrupt"), "{err}");

    // Repair would drop the valid commit after the damage: asks first.
    let err = fails(&["check-log", log, "--repair"]);
    assert!(err.contains("Run again with --yes"), "{err}");
    let out = ok(&["check-log", log, "--repair", "--yes"]);
    assert!(out.contains("cut the log at offset"), "{out}");
    assert!(out.contains("quarantine"), "{out}");
    let out = ok(&["check-log", log]);
    assert!(out.contains("every frame is valid"), "{out}");
    let out = ok(&["query", log, "hello.greetings", "--format", "csv"]);
    assert_eq!(
        out, "id,greeting\n1,\"Hello, a!\"\n",
        "only the commits before the damage"
    );
    // And the log takes new commits.
    ok(&["call", log, "hello.hello", r#"["z"]"#]);
}

#[test]
fn validate_and_schema_diff_report_and_exit_1_on_problems() {
    let out = fails(&["validate", &wasm("caller")]);
    assert!(
        out.contains("depends on `hello` >= 0.1.0, which is not among the modules given"),
        "{out}"
    );
    let out = ok(&["validate", &wasm("caller"), &wasm("hello")]);
    assert!(out.contains("ok (module caller 0.1.0"), "{out}");
    let out = fails(&["validate", "Cargo.toml"]);
    assert!(
        out.contains("Cargo.toml: not a valid WebAssembly module"),
        "{out}"
    );

    // Every example module together: no subscription cycle.
    let all: Vec<String> = ["hello", "caller", "chat", "inventory", "test_persistence"]
        .iter()
        .map(|m| wasm(m))
        .collect();
    let mut args = vec!["validate"];
    args.extend(all.iter().map(String::as_str));
    ok(&args);

    // A module whose subscription may write the table it watches: the
    // cycle's path, from validate and from publish, which logs nothing.
    let (_tmp, log) = log_dir();
    let looper = log.with_file_name("looper.wasm");
    let mut schema = interstice_testkit::wasm_modules::counter_schema();
    schema.name = "looper".into();
    schema.subscriptions[0].module = "looper".into();
    let module = interstice_testkit::wasm_modules::module(
        &schema,
        interstice_testkit::wasm_modules::COUNTER_FUNCS,
    );
    std::fs::write(&looper, module).unwrap();
    let looper = looper.to_str().unwrap();
    let path = "looper.counters.insert → looper.on_counter → looper.counters.insert";
    let out = fails(&["validate", looper]);
    assert!(
        out.contains(&format!(
            "subscriptions can trigger each other in a cycle: {path}"
        )),
        "{out}"
    );
    let log = log.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    let out = fails(&["publish", log, looper]);
    assert!(out.contains(path), "{out}");
    let out = ok(&["log-inspect", log]);
    assert!(!out.contains("looper"), "nothing was logged: {out}");

    let out = ok(&["schema-diff", &wasm("hello"), &wasm("hello")]);
    assert_eq!(out, "no schema changes\n");
    let out = fails(&["schema-diff", &wasm("hello"), &wasm("chat")]);
    assert!(
        out.contains("[BREAKING] table `greetings` removed"),
        "{out}"
    );
}

/// The same commands on a log in S3 (Garage, from scripts/s3-servers.sh),
/// plus compaction.
#[test]
fn an_s3_log_works_like_a_disk_log_and_compacts() {
    assert!(
        std::net::TcpStream::connect("127.0.0.1:3900").is_ok(),
        "Garage is not running at 127.0.0.1:3900: start it with scripts/s3-servers.sh start (scripts/test.sh does it)"
    );
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let log = format!("s3://interstice-test/cli-{nanos}");
    let s3 = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "--s3-endpoint",
            "http://127.0.0.1:3900",
            "--s3-region",
            "garage",
            "--s3-single-writer",
        ]);
        Command::new(env!("CARGO_BIN_EXE_interstice"))
            .args(&all)
            .env("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567")
            .env(
                "AWS_SECRET_ACCESS_KEY",
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            )
            .output()
            .unwrap()
    };
    let run = |args: &[&str]| {
        let out = s3(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    run(&["publish", &log, &wasm("hello")]);
    for name in ["a", "b", "c", "d"] {
        run(&["call", &log, "hello.hello", &format!("[\"{name}\"]")]);
    }
    let out = run(&["compact", &log]);
    assert!(out.contains("merged"), "{out}");
    let out = run(&["query", &log, "hello.greetings", "--format", "csv"]);
    assert_eq!(
        out,
        "id,greeting\n1,\"Hello, a!\"\n2,\"Hello, b!\"\n3,\"Hello, c!\"\n4,\"Hello, d!\"\n"
    );
    let out = run(&["check-log", &log]);
    assert!(out.contains("every frame is valid"), "{out}");
}

#[test]
fn log_inspect_and_log_dump_decode_rows_with_the_logged_schema() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    ok(&["call", log, "hello.hello", r#"["world"]"#]);
    let out = ok(&["log-inspect", log]);
    assert!(out.contains("#0  "), "{out}");
    assert!(out.contains("hello.hello({\"name\":\"world\"})"), "{out}");
    assert!(
        out.contains("insert  hello.greetings {\"id\":1,\"greeting\":\"Hello, world!\"}"),
        "{out}"
    );
    assert!(
        out.contains("(caused by #1)"),
        "the subscription's commit: {out}"
    );
    let out = ok(&["log-inspect", log, "--from", "1", "--to", "1"]);
    assert_eq!(
        out.lines().filter(|l| l.starts_with('#')).count(),
        1,
        "{out}"
    );
    let err = fails(&["log-inspect", log, "--since", "yesterday"]);
    assert!(err.contains("expected a time like"), "{err}");

    let out = ok(&["log-dump", log, "--format", "json"]);
    let records: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let insert = records
        .iter()
        .find(|r| r["kind"] == "insert")
        .expect("the insert");
    assert_eq!(insert["table"], "greetings");
    assert_eq!(insert["row"]["greeting"], "Hello, world!");
    assert_eq!(records.iter().filter(|r| r["type"] == "commit").count(), 3);
    let out = ok(&["log-dump", log, "--format", "csv"]);
    assert!(out.starts_with(
        "type,offset,timestamp_us,cause,module,reducer,request_id,due_us,table,kind,index,data\n"
    ));
}

#[test]
fn replay_check_passes_on_real_modules_and_catches_an_altered_log() {
    use interstice_backend_fs::FsLogStore;
    use interstice_log::{CommitBatch, LogOptions, LogStore, LogStoreExt};

    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("test_persistence")]);
    for args in [r#"[1, "ada", 100]"#, r#"[2, "bob", 5]"#] {
        ok(&["call", log, "test_persistence.open", args]);
    }
    ok(&["call", log, "test_persistence.transfer", "[1, 2, 30]"]);
    ok(&["call", log, "test_persistence.churn", "[9]"]);
    let out = ok(&["replay-check", log]);
    assert!(out.contains("4 invocations re-executed twice"), "{out}");

    // A copy of the log whose transfer wrote a different balance, with
    // valid checksums: only re-execution can tell.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let altered = dir.with_file_name("altered");
    rt.block_on(async {
        let src = FsLogStore::open(&dir, LogOptions::default().read_only(true)).unwrap();
        let mut commits = src.read_all(0).await.unwrap();
        let transfer = commits
            .iter_mut()
            .find(|c| c.invocation.reducer == "transfer")
            .unwrap();
        let offset = transfer.offset;
        let mut row = transfer.mutations[0].row.to_vec();
        *row.iter_mut().rev().find(|b| **b != 0).unwrap() ^= 1;
        transfer.mutations[0].row = bytes::Bytes::from(row);
        let dst = FsLogStore::open(&altered, LogOptions::default().create(true)).unwrap();
        for c in &commits {
            let mut b = CommitBatch::new(c.offset);
            b.push(c).unwrap();
            dst.append(&b).await.unwrap();
        }
        assert_eq!(dst.next_offset().await.unwrap(), commits.len() as u64);
        offset
    });
    let altered = altered.to_str().unwrap();
    ok(&["check-log", altered]);
    let out = fails(&["replay-check", altered]);
    assert!(
        out.contains("divergence at offset 3: test_persistence.transfer"),
        "{out}"
    );
    assert!(
        out.contains("mutation 0: logged Update test_persistence.accounts"),
        "{out}"
    );
}

#[test]
fn a_torn_tail_is_refused_by_strict_and_repaired_without_asking() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    ok(&["call", log, "hello.hello", r#"["a"]"#]);
    ok(&["call", log, "hello.hello", r#"["c"]"#]);
    // Tear the last commits (the call and its subscription): zero from
    // the middle of the row "Hello, c!" on, as a crash mid-write would.
    let seg = segment_file(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.windows(9).position(|w| w == b"Hello, c!").unwrap() + 4;
    let end = bytes.len();
    bytes[at..end].fill(0);
    std::fs::write(&seg, bytes).unwrap();

    let err = fails(&["query", log, "hello.greetings", "--recovery", "strict"]);
    assert!(
        err.contains("invalid tail (strict recovery refuses to cut it)"),
        "{err}"
    );
    // Read-only inspection serves the whole commits before the tear.
    let out = ok(&["query", log, "hello.greetings", "--format", "csv"]);
    assert_eq!(out, "id,greeting\n1,\"Hello, a!\"\n");
    let out = fails(&["check-log", log]);
    assert!(out.contains("bad frame"), "{out}");
    // Nothing valid follows the tear: repair needs no --yes.
    ok(&["check-log", log, "--repair"]);
    let out = ok(&["check-log", log]);
    assert!(out.contains("every frame is valid"), "{out}");
    ok(&["call", log, "hello.hello", r#"["again"]"#]);
    let out = ok(&["query", log, "hello.greetings", "--format", "csv"]);
    assert_eq!(out, "id,greeting\n1,\"Hello, a!\"\n2,\"Hello, again!\"\n");

    // YAML holds what the JSON holds.
    let out = ok(&["schema", &wasm("hello"), "--format", "yaml"]);
    assert!(out.starts_with("---\nname: hello\n"), "{out}");
    let yaml: serde_json::Value = yaml_serde::from_str(&out).unwrap();
    let json = ok(&["schema", &wasm("hello"), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(yaml, json);
}

#[test]
fn publishing_runs_init_once_and_truncate_tail_recovery_cuts_a_torn_tail() {
    let (_t, dir) = log_dir();
    let log = dir.to_str().unwrap();
    let out = ok(&["publish", log, &wasm("chat")]);
    assert!(out.contains("ran init: committed at offset 1"), "{out}");
    let out = ok(&["query", log, "chat.channels", "--format", "csv"]);
    assert_eq!(out, "id,name,topic\n1,general,anything goes\n");
    // A second publish of the same version changes nothing and runs no init.
    let out = ok(&["publish", log, &wasm("chat")]);
    assert!(!out.contains("ran init"), "{out}");
    ok(&["call", log, "chat.register", r#"["ada"]"#]);

    // Tear the last commit; a writable open in truncate-tail mode cuts it,
    // says so on stderr, and goes on.
    let seg = segment_file(&dir);
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.windows(3).rposition(|w| w == b"ada").unwrap();
    let end = bytes.len();
    bytes[at..end].fill(0);
    std::fs::write(&seg, bytes).unwrap();
    let out = interstice(&[
        "call",
        log,
        "chat.register",
        r#"["bob"]"#,
        "--recovery",
        "truncate-tail",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("warning: invalid tail of the log"), "{err}");
    let out = ok(&["query", log, "chat.users", "--format", "csv"]);
    assert!(out.contains(",bob,") && !out.contains(",ada,"), "{out}");
}

/// A call made with `--request-id` is logged with it (`log-dump`,
/// `log-inspect` show it), and its retry runs nothing and says so.
#[test]
fn a_request_id_is_logged_and_a_retry_runs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    let first = ok(&[
        "call",
        log,
        "hello.hello",
        "[\"ada\"]",
        "--request-id",
        "greet-1",
    ]);
    assert!(first.contains("committed at offset"), "{first}");
    let again = ok(&[
        "call",
        log,
        "hello.hello",
        "[\"ada\"]",
        "--request-id",
        "greet-1",
    ]);
    assert!(again.contains("already committed at offset"), "{again}");
    let offset = |out: &str| {
        out.split("offset ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(offset(&first), offset(&again));
    let err = fails(&[
        "call",
        log,
        "hello.hello",
        "[\"bob\"]",
        "--request-id",
        "greet-1",
    ]);
    assert!(
        err.contains("request id `greet-1` was used by a different call"),
        "{err}"
    );

    let dump = ok(&["log-dump", log, "--format", "json"]);
    let with_id: Vec<serde_json::Value> = dump
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|r| r["request_id"] == "greet-1")
        .collect();
    assert_eq!(with_id.len(), 1, "{dump}");
    let inspect = ok(&["log-inspect", log]);
    assert_eq!(inspect.matches("[request greet-1]").count(), 1, "{inspect}");
}
