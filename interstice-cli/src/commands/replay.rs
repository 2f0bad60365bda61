//! `interstice replay LOG [--recovery MODE] [--to-offset N]`

use anyhow::Result;
use interstice_core::ReplayEngine;

use crate::location::{Access, LogArgs};

pub async fn run(args: &LogArgs, log: &str, to_offset: Option<u64>) -> Result<()> {
    let store = args.open(log, Access::ReadOnly).await?;
    let replayed =
        ReplayEngine::replay_with(&*store, &args.replay_options(log, to_offset)?).await?;
    let r = &replayed.report;
    let db = &replayed.db;
    println!(
        "replayed {log}{}{}: {} commits, {} mutations, {} bytes in {:.1} ms ({:.0} rows/s)",
        to_offset.map_or(String::new(), |o| format!(" up to offset {o}")),
        r.snapshot.map_or(String::new(), |s| format!(
            " from the snapshot at offset {s}"
        )),
        r.commits,
        r.mutations,
        r.bytes,
        r.elapsed.as_secs_f64() * 1e3,
        r.rows_per_sec()
    );
    println!(
        "last offset: {}",
        r.last_offset
            .map_or("none (empty log)".into(), |o| o.to_string())
    );
    for m in db.modules() {
        println!(
            "module {} {} (id {})",
            m.schema.name, m.schema.version, m.id
        );
        for t in &m.schema.tables {
            let rows = m.table_by_name(&t.name).map_or(0, |(_, t)| t.len());
            println!("  table {:<24} {rows:>10} rows", t.name);
        }
    }
    if !replayed.pending.is_empty() {
        println!(
            "{} subscription calls are pending (they run when a node starts)",
            replayed.pending.len()
        );
    }
    Ok(())
}
