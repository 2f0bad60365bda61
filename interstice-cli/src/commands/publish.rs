//! `interstice publish [--dry-run] LOG MODULE.wasm`

use anyhow::{Context, Result};
use interstice_core::{Limits, ReplayEngine, Runtime, WasmHost};

use crate::location::{Access, LogArgs};

pub async fn run(args: &LogArgs, log: &str, wasm_path: &str) -> Result<()> {
    let wasm = std::fs::read(wasm_path).with_context(|| format!("cannot read {wasm_path}"))?;
    // Every check that needs no log first, so a bad module creates nothing.
    WasmHost::new(Limits::default())
        .inspect(&wasm)
        .with_context(|| format!("cannot publish {wasm_path}"))?;
    let store = args.open(log, Access::Create).await?;
    let (rt, _) = Runtime::open(store, args.runtime_config(log)?).await?;
    let result = rt.publish_and_init(&wasm).await;
    rt.settle().await;
    crate::snapshots::before_exit(&rt).await;
    rt.shutdown().await;
    let (published, init) = result.with_context(|| format!("cannot publish {wasm_path}"))?;
    println!(
        "published {wasm_path} as module {} at offset {}",
        published.module_id, published.offset
    );
    if !published.diff.changes.is_empty() {
        println!("changes from the previous version:\n{}", published.diff);
    }
    match init {
        None => {}
        Some(Ok(receipt)) => println!(
            "ran init: {}",
            receipt
                .offset
                .map_or("it changed nothing".into(), |o| format!(
                    "committed at offset {o}"
                ))
        ),
        Some(Err(e)) => {
            return Err(anyhow::Error::new(e)
                .context("the module is published, but its init reducer failed"));
        }
    }
    Ok(())
}

/// What publishing would do to the log's current state, written nowhere.
pub async fn dry_run(args: &LogArgs, log: &str, wasm_path: &str) -> Result<()> {
    let wasm = std::fs::read(wasm_path).with_context(|| format!("cannot read {wasm_path}"))?;
    let inspected = WasmHost::new(Limits::default())
        .inspect(&wasm)
        .with_context(|| format!("cannot publish {wasm_path}"))?;
    let store = args.open(log, Access::ReadOnly).await?;
    let mut replayed = ReplayEngine::replay_with(&*store, &args.replay_options(log, None)?).await?;
    let plan = interstice_core::dry_run::publish(&mut replayed.db, inspected, &wasm)
        .with_context(|| format!("publishing {wasm_path} would be refused"))?;
    println!("dry run: nothing is written to {log}");
    if plan.first_version {
        println!("module {}: first version", plan.module);
    } else {
        println!("module {}: new version", plan.module);
        if plan.diff.changes.is_empty() {
            println!("no schema changes");
        } else {
            print!("changes:\n{}", plan.diff);
        }
    }
    println!("tables after publishing:");
    for (name, was, rows) in &plan.tables {
        match was {
            Some(was) => println!("  {name}: {was} rows -> {rows} rows"),
            None => println!("  {name}: new, {rows} rows"),
        }
    }
    for (name, rows) in &plan.dropped {
        println!("  {name}: dropped with its {rows} rows");
    }
    println!(
        "carrying the rows over took {:.2} ms here",
        plan.micros as f64 / 1000.0
    );
    Ok(())
}

/// Publishes through a running node: it answers once the module record is
/// durable.
pub async fn remote(node: &super::remote::Node<'_>, wasm_path: &str) -> Result<()> {
    let wasm = std::fs::read(wasm_path).with_context(|| format!("cannot read {wasm_path}"))?;
    let answer = node
        .publish(wasm)
        .await
        .with_context(|| format!("cannot publish {wasm_path}"))?;
    println!(
        "published {wasm_path} as module {} at offset {}",
        answer["module_id"], answer["offset"]
    );
    let changes: Vec<&str> = answer["changes"]
        .as_array()
        .map(|c| c.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    if !changes.is_empty() {
        println!("changes from the previous version:");
        for c in changes {
            println!("{c}");
        }
    }
    if let Some(error) = answer["init"]["error"]["message"].as_str() {
        anyhow::bail!("the module is published, but its init reducer failed: {error}");
    }
    Ok(())
}
