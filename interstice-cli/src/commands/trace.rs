//! `interstice trace LOG [--from N] [--to N] [--module M] [--reducer R]
//! --format chrome|json [-o FILE]`: the call chains of a range of the log
//! (a client call, the cross-module calls inside it, the subscriptions it
//! triggered and theirs) as a Chrome trace-event file or as JSON
//! (`docs/observability.md`). With `--node URL`, from a running node.

use std::io::Write;

use anyhow::{Context, Result};
use interstice_core::trace::{DEFAULT_COMMITS, TraceFilter, read_chains, to_chrome, to_json};
use interstice_log::LogStoreExt;

use crate::commands::remote::Node;
use crate::location::{Access, LogArgs};

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Chrome trace events: open in Perfetto (ui.perfetto.dev) or
    /// chrome://tracing.
    #[default]
    Chrome,
    /// The chains as nested JSON.
    Json,
}

impl Format {
    /// Its name in the node's API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Chrome => "chrome",
            Self::Json => "json",
        }
    }
}

/// Which commits, and which chains of them.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Range {
    /// From this offset (default: the last 10,000 commits).
    #[arg(long)]
    pub from: Option<u64>,
    /// Up to this offset (included; default: the end of the log).
    #[arg(long)]
    pub to: Option<u64>,
    /// Only chains that call this module.
    #[arg(long)]
    pub module: Option<String>,
    /// Only chains that call this reducer.
    #[arg(long)]
    pub reducer: Option<String>,
}

/// Writes the trace of `log` (or of the node at `node`) to `out` (stdout
/// when `None`).
pub async fn run(
    args: &LogArgs,
    log: Option<&str>,
    node: Option<Node<'_>>,
    range: &Range,
    format: Format,
    out: Option<&str>,
) -> Result<()> {
    let trace = match (node, log) {
        (Some(node), _) => node.trace(range, format).await?,
        (None, Some(log)) => from_log(args, log, range, format).await?,
        (None, None) => anyhow::bail!("give a LOG or --node URL"),
    };
    let text = serde_json::to_string(&trace)?;
    match out {
        Some(path) => {
            std::fs::write(path, text + "\n").with_context(|| format!("cannot write {path}"))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{text}")?;
        }
    }
    Ok(())
}

async fn from_log(
    args: &LogArgs,
    log: &str,
    range: &Range,
    format: Format,
) -> Result<serde_json::Value> {
    let store = args.open(log, Access::ReadOnly).await?;
    let from = match range.from {
        Some(from) => from,
        None => store.next_offset().await?.saturating_sub(DEFAULT_COMMITS),
    };
    let to = range.to.map_or(u64::MAX, |t| t.saturating_add(1));
    let filter = TraceFilter {
        module: range.module.clone(),
        reducer: range.reducer.clone(),
    };
    let chains = read_chains(&*store, from..to, None, &filter).await?;
    Ok(match format {
        Format::Chrome => to_chrome(&chains, &format!("interstice {log}")),
        Format::Json => to_json(&chains),
    })
}
