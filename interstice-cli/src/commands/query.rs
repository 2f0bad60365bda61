//! `interstice query LOG MODULE.TABLE [--format table|json|csv] [--where COLUMN=VALUE] [--limit N] [--at OFFSET]`

use anyhow::{Context, Result};
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

/// What to read and how to print it.
pub struct Query<'a> {
    /// `MODULE.TABLE`.
    pub target: &'a str,
    pub format: Format,
    /// `COLUMN=VALUE` filters.
    pub filters: &'a [String],
    pub limit: Option<usize>,
    /// The state just after this commit, instead of the latest.
    pub at: Option<u64>,
}

pub async fn run(args: &LogArgs, log: &str, q: &Query<'_>) -> Result<()> {
    let (target, format, filters, limit) = (q.target, q.format, q.filters, q.limit);
    let (module_name, table_name) = split_target(target, "TABLE")?;
    let store = args.open(log, Access::ReadOnly).await?;
    let options = args.replay_options(log, None)?;
    let db = match q.at {
        None => ReplayEngine::replay_with(&*store, &options).await?.db,
        Some(at) => interstice_core::history::state_at(&*store, options.snapshots, at).await?,
    };
    let m = module(&db, module_name)?;
    let (_, table) = m.find_table(table_name)?;
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
pub async fn remote(node: &Node<'_>, q: &Query<'_>) -> Result<()> {
    let (target, format, filters, limit) = (q.target, q.format, q.filters, q.limit);
    let (module_name, table_name) = split_target(target, "TABLE")?;
    let schema = node.schema(module_name).await?;
    let rows = node
        .query(&schema, table_name, filters, limit, q.at)
        .await?;
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
    let cells = || {
        rows.iter().map(|row| {
            cols.iter()
                .zip(row.iter())
                .map(|(c, v)| cell(v, &c.ty))
                .collect::<Vec<_>>()
        })
    };
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
            let mut out = csv::Writer::from_writer(std::io::stdout());
            let written = out
                .write_record(cols.iter().map(|c| &c.name))
                .and_then(|()| cells().try_for_each(|r| out.write_record(r)))
                .and_then(|()| Ok(out.flush()?));
            if let Err(e) = written {
                eprintln!("error: writing CSV: {e}");
            }
        }
        Format::Table => {
            let table = aligned(cols.iter().map(|c| c.name.as_str()), cells());
            for line in table.lines() {
                println!("{}", line.trim_end());
            }
            println!("({} rows)", rows.len());
        }
    }
}

/// Rows in aligned columns under a header, for people (widths count what
/// a terminal shows: wide characters take two columns).
fn aligned<'a>(
    header: impl IntoIterator<Item = &'a str>,
    rows: impl IntoIterator<Item = Vec<String>>,
) -> comfy_table::Table {
    use comfy_table::{CellAlignment, ColumnConstraint, TableComponent, presets};
    let mut table = comfy_table::Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_style(TableComponent::HeaderLines, '-')
        .set_style(TableComponent::MiddleHeaderIntersections, ' ')
        .set_style(TableComponent::VerticalLines, ' ')
        .set_header(header)
        .add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 1));
        column.set_cell_alignment(CellAlignment::Left);
        column.set_constraint(ColumnConstraint::ContentWidth);
    }
    table
}
