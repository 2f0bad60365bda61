//! `interstice log-dump LOG --format json|csv`: the whole log,
//! machine-readable, one record per commit and per mutation
//! (`docs/cli.md` documents the fields).

use anyhow::Result;
use futures::TryStreamExt;
use interstice_core::inspect::DecodedCommit;
use interstice_core::json::to_json;
use serde_json::{Value as Json, json};

use crate::location::{Access, LogArgs};

/// Output format.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// JSON Lines.
    Json,
    /// CSV with a header; rows and arguments as JSON in one column.
    Csv,
}

fn decoded_json(r: &Result<(interstice_abi::Value, interstice_abi::Type), String>) -> Json {
    match r {
        Ok((v, t)) => to_json(v, t),
        Err(e) => json!({ "undecodable": e }),
    }
}

/// The records of one commit: the commit, then each mutation.
pub fn records(d: &DecodedCommit) -> Vec<Json> {
    let c = &d.commit;
    let mut out = vec![json!({
        "type": "commit",
        "offset": c.offset,
        "timestamp_us": c.timestamp,
        "time": humantime::format_rfc3339_micros(std::time::UNIX_EPOCH + std::time::Duration::from_micros(c.timestamp)).to_string(),
        "cause": c.cause,
        "module": c.invocation.module,
        "reducer": c.invocation.reducer,
        "request_id": c.invocation.request_id,
        "scheduled": c.invocation.scheduled.map(|run| json!({
            "table": d.schedule_table,
            "due_us": run.due,
        })),
        "args": d.args.as_ref().map(decoded_json),
        "mutations": c.mutations.len(),
    })];
    for (i, m) in d.mutations.iter().enumerate() {
        out.push(json!({
            "type": "mutation",
            "offset": c.offset,
            "index": i,
            "kind": m.kind.as_str(),
            "module": m.module,
            "table": m.table,
            "row": decoded_json(&m.row),
        }));
    }
    out
}

pub async fn run(args: &LogArgs, log: &str, format: Format) -> Result<()> {
    let store = args.open(log, Access::ReadOnly).await?;
    let (from, mut decoder) = super::log_start(args, log, &*store).await?;
    let mut commits = store.read_from(from).await?;
    let mut csv = csv::Writer::from_writer(std::io::stdout());
    if let Format::Csv = format {
        csv.write_record(CSV_COLUMNS)?;
    }
    while let Some(commit) = commits.try_next().await? {
        for r in records(&decoder.decode(commit)) {
            match format {
                Format::Json => println!("{r}"),
                Format::Csv => csv.write_record(csv_record(&r))?,
            }
        }
    }
    csv.flush()?;
    Ok(())
}

/// The CSV header: the fields of both kinds of record, the row or the
/// arguments last, as JSON.
const CSV_COLUMNS: [&str; 12] = [
    "type",
    "offset",
    "timestamp_us",
    "cause",
    "module",
    "reducer",
    "request_id",
    "due_us",
    "table",
    "kind",
    "index",
    "data",
];

/// A record's fields in [`CSV_COLUMNS`] order (empty where it has none).
fn csv_record(r: &Json) -> Vec<String> {
    let field = |k: &str| match &r[k] {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        j => j.to_string(),
    };
    let commit = r["type"] == "commit";
    // A scheduled call's commit: its schedule table and when it was due.
    let scheduled = |k: &str| match &r["scheduled"][k] {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        j => j.to_string(),
    };
    CSV_COLUMNS
        .iter()
        .map(|&c| match c {
            "data" => field(if commit { "args" } else { "row" }),
            "due_us" => scheduled("due_us"),
            "table" if commit => scheduled("table"),
            c => field(c),
        })
        .collect()
}
