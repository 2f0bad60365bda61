//! Reading the past from the command line: `query --at` and `diff`, on a
//! disk log and through a node.

mod common;

use common::{text, wasm};

fn ok(args: &[&str]) -> String {
    let out = common::interstice(args, None);
    assert!(out.status.success(), "{args:?}:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn query_at_and_diff_read_the_past() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let module = wasm("test_persistence");
    ok(&["publish", &log, &module]);
    ok(&["call", &log, "test_persistence.open", r#"[1, "ada", 100]"#]);
    ok(&["call", &log, "test_persistence.open", r#"[2, "bob", 50]"#]);
    ok(&["call", &log, "test_persistence.transfer", "[1, 2, 30]"]);

    let rows = ok(&[
        "query",
        &log,
        "test_persistence.accounts",
        "--at",
        "1",
        "--format",
        "csv",
    ]);
    assert_eq!(rows, "id,owner,balance,tags\n1,ada,100,\"[\"\"new\"\"]\"\n");
    let out = common::interstice(
        &["query", &log, "test_persistence.accounts", "--at", "7"],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no commit 7 in the log: its last commit is 3"),
        "{}",
        text(&out)
    );

    let diff = ok(&[
        "diff",
        &log,
        "--from",
        "1",
        "--to",
        "3",
        "--table",
        "test_persistence.accounts",
    ]);
    assert_eq!(
        diff,
        "test_persistence.accounts (id, owner, balance, tags):\n  \
         ~ (1, \"ada\", 100, [\"new\"]) -> (1, \"ada\", 70, [\"new\"])\n  \
         + (2, \"bob\", 80, [\"new\"])\n"
    );
    let json = ok(&["diff", &log, "--from", "2", "--format", "json"]);
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let accounts: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["table"] == "test_persistence.accounts")
        .collect();
    assert_eq!(accounts.len(), 2, "{json}");
    assert_eq!(accounts[0]["change"], "update");
    assert_eq!(accounts[0]["old"]["balance"], 100);
    assert_eq!(accounts[0]["row"]["balance"], 70);
    let none = ok(&["diff", &log, "--from", "3", "--to", "3"]);
    assert_eq!(none, "no row changed from offset 3 to 3\n");

    // Through a node, the same past.
    let node = common::Serving::start(&log, &[], None);
    let rows = ok(&[
        "query",
        "--node",
        &node.url,
        "test_persistence.accounts",
        "--at",
        "2",
        "--format",
        "csv",
    ]);
    assert_eq!(
        rows,
        "id,owner,balance,tags\n1,ada,100,\"[\"\"new\"\"]\"\n2,bob,50,\"[\"\"new\"\"]\"\n"
    );
    let (stopped, said) = node.terminate();
    assert!(stopped, "{said}");
}
