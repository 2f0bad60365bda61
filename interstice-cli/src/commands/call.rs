//! `interstice call LOG MODULE.REDUCER [ARGS_JSON]`

use anyhow::{Context, Result};
use interstice_core::Runtime;
use interstice_core::query::encode_args;

use super::remote::Node;
use super::{module, split_target};
use crate::location::{Access, LogArgs};

/// The arguments as JSON (none: an empty list).
fn parse_args(json: Option<&str>) -> Result<serde_json::Value> {
    match json {
        None => Ok(serde_json::Value::Array(Vec::new())),
        Some(text) => serde_json::from_str(text)
            .with_context(|| format!("the arguments are not JSON: {text}")),
    }
}

/// `call --node URL MODULE.REDUCER [ARGS]`: the node checks and encodes the
/// arguments and answers once the commit is durable.
pub async fn remote(
    node: &Node<'_>,
    target: &str,
    json: Option<&str>,
    request_id: Option<&str>,
) -> Result<()> {
    let (module_name, reducer) = split_target(target, "REDUCER")?;
    let json = parse_args(json)?;
    let answer = node
        .call(module_name, reducer, &json, request_id)
        .await
        .with_context(|| format!("{target} did not commit"))?;
    for log in answer["logs"].as_array().into_iter().flatten() {
        let level = log["level"].as_str().unwrap_or("info");
        println!("[{level}] {}", log["message"].as_str().unwrap_or(""));
    }
    let replayed = answer["replayed"].as_bool().unwrap_or(false);
    print_outcome(answer["offset"].as_u64(), replayed, request_id);
    Ok(())
}

/// The last line of a call: where it committed, or that it was a retry.
fn print_outcome(offset: Option<u64>, replayed: bool, request_id: Option<&str>) {
    match (offset, replayed) {
        (Some(o), true) => println!(
            "already committed at offset {o} (durable): a retry of request {}, so nothing ran",
            request_id.unwrap_or("?")
        ),
        (Some(o), false) => println!("committed at offset {o} (durable)"),
        (None, _) => println!("ran; it changed nothing, so nothing was logged"),
    }
}

pub async fn run(
    args: &LogArgs,
    log: &str,
    target: &str,
    json: Option<&str>,
    request_id: Option<&str>,
) -> Result<()> {
    let (module_name, reducer) = split_target(target, "REDUCER")?;
    let json = parse_args(json)?;
    let store = args.open(log, Access::Write).await?;
    let (rt, _) = Runtime::open(store, args.runtime_config(log)?).await?;
    let encoded = rt.read_executed(|db| -> Result<Vec<u8>> {
        let m = module(db, module_name)?;
        let r = m.schema.find_reducer(reducer)?;
        encode_args(r, &json).with_context(|| format!("cannot call {target}"))
    })?;
    let encoded = match encoded {
        Ok(e) => e,
        Err(e) => {
            rt.shutdown().await;
            return Err(e);
        }
    };
    let result = match request_id {
        Some(id) => rt.call_once(module_name, reducer, &encoded, id).await,
        None => rt.call(module_name, reducer, &encoded).await,
    };
    rt.settle().await;
    super::schedules::note_due(&rt);
    crate::snapshots::before_exit(&rt).await;
    rt.shutdown().await;
    let receipt = result.with_context(|| format!("{target} did not commit"))?;
    for (level, line) in &receipt.logs {
        println!("[{level}] {line}");
    }
    print_outcome(receipt.offset, receipt.replayed, request_id);
    Ok(())
}
