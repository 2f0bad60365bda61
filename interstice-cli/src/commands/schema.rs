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
        let replayed = ReplayEngine::replay(&*store, args.first_offset(), None).await?;
        replayed.db.modules().map(|m| m.schema.clone()).collect()
    };
    for s in &schemas {
        match format {
            Format::Json => println!("{}", serde_json::to_string_pretty(s)?),
            Format::Yaml => {
                println!("---");
                print!("{}", yaml(&serde_json::to_value(s)?, 0));
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

/// JSON as block-style YAML. Scalars are written as JSON, which YAML
/// reads (a JSON string is a double-quoted YAML scalar).
fn yaml(v: &serde_json::Value, indent: usize) -> String {
    use serde_json::Value as J;
    let pad = " ".repeat(indent);
    let mut out = String::new();
    match v {
        J::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                // Plain keys bare (all of a schema's are), others quoted.
                let plain = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                let key = if plain {
                    k.clone()
                } else {
                    J::String(k.clone()).to_string()
                };
                match v {
                    J::Object(c) if !c.is_empty() => {
                        out += &format!("{pad}{key}:\n{}", yaml(v, indent + 2));
                    }
                    J::Array(a) if !a.is_empty() => {
                        out += &format!("{pad}{key}:\n{}", yaml(v, indent));
                    }
                    scalar => out += &format!("{pad}{key}: {scalar}\n"),
                }
            }
        }
        J::Array(a) if !a.is_empty() => {
            for item in a {
                match item {
                    J::Object(c) if !c.is_empty() => {
                        // The first key on the dash line, the rest aligned.
                        let body = yaml(item, indent + 2);
                        out += &format!("{pad}- {}", &body[indent + 2..]);
                    }
                    J::Array(b) if !b.is_empty() => {
                        out += &format!("{pad}-\n{}", yaml(item, indent + 2));
                    }
                    scalar => out += &format!("{pad}- {scalar}\n"),
                }
            }
        }
        scalar => out += &format!("{pad}{scalar}\n"),
    }
    out
}
