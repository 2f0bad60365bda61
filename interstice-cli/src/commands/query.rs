//! `interstice query LOG MODULE.TABLE [--format table|json|csv] [--where COLUMN=VALUE]`

use std::ops::Bound;

use anyhow::{Context, Result, bail};
use interstice_abi::Value;
use interstice_core::ReplayEngine;
use interstice_core::json::{from_json, to_json};
use interstice_core::table::Table;

use super::{module, split_target};
use crate::location::LogArgs;

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
) -> Result<()> {
    let (module_name, table_name) = split_target(target, "TABLE")?;
    let store = args.open(log, true, false).await?;
    let replayed = ReplayEngine::replay(&*store, args.first_offset(), None).await?;
    let m = module(&replayed.db, module_name)?;
    let Some((_, table)) = m.table_by_name(table_name) else {
        let names: Vec<_> = m.schema.tables.iter().map(|t| t.name.as_str()).collect();
        bail!(
            "module `{module_name}` has no table `{table_name}`; it has: {}",
            names.join(", ")
        );
    };
    let rows = select(table, filters)?;
    print_rows(table, &rows, format);
    Ok(())
}

/// The rows matching every `COLUMN=VALUE` filter; the first filter uses
/// the primary key or an index on its column when there is one.
fn select<'t>(table: &'t Table, filters: &[String]) -> Result<Vec<&'t [Value]>> {
    let schema = table.schema();
    let mut conds = Vec::new();
    for f in filters {
        let Some((col, text)) = f.split_once('=') else {
            bail!("--where {f}: expected COLUMN=VALUE");
        };
        let Some(i) = schema.columns.iter().position(|c| c.name == col) else {
            let names: Vec<_> = schema.columns.iter().map(|c| c.name.as_str()).collect();
            bail!(
                "--where {f}: no column `{col}`; columns: {}",
                names.join(", ")
            );
        };
        let ty = &schema.columns[i].ty;
        // JSON, or else the bare text as a string.
        let json = serde_json::from_str(text).unwrap_or(serde_json::Value::String(text.into()));
        let value = from_json(&json, ty, col).with_context(|| format!("--where {f}"))?;
        conds.push((i, value));
    }
    let candidates: Vec<&[Value]> = match conds.first() {
        None => table.iter().map(|r| r.values()).collect(),
        Some((i, v)) if *i == schema.primary_key as usize => {
            table.get(v).map(|r| r.values()).into_iter().collect()
        }
        Some((i, v)) => match schema
            .indexes
            .iter()
            .position(|ix| ix.columns[0] as usize == *i)
        {
            Some(ix) => {
                let key = std::slice::from_ref(v);
                table
                    .index_range(ix, Bound::Included(key), Bound::Included(key))
                    .map(|r| r.values())
                    .collect()
            }
            None => table.iter().map(|r| r.values()).collect(),
        },
    };
    Ok(candidates
        .into_iter()
        .filter(|row| conds.iter().all(|(i, v)| &row[*i] == v))
        .collect())
}

fn cell(v: &Value, ty: &interstice_abi::Type) -> String {
    match to_json(v, ty) {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        j => j.to_string(),
    }
}

fn print_rows(table: &Table, rows: &[&[Value]], format: Format) {
    let cols = &table.schema().columns;
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
