//! `interstice query LOG MODULE.TABLE [--format table|json|csv] [--where COLUMN=VALUE] [--limit N]`

use anyhow::{Context, Result, bail};
use interstice_abi::{TableSchema, Value};
use interstice_core::ReplayEngine;
use interstice_core::json::to_json;
use interstice_core::query::{Filter, select};

use super::remote::Node;
use super::{module, split_target};
use crate::location::{Access, LogArgs};

/// How rows are printed.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns, for people.
    #[default]
    Table,
    /// One JSON object per row (JSON Lines).
    Json,
    /// Comma-separated, with a header line.
    Csv,
}

pub async fn run(
    args: &LogArgs,
    log: &str,
    target: &str,
    format: Format,
    filters: &[String],
    limit: Option<usize>,
) -> Result<()> {
    let (module_name, table_name) = split_target(target, "TABLE")?;
    let store = args.open(log, Access::ReadOnly).await?;
    let replayed = ReplayEngine::replay(&*store, args.first_offset(), None).await?;
    let m = module(&replayed.db, module_name)?;
    let Some((_, table)) = m.table_by_name(table_name) else {
        let names: Vec<_> = m.schema.tables.iter().map(|t| t.name.as_str()).collect();
        bail!(
            "module `{module_name}` has no table `{table_name}`; it has: {}",
            names.join(", ")
        );
    };
    let filters = filters
        .iter()
        .map(|f| Filter::parse(table, f).context("--where"))
        .collect::<Result<Vec<_>>>()?;
    // One more than asked, to tell whether there are more.
    let mut rows = select(
        table,
        &filters,
        limit.map_or(usize::MAX, |n| n.saturating_add(1)),
    );
    if let Some(n) = limit.filter(|&n| rows.len() > n) {
        rows.truncate(n);
        eprintln!("warning: only the first {n} rows are shown (--limit)");
    }
    let rows: Vec<&[Value]> = rows.iter().map(|r| r.values()).collect();
    print_rows(table.schema(), &rows, format);
    Ok(())
}

/// `query --node URL MODULE.TABLE`: the node filters; the rows print as a
/// local query's do.
pub async fn remote(
    node: &Node<'_>,
    target: &str,
    format: Format,
    filters: &[String],
    limit: Option<usize>,
) -> Result<()> {
    let (module_name, table_name) = split_target(target, "TABLE")?;
    let schema = node.schema(module_name).await?;
    let rows = node.query(&schema, table_name, filters, limit).await?;
    let table = schema
        .tables
        .iter()
        .find(|t| t.name == table_name)
        .context("the node's schema lost the table")?;
    let rows: Vec<&[Value]> = rows.iter().map(Vec::as_slice).collect();
    print_rows(table, &rows, format);
    Ok(())
}

fn cell(v: &Value, ty: &interstice_abi::Type) -> String {
    match to_json(v, ty) {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        j => j.to_string(),
    }
}

fn print_rows(table: &TableSchema, rows: &[&[Value]], format: Format) {
    let cols = &table.columns;
    match format {
        Format::Json => {
            for row in rows {
                let obj: serde_json::Map<_, _> = cols
                    .iter()
                    .zip(row.iter())
                    .map(|(c, v)| (c.name.clone(), to_json(v, &c.ty)))
                    .collect();
                println!("{}", serde_json::Value::Object(obj));
            }
        }
        Format::Csv => {
            let header: Vec<_> = cols.iter().map(|c| csv(&c.name)).collect();
            println!("{}", header.join(","));
            for row in rows {
                let cells: Vec<_> = cols
                    .iter()
                    .zip(row.iter())
                    .map(|(c, v)| csv(&cell(v, &c.ty)))
                    .collect();
                println!("{}", cells.join(","));
            }
        }
        Format::Table => {
            let cells: Vec<Vec<String>> = rows
                .iter()
                .map(|row| {
                    cols.iter()
                        .zip(row.iter())
                        .map(|(c, v)| cell(v, &c.ty))
                        .collect()
                })
                .collect();
            let widths: Vec<usize> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    cells
                        .iter()
                        .map(|r| r[i].chars().count())
                        .chain([c.name.len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let line = |values: Vec<&str>| {
                let padded: Vec<String> = values
                    .iter()
                    .zip(&widths)
                    .map(|(v, w)| format!("{v:<w$}"))
                    .collect();
                println!("{}", padded.join("  ").trim_end());
            };
            line(cols.iter().map(|c| c.name.as_str()).collect());
            line(
                widths
                    .iter()
                    .map(|w| "-".repeat(*w))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str)
                    .collect(),
            );
            for r in &cells {
                line(r.iter().map(String::as_str).collect());
            }
            println!("({} rows)", rows.len());
        }
    }
}

/// A CSV field, quoted when it must be.
fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}
