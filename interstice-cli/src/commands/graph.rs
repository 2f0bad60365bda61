//! `interstice graph (LOG | MODULE.wasm ...) --format html|svg|dot|graphml
//! [-o FILE]`: the modules, their tables and reducers, and the edges
//! between them (`docs/observability.md`). From a log, with what the log
//! shows happened, counted.

use anyhow::{Context, Result};
use futures::TryStreamExt;
use interstice_core::cycles::Declared;
use interstice_core::graph::{Graph, TableNames, dot, graphml, html, svg};
use interstice_core::{Limits, WasmHost};

use crate::location::{Access, LogArgs};

/// Output format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One self-contained page: the picture, a legend, details on hover.
    #[default]
    Html,
    /// The picture alone.
    Svg,
    /// Graphviz.
    Dot,
    /// GraphML, for graph tools.
    Graphml,
}

/// Writes the graph of `sources` (one log, or `.wasm` files) to `out`
/// (stdout when `None`).
pub async fn run(
    args: &LogArgs,
    sources: &[String],
    format: Format,
    out: Option<&str>,
) -> Result<()> {
    let wasm = sources.iter().all(|s| s.ends_with(".wasm"));
    let (graph, title) = if wasm {
        (from_modules(sources)?, "Interstice modules".to_owned())
    } else {
        let [log] = sources else {
            anyhow::bail!("give one log, or .wasm files");
        };
        (from_log(args, log).await?, format!("Interstice: {log}"))
    };
    let text = match format {
        Format::Html => html::render(&graph, &title),
        Format::Svg => svg::render(&graph),
        Format::Dot => dot::render(&graph),
        Format::Graphml => graphml::render(&graph),
    };
    match out {
        Some(path) => std::fs::write(path, text).with_context(|| format!("cannot write {path}"))?,
        None => print!("{text}"),
    }
    Ok(())
}

fn from_modules(paths: &[String]) -> Result<Graph> {
    let host = WasmHost::new(Limits::default());
    let mut inspected = Vec::new();
    for path in paths {
        let wasm = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
        inspected.push(
            host.inspect(&wasm)
                .with_context(|| format!("{path} is not a module this host can load"))?,
        );
    }
    let declared: Vec<Declared<'_>> = inspected
        .iter()
        .map(|i| Declared {
            schema: &i.schema,
            writes: &i.writes,
        })
        .collect();
    Ok(Graph::from_modules(&declared))
}

async fn from_log(args: &LogArgs, log: &str) -> Result<Graph> {
    let store = args.open(log, Access::ReadOnly).await?;
    let (from, decoder) = super::log_start(args, log, &*store).await?;
    let mut names = TableNames::with(
        decoder
            .modules()
            .map(|(id, m)| (id, m.clone(), decoder.writes(id))),
    );
    // Cycles are marked once, for the modules as the log leaves them.
    let mut graph = Graph::default();
    for m in names.declared() {
        graph.add_module(m.schema, m.writes);
    }
    let mut commits = store.read_from(from).await?;
    while let Some(commit) = commits.try_next().await? {
        graph.observe(&commit, &mut names);
    }
    graph.mark_cycles(&names.declared());
    Ok(graph)
}
