//! `interstice call LOG MODULE.REDUCER [ARGS_JSON]`

use anyhow::{Context, Result, bail};
use interstice_abi::encode_value;
use interstice_core::json::from_json;
use interstice_core::{Runtime, RuntimeConfig};

use super::{module, split_target};
use crate::location::LogArgs;

pub async fn run(args: &LogArgs, log: &str, target: &str, json: Option<&str>) -> Result<()> {
    let (module_name, reducer) = split_target(target, "REDUCER")?;
    let json: serde_json::Value = match json {
        None => serde_json::Value::Array(Vec::new()),
        Some(text) => serde_json::from_str(text)
            .with_context(|| format!("the arguments are not JSON: {text}"))?,
    };
    let store = args.open(log, false, false).await?;
    let (rt, _) = Runtime::open(store, RuntimeConfig::default()).await?;
    let encoded = rt
        .read(|db| -> Result<Vec<u8>> {
            let m = module(db, module_name)?;
            let Some(r) = m.schema.reducers.iter().find(|r| r.name == reducer) else {
                let names: Vec<_> = m.schema.reducers.iter().map(|r| r.name.as_str()).collect();
                bail!(
                    "module `{module_name}` has no reducer `{reducer}`; it has: {}",
                    names.join(", ")
                );
            };
            let params = r.args_type();
            let value = from_json(&json, &params, "").with_context(|| {
                let sig: Vec<_> = r
                    .params
                    .iter()
                    .map(|p| format!("{}: {}", p.name, p.ty))
                    .collect();
                format!("arguments do not fit {target}({})", sig.join(", "))
            })?;
            Ok(encode_value(&value)?)
        })
        .await;
    let encoded = match encoded {
        Ok(e) => e,
        Err(e) => {
            rt.shutdown().await;
            return Err(e);
        }
    };
    let result = rt.call(module_name, reducer, &encoded).await;
    rt.settle().await;
    rt.shutdown().await;
    let receipt = result.with_context(|| format!("{target} did not commit"))?;
    for (level, line) in &receipt.logs {
        let level = ["error", "warn", "info", "debug"][(*level).clamp(0, 3) as usize];
        println!("[{level}] {line}");
    }
    match receipt.offset {
        Some(o) => println!("committed at offset {o} (durable)"),
        None => println!("ran; it changed nothing, so nothing was logged"),
    }
    Ok(())
}
