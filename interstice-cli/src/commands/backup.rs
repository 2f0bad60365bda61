//! `interstice backup LOG DEST` and `interstice restore BACKUP LOG`: copy
//! a log and its snapshots between any two locations (disk or S3).

use anyhow::{Context, Result, bail};
use interstice_log::backup::{BackupReport, backup};

use crate::location::{Access, LogArgs};

/// Copies `from` into `to`: a new copy (from the newest sound snapshot),
/// or what is new since the last run.
pub async fn run(args: &LogArgs, from: &str, to: &str) -> Result<()> {
    let report = copy(args, from, to).await?;
    print(from, to, &report);
    Ok(())
}

/// Copies a backup into a log that has no commits yet.
pub async fn restore(args: &LogArgs, backup_log: &str, log: &str) -> Result<()> {
    let dest = args.open(log, Access::Create).await?;
    let snapshots = args.snapshot_store_always(log)?;
    if dest.last_offset().await?.is_some() || !snapshots.list().await?.is_empty() {
        bail!(
            "{log} already holds a log: restore only into a new location (or use `interstice backup` to bring an older copy up to date)"
        );
    }
    drop(dest);
    let report = copy(args, backup_log, log).await?;
    print(backup_log, log, &report);
    Ok(())
}

async fn copy(args: &LogArgs, from: &str, to: &str) -> Result<BackupReport> {
    let source = args.open(from, Access::ReadOnly).await?;
    let source_snapshots = args.snapshot_store_always(from)?;
    let dest = args.open(to, Access::Create).await?;
    let dest_snapshots = args.snapshot_store_always(to)?;
    let report = backup(&*source, &*source_snapshots, &*dest, &*dest_snapshots)
        .await
        .with_context(|| format!("cannot copy {from} to {to}"))?;
    for (offset, reason) in &report.skipped {
        eprintln!("warning: snapshot {offset} of {from} not used: {reason}");
    }
    Ok(report)
}

fn print(from: &str, to: &str, r: &BackupReport) {
    if let Some(s) = r.started_at {
        println!("started {to} from the snapshot of {from} at offset {s}");
    }
    println!(
        "copied {} commits ({} bytes) and {} snapshots; {to} opens to the state at offset {}",
        r.commits,
        r.bytes,
        r.snapshots.len(),
        r.last_offset
            .map_or("none (empty)".into(), |o| o.to_string())
    );
}
