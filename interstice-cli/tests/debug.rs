//! `interstice debug` end to end in a real terminal: tmux runs it, the
//! test sends keys and reads the screen (the debugger's logic has its own
//! tests in interstice-core/tests/debugger.rs; this checks the terminal
//! layer over it).

mod common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{text, wasm};

/// A tmux server of the test's own, killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(command: &str) -> Self {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let socket = format!("interstice-debug-{}-{n}", std::process::id());
        let t = Tmux { socket };
        let out = t.run(&[
            "new-session",
            "-d",
            "-s",
            "dbg",
            "-x",
            "200",
            "-y",
            "36",
            command,
        ]);
        assert!(out.status.success(), "tmux: {}", text(&out));
        t
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("tmux is installed (scripts/test-tools.sh)")
    }

    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.run(&["send-keys", "-t", "dbg", k]);
            assert!(out.status.success(), "{}", text(&out));
        }
    }

    /// Types `text` literally.
    fn type_text(&self, text: &str) {
        self.run(&["send-keys", "-t", "dbg", "-l", text]);
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-t", "dbg", "-p"]).stdout).into_owned()
    }

    /// The screen once it shows `expected` (up to 10 s).
    fn wait_for(&self, expected: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.screen();
            if screen.contains(expected) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "never saw `{expected}`:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&self) -> bool {
        self.run(&["has-session", "-t", "dbg"]).status.success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// Four commits of `test_persistence` in `log`, each command run by `run`.
fn write_history(log: &str, run: &dyn Fn(&[&str]) -> Output) {
    let ok = |args: &[&str]| {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
    };
    ok(&["publish", log, &wasm("test_persistence")]);
    ok(&["call", log, "test_persistence.open", r#"[1, "ada", 100]"#]);
    ok(&["call", log, "test_persistence.open", r#"[2, "bob", 50]"#]);
    ok(&["call", log, "test_persistence.transfer", "[1, 2, 30]"]);
}

/// Drives the debugger that the shell command `debug` starts on that
/// history, until it quits, saving its session to `session`; then resumes
/// that session.
fn drive(debug: &str, session: &std::path::Path) {
    let tmux = Tmux::start(debug);
    let screen = tmux.wait_for("timeline");
    assert!(screen.contains("commit 0 (1/4)"), "{screen}");
    assert!(screen.contains("test_persistence.@publish"), "{screen}");

    // Down three times: the transfer, with both balances' old and new.
    tmux.keys(&["j", "j", "j"]);
    let screen = tmux.wait_for("commit 3 (4/4)");
    assert!(
        screen.contains(r#"test_persistence.transfer({"from":1,"to":2,"amount":30})"#),
        "{screen}"
    );
    assert!(
        screen.contains(r#"balance=100, tags=["new"]} -> {id=1"#),
        "{screen}"
    );
    // Up one: account 2 just opened, with 50.
    tmux.keys(&["k"]);
    let screen = tmux.wait_for("commit 2 (3/4)");
    assert!(
        screen.contains("+ test_persistence.accounts {id=2, owner=\"bob\", balance=50"),
        "{screen}"
    );

    // A breakpoint where account 1 changes, run back to it from the end.
    tmux.keys(&["End", "b"]);
    tmux.type_text("row test_persistence.accounts 1");
    tmux.keys(&["Enter", "C"]);
    let screen = tmux.wait_for("stopped at row test_persistence.accounts 1");
    assert!(screen.contains("commit 1 (2/4)"), "{screen}");

    tmux.keys(&["r"]);
    tmux.wait_for("replay-check: commit 1 re-ran twice and reproduced the log");
    let path = session.display().to_string();
    tmux.keys(&["e"]);
    tmux.type_text(&path);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&format!("session saved to {path}"));
    tmux.keys(&["g"]);
    tmux.type_text("9");
    tmux.keys(&["Enter"]);
    tmux.wait_for("error: no commit 9 in the timeline: it holds 0..=3");
    tmux.keys(&["?"]);
    tmux.wait_for("replay-check: re-run the selected commit and compare");
    tmux.keys(&["x", "q"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(
            Instant::now() < deadline,
            "q did not quit:\n{}",
            tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(tmux);

    // The saved session: the commit, its changes, the breakpoint.
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(session).unwrap()).unwrap();
    assert_eq!(saved["offset"], 1);
    assert_eq!(saved["breakpoints"][0], "row test_persistence.accounts 1");
    assert_eq!(saved["commit"]["reducer"], "open");
    assert_eq!(saved["changes"][0]["new"]["owner"], "ada");
    // Resumed where it was.
    let tmux = Tmux::start(&format!("{debug} --session {path}"));
    let screen = tmux.wait_for(&format!("resumed the session in {path}"));
    assert!(screen.contains("commit 1 (2/4)"), "{screen}");
    assert!(
        screen.contains("breakpoints: row test_persistence.accounts 1"),
        "{screen}"
    );
    tmux.keys(&["q"]);
}

#[test]
fn the_debugger_steps_stops_at_a_breakpoint_and_rechecks_a_commit() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log").display().to_string();
    write_history(&log, &|args| common::interstice(args, None));
    let files = || {
        let mut files: Vec<(String, u64)> = std::fs::read_dir(&log)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.file_name().to_string_lossy().into_owned();
                (name, e.metadata().unwrap().len())
            })
            .collect();
        files.sort();
        files
    };
    let before = files();
    let session = dir.path().join("session.json");
    drive(
        &format!("{} debug {log}", env!("CARGO_BIN_EXE_interstice")),
        &session,
    );
    assert_eq!(files(), before, "the debugger wrote nothing to the log");
}

#[test]
fn the_debugger_reads_an_s3_log() {
    use interstice_testkit::s3::{GARAGE, KEY_ID, SECRET};
    let on = common::OnS3::server(GARAGE);
    let log = common::s3_log_name("debug");
    write_history(&log, &|args| {
        on.run(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    });
    let dir = tempfile::tempdir().unwrap();
    let debug = format!(
        "env AWS_ACCESS_KEY_ID={KEY_ID} AWS_SECRET_ACCESS_KEY={SECRET} {} debug {log} {}",
        env!("CARGO_BIN_EXE_interstice"),
        on.flags().join(" ")
    );
    drive(&debug, &dir.path().join("session.json"));
}
