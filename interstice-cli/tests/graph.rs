//! `interstice graph`: the graph of the modules under `modules/`, from
//! their `.wasm` files and from a log, in each format, checked for its
//! nodes and edges.

mod common;

use common::{interstice, text, wasm};

fn ok(args: &[&str]) -> String {
    let out = interstice(args, None);
    assert!(out.status.success(), "{args:?}: {}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const MODULES: [&str; 5] = ["hello", "caller", "chat", "inventory", "test_persistence"];

/// `"from" -> "to"` pairs of a `dot` output.
fn dot_edges(dot: &str) -> Vec<(String, String)> {
    dot.lines()
        .filter_map(|l| {
            let (from, rest) = l.trim().split_once(" -> ")?;
            let to = rest.split(" [").next()?;
            Some((
                from.trim_matches('"').to_owned(),
                to.trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

#[test]
fn the_graph_of_the_modules_has_every_node_and_subscription() {
    let paths: Vec<String> = MODULES.iter().map(|m| wasm(m)).collect();
    let mut args = vec!["graph", "--format", "dot"];
    args.extend(paths.iter().map(String::as_str));
    let dot = ok(&args);
    for m in MODULES {
        assert!(dot.contains(&format!("subgraph \"cluster_{m}\"")), "{m}");
    }
    for node in [
        "table:chat.messages",
        "reducer:chat.send",
        "table:test_persistence.accounts",
        "reducer:test_persistence.transfer",
        "table:inventory.items",
        "reducer:caller.greet",
    ] {
        assert!(dot.contains(&format!("\"{node}\" [")), "{node}");
    }
    assert_eq!(
        dot_edges(&dot),
        [
            (
                "table:chat.messages".to_owned(),
                "reducer:chat.find_mentions".to_owned()
            ),
            (
                "table:hello.greetings".to_owned(),
                "reducer:hello.on_greeting".to_owned()
            ),
            // Declared: `#[reducer(..., inserts(mentions))]`.
            (
                "reducer:chat.find_mentions".to_owned(),
                "table:chat.mentions".to_owned()
            ),
        ]
    );
    assert!(!dot.contains("color=red"), "no subscription cycle");

    args[2] = "graphml";
    let graphml = ok(&args);
    assert!(graphml.starts_with("<?xml"));
    assert_eq!(graphml.matches("<edge ").count(), 3);
    assert!(graphml.contains(r#"<node id="reducer:chat.send"><data key="kind">reducer</data><data key="module">chat</data>"#));

    // HTML and SVG to files.
    let dir = tempfile::tempdir().unwrap();
    for format in ["html", "svg"] {
        let file = dir.path().join(format!("graph.{format}"));
        let mut args = vec!["graph", "--format", format, "-o", file.to_str().unwrap()];
        args.extend(paths.iter().map(String::as_str));
        ok(&args);
        let out = std::fs::read_to_string(&file).unwrap();
        assert!(
            out.contains("id=\"reducer:test_persistence.transfer\""),
            "{format}"
        );
    }
}

/// From a log, the edges carry what happened.
#[test]
fn the_graph_of_a_log_counts_calls_and_rows() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let log = log.to_str().unwrap();
    for m in ["hello", "caller"] {
        ok(&["publish", log, &wasm(m)]);
    }
    ok(&["call", log, "caller.greet", r#"["ada"]"#]);
    ok(&["call", log, "caller.greet", r#"["bob"]"#]);
    let dot = ok(&["graph", log, "--format", "dot"]);
    assert!(
        dot.contains(r#""reducer:caller.greet" -> "reducer:hello.hello" [label="calls ×2""#),
        "{dot}"
    );
    assert!(
        dot.contains(
            r#""reducer:caller.greet" -> "table:caller.calls" [label="writes ×2 (2 rows)""#
        ),
        "{dot}"
    );
    assert!(dot.contains(r#"[label="on insert ×2""#), "{dot}");
    // Bad input: a file that is not a module names itself.
    let bad = dir.path().join("bad.wasm");
    std::fs::write(&bad, b"not wasm").unwrap();
    let out = interstice(&["graph", bad.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("bad.wasm"), "{}", text(&out));
}

/// The browser the page tests use: `INTERSTICE_CHROMIUM`, else Debian's
/// `chromium` (`scripts/test-tools.sh` installs it; `scripts/test.sh` runs
/// that).
fn chromium() -> String {
    let browser = std::env::var("INTERSTICE_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = std::process::Command::new(&browser)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "no browser `{browser}`: run scripts/test-tools.sh (scripts/test.sh does)"
    );
    browser
}

/// Runs headless Chromium on `page` with `args`; its stdout.
fn headless(browser: &str, page: &std::path::Path, args: &[&str]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The HTML page of `modules/`, opened in a real browser: once its script
/// has run, its DOM holds every module, table and reducer; a screenshot
/// is kept under `target/`.
#[test]
fn the_graph_page_renders_every_module_in_a_browser() {
    let browser = chromium();
    let paths: Vec<String> = MODULES.iter().map(|m| wasm(m)).collect();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("graph");
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("modules.html");
    let mut args = vec!["graph", "-o", page.to_str().unwrap()];
    args.extend(paths.iter().map(String::as_str));
    ok(&args);
    let dom = headless(&browser, &page, &["--dump-dom"]);
    // The schemas as the CLI prints them: every table and reducer.
    for m in MODULES {
        assert!(dom.contains(&format!("id=\"module:{m}\"")), "{m}");
        let schema: serde_json::Value =
            serde_json::from_str(&ok(&["schema", &wasm(m), "--format", "json"])).unwrap();
        for t in schema["tables"].as_array().unwrap() {
            let id = format!("id=\"table:{m}.{}\"", t["name"].as_str().unwrap());
            assert!(dom.contains(&id), "{id}");
        }
        for r in schema["reducers"].as_array().unwrap() {
            let id = format!("id=\"reducer:{m}.{}\"", r["name"].as_str().unwrap());
            assert!(dom.contains(&id), "{id}");
        }
    }
    assert!(dom.contains("id=\"legend\""));
    let shot = dir.join("modules.png");
    let _ = std::fs::remove_file(&shot);
    headless(
        &browser,
        &page,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1600,900",
        ],
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}
