//! `interstice schema MODULE.wasm|LOG [--format text|json]`

use anyhow::{Context, Result};
use interstice_abi::{ModuleSchema, Visibility};
use interstice_core::{Limits, ReplayEngine, WasmHost};

use crate::location::{Access, LogArgs};

/// How a schema is printed.
#[derive(Clone, Copy, Debug, Default, clap::ValueEnum)]
pub enum Format {
    /// For people.
    #[default]
    Text,
    /// The schema as JSON.
    Json,
    /// The schema as YAML (the same structure as the JSON).
    Yaml,
}

/// The schema a `.wasm` file declares (checked as publishing checks it).
pub fn of_wasm(path: &str) -> Result<ModuleSchema> {
    let wasm = std::fs::read(path).with_context(|| format!("cannot read {path}"))?;
    let host = WasmHost::new(Limits::default());
    Ok(host
        .inspect(&wasm)
        .with_context(|| format!("{path} is not a valid Interstice module"))?
        .schema)
}

pub async fn run(args: &LogArgs, source: &str, format: Format) -> Result<()> {
    let schemas = if source.ends_with(".wasm") {
        vec![of_wasm(source)?]
    } else {
        let store = args.open(source, Access::ReadOnly).await?;
        let replayed =
            ReplayEngine::replay_with(&*store, &args.replay_options(source, None)?).await?;
        replayed.db.modules().map(|m| m.schema.clone()).collect()
    };
    for s in &schemas {
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&s.serializable())?),
            Format::Yaml => {
                println!("---");
                // The same structure as the JSON (types as `{"Option": ...}`).
                print!(
                    "{}",
                    yaml_serde::to_string(&serde_json::to_value(s.serializable())?)?
                );
            }
            Format::Text => print_text(s),
        }
    }
    Ok(())
}

fn vis(v: Visibility) -> &'static str {
    match v {
        Visibility::Public => "public",
        Visibility::Private => "private",
    }
}

fn print_text(s: &ModuleSchema) {
    println!("module {} {} (ABI {})", s.name, s.version, s.abi_version);
    for t in &s.tables {
        println!("  table {} ({})", t.name, vis(t.visibility));
        for (i, c) in t.columns.iter().enumerate() {
            let mut notes = Vec::new();
            if i == t.primary_key as usize {
                notes.push(if t.auto_inc {
                    "primary key, auto-increment"
                } else {
                    "primary key"
                });
            }
            let notes = if notes.is_empty() {
                String::new()
            } else {
                format!("  [{}]", notes.join(", "))
            };
            println!("    {}: {}{notes}", c.name, c.ty);
        }
        for ix in &t.indexes {
            let cols: Vec<_> = ix
                .columns
                .iter()
                .map(|&c| t.columns[c as usize].name.as_str())
                .collect();
            println!(
                "    index {} ({}){}",
                ix.name,
                cols.join(", "),
                if ix.unique { " unique" } else { "" }
            );
        }
    }
    for r in &s.reducers {
        let params: Vec<_> = r
            .params
            .iter()
            .map(|p| format!("{}: {}", p.name, p.ty))
            .collect();
        println!(
            "  reducer {}({}) ({}{})",
            r.name,
            params.join(", "),
            vis(r.visibility),
            if r.read_only { ", read-only" } else { "" }
        );
    }
    for sub in &s.subscriptions {
        println!(
            "  on {}.{}.{:?} -> {}",
            sub.module, sub.table, sub.event, sub.reducer
        );
    }
    for d in &s.dependencies {
        println!("  depends on {} >= {}", d.module, d.min_version);
    }
}
