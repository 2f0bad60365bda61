//! `interstice diff LOG --from A [--to B] [--table MODULE.TABLE]`: the rows
//! that changed between two points of the log.

use anyhow::Result;
use interstice_core::history::{RowDiff, TableDiff, diff as diff_of};
use interstice_core::json::{row_object, to_json};

use crate::location::{Access, LogArgs};

/// How a diff is printed.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// `+` inserted, `-` deleted, `~` updated with `old -> new`, per table.
    #[default]
    Text,
    /// One JSON object per changed row (JSON Lines): `table`, `change`
    /// (`insert`, `update`, `delete`), `row` and, for an update, `old`.
    Json,
}

pub async fn diff(
    args: &LogArgs,
    log: &str,
    from: u64,
    to: Option<u64>,
    table: Option<&str>,
    format: Format,
) -> Result<()> {
    let store = args.open(log, Access::ReadOnly).await?;
    let to = match to {
        Some(to) => to,
        None => store
            .last_offset()
            .await?
            .ok_or_else(|| anyhow::anyhow!("{log} is empty: there is nothing to compare"))?,
    };
    let snapshots = args.replay_options(log, None)?.snapshots;
    let tables = diff_of(&*store, snapshots, from, to, table).await?;
    match format {
        Format::Text => print_text(&tables, from, to, table),
        Format::Json => print_json(&tables)?,
    }
    Ok(())
}

fn print_text(tables: &[TableDiff], from: u64, to: u64, table: Option<&str>) {
    if tables.is_empty() {
        let what = table.map_or("no row".to_owned(), |t| format!("no row of {t}"));
        println!("{what} changed from offset {from} to {to}");
        return;
    }
    for t in tables {
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        println!("{} ({}):", t.table, names.join(", "));
        let cells = |row: &[interstice_abi::Value]| {
            let cells: Vec<String> = t
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| to_json(v, &c.ty).to_string())
                .collect();
            format!("({})", cells.join(", "))
        };
        for row in &t.rows {
            match row {
                RowDiff::Inserted(r) => println!("  + {}", cells(r)),
                RowDiff::Deleted(r) => println!("  - {}", cells(r)),
                RowDiff::Updated { old, new } => {
                    println!("  ~ {} -> {}", cells(old), cells(new))
                }
            }
        }
    }
}

fn print_json(tables: &[TableDiff]) -> Result<()> {
    for t in tables {
        let object = |row: &[interstice_abi::Value]| row_object(&t.columns, row);
        for row in &t.rows {
            let line = match row {
                RowDiff::Inserted(r) => {
                    serde_json::json!({"table": t.table, "change": "insert", "row": object(r)})
                }
                RowDiff::Deleted(r) => {
                    serde_json::json!({"table": t.table, "change": "delete", "row": object(r)})
                }
                RowDiff::Updated { old, new } => serde_json::json!({
                    "table": t.table, "change": "update", "old": object(old), "row": object(new)
                }),
            };
            println!("{}", serde_json::to_string(&line)?);
        }
    }
    Ok(())
}
