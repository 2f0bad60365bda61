//! Snapshots from the command line: the policy at the end of a command
//! that wrote the log, and `interstice snapshot LOG`.

use anyhow::{Context, Result};
use interstice_core::Runtime;
use interstice_core::retention::retain;
use interstice_core::snapshot::take;

use crate::location::{Access, LogArgs};

/// Takes the snapshot the policy says is due before a short-lived command
/// exits (its commits are durable already: a failure here only warns).
pub async fn before_exit(rt: &Runtime) {
    match rt.snapshot_if_due().await {
        Ok(Some(t)) => eprintln!("took a snapshot at offset {} ({} bytes)", t.offset, t.bytes),
        Ok(None) => {}
        Err(e) => eprintln!("warning: {e}"),
    }
}

/// `interstice snapshot LOG`: a snapshot of the log's state now, built
/// from the newest snapshot and the log after it (a node may be writing
/// the log meanwhile). With `--retain-snapshots`, then a retention pass,
/// which needs the log open for writing (no node running on it).
pub async fn run(args: &LogArgs, log: &str) -> Result<()> {
    let retention = args.snapshots.retention();
    let access = match retention.keep_snapshots {
        Some(_) => Access::Write,
        None => Access::ReadOnly,
    };
    let store = args.open(log, access).await?;
    let snapshots = args.snapshot_store_always(log)?;
    let started = std::time::Instant::now();
    let taken = take(&*store, snapshots.clone())
        .await
        .with_context(|| format!("cannot snapshot {log}"))?;
    match taken {
        None => println!(
            "nothing to snapshot: {}",
            match store.last_offset().await? {
                None => "the log is empty".to_owned(),
                Some(o) => format!("the newest snapshot is at the last commit, {o}"),
            }
        ),
        Some(t) => println!(
            "snapshot at offset {} in {}: {} rows, {} bytes, from {} and {} commits, in {:.1} ms",
            t.offset,
            snapshots.location(),
            t.rows,
            t.bytes,
            t.base.map_or("the start of the log".into(), |b| format!(
                "the snapshot at {b}"
            )),
            t.commits,
            started.elapsed().as_secs_f64() * 1e3
        ),
    }
    if retention.keep_snapshots.is_some() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let r = retain(&*store, &*snapshots, &retention, now).await?;
        println!(
            "retention: the log starts at offset {}; removed {} segments ({} bytes) and {} snapshots",
            r.first_offset,
            r.segments_removed,
            r.bytes_removed,
            r.snapshots_removed.len()
        );
    }
    Ok(())
}
