//! The local-disk log end to end: publish a module record, append
//! commits, reopen the log as a restart would, read everything back
//! verified, and check every frame.
//!
//! `cargo run -p interstice-backend-fs --example demo -- [LOG_DIR]`
//! (default `./demo-log`). Run it twice: the second run finds the first
//! run's commits and continues after them.

use std::error::Error;

use bytes::Bytes;
use interstice_backend_fs::FsLogStore;
use interstice_log::{
    Commit, CommitBatch, Invocation, LogOptions, LogStore, LogStoreExt, ModuleRecord, Mutation,
    MutationKind,
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "demo-log".into());
    let opts = LogOptions::default().create(true);

    let store = FsLogStore::open(&dir, opts.clone())?;
    let start = store.next_offset().await?;
    println!("opened {dir}: {start} commits already in the log");

    let mut batch = CommitBatch::new(start);
    if start == 0 {
        // A log is self-contained: the module it was written with comes first.
        let record = ModuleRecord {
            name: "hello".into(),
            schema: Bytes::from_static(b"(schema bytes, interstice-abi encoded)"),
            wasm: Bytes::from_static(b"\0asm\x01\0\0\0"),
        };
        batch.push(&Commit {
            offset: 0,
            timestamp: now_micros(),
            cause: None,
            invocation: Invocation {
                module: "interstice".into(),
                reducer: "publish".into(),
                args: Bytes::new(),
                request_id: None,
                timing: None,
                scheduled: None,
            },
            mutations: vec![Mutation::module(1, 0x4a11, &record)],
        })?;
    }
    for name in ["world", "disk", "log"] {
        let offset = batch.next_offset();
        batch.push(&Commit {
            offset,
            timestamp: now_micros(),
            cause: None,
            invocation: Invocation {
                module: "hello".into(),
                reducer: "hello".into(),
                args: Bytes::from(name.as_bytes().to_vec()),
                request_id: None,
                timing: None,
                scheduled: None,
            },
            mutations: vec![Mutation {
                kind: MutationKind::Insert,
                module_id: 1,
                table_id: 1,
                schema_hash: 0x7ab1e,
                row: Bytes::from(format!("Hello, {name}!").into_bytes()),
            }],
        })?;
    }
    store.append(&batch).await?;
    println!(
        "appended {} commits (synced to disk before append returned)",
        batch.len()
    );
    drop(store);

    // A restart: everything acknowledged is there, every checksum verified.
    let store = FsLogStore::open(&dir, opts)?;
    for commit in store.read_all(0).await? {
        let inv = &commit.invocation;
        let mutations: Vec<String> = commit
            .mutations
            .iter()
            .map(|m| match m.kind {
                MutationKind::Module => match ModuleRecord::decode(&m.row) {
                    Ok(r) => format!("module `{}` ({} wasm bytes)", r.name, r.wasm.len()),
                    Err(e) => format!("bad module record: {e}"),
                },
                kind => format!("{kind:?} {:?}", String::from_utf8_lossy(&m.row)),
            })
            .collect();
        println!(
            "  #{:<3} {}.{}({}) -> {}",
            commit.offset,
            inv.module,
            inv.reducer,
            String::from_utf8_lossy(&inv.args),
            mutations.join(", ")
        );
    }
    let report = store.verify().await?;
    println!(
        "verified {} commits in {} segment(s), {} bytes: {}",
        report.commits,
        report.segments,
        report.bytes,
        if report.is_clean() {
            "no damage".to_string()
        } else {
            format!("{} bad frames", report.bad.len())
        }
    );
    for bad in &report.bad {
        println!("  {bad}");
    }
    Ok(())
}

fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}
