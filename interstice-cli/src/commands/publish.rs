//! `interstice publish LOG MODULE.wasm`

use anyhow::{Context, Result};
use interstice_core::{Limits, Runtime, WasmHost};

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
