//! `interstice check-log LOG [--repair [--yes]] [--snapshots]`

use anyhow::{Result, bail};
use interstice_core::snapshot_check::{Compared, check_snapshots};
use interstice_log::Damage;

use crate::location::{Access, LogArgs};

/// What `check-log` may do about damage.
#[derive(Clone, Copy, Debug, Default)]
pub struct Repair {
    /// Cut the log before the first damage (`--repair`).
    pub cut: bool,
    /// Also when that drops valid commits after the damage (`--yes`).
    pub dropping_valid: bool,
    /// Also while another process writes the log (`--force`; S3).
    pub force: bool,
}

/// Verifies every frame; prints each bad one, and repairs as `repair`
/// allows. `Ok(false)` when damaged.
pub async fn run(args: &LogArgs, log: &str, repair: Repair) -> Result<bool> {
    let store = args.open(log, Access::ReadOnly).await?;
    let report = store.verify().await?;
    let first = store.first_offset().await?;
    println!(
        "{log}: {} segments, {} commits, {} bytes, last offset {}{}",
        report.segments,
        report.commits,
        report.bytes,
        report.last_offset.map_or("none".into(), |o| o.to_string()),
        if first > 0 {
            format!(" (it starts at offset {first}: retention removed the commits before)")
        } else {
            String::new()
        }
    );
    if report.is_clean() {
        println!("every frame is valid");
        return Ok(true);
    }
    for bad in &report.bad {
        let offset = bad.offset.map_or("?".into(), |o| o.to_string());
        if let Damage::Missing { .. } = bad.damage {
            // A hole has no bytes: one line, named by the segment after it.
            println!("hole: {bad}");
            continue;
        }
        match bad.checksums() {
            Some((stored, computed)) => println!(
                "bad frame: segment {} byte {} offset {offset}: checksum stored {stored:#010x}, computed {computed:#010x} ({} bytes)",
                bad.segment, bad.position, bad.len
            ),
            None => println!(
                "bad frame: segment {} byte {} offset {offset}: {} ({} bytes)",
                bad.segment, bad.position, bad.damage, bad.len
            ),
        }
    }
    if !repair.cut {
        println!(
            "run with --repair to cut the log before the first damage (the cut bytes are kept)"
        );
        return Ok(false);
    }
    // Cut at the first damaged commit; its bytes and everything after go
    // to quarantine.
    let first = &report.bad[0];
    let cut = match (&first.damage, first.offset) {
        (Damage::Missing { from, .. }, _) => *from,
        (_, Some(o)) => o,
        (_, None) => bail!("cannot tell which commit the first damage belongs to: {first}"),
    };
    if let Some(last) = report.last_offset.filter(|&last| last >= cut)
        && !repair.dropping_valid
    {
        bail!(
            "repairing cuts the log at offset {cut}, before the damage, which also drops the valid commits after it (up to offset {last}; their bytes are kept in quarantine, but they will not be replayed). Run again with --yes to do it"
        );
    }
    drop(store);
    let store = args.open_for_repair(log, repair.force).await?;
    let t = store.truncate(cut).await?;
    println!(
        "cut the log at offset {cut}: {} commits removed, their bytes kept:",
        t.removed
    );
    for q in &t.quarantined {
        println!("  {q}");
    }
    Ok(true)
}

/// Checks every snapshot of `log` (`--snapshots`); `Ok(false)` when one is
/// damaged or differs from the log.
pub async fn snapshots(args: &LogArgs, log: &str) -> Result<bool> {
    let store = args.open(log, Access::ReadOnly).await?;
    let snapshots = args.snapshot_store_always(log)?;
    let checks = check_snapshots(&*store, snapshots.clone()).await?;
    if checks.is_empty() {
        println!("no snapshots in {}", snapshots.location());
        return Ok(true);
    }
    let mut sound = true;
    for c in &checks {
        match &c.verdict {
            Ok(Compared::Replay(from)) => println!(
                "snapshot {} ({} bytes): matches a replay from {}",
                c.offset,
                c.bytes,
                from.map_or("the start of the log".into(), |o| format!(
                    "the snapshot at {o}"
                ))
            ),
            Ok(Compared::NothingToCompare) => println!(
                "snapshot {} ({} bytes): sound; nothing to compare it with (the log starts after the state before it)",
                c.offset, c.bytes
            ),
            Err(reason) => {
                sound = false;
                println!("snapshot {} ({} bytes): BAD: {reason}", c.offset, c.bytes);
            }
        }
    }
    Ok(sound)
}
