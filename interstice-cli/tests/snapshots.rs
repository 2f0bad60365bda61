//! Snapshots from the command line: `interstice snapshot`, the policy
//! flags, and opening from the newest usable snapshot.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::wasm;

/// The policy variables (`INTERSTICE_SNAPSHOT_EVERY_COMMITS`...) can turn
/// snapshots on for a whole test run; these tests set their own.
const POLICY_VARIABLES: [&str; 5] = [
    "INTERSTICE_SNAPSHOT_EVERY_COMMITS",
    "INTERSTICE_SNAPSHOT_EVERY_BYTES",
    "INTERSTICE_SNAPSHOT_EVERY",
    "INTERSTICE_RETAIN_SNAPSHOTS",
    "INTERSTICE_RETAIN_HISTORY",
];

fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_interstice"));
    c.env_remove("AWS_ENDPOINT_URL");
    for v in POLICY_VARIABLES {
        c.env_remove(v);
    }
    c
}

fn interstice(args: &[&str]) -> Output {
    command().args(args).output().unwrap()
}

/// Stdout, then stderr, of a command that must succeed.
fn ok(args: &[&str]) -> String {
    let out = interstice(args);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "interstice {args:?} failed:\n{text}");
    text
}

fn snapshots(log: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(log.join("snapshots"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn snapshots_are_taken_used_and_passed_over_when_damaged() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("log");
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    for name in ["a", "b", "c"] {
        ok(&["call", log, "hello.hello", &format!("[\"{name}\"]")]);
    }
    let all_rows = ok(&["query", log, "hello.greetings", "--no-snapshots"]);
    assert!(all_rows.contains("(3 rows)"), "{all_rows}");

    let out = ok(&["snapshot", log]);
    assert!(out.contains("snapshot at offset 6"), "{out}");
    assert!(out.contains("3 rows"), "{out}");
    assert_eq!(snapshots(&dir), ["00000000000000000006.snap"]);
    let out = ok(&["snapshot", log]);
    assert!(out.contains("nothing to snapshot"), "{out}");

    let out = ok(&["replay", log]);
    assert!(
        out.contains("from the snapshot at offset 6: 0 commits"),
        "{out}"
    );
    assert_eq!(ok(&["query", log, "hello.greetings"]), all_rows);
    let out = ok(&["replay", log, "--no-snapshots"]);
    assert!(!out.contains("from the snapshot"), "{out}");

    // A command that writes the log takes a snapshot when the policy says.
    // The call commits twice (hello.hello at 7, its subscriber
    // on_greeting at 8): with a snapshot every 2 commits the one snapshot
    // is at 8, whether the background task or the command's exit takes it
    // (every 1 commit would race: a snapshot at 7 only when the background
    // task runs between the two commits).
    ok(&[
        "call",
        log,
        "hello.hello",
        "[\"d\"]",
        "--snapshot-every-commits",
        "2",
    ]);
    let taken = snapshots(&dir);
    assert_eq!(
        taken,
        ["00000000000000000006.snap", "00000000000000000008.snap"]
    );
    let out = ok(&["replay", log, "--to-offset", "7"]);
    assert!(out.contains("from the snapshot at offset 6"), "{out}");

    let out = ok(&["check-log", log, "--snapshots"]);
    assert!(out.contains("snapshot 6 ("), "{out}");
    assert!(
        out.contains("matches a replay from the start of the log"),
        "{out}"
    );
    assert!(
        out.contains("matches a replay from the snapshot at 6"),
        "{out}"
    );

    // The newest snapshot damaged: passed over with a warning naming it.
    let newest = dir.join("snapshots").join(&taken[1]);
    let mut bytes = std::fs::read(&newest).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(&newest, bytes).unwrap();
    let out = ok(&["replay", log]);
    assert!(out.contains("from the snapshot at offset 6"), "{out}");
    assert!(out.contains("checksum mismatch"), "{out}");
    let out = ok(&["query", log, "hello.greetings"]);
    assert!(out.contains("(4 rows)"), "{out}");
    let out = interstice(&["check-log", log, "--snapshots"]);
    assert!(!out.status.success(), "a damaged snapshot fails the check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("BAD: damaged snapshot"), "{text}");
    // Strict recovery refuses instead.
    let out = interstice(&["replay", log, "--recovery", "strict"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("snapshot") && err.contains("strict"), "{err}");
}

#[test]
fn retention_flags_bound_the_log_and_opening_still_sees_everything() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("log");
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    for i in 0..6 {
        ok(&[
            "call",
            log,
            "hello.hello",
            &format!("[\"n{i}\"]"),
            "--snapshot-every-commits",
            "2",
            "--retain-snapshots",
            "2",
        ]);
    }
    let kept = snapshots(&dir);
    assert_eq!(kept.len(), 2, "{kept:?}");
    // A single segment is never removed; the start stays at 0 here, but the
    // snapshots beyond two are gone.
    let out = ok(&["query", log, "hello.greetings"]);
    assert!(out.contains("(6 rows)"), "{out}");
    let out = ok(&["snapshot", log, "--retain-snapshots", "1"]);
    assert!(out.contains("retention: the log starts at offset"), "{out}");
    assert_eq!(snapshots(&dir).len(), 1);
    // --retain-history needs --retain-snapshots.
    let out = interstice(&["snapshot", log, "--retain-history", "10"]);
    assert!(!out.status.success());
}

/// Runs `interstice` with Garage's address and test credentials.
fn with_garage(args: &[&str]) -> Output {
    let mut all = args.to_vec();
    all.extend([
        "--s3-endpoint",
        "http://127.0.0.1:3900",
        "--s3-region",
        "garage",
        "--s3-single-writer",
    ]);
    command()
        .args(&all)
        .env("AWS_ACCESS_KEY_ID", "GK0123456789abcdef01234567")
        .env(
            "AWS_SECRET_ACCESS_KEY",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .output()
        .unwrap()
}

fn garage_ok(args: &[&str]) -> String {
    let out = with_garage(args);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "interstice {args:?} failed:\n{text}");
    text
}

#[test]
fn a_backup_taken_while_a_node_writes_goes_to_s3_and_restores_to_disk() {
    assert!(
        std::net::TcpStream::connect("127.0.0.1:3900").is_ok(),
        "Garage is not running at 127.0.0.1:3900: start it with scripts/s3-servers.sh start (scripts/test.sh does it)"
    );
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("log");
    let log = dir.to_str().unwrap();
    ok(&["publish", log, &wasm("hello")]);
    let node = common::Serving::start(log, &[], None);
    let call = |name: &str| {
        ok(&[
            "call",
            "--node",
            &node.url,
            "hello.hello",
            &format!("[\"{name}\"]"),
        ]);
    };
    for i in 0..5 {
        call(&format!("early{i}"));
    }
    // Both read the log while the node holds it.
    ok(&["snapshot", log]);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let remote = format!("s3://interstice-test/backup-{nanos}");
    let out = garage_ok(&["backup", log, &remote]);
    assert!(out.contains("from the snapshot of"), "{out}");
    for i in 0..3 {
        call(&format!("late{i}"));
    }
    let out = garage_ok(&["backup", log, &remote]);
    assert!(!out.contains("from the snapshot of"), "incremental: {out}");
    assert!(!out.contains("copied 0 commits"), "{out}");
    let (stopped, _) = node.terminate();
    assert!(stopped);

    let restored = t.path().join("restored");
    let restored = restored.to_str().unwrap();
    garage_ok(&["restore", &remote, restored]);
    let expected = ok(&["query", log, "hello.greetings", "--format", "csv"]);
    assert!(expected.contains("late2"), "{expected}");
    assert_eq!(
        ok(&["query", restored, "hello.greetings", "--format", "csv"]),
        expected
    );
    // A restore never writes over a log.
    let out = with_garage(&["restore", &remote, restored]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already holds a log"));
}

#[test]
fn a_log_whose_beginning_was_removed_still_inspects_dumps_and_checks() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("log");
    let log = dir.to_str().unwrap();
    let small = ["--segment-size", "200", "--durability", "none"];
    let with = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(small);
        ok(&all)
    };
    with(&["publish", log, &wasm("hello")]);
    for i in 0..8 {
        with(&["call", log, "hello.hello", &format!("[\"n{i}\"]")]);
    }
    with(&["snapshot", log, "--retain-snapshots", "1"]);
    let out = ok(&["check-log", log]);
    assert!(out.contains("it starts at offset"), "{out}");
    assert!(out.contains("every frame is valid"), "{out}");
    // Opening goes through the snapshot; the state is whole.
    let out = ok(&["query", log, "hello.greetings"]);
    assert!(out.contains("(8 rows)"), "{out}");
    let out = ok(&["log-inspect", log]);
    assert!(out.contains("starts at offset"), "{out}");
    let out = ok(&["log-dump", log, "--format", "json"]);
    assert!(out.contains("schemas of the snapshot"), "{out}");
    let out = ok(&["replay-check", log]);
    assert!(out.contains("checked from a snapshot"), "{out}");
    let out = ok(&["schema", log]);
    assert!(out.contains("hello"), "{out}");
    // Without the snapshot, opening names what is missing.
    std::fs::remove_dir_all(dir.join("snapshots")).unwrap();
    let out = interstice(&["query", log, "hello.greetings"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("the log starts at offset"), "{err}");
}
