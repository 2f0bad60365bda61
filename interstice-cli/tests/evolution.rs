//! Evolving a module from the command line, on a disk log and on an S3
//! log (Garage): `schema-diff` lists the changes, `publish --dry-run`
//! shows what the log's rows would become and writes nothing, `publish`
//! carries the rows over (or runs the migration: `modules/ledger`), and a
//! replay agrees.

mod common;

use std::process::Output;

use common::{OnS3, s3_log_name, text};
use interstice_testkit::evolving::{self, v1, v2, v3};
use interstice_testkit::s3::GARAGE;

/// The three versions (and a breaking one) as files in `dir`.
fn files(dir: &std::path::Path) -> [String; 4] {
    let mut breaking = v1();
    breaking.version.minor = 9;
    breaking.tables[1].columns.pop();
    [v1(), v2(), v3(), breaking].map(|schema| {
        let path = dir.join(format!("counter-{}.wasm", schema.version));
        std::fs::write(&path, evolving::wasm(&schema)).unwrap();
        path.display().to_string()
    })
}

/// The whole story against `log`, each command run by `run`.
fn story(log: &str, run: &dyn Fn(&[&str]) -> Output) {
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let [v1, v2, v3, breaking] = files(dir.path());
    ok(&["publish", log, &v1]);
    for n in ["[3]", "[7]"] {
        ok(&["call", log, "counter.add", n]);
    }

    let diff = ok(&["schema-diff", &v1, &v2]);
    for expected in [
        "[compatible] table `counters`: column `n` renamed to `count`",
        "[compatible] table `counters`: column `label: String` added, existing rows take its default \"none\"",
        "[compatible] table `seen` renamed to `observed`",
    ] {
        assert!(diff.contains(expected), "{diff}");
    }

    let plan = ok(&["publish", "--dry-run", log, &v2]);
    for expected in [
        "dry run: nothing is written",
        "module counter: new version",
        "column `n` renamed to `count`",
        "  counters: 2 rows -> 2 rows",
        "  observed: 0 rows -> 0 rows",
    ] {
        assert!(plan.contains(expected), "{plan}");
    }
    let schema = ok(&["schema", log]);
    assert!(
        schema.contains("seen"),
        "the dry run wrote nothing: {schema}"
    );
    let out = run(&["publish", "--dry-run", log, &breaking]);
    assert!(!out.status.success());
    let said = text(&out);
    assert!(said.contains("would be refused"), "{said}");
    assert!(
        said.contains("column `n` dropped (raise the table's version to drop it)"),
        "{said}"
    );

    ok(&["publish", log, &v2]);
    let rows = ok(&["query", log, "counter.counters", "--format", "csv"]);
    assert_eq!(rows, "id,count,label\n1,3,none\n2,7,none\n");
    let plan = ok(&["publish", "--dry-run", log, &v3]);
    assert!(
        plan.contains("  observed: dropped with its 0 rows"),
        "{plan}"
    );
    ok(&["publish", log, &v3]);
    let rows = ok(&["query", log, "counter.counters", "--format", "csv"]);
    assert_eq!(rows, "id,count\n1,3\n2,7\n");
    let out = run(&["query", log, "counter.observed"]);
    assert!(!out.status.success(), "the table is gone");
    ok(&["replay", log]);
    ok(&["call", log, "counter.add", "[9]"]);
    let rows = ok(&["query", log, "counter.counters", "--format", "csv"]);
    assert_eq!(rows, "id,count\n1,3\n2,7\n3,9\n");
}

/// `modules/ledger` through its three versions against `log`: the
/// migration's plan, its dry run, the publish, and `replay-check`.
fn ledger_story(log: &str, run: &dyn Fn(&[&str]) -> Output) {
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}:\n{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let [v1, v2, v3] = ["ledger_v1", "ledger_v2", "ledger_v3"]
        .map(|name| interstice_testkit::built::path(name).display().to_string());
    ok(&["publish", log, &v1]);
    ok(&["call", log, "ledger.open", r#"["Ada King Lovelace", 100]"#]);
    ok(&["call", log, "ledger.open", r#"["Grace Hopper", 50]"#]);

    // v3 reads the rows as 1.1.0 leaves them: against 1.0.0 it is refused.
    let out = run(&["publish", "--dry-run", log, &v3]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("migration `split_owner` reads version 1 rows as (id: u64, owner: String, balance: i64, currency: String), but the published table's are (id: u64, owner: String, balance: i64)"),
        "{}",
        text(&out)
    );
    ok(&["publish", log, &v2]);
    ok(&["call", log, "ledger.set_currency", r#"[2, "USD"]"#]);

    let diff = ok(&["schema-diff", &v2, &v3]);
    for expected in [
        "[compatible] version 1.1.0 -> 2.0.0",
        "[compatible] table `accounts` renamed to `wallets`",
        "[compatible] table `wallets`: version 1 -> 2",
        "[compatible] table `wallets`: migration `split_owner` rewrites the rows of `accounts` version 1",
        "[compatible] table `wallets`: column `owner` dropped",
        "[compatible] table `wallets`: column `first_name: String` added (the migration writes it; breaking without the migration)",
        "[compatible] migration reducer `split_owner` added (it runs once, in the publish's commit)",
    ] {
        assert!(diff.contains(expected), "{diff}");
    }
    let plan = ok(&["publish", "--dry-run", log, &v3]);
    for expected in [
        "dry run: nothing is written",
        "  wallets: 2 rows -> 2 rows",
        "ran migration split_owner of wallets from version 1: read 2 rows, wrote 2 mutations",
        "  migration log: ledger 2.0.0: split the owners of 2 accounts",
    ] {
        assert!(plan.contains(expected), "{plan}");
    }
    let rows = ok(&["query", log, "ledger.accounts", "--format", "csv"]);
    assert_eq!(
        rows, "id,owner,balance,currency\n1,Ada King Lovelace,100,EUR\n2,Grace Hopper,50,USD\n",
        "the dry run wrote nothing"
    );

    let published = ok(&["publish", log, &v3]);
    assert!(
        published.contains(
            "ran migration split_owner of wallets from version 1: read 2 rows, wrote 2 mutations"
        ),
        "{published}"
    );
    let wallets = "id,first_name,last_name,balance,currency\n1,Ada,King Lovelace,100,EUR\n2,Grace,Hopper,50,USD\n";
    let rows = ok(&["query", log, "ledger.wallets", "--format", "csv"]);
    assert_eq!(rows, wallets);
    let checked = ok(&["replay-check", log]);
    assert!(
        checked.contains("each reproducing the logged mutations"),
        "{checked}"
    );
    ok(&["replay", log]);
    let rows = ok(&["query", log, "ledger.wallets", "--format", "csv"]);
    assert_eq!(rows, wallets, "a restart agrees");

    let removed = ok(&["unpublish", log, "ledger"]);
    assert!(
        removed.contains("  wallets: 2 rows dropped (the log keeps their history)"),
        "{removed}"
    );
    let out = run(&["query", log, "ledger.wallets"]);
    assert!(!out.status.success(), "the module is gone");
    ok(&["replay-check", log]);
}

#[test]
fn the_ledger_migrates_on_a_disk_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    ledger_story(&log, &|args| common::interstice(args, None));
}

#[test]
fn the_ledger_migrates_on_an_s3_log() {
    let on = OnS3::server(GARAGE);
    let log = s3_log_name("ledger");
    ledger_story(&log, &|args| {
        on.run(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    });
}

#[test]
fn a_module_evolves_on_a_disk_log() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    story(&log, &|args| common::interstice(args, None));
}

#[test]
fn a_module_evolves_on_an_s3_log() {
    let on = OnS3::server(GARAGE);
    let log = s3_log_name("evolution");
    story(&log, &|args| {
        on.run(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    });
}

/// A node swaps a module's version while callers keep calling: every call
/// commits (none lost to the swap), the swap is one commit among theirs,
/// and later calls run on the new version.
#[test]
fn a_node_swaps_a_version_under_concurrent_callers() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    let [v1_path, ..] = files(dir.path());
    // A compatible version `add` still fits: an index on `seen`.
    let mut next = v1();
    next.version.minor = 5;
    next.tables[1]
        .indexes
        .push(interstice_abi::IndexSchema::new("by_n", vec![1], false));
    let next_path = dir.path().join("counter-next.wasm");
    std::fs::write(&next_path, evolving::wasm(&next)).unwrap();
    let next_path = next_path.display().to_string();
    let out = common::interstice(&["publish", &log, &v1_path], None);
    assert!(out.status.success(), "{}", text(&out));

    let node = common::Serving::start(&log, &[], None);
    let url = node.url.clone();
    let callers: Vec<_> = (0..4)
        .map(|t| {
            let url = url.clone();
            std::thread::spawn(move || {
                for i in 0..5 {
                    let n = format!("[{}]", 10 * t + i);
                    let out =
                        common::interstice(&["call", "--node", &url, "counter.add", &n], None);
                    assert!(out.status.success(), "{}", text(&out));
                }
            })
        })
        .collect();
    let out = common::interstice(&["publish", "--node", &url, &next_path], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("table `seen`: index `by_n` added"),
        "{}",
        text(&out)
    );
    for c in callers {
        c.join().unwrap();
    }
    let out = common::interstice(&["call", "--node", &url, "counter.add", "[99]"], None);
    assert!(out.status.success(), "{}", text(&out));
    let (stopped, said) = node.terminate();
    assert!(stopped, "{said}");

    let rows = common::interstice(
        &["query", &log, "counter.counters", "--format", "csv"],
        None,
    );
    let rows = String::from_utf8_lossy(&rows.stdout).into_owned();
    assert_eq!(rows.lines().count(), 1 + 21, "every call committed: {rows}");
    let schema = common::interstice(&["schema", &log], None);
    assert!(text(&schema).contains("1.5.0"), "{}", text(&schema));
    // The module's two records and the calls between and around them.
    let dump = common::interstice(&["log-dump", &log, "--format", "csv"], None);
    let publishes = text(&dump).matches("@publish").count();
    assert_eq!(publishes, 2, "{}", text(&dump));

    // Unpublished through a node, with the admin token it needs.
    let node = common::Serving::start(&log, &[], None);
    let out = common::interstice(&["unpublish", "--node", &node.url, "nobody"], None);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("404 Not Found: no module `nobody`"),
        "{}",
        text(&out)
    );
    let out = common::interstice(&["unpublish", "--node", &node.url, "counter"], None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("counters: 21 rows dropped"),
        "{}",
        text(&out)
    );
    let (stopped, said) = node.terminate();
    assert!(stopped, "{said}");
    let schema = common::interstice(&["schema", &log], None);
    assert!(!text(&schema).contains("counter"), "{}", text(&schema));
}
