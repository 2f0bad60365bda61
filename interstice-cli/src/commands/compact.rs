//! `interstice compact s3://bucket/prefix [--target-bytes N] [--stub-grace D]`

use anyhow::{Context, Result, bail};
use interstice_backend_s3::{S3LogStore, WriterLease};
use interstice_log::LogOptions;

use crate::location::LogArgs;

pub async fn run(
    args: &LogArgs,
    log: &str,
    target_bytes: u64,
    stub_grace: std::time::Duration,
) -> Result<()> {
    if !log.starts_with("s3://") {
        bail!(
            "{log}: only logs on S3 are compacted (a disk log already keeps its commits in large segment files)"
        );
    }
    // Compaction is safe beside a writing node: it does not append.
    let config = args.s3_config(log)?.writer_lease(WriterLease::Ignore);
    let store = S3LogStore::open(config, LogOptions::default().recovery(args.recovery))
        .await
        .with_context(|| format!("cannot open the log at {log}"))?;
    let r = store.compact_with(target_bytes, stub_grace).await?;
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
    if r.stubs_collected > 0 {
        println!(
            "  deleted {} stubs older than {}",
            r.stubs_collected,
            humantime::format_duration(stub_grace)
        );
    }
    if r.finished > 0 {
        println!(
            "  turned {} objects an interrupted compaction had copied into stubs",
            r.finished
        );
    }
    for why in &r.skipped {
        println!("  left alone: {why}");
    }
    if !r.skipped.is_empty() {
        println!("run check-log {log} for the whole picture");
    }
    Ok(())
}
