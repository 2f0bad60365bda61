//! `interstice generate`: what it writes is the client the interstice-client
//! tests run against a real node (interstice-client/tests/bindings), from
//! .wasm files, a log or a running node alike; a rerun changes nothing.
//! The TypeScript client (clients/typescript/test/generated) type-checks
//! with `tsc --strict` and runs its scenario with Node against a node.

mod common;

use std::path::{Path, PathBuf};

use common::{Serving, interstice, text, wasm};

fn checked_in() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interstice-client/tests/bindings")
}

/// Every file in `dir`, by name, with its text.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read_to_string(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

fn generate(args: &[&str]) -> String {
    generate_in("rust", args)
}

fn generate_in(lang: &str, args: &[&str]) -> String {
    let out = interstice(&[&["generate", "--lang", lang], args].concat(), None);
    assert!(out.status.success(), "{}", text(&out));
    text(&out)
}

fn typescript_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../clients/typescript")
}

/// The path of tsc (installed by scripts/test-tools.sh).
fn tsc() -> String {
    let tsc = typescript_dir().join("node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "{}: run scripts/test-tools.sh (npm ci in clients/typescript)",
        tsc.display()
    );
    tsc.to_str().unwrap().to_owned()
}

/// Compiles the runtime and the checked-in client with their tests into
/// dist/ and test-dist/, once for all the tests here (they run at once),
/// under the strict compiler options of clients/typescript/tsconfig.json
/// (strict, no unused names, exact optional properties).
fn typescript_built() {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        run_in_typescript(&tsc(), &["-p", "."]);
        run_in_typescript(&tsc(), &["-p", "test"]);
    });
}

/// Runs a program of clients/typescript; panics with its output when it
/// fails.
fn run_in_typescript(program: &str, args: &[&str]) -> String {
    let dir = typescript_dir();
    let out = std::process::Command::new(program)
        .args(args)
        .current_dir(&dir)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} (scripts/test-tools.sh installs it): {e}")
        });
    let said = text(&out);
    assert!(out.status.success(), "{program} {args:?} failed:\n{said}");
    said
}

#[test]
fn the_rust_client_is_what_generate_writes_from_modules_a_log_or_a_node() {
    let t = tempfile::tempdir().unwrap();
    let (chat, bank) = (wasm("chat"), wasm("test_persistence"));
    let from_wasm = t.path().join("wasm");
    let dir = from_wasm.to_str().unwrap();
    let said = generate(&[&bank, &chat, "-o", dir]);
    assert!(
        said.contains("chat 0.1.0, test_persistence 0.1.0: 3 written"),
        "{said}"
    );
    assert_eq!(
        files(&from_wasm),
        files(&checked_in()),
        "interstice-client/tests/bindings is out of date: regenerate it with `interstice generate --lang rust CHAT.wasm TEST_PERSISTENCE.wasm -o interstice-client/tests/bindings`"
    );
    let mtime = |p: &Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let before = mtime(&from_wasm.join("chat.rs"));
    let said = generate(&[&chat, &bank, "-o", dir]);
    assert!(said.contains("0 written, 3 unchanged"), "{said}");
    assert_eq!(mtime(&from_wasm.join("chat.rs")), before);

    // From a log, and from a node serving it: the same files.
    let log = t.path().join("log");
    let log = log.to_str().unwrap();
    for m in [&chat, &bank] {
        let out = interstice(&["publish", log, m], None);
        assert!(out.status.success(), "{}", text(&out));
    }
    let from_log = t.path().join("log-client");
    generate(&[log, "-o", from_log.to_str().unwrap()]);
    assert_eq!(files(&from_log), files(&from_wasm));
    let node = Serving::start(log, &[], None);
    let from_node = t.path().join("node-client");
    generate(&["--node", &node.url, "-o", from_node.to_str().unwrap()]);
    assert_eq!(files(&from_node), files(&from_wasm));

    // One module of several; a module that is not there is named.
    let only = t.path().join("only");
    generate(&[
        "--node",
        &node.url,
        "--module",
        "chat",
        "-o",
        only.to_str().unwrap(),
    ]);
    let names: Vec<String> = files(&only).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["chat.rs", "mod.rs"]);
    let out = interstice(
        &[
            "generate", "--lang", "rust", "--node", &node.url, "--module", "bank", "-o", "x",
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no module `bank` here; there are: chat, test_persistence"),
        "{}",
        text(&out)
    );
    node.terminate();

    // Generating for fewer modules into the same directory removes the
    // files of the ones left out (only files it wrote itself).
    std::fs::write(from_log.join("notes.rs"), "// mine\n").unwrap();
    let said = generate(&[&chat, "-o", from_log.to_str().unwrap()]);
    assert!(said.contains("removed test_persistence.rs"), "{said}");
    let names: Vec<String> = files(&from_log).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["chat.rs", "mod.rs", "notes.rs"]);
}

#[test]
fn bad_sources_are_named() {
    let t = tempfile::tempdir().unwrap();
    let out_dir = t.path().join("out");
    let out_dir = out_dir.to_str().unwrap();
    let not_wasm = t.path().join("junk.wasm");
    std::fs::write(&not_wasm, b"not a module").unwrap();
    let out = interstice(
        &[
            "generate",
            "--lang",
            "rust",
            not_wasm.to_str().unwrap(),
            "-o",
            out_dir,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("junk.wasm is not a valid Interstice module"),
        "{}",
        text(&out)
    );
    assert!(
        !Path::new(out_dir).exists(),
        "nothing written on a bad input"
    );

    let out = interstice(
        &[
            "generate",
            "--lang",
            "rust",
            "--node",
            "http://127.0.0.1:9",
            "-o",
            out_dir,
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("cannot reach the node at http://127.0.0.1:9"),
        "{}",
        text(&out)
    );

    let out = interstice(
        &["generate", "--lang", "cobol", "x.wasm", "-o", out_dir],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn the_typescript_client_type_checks_and_runs_against_a_node() {
    let t = tempfile::tempdir().unwrap();
    let (chat, bank) = (wasm("chat"), wasm("test_persistence"));
    let fresh = t.path().join("ts");
    let said = generate_in("typescript", &[&chat, &bank, "-o", fresh.to_str().unwrap()]);
    assert!(said.contains("3 written"), "{said}");
    assert_eq!(
        files(&fresh),
        files(&typescript_dir().join("test/generated")),
        "clients/typescript/test/generated is out of date: regenerate it with `interstice generate --lang typescript CHAT.wasm TEST_PERSISTENCE.wasm -o clients/typescript/test/generated`"
    );
    let said = generate_in("typescript", &[&chat, &bank, "-o", fresh.to_str().unwrap()]);
    assert!(said.contains("0 written, 3 unchanged"), "{said}");

    typescript_built();
    let said = run_in_typescript("node", &["test-dist/test/json.test.js"]);
    assert!(said.contains("json and codecs: ok"), "{said}");

    let log = t.path().join("log");
    let log = log.to_str().unwrap();
    for m in [&chat, &bank] {
        let out = interstice(&["publish", log, m], None);
        assert!(out.status.success(), "{}", text(&out));
    }
    let node = Serving::start(log, &[], None);
    let said = run_in_typescript("node", &["test-dist/test/scenario.js", &node.url]);
    assert!(said.contains("scenario: ok"), "{said}");
    let (clean, stderr) = node.terminate();
    assert!(clean, "{stderr}");
}

/// Lines of `new` that `old` does not have.
fn added(old: &str, new: &str) -> Vec<String> {
    let old: Vec<&str> = old.lines().collect();
    new.lines()
        .filter(|l| !old.contains(l))
        .map(str::to_owned)
        .collect()
}

/// chat 0.1.0 → 0.2.0 (an optional column on `channels`) through a node:
/// generating again changes the header, the version and the row type's new
/// field, nothing else, and the new TypeScript type-checks (here against a
/// runtime imported by path, `--ts-runtime`).
#[test]
fn a_compatible_schema_change_regenerates_cleanly() {
    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let log = log.to_str().unwrap();
    let out = interstice(&["publish", log, &wasm("chat")], None);
    assert!(out.status.success(), "{}", text(&out));
    let node = Serving::start(log, &[], None);
    let runtime = typescript_dir().join("src/index.js");
    let runtime = runtime.to_str().unwrap();
    let gen_both = |name: &str| {
        let rust = t.path().join(format!("{name}-rs"));
        let ts = t.path().join(format!("{name}-ts"));
        generate(&["--node", &node.url, "-o", rust.to_str().unwrap()]);
        generate_in(
            "typescript",
            &[
                "--node",
                &node.url,
                "--ts-runtime",
                runtime,
                "-o",
                ts.to_str().unwrap(),
            ],
        );
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap();
        (read(rust.join("chat.rs")), read(ts.join("chat.ts")), ts)
    };
    let (old_rs, old_ts, _) = gen_both("old");
    let out = interstice(&["publish", "--node", &node.url, &wasm("chat_next")], None);
    assert!(out.status.success(), "{}", text(&out));
    let (new_rs, new_ts, ts_dir) = gen_both("new");
    node.terminate();

    let rs = added(&old_rs, &new_rs);
    assert!(
        rs.contains(&"    pub archived: Option<bool>,".to_owned()),
        "{rs:#?}"
    );
    assert!(
        rs.iter()
            .all(|l| l.contains("0.2.0") || l.contains("archived")),
        "{rs:#?}"
    );
    let ts = added(&old_ts, &new_ts);
    assert!(
        ts.contains(&"  archived: boolean | null;".to_owned()),
        "{ts:#?}"
    );
    assert!(
        ts.iter()
            .all(|l| l.contains("0.2.0") || l.contains("archived")),
        "{ts:#?}"
    );

    let tsconfig = serde_json::json!({
        "extends": typescript_dir().join("tsconfig.json"),
        // Its files and the runtime they import by path, checked together.
        "compilerOptions": {"rootDir": "/", "noEmit": true},
        "include": ["."],
    });
    std::fs::write(ts_dir.join("tsconfig.json"), tsconfig.to_string()).unwrap();
    run_in_typescript(&tsc(), &["-p", ts_dir.to_str().unwrap()]);
}

/// The TypeScript subscription across a node restart (test/reconnect.ts):
/// the node stops, the log changes while it is down, the node comes back
/// on the same address, and the subscription resynchronises.
#[test]
fn the_typescript_subscription_resynchronises_after_a_node_restart() {
    use std::io::{BufRead, BufReader};

    let t = tempfile::tempdir().unwrap();
    let log = t.path().join("log");
    let log = log.to_str().unwrap();
    let cli = |args: &[&str]| {
        let out = interstice(args, None);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    };
    cli(&["publish", log, &wasm("test_persistence")]);
    for (id, owner) in [("1", "ada"), ("2", "bob"), ("3", "cy")] {
        cli(&[
            "call",
            log,
            "test_persistence.open",
            &format!("[{id}, \"{owner}\", 100]"),
        ]);
    }
    typescript_built();

    let node = Serving::start(log, &[], None);
    let address = node.url.trim_start_matches("http://").to_owned();
    let mut script = std::process::Command::new("node")
        .args(["test-dist/test/reconnect.js", &node.url])
        .current_dir(typescript_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("node (scripts/test-tools.sh installs it)");
    let mut lines = BufReader::new(script.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(first, "subscribed to 3 accounts");

    let (clean, stderr) = node.terminate();
    assert!(clean, "{stderr}");
    cli(&["call", log, "test_persistence.close", "[3]"]);
    cli(&["call", log, "test_persistence.transfer", "[1, 2, 5]"]);
    cli(&["call", log, "test_persistence.open", "[4, \"dee\", 7]"]);
    let node = Serving::start(log, &["--listen", &address], None);
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    let out = script.wait_with_output().unwrap();
    node.terminate();
    assert!(
        out.status.success(),
        "{rest:?}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        rest.iter()
            .any(|l| l.starts_with("reconnect: ok (4 changes")),
        "{rest:?}"
    );
}
