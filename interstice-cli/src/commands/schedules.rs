//! `interstice schedules LOG [--run] [--format table|json]`: the rows of
//! every schedule table waiting for their call, and, with `--run`, the
//! calls due now run, for a log no node serves.
//!
//! Commands that write the log (`call`, `publish`, `unpublish`) leave
//! scheduled calls to the node (`interstice serve`), which runs them as
//! they come due; when some are due they say so on stderr.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use interstice_core::{ReplayEngine, Runtime, RuntimeConfig, ScheduledRow};
use serde_json::json;

use crate::location::{Access, LogArgs};

/// How the rows are printed.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// One JSON object per row (JSON Lines).
    Json,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// How many rows are due at `now`.
fn due(rows: &[ScheduledRow], now: u64) -> usize {
    rows.iter().filter(|r| r.due <= now).count()
}

/// Says on stderr when scheduled calls are due: a command that wrote the
/// log leaves them to the node.
pub fn note_due(rt: &Runtime) {
    let n = due(&rt.scheduled_rows(), now_micros());
    if n > 0 {
        let calls = if n == 1 { "call is" } else { "calls are" };
        eprintln!(
            "note: {n} scheduled {calls} due; a node (`interstice serve`) runs them, or `interstice schedules LOG --run`"
        );
    }
}

pub async fn run(args: &LogArgs, log: &str, run: bool, format: Format) -> Result<()> {
    if !run {
        let store = args.open(log, Access::ReadOnly).await?;
        let replayed = ReplayEngine::replay_with(&*store, &args.replay_options(log, None)?).await?;
        print(&replayed.timers.rows(&replayed.db), format);
        return Ok(());
    }
    let store = args.open(log, Access::Write).await?;
    let config = RuntimeConfig {
        run_schedules: true,
        ..args.runtime_config(log)?
    };
    let (rt, _) = Runtime::open(store, config).await?;
    let ran = run_due(&rt, now_micros()).await;
    rt.settle().await;
    crate::snapshots::before_exit(&rt).await;
    let rows = rt.scheduled_rows();
    rt.shutdown().await;
    eprintln!("ran {ran} scheduled calls");
    print(&rows, format);
    Ok(())
}

/// Waits until every row due at `now` has run; how many calls ran.
async fn run_due(rt: &Runtime, now: u64) -> u64 {
    while due(&rt.scheduled_rows(), now) > 0 && rt.stopped().is_none() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    rt.schedule_metrics().iter().map(|s| s.runs).sum()
}

fn time(micros: u64) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(micros)).to_string()
}

fn print(rows: &[ScheduledRow], format: Format) {
    let now = now_micros();
    match format {
        Format::Json => {
            for r in rows {
                let record = json!({
                    "module": r.module,
                    "table": r.table,
                    "reducer": r.reducer,
                    "key": r.key.to_string(),
                    "due_us": r.due,
                    "due": time(r.due),
                    "every_us": r.every,
                });
                println!("{record}");
            }
        }
        Format::Table => {
            println!(
                "{:<28} {:<12} {:<10} {:<24} {:<10} reducer",
                "due", "in", "every", "table", "key"
            );
            for r in rows {
                let when = if r.due <= now {
                    "due now".to_owned()
                } else {
                    humantime::format_duration(Duration::from_micros((r.due - now) / 1000 * 1000))
                        .to_string()
                };
                let every = r.every.map_or("once".to_owned(), |e| {
                    humantime::format_duration(Duration::from_micros(e)).to_string()
                });
                println!(
                    "{:<28} {:<12} {:<10} {:<24} {:<10} {}",
                    time(r.due),
                    when,
                    every,
                    format!("{}.{}", r.module, r.table),
                    r.key.to_string(),
                    r.reducer
                );
            }
            eprintln!("{} rows scheduled, {} due", rows.len(), due(rows, now));
        }
    }
}
