//! `interstice publish [--dry-run] LOG MODULE.wasm` and `interstice
//! unpublish LOG MODULE` (each also through a node, `--node URL`).

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
    super::schedules::note_due(&rt);
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
    for m in &published.migrations {
        println!("{}", migration_line(m));
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
    let host = WasmHost::new(args.runtime_config(log)?.limits);
    let inspected = host
        .inspect(&wasm)
        .with_context(|| format!("cannot publish {wasm_path}"))?;
    let store = args.open(log, Access::ReadOnly).await?;
    let mut replayed = ReplayEngine::replay_with(&*store, &args.replay_options(log, None)?).await?;
    let plan = interstice_core::dry_run::publish(&host, &mut replayed.db, inspected, &wasm)
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
    for m in &plan.migrations {
        println!("{}", migration_line(m));
    }
    for message in &plan.logs {
        println!("  migration log: {message}");
    }
    println!(
        "carrying the rows over took {:.2} ms here",
        plan.micros as f64 / 1000.0
    );
    Ok(())
}

/// One migration that ran, in a line.
fn migration_line(m: &interstice_core::migrate::MigrationRun) -> String {
    format!(
        "ran migration {} of {} from version {}: read {} rows, wrote {} mutations in {:.2} ms",
        m.reducer,
        m.table,
        m.from,
        m.rows_before,
        m.mutations,
        m.micros as f64 / 1000.0
    )
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
    for m in answer["migrations"].as_array().into_iter().flatten() {
        let run = interstice_core::migrate::MigrationRun {
            reducer: m["reducer"].as_str().unwrap_or("?").to_owned(),
            table: m["table"].as_str().unwrap_or("?").to_owned(),
            from: m["from"].as_u64().unwrap_or(0) as u32,
            rows_before: m["rows_before"].as_u64().unwrap_or(0),
            mutations: m["mutations"].as_u64().unwrap_or(0),
            micros: m["micros"].as_u64().unwrap_or(0),
        };
        println!("{}", migration_line(&run));
    }
    if let Some(error) = answer["init"]["error"]["message"].as_str() {
        anyhow::bail!("the module is published, but its init reducer failed: {error}");
    }
    Ok(())
}

/// Unpublishes `module` from the log; says which tables went with it.
pub async fn unpublish(args: &LogArgs, log: &str, module: &str) -> Result<()> {
    let store = args.open(log, Access::Write).await?;
    let (rt, _) = Runtime::open(store, args.runtime_config(log)?).await?;
    let result = rt.unpublish(module).await;
    rt.settle().await;
    super::schedules::note_due(&rt);
    crate::snapshots::before_exit(&rt).await;
    rt.shutdown().await;
    let removed = result.with_context(|| format!("cannot unpublish {module}"))?;
    println!(
        "unpublished module {module} (id {}) at offset {}",
        removed.module_id, removed.offset
    );
    for (table, rows) in &removed.tables {
        println!("  {table}: {rows} rows dropped (the log keeps their history)");
    }
    Ok(())
}

/// Unpublishes `module` through a running node.
pub async fn unpublish_remote(node: &super::remote::Node<'_>, module: &str) -> Result<()> {
    let answer = node
        .unpublish(module)
        .await
        .with_context(|| format!("cannot unpublish {module}"))?;
    println!(
        "unpublished module {module} (id {}) at offset {}",
        answer["module_id"], answer["offset"]
    );
    for t in answer["tables"].as_array().into_iter().flatten() {
        println!(
            "  {}: {} rows dropped (the log keeps their history)",
            t["table"].as_str().unwrap_or("?"),
            t["rows"]
        );
    }
    Ok(())
}
