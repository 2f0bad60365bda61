//! `interstice replay-check LOG`

use anyhow::Result;
use interstice_core::Limits;
use interstice_core::replay_check::replay_check;

use crate::location::{Access, LogArgs};

/// `Ok(false)` on a divergence.
pub async fn run(args: &LogArgs, log: &str) -> Result<bool> {
    let store = args.open(log, Access::ReadOnly).await?;
    let snapshots = args.snapshot_store(log)?;
    let report = replay_check(&*store, snapshots.as_deref(), Limits::default()).await?;
    match report.divergence {
        None => {
            println!(
                "{log}: {} commits{}; {} invocations re-executed twice, each reproducing the logged mutations",
                report.commits,
                if report.from > 0 {
                    format!(
                        " from offset {} (the log starts later; checked from a snapshot)",
                        report.from
                    )
                } else {
                    String::new()
                },
                report.executed
            );
            Ok(true)
        }
        Some(d) => {
            println!(
                "divergence at offset {}: {}.{}: {}",
                d.offset, d.module, d.reducer, d.detail
            );
            Ok(false)
        }
    }
}
