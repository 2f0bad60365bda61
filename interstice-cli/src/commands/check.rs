//! `interstice check-log LOG`

use anyhow::Result;

use crate::location::LogArgs;

/// Verifies every frame; prints each bad one. `Ok(false)` when damaged.
pub async fn run(args: &LogArgs, log: &str) -> Result<bool> {
    let store = args.open(log, true, false).await?;
    let report = store.verify().await?;
    println!(
        "{log}: {} segments, {} commits, {} bytes, last offset {}",
        report.segments,
        report.commits,
        report.bytes,
        report.last_offset.map_or("none".into(), |o| o.to_string())
    );
    if report.is_clean() {
        println!("every frame is valid");
        return Ok(true);
    }
    for bad in &report.bad {
        let offset = bad.offset.map_or("?".into(), |o| o.to_string());
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
    Ok(false)
}
