//! `interstice compact s3://bucket/prefix [--target-bytes N]`

use anyhow::{Context, Result, bail};
use interstice_backend_s3::S3LogStore;
use interstice_log::LogOptions;

use crate::location::LogArgs;

pub async fn run(args: &LogArgs, log: &str, target_bytes: u64) -> Result<()> {
    if !log.starts_with("s3://") {
        bail!(
            "{log}: only logs on S3 are compacted (a disk log already keeps its commits in large segment files)"
        );
    }
    let store = S3LogStore::open(
        args.s3_config(log)?,
        LogOptions::default().recovery(args.recovery),
    )
    .await
    .with_context(|| format!("cannot open the log at {log}"))?;
    let r = store.compact(target_bytes).await?;
    println!(
        "merged {} objects into {} segments ({} commits, {} bytes)",
        r.merged_objects,
        r.written.len(),
        r.commits,
        r.bytes
    );
    for name in &r.written {
        println!("  wrote {name}");
    }
    for run in &r.skipped {
        println!("  left alone (a frame did not check out; run check-log): {run}");
    }
    Ok(())
}
