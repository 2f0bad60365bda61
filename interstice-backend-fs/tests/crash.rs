//! Real failures of a writing process, run in child processes:
//! `kill -9` at random moments (every acknowledged commit survives, no
//! commit is half there), and a write that fails part-way (the store stops
//! writing, and the log on disk holds exactly what was acknowledged).
//!
//! The children are this test binary itself, re-run on the ignored
//! `child_writer` test with an environment variable saying what to do.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::Bytes;
use interstice_backend_fs::FsLogStore;
use interstice_log::{
    Commit, CommitBatch, Durability, Error, Invocation, LogOptions, LogStore, LogStoreExt,
    Mutation, MutationKind,
};

const CHILD_LOG: &str = "INTERSTICE_CHILD_LOG";
const CHILD_MODE: &str = "INTERSTICE_CHILD_MODE";

/// The commit at `offset`: content is a function of the offset, so the
/// parent can check every byte that survived.
fn commit(offset: u64) -> Commit {
    Commit {
        offset,
        timestamp: offset * 10,
        cause: None,
        invocation: Invocation {
            module: "crash".into(),
            reducer: "write".into(),
            args: Bytes::new(),
            request_id: None,
            timing: None,
            scheduled: None,
        },
        mutations: vec![Mutation {
            kind: MutationKind::Insert,
            module_id: 1,
            table_id: 1,
            schema_hash: 9,
            row: Bytes::from(vec![(offset % 251) as u8; 64 + (offset % 7) as usize * 40]),
        }],
    }
}

fn batch(first: u64, n: u64) -> CommitBatch {
    let mut b = CommitBatch::new(first);
    for o in first..first + n {
        b.push(&commit(o)).unwrap();
    }
    b
}

fn options() -> LogOptions {
    LogOptions::default()
        .create(true)
        .durability(Durability::Sync)
        .segment_size(256 << 10)
}

#[test]
#[ignore = "helper: run as a child process by the other tests in this file"]
fn child_writer() {
    let (Ok(dir), Ok(mode)) = (std::env::var(CHILD_LOG), std::env::var(CHILD_MODE)) else {
        panic!("child_writer is run by the crash tests, not by hand");
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    match mode.as_str() {
        "crash" => rt.block_on(write_until_killed(Path::new(&dir))),
        "fsize" => rt.block_on(write_past_the_file_size_limit(Path::new(&dir))),
        other => panic!("unknown child mode {other}"),
    }
}

/// Appends batches of varying size forever, printing each acknowledgement.
async fn write_until_killed(dir: &Path) {
    let store = FsLogStore::open(dir, options()).unwrap();
    let mut next = store.next_offset().await.unwrap();
    let mut out = std::io::stdout().lock();
    for i in 0u64.. {
        let n = [1, 2, 16, 64][(i % 4) as usize];
        store.append(&batch(next, n)).await.unwrap();
        next += n;
        writeln!(out, "ack {}", next - 1).unwrap();
        out.flush().unwrap();
    }
}

/// Appends until the file size limit makes a write fail part-way, then
/// checks the store refuses further writes and the log holds exactly what
/// was acknowledged.
async fn write_past_the_file_size_limit(dir: &Path) {
    // SAFETY: plain libc calls with valid arguments, before any thread
    // that could be writing exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: 64 << 10,
            rlim_max: 64 << 10,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let opts = options().segment_size(1 << 20);
    let store = FsLogStore::open(dir, opts.clone()).unwrap();
    let mut next = 0;
    // 10 commits are ~2.5 KiB: the 64 KiB limit falls inside some batch.
    let err = loop {
        match store.append(&batch(next, 10)).await {
            Ok(()) => next += 10,
            Err(e) => break e,
        }
    };
    assert!(matches!(&err, Error::Io { op: "write", .. }), "{err}");
    assert!(next > 0, "the limit leaves room for some batches");
    assert_eq!(
        store.next_offset().await.unwrap(),
        next,
        "a failed append acknowledged nothing"
    );
    let err = store.append(&batch(next, 1)).await.unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err}");
    assert!(err.to_string().contains("reopen"), "{err}");
    drop(store);

    let store = FsLogStore::open(dir, opts).unwrap();
    assert_eq!(
        store.recovery_report().invalid_tail,
        None,
        "the failed write was cut back"
    );
    let commits = store.read_all(0).await.unwrap();
    assert_eq!(commits, (0..next).map(commit).collect::<Vec<_>>());
    println!("fsize ok: {next} commits acknowledged before the failed write");
}

fn child(dir: &Path, mode: &str) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "child_writer",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_LOG, dir)
    .env(CHILD_MODE, mode)
    .stdout(Stdio::piped());
    cmd
}

#[test]
fn kill_9_at_random_moments_loses_no_acknowledged_commit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("log");
    const ROUNDS: usize = 10;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut acked_max: Option<u64> = None;
    let mut cut_tails = 0;
    for round in 0..ROUNDS {
        let mut proc = child(&dir, "crash").spawn().unwrap();
        let stdout = proc.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut last = None;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    last = Some(n.parse::<u64>().unwrap());
                }
            }
            last
        });
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_millis(100 + seed % 200));
        proc.kill().unwrap(); // SIGKILL
        proc.wait().unwrap();
        if let Some(last) = reader.join().unwrap() {
            acked_max = Some(acked_max.map_or(last, |m: u64| m.max(last)));
        }

        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = FsLogStore::open(&dir, options()).unwrap();
            if store.recovery_report().invalid_tail.is_some() {
                cut_tails += 1;
            }
            let last = store.last_offset().await.unwrap();
            assert!(
                last >= acked_max,
                "round {round}: acknowledged {acked_max:?}, log ends at {last:?}"
            );
            // Every commit that is there is whole and exactly as written.
            let commits = store.read_all(0).await.unwrap();
            assert_eq!(commits.len() as u64, last.map_or(0, |l| l + 1));
            for c in &commits {
                assert_eq!(*c, commit(c.offset), "round {round}");
            }
            assert!(store.verify().await.unwrap().is_clean());
        });
    }
    assert!(
        acked_max.is_some_and(|m| m > 100),
        "the child wrote too little to test anything"
    );
    eprintln!(
        "{ROUNDS} kills, {} commits acknowledged, {cut_tails} torn tails cut",
        acked_max.unwrap() + 1
    );
}

#[test]
fn a_write_that_fails_part_way_stops_the_store_and_loses_nothing_acknowledged() {
    let tmp = tempfile::tempdir().unwrap();
    let out = child(&tmp.path().join("log"), "fsize").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("fsize ok"),
        "child failed: {stdout}"
    );
}
